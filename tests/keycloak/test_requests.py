"""Pending requests end to end: bob asks like a real UMA client, alice decides in the backend.

Keycloak's own view (RPTs for bob, the Account API as alice) is the judge, not the backend.
"""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.keycloak import (
    KeycloakServer,
    account_json,
    password_token,
    permission_ticket,
    request_access,
    rpt_permissions,
    submit_uma_ticket,
)
from tests.fixtures.keycloak_backend import NewResource
from uma_desktop.backends.keycloak import KeycloakBackend, request_id
from uma_desktop.domain import AccessRequest
from uma_desktop.errors import ConflictError, NotFoundError

pytestmark = pytest.mark.keycloak


def _pending_in_keycloak(keycloak: KeycloakServer, resource_id: str) -> dict[str, set[str]]:
    found = account_json(keycloak, "alice", f"resources/{resource_id}/permissions/requests")
    return {p["username"]: set(p.get("scopes", [])) for p in found}


def _granted_in_keycloak(keycloak: KeycloakServer, resource_id: str) -> dict[str, set[str]]:
    found = account_json(keycloak, "alice", f"resources/{resource_id}/permissions")
    return {p["username"]: set(p.get("scopes", [])) for p in found}


async def _request_of(alice: KeycloakBackend, resource_id: str, username: str) -> AccessRequest:
    matches = [
        r
        for r in await alice.list_requests()
        if r.resource_id == resource_id and r.requester.username == username
    ]
    assert len(matches) == 1, matches
    return matches[0]


