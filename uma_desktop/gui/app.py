"""Composition root of the desktop app (desktop-style.md P1).

``main(args)`` parses the arguments, installs the excepthook, builds the QApplication,
builds and shows the window; once it has painted, shows the cached rows (read on a thread
of its own), then starts the core's event loop thread (``Bridge``), which sets up the log
(redacted, rotating file in the log folder) and opens the ControlPoint; once it is open the
window fills and refreshes. The window shows first because loading the
core (wire models, HTTP, keyring, the last-known data) is most of the start-up time: nothing
under ``gui`` imports it (or asyncio) at module level, and it loads only after the first
paint, which it would otherwise slow down by competing for the interpreter lock
(tests/test_layers.py holds the list of what must wait).
``start(args)`` is all of that without ``exec()``; ``launch`` is the wiring alone, for tests
and tools.

``--demo`` keeps its connections, history and window state in a temporary folder removed
at exit (unless ``--home`` is given): the user's own connections are never touched by it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

import uma_desktop
from uma_desktop.arguments import ShowVersion
from uma_desktop.foreground import yield_to_foreground
from uma_desktop.gui import icons
from uma_desktop.gui.bridge import Bridge, Relay
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.errors import install_excepthook, show_error
from uma_desktop.gui.main_window import APP_ID, MainWindow
from uma_desktop.gui.settings import Favourites, UiState
from uma_desktop.paths import AppDirs, app_dirs

if TYPE_CHECKING:
    from uma_desktop.app import ControlPoint
    from uma_desktop.app.last_known import LastKnown

log = logging.getLogger(__name__)

BrowserOpener = Callable[[str], object]
GIL_SWITCH_INTERVAL = 0.00002  # seconds (20 us: measured fewer stalls than 100 us)


@dataclass
class Session:
    """Everything one running window depends on; ``window`` is set once the core is open."""

    bridge: Bridge
    dirs: AppDirs
    control: ControlPoint | None = None
    controller: Controller | None = None
    window: MainWindow | None = None
    error: BaseException | None = None
    temporary_home: Path | None = None  # removed by close() (the demo's own folder)
    shown: MainWindow | None = None  # the window, from before the core is open
    _ready: list[Callable[[MainWindow], None]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.window is not None

    def close(self, timeout: float = 5.0) -> None:
        """Close the window, stop polling, close the core's HTTP clients, stop the loop."""
        window = self.window or self.shown
        if window is not None:
            window.save_state()
            window.close()
            window.deleteLater()
            self.window = self.shown = None
        control = self.control
        self.bridge.shutdown(control.aclose() if control is not None else None, timeout)
        if self.temporary_home is not None:
            shutil.rmtree(self.temporary_home, ignore_errors=True)
            self.temporary_home = None


def ensure_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv or [sys.argv[0] if sys.argv else "uma-desktop"])
    assert isinstance(app, QApplication)
    QCoreApplication.setApplicationName("UMA Desktop")
    QCoreApplication.setOrganizationDomain("umadesktop.org")
    QGuiApplication.setDesktopFileName(APP_ID)
    QGuiApplication.setWindowIcon(icons.app_icon())
    return app


