"""Server text made safe for a terminal and for JSON output.

Names, descriptions and codes come from servers the user does not control. Written raw to a
terminal, control characters can clear the screen, move the cursor or retitle the window, and
bidi controls can make a line read differently from what it holds. Here every such character
is shown as a visible escape (``\\x1b``, ``\\u202e``) instead:

- C0 controls (except a line break where one is allowed), DEL and C1 controls;
- bidi embeddings, overrides, isolates and marks (U+061C, U+200E/F, U+202A-E, U+2066-9);
- line and paragraph separators (U+2028/9) and lone surrogates (which cannot be encoded).

``SafeWriter`` applies this to everything written to a stream; ``safe_json`` escapes the same
characters as ``\\uXXXX`` so JSON output stays valid and still decodes to the original text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any, TextIO, cast

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SEPARATORS = "\u2028\u2029"
_SURROGATES = "\ud800-\udfff"
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}{_SEPARATORS}{_SURROGATES}]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_SEPARATORS}{_SURROGATES}]")
_UNSAFE_IN_JSON = _UNSAFE_MULTILINE  # JSON encoders escape C0 in strings; line feeds are layout


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with every unsafe character shown as a visible escape.

    ``multiline`` keeps line feeds; otherwise they are escaped too, so one value stays on one
    line (a table cell, a one-line message).
    """
    if text.isprintable():  # every unsafe character is unprintable; this check is C-fast
        return text
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE_ONE_LINE
    return pattern.sub(_visible, text)


def safe_json(
    value: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None
) -> str:
    """``value`` as JSON whose text holds no control, bidi or separator character raw.

    Readable non-ASCII text (accents, other scripts) stays as it is; decoding the result
    gives back exactly ``value``. Dataclasses, datetimes (RFC 3339) and enums are written as
    msgspec writes them, sets sorted; ``default`` converts what it does not know. The unsafe
    characters are then escaped in one pass over the text.
    """
    import msgspec  # only commands that print JSON pay for it

    try:
        raw = msgspec.json.encode(value, enc_hook=default, order="deterministic")
    except UnicodeEncodeError:  # a lone surrogate: the standard encoder keeps it, escaped below
        import json

        separators = (", ", ": ") if indent else (",", ":")
        text = json.dumps(
            value,
            indent=indent,
            ensure_ascii=False,
            default=default,
            sort_keys=True,
            separators=separators,
        )
    else:
        text = (msgspec.json.format(raw, indent=indent) if indent else raw).decode()
    return text if text.isprintable() else _UNSAFE_IN_JSON.sub(_json_escape, text)


def _encodable(text: str, encoding: str | None) -> str:
    """``text`` with characters the stream's encoding cannot hold written as ``\\uXXXX``."""
    if not encoding:
        return text
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return "".join(_encode_one(char, encoding) for char in text)
    except LookupError:
        return text
    return text


def _encode_one(char: str, encoding: str) -> str:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        code = ord(char)
        if code > 0xFFFF:  # as a JSON-style surrogate pair, valid inside JSON strings too
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        return f"\\u{code:04x}"
    return char


class SafeWriter(io.TextIOBase):
    """A text stream that passes everything on with unsafe characters made visible.

    Line feeds are kept (tables, tracebacks and JSON are multi-line); callers that print a
    single value keep it on one line with ``terminal_safe``.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    @classmethod
    def wrap(cls, stream: TextIO) -> TextIO:
        """``stream`` behind a SafeWriter (once: an already wrapped stream is returned)."""
        if isinstance(stream, SafeWriter):
            return stream
        return cast(TextIO, cls(stream))  # a text stream in every way its users need

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        safe = terminal_safe(text, multiline=True)
        self.stream.write(_encodable(safe, getattr(self.stream, "encoding", None)))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


PIPE_CLOSED = 141  # what a shell reports for a program stopped by a closed pipe (128 + SIGPIPE)


def discard_output() -> int:
    """After a BrokenPipeError (the reader went away, as with ``| head``): point standard
    output at the null device, so what is still buffered for the closed pipe is dropped
    instead of failing again, with a traceback, when the process ends. Returns the exit
    status to end with."""
    import os
    import sys

    try:
        target = os.open(os.devnull, os.O_WRONLY)
        os.dup2(target, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(target)
    except (OSError, ValueError):
        pass
    return PIPE_CLOSED
