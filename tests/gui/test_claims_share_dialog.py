"""The sharing editor's claims option: "anyone with a verified e-mail at a domain", written
from the window and honoured by the server's UMA grant; hidden where the server can't."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in, resource_key
from uma_desktop.gui.sharing_dialogs import ShareDialog
from uma_desktop.sandbox.requesting_party import Granted, RequestingParty

pytestmark = pytest.mark.gui


def test_share_with_anyone_at_a_domain_from_the_editor(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, server.issuer, name="Home")
    page = window.resources_page
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT)
    assert page.select_resource(*resource_key(window, home_id, "Vaccination record"))
    detail = page.detail
    with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
        pass
    dialog = detail.open_share_dialog()
    assert dialog is not None
    assert dialog.audience_row.isVisibleTo(dialog)  # the sandbox evaluates claims
    assert not dialog.claim_row.isVisibleTo(dialog)
    dialog.use_claim("email_domain", "example.test")
    assert dialog.claim_row.isVisibleTo(dialog) and not dialog.person.isVisibleTo(dialog)
    dialog.check_scopes(["read"])
    with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
        dialog.share_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert detail.select_share("Anyone with a verified e-mail at example.test")
    share = detail.selected_share()
    assert share is not None and share.claims == (("email_domain", "example.test"),)

    with RequestingParty.for_sandbox(server.config, "dave") as dave:
        outcome = dave.access(server.resource_url("Vaccination record"), ["read"])
    assert isinstance(outcome, Granted), outcome


def test_an_empty_claim_value_is_asked_for(qtbot: Any, gui_app: Any, sandbox_factory: Any) -> None:
    server = sandbox_factory(name="Home")
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, server.issuer, name="Home")
    page = window.resources_page
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT)
    assert page.select_resource(*resource_key(window, home_id, "Allergies"))
    dialog = page.detail.open_share_dialog()
    assert dialog is not None
    dialog.use_claim("email_domain", "  ")
    dialog.check_scopes(["read"])
    dialog.share_button.click()
    assert "value" in dialog.error.text() and dialog.isVisible()


def test_no_claims_option_where_the_server_cannot(qtbot: Any, gui_app: Any) -> None:
    window = gui_app()
    from uma_desktop.domain import Resource

    resource = Resource("c", "r", "Album", ("view",), "Photos")
    dialog = ShareDialog(window.controller, resource, frozenset(), window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.audience_row.isVisible()
    assert dialog.person.isVisible() and not dialog.claim_row.isVisible()
