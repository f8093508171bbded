"""The list of connections, as JSON in the config dir. No secrets: tokens live in the vault.

A connection id names files (its snapshot) and appears in commands, so it is checked
wherever one comes in: letters, digits, ``-`` and ``_`` only. An entry of the file that is
not usable is moved to a ``connections.json.rejected-<time>`` file next to it; the others
stay. Memory changes only after the file was written, so a failed save leaves no trace.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from uma_desktop.app.storage import read_json, report_corrupt, set_aside_stamp, write_json
from uma_desktop.domain import BackendKind, Connection
from uma_desktop.errors import ConfigurationError, StorageError

FILE_NAME = "connections.json"
FORMAT_VERSION = 1
_SLUG = re.compile(r"[^a-z0-9]+")
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")


def is_valid_connection_id(text: str) -> bool:
    return _VALID_ID.fullmatch(text) is not None


def check_connection_id(text: str) -> str:
    """``text`` when it can be a connection id; ConfigurationError otherwise."""
    if not is_valid_connection_id(text):
        raise ConfigurationError(
            f"{text!r} is not a connection id (letters, digits, - and _ only; "
            "see `uma-desktop connections list`)."
        )
    return text


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
    if not is_valid_connection_id(item["id"]):
        raise ValueError(f"the id {item['id']!r} is not a valid connection id")
    optional = {name: item.get(name) for name in ("username", "subject")}
    for name, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"an entry has a bad {name}")
    try:
        kind_value = BackendKind(item["kind"])
    except ValueError:
        raise ValueError(f"the entry {item['id']!r} has an unknown kind") from None
    return Connection(
        id=item["id"],
        issuer=item["issuer"],
        kind=kind_value,
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

    def load(self) -> list[str]:
        """Read the file; returns a note when unusable entries were set aside.

        A file that is not a list of connections at all is kept aside whole and
        CorruptFileError raised (list empty).
        """
        self._connections = {}
        data = read_json(self.path, "list of connections")
        if data is None:
            return []
        if not isinstance(data, dict) or not isinstance(data.get("connections"), list):
            raise report_corrupt(self.path, "list of connections", "no connection list")
        loaded: dict[str, Connection] = {}
        rejected: list[dict[str, Any]] = []
        for position, item in enumerate(data["connections"], start=1):
            try:
                connection = _connection_from_json(item)
                if connection.id in loaded:
                    raise ValueError(f"the id {connection.id!r} is used twice")
            except ValueError as exc:
                rejected.append({"entry": position, "reason": str(exc), "content": item})
                continue
            loaded[connection.id] = connection
        self._connections = loaded
        return [self._set_aside(rejected)] if rejected else []

    def peek(self) -> list[Connection]:
        """The connections in the file as they read now, changing nothing: an unreadable
        file or entry is simply left out (``load`` reports and sets it aside)."""
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return []
        items = data.get("connections") if isinstance(data, dict) else None
        found: dict[str, Connection] = {}
        for item in items if isinstance(items, list) else []:
            try:
                connection = _connection_from_json(item)
            except ValueError:
                continue
            found.setdefault(connection.id, connection)
        return list(found.values())

    def _set_aside(self, rejected: list[dict[str, Any]]) -> str:
        """Move unusable entries to a ``.rejected-<time>`` file; the human note saying so."""
        reasons = "; ".join(f"entry {r['entry']}: {r['reason']}" for r in rejected)
        count = f"{len(rejected)} entr{'y' if len(rejected) == 1 else 'ies'}"
        kept = len(self._connections)
        target = self.path.with_name(f"{self.path.name}.rejected-{set_aside_stamp()}")
        try:
            write_json(target, {"version": FORMAT_VERSION, "rejected": rejected})
            self._write(self._connections)
        except StorageError as exc:
            return (
                f"{count} of the list of connections at {self.path} could not be used "
                f"({reasons}) and could not be set aside: {exc.user_message} "
                f"The other {kept} connection(s) are shown."
            )
        return (
            f"{count} of the list of connections at {self.path} could not be used "
            f"({reasons}) and {'was' if len(rejected) == 1 else 'were'} set aside in "
            f"{target}. The other {kept} connection(s) are kept."
        )

    def _write(self, connections: dict[str, Connection]) -> None:
        items = []
        for connection in connections.values():
            item = asdict(connection)
            item["kind"] = connection.kind.value
            items.append(item)
        write_json(self.path, {"version": FORMAT_VERSION, "connections": items})

    def save(self) -> None:
        self._write(self._connections)

    def all(self) -> list[Connection]:
        return list(self._connections.values())

    def get(self, connection_id: str) -> Connection:
        check_connection_id(connection_id)
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

    def _commit(self, connections: dict[str, Connection]) -> None:
        """Write first, then change memory: a failed write (StorageError) changes nothing."""
        self._write(connections)
        self._connections = connections

    def add(self, connection: Connection) -> None:
        check_connection_id(connection.id)
        if connection.id in self._connections:
            raise ConfigurationError(f"A connection called {connection.id!r} already exists.")
        self._commit({**self._connections, connection.id: connection})

    def update(self, connection: Connection, **changes: Any) -> Connection:
        updated = replace(connection, **changes)
        self._commit({**self._connections, connection.id: updated})
        return updated

    def remove(self, connection_id: str) -> Connection:
        connection = self.get(connection_id)
        self._commit({k: v for k, v in self._connections.items() if k != connection_id})
        return connection
