"""The Keycloak, ForgeRock and support adapters read their servers' field names (camelCase,
``_id``), take what servers commonly send loosely (numbers as strings, left-out lists), and
turn a document of the wrong shape or size into a MalformedResponseError naming the field,
over real HTTP against tests/fixtures/hostile.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fixtures.hostile import KEYCLOAK_REALM, Answer, CountingTokens, HostileServer
from uma_desktop import net
from uma_desktop.backends.forgerock import ForgeRockBackend
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.backends.support_keycloak import KeycloakSupportBackend
from uma_desktop.domain import Party
from uma_desktop.errors import MalformedResponseError

ACCOUNT = f"{KEYCLOAK_REALM}/account/resources"
AM_USER = "/am/json/realms/root/users/alice"
TICKETS = f"{KEYCLOAK_REALM}/authz/protection/permission/ticket"


def _keycloak(hostile: HostileServer, client: net.AsyncClient) -> KeycloakBackend:
    return KeycloakBackend("kc", hostile.keycloak_issuer, client, CountingTokens())


def _forgerock(hostile: HostileServer, client: net.AsyncClient) -> ForgeRockBackend:
    issuer = f"{hostile.base}/am/oauth2"
    return ForgeRockBackend("am", issuer, client, CountingTokens(), username="alice")


async def test_keycloak_field_names_and_left_out_lists(hostile: HostileServer) -> None:
    photos = {
        "_id": "r1",
        "name": "photos",
        "displayName": "Holiday photos",
        "client": {"clientId": "photo-rs", "name": "Photo RS"},
        "owner": {"id": "u1", "username": "carol"},
        "unknown": {"kept": "out"},
    }
    hostile.route(ACCOUNT, Answer.json([photos]))
    hostile.route(f"{ACCOUNT}/shared-with-me", Answer.json([photos | {"owner": "dave"}]))
    hostile.route(
        f"{ACCOUNT}/r1/user",
        Answer.json({"id": "u2", "username": "bob", "firstName": "Bob", "lastName": "B"}),
    )
    async with net.async_client() as client:
        backend = _keycloak(hostile, client)
        [resource] = await backend.list_resources()
        [shared] = await backend.shared_with_me()
        person = await backend.find_person("r1", "bob")
    assert (resource.name, resource.description, resource.scopes) == (
        "Holiday photos",
        "photos",
        (),
    )
    assert (resource.resource_server, resource.resource_server_id) == ("Photo RS", "photo-rs")
    assert shared.owner == Party(id="dave", username="dave")
    assert person == Party(id="u2", username="bob", name="Bob B")


async def test_keycloak_lookup_answering_null_finds_nobody(hostile: HostileServer) -> None:
    hostile.route(f"{ACCOUNT}/r1/user", Answer.json(None))
    async with net.async_client() as client:
        assert await _keycloak(hostile, client).find_person("r1", "nobody") is None


async def test_keycloak_wrong_shape_names_the_field(hostile: HostileServer) -> None:
    hostile.route(ACCOUNT, Answer.json([{"_id": "r1", "name": "ok"}, {"_id": "r2", "name": 7}]))
    async with net.async_client() as client:
        with pytest.raises(MalformedResponseError) as failure:
            await _keycloak(hostile, client).list_resources()
    message = failure.value.user_message
    assert "list of resources is malformed" in message and "1.name" in message


async def test_forgerock_query_results_with_their_field_names(hostile: HostileServer) -> None:
    hostile.route(f"{AM_USER}/oauth2/resources/labels", Answer.json({"result": []}))
    hostile.route(
        f"{AM_USER}/oauth2/resources/sets",
        Answer.json(
            {
                "result": [
                    {
                        "_id": "s1",
                        "name": "Report",
                        "scopes": ["view"],
                        "resourceServer": "docs-rs",
                        "resourceOwnerId": "alice",
                    }
                ],
                "resultCount": 1,
            }
        ),
    )
    hostile.route(
        f"{AM_USER}/uma/pendingrequests",
        Answer.json(
            {
                "result": [
                    {
                        "_id": "p1",
                        "user": "bob",
                        "resource": "Report",
                        "when": "1767225600000",  # milliseconds, sent as a string
                        "permissions": ["view"],
                    }
                ]
            }
        ),
    )
    async with net.async_client() as client:
        backend = _forgerock(hostile, client)
        [resource] = await backend.list_resources()
        [request] = await backend.list_requests()
    assert (resource.id, resource.resource_server, resource.owner) == ("s1", "docs-rs", "alice")
    assert (request.id, request.resource_id, request.scopes) == ("p1", "s1", ("view",))
    assert request.requested_at == datetime(2026, 1, 1, tzinfo=UTC)


async def test_forgerock_result_that_is_not_a_list_is_malformed(hostile: HostileServer) -> None:
    hostile.route(f"{AM_USER}/uma/pendingrequests", Answer.json({"result": {"_id": "p1"}}))
    async with net.async_client() as client:
        with pytest.raises(MalformedResponseError, match=r"pending requests is malformed.*result"):
            await _forgerock(hostile, client).list_requests()


async def test_support_text_over_its_bound_is_refused(hostile: HostileServer) -> None:
    ticket = {"id": "t1", "owner": "alice", "resource": "r1", "requester": "bob"}
    async with net.async_client() as client:
        backend = KeycloakSupportBackend(hostile.keycloak_issuer, client, CountingTokens())
        hostile.route(TICKETS, Answer.json([ticket | {"resourceName": "x" * 2001}]))
        with pytest.raises(MalformedResponseError, match=r"0\.resourceName"):
            await backend.grants(owner="alice")
        hostile.route(TICKETS, Answer.json([ticket] * 5001))
        with pytest.raises(MalformedResponseError, match="ticket list is malformed"):
            await backend.grants(owner="alice")
        hostile.route(
            f"{KEYCLOAK_REALM}/authz/protection/resource_set/r1",
            Answer.json({"_id": "r1", "name": "Report", "scopes": [{"name": "view"}]}),
        )
        hostile.route(TICKETS, Answer.json([ticket | {"resourceName": "x" * 2000}]))
        [grant] = (await backend.grants(owner="alice")).items
    assert grant.resource_name == "x" * 2000 and grant.resource_scopes == ("view",)
