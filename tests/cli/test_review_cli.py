"""`uma-desktop review`, `expire` and `report --format html|csv|json` over real sandboxes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.owner import OwnerApi
from uma_desktop import cli
from uma_desktop.app import scheduler
from uma_desktop.app.expiry import DueDate, ExpiryStore
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer

Uma = Callable[..., tuple[int, str, str]]


@pytest.fixture
def uma(app_home: Path) -> Uma:
    vault = MemoryVault()

    def invoke(*argv: str, clock: Callable[[], datetime] | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(
            list(argv),
            out=out,
            err=err,
            browser_opener=form_browser("alice", "alice"),
            vault_factory=lambda remember: vault,
            clock=clock,
        )
        return code, out.getvalue(), err.getvalue()

    return invoke


@pytest.fixture
def two(sandbox_factory: Callable[..., SandboxServer]) -> tuple[SandboxServer, SandboxServer]:
    return sandbox_factory(name="Home"), sandbox_factory(name="Work")


def connect(uma: Uma, *servers: SandboxServer) -> list[str]:
    ids = []
    for server in servers:
        code, out, err = uma("connections", "add", server.issuer, "--name", server.name)
        assert code == 0, err
        ids.append(out.strip())
        assert uma("login", ids[-1])[0] == 0
    return ids


def test_review_list_act_finish(uma: Uma, two: tuple[SandboxServer, SandboxServer]) -> None:
    home, work = two
    home_id, _ = connect(uma, home, work)
    cats = f"{home_id}:{home.resource_id('Cat pictures')}"
    assert uma("share", cats, "dave", "--scopes", "view,download")[0] == 0
    code, out, err = uma("review", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["progress"] == {"reviewed": 0, "total": 5}
    by_person = {
        (i["connection_id"], i["resource_name"], i["person"]["username"]): i
        for i in listed["items"]
    }
    dave = by_person[(home_id, "Cat pictures", "dave")]
    assert set(dave["flags"]) == {"no-expiry", "all-scopes"}
    code, out, err = uma("review", "--flag", "all-scopes", "--json")
    assert [i["id"] for i in json.loads(out)["items"]] == [dave["id"]]

    code, out, err = uma("review")
    assert code == 0 and "0 of 5 reviewed" in err and dave["id"] in out and "all scopes" in out
    code, out, err = uma("review", "narrow", dave["id"], "--scopes", "download")
    assert code == 0, err
    assert "narrowed" in err and "1 of 5 reviewed" in err
    assert OwnerApi(home).policy_of("Cat pictures", "dave")["resource_scopes"] == ["view"]  # type: ignore[index]
    others = [i["id"] for i in listed["items"] if i["id"] != dave["id"]]
    assert uma("review", "keep", *others[:2])[0] == 0
    code, out, err = uma("review", "expire", others[2], "--date", "2099-01-31")
    assert code == 0, err
    code, out, err = uma("review", "revoke", others[3], "--json")
    assert code == 0, err
    assert json.loads(out)["progress"] == {"reviewed": 5, "total": 5}
    missing = uma("review", "keep", "0000000000")
    assert missing[0] == 4 and "0000000000" in missing[2]
    code, out, err = uma("review", "--pending", "--json")
    assert json.loads(out)["items"] == []
    code, out, err = uma("review", "finish")
    assert code == 0 and "5 of 5 shares reviewed" in out and "2 kept" in out
    code, out, err = uma("review", "--json")
    assert json.loads(out)["progress"]["reviewed"] == 0  # a new review starts
    history = json.loads(uma("history", "--json")[1])["items"]
    assert {d["action"] for d in history} >= {"keep", "narrow", "set-expiry", "revoke"}
    assert uma("review", "settings", "--interval", "30")[1].strip().endswith("remind after 30 days")
    assert uma("review", "settings", "--interval", "0")[0] == 2


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_formats_carry_the_same_rows(
    uma: Uma, two: tuple[SandboxServer, SandboxServer]
) -> None:
    home, work = two
    home_id, _ = connect(uma, home, work)
    cats = f"{home_id}:{home.resource_id('Cat pictures')}"
    assert uma("share", cats, "dave", "--scopes", "view", "--expires", "2099-01-31")[0] == 0
    code, as_json, err = uma("report", "--format", "json")
    assert code == 0, err
    code, as_csv, _ = uma("report", "--format", "csv")
    code, as_html, _ = uma("report", "--format", "html")
    json_rows = json.loads(as_json)["shares"]
    csv_rows = list(csv.DictReader(io.StringIO(as_csv)))
    key = ("connection_id", "resource_id", "person_id", "expires_at")
    assert len(json_rows) == 5
    assert sorted(tuple(r[k] for k in key) for r in json_rows) == sorted(
        tuple(r[k] for k in key) for r in csv_rows
    )
    assert [r["scopes"] for r in csv_rows] == [" ".join(r["scopes"]) for r in json_rows]
    assert as_html.startswith("<!DOCTYPE html>") and "UMA Desktop" in as_html
    parser = _Cells()
    parser.feed(as_html)
    text = "\n".join(parser.text)
    for row in json_rows:  # every share appears twice: per person and per resource
        assert text.count(row["resource_name"]) >= 2
        assert row["person_username"] in text
    assert "2099-01-31" in text
    assert {p["person"] for p in json.loads(as_json)["people"]} >= {"Bob Brown (bob)"}


def test_app_kept_expiry_is_enforced_at_the_start_of_any_command(
    uma: Uma, sandbox: SandboxServer
) -> None:
    [cid] = connect(uma, sandbox)
    now = datetime.now(UTC)
    portraits = sandbox.resource_id("Family portraits")
    bob_sub = OwnerApi(sandbox).policy_of("Family portraits", "bob")["sub"]  # type: ignore[index]
    ExpiryStore(app_dirs().data).put(
        DueDate(cid, portraits, "Family portraits", bob_sub, "bob", "Bob Brown (bob)",
                due=now + timedelta(days=2), set_at=now)
    )  # fmt: skip
    code, out, err = uma("expire")
    assert code == 0 and "Family portraits" in out
    code, out, err = uma("shares", f"{cid}:{portraits}", clock=lambda: now)
    assert code == 0 and "(expires (enforced by UMA Desktop))" in out
    assert uma("connections", "list", clock=lambda: now + timedelta(days=1))[0] == 0
    assert OwnerApi(sandbox).policy_of("Family portraits", "bob") is not None
    code, out, err = uma("connections", "list", clock=lambda: now + timedelta(days=3))
    assert code == 0
    assert "expired: Bob Brown (bob) on Family portraits - access revoked" in err
    assert OwnerApi(sandbox).policy_of("Family portraits", "bob") is None
    assert ExpiryStore(app_dirs().data).load() == []
    newest = json.loads(uma("history", "--json")[1])["items"][0]
    assert (newest["action"], newest["ok"], newest["extra"]["enforced_by"]) == (
        "expire", True, "UMA Desktop",
    )  # fmt: skip


def test_timer_units_install_verify_and_remove(
    uma: Uma, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    code, out, err = uma("expire", "--install-timer", "--json")
    assert code == 0, err
    installed = [Path(p) for p in json.loads(out)["installed"]]
    assert json.loads(out)["note"] == scheduler.NOT_ASKED  # never the real session's systemd
    folder = tmp_path / "config" / "systemd" / "user"
    assert sorted(installed) == sorted(
        [folder / scheduler.SERVICE_NAME, folder / scheduler.TIMER_NAME]
    )
    service = (folder / scheduler.SERVICE_NAME).read_text()
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(" expire --due") and exec_line.startswith("ExecStart=/")
    assert "OnCalendar=daily" in (folder / scheduler.TIMER_NAME).read_text()
    # The packaged units are the installed ones with the plain command.
    packaged = Path(__file__).resolve().parents[2] / "packaging" / "systemd"
    for name, text in scheduler.render_units().items():
        assert (packaged / name).read_text() == text
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    verify = shutil.which("systemd-analyze")
    assert verify is not None, "systemd-analyze is needed (tools/install-system-deps.sh)"
    checked = subprocess.run(
        [verify, "verify", "--user", *map(str, installed)],
        capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert scheduler.timer_installed()
    code, out, err = uma("expire", "--remove-timer")
    assert code == 0 and not scheduler.timer_installed()
    assert not any(folder.iterdir())
    assert uma("expire", "--remove-timer")[0] == 0  # already gone: fine


def test_revoking_by_name_drops_the_due_date_the_app_kept(uma: Uma, sandbox: SandboxServer) -> None:
    """Else sharing again with the same person would bring the old date back."""
    (cid,) = connect(uma, sandbox)
    portraits = sandbox.resource_id("Family portraits")
    bob_sub = OwnerApi(sandbox).policy_of("Family portraits", "bob")["sub"]  # type: ignore[index]
    now = datetime.now(UTC)
    store = ExpiryStore(app_dirs().data)
    store.put(
        DueDate(cid, portraits, "Family portraits", bob_sub, "bob", "Bob Brown (bob)",
                due=now + timedelta(days=2), set_at=now)
    )  # fmt: skip
    code, _out, err = uma("revoke", f"{cid}:{portraits}", "bob")
    assert code == 0, err
    assert store.load() == []
