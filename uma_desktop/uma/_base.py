"""Shared parsing helper: pydantic validation errors become MalformedResponseError."""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from uma_desktop.errors import MalformedResponseError

ModelT = TypeVar("ModelT", bound=BaseModel)


class WireModel(BaseModel):
    """A protocol object: unknown fields are kept (and ignored), objects are immutable."""

    model_config = ConfigDict(
        extra="allow", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


LAST_EPOCH_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last time a datetime holds


def _epoch_seconds(value: int | float) -> int | float:
    # Compared as given: math.isfinite on an integer beyond a float's range overflows.
    if (isinstance(value, float) and not math.isfinite(value)) or not (
        0 <= value <= LAST_EPOCH_SECOND
    ):
        raise ValueError("not a time in epoch seconds between 1970 and 9999")
    return value


EpochSeconds = Annotated[int | float, AfterValidator(_epoch_seconds)]
"""A point in time as Unix seconds that a datetime can hold (never NaN or astronomically
large, which a hostile server may send)."""


def clamp(value: int, low: int, high: int) -> int:
    """``value`` within ``[low, high]``: for server-chosen durations that must stay sane."""
    return max(low, min(value, high))


MAX_REPORTED_PROBLEMS = 5


def describe_validation_error(exc: ValidationError) -> str:
    """One short human line naming the first few missing or invalid fields (never values)."""
    missing: list[str] = []
    invalid: list[str] = []
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    for error in errors[:MAX_REPORTED_PROBLEMS]:
        location = ".".join(str(part) for part in error.get("loc", ()))[:80] or "(document)"
        if error.get("type") == "missing":
            missing.append(location)
        else:
            invalid.append(f"{location} ({error.get('msg', 'invalid')})")
    parts: list[str] = []
    if missing:
        parts.append("missing required field(s): " + ", ".join(missing))
    if invalid:
        parts.append("invalid field(s): " + ", ".join(invalid))
    if len(errors) > MAX_REPORTED_PROBLEMS:
        parts.append(f"and {len(errors) - MAX_REPORTED_PROBLEMS} more problem(s)")
    return "; ".join(parts) or "invalid document"


def parse_model(model: type[ModelT], data: Any, what: str) -> ModelT:
    """Validate ``data`` as ``model`` or raise MalformedResponseError saying what is wrong."""
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"The server's {what} is not a JSON object (got {type(data).__name__})."
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponseError(
            f"The server's {what} is malformed: {describe_validation_error(exc)}."
        ) from None
