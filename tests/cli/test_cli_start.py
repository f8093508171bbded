"""`uma-desktop --help` starts light: no pydantic, no inspect (dataclasses), and the version
is looked up only when asked for (importlib.metadata is slow to load)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_FOR_HELP = ("pydantic", "importlib.metadata", "inspect", "uma_desktop.domain")
HELP_MODULES = f"""
import contextlib, io, json, sys
from uma_desktop.__main__ import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    code = main(["--help"])
loaded = [name for name in {NOT_FOR_HELP!r} if name in sys.modules]
print(json.dumps({{"code": code, "loaded": loaded, "help": shown.getvalue()}}))
"""


def test_help_loads_neither_pydantic_nor_the_version_lookup() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELP_MODULES],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    seen = json.loads(done.stdout)
    assert seen["code"] == 0 and "--version" in seen["help"]
    assert seen["loaded"] == []


def test_version_is_the_installed_distribution_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "uma_desktop", "--version"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert done.stdout == f"uma-desktop {version('uma-desktop')}\n"


def test_the_package_still_offers_its_version() -> None:
    import uma_desktop

    assert uma_desktop.__version__ == version("uma-desktop")
