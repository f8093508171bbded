"""The ForgeRock AM family adapter against a real OpenAM 16: what an owner does with it.

Pending requests are made the way a real resource server and requesting party make them in
OpenAM's UMA 1.0: the RS registers a resource set and a permission (ticket) with the owner's
PAT, the requesting party presents the ticket with its AAT and OpenAM stores a request.
"""

from __future__ import annotations

import pytest

from tests.fixtures.openam import (
    OpenAMServer,
    protection_token,
    register_resource_set,
    request_access,
)
from tests.openam.conftest import session_for
from uma_desktop import net
from uma_desktop.backends import detect_kind, make_backend
from uma_desktop.backends.base import Capability
from uma_desktop.backends.forgerock import ForgeRockBackend
from uma_desktop.domain import BackendKind
from uma_desktop.errors import ForbiddenError, LoginRequiredError, NotSupportedError
from uma_desktop.oauth.vault import TokenKind
from uma_desktop.trace.export import entry_as_text
from uma_desktop.trace.recording import TraceRecorder
from uma_desktop.uma import metadata as uma_metadata

pytestmark = pytest.mark.openam


async def _request_of(backend: ForgeRockBackend, resource_id: str, requester: str):  # type: ignore[no-untyped-def]
    matches = [
        r
        for r in await backend.list_requests()
        if r.resource_id == resource_id and r.requester.username == requester
    ]
    assert len(matches) == 1, f"expected one request by {requester}, found {len(matches)}"
    return matches[0]


async def test_discovery_document_is_detected_as_forgerock(openam: OpenAMServer) -> None:
    async with net.async_client() as client:
        reply = await net.send(client, "GET", openam.discovery_url, "discovery")
    metadata = uma_metadata.parse(net.json_body(reply, "discovery"))
    assert detect_kind(metadata) is BackendKind.FORGEROCK
    backend = make_backend(
        BackendKind.FORGEROCK,
        connection_id="am",
        metadata=metadata,
        client=client,
        tokens=session_for(openam, "alice"),
    )
    assert isinstance(backend, ForgeRockBackend)
    assert backend.realm_path == f"/realms/root/realms/{openam.realm}"


async def test_resources_are_listed_with_their_labels(
    openam: OpenAMServer, alice: ForgeRockBackend, report_figure
) -> None:
    resource_id, name = register_resource_set(openam, "alice", labels=("Holidays", "Family"))
    resources = {r.id: r for r in await alice.list_resources()}
    assert resource_id in resources
    resource = resources[resource_id]
    assert resource.name == name
    assert resource.scopes == ("download", "print", "view")
    assert resource.resource_server == openam.rs_client_id
    assert resource.owner == "alice"
    assert set(resource.labels) >= {"Holidays", "Family"}
    if openam.figures:
        report_figure(", ".join(f"{k} {v:.0f} s" for k, v in openam.figures.items()))


async def test_pending_request_is_listed_and_a_subset_approved(
    openam: OpenAMServer, alice: ForgeRockBackend
) -> None:
    resource_id, name = register_resource_set(openam, "alice")
    assert request_access(openam, "alice", "bob", resource_id, ["view", "print"]) == (
        "request_submitted"
    )
    request = await _request_of(alice, resource_id, "bob")
    assert request.resource_name == name
    assert request.scopes == ("print", "view")
    assert request.requested_at is not None

    await alice.approve(request, ["view"])

    assert [r for r in await alice.list_requests() if r.id == request.id] == []
    shares = await alice.list_shares(resource_id)
    assert [(s.party.username, s.scopes) for s in shares] == [("bob", ("view",))]
    # What OpenAM now decides for bob: view is granted, print still is not.
    assert request_access(openam, "alice", "bob", resource_id, ["view"]) == "granted"


async def test_denied_request_leaves_no_share(
    openam: OpenAMServer, alice: ForgeRockBackend
) -> None:
    resource_id, _ = register_resource_set(openam, "alice")
    request_access(openam, "alice", "carol", resource_id, ["download"])
    request = await _request_of(alice, resource_id, "carol")

    await alice.deny(request)

    assert [r for r in await alice.list_requests() if r.id == request.id] == []
    assert await alice.list_shares(resource_id) == []


async def test_share_narrow_and_revoke(openam: OpenAMServer, alice: ForgeRockBackend) -> None:
    resource_id, _ = register_resource_set(openam, "alice")

    await alice.share(resource_id, "carol", ["view", "download"])
    await alice.share(resource_id, "bob", ["print"])
    shares = {s.party.username: s.scopes for s in await alice.list_shares(resource_id)}
    assert shares == {"carol": ("download", "view"), "bob": ("print",)}
    assert request_access(openam, "alice", "carol", resource_id, ["download"]) == "granted"

    await alice.revoke(resource_id, "carol", ["download"])  # narrow
    shares = {s.party.username: s.scopes for s in await alice.list_shares(resource_id)}
    assert shares == {"carol": ("view",), "bob": ("print",)}

    await alice.revoke(resource_id, "carol")
    await alice.revoke(resource_id, "bob")
    assert await alice.list_shares(resource_id) == []


