"""The window's thread gets the interpreter first: background work waits at its yield points
while the window paints or fills a table, and never otherwise."""

from __future__ import annotations

import threading

from uma_desktop.foreground import foreground, in_foreground, yield_to_foreground


def _background_yield(done: threading.Event) -> threading.Thread:
    def work() -> None:
        yield_to_foreground()
        done.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_background_work_waits_until_the_window_leaves_the_foreground() -> None:
    done = threading.Event()
    with foreground():
        thread = _background_yield(done)
        # a negative check: the yield must not return while the window is in the foreground
        assert not done.wait(0.2)
        assert in_foreground()
    thread.join(5)
    assert done.is_set() and not in_foreground()


def test_without_a_foreground_holder_yielding_returns_at_once() -> None:
    done = threading.Event()
    _background_yield(done).join(5)
    assert done.is_set()


def test_the_window_can_nest_foreground_work_and_yield_itself() -> None:
    with foreground():
        with foreground():  # a repaint inside a table update
            yield_to_foreground()  # the holder never waits for itself
        assert in_foreground()
    assert not in_foreground()
