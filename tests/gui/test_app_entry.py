"""The app as `uma-desktop` starts it: the log, demo mode's own home, quitting mid-refresh,
and the protocol trace outside demo mode.

``app.start(args)`` is ``main`` without ``exec()``: the same log set-up, excepthook,
application and session a person gets.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.wire import wire_secrets
from uma_desktop import net
from uma_desktop.gui import app
from uma_desktop.gui.app import Session
from uma_desktop.gui.bridge import Bridge
from uma_desktop.gui.main_window import MainWindow
from uma_desktop.logs import DEBUG_ENV, LOG_FILE_NAME, reset_logging
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer
from uma_desktop.trace import entry_as_text, to_har_json

pytestmark = pytest.mark.gui
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def screenshot(widget: Any, name: str) -> Path:
    QApplication.processEvents()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    widget.grab().save(str(path))
    return path


# -- helpers -----------------------------------------------------------------------------


class Started:
    """Sessions made by ``app.start``; closed (and the log reset) at teardown."""

    def __init__(self, qtbot: Any) -> None:
        self.qtbot = qtbot
        self.sessions: list[Session] = []

    def __call__(self, *args: str, browser_opener: Any = None) -> Session:
        session = app.start(list(args), browser_opener=browser_opener)
        self.sessions.append(session)
        self.qtbot.waitUntil(lambda: session.ready or session.error is not None, timeout=WAIT)
        assert session.error is None, session.error
        return session


@pytest.fixture
def started(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Started]:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # start() installs the app's hook
    root, ours, httpx_logger = (logging.getLogger(n) for n in ("", "uma_desktop", "httpx"))
    levels = (root.level, ours.level, httpx_logger.level)
    runs = Started(qtbot)
    yield runs
    for session in runs.sessions:
        session.close()
    reset_logging()
    root.setLevel(levels[0])
    ours.setLevel(levels[1])
    httpx_logger.setLevel(levels[2])


def window_of(session: Session) -> MainWindow:
    assert session.window is not None
    return session.window


# -- 1. the log ----------------------------------------------------------------------------


def test_a_login_leaves_no_code_state_or_token_in_the_log(
    qtbot: Any,
    started: Started,
    app_home: Path,
    sandbox: SandboxServer,
    raw_exchanges: list[net.Exchange],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Verbose logging on: httpx then logs every request line, the browser's redirect to the
    # app's callback (with its code and state) included.
    monkeypatch.setenv(DEBUG_ENV, "1")
    caplog.set_level(logging.DEBUG, logger="uma_desktop")
    browser = form_browser("alice", "alice")
    session = started("--home", str(app_home), "--poll", "0", browser_opener=browser)
    window = window_of(session)
    log_in(qtbot, window, sandbox.issuer, remember=False)
    qtbot.waitUntil(lambda: window.resources_page.model.rowCount() > 0, timeout=WAIT)
    session.close()
    reset_logging()  # flush and close the file

    log_file = app_dirs(app_home).log / LOG_FILE_NAME
    text = log_file.read_text("utf-8")
    assert f"login at {sandbox.issuer} completed" in text
    callback_lines = [line for line in text.splitlines() if "/callback?" in line]
    assert callback_lines, "httpx's line for the callback is in the verbose log"
    assert all("code=[redacted]" in line for line in callback_lines)
    secrets = wire_secrets(raw_exchanges, browser.callback_url)
    callback = dict(parse_qsl(urlsplit(browser.callback_url or "").query))
    assert {callback["code"], callback["state"]} <= secrets
    assert any(len(s) > 100 for s in secrets), "the tokens are among the checked values"
    for secret in secrets:
        assert secret not in text
        assert secret not in caplog.text


def test_the_log_file_is_in_the_log_folder_and_quiet_about_requests(
    started: Started, app_home: Path
) -> None:
    started("--home", str(app_home), "--poll", "0")
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler))
    assert Path(handler.baseFilename) == app_dirs(app_home).log / LOG_FILE_NAME
    assert handler.maxBytes > 0 and handler.backupCount > 0  # rotating: it cannot grow forever
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


# -- 2. demo mode's own home --------------------------------------------------------------


def files_under(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and p.relative_to(home).parts[0] != "log"
    }


def test_the_demo_never_touches_the_users_own_connections(
    qtbot: Any, started: Started, app_home: Path, sandbox: SandboxServer
) -> None:
    # The user's own app (UMA_DESKTOP_HOME is app_home) with a connection of their own.
    mine = started("--poll", "0", browser_opener=form_browser("alice", "alice"))
    my_id = log_in(qtbot, window_of(mine), sandbox.issuer, name="Mine", remember=False)
    mine.close()
    before = files_under(app_home)
    assert any("config" in name for name in before)

    demo = started("--demo", "--poll", "0")
    window = window_of(demo)
    demo_session = window.demo_session  # type: ignore[attr-defined]
    qtbot.waitUntil(
        lambda: demo_session.panel is not None or demo_session.error is not None, timeout=WAIT
    )
    assert demo_session.error is None, demo_session.error
    names = {s.connection.display_name for s in window.controller.states.values()}
    assert names == {"Health", "Photos"}  # not the user's "Mine"
    assert my_id not in window.controller.states
    demo_home = demo.temporary_home
    assert demo_home is not None and demo_home.is_dir()
    assert not demo_home.is_relative_to(app_home)
    demo.close()

    assert files_under(app_home) == before  # byte for byte
    assert not demo_home.exists()  # the demo's folder went with it
    again = started("--poll", "0")
    controller = window_of(again).controller  # its last-known state loads after the window
    qtbot.waitUntil(
        lambda: {s.connection.display_name for s in controller.states.values()} == {"Mine"},
        timeout=WAIT,
    )


def test_demo_with_an_explicit_home_uses_it(tmp_path: Path) -> None:
    dirs, temporary = app.resolve_dirs(tmp_path / "demo-home", demo=True)
    assert temporary is None
    assert dirs.config == tmp_path / "demo-home" / "config"


# -- 3. quitting while the core is busy ----------------------------------------------------


class Errors:
    """Uncaught exceptions (the excepthook's view) and error dialogs, while the test runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.exceptions: list[BaseException] = []
        monkeypatch.setattr(sys, "excepthook", self._hook)

    def _hook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        self.exceptions.append(exc)

    @staticmethod
    def dialogs() -> list[QMessageBox]:
        return [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
        ]


def test_closing_the_window_during_a_refresh_is_quiet(
    qtbot: Any,
    gui_app: Any,
    standalone_sandbox: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = standalone_sandbox("Big", bulk=3000)  # a refresh that takes a while
    window = gui_app(form_browser("alice", "alice"))
    log_in(qtbot, window, server.issuer, remember=False)
    qtbot.waitUntil(lambda: not window.controller.is_busy(), timeout=WAIT)
    session = gui_app.sessions[id(window)]
    bridge, controller = session.bridge, window.controller
    errors = Errors(monkeypatch)
    caplog.set_level(logging.DEBUG, logger="uma_desktop.gui.bridge")

    window.refresh_action.trigger()
    assert controller.is_busy()
    gui_app.close(window)  # what quitting does, mid-refresh

    # Whatever was still queued for the GUI thread runs now, and late work is refused.
    for _ in range(20):
        QApplication.processEvents()
    controller.refresh_all()
    controller.poll_now()
    for _ in range(5):
        QApplication.processEvents()
    assert bridge.closing
    assert errors.exceptions == []
    assert errors.dialogs() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("shutting down" in r.getMessage() for r in caplog.records)


def test_answers_queued_before_shutdown_are_not_delivered_after_it(qtbot: Any) -> None:
    bridge = Bridge()
    delivered: list[object] = []
    arrived = threading.Event()

    async def answer() -> str:
        return "late"

    def done(result: object) -> None:
        delivered.append(result)

    submitted = bridge.submit(answer(), done)
    # runs after the bridge's own callback, which queued the answer for the GUI thread
    submitted.add_done_callback(lambda _future: arrived.set())
    assert arrived.wait(10)  # the answer is queued, not yet delivered
    bridge.shutdown()
    QApplication.processEvents()
    bridge.call_soon(lambda: delivered.append("call"))  # no "Event loop is closed"
    future = bridge.submit(answer(), done)
    QApplication.processEvents()
    assert future.cancelled()
    assert delivered == []


def test_the_cached_rows_show_before_the_core_has_opened(qtbot: Any, tmp_path: Path) -> None:
    """An offline start shows the last-known resources at once; the core (HTTP, models,
    keyring) opens after them, so they do not wait for it."""
    from uma_desktop.app.registry import ConnectionRegistry
    from uma_desktop.app.snapshots import Snapshot, SnapshotStore
    from uma_desktop.domain import BackendKind, Connection, Resource

    dirs = app_dirs(tmp_path).ensure()
    ConnectionRegistry(dirs.config).add(
        Connection(
            id="home",
            issuer="http://127.0.0.1:1/",  # nothing answers there
            kind=BackendKind.POLICY_MANAGER,
            client_id="uma-desktop",
            display_name="Home",
            remember=False,
        )
    )
    cached = [Resource("home", f"r{i}", f"Album {i:03d}", ("view",), "Photos") for i in range(300)]
    SnapshotStore(dirs.cache).save("home", Snapshot(resources=cached))
    session = app.launch(dirs, poll_interval=None)
    model = session.controller.resources
    window = session.shown
    seen: list[tuple[int, bool, bool, bool]] = []

    def shown() -> None:  # what the person sees the moment the cached rows arrive
        page = window.resources_page
        page._update_counts()
        seen.append(
            (
                model.rowCount(),
                session.control is None,
                "on 1 server" in page.count_label.text(),
                window.connections.empty_hint.isVisibleTo(window),  # "No servers yet"
            )
        )

    model.modelReset.connect(shown)
    try:
        qtbot.waitUntil(lambda: session.window is not None, timeout=WAIT)
        # all rows, before the core was open, counted as one server, no "No servers yet"
        assert seen and seen[0] == (300, True, True, False)
        assert model.rows()[0].resource.name == "Album 000"
        assert model.rows()[0].server == "Home"
    finally:
        session.close()


# -- 4. the protocol trace outside demo mode -----------------------------------------------


def test_the_protocol_trace_shows_a_real_servers_exchanges_redacted(
    qtbot: Any, gui_app: Any, sandbox: SandboxServer, raw_exchanges: list[net.Exchange]
) -> None:
    window = gui_app(form_browser("alice", "alice"))
    assert "trace" not in window.page_keys()  # nothing is recorded until it is opened
    connection_id = log_in(qtbot, window, sandbox.issuer, name="Home", remember=False)
    qtbot.waitUntil(lambda: not window.controller.is_busy(), timeout=WAIT)

    window.trace_action.trigger()  # View ▸ Protocol trace
    assert window.current_page_key() == "trace"
    view = window.show_trace()  # a second time: the same page
    assert window.page_keys().count("trace") == 1
    assert view.model.rowCount() == 0  # recording starts when it is opened

    window.refresh_action.trigger()
    qtbot.waitUntil(lambda: view.model.rowCount() >= 3, timeout=WAIT)
    qtbot.waitUntil(lambda: not window.controller.is_busy(), timeout=WAIT)
    entries = view.model.entries()
    assert {e.actor for e in entries} == {"app:Home"}
    assert {e.target for e in entries} == {"Home"}
    assert all(e.connection_id == connection_id for e in entries)
    assert all(e.url.startswith(sandbox.issuer) for e in entries)
    view.set_connection_filter(connection_id)
    assert view.connection_filter.currentText() == "Home"

    text = "\n".join(entry_as_text(e) for e in entries) + to_har_json(entries)
    bearer = [v for e in entries for k, v in e.request_headers if k.lower() == "authorization"]
    assert bearer and all(v.startswith("Bearer ‹") for v in bearer)  # noqa: RUF001
    secrets = wire_secrets(raw_exchanges)
    assert secrets
    for secret in secrets:
        assert secret not in text
    view.table.selectRow(0)
    window.resize(1200, 760)
    screenshot(window, "normal-mode-trace.png")
