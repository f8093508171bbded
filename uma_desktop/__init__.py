"""UMA Desktop: the owner's single control point across UMA 2.0 authorization servers."""

import sys
from importlib.metadata import PackageNotFoundError, version

# httpx imports its own command-line tool (rich, click, pygments: a fifth of a command's
# start) unless that module is marked absent; then it installs a stub in its place.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _version() -> str:
    """The version pyproject.toml declares (read from the installed distribution)."""
    try:
        return version("uma-desktop")
    except PackageNotFoundError:  # a bare source tree that was never installed
        return "0+unknown"


__version__ = _version()
APP_NAME = "UMA Desktop"
APP_ID = "org.umadesktop.UmaDesktop"
