"""The layer rule: nothing outside uma_desktop/gui imports Qt."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "uma_desktop"
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6")


def _qt_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [
            n for n in names if n.split(".")[0] in QT_MODULES or n.startswith("uma_desktop.gui")
        ]
    return found


def test_no_qt_import_outside_gui() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): _qt_imports(path)
        for path in PACKAGE.rglob("*.py")
        if "gui" not in path.relative_to(PACKAGE).parts[:1] and path.name != "__main__.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _loaded_after_importing_all(skipped: tuple[str, ...], watched: tuple[str, ...]) -> list[str]:
    """Import every module of the package but those under ``skipped``, in a fresh process;
    the loaded modules whose top-level package is in ``watched``."""
    names = sorted(
        ".".join(("uma_desktop", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for path in PACKAGE.rglob("*.py")
    )
    wanted = [n for n in names if not n.startswith(skipped) and n != "uma_desktop.__main__"]
    code = (
        "import importlib, sys\n"
        f"for name in {wanted!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {watched!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return loaded


def test_core_layers_load_without_qt() -> None:
    assert _loaded_after_importing_all(("uma_desktop.gui",), ("PySide6", "shiboken6")) == []


def test_everything_but_the_sandbox_loads_without_pydantic() -> None:
    """pydantic serves only the sandbox's web routes (and demo mode, which runs sandboxes):
    the CLI and the window's core parse with msgspec, which loads in a fraction of the time."""
    skipped = ("uma_desktop.gui", "uma_desktop.sandbox", "uma_desktop.demo")
    assert _loaded_after_importing_all(skipped, ("pydantic", "pydantic_core")) == []


# What the window must not load before its first paint: the core opens after it, on its own
# thread (gui/app.py), and each of these cost tens of milliseconds at start.
NOT_BEFORE_FIRST_PAINT = (
    "uma_desktop.app.control_point",
    "uma_desktop.backends",
    "uma_desktop.net",
    "uma_desktop.oauth",
    "httpx",
    "pydantic",
    "asyncio",
    "importlib.metadata",
)


def test_the_window_builds_without_loading_the_core() -> None:
    code = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from uma_desktop.gui.app import launch\n"
        "from uma_desktop.paths import app_dirs\n"
        "session = launch(app_dirs(Path(tempfile.mkdtemp())), poll_interval=None)\n"
        "assert session.shown is not None and session.shown.isVisible()\n"
        f"loaded = [n for n in {NOT_BEFORE_FIRST_PAINT!r} if n in sys.modules]\n"
        "print(loaded); sys.exit(1 if loaded else 0)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
