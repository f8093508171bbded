"""The Support desk window: real Qt widgets, a real sandbox, the RS secret in the real keyring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.fixtures.gui import WAIT
from tests.fixtures.owner import OwnerApi, ask
from uma_desktop.gui.support_desk import ConfirmActionDialog, SupportDeskWindow
from uma_desktop.gui.widgets import PlainLabel

pytestmark = [pytest.mark.gui, pytest.mark.keyring]


def _rs(server: Any, key: str) -> tuple[str, str]:
    spec = next(r for r in server.config["resource_servers"] if r["key"] == key)
    return spec["client_id"], spec["client_secret"]


def test_lookup_why_revoke_audit_and_case_export(
    qtbot: Any, gui_app: Any, sandbox: Any, real_keyring: Any, tmp_path: Path
) -> None:
    window = gui_app()
    window.support_action.trigger()
    desks = [w for w in QApplication.topLevelWidgets() if isinstance(w, SupportDeskWindow)]
    assert len(desks) == 1
    desk = desks[0]
    assert desk.windowTitle().startswith("[SUPPORT]")
    assert "SUPPORT DESK" in desk.banner.text()

    client_id, secret = _rs(sandbox, "photos")
    desk.add_connection(sandbox.issuer, client_id, secret, "Photo Cloud desk")
    qtbot.waitUntil(lambda: desk.connection_box.count() == 1, timeout=WAIT)
    assert desk.connection_box.currentText() == "[SUPPORT] Photo Cloud desk"
    assert not desk.acting.isChecked()
    assert window.controller.states == {}  # nothing in the owner's lists

    desk.role_box.setCurrentIndex(desk.role_box.findData("requester"))
    desk.query.setText("bob")
    desk.search_button.click()
    qtbot.waitUntil(lambda: desk.results.topLevelItemCount() == 1, timeout=WAIT)
    top = desk.results.topLevelItem(0)
    assert top is not None and top.text(0).startswith("Family portraits")
    shares = top.child(0)
    assert shares is not None and shares.text(0) == "Shares"
    row = shares.child(0)
    assert row is not None and [row.text(i) for i in range(3)] == [
        "Bob Brown (bob)",
        "shared",
        "view",
    ]

    grant = desk.select_grant(lambda g: g.person.username == "bob")
    assert grant is not None
    assert not desk.act_button.isEnabled()  # acting on behalf is off by default
    desk.why_scope.setText("download")
    desk.why_button.click()
    qtbot.waitUntil(lambda: "not “download”" in desk.why_answer.text(), timeout=WAIT)

    desk.set_acting(True)
    qtbot.waitUntil(desk.act_button.isEnabled, timeout=WAIT)
    assert desk.act_button.text() == "Revoke share…"
    dialog = desk.confirm_action()
    assert dialog is not None and not dialog.ok.isEnabled()
    dialog.reason.setText("ticket 31")
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    qtbot.waitUntil(lambda: desk.message.text().startswith("Done"), timeout=WAIT)
    assert OwnerApi(sandbox).policy_of("Family portraits", "bob") is None
    qtbot.waitUntil(lambda: desk.results.topLevelItemCount() == 0, timeout=WAIT)

    desk.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: desk.audit_table.rowCount() >= 5, timeout=WAIT)
    actions = [desk.audit_table.item(r, 3).text() for r in range(desk.audit_table.rowCount())]
    assert actions[:2] == ["lookup by requester", "revoke"]
    reasons = [desk.audit_table.item(r, 6).text() for r in range(desk.audit_table.rowCount())]
    assert "ticket 31" in reasons

    desk.tabs.setCurrentIndex(0)
    desk.note.setText("Alice called about Bob")
    pdf = tmp_path / "case.pdf"
    assert desk.export_pdf(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    qtbot.waitUntil(lambda: desk.message.text() == "Exported case.pdf.", timeout=WAIT)

    desk.remove_connection(confirmed=True)
    qtbot.waitUntil(lambda: desk.connection_box.count() == 0, timeout=WAIT)
    assert desk.results.topLevelItemCount() == 0 and not desk.remove_button.isEnabled()
    desk.close()


def test_server_text_shows_as_plain_text(
    qtbot: Any, gui_app: Any, sandbox: Any, real_keyring: Any
) -> None:
    hostile = "<img src=x><b>Cat</b> pictures"
    sandbox.sandbox.store.execute(
        "UPDATE resources SET name = ? WHERE name = 'Cat pictures'", (hostile,)
    )
    ask(sandbox, "dave", hostile, ["view"])
    window = gui_app()
    window.support_action.trigger()
    [desk] = [w for w in QApplication.topLevelWidgets() if isinstance(w, SupportDeskWindow)]
    client_id, secret = _rs(sandbox, "photos")
    desk.add_connection(sandbox.issuer, client_id, secret, "<i>Photo</i> desk")
    qtbot.waitUntil(lambda: desk.connection_box.count() == 1, timeout=WAIT)
    desk.role_box.setCurrentIndex(desk.role_box.findData("requester"))
    desk.query.setText("dave")
    desk.search(0)
    qtbot.waitUntil(lambda: desk.results.topLevelItemCount() == 1, timeout=WAIT)
    top = desk.results.topLevelItem(0)
    assert top is not None and top.text(0).startswith(hostile)
    desk.select_grant(lambda g: g.person.username == "dave")
    desk.why_button.click()
    qtbot.waitUntil(lambda: hostile in desk.why_answer.text(), timeout=WAIT)
    assert desk.why_answer.textFormat() == Qt.TextFormat.PlainText
    dialog = ConfirmActionDialog(desk.selected_grant(), desk)  # type: ignore[arg-type]
    labels = dialog.findChildren(PlainLabel)
    assert any(hostile in label.text() for label in labels)
    dialog.reject()
    desk.remove_connection(confirmed=True)
    qtbot.waitUntil(lambda: desk.connection_box.count() == 0, timeout=WAIT)
    desk.close()
