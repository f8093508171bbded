"""Where saved tokens live: the OS keyring, or memory only ("don't remember me").

The refresh and ID tokens are kept there, and the current access token too, so that the
window and ``uma-desktop`` commands share one sign-in instead of each renewing it.

Entries sit under one service name, ``uma-desktop``. A secret is split into chunks of at
most ``CHUNK_CHARS`` characters so a long JWT stays under Windows' per-entry limit; a small
header entry ``<connection>/<kind>`` names the current generation and chunk count, and chunks
live at ``<connection>/<kind>/g<generation>/<index>``. A new value is written under a new
generation and the header is switched last, so a crash half-way leaves the old value intact.

Only keyring backends that keep secrets encrypted by the OS are accepted (an allow-list);
plaintext, null and fail backends are refused with a clear error, never used silently.
Keyring calls may block on an unlock prompt: call the vault from a worker thread (the
``TokenSession`` does, via ``asyncio.to_thread``).

On Linux, when keyring would pick the Secret Service anyway, reads skip ``keyring`` and talk
to the Secret Service through ``secretstorage`` directly (``secret_service.py``): one
connection, one encrypted session and one unlock per load, the lookups of a batch sent
together and their secrets fetched in one call. Writes and deletes still go through keyring.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

from uma_desktop.errors import (
    VaultDeniedError,
    VaultError,
    VaultLockedError,
    VaultTooLargeError,
    VaultUnavailableError,
)
from uma_desktop.oauth.secret_service import (
    DEFAULT_COLLECTION_ALIAS,
    NoDefaultCollection,
    SecretServiceReader,
)

log = logging.getLogger(__name__)

SERVICE_NAME = "uma-desktop"
CHUNK_CHARS = 1200
MAX_CHUNKS = 32  # 38,400 characters: far above any sane token, far below a runaway value
_HEADER = re.compile(r"^v1:g(?P<gen>[0-9a-f]{1,32}):(?P<count>[0-9]{1,3})$")
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")

# Backends that keep secrets encrypted and guarded by the OS (module.Class as keyring names them).
ALLOWED_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
    }
)


class TokenKind(StrEnum):
    REFRESH = "refresh"
    ID = "id"
    ACCESS = "access"  # the current access token with its expiry, shared by this user's processes
    CLIENT_SECRET = "client_secret"  # a support connection's resource-server secret
    SESSION = "session"  # a ForgeRock AM session token with its expiry (oauth/am_session.py)


@runtime_checkable
class TokenVault(Protocol):
    """Stores one secret per (connection, kind). Blocking; raises only VaultError types."""

    @property
    def remembers(self) -> bool:
        """True when secrets outlive the process (the OS keyring)."""
        ...

    def load(self, connection_id: str, kind: TokenKind) -> str | None: ...

    def load_many(
        self, connection_id: str, kinds: Iterable[TokenKind]
    ) -> dict[TokenKind, str | None]:
        """Several secrets of one connection at once (None where there is none)."""
        ...

    def store(self, connection_id: str, kind: TokenKind, value: str) -> None: ...

    def delete(self, connection_id: str, kind: TokenKind) -> None: ...

    def delete_connection(self, connection_id: str) -> None:
        """Forget every secret of one connection (logout, removing the connection)."""
        ...


def _check_connection_id(connection_id: str) -> None:
    if not _CONNECTION_ID.match(connection_id):
        raise ValueError("connection id must be 1-128 characters of [A-Za-z0-9._:@-]")


def _check_size(value: str) -> None:
    if len(value) > CHUNK_CHARS * MAX_CHUNKS:
        raise VaultTooLargeError(
            f"The token is too large to keep in the keyring ({len(value)} characters; "
            f"at most {CHUNK_CHARS * MAX_CHUNKS})."
        )


class MemoryVault:
    """ "Don't remember me": secrets live in this process only and vanish when it ends."""

    def __init__(self) -> None:
        self._secrets: dict[tuple[str, TokenKind], str] = {}
        self._lock = threading.Lock()

    @property
    def remembers(self) -> bool:
        return False

    def load(self, connection_id: str, kind: TokenKind) -> str | None:
        with self._lock:
            return self._secrets.get((connection_id, kind))

    def load_many(
        self, connection_id: str, kinds: Iterable[TokenKind]
    ) -> dict[TokenKind, str | None]:
        with self._lock:
            return {kind: self._secrets.get((connection_id, kind)) for kind in kinds}

    def store(self, connection_id: str, kind: TokenKind, value: str) -> None:
        _check_connection_id(connection_id)
        _check_size(value)
        with self._lock:
            self._secrets[(connection_id, kind)] = value

    def delete(self, connection_id: str, kind: TokenKind) -> None:
        with self._lock:
            self._secrets.pop((connection_id, kind), None)

    def delete_connection(self, connection_id: str) -> None:
        with self._lock:
            for key in [key for key in self._secrets if key[0] == connection_id]:
                del self._secrets[key]


def backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def select_backend(candidate: Any | None = None) -> Any:
    """The keyring backend to use: ``candidate`` or keyring's choice, if on the allow-list.

    A chainer backend is searched for its first allowed member. Raises VaultUnavailableError
    naming what was found otherwise (no backend, null, fail, plaintext files, ...).
    """
    from keyring.backends import chainer

    chosen = candidate if candidate is not None else _keyring_choice()
    options = list(chosen.backends) if isinstance(chosen, chainer.ChainerBackend) else [chosen]
    for option in options:
        if backend_name(option) in ALLOWED_BACKENDS:
            return option
    found = ", ".join(backend_name(option) for option in options) or "nothing"
    raise VaultUnavailableError(
        f"No secure keyring is available on this system (found: {found}); "
        "a login can be kept in memory only."
    )


def _keyring_choice() -> Any:
    """The backend keyring would choose. On Linux, when nothing is configured and KDE's
    wallet would not outrank it, that is the Secret Service, taken directly: ranking every
    backend loads the macOS one too, whose library search runs subprocesses on Linux."""
    import keyring
    from keyring import core

    if (
        sys.platform.startswith("linux")
        and core._keyring_backend is None  # nothing set by keyring.set_keyring
        and "KDE" not in os.environ.get("XDG_CURRENT_DESKTOP", "").split(":")
    ):
        configured = core.load_env() or core.load_config()  # PYTHON_KEYRING_BACKEND, keyringrc
        if configured is not None:
            return configured
        from keyring.backends import SecretService

        try:
            SecretService.Keyring.priority  # noqa: B018 - raises when no Secret Service answers
        except Exception:  # keyring's full ranking below then names what was found
            log.debug("no Secret Service: asking keyring for its choice")
        else:
            return SecretService.Keyring()  # type: ignore[no-untyped-call]
    return keyring.get_keyring()


T = TypeVar("T")


def _dbus_error_name(exc: BaseException) -> str | None:
    name = getattr(exc, "name", None)
    return name if isinstance(name, str) else None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _keyring_errors() -> tuple[type[BaseException], type[BaseException], type[BaseException]]:
    """keyring's KeyringLocked, NoKeyringError and InitError, when keyring is loaded; a read
    that went past keyring has none of them in its chain, and must not load keyring."""
    errors = sys.modules.get("keyring.errors")
    if errors is None:
        return (_NeverRaised, _NeverRaised, _NeverRaised)
    return (errors.KeyringLocked, errors.NoKeyringError, errors.InitError)


class _NeverRaised(Exception):
    """Stands in for a keyring error class while keyring is not loaded."""


def _translate(exc: BaseException) -> VaultError:
    """Map a keyring / Secret Service failure to the app's vault errors (no secrets inside)."""
    keyring_locked, no_keyring, init_error = _keyring_errors()
    chain = _causes(exc)
    names = {type(item).__name__ for item in chain}
    dbus_names = {name for item in chain if (name := _dbus_error_name(item))}
    texts = " ".join(str(item) for item in chain).lower()

    if (
        "org.freedesktop.DBus.Error.AccessDenied" in dbus_names
        or "PromptDismissedException" in names
    ):
        return VaultDeniedError("Access to the keyring was refused.")
    if any(isinstance(item, keyring_locked) for item in chain) or "LockedException" in names:
        return VaultLockedError("The keyring is locked and could not be unlocked.")
    if "prompt dismissed" in texts or "access denied" in texts or "not permitted" in texts:
        return VaultDeniedError("Access to the keyring was refused.")
    if "1783" in texts or "stub received bad data" in texts or "too large" in texts:
        return VaultTooLargeError("The token is too large for this keyring.")
    if any(isinstance(item, no_keyring) for item in chain) or (
        "SecretServiceNotAvailableException" in names
    ):
        return VaultUnavailableError("The keyring service is not available.")
    if any(isinstance(item, init_error) for item in chain):
        return VaultUnavailableError("The keyring could not be opened.")
    return VaultError(f"The keyring failed ({type(exc).__name__}).")


