"""What a fresh command-line process says about connections: kept logins, last update, and
what to do when there is no usable keyring."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tests.fixtures.cli import run_program
from uma_desktop.sandbox import SandboxServer


def statuses() -> dict[str, dict[str, object]]:
    listed = run_program("connections", "list", "--json")
    assert listed.code == 0, listed.err
    return {row["id"]: row for row in listed.json()}


def test_a_new_process_reports_kept_logins_and_the_last_update(
    sandbox_factory: Callable[..., SandboxServer], kept_login: Callable[[SandboxServer], str]
) -> None:
    home, work = sandbox_factory(name="Home"), sandbox_factory(name="Work")
    home_id = kept_login(home)
    added = run_program("connections", "add", work.issuer)
    assert added.code == 0, added.err
    work_id = added.out.strip()

    rows = statuses()
    assert (rows[home_id]["status"], rows[home_id]["last_success"]) == ("logged_in", None)
    assert (rows[work_id]["status"], rows[work_id]["message"]) == ("login_needed", "Not logged in.")

    assert run_program("resources", "--connection", home_id).code == 0
    rows = statuses()
    assert rows[home_id]["status"] == "logged_in"
    updated = datetime.fromisoformat(str(rows[home_id]["last_success"]))
    table = run_program("connections", "list").out
    home_line = next(line for line in table.splitlines() if line.startswith(home_id))
    assert "logged in" in home_line and updated.strftime("%Y-%m-%d %H:%M UTC") in home_line
    assert "STATUS" in table.splitlines()[0]

    assert run_program("logout", home_id).code == 0
    rows = statuses()
    assert rows[home_id]["status"] == "login_needed"
    assert rows[home_id]["last_success"] is not None  # the snapshot's time stays known


def test_without_a_usable_keyring_the_cli_names_its_no_remember_option(
    app_home: Path, sandbox_factory: Callable[..., SandboxServer]
) -> None:
    """No D-Bus session at all (a bare server or container): keyring finds no backend."""
    no_keyring = {k: v for k, v in os.environ.items() if not k.startswith("DBUS")}
    remembered, in_memory = sandbox_factory(name="Home"), sandbox_factory(name="Work")
    added = run_program("connections", "add", remembered.issuer, env=no_keyring)
    assert added.code == 0, added.err
    home_id = added.out.strip()

    login = run_program("login", home_id, env=no_keyring)
    assert login.code == 7, login.err
    assert "No secure keyring is available" in login.err
    assert "uma-desktop connections add --no-remember" in login.err
    assert "remember me" not in login.err

    requests = run_program("requests", env=no_keyring)  # a read says the same, per connection
    assert requests.code == 7
    assert f"{home_id}: No secure keyring" in requests.err and "--no-remember" in requests.err

    listed = run_program("connections", "list", "--json", env=no_keyring)
    assert listed.code == 0, listed.err
    (row,) = listed.json()
    assert row["status"] == "error" and "No secure keyring" in str(row["message"])
    assert "No secure keyring" in run_program("connections", "list", env=no_keyring).err

    argv = ("connections", "add", in_memory.issuer, "--no-remember")
    memory_only = run_program(*argv, env=no_keyring)
    assert memory_only.code == 0, memory_only.err
    assert "kept in memory only" in memory_only.err
    rows = {r["id"]: r for r in run_program("connections", "list", "--json", env=no_keyring).json()}
    assert rows[memory_only.out.strip()]["status"] == "login_needed"
    assert rows[memory_only.out.strip()]["remember"] is False
