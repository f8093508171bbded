"""The wire models' base and parsing helpers (msgspec): a bad document becomes a
MalformedResponseError naming what is wrong, never the values it held."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import msgspec

from uma_desktop.errors import MalformedResponseError


class WireModel(msgspec.Struct, frozen=True, kw_only=True):
    """A protocol object: immutable; fields it does not name are ignored when parsing.

    Subclasses repeat ``frozen=True, kw_only=True``: msgspec does not inherit ``kw_only``,
    and mypy's view of a struct takes ``frozen`` from each class's own arguments."""


ModelT = TypeVar("ModelT")

LAST_EPOCH_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last time a datetime holds

EpochSeconds = Annotated[float, msgspec.Meta(ge=0, le=LAST_EPOCH_SECOND)]
"""A point in time as Unix seconds that a datetime can hold (integers arrive as floats;
NaN and astronomically large values, which a hostile server may send, are refused)."""


def clamp(value: int, low: int, high: int) -> int:
    """``value`` within ``[low, high]``: for server-chosen durations that must stay sane."""
    return max(low, min(value, high))


MAX_PROBLEM_CHARS = 200
_MISSING = re.compile(
    r"^Object missing required field `(?P<field>[^`]{0,80})`(?: - at `(?P<at>.*)`)?$"
)
_AT = re.compile(r"^(?P<msg>.*) - at `(?P<at>.*)`$")


def _location(path: str | None, field: str | None = None) -> str:
    """msgspec's ``$.items[3].name`` as ``items.3.name`` (``(document)`` for the root)."""
    parts = re.findall(r"\.([^.\[]+)|\[(\d+)\]", (path or "$")[1:])
    names = [name or index for name, index in parts]
    if field is not None:
        names.append(field)
    return ".".join(names)[:80] or "(document)"


def describe_validation_error(exc: msgspec.ValidationError) -> str:
    """One short human line naming the missing or invalid field (never its value)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    missing = _MISSING.match(text)
    if missing:
        return "missing required field(s): " + _location(missing["at"], missing["field"])
    located = _AT.match(text)
    message, path = (located["msg"], located["at"]) if located else (text, None)
    # msgspec names an enum's or a literal's rejected value: say only that it was invalid.
    if message.startswith("Invalid enum value"):
        message = "not one of the allowed values"
    message = "".join(char for char in message if char.isprintable())[:MAX_PROBLEM_CHARS]
    return f"invalid field(s): {_location(path)} ({message or 'invalid'})"


def parse_model(model: type[ModelT], data: Any, what: str) -> ModelT:
    """Validate ``data`` (decoded JSON) as ``model`` or raise MalformedResponseError saying
    what is wrong. Numbers and booleans sent as strings are accepted, as servers do that."""
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"The server's {what} is not a JSON object (got {type(data).__name__})."
        )
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedResponseError(
            f"The server's {what} is malformed: {describe_validation_error(exc)}."
        ) from None
    except UnicodeEncodeError:  # a member name with a lone surrogate (a JSON \ud800 escape)
        raise MalformedResponseError(
            f"The server's {what} is malformed: a member name is not valid Unicode."
        ) from None
