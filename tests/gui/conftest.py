"""GUI test harness: the real window over a real ControlPoint, real sandboxes over HTTP.

``gui_app(browser_opener)`` launches the app the way ``uma-desktop`` does (core loop thread,
ControlPoint opened there, window built once it is open) in a private UMA_DESKTOP_HOME, and
closes it at teardown. Helpers the tests share live in tests/fixtures/gui.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gui import GuiApps
from tests.fixtures.sandbox import StandaloneSandbox
from uma_desktop.sandbox import SandboxServer


@pytest.fixture
def gui_app(qtbot: Any, app_home: Path) -> Iterator[GuiApps]:
    apps = GuiApps(qtbot, app_home)
    yield apps
    apps.close_all()


@pytest.fixture
def standalone_sandbox(tmp_path: Path) -> Iterator[Callable[..., StandaloneSandbox]]:
    """Factory: seed a data file in-process (``bulk`` extra resources), then serve it from
    ``uma-desktop sandbox`` in a child process. Stopped at teardown.

    Used where the test measures the app's own GUI thread: a server under load inside the
    test's interpreter would compete for the same GIL and measure the server, not the app;
    it runs niced so that on a small machine it does not take the app's CPU either.
    """
    started: list[StandaloneSandbox] = []

    def start(name: str, bulk: int = 0) -> StandaloneSandbox:
        data = tmp_path / f"{name}.sqlite"
        with SandboxServer(name=name, data_path=data) as seeding:
            if bulk:
                seeding.seed_bulk_resources(count=bulk)
        started.append(StandaloneSandbox.serve(data, name, niced=True))
        return started[-1]

    yield start
    for server in started:
        server.stop()
