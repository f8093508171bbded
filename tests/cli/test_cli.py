"""The CLI in-process over real sandboxes (alice signs in at the real login form)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import complete_device_login, form_browser
from tests.fixtures.owner import OwnerApi, ask
from uma_desktop import cli
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.sandbox import SandboxServer


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Invoke = Callable[..., Outcome]


@pytest.fixture
def uma(app_home: Path) -> Invoke:
    """Run one CLI command; tokens stay in one memory vault across commands of a test."""
    vault = MemoryVault()

    def invoke(*argv: str, err: io.StringIO | None = None, user: str = "alice") -> Outcome:
        out, err = io.StringIO(), err or io.StringIO()
        code = cli.run(
            list(argv),
            out=out,
            err=err,
            browser_opener=form_browser(user, user),
            vault_factory=lambda remember: vault,
        )
        return Outcome(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def two(sandbox_factory: Callable[..., SandboxServer]) -> tuple[SandboxServer, SandboxServer]:
    return sandbox_factory(name="Home"), sandbox_factory(name="Work")


def connect(uma: Invoke, *servers: SandboxServer) -> list[str]:
    ids = []
    for server in servers:
        added = uma("connections", "add", server.issuer, "--name", server.name)
        assert added.code == 0, added.err
        ids.append(added.out.strip())
        logged_in = uma("login", ids[-1])
        assert logged_in.code == 0, logged_in.err
        assert "as alice" in logged_in.err
    return ids


def test_connections_add_list_remove(uma: Invoke, two: tuple[SandboxServer, ...]) -> None:
    home_id, work_id = connect(uma, *two)
    assert (home_id, work_id) == ("home", "work")
    listed = uma("connections", "list", "--json")
    assert listed.code == 0
    rows = {row["id"]: row for row in listed.json()}
    assert rows["home"]["issuer"] == two[0].issuer
    assert rows["home"]["kind"] == "policy-manager" and rows["home"]["username"] == "alice"
    assert "home" in uma("connections", "list").out

    again = uma("connections", "add", two[0].issuer)
    assert again.code == 2 and "already connected" in again.err
    bad_kind = uma("connections", "add", two[0].issuer, "--kind", "pingam")
    assert bad_kind.code == 2 and "choose one of: policy-manager, keycloak" in bad_kind.err
    insecure = uma("connections", "add", "http://example.org")
    assert insecure.code == 2 and "https://" in insecure.err

    assert uma("connections", "remove", "work").code == 0
    assert [r["id"] for r in uma("connections", "list", "--json").json()] == ["home"]
    unknown = uma("logout", "work")
    assert unknown.code == 2 and "known: home" in unknown.err


def test_resources_and_requests_of_both_servers(
    uma: Invoke, two: tuple[SandboxServer, ...]
) -> None:
    home_id, work_id = connect(uma, *two)
    listed = uma("resources", "--json")
    assert listed.code == 0, listed.err
    data = listed.json()
    assert {c["id"]: c["ok"] for c in data["connections"]} == {home_id: True, work_id: True}
    names = {(r["connection_id"], r["name"]) for r in data["items"]}
    assert (home_id, "Holiday 2026") in names and (work_id, "Holiday 2026") in names
    assert len(data["items"]) == 16

    only = uma("resources", "--connection", work_id, "--search", "calendar", "--json").json()
    assert {(r["connection_id"], r["name"]) for r in only["items"]} == {
        (work_id, "Work calendar"), (work_id, "Family calendar"),
    }  # fmt: skip
    table = uma("resources").out
    holiday = two[0].resource_id("Holiday 2026")
    assert f"{home_id}:{holiday}" in table

    requests = uma("requests", "--json").json()["items"]
    assert {(r["connection_id"], r["requester"]["username"]) for r in requests} == {
        (home_id, "carol"), (work_id, "carol"),
    }  # fmt: skip
    assert "Carol Clark" in uma("requests").out


def test_approve_deny_by_id(uma: Invoke, two: tuple[SandboxServer, ...]) -> None:
    home, work = two
    home_id, _ = connect(uma, home, work)
    ask(home, "bob", "Holiday 2026", ["view", "download"])
    ask(work, "dave", "Cat pictures", ["view"])
    items = uma("requests", "--json").json()["items"]
    bob = next(r for r in items if r["requester"]["username"] == "bob")
    dave = next(r for r in items if r["requester"]["username"] == "dave")
    carol_home = next(
        r for r in items if r["requester"]["username"] == "carol" and r["connection_id"] == home_id
    )

    approved = uma("approve", f"{home_id}:{bob['id']}", "--scopes", "view", "--json")
    assert approved.code == 0, approved.err
    assert approved.json()["action"] == "approve" and approved.json()["scopes"] == ["view"]
    denied = uma("deny", dave["id"])  # a bare id: only one connection has it
    assert denied.code == 0, denied.err
    assert "deny: Dave Davis (dave) on Cat pictures" in denied.err
    bad = uma("approve", f"{home_id}:{carol_home['id']}", "--scopes", "write")
    assert bad.code == 2 and "was not requested" in bad.err
    gone = uma("approve", f"{home_id}:{bob['id']}")
    assert gone.code == 4 and "No pending request" in gone.err

    home_api, work_api = OwnerApi(home), OwnerApi(work)
    assert home_api.policy_of("Holiday 2026", "bob")["resource_scopes"] == ["view"]  # type: ignore[index]
    assert ("deny", "Cat pictures") in work_api.history_actions()
    assert dave["id"] not in work_api.pending_ids()


def test_share_shares_revoke_and_report(uma: Invoke, two: tuple[SandboxServer, ...]) -> None:
    home, work = two
    home_id, work_id = connect(uma, home, work)
    cats = f"{home_id}:{home.resource_id('Cat pictures')}"
    shared = uma("share", cats, "dave", "--scopes", "view,download", "--expires", "2099-01-31")
    assert shared.code == 0, shared.err
    api = OwnerApi(home)
    policy = api.policy_of("Cat pictures", "dave")
    assert policy is not None and sorted(policy["resource_scopes"]) == ["download", "view"]
    assert policy["expires_at"] == 4073587199  # 2099-01-31 23:59:59 UTC

    listing = uma("shares", cats, "--json").json()["items"]
    assert [(s["party"]["username"], sorted(s["scopes"])) for s in listing] == [
        ("dave", ["download", "view"])
    ]
    assert listing[0]["expires_at"].startswith("2099-01-31T23:59:59")
    assert "dave" in uma("shares", cats).out
    assert uma("share", cats, "erin@example.test", "--scopes", "view").code == 0
    assert uma("revoke", cats, "dave", "--scopes", "download").code == 0
    assert api.policy_of("Cat pictures", "dave")["resource_scopes"] == ["view"]  # type: ignore[index]
    assert uma("revoke", cats, "dave").code == 0
    assert api.policy_of("Cat pictures", "dave") is None
    missing = uma("revoke", cats, "dave")
    assert missing.code == 4 and "no share" in missing.err
    bad_date = uma("share", cats, "dave", "--scopes", "view", "--expires", "next week")
    assert bad_date.code == 2 and "--expires" in bad_date.err

    history = uma("history", "--json").json()["items"]
    assert [(d["action"], d["ok"]) for d in history] == [
        ("revoke", False), ("revoke", True), ("narrow", True), ("share", True), ("share", True),
    ]  # fmt: skip
    assert "narrow" in uma("history").out

    report = uma("report", "--format", "json")
    assert report.code == 0, report.err
    rows = report.json()["shares"]
    expected = set()
    for server, cid in ((home, home_id), (work, work_id)):
        owner = OwnerApi(server)
        for policy in owner.get("policy_endpoint", expand="true"):
            expected.add((cid, policy["resource_id"], policy["subject"]["username"]))
    assert {(r["connection_id"], r["resource_id"], r["person_username"]) for r in rows} == expected
    assert len(expected) == 5  # 2 seeded shares per server + erin's
    as_csv = list(csv.DictReader(io.StringIO(uma("report", "--format", "csv").out)))
    assert {(r["connection_id"], r["person_username"], r["scopes"]) for r in as_csv} >= {
        (home_id, "erin", "view"), (work_id, "bob", "view"), (work_id, "carol", "free-busy"),
    }  # fmt: skip
    assert len(as_csv) == 5


def test_shared_with_me_and_logout(uma: Invoke, two: tuple[SandboxServer, ...]) -> None:
    home_id, work_id = connect(uma, *two)
    mine = uma("shared-with-me", "--json").json()
    assert {(i["connection_id"], i["resource"]["name"]) for i in mine["items"]} == {
        (home_id, "Running log"), (work_id, "Running log"),
    }  # fmt: skip
    assert "Running log" in uma("shared-with-me").out
    assert uma("resources").code == 0
    assert uma("logout", work_id).code == 0
    after = uma("resources", "--json")
    assert after.code == 6  # login needed on one connection
    data = after.json()
    status = {c["id"]: c for c in data["connections"]}
    assert status[home_id]["ok"] and not status[work_id]["ok"]
    assert status[work_id]["stale"]  # the last-known list is still printed
    assert "log in" in after.err.lower()


def test_a_stopped_server_gives_stale_data_and_exit_code_3(
    uma: Invoke, two: tuple[SandboxServer, ...]
) -> None:
    home_id, work_id = connect(uma, *two)
    assert uma("resources").code == 0
    two[1].stop()
    after = uma("resources", "--json")
    assert after.code == 3
    items = after.json()["items"]
    assert {r["connection_id"] for r in items} == {home_id, work_id}
    assert f"{work_id} (showing last-known data): Could not connect" in after.err


class DeviceCodeWatcher(io.StringIO):
    """stderr that completes the device login as alice when the CLI prints the code."""

    PROMPT = re.compile(r"open (\S+) in any browser and enter the code (\S+)")

    def __init__(self) -> None:
        super().__init__()
        self.thread: threading.Thread | None = None

    def write(self, text: str) -> int:
        match = self.PROMPT.search(text)
        if match and self.thread is None:
            url, code = match.groups()
            self.thread = threading.Thread(
                target=complete_device_login, args=(url, code, "alice", "alice"), daemon=True
            )
            self.thread.start()
        return super().write(text)


def test_device_login(uma: Invoke, sandbox_factory: Callable[..., SandboxServer]) -> None:
    sandbox = sandbox_factory(device_interval=1)  # poll every second, not every five
    added = uma("connections", "add", sandbox.issuer)
    watcher = DeviceCodeWatcher()
    result = uma("login", added.out.strip(), "--device", err=watcher)
    assert result.code == 0, result.err
    assert "logged in" in result.err and "as alice" in result.err
    assert uma("resources", "--json").code == 0


def test_entry_point_runs_as_a_program(app_home: Path) -> None:
    env = {**os.environ, "UMA_DESKTOP_HOME": str(app_home)}
    run = subprocess.run(
        [sys.executable, "-m", "uma_desktop", "history", "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"items": []}
    usage = subprocess.run(
        [sys.executable, "-m", "uma_desktop", "approve"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert usage.returncode == 2 and "usage" in usage.stderr
