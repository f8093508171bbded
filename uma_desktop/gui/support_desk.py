"""The Support desk window: look up anyone's shares with a resource server's credentials.

Visibly apart from the owner's window (its own window, title, amber banner and badge) and
never mixed into the owner's lists. Everything reaches the core through
:class:`SupportController`, whose calls run as workers on the core's loop; everything from
servers is shown as plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPageSize, QPdfWriter, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.app.support import (
    Explanation,
    Lookup,
    SupportConnection,
    SupportDesk,
    case_header,
    case_rows,
)
from uma_desktop.backends.support_base import GrantStatus, SupportGrant
from uma_desktop.errors import UmaDesktopError
from uma_desktop.gui.widgets import PlainLabel, rich_tooltip

WINDOW_TITLE = "Support desk — UMA Desktop"
BADGE = "SUPPORT"
BANNER_STYLE = "background:#8a4b00;color:#ffffff;padding:6px;font-weight:bold;"
BADGE_STYLE = "background:#ffb000;color:#000000;padding:2px 8px;border-radius:4px;font-weight:bold;"
VERDICT_STYLE = {
    "can": "background:#e3f4e1;color:#14401a;padding:8px;",
    "partly": "background:#fff3d6;color:#5a3b00;padding:8px;",
    "cannot": "background:#fbe3e1;color:#5c1410;padding:8px;",
}
ROLES = (
    ("owner", "Person, as owner"),
    ("requester", "Person, as requester"),
    ("resource", "Resource (id or name)"),
)
COLUMNS = ("Resource / person", "Status", "Scopes", "Since", "Expires", "Decided", "Client")
STATUS_TEXT = {
    GrantStatus.GRANTED: "shared",
    GrantStatus.EXPIRED: "expired",
    GrantStatus.PENDING: "pending request",
    GrantStatus.DENIED: "denied request",
}
GrantRole = Qt.ItemDataRole.UserRole + 1


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else ""


def _message(error: BaseException) -> str:
    if isinstance(error, UmaDesktopError):
        return error.user_message
    return f"Unexpected problem: {type(error).__name__}"


class SupportController(QObject):
    """The support window's only way to the core: each call is a worker on the core's loop."""

    def __init__(self, run: Callable[..., Any], desk: SupportDesk, parent: QObject | None = None):
        super().__init__(parent)
        self._run = run
        self.desk = desk

    def call(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        *,
        group: str = "support",
        exclusive: bool = False,
    ) -> None:
        self._run(
            coro,
            name=name,
            group=group,
            exclusive=exclusive,
            on_done=on_done,
            on_error=on_error,
            owner=self,
        )

    @staticmethod
    async def _sync(func: Callable[[], Any]) -> Any:
        return func()

    def connections(
        self, done: Callable[[Any], None], failed: Callable[[BaseException], None]
    ) -> None:
        self.call(self._sync(self.desk.connections), "support connections", done, failed)

    def add(
        self, issuer: str, client_id: str, secret: str, name: str | None, done: Any, failed: Any
    ) -> None:
        self.call(
            self.desk.add(issuer, client_id, secret, name=name),
            "add support connection",
            done,
            failed,
        )

    def remove(self, connection_id: str, done: Any, failed: Any) -> None:
        self.call(self.desk.remove(connection_id), "remove support connection", done, failed)

    def set_acting(self, connection_id: str, enabled: bool, done: Any, failed: Any) -> None:
        self.call(
            self._sync(lambda: self.desk.set_acting(connection_id, enabled)), "acting", done, failed
        )

    def lookup(
        self, connection_id: str, role: str, query: str, offset: int, done: Any, failed: Any
    ) -> None:
        if role == "resource":
            coro = self.desk.lookup(connection_id, role=role, resource_id=query, offset=offset)
        else:
            coro = self.desk.lookup(connection_id, person=query, role=role, offset=offset)
        self.call(coro, "support lookup", done, failed, group="support-lookup", exclusive=True)

    def why(
        self,
        connection_id: str,
        person: str,
        resource: str,
        scope: str | None,
        done: Any,
        failed: Any,
    ) -> None:
        self.call(
            self.desk.why(connection_id, person, resource, scope),
            "why",
            done,
            failed,
            group="support-why",
            exclusive=True,
        )

    def act(
        self, connection_id: str, grant: SupportGrant, reason: str, done: Any, failed: Any
    ) -> None:
        if grant.is_share:
            coro = self.desk.revoke(connection_id, grant, reason)
        else:
            coro = self.desk.deny(connection_id, grant, reason)
        self.call(coro, "act on behalf", done, failed)

    def audit(self, done: Any, failed: Any) -> None:
        self.call(self._sync(lambda: self.desk.audit.entries(1000)), "audit log", done, failed)

    def export_case(
        self, lookup: Lookup, note: str, target: Path, fmt: str, done: Any, failed: Any
    ) -> None:
        self.call(
            self._sync(lambda: self.desk.export_case(lookup, note, target, fmt)),
            "export",
            done,
            failed,
        )

    def record_export(self, lookup: Lookup, fmt: str, done: Any, failed: Any) -> None:
        self.call(
            self._sync(lambda: self.desk.record_export(lookup, fmt)), "log export", done, failed
        )

    def export_audit(self, target: Path, fmt: str, done: Any, failed: Any) -> None:
        self.call(
            self._sync(lambda: self.desk.audit.export(target, fmt)), "export audit", done, failed
        )

    def close(self) -> None:
        self._run(self.desk.aclose(), name="close support desk", group="support-close")


class AddSupportConnectionDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add support connection")
        form = QFormLayout(self)
        form.addRow(
            PlainLabel(
                "A resource server's client credentials. The secret is kept "
                "only in the system keyring."
            )
        )
        self.issuer = QLineEdit()
        self.client_id = QLineEdit()
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.display_name = QLineEdit()
        form.addRow("Server address (issuer)", self.issuer)
        form.addRow("Client id", self.client_id)
        form.addRow("Client secret", self.secret)
        form.addRow("Name (optional)", self.display_name)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class ConfirmActionDialog(QDialog):
    """Confirm revoking or denying on an owner's behalf; a reason is required."""

    def __init__(self, grant: SupportGrant, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        verb = "Revoke" if grant.is_share else "Deny"
        self.setWindowTitle(f"{verb} on behalf of {grant.owner.label}")
        layout = QVBoxLayout(self)
        what = "the share of" if grant.is_share else "the request for"
        layout.addWidget(
            PlainLabel(
                f"{verb} {what} {', '.join(grant.scopes)} on {grant.resource_name} "
                f"for {grant.person.label}, on behalf of its owner {grant.owner.label}?"
            )
        )
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Reason, e.g. the support ticket number (required)")
        layout.addWidget(self.reason)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(verb)
        self.ok.setEnabled(False)
        self.reason.textChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


class SupportDeskWindow(QMainWindow):
    """Connections, lookup (grouped resource → shares and requests), why, acting, audit."""

    status = Signal(str)

    def __init__(self, support: SupportController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.support = support
        self.setObjectName("supportDesk")
        self.setWindowTitle(f"[{BADGE}] {WINDOW_TITLE}")
        self.connections: list[SupportConnection] = []
        self.lookup: Lookup | None = None
        self.answer: Explanation | None = None
        self.confirm_dialog: ConfirmActionDialog | None = None
        central = QWidget()
        outer = QVBoxLayout(central)
        self.banner = PlainLabel(
            "SUPPORT DESK — you act for a resource server, not as an owner. Every lookup and "
            "action is logged."
        )
        self.banner.setStyleSheet(BANNER_STYLE)
        outer.addWidget(self.banner)

        top = QHBoxLayout()
        badge = PlainLabel(BADGE)
        badge.setStyleSheet(BADGE_STYLE)
        top.addWidget(badge)
        self.connection_box = QComboBox()
        self.connection_box.setMinimumWidth(320)
        self.connection_box.currentIndexChanged.connect(self._connection_changed)
        top.addWidget(self.connection_box, 1)
        self.add_button = QPushButton("Add support connection…")
        self.add_button.clicked.connect(self.open_add_dialog)
        top.addWidget(self.add_button)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self.remove_connection())
        top.addWidget(self.remove_button)
        self.acting = QCheckBox("Act on behalf of owners (revoke, deny)")
        self.acting.setToolTip("Off by default for each connection; every action needs a reason.")
        self.acting.clicked.connect(self._acting_clicked)
        top.addWidget(self.acting)
        outer.addLayout(top)

        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)
        self.tabs.addTab(self._lookup_tab(), "Lookup")
        self.tabs.addTab(self._audit_tab(), "Audit log")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.message = PlainLabel("")
        self.message.setWordWrap(True)
        outer.addWidget(self.message)
        self.setCentralWidget(central)
        self.resize(1180, 760)
        self.refresh_connections()

    # --- layout --------------------------------------------------------------------------
    def _lookup_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        search = QHBoxLayout()
        self.role_box = QComboBox()
        for key, label in ROLES:
            self.role_box.addItem(label, key)
        search.addWidget(self.role_box)
        self.query = QLineEdit()
        self.query.setPlaceholderText("username, e-mail or id — or a resource id or name")
        self.query.returnPressed.connect(lambda: self.search(0))
        search.addWidget(self.query, 1)
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(lambda: self.search(0))
        search.addWidget(self.search_button)
        self.more_button = QPushButton("More results")
        self.more_button.setEnabled(False)
        self.more_button.clicked.connect(self.more)
        search.addWidget(self.more_button)
        layout.addLayout(search)

        self.results = QTreeWidget()
        self.results.setColumnCount(len(COLUMNS))
        self.results.setHeaderLabels(list(COLUMNS))
        header = self.results.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(90)
        self.results.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.results, 1)
        self.person_note = PlainLabel("")
        layout.addWidget(self.person_note)

        why = QHBoxLayout()
        why.addWidget(PlainLabel("Why can('t)"))
        self.why_person = QLineEdit()
        self.why_person.setPlaceholderText("person")
        why.addWidget(self.why_person)
        self.why_scope = QLineEdit()
        self.why_scope.setPlaceholderText("scope, e.g. view")
        self.why_scope.setMaximumWidth(140)
        why.addWidget(self.why_scope)
        self.why_resource = QLineEdit()
        self.why_resource.setPlaceholderText("resource name or id")
        why.addWidget(self.why_resource, 1)
        self.why_button = QPushButton("Why?")
        self.why_button.clicked.connect(self.ask_why)
        why.addWidget(self.why_button)
        layout.addLayout(why)
        self.why_answer = PlainLabel("")
        self.why_answer.setWordWrap(True)
        layout.addWidget(self.why_answer)

        actions = QHBoxLayout()
        self.act_button = QPushButton("Revoke / deny on behalf…")
        self.act_button.setEnabled(False)
        self.act_button.clicked.connect(self.confirm_action)
        actions.addWidget(self.act_button)
        actions.addStretch(1)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Operator's note for the case file")
        actions.addWidget(self.note, 1)
        self.pdf_button = QPushButton("Export case as PDF…")
        self.pdf_button.clicked.connect(self.export_pdf_dialog)
        actions.addWidget(self.pdf_button)
        self.data_button = QPushButton("Export JSON/CSV…")
        self.data_button.clicked.connect(self.export_data_dialog)
        actions.addWidget(self.data_button)
        layout.addLayout(actions)
        return tab

    def _audit_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.audit_table = QTableWidget(0, 8)
        self.audit_table.setHorizontalHeaderLabels(
            ["When", "Operator", "Connection", "Action", "Person", "Resource", "Reason", "Outcome"]
        )
        self.audit_table.horizontalHeader().setStretchLastSection(True)
        self.audit_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.audit_table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        export = QPushButton("Export audit log…")
        export.clicked.connect(self.export_audit_dialog)
        row.addWidget(export)
        layout.addLayout(row)
        return tab

    def _tab_changed(self, index: int) -> None:
        if index == 1:
            self.refresh_audit()

    # --- connections ---------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.message.setText(text)
        self.status.emit(text)

    def failed(self, error: BaseException) -> None:
        self.say(_message(error))

    def refresh_connections(self, select: str | None = None) -> None:
        def done(connections: list[SupportConnection]) -> None:
            self.connections = connections
            current = select or self.current_connection_id()
            self.connection_box.blockSignals(True)
            self.connection_box.clear()
            for c in connections:
                self.connection_box.addItem(f"[{BADGE}] {c.name}", c.id)
            if current is not None:
                index = self.connection_box.findData(current)
                self.connection_box.setCurrentIndex(max(index, 0))
            self.connection_box.blockSignals(False)
            self._connection_changed()
            if not connections:
                self.say("Add a support connection: a resource server's client id and secret.")

        self.support.connections(done, self.failed)

    def current_connection_id(self) -> str | None:
        data = self.connection_box.currentData()
        return str(data) if data else None

    def current_connection(self) -> SupportConnection | None:
        cid = self.current_connection_id()
        return next((c for c in self.connections if c.id == cid), None)

    def _connection_changed(self, *_: Any) -> None:
        connection = self.current_connection()
        self.acting.setChecked(bool(connection and connection.acting_enabled))
        self.acting.setEnabled(connection is not None)
        self.remove_button.setEnabled(connection is not None)
        self._selection_changed()

    def open_add_dialog(self) -> AddSupportConnectionDialog:
        dialog = AddSupportConnectionDialog(self)

        def accepted() -> None:
            self.add_connection(
                dialog.issuer.text().strip(),
                dialog.client_id.text().strip(),
                dialog.secret.text(),
                dialog.display_name.text().strip() or None,
            )
            dialog.secret.clear()

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def add_connection(self, issuer: str, client_id: str, secret: str, name: str | None) -> None:
        self.say(f"Checking {client_id}…")

        def done(connection: SupportConnection) -> None:
            self.say(f"Added {connection.name}.")
            self.refresh_connections(select=connection.id)

        self.support.add(issuer, client_id, secret, name, done, self.failed)

    def _acting_clicked(self, checked: bool) -> None:
        connection = self.current_connection()
        if connection is None:
            return
        if checked and not self._confirm(
            "Act on behalf of owners?",
            f"Allow revoking shares and denying requests on behalf of owners with "
            f"{connection.name}? Each action asks for a reason and is logged.",
        ):
            self.acting.setChecked(False)
            return
        self.set_acting(checked)

    def _confirm(self, title: str, text: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, "", parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # names can come from servers
        box.setText(text)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def remove_connection(self, confirmed: bool = False) -> None:
        connection = self.current_connection()
        if connection is None:
            return
        if not confirmed and not self._confirm(
            "Remove support connection?",
            f"Forget {connection.name} and its secret in the keyring? The audit log stays.",
        ):
            return

        def done(_: Any) -> None:
            self.say(f"Removed {connection.name}.")
            self.results.clear()
            self.lookup = None
            self.refresh_connections()

        self.support.remove(connection.id, done, self.failed)

    def set_acting(self, enabled: bool) -> None:
        connection = self.current_connection()
        if connection is None:
            return

        def done(updated: SupportConnection) -> None:
            self.connections = [updated if c.id == updated.id else c for c in self.connections]
            self._connection_changed()

        self.support.set_acting(connection.id, enabled, done, self.failed)

    # --- lookup --------------------------------------------------------------------------
    def search(self, offset: int = 0, *, keep_message: bool = False) -> None:
        cid = self.current_connection_id()
        query = self.query.text().strip()
        if cid is None or not query:
            self.say("Choose a support connection and type who or what to look up.")
            return
        role = str(self.role_box.currentData())
        if not keep_message:
            self.say("Looking up…")

        def done(lookup: Lookup) -> None:
            self.show_lookup(lookup, append=offset > 0, keep_message=keep_message)

        self.support.lookup(cid, role, query, offset, done, self.failed)

    def more(self) -> None:
        if self.lookup is not None and self.lookup.next_offset is not None:
            self.search(self.lookup.next_offset)

    def show_lookup(
        self, lookup: Lookup, *, append: bool = False, keep_message: bool = False
    ) -> None:
        self.results.setUpdatesEnabled(False)  # one repaint for the whole page
        if not append:
            self.results.clear()
        self.lookup = lookup
        count = 0
        for group in lookup.groups:
            top = QTreeWidgetItem([f"{group.resource_name}  (owner {group.owner.label})"])
            top.setToolTip(0, rich_tooltip(group.resource_id))
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self.results.addTopLevelItem(top)
            for title, grants in (("Shares", group.shares), ("Requests", group.requests)):
                if not grants:
                    continue
                section = QTreeWidgetItem([title])
                top.addChild(section)
                for grant in grants:
                    item = QTreeWidgetItem(
                        [
                            grant.person.label,
                            STATUS_TEXT[grant.status],
                            ", ".join(grant.scopes),
                            _day(grant.since),
                            _day(grant.expires_at),
                            _day(grant.decided_at),
                            grant.client_id or "",
                        ]
                    )
                    item.setData(0, GrantRole, grant)
                    section.addChild(item)
                    count += 1
            top.setExpanded(True)
            for index in range(top.childCount()):
                child = top.child(index)
                if child is not None:
                    child.setExpanded(True)
        for column in range(1, len(COLUMNS)):
            self.results.resizeColumnToContents(column)
        self.results.setUpdatesEnabled(True)
        found = lookup.person
        self.person_note.setText(f"{found.person.label} — found {found.method}" if found else "")
        self.more_button.setEnabled(lookup.next_offset is not None)
        if not keep_message:
            self.say(f"{count} shares and requests on {len(lookup.groups)} resources.")

    def selected_grant(self) -> SupportGrant | None:
        items = self.results.selectedItems()
        grant = items[0].data(0, GrantRole) if items else None
        return grant if isinstance(grant, SupportGrant) else None

    def select_grant(self, predicate: Callable[[SupportGrant], bool]) -> SupportGrant | None:
        count = self.results.topLevelItemCount()
        pending = [self.results.topLevelItem(i) for i in range(count)]
        while pending:
            item = pending.pop(0)
            if item is None:
                continue
            grant = item.data(0, GrantRole)
            if isinstance(grant, SupportGrant) and predicate(grant):
                self.results.setCurrentItem(item)
                return grant
            pending += [item.child(i) for i in range(item.childCount())]
        return None

    def _selection_changed(self) -> None:
        grant = self.selected_grant()
        connection = self.current_connection()
        actionable = grant is not None and grant.status in (
            GrantStatus.GRANTED,
            GrantStatus.PENDING,
        )
        self.act_button.setEnabled(bool(actionable and connection and connection.acting_enabled))
        if grant is not None:
            self.act_button.setText("Revoke share…" if grant.is_share else "Deny request…")
            self.why_person.setText(grant.person.username or grant.person.id)
            self.why_resource.setText(grant.resource_name)

    def ask_why(self) -> None:
        cid = self.current_connection_id()
        person, resource = self.why_person.text().strip(), self.why_resource.text().strip()
        if cid is None or not person or not resource:
            self.say("Give the person and the resource to explain.")
            return
        self.support.why(
            cid,
            person,
            resource,
            self.why_scope.text().strip() or None,
            self.show_answer,
            self.failed,
        )

    def show_answer(self, answer: Explanation) -> None:
        self.answer = answer
        self.why_answer.setText(answer.text)
        self.why_answer.setStyleSheet(VERDICT_STYLE.get(answer.verdict, ""))

    # --- acting --------------------------------------------------------------------------
    def confirm_action(self) -> ConfirmActionDialog | None:
        grant = self.selected_grant()
        cid = self.current_connection_id()
        if grant is None or cid is None:
            return None
        dialog = ConfirmActionDialog(grant, self)
        self.confirm_dialog = dialog

        def accepted() -> None:
            reason = dialog.reason.text().strip()

            def done(receipt: Any) -> None:
                self.say(f"Done: {receipt.note}.")
                self.search(0, keep_message=True)

            self.support.act(cid, grant, reason, done, self.failed)

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    # --- audit and exports ---------------------------------------------------------------
    def refresh_audit(self) -> None:
        def done(entries: list[Any]) -> None:
            self.audit_table.setRowCount(len(entries))
            for row, e in enumerate(entries):
                values = [
                    e.at,
                    e.operator,
                    e.connection_name,
                    e.action,
                    e.person,
                    e.resource,
                    e.reason,
                    e.outcome,
                ]
                for column, value in enumerate(values):
                    self.audit_table.setItem(row, column, QTableWidgetItem(value))

        self.support.audit(done, self.failed)

    def export_pdf_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export case", "support-case.pdf", "PDF (*.pdf)"
        )
        if path:
            self.export_pdf(Path(path))

    def export_pdf(self, target: Path) -> bool:
        """The current lookup (and why-answer) as a PDF, headed with the case facts."""
        if self.lookup is None:
            self.say("Look something up first.")
            return False
        document = QTextDocument()
        cursor = QTextCursor(document)
        header = case_header(self.lookup, self.note.text().strip())
        cursor.insertText("Support case\n\n")
        for key, value in header.items():
            cursor.insertText(f"{key}: {value}\n")
        if self.answer is not None:
            cursor.insertText("\nWhy:\n" + self.answer.text + "\n")
        cursor.insertText("\n")
        for row in case_rows(self.lookup):
            cursor.insertText(
                f"{row['resource_name']} — {row['kind']} {row['status']}: {row['person']} "
                f"[{row['scopes']}] since {row['since'] or '-'}"
                f"{' expires ' + row['expires_at'] if row['expires_at'] else ''}"
                f"{' via ' + row['client_id'] if row['client_id'] else ''}\n"
            )
        writer = QPdfWriter(str(target))
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setTitle("Support case")
        document.print_(writer)
        del writer  # finishes the file
        self.support.record_export(
            self.lookup, "pdf", lambda _: self.say(f"Exported {target.name}."), self.failed
        )
        return True

    def export_data_dialog(self) -> None:
        if self.lookup is None:
            self.say("Look something up first.")
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export case", "support-case.json", "JSON (*.json);;CSV (*.csv)"
        )
        if path:
            fmt = "csv" if path.endswith(".csv") or "CSV" in chosen else "json"
            self.support.export_case(
                self.lookup,
                self.note.text().strip(),
                Path(path),
                fmt,
                lambda _: self.say(f"Exported {Path(path).name}."),
                self.failed,
            )

    def export_audit_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export audit log", "support-audit.csv", "CSV (*.csv);;JSON (*.json)"
        )
        if path:
            fmt = "json" if path.endswith(".json") or "JSON" in chosen else "csv"
            self.support.export_audit(
                Path(path), fmt, lambda n: self.say(f"Exported {n} entries."), self.failed
            )

    def closeEvent(self, event: Any) -> None:
        self.support.close()
        super().closeEvent(event)


def open_support_desk(
    run: Callable[..., Any], desk: SupportDesk | None = None, parent: QWidget | None = None
) -> SupportDeskWindow:
    """A new Support desk window over ``desk`` (default: the app's folders and keyring)."""
    controller = SupportController(run, desk or SupportDesk())
    window = SupportDeskWindow(controller, parent)
    controller.setParent(window)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    return window
