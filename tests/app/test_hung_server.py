"""Logging out of, or removing, a connection whose server hangs never waits for that server
(tests/fixtures/hostile.py drips its discovery documents one byte a second)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.fixtures.hostile import Answer, HostileServer
from uma_desktop.app import ControlPoint
from uma_desktop.errors import LoginRequiredError

DISCOVERY = ("/.well-known/uma2-configuration", "/.well-known/openid-configuration")


async def _hang_while_reading(hostile: HostileServer, control: ControlPoint) -> asyncio.Task[Any]:
    """Start a read that waits on the dripping discovery; return once the server holds it."""
    asked = len(hostile.requests_to(DISCOVERY[0]))
    reading = asyncio.ensure_future(control.resources())
    while len(hostile.requests_to(DISCOVERY[0])) == asked:
        await asyncio.sleep(0.01)  # condition polling: the server runs in its own thread
    return reading


async def test_logout_and_remove_do_not_wait_for_a_hung_server(
    hostile: HostileServer,
    open_control: Callable[..., Any],
    report_figure: Callable[[str], None],
) -> None:
    hostile.serve_discovery()
    connection = await (await open_control()).add_connection(hostile.base)
    for path in DISCOVERY:  # from now on the server hangs, as a fresh process finds it
        hostile.route(path, Answer.json(hostile.metadata()).dripped(1.0))
    control: ControlPoint = await open_control()

    reading = await _hang_while_reading(hostile, control)
    started = time.monotonic()
    await control.logout(connection.id)
    logout_took = time.monotonic() - started
    [result] = await reading
    assert isinstance(result.error, LoginRequiredError)
    assert "logged out meanwhile" in result.error.user_message

    reading = await _hang_while_reading(hostile, control)
    started = time.monotonic()
    await control.remove_connection(connection.id)
    remove_took = time.monotonic() - started
    await reading
    assert control.connections() == []
    assert logout_took < 1.0 and remove_took < 1.0
    report_figure(f"logout {logout_took:.3f} s, remove {remove_took:.3f} s while discovery hangs")
