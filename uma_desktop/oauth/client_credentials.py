"""A resource server's own access token (client credentials), for its support desk.

The client secret is read from the vault at each token request and never kept in this
object; the access token lives in memory only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from uma_desktop import net
from uma_desktop.errors import AuthError, MalformedResponseError, ServerError
from uma_desktop.oauth.tokens import post_form

EARLY_RENEWAL = 30.0


class ClientCredentialsTokens:
    """``net.TokenSource`` for ``client_id``: one token request at a time, renewed early."""

    def __init__(
        self,
        client: net.AsyncClient,
        token_endpoint: str,
        client_id: str,
        load_secret: Callable[[], str | None],
    ) -> None:
        self._client = client
        self._endpoint = token_endpoint
        self._client_id = client_id
        self._load_secret = load_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires - EARLY_RENEWAL:
                self._token, lifetime = await self._request()
                self._expires = time.monotonic() + lifetime
            return self._token

    async def token_rejected(self, token: str) -> None:
        async with self._lock:
            if self._token == token:
                self._token = None

    async def _request(self) -> tuple[str, float]:
        secret = await asyncio.to_thread(self._load_secret)
        if not secret:
            raise AuthError(
                "This support connection has no client secret in the keyring; add it again."
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": secret,
        }
        what = "the support connection's client credentials"
        reply = await post_form(self._client, self._endpoint, form, what)
        if reply.status_code in (400, 401):
            error = _error_code(reply)
            if error in ("invalid_client", "unauthorized_client", "invalid_grant", None):
                raise AuthError(
                    f"The server refused the client id or secret of {self._client_id}"
                    f" ({error or f'HTTP {reply.status_code}'}): the secret is wrong, was "
                    "changed or the client was disabled. Ask the resource server's "
                    "administrator for the current secret."
                )
        net.raise_for_error(reply, what)
        body = net.json_body(reply, "token response")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError("The token response has no access_token.")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 60.0
        return token, min(seconds, 3600.0)


def _error_code(reply: net.Reply) -> str | None:
    try:
        net.raise_for_error(reply, "token")
    except ServerError as exc:
        return exc.error
    return None
