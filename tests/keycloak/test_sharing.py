"""Sharing, narrowing and revoking through the backend; Keycloak's own state is the judge.

At each step the test reads Keycloak directly: the Account API as alice (who has access) and
as carol (what is shared with her), and an RPT for carol.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fixtures.keycloak import KeycloakServer, account_json, rpt_permissions
from tests.fixtures.keycloak_backend import NewResource, make_backend
from uma_desktop.backends.base import Capability
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.errors import ConfigurationError, NotFoundError, NotSupportedError

pytestmark = pytest.mark.keycloak


def _shares(keycloak: KeycloakServer, resource_id: str) -> dict[str, set[str]]:
    found = account_json(keycloak, "alice", f"resources/{resource_id}/permissions")
    return {p["username"]: set(p.get("scopes", [])) for p in found}


def _shared_with_carol(keycloak: KeycloakServer, resource_id: str) -> set[str] | None:
    for item in account_json(keycloak, "carol", "resources/shared-with-me"):
        if item["_id"] == resource_id:
            return {scope["name"] for scope in item.get("scopes", [])}
    return None


async def test_share_by_email_then_narrow_then_revoke(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    calendar = new_resource(("view", "edit"), "calendar")

    await alice.share(calendar, "carol@example.test", ["view", "edit"])
    assert _shares(keycloak, calendar) == {"carol": {"view", "edit"}}
    assert _shared_with_carol(keycloak, calendar) == {"view", "edit"}
    assert rpt_permissions(keycloak, "carol", calendar, ["view", "edit"]) == {"view", "edit"}
    [share] = await alice.list_shares(calendar)
    assert share.party.username == "carol"
    assert share.party.name == "Carol Friend"
    assert share.scopes == ("edit", "view")

    await alice.revoke(calendar, "carol@example.test", ["edit"])  # narrow
    assert _shares(keycloak, calendar) == {"carol": {"view"}}
    assert _shared_with_carol(keycloak, calendar) == {"view"}
    assert rpt_permissions(keycloak, "carol", calendar, ["edit"]) == set()

    await alice.revoke(calendar, "carol")
    assert _shares(keycloak, calendar) == {}
    assert _shared_with_carol(keycloak, calendar) is None
    assert rpt_permissions(keycloak, "carol", calendar, ["view"]) == set()
    assert await alice.list_shares(calendar) == []


async def test_share_adds_to_what_someone_has_and_leaves_others_alone(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    album = new_resource(("view", "download", "comment"), "album")
    await alice.share(album, "bob", ["view"])
    await alice.share(album, "carol", ["comment"])
    await alice.share(album, "bob", ["download"])
    await alice.share(album, "bob", ["view"])  # already there: nothing changes
    assert _shares(keycloak, album) == {"bob": {"view", "download"}, "carol": {"comment"}}


async def test_bad_share_input_gets_a_clear_error_and_changes_nothing(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    album = new_resource(("view", "download"), "album")
    with pytest.raises(NotFoundError, match=r"no user 'nobody@example\.test'"):
        await alice.share(album, "nobody@example.test", ["view"])
    with pytest.raises(ConfigurationError, match="has no scope edit"):
        await alice.share(album, "bob", ["view", "edit"])
    with pytest.raises(ConfigurationError, match="at least one scope"):
        await alice.share(album, "bob", [])
    with pytest.raises(NotSupportedError, match="cannot expire"):
        await alice.share(album, "bob", ["view"], expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(NotFoundError):
        await alice.share("no-such-resource-id", "bob", ["view"])
    assert _shares(keycloak, album) == {}


async def test_listing_filtering_lookup_and_shared_with_me(
    keycloak: KeycloakServer, alice: KeycloakBackend, new_resource: NewResource
) -> None:
    assert Capability.SCOPE_SUBSET in alice.capabilities
    assert Capability.EXPIRY not in alice.capabilities

    resources = {r.id: r for r in await alice.list_resources()}
    holidays = resources[keycloak.resources["alice-album-holidays"]]
    assert holidays.name == "Holiday photos"
    assert set(holidays.scopes) == {"view", "download", "comment"}
    assert holidays.resource_server == "Home Cloud"
    assert holidays.resource_server_id == "home-cloud"
    assert holidays.connection_id == "kc-alice"

    health = await alice.list_resources("HEALTH-record")
    assert [r.id for r in health] == [keycloak.resources["alice-health-record"]]

    carol = await alice.find_person(holidays.id, "carol@example.test")
    assert carol is not None
    assert (carol.username, carol.email, carol.name) == (
        "carol",
        "carol@example.test",
        "Carol Friend",
    )
    assert await alice.find_person(holidays.id, "nobody") is None

    shared = new_resource(("view", "download"), "shared")
    await alice.share(shared, "carol", ["download"])
    carols_backend = make_backend(keycloak, "carol")
    try:
        mine = [s for s in await carols_backend.shared_with_me() if s.resource.id == shared]
        assert len(mine) == 1
        assert mine[0].scopes == ("download",)
        assert mine[0].resource.resource_server == "Home Cloud"
        assert await carols_backend.list_resources() == []
    finally:
        await carols_backend.aclose()
