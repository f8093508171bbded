"""The window with a real Keycloak: detected from discovery, login through Keycloak's own
form, its resources in the table, a request decided in the inbox, a share made and revoked
— each checked in Keycloak's own account API afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.keycloak import (
    KeycloakServer,
    account_json,
    create_resource,
    delete_resource,
    request_access,
)
from uma_desktop.domain import BackendKind

pytestmark = [pytest.mark.keycloak, pytest.mark.gui]


def permissions(keycloak: KeycloakServer, resource_id: str) -> dict[str, list[str]]:
    granted: Any = account_json(keycloak, "alice", f"resources/{resource_id}/permissions")
    return {p["username"]: sorted(p["scopes"]) for p in granted}


def test_keycloak_in_the_window(qtbot: Any, gui_app: Any, keycloak: KeycloakServer) -> None:
    resource_id = create_resource(keycloak, "alice", "Desk notes (window)", ["view", "edit"])
    try:
        assert request_access(keycloak, "bob", resource_id, ["view", "edit"]) == "request_submitted"
        window = gui_app(form_browser("alice", "alice"))
        connection_id = log_in(qtbot, window, keycloak.issuer, name="Keycloak", remember=False)
        controller = window.controller
        assert controller.states[connection_id].connection.kind is BackendKind.KEYCLOAK
        assert controller.states[connection_id].connection.username == "alice"

        page = window.resources_page
        qtbot.waitUntil(
            lambda: page.model.row_for_key((connection_id, resource_id)) >= 0, timeout=WAIT
        )

        # Bob's request: approve only "view"
        window.show_page("requests")
        inbox = window.requests_page
        qtbot.waitUntil(
            lambda: any(r.resource_id == resource_id for r in inbox.model.rows()), timeout=WAIT
        )
        request = next(r for r in inbox.model.rows() if r.resource_id == resource_id)
        inbox.select_requests([request.key])
        inbox.scope_boxes["edit"].setChecked(False)
        inbox.approve_action.trigger()
        qtbot.waitUntil(lambda: "Approved" in inbox.result_label.text(), timeout=WAIT)
        assert permissions(keycloak, resource_id) == {"bob": ["view"]}

        # Share with carol, then revoke bob, from the sharing editor
        window.show_page("resources")
        assert page.select_resource(connection_id, resource_id)
        detail = page.detail
        qtbot.waitUntil(lambda: detail.select_share("bob"), timeout=WAIT)
        dialog = detail.open_share_dialog()
        assert dialog is not None
        assert "enforced by UMA Desktop" in dialog.expires.text()  # Keycloak has no expiry
        dialog.set_person("carol")
        dialog.check_scopes(["edit"])
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            dialog.share_button.click()
        assert permissions(keycloak, resource_id) == {"bob": ["view"], "carol": ["edit"]}

        assert detail.select_share("bob")
        share = detail.selected_share()
        assert share is not None
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            detail.revoke(share)
        assert permissions(keycloak, resource_id) == {"carol": ["edit"]}
    finally:
        delete_resource(keycloak, resource_id)