async def test_audit_history_failure_of_openam_16_is_reported_plainly(
    openam: OpenAMServer, alice: ForgeRockBackend
) -> None:
    """OpenAM 16.0.5's auditHistory endpoint fails (HTTP 500) whatever is asked: the backend
    says the server cannot give its history instead of a bare server error."""
    resource_id, _ = register_resource_set(openam, "alice")
    request_access(openam, "alice", "bob", resource_id, ["view"])
    await alice.approve(await _request_of(alice, resource_id, "bob"))
    with pytest.raises(NotSupportedError, match="audit history"):
        await alice.history()


async def test_capabilities_are_honest(alice: ForgeRockBackend) -> None:
    assert Capability.SHARED_WITH_ME not in alice.capabilities
    assert Capability.EXPIRY not in alice.capabilities
    with pytest.raises(NotSupportedError):
        await alice.shared_with_me()


async def test_owner_api_refuses_another_users_data(openam: OpenAMServer) -> None:
    async with net.async_client() as client:
        bob = ForgeRockBackend(
            "am-bob", openam.issuer, client, session_for(openam, "bob"), username="alice"
        )
        with pytest.raises(ForbiddenError):
            await bob.list_requests()


async def test_session_token_is_kept_until_rejected_and_password_never_stored(
    openam: OpenAMServer,
) -> None:
    session = session_for(openam, "alice")
    token = await session.access_token()
    assert await session.access_token() == token
    assert len(session.prompts) == 1  # type: ignore[attr-defined]
    assert "127.0.0.1" in session.prompts[0]  # type: ignore[attr-defined]
    stored = session._vault.load(session.connection_id, TokenKind.SESSION)
    assert stored is not None and openam.password("alice") not in stored
    assert session.username == "alice"

    await session.token_rejected(token)
    assert session._vault.load(session.connection_id, TokenKind.SESSION) is None
    await session.logout()


async def test_wrong_password_asks_again(openam: OpenAMServer) -> None:
    session = session_for(openam, "alice", password="not-the-password")
    with pytest.raises(LoginRequiredError):
        await session.access_token()


async def test_session_token_and_password_never_reach_the_trace(openam: OpenAMServer) -> None:
    session = session_for(openam, "alice")
    with TraceRecorder() as recorder:
        async with net.async_client(connection_id="am-alice") as client:
            backend = ForgeRockBackend("am-alice", openam.issuer, client, session)
            await backend.list_requests()
        entries = recorder.entries()
    token = await session.access_token()
    text = "\n".join(entry_as_text(entry) for entry in entries)
    lowered = text.lower()
    assert "iplanetdirectorypro" in lowered and "x-openam-password" in lowered  # sent, hidden
    assert token not in text
    assert openam.password("alice") not in text
    assert '"shandle:' not in text  # the session handle can end the session: hidden too


async def test_logout_ends_the_server_session_and_no_cookie_is_kept(openam: OpenAMServer) -> None:
    session = session_for(openam, "alice")
    async with net.async_client(connection_id="am-alice") as client:
        backend = ForgeRockBackend("am-alice", openam.issuer, client, session)
        await backend.list_requests()
        assert len(client.cookies.jar) == 0  # AM would read a cookie before the header
        token = await session.access_token()
        await session.logout()
        reply = await net.send(
            client,
            "GET",
            await backend._url("uma/pendingrequests"),
            "a request with the ended session",
            params={"_queryFilter": "true"},
            headers={"iPlanetDirectoryPro": token},
            check=False,
        )
    assert reply.status_code == 401


async def test_owner_api_takes_no_oauth2_bearer_token(openam: OpenAMServer) -> None:
    """Why the app asks for a password: OpenAM's owner REST refuses the owner's own OAuth2
    access token (the standards-based alternative the app would prefer)."""
    access_token = protection_token(openam, "alice")
    async with net.async_client() as client:
        reply = await net.send(
            client,
            "GET",
            f"{openam.base_url}/json/realms/root/realms/{openam.realm}/users/alice/uma/pendingrequests",
            "pending requests with a bearer token",
            params={"_queryFilter": "true"},
            headers={"Authorization": f"Bearer {access_token}"},
            check=False,
        )
    assert reply.status_code == 401