_SECRET_SERVICE = "keyring.backends.SecretService.Keyring"
TRANSIENT_RETRIES = 2  # a busy Secret Service now and then loses an item or a collection
READ_REUSE_SECONDS = 2.0


def _transient(exc: BaseException) -> bool:
    """A failure worth one more try: a lookup that lost its object, not a refusal or lock."""
    keyring_locked, _no_keyring, init_error = _keyring_errors()
    chain = _causes(exc)
    names = {type(item).__name__ for item in chain}
    if any(isinstance(item, keyring_locked) for item in chain) or "LockedException" in names:
        return False
    return "ItemNotFoundException" in names or any(isinstance(item, init_error) for item in chain)


def _keyring_configured() -> bool:
    """Whether keyring was told which backend to use (``keyring.set_keyring``, the
    PYTHON_KEYRING_BACKEND variable or a keyringrc file), judged without importing it."""
    core = sys.modules.get("keyring.core")
    if core is not None and getattr(core, "_keyring_backend", None) is not None:
        return True
    if "PYTHON_KEYRING_BACKEND" in os.environ:
        return True
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.exists(os.path.join(config_home, "python_keyring", "keyringrc.cfg"))


def _secret_service_by_default() -> bool:
    """True where ``_keyring_choice`` would take the Secret Service without asking keyring:
    Linux, nothing configured for keyring, not a KDE session."""
    return (
        sys.platform.startswith("linux")
        and "KDE" not in os.environ.get("XDG_CURRENT_DESKTOP", "").split(":")
        and not _keyring_configured()
    )


