"""Last-known data per connection, as JSON in the cache dir, so the app opens instantly.

Only what the owner sees is stored (resources, pending requests, shared-with-me): no tokens.
A damaged snapshot is cache, not truth: it is kept aside and the connection starts empty.
The file is named after the connection id, which is checked first (strict characters), so
no id can name a file outside the snapshot folder.

The format (version 2) is column-wise: each list is a table ``{"n": rows, "columns": {field:
column}}`` whose column is a plain JSON list, or, when values repeat (the connection, the
resource server, the scopes), ``{"values": [distinct], "index": [position per row]}``. Reading
checks each column's types with a few C-level passes and builds the domain dataclasses
directly, no per-item validation; repeated values come out as one shared object. Version 1
files (one JSON object per item) are still read, through msgspec, then written anew.
Snapshots are written and read a slice of items at a time (see ``ITEMS_PER_SLICE``) so that
10,000 resources never hold the interpreter lock for long while the window wants it.

Saving is ``SnapshotWriter``'s job: a change marks the connection's snapshot as due, and a
worker thread writes the latest one a moment later, so a burst of changes (a bulk decision,
a reload of every server) costs one write per connection and none on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from uma_desktop.app.registry import check_connection_id
from uma_desktop.app.storage import CorruptFileError, atomic_write_text, keep_aside
from uma_desktop.domain import AccessRequest, Party, Resource, SharedWithMe, fast_builder
from uma_desktop.errors import ConfigurationError, StorageError
from uma_desktop.yielding import YieldPoint, no_yield

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
SAVE_DELAY = 0.5  # seconds a due snapshot waits for more changes before it is written
# Items encoded or built per call between yield points: about a millisecond's work.
ITEMS_PER_SLICE = 2000
_LISTS = ("resources", "requests", "shared_with_me")
_COMPACT = (",", ":")
_NONE = type(None)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one connection last showed; None where a list was never loaded."""

    resources: list[Resource] | None = None
    requests: list[AccessRequest] | None = None
    shared_with_me: list[SharedWithMe] | None = None
    last_success: datetime | None = None

    def to_json(self, yield_point: YieldPoint = no_yield) -> str:
        """The file's text (format version 2); ``yield_point`` runs between slices."""
        stamp = None if self.last_success is None else self.last_success.isoformat()
        parts = [f'{{"version":{FORMAT_VERSION},"last_success":{json.dumps(stamp)}']
        for name in _LISTS:
            items: Sequence[Any] | None = getattr(self, name)
            table = "null" if items is None else _dump_table(_TABLES[name], items, yield_point)
            parts.append(f',"{name}":{table}')
        parts.append("}")
        return "".join(parts)


class SnapshotDamaged(ValueError):
    """The file is not a snapshot this app can read."""


class _Kind(Enum):
    """How a field's values are stored and checked."""

    STR = "str"
    OPT_STR = "optional str"
    OPT_INT = "optional int"
    STRS = "tuple of str"
    OPT_TIME = "optional time"
    PARTY = "party"
    OPT_PARTY = "optional party"
    RESOURCE = "resource"


@dataclass(frozen=True)
class _Table:
    """A domain dataclass stored column-wise: its fields in constructor order."""

    build: Callable[..., Any]
    fields: tuple[tuple[str, _Kind], ...]


_build_party = fast_builder(Party)
_RESOURCE_TABLE = _Table(
    fast_builder(Resource),
    (
        ("connection_id", _Kind.STR),
        ("id", _Kind.STR),
        ("name", _Kind.STR),
        ("scopes", _Kind.STRS),
        ("resource_server", _Kind.STR),
        ("resource_server_id", _Kind.OPT_STR),
        ("type", _Kind.OPT_STR),
        ("description", _Kind.OPT_STR),
        ("icon_uri", _Kind.OPT_STR),
        ("owner", _Kind.OPT_STR),
        ("share_count", _Kind.OPT_INT),
        ("labels", _Kind.STRS),
    ),
)
_TABLES: dict[str, _Table] = {
    "resources": _RESOURCE_TABLE,
    "requests": _Table(
        fast_builder(AccessRequest),
        (
            ("connection_id", _Kind.STR),
            ("id", _Kind.STR),
            ("resource_id", _Kind.STR),
            ("resource_name", _Kind.STR),
            ("requester", _Kind.PARTY),
            ("scopes", _Kind.STRS),
            ("client_id", _Kind.OPT_STR),
            ("requested_at", _Kind.OPT_TIME),
        ),
    ),
    "shared_with_me": _Table(
        fast_builder(SharedWithMe),
        (
            ("connection_id", _Kind.STR),
            ("resource", _Kind.RESOURCE),
            ("owner", _Kind.OPT_PARTY),
            ("scopes", _Kind.STRS),
            ("expires_at", _Kind.OPT_TIME),
        ),
    ),
}

