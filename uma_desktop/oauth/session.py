"""One owner's tokens for one connection: access token in memory, refresh token in the vault."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from uma_desktop import net
from uma_desktop.errors import (
    LoginRequiredError,
    SecurityCheckError,
    UmaDesktopError,
    VaultError,
)
from uma_desktop.oauth.idtoken import IdClaims, IdTokenVerifier, stored_identity
from uma_desktop.oauth.tokens import TokenSet, refresh_tokens, revoke_token, token_set_from
from uma_desktop.oauth.vault import TokenKind, TokenVault
from uma_desktop.uma.metadata import AuthorizationServerMetadata

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 30.0


class SessionState(StrEnum):
    OK = "ok"
    LOGIN_NEEDED = "login_needed"


class TokenSession:
    """Implements ``backends.base.TokenSource`` for one connection.

    At most one refresh runs at a time; callers waiting meanwhile get its result. A rotated
    refresh token is written to the vault before the old one is dropped. When the server
    refuses the refresh token the session turns ``login_needed`` and raises
    LoginRequiredError; nothing else about the connection is touched.
    """

    def __init__(
        self,
        connection_id: str,
        metadata: AuthorizationServerMetadata,
        client_id: str,
        vault: TokenVault,
        client: net.AsyncClient,
        *,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection_id = connection_id
        self.metadata = metadata
        self.client_id = client_id
        self.vault = vault
        self._client = client
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._access: TokenSet | None = None
        self._refresh_token: str | None = None
        self._claims: IdClaims | None = None
        self._state = SessionState.LOGIN_NEEDED
        self.last_vault_error: VaultError | None = None
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"TokenSession({self.connection_id!r}, state={self._state.value})"

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def claims(self) -> IdClaims | None:
        """Who is signed in: verified at login, or read back from the vault after a restart."""
        return self._claims

    async def start(self, tokens: TokenSet) -> None:
        """Adopt the tokens of a fresh login; the refresh and ID tokens go to the vault."""
        async with self._lock:
            if tokens.refresh_token:
                await self._store(TokenKind.REFRESH, tokens.refresh_token)
            if tokens.id_token:
                await self._store(TokenKind.ID, tokens.id_token)
            self._refresh_token = tokens.refresh_token
            self._access = tokens
            self._claims = tokens.claims
            self._state = SessionState.OK

    async def resume(self) -> SessionState:
        """After a restart: pick up the refresh token from the vault, if there is one."""
        async with self._lock:
            stored = await asyncio.to_thread(self.vault.load, self.connection_id, TokenKind.REFRESH)
            self._refresh_token = stored
            self._access = None
            self._state = SessionState.OK if stored else SessionState.LOGIN_NEEDED
            if stored:
                id_token = await asyncio.to_thread(
                    self.vault.load, self.connection_id, TokenKind.ID
                )
                identity = stored_identity(id_token) if id_token else None
                if identity is not None and identity.issuer == self.metadata.issuer:
                    self._claims = identity
            return self._state

    async def access_token(self) -> str:
        """A valid access token, refreshing first when it is (nearly) expired."""
        current = self._access
        if current is not None and not current.expires_within(self._refresh_margin, self._clock()):
            return current.access_token
        async with self._lock:
            current = self._access  # another caller may have refreshed while we waited
            if current is not None and not current.expires_within(
                self._refresh_margin, self._clock()
            ):
                return current.access_token
            return (await self._refresh_locked()).access_token

    async def token_rejected(self, token: str) -> None:
        """The server said 401 for ``token``: forget it so the next call refreshes."""
        current = self._access
        if current is not None and hmac.compare_digest(current.access_token, token):
            self._access = None

    async def refresh(self) -> None:
        """Refresh now (e.g. a "retry" button); raises LoginRequiredError when refused."""
        async with self._lock:
            await self._refresh_locked()

    async def _refresh_locked(self) -> TokenSet:
        if self._refresh_token is None:
            self._state = SessionState.LOGIN_NEEDED
            raise LoginRequiredError("Please log in to this server.")
        try:
            response = await refresh_tokens(
                self._client, self.metadata, self.client_id, self._refresh_token
            )
        except LoginRequiredError:
            await self._forget_refresh_token()
            raise
        requested_at = self._clock()
        claims = self._claims
        if response.id_token:
            verifier = IdTokenVerifier(self.metadata, self.client_id)
            claims, _ = await verifier.verify(self._client, response.id_token, nonce=None)
            if self._claims is not None and claims.subject != self._claims.subject:
                raise SecurityCheckError("The refreshed ID token names a different person.")
        tokens = token_set_from(response, claims, requested_at=requested_at)
        if tokens.refresh_token and tokens.refresh_token != self._refresh_token:
            # Rotation: the new refresh token must be safe before the old one is let go.
            await self._store(TokenKind.REFRESH, tokens.refresh_token)
            self._refresh_token = tokens.refresh_token
        if tokens.id_token:
            await self._store(TokenKind.ID, tokens.id_token)
        self._access = tokens
        self._claims = claims
        self._state = SessionState.OK
        self.refresh_count += 1
        log.info("refreshed the tokens of connection %s", self.connection_id)
        return tokens

    async def _forget_refresh_token(self) -> None:
        self._state = SessionState.LOGIN_NEEDED
        self._access = None
        self._refresh_token = None
        log.info("connection %s needs a new login", self.connection_id)
        try:
            await asyncio.to_thread(self.vault.delete, self.connection_id, TokenKind.REFRESH)
        except VaultError as exc:
            self.last_vault_error = exc

    async def _store(self, kind: TokenKind, value: str) -> None:
        try:
            await asyncio.to_thread(self.vault.store, self.connection_id, kind, value)
            self.last_vault_error = None
        except VaultError as exc:
            # Keep working from memory; the app shows that the sign-in won't be remembered.
            self.last_vault_error = exc
            log.warning(
                "connection %s: could not keep a token in the vault: %s", self.connection_id, exc
            )

    async def logout(self) -> None:
        """Revoke at the server where possible, then forget every token of this connection."""
        async with self._lock:
            refresh_token = self._refresh_token
            access = self._access
            self._access = None
            self._refresh_token = None
            self._claims = None
            self._state = SessionState.LOGIN_NEEDED
            try:
                if refresh_token:
                    await revoke_token(
                        self._client, self.metadata, self.client_id, refresh_token, "refresh_token"
                    )
                elif access is not None:
                    await revoke_token(
                        self._client,
                        self.metadata,
                        self.client_id,
                        access.access_token,
                        "access_token",
                    )
            except UmaDesktopError as exc:
                log.warning("connection %s: revocation failed: %s", self.connection_id, exc)
            finally:
                await asyncio.to_thread(self.vault.delete_connection, self.connection_id)
            log.info("logged out of connection %s", self.connection_id)
