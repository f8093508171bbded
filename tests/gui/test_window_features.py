"""What a person notices around the main flows: device-code login, clear errors in the
add-server dialog, notifications and the unread badge, keyboard-only decisions, favourites
and window layout surviving a restart, accessible names, and dark mode."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QComboBox, QDialog, QLineEdit, QListWidget, QTableView

from tests.fixtures.browser import complete_device_login, form_browser
from tests.fixtures.gui import WAIT, log_in, request_key, resource_key
from tests.fixtures.owner import ask, pending
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.gui import icons
from uma_desktop.gui.models import ResourcesModel

pytestmark = pytest.mark.gui


def test_device_code_login_shows_the_code_to_type(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app()  # no browser at all: the device grant is the way in
    dialog = window.open_add_connection()
    dialog.issuer.setText(server.issuer)
    dialog.remember.setChecked(False)
    dialog.use_device.setChecked(True)
    dialog.connect_button.click()
    qtbot.waitUntil(
        lambda: dialog.device_box.isVisible() and bool(dialog.user_code.text()), timeout=WAIT
    )
    code = dialog.user_code.text()
    url = dialog.device_url.text().split('"')[1]  # the link a person clicks or types
    assert url.startswith(server.issuer)

    # The person approves on "another device" (a scripted user on the real page).
    user = threading.Thread(
        target=complete_device_login, args=(url, code, "alice", "alice"), daemon=True
    )
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        user.start()
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.progress.text()
    qtbot.waitUntil(lambda: window.resources_page.model.rowCount() > 0, timeout=WAIT)


def test_without_a_browser_the_login_falls_back_to_a_code(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app(lambda url: False)  # "no web browser could be opened"
    dialog = window.open_add_connection()
    dialog.issuer.setText(server.issuer)
    dialog.remember.setChecked(False)
    dialog.connect_button.click()
    qtbot.waitUntil(
        lambda: dialog.device_box.isVisible() and bool(dialog.user_code.text()), timeout=WAIT
    )
    assert dialog.use_device.isChecked()
    dialog.reject()  # cancelling stops the waiting login


def test_add_server_errors_are_clear_and_keep_what_was_typed(qtbot: Any, gui_app: Any) -> None:
    window = gui_app()
    dialog = window.open_add_connection()
    dialog.issuer.setText("http://127.0.0.1:9/nothing-here")
    dialog.display_name.setText("Typo server")
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: dialog.connect_button.isEnabled(), timeout=WAIT)
    assert "127.0.0.1" in dialog.progress.text()  # says which server could not be reached
    assert dialog.isVisible()
    assert dialog.issuer.text() == "http://127.0.0.1:9/nothing-here"
    assert dialog.display_name.text() == "Typo server"
    assert window.controller.states == {}

    dialog.issuer.setText("")
    dialog.connect_button.click()
    assert "Type the address" in dialog.progress.text()


def test_new_requests_notify_and_show_an_unread_badge(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app(form_browser("alice", "alice"))
    log_in(qtbot, window, server.issuer, name="Home", remember=False)
    controller = window.controller
    qtbot.waitUntil(lambda: controller.requests.rowCount() == 1, timeout=WAIT)  # seeded one
    window.show_page("resources")
    controller.mark_requests_read()
    window.last_notification = None

    ask(server, "bob", "Holiday 2026", ["view"])
    controller.poll_now()  # what the 30 s poll does
    qtbot.waitUntil(lambda: window.last_notification is not None, timeout=WAIT)
    title, text = window.last_notification
    assert "request" in title.lower() and "Bob Brown" in text and "Holiday 2026" in text
    inbox_item = window.nav.item(window.page_keys().index("requests"))
    qtbot.waitUntil(lambda: "1 new" in inbox_item.text(), timeout=WAIT)
    assert "2 pending" in window.windowTitle()

    window.show_page("requests")  # looking at the inbox marks them read
    assert "new" not in inbox_item.text()


def test_every_inbox_action_works_from_the_keyboard(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    server = sandbox_factory(name="Home")
    ask(server, "bob", "Holiday 2026", ["view", "download"])
    ask(server, "dave", "Cat pictures", ["view"])
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, server.issuer, name="Home", remember=False)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # View > Inbox
    assert window.current_page_key() == "requests"
    inbox = window.requests_page
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 3, timeout=WAIT)
    table = inbox.table
    table.setFocus()

    inbox.select_requests([request_key(window, home_id, "bob", "Holiday 2026")])
    scopes = list(inbox.scope_boxes)
    qtbot.keyClick(table, Qt.Key.Key_1 + scopes.index("download"), Qt.KeyboardModifier.AltModifier)
    assert inbox.checked_scopes() == ["view"]
    qtbot.keyClick(table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # approve
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 2, timeout=WAIT)

    inbox.select_requests([request_key(window, home_id, "dave", "Cat pictures")])
    qtbot.keyClick(table, Qt.Key.Key_Delete)  # deny
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 1, timeout=WAIT)

    qtbot.keyClick(table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    assert len(inbox.selected_requests()) == 1
    qtbot.keyClick(table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 0, timeout=WAIT)
    assert pending(server, sandbox_owner_token(server)) == set()
    assert inbox.empty.isVisible()


def test_favourites_and_window_layout_survive_a_restart(
    qtbot: Any, gui_app: Any, sandbox_factory: Any, app_home: Path
) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, server.issuer, name="Home", remember=False)
    page = window.resources_page
    qtbot.waitUntil(
        lambda: page.model.rowCount() == 8 and not page.model.is_loading(), timeout=WAIT
    )
    key = resource_key(window, home_id, "Allergies")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    assert page.select_resource(*key)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # Ctrl+D
    assert page.model.object_for_key(key).favourite
    page.favourites_only.setChecked(True)
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=WAIT)
    window.resize(window.width(), 580)  # the offscreen screen is only 800x600
    page.table.setColumnWidth(ResourcesModel.TYPE, 203)
    window.show_page("history")
    gui_app.close(window)

    saved = (app_home / "config" / "favourites.json").read_text()
    assert home_id in saved and "token" not in saved.lower()

    again = gui_app()
    assert again.height() == 580
    assert again.resources_page.table.columnWidth(ResourcesModel.TYPE) == 203
    assert again.current_page_key() == "history"
    model = again.resources_page.model
    qtbot.waitUntil(lambda: model.row_for_key(key) >= 0, timeout=WAIT)  # last-known data
    assert model.object_for_key(key).favourite
    assert sum(1 for row in model.rows() if row.favourite) == 1


def test_inputs_and_tables_have_accessible_names(qtbot: Any, gui_app: Any) -> None:
    window = gui_app()
    dialogs = [window.open_add_connection()]
    unnamed = [
        f"{type(widget).__name__} {widget.objectName()}"
        for root in [window, *dialogs]
        for kind in (QLineEdit, QComboBox, QTableView, QListWidget)
        for widget in root.findChildren(kind)
        if widget.isVisibleTo(root)
        and not widget.accessibleName()
        and not isinstance(widget.parent(), QComboBox)  # a combo's own line edit
    ]
    assert unnamed == []


def test_icons_follow_a_dark_palette(qtbot: Any, gui_app: Any) -> None:
    window = gui_app()
    app = QGuiApplication.instance()
    assert isinstance(app, QGuiApplication)
    original = app.palette()
    try:
        dark = QPalette(original)
        dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
        dark.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))
        app.setPalette(dark)
        assert _ink(icons.icon("add")) > 200
        # the window re-colours its own icons when the palette-change event arrives
        qtbot.waitUntil(lambda: _ink(window.nav.item(0).icon()) > 200, timeout=WAIT)
    finally:
        app.setPalette(original)
    assert _ink(icons.icon("add")) < 100


def _ink(icon: Any) -> int:
    """Lightness of the darkest-or-lightest opaque pixel: the colour the icon is drawn in."""
    image = icon.pixmap(24, 24).toImage()
    values = [
        image.pixelColor(x, y).lightness()
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() > 200
    ]
    assert values, "the icon is empty"
    return sorted(values)[len(values) // 2]


def test_expected_errors_show_their_message_and_bugs_show_details(qtbot: Any) -> None:
    from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

    from uma_desktop.errors import ServerUnreachableError
    from uma_desktop.gui.errors import ExceptionDialog, show_error

    parent = QWidget()
    qtbot.addWidget(parent)
    show_error(parent, ServerUnreachableError("Could not connect to auth.example.org."))
    box = parent.findChild(QMessageBox)
    assert box is not None and box.text() == "Could not connect to auth.example.org."
    box.close()

    try:
        raise KeyError("a bug")
    except KeyError as bug:
        show_error(parent, bug)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ExceptionDialog))
    assert "KeyError" in dialog.details.toPlainText()
    dialog.close()
