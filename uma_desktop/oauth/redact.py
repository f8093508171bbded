"""A second line of defence: scrub anything token-like from log records.

The oauth code never logs tokens, codes, state or verifiers; this filter catches mistakes
elsewhere (a library logging a URL, an exception text quoting a body). Install it once at
start-up with ``install_redaction()``; it rewrites every record as it is created, so it
covers handlers added later too. ``RedactingFilter`` can also be put on single handlers.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from uma_desktop.uma.secret_names import SECRET_KEYS, SECRET_SUFFIXES, is_secret_key

MASK = "[redacted]"

# Any name with a secret suffix, or a name from the shared vocabulary; the replacements below
# leave the few descriptive look-alikes (``error_code``) alone.
_SECRET_SUFFIXED = rf"[a-z_]*(?:{'|'.join(SECRET_SUFFIXES)})"
_SECRET_KEYS = "|".join([_SECRET_SUFFIXED, *sorted(SECRET_KEYS, key=len, reverse=True)])


def _only_secret(group: int, masked: str) -> Callable[[re.Match[str]], str]:
    """A replacement that applies ``masked`` only when group ``group`` names a secret."""

    def replace(match: re.Match[str]) -> str:
        return match.expand(masked) if is_secret_key(match.group(group)) else match.group(0)

    return replace


def _mask_opaque(match: re.Match[str]) -> str:
    run = match.group(0)
    looks_random = (
        any(ch.isdigit() for ch in run)
        and any(ch.isupper() for ch in run)
        and any(ch.islower() for ch in run)
    )
    return MASK if looks_random else run


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # JWT / JWS / JWE compact forms: base64url segments joined by dots, starting with '{"'.
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,4}"), MASK),
    # Authorization headers.
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # key=value in query strings, form bodies and prose.
    (re.compile(rf"(?i)\b({_SECRET_KEYS})=[^&\s\"',;]+"), _only_secret(1, rf"\1={MASK}")),
    # "key": "value" in JSON and 'key': 'value' in Python reprs.
    (
        re.compile(rf"(?i)([\"'])({_SECRET_KEYS})\1(\s*:\s*)([\"'])[^\"']*\4"),
        _only_secret(2, rf"\1\2\1\3\4{MASK}\4"),
    ),
    # key: value / key = value in reprs and prose ("refresh_token: abc"); only the suffixed
    # names, which never occur as ordinary words.
    (
        re.compile(rf"(?i)\b({_SECRET_SUFFIXED})(\s*[:=]\s*)'?[A-Za-z0-9._~+/=-]{{8,}}'?"),
        _only_secret(1, rf"\1\2{MASK}"),
    ),
    # Long opaque runs of base64url with digits and both cases (opaque tokens, device codes),
    # which spares snake_case names and paths.
    (re.compile(r"(?<![A-Za-z0-9_/.-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_/.-])"), _mask_opaque),
)


def redact(text: str) -> str:
    """``text`` with every token-like part replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep the raw parts, redacted
        message = f"{record.msg} {record.args}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message without token-like values."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


_install_lock = threading.Lock()
_REDACTING = "_uma_desktop_redacting"  # marks the record factory installed below


def redaction_installed() -> bool:
    """Whether the process's current log-record factory is the redacting one."""
    return getattr(logging.getLogRecordFactory(), _REDACTING, False) is True


def install_redaction() -> None:
    """Redact every log record the process creates from now on (idempotent).

    Idempotence looks at the factory actually in place, not at a flag: if other code put
    back an earlier factory, calling this again installs redaction again.
    """
    with _install_lock:
        if redaction_installed():
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        setattr(factory, _REDACTING, True)
        logging.setLogRecordFactory(factory)
