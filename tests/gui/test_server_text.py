"""Text from servers is shown as the characters it is, never as HTML; the device login link
shows and opens one validated address.

A sandbox whose names carry markup (``<b>``, links to ``file:``, ``<img>``) and a small
loopback authorization server written here (crafted discovery and device answers) drive the
real window and dialogs.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in, request_key, resource_key
from tests.fixtures.owner import ask
from uma_desktop.gui.connections import KIND_CHOICES, AddConnectionDialog
from uma_desktop.gui.main_window import MainWindow
from uma_desktop.gui.models import RequestsModel
from uma_desktop.gui.widgets import rich_tooltip
from uma_desktop.sandbox import SandboxServer

pytestmark = pytest.mark.gui

RESOURCE = '<b>Holiday</b> <a href="file:///etc/passwd">photos</a> <img src="file:///etc/passwd">'
ABOUT = "<i>About</i> <img src=x onerror=alert(1)>"
PERSON = '<b>Bob</b><img src="file:///etc/passwd">'
EMAIL = "bob+<img src=x>@example.org"


def _plain(label: QLabel) -> bool:
    return label.textFormat() == Qt.TextFormat.PlainText


def make_hostile(server: SandboxServer) -> None:
    """Give a seeded resource and the requester bob names full of markup."""
    store = server.sandbox.store  # type: ignore[union-attr]
    store.execute(
        "UPDATE resources SET name = ?, description = ? WHERE name = ?",
        (RESOURCE, ABOUT, "Holiday 2026"),
    )
    store.execute("UPDATE users SET name = ?, email = ? WHERE username = 'bob'", (PERSON, EMAIL))


def test_names_from_the_server_are_plain_text_in_every_view(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    home = sandbox_factory(name="Home")
    make_hostile(home)
    ask(home, "bob", RESOURCE, ["view", "download"])
    window: MainWindow = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, home.issuer, name="Home")
    controller = window.controller

    # the inbox: the result line after a decision, the requester's tooltip
    inbox = window.requests_page
    qtbot.waitUntil(lambda: request_key(window, home_id, "bob", RESOURCE) is not None, timeout=WAIT)
    row = controller.requests.row_for_key(request_key(window, home_id, "bob", RESOURCE))
    assert controller.requests.row_object(row).requester.label == PERSON
    tooltip = controller.requests.index(row, RequestsModel.REQUESTER).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert tooltip == rich_tooltip(EMAIL) and "&lt;img src=x&gt;" in tooltip
    inbox.select_requests([request_key(window, home_id, "bob", RESOURCE)])
    assert html.escape(PERSON) in inbox.summary.text()  # composed rich text, escaped
    assert PERSON not in inbox.summary.text()
    with qtbot.waitSignal(inbox.decided, timeout=WAIT):
        inbox.approve_selected()
    assert _plain(inbox.result_label)
    assert inbox.result_label.text().startswith(
        f"Approved the request of {PERSON} (bob) for {RESOURCE} ("
    )

    # the resource detail: title, facts, the revoke question, the narrow dialog
    page = window.resources_page
    qtbot.waitUntil(
        lambda: controller.resources.row_for_key(resource_key(window, home_id, RESOURCE)) >= 0,
        timeout=WAIT,
    )
    detail = page.detail
    with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
        assert page.select_resource(*resource_key(window, home_id, RESOURCE))
    assert _plain(detail.title) and detail.title.text() == RESOURCE
    assert html.escape(ABOUT) in detail.facts.text() and ABOUT not in detail.facts.text()
    assert detail.select_share("bob")
    assert _plain(detail.shares_status)
    box = detail.confirm_revoke()
    assert box is not None
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert box.text() == f"Take all access to “{RESOURCE}” away from {PERSON}?"
    box.reject()
    narrow = detail.open_narrow_dialog()
    assert narrow is not None
    assert _plain(narrow.intro)
    assert narrow.intro.text() == f"{PERSON} keeps the ticked scopes on “{RESOURCE}”:"
    narrow.reject()

    # the share dialog's person lookup shows the server's name for bob as it is
    share = detail.open_share_dialog()
    assert share is not None
    share.set_person("bob")
    share.look_up()
    qtbot.waitUntil(lambda: share.lookup_result.text().startswith("✓"), timeout=WAIT)
    assert _plain(share.lookup_result)
    assert share.lookup_result.text() == f"✓ {PERSON} <{EMAIL}>"
    share.reject()


# --- a crafted authorization server on loopback -------------------------------------------


class CraftedServer:
    """Discovery, device authorization and token endpoints answering what a test sets."""

    def __init__(self) -> None:
        self.claimed_issuer: str | None = None  # discovery names this issuer instead
        self.device: dict[str, Any] = {}
        self.device_requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/.well-known/"):
                    self._json(200, outer.metadata())
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/device":
                    outer.device_requests += 1
                    self._json(200, outer.device)
                elif self.path == "/token":
                    self._json(400, {"error": "authorization_pending"})
                else:
                    self._json(404, {"error": "not_found"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": self.claimed_issuer or base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "device_authorization_endpoint": f"{base}/device",
            "jwks_uri": f"{base}/jwks",
            "permission_endpoint": f"{base}/perm",
            "resource_registration_endpoint": f"{base}/rreg",
            "policy_endpoint": f"{base}/policy",
            "registered_resource_endpoint": f"{base}/resources",
            "grant_types_supported": [
                "authorization_code",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
        }

    def device_answer(self, verification_uri: str, complete: str | None, user_code: str) -> None:
        self.device = {
            "device_code": "device-code-1",
            "user_code": user_code,
            "verification_uri": verification_uri,
            "expires_in": 600,
            "interval": 5,
        }
        if complete is not None:
            self.device["verification_uri_complete"] = complete


@pytest.fixture
def crafted_server() -> Iterator[CraftedServer]:
    server = CraftedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def add_dialog(window: MainWindow, issuer: str, *, device: bool) -> AddConnectionDialog:
    dialog = window.open_add_connection()
    dialog.issuer.setText(issuer)
    kinds = [kind for _label, kind in KIND_CHOICES]
    dialog.kind.setCurrentIndex(kinds.index(KIND_CHOICES[1][1]))  # the policy-manager kind
    dialog.remember.setChecked(False)
    dialog.use_device.setChecked(device)
    return dialog


def test_an_add_server_error_quoting_the_server_is_plain_text(
    qtbot: Any, gui_app: Any, crafted_server: CraftedServer
) -> None:
    hostile_issuer = '<img src="file:///etc/passwd"><a href="file:///">x</a>'
    crafted_server.claimed_issuer = hostile_issuer
    window = gui_app()
    dialog = add_dialog(window, crafted_server.issuer, device=False)
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: dialog.connect_button.isEnabled(), timeout=WAIT)
    assert _plain(dialog.progress)
    assert dialog.progress.text().startswith("⚠ ")
    assert hostile_issuer in dialog.progress.text()  # shown as the characters it is
    dialog.reject()


class UrlCatcher(QObject):
    """Receives the URLs the app asks the desktop to open (a real QDesktopServices handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def opened_urls() -> Iterator[list[str]]:
    catcher = UrlCatcher()
    for scheme in ("http", "https", "file"):
        QDesktopServices.setUrlHandler(scheme, catcher, "open")
    yield catcher.opened
    for scheme in ("http", "https", "file"):
        QDesktopServices.unsetUrlHandler(scheme)


@pytest.mark.parametrize(
    ("complete", "uses_complete"),
    [
        ("file:///etc/passwd", False),
        ("https://evil.example/device?user_code=WDJB", False),  # another origin
        ("{issuer}/device?user_code=WDJB-MJHT", True),
    ],
    ids=["file-url", "other-origin", "same-origin"],
)
def test_the_device_link_shows_and_opens_one_validated_address(
    qtbot: Any,
    gui_app: Any,
    crafted_server: CraftedServer,
    opened_urls: list[str],
    complete: str,
    uses_complete: bool,
) -> None:
    verification_uri = f"{crafted_server.issuer}/device"
    complete = complete.format(issuer=crafted_server.issuer)
    user_code = "<b>WDJB</b>-MJHT"
    crafted_server.device_answer(verification_uri, complete, user_code)
    window = gui_app()
    dialog = add_dialog(window, crafted_server.issuer, device=True)
    dialog.connect_button.click()
    qtbot.waitUntil(dialog.device_box.isVisible, timeout=WAIT)

    expected = complete if uses_complete else verification_uri
    assert dialog.device_link == expected
    escaped = html.escape(expected, quote=True)
    assert dialog.device_url.text() == f'<a href="{escaped}">{escaped}</a>'
    assert "file:" not in dialog.device_url.text()
    assert _plain(dialog.user_code) and dialog.user_code.text() == user_code
    # a click opens the validated address, whatever link the label's markup might hold
    dialog.device_url.linkActivated.emit("file:///etc/passwd")
    assert opened_urls == [expected]
    dialog.reject()


def test_a_device_address_that_is_not_http_is_refused(
    qtbot: Any, gui_app: Any, crafted_server: CraftedServer, opened_urls: list[str]
) -> None:
    crafted_server.device_answer("file:///etc/passwd", None, "WDJB-MJHT")
    window = gui_app()
    dialog = add_dialog(window, crafted_server.issuer, device=True)
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: "unusable address" in dialog.progress.text(), timeout=WAIT)
    assert crafted_server.device_requests == 1
    assert not dialog.device_box.isVisible()
    assert dialog.device_link is None
    assert dialog.connect_button.isEnabled()  # the person can try again
    assert "file:" not in dialog.device_url.text()
    dialog.open_device_link()
    assert opened_urls == []
    dialog.reject()
