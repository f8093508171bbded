"""The local decision history: every approve, deny, share, narrow and revoke taken here.

SQLite in the data dir (file mode 0600). A decision is written twice: as *sent* before the
request leaves (:meth:`History.begin`), then with its outcome (:meth:`History.settle`), so a
decision cut short by Ctrl-C, a crash or a closed window still shows, as "outcome unknown".
Many decisions at once (a bulk approval) are written as sent in one transaction
(:meth:`History.begin_many`) and settled in a few (:meth:`History.settle_many`). Only a file
that is not a database is kept aside; a database another program holds is *busy*
(HistoryBusyError), and one that cannot be written is unavailable (StorageError) — neither
is ever moved. A row that cannot be read is skipped and counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uma_desktop.app.storage import CorruptFileError, keep_aside
from uma_desktop.domain import Decision
from uma_desktop.errors import HistoryBusyError, StorageError
from uma_desktop.paths import PRIVATE_FILE_MODE

log = logging.getLogger(__name__)

FILE_NAME = "history.sqlite3"
BUSY_TIMEOUT = 10.0  # seconds SQLite keeps retrying while another program holds the file
SENT_NOTE = "sent; the app stopped before the server's answer was recorded"
INTERRUPTED_NOTE = "interrupted; outcome unknown (check the server)"
NOT_SENT_NOTE = "interrupted before it was sent"
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
_INSERT = (
    "INSERT INTO decisions (at, connection_id, action, resource_id, resource_name, party,"
    " scopes, ok, detail, extra, settled) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_UPDATE = (
    "UPDATE decisions SET (at, connection_id, action, resource_id, resource_name, party,"
    " scopes, ok, detail, extra, settled) = (?,?,?,?,?,?,?,?,?,?,?) WHERE id = ?"
)
_SELECT = (
    "SELECT id, at, connection_id, action, resource_id, resource_name, party, scopes, ok,"
    " detail, extra, settled FROM decisions ORDER BY at DESC, id DESC LIMIT ?"
)
# SQLite's primary result codes (extended codes carry them in the low byte).
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


@dataclass(frozen=True)
class HistoryRead:
    """Decisions newest first, and the ids of rows that could not be read (skipped)."""

    decisions: list[Decision]
    skipped: list[int]


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


class _Damaged(Exception):
    """The file is not a usable database (kept aside by ``open``)."""


class History:
    def __init__(self, data_dir: Path, *, busy_timeout: float | None = None) -> None:
        self.path = data_dir / FILE_NAME
        self.busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout

    def _create_private(self) -> None:
        """Create an empty (valid, zero-page) database file 0600 before SQLite opens it."""
        if self.path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        os.close(fd)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction; SQLite errors become our typed errors."""
        try:
            self._create_private()
            db = sqlite3.connect(self.path, timeout=self.busy_timeout)
            # Text that is not UTF-8 is shown with replacement marks rather than failing a read.
            db.text_factory = lambda raw: raw.decode("utf-8", "replace")
        except (OSError, sqlite3.Error) as exc:
            raise self._unavailable(exc) from None
        try:
            with db:
                yield db
        except sqlite3.Error as exc:
            if _code(exc) in _DAMAGED_CODES or type(exc) is sqlite3.DatabaseError:
                raise _Damaged(str(exc)) from None
            raise self._unavailable(exc) from None
        finally:
            db.close()

    def _unavailable(self, exc: OSError | sqlite3.Error) -> StorageError:
        if isinstance(exc, sqlite3.Error) and _code(exc) in _BUSY_CODES:
            return HistoryBusyError(
                f"The decision history at {self.path} is busy: another program has held it "
                f"for more than {self.busy_timeout:g} s. Try again in a moment."
            )
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        return StorageError(f"The decision history at {self.path} cannot be used ({reason}).")

    def open(self) -> None:
        """Create or upgrade the schema; a file that is not a database is kept aside.

        Raises HistoryBusyError or StorageError (nothing moved) when the file is held by
        another program or cannot be written, CorruptFileError after keeping a damaged one.
        """
        try:
            with self._db() as db:
                db.executescript(_SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
                if "settled" not in columns:
                    db.execute(
                        "ALTER TABLE decisions ADD COLUMN settled INTEGER NOT NULL DEFAULT 1"
                    )
                db.execute("SELECT count(*) FROM decisions").fetchone()
        except _Damaged:
            kept = keep_aside(self.path)
            self.open()
            raise CorruptFileError(
                f"The decision history at {self.path} was damaged; it was kept as {kept} "
                "and a new history started.",
                kept_at=kept,
            ) from None

    def _run_many(self, statements: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """Run ``statements`` in one transaction; the row id each one touched."""
        try:
            with self._db() as db:
                return [int(db.execute(sql, values).lastrowid or 0) for sql, values in statements]
        except _Damaged as exc:
            raise StorageError(f"The decision history at {self.path} is damaged ({exc}).") from None

    def _run(self, sql: str, values: tuple[Any, ...]) -> int:
        return self._run_many([(sql, values)])[0]

    @staticmethod
    def _values(decision: Decision) -> tuple[Any, ...]:
        return (
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
            int(decision.settled),
        )

    def record(self, decision: Decision) -> int:
        """Store a whole decision; returns its row id."""
        return self._run(_INSERT, self._values(decision))

    def begin(self, draft: Decision) -> int:
        """Store ``draft`` as sent, outcome not known yet; returns the row for ``settle``."""
        return self.record(_as_sent(draft))

    def begin_many(self, drafts: list[Decision]) -> list[int]:
        """``begin`` for every draft, in one transaction; their rows in the same order."""
        return self._run_many([(_INSERT, self._values(_as_sent(d))) for d in drafts])

    def settle(self, row_id: int | None, decision: Decision) -> None:
        """Replace the sent row with the outcome (insert it when ``begin`` failed)."""
        self.settle_many([(row_id, decision)])

    def settle_many(self, outcomes: list[tuple[int | None, Decision]]) -> None:
        """``settle`` for every (row, outcome) pair, in one transaction."""
        self._run_many(
            [
                (_INSERT, self._values(d)) if row is None else (_UPDATE, (*self._values(d), row))
                for row, d in outcomes
            ]
        )

    def read(self, limit: int = 500) -> HistoryRead:
        """The newest ``limit`` rows; rows that cannot be read are skipped and listed."""
        try:
            with self._db() as db:
                rows = db.execute(_SELECT, (max(0, limit),)).fetchall()
        except _Damaged as exc:
            raise StorageError(f"The decision history at {self.path} is damaged ({exc}).") from None
        decisions, skipped = [], []
        for row in rows:
            try:
                decisions.append(_decision_from_row(row[1:]))
            except (TypeError, ValueError, AttributeError) as exc:
                log.warning("history row %s cannot be read: %s", row[0], exc)
                skipped.append(int(row[0]))
        return HistoryRead(decisions, skipped)

    def recent(self, limit: int = 500) -> list[Decision]:
        """Newest first (unreadable rows left out)."""
        return self.read(limit).decisions


def _as_sent(draft: Decision) -> Decision:
    return replace(draft, ok=False, settled=False, detail=SENT_NOTE)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _decision_from_row(row: tuple[Any, ...]) -> Decision:
    at, connection_id, action, resource_id, resource_name, party = row[:6]
    scopes, ok, detail, extra, settled = row[6:]
    moment = datetime.fromisoformat(_text(at))
    if moment.tzinfo is None:
        raise ValueError("a time without a zone")
    scope_list = json.loads(_text(scopes))
    extra_map = json.loads(_text(extra))
    if not isinstance(scope_list, list) or not all(isinstance(s, str) for s in scope_list):
        raise ValueError("scopes are not a list of text")
    if not isinstance(extra_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra_map.items()
    ):
        raise ValueError("extra is not a map of text")
    if ok not in (0, 1) or settled not in (0, 1):
        raise ValueError("bad flags")
    return Decision(
        connection_id=_text(connection_id),
        action=_text(action),
        resource_id=_text(resource_id),
        resource_name=_text(resource_name),
        party=_text(party),
        scopes=tuple(scope_list),
        at=moment,
        ok=bool(ok),
        detail=_text(detail),
        extra=extra_map,
        settled=bool(settled),
    )
