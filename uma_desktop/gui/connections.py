"""The connections sidebar (status per server) and the add-connection / login dialog."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PySide6.QtCore import QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.domain import BackendKind, Connection
from uma_desktop.errors import BrowserUnavailableError, SecurityCheckError, UmaDesktopError
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.credentials import CredentialsDialog
from uma_desktop.gui.errors import error_text
from uma_desktop.gui.icons import icon, status_icon
from uma_desktop.gui.widgets import PlainLabel, rich_tooltip
from uma_desktop.gui.workers import Worker

if TYPE_CHECKING:  # the core loads after the window is shown (see gui/app.py)
    from uma_desktop.app import ConnectionState

log = logging.getLogger(__name__)
LOGIN_NEEDED = "login_needed"  # ConnectionStatus.LOGIN_NEEDED (a StrEnum: equal to its value)

# by ConnectionStatus value (a StrEnum: its members look their text up here as themselves)
STATUS_TEXT = {
    "ok": "Up to date",
    "stale": "Offline — showing last-known data",
    "error": "Error",
    "login_needed": "Login needed",
    "loading": "Loading…",
}

KIND_CHOICES: list[tuple[str, BackendKind | None]] = [
    ("Detect automatically", None),
    ("UMA Policy Manager (sandbox and compatible servers)", BackendKind.POLICY_MANAGER),
    ("Keycloak", BackendKind.KEYCLOAK),
    ("ForgeRock AM / PingAM / OpenAM", BackendKind.FORGEROCK),
]

ConnectionIdRole = Qt.ItemDataRole.UserRole + 10


class ConnectionsPanel(QWidget):
    """The sidebar list: one row per server with its status; context actions per row."""

    add_requested = Signal()
    login_requested = Signal(str)  # connection id
    check_requested = Signal(str)  # connection id: "Check server…"

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Servers")
        title.setObjectName("sidebarHeading")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        self.list = QListWidget()
        self.list.setObjectName("connectionsList")
        self.list.setAccessibleName("Connections")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(self._activated)
        self.list.setWordWrap(True)
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        layout.addWidget(self.list, 1)
        self.empty_hint = QLabel("No servers yet.\nAdd one to see your resources.")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setObjectName("connectionsEmpty")
        layout.addWidget(self.empty_hint)
        self.add_button = QPushButton(icon("add"), "Add server…")
        self.add_button.setObjectName("addConnectionButton")
        self.add_button.setToolTip("Connect to another authorization server (Ctrl+N)")
        self.add_button.clicked.connect(self.add_requested)
        layout.addWidget(self.add_button)
        controller.connections_updated.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_id()
        self.list.clear()
        for state in sorted(
            self.controller.states.values(), key=lambda s: s.connection.display_name.casefold()
        ):
            self.list.addItem(self._item(state))
        # before the core is open the connections are not known yet, only cached rows
        self.empty_hint.setVisible(self.list.count() == 0 and self.controller.is_open)
        if selected:
            for row in range(self.list.count()):
                if self.list.item(row).data(ConnectionIdRole) == selected:
                    self.list.setCurrentRow(row)

    def _item(self, state: ConnectionState) -> QListWidgetItem:
        status_text = STATUS_TEXT.get(state.status, str(state.status))
        who = state.connection.username
        second = status_text if not who else f"{who} · {status_text}"
        item = QListWidgetItem(
            status_icon(str(state.status)), f"{state.connection.display_name}\n{second}"
        )
        item.setData(ConnectionIdRole, state.connection.id)
        tip = [state.connection.issuer, status_text]
        if state.message:
            tip.append(state.message)
        if state.last_success is not None:
            tip.append(
                "Last refreshed " + state.last_success.astimezone().strftime("%Y-%m-%d %H:%M")
            )
        item.setToolTip(rich_tooltip("\n".join(tip)))
        item.setData(
            Qt.ItemDataRole.AccessibleTextRole, f"{state.connection.display_name}: {status_text}"
        )
        item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, state.message)
        return item

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ConnectionIdRole) if item else None

    def status_text_of(self, connection_id: str) -> str:
        """The visible status line of one connection (tests read what a person reads)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ConnectionIdRole) == connection_id:
                return item.text().split("\n", 1)[1]
        return ""

    def _activated(self, item: QListWidgetItem) -> None:
        cid = item.data(ConnectionIdRole)
        if self.controller.status_of(cid) == LOGIN_NEEDED:
            self.login_requested.emit(cid)
        else:
            self.controller.refresh_all(cid)

    def actions_for(self, connection_id: str) -> list[QAction]:
        status = self.controller.status_of(connection_id)
        refresh = QAction(icon("refresh"), "Refresh", self)
        refresh.triggered.connect(lambda: self.controller.refresh_all(connection_id))
        login = QAction(icon("login"), "Log in…", self)
        login.triggered.connect(lambda: self.login_requested.emit(connection_id))
        logout = QAction(icon("logout"), "Log out", self)
        logout.triggered.connect(lambda: self.controller.logout(connection_id))
        logout.setEnabled(status != LOGIN_NEEDED)
        check = QAction("Check server…", self)
        check.triggered.connect(lambda: self.check_requested.emit(connection_id))
        remove = QAction(icon("remove"), "Remove server", self)
        remove.triggered.connect(lambda: self.controller.remove_connection(connection_id))
        return [refresh, login, logout, check, remove]

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        for action in self.actions_for(item.data(ConnectionIdRole)):
            menu.addAction(action)
        menu.popup(self.list.viewport().mapToGlobal(pos))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def device_link(verification_uri: str, verification_uri_complete: str | None) -> str:
    """The one address the device dialog shows and opens.

    Both addresses come from the server: ``verification_uri`` must be https (http only on
    a loopback host), like an issuer; ``verification_uri_complete`` (the address with the
    code filled in) is used only when it passes the same check and has the same origin —
    otherwise it is ignored. Raises SecurityCheckError when ``verification_uri`` is unusable.
    """
    from uma_desktop.oauth.discovery import check_url  # loaded with the core, not at start

    try:
        link = check_url(verification_uri, "device login address")
    except UmaDesktopError as exc:
        raise SecurityCheckError(
            f"The server gave an unusable address for the code login; it was refused. {exc}"
        ) from None
    if verification_uri_complete:
        try:
            complete = check_url(verification_uri_complete, "device login address")
        except UmaDesktopError:
            complete = None
        if complete is not None and _origin(complete) == _origin(link):
            return complete
        log.warning("ignored a device login address on another origin or scheme")
    return link


