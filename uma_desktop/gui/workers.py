"""Background work as objects: each coroutine the window starts is a named ``Worker`` in a
group, and can be cancelled.

``WorkerManager.run`` hands the coroutine to the bridge (the core's loop thread) and gives
back a ``Worker``. Its result or error comes back on the GUI thread through ``on_done`` or
``on_error`` — the one way results reach views. Starting an *exclusive* worker cancels the
group's earlier workers: only the newest answer is delivered (a detail panel that moved on
to another resource never shows the previous one's shares). A cancelled worker never
delivers, even when its coroutine had already finished, and neither does a worker whose
``owner`` widget has been deleted.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from uma_desktop.gui.bridge import Bridge

if TYPE_CHECKING:
    import concurrent.futures

log = logging.getLogger(__name__)

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class WorkerState(enum.Enum):
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"


class Worker:
    """One piece of background work: its name, group, state and (once known) its outcome."""

    def __init__(
        self,
        manager: WorkerManager,
        name: str,
        group: str,
        on_done: DoneCallback | None,
        on_error: ErrorCallback | None,
        owner: QObject | None,
    ) -> None:
        self.name = name
        self.group = group
        self.state = WorkerState.RUNNING
        self.result: Any = None
        self.error: BaseException | None = None
        self._manager = manager
        self._on_done = on_done
        self._on_error = on_error
        self._owner = owner
        self._future: concurrent.futures.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<Worker {self.name!r} group={self.group!r} {self.state.value}>"

    def cancel(self) -> None:
        """Stop the coroutine (if it still runs) and drop its outcome; idempotent."""
        if self.state is not WorkerState.RUNNING:
            return
        self.state = WorkerState.CANCELLED
        if self._future is not None:
            self._future.cancel()
        self._manager._settled(self)

    # --- called by the manager on the GUI thread ------------------------------------------
    def _succeeded(self, result: Any) -> None:
        if self.state is not WorkerState.RUNNING:
            return  # cancelled after the coroutine had finished: the answer is stale
        self.state, self.result = WorkerState.SUCCESS, result
        self._manager._settled(self)
        if self._owner_alive() and self._on_done is not None:
            self._on_done(result)

    def _failed(self, error: BaseException) -> None:
        if self.state is not WorkerState.RUNNING:
            return
        self.state, self.error = WorkerState.ERROR, error
        self._manager._settled(self)
        if not self._owner_alive():
            return
        if self._on_error is not None:
            self._on_error(error)
        else:
            self._manager.unhandled_error.emit(error)

    def _owner_alive(self) -> bool:
        return self._owner is None or shiboken6.isValid(self._owner)


class WorkerManager(QObject):
    """Starts workers on the bridge and keeps track of the running ones by group."""

    busy_changed = Signal(bool)  # True when the first worker starts, False when none is left
    unhandled_error = Signal(object)  # a failure whose worker had no on_error

    def __init__(self, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._running: list[Worker] = []

    def run(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str,
        group: str = "default",
        exclusive: bool = False,
        on_done: DoneCallback | None = None,
        on_error: ErrorCallback | None = None,
        owner: QObject | None = None,
    ) -> Worker:
        """Run ``coro`` on the core's loop as a worker called ``name`` in ``group``.

        With ``exclusive``, the group's running workers are cancelled first. ``on_done`` or
        ``on_error`` runs on the GUI thread unless the worker was cancelled or ``owner`` has
        been deleted; without ``on_error`` a failure goes to ``unhandled_error``.
        """
        superseded = self.running(group) if exclusive else []
        worker = Worker(self, name, group, on_done, on_error, owner)
        self._running.append(worker)
        if len(self._running) == 1:
            self.busy_changed.emit(True)
        for older in superseded:  # after adding the new one: busy stays on throughout
            older.cancel()
        future = self.bridge.submit(coro, worker._succeeded, worker._failed)
        if future.cancelled():  # the bridge is shutting down and dropped the work
            worker.cancel()
        else:
            worker._future = future
        return worker

    def running(self, group: str | None = None) -> list[Worker]:
        """The workers still running, of one group or all."""
        return [w for w in self._running if group is None or w.group == group]

    def cancel_group(self, group: str) -> None:
        for worker in self.running(group):
            worker.cancel()

    def cancel_all(self) -> None:
        for worker in list(self._running):
            worker.cancel()

    def is_busy(self) -> bool:
        return bool(self._running)

    def _settled(self, worker: Worker) -> None:
        if worker in self._running:
            self._running.remove(worker)
            log.debug("%r settled", worker)
            if not self._running:
                self.busy_changed.emit(False)
