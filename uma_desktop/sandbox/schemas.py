"""Request bodies the sandbox accepts (strict limits; unknown fields are ignored)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ScopeName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]


class Input(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ResourceInput(Input):
    """A resource description as an RS registers it (UMA FedAuthz §3.1)."""

    resource_scopes: list[ScopeName] = Field(max_length=100)
    name: ShortText | None = None
    type: ShortText | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    icon_uri: Annotated[str, StringConstraints(max_length=2000)] | None = None


class PermissionInput(Input):
    """One requested permission, as an RS sends it to the permission endpoint."""

    resource_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    resource_scopes: list[str] = Field(default_factory=list, max_length=256)


class PolicyInput(Input):
    """A policy: ``sub`` may use ``resource_scopes`` of ``resource_id`` until ``expires_at``;
    without ``sub``, anyone whose claims satisfy ``required_claims`` may."""

    resource_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    resource_scopes: list[ScopeName] = Field(min_length=1, max_length=100)
    sub: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    required_claims: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    expires_at: int | None = Field(default=None, ge=0, le=253402300799)


class ApproveInput(Input):
    """Which of the requested scopes to grant (absent: all)."""

    resource_scopes: list[ScopeName] | None = Field(default=None, max_length=100)
