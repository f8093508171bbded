"""Fixtures for the Keycloak acceptance tests: alice's backend and throw-away resources.

Each test works on resources it creates itself (owned by alice, unique names, deleted after
the test), so the tests do not depend on each other or on what a shared dev server
(UMA_KEYCLOAK_URL) already holds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from tests.fixtures.keycloak import (
    KeycloakServer,
    admin_token,
    create_resource,
    delete_resource,
    rs_client_uuid,
)
from tests.fixtures.keycloak_backend import NewResource, make_backend
from uma_desktop.backends.keycloak import KeycloakBackend


@pytest.fixture
async def alice(keycloak: KeycloakServer) -> AsyncIterator[KeycloakBackend]:
    """The backend under test, logged in as alice with a real token."""
    backend = make_backend(keycloak, "alice")
    yield backend
    await backend.aclose()


@pytest.fixture
def new_resource(keycloak: KeycloakServer) -> Iterator[NewResource]:
    """Create alice-owned resources for one test; they are deleted afterwards."""
    token = admin_token(keycloak)
    rs_uuid = rs_client_uuid(keycloak, token)
    created: list[str] = []

    def create(scopes: Sequence[str] = ("view", "download", "comment"), label: str = "") -> str:
        name = f"test-{label or 'item'}-{uuid.uuid4().hex[:10]}"
        resource_id = create_resource(
            keycloak, "alice", name, scopes, f"Test {label or 'item'}", token=token, rs_uuid=rs_uuid
        )
        created.append(resource_id)
        return resource_id

    yield create
    token = admin_token(keycloak)
    for resource_id in created:
        delete_resource(keycloak, resource_id, token=token, rs_uuid=rs_uuid)
