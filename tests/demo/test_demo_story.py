"""The demo tells one story: Health holds health records and lab results, Photos holds the
photo cloud and the calendar (no resource twice), and "Reset demo" puts both back as seeded
while alice stays signed in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.demo import WAIT, DemoApp
from tests.fixtures.owner import ask, pending
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.app import ConnectionStatus, ControlPoint
from uma_desktop.demo import DEFAULT_SERVERS, Demo, DemoServerSpec
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer
from uma_desktop.trace import TraceRecorder

SPECS = (DemoServerSpec("Health", 0, "health"), DemoServerSpec("Photos", 0, "photos"))


@pytest.fixture
def demo() -> Iterator[Demo]:
    with Demo(TraceRecorder(), servers=SPECS) as running:
        yield running


def test_each_demo_server_holds_its_own_services(demo: Demo) -> None:
    assert [(s.name, s.seed_profile) for s in DEFAULT_SERVERS] == [
        ("Health", "health"),
        ("Photos", "photos"),
    ]
    by_server: dict[str, set[str]] = {}
    services: dict[str, set[str]] = {}
    for resource in demo.catalog():
        by_server.setdefault(resource.server, set()).add(resource.name)
        services.setdefault(resource.server, set()).add(resource.resource_server_name)
    assert services == {
        "Health": {"Health Records"},
        "Photos": {"Photo Cloud", "Calendar"},
    }
    assert "Blood tests 2026" in by_server["Health"]  # lab results beside the records
    assert not by_server["Health"] & by_server["Photos"]
    for server in demo.servers:  # each inbox has a request waiting
        assert pending(server.server, sandbox_owner_token(server.server))


async def test_reset_restores_the_seed_and_alice_stays_signed_in(
    demo: Demo, tmp_path: Path
) -> None:
    control = await ControlPoint.open(app_dirs(tmp_path), browser_opener=demo.browser_opener)
    try:
        health_id, photos_id = await demo.connect(control)
        health = demo.server("Health").server
        token = sandbox_owner_token(health)
        seeded = pending(health, token)
        await asyncio.to_thread(ask, health, "bob", "Allergies", ["read"])
        requests = {r.connection_id: r.value or [] for r in await control.requests()}
        asked = next(r for r in requests[health_id] if r.requester.username == "bob")
        await control.approve(asked)
        vaccination = health.resource_id("Vaccination record")
        await control.share(health_id, vaccination, "erin", ["read"])
        assert pending(health, token) == seeded  # bob's request was approved

        await asyncio.to_thread(demo.reset)

        assert pending(health, token) == seeded
        assert await control.shares(health_id, health.resource_id("Vaccination record")) == []
        allergies = await control.shares(health_id, health.resource_id("Allergies"))
        assert allergies == []  # bob's approval is gone with the rest
        for state in control.connections():
            assert state.status is not ConnectionStatus.LOGIN_NEEDED
        resources = {r.connection_id: r.value or [] for r in await control.resources()}
        names = {r.name for r in resources[photos_id]}
        assert names == {"Holiday 2026", "Family portraits", "Cat pictures"} | {
            "Work calendar",
            "Family calendar",
        }
    finally:
        await control.aclose()


def test_an_old_data_file_is_brought_to_the_servers_profile(tmp_path: Path) -> None:
    data = tmp_path / "health.sqlite3"
    with SandboxServer("Health", data_path=data) as old:  # an earlier demo: everything
        assert old.seeded_profile() == "full"
    with Demo(TraceRecorder(), servers=(SPECS[0],), data_dir=tmp_path) as demo:
        assert {r.resource_server for r in demo.catalog()} == {"health"}


@pytest.mark.gui
def test_reset_demo_from_the_window(qtbot: Any, demo_app: DemoApp) -> None:
    window, session = demo_app.window, demo_app.demo_session
    inbox = window.requests_page
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 2, timeout=WAIT)  # one seeded each
    health = demo_app.demo.server("Health").server
    ask(health, "bob", "Allergies", ["read"])
    window.controller.poll_now()
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 3, timeout=WAIT)
    assert session.reset_action.text() == "&Reset demo"
    with qtbot.waitSignal(session.reset_done, timeout=WAIT):
        session.reset_action.trigger()
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 2, timeout=WAIT)
    assert session.panel is not None and session.panel.attempts() == []
