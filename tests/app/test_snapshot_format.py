"""The snapshot file: read back as the same domain objects without pydantic, repeated values
shared, the first format still opened, anything damaged set aside with a clear message."""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import FrozenInstanceError, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from uma_desktop.app.snapshots import FORMAT_VERSION, Snapshot, SnapshotStore
from uma_desktop.app.storage import CorruptFileError
from uma_desktop.domain import (
    AccessRequest,
    BackendKind,
    Connection,
    Decision,
    Party,
    Resource,
    Share,
    SharedWithMe,
)

ALICE = Party(id="sub-alice", username="alice", email=None, name="Alice")
PHOTOS = Resource(
    connection_id="home",
    id="r1",
    name="Photos",
    scopes=("view", "edit"),
    resource_server="Photo RS",
    share_count=2,
    labels=("family",),
)
REQUEST = AccessRequest(
    "home", "q1", "r1", "Photos", ALICE, ("view",), None, datetime(2026, 1, 2, tzinfo=UTC)
)
SHARED = SharedWithMe("home", PHOTOS, None, ("view",), None)
STAMP = datetime(2026, 1, 3, tzinfo=UTC)
# what the first format's writer produced for the snapshot below
VERSION_1 = (
    '{"version":1,"resources":[{"connection_id":"home","id":"r1","name":"Photos",'
    '"scopes":["view","edit"],"resource_server":"Photo RS","resource_server_id":null,'
    '"type":null,"description":null,"icon_uri":null,"owner":null,"share_count":2,'
    '"labels":["family"]}],"requests":[{"connection_id":"home","id":"q1","resource_id":"r1",'
    '"resource_name":"Photos","requester":{"id":"sub-alice","username":"alice","email":null,'
    '"name":"Alice"},"scopes":["view"],"client_id":null,"requested_at":"2026-01-02T00:00:00Z"}],'
    '"shared_with_me":[{"connection_id":"home","resource":{"connection_id":"home","id":"r1",'
    '"name":"Photos","scopes":["view","edit"],"resource_server":"Photo RS",'
    '"resource_server_id":null,"type":null,"description":null,"icon_uri":null,"owner":null,'
    '"share_count":2,"labels":["family"]},"owner":null,"scopes":["view"],"expires_at":null}],'
    '"last_success":"2026-01-03T00:00:00Z"}'
)


def _many(count: int) -> list[Resource]:
    return [
        Resource(
            connection_id="home",
            id=f"r{i}",
            name=f"Album {i} \u00e9\U0001f600",
            scopes=("view", "edit") if i % 2 else ("view",),
            resource_server=f"RS {i % 3}",
            description=None if i % 5 else f"number {i}",
            share_count=None if i % 7 else i,
        )
        for i in range(count)
    ]


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path)


def _file(store: SnapshotStore) -> Path:
    return store.folder / "home.json"


def test_a_snapshot_reads_back_equal_with_repeated_values_shared(store: SnapshotStore) -> None:
    resources = _many(5000)
    snapshot = Snapshot(resources, [REQUEST], [SHARED, replace(SHARED, owner=ALICE)], STAMP)
    store.save("home", snapshot)
    assert json.loads(_file(store).read_text())["version"] == FORMAT_VERSION
    loaded = store.load("home")
    assert loaded == snapshot
    assert loaded.resources is not None
    first, third = loaded.resources[1], loaded.resources[3]
    assert first.scopes is third.scopes
    assert first.connection_id is third.connection_id
    assert loaded.resources[0].resource_server is loaded.resources[3].resource_server
    for item in (first, loaded.requests[0], loaded.shared_with_me[1], ALICE):  # type: ignore[index]
        assert type(item) in (Resource, AccessRequest, SharedWithMe, Party)
        assert not hasattr(item, "__dict__") and hash(item) == hash(copy.copy(item))
        with pytest.raises(FrozenInstanceError):
            setattr(item, fields(item)[0].name, "elsewhere")


