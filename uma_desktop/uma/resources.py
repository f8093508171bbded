"""Resource and scope descriptions (UMA FedAuthz §3.1) and the owner API's registered view."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from uma_desktop.uma._base import WireModel, parse_model


class ScopeDescription(WireModel):
    """What a scope URI may resolve to; all fields optional."""

    name: str | None = None
    description: str | None = None
    icon_uri: str | None = None


def _scope_names(value: Any) -> Any:
    """Accept plain scope strings, and objects with a ``name`` (Keycloak's shape)."""
    if isinstance(value, list):
        return [
            item["name"] if isinstance(item, dict) and isinstance(item.get("name"), str) else item
            for item in value
        ]
    return value


class ResourceDescription(WireModel):
    """A resource as the RS registers it. ``_id`` is present when the AS returns it."""

    id: str | None = Field(default=None, alias="_id")
    resource_scopes: list[str]
    name: str | None = None
    type: str | None = None
    description: str | None = None
    icon_uri: str | None = None

    @field_validator("resource_scopes", mode="before")
    @classmethod
    def _normalise_scopes(cls, value: Any) -> Any:
        return _scope_names(value)

    def wire(self) -> dict[str, Any]:
        """JSON-ready dict with the protocol's names (``_id``), without empty fields."""
        return self.model_dump(by_alias=True, exclude_none=True)


class RegisteredResource(ResourceDescription):
    """A resource as the Policy Manager's registered-resource endpoint returns it."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    resource_server: str
    resource_server_name: str | None = None
    share_count: int | None = None
    owner: str | None = None


class ResourceCreated(WireModel):
    """Answer to resource create/update: ``_id`` and an optional policy-page hint."""

    id: str = Field(alias="_id")
    user_access_policy_uri: str | None = None


def parse_resource(data: Any) -> ResourceDescription:
    return parse_model(ResourceDescription, data, "resource description")


def parse_registered_resource(data: Any) -> RegisteredResource:
    return parse_model(RegisteredResource, data, "registered resource")
