"""What the command line leaves out: `--help` loads neither the app nor asyncio, a command
on a saved login loads no login flow, no JWT library and not httpx's own CLI, a listing from
a loopback (http://) server loads no CA bundle and no other server family's backend, a
listing that finds nothing new does not rewrite the snapshot file, and a command run as a
program, which ends without tearing its objects down, still prints and saves everything."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.fixtures.browser import form_browser
from tests.fixtures.cli import run_program
from uma_desktop import cli
from uma_desktop.app.snapshots import SnapshotStore
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


# the login flows and PyJWT (a login needs them), httpx's command-line tool (nobody does),
# the file lock (only a refresh of the sign-in takes it)
NOT_FOR_COMMANDS = (
    "jwt", "uma_desktop.oauth.login", "uma_desktop.oauth.device", "rich", "click", "filelock",
)  # fmt: skip
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


LOOPBACK_LISTING = """
import io, json, ssl, sys
from tests.fixtures.browser import form_browser
from uma_desktop import cli
from uma_desktop.oauth.vault import MemoryVault

vault = MemoryVault()

def uma(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out=out, err=err, browser_opener=form_browser("alice", "alice"),
                   vault_factory=lambda remember: vault)
    assert code == 0, err.getvalue()
    return out.getvalue()

connection_id = uma("connections", "add", sys.argv[1]).strip()
uma("login", connection_id)  # (the login form's browser is a plain httpx client)
bundles = []
for name in ("load_verify_locations", "load_default_certs", "set_default_verify_paths"):
    real = getattr(ssl.SSLContext, name)
    def noted(self, *args, _real=real, _name=name, **kwargs):
        bundles.append(_name)
        return _real(self, *args, **kwargs)
    setattr(ssl.SSLContext, name, noted)
items = json.loads(uma("resources", "--json"))["items"]
others = [name for name in ("uma_desktop.backends.forgerock", "uma_desktop.backends.keycloak")
          if name in sys.modules]
print(json.dumps({"items": len(items), "bundles": bundles, "others": others}))
"""


def test_a_listing_from_a_loopback_server_loads_no_ca_bundle_nor_other_backends(
    app_home: Path, sandbox: SandboxServer
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOOPBACK_LISTING, sandbox.issuer],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )  # fmt: skip
    seen = json.loads(done.stdout)
    assert seen == {"items": 8, "bundles": [], "others": []}


def test_a_command_run_as_a_program_prints_and_saves_everything(
    sandbox: SandboxServer, kept_login: Callable[[SandboxServer], str]
) -> None:
    """The program ends at once after the command (no teardown of its objects): what it
    printed through a pipe, far more than the pipe holds, and the snapshot it saved are whole."""
    sandbox.seed_bulk_resources(count=3000)
    connection_id = kept_login(sandbox)

    listed = run_program("resources", "--json")
    assert listed.code == 0, listed.err
    assert len(listed.out) > 512 * 1024 and listed.out.endswith("}\n")
    assert len(listed.json()["items"]) == 3008
    saved = SnapshotStore(app_dirs().cache).load(connection_id)
    assert saved.resources is not None and len(saved.resources) == 3008

    failed = run_program("resources", "--connection", "no-such-connection")
    assert failed.code == 2 and "no-such-connection" in failed.err
