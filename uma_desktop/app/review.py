"""Access review: every share of every owner connection, flagged, kept or changed, resumable.

A review is a session over the shares read from all connections at once
(``ControlPoint.all_shares``). Each share gets flags a reviewer cares about (no expiry, older
than N days, every scope of the resource granted, person not seen in any decision for N
days) and one outcome: kept, revoked, narrowed or given an expiry. Progress lives in
``review.json`` in the data dir (0600, atomic writes), so a review left half-way resumes
after a restart; finishing it stores a summary and the date the reminder counts from.
Every action lands in the history (Keep as a local ``keep`` decision).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from uma_desktop.app.control_point import SHARE_SCAN_PARALLEL, ControlPoint, RevokeTarget
from uma_desktop.app.expiry import Clock, ExpiryStore, person_of, set_expiry, system_clock
from uma_desktop.app.history import History
from uma_desktop.app.review_terms import FLAG_LABELS as FLAG_LABELS
from uma_desktop.app.review_terms import Flag as Flag
from uma_desktop.app.review_terms import Outcome as Outcome
from uma_desktop.app.review_terms import ReviewItem as ReviewItem
from uma_desktop.app.review_terms import ReviewSettings as ReviewSettings
from uma_desktop.app.review_terms import Summary as Summary
from uma_desktop.app.review_terms import item_id, share_key
from uma_desktop.app.state import PerConnection
from uma_desktop.app.storage import read_json, report_corrupt, write_json
from uma_desktop.domain import Decision, Resource, Share
from uma_desktop.errors import ConfigurationError, NotFoundError, UmaDesktopError
from uma_desktop.foreground import yield_to_foreground

FILE_NAME = "review.json"
HISTORY_SCAN = 100_000  # decisions read to find when a person was last seen
BUILD_YIELD_EVERY = 200  # items flagged between yields to the window
ACTION_PARALLEL = 16  # review actions in flight at once (the ControlPoint gates per server)


@dataclass
class ReviewState:
    """What ``review.json`` keeps: settings, the open session, the last finished review."""

    settings: ReviewSettings = field(default_factory=ReviewSettings)
    started_at: datetime | None = None  # None: no review in progress
    done: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> outcome, id, at
    last_completed: datetime | None = None
    last_summary: Summary | None = None


def _time(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError("a time without a zone")
    return moment


class ReviewStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> ReviewState:
        raw = read_json(self.path, "access review")
        if raw is None:
            return ReviewState()
        try:
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            settings = ReviewSettings(**raw.get("settings", {})).checked()
            done = raw.get("done", {})
            if not isinstance(done, dict) or not all(
                isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
                for v in done.values()
            ):
                raise ValueError("progress is not a map")
            summary_raw = raw.get("last_summary")
            summary = None
            if isinstance(summary_raw, dict):
                summary = Summary(
                    started_at=_time(summary_raw["started_at"]) or datetime.now(UTC),
                    finished_at=_time(summary_raw["finished_at"]) or datetime.now(UTC),
                    total=int(summary_raw["total"]),
                    counts={str(k): int(v) for k, v in dict(summary_raw["counts"]).items()},
                )
            return ReviewState(
                settings=settings,
                started_at=_time(raw.get("started_at")),
                done=done,
                last_completed=_time(raw.get("last_completed")),
                last_summary=summary,
            )
        except (ValueError, TypeError, KeyError, ConfigurationError) as exc:
            raise report_corrupt(self.path, "access review", str(exc)) from None

    def save(self, state: ReviewState) -> None:
        write_json(
            self.path,
            {
                "version": 1,
                "settings": {
                    "older_than_days": state.settings.older_than_days,
                    "unseen_days": state.settings.unseen_days,
                    "interval_days": state.settings.interval_days,
                },
                "started_at": state.started_at.isoformat() if state.started_at else None,
                "done": state.done,
                "last_completed": (
                    state.last_completed.isoformat() if state.last_completed else None
                ),
                "last_summary": state.last_summary.to_json() if state.last_summary else None,
            },
        )


async def collect_shares(
    control: ControlPoint, *, parallel: int = SHARE_SCAN_PARALLEL
) -> list[PerConnection[list[tuple[Resource, Share]]]]:
    """Every share of every resource on every connection, ``parallel`` reads at a time per
    server, each read under the ControlPoint's own timeout (a big account is never cut off
    by one deadline for the whole scan). A connection whose resources cannot be listed, or
    one of whose resources cannot be read, carries that error (with what was read)."""

    async def one(connection_id: str) -> PerConnection[list[tuple[Resource, Share]]]:
        [listed] = await control.resources(connection_id=connection_id)
        if listed.error is not None and not listed.value:
            return PerConnection(connection_id, None, listed.error)
        gate = asyncio.Semaphore(parallel)
        errors: list[UmaDesktopError] = [listed.error] if listed.error is not None else []

        async def of(resource: Resource) -> list[tuple[Resource, Share]]:
            if resource.share_count == 0:
                return []
            async with gate:
                try:
                    return [(resource, s) for s in await control.shares(connection_id, resource.id)]
                except UmaDesktopError as error:
                    errors.append(error)
                    return []

        groups = await asyncio.gather(*(of(r) for r in listed.value or []))
        pairs = [pair for group in groups for pair in group]
        return PerConnection(
            connection_id, pairs, errors[0] if errors else None, stale=bool(errors)
        )

    ids = [state.connection.id for state in control.connections()]
    return list(await asyncio.gather(*(one(i) for i in ids)))


def review_due(state: ReviewState, now: datetime) -> bool:
    """Whether the reminder should show: no finished review, or the last one is too old."""
    if state.last_completed is None:
        return True
    return now - state.last_completed > timedelta(days=state.settings.interval_days)


def _last_seen(decisions: Iterable[Decision]) -> dict[tuple[str, str], datetime]:
    """(connection, person label) -> newest decision about that person."""
    seen: dict[tuple[str, str], datetime] = {}
    for decision in decisions:
        key = (decision.connection_id, decision.party)
        if key not in seen or decision.at > seen[key]:
            seen[key] = decision.at
    return seen


def flags_of(
    resource: Resource,
    share: Share,
    *,
    settings: ReviewSettings,
    last_decision: datetime | None,
    enforced_expiry: datetime | None,
    now: datetime,
) -> frozenset[Flag]:
    flags = set()
    if share.expires_at is None and enforced_expiry is None:
        flags.add(Flag.NO_EXPIRY)
    if share.granted_at is not None and now - share.granted_at > timedelta(
        days=settings.older_than_days
    ):
        flags.add(Flag.OLD)
    if resource.scopes and set(resource.scopes) <= set(share.scopes):
        flags.add(Flag.ALL_SCOPES)
    seen = max((t for t in (last_decision, share.granted_at) if t is not None), default=None)
    if seen is None or now - seen > timedelta(days=settings.unseen_days):
        flags.add(Flag.UNSEEN)
    return frozenset(flags)


@dataclass(frozen=True)
class ActionResult:
    item: ReviewItem
    decision: Decision | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class ReviewSession:
    """The review over every owner connection (async; one per window or CLI command)."""

    def __init__(self, control: ControlPoint, *, clock: Clock = system_clock) -> None:
        self.control = control
        self.clock = clock
        self.store = ReviewStore(control.dirs.data)
        self.state = self.store.load()
        self.items: list[ReviewItem] = []
        self._position: dict[str, int] | None = None  # item key -> index in ``items``
        self.failures: list[PerConnection[Any]] = []  # connections that could not be read

    # -- reading -----------------------------------------------------------------------

    async def load(self) -> list[ReviewItem]:
        """Read every share everywhere and flag it; opens a session when none is open."""
        results = await collect_shares(self.control)
        history = await asyncio.to_thread(self._history)
        due_dates = await asyncio.to_thread(ExpiryStore(self.control.dirs.data).by_key)
        names = {s.connection.id: s.connection.display_name for s in self.control.connections()}
        self.failures = [r for r in results if r.error is not None]
        self.items = self.build(results, names, history, due_dates)
        self._position = None
        if self.state.started_at is None:
            self.state.started_at = self.clock()
            self.state.done = {}
            self._save()
        return self.items

    def _history(self) -> list[Decision]:
        try:
            return self.control.history(HISTORY_SCAN)
        except UmaDesktopError:
            return []  # flags only lose "not seen"; the history problem is noted elsewhere

    def build(
        self,
        results: Sequence[PerConnection[list[tuple[Resource, Share]]]],
        names: dict[str, str],
        history: Iterable[Decision],
        due_dates: dict[str, Any],
    ) -> list[ReviewItem]:
        now = self.clock()
        seen = _last_seen(history)
        items = []
        for result in results:
            for number, (resource, share) in enumerate(result.value or []):
                if number % BUILD_YIELD_EVERY == 0:
                    yield_to_foreground()  # the window paints first (a no-op without one)
                party = share.party
                last = max(
                    (
                        seen[(share.connection_id, label)]
                        for label in {party.full_label, party.label, party.username, party.id}
                        if label and (share.connection_id, label) in seen
                    ),
                    default=None,
                )
                key = share_key(share.connection_id, resource.id, party.id)
                due = due_dates.get(key)
                enforced = due.due if due is not None else None
                done = self.state.done.get(key)
                items.append(
                    ReviewItem(
                        id=item_id(key),
                        server=names.get(share.connection_id, share.connection_id),
                        resource=resource,
                        share=share,
                        flags=flags_of(
                            resource,
                            share,
                            settings=self.state.settings,
                            last_decision=last,
                            enforced_expiry=enforced,
                            now=now,
                        ),
                        last_decision=last,
                        enforced_expiry=enforced,
                        outcome=Outcome(done["outcome"]) if done else None,
                    )
                )
        items.sort(
            key=lambda i: (
                i.server.casefold(),
                i.resource.name.casefold(),
                i.share.party.label.casefold(),
            )
        )
        return items

    # -- progress ----------------------------------------------------------------------

    @property
    def in_progress(self) -> bool:
        return self.state.started_at is not None

    def progress(self) -> tuple[int, int]:
        """(reviewed, total): shares revoked during the session still count in both."""
        listed = {item.key for item in self.items}
        gone = [k for k in self.state.done if k not in listed]
        reviewed = sum(1 for item in self.items if item.key in self.state.done) + len(gone)
        return reviewed, len(self.items) + len(gone)

    def progress_text(self) -> str:
        reviewed, total = self.progress()
        return f"{reviewed} of {total} reviewed"

    def find(self, ids: Iterable[str]) -> list[ReviewItem]:
        """Items by id (as ``uma-desktop review`` prints them); NotFoundError names the unknown."""
        by_id = {item.id: item for item in self.items}
        wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
        unknown = [i for i in wanted if i not in by_id]
        if unknown:
            raise NotFoundError(f"No share under review has the id {', '.join(unknown)}.")
        if not wanted:
            raise ConfigurationError("Name at least one share (its review id).")
        return [by_id[i] for i in wanted]

    def _mark(self, item: ReviewItem, outcome: Outcome) -> ReviewItem:
        if self.state.started_at is None:
            self.state.started_at = self.clock()
        self.state.done[item.key] = {
            "outcome": outcome.value,
            "id": item.id,
            "at": self.clock().isoformat(),
        }
        updated = replace(item, outcome=outcome)
        if self._position is None or len(self._position) != len(self.items):
            self._position = {i.key: n for n, i in enumerate(self.items)}
        position = self._position.get(item.key)
        if position is not None:
            self.items[position] = updated
        return updated

    def _save(self) -> None:
        self.store.save(self.state)

    # -- actions -----------------------------------------------------------------------

    async def _each(
        self,
        items: Sequence[ReviewItem],
        act: Any,
        outcome: Outcome,
    ) -> list[ActionResult]:
        gate = asyncio.Semaphore(ACTION_PARALLEL)

        async def one(item: ReviewItem) -> ActionResult:
            async with gate:
                try:
                    decision = await act(item)
                except UmaDesktopError as error:
                    return ActionResult(item, None, error.user_message)
            return ActionResult(self._mark(item, outcome), decision)

        results = list(await asyncio.gather(*(one(i) for i in items)))
        await asyncio.to_thread(self._save)
        return results

    async def keep(self, items: Sequence[ReviewItem]) -> list[ActionResult]:
        """Mark as reviewed, nothing changes on the server; ``keep`` decisions in the history
        (one transaction for the whole selection)."""
        decisions = [
            Decision(
                connection_id=item.share.connection_id,
                action="keep",
                resource_id=item.resource.id,
                resource_name=item.resource.name,
                party=item.share.party.full_label,
                scopes=item.share.scopes,
                at=self.clock(),
                ok=True,
                detail="reviewed and kept",
            )
            for item in items
        ]
        history = History(self.control.dirs.data)
        await asyncio.to_thread(history.settle_many, [(None, d) for d in decisions])
        results = [
            ActionResult(self._mark(item, Outcome.KEPT), decision)
            for item, decision in zip(items, decisions, strict=True)
        ]
        await asyncio.to_thread(self._save)
        return results

    async def _revoke_many(
        self, items: Sequence[ReviewItem], scopes_of: Callable[[ReviewItem], tuple[str, ...] | None]
    ) -> list[ActionResult]:
        """Revoke or narrow in one ``ControlPoint.revoke_many`` (history in two transactions)."""
        targets = [
            RevokeTarget(
                connection_id=item.share.connection_id,
                resource_id=item.resource.id,
                person=person_of(item.share),
                party_label=item.share.party.full_label,
                resource_name=item.resource.name,
                scopes=scopes_of(item),
            )
            for item in items
        ]
        decisions = await self.control.revoke_many(targets)
        results = []
        for item, decision in zip(items, decisions, strict=True):
            if decision.ok:
                outcome = Outcome.REVOKED if decision.action == "revoke" else Outcome.NARROWED
                results.append(ActionResult(self._mark(item, outcome), decision))
            else:
                results.append(ActionResult(item, decision, decision.detail or "failed"))
        await asyncio.to_thread(self._after_revoke, [r.item for r in results if r.ok])
        return results

    def _after_revoke(self, items: Sequence[ReviewItem]) -> None:
        store = ExpiryStore(self.control.dirs.data)
        revoked = {i.key for i in items if i.outcome is Outcome.REVOKED}
        if revoked and any(e.key in revoked for e in store.load()):
            store.save([e for e in store.load() if e.key not in revoked])
        self._save()

    async def revoke(self, items: Sequence[ReviewItem]) -> list[ActionResult]:
        return await self._revoke_many(items, lambda _item: None)

    async def narrow(
        self, items: Sequence[ReviewItem], remove: Sequence[str]
    ) -> list[ActionResult]:
        """Take the ``remove`` scopes away from each share that holds some of them."""
        taking = set(remove)
        if not taking:
            raise ConfigurationError("Choose the scopes to take away.")
        refused: list[ActionResult] = []
        possible: list[ReviewItem] = []
        for item in items:
            held = [s for s in item.share.scopes if s in taking]
            if not held:
                refused.append(
                    ActionResult(
                        item,
                        None,
                        f"{item.share.party.label} holds none of {', '.join(sorted(taking))} "
                        f"on {item.resource.name}.",
                    )
                )
            elif len(held) == len(item.share.scopes):
                refused.append(
                    ActionResult(
                        item,
                        None,
                        f"Narrowing would leave {item.share.party.label} no scope on "
                        f"{item.resource.name}: revoke instead.",
                    )
                )
            else:
                possible.append(item)
        done = await self._revoke_many(
            possible, lambda item: tuple(s for s in item.share.scopes if s in taking)
        )
        return [*done, *refused]

    async def set_expiry(self, items: Sequence[ReviewItem], when: datetime) -> list[ActionResult]:
        if when <= self.clock():
            raise ConfigurationError("The expiry date is in the past.")

        async def act(item: ReviewItem) -> Decision:
            return await set_expiry(self.control, item.resource, item.share, when, clock=self.clock)

        return await self._each(items, act, Outcome.EXPIRY_SET)

    # -- the end -----------------------------------------------------------------------

    def finish(self) -> Summary:
        """Close the session: its summary, and the date the next reminder counts from."""
        now = self.clock()
        _, total = self.progress()
        counts = Counter(entry["outcome"] for entry in self.state.done.values())
        summary = Summary(
            started_at=self.state.started_at or now,
            finished_at=now,
            total=total,
            counts=dict(counts),
        )
        self.state.last_completed = now
        self.state.last_summary = summary
        self.state.started_at = None
        self.state.done = {}
        self.items = [replace(i, outcome=None) for i in self.items]
        self._save()
        return summary

    def update_settings(self, settings: ReviewSettings) -> None:
        self.state.settings = settings.checked()
        self._save()


def load_state(data_dir: Path) -> ReviewState:
    return ReviewStore(data_dir).load()
