"""The access review at scale: 1,000 shares across two servers.

1. The "Review shares" page in the real window: log in to both servers, open the page, wait
   for every share in the table, then filter (search and flag filters, back and forth),
   with a 10 ms timer on the GUI thread (tests/fixtures/heartbeat.py). Prints the time until
   the table holds every share ("load") and the worst gap.
2. Loading the shares in the core: ``collect_shares`` (what the page and ``uma-desktop
   review`` read) against a bare httpx script making the minimal calls with the same
   per-server concurrency, alternating, same servers, same run. Prints the medians, the ratio
   and the HTTP requests each made.
3. Bulk revoke of 200 shares (100 per server): ``ReviewSession.revoke`` against a bare httpx
   script making the same calls per share (the resource's policies, then DELETE)
   concurrently with the app's per-server limit, on the same servers in the same run,
   alternating app and baseline on fresh shares each round. Prints the medians and ratio.

Both sandboxes run in their own (niced) processes so the app's interpreter measures the app.

    python benchmarks/review_shares.py [--shares 500] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import httpx  # noqa: E402

from tests.fixtures.browser import form_browser  # noqa: E402
from tests.fixtures.sandbox import StandaloneSandbox, sandbox_owner_token  # noqa: E402
from uma_desktop import net  # noqa: E402
from uma_desktop.app import ControlPoint  # noqa: E402
from uma_desktop.app.control_point import (  # noqa: E402
    BULK_PARALLEL_PER_SERVER,
    SHARE_SCAN_PARALLEL,
)
from uma_desktop.app.review import ReviewItem, ReviewSession, collect_shares  # noqa: E402
from uma_desktop.oauth.vault import MemoryVault  # noqa: E402
from uma_desktop.paths import app_dirs  # noqa: E402
from uma_desktop.sandbox import SandboxServer  # noqa: E402
from uma_desktop.sandbox.store import dumps, new_id  # noqa: E402

PEOPLE = ("bob", "carol")
REVOKED_PER_SERVER = 100


def seed(data: Path, name: str, shares: int) -> None:
    """``shares`` resources of alice, each shared with bob or carol (view)."""
    with SandboxServer(name=name, data_path=data) as seeding:
        ids = seeding.seed_bulk_resources(count=shares)
        sandbox = seeding.sandbox
        assert sandbox is not None
        subs = [sandbox.store.one("SELECT sub FROM users WHERE username = ?", (p,)) for p in PEOPLE]
        now = sandbox.now()
        sandbox.store.executemany(
            "INSERT INTO policies (id, resource_id, sub, scopes, expires_at, created_at) "
            "VALUES (?, ?, ?, ?, NULL, ?)",
            [
                (new_id("pol"), rid, subs[i % 2]["sub"], dumps(["view"]), now)  # type: ignore[index]
                for i, rid in enumerate(ids)
            ],
        )


# -- 1. the page under the heartbeat ---------------------------------------------------------


def settle(bot: Any, seconds: float = 0.1) -> None:
    """Let the window run its event loop (repaint, heartbeat ticks) for ``seconds``."""
    until = time.perf_counter() + seconds
    bot.waitUntil(lambda: time.perf_counter() >= until, timeout=int(seconds * 1000) + 5000)


def page_round(servers: list[StandaloneSandbox], expected: int) -> dict[str, float]:
    from tests.fixtures.gui import EventLoopBot, GuiApps, log_in
    from tests.fixtures.heartbeat import Heartbeat

    bot = EventLoopBot()
    with tempfile.TemporaryDirectory(prefix="uma-review-page-") as folder:
        apps = GuiApps(bot, Path(folder))
        try:
            window = apps(form_browser("alice", "alice"))
            for server in servers:
                log_in(bot, window, server.issuer, name=server.name, remember=False)
            page = window.review_page
            beat = Heartbeat()
            beat.start()
            started = time.perf_counter()
            window.open_review()
            try:
                bot.waitUntil(
                    lambda: page.model.rowCount() >= expected and not page.model.is_loading(),
                    timeout=120_000,
                )
            except TimeoutError:
                raise SystemExit(
                    f"the review page showed {page.model.rowCount()} of {expected} shares: "
                    f"{page.status.text()}"
                ) from None
            loaded = time.perf_counter() - started
            settle(bot, 1.0)  # the rows are in: let the rest of the load settle
            worst_loading = beat.worst
            loading_report = beat.report()
            beat.worst = beat.worst_cpu_wait = beat.worst_gui_ran = 0.0
            for text in ("item 00", "bob", "", "carol", ""):
                page.search.setText(text)
                page.apply_filter()
                settle(bot)
                for index in range(page.flag_filter.count()):
                    page.flag_filter.setCurrentIndex(index)
                    settle(bot)
                page.flag_filter.setCurrentIndex(0)
                settle(bot)
            beat.stop()
            return {
                "worst_ms": max(worst_loading, beat.worst) * 1000,
                "loading_ms": worst_loading * 1000,
                "filtering_ms": beat.worst * 1000,
                "load_s": loaded,
                "rows": page.model.rowCount(),
                "loading_report": loading_report,
                "filtering_report": beat.report(),
            }
        finally:
            apps.close_all()


# -- 2 and 3: the core against bare httpx -----------------------------------------------------


class Bare:
    """The calls the app needs, with plain httpx."""

    def __init__(self, server: StandaloneSandbox) -> None:
        meta = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()
        self.resources = meta["registered_resource_endpoint"].rstrip("/")
        self.policies = meta["policy_endpoint"].rstrip("/")
        self.headers = {"Authorization": f"Bearer {sandbox_owner_token(server, 'alice')}"}
        self.requests = 0

    async def _get(self, client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> Any:
        self.requests += 1
        reply = await client.get(url, params=params, headers=self.headers)
        reply.raise_for_status()
        return reply.json()

    async def _paged(self, client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            params = {"expand": "true", "offset": len(items), "limit": 1000}
            page = await self._get(client, url, params)
            items += page
            if len(page) < 1000:
                return items

    async def all_shares(self, client: httpx.AsyncClient) -> int:
        """The app's calls: the resources and all the owner's policies, page by page, at once
        (the policies joined to the resources as the app does)."""
        resources, policies = await asyncio.gather(
            self._paged(client, self.resources), self._paged(client, self.policies)
        )
        known = {r["_id"] for r in resources}
        return sum(1 for p in policies if p["resource_id"] in known)

    async def scan(self, client: httpx.AsyncClient) -> int:
        """The calls without an owner-wide read: the resources, then each shared resource's
        policies, as many at a time as the app's fallback."""
        resources = await self._paged(client, self.resources)
        gate = asyncio.Semaphore(SHARE_SCAN_PARALLEL)

        async def of(resource_id: str) -> int:
            async with gate:
                params = {"expand": "true", "resource_id": resource_id}
                return len(await self._get(client, self.policies, params))

        shared = [r["_id"] for r in resources if r.get("share_count") != 0]
        return sum(await asyncio.gather(*(of(i) for i in shared)))

    async def revoke(self, client: httpx.AsyncClient, resource_id: str, person: str) -> None:
        listed = await client.get(
            self.policies,
            params={"expand": "true", "resource_id": resource_id},
            headers=self.headers,
        )
        listed.raise_for_status()
        policy = next(p for p in listed.json() if p["subject"]["username"] == person)
        gone = await client.delete(f"{self.policies}/{policy['_id']}", headers=self.headers)
        gone.raise_for_status()


