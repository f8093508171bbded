"""UMA Desktop: the owner's single control point across UMA 2.0 authorization servers."""

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    """The version pyproject.toml declares (read from the installed distribution)."""
    try:
        return version("uma-desktop")
    except PackageNotFoundError:  # a bare source tree that was never installed
        return "0+unknown"


__version__ = _version()
APP_NAME = "UMA Desktop"
APP_ID = "org.umadesktop.UmaDesktop"
