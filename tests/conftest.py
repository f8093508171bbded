"""Test-session setup shared by every suite.

Qt runs offscreen; every test gets its own app directories; fixtures for the real parts
(sandbox servers, Keycloak, Chromium, the Secret Service) live in tests/fixtures/.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.common import refused_port

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.keycloak",
    "tests.fixtures.openam",
    "tests.fixtures.browser",
    "tests.fixtures.keyring",
    "tests.fixtures.wire",
    "tests.fixtures.hostile",
]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run responsiveness measurements at the very end of the session.

    Keycloak boots in the background while the other tests run (tests/fixtures/keycloak.py);
    a stall measurement taken while a JVM starts on two cores measures the JVM, not the app.
    """
    timing = [item for item in items if item.get_closest_marker("responsiveness")]
    if timing:
        items[:] = [item for item in items if item not in timing] + timing


_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def report_figure(request: pytest.FixtureRequest) -> Any:
    """``report_figure(text)``: a measured figure, printed in the session's summary (CI log)."""
    figures = request.config.stash.setdefault(_FIGURES, [])

    def report(text: str) -> None:
        figures.append(f"{request.node.name}: {text}")

    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("measured figures")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections, held for the test (nothing can appear there)."""
    with refused_port() as port:
        yield port


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private UMA_DESKTOP_HOME so config, data, cache and logs land under tmp_path."""
    home = tmp_path / "uma-home"
    monkeypatch.setenv("UMA_DESKTOP_HOME", str(home))
    yield home


@pytest.fixture(autouse=True)
def _restore_interpreter_settings() -> Iterator[None]:
    """Undo what launching the app does to the whole process (a shorter GIL switch interval,
    frozen and retuned garbage collection), so no test runs under another test's settings."""
    interval, thresholds, collecting = sys.getswitchinterval(), gc.get_threshold(), gc.isenabled()
    yield
    sys.setswitchinterval(interval)
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if collecting:
        gc.enable()
    else:
        gc.disable()
