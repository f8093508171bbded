"""The ControlPoint's seam to the oauth layer: discovery, login, resuming a saved login.

Kept in one module so the ControlPoint reads as app logic, not token plumbing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from uma_desktop import net
from uma_desktop.domain import BackendKind, Connection
from uma_desktop.errors import ConfigurationError, NotSupportedError, UmaDesktopError
from uma_desktop.oauth.am_session import AmSession, AskCredentials, Credentials
from uma_desktop.oauth.discovery import discover as _discover
from uma_desktop.oauth.session import SessionState, TokenSession
from uma_desktop.oauth.vault import TokenKind, TokenVault, open_vault
from uma_desktop.uma import metadata as uma_metadata
from uma_desktop.uma.metadata import AuthorizationServerMetadata

if TYPE_CHECKING:  # the login flows are imported by ``login`` only: a resumed run skips them
    from uma_desktop.oauth.device import DeviceCode

__all__ = [
    "DEFAULT_CLIENT_ID",
    "AnySession",
    "AskCredentials",
    "Credentials",
    "DeviceCode",
    "Session",
    "VaultFactory",
    "am_session",
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
    BackendKind.FORGEROCK: (),  # logs in with its own session token, not OAuth
}


Session = TokenSession  # a connection's live tokens; the TokenSource its backend uses
AnySession = TokenSession | AmSession  # OAuth tokens, or a ForgeRock AM session token


def default_vault(remember: bool) -> TokenVault:
    return open_vault(remember)


def has_saved_login(connection_id: str, vault: TokenVault) -> bool:
    """True when ``vault`` keeps a login of the connection (blocking: run it in a thread)."""
    kept = vault.load_many(connection_id, (TokenKind.REFRESH, TokenKind.SESSION))
    return any(value is not None for value in kept.values())


def login_scopes(kind: BackendKind, metadata: AuthorizationServerMetadata) -> tuple[str, ...]:
    """The scopes to ask for; ``offline_access`` too when a Policy-Manager server offers it,
    so the login survives restarts (Keycloak issues refresh tokens without it)."""
    scopes = _SCOPES[kind]
    if kind is BackendKind.POLICY_MANAGER and "offline_access" in (metadata.scopes_supported or []):
        scopes = (*scopes, "offline_access")
    return scopes


async def discover(issuer: str, client: net.AsyncClient) -> AuthorizationServerMetadata:
    """UMA 2.0 discovery; failing that, a ForgeRock AM family server's UMA 1.0 document."""
    try:
        return await _discover(issuer, client)
    except NotSupportedError:
        forgerock = await _discover_forgerock(issuer, client)
        if forgerock is None:
            raise
        return forgerock


async def _discover_forgerock(
    issuer: str, client: net.AsyncClient
) -> AuthorizationServerMetadata | None:
    """AM publishes UMA 1.0 at ``<server>/uma/.well-known/uma-configuration?realm=<realm>``
    beside its OpenID document; both must name the same issuer."""
    from uma_desktop.backends.forgerock import split_issuer  # that family's backend: on demand

    try:
        server_url, realm_path = split_issuer(issuer)
    except ConfigurationError:
        return None
    oidc = await _discover(issuer, client, require_uma=False)
    realm = "/" + "/".join(realm_path.split("/")[4::2])  # /realms/root/realms/a -> /a
    try:
        reply = await net.send(
            client,
            "GET",
            f"{server_url}/uma/.well-known/uma-configuration",
            "UMA 1.0 discovery document",
            params={"realm": realm},
        )
        uma1 = uma_metadata.parse(net.json_body(reply, "UMA 1.0 discovery document"))
    except UmaDesktopError:
        return None
    if uma1.issuer.rstrip("/") != oidc.issuer.rstrip("/"):
        return None
    return uma_metadata.merge(uma1, oidc)


def am_session(
    connection: Connection,
    metadata: AuthorizationServerMetadata,
    client: net.AsyncClient,
    vault: TokenVault,
    ask: AskCredentials,
) -> AmSession:
    """The session-token source of a ForgeRock AM family connection."""
    from uma_desktop.backends.forgerock import split_issuer

    server_url, realm_path = split_issuer(metadata.issuer)
    return AmSession(connection.id, server_url, realm_path, client, vault, ask)


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