# --- writing -----------------------------------------------------------------------------


def _party_row(party: Party) -> tuple[str | None, ...]:
    return (party.id, party.username, party.email, party.name)


def _encoded(kind: _Kind, values: list[Any]) -> list[Any]:
    """``values`` as JSON-ready, hashable values (tuples are written as lists)."""
    if kind is _Kind.OPT_TIME:
        return [None if v is None else v.isoformat() for v in values]
    if kind is _Kind.PARTY:
        return list(map(_party_row, values))
    if kind is _Kind.OPT_PARTY:
        return [None if v is None else _party_row(v) for v in values]
    return values


def _dump_list(values: Sequence[Any], yield_point: YieldPoint) -> str:
    slices = []
    for start in range(0, len(values), ITEMS_PER_SLICE):
        yield_point()
        chunk = values[start : start + ITEMS_PER_SLICE]
        slices.append(json.dumps(chunk, separators=_COMPACT)[1:-1])
    return "[" + ",".join(slices) + "]"


def _dump_column(kind: _Kind, values: list[Any], yield_point: YieldPoint) -> str:
    if kind is _Kind.RESOURCE:
        return _dump_table(_RESOURCE_TABLE, values, yield_point)
    encoded = _encoded(kind, values)
    distinct = list(dict.fromkeys(encoded))
    if len(distinct) * 2 > len(encoded):
        return _dump_list(encoded, yield_point)
    position = {value: number for number, value in enumerate(distinct)}
    index = list(map(position.__getitem__, encoded))
    stored, positions = _dump_list(distinct, yield_point), _dump_list(index, yield_point)
    return f'{{"values":{stored},"index":{positions}}}'


def _dump_table(table: _Table, items: Sequence[Any], yield_point: YieldPoint) -> str:
    columns = []
    for name, kind in table.fields:
        yield_point()
        values = list(map(attrgetter(name), items))
        columns.append(f'"{name}":{_dump_column(kind, values, yield_point)}')
    return f'{{"n":{len(items)},"columns":{{{",".join(columns)}}}}}'


# --- reading -----------------------------------------------------------------------------


def _types_within(values: Any, allowed: set[type]) -> None:
    if type(values) is not list or not set(map(type, values)) <= allowed:
        raise SnapshotDamaged


def _time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SnapshotDamaged from None


def _party(row: Any) -> Party:
    if type(row) is not list or len(row) != 4:
        raise SnapshotDamaged
    _types_within(row, {str, _NONE})
    if type(row[0]) is not str:
        raise SnapshotDamaged
    return _build_party(*row)


def _decoded(kind: _Kind, values: Any, yield_point: YieldPoint) -> list[Any]:
    """The domain values of one stored column, checked; SnapshotDamaged if they don't fit."""
    if kind is _Kind.STR:
        _types_within(values, {str})
    elif kind is _Kind.OPT_STR:
        _types_within(values, {str, _NONE})
    elif kind is _Kind.OPT_INT:
        _types_within(values, {int, _NONE})
    elif kind is _Kind.STRS:
        _types_within(values, {list})
        _types_within(list(chain.from_iterable(values)), {str})
        return list(map(tuple, values))
    elif kind is _Kind.OPT_TIME:
        _types_within(values, {str, _NONE})
        return [None if v is None else _time(v) for v in values]
    elif kind is _Kind.PARTY:
        _types_within(values, {list})
        return list(map(_party, values))
    elif kind is _Kind.OPT_PARTY:
        _types_within(values, {list, _NONE})
        return [None if v is None else _party(v) for v in values]
    elif kind is _Kind.RESOURCE:
        return _read_table(_RESOURCE_TABLE, values, yield_point)
    return values  # type: ignore[no-any-return]


