"""Owner login and the token vault (Qt-free, async).

Typical use (every call raises only ``uma_desktop.errors`` types)::

    from uma_desktop import net
    from uma_desktop.oauth import (
        TokenSession, discover, login_in_browser, login_with_device, open_vault,
    )

    async with net.async_client(connection_id=conn.id) as client:
        metadata = await discover(conn.issuer, client)          # -> AuthorizationServerMetadata
        tokens = await login_in_browser(metadata, conn.client_id, SCOPES, client=client)
        #   or: await login_with_device(metadata, conn.client_id, SCOPES, on_code=show_code)
        vault = open_vault(remember=conn.remember)               # KeyringVault | MemoryVault
        session = TokenSession(conn.id, metadata, conn.client_id, vault, client)
        await session.start(tokens)   # after a restart instead: await session.resume()
        token = await session.access_token()   # backends get ``session`` as their TokenSource
        await session.logout()        # revoke (RFC 7009) where offered + delete vault entries

- ``discover(issuer, client)``: uma2- and openid-configuration, issuer equality, endpoint
  URLs checked; http:// only for 127.0.0.1, ::1, localhost.
- ``login_in_browser(metadata, client_id, scopes, open_browser=webbrowser.open, timeout=300)``:
  PKCE S256, state, nonce, RFC 9207 ``iss``, ID token verified; one loopback listener on
  127.0.0.1:<random>/callback per attempt, single use. ``open_browser`` is any callable
  taking the URL (tests pass a scripted browser).
- ``login_with_device(metadata, client_id, scopes, on_code)``: RFC 8628 fallback;
  ``on_code(DeviceCode)`` shows the user code; cancel the task (or set ``cancel``) to stop.
- ``TokenSet``: access/refresh/id token, ``expires_at``, ``claims`` (IdClaims: subject,
  username, email, name). Its repr hides the tokens.
- ``TokenSession``: implements ``backends.base.TokenSource``; ``state`` is ``ok`` or
  ``login_needed``; a refused refresh raises LoginRequiredError. When the keyring fails
  while storing (locked, denied), the session keeps working from memory and sets
  ``last_vault_error`` so the app can say the sign-in will not be remembered; ``logout()``
  revokes and forgets in memory first, then raises that VaultError if the keyring could
  not be cleaned.
- ``open_vault(remember)``: the OS keyring (allow-listed backends only; never plaintext) or
  memory only. Vault calls block: the session runs them in a worker thread.
- ``install_redaction()``: scrub token-like text from every log record (call once at
  start-up, before logging is configured); ``RedactingFilter`` for single handlers.

Mix-up defence: every attempt gets its own listener (random port) and its own state, so
a response is bound to the one attempt, its issuer and its PKCE verifier; the redirect path
stays ``/callback`` because Keycloak and the sandbox match registered paths exactly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported now (it is small): its ``redact`` function must win over the submodule's name.
from uma_desktop.oauth.redact import RedactingFilter, install_redaction, redact

if TYPE_CHECKING:
    from uma_desktop.oauth.device import DeviceCode, login_with_device
    from uma_desktop.oauth.discovery import discover
    from uma_desktop.oauth.idtoken import IdClaims
    from uma_desktop.oauth.login import login_in_browser
    from uma_desktop.oauth.session import SessionState, TokenSession
    from uma_desktop.oauth.tokens import TokenSet
    from uma_desktop.oauth.vault import (
        KeyringVault,
        MemoryVault,
        TokenKind,
        TokenVault,
        open_vault,
    )

# Names re-exported from the submodules, imported on first use: a command that only needs
# the log filter or the vault does not pay for the login flows and the JWT library.
_EXPORTS = {
    "DeviceCode": "device",
    "login_with_device": "device",
    "discover": "discovery",
    "IdClaims": "idtoken",
    "login_in_browser": "login",
    "SessionState": "session",
    "TokenSession": "session",
    "TokenSet": "tokens",
    "KeyringVault": "vault",
    "MemoryVault": "vault",
    "TokenKind": "vault",
    "TokenVault": "vault",
    "open_vault": "vault",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


DEFAULT_SCOPES = ("openid", "profile", "email", "offline_access")

__all__ = [
    "DEFAULT_SCOPES",
    "DeviceCode",
    "IdClaims",
    "KeyringVault",
    "MemoryVault",
    "RedactingFilter",
    "SessionState",
    "TokenKind",
    "TokenSession",
    "TokenSet",
    "TokenVault",
    "discover",
    "install_redaction",
    "login_in_browser",
    "login_with_device",
    "open_vault",
    "redact",
]
