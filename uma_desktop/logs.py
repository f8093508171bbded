"""The app's log: a rotating file in the platform log folder, redacted on every path.

Both entry points (the window and the command line) call :func:`configure_logging` first
thing: it installs the process-wide redaction (``uma_desktop.oauth.install_redaction``)
before any handler exists, then puts ``RedactingFilter`` on each handler it adds as a
second guard for records made by another record factory.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from uma_desktop.oauth import RedactingFilter, install_redaction
from uma_desktop.paths import AppDirs

LOG_FILE_NAME = "uma-desktop.log"
MAX_LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEBUG_ENV = "UMA_DESKTOP_DEBUG"  # set to 1: the app's DEBUG records and httpx's request lines
_OURS = "_uma_desktop_handler"  # marks handlers this module added (replaced on reconfigure)
_TUNED_LOGGERS = ("", "uma_desktop", "httpx")
_saved_levels: dict[str, int] = {}  # levels before configure_logging, put back by reset_logging


def debug_requested() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def configure_logging(
    dirs: AppDirs,
    *,
    console_level: int | None = logging.INFO,
    debug: bool | None = None,
) -> Path:
    """Log to ``<dirs.log>/uma-desktop.log`` (rotating) and, unless ``console_level`` is None,
    to stderr. Safe to call again: the handlers of an earlier call are replaced.

    Returns the log file's path.
    """
    install_redaction()  # before any handler: every record is scrubbed as it is created
    verbose = debug_requested() if debug is None else debug
    dirs.log.mkdir(parents=True, exist_ok=True)
    path = dirs.log / LOG_FILE_NAME
    reset_logging()
    _saved_levels.update({name: logging.getLogger(name).level for name in _TUNED_LOGGERS})
    handlers: list[logging.Handler] = [
        RotatingFileHandler(path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    ]
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
