"""How long ``ControlPoint.bulk`` takes to approve or deny 500 requests, against bare httpx
sending the same decisions four at a time (the app's limit per server).

A sandbox served by its own process holds the demo data plus 500 or 10,000 resources of
alice, and 500 pending requests of bob for them. The app has loaded (and cached) every
resource first, so each decision happens next to a snapshot of 508 or 10,008 resources.
Before every run the same 500 requests are made pending again (not timed). Measured in
the same run, alternating:

- app: ``ControlPoint.bulk(action, requests)`` (history written, snapshot saved, listeners
  told);
- baseline: a bare httpx script POSTing the 500 decisions with an owner token, 4 at a time.

    python benchmarks/bulk_decisions.py [--rounds 5] [--requests 500]

Prints min / median / max seconds of each and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import httpx
from timing import PendingRequests, interleaved_async, row, seeded_data, serve

from tests.fixtures.browser import form_browser
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.app import ControlPoint
from uma_desktop.app.control_point import BULK_PARALLEL_PER_SERVER
from uma_desktop.domain import AccessRequest
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs

Action = Literal["approve", "deny"]


async def measure(folder: Path, bulk_resources: int, requests: int, rounds: int) -> list[str]:
    data = seeded_data(folder, f"bulk{bulk_resources}", bulk_resources)
    pending = PendingRequests(data, requests)
    server = serve(data, f"bulk{bulk_resources}")
    try:
        vault = MemoryVault()
        control = await ControlPoint.open(
            app_dirs(folder / f"home{bulk_resources}"),
            vault_factory=lambda remember: vault,
            browser_opener=form_browser("alice", "alice"),
        )
        connection = await control.add_connection(server.issuer, display_name="Bench")
        await control.login(connection.id)
        [loaded] = await control.resources()
        cached = len(loaded.value or [])
        endpoint = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()[
            "pending_request_endpoint"
        ]
        headers = {"Authorization": f"Bearer {sandbox_owner_token(server, 'alice')}"}
        chosen: list[AccessRequest] = []

        async def prepare() -> None:
            await asyncio.to_thread(pending.reset)
            [listed] = await control.requests()
            chosen[:] = [r for r in listed.value or [] if r.id in set(pending.ids)]
            assert len(chosen) == requests, len(chosen)

        def app(action: Action) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                decisions = await control.bulk(action, chosen)
                assert all(d.ok for d in decisions), {d.detail for d in decisions}

            return run

        def bare(action: Action) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                gate = asyncio.Semaphore(BULK_PARALLEL_PER_SERVER)
                async with httpx.AsyncClient(headers=headers, timeout=60) as client:

                    async def one(request_id: str) -> None:
                        async with gate:
                            answer = await client.post(f"{endpoint}/{request_id}/{action}", json={})
                            answer.raise_for_status()

                    await asyncio.gather(*(one(i) for i in pending.ids))

            return run

        lines = []
        for action in ("approve", "deny"):
            await prepare()  # warm up both sides
            await app(action)()
            await prepare()
            await bare(action)()
            figures = await interleaved_async(
                {"app": app(action), "bare": bare(action)},
                rounds,
                before_each=prepare,
            )
            lines.append(
                row(
                    f"bulk {action} {requests}, {cached} cached",
                    figures["app"],
                    figures["bare"],
                    f"bare httpx {BULK_PARALLEL_PER_SERVER} at a time",
                )
            )
        await control.aclose()
        return lines
    finally:
        server.stop()


async def run(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="uma-bench-bulk-") as name:
        lines = []
        for bulk_resources in (500, 10_000):
            lines += await measure(Path(name), bulk_resources, requests, rounds)
    print(f"{rounds} rounds each; min / median / max; ratio of the medians")
    for line in lines:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