def _read_column(kind: _Kind, stored: Any, rows: int, yield_point: YieldPoint) -> list[Any]:
    if type(stored) is dict and stored.keys() == {"values", "index"}:
        distinct = _decoded(kind, stored["values"], yield_point)
        index = stored["index"]
        _types_within(index, {int})
        if index and (min(index) < 0 or max(index) >= len(distinct)):
            raise SnapshotDamaged
        column = list(map(distinct.__getitem__, index))
    else:
        column = _decoded(kind, stored, yield_point)
    if len(column) != rows:
        raise SnapshotDamaged
    return column


def _read_table(table: _Table, stored: Any, yield_point: YieldPoint) -> list[Any]:
    if type(stored) is not dict or stored.keys() != {"n", "columns"}:
        raise SnapshotDamaged
    rows, columns = stored["n"], stored["columns"]
    if type(rows) is not int or type(columns) is not dict:
        raise SnapshotDamaged
    if columns.keys() != {name for name, _ in table.fields}:
        raise SnapshotDamaged
    values = []
    for name, kind in table.fields:
        yield_point()
        values.append(_read_column(kind, columns[name], rows, yield_point))
    items: list[Any] = []
    for start in range(0, rows, ITEMS_PER_SLICE):
        yield_point()
        items.extend(map(table.build, *(v[start : start + ITEMS_PER_SLICE] for v in values)))
    return items


def _read_current(data: dict[str, Any], yield_point: YieldPoint) -> Snapshot:
    if data.keys() != {"version", "last_success", *_LISTS}:
        raise SnapshotDamaged
    stamp = data["last_success"]
    if stamp is not None and type(stamp) is not str:
        raise SnapshotDamaged
    lists = {
        name: None if data[name] is None else _read_table(_TABLES[name], data[name], yield_point)
        for name in _LISTS
    }
    return Snapshot(**lists, last_success=None if stamp is None else _time(stamp))


def _read_version_1(data: dict[str, Any]) -> Snapshot:
    """A snapshot of the first format (an object per item), validated the way it was written."""
    import msgspec  # only for files of that format

    fields = {key: value for key, value in data.items() if key != "version"}
    try:
        return msgspec.convert(fields, Snapshot, strict=False)
    except msgspec.ValidationError:
        raise SnapshotDamaged from None


def parse_snapshot(raw: bytes, yield_point: YieldPoint = no_yield) -> Snapshot | None:
    """The snapshot in ``raw``; None for a format newer than this app knows.

    Raises SnapshotDamaged when ``raw`` is not a snapshot."""
    try:
        data = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        raise SnapshotDamaged from None
    if type(data) is not dict:
        raise SnapshotDamaged
    version = data.get("version")
    if version == FORMAT_VERSION:
        return _read_current(data, yield_point)
    if version == 1:
        return _read_version_1(data)
    if type(version) is int and version > FORMAT_VERSION:
        return None
    raise SnapshotDamaged


@dataclass(frozen=True)
class ReadSnapshot:
    """A snapshot as read by ``SnapshotStore.peek``, with the file's state at that moment."""

    snapshot: Snapshot
    stamp: tuple[int, int, int]  # which file it was (each save is a new one), its time, size