class _NoSecretService(Exception):
    """No Secret Service answers: keyring's own ranking decides what the vault uses."""


class KeyringVault:
    """Secrets in the OS keyring via ``keyring``, chunked, on an allow-listed backend only."""

    def __init__(self, backend: Any | None = None, *, service: str = SERVICE_NAME) -> None:
        self._backend_choice = backend
        self._backend: Any | None = None
        self._service = service
        self._lock = threading.RLock()
        self._batched_reads = False  # inside load(): Secret Service reads share a connection
        self._reading_until = 0.0  # monotonic time until which a next load() may reuse it
        # Reads past keyring, straight to the Secret Service: None until first decided.
        self._direct: bool | None = None if backend is None else False
        self._reader: SecretServiceReader | None = None
        self._collection_seen = False  # the default collection's alias answered once

    @property
    def remembers(self) -> bool:
        return True

    @property
    def backend(self) -> Any:
        """The keyring backend in use (resolved lazily on first use, off the GUI thread)."""
        with self._lock:
            if self._backend is None:
                self._backend = select_backend(self._backend_choice)
                log.debug("keyring backend: %s", backend_name(self._backend))
            return self._backend

    def check(self) -> None:
        """Prove the keyring works now: write, read back and delete a probe entry."""
        probe = secrets.token_hex(8)
        with self._guard():
            self.backend.set_password(self._service, "probe", probe)
            read = self.backend.get_password(self._service, "probe")
            self.backend.delete_password(self._service, "probe")
        if read != probe:
            raise VaultUnavailableError("The keyring did not return what was stored in it.")

    @property
    def reads_directly(self) -> bool:
        """True when reads go straight to the Secret Service, past ``keyring``."""
        with self._lock:
            return self._reads_directly()

    def ensure_available(self) -> None:
        """Report a missing keyring now (VaultUnavailableError) rather than at first use.

        Where reads go straight to the Secret Service, this opens their connection and
        encrypted session, kept for the loads that follow; keyring is asked only when no
        Secret Service answers. A refusal or any other failure shows at the first read."""
        with self._lock:
            if not self._reads_directly():
                self.backend  # noqa: B018 - resolves (and checks) keyring's backend
                return
            try:
                self._open_reader().open_session()
            except Exception as exc:
                self._end_reading()
                if not self._no_secret_service(exc):
                    log.debug("keyring check deferred to the first read (%s)", type(exc).__name__)
                    return
                self._direct = False
                self.backend  # noqa: B018 - keyring's ranking names what there is instead
            else:
                self._reading_until = time.monotonic() + READ_REUSE_SECONDS

    def _reads_directly(self) -> bool:
        """Straight to the Secret Service where keyring would use it too: decided without
        loading keyring when nothing is configured, else by the backend keyring resolves to.
        A backend handed in (a test, a caller's choice) is always read through keyring."""
        if self._direct is None:
            self._direct = (
                _secret_service_by_default() or backend_name(self.backend) == _SECRET_SERVICE
            )
        return self._direct

    @staticmethod
    def _no_secret_service(exc: BaseException) -> bool:
        return "SecretServiceNotAvailableException" in {
            type(item).__name__ for item in _causes(exc)
        }

    def _open_reader(self) -> SecretServiceReader:
        if self._reader is None:
            self._reader = SecretServiceReader()
        return self._reader

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (VaultError, _NoSecretService, NoDefaultCollection):
            raise
        except Exception as exc:
            error = _translate(exc)
            log.warning("keyring operation failed: %s (%s)", error, type(exc).__name__)
            raise error from None

    def _call(self, operation: Callable[[], T]) -> T:
        if self._collection_seen:
            self._pin_collection()
        with self._lock, self._guard():
            for attempt in range(TRANSIENT_RETRIES + 1):
                try:
                    result = operation()
                except Exception as exc:
                    if attempt == TRANSIENT_RETRIES or not _transient(exc):
                        raise
                    log.debug("keyring hiccup (%s); trying again", type(exc).__name__)
                else:
                    self._pin_collection()
                    return result
            raise AssertionError("unreachable")

    def _pin_collection(self) -> None:
        """Once the Secret Service's default collection is known to exist, address it by its
        alias: a lookup that fails under load then fails (and is retried) instead of making
        ``secretstorage`` create a new, empty "Default" collection in its place."""
        backend = self.backend
        if backend_name(backend) == _SECRET_SERVICE and not hasattr(
            backend, "preferred_collection"
        ):
            backend.preferred_collection = DEFAULT_COLLECTION_ALIAS

    def _get(self, key: str) -> str | None:
        value = self._call(lambda: self.backend.get_password(self._service, key))
        return value if isinstance(value, str) else None

    def _get_many(self, keys: list[str]) -> dict[str, str | None]:
        """The entries at ``keys`` (None where absent): in one batch straight from the Secret
        Service where that is keyring's choice anyway, else one by one through keyring."""
        if self._reads_directly():
            if not self._batched_reads and time.monotonic() > self._reading_until:
                self._end_reading()  # outside load(), only a fresh connection is reused
            try:
                return self._read_directly(keys)
            except _NoSecretService:
                if self._collection_seen:  # it answered before: now it is gone
                    raise VaultUnavailableError("The keyring service is not available.") from None
                log.debug("no Secret Service: asking keyring for its choice")
                self._direct = False
            except NoDefaultCollection:
                log.debug("no default collection: reading through keyring")
        return {key: self._get(key) for key in keys}

    def _read_directly(self, keys: list[str]) -> dict[str, str | None]:
        with self._lock, self._guard():
            for attempt in range(TRANSIENT_RETRIES + 1):
                try:
                    values = self._read_over_reader(keys)
                except (_NoSecretService, NoDefaultCollection) as exc:
                    if attempt == TRANSIENT_RETRIES or isinstance(exc, _NoSecretService):
                        raise
                except Exception as exc:
                    if attempt == TRANSIENT_RETRIES or not _transient(exc):
                        raise
                else:
                    self._collection_seen = True
                    return values
                log.debug("Secret Service hiccup; trying again")
            raise AssertionError("unreachable")

    def _read_over_reader(self, keys: list[str]) -> dict[str, str | None]:
        """A batch read over the kept reader, or a fresh one if that has gone stale."""
        from secretstorage.exceptions import LockedException

        if self._reader is not None:
            try:
                return self._reader.read(self._service, keys)
            except LockedException:  # the owner refused to unlock: not asked twice
                self._end_reading()
                raise
            except Exception:  # the kept connection may have gone stale: once more, anew
                self._end_reading()
        try:
            return self._open_reader().read(self._service, keys)
        except Exception as exc:
            self._end_reading()  # a retry starts again from a fresh connection
            if self._no_secret_service(exc):
                raise _NoSecretService from exc
            raise

    @contextmanager
    def _one_connection(self) -> Iterator[None]:
        """Direct reads of one load() share a Secret Service connection and encrypted session,
        and so do the loads that follow within ``READ_REUSE_SECONDS``; an older one is
        closed."""
        if self._reader is not None and time.monotonic() > self._reading_until:
            self._end_reading()
        self._batched_reads = True
        try:
            yield
        finally:
            self._batched_reads = False
            self._reading_until = time.monotonic() + READ_REUSE_SECONDS

    def _end_reading(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def _set(self, key: str, value: str) -> None:
        self._call(lambda: self.backend.set_password(self._service, key, value))

    def _remove(self, key: str) -> None:
        from keyring.errors import PasswordDeleteError

        def remove() -> None:
            with suppress(PasswordDeleteError):  # already gone is fine
                self.backend.delete_password(self._service, key)

        self._call(remove)

    @staticmethod
    def _header_key(connection_id: str, kind: TokenKind) -> str:
        return f"{connection_id}/{kind.value}"

    @staticmethod
    def _chunk_key(connection_id: str, kind: TokenKind, generation: str, index: int) -> str:
        return f"{connection_id}/{kind.value}/g{generation}/{index}"

    def _read_header(self, connection_id: str, kind: TokenKind) -> tuple[str, int] | None:
        return self._read_headers(connection_id, [kind])[kind]

    def _read_headers(
        self, connection_id: str, kinds: list[TokenKind]
    ) -> dict[TokenKind, tuple[str, int] | None]:
        keys = {kind: self._header_key(connection_id, kind) for kind in kinds}
        entries = self._get_many(list(keys.values()))
        headers: dict[TokenKind, tuple[str, int] | None] = {}
        for kind, key in keys.items():
            entry = entries[key]
            match = _HEADER.match(entry) if entry is not None else None
            if entry is not None and match is None:
                log.warning("ignoring an unreadable vault entry for connection %s", connection_id)
            headers[kind] = (match["gen"], int(match["count"])) if match is not None else None
        return headers

    def load(self, connection_id: str, kind: TokenKind) -> str | None:
        return self.load_many(connection_id, [kind])[kind]

    def load_many(
        self, connection_id: str, kinds: Iterable[TokenKind]
    ) -> dict[TokenKind, str | None]:
        """Several secrets of one connection: all headers in one batch, then all chunks."""
        _check_connection_id(connection_id)
        wanted = list(dict.fromkeys(kinds))
        values: dict[TokenKind, str | None] = dict.fromkeys(wanted)
        if not wanted:
            return values
        with self._lock, self._one_connection():
            pending = self._read_headers(connection_id, wanted)
            for _attempt in range(3):
                headers = {kind: header for kind, header in pending.items() if header}
                if not headers:
                    return values
                chunks = self._read_chunks(connection_id, headers)
                values.update((kind, value) for kind, value in chunks.items() if value is not None)
                incomplete = [kind for kind, value in chunks.items() if value is None]
                if not incomplete:
                    return values
                # Another process may have just replaced a value (and dropped the chunks
                # read half-way): a changed header means "read again", not "damaged".
                current = self._read_headers(connection_id, incomplete)
                pending = {kind: current[kind] for kind in incomplete}
                for kind in incomplete:
                    if current[kind] == headers[kind]:
                        log.warning("a vault entry of connection %s is incomplete", connection_id)
                        del pending[kind]
            if any(pending.values()):
                log.warning("a vault entry of connection %s is incomplete", connection_id)
            return values

    def _read_chunks(
        self, connection_id: str, headers: dict[TokenKind, tuple[str, int]]
    ) -> dict[TokenKind, str | None]:
        keys = {
            kind: [self._chunk_key(connection_id, kind, generation, i) for i in range(count)]
            for kind, (generation, count) in headers.items()
        }
        parts = self._get_many([key for kind_keys in keys.values() for key in kind_keys])
        values: dict[TokenKind, str | None] = {}
        for kind, kind_keys in keys.items():
            found = [parts[key] for key in kind_keys]
            values[kind] = None if None in found else "".join(part or "" for part in found)
        return values

    def store(self, connection_id: str, kind: TokenKind, value: str) -> None:
        _check_connection_id(connection_id)
        _check_size(value)
        chunks = [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)] or [""]
        with self._lock:
            old = self._read_header(connection_id, kind)
            generation = secrets.token_hex(4)
            written: list[str] = []
            try:
                for index, chunk in enumerate(chunks):
                    key = self._chunk_key(connection_id, kind, generation, index)
                    self._set(key, chunk)
                    written.append(key)
                self._set(self._header_key(connection_id, kind), f"v1:g{generation}:{len(chunks)}")
            except VaultError:
                for key in written:  # leave no orphaned halves; the old value stays current
                    with suppress(VaultError):
                        self._remove(key)
                raise
            if old is not None:
                self._remove_chunks(connection_id, kind, *old)

    def _remove_chunks(
        self, connection_id: str, kind: TokenKind, generation: str, count: int
    ) -> None:
        for index in range(count):
            self._remove(self._chunk_key(connection_id, kind, generation, index))

    def delete(self, connection_id: str, kind: TokenKind) -> None:
        _check_connection_id(connection_id)
        with self._lock:
            old = self._read_header(connection_id, kind)
            self._remove(self._header_key(connection_id, kind))
            if old is not None:
                self._remove_chunks(connection_id, kind, *old)

    def delete_connection(self, connection_id: str) -> None:
        for kind in TokenKind:
            self.delete(connection_id, kind)


def open_vault(remember: bool, *, backend: Any | None = None) -> TokenVault:
    """The vault for a connection: the OS keyring when ``remember``, else memory only.

    Raises VaultUnavailableError when ``remember`` is asked for but no secure keyring exists,
    so the caller can offer "don't remember me" instead.
    """
    if not remember:
        return MemoryVault()
    vault = KeyringVault(backend)
    vault.ensure_available()  # a missing keyring is reported up front
    return vault
