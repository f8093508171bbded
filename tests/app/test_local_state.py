"""Local files of the ControlPoint: registry, snapshots, history — atomic, never silently lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

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
from uma_desktop.errors import ConfigurationError
from uma_desktop.paths import app_dirs

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
    (dirs.config / "connections.json").write_text('{"connections": [{"id": 3}]}')
    control = await ControlPoint.open()
    await control.aclose()
    assert control.problems and "lacks id" in control.problems[0]
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
