"""The window with a real OpenAM beside a real Keycloak and a sandbox: the OpenAM server is
detected, logged in through the username-and-password dialog, and the three servers' access
requests share one inbox; a request from OpenAM is decided there and checked in OpenAM."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.keycloak import KeycloakServer, create_resource, delete_resource
from tests.fixtures.keycloak import request_access as keycloak_request_access
from tests.fixtures.openam import OpenAMServer, register_resource_set
from tests.fixtures.openam import request_access as openam_request_access
from tests.fixtures.owner import ask
from uma_desktop.app import ConnectionStatus
from uma_desktop.domain import BackendKind
from uma_desktop.sandbox import SandboxServer

pytestmark = [pytest.mark.openam, pytest.mark.keycloak, pytest.mark.gui]


def _log_in_with_password(qtbot: Any, window: Any, openam: OpenAMServer) -> str:
    before = set(window.controller.states)
    dialog = window.open_add_connection()
    dialog.issuer.setText(openam.issuer)
    dialog.display_name.setText("OpenAM")
    dialog.remember.setChecked(False)
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: dialog.credentials_dialog is not None, timeout=WAIT)
    credentials = dialog.credentials_dialog
    assert "OpenAM" in credentials.windowTitle()
    credentials.username.setText("alice")
    credentials.password.setText(openam.password("alice"))
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        credentials.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.progress.text()
    (new_id,) = set(window.controller.states) - before
    return str(new_id)


def test_openam_keycloak_and_sandbox_in_one_window(
    qtbot: Any,
    gui_app: Any,
    openam: OpenAMServer,
    keycloak: KeycloakServer,
    sandbox: SandboxServer,
    tmp_path: Path,
) -> None:
    album = f"Summer album {uuid.uuid4().hex[:6]}"
    am_resource, _ = register_resource_set(openam, "alice", album, labels=("Holidays",))
    assert openam_request_access(openam, "alice", "bob", am_resource, ["view", "print"]) == (
        "request_submitted"
    )
    kc_resource = create_resource(keycloak, "alice", f"Desk notes {uuid.uuid4().hex[:6]}", ["view"])
    try:
        assert keycloak_request_access(keycloak, "carol", kc_resource, ["view"]) == (
            "request_submitted"
        )
        ask(sandbox, "bob", "Holiday 2026", ["view", "download"])

        window = gui_app(form_browser("alice", "alice"))
        sandbox_id = log_in(qtbot, window, sandbox.issuer, name="Sandbox", remember=False)
        keycloak_id = log_in(qtbot, window, keycloak.issuer, name="Keycloak", remember=False)
        openam_id = _log_in_with_password(qtbot, window, openam)
        controller = window.controller
        assert controller.states[openam_id].connection.kind is BackendKind.FORGEROCK
        assert controller.states[openam_id].connection.username == "alice"

        window.show_page("requests")
        inbox = window.requests_page

        def servers_in_inbox() -> set[str]:
            return {r.connection_id for r in inbox.model.rows()}

        qtbot.waitUntil(
            lambda: {sandbox_id, keycloak_id, openam_id} <= servers_in_inbox(), timeout=WAIT
        )
        window.resize(1280, 760)
        shot = Path(os.environ.get("UMA_SCREENSHOT_DIR") or tmp_path) / "three-servers-inbox.png"
        assert window.grab().save(str(shot))

        request = next(r for r in inbox.model.rows() if r.resource_name == album)
        inbox.select_requests([request.key])
        inbox.scope_boxes["print"].setChecked(False)
        inbox.approve_action.trigger()
        qtbot.waitUntil(lambda: "Approved" in inbox.result_label.text(), timeout=WAIT)
        assert openam_request_access(openam, "alice", "bob", am_resource, ["view"]) == "granted"
        assert openam_request_access(openam, "alice", "bob", am_resource, ["print"]) != "granted"

        # The resource with the label its resource server gave it, and bob's share
        window.show_page("resources")
        page = window.resources_page
        qtbot.waitUntil(lambda: page.select_resource(openam_id, am_resource), timeout=WAIT)
        assert "Holidays" in page.detail.facts.text()
        qtbot.waitUntil(lambda: page.detail.select_share("bob"), timeout=WAIT)
    finally:
        delete_resource(keycloak, kc_resource)


def test_openam_login_again_after_logout_with_a_wrong_then_right_password(
    qtbot: Any, gui_app: Any, openam: OpenAMServer
) -> None:
    window = gui_app()
    openam_id = _log_in_with_password(qtbot, window, openam)
    controller = window.controller
    controller.logout(openam_id)
    qtbot.waitUntil(
        lambda: controller.states[openam_id].status is ConnectionStatus.LOGIN_NEEDED, timeout=WAIT
    )

    dialog = window.open_login(openam_id)
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: dialog.credentials_dialog is not None, timeout=WAIT)
    credentials = dialog.credentials_dialog
    assert credentials.username.text() == "alice"  # remembered; the password is not
    assert credentials.password.text() == ""
    credentials.password.setText("not-the-password")
    credentials.accept()
    qtbot.waitUntil(lambda: "refused" in dialog.progress.text(), timeout=WAIT)
    assert dialog.isVisible()

    dialog.connect_button.click()
    qtbot.waitUntil(lambda: dialog.credentials_dialog is not None, timeout=WAIT)
    dialog.credentials_dialog.password.setText(openam.password("alice"))
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.credentials_dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.progress.text()
    qtbot.waitUntil(
        lambda: controller.states[openam_id].status is ConnectionStatus.OK, timeout=WAIT
    )
