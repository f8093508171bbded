"""GUI test harness: the real window over a real ControlPoint, real sandboxes over HTTP.

``gui_app(browser_opener)`` launches the app the way ``uma-desktop`` does (core loop thread,
ControlPoint opened there, window built once it is open) in a private UMA_DESKTOP_HOME, and
closes it at teardown. ``log_in(window, issuer, opener)`` adds a server through the dialog.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QDialog

from tests.fixtures.common import free_port
from tests.fixtures.keyring import secret_service_problem
from uma_desktop.gui.app import Session, launch
from uma_desktop.gui.main_window import MainWindow
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer

WAIT = 20_000  # ms; generous for a loaded CI machine, never a sleep


class GuiApps:
    """Starts the app like ``uma-desktop`` does; ``close(window)`` quits one (to restart it)."""

    def __init__(self, qtbot: Any, home: Path) -> None:
        self.qtbot = qtbot
        self.home = home
        self.sessions: dict[int, Session] = {}

    def __call__(self, browser_opener: Any = None, **options: Any) -> MainWindow:
        options.setdefault("poll_interval", None)
        session = launch(app_dirs(self.home), browser_opener=browser_opener, **options)
        self.qtbot.waitUntil(lambda: session.ready or session.error is not None, timeout=WAIT)
        assert session.error is None, session.error
        assert session.window is not None
        self.sessions[id(session.window)] = session
        return session.window

    def close(self, window: MainWindow) -> None:
        self.sessions.pop(id(window)).close()

    def close_all(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()


@pytest.fixture
def gui_app(qtbot: Any, app_home: Path) -> Iterator[GuiApps]:
    apps = GuiApps(qtbot, app_home)
    yield apps
    apps.close_all()


def log_in(
    qtbot: Any,
    window: MainWindow,
    issuer: str,
    *,
    name: str | None = None,
    remember: bool | None = None,
) -> str:
    """Add a server through the dialog and log in; returns the new connection id.

    ``remember`` (keep tokens in the Secret Service) defaults to whether it is usable here:
    ``make pytest`` provides one (tools/keyring-session.sh); a bare run gets memory tokens.
    """
    if remember is None:
        remember = secret_service_problem() is None
    before = set(window.controller.states)
    dialog = window.open_add_connection()
    dialog.issuer.setText(issuer)
    if name:
        dialog.display_name.setText(name)
    dialog.remember.setChecked(remember)
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.connect_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.progress.text()
    qtbot.waitUntil(lambda: bool(set(window.controller.states) - before), timeout=WAIT)
    (new_id,) = set(window.controller.states) - before
    return new_id


def owner_get(server: SandboxServer, token: str, endpoint: str, **params: Any) -> Any:
    """GET an owner-API endpoint (from the server's discovery) with plain httpx."""
    config = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()
    response = httpx.get(
        config[endpoint], params=params, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    return response.json()


@dataclass
class StandaloneSandbox:
    """A sandbox in its own process, as a real server is (``uma-desktop sandbox``)."""

    name: str
    issuer: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def standalone_sandbox(tmp_path: Path) -> Iterator[Callable[..., StandaloneSandbox]]:
    """Factory: seed a data file in-process (``bulk`` extra resources, then ``prepare(server)``),
    then serve it from ``uma-desktop sandbox`` in a child process on a free port (options:
    ``access_token_lifetime``). Stopped at teardown.

    Used where the test measures the app's own GUI thread: a server under load inside the
    test's interpreter would compete for the same GIL and measure the server, not the app;
    it runs niced so that on a small machine it does not take the app's CPU either.
    """
    started: list[StandaloneSandbox] = []

    def start(
        name: str,
        bulk: int = 0,
        *,
        prepare: Callable[[SandboxServer], None] | None = None,
        access_token_lifetime: int | None = None,
    ) -> StandaloneSandbox:
        data = tmp_path / f"{name}.sqlite"
        with SandboxServer(name=name, data_path=data) as seeding:
            if bulk:
                seeding.seed_bulk_resources(count=bulk)
            if prepare is not None:
                prepare(seeding)
        port = free_port()
        options = []
        if access_token_lifetime is not None:
            options = ["--access-token-lifetime", str(access_token_lifetime)]
        process = subprocess.Popen(
            # at a lower CPU priority: on a real network the server is another machine
            ["nice", "-n", "10", sys.executable, "-m", "uma_desktop", "sandbox",
             "--port", str(port), "--data", str(data), "--name", name, *options],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        server = StandaloneSandbox(name, f"http://127.0.0.1:{port}", process)
        started.append(server)
        deadline = time.monotonic() + 30
        while True:  # poll until it answers (with a deadline), never a fixed sleep
            assert process.poll() is None, "the sandbox process exited"
            try:
                if httpx.get(f"{server.issuer}/.well-known/uma2-configuration").is_success:
                    return server
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the sandbox process did not start"
            time.sleep(0.05)

    yield start
    for server in started:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
