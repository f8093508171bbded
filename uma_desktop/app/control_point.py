"""The ControlPoint: every connection, its backend and tokens, fan-out reads, history.

Reads go to all connections at once, each under its own timeout; one slow or broken
server yields a per-connection error (with its last-known data, marked stale) and never
holds up or hides the others. Writes are recorded in the local history before they are sent
and again with their outcome, also when cut short (then "outcome unknown"). Snapshots are
saved in a worker thread a moment after they change (``SnapshotWriter``), never on the loop.

Local files that cannot be read or written (read-only or full disk, a busy history) never
stop the app: opening notes them in ``problems`` and goes on with what it could read; a
change that cannot be saved raises StorageError and leaves memory as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from uma_desktop import net
from uma_desktop.app import auth
from uma_desktop.app.history import INTERRUPTED_NOTE, NOT_SENT_NOTE, History
from uma_desktop.app.registry import ConnectionRegistry, check_connection_id
from uma_desktop.app.snapshots import Snapshot, SnapshotStore, SnapshotWriter
from uma_desktop.app.state import (
    ConnectionsChanged,
    ConnectionState,
    ConnectionStatus,
    DataChanged,
    Event,
    NewRequests,
    PerConnection,
    RequestsChanged,
    StatusChanged,
)
from uma_desktop.app.storage import CorruptFileError
from uma_desktop.backends import choose_kind, make_backend
from uma_desktop.backends.base import Backend, Capability, Listing, YieldPoint, no_yield
from uma_desktop.domain import (
    AccessRequest,
    BackendKind,
    Connection,
    Decision,
    Party,
    Resource,
    Share,
    SharedWithMe,
)
from uma_desktop.errors import (
    AuthError,
    ConfigurationError,
    LoginRequiredError,
    NotSupportedError,
    ServerError,
    ServerUnreachableError,
    StorageError,
    UmaDesktopError,
    VaultError,
)
from uma_desktop.oauth.vault import TokenVault
from uma_desktop.paths import AppDirs, app_dirs
from uma_desktop.uma.metadata import AuthorizationServerMetadata

if TYPE_CHECKING:
    from uma_desktop.app.last_known import LastKnown

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")
Listener = Callable[[Event], None]
BrowserOpener = Callable[[str], object]

DEFAULT_TIMEOUT = 30.0
REVOCATION_WAIT = 5.0  # logging out forgets at once; the server's revocation gets this long
BULK_PARALLEL_PER_SERVER = 4
SHARE_SCAN_PARALLEL = 8
NOT_REFRESHED = "Not refreshed yet."
# A read that finds the data unchanged leaves the snapshot file alone, unless the "last
# refreshed" time stored in it is older than this (then it is brought up to date).
STAMP_REFRESH = timedelta(minutes=10)


async def _caught(work: Awaitable[T]) -> T | UmaDesktopError:
    """``work``'s result, or the typed error it raised (for a gather that must not stop)."""
    try:
        return await work
    except UmaDesktopError as error:
        return error


@dataclass
class _Live:
    """Runtime state of one connection (the registry keeps the persistent part)."""

    connection: Connection
    snapshot: Snapshot
    status: ConnectionStatus = ConnectionStatus.LOADING
    message: str = ""
    metadata: AuthorizationServerMetadata | None = None
    client: net.AsyncClient | None = None
    session: auth.AnySession | None = None
    backend: Backend | None = None
    vault: TokenVault | None = None
    seen_requests: set[str] = field(default_factory=set)
    stored_success: datetime | None = None  # the last_success of the snapshot on disk
    gate: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(BULK_PARALLEL_PER_SERVER)
    )
    setup_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)  # work logout cancels

    def state(self) -> ConnectionState:
        return ConnectionState(
            connection=self.connection,
            status=self.status,
            message=self.message,
            capabilities=self.backend.capabilities if self.backend else frozenset(),
            last_success=self.snapshot.last_success,
        )


@dataclass(frozen=True)
class RevokeTarget:
    """One share to revoke (``scopes`` None) or narrow (take ``scopes`` away)."""

    connection_id: str
    resource_id: str
    person: str  # username or e-mail, as the backend's revoke accepts
    party_label: str  # how the history names the person
    resource_name: str
    scopes: tuple[str, ...] | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _keep_unchanged(known: list[Resource] | None, fresh: list[T]) -> list[T]:
    """``fresh``, with each resource equal to a known one replaced by the known object.

    A reload of 10,000 unchanged resources then adds no long-lived objects: the new copies
    die young, so the garbage collector has no reason for a full (GUI-pausing) pass.
    """
    if not known:
        return fresh
    by_key = {resource.key: resource for resource in known}
    kept: list[Any] = []
    for item in fresh:
        old = by_key.get(item.key) if isinstance(item, Resource) else None
        kept.append(old if old == item else item)
    return kept


def _unexpected(exc: BaseException) -> ServerError:
    log.exception("unexpected failure", exc_info=exc)
    return ServerError(f"Something unexpected went wrong ({type(exc).__name__}).")


SETTLE_WINDOW = 0.05  # seconds: outcomes arriving this close together share a transaction
SETTLE_BATCH = 100  # outcomes written at once without waiting for more