def _stamp(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_mtime_ns, status.st_size


def _stamp_of(path: Path) -> tuple[int, int, int] | None:
    try:
        return _stamp(path.stat())
    except OSError:
        return None


class SnapshotStore:
    def __init__(
        self,
        cache_dir: Path,
        yield_point: YieldPoint = no_yield,
        preloaded: Mapping[str, ReadSnapshot] | None = None,
    ) -> None:
        """``preloaded``: snapshots already read with ``peek``; ``load`` hands each out once
        instead of reading its file again, unless the file has changed since."""
        self.folder = cache_dir / "snapshots"
        self._yield = yield_point
        self._preloaded = dict(preloaded or {})

    def _path(self, connection_id: str) -> Path:
        return self.folder / f"{check_connection_id(connection_id)}.json"

    def peek(self, connection_id: str) -> ReadSnapshot | None:
        """The stored snapshot if it reads cleanly, else None; changes nothing (``load``
        reports and sets aside a damaged file)."""
        try:
            path = self._path(connection_id)
            with path.open("rb") as file:
                status = os.fstat(file.fileno())
                raw = file.read()
            snapshot = parse_snapshot(raw, self._yield)
        except (ConfigurationError, ValueError, OSError, SnapshotDamaged, RecursionError):
            return None
        if snapshot is None:
            return None
        return ReadSnapshot(snapshot, _stamp(status))

    def load(self, connection_id: str) -> Snapshot:
        """The stored snapshot or an empty one; a damaged file raises CorruptFileError.

        A file a newer version of the app wrote counts as none: the next refresh replaces it.
        """
        path = self._path(connection_id)
        peeked = self._preloaded.pop(connection_id, None)
        if peeked is not None and _stamp_of(path) == peeked.stamp:
            return peeked.snapshot
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return Snapshot()
        except OSError as exc:
            raise StorageError(
                f"The saved data of {connection_id} could not be read ({exc.strerror})."
            ) from None
        try:
            snapshot = parse_snapshot(raw, self._yield)
        except (SnapshotDamaged, RecursionError):
            kept = keep_aside(path)
            raise CorruptFileError(
                f"The saved data of {connection_id} was damaged and is not shown; "
                f"it was kept as {kept}.",
                kept_at=kept,
            ) from None
        if snapshot is None:
            log.info("the saved data of %s has a newer format; it is fetched anew", connection_id)
            return Snapshot()
        return snapshot

    def save(self, connection_id: str, snapshot: Snapshot) -> None:
        """Raises StorageError when the cache folder cannot be written."""
        atomic_write_text(self._path(connection_id), snapshot.to_json(self._yield))

    def delete(self, connection_id: str) -> None:
        try:
            self._path(connection_id).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(
                f"The saved data of {connection_id} could not be deleted ({exc.strerror})."
            ) from None


class SnapshotWriter:
    """Writes each connection's latest snapshot in a worker thread, coalescing changes.

    ``due`` is cheap and never blocks the event loop; the write follows ``delay`` seconds
    later, or at once on ``flush``. A failed write is logged: the snapshot is cache, and the
    data stays in memory.
    """

    def __init__(self, store: SnapshotStore, delay: float = SAVE_DELAY) -> None:
        self.store = store
        self.delay = delay
        self._due: dict[str, Snapshot] = {}
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._flushing = 0

    def due(self, connection_id: str, snapshot: Snapshot) -> None:
        """Save ``snapshot`` soon (a later call for the same connection replaces it)."""
        self._due[connection_id] = snapshot
        if self._task is None or self._task.done():
            self._hurry = asyncio.Event()  # of the running loop
            self._task = asyncio.get_running_loop().create_task(
                self._write_due(), name="uma-snapshot-writer"
            )

    def discard(self, connection_id: str) -> None:
        """Forget an unsaved snapshot (the connection is being removed)."""
        self._due.pop(connection_id, None)

    async def flush(self) -> None:
        """Write every due snapshot now and return once nothing is being written."""
        self._flushing += 1
        try:
            while self._task is not None and not self._task.done():
                self._hurry.set()
                await asyncio.shield(self._task)
        finally:
            self._flushing -= 1
            if not self._flushing:
                self._hurry.clear()

    async def _write_due(self) -> None:
        while self._due:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.delay):
                    await self._hurry.wait()
            batch, self._due = self._due, {}
            for connection_id, snapshot in batch.items():
                try:
                    await asyncio.to_thread(self.store.save, connection_id, snapshot)
                except StorageError as exc:
                    log.warning("could not save the snapshot of %s: %s", connection_id, exc)
                except Exception:  # cache only: a failed save must not break the caller
                    log.exception("saving the snapshot of %s failed", connection_id)
