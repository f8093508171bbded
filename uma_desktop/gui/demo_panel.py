"""Demo mode in the window: the "Requesting party" page and :func:`start_demo`.

The page lets a demoer pick a person (bob, carol), one of alice's resources and scopes; that
person's client then runs the real UMA grant (RS 401 with a ticket → token endpoint →
request_submitted) and the request shows up in alice's inbox. Pending requests are retried
on the interval the server asked for (or at once with "Try again"), and the page shows what
the person could read — or that they were refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.demo import REQUESTING_PARTIES, Attempt, Demo, DemoResource, Outcome
from uma_desktop.gui.errors import show_error
from uma_desktop.gui.trace_view import install_trace_page
from uma_desktop.gui.widgets import rich_tooltip
from uma_desktop.gui.workers import WorkerManager
from uma_desktop.oauth import install_redaction
from uma_desktop.trace import TraceRecorder

log = logging.getLogger(__name__)

STATUS_TEXT = {
    Outcome.PENDING: "Waiting for alice",
    Outcome.GRANTED: "Read it",
    Outcome.DENIED: "Refused",
    Outcome.FAILED: "Failed",
}
STATUS_COLOUR = {
    Outcome.PENDING: "#b26a00",
    Outcome.GRANTED: "#2e7d32",
    Outcome.DENIED: "#c62828",
    Outcome.FAILED: "#c62828",
}
COLUMNS = ("#", "Person", "Resource", "Asked for", "Status", "Granted")


class RequestingPartyPanel(QWidget):
    """Ask for access as bob or carol and watch the request go through the UMA grant."""

    attempt_updated = Signal(object)  # Attempt, after every try

    def __init__(
        self,
        demo: Demo,
        workers: WorkerManager,
        parent: QWidget | None = None,
        *,
        auto_retry: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("requestingPartyPanel")
        self.demo = demo
        self.workers = workers
        self.auto_retry = auto_retry
        self._attempts: dict[int, Attempt] = {}
        self._busy: set[int] = set()
        self._timers: dict[int, QTimer] = {}
        self._scope_boxes: list[QCheckBox] = []

        intro = QLabel(
            "Act as another person who wants to use one of alice's resources. Their app runs "
            "the real UMA grant: the resource server answers 401 with a permission ticket, the "
            "app takes the ticket to the authorization server, and alice gets a request in her "
            "inbox. Watch every message in the Protocol trace."
        )
        intro.setWordWrap(True)

        self.person = QComboBox()
        self.person.setObjectName("rqpPerson")
        self.person.setAccessibleName("Requesting party")
        for person in REQUESTING_PARTIES:
            self.person.addItem(person.capitalize(), person)
        self.resource = QComboBox()
        self.resource.setObjectName("rqpResource")
        self.resource.setAccessibleName("Resource")
        self.scopes_row = QHBoxLayout()
        self.scopes_row.setContentsMargins(0, 0, 0, 0)
        self.scopes_row.addStretch(1)
        scopes_widget = QWidget()
        scopes_widget.setLayout(self.scopes_row)
        self.request_button = QPushButton("Request access")
        self.request_button.setObjectName("rqpRequest")
        self.request_button.setDefault(True)

        form = QFormLayout()
        form.addRow("Person:", self.person)
        form.addRow("Resource:", self.resource)
        form.addRow("Scopes:", scopes_widget)
        button_row = QHBoxLayout()
        button_row.addWidget(self.request_button)
        button_row.addStretch(1)
        form.addRow("", button_row)
        ask = QGroupBox("Ask for access")
        ask.setLayout(form)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("rqpAttempts")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.retry_button = QPushButton("Try again now")
        self.retry_button.setObjectName("rqpRetry")
        self.retry_button.setEnabled(False)
        self.result = QPlainTextEdit()
        self.result.setObjectName("rqpResult")
        self.result.setReadOnly(True)
        self.result.setPlaceholderText("What the person could read appears here.")

        requests_box = QGroupBox("Requests")
        requests_layout = QVBoxLayout(requests_box)
        requests_layout.addWidget(self.table)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.retry_button)
        requests_layout.addLayout(row)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(requests_box)
        splitter.addWidget(self.result)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(ask)
        layout.addWidget(splitter, 1)

        self.resource.currentIndexChanged.connect(self._resource_changed)
        self.request_button.clicked.connect(self.request)
        self.retry_button.clicked.connect(self.retry_selected)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.reload_catalog()

    # -- choosing ------------------------------------------------------------------------

    def reload_catalog(self) -> None:
        """Fill the resource list from the running demo servers."""
        self.resource.clear()
        for resource in self.demo.catalog():
            self.resource.addItem(resource.label, resource)
        self._resource_changed()

    def _resource_changed(self) -> None:
        for box in self._scope_boxes:
            self.scopes_row.removeWidget(box)
            box.deleteLater()
        self._scope_boxes = []
        resource = self.current_resource()
        for scope in resource.scopes if resource else ():
            box = QCheckBox(scope)
            box.setObjectName(f"rqpScope-{scope}")
            box.setChecked(True)
            box.toggled.connect(self._update_request_button)
            self.scopes_row.insertWidget(len(self._scope_boxes), box)
            self._scope_boxes.append(box)
        self._update_request_button()

    def _update_request_button(self) -> None:
        self.request_button.setEnabled(bool(self.chosen_scopes()))

    def current_resource(self) -> DemoResource | None:
        data = self.resource.currentData()
        return data if isinstance(data, DemoResource) else None

    def chosen_scopes(self) -> tuple[str, ...]:
        return tuple(box.text() for box in self._scope_boxes if box.isChecked())

    def choose(self, person: str, server: str, resource_name: str, scopes: tuple[str, ...]) -> None:
        """Select a person, resource and scopes (what a demoer does with the mouse)."""
        self.person.setCurrentIndex(self.person.findData(person))
        for index in range(self.resource.count()):
            item = self.resource.itemData(index)
            if item.server.lower() == server.lower() and item.name == resource_name:
                self.resource.setCurrentIndex(index)
                break
        else:
            raise ValueError(f"{server} has no resource {resource_name!r}")
        for box in self._scope_boxes:
            box.setChecked(box.text() in scopes)

    # -- requesting ----------------------------------------------------------------------

    def request(self) -> None:
        resource, scopes = self.current_resource(), self.chosen_scopes()
        if resource is None or not scopes:
            return
        person = str(self.person.currentData())
        self.request_button.setEnabled(False)
        self._run(
            lambda: self.demo.request_access(person, resource, scopes),
            done=self._request_done,
        )

    def _request_done(self, attempt: Attempt) -> None:
        self._update_request_button()
        self._show(attempt)
        self.table.selectRow(self._row_of(attempt.number))

    def retry_selected(self) -> None:
        attempt = self._selected()
        if attempt is not None:
            self.retry(attempt.number)

    def retry(self, number: int) -> None:
        """Try a pending request again (no-op while a try is already under way)."""
        attempt = self._attempts.get(number)
        if attempt is None or attempt.outcome is not Outcome.PENDING or number in self._busy:
            return
        self._busy.add(number)
        self._stop_timer(number)
        self._selection_changed()
        self._run(lambda: self.demo.retry(attempt), done=self._show, number=number)

    def _run(
        self,
        work: Callable[[], Attempt],
        *,
        done: Callable[[Attempt], None],
        number: int | None = None,
    ) -> None:
        def finished(attempt: Attempt) -> None:
            if number is not None:
                self._busy.discard(number)
            done(attempt)

        def failed(error: BaseException) -> None:
            if number is not None:
                self._busy.discard(number)
            self._update_request_button()
            message = getattr(error, "user_message", None) or type(error).__name__
            self.result.setPlainText(f"The request could not be made: {message}")
            self._selection_changed()

        # After shutdown (a late timer) the bridge drops the work quietly.
        self.workers.run(
            asyncio.to_thread(work),
            name=f"requesting party attempt {number}" if number else "requesting party attempt",
            group="requesting party",
            on_done=finished,
            on_error=failed,
            owner=self,
        )

    # -- showing -------------------------------------------------------------------------

    def attempts(self) -> list[Attempt]:
        return [self._attempts[n] for n in sorted(self._attempts)]

    def _row_of(self, number: int) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == number:
                return row
        return -1

    def _selected(self) -> Attempt | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return self._attempts.get(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def _show(self, attempt: Attempt) -> None:
        self._attempts[attempt.number] = attempt
        row = self._row_of(attempt.number)
        if row < 0:
            row = self.table.rowCount()
            self.table.insertRow(row)
        cells = (
            str(attempt.number),
            attempt.person.capitalize(),
            attempt.resource.label,
            ", ".join(attempt.scopes),
            STATUS_TEXT[attempt.outcome],
            ", ".join(attempt.granted_scopes) or "—",
        )
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(rich_tooltip(attempt.message or text))
            if column == 0:
                item.setData(Qt.ItemDataRole.UserRole, attempt.number)
            if column == 4:
                item.setForeground(QColor(STATUS_COLOUR[attempt.outcome]))
            self.table.setItem(row, column, item)
        if attempt.outcome is Outcome.PENDING and self.auto_retry:
            self._schedule(attempt)
        else:
            self._stop_timer(attempt.number)
        self._selection_changed()
        self.attempt_updated.emit(attempt)

    def _schedule(self, attempt: Attempt) -> None:
        timer = self._timers.get(attempt.number)
        if timer is None:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda n=attempt.number: self.retry(n))
            self._timers[attempt.number] = timer
        timer.start(int(max(attempt.interval, 1.0) * 1000))

    def _stop_timer(self, number: int) -> None:
        timer = self._timers.pop(number, None)
        if timer is not None:
            timer.stop()
            timer.deleteLater()

    def clear_attempts(self) -> None:
        """Forget every request shown (after the demo was reset)."""
        for number in list(self._timers):
            self._stop_timer(number)
        self._attempts.clear()
        self._busy.clear()
        self.table.setRowCount(0)
        self.result.clear()
        self.reload_catalog()
        self._selection_changed()

    def _selection_changed(self) -> None:
        attempt = self._selected()
        self.retry_button.setEnabled(
            attempt is not None
            and attempt.outcome is Outcome.PENDING
            and attempt.number not in self._busy
        )
        self.result.setPlainText(describe(attempt) if attempt is not None else "")


def describe(attempt: Attempt) -> str:
    """The result pane's text for one request."""
    who = attempt.person.capitalize()
    resource = attempt.resource
    what = f"{resource.name} on {resource.resource_server_name} ({resource.server})"
    lines = [f"{who} asked for {', '.join(attempt.scopes)} on {what}."]
    if attempt.outcome is Outcome.GRANTED:
        lines.append(f"Granted: {', '.join(attempt.granted_scopes) or 'nothing'}.")
        lines.append(f"{who} read:")
        lines.append(json.dumps(attempt.content, indent=2, ensure_ascii=False))
    elif attempt.outcome is Outcome.PENDING:
        lines.append(f"Waiting for alice to decide (try {attempt.tries}).")
    elif attempt.outcome is Outcome.DENIED:
        lines.append(f"alice refused: {who} cannot read it.")
    if attempt.message:
        lines.append(attempt.message)
    return "\n".join(lines)


