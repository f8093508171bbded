"""The requesting-party client does the real UMA flow against the sandbox (and two
sandboxes run side by side in one process)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop import net
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import Denied, Failed, Granted, RequestingParty, Submitted


def _decide(server: SandboxServer, requester: str, action: str, body: object = None) -> None:
    headers = {"Authorization": f"Bearer {sandbox_owner_token(server)}"}
    pending = httpx.get(f"{server.issuer}/owner/requests", headers=headers).json()
    request = next(r for r in pending if r["requester"]["username"] == requester)
    answer = httpx.post(
        f"{server.issuer}/owner/requests/{request['_id']}/{action}", json=body, headers=headers
    )
    assert answer.status_code == 200, answer.text


def test_request_then_owner_approves_subset_then_retry(sandbox: SandboxServer) -> None:
    seen: list[net.Exchange] = []
    net.add_listener(seen.append)
    try:
        with RequestingParty.for_sandbox(sandbox.config, "dave") as dave:
            url = sandbox.resource_url("Holiday 2026")
            first = dave.access(url, ["view", "download"])
            assert isinstance(first, Submitted)
            assert first.interval >= 1 and "ticket" not in repr(first)
            _decide(sandbox, "dave", "approve", {"resource_scopes": ["view"]})
            second = dave.retry(first)
    finally:
        net.remove_listener(seen.append)
    assert isinstance(second, Granted), second
    assert second.scopes == ("view",)
    assert second.data["content"]["photos"]
    actors = {exchange.actor for exchange in seen}
    assert {"rqp:dave", "rs:photos"} <= actors


def test_existing_share_is_granted_at_once_via_claims_interaction(sandbox: SandboxServer) -> None:
    with RequestingParty.for_sandbox(sandbox.config, "bob", use_claims_interaction=True) as bob:
        outcome = bob.access(sandbox.resource_url("Family portraits"))
        assert isinstance(outcome, Granted), outcome
        assert outcome.scopes == ("view",)
        # A second resource: the PCT stands in for bob, no new interaction needed.
        again = bob.access(sandbox.resource_url("Family portraits"))
        assert isinstance(again, Granted)


def test_denied(sandbox: SandboxServer) -> None:
    with RequestingParty.for_sandbox(sandbox.config, "erin") as erin:
        first = erin.access(sandbox.resource_url("Allergies"))
        assert isinstance(first, Submitted)
        _decide(sandbox, "erin", "deny")
        assert isinstance(erin.retry(first), Denied)
        assert isinstance(erin.access(sandbox.resource_url("Allergies")), Denied)


def test_wrong_password_and_unreachable_are_failures(sandbox: SandboxServer) -> None:
    config = sandbox.config
    with RequestingParty.for_sandbox(config, "bob", password="nope") as bob:
        outcome = bob.access(sandbox.resource_url("Work calendar"))
    assert isinstance(outcome, Failed) and "wrong username or password" in outcome.message
    with RequestingParty.for_sandbox(config, "bob") as bob:
        gone = bob.access("http://127.0.0.1:9/rs/photos/resources/x")
    assert isinstance(gone, Failed) and "127.0.0.1" in gone.message


def test_two_servers_in_one_process(sandbox_factory: Callable[..., SandboxServer]) -> None:
    health = sandbox_factory(name="Health")
    photos = sandbox_factory(name="Photos")
    assert health.issuer != photos.issuer
    assert health.config["issuer"] == health.issuer and photos.config["name"] == "Photos"
    health_keys = httpx.get(f"{health.issuer}/jwks").json()["keys"][0]["kid"]
    photo_keys = httpx.get(f"{photos.issuer}/jwks").json()["keys"][0]["kid"]
    assert health_keys != photo_keys
    with RequestingParty.for_sandbox(health.config, "alice") as alice:
        # alice reads bob's running log on Health (seeded share) ...
        assert isinstance(alice.access(health.resource_url("Running log")), Granted)
    with RequestingParty.for_sandbox(photos.config, "carol") as carol:
        # ... while carol asks on Photos: the two servers never mix.
        assert isinstance(carol.access(photos.resource_url("Cat pictures")), Submitted)
    token = sandbox_owner_token(health)
    other = httpx.get(
        f"{photos.issuer}/owner/requests", headers={"Authorization": f"Bearer {token}"}
    )
    assert other.status_code == 401