class _HistorySettler:
    """Writes outcomes of many decisions to the history in a worker thread, a batch per
    transaction: outcomes are gathered for up to SETTLE_WINDOW (each hand-over to the
    thread costs the loop a wait for the interpreter lock, up to the switch interval), and
    what arrives while one batch is written goes into the next."""

    def __init__(
        self,
        history: History,
        keep: Callable[[Callable[[list[tuple[int | None, Decision]]], None], Any], Any],
    ) -> None:
        self._history = history
        self._keep = keep
        self._queue: list[tuple[int | None, Decision]] = []
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()  # set by finish(): no more gathering

    def add(self, row: int | None, decision: Decision) -> None:
        self._queue.append((row, decision))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < SETTLE_BATCH and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), SETTLE_WINDOW)
            batch, self._queue = self._queue, []
            await asyncio.to_thread(self._keep, self._history.settle_many, batch)

    async def finish(self) -> None:
        """Return once every outcome added so far is written."""
        self._hurry.set()
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def write_now(self, more: list[tuple[int | None, Decision]]) -> None:
        """Write what is queued and ``more`` on this thread (the bulk is being torn down)."""
        batch, self._queue = [*self._queue, *more], []
        if batch:
            self._keep(self._history.settle_many, batch)


class ControlPoint:
    """The owner's single control point across authorization servers (Qt-free, async)."""

    def __init__(
        self,
        dirs: AppDirs | None = None,
        *,
        vault_factory: auth.VaultFactory | None = None,
        browser_opener: BrowserOpener | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        yield_point: YieldPoint = no_yield,
    ) -> None:
        self.dirs = dirs or app_dirs()
        self._unusable_dirs = self.dirs.prepare(log=False)
        self.problems: list[str] = list(self._unusable_dirs.values())  # files kept aside etc.
        self.timeout = timeout
        self._yield = yield_point
        self._vault_factory = vault_factory or auth.default_vault
        self._browser_opener = browser_opener
        self._registry = ConnectionRegistry(self.dirs.config)
        self._snapshots = SnapshotStore(self.dirs.cache, yield_point)
        self._snapshot_writer = SnapshotWriter(self._snapshots)
        self._history = History(self.dirs.data)
        self._live: dict[str, _Live] = {}
        self._listeners: list[Listener] = []
        self._poll_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        dirs: AppDirs | None = None,
        *,
        vault_factory: auth.VaultFactory | None = None,
        browser_opener: BrowserOpener | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        yield_point: YieldPoint = no_yield,
        last_known: LastKnown | None = None,
    ) -> ControlPoint:
        """Load connections, snapshots and history from disk; no network.

        ``yield_point`` runs between small pieces of long work (the window installs its
        foreground rule there; elsewhere nothing waits). ``last_known``: snapshots the
        window has already read (and shown) are taken over, not read again.
        """
        control = cls(
            dirs,
            vault_factory=vault_factory,
            browser_opener=browser_opener,
            timeout=timeout,
            yield_point=yield_point,
        )
        if last_known is not None:
            control._snapshots = SnapshotStore(
                control.dirs.cache, yield_point, preloaded=last_known.snapshots
            )
        control._load()
        return control

    def _load(self) -> None:
        try:
            self.problems += self._registry.load()
        except (CorruptFileError, StorageError) as exc:
            self.problems.append(exc.user_message)
        try:
            self._history.open()
        except (CorruptFileError, StorageError) as exc:
            if self.dirs.data not in self._unusable_dirs:  # else already said
                self.problems.append(exc.user_message)
        for connection in self._registry.all():
            self._live[connection.id] = self._new_live(connection)

    def _new_live(self, connection: Connection) -> _Live:
        try:
            snapshot = self._snapshots.load(connection.id)
        except (CorruptFileError, StorageError) as exc:
            if self.dirs.cache not in self._unusable_dirs:  # else already said
                self.problems.append(exc.user_message)
            snapshot = Snapshot()
        live = _Live(connection=connection, snapshot=snapshot)
        live.stored_success = snapshot.last_success
        live.seen_requests = {r.id for r in snapshot.requests or []}
        if snapshot.last_success is not None:
            live.status, live.message = ConnectionStatus.STALE, NOT_REFRESHED
        return live

    # -- events ------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every Event (from the loop's thread); returns unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("an event listener failed")

    def _set_status(self, live: _Live, status: ConnectionStatus, message: str = "") -> None:
        if (live.status, live.message) == (status, message):
            return
        live.status, live.message = status, message
        self._emit(StatusChanged(live.state()))

    # -- connections -------------------------------------------------------------------

    def connections(self) -> list[ConnectionState]:
        return [live.state() for live in self._live.values()]

    async def check_saved_logins(self) -> list[ConnectionState]:
        """Every connection's state from what this machine keeps; no server is asked.

        A connection whose server was not asked yet in this process (still loading, or
        showing its snapshot unrefreshed) becomes LOGGED_IN when its vault keeps a login,
        LOGIN_NEEDED when it keeps none, and ERROR when the vault cannot be read.
        """
        for live in list(self._live.values()):
            untouched = live.status is ConnectionStatus.LOADING or (
                live.status is ConnectionStatus.STALE and live.message == NOT_REFRESHED
            )
            if not untouched or live.session is not None:
                continue
            try:
                vault = await self._vault(live)
                kept = await asyncio.to_thread(auth.has_saved_login, live.connection.id, vault)
            except VaultError as error:
                self._set_status(live, ConnectionStatus.ERROR, error.user_message)
                continue
            if kept:
                self._set_status(live, ConnectionStatus.LOGGED_IN, "Logged in.")
            else:
                self._set_status(live, ConnectionStatus.LOGIN_NEEDED, "Not logged in.")
        return self.connections()

    def connection(self, connection_id: str) -> Connection:
        return self._get(connection_id).connection

    def _get(self, connection_id: str) -> _Live:
        check_connection_id(connection_id)
        if connection_id not in self._live:
            self._registry.get(connection_id)  # raises the ConfigurationError naming known ids
        return self._live[connection_id]

    async def add_connection(
        self,
        issuer: str,
        *,
        kind: BackendKind | None = None,
        display_name: str | None = None,
        client_id: str = auth.DEFAULT_CLIENT_ID,
        remember: bool = True,
    ) -> Connection:
        """Discover ``issuer``, pick the backend kind, save the connection (not logged in)."""
        issuer = issuer.strip()
        if not issuer:
            raise ConfigurationError("Type the address (issuer URL) of the server.")
        async with net.async_client(timeout=self.timeout) as client:
            metadata = await auth.discover(issuer, client)
        chosen = choose_kind(metadata, kind)
        for existing in self._registry.all():
            if existing.issuer.rstrip("/") == metadata.issuer.rstrip("/") and (
                existing.client_id == client_id
            ):
                raise ConfigurationError(
                    f"{metadata.issuer} is already connected as {existing.id!r}."
                )
        host = urlsplit(metadata.issuer).netloc or metadata.issuer
        name = (display_name or "").strip() or host
        connection = Connection(
            id=self._registry.new_id(display_name or host.replace(":", "-")),
            issuer=metadata.issuer,
            kind=chosen,
            client_id=client_id,
            display_name=name,
            remember=remember,
        )
        self._registry.add(connection)
        live = self._new_live(connection)
        live.metadata = metadata
        live.status, live.message = ConnectionStatus.LOGIN_NEEDED, "Log in to this server."
        self._live[connection.id] = live
        self._emit(ConnectionsChanged())
        self._emit(StatusChanged(live.state()))
        return connection

    async def remove_connection(self, connection_id: str) -> None:
        """Forget the connection, its tokens and its snapshot (history stays)."""
        live = self._get(connection_id)
        with contextlib.suppress(UmaDesktopError):
            await self.logout(connection_id)
        await self._close_live(live)
        self._registry.remove(connection_id)
        del self._live[connection_id]
        self._snapshot_writer.discard(connection_id)
        await self._snapshot_writer.flush()  # no write of it still under way
        try:
            self._snapshots.delete(connection_id)
        except StorageError as exc:  # the connection is gone; stale cache is only clutter
            self.problems.append(exc.user_message)
        self._emit(ConnectionsChanged())

    async def login(
        self,
        connection_id: str,
        *,
        device: bool = False,
        on_device_code: Callable[[auth.DeviceCode], None] | None = None,
        credentials: auth.Credentials | None = None,
    ) -> ConnectionState:
        """Log the owner in (system browser, or device grant) and keep the tokens.

        A ForgeRock AM family server logs in with ``credentials`` instead (username and
        password typed by the owner; only the server's session token is kept).
        """
        live = self._get(connection_id)
        try:
            if live.connection.kind is BackendKind.FORGEROCK:
                await self._tracked(live, self._login_am(live, credentials))
            else:
                await self._tracked(live, self._login(live, device, on_device_code))
        except UmaDesktopError as error:
            self._set_status(live, ConnectionStatus.LOGIN_NEEDED, error.user_message)
            raise
        self._set_status(live, ConnectionStatus.OK)
        return live.state()

    async def _login(
        self,
        live: _Live,
        device: bool,
        on_device_code: Callable[[auth.DeviceCode], None] | None,
    ) -> None:
        async with live.setup_lock:
            client = self._client(live)
            metadata = await self._metadata(live)
            vault = await self._vault(live)
            session, identity = await auth.login(
                live.connection,
                metadata,
                client,
                vault,
                device=device,
                open_browser=self._browser_opener,
                on_device_code=on_device_code,
            )
            live.session = session
            live.backend = make_backend(
                live.connection.kind,
                connection_id=live.connection.id,
                metadata=metadata,
                client=client,
                tokens=session,
                yield_point=self._yield,
            )
            changes = {k: v for k, v in identity.items() if getattr(live.connection, k) != v}
            if changes:
                live.connection = self._registry.update(live.connection, **changes)

    async def _login_am(self, live: _Live, credentials: auth.Credentials | None) -> None:
        if credentials is None:
            raise LoginRequiredError(
                f"{live.connection.display_name} needs your username and password."
            )
        given: list[auth.Credentials] = [credentials]

        async def ask_once(prompt: str) -> auth.Credentials | None:
            return given.pop() if given else None

        async with live.setup_lock:
            client = self._client(live)
            metadata = await self._metadata(live)
            vault = await self._vault(live)
            session = auth.am_session(live.connection, metadata, client, vault, ask_once)
            await session.login()
            self._attach(live, metadata, session)
            if session.username and session.username != live.connection.username:
                live.connection = self._registry.update(live.connection, username=session.username)

    def _attach(
        self, live: _Live, metadata: AuthorizationServerMetadata, session: auth.AnySession
    ) -> None:
        live.session = session
        live.backend = make_backend(
            live.connection.kind,
            connection_id=live.connection.id,
            metadata=metadata,
            client=self._client(live),
            tokens=session,
            yield_point=self._yield,
        )

    @staticmethod
    async def _no_credentials(prompt: str) -> auth.Credentials | None:
        """A session that expires mid-work asks nobody: the owner logs in again."""
        return None

    async def logout(self, connection_id: str) -> None:
        """Revoke and forget this connection's tokens; its snapshot stays (shown as stale)."""
        live = self._get(connection_id)
        self._cancel_work(live)
        async with live.setup_lock:
            session, live.session, live.backend = live.session, None, None
            vault = await self._vault(live)
            if session is None and live.connection.kind is BackendKind.FORGEROCK:
                with contextlib.suppress(UmaDesktopError):
                    metadata = await self._metadata(live)
                    session = auth.am_session(
                        live.connection, metadata, self._client(live), vault, self._no_credentials
                    )
            if session is None and await self._saved_login(vault, connection_id):
                # A saved login from an earlier run: resume it so the server revokes it too.
                with contextlib.suppress(UmaDesktopError, TimeoutError):
                    async with asyncio.timeout(REVOCATION_WAIT):
                        metadata = await self._metadata(live)
                        session = await auth.resume(
                            live.connection, metadata, self._client(live), vault
                        )
            if session is not None:
                try:
                    async with asyncio.timeout(REVOCATION_WAIT):
                        await session.logout()
                except TimeoutError:
                    log.warning("%s: the server's token revocation timed out", connection_id)
                    await asyncio.to_thread(vault.delete_connection, connection_id)
            else:
                await asyncio.to_thread(vault.delete_connection, connection_id)
        self._set_status(live, ConnectionStatus.LOGIN_NEEDED, "Logged out.")

    @staticmethod
    async def _saved_login(vault: TokenVault, connection_id: str) -> bool:
        """Whether a login from an earlier run is kept (only then is the server asked)."""
        try:
            return await asyncio.to_thread(auth.has_saved_login, connection_id, vault)
        except UmaDesktopError:
            return True  # the keyring could not tell: let the resume try and say why

    async def _vault(self, live: _Live) -> TokenVault:
        """One vault per connection (a memory-only vault must outlive single calls)."""
        if live.vault is None:
            live.vault = await asyncio.to_thread(self._vault_factory, live.connection.remember)
        return live.vault

    def _client(self, live: _Live) -> net.AsyncClient:
        if live.client is None:
            live.client = net.async_client(connection_id=live.connection.id, timeout=self.timeout)
        return live.client

    async def _metadata(self, live: _Live) -> AuthorizationServerMetadata:
        if live.metadata is None:
            live.metadata = await auth.discover(live.connection.issuer, self._client(live))
        return live.metadata

    async def _backend(self, live: _Live) -> Backend:
        """The connection's backend, resuming the saved login on first use."""
        if live.backend is not None:
            return live.backend
        async with live.setup_lock:
            if live.backend is not None:
                return live.backend
            client = self._client(live)
            # One after the other: side by side, loading the keyring (CPU, a worker thread)
            # and discovery's network steps take turns at the interpreter lock, which with
            # a nearby server costs more than the overlap saves (benchmarks/README.md).
            metadata = await self._metadata(live)
            vault = await self._vault(live)
            if live.connection.kind is BackendKind.FORGEROCK:
                am = auth.am_session(live.connection, metadata, client, vault, self._no_credentials)
                if not await am.resume():
                    raise LoginRequiredError(f"Log in to {live.connection.display_name}.")
                self._attach(live, metadata, am)
                assert live.backend is not None
                return live.backend
            session = await auth.resume(live.connection, metadata, client, vault)
            if session is None:
                raise LoginRequiredError(f"Log in to {live.connection.display_name}.")
            live.session = session
            live.backend = make_backend(
                live.connection.kind,
                connection_id=live.connection.id,
                metadata=metadata,
                client=client,
                tokens=session,
                yield_point=self._yield,
            )
            return live.backend

    def capabilities(self, connection_id: str) -> frozenset[Capability]:
        backend = self._get(connection_id).backend
        return backend.capabilities if backend else frozenset()

    # -- fan-out -----------------------------------------------------------------------

    async def _guarded(self, live: _Live, work: Callable[[Backend], Awaitable[T]]) -> T:
        """Run ``work`` on one connection under its timeout; map every failure to our errors."""

        async def run() -> T:
            return await work(await self._backend(live))

        try:
            async with asyncio.timeout(self.timeout):
                return await self._tracked(live, run())
        except TimeoutError:
            raise ServerUnreachableError(
                f"{live.connection.display_name} did not answer within {self.timeout:g} s."
            ) from None
        except UmaDesktopError:
            raise
        except Exception as exc:
            raise _unexpected(exc) from None

    @staticmethod
    async def _tracked(live: _Live, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` as one of the connection's tasks: logging out or removing the
        connection cancels it instead of waiting for a slow server."""
        task = asyncio.ensure_future(work)
        live.tasks.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise LoginRequiredError(
                    f"{live.connection.display_name} was logged out meanwhile."
                ) from None
            raise
        finally:
            live.tasks.discard(task)

    @staticmethod
    def _cancel_work(live: _Live) -> None:
        for task in list(live.tasks):
            task.cancel()

    def _note_failure(self, live: _Live, error: UmaDesktopError) -> None:
        if isinstance(error, AuthError):
            status = ConnectionStatus.LOGIN_NEEDED
        elif isinstance(error, ServerUnreachableError) and live.snapshot.last_success:
            status = ConnectionStatus.STALE
        else:
            status = ConnectionStatus.ERROR
        self._set_status(live, status, error.user_message)

    def _note_success(self, live: _Live, **fresh: Any) -> None:
        now = _now()
        changed = any(getattr(live.snapshot, name) != value for name, value in fresh.items())
        live.snapshot = replace(live.snapshot, **fresh, last_success=now)
        stamp_old = live.stored_success is None or now - live.stored_success > STAMP_REFRESH
        if changed or stamp_old:
            self._save_snapshot(live)
        self._set_status(live, ConnectionStatus.OK)

    def _save_snapshot(self, live: _Live) -> None:
        """Have the connection's snapshot written soon, off the event loop."""
        live.stored_success = live.snapshot.last_success
        self._snapshot_writer.due(live.connection.id, live.snapshot)

    async def save_snapshots(self) -> None:
        """Write every changed snapshot now (they are otherwise written a moment later)."""
        await self._snapshot_writer.flush()

    async def _fan_out(
        self,
        section: Literal["resources", "requests", "shared_with_me"],
        work: Callable[[Backend], Awaitable[list[T]]],
        only: str | None = None,
    ) -> list[PerConnection[list[T]]]:
        async def one(live: _Live) -> PerConnection[list[T]]:
            try:
                value = await self._guarded(live, work)
            except UmaDesktopError as error:
                self._note_failure(live, error)
                cached: list[T] | None = getattr(live.snapshot, section)
                return PerConnection(live.connection.id, cached, error, stale=cached is not None)
            cut_short = value.cut_short if isinstance(value, Listing) else ""
            if section == "resources":
                value = _keep_unchanged(live.snapshot.resources, value)
            self._note_success(live, **{section: value})
            if cut_short:
                self._set_status(live, ConnectionStatus.OK, cut_short)
            return PerConnection(live.connection.id, value, cut_short=cut_short)

        targets = self._targets(only)
        return list(await asyncio.gather(*(one(live) for live in targets)))

    def _targets(self, only: str | None) -> list[_Live]:
        """All connections, or just ``only`` (ConfigurationError when unknown)."""
        return [self._get(only)] if only is not None else list(self._live.values())

    def _cached(
        self, section: Literal["resources", "requests", "shared_with_me"]
    ) -> list[PerConnection[list[Any]]]:
        return [
            PerConnection(live.connection.id, getattr(live.snapshot, section), None, stale=True)
            for live in self._live.values()
        ]

    def cached_resources(self) -> list[PerConnection[list[Resource]]]:
        """The last-known resources of every connection, without touching the network."""
        return self._cached("resources")

    def cached_requests(self) -> list[PerConnection[list[AccessRequest]]]:
        return self._cached("requests")

    async def resources(
        self, search: str | None = None, *, connection_id: str | None = None
    ) -> list[PerConnection[list[Resource]]]:
        """Every connection's (or one's) resources; ``search`` filters names on the server."""
        if search:

            async def filtered(live: _Live) -> PerConnection[list[Resource]]:
                try:
                    value = await self._guarded(live, lambda b: b.list_resources(search))
                except UmaDesktopError as error:
                    self._note_failure(live, error)
                    needle = search.casefold()
                    cached = [
                        r for r in live.snapshot.resources or [] if needle in r.name.casefold()
                    ]
                    return PerConnection(live.connection.id, cached, error, stale=True)
                cut_short = value.cut_short if isinstance(value, Listing) else ""
                self._set_status(live, ConnectionStatus.OK, cut_short)
                return PerConnection(live.connection.id, value, cut_short=cut_short)

            targets = self._targets(connection_id)
            return list(await asyncio.gather(*(filtered(lv) for lv in targets)))
        return await self._fan_out(
            "resources", lambda backend: backend.list_resources(), connection_id
        )

    async def requests(
        self, *, connection_id: str | None = None
    ) -> list[PerConnection[list[AccessRequest]]]:
        """Every connection's pending requests; emits NewRequests for ids not seen before."""
        results = await self._fan_out("requests", self._list_requests, connection_id)
        self._announce(results)
        return results

    @staticmethod
    async def _list_requests(backend: Backend) -> list[AccessRequest]:
        try:
            return await backend.list_requests()
        except NotSupportedError:
            return []  # a server without pending requests simply has none to show

    def _announce(self, results: list[PerConnection[list[AccessRequest]]]) -> list[AccessRequest]:
        new: list[AccessRequest] = []
        changed = False
        for result in results:
            if result.error is not None or result.value is None:
                continue
            live = self._live.get(result.connection_id)
            if live is None:
                continue
            current = {r.id for r in result.value}
            new += [r for r in result.value if r.id not in live.seen_requests]
            changed = changed or current != live.seen_requests
            live.seen_requests = current
        if new:
            self._emit(NewRequests(new))
        if changed:
            self._emit(RequestsChanged())
        return new

    async def shared_with_me(
        self, *, connection_id: str | None = None
    ) -> list[PerConnection[list[SharedWithMe]]]:
        async def work(backend: Backend) -> list[SharedWithMe]:
            if Capability.SHARED_WITH_ME not in backend.capabilities:
                return []
            return await backend.shared_with_me()

        return await self._fan_out("shared_with_me", work, connection_id)

    async def shares(self, connection_id: str, resource_id: str) -> list[Share]:
        """Who has which scopes on one resource (one server; raises typed errors)."""
        live = self._get(connection_id)
        return await self._guarded(live, lambda backend: backend.list_shares(resource_id))

    async def all_shares(
        self, *, connection_id: str | None = None, parallel: int = SHARE_SCAN_PARALLEL
    ) -> list[PerConnection[list[tuple[Resource, Share]]]]:
        """Every share of every resource on every connection (for review and reports).

        Beside the resource listing, a backend declaring ``Capability.ALL_SHARES`` reads all
        the owner's shares in a few paged requests. Elsewhere each resource that may have
        shares is read on its own, ``parallel`` at a time per server, each read under the
        timeout (a big account is never cut off by one deadline for the whole scan). A
        connection whose resources or shares cannot be listed carries that error; one with a
        resource that could not be read carries it with what was read (marked stale)."""

        async def one(live: _Live) -> PerConnection[list[tuple[Resource, Share]]]:
            listed_now, owner_wide = await asyncio.gather(
                self.resources(connection_id=live.connection.id), _caught(self._owner_wide(live))
            )
            [listed] = listed_now
            if listed.error is not None and not listed.value:
                return PerConnection(live.connection.id, None, listed.error)
            resources = listed.value or []
            if isinstance(owner_wide, NotSupportedError):
                return await self._share_scan(live, listed, parallel)
            if isinstance(owner_wide, UmaDesktopError):
                self._note_failure(live, owner_wide)
                return PerConnection(live.connection.id, None, owner_wide)
            by_id = {resource.id: resource for resource in resources}
            pairs = [(by_id[s.resource_id], s) for s in owner_wide if s.resource_id in by_id]
            cut_short = listed.cut_short or getattr(owner_wide, "cut_short", "")
            return PerConnection(
                live.connection.id,
                pairs,
                listed.error,
                stale=listed.error is not None,
                cut_short=cut_short,
            )

        targets = self._targets(connection_id)
        return list(await asyncio.gather(*(one(live) for live in targets)))

    async def _owner_wide(self, live: _Live) -> list[Share]:
        """All the owner's shares in one (paged) read; NotSupportedError when not offered."""

        async def read(backend: Backend) -> list[Share]:
            if Capability.ALL_SHARES not in backend.capabilities:
                raise NotSupportedError("Shares are read resource by resource here.")
            return await backend.list_all_shares()

        return await self._guarded(live, read)

    async def _share_scan(
        self, live: _Live, listed: PerConnection[list[Resource]], parallel: int
    ) -> PerConnection[list[tuple[Resource, Share]]]:
        """Each resource's shares, read one by one, ``parallel`` at a time."""
        gate = asyncio.Semaphore(parallel)
        errors: list[UmaDesktopError] = [listed.error] if listed.error is not None else []

        async def of(resource: Resource) -> list[tuple[Resource, Share]]:
            if resource.share_count == 0:
                return []
            async with gate:
                try:
                    shares = await self._guarded(live, lambda b: b.list_shares(resource.id))
                except UmaDesktopError as error:
                    errors.append(error)
                    return []
            return [(resource, share) for share in shares]

        groups = await asyncio.gather(*(of(r) for r in listed.value or []))
        pairs = [pair for group in groups for pair in group]
        return PerConnection(
            live.connection.id,
            pairs,
            errors[0] if errors else None,
            stale=bool(errors),
            cut_short=listed.cut_short,
        )

    async def find_person(self, connection_id: str, resource_id: str, query: str) -> Party | None:
        live = self._get(connection_id)
        return await self._guarded(live, lambda backend: backend.find_person(resource_id, query))

    # -- writes ------------------------------------------------------------------------

    def _resource_name(self, live: _Live, resource_id: str) -> str:
        for resource in live.snapshot.resources or []:
            if resource.id == resource_id:
                return resource.name
        return resource_id

    async def _decide(
        self,
        live: _Live,
        draft: Decision,
        work: Callable[[Backend], Awaitable[None]],
    ) -> Decision:
        """Record the attempt, run the write, record its outcome; raise or return the Decision.

        Cut short (Ctrl-C, cancelled, closing window) after the request may have reached
        the server, the row says "outcome unknown" and the interruption goes on.
        """
        row = await asyncio.to_thread(self._keep_in_history, self._history.begin, draft)
        error: UmaDesktopError | None = None
        sent = False
        try:
            async with live.gate:
                sent = True
                try:
                    await self._guarded(live, work)
                except UmaDesktopError as exc:
                    error = exc
        except BaseException:
            # Written here and now, not in a thread: the task is being torn down.
            if sent:
                cut_short = replace(
                    draft, at=_now(), ok=False, settled=False, detail=INTERRUPTED_NOTE
                )
            else:
                cut_short = replace(draft, at=_now(), ok=False, detail=NOT_SENT_NOTE)
            self._keep_in_history(lambda d: self._history.settle(row, d), cut_short)
            raise
        decision = replace(
            draft, at=_now(), ok=error is None, detail=error.user_message if error else ""
        )
        await asyncio.to_thread(
            self._keep_in_history, lambda d: self._history.settle(row, d), decision
        )
        if error is not None:
            self._note_failure(live, error)
            raise error
        return decision

    def _keep_in_history(self, write: Callable[[A], T], decisions: A) -> T | None:
        """``write(decisions)``; a history that cannot be written is noted, never fatal."""
        try:
            return write(decisions)
        except StorageError as exc:  # the decision goes ahead; say it is not in the history
            log.error("could not record a decision in the history: %s", exc)
            note = f"A decision could not be written to the history: {exc.user_message}"
            if note not in self.problems:
                self.problems.append(note)
            return None

    async def _person_label(self, live: _Live, resource_id: str, person: str) -> str:
        """The person typed by the owner, labelled as requesters are (name and username)."""
        try:
            party = await self._guarded(live, lambda b: b.find_person(resource_id, person))
        except UmaDesktopError:
            return person  # the write itself will say what is wrong
        return party.full_label if party is not None else person

    def _draft(
        self,
        live: _Live,
        action: str,
        resource_id: str,
        resource_name: str,
        party: str,
        scopes: Sequence[str],
        **extra: str,
    ) -> Decision:
        return Decision(
            connection_id=live.connection.id,
            action=action,
            resource_id=resource_id,
            resource_name=resource_name,
            party=party,
            scopes=tuple(scopes),
            at=_now(),
            ok=False,
            extra=extra,
        )

    def _forget_requests(self, live: _Live, decided: set[str]) -> None:
        """Drop decided requests from the connection's pending list (and its snapshot)."""
        if live.snapshot.requests is not None:
            remaining = [r for r in live.snapshot.requests if r.id not in decided]
            if len(remaining) != len(live.snapshot.requests):
                live.snapshot = replace(live.snapshot, requests=remaining)
                self._save_snapshot(live)
        live.seen_requests -= decided

    async def approve(
        self, request: AccessRequest, scopes: Sequence[str] | None = None
    ) -> Decision:
        """Grant ``scopes`` (default: all requested). Raises after recording a failure."""
        live = self._get(request.connection_id)
        chosen = tuple(request.scopes if scopes is None else scopes)
        draft = self._draft(
            live,
            "approve",
            request.resource_id,
            request.resource_name,
            request.requester.full_label,
            chosen,
            request_id=request.id,
        )
        decision = await self._decide(live, draft, lambda b: b.approve(request, scopes))
        self._forget_requests(live, {request.id})
        self._emit(RequestsChanged())
        self._emit(DataChanged(live.connection.id))
        return decision

    async def deny(self, request: AccessRequest) -> Decision:
        live = self._get(request.connection_id)
        draft = self._draft(
            live,
            "deny",
            request.resource_id,
            request.resource_name,
            request.requester.full_label,
            request.scopes,
            request_id=request.id,
        )
        decision = await self._decide(live, draft, lambda b: b.deny(request))
        self._forget_requests(live, {request.id})
        self._emit(RequestsChanged())
        return decision

    async def bulk(
        self, action: Literal["approve", "deny"], requests: Sequence[AccessRequest]
    ) -> list[Decision]:
        """Approve (all scopes) or deny many requests concurrently, a few at a time per
        server. Never raises for one request: each Decision says whether it worked.

        Every decision is in the history as sent (one transaction) before the first request
        leaves; outcomes are written in batches as they come. Listeners hear once, at the
        end: one RequestsChanged, and one DataChanged per connection where an approval
        went through. The snapshots on disk hold the result when this returns.
        """
        if action not in ("approve", "deny"):
            raise ConfigurationError(f"Unknown bulk action {action!r}: approve or deny.")
        decisions: list[Decision | None] = [None] * len(requests)
        work: list[tuple[int, _Live, Decision]] = []
        for index, request in enumerate(requests):
            draft = Decision(
                connection_id=request.connection_id,
                action=action,
                resource_id=request.resource_id,
                resource_name=request.resource_name,
                party=request.requester.full_label,
                scopes=request.scopes,
                at=_now(),
                ok=False,
                extra={"request_id": request.id},
            )
            try:
                work.append((index, self._get(request.connection_id), draft))
            except UmaDesktopError as error:  # an unknown connection: nothing to send
                decisions[index] = replace(draft, detail=error.user_message)
        drafts = [draft for _, _, draft in work]
        begun = await asyncio.to_thread(self._keep_in_history, self._history.begin_many, drafts)
        rows: list[int | None] = list(begun) if begun is not None else [None] * len(drafts)
        settler = _HistorySettler(self._history, self._keep_in_history)
        sent: set[int] = set()

        async def decide(index: int, live: _Live, draft: Decision, row: int | None) -> None:
            request = requests[index]
            error: UmaDesktopError | None = None
            async with live.gate:
                sent.add(index)
                try:
                    if action == "approve":
                        await self._guarded(live, lambda b: b.approve(request, None))
                    else:
                        await self._guarded(live, lambda b: b.deny(request))
                except UmaDesktopError as exc:
                    error = exc
            decision = replace(
                draft, at=_now(), ok=error is None, detail=error.user_message if error else ""
            )
            decisions[index] = decision
            settler.add(row, decision)
            if error is not None:
                self._note_failure(live, error)

        try:
            await asyncio.gather(
                *(decide(i, live, d, row) for (i, live, d), row in zip(work, rows, strict=True))
            )
            await settler.finish()
        except BaseException:
            # Written here and now, not in a thread: the task is being torn down.
            unsettled = []
            for (index, _, draft), row in zip(work, rows, strict=True):
                if decisions[index] is not None:
                    continue
                note = INTERRUPTED_NOTE if index in sent else NOT_SENT_NOTE
                cut_short = replace(draft, at=_now(), ok=False, detail=note)
                unsettled.append((row, replace(cut_short, settled=index not in sent)))
            settler.write_now(unsettled)
            raise
        self._after_bulk(action, requests, decisions)
        await self._snapshot_writer.flush()
        return [d for d in decisions if d is not None]

    def _after_bulk(
        self,
        action: str,
        requests: Sequence[AccessRequest],
        decisions: Sequence[Decision | None],
    ) -> None:
        """Forget the decided requests and tell listeners, once per kind of change."""
        done: dict[str, set[str]] = {}
        for request, decision in zip(requests, decisions, strict=True):
            if decision is not None and decision.ok:
                done.setdefault(request.connection_id, set()).add(request.id)
        for connection_id, decided in done.items():
            live = self._live.get(connection_id)
            if live is not None:
                self._forget_requests(live, decided)
        if done:
            self._emit(RequestsChanged())
        if action == "approve":
            for connection_id in done:
                self._emit(DataChanged(connection_id))

    async def share(
        self,
        connection_id: str,
        resource_id: str,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
        *,
        action: str = "share",
        resource_name: str | None = None,
    ) -> Decision:
        """Give ``person`` (username or e-mail) ``scopes`` on a resource (``action`` names
        it in the history, e.g. "set-expiry" when only the expiry changes)."""
        live = self._get(connection_id)
        if expires_at is not None and expires_at <= _now():
            raise ConfigurationError("The expiry date is in the past.")
        extra = {"expires_at": expires_at.isoformat()} if expires_at else {}
        draft = self._draft(
            live,
            action,
            resource_id,
            resource_name or self._resource_name(live, resource_id),
            await self._person_label(live, resource_id, person),
            scopes,
            **extra,
        )
        decision = await self._decide(
            live, draft, lambda b: b.share(resource_id, person, scopes, expires_at)
        )
        self._emit(DataChanged(connection_id))
        return decision

    async def share_with_claims(
        self,
        connection_id: str,
        resource_id: str,
        claims: Sequence[tuple[str, str]],
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> Decision:
        """Give anyone presenting every (name, value) claim ``scopes`` on a resource."""
        live = self._get(connection_id)
        if expires_at is not None and expires_at <= _now():
            raise ConfigurationError("The expiry date is in the past.")
        audience = "anyone with " + " and ".join(f"{name}={value}" for name, value in claims)
        extra = {"expires_at": expires_at.isoformat()} if expires_at else {}
        draft = self._draft(
            live,
            "share",
            resource_id,
            self._resource_name(live, resource_id),
            audience,
            scopes,
            **extra,
        )
        decision = await self._decide(
            live, draft, lambda b: b.share_with_claims(resource_id, claims, scopes, expires_at)
        )
        self._emit(DataChanged(connection_id))
        return decision

    async def revoke(
        self,
        connection_id: str,
        resource_id: str,
        person: str,
        scopes: Sequence[str] | None = None,
        *,
        action: str | None = None,
        extra: dict[str, str] | None = None,
        resource_name: str | None = None,
    ) -> Decision:
        """Take ``scopes`` (default: all) of a resource away from ``person``; ``action`` and
        ``extra`` label it in the history (e.g. "expire" for an automatic revoke)."""
        live = self._get(connection_id)
        action = action or ("revoke" if scopes is None else "narrow")
        if scopes is not None and not scopes:
            raise ConfigurationError("Choose the scopes to take away, or revoke all.")
        draft = self._draft(
            live,
            action,
            resource_id,
            resource_name or self._resource_name(live, resource_id),
            await self._person_label(live, resource_id, person),
            scopes or (),
            **(extra or {}),
        )
        decision = await self._decide(live, draft, lambda b: b.revoke(resource_id, person, scopes))
        self._emit(DataChanged(connection_id))
        return decision

    async def revoke_many(self, targets: Sequence[RevokeTarget]) -> list[Decision]:
        """Revoke or narrow many shares at once, a few at a time per server, written to the
        history as ``bulk`` writes it (all sent in one transaction, outcomes in batches).
        Never raises for one share: each Decision says whether it worked; cut short, the
        ones already sent say "outcome unknown"."""
        lives = [self._get(t.connection_id) for t in targets]
        drafts = [
            self._draft(
                live,
                "revoke" if t.scopes is None else "narrow",
                t.resource_id,
                t.resource_name,
                t.party_label,
                t.scopes or (),
            )
            for live, t in zip(lives, targets, strict=True)
        ]
        if not drafts:
            return []
        begun = await asyncio.to_thread(self._keep_in_history, self._history.begin_many, drafts)
        rows: list[int | None] = list(begun) if begun is not None else [None] * len(drafts)
        settler = _HistorySettler(self._history, self._keep_in_history)
        sent: set[int] = set()
        outcomes: list[Decision | None] = [None] * len(drafts)

        async def one(index: int) -> None:
            live, target = lives[index], targets[index]
            error: UmaDesktopError | None = None
            async with live.gate:
                sent.add(index)
                try:
                    await self._guarded(
                        live, lambda b: b.revoke(target.resource_id, target.person, target.scopes)
                    )
                except UmaDesktopError as exc:
                    error = exc
            decision = replace(
                drafts[index],
                at=_now(),
                ok=error is None,
                detail=error.user_message if error else "",
            )
            outcomes[index] = decision
            settler.add(rows[index], decision)
            if error is not None:
                self._note_failure(live, error)

        try:
            await asyncio.gather(*(one(i) for i in range(len(drafts))))
            await settler.finish()
        except BaseException:
            # Written here and now, not in a thread: the task is being torn down.
            unsettled = [
                (
                    row,
                    replace(
                        draft,
                        at=_now(),
                        ok=False,
                        settled=index not in sent,
                        detail=INTERRUPTED_NOTE if index in sent else NOT_SENT_NOTE,
                    ),
                )
                for index, (row, draft) in enumerate(zip(rows, drafts, strict=True))
                if outcomes[index] is None
            ]
            settler.write_now(unsettled)
            raise
        for connection_id in dict.fromkeys(t.connection_id for t in targets):
            self._emit(DataChanged(connection_id))
        return [o for o in outcomes if o is not None]

    def history(self, limit: int = 500) -> list[Decision]:
        """Decisions taken in this app, newest first; rows that cannot be read are left out
        and named in ``problems``. Raises StorageError (HistoryBusyError) when unreadable."""
        read = self._history.read(limit)
        if read.skipped:
            ids = ", ".join(str(row) for row in read.skipped)
            count = len(read.skipped)
            note = (
                f"{count} entr{'y' if count == 1 else 'ies'} of the decision history could "
                f"not be read and {'is' if count == 1 else 'are'} not shown (row {ids})."
            )
            if note not in self.problems:
                self.problems.append(note)
        return read.decisions

    # -- polling -----------------------------------------------------------------------

    async def poll_once(self) -> list[AccessRequest]:
        """Fetch pending requests everywhere; return (and announce) the ones not seen yet."""
        results = await self._fan_out("requests", self._list_requests)
        return self._announce(results)

    def start_polling(self, interval: float = 30.0) -> None:
        """Poll for new requests every ``interval`` seconds (call from the loop's thread)."""
        if interval <= 0:
            raise ConfigurationError("The polling interval must be positive.")
        if self._poll_task is not None and not self._poll_task.done():
            return

        async def loop() -> None:
            while True:
                try:
                    await self.poll_once()
                except Exception:
                    log.exception("polling for new requests failed")
                await asyncio.sleep(interval)

        self._poll_task = asyncio.get_running_loop().create_task(loop(), name="uma-poll")

    async def stop_polling(self) -> None:
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- shutdown ----------------------------------------------------------------------

    async def _close_live(self, live: _Live) -> None:
        if live.backend is not None:
            with contextlib.suppress(Exception):
                await live.backend.aclose()
        if live.client is not None:
            await live.client.aclose()
        live.backend, live.session, live.client = None, None, None

    async def aclose(self) -> None:
        await self.stop_polling()
        await self._snapshot_writer.flush()
        for live in list(self._live.values()):
            await self._close_live(live)