class DemoSession(QObject):
    """The running demo inside a window: servers, trace page, requesting-party page."""

    ready = Signal(list)  # connection ids, once alice is signed in to every demo server
    failed = Signal(str)  # human message when the demo could not start
    reset_done = Signal()  # the demo servers are back to their seeded state

    def __init__(self, window: Any, bridge: Any, demo: Demo, recorder: TraceRecorder) -> None:
        super().__init__(window)
        self.window = window
        self.workers = WorkerManager(bridge, self)  # the demo's own work, apart from the core's
        self.demo = demo
        self.recorder = recorder
        self.trace_view = install_trace_page(window, recorder)
        self.panel: RequestingPartyPanel | None = None
        self.connection_ids: list[str] = []
        self.error: str | None = None
        self._stopped = False
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)
        window.destroyed.connect(lambda *_: self.stop())

    def start(self) -> None:
        """Start the servers and sign alice in, off the GUI thread."""
        self._status("Starting the demo servers…")
        self.window.controller.start_demo(
            self.demo, on_done=self._booted, on_error=self._boot_failed, owner=self
        )

    def _booted(self, connection_ids: list[str]) -> None:
        self.connection_ids = connection_ids
        for server in self.demo.servers:
            if server.connection_id:
                self.trace_view.name_connection(server.connection_id, server.name)
        self.panel = RequestingPartyPanel(self.demo, self.workers)
        self.panel.attempt_updated.connect(self._attempt_updated)
        self.window.add_page("requesting-party", "Requesting party", self.panel, "person")
        demo_menu = self.window.menuBar().addMenu("&Demo")
        self.reset_action = QAction("&Reset demo", self)
        self.reset_action.setObjectName("resetDemo")
        self.reset_action.setToolTip("Put the demo servers' resources, shares and requests back")
        self.reset_action.triggered.connect(lambda _=False: self.reset_demo())
        demo_menu.addAction(self.reset_action)
        controller = self.window.controller
        controller.reload_connections(lambda: controller.refresh_all())
        names = " and ".join(server.name for server in self.demo.servers)
        self._status(f"Demo ready: signed in as alice on {names}.")
        self.ready.emit(connection_ids)

    def reset_demo(self) -> None:
        """Back to the seeded state without restarting: alice stays signed in."""
        self.reset_action.setEnabled(False)
        self._status("Resetting the demo…")

        def done(_: object) -> None:
            self.reset_action.setEnabled(True)
            if self.panel is not None:
                self.panel.clear_attempts()
            self.window.controller.refresh_all()
            self._status("Demo reset: resources, shares and requests are as they were seeded.")
            self.reset_done.emit()

        def failed(error: BaseException) -> None:
            self.reset_action.setEnabled(True)
            show_error(self.window, error, "The demo could not be reset")

        self.workers.run(
            asyncio.to_thread(self.demo.reset),
            name="reset the demo",
            group="demo reset",
            exclusive=True,
            on_done=done,
            on_error=failed,
            owner=self,
        )

    def _attempt_updated(self, attempt: Attempt) -> None:
        # A new request is on the server now: look for it instead of waiting for the next poll.
        if attempt.outcome is Outcome.PENDING and attempt.tries == 1:
            self.window.controller.poll_now()

    def _boot_failed(self, error: BaseException) -> None:
        message = getattr(error, "user_message", None) or f"{type(error).__name__}: {error}"
        self.error = message
        log.error("the demo could not start: %s", message)
        self._status(f"The demo could not start: {message}")
        show_error(self.window, error, "The demo could not start")
        self.failed.emit(message)

    def _status(self, text: str) -> None:
        status_bar = getattr(self.window, "statusBar", None)
        if callable(status_bar):
            status_bar().showMessage(text, 15_000)

    def stop(self) -> None:
        """Stop the demo servers and the trace (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.recorder.stop()
        self.demo.stop()


def start_demo(
    window: Any,
    bridge: Any,
    *,
    demo: Demo | None = None,
    recorder: TraceRecorder | None = None,
) -> DemoSession:
    """Demo mode (``uma-desktop --demo``): start two sandbox servers, sign alice in to both
    through their login pages, and add the "Protocol trace" and "Requesting party" pages.

    Returns at once; ``DemoSession.ready`` fires when alice is signed in everywhere.
    """
    install_redaction()  # the demo's traffic is full of codes and tickets: keep them out of logs
    if recorder is None:  # (an empty recorder is falsy: it has a length)
        recorder = (
            demo.recorder if demo is not None and demo.recorder is not None else TraceRecorder()
        )
    recorder.start()
    if demo is None:
        demo = Demo(recorder)
    elif demo.recorder is None:
        demo.recorder = recorder
    session = DemoSession(window, bridge, demo, recorder)
    session.start()
    return session