async def test_bob_asks_alice_approves_a_subset_and_bob_gets_exactly_that(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    album = new_resource(("view", "download", "comment"), "album")
    # The resource server answers bob's call with a ticket; bob's client trades it in.
    ticket = permission_ticket(keycloak, album, ["view", "download"])
    answer = submit_uma_ticket(keycloak, password_token(keycloak, "bob"), ticket)
    assert answer.status_code == 403
    assert answer.json() == {"error": "access_denied", "error_description": "request_submitted"}
    assert rpt_permissions(keycloak, "bob", album, ["view"]) == set()

    request = await _request_of(alice, album, "bob")
    assert request.id == request_id(album, "bob")
    assert request.resource_name == "Test album"
    assert request.scopes == ("download", "view")
    assert request.requester.email == "bob@example.test"
    assert request.requester.name == "Bob Requester"

    await alice.approve(request, ["view"])

    assert rpt_permissions(keycloak, "bob", album, ["view"]) == {"view"}
    assert rpt_permissions(keycloak, "bob", album, ["download"]) == set()
    assert _granted_in_keycloak(keycloak, album) == {"bob": {"view"}}
    # approving a subset decides the whole request: the rest is no longer pending
    assert _pending_in_keycloak(keycloak, album) == {}
    assert [r for r in await alice.list_requests() if r.resource_id == album] == []


async def test_deny_removes_the_request_and_bob_stays_without_access(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    record = new_resource(("view", "edit"), "health")
    assert request_access(keycloak, "bob", record, ["view", "edit"]) == "request_submitted"
    request = await _request_of(alice, record, "bob")

    await alice.deny(request)

    assert _pending_in_keycloak(keycloak, record) == {}
    assert _granted_in_keycloak(keycloak, record) == {}
    assert rpt_permissions(keycloak, "bob", record, ["view"]) == set()
    assert rpt_permissions(keycloak, "bob", record, ["edit"]) == set()
    # denying again is harmless; approving a decided request says so
    await alice.deny(request)
    with pytest.raises(NotFoundError, match="no longer pending"):
        await alice.approve(request)


async def test_deny_keeps_what_bob_was_already_given(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    album = new_resource(("view", "download", "comment"), "album")
    await alice.share(album, "bob", ["view"])
    assert request_access(keycloak, "bob", album, ["comment"]) == "request_submitted"

    await alice.deny(await _request_of(alice, album, "bob"))

    assert _granted_in_keycloak(keycloak, album) == {"bob": {"view"}}
    assert rpt_permissions(keycloak, "bob", album, ["view"]) == {"view"}
    assert rpt_permissions(keycloak, "bob", album, ["comment"]) == set()


async def test_revoking_one_scope_keeps_bobs_other_grants_and_carols_request(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    album = new_resource(("view", "download", "comment"), "album")
    assert request_access(keycloak, "bob", album, ["view", "download"]) == "request_submitted"
    await alice.approve(await _request_of(alice, album, "bob"))
    assert rpt_permissions(keycloak, "bob", album, ["view", "download"]) == {"view", "download"}
    assert request_access(keycloak, "carol", album, ["comment"]) == "request_submitted"

    await alice.revoke(album, "bob", ["download"])

    assert _granted_in_keycloak(keycloak, album) == {"bob": {"view"}}
    assert _pending_in_keycloak(keycloak, album) == {"carol": {"comment"}}
    assert rpt_permissions(keycloak, "bob", album, ["view"]) == {"view"}
    assert rpt_permissions(keycloak, "bob", album, ["download"]) == set()


async def test_a_change_that_would_drop_an_undecided_request_is_refused(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    """Keycloak's PUT deletes a person's unlisted pending tickets: the backend never lets it."""
    album = new_resource(("view", "download", "comment", "edit"), "album")
    await alice.share(album, "bob", ["view", "download"])
    assert request_access(keycloak, "bob", album, ["comment"]) == "request_submitted"

    with pytest.raises(ConflictError, match="pending request for comment"):
        await alice.revoke(album, "bob", ["download"])
    with pytest.raises(ConflictError, match="pending request for comment"):
        await alice.share(album, "bob", ["edit"])
    await alice.share(album, "bob", ["view"])  # already granted: nothing to send, nothing lost
    assert _granted_in_keycloak(keycloak, album) == {"bob": {"view", "download"}}
    assert _pending_in_keycloak(keycloak, album) == {"bob": {"comment"}}

    # once alice decides the request, the grants stay as they were plus what she approved
    await alice.approve(await _request_of(alice, album, "bob"))
    assert _granted_in_keycloak(keycloak, album) == {"bob": {"view", "download", "comment"}}
    assert rpt_permissions(keycloak, "bob", album, ["comment"]) == {"comment"}


async def test_a_request_that_grew_since_listing_is_not_decided_blindly(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    album = new_resource(("view", "download", "comment"), "album")
    assert request_access(keycloak, "bob", album, ["view"]) == "request_submitted"
    listed = await _request_of(alice, album, "bob")
    assert request_access(keycloak, "bob", album, ["download"]) == "request_submitted"

    with pytest.raises(ConflictError, match="pending request for download"):
        await alice.approve(listed)
    with pytest.raises(ConflictError):
        await alice.deny(listed)
    assert _pending_in_keycloak(keycloak, album) == {"bob": {"view", "download"}}

    await alice.approve(await _request_of(alice, album, "bob"), ["download"])
    assert _granted_in_keycloak(keycloak, album) == {"bob": {"download"}}
    assert _pending_in_keycloak(keycloak, album) == {}


async def test_why_the_backend_refuses_keycloaks_put_drops_unlisted_pending_requests(
    keycloak: KeycloakServer, new_resource: NewResource
) -> None:
    """Keycloak fact behind the ConflictError rule (if this ever fails, revisit the rule).

    The owner's token cannot reach the protection API's ticket endpoints (they need a token
    issued to the resource server), so PUT permissions is the only write the owner has.
    """
    album = new_resource(("view", "download", "comment"), "album")
    alice_token = password_token(keycloak, "alice")
    headers = {"Authorization": f"Bearer {alice_token}", "Accept": "application/json"}
    with httpx.Client(timeout=30, headers=headers) as client:
        tickets = client.get(f"{keycloak.issuer}/authz/protection/permission/ticket")
        assert tickets.status_code == 403
        assert tickets.json()["error"] == "invalid_clientId"

        url = f"{keycloak.account_url}/resources/{album}/permissions"
        granting = client.put(url, json=[{"username": "bob", "scopes": ["view", "download"]}])
        assert granting.status_code == 204
        assert request_access(keycloak, "bob", album, ["comment"]) == "request_submitted"
        assert client.put(url, json=[{"username": "bob", "scopes": ["view"]}]).status_code == 204
    assert _granted_in_keycloak(keycloak, album) == {"bob": {"view"}}
    assert _pending_in_keycloak(keycloak, album) == {}  # bob's request silently gone
