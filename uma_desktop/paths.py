"""Where the app keeps its files (platformdirs), with an override for tests and portable use.

Set ``UMA_DESKTOP_HOME`` to put config, data, cache and logs under one folder.
Nothing secret is ever written below any of these directories.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_DIR_NAME = "uma-desktop"


@dataclass(frozen=True)
class AppDirs:
    config: Path
    data: Path
    cache: Path
    log: Path

    def all(self) -> tuple[Path, ...]:
        return (self.config, self.data, self.cache, self.log)

    def ensure(self) -> AppDirs:
        for path in self.all():
            path.mkdir(parents=True, exist_ok=True)
        return self


def app_dirs(base: Path | None = None) -> AppDirs:
    """Resolve the app's directories; ``base`` (or $UMA_DESKTOP_HOME) overrides platformdirs."""
    override = base or (
        Path(os.environ["UMA_DESKTOP_HOME"]) if os.environ.get("UMA_DESKTOP_HOME") else None
    )
    if override is not None:
        return AppDirs(
            config=override / "config",
            data=override / "data",
            cache=override / "cache",
            log=override / "log",
        )
    return AppDirs(
        config=Path(platformdirs.user_config_dir(APP_DIR_NAME)),
        data=Path(platformdirs.user_data_dir(APP_DIR_NAME)),
        cache=Path(platformdirs.user_cache_dir(APP_DIR_NAME)),
        log=Path(platformdirs.user_log_dir(APP_DIR_NAME)),
    )


def runtime_dir(base: Path | None = None) -> Path:
    """Where cross-process locks live (empty files, nothing secret): ``<base>/run`` under the
    override, else the user's runtime directory (per user, cleared at logout on Linux)."""
    override = base or (
        Path(os.environ["UMA_DESKTOP_HOME"]) if os.environ.get("UMA_DESKTOP_HOME") else None
    )
    if override is not None:
        return override / "run"
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and picks a per-user /tmp folder
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP_DIR_NAME))
