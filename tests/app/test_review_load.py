"""Loading the review reads every share in a few requests, not one per resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.fixtures.owner import connect
from tests.fixtures.shares import policy_ids, seed_shares
from uma_desktop import net
from uma_desktop.app import ControlPoint
from uma_desktop.app.review import ReviewSession, collect_shares
from uma_desktop.sandbox import SandboxServer

SHARED = 150  # resources with one share each, on each server


async def test_the_review_of_many_shares_makes_a_few_requests(
    open_control: Callable[..., Any], sandbox_factory: Callable[..., SandboxServer]
) -> None:
    servers = [sandbox_factory(name="Home"), sandbox_factory(name="Work")]
    for server in servers:
        seed_shares(server, SHARED)
    control: ControlPoint = await open_control()
    sent: list[net.Exchange] = []
    try:
        ids = await connect(control, *servers)
        net.add_listener(sent.append)
        try:
            results = await collect_shares(control)
        finally:
            net.remove_listener(sent.append)
        for connection_id, server, result in zip(ids, servers, results, strict=True):
            assert result.connection_id == connection_id and result.error is None
            pairs = result.value or []
            assert sorted(share.id or "" for _, share in pairs) == sorted(policy_ids(server))
            assert all(resource.id == share.resource_id for resource, share in pairs)
            # Counted at the transport: every request the app sent to this server.
            port = httpx.URL(server.issuer).port
            to_server = [e for e in sent if httpx.URL(e.url).port == port]
            paths = sorted(httpx.URL(e.url).path.rstrip("/") for e in to_server)
            # One page of resources and one of policies, against 152 resources with shares.
            assert paths == ["/owner/policies", "/owner/resources"], paths
        session = ReviewSession(control)
        items = await session.load()
        assert len(items) == 2 * (SHARED + 2)
        assert session.progress_text() == f"0 of {2 * (SHARED + 2)} reviewed"
    finally:
        await control.aclose()
