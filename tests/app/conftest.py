"""Fixtures for ControlPoint tests: real sandboxes over loopback HTTP, alice at the login form."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from uma_desktop.app import ControlPoint
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer


@pytest.fixture
def two_sandboxes(sandbox_factory: Callable[..., SandboxServer]) -> tuple[SandboxServer, ...]:
    return (sandbox_factory(name="Home"), sandbox_factory(name="Work"))


@pytest.fixture
def memory_vault() -> MemoryVault:
    """The real "don't remember me" vault, shared by every ControlPoint of one test."""
    return MemoryVault()


@pytest.fixture
def open_control(app_home: Path, memory_vault: MemoryVault) -> Callable[..., Any]:
    async def open_(**options: Any) -> ControlPoint:
        options.setdefault("vault_factory", lambda remember: memory_vault)
        options.setdefault("browser_opener", form_browser("alice", "alice"))
        return await ControlPoint.open(app_dirs(), **options)

    return open_


@pytest.fixture
async def control(open_control: Callable[..., Any]) -> AsyncIterator[ControlPoint]:
    point: ControlPoint = await open_control()
    yield point
    await point.aclose()
