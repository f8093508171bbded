"""One server dies mid-session: its connection says so, the other keeps working, and nothing
the owner typed or decided is lost. And a big load never freezes the window."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in, request_key, resource_key
from tests.fixtures.heartbeat import load_and_reload_under_heartbeat
from tests.fixtures.owner import ALICE_RESOURCES, ask, policies
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.app import ConnectionStatus

pytestmark = pytest.mark.gui


def test_a_stopped_server_does_not_take_the_other_down(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    home = sandbox_factory(name="Home")
    work = sandbox_factory(name="Work")
    ask(home, "bob", "Holiday 2026", ["view"])
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, home.issuer, name="Home")
    work_id = log_in(qtbot, window, work.issuer, name="Work")
    controller, page = window.controller, window.resources_page
    qtbot.waitUntil(
        lambda: page.model.rowCount() == 2 * ALICE_RESOURCES and not page.model.is_loading(),
        timeout=WAIT,
    )
    qtbot.waitUntil(lambda: controller.requests.rowCount() == 3, timeout=WAIT)

    # The owner starts sharing a Work resource and types who with...
    assert page.select_resource(*resource_key(window, work_id, "Work calendar"))
    dialog = page.detail.open_share_dialog()
    assert dialog is not None
    dialog.set_person("erin")
    dialog.check_scopes(["read"])

    # ...when the Work server goes away.
    work.stop()
    dialog.share_button.click()
    qtbot.waitUntil(
        lambda: dialog.share_button.isEnabled() and "Not shared" in dialog.error.text(),
        timeout=WAIT,
    )
    assert dialog.isVisible()
    assert dialog.person.text() == "erin" and dialog.chosen_scopes() == ["read"]

    window.refresh_action.trigger()
    qtbot.waitUntil(
        lambda: controller.status_of(work_id) in (ConnectionStatus.STALE, ConnectionStatus.ERROR),
        timeout=WAIT,
    )
    status_line = window.connections.status_text_of(work_id)
    assert "Offline" in status_line or "Error" in status_line
    assert controller.status_of(home_id) == ConnectionStatus.OK

    # Work's last-known rows stay visible; Home keeps working.
    assert (
        sum(1 for r in page.model.rows() if r.resource.connection_id == work_id) == ALICE_RESOURCES
    )
    inbox = window.requests_page
    inbox.select_requests([request_key(window, home_id, "bob", "Holiday 2026")])
    inbox.approve_action.trigger()
    qtbot.waitUntil(lambda: "Approved" in inbox.result_label.text(), timeout=WAIT)
    assert policies(home, sandbox_owner_token(home), "Holiday 2026")["bob"] == ["view"]

    # The failed share is in the history with its reason, so the decision is not lost either.
    window.show_page("history")
    qtbot.waitUntil(
        lambda: any(d.action == "share" and not d.ok for d in window.history_page.model.rows()),
        timeout=WAIT,
    )
    dialog.reject()


@pytest.mark.responsiveness
def test_loading_twenty_thousand_resources_never_blocks_the_window(
    qtbot: Any, gui_app: Any, standalone_sandbox: Any, report_figure: Any
) -> None:
    home = standalone_sandbox("Home", bulk=10_000)
    work = standalone_sandbox("Work", bulk=10_000)
    expected = 2 * (10_000 + ALICE_RESOURCES)
    window = gui_app(form_browser("alice", "alice"))

    figures = load_and_reload_under_heartbeat(
        qtbot, window, {"Home": home.issuer, "Work": work.issuer}, expected
    )
    report_figure(figures.text())
    assert figures.heartbeat.worst < 0.100, "the GUI thread was blocked: " + figures.text()
    model = window.resources_page.model
    assert model.rowCount() == expected
    page = window.resources_page
    page.search.setText("item 0999")
    page.apply_filter()
    assert page.proxy.rowCount() >= 2  # one per server at least
