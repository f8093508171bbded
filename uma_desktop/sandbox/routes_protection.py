"""Federated Authorization protection API (PAT-protected): resource registration,
permission endpoint, token introspection with ``permissions``."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Header, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from uma_desktop.sandbox.core import UMA_PROTECTION, AccessToken, Client, Sandbox
from uma_desktop.sandbox.crypto import same_secret
from uma_desktop.sandbox.errors import (
    NO_STORE,
    OAuthError,
    invalid_token,
    no_credentials,
    not_found,
)
from uma_desktop.sandbox.schemas import PermissionInput, ResourceInput
from uma_desktop.sandbox.store import Row, dumps, loads, new_id
from uma_desktop.sandbox.uma_grant import new_ticket
from uma_desktop.sandbox.web import ProtectionToken, SandboxDep, require_form, require_json
from uma_desktop.uma.errors import ErrorCode

router = APIRouter(tags=["protection"])

ResourceId = Annotated[str, Path(max_length=256)]


def resource_view(row: Row) -> dict[str, Any]:
    view: dict[str, Any] = {"_id": row["id"], "resource_scopes": loads(row["scopes"])}
    for key in ("name", "type", "description", "icon_uri"):
        if row.get(key) is not None:
            view[key] = row[key]
    return view


def _own_resource(sandbox: Sandbox, pat: AccessToken, resource_id: str) -> Row:
    row = sandbox.store.one(
        "SELECT * FROM resources WHERE id = ? AND owner_sub = ? AND rs_client_id = ?",
        (resource_id, pat.sub, pat.client_id),
    )
    if row is None:
        raise not_found("resource")
    return row


def _created(sandbox: Sandbox, resource_id: str, status: int) -> JSONResponse:
    location = sandbox.url(f"/protection/resources/{resource_id}")
    return JSONResponse(
        {"_id": resource_id, "user_access_policy_uri": sandbox.url("/owner/policies")},
        status_code=status,
        headers={"Location": location} if status == 201 else None,
    )


@router.post("/protection/resources", status_code=201, dependencies=[Depends(require_json)])
def create_resource(
    sandbox: SandboxDep, pat: ProtectionToken, description: Annotated[ResourceInput, Body()]
) -> JSONResponse:
    """Register a resource for the PAT's owner (201, Location, ``{"_id"}``)."""
    resource_id = new_id("res")
    sandbox.store.execute(
        "INSERT INTO resources (id, owner_sub, rs_client_id, name, type, description, icon_uri, "
        "scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            resource_id,
            pat.sub,
            pat.client_id,
            description.name,
            description.type,
            description.description,
            description.icon_uri,
            dumps(list(dict.fromkeys(description.resource_scopes))),
            sandbox.now(),
        ),
    )
    return _created(sandbox, resource_id, 201)


@router.get("/protection/resources")
def list_resources(sandbox: SandboxDep, pat: ProtectionToken) -> list[str]:
    """Ids of the resources this RS registered for the PAT's owner."""
    rows = sandbox.store.all(
        "SELECT id FROM resources WHERE owner_sub = ? AND rs_client_id = ? ORDER BY created_at, id",
        (pat.sub, pat.client_id),
    )
    return [row["id"] for row in rows]


@router.get("/protection/resources/{resource_id}")
def read_resource(
    sandbox: SandboxDep, pat: ProtectionToken, resource_id: ResourceId
) -> dict[str, Any]:
    return resource_view(_own_resource(sandbox, pat, resource_id))


@router.put("/protection/resources/{resource_id}", dependencies=[Depends(require_json)])
def update_resource(
    sandbox: SandboxDep,
    pat: ProtectionToken,
    resource_id: ResourceId,
    description: Annotated[ResourceInput, Body()],
) -> JSONResponse:
    """Replace a resource description. Scopes removed are removed from policies too."""
    row = _own_resource(sandbox, pat, resource_id)
    scopes = list(dict.fromkeys(description.resource_scopes))
    store = sandbox.store
    with store.transaction():
        store.execute(
            "UPDATE resources SET name = ?, type = ?, description = ?, icon_uri = ?, scopes = ? "
            "WHERE id = ?",
            (
                description.name,
                description.type,
                description.description,
                description.icon_uri,
                dumps(scopes),
                row["id"],
            ),
        )
        removed = set(loads(row["scopes"])) - set(scopes)
        if removed:
            for policy in store.all(
                "SELECT id, sub, scopes FROM policies WHERE resource_id = ?", (row["id"],)
            ):
                kept = [s for s in loads(policy["scopes"]) if s not in removed]
                if kept:
                    store.execute(
                        "UPDATE policies SET scopes = ? WHERE id = ?", (dumps(kept), policy["id"])
                    )
                else:
                    store.execute("DELETE FROM policies WHERE id = ?", (policy["id"],))
                sandbox.revoke_rpts(policy["sub"], row["id"])
    return _created(sandbox, row["id"], 200)


