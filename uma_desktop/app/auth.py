"""The ControlPoint's seam to the oauth layer: discovery, login, resuming a saved login.

Kept in one module so the ControlPoint reads as app logic, not token plumbing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from uma_desktop import net
from uma_desktop.domain import BackendKind, Connection
from uma_desktop.oauth.discovery import discover as _discover
from uma_desktop.oauth.session import SessionState, TokenSession
from uma_desktop.oauth.vault import TokenKind, TokenVault, open_vault
from uma_desktop.uma.metadata import AuthorizationServerMetadata

if TYPE_CHECKING:  # the login flows are imported by ``login`` only: a resumed run skips them
    from uma_desktop.oauth.device import DeviceCode

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DeviceCode",
    "Session",
    "VaultFactory",
    "default_vault",
    "discover",
    "has_saved_login",
    "login",
    "login_scopes",
    "resume",
]

DEFAULT_CLIENT_ID = "uma-desktop"
VaultFactory = Callable[[bool], TokenVault]

_SCOPES: dict[BackendKind, tuple[str, ...]] = {
    BackendKind.POLICY_MANAGER: ("openid", "profile", "email", "uma_policy_manager"),
    BackendKind.KEYCLOAK: ("openid", "profile", "email"),
}


Session = TokenSession  # a connection's live tokens; the TokenSource its backend uses


def default_vault(remember: bool) -> TokenVault:
    return open_vault(remember)


def has_saved_login(connection_id: str, vault: TokenVault) -> bool:
    """True when ``vault`` keeps a login of the connection (blocking: run it in a thread)."""
    return vault.load(connection_id, TokenKind.REFRESH) is not None


def login_scopes(kind: BackendKind, metadata: AuthorizationServerMetadata) -> tuple[str, ...]:
    """The scopes to ask for; ``offline_access`` too when a Policy-Manager server offers it,
    so the login survives restarts (Keycloak issues refresh tokens without it)."""
    scopes = _SCOPES[kind]
    if kind is BackendKind.POLICY_MANAGER and "offline_access" in (metadata.scopes_supported or []):
        scopes = (*scopes, "offline_access")
    return scopes


async def discover(issuer: str, client: net.AsyncClient) -> AuthorizationServerMetadata:
    return await _discover(issuer, client)


async def login(
    connection: Connection,
    metadata: AuthorizationServerMetadata,
    client: net.AsyncClient,
    vault: TokenVault,
    *,
    device: bool,
    open_browser: Callable[[str], object] | None,
    on_device_code: Callable[[DeviceCode], None] | None,
) -> tuple[Session, dict[str, str]]:
    """Log in and return the session plus what we learnt about the owner (username, subject)."""
    scopes = login_scopes(connection.kind, metadata)
    if device:
        from uma_desktop.oauth.device import login_with_device

        tokens = await login_with_device(
            metadata,
            connection.client_id,
            scopes,
            on_device_code or (lambda code: None),
            client=client,
        )
    else:
        import webbrowser

        from uma_desktop.oauth.login import login_in_browser

        tokens = await login_in_browser(
            metadata,
            connection.client_id,
            scopes,
            open_browser or webbrowser.open,
            client=client,
        )
    session = _session(connection, metadata, client, vault)
    await session.start(tokens)
    identity: dict[str, str] = {}
    if tokens.claims is not None:
        identity["subject"] = tokens.claims.subject
        label = tokens.claims.username or tokens.claims.email
        if label:
            identity["username"] = label
    return session, identity


async def resume(
    connection: Connection,
    metadata: AuthorizationServerMetadata,
    client: net.AsyncClient,
    vault: TokenVault,
) -> Session | None:
    """The saved login of ``connection``, or None when the owner must log in."""
    session = _session(connection, metadata, client, vault)
    if await session.resume() is not SessionState.OK:
        return None
    return session


def _session(
    connection: Connection,
    metadata: AuthorizationServerMetadata,
    client: net.AsyncClient,
    vault: TokenVault,
) -> Session:
    """A connection's TokenSession; a remembered login is shared with this user's other
    processes under a lock in the runtime directory."""
    return TokenSession(
        connection.id,
        metadata,
        connection.client_id,
        vault,
        client,
        display_name=connection.display_name,
    )


def __getattr__(name: str) -> object:
    """``DeviceCode`` on first use, so that importing this module skips the login flows."""
    if name == "DeviceCode":
        from uma_desktop.oauth.device import DeviceCode

        return DeviceCode
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
