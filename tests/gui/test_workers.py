"""Background work as named, grouped, cancellable workers, on the real bridge loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QWidget

from uma_desktop.gui.bridge import Bridge
from uma_desktop.gui.workers import WorkerManager, WorkerState

WAIT = 10_000  # ms


@pytest.fixture
def workers(qtbot: Any) -> Iterator[WorkerManager]:
    bridge = Bridge()
    manager = WorkerManager(bridge)
    yield manager
    bridge.shutdown()


class Gate:
    """An asyncio event on the bridge's loop, opened from the test (GUI) thread."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.event: asyncio.Event | None = None
        self.waiting = threading.Event()
        self.cancelled = threading.Event()

    async def wait(self, value: str) -> str:
        self.event = asyncio.Event()
        self.waiting.set()
        try:
            await self.event.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return value

    def open(self) -> None:
        assert self.event is not None
        self.bridge.call_soon(self.event.set)


async def value(result: str) -> str:
    return result


def test_an_exclusive_worker_cancels_the_groups_earlier_one(
    qtbot: Any, workers: WorkerManager
) -> None:
    delivered: list[str] = []
    gate = Gate(workers.bridge)
    first = workers.run(
        gate.wait("first"), name="first", group="shares", exclusive=True, on_done=delivered.append
    )
    assert gate.waiting.wait(5)
    other = workers.run(
        value("other group"), name="other", group="lookups", on_done=delivered.append
    )
    second = workers.run(
        value("second"), name="second", group="shares", exclusive=True, on_done=delivered.append
    )

    assert first.state is WorkerState.CANCELLED
    assert gate.cancelled.wait(5), "the coroutine itself was cancelled on the core's loop"
    qtbot.waitUntil(lambda: len(delivered) == 2, timeout=WAIT)
    assert sorted(delivered) == ["other group", "second"]
    assert second.state is WorkerState.SUCCESS and second.result == "second"
    assert other.state is WorkerState.SUCCESS  # another group is left alone
    assert not workers.is_busy()


def test_a_cancelled_worker_never_delivers_even_when_its_answer_was_already_on_the_way(
    qtbot: Any, workers: WorkerManager
) -> None:
    delivered: list[str] = []
    finished = threading.Event()

    async def quick() -> str:
        return "stale"

    worker = workers.run(quick(), name="quick", on_done=delivered.append)
    assert worker._future is not None
    worker._future.add_done_callback(lambda _f: finished.set())
    assert finished.wait(5)  # the answer is queued for the GUI thread, not yet delivered
    worker.cancel()
    # queued answers arrive in order: once this one is in, the stale one has been dropped
    workers.run(value("after"), name="after", on_done=delivered.append)
    qtbot.waitUntil(lambda: delivered == ["after"], timeout=WAIT)
    assert worker.state is WorkerState.CANCELLED
    assert worker.result is None


def test_errors_reach_on_error_or_the_unhandled_signal(qtbot: Any, workers: WorkerManager) -> None:
    async def broken() -> None:
        raise ValueError("no good")

    caught: list[BaseException] = []
    handled = workers.run(broken(), name="handled", on_error=caught.append)
    with qtbot.waitSignal(workers.unhandled_error, timeout=WAIT) as unhandled:
        workers.run(broken(), name="unhandled")
    qtbot.waitUntil(lambda: bool(caught), timeout=WAIT)
    assert isinstance(caught[0], ValueError)
    assert handled.state is WorkerState.ERROR and handled.error is caught[0]
    assert isinstance(unhandled.args[0], ValueError)


def test_a_deleted_owner_gets_no_answer_and_busy_still_settles(
    qtbot: Any, workers: WorkerManager
) -> None:
    busy: list[bool] = []
    workers.busy_changed.connect(busy.append)
    delivered: list[str] = []
    owner = QWidget()
    gate = Gate(workers.bridge)
    worker = workers.run(gate.wait("late"), name="late", owner=owner, on_done=delivered.append)
    assert gate.waiting.wait(5)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner), timeout=WAIT)
    gate.open()
    qtbot.waitUntil(lambda: not workers.is_busy(), timeout=WAIT)
    assert delivered == []
    assert worker.state is WorkerState.SUCCESS  # it finished; only the delivery was dropped
    assert busy == [True, False]


def test_groups_list_and_cancel_their_running_workers(qtbot: Any, workers: WorkerManager) -> None:
    gates = [Gate(workers.bridge) for _ in range(3)]
    started = [
        workers.run(gate.wait(str(n)), name=f"wait {n}", group="a" if n < 2 else "b")
        for n, gate in enumerate(gates)
    ]
    assert [w.name for w in workers.running("a")] == ["wait 0", "wait 1"]
    workers.cancel_group("a")
    assert [w.state for w in started] == [
        WorkerState.CANCELLED,
        WorkerState.CANCELLED,
        WorkerState.RUNNING,
    ]
    assert workers.running() == [started[2]]
    workers.cancel_all()
    assert not workers.is_busy()
    assert all(g.cancelled.wait(5) for g in gates)


def test_work_started_after_shutdown_is_cancelled_at_once(qtbot: Any) -> None:
    bridge = Bridge()
    manager = WorkerManager(bridge)
    bridge.shutdown()
    worker = manager.run(value("never"), name="too late")
    assert worker.state is WorkerState.CANCELLED
    assert not manager.is_busy()


def _alive(widget: QWidget) -> bool:
    return shiboken6.isValid(widget)
