"""What the app showed last, read before the rest of the core has loaded.

The window shows the cached rows as early as it can: this reads the list of connections and
their snapshots with nothing but the storage modules (no HTTP, no models, no keyring), and
changes nothing on disk. ``ControlPoint.open(last_known=...)`` then takes over what was
read instead of reading it again, and reports and repairs anything damaged as usual.
"""

from __future__ import annotations

from dataclasses import dataclass

from uma_desktop.app.registry import ConnectionRegistry
from uma_desktop.app.snapshots import ReadSnapshot, SnapshotStore
from uma_desktop.domain import Connection, Resource
from uma_desktop.paths import AppDirs
from uma_desktop.yielding import YieldPoint, no_yield


@dataclass(frozen=True)
class LastKnown:
    connections: list[Connection]
    snapshots: dict[str, ReadSnapshot]  # by connection id; those that read cleanly

    def resources(self) -> list[tuple[Connection, list[Resource]]]:
        """Each connection with cached resources, and those resources."""
        found = []
        for connection in self.connections:
            read = self.snapshots.get(connection.id)
            if read is not None and read.snapshot.resources is not None:
                found.append((connection, read.snapshot.resources))
        return found


def read_last_known(dirs: AppDirs, yield_point: YieldPoint = no_yield) -> LastKnown:
    connections = ConnectionRegistry(dirs.config).peek()
    store = SnapshotStore(dirs.cache, yield_point)
    snapshots = {}
    for connection in connections:
        read = store.peek(connection.id)
        if read is not None:
            snapshots[connection.id] = read
    return LastKnown(connections, snapshots)
