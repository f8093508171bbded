"""UMA Desktop: the owner's single control point across UMA 2.0 authorization servers."""

import sys
from typing import TYPE_CHECKING

# httpx imports its own command-line tool (rich, click, pygments: a fifth of a command's
# start) unless that module is marked absent; then it installs a stub in its place.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

APP_NAME = "UMA Desktop"
APP_ID = "org.umadesktop.UmaDesktop"


def _version() -> str:
    """The version pyproject.toml declares (read from the installed distribution)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("uma-desktop")
    except PackageNotFoundError:  # a bare source tree that was never installed
        return "0+unknown"


if TYPE_CHECKING:
    __version__: str
else:

    def __getattr__(name: str) -> str:
        # ``__version__`` is read on first use: importlib.metadata costs tens of milliseconds,
        # most of what `uma-desktop --help` would otherwise spend starting.
        if name == "__version__":
            value = globals()["__version__"] = _version()
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
