"""Last-known data per connection, as JSON in the cache dir, so the app opens instantly.

Only what the owner sees is stored (resources, pending requests, shared-with-me): no tokens.
A damaged snapshot is cache, not truth: it is kept aside and the connection starts empty.
The file is named after the connection id, which is checked first (strict characters), so
no id can name a file outside the snapshot folder.
Snapshots are written a slice of items at a time (see ``to_json``) so that saving 10,000
resources never holds the interpreter lock for long while the window wants it.

Saving is ``SnapshotWriter``'s job: a change marks the connection's snapshot as due, and a
worker thread writes the latest one a moment later, so a burst of changes (a bulk decision,
a reload of every server) costs one write per connection and none on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from uma_desktop.app.registry import check_connection_id
from uma_desktop.app.storage import CorruptFileError, atomic_write_text, keep_aside
from uma_desktop.backends.base import YieldPoint, no_yield
from uma_desktop.domain import AccessRequest, Resource, SharedWithMe
from uma_desktop.errors import StorageError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SAVE_DELAY = 0.5  # seconds a due snapshot waits for more changes before it is written
# Items serialised per call into pydantic's serialiser: about a millisecond each. Between
# calls Python code runs, so other threads (the GUI's) get the interpreter lock back.
ITEMS_PER_SLICE = 500
_LISTS = ("resources", "requests", "shared_with_me")


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = FORMAT_VERSION
    resources: list[Resource] | None = None
    requests: list[AccessRequest] | None = None
    shared_with_me: list[SharedWithMe] | None = None
    last_success: datetime | None = None

    def to_json(self, yield_point: YieldPoint = no_yield) -> str:
        """The same JSON as ``model_dump_json()``, built a slice of list items at a time
        (``yield_point`` runs between slices)."""
        head = self.model_dump_json(exclude=set(_LISTS))
        parts = [head[:-1]]  # the scalar fields, without the closing brace
        for name in _LISTS:
            items: Sequence[Any] | None = getattr(self, name)
            if items is None:
                parts.append(f',"{name}":null')
                continue
            adapter = _ITEM_LISTS[name]
            slices = []
            for start in range(0, len(items), ITEMS_PER_SLICE):
                yield_point()
                slices.append(
                    adapter.dump_json(items[start : start + ITEMS_PER_SLICE])[1:-1].decode()
                )
            parts.append(f',"{name}":[' + ",".join(slices) + "]")
        parts.append("}")
        return "".join(parts)


_ITEM_LISTS: dict[str, TypeAdapter[Any]] = {
    "resources": TypeAdapter(list[Resource]),
    "requests": TypeAdapter(list[AccessRequest]),
    "shared_with_me": TypeAdapter(list[SharedWithMe]),
}


class SnapshotStore:
    def __init__(self, cache_dir: Path, yield_point: YieldPoint = no_yield) -> None:
        self.folder = cache_dir / "snapshots"
        self._yield = yield_point

    def _path(self, connection_id: str) -> Path:
        return self.folder / f"{check_connection_id(connection_id)}.json"

    def load(self, connection_id: str) -> Snapshot:
        """The stored snapshot or an empty one; a damaged file raises CorruptFileError."""
        path = self._path(connection_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return Snapshot()
        except OSError as exc:
            raise StorageError(
                f"The saved data of {connection_id} could not be read ({exc.strerror})."
            ) from None
        try:
            return Snapshot.model_validate_json(raw)
        except ValidationError:
            kept = keep_aside(path)
            raise CorruptFileError(
                f"The saved data of {connection_id} was damaged and is not shown; "
                f"it was kept as {kept}.",
                kept_at=kept,
            ) from None

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
