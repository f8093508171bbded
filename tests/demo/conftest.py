"""Demo-mode harness: the real app window, started the way `uma-desktop --demo` starts it.

``demo_app`` launches the app (core loop, ControlPoint, window) in a private
UMA_DESKTOP_HOME, then calls ``start_demo`` with two sandboxes on free ports, and waits until
alice is signed in to both through their login pages. ``raw_exchanges`` keeps every raw HTTP
exchange of the test (unredacted, in memory) so the redaction checks know each secret value
that really crossed the wire.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.demo import WAIT, DemoApp
from uma_desktop import net
from uma_desktop.demo import Demo, DemoServerSpec
from uma_desktop.gui.app import launch
from uma_desktop.gui.demo_panel import start_demo
from uma_desktop.paths import app_dirs
from uma_desktop.trace import TraceRecorder


@pytest.fixture
def demo_app(
    qtbot: Any, app_home: Path, raw_exchanges: list[net.Exchange], log_text: list[str]
) -> Iterator[DemoApp]:
    session = launch(app_dirs(app_home), poll_interval=None)
    qtbot.waitUntil(lambda: session.ready or session.error is not None, timeout=WAIT)
    assert session.error is None, session.error
    window = session.window
    assert window is not None
    qtbot.addWidget(window)
    window.resize(1280, 800)

    recorder = TraceRecorder()
    # The demo's own seed: each server holds its own services (ports left to the system).
    demo = Demo(
        recorder,
        servers=(DemoServerSpec("Health", 0, "health"), DemoServerSpec("Photos", 0, "photos")),
    )
    demo_session = start_demo(window, session.bridge, demo=demo, recorder=recorder)
    try:
        qtbot.waitUntil(
            lambda: demo_session.panel is not None or demo_session.error is not None, timeout=WAIT
        )
        assert demo_session.error is None, demo_session.error
        yield DemoApp(session, window, demo_session)
    finally:
        # Let answers already on their way land before the window goes.
        qtbot.waitUntil(lambda: not window.controller.is_busy(), timeout=WAIT)
        session.close()  # the app's connections first, so the servers stop at once
        demo_session.stop()


@pytest.fixture
def log_text() -> Iterator[list[str]]:
    """The log as the app writes it (INFO and up, as `uma-desktop` configures it) plus the
    app's own DEBUG records; third-party DEBUG output (httpcore's raw headers) is never on."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, ours = logging.getLogger(), logging.getLogger("uma_desktop")
    levels = (root.level, ours.level)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    ours.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(levels[0])
    ours.setLevel(levels[1])
