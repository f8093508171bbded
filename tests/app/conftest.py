"""Fixtures for ControlPoint tests: real sandboxes over loopback HTTP, alice at the login form."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.app import ControlPoint
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import RequestingParty, Submitted


class OwnerApi:
    """The sandbox's owner API read with plain httpx, independent of the code under test."""

    def __init__(self, server: SandboxServer, username: str = "alice") -> None:
        self.server = server
        meta = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()
        self.endpoints: dict[str, str] = meta
        self.headers = {"Authorization": f"Bearer {sandbox_owner_token(server, username)}"}

    def get(self, endpoint: str, path: str = "", **params: Any) -> Any:
        url = self.endpoints[endpoint].rstrip("/") + path
        response = httpx.get(url, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def policy_of(self, resource_name: str, username: str) -> dict[str, Any] | None:
        resource_id = self.server.resource_id(resource_name)
        policies = self.get("policy_endpoint", expand="true", resource_id=resource_id)
        return next((p for p in policies if p["subject"]["username"] == username), None)

    def pending_ids(self) -> set[str]:
        return {item["_id"] for item in self.get("pending_request_endpoint")}

    def history_actions(self) -> list[tuple[str, str]]:
        return [(h["action"], h["resource_name"]) for h in self.get("decision_history_endpoint")]


def ask(server: SandboxServer, username: str, resource_name: str, scopes: list[str]) -> Submitted:
    """``username`` tries a resource through its RS; the AS files a pending request."""
    with RequestingParty.for_sandbox(server.config, username) as party:
        outcome = party.access(server.resource_url(resource_name), scopes)
    assert isinstance(outcome, Submitted), outcome
    return outcome


@pytest.fixture
def two_sandboxes(sandbox_factory: Callable[..., SandboxServer]) -> tuple[SandboxServer, ...]:
    return (sandbox_factory(name="Home"), sandbox_factory(name="Work"))


@pytest.fixture
def memory_vault() -> MemoryVault:
    """The real "don't remember me" vault, shared by every ControlPoint of one test."""
    return MemoryVault()


@pytest.fixture
def open_control(app_home: Path, memory_vault: MemoryVault) -> Callable[..., Any]:
    async def open_(**options: Any) -> ControlPoint:
        options.setdefault("vault_factory", lambda remember: memory_vault)
        options.setdefault("browser_opener", form_browser("alice", "alice"))
        return await ControlPoint.open(app_dirs(), **options)

    return open_


@pytest.fixture
async def control(open_control: Callable[..., Any]) -> AsyncIterator[ControlPoint]:
    point: ControlPoint = await open_control()
    yield point
    await point.aclose()


async def connect(control: ControlPoint, *servers: SandboxServer) -> list[str]:
    """Add and log in to each server as alice; the connection ids."""
    ids = []
    for server in servers:
        connection = await control.add_connection(server.issuer, display_name=server.name)
        await control.login(connection.id)
        ids.append(connection.id)
    return ids
