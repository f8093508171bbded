"""The username-and-password dialog for servers whose owner API takes their own login.

ForgeRock AM, PingAM and OpenAM accept only their own session token on the owner REST API;
that token comes from a login with username and password. The dialog names the server the
password goes to, and the password lives only in the dialog until the login is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.domain import Connection
from uma_desktop.gui.widgets import PlainLabel

if TYPE_CHECKING:
    from uma_desktop.app.auth import Credentials


class CredentialsDialog(QDialog):
    """Asks for the username and password of ``connection``'s server."""

    def __init__(self, connection: Connection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("credentialsDialog")
        host = urlsplit(connection.issuer).netloc or connection.issuer
        self.setWindowTitle(f"Log in to {connection.display_name}")
        layout = QVBoxLayout(self)
        explanation = PlainLabel(
            f"{connection.display_name} ({host}) asks for your username and password. "
            "They are sent to that server only; UMA Desktop keeps just the server's session "
            "until it expires, never the password."
        )
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        form = QFormLayout()
        self.username = QLineEdit(connection.username or "")
        self.username.setObjectName("usernameEdit")
        self.username.setAccessibleName("Username")
        self.password = QLineEdit()
        self.password.setObjectName("passwordEdit")
        self.password.setAccessibleName("Password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("&Username:", self.username)
        form.addRow("&Password:", self.password)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        (self.password if connection.username else self.username).setFocus()

    def take_credentials(self) -> Credentials | None:
        """What was typed (None without a username); the password field is emptied."""
        username, password = self.username.text().strip(), self.password.text()
        self.password.clear()
        from uma_desktop.app.auth import Credentials  # the core, loaded by now

        return Credentials(username, password) if username else None
