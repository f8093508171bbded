"""The app's log: a rotating file in the platform log folder, redacted on every path.

Both entry points (the window and the command line) call :func:`configure_logging` first
thing: it installs the process-wide redaction (``uma_desktop.oauth.install_redaction``)
before any handler exists, then puts ``RedactingFilter`` on each handler it adds as a
second guard for records made by another record factory.

The log file is private (0600, in a 0700 folder). A log that cannot be written (read-only
home, full disk) never stops the app: one warning on stderr, then the app goes on without
the file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from uma_desktop.oauth.redact import RedactingFilter, install_redaction
from uma_desktop.paths import PRIVATE_FILE_MODE, AppDirs, make_private_dir, secure_tree

LOG_FILE_NAME = "uma-desktop.log"
MAX_LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEBUG_ENV = "UMA_DESKTOP_DEBUG"  # set to 1: the app's DEBUG records and httpx's request lines
_OURS = "_uma_desktop_handler"  # marks handlers this module added (replaced on reconfigure)
_TUNED_LOGGERS = ("", "uma_desktop", "httpx")
_saved_levels: dict[str, int] = {}  # levels before configure_logging, put back by reset_logging


class _PrivateLogFile(RotatingFileHandler):
    """A rotating log whose files are 0600 and that gives up, once and politely, when the
    disk refuses a write."""

    def __init__(self, path: Path) -> None:
        self.failed = False
        super().__init__(path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)  # an older, readable file becomes private too
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # the last buffered line could not be written either: already said
            self.failed = True

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        problem = sys.exc_info()[1]
        reason = problem.strerror if isinstance(problem, OSError) else problem
        _warn(f"the log file {self.baseFilename} cannot be written ({reason}); going on without it")


def _warn(message: str) -> None:
    """One line on stderr, outside logging (which is what failed)."""
    with contextlib.suppress(OSError, ValueError):
        print(f"uma-desktop: {message}", file=sys.stderr)


def debug_requested() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def configure_logging(
    dirs: AppDirs,
    *,
    console_level: int | None = logging.INFO,
    debug: bool | None = None,
) -> Path | None:
    """Log to ``<dirs.log>/uma-desktop.log`` (rotating) and, unless ``console_level`` is None,
    to stderr. Safe to call again: the handlers of an earlier call are replaced.

    Returns the log file's path, or None when it cannot be written (said once on stderr).
    """
    install_redaction()  # before any handler: every record is scrubbed as it is created
    verbose = debug_requested() if debug is None else debug
    path: Path | None = dirs.log / LOG_FILE_NAME
    reset_logging()
    _saved_levels.update({name: logging.getLogger(name).level for name in _TUNED_LOGGERS})
    handlers: list[logging.Handler] = []
    try:
        make_private_dir(dirs.log)
        secure_tree(dirs.log)  # rotated files of an older version were readable by all
        handlers.append(_PrivateLogFile(dirs.log / LOG_FILE_NAME))
    except OSError as exc:
        _warn(
            f"the log cannot be written in {dirs.log} ({exc.strerror or exc}); "
            "going on without a log file"
        )
        path = None
    if console_level is not None:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.DEBUG if verbose else console_level)
        handlers.append(console)
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RedactingFilter())
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("uma_desktop").setLevel(logging.DEBUG if verbose else logging.NOTSET)
    # A line per HTTP request is noise, and its URL may carry a sign-in code (redacted anyway).
    logging.getLogger("httpx").setLevel(logging.INFO if verbose else logging.WARNING)
    return path


def reset_logging() -> None:
    """Remove (and close) the handlers :func:`configure_logging` added; restore log levels."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
    for name, level in _saved_levels.items():
        logging.getLogger(name).setLevel(level)
    _saved_levels.clear()
