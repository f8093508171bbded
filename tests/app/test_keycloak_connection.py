"""The ControlPoint with a real Keycloak next to a sandbox: detection, login, one list, sharing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.keycloak import (
    KeycloakServer,
    account_json,
    create_resource,
    delete_resource,
)
from tests.fixtures.owner import connect
from uma_desktop.app import ConnectionStatus, ControlPoint
from uma_desktop.domain import BackendKind
from uma_desktop.sandbox import SandboxServer

pytestmark = pytest.mark.keycloak


async def test_keycloak_and_sandbox_side_by_side(
    control: ControlPoint, keycloak: KeycloakServer, sandbox: SandboxServer
) -> None:
    resource_id = create_resource(keycloak, "alice", "Desk notes (control point)", ["view", "edit"])
    try:
        [sandbox_id] = await connect(control, sandbox)
        connection = await control.add_connection(keycloak.issuer, display_name="Keycloak")
        assert connection.kind is BackendKind.KEYCLOAK
        state = await control.login(connection.id)
        assert state.status is ConnectionStatus.OK
        assert state.connection.username == "alice"

        results = {r.connection_id: r for r in await control.resources()}
        assert results[sandbox_id].error is None
        assert results[connection.id].error is None, results[connection.id].error
        names = {r.name for r in results[connection.id].value or []}
        assert "Desk notes (control point)" in names
        assert all(r.error is None for r in await control.requests())

        await control.share(connection.id, resource_id, "bob", ["view"])
        granted: Any = account_json(keycloak, "alice", f"resources/{resource_id}/permissions")
        assert [(p["username"], p["scopes"]) for p in granted] == [("bob", ["view"])]
        shares = await control.shares(connection.id, resource_id)
        assert [(s.party.username, s.scopes) for s in shares] == [("bob", ("view",))]
        await control.revoke(connection.id, resource_id, "bob")
        assert account_json(keycloak, "alice", f"resources/{resource_id}/permissions") == []
        assert [d.action for d in control.history()[:2]] == ["revoke", "share"]
    finally:
        delete_resource(keycloak, resource_id)
