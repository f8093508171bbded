"""A review across a sandbox and the real Keycloak: keep, revoke, narrow and set-expiry; the
expiry Keycloak cannot keep is kept by the app and revoked by `expire --due` once due."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.keycloak import KeycloakServer, account_json, create_resource, delete_resource
from tests.fixtures.owner import OwnerApi, connect
from uma_desktop import cli, net
from uma_desktop.app import ControlPoint
from uma_desktop.app.expiry import ENFORCED_LABEL, ExpiryStore
from uma_desktop.app.review import Outcome, ReviewItem, ReviewSession, collect_shares
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.sandbox import SandboxServer

pytestmark = pytest.mark.keycloak


@pytest.fixture
def shared_notes(keycloak: KeycloakServer) -> Iterator[tuple[str, str]]:
    name = f"Review notes {datetime.now(UTC).timestamp():.0f}"
    resource_id = create_resource(keycloak, "alice", name, ["view", "edit"])
    yield name, resource_id
    delete_resource(keycloak, resource_id)


def grants(keycloak: KeycloakServer, resource_id: str) -> dict[str, list[str]]:
    found: Any = account_json(keycloak, "alice", f"resources/{resource_id}/permissions")
    return {p["username"]: sorted(p["scopes"]) for p in found}


def pick(items: list[ReviewItem], resource: str, username: str) -> ReviewItem:
    return next(
        i for i in items if i.resource.name == resource and i.share.party.username == username
    )


async def test_review_across_sandbox_and_keycloak_with_app_kept_expiry(
    control: ControlPoint,
    memory_vault: MemoryVault,
    app_home: Path,
    keycloak: KeycloakServer,
    sandbox: SandboxServer,
    shared_notes: tuple[str, str],
) -> None:
    notes, notes_id = shared_notes
    [sandbox_id] = await connect(control, sandbox)
    kc = await control.add_connection(keycloak.issuer, display_name="Keycloak")
    await control.login(kc.id)
    await control.share(kc.id, notes_id, "bob", ["view", "edit"])
    await control.share(kc.id, notes_id, "carol", ["view"])
    cats = sandbox.resource_id("Cat pictures")
    await control.share(sandbox_id, cats, "dave", ["view"])

    session = ReviewSession(control)
    items = await session.load()
    assert not session.failures
    servers = {i.server for i in items}
    assert servers >= {"Keycloak", sandbox.name}
    bob, carol = (pick(items, notes, u) for u in ("bob", "carol"))
    dave = pick(items, "Cat pictures", "dave")
    assert bob.share.connection_id == kc.id
    reviewed_before, total = session.progress()

    kept = await session.keep([pick(items, "Family portraits", "bob")])
    narrowed = await session.narrow([bob], ["edit"])
    revoked = await session.revoke([dave])
    due = datetime.now(UTC) + timedelta(days=7)
    expiring = await session.set_expiry([carol], due)
    native_due = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    native = await session.set_expiry([pick(items, "Work calendar", "carol")], native_due)
    assert all(r.ok for r in (*kept, *narrowed, *revoked, *expiring, *native)), [
        r.error for r in (*kept, *narrowed, *revoked, *expiring, *native)
    ]
    assert grants(keycloak, notes_id) == {"bob": ["view"], "carol": ["view"]}
    assert OwnerApi(sandbox).policy_of("Cat pictures", "dave") is None
    assert session.progress() == (reviewed_before + 5, total)
    # The sandbox keeps its expiry itself; Keycloak's is kept by the app.
    assert OwnerApi(sandbox).policy_of("Work calendar", "carol")["expires_at"] == int(  # type: ignore[index]
        native_due.timestamp()
    )
    [kept_due] = ExpiryStore(control.dirs.data).load()
    assert (kept_due.connection_id, kept_due.resource_id, kept_due.person) == (
        kc.id,
        notes_id,
        "carol",
    )
    reloaded = await ReviewSession(control).load()
    assert pick(reloaded, notes, "carol").expiry_text.startswith(ENFORCED_LABEL)
    assert pick(reloaded, notes, "carol").outcome is Outcome.EXPIRY_SET
    actions = [(d.connection_id, d.action, d.ok) for d in control.history()[:5]]
    assert sorted(actions) == sorted([
        (sandbox_id, "keep", True), (kc.id, "narrow", True), (sandbox_id, "revoke", True),
        (kc.id, "set-expiry", True), (sandbox_id, "set-expiry", True),
    ])  # fmt: skip
    await control.aclose()

    # `uma-desktop expire --due` before the date: nothing; after it (clock injected): revoked.
    async def expire(at: datetime) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(
            cli.run,
            ["expire", "--due", "--json"],
            out=out,
            err=err,
            browser_opener=form_browser("alice", "alice"),
            vault_factory=lambda remember: memory_vault,
            clock=lambda: at,
        )
        return code, out.getvalue() + err.getvalue()

    code, said = await expire(due - timedelta(hours=1))
    assert code == 0 and json.loads(said)["items"] == []
    assert grants(keycloak, notes_id) == {"bob": ["view"], "carol": ["view"]}
    code, said = await expire(due + timedelta(hours=1))
    assert code == 0, said
    assert "expired: Carol" in said and "enforced by UMA Desktop" in said
    assert grants(keycloak, notes_id) == {"bob": ["view"]}
    out = io.StringIO()
    await asyncio.to_thread(
        cli.run,
        ["history", "--json"],
        out=out,
        err=io.StringIO(),
        vault_factory=lambda r: memory_vault,
    )
    newest = json.loads(out.getvalue())["items"][0]
    assert (newest["action"], newest["ok"], newest["resource_name"]) == ("expire", True, notes)
    assert newest["extra"]["enforced_by"] == "UMA Desktop"
    assert "carol" in newest["party"].lower()


async def test_the_review_reads_keycloak_shares_without_one_request_per_resource(
    control: ControlPoint, keycloak: KeycloakServer, shared_notes: tuple[str, str]
) -> None:
    _, notes_id = shared_notes
    kc = await control.add_connection(keycloak.issuer, display_name="Keycloak")
    await control.login(kc.id)
    await control.share(kc.id, notes_id, "bob", ["view"])
    sent: list[net.Exchange] = []
    net.add_listener(sent.append)
    try:
        [result] = await collect_shares(control)
    finally:
        net.remove_listener(sent.append)
    assert result.error is None
    assert {(r.id, s.party.username, s.scopes) for r, s in result.value or []} >= {
        (notes_id, "bob", ("view",))
    }
    # One page of resources and one of shared resources; no resource read on its own.
    paths = sorted(httpx.URL(e.url).path.rsplit("/account/", 1)[-1] for e in sent)
    assert paths == ["resources", "resources/shared-with-others"], paths
