"""Owner login, refresh and logout against the sandbox and a real Keycloak, end to end:
the app's loopback listener, a scripted user (or headless Chromium) on the real login page,
the real token endpoint, the real Secret Service."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.fixtures.browser import chromium_opener, device_completer, drive, form_browser
from tests.fixtures.oauth_servers import AuthServer
from uma_desktop import net
from uma_desktop.errors import AuthError, LoginRequiredError, VaultLockedError
from uma_desktop.oauth import (
    KeyringVault,
    MemoryVault,
    SessionState,
    TokenKind,
    TokenSession,
    discover,
    login_in_browser,
    login_with_device,
)
from uma_desktop.oauth.tokens import refresh_tokens, revoke_token
from uma_desktop.uma.metadata import AuthorizationServerMetadata


async def browser_login(server: AuthServer, opener: Any, client: net.AsyncClient) -> Any:
    metadata = await discover(server.issuer, client)
    tokens = await drive(
        opener,
        login_in_browser(
            metadata, server.client_id, server.scopes, opener, timeout=60, client=client
        ),
    )
    return metadata, tokens


@pytest.mark.keyring
async def test_login_refresh_logout_round_trip(
    auth_server: AuthServer, real_keyring: Any, app_home: Any
) -> None:
    user = form_browser("alice", "alice")
    vault = KeyringVault(real_keyring)
    async with net.async_client() as client:
        metadata, tokens = await browser_login(auth_server, user, client)
        await user.finished()
        assert user.callback_status == 200 and "close this tab" in user.final_page
        assert "alice" in user.final_page
        assert tokens.claims is not None and tokens.claims.username == "alice"
        assert tokens.claims.issuer == metadata.issuer
        assert tokens.refresh_token and tokens.access_token

        session = TokenSession("conn-a", metadata, auth_server.client_id, vault, client)
        await session.start(tokens)
        assert session.state is SessionState.OK
        assert vault.load("conn-a", TokenKind.REFRESH) == tokens.refresh_token
        assert await session.access_token() == tokens.access_token

        # The server rejects the token (401): the next call refreshes.
        await session.token_rejected(tokens.access_token)
        fresh = await session.access_token()
        assert fresh != tokens.access_token
        assert session.refresh_count == 1
        stored = vault.load("conn-a", TokenKind.REFRESH)
        assert stored is not None
        if auth_server.kind == "sandbox":  # the sandbox rotates refresh tokens
            assert stored != tokens.refresh_token

        # After a restart the saved login is picked up from the keyring.
        restarted = TokenSession(
            "conn-a", metadata, auth_server.client_id, KeyringVault(real_keyring), client
        )
        assert await restarted.resume() is SessionState.OK
        assert restarted.claims is not None and restarted.claims.username == "alice"
        assert await restarted.access_token()
        newest = vault.load("conn-a", TokenKind.REFRESH)
        assert newest is not None

        await restarted.logout()
        assert restarted.state is SessionState.LOGIN_NEEDED
        assert vault.load("conn-a", TokenKind.REFRESH) is None
        assert vault.load("conn-a", TokenKind.ID) is None
        with pytest.raises(LoginRequiredError):
            await restarted.access_token()
        # Revoked at the server: the newest refresh token no longer works there.
        with pytest.raises(LoginRequiredError):
            await refresh_tokens(client, metadata, auth_server.client_id, newest)
        await session.logout()  # a second logout of a dead session is harmless


@pytest.mark.browser
async def test_login_through_the_real_login_page_in_headless_chromium(
    auth_server: AuthServer,
) -> None:
    browser = chromium_opener("bob", "bob")
    async with net.async_client() as client:
        _, tokens = await browser_login(auth_server, browser, client)
    await browser.finished()
    assert tokens.claims is not None and tokens.claims.username == "bob"
    assert "close this tab" in browser.final_page and "bob" in browser.final_page


async def test_device_login_completed_as_the_user(auth_server: AuthServer) -> None:
    on_code, user = device_completer("carol", "carol")
    async with net.async_client() as client:
        metadata = await discover(auth_server.issuer, client)
        tokens = await login_with_device(
            metadata, auth_server.client_id, auth_server.scopes, on_code, client=client
        )
        await user.finished()
        assert tokens.claims is not None and tokens.claims.username == "carol"
        session = TokenSession("conn-dev", metadata, auth_server.client_id, MemoryVault(), client)
        await session.start(tokens)
        await session.refresh()
        assert await session.access_token() != tokens.access_token
        await session.logout()


async def test_a_refused_refresh_token_means_login_needed_and_nothing_else_is_lost(
    auth_server: AuthServer,
) -> None:
    vault = MemoryVault()
    vault.store("conn-other", TokenKind.REFRESH, "another-connection-token")
    async with net.async_client() as client:
        metadata, tokens = await browser_login(auth_server, form_browser("alice", "alice"), client)
        session = TokenSession("conn-a", metadata, auth_server.client_id, vault, client)
        await session.start(tokens)
        # The owner signs this app out elsewhere (e.g. in the server's account console).
        assert tokens.refresh_token
        assert await revoke_token(
            client, metadata, auth_server.client_id, tokens.refresh_token, "refresh_token"
        )
        await session.token_rejected(tokens.access_token)
        with pytest.raises(LoginRequiredError, match="log in again"):
            await session.access_token()
        assert session.state is SessionState.LOGIN_NEEDED
        assert vault.load("conn-a", TokenKind.REFRESH) is None
        assert vault.load("conn-a", TokenKind.ID) == tokens.id_token
        assert vault.load("conn-other", TokenKind.REFRESH) == "another-connection-token"
        assert session.claims is not None and session.claims.username == "alice"


async def test_concurrent_callers_share_one_refresh(sandbox_server: AuthServer) -> None:
    """With rotation, two refreshes with the same token would burn the login (reuse)."""
    async with net.async_client() as client:
        metadata, tokens = await browser_login(
            sandbox_server, form_browser("alice", "alice"), client
        )
        session = TokenSession("conn-a", metadata, sandbox_server.client_id, MemoryVault(), client)
        await session.start(tokens)
        await session.token_rejected(tokens.access_token)
        results = await asyncio.gather(*(session.access_token() for _ in range(12)))
        assert len(set(results)) == 1 and results[0] != tokens.access_token
        assert session.refresh_count == 1
        await session.refresh()  # the rotated token still works: the family was not burnt
        assert session.state is SessionState.OK


async def test_device_login_declined_and_cancelled(sandbox_server: AuthServer) -> None:
    async with net.async_client() as client:
        metadata = await discover(sandbox_server.issuer, client)
        on_code, refusing_user = device_completer("alice", "alice", decision="deny")
        with pytest.raises(AuthError, match="declined"):
            await login_with_device(
                metadata, sandbox_server.client_id, sandbox_server.scopes, on_code, client=client
            )
        await refusing_user.finished()
        cancel = asyncio.Event()
        shown: list[Any] = []

        def show(code: Any) -> None:
            shown.append(code)
            cancel.set()  # the owner presses "Cancel" in the dialog

        with pytest.raises(AuthError, match="cancelled"):
            await login_with_device(
                metadata, sandbox_server.client_id, sandbox_server.scopes, show,
                client=client, cancel=cancel,
            )  # fmt: skip
        assert shown and shown[0].user_code and shown[0].verification_uri.startswith("http")


@pytest.mark.keyring
async def test_a_locked_keyring_at_login_keeps_working_from_memory_and_says_so(
    sandbox_server: AuthServer, locked_keyring: Any
) -> None:
    user = form_browser("alice", "alice")
    async with net.async_client() as client:
        metadata, tokens = await browser_login(sandbox_server, user, client)
        session = TokenSession(
            "conn-locked", metadata, sandbox_server.client_id, KeyringVault(locked_keyring), client
        )
        await session.start(tokens)
        assert isinstance(session.last_vault_error, VaultLockedError)
        assert session.state is SessionState.OK
        await session.token_rejected(tokens.access_token)
        assert await session.access_token() != tokens.access_token  # refreshed from memory
        # Logout still revokes and forgets in memory, then reports the keyring it couldn't clean.
        with pytest.raises(VaultLockedError):
            await session.logout()
        assert session.state is SessionState.LOGIN_NEEDED


async def test_an_expiring_access_token_is_refreshed_before_use(
    sandbox_server: AuthServer,
) -> None:
    offset = 0.0

    def clock() -> float:
        return time.time() + offset

    async with net.async_client() as client:
        metadata, tokens = await browser_login(
            sandbox_server, form_browser("alice", "alice"), client
        )
        session = TokenSession(
            "conn-a", metadata, sandbox_server.client_id, MemoryVault(), client, clock=clock
        )
        await session.start(tokens)
        assert tokens.expires_at is not None
        assert await session.access_token() == tokens.access_token
        offset = tokens.expires_at - time.time() - 10  # ten seconds before it expires
        renewed = await session.access_token()
        assert renewed != tokens.access_token and session.refresh_count == 1
        assert await session.access_token() == renewed


async def test_a_device_code_nobody_approves_expires(sandbox_factory: Any) -> None:
    server = sandbox_factory(device_interval=1)
    server.settings.device_code_lifetime = 2
    shown: list[Any] = []
    async with net.async_client() as client:
        metadata = await discover(server.issuer, client)
        with pytest.raises(AuthError, match="expired"):
            await login_with_device(
                metadata, "uma-desktop", ("openid",), shown.append, client=client
            )
    assert len(shown) == 1


async def test_device_polling_backs_off_on_slow_down(static_server: Any) -> None:
    """A server that answers pending, slow_down, pending, then tokens (a scripted loopback
    AS: no real server can be told to send slow_down on cue)."""
    issuer = static_server.base_url
    static_server.post_answers["/device"] = [
        (200, {"device_code": "dc-1", "user_code": "ABCD-EFGH", "verification_uri": f"{issuer}/d",
               "expires_in": 60, "interval": 1}),
    ]  # fmt: skip
    static_server.post_answers["/token"] = [
        (400, {"error": "slow_down"}),
        (200, {"access_token": "at-1", "token_type": "Bearer", "expires_in": 60}),
    ]
    metadata = AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=f"{issuer}/token",
        device_authorization_endpoint=f"{issuer}/device",
    )
    async with net.async_client() as client:
        started = time.monotonic()
        tokens = await login_with_device(
            metadata, "uma-desktop", ("profile",), lambda code: None, client=client
        )
    assert tokens.access_token == "at-1"
    polls = [at for path, at, _ in static_server.posts if path == "/token"]
    assert len(polls) == 2
    assert polls[0] - started >= 0.9  # waited the advertised interval (1 s) ...
    assert polls[1] - polls[0] >= 5.9  # ... then 5 s more after slow_down
    assert b"code_verifier=" in static_server.posts[-1][2]
