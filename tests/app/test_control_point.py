"""The ControlPoint against two real sandboxes: one list, decisions, sharing, failures."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.owner import OwnerApi, ask, connect
from uma_desktop import net
from uma_desktop.app import ConnectionStatus, ControlPoint, NewRequests
from uma_desktop.backends.base import Capability
from uma_desktop.domain import AccessRequest, BackendKind
from uma_desktop.errors import ConfigurationError, NotFoundError, ServerUnreachableError
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import Denied, Granted, RequestingParty

ALICE_RESOURCES = {
    "Allergies",
    "Blood tests 2026",
    "Cat pictures",
    "Family calendar",
    "Family portraits",
    "Holiday 2026",
    "Vaccination record",
    "Work calendar",
}


def _requests(results: list[Any]) -> list[AccessRequest]:
    assert all(r.error is None for r in results), [r.error for r in results]
    return [request for r in results for request in r.value]


async def test_resources_of_both_servers_in_one_list(
    control: ControlPoint, two_sandboxes: tuple[SandboxServer, ...]
) -> None:
    home, work = two_sandboxes
    home_id, work_id = await connect(control, home, work)
    states = {s.connection.id: s for s in control.connections()}
    assert states[home_id].connection.kind is BackendKind.POLICY_MANAGER
    assert states[home_id].connection.username == "alice"
    assert Capability.SCOPE_SUBSET in states[work_id].capabilities

    results = await control.resources()
    assert [r.connection_id for r in results] == [home_id, work_id]
    for result in results:
        assert result.error is None and not result.stale
        assert {r.name for r in result.value or []} == ALICE_RESOURCES
    every = [r for result in results for r in result.value or []]
    assert len({r.key for r in every}) == 2 * len(ALICE_RESOURCES)
    portraits = next(r for r in every if r.name == "Family portraits")
    assert portraits.resource_server == "Photo Cloud" and portraits.share_count == 1

    found = await control.resources("calendar")
    assert {r.name for p in found for r in p.value or []} == {"Family calendar", "Work calendar"}
    assert {s.status for s in control.connections()} == {ConnectionStatus.OK}


async def test_adding_needs_a_known_kind_or_a_clear_question(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    with pytest.raises(ConfigurationError, match="https://"):
        await control.add_connection("http://example.org/realms/x")
    with pytest.raises(ServerUnreachableError):
        await control.add_connection(f"http://127.0.0.1:{_closed_port()}")
    connection = await control.add_connection(sandbox.issuer)
    with pytest.raises(ConfigurationError, match="already connected"):
        await control.add_connection(sandbox.issuer + "/")
    [state] = control.connections()
    assert state.status is ConnectionStatus.LOGIN_NEEDED
    [result] = await control.resources()
    assert result.connection_id == connection.id and result.value is None
    assert "log in" in str(result.error).lower()


async def test_approve_a_subset_deny_and_bulk_approve_reach_the_servers(
    control: ControlPoint, two_sandboxes: tuple[SandboxServer, ...]
) -> None:
    home, work = two_sandboxes
    home_id, work_id = await connect(control, home, work)
    bob_asks = await asyncio.to_thread(ask, home, "bob", "Holiday 2026", ["view", "download"])
    await asyncio.to_thread(ask, home, "dave", "Cat pictures", ["view"])
    await asyncio.to_thread(ask, home, "erin", "Allergies", ["read"])
    await asyncio.to_thread(ask, work, "bob", "Work calendar", ["read"])

    pending = _requests(await control.requests())
    by = {(r.connection_id, r.requester.username, r.resource_name): r for r in pending}
    bobs = by[(home_id, "bob", "Holiday 2026")]
    assert set(bobs.scopes) == {"view", "download"}

    decision = await control.approve(bobs, ["view"])
    assert decision.ok and decision.action == "approve" and decision.scopes == ("view",)
    await control.deny(by[(home_id, "dave", "Cat pictures")])

    home_api = OwnerApi(home)
    policy = home_api.policy_of("Holiday 2026", "bob")
    assert policy is not None and policy["resource_scopes"] == ["view"]
    assert bobs.id not in home_api.pending_ids()
    assert ("deny", "Cat pictures") in home_api.history_actions()
    with RequestingParty.for_sandbox(home.config, "bob") as bob:
        granted = await asyncio.to_thread(bob.retry, bob_asks)
    assert isinstance(granted, Granted) and "view" in granted.scopes
    with RequestingParty.for_sandbox(home.config, "dave") as dave:
        again = await asyncio.to_thread(dave.access, home.resource_url("Cat pictures"), ["view"])
    assert isinstance(again, Denied)

    rest = _requests(await control.requests())
    assert {(r.connection_id, r.requester.username) for r in rest} == {
        (home_id, "erin"), (home_id, "carol"), (work_id, "bob"), (work_id, "carol"),
    }  # fmt: skip
    decisions = await control.bulk("approve", rest)
    assert all(d.ok for d in decisions), [d.detail for d in decisions]
    assert _requests(await control.requests()) == []
    assert OwnerApi(work).policy_of("Work calendar", "bob")["resource_scopes"] == ["read"]  # type: ignore[index]
    assert home_api.policy_of("Allergies", "erin") is not None
    assert home_api.pending_ids() == set()

    history = control.history()
    assert [d.action for d in history].count("approve") == 5
    assert history[-1].action == "approve" and history[-1].scopes == ("view",)


async def test_share_narrow_and_revoke_reach_the_server(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [cid] = await connect(control, sandbox)
    api = OwnerApi(sandbox)
    cats = sandbox.resource_id("Cat pictures")
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    await control.share(cid, cats, "dave@example.test", ["view", "download"], expires)
    policy = api.policy_of("Cat pictures", "dave")
    assert policy is not None
    assert sorted(policy["resource_scopes"]) == ["download", "view"]
    assert policy["expires_at"] == int(expires.timestamp())
    [share] = await control.shares(cid, cats)
    assert share.party.username == "dave" and share.expires_at == expires

    await control.share(cid, cats, "erin", ["view"])
    await control.revoke(cid, cats, "dave", ["download"])
    assert api.policy_of("Cat pictures", "dave")["resource_scopes"] == ["view"]  # type: ignore[index]
    await control.revoke(cid, cats, "dave")
    assert api.policy_of("Cat pictures", "dave") is None
    assert api.policy_of("Cat pictures", "erin") is not None
    assert [s.party.username for s in await control.shares(cid, cats)] == ["erin"]

    with pytest.raises(NotFoundError, match="nobody-here"):
        await control.share(cid, cats, "nobody-here", ["view"])
    with pytest.raises(ConfigurationError, match="past"):
        await control.share(cid, cats, "erin", ["view"], datetime(2020, 1, 1, tzinfo=UTC))
    actions = [(d.action, d.ok) for d in control.history()]
    assert actions == [
        ("share", False), ("revoke", True), ("narrow", True), ("share", True), ("share", True),
    ]  # fmt: skip
    assert ("narrow", "Cat pictures") in api.history_actions()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_one_server_down_keeps_the_other_working_and_nothing_is_lost(
    control: ControlPoint,
    two_sandboxes: tuple[SandboxServer, ...],
    open_control: Any,
) -> None:
    home, work = two_sandboxes
    home_id, work_id = await connect(control, home, work)
    await control.resources()
    before = _requests(await control.requests())
    await asyncio.to_thread(ask, home, "bob", "Holiday 2026", ["view"])
    work.stop()

    results = {r.connection_id: r for r in await control.resources()}
    assert results[home_id].error is None and not results[home_id].stale
    down = results[work_id]
    assert isinstance(down.error, ServerUnreachableError) and down.stale
    assert {r.name for r in down.value or []} == ALICE_RESOURCES
    states = {s.connection.id: s for s in control.connections()}
    assert states[work_id].status is ConnectionStatus.STALE
    assert "connect" in states[work_id].message.lower()
    assert states[home_id].status is ConnectionStatus.OK

    requests = {r.connection_id: r for r in await control.requests()}
    assert requests[work_id].stale and requests[work_id].value
    home_requests = requests[home_id].value or []
    bob = next(r for r in home_requests if r.requester.username == "bob")
    assert (await control.approve(bob)).ok
    offline = next(r for r in before if r.connection_id == work_id)
    with pytest.raises(ServerUnreachableError):
        await control.approve(offline)
    assert [(d.connection_id, d.ok) for d in control.history()[:2]] == [
        (work_id, False), (home_id, True),
    ]  # fmt: skip
    await control.aclose()

    reopened: ControlPoint = await open_control()
    try:
        cached = {r.connection_id: r for r in reopened.cached_resources()}
        assert {r.name for r in cached[work_id].value or []} == ALICE_RESOURCES
        assert len(reopened.history()) == 2
    finally:
        await reopened.aclose()


async def test_a_server_that_never_answers_does_not_hold_up_the_other(
    open_control: Any, two_sandboxes: tuple[SandboxServer, ...]
) -> None:
    home, work = two_sandboxes
    control: ControlPoint = await open_control(timeout=1.5)
    try:
        home_id, work_id = await connect(control, home, work)
        await control.resources()
        work.stop()
        # Something now accepts connections on the old port but never answers.
        silent = socket.socket()
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", work.port))
        silent.listen(16)
        try:
            started = asyncio.get_running_loop().time()
            results = {r.connection_id: r for r in await control.resources()}
            elapsed = asyncio.get_running_loop().time() - started
        finally:
            silent.close()
        assert results[home_id].error is None
        assert isinstance(results[work_id].error, ServerUnreachableError)
        assert "did not answer" in str(results[work_id].error)
        assert results[work_id].stale
        assert elapsed < 5
    finally:
        await control.aclose()


async def test_polling_announces_each_new_request_once(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [cid] = await connect(control, sandbox)
    events: list[NewRequests] = []
    arrived = asyncio.Event()

    def listener(event: object) -> None:
        if isinstance(event, NewRequests):
            events.append(event)
            arrived.set()

    unsubscribe = control.subscribe(listener)
    first = await control.poll_once()
    assert [r.requester.username for r in first] == ["carol"]  # the seeded request
    assert await control.poll_once() == []

    arrived.clear()
    control.start_polling(interval=0.2)
    try:
        await asyncio.to_thread(ask, sandbox, "erin", "Cat pictures", ["view"])
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await control.stop_polling()
    assert [r.requester.username for r in events[-1].requests] == ["erin"]
    assert events[-1].requests[0].connection_id == cid
    unsubscribe()
    await asyncio.to_thread(ask, sandbox, "dave", "Cat pictures", ["view"])
    assert len(await control.poll_once()) == 1
    assert len(events) == 2


async def test_logout_then_login_needed_and_no_token_ever_written(
    control: ControlPoint, two_sandboxes: tuple[SandboxServer, ...], app_home: Any
) -> None:
    seen: list[bytes] = []

    def capture(exchange: net.Exchange) -> None:
        for name, value in exchange.request_headers:
            if name.lower() == "authorization" and value.startswith("Bearer "):
                seen.append(value[7:].encode())
        if exchange.url.endswith("/token") and exchange.response_body.startswith(b"{"):
            import json

            body = json.loads(exchange.response_body)
            seen.extend(
                str(body[k]).encode()
                for k in ("access_token", "refresh_token", "id_token")
                if k in body
            )

    net.add_listener(capture)
    try:
        ids = await connect(control, *two_sandboxes)
        await control.resources()
        await control.requests()
        await control.shared_with_me()
        await control.logout(ids[0])
    finally:
        net.remove_listener(capture)
    assert len(seen) > 4
    states = {s.connection.id: s.status for s in control.connections()}
    assert states[ids[0]] is ConnectionStatus.LOGIN_NEEDED
    [result] = await control.resources(connection_id=ids[0])
    assert result.stale and result.value  # the snapshot is still shown
    files = [p for p in app_home.rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        for token in seen:
            assert token not in content, f"a token was written to {path}"


async def test_shared_with_me_lists_what_others_gave_alice(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    await connect(control, sandbox)
    [result] = await control.shared_with_me()
    assert result.error is None
    [item] = result.value or []
    assert item.resource.name == "Running log"
    assert item.owner is not None and item.owner.username == "bob"
    assert item.scopes == ("read",)


async def test_device_login(open_control: Any, sandbox_factory: Any) -> None:
    from tests.fixtures.browser import device_completer

    sandbox = sandbox_factory(device_interval=1)  # poll every second, not every five

    on_code, user = device_completer("alice", "alice")
    control: ControlPoint = await open_control(browser_opener=form_browser("x", "y"))
    try:
        connection = await control.add_connection(sandbox.issuer)
        state = await control.login(connection.id, device=True, on_device_code=on_code)
        user.wait()
        assert state.status is ConnectionStatus.OK
        assert state.connection.username == "alice"
        [result] = await control.resources()
        assert {r.name for r in result.value or []} == ALICE_RESOURCES
    finally:
        await control.aclose()


async def test_a_declined_login_says_so_and_keeps_the_connection(
    open_control: Any, sandbox: SandboxServer
) -> None:
    from uma_desktop.errors import AuthError

    control: ControlPoint = await open_control(
        browser_opener=form_browser("alice", "alice", decision="deny")
    )
    try:
        connection = await control.add_connection(sandbox.issuer)
        with pytest.raises(AuthError, match="declined"):
            await control.login(connection.id)
        [state] = control.connections()
        assert state.status is ConnectionStatus.LOGIN_NEEDED
        assert "declined" in state.message
    finally:
        await control.aclose()


async def test_bulk_deny_reports_each_outcome(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    await connect(control, sandbox)
    await asyncio.to_thread(ask, sandbox, "bob", "Cat pictures", ["view"])
    pending = _requests(await control.requests())
    assert len(pending) == 2
    decisions = await control.bulk("deny", pending)
    assert [d.ok for d in decisions] == [True, True]
    again = await control.bulk("deny", pending)  # already decided: each says why
    assert [d.ok for d in again] == [False, False]
    assert all("not_found" in d.detail or "404" in d.detail for d in again)
    assert OwnerApi(sandbox).pending_ids() == set()
