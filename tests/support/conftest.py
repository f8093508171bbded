"""Support-desk fixtures: a real sandbox, the RS's real secret in the real Secret Service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from uma_desktop.app.support import SupportConnection, SupportDesk
from uma_desktop.oauth.vault import KeyringVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer


def rs_secret(server: SandboxServer, key: str) -> tuple[str, str]:
    spec = next(r for r in server.config["resource_servers"] if r["key"] == key)
    return spec["client_id"], spec["client_secret"]


@pytest.fixture
def support_vault(real_keyring: Any) -> KeyringVault:
    return KeyringVault(real_keyring, service="uma-desktop-support-test")


@pytest.fixture
async def desk(app_home: Path, support_vault: KeyringVault) -> AsyncIterator[SupportDesk]:
    support = SupportDesk(app_dirs(), vault_factory=lambda: support_vault)
    yield support
    for connection in support.connections():
        await support.remove(connection.id)
    await support.aclose()


@pytest.fixture
def connect(desk: SupportDesk) -> Callable[..., Any]:
    async def connect_(
        server: SandboxServer, key: str = "photos", *, acting: bool = False
    ) -> SupportConnection:
        client_id, secret = rs_secret(server, key)
        connection = await desk.add(server.issuer, client_id, secret, name=f"{key} desk")
        if acting:
            connection = desk.set_acting(connection.id, True)
        return connection

    return connect_
