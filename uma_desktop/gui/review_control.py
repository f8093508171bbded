"""The access review's calls to the core, beside ``controller.py``: every one is a worker.

The review page, the expiry timer and the reminder reach the core only through this
object. The review session lives on the core's loop thread and is only touched there; the
GUI gets plain values back (items, results, progress, summary) through the workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from uma_desktop.app.review_terms import Clock, system_clock
from uma_desktop.domain import Decision
from uma_desktop.gui.controller import Controller

if TYPE_CHECKING:
    from uma_desktop.app import scheduler
    from uma_desktop.app.report import Report
    from uma_desktop.app.review import ActionResult, ReviewSession
    from uma_desktop.app.review_terms import ReviewItem, ReviewSettings, Summary

log = logging.getLogger(__name__)


async def _to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``asyncio.to_thread``, with asyncio loaded on the core's loop, not at window start."""
    import asyncio

    return await asyncio.to_thread(func, *args, **kwargs)


EXPIRY_CHECK_MS = 15 * 60 * 1000  # app-kept expiries are checked this often while open
GROUP = "review"


@dataclass(frozen=True)
class Loaded:
    items: list[ReviewItem]
    progress: tuple[int, int]
    failures: list[str]  # "<server>: <message>" for connections that could not be read
    settings: ReviewSettings


@dataclass(frozen=True)
class Acted:
    results: list[ActionResult]
    progress: tuple[int, int]


class ReviewControl(QObject):
    """Review session, expiry enforcement, reminder and report for the window."""

    reminder_due = Signal()
    expired = Signal(list)  # list[Decision] of shares the app revoked because they fell due

    def __init__(
        self, controller: Controller, *, clock: Clock = system_clock, parent: Any = None
    ) -> None:
        super().__init__(parent or controller)
        self.controller = controller
        self.clock = clock
        self._session: ReviewSession | None = None  # created and used on the loop thread
        self.expiry_timer = QTimer(self)
        self.expiry_timer.setInterval(EXPIRY_CHECK_MS)
        self.expiry_timer.timeout.connect(self.expire_due)

    @property
    def _control(self) -> Any:
        return self.controller.control

    def _run(
        self,
        coro: Any,
        name: str,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        exclusive: bool = False,
    ) -> None:
        self.controller.run(
            coro,
            name=name,
            group=GROUP if exclusive else f"{GROUP}-{name}",
            exclusive=exclusive,
            on_done=on_done,
            on_error=on_error,
        )

    # --- the session ---------------------------------------------------------------------
    async def _session_now(self) -> ReviewSession:
        if self._session is None:
            from uma_desktop.app.review import ReviewSession  # the core, open by now

            self._session = await _to_thread(ReviewSession, self._control, clock=self.clock)
        return self._session

    def load(
        self,
        on_done: Callable[[Loaded], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Read every share everywhere (resumes the open review's progress)."""

        async def load() -> Loaded:
            session = await self._session_now()
            items = await session.load()
            names = {
                s.connection.id: s.connection.display_name for s in self._control.connections()
            }
            failures = [
                f"{names.get(r.connection_id, r.connection_id)}: {r.error.user_message}"
                for r in session.failures
                if r.error is not None
            ]
            return Loaded(items, session.progress(), failures, session.state.settings)

        self._run(load(), "load", on_done, on_error, exclusive=True)

    def act(
        self,
        action: str,
        items: Sequence[ReviewItem],
        on_done: Callable[[Acted], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        scopes: Sequence[str] = (),
        when: datetime | None = None,
    ) -> None:
        """``keep``, ``revoke``, ``narrow`` (taking ``scopes`` away) or ``expire`` (at ``when``)."""
        chosen = list(items)

        async def act() -> Acted:
            session = await self._session_now()
            if action == "keep":
                results = await session.keep(chosen)
            elif action == "revoke":
                results = await session.revoke(chosen)
            elif action == "narrow":
                results = await session.narrow(chosen, list(scopes))
            elif action == "expire" and when is not None:
                results = await session.set_expiry(chosen, when)
            else:
                raise ValueError(f"unknown review action {action!r}")
            return Acted(results, session.progress())

        def done(acted: Acted) -> None:
            self.controller.refresh_history()
            on_done(acted)

        self._run(act(), action, done, on_error)

    def finish(self, on_done: Callable[[Summary], None]) -> None:
        async def finish() -> Summary:
            session = await self._session_now()
            return await _to_thread(session.finish)

        self._run(finish(), "finish", on_done)

    def save_settings(self, settings: ReviewSettings, on_done: Callable[[Any], None]) -> None:
        async def save() -> None:
            session = await self._session_now()
            await _to_thread(session.update_settings, settings)

        self._run(save(), "settings", on_done)

    # --- reminder and expiry ----------------------------------------------------------------
    def check_reminder(self) -> None:
        """Emit ``reminder_due`` when the last finished review is older than the interval
        (and there is something to review: at least one connection)."""

        async def check() -> bool:
            if not self._control.connections():
                return False
            from uma_desktop.app.review import load_state, review_due

            state = await _to_thread(load_state, self._control.dirs.data)
            return review_due(state, self.clock())

        def done(due: bool) -> None:
            if due:
                self.reminder_due.emit()

        self._run(check(), "reminder", done, lambda exc: log.warning("reminder: %s", exc))

    def start(self) -> None:
        """At window start: the reminder check, an expiry check now and every 15 minutes."""
        self.check_reminder()
        self.expire_due()
        self.expiry_timer.start()

    def expire_due(self) -> None:
        async def expire() -> list[Decision]:
            from uma_desktop.app.expiry import ExpiryStore, revoke_due

            store = ExpiryStore(self._control.dirs.data)
            if not await _to_thread(store.due, self.clock()):
                return []
            return await revoke_due(self._control, clock=self.clock)

        def done(decisions: list[Decision]) -> None:
            if decisions:
                self.controller.refresh_history()
                self.expired.emit(decisions)

        self._run(expire(), "expire", done, lambda exc: log.warning("expiry check: %s", exc))

    # --- the daily timer ----------------------------------------------------------------------
    def timer_installed(self) -> bool:
        from uma_desktop.app import scheduler

        return scheduler.timer_installed()  # one stat() of a local file

    def set_timer(
        self,
        installed: bool,
        on_done: Callable[[scheduler.TimerChange], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        from uma_desktop.app import scheduler

        work = scheduler.install_timer if installed else scheduler.remove_timer
        self._run(_to_thread(work), "timer", on_done, on_error)

    # --- the report ---------------------------------------------------------------------------
    def report(
        self,
        on_done: Callable[[Report], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        async def build() -> Report:
            from uma_desktop.app.expiry import ExpiryStore
            from uma_desktop.app.report import build_report
            from uma_desktop.app.review import collect_shares

            results = await collect_shares(self._control)
            due = await _to_thread(ExpiryStore(self._control.dirs.data).by_key)
            connections = [s.connection for s in self._control.connections()]
            return build_report(results, connections, due, now=datetime.now(UTC))

        self._run(build(), "report", on_done, on_error)


def default_report_name(folder: Path, now: datetime) -> Path:
    return folder / f"who-can-see-my-data-{now.strftime('%Y-%m-%d')}.pdf"
