"""How often the window reloads, against a real sandbox: bulk decisions reload once at the
end, and reloading again and again does not pile up memory the collector can never free."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.owner import ALICE_RESOURCES, ask, pending
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop.trace import TraceEntry

pytestmark = pytest.mark.gui

ASKED = [
    ("bob", "Holiday 2026", ["view"]),
    ("dave", "Cat pictures", ["view"]),
    ("erin", "Holiday 2026", ["download"]),
    ("bob", "Cat pictures", ["view"]),
]


def is_resource_listing(entry: TraceEntry) -> bool:
    """The first page of the app's resource list (each reload of a server asks for it)."""
    return entry.actor.startswith("app") and entry.method == "GET" and "offset=0" in entry.url


def test_bulk_decisions_reload_the_resources_once(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    home = sandbox_factory(name="Home")
    for username, resource, scopes in ASKED:
        ask(home, username, resource, scopes)
    window = gui_app(form_browser("alice", "alice"))
    log_in(qtbot, window, home.issuer, name="Home")
    controller = window.controller
    inbox = window.requests_page
    expected = len(ASKED) + 1  # and the one the sandbox seeds
    qtbot.waitUntil(
        lambda: (
            inbox.model.rowCount() == expected
            and window.resources_page.model.rowCount() == ALICE_RESOURCES
            and not controller.is_busy()
        ),
        timeout=WAIT,
    )
    recorder = window.show_trace().recorder
    recorder.clear()

    window.show_page("requests")
    inbox.select_requests([r.key for r in inbox.model.rows()])
    assert inbox.approve_button.text() == f"Approve {expected}"
    inbox.approve_action.trigger()
    qtbot.waitUntil(
        lambda: (
            inbox.model.rowCount() == 0
            and not controller.is_busy()
            and not window.resources_page.model.is_loading()
        ),
        timeout=WAIT,
    )

    assert pending(home, sandbox_owner_token(home)) == set()
    listings = [e for e in recorder.entries() if is_resource_listing(e)]
    assert len(listings) == 1, [e.url for e in listings]


def test_reloads_freeze_nothing_more_for_the_collector(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    home = sandbox_factory(name="Home")
    window = gui_app(form_browser("alice", "alice"))
    log_in(qtbot, window, home.issuer, name="Home")
    model, controller = window.resources_page.model, window.controller

    def reload() -> None:
        window.refresh_action.trigger()
        qtbot.waitUntil(lambda: not controller.is_busy() and not model.is_loading(), timeout=WAIT)

    qtbot.waitUntil(
        lambda: model.rowCount() == ALICE_RESOURCES and not controller.is_busy(), timeout=WAIT
    )
    reload()
    frozen = gc.get_freeze_count()
    for _ in range(3):
        reload()
        assert gc.get_freeze_count() <= frozen  # frozen objects may still be freed
    assert model.rowCount() == ALICE_RESOURCES
