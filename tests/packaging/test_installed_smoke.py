"""Smoke tests of each installed form (the .deb's bundle, the bundle folder on its own, the
wheel in a fresh venv), run as a person would: --version, --help, the demo window for ten
seconds, and a CLI login by device code against a standalone sandbox, with tokens in the real
Secret Service."""

from __future__ import annotations

import json
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.fixtures.browser import complete_device_login
from tests.fixtures.common import require
from tests.fixtures.keyring import secret_service_problem
from tests.packaging.conftest import ROOT, Installation

pytestmark = pytest.mark.timeout(900)  # the first test also installs the wheel into a venv
DEVICE_PROMPT = re.compile(r"open (\S+) in any browser and enter the code (\S+)")


def lines_of(stream: IO[str]) -> queue.Queue[str | None]:
    """Lines of ``stream`` as they arrive (None at its end), read by a daemon thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue[str | None], pattern: re.Pattern[str], seen: list[str],
                  timeout: float) -> re.Match[str]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if match := pattern.search(line):
            return match
    raise AssertionError(f"no line matching {pattern.pattern!r} in: {''.join(seen)[-3000:]}")


def test_version(installed: Installation, version: str, tmp_path: Path) -> None:
    done = installed.run("--version", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"uma-desktop {version}"


def test_help_lists_the_commands(installed: Installation, tmp_path: Path) -> None:
    done = installed.run("--help", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: uma-desktop")
    for command in ("connections", "login", "requests", "approve", "report"):
        assert command in done.stdout
    sandbox = installed.run("sandbox", "--help", home=tmp_path / "home")
    assert sandbox.returncode == 0 and "--print-config" in sandbox.stdout


def test_demo_window_runs_ten_seconds_without_error(
    installed: Installation, tmp_path: Path, report_figure: Any
) -> None:
    problem = secret_service_problem()
    require(problem is None, problem or "")
    home = tmp_path / "home"
    started = time.perf_counter()
    done = installed.run("--demo", home=home, timeout=180, UMA_DESKTOP_QUIT_AFTER="10")
    elapsed = time.perf_counter() - started
    log = "".join(p.read_text() for p in (home / "log").glob("*.log*"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert elapsed >= 10
    for text in (done.stderr, log):
        assert "Traceback" not in text
        assert " ERROR " not in text and " CRITICAL " not in text
    assert log.count("login at http://127.0.0.1") and "completed" in log  # alice signed in
    report_figure(f"{installed.name}: demo window ran {elapsed:.1f} s (10 s after shown)")


@pytest.fixture
def standalone_sandbox(installed: Installation, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`uma-desktop sandbox --port 0 --print-config` of the installed program; its config."""
    home = tmp_path / "sandbox-home"
    process = subprocess.Popen(
        [str(installed.program), "sandbox", "--port", "0", "--print-config"],
        env=installed.env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        seen: list[str] = []
        match = wait_for_line(lines_of(process.stdout), re.compile(r"^\{.*\}$"), seen, 120)
        yield json.loads(match.group(0))
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_device_login_keeps_tokens_in_the_secret_service(
    installed: Installation, standalone_sandbox: dict[str, Any], tmp_path: Path
) -> None:
    problem = secret_service_problem()
    require(problem is None, problem or "")
    home = tmp_path / "home"
    issuer = standalone_sandbox["issuer"]
    added = installed.run("connections", "add", issuer, "--name", "Standalone", home=home)
    assert added.returncode == 0, added.stderr
    connection_id = added.stdout.strip()

    login = subprocess.Popen(
        [str(installed.program), "login", connection_id, "--device"],
        env=installed.env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert login.stderr is not None
        seen: list[str] = []
        prompt = wait_for_line(lines_of(login.stderr), DEVICE_PROMPT, seen, 120)
        user = complete_device_login(prompt.group(1), prompt.group(2), "alice", "alice")
        assert user.error is None, user.error
        assert login.wait(timeout=120) == 0, "".join(seen)
    finally:
        if login.poll() is None:
            login.kill()

    # A new process finds the login kept in the keyring, and uses it.
    listed = installed.run("connections", "list", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    (state,) = json.loads(listed.stdout)
    assert (state["id"], state["status"]) == (connection_id, "logged_in")
    assert state["username"] == "alice"
    resources = installed.run("resources", "--json", home=home)
    assert resources.returncode == 0, resources.stderr
    assert json.loads(resources.stdout)["items"], "alice's demo resources are listed"
    logout = installed.run("logout", connection_id, home=home)
    assert logout.returncode == 0, logout.stderr


def test_bundle_cold_start_against_the_venv(
    deb_installation: Installation, tmp_path: Path, report_figure: Any
) -> None:
    """Launch to painted window (the window quits once shown), the bundle vs the dev venv."""
    venv = Installation("venv", Path(sys.executable))
    runs: dict[str, list[float]] = {"bundle": [], "venv": []}
    for attempt in range(5):
        for name, installation, args in (
            ("bundle", deb_installation, ()),
            ("venv", venv, ("-m", "uma_desktop")),
        ):
            home = tmp_path / f"{name}-{attempt}"
            env = {"UMA_DESKTOP_QUIT_AFTER": "0"}
            started = time.perf_counter()
            if name == "venv":
                done = subprocess.run(
                    [sys.executable, *args], env={**venv.env(home, **env), "PYTHONPATH": str(ROOT)},
                    capture_output=True, text=True, timeout=120, check=False,
                )  # fmt: skip
            else:
                done = installation.run(home=home, **env)
            runs[name].append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr[-3000:]
            assert "Traceback" not in done.stderr
    summary = [
        f"{name} {' / '.join(f'{t:.2f}' for t in times)} (median {statistics.median(times):.2f})"
        for name, times in runs.items()
    ]
    report_figure("launch to painted window and quit, s (5 runs): " + "; ".join(summary))
