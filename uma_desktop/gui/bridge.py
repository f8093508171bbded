"""The GUI's one door to the async core: an asyncio loop in a background thread.

``Bridge.submit`` schedules a coroutine on the loop (``run_coroutine_threadsafe``) and hands
its result or error back on the GUI thread through a queued signal; the GUI thread never
waits on a future. ControlPoint events arrive on the loop thread and are re-emitted as Qt
signals, so every slot runs on the GUI thread. Views do not call ``submit``: they start
named workers through the controller (``gui/workers.py``).
"""

from __future__ import annotations

import logging
import selectors
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

from uma_desktop.foreground import yield_to_foreground

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures

log = logging.getLogger(__name__)

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class _ForegroundFirstSelector(selectors.DefaultSelector):
    """The core loop's selector: before each turn of callbacks, let the window finish a
    repaint or table update it is in the middle of (see ``uma_desktop.foreground``)."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(timeout)
        yield_to_foreground()
        return ready


class Relay(QObject):
    """Calls ``callback`` on the GUI thread (where it is made) with values sent from any thread."""

    _sent = Signal(object)

    def __init__(self, callback: Callable[[Any], None], parent: QObject) -> None:
        super().__init__(parent)
        self._callback = callback
        self._sent.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def send(self, value: Any) -> None:
        """Safe to call from any thread."""
        self._sent.emit(value)

    @Slot(object)
    def _deliver(self, value: Any) -> None:
        self._callback(value)


@dataclass(frozen=True)
class _Outcome:
    on_done: DoneCallback | None
    on_error: ErrorCallback | None
    result: Any
    error: BaseException | None


class Bridge(QObject):
    """Runs coroutines on a private event loop; delivers outcomes and events on the GUI thread."""

    # internal: an _Outcome delivered queued to the GUI thread. One wrapper object, never a
    # bare None: queued object arguments that are None upset None's refcount in PySide6.
    _finished = Signal(object)
    _event = Signal(object)

    # ControlPoint events, re-emitted on the GUI thread
    event_received = Signal(object)  # every event object, for listeners that want them all
    status_changed = Signal(object)  # ConnectionState
    requests_changed = Signal()
    new_requests = Signal(list)  # list[AccessRequest]
    data_changed = Signal(str)  # connection id
    # errors no caller handled (on_error=None): the window shows them
    unhandled_error = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The loop and its thread start with the first piece of work: loading asyncio is
        # not needed for the window's first paint, which comes before any work.
        self._started: asyncio.SelectorEventLoop | None = None
        self._thread = threading.Thread(target=self._run_loop, name="uma-core-loop", daemon=True)
        self._closing = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        # Always queued: a coroutine that finishes before submit() returns would otherwise have
        # its callback run inside submit(), on the caller's stack.
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._event.connect(self._dispatch_event, Qt.ConnectionType.QueuedConnection)

    @property
    def _loop(self) -> asyncio.SelectorEventLoop:
        if self._started is None:
            import asyncio

            self._started = asyncio.SelectorEventLoop(_ForegroundFirstSelector())
            self._thread.start()
        return self._started

    # --- loop thread -------------------------------------------------------------------
    def _run_loop(self) -> None:
        import asyncio

        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.close()

    @property
    def closing(self) -> bool:
        """True once ``shutdown`` has begun: submitted work is dropped from then on."""
        return self._closing

    @property
    def thread_id(self) -> int:
        """The OS id of the core's loop thread (for diagnostics)."""
        return self._thread.native_id or 0

    def post_event(self, event: object) -> None:
        """Listener for ``ControlPoint.subscribe``: safe to call from any thread."""
        if not self._closing and shiboken6.isValid(self):
            self._event.emit(event)

    # --- GUI thread --------------------------------------------------------------------
    def submit(
        self,
        coro: Coroutine[Any, Any, Any],
        on_done: DoneCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> concurrent.futures.Future[Any]:
        """Run ``coro`` on the loop; ``on_done(result)`` or ``on_error(exc)`` run on the GUI thread.

        Without ``on_error`` the error goes to ``unhandled_error``. Cancelling the returned future
        cancels the coroutine; no callback runs then. After ``shutdown`` nothing runs: late
        work (a slot or timer still firing while the window closes) is dropped quietly and
        a cancelled future is returned.
        """
        if self._closing:
            log.debug("dropped %s: the app is shutting down", _name_of(coro))
            coro.close()
            from concurrent.futures import Future

            dropped: Future[Any] = Future()
            dropped.cancel()
            return dropped
        import asyncio  # loaded already by the time work is submitted (see _loop)

        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        self._pending.add(future)

        def finished(fut: concurrent.futures.Future[Any]) -> None:
            self._pending.discard(fut)
            if fut.cancelled() or self._closing or not shiboken6.isValid(self):
                return
            error = fut.exception()
            result = None if error is not None else fut.result()
            self._finished.emit(_Outcome(on_done, on_error, result, error))

        future.add_done_callback(finished)
        return future

    @Slot(object)
    def _deliver(self, outcome: _Outcome) -> None:
        if self._closing:  # queued before shutdown, arrived after it: the window is going
            return
        if outcome.error is None:
            if outcome.on_done is not None:
                outcome.on_done(outcome.result)
        elif outcome.on_error is not None:
            outcome.on_error(outcome.error)
        else:
            self.unhandled_error.emit(outcome.error)

    @Slot(object)
    def _dispatch_event(self, event: object) -> None:
        if self._closing:
            return
        # events come from the core, so it is loaded by now (it loads after the window shows)
        from uma_desktop.app import DataChanged, NewRequests, RequestsChanged, StatusChanged

        self.event_received.emit(event)
        match event:
            case StatusChanged(state=state):
                self.status_changed.emit(state)
            case RequestsChanged():
                self.requests_changed.emit()
            case NewRequests(requests=requests):
                self.new_requests.emit(list(requests))
            case DataChanged(connection_id=connection_id):
                self.data_changed.emit(connection_id)
            case _:
                pass  # other events (ConnectionsChanged) reach listeners of event_received

    def call_soon(self, func: Callable[[], Any]) -> None:
        """Run a plain function on the loop thread (for loop-affine objects); after
        ``shutdown`` it is dropped quietly."""
        if self._closing or (self._started is not None and self._started.is_closed()):
            log.debug("dropped a call: the app is shutting down")
            return
        try:
            self._loop.call_soon_threadsafe(func)
        except RuntimeError:  # the loop closed between the check and the call
            log.debug("dropped a call: the app is shutting down")

    def shutdown(
        self, cleanup: Coroutine[Any, Any, Any] | None = None, timeout: float = 5.0
    ) -> None:
        """Stop accepting work, cancel what runs, run ``cleanup`` (e.g. ControlPoint.aclose),
        then stop the loop. Called once on quit; the join is bounded by ``timeout``."""
        if self._closing:
            if cleanup is not None:
                cleanup.close()
            return
        self._closing = True
        for future in list(self._pending):
            future.cancel()
        loop = self._started
        if loop is None or loop.is_closed():  # no work ever ran, or the loop already ended
            if cleanup is not None:
                cleanup.close()
            return
        import asyncio

        async def finish() -> None:
            try:
                if cleanup is not None:
                    await asyncio.wait_for(cleanup, timeout)
            except Exception:
                log.warning("cleanup on quit did not finish cleanly", exc_info=True)
            finally:
                loop.stop()

        try:  # queued even if the thread has not begun running the loop yet
            asyncio.run_coroutine_threadsafe(finish(), loop)
        except RuntimeError:  # the loop closed between the check and the call
            if cleanup is not None:
                cleanup.close()
        self._thread.join(timeout + 1.0)


def _name_of(coro: Coroutine[Any, Any, Any]) -> str:
    return getattr(coro, "__qualname__", None) or type(coro).__name__
