"""The daily scheduler run of ``uma-desktop expire --due``: a systemd user timer + service.

Written to ``$XDG_CONFIG_HOME/systemd/user`` (default ``~/.config/systemd/user``) on request
and removed the same way; ``systemctl --user`` is asked to reload and (de)activate the timer
when the units are where it reads them, and its refusal (no user session, no systemd) is
reported, not fatal.
The unit texts are the ones in ``packaging/systemd/`` with the command made absolute.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from uma_desktop.app.storage import atomic_write_text
from uma_desktop.errors import StorageError

SERVICE_NAME = "uma-desktop-expire.service"
TIMER_NAME = "uma-desktop-expire.timer"
DEFAULT_COMMAND = "uma-desktop expire --due"
SYSTEMCTL_WAIT = 20.0
NOT_ASKED = (
    "systemd was not asked: these units are not where it reads them (~/.config/systemd/user)."
)

SERVICE_TEMPLATE = """[Unit]
Description=UMA Desktop: revoke shares whose expiry date has passed

[Service]
Type=oneshot
ExecStart={command}
"""

TIMER_TEMPLATE = """[Unit]
Description=UMA Desktop: daily check for expired shares

[Timer]
OnCalendar=daily
Persistent=true
RandomizedDelaySec=15min

[Install]
WantedBy=timers.target
"""


def _systemd_reads(folder: Path) -> bool:
    """Whether the user's systemd reads units from ``folder`` (its default place). Elsewhere
    (a test's XDG_CONFIG_HOME) systemctl is not asked: it would act on the real session."""
    return folder == Path.home() / ".config" / "systemd" / "user"


def units_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def expire_command() -> str:
    """This installation's command line for ``expire --due`` (absolute paths)."""
    program = shutil.which("uma-desktop")
    if program:
        return f"{shlex.quote(program)} expire --due"
    return f"{shlex.quote(sys.executable)} -m uma_desktop expire --due"


def render_units(command: str = DEFAULT_COMMAND) -> dict[str, str]:
    return {
        SERVICE_NAME: SERVICE_TEMPLATE.format(command=command),
        TIMER_NAME: TIMER_TEMPLATE,
    }


@dataclass(frozen=True)
class TimerChange:
    paths: tuple[Path, ...]
    note: str  # what systemctl said, or why it was not asked


def _systemctl(*args: str) -> str:
    """Ask the user's systemd; '' when it did as told, else why not (never raises)."""
    program = shutil.which("systemctl")
    if program is None:
        return "systemctl is not installed: the timer takes effect at the next login."
    try:
        done = subprocess.run(
            [program, "--user", *args],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_WAIT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"systemctl could not be asked ({exc})."
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        return f"systemctl --user {' '.join(args)}: {reason[0] if reason else 'failed'}"
    return ""


def timer_installed() -> bool:
    return (units_dir() / TIMER_NAME).exists()


def install_timer(command: str | None = None, *, activate: bool | None = None) -> TimerChange:
    """Write the service and timer units (0600, atomic) and enable the timer."""
    folder = units_dir()
    paths = []
    for name, text in render_units(command or expire_command()).items():
        path = folder / name
        atomic_write_text(path, text)
        paths.append(path)
    if not (_systemd_reads(folder) if activate is None else activate):
        return TimerChange(tuple(paths), NOT_ASKED)
    note = _systemctl("daemon-reload") or _systemctl("enable", "--now", TIMER_NAME)
    return TimerChange(tuple(paths), note)


def remove_timer(*, activate: bool | None = None) -> TimerChange:
    """Disable the timer and delete both units (absent ones are fine)."""
    activate = _systemd_reads(units_dir()) if activate is None else activate
    note = _systemctl("disable", "--now", TIMER_NAME) if activate and timer_installed() else ""
    removed = []
    for name in (TIMER_NAME, SERVICE_NAME):
        path = units_dir() / name
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(f"Could not remove {path}: {exc.strerror or exc}.") from None
    if activate and removed:
        note = note or _systemctl("daemon-reload")
    return TimerChange(tuple(removed), note)
