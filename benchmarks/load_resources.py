"""How long the ControlPoint takes to load every resource of two servers, against bare httpx.

Two sandboxes on loopback each hold 10,000 (+ the demo) resources of alice. Measured in
the same run, on the same servers and data:

- app: ``ControlPoint.resources()`` (both connections fanned out; pages parsed into domain
  objects, the last-known snapshot written to the cache dir);
- baseline, sequential: a bare httpx script fetching the same pages one after the other per
  server (both servers at once), parsing the JSON and nothing else;
- baseline, parallel: the same script fetching pages as the backend does (the first page,
  then the rest four at a time).

Also: how long opening the app from its snapshots takes (no network).

    python benchmarks/load_resources.py [--resources 10000] [--rounds 5]

Prints seconds (median of the rounds) and the ratios app / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from tests.fixtures.browser import form_browser  # noqa: E402
from tests.fixtures.sandbox import StandaloneSandbox, sandbox_owner_token  # noqa: E402
from uma_desktop.app import ControlPoint  # noqa: E402
from uma_desktop.backends.policy_manager import PAGE_SIZE, PARALLEL_PAGES  # noqa: E402
from uma_desktop.oauth.vault import MemoryVault  # noqa: E402
from uma_desktop.paths import app_dirs  # noqa: E402
from uma_desktop.sandbox import SandboxServer  # noqa: E402


class BareServer:
    """What a person with httpx and an owner token would write against one server."""

    def __init__(self, server: StandaloneSandbox) -> None:
        meta = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()
        self.url = meta["registered_resource_endpoint"]
        self.headers = {"Authorization": f"Bearer {sandbox_owner_token(server, 'alice')}"}

    async def page(self, client: httpx.AsyncClient, offset: int) -> tuple[list[Any], int]:
        params = {"expand": "true", "offset": str(offset), "limit": str(PAGE_SIZE)}
        response = await client.get(self.url, params=params, headers=self.headers)
        response.raise_for_status()
        return json.loads(response.content), int(response.headers["x-total-count"])

    async def sequential(self, client: httpx.AsyncClient) -> int:
        items: list[Any] = []
        while True:
            page, total = await self.page(client, len(items))
            items += page
            if not page or len(items) >= total:
                return len(items)

    async def parallel(self, client: httpx.AsyncClient) -> int:
        first, total = await self.page(client, 0)
        gate = asyncio.Semaphore(PARALLEL_PAGES)

        async def fetch(offset: int) -> list[Any]:
            async with gate:
                return (await self.page(client, offset))[0]

        rest = await asyncio.gather(*(fetch(o) for o in range(len(first), total, len(first))))
        return len(first) + sum(len(page) for page in rest)


async def interleaved(
    variants: dict[str, Callable[[], Awaitable[int]]], rounds: int
) -> dict[str, tuple[float, int]]:
    """Median seconds and item count of each variant; rounds alternate so load drift on the
    machine affects every variant alike."""
    durations: dict[str, list[float]] = {name: [] for name in variants}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, work in variants.items():
            started = time.perf_counter()
            counts[name] = await work()
            durations[name].append(time.perf_counter() - started)
    return {name: (statistics.median(d), counts[name]) for name, d in durations.items()}


def serve_seeded(name: str, folder: Path, resources: int) -> StandaloneSandbox:
    """A sandbox seeded here, then served by its own process (`uma-desktop sandbox`), so the
    servers' work does not share this process's interpreter lock with the clients measured."""
    data = folder / f"{name}.sqlite3"
    with SandboxServer(name, data_path=data) as seeder:
        seeder.seed_bulk_resources("alice", resources)
    return StandaloneSandbox.serve(data, name)


async def run(resources: int, rounds: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="uma-bench-"))
    servers = [serve_seeded(name, folder, resources) for name in ("Home", "Work")]
    try:
        home = folder / "app"
        vault = MemoryVault()
        control = await ControlPoint.open(
            app_dirs(home),
            vault_factory=lambda remember: vault,
            browser_opener=form_browser("alice", "alice"),
        )
        for server in servers:
            connection = await control.add_connection(server.issuer, display_name=server.name)
            await control.login(connection.id)

        async def app() -> int:
            results = await control.resources()
            assert all(r.error is None for r in results), [r.error for r in results]
            return sum(len(r.value or []) for r in results)

        bare = [BareServer(server) for server in servers]

        async def baseline(parallel: bool) -> int:
            async with httpx.AsyncClient(timeout=60) as client:
                counts = await asyncio.gather(
                    *(b.parallel(client) if parallel else b.sequential(client) for b in bare)
                )
            return sum(counts)

        await app()  # warm up both sides (connections, first token use)
        await baseline(False)
        figures = await interleaved(
            {
                "app": app,
                "sequential": lambda: baseline(False),
                "parallel": lambda: baseline(True),
            },
            rounds,
        )
        await control.aclose()
        (app_s, app_n), (seq_s, seq_n), (par_s, par_n) = figures.values()
        assert app_n == seq_n == par_n, (app_n, seq_n, par_n)

        async def reopen() -> int:
            again = await ControlPoint.open(app_dirs(home), vault_factory=lambda r: vault)
            count = sum(len(r.value or []) for r in again.cached_resources())
            await again.aclose()
            return count

        open_s, open_n = (await interleaved({"open": reopen}, rounds))["open"]
        assert open_n == app_n
    finally:
        for server in servers:
            server.stop()

    print(f"resources loaded: {app_n} from 2 servers ({PAGE_SIZE} per page), {rounds} rounds")
    rows = [
        ("app (ControlPoint.resources)", app_s, None),
        ("baseline, bare httpx, sequential", seq_s, app_s / seq_s),
        (f"baseline, bare httpx, parallel({PARALLEL_PAGES})", par_s, app_s / par_s),
        ("open from snapshots (no network)", open_s, None),
    ]
    for label, seconds, ratio in rows:
        note = f"   app/baseline {ratio:5.2f}" if ratio is not None else ""
        print(f"{label:36} {seconds:8.3f} s{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10000, help="bulk resources per server")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.resources, args.rounds))


if __name__ == "__main__":
    main()
