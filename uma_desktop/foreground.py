"""Give the window's thread first claim on the interpreter while it paints or fills tables.

Python runs one thread at a time. A repaint of a big table calls into Python once per
visible cell, and each call has to win the interpreter lock back from the core's thread.
While the core parses thousands of resources, every one of those hand-overs costs a thread
switch, and on a busy machine a repaint takes several times as long
(benchmarks/gui_heartbeat.py measures it).

The window's thread wraps such work in ``foreground()``. Long-running core work calls
``yield_to_foreground()`` between small pieces (every page, every few hundred items, every
turn of the core's event loop); while the window is in the foreground the core waits there,
without the lock, and carries on as soon as the window is done. Without a foreground holder
(the CLI, tests of the core) ``yield_to_foreground()`` costs one attribute check.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_busy = threading.Lock()
_holder: int | None = None  # thread id inside foreground(); re-entrant on that thread
_depth = 0
_enabled = os.environ.get("UMA_DESKTOP_FOREGROUND", "on") != "off"


@contextmanager
def foreground() -> Iterator[None]:
    """Run the ``with`` body while background work waits at its next yield point."""
    global _holder, _depth
    me = threading.get_ident()
    if not _enabled:
        yield
        return
    if _holder == me:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    with _busy:
        _holder, _depth = me, 1
        try:
            yield
        finally:
            _holder, _depth = None, 0


def yield_to_foreground() -> None:
    """Wait (without holding the interpreter lock) while another thread is in the foreground."""
    if _busy.locked() and _holder != threading.get_ident():
        with _busy:
            pass


def in_foreground() -> bool:
    """Whether some thread is in the foreground right now (for tests and diagnostics)."""
    return _busy.locked()
