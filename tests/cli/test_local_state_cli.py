"""The command line as a real program on a hostile home: interrupted decisions, a home that
cannot be written, a full disk, a history with a bad row. Every case runs ``python -m
uma_desktop`` in a subprocess, the way a person runs it."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.owner import OwnerApi, ask
from tests.fixtures.stalling_sandbox import StallingSandbox
from uma_desktop import cli
from uma_desktop.app.history import History
from uma_desktop.domain import Decision
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def uma_program(
    *argv: str, preexec_fn: Callable[[], None] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uma_desktop", *argv],
        capture_output=True, text=True, env=_env(**env), timeout=TIMEOUT, check=False,
        preexec_fn=preexec_fn,
    )  # fmt: skip


def uma_here(*argv: str, user: str = "alice") -> tuple[int, str, str]:
    """The CLI in this process with the real keyring (so a later subprocess is logged in)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out=out, err=err, browser_opener=form_browser(user, user))
    return code, out.getvalue(), err.getvalue()


def test_ctrl_c_after_the_server_applied_an_approval_is_in_the_history(
    app_home: Path, real_keyring: Any
) -> None:
    server = StallingSandbox(name="Stalling").start()
    try:
        code, out, err = uma_here("connections", "add", server.issuer, "--name", "Stalling")
        assert code == 0, err
        connection_id = out.strip()
        assert uma_here("login", connection_id)[0] == 0
        ask(server, "bob", "Holiday 2026", ["view"])
        code, out, err = uma_here("requests", "--json")
        assert code == 0, err
        [bob] = [r for r in json.loads(out)["items"] if r["requester"]["username"] == "bob"]

        approving = subprocess.Popen(
            [sys.executable, "-m", "uma_desktop", "approve", f"{connection_id}:{bob['id']}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        try:
            assert server.applied.wait(TIMEOUT), "the approval never reached the server"
            approving.send_signal(signal.SIGINT)  # the server applied it; no answer came back
            _, err = approving.communicate(timeout=TIMEOUT)
        finally:
            if approving.poll() is None:
                approving.kill()
        assert approving.returncode == 130, err
        assert "Traceback" not in err
        assert OwnerApi(server).policy_of("Holiday 2026", "bob") is not None  # it was applied

        listed = uma_program("history", "--json")
        assert listed.returncode == 0, listed.stderr
        [row] = json.loads(listed.stdout)["items"]
        assert (row["action"], row["ok"], row["settled"]) == ("approve", False, False)
        assert "outcome unknown" in row["detail"]
        assert row["party"] == "Bob Brown (bob)" and row["scopes"] == ["view"]
        assert row["extra"] == {"request_id": bob["id"]}
        table = uma_program("history")
        assert "UNKNOWN: interrupted; outcome unknown" in table.stdout
    finally:
        server.stop()


def _home_with_one_connection(app_home: Path, issuer: str = "http://127.0.0.1:9/") -> Path:
    config = app_home / "config"
    config.mkdir(parents=True)
    entry = {
        "id": "home", "issuer": issuer, "kind": "policy-manager",
        "client_id": "uma-desktop", "display_name": "Home server",
    }  # fmt: skip
    path = config / "connections.json"
    path.write_text(json.dumps({"version": 1, "connections": [entry]}))
    return path


def test_a_home_that_cannot_be_written_still_lists_connections(app_home: Path) -> None:
    _home_with_one_connection(app_home)
    for name in ("data", "cache", "log"):  # a file where a folder must be: even root can't
        (app_home / name).write_text("not a folder")

    listed = uma_program("connections", "list")

    assert listed.returncode == 0, listed.stderr
    assert "home" in listed.stdout and "Home server" in listed.stdout
    assert "Traceback" not in listed.stderr
    warnings = listed.stderr.splitlines()
    assert sum("the log" in line for line in warnings) == 1, listed.stderr  # said once
    assert len(warnings) == 3, listed.stderr  # the log, data and cache folders
    assert all(line.startswith("uma-desktop: ") for line in warnings)
    history = uma_program("history")
    assert history.returncode == 8, history.stderr
    assert "decision history" in history.stderr and "Traceback" not in history.stderr


def test_a_home_that_does_not_exist_and_cannot_be_made_still_runs(tmp_path: Path) -> None:
    listed = uma_program("connections", "list", "--json", UMA_DESKTOP_HOME="/proc/uma-desktop")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert "Traceback" not in listed.stderr and "log" in listed.stderr


def _no_file_may_grow() -> None:
    """In the child: every write that makes a file bigger fails (EFBIG), like a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_adding_a_connection_on_a_full_disk_says_so_and_changes_nothing(
    app_home: Path, sandbox: SandboxServer
) -> None:
    registry = _home_with_one_connection(app_home)
    before = registry.read_bytes()

    added = uma_program("connections", "add", sandbox.issuer, preexec_fn=_no_file_may_grow)

    assert added.returncode == 8, added.stderr
    assert "Traceback" not in added.stderr and "Logging error" not in added.stderr
    assert f"Could not save {registry}" in added.stderr
    assert registry.read_bytes() == before
    assert [p.name for p in registry.parent.iterdir()] == ["connections.json"]  # no temp left
    listed = uma_program("connections", "list", "--json")
    assert [c["id"] for c in json.loads(listed.stdout)] == ["home"]


def test_a_history_row_that_cannot_be_read_is_skipped_and_reported(app_home: Path) -> None:
    history = History(app_dirs().ensure().data)
    history.open()
    good = Decision(
        connection_id="home", action="deny", resource_id="r1", resource_name="Photos",
        party="Bob Brown (bob)", scopes=("view",), at=datetime_now(), ok=True,
    )  # fmt: skip
    history.record(good)
    with sqlite3.connect(history.path) as db:
        db.execute(
            "INSERT INTO decisions (at, connection_id, action, resource_id, resource_name,"
            " party, scopes, ok, detail, extra) VALUES (?,?,?,?,?,?,?,?,?,?)",
            ("yesterday", "home", "approve", "r2", "Music", "x", "[not json", 1, "", "{}"),
        )
    db.close()

    shown = uma_program("history")
    as_json = uma_program("history", "--json")

    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr
    assert "Photos" in shown.stdout and "Music" not in shown.stdout
    assert "1 entry of the decision history could not be read" in shown.stderr
    assert as_json.returncode == 0, as_json.stderr
    assert [d["resource_name"] for d in json.loads(as_json.stdout)["items"]] == ["Photos"]


def datetime_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize("argv", [("login",), ("logout",), ("connections", "remove")])
def test_a_connection_id_that_names_a_path_is_refused(app_home: Path, argv: tuple[str]) -> None:
    _home_with_one_connection(app_home)
    refused = uma_program(*argv, "../../../escaped")
    assert refused.returncode == 2, refused.stderr
    assert "is not a connection id" in refused.stderr
