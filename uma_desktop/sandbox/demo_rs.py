"""The demo resource servers (photos, health, calendar), mounted at ``/rs/<key>``.

They act like a third-party RS: their PAT comes from the owner's earlier authorization (a
refresh token kept by the RS), tickets from the permission endpoint and RPT checks from
introspection, all over HTTP with ``net`` clients whose actor is ``rs:<key>``. Only their
own data (which resources they host, the demo content) is read from the shared database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from uma_desktop import net
from uma_desktop.errors import UmaDesktopError
from uma_desktop.sandbox.core import Sandbox
from uma_desktop.sandbox.errors import NO_STORE, OAuthError, not_found
from uma_desktop.sandbox.seed import DEMO_RESOURCE_SERVERS, DemoResourceServer
from uma_desktop.sandbox.store import loads
from uma_desktop.sandbox.web import SandboxDep
from uma_desktop.uma.errors import ErrorCode
from uma_desktop.uma.permissions import UmaChallenge, parse_introspection, parse_ticket
from uma_desktop.uma.tokens import parse_token_response

router = APIRouter(tags=["demo resource servers"])

UNREACHABLE_WARNING = '199 - "UMA Authorization Server Unreachable"'


class AuthorizationServerUnavailable(Exception):
    """The RS could not get a PAT, a ticket or an introspection answer."""


@dataclass
class _CachedPat:
    token: str
    expires_at: float


class DemoResourceServerRuntime:
    """One demo RS: its client credentials, its owners' PATs, its HTTP calls to the AS.

    Async, so waiting on the AS never ties up the worker threads the AS itself needs.
    """

    def __init__(self, sandbox: Sandbox, spec: DemoResourceServer) -> None:
        self.sandbox = sandbox
        self.spec = spec
        self._lock = asyncio.Lock()
        self._pats: dict[str, _CachedPat] = {}

    def _client_secret(self) -> str:
        client = self.sandbox.client(self.spec.client_id)
        if client is None or client.secret is None:
            raise AuthorizationServerUnavailable("the RS is not registered")
        return client.secret

    def _http(self) -> net.AsyncClient:
        return net.async_client(actor=f"rs:{self.spec.key}")

    async def pat(self, owner_sub: str) -> str:
        """A PAT for ``owner_sub``: cached, else refreshed with the stored (rotating) token."""
        async with self._lock:
            cached = self._pats.get(owner_sub)
            if cached is not None and cached.expires_at - 30 > self.sandbox.now():
                return cached.token
            grant = self.sandbox.store.one(
                "SELECT refresh_token FROM demo_rs_grants WHERE rs_client_id = ? AND owner_sub = ?",
                (self.spec.client_id, owner_sub),
            )
            if grant is None:
                raise AuthorizationServerUnavailable("the owner never authorized this RS")
            async with self._http() as http:
                response = await http.post(
                    self.sandbox.url("/token"),
                    data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
                    auth=(self.spec.client_id, self._client_secret()),
                )
            if response.status_code != 200:
                raise AuthorizationServerUnavailable("PAT refresh refused")
            tokens = parse_token_response(net.json_body(response, "token response"))
            if tokens.refresh_token:
                self.sandbox.store.execute(
                    "UPDATE demo_rs_grants SET refresh_token = ? WHERE rs_client_id = ? "
                    "AND owner_sub = ?",
                    (tokens.refresh_token, self.spec.client_id, owner_sub),
                )
            self._pats[owner_sub] = _CachedPat(
                tokens.access_token, self.sandbox.now() + (tokens.expires_in or 60)
            )
            return tokens.access_token

    async def _protection_call(self, owner_sub: str, path: str, **kwargs: Any) -> net.Response:
        """POST to a PAT-protected endpoint; a rejected PAT is dropped and renewed once."""
        response = await self._post_with_pat(owner_sub, path, **kwargs)
        if response.status_code == 401:
            self._pats.pop(owner_sub, None)
            response = await self._post_with_pat(owner_sub, path, **kwargs)
        return response

    async def _post_with_pat(self, owner_sub: str, path: str, **kwargs: Any) -> net.Response:
        pat = await self.pat(owner_sub)
        async with self._http() as http:
            return await http.post(
                self.sandbox.url(path), headers={"Authorization": f"Bearer {pat}"}, **kwargs
            )

    async def granted_scopes(self, rpt: str, owner_sub: str, resource_id: str) -> set[str]:
        response = await self._protection_call(
            owner_sub, "/introspect", data={"token": rpt, "token_type_hint": "access_token"}
        )
        if response.status_code != 200:
            raise AuthorizationServerUnavailable("introspection refused")
        introspection = parse_introspection(net.json_body(response, "introspection"))
        return introspection.scopes_for(resource_id, now=self.sandbox.now())

    async def ticket(self, owner_sub: str, resource_id: str, scopes: list[str]) -> str:
        response = await self._protection_call(
            owner_sub,
            "/protection/permissions",
            json={"resource_id": resource_id, "resource_scopes": scopes},
        )
        if response.status_code != 201:
            raise AuthorizationServerUnavailable("permission request refused")
        return parse_ticket(net.json_body(response, "permission ticket")).ticket


def runtimes(sandbox: Sandbox) -> dict[str, DemoResourceServerRuntime]:
    return {spec.key: DemoResourceServerRuntime(sandbox, spec) for spec in DEMO_RESOURCE_SERVERS}


def _runtime(request: Request, key: str) -> DemoResourceServerRuntime:
    found: dict[str, DemoResourceServerRuntime] = request.app.state.demo_servers
    runtime = found.get(key)
    if runtime is None:
        raise not_found("resource server")
    return runtime


def resource_url(sandbox: Sandbox, key: str, resource_id: str) -> str:
    return sandbox.url(f"/rs/{key}/resources/{resource_id}")


@router.get("/rs/{rs_key}/resources")
def hosted_resources(
    request: Request, sandbox: SandboxDep, rs_key: Annotated[str, Path(max_length=64)]
) -> list[dict[str, Any]]:
    """What this demo RS hosts (names and URLs are public; the data is not)."""
    runtime = _runtime(request, rs_key)
    rows = sandbox.store.all(
        "SELECT r.id, r.name, r.scopes, u.username FROM resources r JOIN users u "
        "ON u.sub = r.owner_sub WHERE r.rs_client_id = ? "
        "AND coalesce(r.type, '') != 'bulk-item' "
        "ORDER BY r.name, r.id",
        (runtime.spec.client_id,),
    )
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "owner": row["username"],
            "resource_scopes": loads(row["scopes"]),
            "url": resource_url(sandbox, rs_key, row["id"]),
        }
        for row in rows
    ]


@router.get("/rs/{rs_key}/resources/{resource_id}")
async def read_protected_resource(
    request: Request,
    sandbox: SandboxDep,
    rs_key: Annotated[str, Path(max_length=64)],
    resource_id: Annotated[str, Path(max_length=256)],
    scopes: Annotated[
        str | None, Query(max_length=1000, description="Space- or comma-separated scopes needed")
    ] = None,
    authorization: Annotated[str | None, Header(max_length=16384)] = None,
) -> JSONResponse:
    """An UMA-protected read: 200 with the data for a good RPT, else 401 with a ticket."""
    runtime = _runtime(request, rs_key)
    row = sandbox.store.one(
        "SELECT * FROM resources WHERE id = ? AND rs_client_id = ?",
        (resource_id, runtime.spec.client_id),
    )
    if row is None:
        raise not_found("resource")
    available = loads(row["scopes"])
    needed = (scopes or "").replace(",", " ").split()
    if not needed:
        needed = (
            [runtime.spec.read_scope] if runtime.spec.read_scope in available else available[:1]
        )
    if any(scope not in available for scope in needed):
        raise OAuthError(ErrorCode.INVALID_SCOPE, "The resource has no such scope.")
    try:
        if authorization and authorization[:7].lower() == "bearer ":
            granted = await runtime.granted_scopes(
                authorization[7:].strip(), row["owner_sub"], row["id"]
            )
            if set(needed) <= granted:
                return JSONResponse(
                    {
                        "resource_id": row["id"],
                        "name": row["name"],
                        "scopes_granted": sorted(granted),
                        "content": loads(row["content"]) or {"note": "no demo content"},
                    },
                    headers=NO_STORE,
                )
        ticket = await runtime.ticket(row["owner_sub"], row["id"], needed)
    except (AuthorizationServerUnavailable, UmaDesktopError, net.HTTPError):
        return JSONResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": "The authorization server is unreachable.",
            },
            status_code=403,
            headers={"Warning": UNREACHABLE_WARNING, **NO_STORE},
        )
    challenge = UmaChallenge(realm=rs_key, as_uri=sandbox.issuer, ticket=ticket)
    return JSONResponse(
        {
            "error": "invalid_token",
            "error_description": "An RPT with the needed permissions is "
            "required; ask the authorization server with the ticket.",
        },
        status_code=401,
        headers={"WWW-Authenticate": challenge.header_value(), **NO_STORE},
    )