class AddConnectionDialog(QDialog):
    """Issuer URL → discovery → kind detected (or chosen) → login in the system browser.

    With "use a code" checked (or for a server that cannot redirect back), the device grant
    is used and the dialog shows the code and the address to type it at. Opened with an
    existing ``connection`` it skips straight to the login step.
    """

    def __init__(
        self,
        controller: Controller,
        parent: QWidget | None = None,
        connection: Connection | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.connection = connection
        self._worker: Worker | None = None
        self.device_link: str | None = None  # the validated address the device link opens
        self.credentials_dialog: CredentialsDialog | None = None
        self.setObjectName("addConnectionDialog")
        self.setWindowTitle("Log in" if connection else "Add server")
        self.setMinimumWidth(480)

        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Log in to <b>{html.escape(connection.display_name)}</b> "
            f"({html.escape(connection.issuer)})."
            if connection
            else "Type the address of your authorization server. UMA Desktop finds out what "
            "kind of server it is, then opens your web browser so you can log in."
        )
        intro.setTextFormat(Qt.TextFormat.RichText)  # composed here, every value escaped
        intro.setWordWrap(True)
        layout.addWidget(intro)

        form = QFormLayout()
        self.issuer = QLineEdit()
        self.issuer.setObjectName("issuerEdit")
        self.issuer.setPlaceholderText("https://auth.example.org/realms/me")
        self.issuer.setAccessibleName("Server address")
        self.kind = QComboBox()
        self.kind.setAccessibleName("Server kind")
        for label, _kind in KIND_CHOICES:
            self.kind.addItem(label)
        self.display_name = QLineEdit()
        self.display_name.setPlaceholderText("optional, e.g. Work")
        self.display_name.setAccessibleName("Display name")
        if connection is None:
            form.addRow("Server &address:", self.issuer)
            form.addRow("Server &kind:", self.kind)
            form.addRow("&Name:", self.display_name)
        self.remember = QCheckBox("&Keep me logged in (tokens stay in the system keyring)")
        self.remember.setChecked(connection.remember if connection else True)
        self.remember.setEnabled(connection is None)
        self.use_device = QCheckBox("Log in with a &code on another device instead")
        form.addRow(self.remember)
        form.addRow(self.use_device)
        layout.addLayout(form)

        self.progress = PlainLabel("")
        self.progress.setObjectName("loginProgress")
        self.progress.setWordWrap(True)
        self.progress.setAccessibleName("Progress")
        self.progress.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.progress)

        self.device_box = QFrame()
        self.device_box.setObjectName("deviceCodeBox")
        self.device_box.setFrameShape(QFrame.Shape.StyledPanel)
        device_layout = QVBoxLayout(self.device_box)
        device_layout.addWidget(QLabel("Open this address on any device and type the code:"))
        self.device_url = QLabel()
        self.device_url.setObjectName("deviceUrl")
        self.device_url.setTextFormat(Qt.TextFormat.RichText)  # a link composed here, escaped
        # Not setOpenExternalLinks: a click opens the validated address, whatever the markup.
        self.device_url.setOpenExternalLinks(False)
        self.device_url.linkActivated.connect(self.open_device_link)
        self.device_url.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.device_url.setAccessibleName("Address to open")
        self.user_code = PlainLabel()
        self.user_code.setObjectName("userCode")
        self.user_code.setAccessibleName("Code to type")
        code_font = QFont(self.user_code.font())
        code_font.setPointSizeF(code_font.pointSizeF() * 1.8)
        code_font.setBold(True)
        code_font.setStyleHint(QFont.StyleHint.Monospace)
        self.user_code.setFont(code_font)
        self.user_code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        code_row = QHBoxLayout()
        code_row.addWidget(self.user_code, 1)
        copy = QPushButton("Copy code")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.user_code.text()))
        code_row.addWidget(copy)
        device_layout.addWidget(self.device_url)
        device_layout.addLayout(code_row)
        self.device_box.hide()
        layout.addWidget(self.device_box)

        self.buttons = QDialogButtonBox()
        self.connect_button = self.buttons.addButton(
            "Log in" if connection else "Connect and log in",
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.connect_button.setObjectName("connectButton")
        self.connect_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)

    # --- flow ----------------------------------------------------------------------------
    def start(self) -> None:
        self._set_busy(True)
        if self.connection is None:
            issuer = self.issuer.text().strip()
            if not issuer:
                self._fail_text("Type the address (issuer URL) of the server.")
                return
            kind = KIND_CHOICES[self.kind.currentIndex()][1]
            self.progress.setText(f"Looking up {issuer}…")
            self._worker = self.controller.add_connection(
                issuer,
                kind=kind,
                display_name=self.display_name.text().strip() or None,
                remember=self.remember.isChecked(),
                on_done=self._added,
                on_error=self._failed,
                owner=self,
            )
        else:
            self._login()

    def _added(self, connection: Connection) -> None:
        self.connection = connection
        kind = {
            BackendKind.KEYCLOAK: "Keycloak",
            BackendKind.POLICY_MANAGER: "UMA Policy Manager",
            BackendKind.FORGEROCK: "ForgeRock AM family",
        }
        kind_name = kind.get(connection.kind, str(connection.kind))
        self.progress.setText(f"Found a {kind_name} server at {connection.issuer}.")
        self.setWindowTitle(f"Log in to {connection.display_name}")
        for widget in (self.issuer, self.kind, self.display_name, self.remember):
            widget.setEnabled(False)
        self.controller.reload_connections()
        self._login()

    def _login(self) -> None:
        assert self.connection is not None
        if self.connection.kind is BackendKind.FORGEROCK:
            self._login_with_password()
            return
        device = self.use_device.isChecked()
        self.progress.setText(
            self.progress.text()
            + (
                "\nWaiting for the code to be entered…"
                if device
                else "\nYour web browser opens; log in there, then come back here."
            )
        )
        self._worker = self.controller.login(
            self.connection.id,
            device=device,
            on_device_code=self._show_device_code,
            on_done=self._logged_in,
            on_error=self._failed,
            owner=self,
        )

    def _login_with_password(self) -> None:
        """This family logs in with username and password (asked in its own dialog)."""
        assert self.connection is not None
        dialog = CredentialsDialog(self.connection, self)
        self.credentials_dialog = dialog
        dialog.finished.connect(self._credentials_given)
        dialog.open()

    def _credentials_given(self, result: int) -> None:
        dialog, self.credentials_dialog = self.credentials_dialog, None
        assert dialog is not None and self.connection is not None
        credentials = dialog.take_credentials() if result == QDialog.DialogCode.Accepted else None
        dialog.deleteLater()
        if credentials is None:
            self._fail_text("Log in with your username and password to use this server.")
            return
        self.progress.setText(self.progress.text() + "\nLogging in…")
        self._worker = self.controller.login(
            self.connection.id,
            credentials=credentials,
            on_done=self._logged_in,
            on_error=self._failed,
            owner=self,
        )

    def _show_device_code(self, code: Any) -> None:
        try:
            link = device_link(code.verification_uri, code.verification_uri_complete)
        except SecurityCheckError as exc:
            if self._worker is not None:
                self._worker.cancel()
                self._worker = None
            self._fail_text(error_text(exc))
            return
        self.device_link = link
        escaped = html.escape(link, quote=True)
        self.device_url.setText(f'<a href="{escaped}">{escaped}</a>')
        self.device_url.setToolTip(rich_tooltip(link))
        self.user_code.setText(code.user_code)
        self.device_box.show()

    def open_device_link(self, _href: str = "") -> None:
        """Open the validated device login address (the one the dialog shows)."""
        if self.device_link is not None:
            QDesktopServices.openUrl(QUrl(self.device_link, QUrl.ParsingMode.StrictMode))

    def _logged_in(self, state: ConnectionState) -> None:
        self._worker = None
        who = state.connection.username or "you"
        self.progress.setText(f"Logged in as {who}.")
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._worker = None
        if (
            self.connection is not None
            and not self.use_device.isChecked()
            and isinstance(exc, BrowserUnavailableError)
        ):
            # No browser on this machine: fall back to the device grant by itself.
            self.use_device.setChecked(True)
            self.progress.setText("No web browser could be opened here; use a code instead.")
            self._login()
            return
        self._fail_text(error_text(exc))

    def _fail_text(self, text: str) -> None:
        self.progress.setText(f"⚠ {text}")
        self._set_busy(False)
        if self.connection is not None:
            self.connect_button.setText("Try logging in again")

    def _set_busy(self, busy: bool) -> None:
        self.connect_button.setEnabled(not busy)
        if self.connection is None:
            self.issuer.setEnabled(not busy)
        self.use_device.setEnabled(not busy)

    def reject(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        super().reject()