def launch(
    dirs: AppDirs | None = None,
    *,
    browser_opener: BrowserOpener | None = None,
    poll_interval: float | None = 30.0,
    timeout: float | None = None,
    on_ready: Callable[[MainWindow], None] | None = None,
    show: bool = True,
    before_open: Callable[[], None] | None = None,
) -> Session:
    """Start the core loop, build and show the window, open the ControlPoint (async).

    Returns at once; ``session.window`` is set (and ``on_ready`` called) when the core is
    open. The GUI thread never waits for it. Once the window has painted, a short-lived
    thread reads and shows the cached rows (``app.last_known``: no core, nothing logged),
    then the core's thread starts: ``before_open`` (the log set-up), then the core.
    """
    ensure_application()
    # The core's loop thread parses and stores large answers in Python. Every call from Qt
    # into Python (data(), rowCount(), slots) must take the GIL back from it; with the
    # default 5 ms switch interval a repaint that makes 100 such calls can wait 0.5 s.
    # A short interval keeps the window responsive at a small throughput cost.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    resolved = (dirs or app_dirs()).ensure()
    bridge = Bridge()
    session = Session(bridge=bridge, dirs=resolved)
    if on_ready is not None:
        session._ready.append(on_ready)
    # The core's long loops pause at their yield points while the window paints.
    options: dict[str, Any] = {
        "browser_opener": browser_opener,
        "yield_point": yield_to_foreground,
    }
    if timeout is not None:
        options["timeout"] = timeout

    controller = Controller(bridge, None, Favourites(resolved.config))
    session.controller = controller
    window = MainWindow(controller, UiState(resolved.config))
    session.shown = window
    if show:
        window.show()

    show_last_known = controller.last_known_shower()

    async def open_core(last_known: LastKnown | None) -> ControlPoint:
        # Runs on the core's thread, once the window shows the cached rows.
        if before_open is not None:
            before_open()
        from uma_desktop.app import ControlPoint

        return await ControlPoint.open(resolved, last_known=last_known, **options)

    def opened(control: ControlPoint) -> None:
        # read here, not at start: importlib.metadata costs tens of ms before the first paint
        QCoreApplication.setApplicationVersion(uma_desktop.__version__)
        session.control = control
        control.subscribe(bridge.post_event)
        controller.attach(control)
        session.window = window
        controller.start(poll_interval)
        for callback in session._ready:
            callback(window)

    def failed(exc: BaseException) -> None:
        session.error = exc
        log.error("could not open the app's data: %s", exc)
        window.hide()
        show_error(None, exc, "UMA Desktop could not start")

    def submit_open(last_known: LastKnown | None) -> None:
        bridge.submit(open_core(last_known), opened, failed)

    open_core_soon = Relay(submit_open, window)

    def show_then_open() -> None:
        # A short-lived thread of its own: the cached rows need neither asyncio nor the
        # core, and show sooner than those load.
        last_known = None
        try:
            from uma_desktop.app.last_known import read_last_known

            last_known = read_last_known(resolved, yield_to_foreground)
            show_last_known(last_known)
        except Exception:  # the core reads (and reports) the same files again
            log.warning("the cached data could not be shown early", exc_info=True)
        finally:
            if shiboken6.isValid(open_core_soon):
                open_core_soon.send(last_known)

    def open_now() -> None:
        threading.Thread(target=show_then_open, name="uma-last-known", daemon=True).start()

    if show:
        # Loading the core competes with the first paint for the interpreter lock (Qt's
        # paint calls back into Python many times): open it once the window has painted.
        after_first_paint(window, open_now)
    else:
        open_now()
    return session


class _FirstPaintWatcher(QObject):
    """Runs ``callback`` once: after ``window``'s first paint, or after ``limit_ms`` if a
    hidden or minimised window never paints."""

    def __init__(self, window: QWidget, callback: Callable[[], None], limit_ms: int) -> None:
        super().__init__(window)
        self._window = window
        self._callback: Callable[[], None] | None = callback
        self._limit = QTimer(self)
        self._limit.setSingleShot(True)
        self._limit.timeout.connect(self._fire)
        self._limit.start(limit_ms)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, self._fire)  # after this paint has reached the screen
        return False

    def _fire(self) -> None:
        if self._callback is None:
            return
        callback, self._callback = self._callback, None
        self._limit.stop()
        self._window.removeEventFilter(self)
        callback()


def after_first_paint(window: QWidget, callback: Callable[[], None], limit_ms: int = 500) -> None:
    """Call ``callback`` on the GUI thread once ``window`` has painted (at most ``limit_ms``)."""
    _FirstPaintWatcher(window, callback, limit_ms)


