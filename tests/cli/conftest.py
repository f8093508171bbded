"""The CLI as a program: logins kept in the real Secret Service, commands run as processes."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from uma_desktop import cli
from uma_desktop.sandbox import SandboxServer


def add_and_log_in(server: SandboxServer) -> str:
    """Add ``server`` under a fresh id and log alice in; the login is kept in the keyring."""
    name = f"{server.name} {secrets.token_hex(3)}"  # the keyring is shared by the session
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["connections", "add", server.issuer, "--name", name], out=out, err=err) == 0
    connection_id = out.getvalue().strip()
    code = cli.run(
        ["login", connection_id], out=out, err=err, browser_opener=form_browser("alice", "alice")
    )
    assert code == 0, err.getvalue()
    return connection_id


@pytest.fixture
def kept_login(app_home: Path, real_keyring: Any) -> Iterator[Callable[[SandboxServer], str]]:
    """``kept_login(server)``: a connection logged in through the real Secret Service;
    logged out (its keyring entries deleted) at teardown."""
    added: list[str] = []

    def log_in(server: SandboxServer) -> str:
        added.append(add_and_log_in(server))
        return added[-1]

    yield log_in
    for connection_id in added:
        cli.run(["logout", connection_id], out=io.StringIO(), err=io.StringIO())
