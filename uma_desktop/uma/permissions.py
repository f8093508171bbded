"""Permission requests, tickets, RPT introspection and the RS's UMA challenge."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import msgspec

from uma_desktop.uma._base import WireModel, parse_model


class PermissionRequest(WireModel, frozen=True, kw_only=True):
    """One requested permission, as the RS sends it to the permission endpoint."""

    resource_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    resource_scopes: Annotated[list[str], msgspec.Meta(max_length=256)] = []


class TicketResponse(WireModel, frozen=True, kw_only=True):
    """The permission endpoint's answer: always a single ticket."""

    ticket: Annotated[str, msgspec.Meta(min_length=1)]

    def __repr__(self) -> str:
        return "TicketResponse(ticket=…)"


class Permission(WireModel, frozen=True, kw_only=True):
    """A granted permission inside an RPT's introspection (UMA FedAuthz §5.1.1)."""

    resource_id: str
    resource_scopes: list[str] = []
    exp: int | None = None
    iat: int | None = None
    nbf: int | None = None


def _keycloak_names(permission: Any) -> Any:
    """A permission with Keycloak's names (it also, or only, sends rsid/scopes) renamed."""
    if not isinstance(permission, dict):
        return permission
    renamed = dict(permission)
    if "resource_id" not in renamed and isinstance(renamed.get("rsid"), str):
        renamed["resource_id"] = renamed["rsid"]
    if "resource_scopes" not in renamed and isinstance(renamed.get("scopes"), list):
        renamed["resource_scopes"] = renamed["scopes"]
    return renamed


class Introspection(WireModel, frozen=True, kw_only=True):
    """RFC 7662 introspection answer, UMA-extended with ``permissions``."""

    active: bool
    permissions: list[Permission] | None = None
    scope: str | None = None
    client_id: str | None = None
    username: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    nbf: int | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None
    jti: str | None = None

    def effective_permissions(self, now: float | None = None) -> list[Permission]:
        """Permissions valid at ``now``: token-level exp wins if earlier, nbf if later."""
        if not self.active:
            return []
        moment = time.time() if now is None else now
        if self.exp is not None and moment >= self.exp:
            return []
        if self.nbf is not None and moment < self.nbf:
            return []
        valid = []
        for permission in self.permissions or []:
            if permission.exp is not None and moment >= permission.exp:
                continue
            if permission.nbf is not None and moment < permission.nbf:
                continue
            valid.append(permission)
        return valid

    def scopes_for(self, resource_id: str, now: float | None = None) -> set[str]:
        return {
            scope
            for permission in self.effective_permissions(now)
            if permission.resource_id == resource_id
            for scope in permission.resource_scopes
        }


def parse_ticket(data: Any) -> TicketResponse:
    return parse_model(TicketResponse, data, "permission ticket response")


def parse_introspection(data: Any) -> Introspection:
    if isinstance(data, dict) and isinstance(data.get("permissions"), list):
        data = {**data, "permissions": [_keycloak_names(p) for p in data["permissions"]]}
    return parse_model(Introspection, data, "introspection response")


class UmaChallenge(WireModel, frozen=True, kw_only=True):
    """The RS's ``WWW-Authenticate: UMA realm=…, as_uri=…, ticket=…`` (UMA Grant §3.2)."""

    as_uri: str
    ticket: str
    realm: str | None = None

    def __repr__(self) -> str:
        return f"UmaChallenge(as_uri={self.as_uri!r}, realm={self.realm!r}, ticket=…)"

    def header_value(self) -> str:
        realm = f'realm="{self.realm}", ' if self.realm else ""
        return f'UMA {realm}as_uri="{self.as_uri}", ticket="{self.ticket}"'


_AUTH_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_\-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_www_authenticate(header: str | None) -> UmaChallenge | None:
    """Parse an UMA challenge; None when the header is absent or not an UMA one."""
    if not header:
        return None
    stripped = header.strip()
    if stripped[:4].upper() != "UMA ":
        return None
    params: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(stripped[4:]):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value
    if "as_uri" not in params or "ticket" not in params:
        return None
    return UmaChallenge(as_uri=params["as_uri"], ticket=params["ticket"], realm=params.get("realm"))