def _start_demo(window: MainWindow, bridge: Bridge) -> None:
    """Hand over to the demo mode when it is installed (uma_desktop.gui.demo_panel)."""
    if importlib.util.find_spec("uma_desktop.gui.demo_panel") is None:
        window.statusBar().showMessage("Demo mode is not available in this build.", 10000)
        return
    demo = importlib.import_module("uma_desktop.gui.demo_panel")
    start_demo = getattr(demo, "start_demo", None)
    if start_demo is None:
        window.statusBar().showMessage("Demo mode is not available in this build.", 10000)
        return
    # keep the demo's session alive as long as the window
    window.demo_session = start_demo(window, bridge)  # type: ignore[attr-defined]


def build_parser() -> argparse.ArgumentParser:
    """The desktop app's options (also read by the man page and completion generators)."""
    parser = argparse.ArgumentParser(prog="uma-desktop", description="UMA Desktop")
    parser.add_argument(
        "--demo", action="store_true", help="start built-in sandbox servers and connect to them"
    )
    parser.add_argument(
        "--home", type=Path, help="keep config, data, cache and logs under this folder"
    )
    parser.add_argument(
        "--poll", type=float, default=30.0, help="seconds between checks for new requests"
    )
    parser.add_argument("--version", action=ShowVersion)
    return parser


def parse_args(args: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(args)


def resolve_dirs(home: Path | None, demo: bool) -> tuple[AppDirs, Path | None]:
    """Where this run keeps its files, and a temporary folder to remove at exit (if any).

    The demo gets a fresh temporary home unless ``--home`` is given, so its connections
    never land in the user's own settings; its log still goes to the app's log folder,
    where a demo that failed can be looked into.
    """
    if home is not None:
        return app_dirs(home), None
    if not demo:
        return app_dirs(), None
    temporary = Path(tempfile.mkdtemp(prefix="uma-desktop-demo-"))
    demo_dirs = app_dirs(temporary)
    return AppDirs(demo_dirs.config, demo_dirs.data, demo_dirs.cache, app_dirs().log), temporary


def start(args: list[str], *, browser_opener: BrowserOpener | None = None) -> Session:
    """Everything ``main`` does before ``exec()``: log, excepthook, application, session."""
    options = parse_args(args)
    dirs, temporary_home = resolve_dirs(options.home, options.demo)

    def set_up_log() -> None:
        # first on the core's thread, before the core is loaded: redaction is on before
        # anything that could hold a secret logs (nothing does before the core is open)
        from uma_desktop.logs import configure_logging

        log_file = configure_logging(dirs)
        log.info("UMA Desktop %s starting; log file %s", uma_desktop.__version__, log_file)
        if temporary_home is not None:
            log.info("demo mode: settings live in %s until the app quits", temporary_home)

    install_excepthook()
    ensure_application()

    def ready(window: MainWindow) -> None:
        if options.demo:
            _start_demo(window, session.bridge)

    session = launch(
        dirs,
        browser_opener=browser_opener,
        poll_interval=options.poll or None,
        on_ready=ready,
        before_open=set_up_log,
    )
    session.temporary_home = temporary_home
    return session


def main(args: list[str]) -> int:
    """Run the desktop app; returns the process exit code."""
    session = start(args)
    app = ensure_application()
    app.aboutToQuit.connect(session.close)
    app.setQuitOnLastWindowClosed(True)
    _quit_after_env(session, app)
    return int(app.exec())


QUIT_AFTER_ENV = "UMA_DESKTOP_QUIT_AFTER"  # seconds after the window is shown (smoke tests)


def _quit_after_env(session: Session, app: QApplication) -> None:
    """With $UMA_DESKTOP_QUIT_AFTER=N set, quit N seconds after the window is shown."""
    text = os.environ.get(QUIT_AFTER_ENV, "").strip()
    if not text:
        return
    try:
        seconds = max(0.0, float(text))
    except ValueError:
        log.warning("ignoring %s=%r: not a number of seconds", QUIT_AFTER_ENV, text)
        return
    session._ready.append(lambda _window: QTimer.singleShot(int(seconds * 1000), app.quit))
