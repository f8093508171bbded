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
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
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


def _translate(exc: BaseException) -> VaultError:
    """Map a keyring / Secret Service failure to the app's vault errors (no secrets inside)."""
    from keyring import errors as kerr

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(item).__name__ for item in chain}
    dbus_names = {name for item in chain if (name := _dbus_error_name(item))}
    texts = " ".join(str(item) for item in chain).lower()

    if (
        "org.freedesktop.DBus.Error.AccessDenied" in dbus_names
        or "PromptDismissedException" in names
    ):
        return VaultDeniedError("Access to the keyring was refused.")
    if any(isinstance(item, kerr.KeyringLocked) for item in chain) or "LockedException" in names:
        return VaultLockedError("The keyring is locked and could not be unlocked.")
    if "prompt dismissed" in texts or "access denied" in texts or "not permitted" in texts:
        return VaultDeniedError("Access to the keyring was refused.")
    if "1783" in texts or "stub received bad data" in texts or "too large" in texts:
        return VaultTooLargeError("The token is too large for this keyring.")
    if any(isinstance(item, kerr.NoKeyringError) for item in chain) or (
        "SecretServiceNotAvailableException" in names
    ):
        return VaultUnavailableError("The keyring service is not available.")
    if any(isinstance(item, kerr.InitError) for item in chain):
        return VaultUnavailableError("The keyring could not be opened.")
    return VaultError(f"The keyring failed ({type(exc).__name__}).")


_SECRET_SERVICE = "keyring.backends.SecretService.Keyring"
_DEFAULT_COLLECTION_ALIAS = "/org/freedesktop/secrets/aliases/default"
TRANSIENT_RETRIES = 2  # a busy Secret Service now and then loses an item or a collection
READ_REUSE_SECONDS = 2.0


def _transient(exc: BaseException) -> bool:
    """A failure worth one more try: a lookup that lost its object, not a refusal or lock."""
    from keyring import errors as kerr

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if any(isinstance(item, kerr.KeyringLocked) for item in chain):
        return False
    names = {type(item).__name__ for item in chain}
    return "ItemNotFoundException" in names or any(
        isinstance(item, kerr.InitError) for item in chain
    )


class KeyringVault:
    """Secrets in the OS keyring via ``keyring``, chunked, on an allow-listed backend only."""

    def __init__(self, backend: Any | None = None, *, service: str = SERVICE_NAME) -> None:
        self._backend_choice = backend
        self._backend: Any | None = None
        self._service = service
        self._lock = threading.RLock()
        self._batched_reads = False  # inside load(): Secret Service reads share a connection
        self._reading: Any | None = None  # the collection those reads go through
        self._reading_until = 0.0  # monotonic time until which a next load() may reuse it

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

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except VaultError:
            raise
        except Exception as exc:
            error = _translate(exc)
            log.warning("keyring operation failed: %s (%s)", error, type(exc).__name__)
            raise error from None

    def _call(self, operation: Callable[[], T]) -> T:
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
            backend.preferred_collection = _DEFAULT_COLLECTION_ALIAS

    def _get(self, key: str) -> str | None:
        value = self._call(lambda: self._read(key))
        return value if isinstance(value, str) else None

    def _read(self, key: str) -> Any:
        backend = self.backend
        if not (self._batched_reads and backend_name(backend) == _SECRET_SERVICE):
            return backend.get_password(self._service, key)
        # keyring opens a D-Bus connection and an encrypted session for every entry, and a
        # token is several entries: loads share both (see ``_one_connection``).
        if self._reading is not None:
            from keyring.errors import KeyringLocked

            try:
                return self._read_over(self._reading, backend, key)
            except KeyringLocked:  # the owner refused to unlock: not asked twice
                self._end_reading()
                raise
            except Exception:  # the kept connection may have gone stale: once more, anew
                self._end_reading()
        try:
            self._reading = backend.get_preferred_collection()  # unlocks, as keyring does
            return self._read_over(self._reading, backend, key)
        except Exception:
            self._end_reading()  # a retry starts again from a fresh connection
            raise

    def _read_over(self, collection: Any, backend: Any, key: str) -> str | None:
        for item in collection.search_items(backend._query(self._service, key)):
            backend.unlock(item)
            secret: bytes = item.get_secret()
            if collection.session is None:
                collection.session = item.session  # the next entries reuse it
            return secret.decode("utf-8")
        return None

    @contextmanager
    def _one_connection(self) -> Iterator[None]:
        """Reads of one load() share a Secret Service connection and encrypted session, and
        so do the loads that follow within ``READ_REUSE_SECONDS`` (resuming a sign-in reads
        the refresh, ID and access token one after the other); an older one is closed."""
        if self._reading is not None and time.monotonic() > self._reading_until:
            self._end_reading()
        self._batched_reads = True
        try:
            yield
        finally:
            self._batched_reads = False
            self._reading_until = time.monotonic() + READ_REUSE_SECONDS

    def _end_reading(self) -> None:
        collection, self._reading = self._reading, None
        if collection is not None:
            with suppress(Exception):
                collection.connection.close()

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
        header = self._get(self._header_key(connection_id, kind))
        if header is None:
            return None
        match = _HEADER.match(header)
        if match is None:
            log.warning("ignoring an unreadable vault entry for connection %s", connection_id)
            return None
        return match["gen"], int(match["count"])

    def load(self, connection_id: str, kind: TokenKind) -> str | None:
        _check_connection_id(connection_id)
        with self._lock, self._one_connection():
            header = self._read_header(connection_id, kind)
            for _attempt in range(3):
                if header is None:
                    return None
                value = self._read_chunks(connection_id, kind, *header)
                if value is not None:
                    return value
                # Another process may have just replaced the value (and dropped the chunks
                # read half-way): a changed header means "read again", not "damaged".
                current = self._read_header(connection_id, kind)
                if current == header:
                    break
                header = current
            log.warning("a vault entry of connection %s is incomplete", connection_id)
            return None

    def _read_chunks(
        self, connection_id: str, kind: TokenKind, generation: str, count: int
    ) -> str | None:
        parts: list[str] = []
        for index in range(count):
            part = self._get(self._chunk_key(connection_id, kind, generation, index))
            if part is None:
                return None
            parts.append(part)
        return "".join(parts)

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
    vault.backend  # noqa: B018 - resolve now so a missing keyring is reported up front
    return vault
