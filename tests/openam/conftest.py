"""Fixtures for the OpenAM acceptance tests: alice's backend, logged in through AM's REST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.openam import OpenAMServer
from uma_desktop import net
from uma_desktop.backends.forgerock import ForgeRockBackend, split_issuer
from uma_desktop.oauth.am_session import AmSession, Credentials
from uma_desktop.oauth.vault import MemoryVault


def session_for(openam: OpenAMServer, username: str, password: str | None = None) -> AmSession:
    """An AmSession whose credentials prompt answers with ``username``'s password."""
    server_url, realm_path = split_issuer(openam.issuer)
    prompts: list[str] = []

    async def ask(prompt: str) -> Credentials | None:
        prompts.append(prompt)
        return Credentials(
            username, password if password is not None else openam.password(username)
        )

    session = AmSession(
        f"am-{username}",
        server_url,
        realm_path,
        net.async_client(connection_id=f"am-{username}"),
        MemoryVault(),
        ask,
    )
    session.prompts = prompts  # type: ignore[attr-defined]
    return session


@pytest.fixture
async def alice(openam: OpenAMServer) -> AsyncIterator[ForgeRockBackend]:
    """The backend under test for alice, with a real session token from AM's login."""
    client = net.async_client(connection_id="am-alice")
    backend = ForgeRockBackend("am-alice", openam.issuer, client, session_for(openam, "alice"))
    yield backend
    await client.aclose()
