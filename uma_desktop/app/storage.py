"""Small, careful file helpers: atomic private writes, corrupt files kept aside (never lost),
and a cross-process lock around read-change-write.

A write that fails (read-only folder, full disk) raises :class:`StorageError` with the path
and the reason, and leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uma_desktop.errors import ConfigurationError, StorageError
from uma_desktop.paths import make_private_dir


class CorruptFileError(ConfigurationError):
    """A local file could not be read; it was moved aside (``kept_at``) and not used."""

    def __init__(self, message: str, *, kept_at: Path) -> None:
        super().__init__(message)
        self.kept_at = kept_at


def cannot_save(path: Path, exc: OSError) -> StorageError:
    return StorageError(f"Could not save {path}: {exc.strerror or exc}. Nothing was changed.")


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (mode 0600) so a reader sees the old or the new file,
    never half. Raises StorageError when the folder cannot be written."""
    try:
        make_private_dir(path.parent)
        # mkstemp creates the file 0600, and os.replace keeps that mode.
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise cannot_save(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise cannot_save(path, exc) from None
        raise


CHANGE_WAIT = 30.0  # seconds another program may hold a file being changed


@contextlib.contextmanager
def changing(path: Path, *, wait: float = CHANGE_WAIT) -> Iterator[None]:
    """Hold ``<name>.lock`` beside ``path`` (an OS file lock, 0600) around a read, change and
    write of it: the window and ``uma-desktop`` commands change the same files, and neither
    may lose the other's change. StorageError when the lock cannot be taken."""
    from filelock import FileLock, Timeout  # loaded on the first change, not at start

    lock = FileLock(
        str(path.with_name(path.name + ".lock")), timeout=wait, mode=0o600, thread_local=False
    )
    try:
        make_private_dir(path.parent)
        lock.acquire()
    except Timeout:
        raise StorageError(
            f"{path} is being changed by another program; nothing was changed, try again."
        ) from None
    except OSError as exc:
        raise cannot_save(path, exc) from None
    try:
        yield
    finally:
        lock.release()


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))


def set_aside_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def keep_aside(path: Path) -> Path:
    """Rename a bad file to ``<name>.corrupt-<UTC time>`` next to it and return the new path."""
    target = path.with_name(f"{path.name}.corrupt-{set_aside_stamp()}")
    try:
        os.replace(path, target)
    except OSError as exc:
        raise StorageError(
            f"{path} is damaged and could not be set aside ({exc.strerror or exc})."
        ) from None
    return target


def read_json(path: Path, what: str) -> Any | None:
    """The parsed file, None when absent; a file that is not JSON is kept aside and reported."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # an unusable folder is reported elsewhere
        return None
    except OSError as exc:
        raise StorageError(f"Could not read the {what} at {path}: {exc.strerror}.") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        kept = keep_aside(path)
        raise CorruptFileError(
            f"The {what} at {path} is damaged and was not used; it was kept as {kept}.",
            kept_at=kept,
        ) from None


def report_corrupt(path: Path, what: str, reason: str) -> CorruptFileError:
    """Keep a structurally wrong file aside and build the error that says so."""
    kept = keep_aside(path)
    return CorruptFileError(
        f"The {what} at {path} is damaged ({reason}) and was not used; it was kept as {kept}.",
        kept_at=kept,
    )
