"""The local decision history: every approve, deny, share, narrow and revoke taken here.

SQLite in the data dir. A damaged database is kept aside and a new one started.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from uma_desktop.app.storage import CorruptFileError, keep_aside
from uma_desktop.domain import Decision

FILE_NAME = "history.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    party TEXT NOT NULL,
    scopes TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions (at);
"""


class History:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def open(self) -> None:
        """Create the schema; a file that is not a usable database is kept aside."""
        try:
            with self._db() as db:
                db.executescript(_SCHEMA)
                db.execute("SELECT count(*) FROM decisions").fetchone()
        except sqlite3.DatabaseError:
            kept = keep_aside(self.path)
            with self._db() as db:
                db.executescript(_SCHEMA)
            raise CorruptFileError(
                f"The decision history at {self.path} was damaged; it was kept as {kept} "
                "and a new history started.",
                kept_at=kept,
            ) from None

    def record(self, decision: Decision) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO decisions (at, connection_id, action, resource_id, resource_name,"
                " party, scopes, ok, detail, extra) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    decision.at.astimezone(UTC).isoformat(),
                    decision.connection_id,
                    decision.action,
                    decision.resource_id,
                    decision.resource_name,
                    decision.party,
                    json.dumps(list(decision.scopes)),
                    int(decision.ok),
                    decision.detail,
                    json.dumps(decision.extra),
                ),
            )

    def recent(self, limit: int = 500) -> list[Decision]:
        """Newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT at, connection_id, action, resource_id, resource_name, party, scopes,"
                " ok, detail, extra FROM decisions ORDER BY at DESC, id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [
            Decision(
                connection_id=row[1],
                action=row[2],
                resource_id=row[3],
                resource_name=row[4],
                party=row[5],
                scopes=tuple(json.loads(row[6])),
                at=datetime.fromisoformat(row[0]),
                ok=bool(row[7]),
                detail=row[8],
                extra=dict(json.loads(row[9])),
            )
            for row in rows
        ]
