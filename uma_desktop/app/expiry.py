"""Expiry everywhere: the server's own where it has one, else a due date the app enforces.

A server that declares ``Capability.EXPIRY`` (the sandbox) keeps the date on the share and
stops granting at that moment. For any other server (Keycloak) the app keeps the due date in
``expiry.json`` in the data dir (0600, atomic writes) and revokes the share once it falls
due: in the running window (a timer), at the start of every CLI command (a cheap read of the
file, network only when something is due) and by ``uma-desktop expire --due`` for a
scheduler. Such a share shows "expires (enforced by UMA Desktop)"; the automatic revoke is
in the history as action ``expire``. The clock is a parameter so tests never sleep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uma_desktop.app.control_point import ControlPoint
from uma_desktop.app.history import History
from uma_desktop.app.review_terms import ENFORCED_LABEL as ENFORCED_LABEL
from uma_desktop.app.review_terms import ENFORCER as ENFORCER
from uma_desktop.app.review_terms import Clock as Clock
from uma_desktop.app.review_terms import share_key as share_key
from uma_desktop.app.review_terms import system_clock as system_clock
from uma_desktop.app.storage import read_json, report_corrupt, write_json
from uma_desktop.backends.base import Capability
from uma_desktop.domain import Decision, Resource, Share
from uma_desktop.errors import ConfigurationError, UmaDesktopError

log = logging.getLogger(__name__)

FILE_NAME = "expiry.json"
EXPIRE_ACTION = "expire"
SET_EXPIRY_ACTION = "set-expiry"


def parse_date(text: str) -> datetime:
    """``YYYY-MM-DD`` (the end of that day, UTC) or an ISO date-time (UTC when no zone)."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value)
            return day.replace(hour=23, minute=59, second=59, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"{text!r} is not a date (YYYY-MM-DD) or ISO date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def person_of(share: Share) -> str:
    """What a backend's ``revoke``/``share`` accepts to name the share's person."""
    return share.party.username or share.party.email or share.party.id


@dataclass(frozen=True)
class DueDate:
    """A share the app revokes at ``due`` because its server cannot expire it."""

    connection_id: str
    resource_id: str
    resource_name: str
    party_id: str
    person: str  # username or e-mail, what the backend's revoke accepts
    party_label: str
    due: datetime
    set_at: datetime

    @property
    def key(self) -> str:
        return share_key(self.connection_id, self.resource_id, self.party_id)

    def to_json(self) -> dict[str, str]:
        data = asdict(self)
        data["due"], data["set_at"] = self.due.isoformat(), self.set_at.isoformat()
        return data

    @classmethod
    def from_json(cls, raw: Any) -> DueDate:
        if not isinstance(raw, dict):
            raise ValueError("an entry is not an object")
        texts = {name: raw.get(name) for name in cls.__dataclass_fields__}
        if not all(isinstance(value, str) for value in texts.values()):
            raise ValueError("an entry lacks a field")
        due, set_at = (datetime.fromisoformat(str(texts.pop(n))) for n in ("due", "set_at"))
        if due.tzinfo is None or set_at.tzinfo is None:
            raise ValueError("a time without a zone")
        return cls(due=due, set_at=set_at, **{k: str(v) for k, v in texts.items()})


class ExpiryStore:
    """The due dates the app enforces, one JSON file in the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def _changing(self) -> Any:
        """Held around read-change-write: the window's timer and CLI commands edit the file
        at the same time, and neither may lose the other's entry."""
        from filelock import FileLock

        return FileLock(str(self.path.with_name(FILE_NAME + ".lock")), timeout=30)

    def load(self) -> list[DueDate]:
        """Every kept due date; a damaged file is kept aside (CorruptFileError)."""
        raw = read_json(self.path, "list of expiry dates")
        if raw is None:
            return []
        try:
            if not isinstance(raw, dict) or not isinstance(raw.get("due_dates"), list):
                raise ValueError("no list of due dates")
            return [DueDate.from_json(item) for item in raw["due_dates"]]
        except ValueError as exc:
            raise report_corrupt(self.path, "list of expiry dates", str(exc)) from None

    def save(self, entries: list[DueDate]) -> None:
        ordered = sorted(entries, key=lambda e: (e.due, e.key))
        write_json(self.path, {"version": 1, "due_dates": [e.to_json() for e in ordered]})

    def by_key(self) -> dict[str, DueDate]:
        return {entry.key: entry for entry in self.load()}

    def put(self, entry: DueDate) -> None:
        with self._changing():
            kept = [e for e in self.load() if e.key != entry.key]
            self.save([*kept, entry])

    def drop(self, key: str) -> None:
        self.drop_where(lambda e: e.key == key)

    def drop_where(self, unwanted: Callable[[DueDate], bool]) -> None:
        """Remove every entry ``unwanted`` picks (one locked read-change-write)."""
        with self._changing():
            entries = self.load()
            remaining = [e for e in entries if not unwanted(e)]
            if len(remaining) != len(entries):
                self.save(remaining)

    def due(self, now: datetime) -> list[DueDate]:
        """The entries whose date has come (cheap: reads one small local file)."""
        return [e for e in self.load() if e.due <= now]


def app_kept_due_dates(data_dir: Path, shares: Sequence[Share]) -> dict[str, datetime]:
    """Person id -> the due date the app keeps, for those of ``shares`` that have one (reads
    one small local file; a damaged file is set aside and yields none)."""
    try:
        kept = ExpiryStore(data_dir).by_key()
    except UmaDesktopError as error:
        log.warning("the app-kept expiry dates could not be read: %s", error.user_message)
        return {}
    found = {}
    for share in shares:
        entry = kept.get(share_key(share.connection_id, share.resource_id, share.party.id))
        if entry is not None:
            found[share.party.id] = entry.due
    return found


@dataclass(frozen=True)
class ResourceShares:
    """Who has access to one resource, with the due dates the app enforces on top."""

    shares: list[Share]
    app_kept_due: dict[str, datetime]  # person id -> due date (server has no expiry)


async def shares_with_due_dates(
    control: ControlPoint, connection_id: str, resource_id: str
) -> ResourceShares:
    """The resource's shares from its server and the app's due dates for them (file read
    off the event loop)."""
    shares = await control.shares(connection_id, resource_id)
    due = await asyncio.to_thread(app_kept_due_dates, control.dirs.data, shares)
    return ResourceShares(shares, due)


def natively_expiring(control: ControlPoint, connection_id: str) -> bool:
    """Whether the connection's server keeps expiry itself (its backend is live)."""
    return Capability.EXPIRY in control.capabilities(connection_id)


async def set_expiry(
    control: ControlPoint,
    resource: Resource,
    share: Share,
    when: datetime,
    *,
    clock: Clock = system_clock,
) -> Decision:
    """Make ``share`` end at ``when``: on the server when it can, else kept by the app."""
    now = clock()
    if when <= now:
        raise ConfigurationError("The expiry date is in the past.")
    connection_id = share.connection_id
    store = ExpiryStore(control.dirs.data)
    key = share_key(connection_id, resource.id, share.party.id)
    if natively_expiring(control, connection_id):
        decision = await control.share(
            connection_id,
            resource.id,
            person_of(share),
            share.scopes,
            when,
            action=SET_EXPIRY_ACTION,
            resource_name=resource.name,
        )
        store.drop(key)  # the server keeps it now
        return decision
    entry = DueDate(
        connection_id=connection_id,
        resource_id=resource.id,
        resource_name=resource.name,
        party_id=share.party.id,
        person=person_of(share),
        party_label=share.party.full_label,
        due=when,
        set_at=now,
    )
    store.put(entry)
    decision = Decision(
        connection_id=connection_id,
        action=SET_EXPIRY_ACTION,
        resource_id=resource.id,
        resource_name=resource.name,
        party=share.party.full_label,
        scopes=share.scopes,
        at=now,
        ok=True,
        detail=f"{ENFORCED_LABEL}: revoked by the app after {when.isoformat()}",
        extra={"expires_at": when.isoformat(), "enforced_by": ENFORCER},
    )
    History(control.dirs.data).record(decision)
    return decision


async def share_until(
    control: ControlPoint,
    resource: Resource,
    person: str,
    scopes: Sequence[str],
    when: datetime,
    *,
    clock: Clock = system_clock,
) -> Decision:
    """Share ``resource`` with ``person`` (username or e-mail) until ``when``: the server
    keeps the date when it can; else the share is made and the app keeps its due date."""
    if when <= clock():
        raise ConfigurationError("The expiry date is in the past.")
    connection_id = resource.connection_id
    if natively_expiring(control, connection_id):
        return await control.share(
            connection_id, resource.id, person, scopes, when, resource_name=resource.name
        )
    decision = await control.share(
        connection_id, resource.id, person, scopes, resource_name=resource.name
    )
    wanted = person.strip().casefold()
    made = next(
        (
            share
            for share in await control.shares(connection_id, resource.id)
            if wanted in {(n or "").casefold() for n in (share.party.username, share.party.email)}
            or wanted == share.party.id.casefold()
        ),
        None,
    )
    if made is None:
        raise UmaDesktopError(
            f"Shared with {person}, but the server does not list the share, "
            "so its expiry could not be kept."
        )
    await set_expiry(control, resource, made, when, clock=clock)
    return decision


async def revoke_due(control: ControlPoint, *, clock: Clock = system_clock) -> list[Decision]:
    """Revoke every app-kept share whose due date has come; each lands in the history as
    ``expire``. A failed revoke keeps its due date (tried again next time)."""
    store = ExpiryStore(control.dirs.data)
    now = clock()
    due = store.due(now)
    decisions = []
    for entry in due:
        try:
            decision = await control.revoke(
                entry.connection_id,
                entry.resource_id,
                entry.person,
                action=EXPIRE_ACTION,
                extra={"enforced_by": ENFORCER, "due": entry.due.isoformat()},
                resource_name=entry.resource_name,
            )
        except UmaDesktopError as error:
            log.warning("an expired share could not be revoked yet: %s", error.user_message)
            decisions.append(
                Decision(
                    connection_id=entry.connection_id,
                    action=EXPIRE_ACTION,
                    resource_id=entry.resource_id,
                    resource_name=entry.resource_name,
                    party=entry.party_label,
                    scopes=(),
                    at=clock(),
                    ok=False,
                    detail=error.user_message,
                )
            )
            continue
        store.drop(entry.key)
        decisions.append(decision)
    return decisions


def forget(control: ControlPoint, share: Share) -> None:
    """Drop an app-kept due date (the share was revoked by hand)."""
    ExpiryStore(control.dirs.data).drop(
        share_key(share.connection_id, share.resource_id, share.party.id)
    )


def forget_person(control: ControlPoint, connection_id: str, resource_id: str, person: str) -> None:
    """Drop the app-kept due date of ``person`` (as typed: username, e-mail or id) on a resource
    whose access was taken away by name (the CLI's ``revoke``)."""
    wanted = person.strip().casefold()
    ExpiryStore(control.dirs.data).drop_where(
        lambda e: (
            (e.connection_id, e.resource_id) == (connection_id, resource_id)
            and wanted in {e.person.casefold(), e.party_id.casefold()}
        )
    )


async def revoke_share(control: ControlPoint, share: Share) -> Decision:
    """Take all access away from the share's person and drop any due date the app kept for
    it (else a later share with the same person would inherit the old date)."""
    decision = await control.revoke(share.connection_id, share.resource_id, person_of(share))
    if decision.ok:
        await asyncio.to_thread(forget, control, share)
    return decision
