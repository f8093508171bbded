"""The support desk against the real Keycloak: the protection API with the RS's own token.

Keycloak keeps no dates, no expiry and no denied state (deny deletes the tickets), so the
why-answers here are the ones Keycloak's data can give; the sandbox tests cover the rest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest

from tests.fixtures.keycloak import (
    REALM_FILE,
    KeycloakServer,
    admin_token,
    create_resource,
    delete_resource,
    protection_token,
    request_access,
    rs_client_uuid,
)
from tests.fixtures.keycloak_backend import make_backend
from uma_desktop.app.support import SupportConnection, SupportDesk
from uma_desktop.backends.support_base import GrantStatus
from uma_desktop.errors import AuthError

pytestmark = [pytest.mark.keycloak, pytest.mark.keyring]


@pytest.fixture
def new_resource(keycloak: KeycloakServer) -> Iterator[Callable[..., str]]:
    token = admin_token(keycloak)
    rs_uuid = rs_client_uuid(keycloak, token)
    created: list[str] = []

    def create(scopes: Sequence[str] = ("view", "download", "comment")) -> str:
        name = f"test-support-{uuid.uuid4().hex[:10]}"
        resource_id = create_resource(
            keycloak, "alice", name, scopes, "Support case album", token=token, rs_uuid=rs_uuid
        )
        created.append(resource_id)
        return resource_id

    yield create
    token = admin_token(keycloak)
    for resource_id in created:
        delete_resource(keycloak, resource_id, token=token, rs_uuid=rs_uuid)


@pytest.fixture
async def kc_desk(keycloak: KeycloakServer, desk: SupportDesk) -> AsyncIterator[SupportConnection]:
    connection = await desk.add(keycloak.issuer, keycloak.rs_client_id, keycloak.rs_client_secret)
    yield desk.set_acting(connection.id, True)


def _tickets(keycloak: KeycloakServer, resource_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{keycloak.issuer}/authz/protection/permission/ticket",
        params={"resourceId": resource_id, "returnNames": "true"},
        headers={"Authorization": f"Bearer {protection_token(keycloak)}"},
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def _approve(keycloak: KeycloakServer, ticket: dict[str, Any]) -> None:
    answer = httpx.put(
        f"{keycloak.issuer}/authz/protection/permission/ticket",
        json={**ticket, "granted": True},
        headers={"Authorization": f"Bearer {protection_token(keycloak)}"},
    )
    assert answer.status_code == 204, answer.text


async def test_lookups_why_and_revoke_on_behalf(
    keycloak: KeycloakServer,
    desk: SupportDesk,
    kc_desk: SupportConnection,
    new_resource: Callable[..., str],
) -> None:
    album = new_resource()
    assert request_access(keycloak, "bob", album, ["view", "download"]) == "request_submitted"
    view = next(t for t in _tickets(keycloak, album) if t["scopeName"] == "view")
    _approve(keycloak, view)

    by_resource = await desk.lookup(kc_desk.id, role="resource", resource_id=album)
    [group] = by_resource.groups
    assert group.owner.label == "alice" and group.resource_name.startswith("test-support-")
    [share] = group.shares
    [pending] = group.requests
    assert (share.person.label, share.scopes) == ("bob", ("view",))
    assert (pending.status, pending.scopes) == (GrantStatus.PENDING, ("download",))

    by_name = await desk.lookup(kc_desk.id, role="resource", resource_id=group.resource_name[5:])
    assert [g.resource_id for g in by_name.groups] == [album]
    by_owner = await desk.lookup(kc_desk.id, person="alice", role="owner")
    assert album in {g.resource_id for g in by_owner.groups}
    assert by_owner.person is not None and "may not read users" in by_owner.person.method
    by_requester = await desk.lookup(kc_desk.id, person="bob", role="requester")
    assert album in {g.resource_id for g in by_requester.groups}
    page = await desk.resources(kc_desk.id, owner="alice")
    assert album in {r.id for r in page.items}

    name = group.resource_name
    partial = await desk.why(kc_desk.id, "bob", album, "download")
    assert partial.verdict == "partly"
    assert partial.lines[0] == (
        f"bob cannot download {name}: it is shared “view” only, not “download”. "
        "A request for “download” is pending."
    )
    assert (await desk.why(kc_desk.id, "bob", name, "view")).verdict == "can"
    nothing = await desk.why(kc_desk.id, "carol", album, "view")
    assert nothing.lines[0].endswith(
        "it is not shared with them and they have not asked for access."
    )
    assert request_access(keycloak, "carol", album, ["comment"]) == "request_submitted"
    waiting = await desk.why(kc_desk.id, "carol", album, "comment")
    assert waiting.verdict == "cannot" and "pending (no date kept)" in waiting.lines[0]

    carol = next(
        g
        for g in (await desk.lookup(kc_desk.id, person="carol", role="requester")).groups
        if g.resource_id == album
    )
    await desk.deny(kc_desk.id, carol.requests[0], "ticket 88: not a family member")
    denied = await desk.why(kc_desk.id, "carol", album, "comment")
    # Keycloak deletes a denied request: nothing is left to explain.
    assert "not shared with them and they have not asked" in denied.lines[0]

    await desk.revoke(kc_desk.id, share, "ticket 87: alice never agreed")
    assert [t["scopeName"] for t in _tickets(keycloak, album)] == ["download"]
    alice = make_backend(keycloak, "alice")
    try:
        assert await alice.list_shares(album) == []
    finally:
        await alice.aclose()
    entries = desk.audit.entries()
    actions = [(e.action, e.reason) for e in entries if e.action in ("revoke", "deny")]
    assert actions == [
        ("revoke", "ticket 87: alice never agreed"),
        ("deny", "ticket 88: not a family member"),
    ]


async def test_email_lookup_when_the_service_account_may_read_users(
    keycloak: KeycloakServer, desk: SupportDesk, kc_desk: SupportConnection
) -> None:
    token = admin_token(keycloak)
    headers = {"Authorization": f"Bearer {token}"}
    admin = keycloak.admin_realm_url
    rs_uuid = rs_client_uuid(keycloak, token)
    account = httpx.get(f"{admin}/clients/{rs_uuid}/service-account-user", headers=headers).json()
    [management] = httpx.get(
        f"{admin}/clients", params={"clientId": "realm-management"}, headers=headers
    ).json()
    role = httpx.get(f"{admin}/clients/{management['id']}/roles/view-users", headers=headers).json()
    mapping = f"{admin}/users/{account['id']}/role-mappings/clients/{management['id']}"
    assert httpx.post(mapping, json=[role], headers=headers).status_code == 204
    try:
        found = await desk.find_person(kc_desk.id, "bob@example.test")
        assert found.person.username == "bob" and found.method == "by email (user directory)"
    finally:
        httpx.request("DELETE", mapping, json=[role], headers=headers)


async def test_wrong_secret_is_a_clear_error(keycloak: KeycloakServer, desk: SupportDesk) -> None:
    with pytest.raises(AuthError, match="client id or secret of home-cloud"):
        await desk.add(keycloak.issuer, keycloak.rs_client_id, "wrong-secret")
    assert desk.connections() == []


OTHER_RS = "other-cloud"


@pytest.fixture
def other_rs(keycloak: KeycloakServer) -> Iterator[tuple[str, str]]:
    """A second resource server of the realm (in the realm file; added through the admin
    API when the running Keycloak was started from an older file, and removed again)."""
    realm = json.loads(REALM_FILE.read_text())
    spec = next(c for c in realm["clients"] if c["clientId"] == OTHER_RS)
    headers = {"Authorization": f"Bearer {admin_token(keycloak)}"}
    clients = f"{keycloak.admin_realm_url}/clients"
    found = httpx.get(clients, params={"clientId": OTHER_RS}, headers=headers).json()
    created = not found
    if created:
        answer = httpx.post(clients, json=spec, headers=headers)
        assert answer.status_code == 201, answer.text
    yield OTHER_RS, spec["secret"]
    if created:
        [client] = httpx.get(clients, params={"clientId": OTHER_RS}, headers=headers).json()
        httpx.delete(f"{clients}/{client['id']}", headers=headers)


async def test_a_resource_server_sees_only_its_own_resources(
    keycloak: KeycloakServer,
    desk: SupportDesk,
    other_rs: tuple[str, str],
    new_resource: Callable[..., str],
) -> None:
    album = new_resource()
    assert request_access(keycloak, "bob", album, ["view"]) == "request_submitted"
    client_id, secret = other_rs
    other = await desk.add(keycloak.issuer, client_id, secret)
    assert (await desk.lookup(other.id, role="resource", resource_id=album)).groups == ()
    assert (await desk.lookup(other.id, person="alice", role="owner")).groups == ()
    assert (await desk.resources(other.id, owner="alice")).items == ()
    home = await desk.add(keycloak.issuer, keycloak.rs_client_id, keycloak.rs_client_secret)
    [group] = (await desk.lookup(home.id, role="resource", resource_id=album)).groups
    assert [g.person.label for g in group.requests] == ["bob"]
