"""The CLI as a program: logins kept in the real Secret Service, commands run as processes."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from uma_desktop import cli
from uma_desktop.sandbox import SandboxServer


@dataclass
class Ran:
    """One finished command: exit code and what it printed (decoded as strict UTF-8)."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_program(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    """``python -m uma_desktop ARGV`` in its own process, as a person would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "uma_desktop", *argv],
        capture_output=True, env=env or dict(os.environ), timeout=timeout, check=False,
    )  # fmt: skip
    return Ran(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


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
