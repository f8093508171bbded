"""An owner with 200 resources: listing pages through them and the pending scan finds all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.keycloak import (
    KeycloakServer,
    create_resources,
    delete_resources,
    request_access,
)
from uma_desktop.backends.keycloak import KeycloakBackend, request_id

pytestmark = pytest.mark.keycloak

COUNT = 200


@pytest.fixture
def many_resources(keycloak: KeycloakServer) -> Iterator[list[str]]:
    names = [f"scale-{uuid.uuid4().hex[:8]}-{i:03d}" for i in range(COUNT)]
    ids = create_resources(keycloak, "alice", names)
    yield ids
    delete_resources(keycloak, ids)


async def test_two_hundred_resources_list_and_scan(
    keycloak: KeycloakServer, alice: KeycloakBackend, many_resources: list[str]
) -> None:
    asked = [many_resources[7], many_resources[123], many_resources[199]]
    for resource_id in asked:
        assert request_access(keycloak, "bob", resource_id, ["download"]) == "request_submitted"

    listed = {r.id for r in await alice.list_resources()}
    assert set(many_resources) <= listed
    assert set(keycloak.resources.values()) <= listed

    alice.request_count = 0
    requests = {r.id: r for r in await alice.list_requests()}
    for resource_id in asked:
        assert requests[request_id(resource_id, "bob")].scopes == ("download",)
    # one call per page of resources plus one per resource, nothing more
    pages = len(listed) // 100 + 1
    assert alice.request_count == pages + len(listed)
