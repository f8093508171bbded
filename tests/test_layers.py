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


def test_core_layers_load_without_qt() -> None:
    code = (
        "import sys, importlib, pkgutil, uma_desktop\n"
        "for m in pkgutil.walk_packages(uma_desktop.__path__, 'uma_desktop.'):\n"
        "    if m.name.startswith('uma_desktop.gui') or m.name == 'uma_desktop.__main__':\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('PySide6', 'shiboken6')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_client_side_core_loads_without_pydantic() -> None:
    """pydantic serves only the sandbox's web routes: the CLI and the window's core parse
    with msgspec, which imports in a fraction of pydantic's time."""
    modules = [
        "uma_desktop.backends.policy_manager",
        "uma_desktop.oauth.session",
        "uma_desktop.oauth.am_session",
        "uma_desktop.oauth.device",
        "uma_desktop.uma.errors",
        "uma_desktop.uma.owner",
        "uma_desktop.uma.permissions",
        "uma_desktop.uma.resources",
        "uma_desktop.uma.tokens",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'msgspec' in sys.modules\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('pydantic', 'pydantic_core')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


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
