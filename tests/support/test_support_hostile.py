"""Support adapters against a hostile server: every answer is bounded and checked."""

from __future__ import annotations

import pytest

from tests.fixtures.hostile import Answer, CountingTokens, HostileServer
from uma_desktop import net
from uma_desktop.backends.support_keycloak import KeycloakSupportBackend
from uma_desktop.backends.support_sandbox import SandboxSupportBackend, support_endpoint
from uma_desktop.errors import MalformedResponseError, ResponseTooLargeError, ServerTooSlowError

GRANT = {
    "_id": "g1",
    "status": "granted",
    "resource_id": "r1",
    "resource_name": "x",
    "owner": {"sub": "a"},
    "person": {"sub": "b"},
}


async def test_malformed_huge_and_dripping_answers_are_clear_errors(
    hostile: HostileServer,
) -> None:
    base = hostile.base + "/support"
    async with net.async_client(deadline=2) as client:
        backend = SandboxSupportBackend(base, client, CountingTokens())
        hostile.route("/support/grants", Answer.json({"items": "not a list"}))
        with pytest.raises(MalformedResponseError, match="share page is malformed"):
            await backend.grants(owner="alice")
        hostile.route("/support/grants", Answer.json({"items": [{**GRANT, "status": "owned"}]}))
        with pytest.raises(MalformedResponseError):
            await backend.grants(owner="alice")
        hostile.route("/support/grants", Answer.json({"items": [GRANT] * 1001}))
        with pytest.raises(MalformedResponseError):
            await backend.grants(owner="alice")
        hostile.route("/support/grants", Answer.endless_json())
        with pytest.raises(ResponseTooLargeError):
            await backend.grants(owner="alice")
        hostile.route("/support/resources", Answer.json({"items": []}).dripped(0.5))
        with pytest.raises(ServerTooSlowError):
            await backend.resources(owner="alice")
        hostile.route("/support/people", Answer.text("<html>login</html>"))
        with pytest.raises(MalformedResponseError, match="text/html"):
            await backend.find_person("alice")


async def test_keycloak_adapter_rejects_odd_tickets(hostile: HostileServer) -> None:
    issuer = hostile.keycloak_issuer
    async with net.async_client(deadline=2) as client:
        backend = KeycloakSupportBackend(issuer, client, CountingTokens())
        path = "/realms/hostile/authz/protection/permission/ticket"
        hostile.route(path, Answer.json([{"id": "t1", "granted": "maybe"}]))
        with pytest.raises(MalformedResponseError, match="ticket list is malformed"):
            await backend.grants(owner="alice")


def test_only_an_endpoint_under_the_issuer_is_used() -> None:
    issuer = "https://as.example"
    assert support_endpoint(issuer, {"support_endpoint": "https://evil.example/s"}) == (
        "https://as.example/support"
    )
    assert support_endpoint(issuer, {"support_endpoint": "https://as.example/x/support"}) == (
        "https://as.example/x/support"
    )
