"""The sandbox's state in SQLite (stdlib sqlite3, one connection guarded by a lock).

Credentials the server hands out (codes, tickets, refresh tokens, PCTs, device codes,
interaction ids) are stored only as SHA-256 hashes. Everything survives a restart.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    sub TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT UNIQUE, name TEXT,
    password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, name TEXT NOT NULL, secret TEXT, kind TEXT NOT NULL,
    redirect_uris TEXT NOT NULL, claims_redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL, scopes TEXT NOT NULL, rs_name TEXT);
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY, owner_sub TEXT NOT NULL, rs_client_id TEXT NOT NULL,
    name TEXT, type TEXT, description TEXT, icon_uri TEXT, scopes TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}', content TEXT, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS resources_owner ON resources (owner_sub, name);
CREATE INDEX IF NOT EXISTS resources_rs ON resources (rs_client_id, owner_sub);
CREATE TABLE IF NOT EXISTS policies (
    id TEXT PRIMARY KEY, resource_id TEXT NOT NULL, sub TEXT NOT NULL, scopes TEXT NOT NULL,
    required_claims TEXT NOT NULL DEFAULT '[]', expires_at INTEGER, created_at REAL NOT NULL,
    UNIQUE (resource_id, sub));
CREATE INDEX IF NOT EXISTS policies_sub ON policies (sub);
CREATE TABLE IF NOT EXISTS denials (
    resource_id TEXT NOT NULL, sub TEXT NOT NULL, scope TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (resource_id, sub, scope));
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY, resource_id TEXT NOT NULL, owner_sub TEXT NOT NULL,
    requester_sub TEXT NOT NULL, client_id TEXT, scopes TEXT NOT NULL,
    requested_at REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending', decided_at REAL);
CREATE INDEX IF NOT EXISTS pending_owner ON pending (owner_sub, status);
CREATE TABLE IF NOT EXISTS history (
    id TEXT PRIMARY KEY, owner_sub TEXT NOT NULL, at REAL NOT NULL, action TEXT NOT NULL,
    resource_id TEXT NOT NULL, resource_name TEXT, sub TEXT, scopes TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_owner ON history (owner_sub, at);
CREATE TABLE IF NOT EXISTS tickets (
    hash TEXT PRIMARY KEY, owner_sub TEXT NOT NULL, rs_client_id TEXT NOT NULL,
    permissions TEXT NOT NULL, exp REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0,
    rqp_sub TEXT, client_id TEXT, pending_id TEXT);
CREATE TABLE IF NOT EXISTS auth_codes (
    hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    sub TEXT NOT NULL, scope TEXT NOT NULL, code_challenge TEXT NOT NULL, nonce TEXT,
    exp REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0, family TEXT);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash TEXT PRIMARY KEY, family TEXT NOT NULL, client_id TEXT NOT NULL, sub TEXT NOT NULL,
    scope TEXT NOT NULL, permissions TEXT, exp REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS refresh_family ON refresh_tokens (family);
CREATE TABLE IF NOT EXISTS access_tokens (
    jti TEXT PRIMARY KEY, kind TEXT NOT NULL, family TEXT, client_id TEXT NOT NULL,
    sub TEXT NOT NULL, scope TEXT NOT NULL, permissions TEXT, exp REAL NOT NULL,
    iat REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS access_sub ON access_tokens (sub, kind);
CREATE INDEX IF NOT EXISTS access_family ON access_tokens (family);
CREATE TABLE IF NOT EXISTS device_codes (
    hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
    scope TEXT NOT NULL, exp REAL NOT NULL, status TEXT NOT NULL, sub TEXT,
    interval INTEGER NOT NULL, last_poll REAL);
CREATE TABLE IF NOT EXISTS pcts (
    hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, sub TEXT NOT NULL, exp REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS interactions (
    hash TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, exp REAL NOT NULL);
CREATE INDEX IF NOT EXISTS pending_requester ON pending (requester_sub);
CREATE INDEX IF NOT EXISTS pending_resource ON pending (resource_id);
CREATE TABLE IF NOT EXISTS support_audit (
    id TEXT PRIMARY KEY, rs_client_id TEXT NOT NULL, at REAL NOT NULL, action TEXT NOT NULL,
    target_id TEXT NOT NULL, resource_id TEXT NOT NULL, owner_sub TEXT NOT NULL, sub TEXT,
    scopes TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS support_audit_rs ON support_audit (rs_client_id, at);
CREATE TABLE IF NOT EXISTS demo_rs_grants (
    rs_client_id TEXT NOT NULL, owner_sub TEXT NOT NULL, refresh_token TEXT NOT NULL,
    PRIMARY KEY (rs_client_id, owner_sub));
"""

Row = dict[str, Any]


def digest(value: str) -> str:
    """The stored form of a credential: its SHA-256 hex digest."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Clock:
    """Wall-clock time plus an offset tests can advance (expiry without sleeping)."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self.offset = 0.0

    def now(self) -> float:
        return self._source() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Store:
    """Thread-safe access to the sandbox database. Schema is created on open."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        target = str(path) if path is not None else ":memory:"
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Run several statements atomically (re-entrant: nested calls join the outer one)."""
        with self._lock:
            if self._db.in_transaction:
                yield self
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.transaction():
            self._db.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # meta

    def get_meta(self, key: str) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
