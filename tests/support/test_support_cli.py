"""`uma-desktop support ...` end to end: a real sandbox, the real keyring, real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.owner import OwnerApi
from tests.support.conftest import rs_secret
from uma_desktop.sandbox import SandboxServer

pytestmark = pytest.mark.keyring


def support(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UMA_DESKTOP_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "uma_desktop", "support", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def add_connection(home: Path, sandbox: SandboxServer) -> tuple[dict[str, Any], str]:
    """``support connections add`` for the photos RS (secret on stdin): (its JSON, secret)."""
    client_id, secret = rs_secret(sandbox, "photos")
    added = support(
        home,
        "connections",
        "add",
        sandbox.issuer,
        "--client-id",
        client_id,
        "--json",
        stdin=secret + "\n",
    )
    assert added.returncode == 0, added.stderr
    connection: dict[str, Any] = json.loads(added.stdout)
    return connection, secret


def test_connections_lookup_why_revoke_and_audit(
    sandbox: SandboxServer, app_home: Path, real_keyring: object
) -> None:
    connection, secret = add_connection(app_home, sandbox)
    cid = connection["id"]
    assert connection["acting_enabled"] is False
    assert secret not in (app_home / "config" / "support-connections.json").read_text()

    listed = support(app_home, "connections")
    assert listed.stdout.startswith(f"[SUPPORT] {cid}") and "read-only" in listed.stdout

    found = support(app_home, "lookup", cid, "--requester", "bob", "--json")
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    [entry] = body["entries"]
    assert (entry["resource_name"], entry["status"], entry["scopes"]) == (
        "Family portraits",
        "granted",
        "view",
    )
    case = app_home / "case.csv"
    exported_case = support(
        app_home,
        "lookup",
        cid,
        "--requester",
        "bob",
        "--export",
        str(case),
        "--format",
        "csv",
        "--note",
        "Alice called",
    )
    assert exported_case.returncode == 0, exported_case.stderr
    lines = case.read_text().splitlines()
    assert lines[0].startswith("# connection,") and "# note,Alice called" in lines
    assert any(line.startswith("resource_id,resource_name,owner,kind,status") for line in lines)
    assert any("Family portraits" in line and "granted" in line for line in lines)
    human = support(app_home, "lookup", cid, "--requester", "bob")
    assert "Family portraits" in human.stdout and "shared" in human.stdout

    why = support(app_home, "why", cid, "bob", "Family portraits", "--scope", "download")
    assert why.returncode == 0
    assert "shared “view” only, not “download”" in why.stdout

    grant_id = OwnerApi(sandbox).policy_of("Family portraits", "bob")["_id"]  # type: ignore[index]
    no_reason = support(app_home, "revoke", cid, grant_id, "--requester", "bob")
    assert no_reason.returncode == 2 and "--reason is required" in no_reason.stderr
    acting_off = support(app_home, "revoke", cid, grant_id, "--requester", "bob", "--reason", "T-1")
    assert acting_off.returncode == 2 and "Acting on behalf of owners is off" in acting_off.stderr
    assert support(app_home, "connections", "acting", cid, "on").returncode == 0
    done = support(
        app_home, "revoke", cid, grant_id, "--requester", "bob", "--reason", "T-1", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["revoked"] == grant_id
    assert OwnerApi(sandbox).policy_of("Family portraits", "bob") is None

    audit = json.loads(support(app_home, "audit", "--json").stdout)
    assert [a["action"] for a in audit][:2] == ["revoke", "acting on behalf allowed"]
    assert audit[0]["reason"] == "T-1"
    exported = app_home / "audit.csv"
    assert support(app_home, "audit", "--export", str(exported)).returncode == 0
    assert exported.read_text().splitlines()[0].startswith("at,operator,connection_id")
    assert support(app_home, "connections", "remove", cid).returncode == 0


def test_wrong_secret_is_a_clear_error(
    sandbox: SandboxServer, app_home: Path, real_keyring: object
) -> None:
    client_id, _ = rs_secret(sandbox, "photos")
    refused = support(
        app_home, "connections", "add", sandbox.issuer, "--client-id", client_id, stdin="nope\n"
    )
    assert refused.returncode == 6
    assert "refused the client id or secret of rs-photos" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_server_text_cannot_drive_the_terminal(
    sandbox: SandboxServer, app_home: Path, real_keyring: object
) -> None:
    assert sandbox.sandbox is not None
    sandbox.sandbox.store.execute(
        "UPDATE resources SET name = ? WHERE name = 'Family portraits'",
        ("Family\x1b[2J portraits\u202e",),
    )
    cid = add_connection(app_home, sandbox)[0]["id"]
    human = support(app_home, "lookup", cid, "--requester", "bob")
    assert "\x1b" not in human.stdout and "\u202e" not in human.stdout
    assert "Family" in human.stdout and "portraits" in human.stdout
    as_json = support(app_home, "lookup", cid, "--requester", "bob", "--json")
    assert "\x1b" not in as_json.stdout and "\\u001b" in as_json.stdout
    assert json.loads(as_json.stdout)["entries"][0]["resource_name"].startswith("Family\x1b")
    support(app_home, "connections", "remove", cid)
