"""Bulk data for load tests: 10 000 resources insert fast and page through the owner API."""

from __future__ import annotations

import time

import httpx

from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.sandbox import SandboxServer


def test_bulk_resources_page_through_the_owner_api(sandbox: SandboxServer) -> None:
    started = time.monotonic()
    ids = sandbox.seed_bulk_resources(owner="alice", count=10000, resource_server="photos")
    inserted = time.monotonic() - started
    assert len(ids) == len(set(ids)) == 10000
    assert inserted < 10, f"bulk insert took {inserted:.1f}s"

    headers = {"Authorization": f"Bearer {sandbox_owner_token(sandbox)}"}
    endpoint = f"{sandbox.issuer}/owner/resources"
    all_ids = httpx.get(endpoint, headers=headers, timeout=30).json()
    assert set(ids) <= set(all_ids) and len(all_ids) == 10008
    seen: list[str] = []
    with httpx.Client(headers=headers, timeout=30) as client:
        offset = 0
        while True:
            page = client.get(endpoint, params={"expand": "true", "limit": 1000, "offset": offset})
            assert page.status_code == 200
            assert int(page.headers["x-total-count"]) == 10008
            items = page.json()
            if not items:
                break
            seen += [item["_id"] for item in items]
            offset += len(items)
    assert len(seen) == len(set(seen)) == 10008
    # Bulk items stay out of the demo listings and the printed configuration.
    hosted = httpx.get(f"{sandbox.issuer}/rs/photos/resources").json()
    assert len(hosted) == 3
    photos = next(rs for rs in sandbox.config["resource_servers"] if rs["key"] == "photos")
    assert len(photos["resources"]) == 3
