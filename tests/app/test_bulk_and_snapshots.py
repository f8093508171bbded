"""Many decisions at once, and when the snapshot file is written: a bulk decision is in the
history (sent first, then its outcome) and on disk when it returns, listeners hear once,
and a read that finds nothing new leaves the snapshot file alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.owner import ask, connect
from tests.fixtures.stalling_sandbox import StallingSandbox
from uma_desktop.app import ControlPoint, DataChanged, Event, RequestsChanged, StatusChanged
from uma_desktop.app.control_point import BULK_PARALLEL_PER_SERVER
from uma_desktop.app.history import INTERRUPTED_NOTE, NOT_SENT_NOTE, SENT_NOTE
from uma_desktop.app.snapshots import SnapshotStore
from uma_desktop.domain import AccessRequest
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer

ASKED = [
    ("bob", "Holiday 2026", ["view"]),
    ("bob", "Cat pictures", ["view"]),
    ("bob", "Allergies", ["read"]),
    ("dave", "Holiday 2026", ["view"]),
    ("dave", "Cat pictures", ["view"]),
    ("erin", "Allergies", ["read"]),
]


async def _pending(control: ControlPoint, server: SandboxServer) -> list[AccessRequest]:
    for username, name, scopes in ASKED:
        await asyncio.to_thread(ask, server, username, name, scopes)
    [listed] = await control.requests()
    assert listed.error is None and listed.value is not None
    assert len(listed.value) > len(ASKED)  # the demo's own pending request too
    return listed.value


def _snapshot_file(connection_id: str) -> Path:
    return app_dirs().cache / "snapshots" / f"{connection_id}.json"


async def test_a_bulk_approval_is_on_disk_in_the_history_and_announced_once(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    [loaded] = await control.resources()
    pending = await _pending(control, sandbox)
    heard: list[Event] = []
    control.subscribe(heard.append)

    decisions = await control.bulk("approve", pending)

    assert [d.ok for d in decisions] == [True] * len(pending), [d.detail for d in decisions]
    assert [d.extra["request_id"] for d in decisions] == [r.id for r in pending]
    changes = [e for e in heard if not isinstance(e, StatusChanged)]
    assert changes == [RequestsChanged(), DataChanged(connection_id)]
    on_disk = SnapshotStore(app_dirs().cache).load(connection_id)  # no flush, no close
    assert on_disk.requests == []
    assert on_disk.resources == loaded.value
    history = control.history()
    assert len(history) == len(pending)
    assert {d.extra["request_id"] for d in history} == {r.id for r in pending}
    assert all(d.ok and d.settled and d.action == "approve" for d in history)
    [again] = await control.requests()
    assert again.value == []


async def test_a_bulk_denial_that_fails_for_some_says_so_for_each(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    pending = await _pending(control, sandbox)
    first = await control.bulk("deny", pending[:2])
    heard: list[Event] = []
    control.subscribe(heard.append)

    decisions = await control.bulk("deny", pending)  # the first two were decided already

    assert [d.ok for d in decisions] == [False, False] + [True] * (len(pending) - 2)
    assert all(d.ok for d in first)
    assert [e for e in heard if not isinstance(e, StatusChanged)] == [RequestsChanged()]
    history = control.history()
    assert len(history) == 2 + len(pending)
    assert sum(not d.ok for d in history) == 2 and all(d.settled for d in history)
    assert SnapshotStore(app_dirs().cache).load(connection_id).requests == []


async def test_every_bulk_decision_is_in_the_history_before_the_requests_leave(
    open_control: Any, app_home: Path
) -> None:
    server = StallingSandbox(name="Stalling").start()  # answers no approval
    control: ControlPoint = await open_control()
    try:
        await connect(control, server)
        pending = await _pending(control, server)
        bulk = asyncio.create_task(control.bulk("approve", pending))
        assert await asyncio.to_thread(server.applied.wait, 60), "no approval arrived"

        while_waiting = control.history()
        assert len(while_waiting) == len(pending)
        assert all((d.detail, d.settled) == (SENT_NOTE, False) for d in while_waiting)

        bulk.cancel()
        with pytest.raises(asyncio.CancelledError):
            await bulk
        after = control.history()
        unknown = [d for d in after if not d.settled]
        never_sent = [d for d in after if d.settled]
        assert len(unknown) == BULK_PARALLEL_PER_SERVER
        assert all(d.detail == INTERRUPTED_NOTE and not d.ok for d in unknown)
        assert len(never_sent) == len(pending) - BULK_PARALLEL_PER_SERVER
        assert all(d.detail == NOT_SENT_NOTE and not d.ok for d in never_sent)
    finally:
        await control.aclose()
        server.stop()


async def test_a_read_leaves_the_snapshot_file_alone_unless_the_data_changed(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    await control.resources()
    await control.requests()
    await control.save_snapshots()
    path = _snapshot_file(connection_id)
    written = path.stat()

    await control.resources()
    await control.requests()
    await control.save_snapshots()
    unchanged = path.stat()
    assert (unchanged.st_ino, unchanged.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)

    [added] = sandbox.seed_bulk_resources(count=1)
    [fresh] = await control.resources()
    await control.save_snapshots()
    rewritten = path.stat()
    assert rewritten.st_ino != written.st_ino
    stored = SnapshotStore(app_dirs().cache).load(connection_id)
    assert stored.resources == fresh.value and added in {r.id for r in stored.resources or []}


async def test_snapshots_changed_by_a_read_are_written_by_closing_at_the_latest(
    open_control: Any, sandbox: SandboxServer
) -> None:
    control: ControlPoint = await open_control()
    [connection_id] = await connect(control, sandbox)
    [fresh] = await control.resources()
    await control.aclose()
    assert SnapshotStore(app_dirs().cache).load(connection_id).resources == fresh.value
    reopened: ControlPoint = await open_control()
    try:
        [cached] = reopened.cached_resources()
        assert cached.value == fresh.value and cached.stale
    finally:
        await reopened.aclose()
