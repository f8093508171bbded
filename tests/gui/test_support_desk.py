"""The Support desk window: real Qt widgets, a real sandbox, the RS secret in the real keyring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from tests.fixtures.gui import WAIT
from tests.fixtures.owner import OwnerApi
from uma_desktop.gui.support_desk import SupportDeskWindow

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

    connection_id = desk.current_connection_id()
    removed: list[Any] = []
    desk.support.call(
        desk.support.desk.remove(connection_id), "remove", removed.append, removed.append
    )
    qtbot.waitUntil(lambda: bool(removed), timeout=WAIT)
    desk.close()
