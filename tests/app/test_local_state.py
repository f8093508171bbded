"""Local files of the ControlPoint: registry, snapshots, history — atomic, never silently lost."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.owner import ask, connect
from uma_desktop import cli
from uma_desktop.app import ConnectionStatus, ControlPoint
from uma_desktop.app.history import History
from uma_desktop.app.registry import ConnectionRegistry
from uma_desktop.app.snapshots import Snapshot, SnapshotStore
from uma_desktop.domain import (
    AccessRequest,
    BackendKind,
    Connection,
    Decision,
    Party,
    Resource,
    SharedWithMe,
)
from uma_desktop.errors import ConfigurationError, HistoryBusyError, StorageError
from uma_desktop.logs import LOG_FILE_NAME
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer

CONNECTION = Connection(
    id="home",
    issuer="http://127.0.0.1:1/",
    kind=BackendKind.POLICY_MANAGER,
    client_id="uma-desktop",
    display_name="Home server",
    username="alice",
    subject="sub-alice",
)


def test_registry_round_trip_writes_no_secrets_and_leaves_no_temp_files(app_home: Path) -> None:
    dirs = app_dirs().ensure()
    registry = ConnectionRegistry(dirs.config)
    registry.add(CONNECTION)
    second = ConnectionRegistry(dirs.config)
    second.load()
    assert second.all() == [CONNECTION]
    assert [p.name for p in dirs.config.iterdir()] == ["connections.json"]
    stored = json.loads((dirs.config / "connections.json").read_text())
    assert set(stored["connections"][0]) == {
        "id",
        "issuer",
        "kind",
        "client_id",
        "display_name",
        "username",
        "subject",
        "remember",
    }


def test_registry_ids_are_readable_unique_and_never_contain_a_colon(app_home: Path) -> None:
    registry = ConnectionRegistry(app_dirs().ensure().config)
    registry.add(CONNECTION)
    assert registry.new_id("Home") == "home-2"
    assert registry.new_id("127.0.0.1:8443") == "127-0-0-1-8443"
    assert registry.new_id("!!!") == "server"


async def test_corrupt_registry_is_kept_aside_and_reported(app_home: Path) -> None:
    dirs = app_dirs().ensure()
    damaged = b'{"version": 1, "connections": [ {"id": "half'
    (dirs.config / "connections.json").write_bytes(damaged)
    control = await ControlPoint.open()
    try:
        assert control.connections() == []
        assert len(control.problems) == 1
        assert "damaged" in control.problems[0]
        kept = [p for p in dirs.config.iterdir() if ".corrupt-" in p.name]
        assert len(kept) == 1
        assert kept[0].read_bytes() == damaged
        assert str(kept[0]) in control.problems[0]
    finally:
        await control.aclose()


async def test_registry_with_wrong_shape_is_kept_aside(app_home: Path) -> None:
    dirs = app_dirs().ensure()
    (dirs.config / "connections.json").write_text('{"connections": {"id": 3}}')
    control = await ControlPoint.open()
    await control.aclose()
    assert control.problems and "no connection list" in control.problems[0]
    assert any(".corrupt-" in p.name for p in dirs.config.iterdir())


def test_unknown_connection_error_names_the_known_ones(app_home: Path) -> None:
    registry = ConnectionRegistry(app_dirs().ensure().config)
    registry.add(CONNECTION)
    with pytest.raises(ConfigurationError, match="known: home"):
        registry.get("nope")


def _snapshot() -> Snapshot:
    alice = Party(id="sub-alice", username="alice", email="alice@example.org", name="Alice")
    resource = Resource(
        connection_id="home",
        id="r1",
        name="Photos",
        scopes=("view", "edit"),
        resource_server="Photo RS",
        share_count=2,
    )
    return Snapshot(
        resources=[resource],
        requests=[
            AccessRequest(
                connection_id="home",
                id="q1",
                resource_id="r1",
                resource_name="Photos",
                requester=alice,
                scopes=("view",),
                requested_at=datetime(2026, 1, 2, tzinfo=UTC),
            )
        ],
        shared_with_me=[SharedWithMe("home", resource, alice, ("view",), None)],
        last_success=datetime(2026, 1, 3, tzinfo=UTC),
    )


async def test_snapshot_opens_without_network_as_stale(app_home: Path) -> None:
    dirs = app_dirs().ensure()
    ConnectionRegistry(dirs.config).add(CONNECTION)
    SnapshotStore(dirs.cache).save("home", _snapshot())
    control = await ControlPoint.open()
    try:
        [state] = control.connections()
        assert state.status is ConnectionStatus.STALE
        assert state.last_success == datetime(2026, 1, 3, tzinfo=UTC)
        [cached] = control.cached_resources()
        assert cached.stale and cached.value == _snapshot().resources
        assert control.cached_requests()[0].value == _snapshot().requests
    finally:
        await control.aclose()


async def test_corrupt_snapshot_is_kept_aside_and_the_connection_still_opens(
    app_home: Path,
) -> None:
    dirs = app_dirs().ensure()
    ConnectionRegistry(dirs.config).add(CONNECTION)
    folder = dirs.cache / "snapshots"
    folder.mkdir(parents=True)
    (folder / "home.json").write_text("not json at all")
    control = await ControlPoint.open()
    try:
        assert [s.connection.id for s in control.connections()] == ["home"]
        assert control.cached_resources()[0].value is None
        assert any("home" in p and "damaged" in p for p in control.problems)
        assert any(".corrupt-" in p.name for p in folder.iterdir())
    finally:
        await control.aclose()


def _decision(action: str, ok: bool = True) -> Decision:
    return Decision(
        connection_id="home",
        action=action,
        resource_id="r1",
        resource_name="Photos",
        party="bob",
        scopes=("view",),
        at=datetime.now(UTC),
        ok=ok,
        detail="" if ok else "server down",
        extra={"request_id": "q1"},
    )


def test_history_keeps_decisions_newest_first(app_home: Path) -> None:
    history = History(app_dirs().ensure().data)
    history.open()
    history.record(_decision("approve"))
    history.record(_decision("deny", ok=False))
    later = History(app_dirs().data)
    later.open()
    recent = later.recent()
    assert [d.action for d in recent] == ["deny", "approve"]
    assert recent[0].ok is False and recent[0].detail == "server down"
    assert recent[1].extra == {"request_id": "q1"} and recent[1].scopes == ("view",)


async def test_damaged_history_is_kept_aside_and_a_new_one_started(app_home: Path) -> None:
    dirs = app_dirs().ensure()
    (dirs.data / "history.sqlite3").write_bytes(b"this is not a database" * 100)
    control = await ControlPoint.open()
    try:
        assert any("history" in p for p in control.problems)
        assert control.history() == []
        assert any(".corrupt-" in p.name for p in dirs.data.iterdir())
    finally:
        await control.aclose()


# -- one bad entry, ids that name paths ------------------------------------------------


def _entry(connection_id: object, **changes: object) -> dict[str, object]:
    return {
        "id": connection_id,
        "issuer": "http://127.0.0.1:1/",
        "kind": "policy-manager",
        "client_id": "uma-desktop",
        "display_name": f"Server {connection_id}",
        **changes,
    }


async def test_one_bad_connection_entry_is_set_aside_and_the_others_kept(app_home: Path) -> None:
    dirs = app_dirs().ensure()
    entries = [
        _entry("home"),
        _entry("broken", issuer=None),
        _entry("../../../escaped"),
        _entry("work"),
        _entry("home", display_name="a second home"),
    ]
    path = dirs.config / "connections.json"
    path.write_text(json.dumps({"version": 1, "connections": entries}))

    control = await ControlPoint.open()
    await control.aclose()

    assert [s.connection.id for s in control.connections()] == ["home", "work"]
    [note] = control.problems
    assert "3 entries" in note and "set aside" in note and "The other 2" in note
    [rejected_file] = [p for p in dirs.config.iterdir() if ".rejected-" in p.name]
    assert str(rejected_file) in note
    rejected = json.loads(rejected_file.read_text())["rejected"]
    assert [r["content"] for r in rejected] == entries[1:3] + entries[4:]
    assert [r["entry"] for r in rejected] == [2, 3, 5]
    assert not any(".corrupt-" in p.name for p in dirs.config.iterdir())
    again = await ControlPoint.open()
    await again.aclose()
    assert again.problems == []
    assert [s.connection.id for s in again.connections()] == ["home", "work"]


async def test_a_connection_id_cannot_name_a_file_outside_the_cache(
    app_home: Path, tmp_path: Path
) -> None:
    dirs = app_dirs().ensure()
    store = SnapshotStore(dirs.cache)
    for bad in ("../../../escaped", "a/b", "..", "", "with space", "x" * 81, "conn:id"):
        with pytest.raises(ConfigurationError, match="is not a connection id"):
            store.save(bad, _snapshot())
        with pytest.raises(ConfigurationError):
            ConnectionRegistry(dirs.config).add(replace(CONNECTION, id=bad))
    assert not (tmp_path / "escaped.json").exists()
    assert not list(tmp_path.rglob("escaped*"))
    control = await ControlPoint.open()
    try:
        with pytest.raises(ConfigurationError, match="is not a connection id"):
            await control.logout("../../../escaped")
    finally:
        await control.aclose()


def _uma(*argv: str) -> tuple[int, str]:
    """One CLI command in this process (blocking: from async tests, run it in a thread)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


