"""The owner's tokens and the token/revocation endpoint calls (RFC 6749, 7009).

Nothing here logs a token; ``TokenSet``'s repr hides every secret.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from uma_desktop import net
from uma_desktop.errors import (
    AuthError,
    LoginRequiredError,
    MalformedResponseError,
    NotSupportedError,
    ServerError,
)
from uma_desktop.oauth.idtoken import IdClaims
from uma_desktop.uma.metadata import AuthorizationServerMetadata
from uma_desktop.uma.tokens import TokenResponse, parse_token_response

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenSet:
    """What a login or refresh yields. ``expires_at`` is a Unix time (None: unknown)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: tuple[str, ...] = ()
    claims: IdClaims | None = None

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - (now if now is not None else time.time()) <= seconds


def shared_access_entry(tokens: TokenSet) -> str | None:
    """The vault entry that lets this user's other processes reuse ``tokens``' access token;
    None when its expiry is unknown (such a token is never shared)."""
    if tokens.expires_at is None:
        return None
    return json.dumps(
        {
            "access_token": tokens.access_token,
            "expires_at": tokens.expires_at,
            "scope": list(tokens.scope),
        }
    )


def shared_access_from(entry: str, claims: IdClaims | None) -> TokenSet | None:
    """Read back a ``shared_access_entry``; None for anything unexpected."""
    try:
        data = json.loads(entry)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    token, expires_at, scope = data.get("access_token"), data.get("expires_at"), data.get("scope")
    if not isinstance(token, str) or not token or not isinstance(expires_at, int | float):
        return None
    if not math.isfinite(expires_at) or not isinstance(scope, list):
        return None
    if not all(isinstance(item, str) for item in scope):
        return None
    return TokenSet(
        access_token=token, expires_at=float(expires_at), scope=tuple(scope), claims=claims
    )


def token_set_from(
    response: TokenResponse, claims: IdClaims | None, *, requested_at: float
) -> TokenSet:
    if response.token_type.lower() != "bearer":
        raise NotSupportedError(
            f"The server issued a '{response.token_type}' token; only Bearer tokens are supported."
        )
    expires_at = requested_at + response.expires_in if response.expires_in else None
    return TokenSet(
        access_token=response.access_token,
        refresh_token=response.refresh_token,
        id_token=response.id_token,
        expires_at=expires_at,
        scope=tuple(response.scopes),
        claims=claims,
    )


def require_endpoint(metadata: AuthorizationServerMetadata, name: str) -> str:
    value = getattr(metadata, name, None)
    if not isinstance(value, str) or not value:
        raise NotSupportedError(f"The server does not publish a {name.replace('_', ' ')}.")
    return value


async def post_form(
    client: net.AsyncClient, url: str, form: Mapping[str, str], what: str
) -> net.Reply:
    """POST a form; the answer is read within net's size limit and deadline, any status."""
    return await net.send(
        client,
        "POST",
        url,
        what,
        data=dict(form),
        headers={"Accept": "application/json", "Cache-Control": "no-store"},
        check=False,
    )


async def token_request(
    client: net.AsyncClient,
    metadata: AuthorizationServerMetadata,
    form: Mapping[str, str],
    what: str,
) -> TokenResponse:
    """Call the token endpoint; raise ServerError (with ``error``) when the server refuses."""
    url = require_endpoint(metadata, "token_endpoint")
    response = await post_form(client, url, form, what)
    net.raise_for_error(response, what)
    return parse_token_response(net.json_body(response, "token response"))


async def refresh_tokens(
    client: net.AsyncClient,
    metadata: AuthorizationServerMetadata,
    client_id: str,
    refresh_token: str,
) -> TokenResponse:
    """One refresh_token grant. invalid_grant (and invalid_token) become LoginRequiredError."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    try:
        return await token_request(client, metadata, form, "the token refresh")
    except MalformedResponseError:
        raise
    except ServerError as exc:
        if exc.error in ("invalid_grant", "invalid_token", "unauthorized_client"):
            raise LoginRequiredError(
                "The server no longer accepts this sign-in; please log in again."
            ) from None
        if exc.status is not None and exc.status < 500 and exc.error is None:
            raise AuthError(f"The server refused the token refresh (HTTP {exc.status}).") from None
        raise


async def revoke_token(
    client: net.AsyncClient,
    metadata: AuthorizationServerMetadata,
    client_id: str,
    token: str,
    token_type_hint: str,
) -> bool:
    """RFC 7009 revocation; returns False when the server has no revocation endpoint."""
    url = metadata.revocation_endpoint
    if not url:
        return False
    form = {"token": token, "token_type_hint": token_type_hint, "client_id": client_id}
    response = await post_form(client, url, form, "the token revocation")
    net.raise_for_error(response, "the token revocation")
    return True
