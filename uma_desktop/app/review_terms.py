"""The words of an access review, with no I/O: what the window shows before the core loads.

Flags a reviewer cares about, the outcome of each share, the settings, one item under review
and the summary at the end. ``app.review`` runs reviews with them; the window's review page
draws them (it is built before the core has loaded, so this module imports nothing heavy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from uma_desktop.domain import Resource, Share
from uma_desktop.errors import ConfigurationError

ENFORCED_LABEL = "expires (enforced by UMA Desktop)"
ENFORCER = "UMA Desktop"

Clock = Callable[[], datetime]  # injected where tests move time


def system_clock() -> datetime:
    return datetime.now(UTC)


def share_key(connection_id: str, resource_id: str, party_id: str) -> str:
    """One share across servers: connection, resource and person (NUL cannot occur in ids)."""
    return f"{connection_id}\0{resource_id}\0{party_id}"


class Flag(StrEnum):
    NO_EXPIRY = "no-expiry"
    OLD = "old"
    ALL_SCOPES = "all-scopes"
    UNSEEN = "unseen"


FLAG_LABELS = {
    Flag.NO_EXPIRY: "no expiry",
    Flag.OLD: "old",
    Flag.ALL_SCOPES: "all scopes",
    Flag.UNSEEN: "person not seen",
}


class Outcome(StrEnum):
    KEPT = "kept"
    REVOKED = "revoked"
    NARROWED = "narrowed"
    EXPIRY_SET = "expiry-set"


@dataclass(frozen=True)
class ReviewSettings:
    older_than_days: int = 180
    unseen_days: int = 180
    interval_days: int = 90  # the reminder comes when the last review is older than this

    def checked(self) -> ReviewSettings:
        for name in ("older_than_days", "unseen_days", "interval_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 36500:
                raise ConfigurationError(f"{name.replace('_', ' ')} must be 1 to 36500 days.")
        return self


@dataclass(frozen=True)
class ReviewItem:
    """One share under review, with what the reviewer needs to decide."""

    id: str  # short and stable: the same share keeps it across loads and restarts
    server: str
    resource: Resource
    share: Share
    flags: frozenset[Flag]
    last_decision: datetime | None
    enforced_expiry: datetime | None = None  # a due date the app keeps (server has none)
    outcome: Outcome | None = None

    @property
    def key(self) -> str:
        return share_key(self.share.connection_id, self.resource.id, self.share.party.id)

    @property
    def expires_at(self) -> datetime | None:
        return self.share.expires_at or self.enforced_expiry

    @property
    def expiry_text(self) -> str:
        if self.share.expires_at is not None:
            return f"expires {_day(self.share.expires_at)}"
        if self.enforced_expiry is not None:
            return f"{ENFORCED_LABEL} {_day(self.enforced_expiry)}"
        return ""

    @property
    def flag_text(self) -> str:
        return ", ".join(FLAG_LABELS[f] for f in Flag if f in self.flags)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def item_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Summary:
    started_at: datetime
    finished_at: datetime
    total: int
    counts: dict[str, int]

    @property
    def reviewed(self) -> int:
        return sum(self.counts.values())

    def text(self) -> str:
        parts = [f"{n} {o}" for o, n in sorted(self.counts.items())] or ["nothing changed"]
        return (
            f"Review finished: {self.reviewed} of {self.total} shares reviewed "
            f"({', '.join(parts)})."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "total": self.total,
            "counts": dict(self.counts),
        }
