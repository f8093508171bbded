"""Shared by the GUI benchmarks: an app home whose connections point at closed ports and
whose snapshots hold many resources (an offline start), a sandbox served by its own process
with many resources and pending requests, the window logged in to it, and the process's
resident memory."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT_ISSUER = "http://127.0.0.1:9/realms/offline-{}"  # nothing listens there


def resident_mib() -> float:
    """This process's resident set size in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def seed_offline_home(home: Path, connections: int, resources_each: int) -> None:
    """``connections`` servers that do not answer, each with a snapshot of resources."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from uma_desktop.app.registry import ConnectionRegistry
    from uma_desktop.app.snapshots import Snapshot, SnapshotStore
    from uma_desktop.domain import BackendKind, Connection, Resource
    from uma_desktop.paths import app_dirs

    dirs = app_dirs(home).ensure()
    registry = ConnectionRegistry(dirs.config)
    store = SnapshotStore(dirs.cache)
    for number in range(connections):
        connection_id = f"offline{number}"
        registry.add(
            Connection(
                id=connection_id,
                issuer=CLOSED_PORT_ISSUER.format(number),
                kind=BackendKind.POLICY_MANAGER,
                client_id="uma-desktop",
                display_name=f"Offline {number}",
                remember=False,
            )
        )
        resources = [
            Resource(
                connection_id=connection_id,
                id=f"r{number}-{i}",
                name=f"Photo album {i:05d} of server {number}",
                scopes=("view", "edit") if i % 3 else ("view",),
                resource_server=f"Photos {i % 7}",
                type=f"https://example.org/type/{i % 11}",
                description=f"Resource number {i}",
                share_count=i % 5,
            )
            for i in range(resources_each)
        ]
        store.save(connection_id, Snapshot(resources=resources))


def in_keyring_session(script: str, argv: list[str]) -> int | None:
    """Re-run ``script`` inside a private D-Bus session, keyring and throw-away HOME (as the
    tests run), unless this process already is that run; then None."""
    if os.environ.get("UMA_BENCHMARK_SESSION") == "1":
        return None
    import subprocess  # only here: the measured start-up processes import this module

    command = [str(REPO_ROOT / "tools" / "keyring-session.sh"), sys.executable, script, *argv]
    env = dict(os.environ, UMA_BENCHMARK_SESSION="1", QT_QPA_PLATFORM="offscreen")
    return subprocess.run(command, env=env, check=False).returncode


def run_measurement(
    script: str, doc: str | None, options: dict[str, int], measure: Callable[..., list[str]]
) -> int:
    """A benchmark's ``main``: whole-number ``options`` (name -> default) on the command line,
    the run inside a keyring session, then ``measure(**options)``'s lines printed."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    for option, default in options.items():
        parser.add_argument(f"--{option}", type=int, default=default)
    chosen: dict[str, int] = vars(parser.parse_args())
    outer = in_keyring_session(
        script, [word for option in options for word in (f"--{option}", str(chosen[option]))]
    )
    if outer is not None:
        return outer
    for line in measure(**chosen):
        print(line)
    return 0


def served_sandbox(folder: Path, name: str, resources: int, requests: int = 0) -> Any:
    """A sandbox data file with ``resources`` more of alice and ``requests`` pending requests
    of bob for them, served by its own process (it does not share this interpreter's lock)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.fixtures.sandbox import StandaloneSandbox
    from uma_desktop.sandbox import SandboxServer

    data = folder / f"{name}.sqlite"
    with SandboxServer(name=name, data_path=data) as seeding:
        seeding.seed_bulk_resources(count=resources)
    if requests:
        BenchRequests(data).add(requests)
    return StandaloneSandbox.serve(data, name, niced=True)


class BenchRequests:
    """Pending requests of bob for alice's bulk resources, written into a sandbox's data
    file; ``make_pending_again`` undoes the decisions of a round (not timed)."""

    def __init__(self, data: Path) -> None:
        self.data = data

    def add(self, count: int) -> None:
        with sqlite3.connect(self.data) as db:
            subs = dict(db.execute("SELECT username, sub FROM users").fetchall())
            chosen = db.execute(
                "SELECT id, scopes FROM resources WHERE owner_sub = ? AND type = 'bulk-item' "
                "ORDER BY id LIMIT ?",
                (subs["alice"], count),
            ).fetchall()
            now = time.time()
            db.executemany(
                "INSERT INTO pending (id, resource_id, owner_sub, requester_sub, client_id, "
                "scopes, requested_at) VALUES (?, ?, ?, ?, 'rqp-app', ?, ?)",
                [
                    (
                        f"req-gui-bench-{n}",
                        rid,
                        subs["alice"],
                        subs["bob"],
                        json.dumps(json.loads(scopes)[:1]),
                        now,
                    )
                    for n, (rid, scopes) in enumerate(chosen)
                ],
            )
        db.close()

    def make_pending_again(self) -> None:
        with sqlite3.connect(self.data, timeout=30) as db:
            db.execute(
                "UPDATE pending SET status = 'pending', decided_at = NULL "
                "WHERE id LIKE 'req-gui-bench-%'"
            )
        db.close()


def logged_in_window(home: Path, issuer: str) -> tuple[Any, Any, Any]:
    """The app started in ``home`` and logged in to ``issuer`` as alice (tokens in memory):
    (window, session, bot)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.fixtures.browser import form_browser
    from tests.fixtures.gui import EventLoopBot, log_in
    from uma_desktop.gui.app import launch
    from uma_desktop.paths import app_dirs

    bot = EventLoopBot()
    session = launch(
        app_dirs(home), browser_opener=form_browser("alice", "alice"), poll_interval=None
    )
    bot.waitUntil(lambda: session.ready or session.error is not None, timeout=60_000)
    if session.window is None:
        raise SystemExit(f"the app did not start: {session.error}")
    log_in(bot, session.window, issuer, name="Bench", remember=False)
    return session.window, session, bot


@contextmanager
def window_on(server: Any, home: Path) -> Iterator[tuple[Any, Any, Any]]:
    """``logged_in_window`` on ``server``; closes the app and stops the server afterwards."""
    session = None
    try:
        window, session, bot = logged_in_window(home, server.issuer)
        yield window, session, bot
    finally:
        if session is not None:
            session.close()
        server.stop()
