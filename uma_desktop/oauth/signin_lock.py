"""A lock shared by every process of this user around one connection's saved sign-in.

The window and any number of ``uma-desktop`` commands may use the same saved login. A server
that rotates refresh tokens (the sandbox; Keycloak with refresh-token revocation) treats two
refreshes with the same token as theft and revokes the login for everyone. So reading the
vault, refreshing and storing the result happen under this lock, one process at a time.

It is an OS file lock (``flock`` on Unix, ``LockFileEx`` on Windows) on an empty file in the
user's runtime directory: the OS drops it when its holder dies, so a killed process never
leaves a stale lock behind. Waiting polls without blocking the event loop and ends with
SignInBusyError after ``timeout`` seconds; a cancelled waiter holds nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from uma_desktop.errors import SignInBusyError
from uma_desktop.paths import make_private_dir

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 30.0
_FIRST_POLL_SECONDS = 0.002
_LONGEST_POLL_SECONDS = 0.05


def lock_path(directory: Path, connection_id: str) -> Path:
    """The lock file of one connection (named by a digest: ids may hold ``:``)."""
    digest = hashlib.sha256(connection_id.encode()).hexdigest()[:32]
    return directory / f"signin-{digest}.lock"


class SignInLock:
    """Mutual exclusion across processes (and across sessions of one process) for one
    connection. Every ``held()`` opens its own lock file handle, so two holders in the same
    process exclude each other too."""

    def __init__(
        self,
        directory: Path,
        connection_id: str,
        *,
        timeout: float = LOCK_TIMEOUT_SECONDS,
        display_name: str | None = None,
    ) -> None:
        self.directory = directory
        self.path = lock_path(directory, connection_id)
        self.timeout = timeout
        self._display_name = display_name or connection_id

    @asynccontextmanager
    async def held(self) -> AsyncIterator[float]:
        """Hold the lock for the block; yields how long it took to get it, in seconds.

        When the lock file cannot be created at all (no runtime directory, read-only file
        system) the block runs unlocked, with a warning in the log: a refresh that may race
        is better than no refresh.
        """
        import filelock  # loaded by the first refresh only: most commands find a fresh token

        lock = filelock.FileLock(str(self.path), thread_local=False)
        started = time.monotonic()
        deadline = started + self.timeout
        pause = _FIRST_POLL_SECONDS
        acquired = False
        while True:
            try:
                self._prepare_directory()
                lock.acquire(timeout=0)
                acquired = True
                break
            except filelock.Timeout:
                if time.monotonic() >= deadline:
                    raise SignInBusyError(
                        f"Another UMA Desktop window or command has been renewing the sign-in "
                        f"to {self._display_name} for over {self.timeout:g} s; try again."
                    ) from None
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_POLL_SECONDS)
            except OSError as exc:
                log.warning(
                    "cannot use the sign-in lock in %s (%s); going on without it",
                    self.directory,
                    exc.strerror or type(exc).__name__,
                )
                break
        waited = time.monotonic() - started
        try:
            yield waited
        finally:
            if acquired:
                lock.release()

    def _prepare_directory(self) -> None:
        if not self.directory.is_dir():
            make_private_dir(self.directory)
