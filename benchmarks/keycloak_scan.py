"""How long it takes to find every pending request of an owner with many resources.

Keycloak has no "all my pending requests" call: an owner reads each resource's
``permissions/requests``. The backend does that concurrently (bounded); the account
console's approach is one resource after the other. Both run here in the same session, on
the same server and data, and the script prints seconds, HTTP request counts and the ratio.

    python benchmarks/keycloak_scan.py [--resources 200] [--pending 10] [--rounds 3]

Uses the Keycloak at $UMA_KEYCLOAK_URL when set (admin: UMA_KEYCLOAK_ADMIN_USER/PASSWORD,
default admin/admin), otherwise starts one (needs `make keycloak-dist` and Java 21+).
The seeded resources (owned by alice) are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from tests.fixtures.keycloak import (  # noqa: E402
    KeycloakServer,
    PasswordTokenSource,
    create_resources,
    delete_resources,
    keycloak_tool,
    password_token,
    request_access,
    server_info,
)
from uma_desktop import net  # noqa: E402
from uma_desktop.backends.keycloak import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    PAGE_SIZE,
    KeycloakBackend,
)


async def sequential_scan(keycloak: KeycloakServer, token: str) -> tuple[set[str], int]:
    """The console's way: list the resources, then ask each one for requests in turn."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    base = f"{keycloak.account_url}/resources"
    found: set[str] = set()
    calls = 0
    async with httpx.AsyncClient(timeout=30) as client:
        resources: list[dict[str, object]] = []
        first = 0
        while True:
            calls += 1
            page = (
                await client.get(base, params={"first": first, "max": PAGE_SIZE}, headers=headers)
            ).json()
            resources.extend(page)
            if len(page) < PAGE_SIZE:
                break
            first += PAGE_SIZE
        for resource in resources:
            calls += 1
            answer = await client.get(
                f"{base}/{resource['_id']}/permissions/requests", headers=headers
            )
            for permission in answer.json():
                found.add(f"{resource['_id']}/{permission['username']}")
    return found, calls


async def backend_scan(
    keycloak: KeycloakServer, concurrency: int = DEFAULT_CONCURRENCY
) -> tuple[set[str], int, float]:
    backend = KeycloakBackend(
        "bench",
        keycloak.issuer,
        net.async_client(),
        PasswordTokenSource(keycloak, "alice"),
        concurrency=concurrency,
    )
    try:
        await backend._tokens.access_token()  # log in before the clock starts, like the baseline
        began = time.perf_counter()
        requests = await backend.list_requests()
        elapsed = time.perf_counter() - began
        return {r.id for r in requests}, backend.request_count, elapsed
    finally:
        await backend.aclose()


async def measure(keycloak: KeycloakServer, rounds: int) -> None:
    token = password_token(keycloak, "alice")
    # warm both paths up first: a fresh Keycloak JVM is several times slower on its first calls
    await backend_scan(keycloak)
    await sequential_scan(keycloak, token)
    concurrent_times: list[float] = []
    sequential_times: list[float] = []
    for _ in range(rounds):
        found_c, calls_c, elapsed = await backend_scan(keycloak)
        concurrent_times.append(elapsed)
        began = time.perf_counter()
        found_s, calls_s = await sequential_scan(keycloak, token)
        sequential_times.append(time.perf_counter() - began)
        assert found_c == found_s, "both scans must find the same pending requests"
    seq = statistics.median(sequential_times)
    con = statistics.median(concurrent_times)
    print(f"pending requests found: {len(found_c)}")
    print(f"sequential (console) scan: {seq:.2f} s, {calls_s} HTTP requests")
    print(f"backend concurrent scan:   {con:.2f} s, {calls_c} HTTP requests")
    print(f"ratio sequential/backend:  {seq / con:.1f}x (median of {rounds} rounds)")
    for concurrency in (1, 2, 4, 8, 16):
        times = [(await backend_scan(keycloak, concurrency))[2] for _ in range(rounds)]
        print(f"  backend with concurrency {concurrency:2d}: {statistics.median(times):.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--pending", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tool = keycloak_tool()
    url = os.environ.get("UMA_KEYCLOAK_URL")
    server = None
    if url:
        keycloak = server_info(
            url,
            os.environ.get("UMA_KEYCLOAK_ADMIN_USER", "admin"),
            os.environ.get("UMA_KEYCLOAK_ADMIN_PASSWORD", "admin"),
            None,
        )
    else:
        tool.fetch(quiet=True)
        server = tool.start()
        print(f"started Keycloak in {server.startup_seconds:.1f} s")
        keycloak = server_info(server.base_url, server.admin_username, server.admin_password, None)
    ids: list[str] = []
    try:
        run = uuid.uuid4().hex[:8]
        began = time.perf_counter()
        names = [f"bench-{run}-{i:04d}" for i in range(args.resources)]
        ids = create_resources(keycloak, "alice", names)
        print(f"seeded {len(ids)} resources for alice in {time.perf_counter() - began:.1f} s")
        step = max(1, len(ids) // max(1, args.pending))
        for resource_id in ids[::step][: args.pending]:
            request_access(keycloak, "bob", resource_id, ["view"])
        asyncio.run(measure(keycloak, args.rounds))
    finally:
        if ids:
            delete_resources(keycloak, ids)
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
