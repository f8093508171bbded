"""Claims shares from the app: the owner shares with "anyone whose verified e-mail is at a
domain", and requesting parties with and without that e-mail go through the real UMA grant
(pushed ID token, and claims interaction)."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.owner import connect
from uma_desktop.app import ControlPoint
from uma_desktop.backends.base import Capability
from uma_desktop.errors import ConfigurationError
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import Granted, RequestingParty, Submitted


async def _resource_id(control: ControlPoint, name: str) -> str:
    [result] = await control.resources()
    return next(r.id for r in result.value or [] if r.name == name)


def _access(
    server: SandboxServer, who: str, name: str, scopes: list[str], **options: bool
) -> object:
    with RequestingParty.for_sandbox(server.config, who, **options) as party:
        return party.access(server.resource_url(name), scopes)


async def test_anyone_at_the_domain_reads_and_others_must_ask(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    [state] = control.connections()
    assert Capability.SHARE_BY_CLAIMS in state.capabilities
    resource_id = await _resource_id(control, "Vaccination record")
    decision = await control.share_with_claims(
        connection_id, resource_id, [("email_domain", "example.test")], ["read"]
    )
    assert decision.ok and decision.party == "anyone with email_domain=example.test"

    # dave@example.test pushes his ID token: granted at once, nobody asked the owner.
    pushed = await asyncio.to_thread(_access, sandbox, "dave", "Vaccination record", ["read"])
    assert isinstance(pushed, Granted), pushed
    assert pushed.scopes == ("read",)
    # erin signs in at the claims interaction endpoint instead: the same answer.
    interactive = await asyncio.to_thread(
        _access, sandbox, "erin", "Vaccination record", ["read"], use_claims_interaction=True
    )
    assert isinstance(interactive, Granted), interactive
    # The share grants read only: asking for share still goes to the owner.
    more = await asyncio.to_thread(_access, sandbox, "dave", "Vaccination record", ["share"])
    assert isinstance(more, Submitted)

    shares = await control.shares(connection_id, resource_id)
    [claims_share] = [s for s in shares if s.claims]
    assert claims_share.claims == (("email_domain", "example.test"),)
    assert claims_share.party.label == "Anyone with a verified e-mail at example.test"
    assert claims_share.scopes == ("read",)

    # Revoked like any share (addressed by the share's id): the next reader must ask.
    await control.revoke(connection_id, resource_id, claims_share.party.id)
    after = await asyncio.to_thread(_access, sandbox, "dave", "Vaccination record", ["read"])
    assert isinstance(after, Submitted)


async def test_without_the_claim_the_owner_is_asked(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    resource_id = await _resource_id(control, "Allergies")
    await control.share_with_claims(
        connection_id, resource_id, [("email_domain", "example.org")], ["read"]
    )
    outcome = await asyncio.to_thread(_access, sandbox, "dave", "Allergies", ["read"])
    assert isinstance(outcome, Submitted)
    [requests] = await control.requests()
    assert any(r.requester.username == "dave" for r in requests.value or [])


async def test_sharing_the_same_claims_again_adds_scopes_to_one_share(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    resource_id = await _resource_id(control, "Cat pictures")
    claim = [("email_domain", "example.test")]
    await control.share_with_claims(connection_id, resource_id, claim, ["view"])
    await control.share_with_claims(connection_id, resource_id, claim, ["download"])
    claims_shares = [s for s in await control.shares(connection_id, resource_id) if s.claims]
    assert [sorted(s.scopes) for s in claims_shares] == [["download", "view"]]
    with pytest.raises(ConfigurationError):
        await control.share_with_claims(connection_id, resource_id, [], ["view"])
