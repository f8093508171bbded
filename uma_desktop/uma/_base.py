"""Shared parsing helper: pydantic validation errors become MalformedResponseError."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from uma_desktop.errors import MalformedResponseError

ModelT = TypeVar("ModelT", bound=BaseModel)


class WireModel(BaseModel):
    """A protocol object: unknown fields are kept (and ignored), objects are immutable."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def describe_validation_error(exc: ValidationError) -> str:
    """One human line naming every missing or invalid field (never the values)."""
    missing: list[str] = []
    invalid: list[str] = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ())) or "(document)"
        if error.get("type") == "missing":
            missing.append(location)
        else:
            invalid.append(f"{location} ({error.get('msg', 'invalid')})")
    parts: list[str] = []
    if missing:
        parts.append("missing required field(s): " + ", ".join(missing))
    if invalid:
        parts.append("invalid field(s): " + ", ".join(invalid))
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
