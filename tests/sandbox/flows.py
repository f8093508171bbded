"""Third-party RS and client steps over plain HTTP, used by the conformance tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.fixtures.sandbox import client_secret, sandbox_login, sandbox_owner_token
from uma_desktop.sandbox import SandboxServer

UMA_GRANT = "urn:ietf:params:oauth:grant-type:uma-ticket"
ID_TOKEN_FORMAT = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"


@dataclass
class Parties:
    """Everyone in one UMA story on one server."""

    server: SandboxServer
    discovery: dict[str, Any]
    pat: str  # alice authorized the photos RS
    owner_token: str  # alice's owner-API token
    rqp_secret: str
    bob_id_token: str

    def pat_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.pat}"}

    def owner_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}"}

    def register(self, name: str, scopes: list[str]) -> str:
        response = httpx.post(
            self.discovery["resource_registration_endpoint"],
            json={"name": name, "type": "photo-album", "resource_scopes": scopes},
            headers=self.pat_headers(),
        )
        assert response.status_code == 201, response.text
        assert response.headers["location"].endswith(response.json()["_id"])
        return str(response.json()["_id"])

    def ticket(self, resource_id: str, scopes: list[str]) -> str:
        response = httpx.post(
            self.discovery["permission_endpoint"],
            json=[{"resource_id": resource_id, "resource_scopes": scopes}],
            headers=self.pat_headers(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["ticket"])

    def ask(self, ticket: str, **extra: str) -> httpx.Response:
        """The requesting party (bob, via rqp-app) asks for an RPT."""
        data = {"grant_type": UMA_GRANT, "ticket": ticket, **extra}
        if "claim_token" not in extra and "pct" not in extra and extra.get("anonymous") is None:
            data.update(claim_token=self.bob_id_token, claim_token_format=ID_TOKEN_FORMAT)
        data.pop("anonymous", None)
        return httpx.post(
            self.discovery["token_endpoint"], data=data, auth=("rqp-app", self.rqp_secret)
        )

    def introspect(self, token: str) -> dict[str, Any]:
        response = httpx.post(
            self.discovery["introspection_endpoint"],
            data={"token": token},
            headers=self.pat_headers(),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def pending_for(self, resource_id: str) -> dict[str, Any]:
        response = httpx.get(
            self.discovery["pending_request_endpoint"], headers=self.owner_headers()
        )
        assert response.status_code == 200, response.text
        matching = [r for r in response.json() if r["resource_id"] == resource_id]
        assert len(matching) == 1, response.json()
        return dict(matching[0])


def parties(server: SandboxServer) -> Parties:
    discovery = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()
    rs_secret = client_secret(server, "rs-photos")
    pat = sandbox_login(
        server, client_id="rs-photos", client_secret=rs_secret, scope="uma_protection"
    )["access_token"]
    rqp_secret = client_secret(server, "rqp-app")
    bob = sandbox_login(
        server,
        client_id="rqp-app",
        client_secret=rqp_secret,
        username="bob",
        scope="openid profile email",
    )
    return Parties(
        server=server,
        discovery=discovery,
        pat=pat,
        owner_token=sandbox_owner_token(server, "alice"),
        rqp_secret=rqp_secret,
        bob_id_token=bob["id_token"],
    )
