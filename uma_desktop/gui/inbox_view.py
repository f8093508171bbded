"""The inbox: pending access requests from every server, decided one by one or in bulk."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.domain import AccessRequest, Decision
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.errors import error_text
from uma_desktop.gui.icons import icon
from uma_desktop.gui.models import ObjectFilterProxy, ObjectRole, RequestsModel, age_text
from uma_desktop.gui.widgets import DataTable, EmptyState, PlainLabel, configure_table

if TYPE_CHECKING:  # the core loads after the window is shown (see gui/app.py)
    pass


class RequestsPage(QWidget):
    """Table of pending requests and a decision panel for the selection."""

    decided = Signal(list)  # list[Decision] from this page

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = controller.requests
        self.proxy = ObjectFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._in_flight: set[tuple[str, str]] = set()

        self.table = DataTable()
        self.table.setObjectName("requestsTable")
        self.table.setAccessibleName("Pending requests")
        configure_table(self.table)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setModel(self.proxy)
        self.table.sortByColumn(RequestsModel.AGE, Qt.SortOrder.AscendingOrder)
        for column, width in ((0, 150), (1, 190), (2, 150), (3, 130)):
            self.table.setColumnWidth(column, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.approve_selected())

        self.empty = EmptyState(
            "No pending requests.\nNew ones appear here as people ask for access."
        )
        self.stack = QStackedLayout()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        table_box = QWidget()
        table_box.setLayout(self.stack)

        # actions (each with a keyboard shortcut, active anywhere on this page)
        self.approve_action = self._action(
            "approve",
            "&Approve",
            "Ctrl+Return",
            self.approve_selected,
            "Approve the selected request(s) with the ticked scopes",
        )
        self.deny_action = self._action(
            "deny", "&Deny", "Ctrl+Backspace", self.deny_selected, "Deny the selected request(s)"
        )
        self.deny_action.setShortcuts(
            [QKeySequence("Ctrl+Backspace"), QKeySequence(Qt.Key.Key_Delete)]
        )
        self.refresh_action = self._action(
            "refresh",
            "&Refresh",
            "F5",
            self.controller.refresh_requests,
            "Check every server for new requests",
        )
        self.select_all_action = self._action(
            None, "Select &all", "Ctrl+A", self.table.selectAll, "Select every request"
        )
        self.scope_actions: list[QAction] = []
        for n in range(1, 10):
            action = QAction(f"Toggle scope {n}", self)
            action.setShortcut(QKeySequence(f"Alt+{n}"))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, i=n - 1: self.toggle_scope(i))
            self.addAction(action)
            self.scope_actions.append(action)

        # decision panel
        self.summary = QLabel()
        self.summary.setObjectName("requestSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)  # composed here, server text escaped
        self.scope_area = QVBoxLayout()
        self.scope_hint = PlainLabel()
        self.scope_hint.setWordWrap(True)
        self.scope_hint.setEnabled(False)
        self.scope_boxes: dict[str, QCheckBox] = {}
        self.approve_button = QPushButton(icon("approve"), "Approve")
        self.approve_button.setObjectName("approveButton")
        self.approve_button.clicked.connect(self.approve_action.trigger)
        self.deny_button = QPushButton(icon("deny"), "Deny")
        self.deny_button.setObjectName("denyButton")
        self.deny_button.clicked.connect(self.deny_action.trigger)
        buttons = QHBoxLayout()
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.deny_button)
        buttons.addStretch(1)
        self.result_label = PlainLabel()
        self.result_label.setObjectName("decisionResult")
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Last decision")

        panel = QFrame()
        panel.setObjectName("requestPanel")
        panel.setMinimumWidth(260)
        panel_layout = QVBoxLayout(panel)
        panel_layout.addWidget(self.summary)
        panel_layout.addLayout(self.scope_area)
        panel_layout.addWidget(self.scope_hint)
        panel_layout.addLayout(buttons)
        panel_layout.addWidget(self.result_label)
        panel_layout.addStretch(1)
        shortcuts = QLabel(
            "Ctrl+Enter approve · Del deny · Alt+1…9 toggle a scope · "
            "Ctrl+A select all · F5 refresh"
        )
        shortcuts.setWordWrap(True)
        shortcuts.setEnabled(False)
        panel_layout.addWidget(shortcuts)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("requestsSplitter")
        self.splitter.addWidget(table_box)
        self.splitter.addWidget(panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([760, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._rows_changed)
        self._rows_changed()
        self._selection_changed()

    def _action(
        self, icon_name: str | None, text: str, shortcut: str, slot: Any, tip: str
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(
            f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
        )
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    # --- selection -----------------------------------------------------------------------
    def selected_requests(self) -> list[AccessRequest]:
        rows = self.table.selectionModel().selectedRows()
        return [r for r in (index.data(ObjectRole) for index in rows) if r is not None]

    def select_requests(self, keys: list[tuple[str, str]]) -> None:
        """Select requests by identity (for keyboard-free scripting and tests)."""
        # Explicit selection commands: the view's own ones read the keyboard modifiers.
        selection = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        chosen = QItemSelection()  # one change (one selectionChanged), not one per row
        current = None
        for key in keys:
            row = self.model.row_for_key(key)
            if row < 0:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                chosen.select(index, index)
                current = current or index
        selection.select(chosen, flags.ClearAndSelect | flags.Rows)
        if current is not None:
            selection.setCurrentIndex(current, flags.NoUpdate)
            self.table.scrollTo(current)

    def _rows_changed(self, *_: Any) -> None:
        self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)
        self._selection_changed()

    def _selection_changed(self, *_: Any) -> None:
        selected = self.selected_requests()
        for box in self.scope_boxes.values():
            self.scope_area.removeWidget(box)
            box.deleteLater()
        self.scope_boxes = {}
        self.scope_hint.setText("")
        busy = any(r.key in self._in_flight for r in selected)
        if not selected:
            self.summary.setText(
                "Select a request to decide on it." if self.model.rowCount() else ""
            )
            self.approve_button.setText("Approve")
            self.deny_button.setText("Deny")
        elif len(selected) == 1:
            request = selected[0]
            server = self.controller.server_name(request.connection_id)
            self.summary.setText(
                f"<b>{html.escape(request.requester.label)}</b> asks for access to "
                f"<b>{html.escape(request.resource_name)}</b> on {html.escape(server)}"
                f" · {age_text(request.requested_at)}"
                + (f"<br>via {html.escape(request.client_id)}" if request.client_id else "")
            )
            from uma_desktop.backends.base import Capability  # loaded with the core

            subset = Capability.SCOPE_SUBSET in self.controller.capabilities(request.connection_id)
            for n, scope in enumerate(request.scopes, start=1):
                box = QCheckBox(f"{scope}" + (f"  (Alt+{n})" if n < 10 else ""))
                box.setChecked(True)
                box.setEnabled(subset)
                box.setAccessibleName(f"Grant scope {scope}")
                box.toggled.connect(self._scope_toggled)
                self.scope_boxes[scope] = box
                self.scope_area.addWidget(box)
            if not subset:
                self.scope_hint.setText("This server grants all requested scopes or none.")
            self.approve_button.setText("Approve")
            self.deny_button.setText("Deny")
        else:
            self.summary.setText(
                f"<b>{len(selected)} requests selected.</b> Approving grants all requested scopes."
            )
            self.approve_button.setText(f"Approve {len(selected)}")
            self.deny_button.setText(f"Deny {len(selected)}")
        enabled = bool(selected) and not busy
        self.approve_action.setEnabled(enabled)
        self.deny_action.setEnabled(enabled and self._can_deny(selected))
        self.approve_button.setEnabled(self.approve_action.isEnabled())
        self.deny_button.setEnabled(self.deny_action.isEnabled())

    def _can_deny(self, requests: list[AccessRequest]) -> bool:
        for request in requests:
            caps = self.controller.capabilities(request.connection_id)
            if not caps:
                continue
            from uma_desktop.backends.base import Capability  # loaded with the core

            if Capability.DENY not in caps:
                return False
        return True

    def _scope_toggled(self, *_: Any) -> None:
        if len(self.selected_requests()) == 1:
            any_checked = any(b.isChecked() for b in self.scope_boxes.values())
            self.approve_action.setEnabled(any_checked)
            self.approve_button.setEnabled(any_checked)

    def toggle_scope(self, position: int) -> None:
        boxes = list(self.scope_boxes.values())
        if 0 <= position < len(boxes) and boxes[position].isEnabled():
            boxes[position].toggle()

    def checked_scopes(self) -> list[str]:
        return [scope for scope, box in self.scope_boxes.items() if box.isChecked()]

    # --- decisions -----------------------------------------------------------------------
    def approve_selected(self) -> None:
        selected = [r for r in self.selected_requests() if r.key not in self._in_flight]
        if not selected:
            return
        if len(selected) == 1:
            request = selected[0]
            scopes = self.checked_scopes()
            if not scopes:
                self.result_label.setText("Tick at least one scope, or deny the request.")
                return
            chosen = None if set(scopes) == set(request.scopes) else scopes
            self._start([request])
            self.controller.approve(
                request, chosen, on_error=lambda exc: self._failed([request], exc)
            )
            self._pending_text(f"Approving {request.requester.label}'s request…")
        else:
            self._bulk("approve", selected)

    def deny_selected(self) -> None:
        selected = [r for r in self.selected_requests() if r.key not in self._in_flight]
        if not selected or not self._can_deny(selected):
            return
        if len(selected) == 1:
            request = selected[0]
            self._start([request])
            self.controller.deny(request, on_error=lambda exc: self._failed([request], exc))
            self._pending_text(f"Denying {request.requester.label}'s request…")
        else:
            self._bulk("deny", selected)

    def _bulk(self, action: str, requests: list[AccessRequest]) -> None:
        self._start(requests)
        self._pending_text(
            f"{'Approving' if action == 'approve' else 'Denying'} {len(requests)} requests…"
        )
        self.controller.bulk(action, requests, self._bulk_done)

    def _start(self, requests: list[AccessRequest]) -> None:
        self._in_flight.update(r.key for r in requests)
        self._selection_changed()
        self.controller.decisions_made.connect(self._decisions, Qt.ConnectionType.UniqueConnection)

    def _pending_text(self, text: str) -> None:
        self.result_label.setText(text)

    def _decisions(self, decisions: list[Decision]) -> None:
        done = [d for d in decisions if d.extra.get("request_id")]
        for decision in done:
            self._in_flight.discard((decision.connection_id, decision.extra["request_id"]))
        if len(done) == 1:
            d = done[0]
            verb = {"approve": "Approved", "deny": "Denied"}.get(d.action, d.action)
            what = f" ({', '.join(d.scopes)})" if d.action == "approve" else ""
            self.result_label.setText(
                f"{verb} the request of {d.party} for {d.resource_name}{what}."
                if d.ok
                else f"Could not {d.action} the request of {d.party}: {d.detail}"
            )
        self._selection_changed()
        self.decided.emit(done)

    def _bulk_done(self, decisions: list[Decision]) -> None:
        ok = sum(1 for d in decisions if d.ok)
        failed = [d for d in decisions if not d.ok]
        text = f"{ok} of {len(decisions)} done."
        if failed:
            text += " Failed: " + "; ".join(
                f"{d.party} on {d.resource_name}: {d.detail}" for d in failed[:3]
            )
        self.result_label.setText(text)

    def _failed(self, requests: list[AccessRequest], exc: BaseException) -> None:
        for request in requests:
            self._in_flight.discard(request.key)
        self.result_label.setText(f"Not done: {error_text(exc)}")
        self._selection_changed()

    def _menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for action in (
            self.approve_action,
            self.deny_action,
            None,
            self.select_all_action,
            self.refresh_action,
        ):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))
