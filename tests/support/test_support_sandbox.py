"""The support desk against a real sandbox on loopback, the RS secret in the real keyring."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.owner import OwnerApi
from tests.fixtures.owner import connect as connect_owner
from tests.fixtures.sandbox import sandbox_owner_token
from tests.support.conftest import rs_secret
from uma_desktop.app import ControlPoint
from uma_desktop.app.support import SupportDesk
from uma_desktop.backends.support_base import GrantStatus
from uma_desktop.errors import AuthError, ConfigurationError
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.seed_support import seed_support_scale

pytestmark = pytest.mark.keyring


def _rs_token(server: SandboxServer, key: str) -> str:
    client_id, secret = rs_secret(server, key)
    answer = httpx.post(
        server.issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _share(
    server: SandboxServer,
    owner: str,
    resource: str,
    person: str,
    scopes: list[str],
    expires_at: int | None = None,
) -> None:
    api = OwnerApi(server, owner)
    sub = api.get("person_lookup_endpoint", q=person)["sub"]
    answer = httpx.post(
        api.endpoints["policy_endpoint"],
        json={
            "resource_id": server.resource_id(resource),
            "resource_scopes": scopes,
            "sub": sub,
            "expires_at": expires_at,
        },
        headers=api.headers,
    )
    assert answer.status_code == 201, answer.text


async def test_lookup_by_owner_requester_and_resource(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any]
) -> None:
    health = await connect(sandbox, "health")
    by_owner = await desk.lookup(health.id, person="alice", role="owner")
    groups = {g.resource_name: g for g in by_owner.groups}
    assert set(groups) == {"Blood tests 2026"}
    [pending] = groups["Blood tests 2026"].requests
    assert pending.status is GrantStatus.PENDING and pending.person.username == "carol"
    assert pending.scopes == ("read",) and pending.client_id == "rqp-app"
    assert pending.since is not None

    by_requester = await desk.lookup(health.id, person="alice@example.test", role="requester")
    [group] = by_requester.groups
    assert group.resource_name == "Running log" and group.owner.username == "bob"
    assert [s.scopes for s in group.shares] == [("read",)]

    by_resource = await desk.lookup(
        health.id, role="resource", resource_id=sandbox.resource_id("Blood tests 2026")
    )
    assert [g.resource_name for g in by_resource.groups] == ["Blood tests 2026"]
    by_name = await desk.lookup(health.id, role="resource", resource_id="blood TESTS")
    assert [g.resource_id for g in by_name.groups] == [sandbox.resource_id("Blood tests 2026")]
    actions = [e.action for e in desk.audit.entries()]
    assert actions[:4] == [
        "lookup by resource",
        "lookup by resource",
        "lookup by requester",
        "lookup by owner",
    ]


async def test_a_resource_server_sees_only_its_own_resources(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any]
) -> None:
    photos = await connect(sandbox, "photos")
    found = await desk.lookup(photos.id, person="alice", role="owner")
    assert {g.resource_name for g in found.groups} == {"Family portraits"}
    health_resource = sandbox.resource_id("Blood tests 2026")
    empty = await desk.lookup(photos.id, role="resource", resource_id=health_resource)
    assert empty.groups == ()
    page = await desk.resources(photos.id, owner="alice")
    assert {r.name for r in page.items} == {"Holiday 2026", "Family portraits", "Cat pictures"}
    # Straight at the API: rs-photos cannot revoke rs-health's share, nor list its audit.
    token = _rs_token(sandbox, "photos")
    running_log = await desk.lookup(
        (await connect(sandbox, "health")).id,
        role="resource",
        resource_id=sandbox.resource_id("Running log"),
    )
    [share] = running_log.groups[0].shares
    answer = httpx.post(
        f"{sandbox.issuer}/support/grants/{share.id}/revoke",
        json={"reason": "ticket 1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 404
    owner_token = sandbox_owner_token(sandbox, "alice")
    refused = httpx.get(
        f"{sandbox.issuer}/support/grants",
        params={"owner": "alice"},
        headers={"Authorization": f"Bearer {owner_token}"},
    )
    assert refused.status_code == 403


async def test_why_answers_every_case(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any]
) -> None:
    photos = await connect(sandbox, "photos", acting=True)
    health = await connect(sandbox, "health", acting=True)
    # no share
    answer = await desk.why(photos.id, "dave", "Holiday 2026", "view")
    assert answer.verdict == "cannot" and "not shared with them" in answer.lines[0]
    # partial: bob may view Family portraits, not download
    answer = await desk.why(photos.id, "bob", "Family portraits", "download")
    assert answer.verdict == "partly"
    assert "shared “view” only, not “download”" in answer.lines[0]
    answer = await desk.why(photos.id, "bob", "family portraits", "view")
    assert answer.verdict == "can"
    # pending: carol asked to read Blood tests 2026
    answer = await desk.why(health.id, "carol", "Blood tests 2026", "read")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert answer.verdict == "cannot" and f"pending since {today}" in answer.lines[0]
    # denied on behalf of alice, with a reason
    lookup = await desk.lookup(health.id, person="carol", role="requester")
    [request] = lookup.groups[0].requests
    await desk.deny(health.id, request, "ticket 4711")
    answer = await desk.why(health.id, "carol", "Blood tests 2026", "read")
    assert answer.verdict == "cannot"
    assert answer.lines[0].endswith(
        f"cannot read Blood tests 2026: Alice Adams (alice) denied the request on {today}."
    )
    # expired
    soon = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    _share(sandbox, "alice", "Cat pictures", "erin", ["view"], soon)
    sandbox.advance_clock(2 * 3600)
    answer = await desk.why(photos.id, "erin", "Cat pictures", "view")
    assert answer.verdict == "cannot" and "the share expired on" in answer.lines[0]


async def test_revoke_on_behalf_shows_in_the_owners_view_and_the_rs_audit(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any], app_home: Path
) -> None:
    photos = await connect(sandbox, "photos")
    lookup = await desk.lookup(photos.id, person="bob", role="requester")
    [share] = lookup.groups[0].shares
    with pytest.raises(ConfigurationError, match="off"):
        await desk.revoke(photos.id, share, "ticket 12")
    desk.set_acting(photos.id, True)
    with pytest.raises(ConfigurationError, match="reason"):
        await desk.revoke(photos.id, share, "   ")
    token = _rs_token(sandbox, "photos")
    refused = httpx.post(
        f"{sandbox.issuer}/support/grants/{share.id}/revoke",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 400 and "reason" in refused.json()["error_description"]

    receipt = await desk.revoke(photos.id, share, "ticket 12: Alice never agreed")
    assert receipt.server_audit_id

    control = await ControlPoint.open(
        app_dirs(),
        vault_factory=lambda remember: MemoryVault(),
        browser_opener=form_browser("alice", "alice"),
    )
    try:
        [cid] = await connect_owner(control, sandbox)
        shares = await control.shares(cid, sandbox.resource_id("Family portraits"))
        assert shares == []
        assert all(
            not state.connection.id.startswith("support-") for state in control.connections()
        )
    finally:
        await control.aclose()

    audit = httpx.get(
        f"{sandbox.issuer}/support/audit", headers={"Authorization": f"Bearer {token}"}
    ).json()["items"]
    assert [(a["action"], a["target_id"], a["reason"]) for a in audit] == [
        ("revoke", share.id, "ticket 12: Alice never agreed")
    ]
    history = OwnerApi(sandbox, "alice").get("decision_history_endpoint")
    assert history[0]["action"] == "revoke"

    local = desk.audit.entries()
    assert local[0].action == "revoke" and local[0].reason == "ticket 12: Alice never agreed"
    assert "server audit" in local[0].outcome
    log_file = app_home / "data" / "support-audit.jsonl"
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    _, secret = rs_secret(sandbox, "photos")
    for path in app_home.rglob("*"):
        if path.is_file():
            content = path.read_text(encoding="utf-8", errors="replace")
            assert secret not in content and token not in content, path
    exported = app_home / "audit.json"
    assert desk.audit.export(exported, "json") >= 4
    assert json.loads(exported.read_text())[-1]["action"] == "revoke"


async def test_wrong_or_revoked_secret_gives_a_clear_error(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any]
) -> None:
    client_id, _ = rs_secret(sandbox, "photos")
    with pytest.raises(AuthError, match="client id or secret of rs-photos"):
        await desk.add(sandbox.issuer, client_id, "not-the-secret")
    assert desk.connections() == []
    photos = await connect(sandbox, "photos")
    # The RS's secret is changed on the server: the stored one no longer works.
    assert sandbox.sandbox is not None
    sandbox.sandbox.store.execute(
        "UPDATE clients SET secret = 'rotated' WHERE client_id = ?", (client_id,)
    )
    fresh = SupportDesk(desk.dirs, vault_factory=desk._vault_factory)
    try:
        with pytest.raises(AuthError, match="secret is wrong, was changed"):
            await fresh.lookup(photos.id, person="alice", role="owner")
    finally:
        await fresh.aclose()


async def test_support_connections_stay_out_of_owner_views(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any], app_home: Path
) -> None:
    await connect(sandbox, "photos")
    control = await ControlPoint.open(app_dirs(), vault_factory=lambda remember: MemoryVault())
    try:
        assert control.connections() == []
    finally:
        await control.aclose()
    assert (
        not (app_home / "config" / "connections.json").exists()
        or "rs-photos" not in (app_home / "config" / "connections.json").read_text()
    )


async def test_lookups_page_through_server_side_filters(
    sandbox: SandboxServer, desk: SupportDesk, connect: Callable[..., Any]
) -> None:
    assert sandbox.sandbox is not None
    seeded = seed_support_scale(sandbox.sandbox, owners=50, resources=1000, entries=3000)
    assert (seeded.resources, seeded.entries) == (1000, 3000)
    photos = await connect(sandbox, "photos")
    owner = "person00003"
    expected = sandbox.sandbox.store.scalar(
        "SELECT (SELECT count(*) FROM policies p JOIN resources r ON r.id = p.resource_id "
        "WHERE r.owner_sub = 'user-scale00003') + (SELECT count(*) FROM pending "
        "WHERE owner_sub = 'user-scale00003')"
    )
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = await desk.lookup(photos.id, person=owner, role="owner", offset=offset, limit=25)
        for group in page.groups:
            assert group.owner.username == owner
            seen += [g.id for g in (*group.shares, *group.requests)]
        offset, pages = page.next_offset, pages + 1
    assert len(seen) == len(set(seen)) == expected == 60
    assert pages == 3
    statuses = {
        g.status
        for g in (await desk.lookup(photos.id, person=owner, role="owner", limit=100)).groups
        for g in (*g.shares, *g.requests)
    }
    assert statuses == set(GrantStatus)