# -- a history that is busy, unwritable or has a bad row --------------------------------

_HOLD_EXCLUSIVE = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
db.execute("ROLLBACK")
"""


@contextlib.contextmanager
def _held_by_another_process(path: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_EXCLUSIVE, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


async def test_a_busy_history_is_not_treated_as_damaged(
    app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = app_dirs().ensure()
    history = History(dirs.data)
    history.open()
    history.record(_decision("approve"))
    before = history.path.read_bytes()
    monkeypatch.setattr("uma_desktop.app.history.BUSY_TIMEOUT", 0.3)

    with _held_by_another_process(history.path):
        with pytest.raises(HistoryBusyError, match="busy"):
            History(dirs.data).open()
        with pytest.raises(HistoryBusyError):
            History(dirs.data).recent()
        control = await ControlPoint.open()
        await control.aclose()
        assert any("is busy" in p for p in control.problems), control.problems
        with pytest.raises(HistoryBusyError):
            control.history()
        code, text = await asyncio.to_thread(_uma, "history")
        assert code == HistoryBusyError.exit_code and "is busy" in text

    assert history.path.read_bytes() == before
    assert not [p for p in dirs.data.iterdir() if ".corrupt-" in p.name]
    assert [d.action for d in History(dirs.data).recent()] == ["approve"]


def test_history_rows_that_cannot_be_read_are_skipped_and_counted(app_home: Path) -> None:
    history = History(app_dirs().ensure().data)
    history.open()
    history.record(_decision("approve"))
    bad_rows = [
        ("2026-01-01T00:00:00+00:00", "[not json", "{}"),
        ("not a time", "[]", "{}"),
        ("2026-01-01T00:00:00+00:00", '["view"]', '["a list"]'),
        ("2026-01-01T00:00:00", '["view"]', "{}"),  # no zone
    ]
    with contextlib.closing(sqlite3.connect(history.path)) as db, db:
        for at, scopes, extra in bad_rows:
            db.execute(
                "INSERT INTO decisions (at, connection_id, action, resource_id, resource_name,"
                " party, scopes, ok, detail, extra) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (at, "home", "deny", "r2", "Music", "bob", scopes, 0, "", extra),
            )
    read = history.read()
    assert [d.action for d in read.decisions] == ["approve"]
    assert len(read.skipped) == len(bad_rows)


def test_an_old_history_without_outcome_column_is_upgraded(app_home: Path) -> None:
    path = app_dirs().ensure().data / "history.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            "CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
            " connection_id TEXT NOT NULL, action TEXT NOT NULL, resource_id TEXT NOT NULL,"
            " resource_name TEXT NOT NULL, party TEXT NOT NULL, scopes TEXT NOT NULL,"
            " ok INTEGER NOT NULL, detail TEXT NOT NULL, extra TEXT NOT NULL);"
            "INSERT INTO decisions VALUES (NULL, '2026-01-01T00:00:00+00:00', 'home', 'deny',"
            " 'r1', 'Photos', 'bob', '[]', 1, '', '{}');"
        )
    history = History(path.parent)
    history.open()
    [old] = history.recent()
    assert old.settled and old.ok and old.resource_name == "Photos"


# -- nothing half-done when the disk refuses a write -------------------------------------


async def test_a_connection_that_cannot_be_saved_leaves_no_ghost(
    app_home: Path, sandbox: SandboxServer
) -> None:
    dirs = app_dirs()
    dirs.config.parent.mkdir(parents=True)
    dirs.config.write_text("a file where the config folder must be")  # refused even to root
    control = await ControlPoint.open()
    try:
        assert any(str(dirs.config) in p for p in control.problems)
        with pytest.raises(StorageError, match="Could not save"):
            await control.add_connection(sandbox.issuer, display_name="Home")
        assert control.connections() == []
        assert control._registry.all() == []
    finally:
        await control.aclose()


# -- private files ------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_folders_are_0700_and_files_0600_when_created(
    app_home: Path, sandbox: SandboxServer, open_control: Callable[..., Any]
) -> None:
    code, text = await asyncio.to_thread(_uma, "history")  # writes the log
    assert code == 0, text
    control = await open_control()
    try:
        [connection_id] = await connect(control, sandbox)
        await control.resources()  # writes a snapshot
    finally:
        await control.aclose()
    dirs = app_dirs()
    folders = [*dirs.all(), dirs.cache / "snapshots"]
    files = [
        dirs.config / "connections.json",
        dirs.data / "history.sqlite3",
        dirs.log / LOG_FILE_NAME,
        dirs.cache / "snapshots" / f"{connection_id}.json",
    ]
    assert {str(p): oct(_mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert {str(p): oct(_mode(p)) for p in files} == {str(p): "0o600" for p in files}


def test_readable_files_of_an_older_version_become_private_at_start(
    app_home: Path,
) -> None:
    dirs = app_dirs()
    files = [
        dirs.config / "connections.json",
        dirs.data / "history.sqlite3",
        dirs.log / LOG_FILE_NAME,
        dirs.log / f"{LOG_FILE_NAME}.1",
        dirs.cache / "snapshots" / "home.json",
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.parent.chmod(0o755)
        path.write_bytes(b"")
        path.chmod(0o644)
    (dirs.config / "connections.json").write_text('{"version": 1, "connections": []}')

    code, text = _uma("connections", "list")
    assert code == 0, text

    folders = [*dirs.all(), dirs.cache / "snapshots"]
    assert {str(p): oct(_mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert {str(p): oct(_mode(p)) for p in files} == {str(p): "0o600" for p in files}


def test_making_a_folder_private_keeps_a_program_in_it_runnable(app_home: Path) -> None:
    """The cache folder may hold someone else's unpacked program: only group/other lose access."""
    program = app_dirs().cache / "tools" / "bin" / "run.sh"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\necho ran\n")
    program.chmod(0o755)

    code, text = _uma("connections", "list")
    assert code == 0, text

    assert oct(_mode(program)) == "0o700"
    assert subprocess.run([str(program)], capture_output=True, text=True).stdout == "ran\n"