@router.delete("/protection/resources/{resource_id}", status_code=204)
def delete_resource(sandbox: SandboxDep, pat: ProtectionToken, resource_id: ResourceId) -> Response:
    """Delete a resource with its policies and pending requests."""
    row = _own_resource(sandbox, pat, resource_id)
    store = sandbox.store
    with store.transaction():
        for policy in store.all("SELECT sub FROM policies WHERE resource_id = ?", (row["id"],)):
            sandbox.revoke_rpts(policy["sub"], row["id"])
        for table in ("policies", "denials"):
            store.execute(f"DELETE FROM {table} WHERE resource_id = ?", (row["id"],))  # noqa: S608
        store.execute(
            "UPDATE pending SET status = 'withdrawn', decided_at = ? "
            "WHERE resource_id = ? AND status = 'pending'",
            (sandbox.now(), row["id"]),
        )
        store.execute("DELETE FROM resources WHERE id = ?", (row["id"],))
    return Response(status_code=204)


@router.post("/protection/permissions", status_code=201, dependencies=[Depends(require_json)])
def request_permissions(
    sandbox: SandboxDep,
    pat: ProtectionToken,
    request: Annotated[PermissionInput | list[PermissionInput], Body()],
) -> JSONResponse:
    """Ask for a permission ticket covering one or more (resource, scopes)."""
    items = request if isinstance(request, list) else [request]
    if not items or len(items) > 100:
        raise OAuthError(ErrorCode.INVALID_REQUEST, "Send 1 to 100 permission requests.")
    if any("resource_scopes" not in item.model_fields_set for item in items):
        # FedAuthz §4.1: resource_scopes is required (it may be an empty array).
        raise OAuthError(ErrorCode.INVALID_REQUEST, "Each permission needs resource_scopes.")
    merged: dict[str, set[str]] = {}
    for item in items:
        row = sandbox.store.one(
            "SELECT scopes FROM resources WHERE id = ? AND owner_sub = ? AND rs_client_id = ?",
            (item.resource_id, pat.sub, pat.client_id),
        )
        if row is None:
            raise OAuthError(ErrorCode.INVALID_RESOURCE_ID, "Unknown resource_id.")
        if any(
            not isinstance(s, str) or s not in loads(row["scopes"]) for s in item.resource_scopes
        ):
            raise OAuthError(ErrorCode.INVALID_SCOPE, "A scope is not registered for the resource.")
        merged.setdefault(item.resource_id, set()).update(item.resource_scopes)
    ticket = new_ticket(
        sandbox,
        owner_sub=pat.sub,
        rs_client_id=pat.client_id,
        permissions=[
            {"resource_id": rid, "resource_scopes": sorted(scopes)}
            for rid, scopes in merged.items()
        ],
    )
    return JSONResponse({"ticket": ticket}, status_code=201, headers=NO_STORE)


class IntrospectionForm(BaseModel):
    token: str = Field(max_length=16384)
    token_type_hint: str | None = Field(default=None, max_length=64)


def _introspecting_client(sandbox: Sandbox, authorization: str | None) -> Client:
    """Either a PAT (bearer) or the RS client's own credentials (basic)."""
    if not authorization:
        raise no_credentials(sandbox.issuer)
    if authorization and authorization[:7].lower() == "bearer ":
        token = sandbox.verify_access_token(authorization[7:].strip())
        if token is None or token.kind != "access":
            raise invalid_token()
        if UMA_PROTECTION not in token.scopes:
            raise OAuthError(ErrorCode.INSUFFICIENT_SCOPE, "A PAT is required.", status=403)
        client = sandbox.client(token.client_id)
        if client is None:
            raise invalid_token()
        return client
    if authorization and authorization[:6].lower() == "basic ":
        try:
            client_id, secret = (
                base64.b64decode(authorization[6:].strip(), validate=True).decode().split(":", 1)
            )
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise invalid_token("Bad client credentials.") from None
        client = sandbox.client(client_id)
        if client is not None and client.kind == "rs" and same_secret(secret, client.secret):
            return client
    raise invalid_token("A PAT or the resource server's client credentials are required.")


@router.post("/introspect", dependencies=[Depends(require_form)])
def introspect(
    sandbox: SandboxDep,
    form: Annotated[IntrospectionForm, Form()],
    authorization: Annotated[str | None, Header(max_length=4096)] = None,
) -> JSONResponse:
    """RFC 7662 introspection; an RPT's answer has ``permissions`` (of the caller's resources)
    instead of ``scope``."""
    caller = _introspecting_client(sandbox, authorization)
    token = sandbox.verify_access_token(form.token)
    if token is None:
        return JSONResponse({"active": False}, headers=NO_STORE)
    body: dict[str, Any] = {
        "active": True,
        "client_id": token.client_id,
        "sub": token.sub,
        "iss": sandbox.issuer,
        "exp": int(token.exp),
        "iat": int(token.iat),
        "token_type": "Bearer",
    }
    user = sandbox.user(token.sub)
    if user is not None:
        body["username"] = user["username"]
    if token.kind == "rpt":
        body["permissions"] = [
            permission
            for permission in token.permissions
            if sandbox.store.scalar(
                "SELECT 1 FROM resources WHERE id = ? AND rs_client_id = ?",
                (permission.get("resource_id"), caller.client_id),
            )
        ]
    else:
        body["scope"] = " ".join(sorted(token.scopes))
    return JSONResponse(body, headers=NO_STORE)
