"""Resource and scope descriptions (UMA FedAuthz §3.1) and the owner API's registered view."""

from __future__ import annotations

from typing import Any

import msgspec

from uma_desktop.uma._base import WireModel, parse_model


class ScopeDescription(WireModel, frozen=True, kw_only=True):
    """What a scope URI may resolve to; all fields optional."""

    name: str | None = None
    description: str | None = None
    icon_uri: str | None = None


def _scope_names(data: Any) -> Any:
    """``data`` with its ``resource_scopes`` as plain strings: objects with a ``name``
    (Keycloak's shape) become that name; anything else is left for validation to refuse."""
    if not isinstance(data, dict) or not isinstance(data.get("resource_scopes"), list):
        return data
    names = [
        item["name"] if isinstance(item, dict) and isinstance(item.get("name"), str) else item
        for item in data["resource_scopes"]
    ]
    return {**data, "resource_scopes": names}


class ResourceDescription(WireModel, frozen=True, kw_only=True):
    """A resource as the RS registers it. ``_id`` is present when the AS returns it."""

    id: str | None = msgspec.field(default=None, name="_id")
    resource_scopes: list[str]
    name: str | None = None
    type: str | None = None
    description: str | None = None
    icon_uri: str | None = None

    def wire(self) -> dict[str, Any]:
        """JSON-ready dict with the protocol's names (``_id``), without empty fields."""
        return {k: v for k, v in msgspec.to_builtins(self).items() if v is not None}


class RegisteredResource(ResourceDescription, frozen=True, kw_only=True):
    """A resource as the Policy Manager's registered-resource endpoint returns it."""

    id: str = msgspec.field(name="_id")  # type: ignore[assignment]
    resource_server: str
    resource_server_name: str | None = None
    share_count: int | None = None
    owner: str | None = None


class ResourceCreated(WireModel, frozen=True, kw_only=True):
    """Answer to resource create/update: ``_id`` and an optional policy-page hint."""

    id: str = msgspec.field(name="_id")
    user_access_policy_uri: str | None = None


def parse_resource(data: Any) -> ResourceDescription:
    return parse_model(ResourceDescription, _scope_names(data), "resource description")


def parse_registered_resource(data: Any) -> RegisteredResource:
    return parse_model(RegisteredResource, _scope_names(data), "registered resource")
