"""Output into a pipe whose reader stops early (`uma-desktop history | head`): the command
stops quietly with the status a shell expects, no traceback, its files closed as usual."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from uma_desktop.app.history import History
from uma_desktop.domain import Decision
from uma_desktop.paths import app_dirs
from uma_desktop.text import PIPE_CLOSED

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["table", "json"])
def test_a_reader_that_stops_early_ends_the_command_quietly(
    app_home: Path, json_flag: list[str]
) -> None:
    history = History(app_dirs().ensure().data)
    history.open()
    decision = Decision(
        connection_id="home",
        action="approve",
        resource_id="r1",
        resource_name="Holiday photos " * 8,
        party="bob",
        scopes=("view",),
        at=datetime.now(UTC),
        ok=True,
        detail="",
        extra={},
    )
    history.begin_many([decision] * 3000)  # far more than a pipe buffer holds
    command = [sys.executable, "-m", "uma_desktop", "history", "--limit", "3000", *json_flag]
    program = subprocess.Popen(
        command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert program.stdout is not None and program.stderr is not None
    assert program.stdout.read(64)  # the first bytes, then the reader goes away
    program.stdout.close()
    errors = program.stderr.read().decode()
    assert program.wait(timeout=60) == PIPE_CLOSED
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
