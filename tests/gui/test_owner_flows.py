"""The owner's day in the real window, against two real sandboxes over real HTTP.

Log in through the dialog (scripted user on the real login form), see both servers'
resources in one table, search and filter, decide requests (subset, deny, bulk), share,
narrow and revoke — then check each change on the server through its own owner API.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import QDialog

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in, request_key, resource_key
from tests.fixtures.owner import ALICE_RESOURCES, ask, owner_get, pending, policies
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.gui.models import ResourcesModel

pytestmark = pytest.mark.gui


def test_owner_decides_and_shares_across_two_servers(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    home = sandbox_factory(name="Home")
    work = sandbox_factory(name="Work")
    ask(home, "bob", "Holiday 2026", ["view", "download", "comment"])
    ask(home, "dave", "Cat pictures", ["view"])
    ask(work, "erin", "Allergies", ["read"])
    ask(work, "dave", "Family calendar", ["read", "write"])
    home_token, work_token = sandbox_owner_token(home), sandbox_owner_token(work)

    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, home.issuer, name="Home")
    work_id = log_in(qtbot, window, work.issuer, name="Work")
    controller = window.controller

    # --- resources of both servers in one table --------------------------------------
    page = window.resources_page
    qtbot.waitUntil(
        lambda: page.model.rowCount() == 2 * ALICE_RESOURCES and not page.model.is_loading(),
        timeout=WAIT,
    )
    servers = {
        page.model.index(r, ResourcesModel.SERVER).data() for r in range(page.model.rowCount())
    }
    assert servers == {"Home", "Work"}
    assert "16 resources on 2 servers" in page.count_label.text()

    page.search.setText("holiday")
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 2, timeout=WAIT)  # debounced search
    page.server_filter.setCurrentIndex(page.server_filter.findData(work_id))
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=WAIT)  # next event-loop turn
    assert page.proxy.index(0, ResourcesModel.SERVER).data() == "Work"
    page.search.clear()
    page.server_filter.setCurrentIndex(0)
    page.type_filter.setCurrentIndex(page.type_filter.findData("calendar"))
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 4, timeout=WAIT)  # two calendars each
    page.type_filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 2 * ALICE_RESOURCES, timeout=WAIT)

    # --- inbox: approve a subset of scopes ------------------------------------------------
    window.show_page("requests")
    inbox = window.requests_page
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 6, timeout=WAIT)  # 4 asked + 1 seeded each
    inbox.select_requests([request_key(window, home_id, "bob", "Holiday 2026")])
    assert sorted(inbox.scope_boxes) == ["comment", "download", "view"]
    inbox.toggle_scope(list(inbox.scope_boxes).index("comment"))  # Alt+n: untick "comment"
    assert sorted(inbox.checked_scopes()) == ["download", "view"]
    inbox.approve_action.trigger()
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 5, timeout=WAIT)
    assert policies(home, home_token, "Holiday 2026")["bob"] == ["download", "view"]
    assert "Approved" in inbox.result_label.text()

    # --- deny --------------------------------------------------------------------------
    inbox.select_requests([request_key(window, home_id, "dave", "Cat pictures")])
    inbox.deny_action.trigger()
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 4, timeout=WAIT)
    assert ("dave", "Cat pictures") not in pending(home, home_token)
    assert "dave" not in policies(home, home_token, "Cat pictures")

    # --- bulk approve everything on Work --------------------------------------------------
    work_keys = [r.key for r in inbox.model.rows() if r.connection_id == work_id]
    assert len(work_keys) == 3
    inbox.select_requests(work_keys)
    assert inbox.approve_button.text() == "Approve 3"
    inbox.approve_action.trigger()
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 1, timeout=WAIT)
    assert pending(work, work_token) == set()
    assert policies(work, work_token, "Allergies")["erin"] == ["read"]
    assert policies(work, work_token, "Family calendar")["dave"] == ["read", "write"]

    # --- share, narrow, revoke on Home -----------------------------------------------------
    window.show_page("resources")
    assert page.select_resource(*resource_key(window, home_id, "Allergies"))
    detail = page.detail
    with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
        pass
    dialog = detail.open_share_dialog()
    assert dialog is not None
    dialog.set_person("erin")
    dialog.lookup_button.click()  # the server knows who that is
    qtbot.waitUntil(lambda: "Erin Evans" in dialog.lookup_result.text(), timeout=WAIT)
    dialog.check_scopes(["read", "write"])
    assert dialog.expiry_row.isVisibleTo(dialog)  # the sandbox declares Capability.EXPIRY
    dialog.expires.setChecked(True)
    until = QDateTime.currentDateTime().addDays(10)
    dialog.expiry.setDateTime(until)
    with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
        dialog.share_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert policies(home, home_token, "Allergies")["erin"] == ["read", "write"]
    found = owner_get(
        home,
        home_token,
        "policy_endpoint",
        expand="true",
        resource_id=home.resource_id("Allergies"),
    )
    erin = next(p for p in found if p["subject"]["username"] == "erin")
    assert abs(erin["expires_at"] - until.toSecsSinceEpoch()) < 61  # minute precision
    assert detail.select_share("erin")
    assert detail.selected_share().expires_at is not None

    narrow = detail.open_narrow_dialog()
    assert narrow is not None
    narrow.scope_boxes["write"].setChecked(False)
    with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
        narrow.ok_button.click()
    assert policies(home, home_token, "Allergies")["erin"] == ["read"]

    assert detail.select_share("erin")
    detail.revoke(detail.selected_share())  # what the confirmation's "Revoke" button runs
    qtbot.waitUntil(lambda: not detail.select_share("erin"), timeout=WAIT)
    assert "erin" not in policies(home, home_token, "Allergies")

    # --- the local history lists every decision ---------------------------------------------
    window.show_page("history")
    qtbot.waitUntil(lambda: window.history_page.model.rowCount() >= 8, timeout=WAIT)
    actions = sorted(d.action for d in window.history_page.model.rows())
    assert actions.count("approve") == 4 and "deny" in actions
    assert {"share", "narrow", "revoke"} <= set(actions)
    assert controller.status_of(home_id) == controller.status_of(work_id) == "ok"
