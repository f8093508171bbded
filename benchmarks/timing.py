"""Shared by the core and command-line benchmarks: interleaved timing, min/median/max,
and sandboxes seeded here but served from their own processes."""

from __future__ import annotations

import compileall
import json
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.fixtures.sandbox import StandaloneSandbox  # noqa: E402
from uma_desktop.sandbox import SandboxServer  # noqa: E402


@dataclass(frozen=True)
class Spread:
    """Seconds of one variant over the rounds."""

    seconds: list[float]

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def max(self) -> float:
        return max(self.seconds)

    def text(self) -> str:
        return f"{self.min:7.3f} /{self.median:7.3f} /{self.max:7.3f} s"


def row(label: str, app: Spread, baseline: Spread, baseline_label: str) -> str:
    """One line of the table: app and baseline min/median/max, ratio of the medians."""
    ratio = app.median / baseline.median
    return (
        f"{label:34} app {app.text()}   {baseline_label} {baseline.text()}   "
        f"ratio {ratio:5.2f}x (min {app.min / baseline.min:4.2f}x)"
    )


def interleaved_sync(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, Spread]:
    """Run the variants in turn, ``rounds`` times, so load drift hits each alike."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, work in variants.items():
            started = time.perf_counter()
            work()
            seconds[name].append(time.perf_counter() - started)
    return {name: Spread(s) for name, s in seconds.items()}


async def interleaved_async(
    variants: dict[str, Callable[[], Awaitable[object]]],
    rounds: int,
    before_each: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, Spread]:
    """``interleaved_sync`` for coroutines; ``before_each`` (not timed) prepares each run."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, work in variants.items():
            if before_each is not None:
                await before_each()
            started = time.perf_counter()
            await work()
            seconds[name].append(time.perf_counter() - started)
    return {name: Spread(s) for name, s in seconds.items()}


def compile_sources() -> None:
    """Write the app's bytecode as an installed copy has it (this environment may not write
    it on import), so a fresh process does not pay for compiling every module."""
    compileall.compile_dir(REPO_ROOT / "uma_desktop", quiet=1)


def seeded_data(folder: Path, name: str, resources: int) -> Path:
    """A sandbox data file holding the demo data and ``resources`` more of alice."""
    data = folder / f"{name}.sqlite3"
    with SandboxServer(name, data_path=data) as seeder:
        if resources:
            seeder.seed_bulk_resources("alice", resources)
    return data


def serve(data: Path, name: str) -> StandaloneSandbox:
    """Serve ``data`` from its own process (`uma-desktop sandbox`): the server's work does
    not share the measuring process's interpreter lock."""
    return StandaloneSandbox.serve(data, name)


class PendingRequests:
    """``count`` pending requests of bob for alice's bulk resources, written straight into
    a sandbox's data file (the sandbox may be serving it); ``reset`` makes them pending
    again after a round decided them."""

    def __init__(self, data: Path, count: int) -> None:
        self.data = data
        self.ids = [f"req-bench-{uuid.uuid4().hex[:16]}" for _ in range(count)]
        with sqlite3.connect(data) as db:
            alice = db.execute("SELECT sub FROM users WHERE username = 'alice'").fetchone()[0]
            bob = db.execute("SELECT sub FROM users WHERE username = 'bob'").fetchone()[0]
            resources = db.execute(
                "SELECT id, scopes FROM resources WHERE owner_sub = ? AND type = 'bulk-item' "
                "ORDER BY name LIMIT ?",
                (alice, count),
            ).fetchall()
            if len(resources) < count:
                raise ValueError(f"only {len(resources)} bulk resources to ask for")
            now = time.time()
            db.executemany(
                "INSERT INTO pending (id, resource_id, owner_sub, requester_sub, client_id, "
                "scopes, requested_at, status) VALUES (?, ?, ?, ?, 'rqp-app', ?, ?, 'pending')",
                [
                    (request_id, resource_id, alice, bob, json.dumps(json.loads(scopes)[:1]), now)
                    for request_id, (resource_id, scopes) in zip(self.ids, resources, strict=True)
                ],
            )
        db.close()

    def reset(self) -> None:
        with sqlite3.connect(self.data, timeout=30) as db:
            db.executemany(
                "UPDATE pending SET status = 'pending', decided_at = NULL WHERE id = ?",
                [(request_id,) for request_id in self.ids],
            )
        db.close()
