"""The list of connections, as JSON in the config dir. No secrets: tokens live in the vault."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from uma_desktop.app.storage import read_json, report_corrupt, write_json
from uma_desktop.domain import BackendKind, Connection
from uma_desktop.errors import ConfigurationError

FILE_NAME = "connections.json"
FORMAT_VERSION = 1
_SLUG = re.compile(r"[^a-z0-9]+")


def _connection_from_json(item: Any) -> Connection:
    if not isinstance(item, dict):
        raise ValueError("an entry is not an object")
    fields = {
        "id": str,
        "issuer": str,
        "kind": str,
        "client_id": str,
        "display_name": str,
    }
    for name, kind in fields.items():
        if not isinstance(item.get(name), kind):
            raise ValueError(f"an entry lacks {name}")
    optional = {name: item.get(name) for name in ("username", "subject")}
    for name, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"an entry has a bad {name}")
    return Connection(
        id=item["id"],
        issuer=item["issuer"],
        kind=BackendKind(item["kind"]),
        client_id=item["client_id"],
        display_name=item["display_name"],
        username=optional["username"],
        subject=optional["subject"],
        remember=bool(item.get("remember", True)),
    )


class ConnectionRegistry:
    """Ordered connections, persisted atomically on every change."""

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / FILE_NAME
        self._connections: dict[str, Connection] = {}

    def load(self) -> None:
        """Read the file; a damaged one is kept aside and CorruptFileError raised (list empty)."""
        self._connections = {}
        data = read_json(self.path, "list of connections")
        if data is None:
            return
        try:
            if not isinstance(data, dict) or not isinstance(data.get("connections"), list):
                raise ValueError("no connection list")
            loaded = [_connection_from_json(item) for item in data["connections"]]
        except ValueError as exc:
            raise report_corrupt(self.path, "list of connections", str(exc)) from None
        self._connections = {c.id: c for c in loaded}

    def save(self) -> None:
        items = []
        for connection in self._connections.values():
            item = asdict(connection)
            item["kind"] = connection.kind.value
            items.append(item)
        write_json(self.path, {"version": FORMAT_VERSION, "connections": items})

    def all(self) -> list[Connection]:
        return list(self._connections.values())

    def get(self, connection_id: str) -> Connection:
        try:
            return self._connections[connection_id]
        except KeyError:
            known = ", ".join(self._connections) or "none yet"
            raise ConfigurationError(
                f"No connection called {connection_id!r} (known: {known})."
            ) from None

    def __contains__(self, connection_id: object) -> bool:
        return connection_id in self._connections

    def new_id(self, hint: str) -> str:
        """A short readable id (letters, digits, dashes; never ':') not used yet."""
        base = _SLUG.sub("-", hint.lower()).strip("-")[:40].strip("-") or "server"
        candidate, n = base, 2
        while candidate in self._connections:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def add(self, connection: Connection) -> None:
        if connection.id in self._connections:
            raise ConfigurationError(f"A connection called {connection.id!r} already exists.")
        self._connections[connection.id] = connection
        self.save()

    def update(self, connection: Connection, **changes: Any) -> Connection:
        updated = replace(connection, **changes)
        self._connections[connection.id] = updated
        self.save()
        return updated

    def remove(self, connection_id: str) -> Connection:
        connection = self.get(connection_id)
        del self._connections[connection_id]
        self.save()
        return connection
