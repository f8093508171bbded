"""The window and `uma-desktop` commands in a terminal share one saved sign-in.

The server (a standalone sandbox) rotates refresh tokens and treats the reuse of a rotated one
as theft, revoking the whole login; its access tokens are short-lived, so every round renews
the sign-in. Each round, five real CLI processes (same home, same Secret Service) run at once
while the window refreshes: nobody may be logged out and every command must answer.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.keyring import ROOT
from tests.fixtures.sandbox import StandaloneSandbox
from uma_desktop.app.state import ConnectionStatus
from uma_desktop.oauth.session import REFRESH_MARGIN_SECONDS
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import RequestingParty, Submitted
from uma_desktop.sandbox.seed import DEMO_RESOURCE_SERVERS

pytestmark = [pytest.mark.gui, pytest.mark.keyring]

ROUNDS = 20
REQUESTERS = ("bob", "carol", "dave", "erin")
# Usable for 3 s before the app's refresh margin: each round renews the sign-in again.
ACCESS_TOKEN_LIFETIME = int(REFRESH_MARGIN_SECONDS) + 3
_LOCK_WAIT = re.compile(r"sign-in lock after (\d+\.\d+) s")


def file_pending_requests(server: SandboxServer) -> None:
    """Requesting parties ask for alice's resources through the demo resource servers."""
    filed = 0
    for rs in DEMO_RESOURCE_SERVERS:
        for resource in rs.resources:
            if resource.owner != "alice":
                continue
            for username in REQUESTERS:
                with RequestingParty.for_sandbox(server.config, username) as party:
                    outcome = party.access(server.resource_url(resource.name), [rs.read_scope])
                filed += isinstance(outcome, Submitted)
    assert filed >= ROUNDS, filed


@pytest.fixture
def rotating_server(tmp_path: Path) -> Iterator[StandaloneSandbox]:
    """A standalone sandbox with short-lived access tokens and pending requests to approve."""
    data = tmp_path / "rotating.sqlite"
    with SandboxServer(name="Rotating", data_path=data) as seeding:
        file_pending_requests(seeding)
    options = ["--access-token-lifetime", str(ACCESS_TOKEN_LIFETIME)]
    server = StandaloneSandbox.serve(data, "Rotating", niced=True, options=options)
    yield server
    server.stop()


def cli(*argv: str) -> subprocess.Popen[str]:
    """``uma-desktop ARGV`` in its own process: this test's home, D-Bus session and keyring."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "uma_desktop", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path, "UMA_DESKTOP_DEBUG": "1"},
        cwd=ROOT,
    )


def finished(qtbot: Any, processes: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    """Wait for every process while the window's event loop keeps running."""
    qtbot.waitUntil(lambda: all(p.poll() is not None for p in processes), timeout=120_000)
    return [p.communicate() for p in processes]


def test_window_and_five_commands_at_once_never_log_each_other_out(
    qtbot: Any,
    gui_app: Any,
    rotating_server: StandaloneSandbox,
    real_keyring: Any,
    report_figure: Any,
) -> None:
    window = gui_app(form_browser("alice", "alice"))
    connection = log_in(qtbot, window, rotating_server.issuer, name="Rotating", remember=True)
    controller = window.controller
    core = gui_app.sessions[id(window)].control

    listing = cli("requests", "--json")
    ((out, err),) = finished(qtbot, [listing])
    assert listing.returncode == 0, err
    pending = [item["id"] for item in json.loads(out)["items"]]
    assert len(pending) > ROUNDS
    resources = cli("resources", "--json")
    ((out, err),) = finished(qtbot, [resources])
    assert resources.returncode == 0, err
    resource = json.loads(out)["items"][0]["id"]

    round_seconds: list[float] = []
    cli_waits: list[float] = []
    window_waits: list[float] = []
    for round_number in range(ROUNDS):
        started = time.monotonic()
        commands = [
            ("requests", "--json"),
            ("resources", "--json"),
            ("approve", f"{connection}:{pending[round_number]}", "--json"),
            ("shares", f"{connection}:{resource}", "--json"),
            ("shared-with-me", "--json"),
        ]
        processes = [cli(*command) for command in commands]
        controller.refresh_all(connection)  # the window's own refresh, in the middle of them
        answers = finished(qtbot, processes)
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=WAIT)
        round_seconds.append(time.monotonic() - started)

        for command, process, (out, err) in zip(commands, processes, answers, strict=True):
            assert process.returncode == 0, (round_number, command, err)
            answer = json.loads(out)
            if "connections" in answer:
                assert all(part["ok"] for part in answer["connections"]), (command, answer)
            cli_waits += [float(wait) for wait in _LOCK_WAIT.findall(err)]
        assert controller.status_of(connection) is ConnectionStatus.OK, round_number
        window_session = core._live[connection].session
        assert window_session is not None
        window_waits.append(window_session.last_lock_wait or 0.0)

    # The window renewed the sign-in during the rounds (how often depends on how fast the
    # rounds go against the token lifetime), and the login is still whole.
    assert window_session.refresh_count + window_session.adopted_count >= 1
    remaining = cli("requests", "--json")
    ((out, err),) = finished(qtbot, [remaining])
    assert remaining.returncode == 0, err
    assert len(json.loads(out)["items"]) == len(pending) - ROUNDS
    assert cli_waits, "the commands should report their lock waits"
    report_figure(
        f"{ROUNDS}/{ROUNDS} rounds without logout (window + 5 commands, access tokens "
        f"{ACCESS_TOKEN_LIFETIME} s); round median {statistics.median(round_seconds):.1f} s, "
        f"max {max(round_seconds):.1f} s; window refreshed {window_session.refresh_count}x, "
        f"took over {window_session.adopted_count}x; lock wait commands median "
        f"{statistics.median(cli_waits) * 1000:.0f} ms, max {max(cli_waits) * 1000:.0f} ms; "
        f"window max {max(window_waits) * 1000:.0f} ms"
    )
