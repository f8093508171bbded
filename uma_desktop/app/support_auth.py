"""The support desk's seam to the oauth layer: discovery, the RS secret in the keyring,
client-credentials tokens."""

from __future__ import annotations

from collections.abc import Callable

from uma_desktop import net
from uma_desktop.oauth.client_credentials import ClientCredentialsTokens
from uma_desktop.oauth.discovery import discover as _discover
from uma_desktop.oauth.vault import SERVICE_NAME, KeyringVault, TokenKind, TokenVault
from uma_desktop.uma.metadata import AuthorizationServerMetadata

__all__ = [
    "SUPPORT_SERVICE",
    "SupportVaultFactory",
    "TokenVault",
    "default_support_vault",
    "discover",
    "forget_secret",
    "save_secret",
    "token_source",
]

SUPPORT_SERVICE = SERVICE_NAME + "-support"  # keyring service apart from owner logins
SupportVaultFactory = Callable[[], TokenVault]


def default_support_vault() -> TokenVault:
    vault = KeyringVault(service=SUPPORT_SERVICE)
    vault.ensure_available()  # a missing keyring is reported up front
    return vault


async def discover(issuer: str, client: net.AsyncClient) -> AuthorizationServerMetadata:
    return await _discover(issuer, client, require_uma=False)


def save_secret(vault: TokenVault, connection_id: str, secret: str) -> None:
    vault.store(connection_id, TokenKind.CLIENT_SECRET, secret)


def forget_secret(vault: TokenVault, connection_id: str) -> None:
    vault.delete(connection_id, TokenKind.CLIENT_SECRET)


def token_source(
    client: net.AsyncClient,
    token_endpoint: str,
    client_id: str,
    vault: TokenVault,
    connection_id: str,
) -> ClientCredentialsTokens:
    return ClientCredentialsTokens(
        client,
        token_endpoint,
        client_id,
        lambda: vault.load(connection_id, TokenKind.CLIENT_SECRET),
    )
