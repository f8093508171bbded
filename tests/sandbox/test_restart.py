"""A restart on the same data file loses nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt

from tests.fixtures.sandbox import APP_CLIENT_ID, sandbox_login
from tests.sandbox.flows import parties
from uma_desktop.sandbox import SandboxServer


def test_restart_keeps_resources_policies_requests_refresh_tokens_and_keys(tmp_path: Path) -> None:
    data = tmp_path / "sandbox.db"
    first = SandboxServer(name="Persistent", data_path=data).start()
    try:
        port = first.port
        config = first.config
        story = parties(first)
        resource_id = story.register("Kept album", ["view", "download"])
        bob = httpx.get(
            story.discovery["person_lookup_endpoint"],
            params={"q": "bob"},
            headers=story.owner_headers(),
        ).json()["sub"]
        policy = httpx.post(
            story.discovery["policy_endpoint"],
            json={"resource_id": resource_id, "resource_scopes": ["view"], "sub": bob},
            headers=story.owner_headers(),
        ).json()["_id"]
        submitted = story.ask(story.ticket(resource_id, ["download"])).json()
        assert submitted["error"] == "request_submitted"
        owner_tokens = sandbox_login(first)
        jwks = httpx.get(f"{first.issuer}/jwks").json()
    finally:
        first.stop()

    second = SandboxServer(name="Persistent", port=port, data_path=data).start()
    try:
        assert second.issuer == story.server.issuer
        assert second.config["clients"] == config["clients"]  # same secrets, not re-seeded
        assert second.config["users"] == config["users"]
        assert httpx.get(f"{second.issuer}/jwks").json() == jwks
        # Tokens issued before the restart still verify.
        key = jwt.PyJWKClient(f"{second.issuer}/jwks").get_signing_key_from_jwt(
            owner_tokens["id_token"]
        )
        jwt.decode(owner_tokens["id_token"], key.key, algorithms=["RS256"], audience=APP_CLIENT_ID)
        headers = {"Authorization": f"Bearer {story.owner_token}"}
        assert resource_id in httpx.get(f"{second.issuer}/owner/resources", headers=headers).json()
        kept_policy = httpx.get(f"{second.issuer}/owner/policies/{policy}", headers=headers).json()
        assert kept_policy["resource_scopes"] == ["view"]
        pending = httpx.get(f"{second.issuer}/owner/requests", headers=headers).json()
        request = next(r for r in pending if r["resource_id"] == resource_id)
        assert request["resource_scopes"] == ["download"]
        refreshed = httpx.post(
            f"{second.issuer}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": owner_tokens["refresh_token"],
                "client_id": APP_CLIENT_ID,
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        # The ticket from request_submitted still continues the process after the owner decides.
        approved = httpx.post(
            f"{second.issuer}/owner/requests/{request['_id']}/approve", headers=headers
        )
        assert approved.status_code == 200
        story.server = second
        granted = story.ask(submitted["ticket"])
        assert granted.status_code == 200, granted.text
        # The demo RS gets its PAT from its stored (rotating) refresh token after the restart.
        served = httpx.get(
            f"{second.issuer}/rs/photos/resources/{resource_id}",
            headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
            params={"scopes": "download"},
        )
        assert served.status_code == 200, served.text
    finally:
        second.stop()