def test_lists_never_loaded_and_empty_lists_stay_apart(store: SnapshotStore) -> None:
    store.save("home", Snapshot(resources=[], requests=None))
    assert store.load("home") == Snapshot(resources=[], requests=None)
    assert store.load("other") == Snapshot()  # no file yet


def test_a_snapshot_of_the_first_format_still_opens(store: SnapshotStore) -> None:
    store.folder.mkdir(parents=True)
    _file(store).write_text(VERSION_1)
    assert store.load("home") == Snapshot([PHOTOS], [REQUEST], [SHARED], STAMP)


def test_a_snapshot_of_a_newer_format_is_ignored_not_set_aside(store: SnapshotStore) -> None:
    store.folder.mkdir(parents=True)
    _file(store).write_text(json.dumps({"version": FORMAT_VERSION + 1, "rows": "new"}))
    assert store.load("home") == Snapshot()
    assert [p.name for p in store.folder.iterdir()] == ["home.json"]


def _damaged_copies() -> list[str]:
    good = json.loads(Snapshot(_many(10), [REQUEST], [SHARED], STAMP).to_json())
    columns = good["resources"]["columns"]
    damaged = []
    for change in (
        lambda d: d["resources"]["columns"]["name"].__setitem__(3, 7),
        lambda d: d["resources"]["columns"].pop("name"),
        lambda d: d["resources"].__setitem__("n", 11),
        lambda d: d["resources"]["columns"]["scopes"]["index"].__setitem__(0, 99),
        lambda d: d["resources"]["columns"]["scopes"]["index"].__setitem__(0, -1),
        lambda d: d["resources"]["columns"]["scopes"]["values"].__setitem__(0, ["view", 1]),
        lambda d: d["requests"]["columns"]["requester"].__setitem__(0, ["only-id"]),
        lambda d: d["requests"]["columns"]["requested_at"].__setitem__(0, "yesterday"),
        lambda d: d["shared_with_me"]["columns"]["resource"].__setitem__("n", 2),
        lambda d: d.__setitem__("last_success", 5),
        lambda d: d.__setitem__("version", "2"),
    ):
        copy_ = json.loads(json.dumps(good))
        change(copy_)
        damaged.append(json.dumps(copy_))
    assert columns["scopes"].keys() == {"values", "index"}  # the shared form is exercised
    text = json.dumps(good)
    return [*damaged, text[: len(text) // 2], "not json at all", "[]", "\xff"]


@pytest.mark.parametrize("text", _damaged_copies())
def test_a_damaged_snapshot_is_set_aside_with_a_clear_message(
    store: SnapshotStore, text: str
) -> None:
    store.folder.mkdir(parents=True)
    _file(store).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(CorruptFileError, match="saved data of home was damaged") as caught:
        store.load("home")
    assert not _file(store).exists()
    assert caught.value.kept_at.exists() and ".corrupt-" in caught.value.kept_at.name
    assert store.load("home") == Snapshot()


def test_a_damaged_first_format_snapshot_is_set_aside(store: SnapshotStore) -> None:
    store.folder.mkdir(parents=True)
    _file(store).write_text(VERSION_1.replace('"id":"r1"', '"id":1', 1))
    with pytest.raises(CorruptFileError):
        store.load("home")


def test_domain_objects_have_slots_and_still_copy_pickle_and_replace() -> None:
    connection = Connection("home", "https://as", BackendKind.KEYCLOAK, "uma", "Home")
    share = Share("home", "r1", ALICE, ("view",))
    decision = Decision("home", "approve", "r1", "Photos", "alice", ("view",), STAMP, True)
    for item in (connection, ALICE, PHOTOS, share, REQUEST, SHARED, decision):
        assert not hasattr(item, "__dict__")
        assert pickle.loads(pickle.dumps(item)) == item
        assert copy.deepcopy(item) == item and copy.copy(item) == item
        first = fields(item)[0].name
        assert getattr(replace(item, **{first: "other"}), first) == "other"
        with pytest.raises(FrozenInstanceError):
            setattr(item, first, "other")
        with pytest.raises((AttributeError, TypeError)):  # no place for another attribute
            item.extra_attribute = 1  # type: ignore[attr-defined]
