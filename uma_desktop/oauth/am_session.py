"""Login to a ForgeRock AM family server (PingAM, ForgeRock AM, OpenAM) for its owner REST API.

Those servers' owner endpoints accept the server's own session token (``iPlanetDirectoryPro``
header), which ``POST /json/realms/.../authenticate`` issues for a username and password.
``AmSession`` is the TokenSource for them: it hands out the session token kept in the vault
(the OS keyring, ``TokenKind.SESSION``) until the server's session expires; then, or when the
server rejects it, it asks for credentials through ``ask_credentials`` (the GUI's dialog,
the CLI's prompt), logs in, stores only the token with its expiry and forgets the password.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from uma_desktop import net
from uma_desktop.errors import LoginRequiredError, MalformedResponseError, UmaDesktopError
from uma_desktop.oauth.vault import TokenKind, TokenVault

SESSION_HEADER = "iPlanetDirectoryPro"
EXPIRY_MARGIN = 60.0  # seconds: a token this close to its end is not handed out
DEFAULT_LIFETIME = 30 * 60.0  # when the server does not say (AM's default idle time)
_OBJECT = net.decoder(dict[str, Any])


@dataclass(frozen=True)
class Credentials:
    """What the person typed; lives only for one login call."""

    username: str
    password: str = field(repr=False)


AskCredentials = Callable[[str], Awaitable[Credentials | None]]
"""Called with a sentence naming the server; returns None when the person cancels."""


def _expiry(info: dict[str, Any], now: float) -> float:
    """The earlier of the session's idle and absolute ends, as epoch seconds."""
    ends: list[float] = []
    for key in ("maxIdleExpirationTime", "maxSessionExpirationTime"):
        value = info.get(key)
        if isinstance(value, str):
            try:
                ends.append(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
            except ValueError:
                continue
    return min(ends) if ends else now + DEFAULT_LIFETIME


class AmSession:
    """TokenSource (net.TokenSource) of one connection to a ForgeRock AM realm."""

    def __init__(
        self,
        connection_id: str,
        server_url: str,
        realm_path: str,
        client: net.AsyncClient,
        vault: TokenVault,
        ask_credentials: AskCredentials,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection_id = connection_id
        self.server_url = server_url.rstrip("/")
        self.realm_path = realm_path
        self._client = client
        net.refuse_cookies(client)  # AM reads a session cookie before the header
        self._vault = vault
        self._ask = ask_credentials
        self._clock = clock
        self._lock = asyncio.Lock()
        self.username: str | None = None

    @property
    def _json(self) -> str:
        return f"{self.server_url}/json{self.realm_path}"

    async def _stored(self) -> str | None:
        raw = await asyncio.to_thread(self._vault.load, self.connection_id, TokenKind.SESSION)
        if raw is None:
            return None
        try:
            saved = json.loads(raw)
            token, expires = saved["token"], float(saved["expires"])
            self.username = saved.get("username") or self.username
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(token, str) or expires - EXPIRY_MARGIN <= self._clock():
            return None
        return token

    async def resume(self) -> bool:
        """True when the vault keeps a session token that has not expired (no network)."""
        async with self._lock:
            return await self._stored() is not None

    async def login(self) -> str:
        """Ask for credentials now (whatever is stored) and keep the new session token."""
        async with self._lock:
            return await self._login()

    async def access_token(self) -> str:
        async with self._lock:
            token = await self._stored()
            if token is not None:
                return token
            return await self._login()

    async def _login(self) -> str:
        prompt = f"Log in to {self.server_url} (realm {self.realm_path.rsplit('/', 1)[-1]})"
        credentials = await self._ask(prompt)
        if credentials is None:
            raise LoginRequiredError(f"Login to {self.server_url} was cancelled.")
        reply = await net.send(
            self._client,
            "POST",
            f"{self._json}/authenticate",
            "the login",
            json={},
            headers={
                "X-OpenAM-Username": credentials.username,
                "X-OpenAM-Password": credentials.password,
                "Accept-API-Version": "resource=2.0, protocol=1.0",
            },
            check=False,
        )
        del credentials
        if reply.status_code == 401:
            raise LoginRequiredError(f"{self.server_url} refused that username or password.")
        net.raise_for_error(reply, "the login")
        token = net.parse(reply, _OBJECT, "login answer").get("tokenId")
        if not isinstance(token, str) or not token:
            raise MalformedResponseError("The login answer carried no session token.")
        info = await self._session_info(token)
        self.username = info.get("username") if isinstance(info.get("username"), str) else None
        value = json.dumps(
            {"token": token, "expires": _expiry(info, self._clock()), "username": self.username}
        )
        await asyncio.to_thread(self._vault.store, self.connection_id, TokenKind.SESSION, value)
        return token

    async def _session_info(self, token: str) -> dict[str, Any]:
        try:
            reply = await net.send(
                self._client,
                "POST",
                f"{self._json}/sessions",
                "the session lookup",
                params={"_action": "getSessionInfo"},
                json={},
                headers={SESSION_HEADER: token, "Accept-API-Version": "resource=2.0"},
            )
            return net.parse(reply, _OBJECT, "session information")
        except UmaDesktopError:
            return {}

    async def token_rejected(self, token: str) -> None:
        async with self._lock:
            if await self._stored() == token:
                await asyncio.to_thread(self._vault.delete, self.connection_id, TokenKind.SESSION)

    async def logout(self) -> None:
        """End the server session (best effort) and forget the token."""
        async with self._lock:
            token = await self._stored()
            await asyncio.to_thread(self._vault.delete, self.connection_id, TokenKind.SESSION)
        if token is None:
            return
        try:
            await net.send(
                self._client,
                "POST",
                f"{self._json}/sessions",
                "the logout",
                params={"_action": "logout"},
                json={},
                headers={SESSION_HEADER: token, "Accept-API-Version": "resource=2.0"},
            )
        except UmaDesktopError:
            return
