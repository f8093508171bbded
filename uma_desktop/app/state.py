"""What the ControlPoint reports: per-connection status, per-connection results, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from uma_desktop.backends.base import Capability
from uma_desktop.domain import AccessRequest, Connection
from uma_desktop.errors import UmaDesktopError

T = TypeVar("T")


class ConnectionStatus(StrEnum):
    OK = "ok"
    STALE = "stale"  # the server is unreachable; data shown is the last-known snapshot
    ERROR = "error"  # the server answered with something unusable, or failed otherwise
    LOGIN_NEEDED = "login_needed"
    LOADING = "loading"
    # A login is kept on this machine; no server was asked yet in this process (the CLI).
    LOGGED_IN = "logged_in"


@dataclass(frozen=True)
class ConnectionState:
    connection: Connection
    status: ConnectionStatus
    message: str = ""  # human text for error / stale / login needed
    capabilities: frozenset[Capability] = frozenset()
    last_success: datetime | None = None


@dataclass(frozen=True)
class PerConnection(Generic[T]):
    """One server's part of a fan-out result: data, or a typed error (or both when stale)."""

    connection_id: str
    value: T | None
    error: UmaDesktopError | None = None
    stale: bool = False  # value comes from the last-known snapshot
    cut_short: str = ""  # why the server's listing was not read to its end (empty: it was)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Event:
    """Base of everything a ControlPoint tells its listeners."""


@dataclass(frozen=True)
class StatusChanged(Event):
    state: ConnectionState


@dataclass(frozen=True)
class RequestsChanged(Event):
    """The set of pending requests changed (after a decision or a poll)."""


@dataclass(frozen=True)
class NewRequests(Event):
    """Pending requests seen for the first time by this ControlPoint."""

    requests: list[AccessRequest] = field(default_factory=list)


@dataclass(frozen=True)
class DataChanged(Event):
    """Resources or shares of one connection changed (after a write or a reload)."""

    connection_id: str


@dataclass(frozen=True)
class ConnectionsChanged(Event):
    """A connection was added or removed."""