async def bare_round(bares: dict[str, Bare], items: list[tuple[str, str, str]]) -> float:
    gates = {name: asyncio.Semaphore(BULK_PARALLEL_PER_SERVER) for name in bares}
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(server: str, resource_id: str, person: str) -> None:
            async with gates[server]:
                await bares[server].revoke(client, resource_id, person)

        started = time.perf_counter()
        await asyncio.gather(*(one(*item) for item in items))
        return time.perf_counter() - started


def pick(items: list[ReviewItem], taken: set[str], servers: list[str]) -> list[ReviewItem]:
    chosen = []
    for server in servers:
        fresh = [i for i in items if i.server == server and i.key not in taken]
        chosen += fresh[:REVOKED_PER_SERVER]
    taken.update(i.key for i in chosen)
    return chosen


async def bare_load(bares: dict[str, Bare], *, scan: bool = False) -> tuple[float, int, int]:
    """(seconds, shares, requests) of the bare script reading every share of both servers:
    the app's calls, or (``scan``) one read per shared resource."""
    before = sum(b.requests for b in bares.values())
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        counts = await asyncio.gather(
            *((b.scan if scan else b.all_shares)(client) for b in bares.values())
        )
        elapsed = time.perf_counter() - started
    return elapsed, sum(counts), sum(b.requests for b in bares.values()) - before


async def app_load(control: ControlPoint) -> tuple[float, int, int]:
    """(seconds, shares, requests) of ``collect_shares``, requests counted at the transport."""
    sent: list[str] = []

    def count(exchange: net.Exchange) -> None:
        sent.append(exchange.url)

    net.add_listener(count)
    try:
        started = time.perf_counter()
        results = await collect_shares(control)
        elapsed = time.perf_counter() - started
    finally:
        net.remove_listener(count)
    errors = [r.error for r in results if r.error is not None]
    assert not errors, errors
    return elapsed, sum(len(r.value or []) for r in results), len(sent)