# -- one person, one label -------------------------------------------------------------------


async def test_history_names_a_person_the_same_way_for_every_decision(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [connection_id] = await connect(control, sandbox)
    names = ("Holiday 2026", "Cat pictures")
    for name in names:
        ask(sandbox, "bob", name, ["view"])
    [result] = await control.requests()
    from_bob = [r for r in result.value or [] if r.requester.username == "bob"]
    holiday, cats = (next(r for r in from_bob if r.resource_name == n) for n in names)
    await control.approve(holiday)
    await control.deny(cats)
    photos = sandbox.resource_id("Cat pictures")
    await control.share(connection_id, photos, "bob", ["view"])
    await control.revoke(connection_id, photos, "bob")

    parties = {(d.action, d.party) for d in control.history()}
    assert parties == {
        ("approve", "Bob Brown (bob)"),
        ("deny", "Bob Brown (bob)"),
        ("share", "Bob Brown (bob)"),
        ("revoke", "Bob Brown (bob)"),
    }


async def test_the_early_read_changes_nothing_and_the_core_takes_it_over(app_home: Path) -> None:
    """The window shows the cached rows before the core has loaded (app.last_known); that
    read repairs nothing, and the core then uses what it read instead of reading again."""
    from uma_desktop.app.last_known import read_last_known

    dirs = app_dirs().ensure()
    registry = ConnectionRegistry(dirs.config)
    registry.add(CONNECTION)
    registry.add(replace(CONNECTION, id="broken", display_name="Broken"))
    SnapshotStore(dirs.cache).save("home", _snapshot())
    folder = dirs.cache / "snapshots"
    (folder / "broken.json").write_text("not json at all")

    known = read_last_known(dirs)
    assert [(c.id, r) for c, r in known.resources()] == [("home", _snapshot().resources)]
    assert sorted(p.name for p in folder.iterdir()) == ["broken.json", "home.json"]  # untouched

    control = await ControlPoint.open(dirs, last_known=known)
    try:
        cached = {c.connection_id: c.value for c in control.cached_resources()}
        assert cached["home"] is known.snapshots["home"].snapshot.resources  # not read again
        assert cached["broken"] is None
        assert any("broken" in p and "damaged" in p for p in control.problems)
        assert any(".corrupt-" in p.name for p in folder.iterdir())
    finally:
        await control.aclose()


async def test_a_snapshot_written_after_the_early_read_is_read_again(app_home: Path) -> None:
    from uma_desktop.app.last_known import read_last_known

    dirs = app_dirs().ensure()
    ConnectionRegistry(dirs.config).add(CONNECTION)
    store = SnapshotStore(dirs.cache)
    store.save("home", _snapshot())
    known = read_last_known(dirs)
    first = (_snapshot().resources or [])[0]
    newer = replace(_snapshot(), resources=[first, replace(first, id="r9")])
    store.save("home", newer)  # e.g. a CLI command refreshed it meanwhile

    control = await ControlPoint.open(dirs, last_known=known)
    try:
        [cached] = control.cached_resources()
        assert [r.id for r in cached.value or []] == [r.id for r in newer.resources or []]
    finally:
        await control.aclose()
