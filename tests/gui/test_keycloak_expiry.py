"""Expiry on a server without it (Keycloak), in the resource detail panel: the share dialog
shares until a date the app keeps, the "Shared with" table shows that date as enforced by
UMA Desktop (the server's own expiry shows plainly), and a revoke by hand drops the date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import QDateTime, Qt

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.keycloak import (
    KeycloakServer,
    account_json,
    create_resource,
    delete_resource,
)
from uma_desktop.app.expiry import DueDate, ExpiryStore
from uma_desktop.gui.models import SharesModel, local_time_text

pytestmark = [pytest.mark.keycloak, pytest.mark.gui]


def permissions(keycloak: KeycloakServer, resource_id: str) -> dict[str, list[str]]:
    granted: Any = account_json(keycloak, "alice", f"resources/{resource_id}/permissions")
    return {p["username"]: sorted(p["scopes"]) for p in granted}


def expiry_cell(model: SharesModel, username: str) -> tuple[str, str]:
    """The Expires column's text and tooltip for one person's share."""
    row = next(r for r in range(model.rowCount()) if model.row_object(r).party.username == username)
    index = model.index(row, SharesModel.EXPIRES)
    return index.data(), index.data(Qt.ItemDataRole.ToolTipRole) or ""


def test_app_kept_expiry_in_the_detail_panel(
    qtbot: Any, gui_app: Any, keycloak: KeycloakServer
) -> None:
    resource_id = create_resource(keycloak, "alice", "Expiry notes (window)", ["view", "edit"])
    try:
        window = gui_app(form_browser("alice", "alice"))
        connection_id = log_in(qtbot, window, keycloak.issuer, name="Keycloak", remember=False)
        page = window.resources_page
        qtbot.waitUntil(
            lambda: page.model.row_for_key((connection_id, resource_id)) >= 0, timeout=WAIT
        )
        window.show_page("resources")
        detail = page.detail
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            assert page.select_resource(connection_id, resource_id)
        store = ExpiryStore(window.controller.control.dirs.data)

        # Bob until a date: Keycloak cannot keep it, so the dialog says the app will.
        dialog = detail.open_share_dialog()
        assert dialog is not None
        assert dialog.expiry_row.isVisibleTo(dialog)
        assert "enforced by UMA Desktop" in dialog.expires.text()
        dialog.set_person("bob")
        dialog.check_scopes(["view"])
        dialog.expires.setChecked(True)
        until = QDateTime.currentDateTime().addDays(10)
        dialog.expiry.setDateTime(until)
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            dialog.share_button.click()
        assert permissions(keycloak, resource_id) == {"bob": ["view"]}
        [kept] = store.load()
        assert kept.person == "bob" and kept.resource_id == resource_id
        assert abs(kept.due.timestamp() - until.toSecsSinceEpoch()) < 61  # minute precision

        # Carol without a date.
        dialog = detail.open_share_dialog()
        assert dialog is not None
        dialog.set_person("carol")
        dialog.check_scopes(["edit"])
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            dialog.share_button.click()
        assert permissions(keycloak, resource_id) == {"bob": ["view"], "carol": ["edit"]}

        text, tooltip = expiry_cell(detail.shares, "bob")
        assert text == f"{local_time_text(kept.due)}\n(enforced by UMA\u00a0Desktop)"
        assert "cannot expire a share" in tooltip
        assert expiry_cell(detail.shares, "carol") == ("never", "")
        assert detail.select_share("bob")
        assert detail.selected_share().expires_at is None  # the server has none

        # A date written by another run of the app (the CLI, the review) shows on reload.
        carol = next(s for s in detail.shares.rows() if s.party.username == "carol")
        later = datetime(2099, 1, 31, 12, 0, tzinfo=UTC)
        store.put(
            DueDate(
                connection_id=connection_id,
                resource_id=resource_id,
                resource_name=kept.resource_name,
                party_id=carol.party.id,
                person="carol",
                party_label=carol.party.full_label,
                due=later,
                set_at=datetime.now(UTC),
            )
        )
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            detail.reload_shares()
        assert expiry_cell(detail.shares, "carol")[0] == (
            f"{local_time_text(later)}\n(enforced by UMA\u00a0Desktop)"
        )

        # Revoking bob by hand drops his date; carol's stays.
        assert detail.select_share("bob")
        share = detail.selected_share()
        assert share is not None
        with qtbot.waitSignal(detail.shares_loaded, timeout=WAIT):
            detail.revoke(share)
        assert permissions(keycloak, resource_id) == {"carol": ["edit"]}
        assert [e.person for e in store.load()] == ["carol"]
    finally:
        delete_resource(keycloak, resource_id)
