"""The Qt-free demo pieces on their own: the scripted demo user and the Demo's guard rails."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from uma_desktop.app import ConnectionStatus, ControlPoint
from uma_desktop.demo import Demo, DemoServerSpec, Outcome, ScriptedUser, parse_forms
from uma_desktop.errors import AuthError, ConfigurationError
from uma_desktop.paths import app_dirs
from uma_desktop.trace import TraceRecorder


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with Demo(TraceRecorder(), servers=(DemoServerSpec("Health"),)) as running:
        yield running


async def test_a_wrong_password_fails_the_login_at_once_with_a_clear_message(
    demo: Demo, tmp_path: Path
) -> None:
    intruder = ScriptedUser("alice", "not-her-password", origins=demo.issuers)
    control = await ControlPoint.open(app_dirs(tmp_path), browser_opener=intruder)
    try:
        connection = await control.add_connection(demo.servers[0].issuer, remember=False)
        async with asyncio.timeout(20):  # far below the 300 s a real user would get
            with pytest.raises(AuthError) as failure:
                await control.login(connection.id)
        assert "demo password" in str(failure.value)
        assert "not-her-password" not in str(failure.value)
        intruder.join()
        assert intruder.errors and "refused" in intruder.errors[0]
        [state] = control.connections()
        assert state.status is not ConnectionStatus.OK
    finally:
        await control.aclose()


def test_the_scripted_user_only_opens_demo_servers(demo: Demo) -> None:
    assert demo.owner.handles(f"{demo.servers[0].issuer}/authorize?x=1")
    assert demo.owner("https://example.org/authorize?client_id=x") is False
    assert demo.browser_opener("https://example.org/") is False


def test_login_forms_are_read_from_the_page() -> None:
    [form] = parse_forms(
        "<form method='POST' action='/authorize/login'><input type='hidden' name='interaction' "
        "value='i-1'><input name='username'><input type='password' name='password'>"
        "<button type='submit' name='decision' value='allow'>Allow</button></form>"
    )
    assert (form.method, form.action, form.has_password) == ("post", "/authorize/login", True)
    assert ("interaction", "i-1") in form.fields and form.submits == [("decision", "allow")]


def test_bad_choices_get_clear_errors(demo: Demo) -> None:
    resource = demo.resource("Health", "Holiday 2026")
    with pytest.raises(ConfigurationError, match="Choose scopes of Holiday 2026"):
        demo.request_access("bob", resource, ["fly"])
    with pytest.raises(ConfigurationError, match="Choose scopes"):
        demo.request_access("bob", resource, [])
    with pytest.raises(ConfigurationError, match="not one of the demo's people"):
        demo.request_access("mallory", resource, ["view"])
    with pytest.raises(ConfigurationError, match="no demo server called 'Bank'"):
        demo.server("Bank")
    with pytest.raises(ConfigurationError, match="no demo resource"):
        demo.resource("Health", "Diary")


def test_a_request_goes_through_the_real_grant_and_waits_for_alice(demo: Demo) -> None:
    catalog = demo.catalog()
    assert {r.resource_server for r in catalog} == {"photos", "health", "calendar"}
    assert all(r.server == "Health" for r in catalog)
    assert "Running log" not in {r.name for r in catalog}  # bob's, not alice's
    attempt = demo.request_access("carol", demo.resource("Health", "Cat pictures"), ["view"])
    assert attempt.outcome is Outcome.PENDING and attempt.interval > 0
    again = demo.retry(attempt)  # alice has not decided yet
    assert again.outcome is Outcome.PENDING and again.tries == 2
    assert demo.recorder is not None
    actors = {e.actor for e in demo.recorder.entries()}
    assert {"rqp:carol", "rs:photos@health"} <= actors


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        demo = Demo(servers=(DemoServerSpec("Health", port),))
        with demo:
            assert demo.servers[0].issuer != f"http://127.0.0.1:{port}"
            assert demo.password_of("alice")
        demo.stop()  # stopping twice is fine
        assert demo.servers == []