async def core_rounds(
    servers: list[StandaloneSandbox], rounds: int, load_rounds: int, bulk: bool
) -> tuple[list[float], list[float]]:
    app_times: list[float] = []
    bare_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="uma-review-bulk-") as folder:
        os.environ["UMA_DESKTOP_HOME"] = folder
        vault = MemoryVault()
        control = await ControlPoint.open(
            app_dirs(),
            vault_factory=lambda remember: vault,
            browser_opener=form_browser("alice", "alice"),
            timeout=120,
        )
        try:
            by_name = {}
            for server in servers:
                connection = await control.add_connection(server.issuer, display_name=server.name)
                await control.login(connection.id)
                by_name[server.name] = server
            bares = {name: Bare(server) for name, server in by_name.items()}
            loads: dict[str, list[float]] = {"app": [], "bare": [], "scan": []}
            for number in range(1, load_rounds + 1):
                app_s, app_shares, app_requests = await app_load(control)
                bare_s, bare_shares, bare_requests = await bare_load(bares)
                scan_s, scan_shares, scan_requests = await bare_load(bares, scan=True)
                loads["app"].append(app_s)
                loads["bare"].append(bare_s)
                loads["scan"].append(scan_s)
                print(
                    f"load round {number}: app {app_s:.3f} s ({app_shares} shares, "
                    f"{app_requests} requests), bare httpx {bare_s:.3f} s ({bare_shares} "
                    f"shares, {bare_requests} requests), bare per-resource scan {scan_s:.2f} s "
                    f"({scan_shares} shares, {scan_requests} requests)",
                    flush=True,
                )
            if load_rounds:
                app, bare, scan = (statistics.median(loads[k]) for k in ("app", "bare", "scan"))
                print(
                    f"load of every share, median of {load_rounds}: app {app:.3f} s, bare httpx "
                    f"{bare:.3f} s; ratio app / bare {app / bare:.2f} (a bare per-resource scan, "
                    f"{SHARE_SCAN_PARALLEL} at a time per server: {scan:.2f} s)",
                    flush=True,
                )
            if not bulk:
                return app_times, bare_times
            session = ReviewSession(control)
            items = await session.load()
            taken: set[str] = set()
            names = list(by_name)
            for number in range(1, rounds + 1):
                chosen = pick(items, taken, names)
                started = time.perf_counter()
                results = await session.revoke(chosen)
                app_times.append(time.perf_counter() - started)
                assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
                bare_items = [
                    (i.server, i.resource.id, i.share.party.username or "")
                    for i in pick(items, taken, names)
                ]
                bare_times.append(await bare_round(bares, bare_items))
                print(
                    f"round {number}: app {app_times[-1]:.2f} s, bare httpx "
                    f"{bare_times[-1]:.2f} s for {len(chosen)} revokes",
                    flush=True,
                )
        finally:
            await control.aclose()
    return app_times, bare_times


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shares", type=int, default=500, help="shares per server")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--load-rounds", type=int, default=5, help="core load rounds")
    parser.add_argument("--page-only", action="store_true", help="only the review page")
    parser.add_argument("--bulk-only", action="store_true", help="skip the review page")
    parser.add_argument("--no-bulk", action="store_true", help="skip the bulk revoke")
    args = parser.parse_args()
    needed = 2 * REVOKED_PER_SERVER * args.rounds
    if args.shares < needed:
        raise SystemExit(f"--shares must be at least {needed} for {args.rounds} rounds")
    with tempfile.TemporaryDirectory(prefix="uma-review-bench-") as folder:
        servers = []
        try:
            for name in ("Home", "Work"):
                data = Path(folder) / f"{name}.sqlite"
                seed(data, name, args.shares)
                servers.append(StandaloneSandbox.serve(data, name, niced=True))
            os.environ["UMA_DESKTOP_HOME"] = str(Path(folder) / "gui-home")
            expected = 2 * (args.shares + 2)  # plus the demo seed's two shares per server
            figures: dict[str, Any] = {} if args.bulk_only else page_round(servers, expected)
            if figures:
                print(
                    f"review page: load {figures['load_s']:.2f} s for {figures['rows']} shares, "
                    f"filtered; worst GUI-thread gap {figures['worst_ms']:.0f} ms (goal: under "
                    f"50; loading {figures['loading_ms']:.0f} ms, "
                    f"filtering {figures['filtering_ms']:.0f} ms)",
                    flush=True,
                )
                print(f"  while loading: {figures['loading_report']}", flush=True)
                print(f"  while filtering: {figures['filtering_report']}", flush=True)
            if args.page_only:
                return 0
            app_times, bare_times = asyncio.run(
                core_rounds(servers, args.rounds, args.load_rounds, bulk=not args.no_bulk)
            )
        finally:
            for server in servers:
                server.stop()
    if args.no_bulk:
        return 0
    app, bare = statistics.median(app_times), statistics.median(bare_times)
    print(
        f"bulk revoke of {2 * REVOKED_PER_SERVER}, median of {args.rounds}: app {app:.2f} s, "
        f"bare httpx {bare:.2f} s; ratio app / bare {app / bare:.2f} (goal: at most 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
