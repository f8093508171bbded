"""Last-known data per connection, as JSON in the cache dir, so the app opens instantly.

Only what the owner sees is stored (resources, pending requests, shared-with-me): no tokens.
A damaged snapshot is cache, not truth: it is kept aside and the connection starts empty.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from uma_desktop.app.storage import CorruptFileError, atomic_write_text, keep_aside
from uma_desktop.domain import AccessRequest, Resource, SharedWithMe

FORMAT_VERSION = 1


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = FORMAT_VERSION
    resources: list[Resource] | None = None
    requests: list[AccessRequest] | None = None
    shared_with_me: list[SharedWithMe] | None = None
    last_success: datetime | None = None


class SnapshotStore:
    def __init__(self, cache_dir: Path) -> None:
        self.folder = cache_dir / "snapshots"

    def _path(self, connection_id: str) -> Path:
        return self.folder / f"{connection_id}.json"

    def load(self, connection_id: str) -> Snapshot:
        """The stored snapshot or an empty one; a damaged file raises CorruptFileError."""
        path = self._path(connection_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return Snapshot()
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
        atomic_write_text(self._path(connection_id), snapshot.model_dump_json())

    def delete(self, connection_id: str) -> None:
        self._path(connection_id).unlink(missing_ok=True)
