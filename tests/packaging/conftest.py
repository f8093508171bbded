"""The built packages, installed into throw-away places: the .deb unpacked with `dpkg -x`
into a temporary root, the wheel installed into a fresh venv.

`make package` builds dist/ first (`make package-test` does both); these tests never build.
A missing tool or package skips locally and fails in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.common import require

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
BUILD_REPORT = ROOT / "build" / "package-report.json"
APP_ID = "org.umadesktop.UmaDesktop"
INSTALL_DIR = "opt/uma-desktop"
CACHE = Path(os.environ.get("UMA_CACHE") or Path.home() / ".cache" / "uma-desktop")


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def require_tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (tools/install-system-deps.sh)")
    assert path is not None
    return path


def built(pattern: str) -> Path:
    """The one file in dist/ matching ``pattern`` (built by `make package`)."""
    matches = sorted(DIST.glob(pattern))
    require(len(matches) == 1, f"dist/{pattern}: run `make package` first (found {matches})")
    return matches[0]


@pytest.fixture(scope="session")
def version() -> str:
    return project_version()


@pytest.fixture(scope="session")
def deb(version: str) -> Path:
    return built(f"uma-desktop_{version}_*.deb")


@pytest.fixture(scope="session")
def wheel(version: str) -> Path:
    return built(f"uma_desktop-{version}-py3-none-any.whl")


@pytest.fixture(scope="session")
def sdist(version: str) -> Path:
    return built(f"uma_desktop-{version}.tar.gz")


@pytest.hookimpl
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """When collected with the rest of the suite, the installed-package tests run last."""
    here = Path(__file__).parent
    ours = [item for item in items if here in item.path.parents]
    if ours:
        items[:] = [item for item in items if item not in ours] + ours


@pytest.fixture(scope="session")
def deb_root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The .deb's files unpacked under a temporary root (the machine is left unchanged)."""
    require_tool("dpkg")
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=300)
    yield root
    shutil.rmtree(root, ignore_errors=True)  # 180 MB


@dataclass(frozen=True)
class Installation:
    """One installed `uma-desktop`: how to run it, and the environment to run it in."""

    name: str
    program: Path

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """The caller's environment without anything pointing into the checkout."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(UMA_DESKTOP_HOME=str(home), QT_QPA_PLATFORM="offscreen", **extra)
        return env

    def run(
        self, *args: str, home: Path, timeout: float = 120, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.program), *args],
            env=self.env(home, **extra), cwd=home.parent, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip


@pytest.fixture(scope="session")
def deb_installation(deb_root: Path) -> Installation:
    program = deb_root / INSTALL_DIR / "uma-desktop"
    assert os.access(program, os.X_OK), f"{program} is not an executable"
    return Installation("deb", program)


@pytest.fixture(scope="session")
def folder_installation(version: str) -> Installation:
    """The bundle as PyInstaller wrote it (dist/uma-desktop/): carries its own libraries."""
    program = DIST / "uma-desktop" / "uma-desktop"
    require(program.is_file(), f"{program}: run `make package` first")
    return Installation("folder", program)


@pytest.fixture(scope="session")
def wheel_installation(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installation]:
    """The wheel installed with pip into a fresh venv (dependencies from the pip cache/PyPI)."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PIP_CACHE_DIR"] = str(CACHE / "pip")  # the test session's HOME is throw-away
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(wheel)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    yield Installation("wheel", venv / "bin" / "uma-desktop")
    shutil.rmtree(venv, ignore_errors=True)


@pytest.fixture(scope="session", params=["deb", "folder", "wheel"])
def installed(request: pytest.FixtureRequest) -> Iterator[Installation]:
    """Each installed form in turn: the .deb's bundle, the bundle folder, the wheel in a venv."""
    yield request.getfixturevalue(f"{request.param}_installation")
