"""One owner's tokens for one connection, shared with this user's other processes.

With "remember me" the refresh, ID and current access tokens live in the vault (the OS
keyring) and every read-refresh-store runs under a cross-process SignInLock, so the window
and any number of ``uma-desktop`` commands take turns instead of burning a rotated refresh
token. Without it ("don't remember me") the tokens live in this process only.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from enum import StrEnum
from pathlib import Path

from uma_desktop import net
from uma_desktop.errors import (
    LoginRequiredError,
    SecurityCheckError,
    SignInBusyError,
    UmaDesktopError,
    VaultError,
)
from uma_desktop.oauth.idtoken import IdClaims, IdTokenVerifier, stored_identity
from uma_desktop.oauth.signin_lock import LOCK_TIMEOUT_SECONDS, SignInLock
from uma_desktop.oauth.tokens import (
    TokenSet,
    refresh_tokens,
    revoke_token,
    shared_access_entry,
    shared_access_from,
    token_set_from,
)
from uma_desktop.oauth.vault import TokenKind, TokenVault
from uma_desktop.paths import runtime_dir
from uma_desktop.uma.metadata import AuthorizationServerMetadata

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 30.0


class SessionState(StrEnum):
    OK = "ok"
    LOGIN_NEEDED = "login_needed"


class TokenSession:
    """Implements ``backends.base.TokenSource`` for one connection.

    Within the process at most one refresh runs at a time and callers waiting meanwhile get
    its result; a refresh, once sent, finishes and stores its answer even when every caller
    gave up waiting (a rotated refresh token must never be lost). Across processes sharing a
    saved login, the vault is read again under the SignInLock before refreshing: when another
    process already rotated the refresh token, its token (and its access token, while fresh)
    is taken over. A rotated refresh token is written to the vault before the old one is
    dropped. When the server refuses the refresh token the session turns ``login_needed``
    and raises LoginRequiredError; nothing else about the connection is touched.
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
        lock_directory: Path | None = None,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
        display_name: str | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.metadata = metadata
        self.client_id = client_id
        self.vault = vault
        self._client = client
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        # Only a remembered login is shared with other processes; memory mode needs no lock.
        self._signin_lock = (
            SignInLock(
                lock_directory or runtime_dir(),
                connection_id,
                timeout=lock_timeout,
                display_name=display_name,
            )
            if vault.remembers
            else None
        )
        self._in_flight: asyncio.Task[TokenSet] | None = None
        self._access: TokenSet | None = None
        self._rejected_access: str | None = None
        self._refresh_token: str | None = None
        # False while the vault holds an older refresh token than memory (a failed write):
        # then memory is the truth and the vault is not read back.
        self._vault_current = True
        self._claims: IdClaims | None = None
        self._state = SessionState.LOGIN_NEEDED
        self.last_vault_error: VaultError | None = None
        self.refresh_count = 0
        self.adopted_count = 0  # refreshes avoided by taking over another process's tokens
        self.last_lock_wait: float | None = None  # seconds the last SignInLock took to get

    def __repr__(self) -> str:
        return f"TokenSession({self.connection_id!r}, state={self._state.value})"

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def claims(self) -> IdClaims | None:
        """Who is signed in: verified at login, or read back from the vault after a restart."""
        return self._claims

    @asynccontextmanager
    async def _shared(self, *, required: bool = True) -> AsyncIterator[None]:
        """Hold the cross-process SignInLock (a no-op in memory mode). With ``required``
        False a lock that cannot be had in time is logged and the block runs anyway."""
        async with AsyncExitStack() as stack:
            if self._signin_lock is not None:
                try:
                    waited = await stack.enter_async_context(self._signin_lock.held())
                except SignInBusyError as exc:
                    if required:
                        raise
                    log.warning("connection %s: %s", self.connection_id, exc)
                else:
                    self.last_lock_wait = waited
                    log.debug(
                        "connection %s: sign-in lock after %.3f s", self.connection_id, waited
                    )
            yield

    async def start(self, tokens: TokenSet) -> None:
        """Adopt the tokens of a fresh login; they go to the vault for later runs (after the
        SignInLock's timeout even without it: a completed login is never thrown away)."""
        async with self._lock, self._shared(required=False):
            if tokens.refresh_token:
                self._vault_current = await self._store(TokenKind.REFRESH, tokens.refresh_token)
            if tokens.id_token:
                await self._store(TokenKind.ID, tokens.id_token)
            await self._share_access(tokens)
            self._refresh_token = tokens.refresh_token
            self._access = tokens
            self._claims = tokens.claims
            self._state = SessionState.OK

    async def resume(self) -> SessionState:
        """After a restart: pick up the saved login from the vault, if there is one."""
        async with self._lock, self._shared():
            kinds = (TokenKind.REFRESH, TokenKind.ID, TokenKind.ACCESS)
            entries = await asyncio.to_thread(self.vault.load_many, self.connection_id, kinds)
            stored = entries[TokenKind.REFRESH]
            self._refresh_token = stored
            self._vault_current = True
            self._access = None
            self._state = SessionState.OK if stored else SessionState.LOGIN_NEEDED
            if stored:
                id_token = entries[TokenKind.ID]
                identity = stored_identity(id_token) if id_token else None
                if identity is not None and identity.issuer == self.metadata.issuer:
                    self._claims = identity
                self._access = self._usable_shared_access(entries[TokenKind.ACCESS])
            return self._state

    async def access_token(self) -> str:
        """A valid access token, refreshing first when it is (nearly) expired."""
        current = self._access
        if current is not None and self._fresh(current):
            return current.access_token
        async with self._lock:
            current = self._access  # another caller may have refreshed while we waited
            if current is not None and self._fresh(current):
                return current.access_token
            return (await self._refresh_once(take_shared_access=True)).access_token

    async def token_rejected(self, token: str) -> None:
        """The server said 401 for ``token``: forget it so the next call refreshes."""
        self._rejected_access = token
        current = self._access
        if current is not None and hmac.compare_digest(current.access_token, token):
            self._access = None

    async def refresh(self) -> None:
        """Refresh now (e.g. a "retry" button); raises LoginRequiredError when refused."""
        async with self._lock:
            await self._refresh_once(take_shared_access=False)

    def _fresh(self, tokens: TokenSet) -> bool:
        return not tokens.expires_within(self._refresh_margin, self._clock())

    async def _refresh_once(self, *, take_shared_access: bool) -> TokenSet:
        """Join the refresh in flight, or start one. It runs as its own task, shielded from
        the caller's cancellation: once sent, its answer is always stored."""
        task = self._in_flight
        if task is None or task.done():
            task = asyncio.ensure_future(self._coordinated_refresh(take_shared_access))
            task.add_done_callback(_retrieve_outcome)
            self._in_flight = task
        return await asyncio.shield(task)

    async def _coordinated_refresh(self, take_shared_access: bool) -> TokenSet:
        async with self._shared():
            if self._signin_lock is not None and self._vault_current:
                adopted = await self._take_over_stored(take_shared_access)
                if adopted is not None:
                    return adopted
            return await self._refresh_with_server()

    async def _take_over_stored(self, take_shared_access: bool) -> TokenSet | None:
        """Under the SignInLock: catch up with what other processes stored. Returns their
        access token when it is fresh enough to use; raises LoginRequiredError when they
        logged out or the server refused the login meanwhile, VaultError when the keyring
        cannot be read now."""
        try:
            stored = await asyncio.to_thread(self.vault.load, self.connection_id, TokenKind.REFRESH)
        except VaultError as exc:
            # Refreshing with the token in memory could reuse one another process rotated,
            # and the server would then revoke the sign-in for all: wait for the keyring.
            self.last_vault_error = exc
            raise
        if stored is None:
            if self._refresh_token is not None:
                log.info("connection %s was signed out by another process", self.connection_id)
            self._access = None
            self._refresh_token = None
            self._state = SessionState.LOGIN_NEEDED
            raise LoginRequiredError("Please log in to this server.")
        if stored != self._refresh_token:
            log.info("connection %s: taking over a sign-in renewed elsewhere", self.connection_id)
            self._refresh_token = stored
            self._access = None
        if not take_shared_access:
            return None
        shared = await self._load_shared_access()
        if shared is None:
            return None
        self._access = shared
        self._state = SessionState.OK
        self.adopted_count += 1
        return shared

    async def _load_shared_access(self) -> TokenSet | None:
        """The access token another process stored, when still fresh and not refused."""
        try:
            entry = await asyncio.to_thread(self.vault.load, self.connection_id, TokenKind.ACCESS)
        except VaultError as exc:
            self.last_vault_error = exc
            return None
        return self._usable_shared_access(entry)

    def _usable_shared_access(self, entry: str | None) -> TokenSet | None:
        """The stored access token ``entry`` when still fresh and not refused."""
        shared = shared_access_from(entry, self._claims) if entry else None
        if shared is None or not self._fresh(shared):
            return None
        rejected = self._rejected_access
        if rejected is not None and hmac.compare_digest(shared.access_token, rejected):
            return None
        return shared

    async def _refresh_with_server(self) -> TokenSet:
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
            self._vault_current = await self._store(TokenKind.REFRESH, tokens.refresh_token)
            self._refresh_token = tokens.refresh_token
        if tokens.id_token and claims != self._claims:
            # the vault's ID token only names who is signed in: rewrite it when that changed
            await self._store(TokenKind.ID, tokens.id_token)
        await self._share_access(tokens)
        self._access = tokens
        self._claims = claims
        self._state = SessionState.OK
        self.refresh_count += 1
        log.info("refreshed the tokens of connection %s", self.connection_id)
        return tokens

    async def _share_access(self, tokens: TokenSet) -> None:
        if self._signin_lock is None:
            return
        entry = shared_access_entry(tokens)
        if entry is not None:
            await self._store(TokenKind.ACCESS, entry)
        else:
            await self._delete(TokenKind.ACCESS)

    async def _forget_refresh_token(self) -> None:
        self._state = SessionState.LOGIN_NEEDED
        self._access = None
        self._refresh_token = None
        log.info("connection %s needs a new login", self.connection_id)
        await self._delete(TokenKind.REFRESH)
        await self._delete(TokenKind.ACCESS)

    async def _delete(self, kind: TokenKind) -> None:
        try:
            await asyncio.to_thread(self.vault.delete, self.connection_id, kind)
        except VaultError as exc:
            self.last_vault_error = exc

    async def _store(self, kind: TokenKind, value: str) -> bool:
        """Keep ``value`` in the vault; False (and ``last_vault_error``) when that failed."""
        try:
            await asyncio.to_thread(self.vault.store, self.connection_id, kind, value)
            self.last_vault_error = None
            return True
        except VaultError as exc:
            # Keep working from memory; the app shows that the sign-in won't be remembered.
            self.last_vault_error = exc
            log.warning(
                "connection %s: could not keep a token in the vault: %s", self.connection_id, exc
            )
            return False

    async def logout(self) -> None:
        """Revoke at the server where possible, then forget every token of this connection.

        Logging out never fails for want of the SignInLock: after its timeout it goes on."""
        in_flight = self._in_flight
        if in_flight is not None and not in_flight.done():
            in_flight.cancel()  # its tokens are about to be revoked anyway
        async with self._lock, self._shared(required=False):
            refresh_token = self._refresh_token
            if self._signin_lock is not None and self._vault_current:
                # another process may hold a newer one: that is the one to revoke
                with suppress(VaultError):
                    refresh_token = (
                        await asyncio.to_thread(
                            self.vault.load, self.connection_id, TokenKind.REFRESH
                        )
                        or refresh_token
                    )
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


def _retrieve_outcome(task: asyncio.Task[TokenSet]) -> None:
    """Mark a refresh's failure as seen, so that one nobody waited for is not reported."""
    if not task.cancelled():
        task.exception()
