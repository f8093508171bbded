"""The ControlPoint with a real OpenAM, a real Keycloak and a sandbox in one inbox."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.fixtures.keycloak import KeycloakServer, create_resource, delete_resource
from tests.fixtures.keycloak import request_access as keycloak_request_access
from tests.fixtures.openam import OpenAMServer, register_resource_set
from tests.fixtures.openam import request_access as openam_request_access
from tests.fixtures.owner import ask, connect
from uma_desktop.app import ConnectionStatus, ControlPoint
from uma_desktop.app.auth import Credentials
from uma_desktop.domain import BackendKind
from uma_desktop.errors import LoginRequiredError
from uma_desktop.sandbox import SandboxServer

pytestmark = [pytest.mark.openam, pytest.mark.keycloak]


async def test_openam_keycloak_and_sandbox_in_one_inbox(
    control: ControlPoint,
    openam: OpenAMServer,
    keycloak: KeycloakServer,
    sandbox: SandboxServer,
) -> None:
    album = f"Summer album {uuid.uuid4().hex[:6]}"
    am_resource, _ = await asyncio.to_thread(register_resource_set, openam, "alice", album)
    kc_resource = await asyncio.to_thread(
        create_resource, keycloak, "alice", f"Desk notes {uuid.uuid4().hex[:6]}", ["view"]
    )
    try:
        [sandbox_id] = await connect(control, sandbox)
        await asyncio.to_thread(ask, sandbox, "bob", "Holiday 2026", ["view"])

        kc = await control.add_connection(keycloak.issuer, display_name="Keycloak")
        await control.login(kc.id)
        assert (
            await asyncio.to_thread(
                keycloak_request_access, keycloak, "carol", kc_resource, ["view"]
            )
            == "request_submitted"
        )

        am = await control.add_connection(openam.issuer, display_name="OpenAM")
        assert am.kind is BackendKind.FORGEROCK
        with pytest.raises(LoginRequiredError):
            await control.login(am.id)  # no credentials: the owner is asked, nothing sent
        state = await control.login(
            am.id, credentials=Credentials("alice", openam.password("alice"))
        )
        assert state.status is ConnectionStatus.OK
        assert state.connection.username == "alice"
        assert (
            await asyncio.to_thread(
                openam_request_access, openam, "alice", "bob", am_resource, ["view", "print"]
            )
            == "request_submitted"
        )

        results = {r.connection_id: r for r in await control.requests()}
        assert all(r.error is None for r in results.values()), [r.error for r in results.values()]
        inbox = {
            (connection_id, request.requester.username, request.resource_name)
            for connection_id, result in results.items()
            for request in result.value or []
        }
        assert (sandbox_id, "bob", "Holiday 2026") in inbox
        assert (am.id, "bob", album) in inbox
        assert any(c == kc.id and who == "carol" for c, who, _ in inbox)

        [am_request] = [r for r in results[am.id].value or [] if r.resource_name == album]
        decision = await control.approve(am_request, ["view"])
        assert decision.ok, decision.detail
        shares = await control.shares(am.id, am_resource)
        assert [(s.party.username, s.scopes) for s in shares] == [("bob", ("view",))]

        resources = {r.connection_id: r for r in await control.resources()}
        [listed] = [r for r in resources[am.id].value or [] if r.id == am_resource]
        assert listed.name == album

        await control.logout(am.id)
        [after] = [s for s in control.connections() if s.connection.id == am.id]
        assert after.status is ConnectionStatus.LOGIN_NEEDED
    finally:
        await asyncio.to_thread(delete_resource, keycloak, kc_resource)
