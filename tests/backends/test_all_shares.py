"""``list_all_shares`` of the policy-manager backend: every share of the owner, page by
page, against the sandbox, and bounded against servers that ignore paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.hostile import Answer, CountingTokens, HostileServer, Seen
from tests.fixtures.sandbox import sandbox_owner_token
from tests.fixtures.shares import policy_ids, seed_shares
from uma_desktop import net
from uma_desktop.backends.base import Capability
from uma_desktop.backends.policy_manager import PolicyManagerBackend
from uma_desktop.sandbox import SandboxServer
from uma_desktop.uma.metadata import parse

SHARED = 20  # resources seeded with one share each, besides the demo seed's two shares


class OwnerToken:
    """The owner's real access token from the sandbox's login form."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self) -> str:
        return self.token

    async def token_rejected(self, token: str) -> None:
        raise AssertionError("the sandbox rejected the owner's token")


@pytest.fixture
def seeded(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    server = sandbox_factory(name="Home")
    seed_shares(server, SHARED)
    return server


def sandbox_backend(server: SandboxServer, **options: Any) -> PolicyManagerBackend:
    metadata = parse(httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json())
    token = OwnerToken(sandbox_owner_token(server, "alice"))
    return PolicyManagerBackend("home", metadata, net.async_client(), token, **options)


def policy_reads(sent: list[net.Exchange]) -> list[net.Exchange]:
    return [e for e in sent if httpx.URL(e.url).path.rstrip("/") == "/owner/policies"]


@pytest.fixture
def exchanges() -> Any:
    sent: list[net.Exchange] = []
    net.add_listener(sent.append)
    yield sent
    net.remove_listener(sent.append)


async def test_every_share_of_the_owner_is_read_page_by_page(
    seeded: SandboxServer, exchanges: list[net.Exchange]
) -> None:
    backend = sandbox_backend(seeded, page_size=7)
    assert Capability.ALL_SHARES in backend.capabilities
    shares = await backend.list_all_shares()
    expected = policy_ids(seeded)
    assert len(expected) == SHARED + 2
    assert sorted(s.id or "" for s in shares) == sorted(expected)  # each once
    assert all(s.connection_id == "home" and s.scopes for s in shares)
    # 22 policies, 7 a page: three full pages and a short one.
    reads = policy_reads(exchanges)
    assert [httpx.URL(e.url).params.get("offset") for e in reads] == ["0", "7", "14", "21"]
    assert all(e.status == 200 for e in reads)
    # The same shares as reading each resource on its own.
    one_by_one = {
        s.id
        for resource in await backend.list_resources()
        for s in await backend.list_shares(resource.id)
    }
    assert one_by_one == expected


async def test_a_listing_stops_at_the_cap_and_says_so(seeded: SandboxServer) -> None:
    backend = sandbox_backend(seeded, page_size=4, max_items=10)
    shares = await backend.list_all_shares()
    assert len(shares) == 10
    assert "first 10" in shares.cut_short
    whole = await sandbox_backend(seeded).list_all_shares()
    assert len(whole) == SHARED + 2 and not whole.cut_short


def _policy(number: int) -> dict[str, Any]:
    return {
        "_id": f"pol-{number}",
        "resource_id": f"res-{number}",
        "resource_scopes": ["view"],
        "required_claims": [],
        "sub": f"person-{number}",
        "created_at": 1_700_000_000,
    }


def _hostile_backend(server: HostileServer, **options: Any) -> PolicyManagerBackend:
    return PolicyManagerBackend(
        "hostile", parse(server.metadata()), net.async_client(), CountingTokens(), **options
    )


async def test_a_server_ignoring_offset_is_read_once_not_forever(
    hostile: HostileServer,
) -> None:
    # Every request gets the same full page, whatever offset it asks for.
    hostile.route("/policy/", Answer.json([_policy(n) for n in range(3)]))
    shares = await _hostile_backend(hostile, page_size=3).list_all_shares()
    assert [s.id for s in shares] == ["pol-0", "pol-1", "pol-2"]
    assert len(hostile.requests_to("/policy/")) == 2  # the repeat shows paging is ignored


async def test_a_server_ignoring_limit_sends_everything_in_one_answer(
    hostile: HostileServer,
) -> None:
    hostile.route("/policy/", Answer.json([_policy(n) for n in range(5)]))
    shares = await _hostile_backend(hostile, page_size=3).list_all_shares()
    assert len(shares) == 5
    assert len(hostile.requests_to("/policy/")) == 1


async def test_a_server_inventing_new_policies_forever_is_cut_short(
    hostile: HostileServer,
) -> None:
    def fresh_page(seen: Seen) -> Answer:
        start = int(seen.query.get("offset", "0"))
        return Answer.json([_policy(start + n) for n in range(3)])

    hostile.route("/policy/", fresh_page)
    shares = await _hostile_backend(hostile, page_size=3, max_items=12).list_all_shares()
    assert len(shares) == 12 and shares.cut_short
    assert len(hostile.requests_to("/policy/")) == 4
