"""What the command line leaves out: `--help` loads neither the app nor asyncio, a command
on a saved login loads no login flow, no JWT library and not httpx's own CLI, and a listing
that finds nothing new does not rewrite the snapshot file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.browser import form_browser
from uma_desktop import cli
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("asyncio", "httpx", "pydantic", "sqlite3", "uma_desktop.app", "uma_desktop.logs")
HELP_THEN_LIST_MODULES = f"""
import contextlib, io, json, sys
from uma_desktop.__main__ import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    code = main(["--help"])
heavy = [name for name in {HEAVY!r} if name in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy, "help": shown.getvalue()}}))
"""


def test_help_loads_neither_the_app_nor_asyncio() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELP_THEN_LIST_MODULES],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    seen = json.loads(done.stdout)
    assert seen["code"] == 0
    assert "usage: uma-desktop" in seen["help"] and "resources" in seen["help"]
    assert seen["heavy"] == []


# the login flows and PyJWT (a login needs them), httpx's command-line tool (nobody does)
NOT_FOR_COMMANDS = ("jwt", "uma_desktop.oauth.login", "uma_desktop.oauth.device", "rich", "click")
COMMAND_RUNNER_MODULES = f"""
import json, sys
import uma_desktop.app.control_point, uma_desktop.cli, uma_desktop.logs, uma_desktop.oauth
from uma_desktop.oauth.idtoken import stored_identity
loaded = [name for name in {NOT_FOR_COMMANDS!r} if name in sys.modules]
print(json.dumps(loaded))
"""


def test_commands_on_a_saved_login_load_neither_login_flows_nor_jwt() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COMMAND_RUNNER_MODULES],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == []


def test_a_listing_with_nothing_new_leaves_the_snapshot_file_alone(
    app_home: Path, sandbox: SandboxServer
) -> None:
    vault = MemoryVault()

    def uma(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(
            list(argv),
            out=out,
            err=err,
            browser_opener=form_browser("alice", "alice"),
            vault_factory=lambda remember: vault,
        )
        return code, out.getvalue(), err.getvalue()

    code, out, err = uma("connections", "add", sandbox.issuer)
    assert code == 0, err
    connection_id = out.strip()
    assert uma("login", connection_id)[0] == 0
    code, first, err = uma("resources", "--json")
    assert code == 0, err
    snapshot = app_dirs().cache / "snapshots" / f"{connection_id}.json"
    written = snapshot.stat()

    code, second, err = uma("resources", "--json")
    assert code == 0, err
    again = snapshot.stat()
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert json.loads(second) == json.loads(first)
    assert len(json.loads(second)["items"]) == 8
    assert second.count("\n") == 1  # not a terminal: one compact line for programs

    sandbox.seed_bulk_resources(count=1)
    code, third, err = uma("resources", "--json")
    assert code == 0, err
    assert len(json.loads(third)["items"]) == 9
    assert snapshot.stat().st_ino != written.st_ino
