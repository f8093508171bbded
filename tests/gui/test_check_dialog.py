"""Check server…: the dialog runs the real check on a connection or a typed URL, shows
plain-text results and saves them as HTML and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.hostile import Answer, HostileServer
from uma_desktop.gui.check_dialog import CheckServerDialog

pytestmark = pytest.mark.gui


def test_check_on_a_connection_lists_every_pass_and_exports(
    qtbot: Any, gui_app: Any, sandbox_factory: Any, tmp_path: Path
) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, server.issuer, name="Home")
    [check] = [a for a in window.connections.actions_for(home_id) if a.text() == "Check server…"]
    check.trigger()  # the connection's own menu
    dialog = window.dialog
    assert isinstance(dialog, CheckServerDialog)
    assert dialog.target.currentText().startswith("Home")
    assert dialog.url() == server.issuer
    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=WAIT)
    table = dialog.table
    assert table.rowCount() == 17
    assert {table.item(row, 0).text() for row in range(table.rowCount())} == {"PASS"}
    references = [table.item(row, 3).text() for row in range(table.rowCount())]
    assert "RFC 9207 §2, §3" in references
    assert "17 passed" in dialog.status.text()
    dialog.export(tmp_path / "check.json", "json")
    dialog.export(tmp_path / "check.html", "html")
    assert json.loads((tmp_path / "check.json").read_text())["summary"]["pass"] == 17
    assert "Issuer matches the URL" in (tmp_path / "check.html").read_text()


def test_check_on_a_typed_url_shows_server_text_as_text(
    qtbot: Any, gui_app: Any, hostile: HostileServer
) -> None:
    hostile.serve_discovery(issuer="<b>bold</b> issuer")
    hostile.route("/jwks", Answer.text("gone", status=404))
    window = gui_app()
    dialog = window.open_check_server()
    dialog.target.setEditText(hostile.base)
    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=WAIT)
    rows = {
        dialog.table.item(row, 1).text(): dialog.table.item(row, 0).text()
        for row in range(dialog.table.rowCount())
    }
    assert rows["Issuer matches the URL"] == "FAIL"
    assert rows["Signing keys (JWKS)"] == "FAIL"
    details = [dialog.table.item(row, 2).text() for row in range(dialog.table.rowCount())]
    assert any("<b>bold</b> issuer" in detail for detail in details)  # shown, not rendered
    assert dialog.save_html.isEnabled()


def test_a_url_that_is_no_issuer_says_why(qtbot: Any, gui_app: Any) -> None:
    window = gui_app()
    dialog = window.open_check_server("http://example.org")
    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.check_button.isEnabled(), timeout=WAIT)
    assert "https" in dialog.status.text()
    assert dialog.report is None
