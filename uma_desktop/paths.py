"""Where the app keeps its files (platformdirs), with an override for tests and portable use.

Set ``UMA_DESKTOP_HOME`` to put config, data, cache and logs under one folder.
Nothing secret is ever written below any of these directories. Still, what the owner
decided and who asked is private: the directories are 0700 and the files 0600, on creation
and, for files an older version left readable, at every start (:meth:`AppDirs.prepare`).
"""

from __future__ import annotations

import os
import stat
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

    def prepare(self, *, log: bool = True) -> dict[Path, str]:
        """Create the directories (0700) and make what is in them private; never raises.

        Returns a human note per directory that could not be created or secured (the log
        folder left out when ``log`` is False: logging reports its own). The app then runs
        with what it can read, and says so.
        """
        problems = {}
        for path in self.all() if log else (self.config, self.data, self.cache):
            try:
                make_private_dir(path)
                secure_tree(path)
            except OSError as exc:
                problems[path] = (
                    f"The folder {path} cannot be used ({exc.strerror or exc}); "
                    "what belongs there is not saved."
                )
        return problems

    def ensure(self) -> AppDirs:
        """:meth:`prepare`, ignoring problems (callers that report them use prepare)."""
        self.prepare()
        return self


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) and make the directory itself 0700."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)


def secure_tree(folder: Path) -> None:
    """Take group and other access away from everything below ``folder``.

    Directories end up 0700 and the app's files 0600; the owner's own bits are kept, so an
    executable someone else unpacked into a shared cache folder still runs (symlinks untouched).
    """
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            _make_private(Path(root, name), directory=True)
        for name in files:
            _make_private(Path(root, name), directory=False)


def _make_private(path: Path, *, directory: bool) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return
    current = stat.S_IMODE(info.st_mode)
    wanted = PRIVATE_DIR_MODE if directory else current & PRIVATE_DIR_MODE
    if current != wanted:
        path.chmod(wanted)


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
