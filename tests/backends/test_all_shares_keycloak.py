"""Keycloak's ``list_all_shares`` (``resources/shared-with-others``) against the real server:
the same shares as reading each resource's permissions, in one request per page of
resources."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fixtures.keycloak import (
    KeycloakServer,
    PasswordTokenSource,
    create_resources,
    delete_resources,
)
from tests.fixtures.keycloak_backend import make_backend
from uma_desktop import net
from uma_desktop.backends.base import Capability
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.domain import Share

pytestmark = pytest.mark.keycloak


def described(shares: list[Share]) -> set[tuple[str, str, str | None, str | None, tuple[str, ...]]]:
    return {(s.resource_id, s.party.id, s.party.email, s.party.name, s.scopes) for s in shares}


async def test_every_share_of_the_owner_in_a_few_requests(keycloak: KeycloakServer) -> None:
    stamp = f"{datetime.now(UTC).timestamp():.0f}"
    ids = create_resources(keycloak, "alice", [f"All shares {stamp} {n}" for n in range(5)])
    try:
        backend = make_backend(keycloak)
        assert Capability.ALL_SHARES in backend.capabilities
        for number, resource_id in enumerate(ids[:4]):
            await backend.share(resource_id, "bob", ["view"])
            if number % 2:
                await backend.share(resource_id, "carol", ["view", "download"])
        paged = KeycloakBackend(
            "kc-alice",
            keycloak.issuer,
            net.async_client(connection_id="kc-alice"),
            PasswordTokenSource(keycloak, "alice"),
            page_size=2,
        )
        shares = await paged.list_all_shares()
        assert not shares.cut_short
        ours = {(s.resource_id, s.party.username, s.scopes) for s in shares if s.resource_id in ids}
        assert ours == {
            (ids[0], "bob", ("view",)),
            (ids[1], "bob", ("view",)), (ids[1], "carol", ("download", "view")),
            (ids[2], "bob", ("view",)),
            (ids[3], "bob", ("view",)), (ids[3], "carol", ("download", "view")),
        }  # fmt: skip
        # One request per page of shared resources (a short page ends it).
        shared = len({s.resource_id for s in shares})
        assert paged.request_count == shared // 2 + 1
        # Exactly what reading each resource's permissions gives, people's details included.
        one_by_one = [
            share
            for resource in await backend.list_resources()
            for share in await backend.list_shares(resource.id)
        ]
        assert described(shares) == described(one_by_one)
        assert len(shares) == len(one_by_one)
    finally:
        delete_resources(keycloak, ids)
