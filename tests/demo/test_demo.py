"""The whole demo as a demoer runs it, in the real window against two real sandboxes.

bob asks through the real UMA grant → alice's inbox shows it → alice approves a subset →
bob reads exactly that; carol asks → alice denies → carol is refused. Then nothing secret
that crossed the wire is in the trace view, its exports or the logs, and the Mermaid
export parses and shows the messages in order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.fixtures import mermaid_grammar
from tests.fixtures.demo import WAIT, DemoApp
from tests.fixtures.wire import wire_secrets_by_kind
from uma_desktop import net
from uma_desktop.demo import Attempt, Demo, DemoServerSpec, Outcome
from uma_desktop.domain import AccessRequest
from uma_desktop.gui.app import launch
from uma_desktop.gui.demo_panel import RequestingPartyPanel, start_demo
from uma_desktop.gui.trace_view import TraceView
from uma_desktop.paths import app_dirs
from uma_desktop.trace import SECRET_KEYS, entry_as_text, to_har_json, to_mermaid

pytestmark = pytest.mark.gui

SCREENSHOTS = os.environ.get("UMA_DEMO_SCREENSHOTS")  # a folder: save the demo's screenshots


def screenshot(window: Any, name: str) -> None:
    """Save the window as the user sees it (when UMA_DEMO_SCREENSHOTS names a folder)."""
    if SCREENSHOTS:
        QApplication.processEvents()  # let pending layouts settle before painting
        window.grab().save(str(Path(SCREENSHOTS) / name))


def inbox_request(app: DemoApp, person: str, resource: str) -> AccessRequest | None:
    for request in app.window.requests_page.model.rows():
        if request.requester.username == person and request.resource_name == resource:
            return request
    return None


def latest(panel: RequestingPartyPanel, number: int) -> Attempt:
    return next(a for a in panel.attempts() if a.number == number)


def ask(qtbot: Any, panel: RequestingPartyPanel, *choice: Any) -> Attempt:
    before = len(panel.attempts())
    panel.choose(*choice)
    qtbot.mouseClick(panel.request_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.attempts()) > before, timeout=WAIT)
    return panel.attempts()[-1]


def retry_until(qtbot: Any, panel: RequestingPartyPanel, number: int, outcome: Outcome) -> Attempt:
    """Select the request and press "Try again now" (the timer may beat us to it: fine)."""
    panel.table.selectRow(panel._row_of(number))
    if panel.retry_button.isEnabled():
        qtbot.mouseClick(panel.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: latest(panel, number).outcome is outcome, timeout=WAIT)
    return latest(panel, number)


def test_bob_gets_what_alice_approves_and_carol_is_refused(
    qtbot: Any,
    demo_app: DemoApp,
    raw_exchanges: list[net.Exchange],
    tmp_path: Path,
    log_text: list[str],
) -> None:
    window, session = demo_app.window, demo_app.demo_session
    controller = window.controller
    assert sorted(s.connection.display_name for s in controller.states.values()) == [
        "Health",
        "Photos",
    ]
    assert {s.status.value for s in controller.states.values()} == {"ok"}
    assert demo_app.demo.owner.errors == []

    # --- bob asks for two scopes on a photo album ----------------------------------------
    window.show_page("requesting-party")
    panel = session.panel
    assert panel is not None
    assert {panel.person.itemData(i) for i in range(panel.person.count())} == {"bob", "carol"}
    assert (
        len({panel.resource.itemData(i).resource_server for i in range(panel.resource.count())})
        >= 3
    )
    bob = ask(qtbot, panel, "bob", "Photos", "Holiday 2026", ("view", "download"))
    qtbot.waitUntil(lambda: latest(panel, bob.number).outcome is Outcome.PENDING, timeout=WAIT)
    assert panel.table.item(panel._row_of(bob.number), 4).text() == "Waiting for alice"

    # --- alice's inbox shows it; she approves only "view" --------------------------------
    window.show_page("requests")
    inbox = window.requests_page
    qtbot.waitUntil(
        lambda: inbox_request(demo_app, "bob", "Holiday 2026") is not None, timeout=WAIT
    )
    request = inbox_request(demo_app, "bob", "Holiday 2026")
    assert request is not None and sorted(request.scopes) == ["download", "view"]
    assert controller.server_name(request.connection_id) == "Photos"
    inbox.select_requests([request.key])
    inbox.scope_boxes["download"].setChecked(False)
    assert inbox.checked_scopes() == ["view"]
    screenshot(window, "demo-inbox.png")
    inbox.approve_action.trigger()
    qtbot.waitUntil(lambda: inbox_request(demo_app, "bob", "Holiday 2026") is None, timeout=WAIT)

    # --- bob tries again and reads with exactly "view" -----------------------------------
    window.show_page("requesting-party")
    granted = retry_until(qtbot, panel, bob.number, Outcome.GRANTED)
    assert granted.granted_scopes == ("view",)
    assert granted.content == {"photos": ["beach.jpg", "harbour.jpg", "sunset.jpg"]}
    assert panel.table.item(panel._row_of(bob.number), 5).text() == "view"
    assert "beach.jpg" in panel.result.toPlainText()

    # --- carol asks for health data; alice denies; carol is refused ----------------------
    carol = ask(qtbot, panel, "carol", "Health", "Blood tests 2026", ("read",))
    qtbot.waitUntil(lambda: latest(panel, carol.number).outcome is Outcome.PENDING, timeout=WAIT)
    window.show_page("requests")

    def carols() -> list[AccessRequest]:
        return [
            r
            for r in inbox.model.rows()
            if r.requester.username == "carol"
            and controller.server_name(r.connection_id) == "Health"
        ]

    qtbot.waitUntil(lambda: bool(carols()), timeout=WAIT)
    inbox.select_requests([r.key for r in carols()])
    inbox.deny_action.trigger()
    qtbot.waitUntil(lambda: not carols(), timeout=WAIT)
    window.show_page("requesting-party")
    refused = retry_until(qtbot, panel, carol.number, Outcome.DENIED)
    assert panel.table.item(panel._row_of(refused.number), 4).text() == "Refused"
    assert "cannot read it" in panel.result.toPlainText()
    panel.table.selectRow(panel._row_of(bob.number))
    screenshot(window, "demo-requesting-party.png")

    # --- the trace: everyone is there, nothing secret is -----------------------------------
    window.show_page("trace")
    trace = session.trace_view
    assert isinstance(trace, TraceView)
    actors = {e.actor for e in trace.model.entries()}
    assert {"app:health", "app:photos", "browser:alice", "rqp:bob", "rqp:carol"} <= actors
    assert {"rs:photos@photos", "rs:health@health"} <= actors
    trace.set_actor_filter("rqp:bob")
    submitted_row = next(
        row for row, e in enumerate(trace.visible_entries()) if "request_submitted" in e.outcome
    )
    trace.table.selectRow(submitted_row)
    assert "ticket = ‹ticket " in trace.details.toPlainText()  # noqa: RUF001
    screenshot(window, "demo-trace.png")
    mermaid_file = trace.export_mermaid(tmp_path / "bob.mmd")
    har_file = trace.export_har(tmp_path / "bob.har")
    trace.set_actor_filter("")

    everything = trace.model.entries()
    model_text = [
        str(trace.model.data(trace.model.index(row, column), role))
        for row in range(trace.model.rowCount())
        for column in range(trace.model.columnCount())
        for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)
    ]
    log_files = [
        p.read_text("utf-8", "replace") for p in Path(os.environ["UMA_DESKTOP_HOME"]).rglob("*.log")
    ]
    sources = {
        "trace model": "\n".join(model_text),
        "details pane": "\n".join(entry_as_text(e) for e in everything),
        "Mermaid export": mermaid_file.read_text("utf-8") + to_mermaid(everything),
        "HAR export": har_file.read_text("utf-8") + to_har_json(everything),
        "logs": "\n".join([*log_text, *log_files]),
    }
    secrets = wire_secrets_by_kind(raw_exchanges)
    for kind in ("access_token", "refresh_token", "id_token", "code", "code_verifier", "ticket",
                 "client_secret", "claim_token", "state", "authorization"):  # fmt: skip
        assert secrets.get(kind), f"the scenario sent no {kind}: the check would prove nothing"
    leaks = sorted(
        (kind, where)
        for kind, values in secrets.items()
        for where, text in sources.items()
        if any(value in text for value in values)
    )
    assert leaks == [], f"secret values visible (kind, where): {leaks}"
    visible = "\n".join(sources.values())
    # Demo passwords equal the user names, so look for them where a password would be.
    assert "password=alice" not in visible and "password=bob" not in visible
    assert "password=‹password›" in visible  # noqa: RUF001

    # --- the Mermaid export parses and tells bob's story in order --------------------------
    diagram = mermaid_grammar.parse(mermaid_file.read_text("utf-8"))
    assert diagram.participants[0] == "rqp:bob"
    assert {"rs:photos@photos", "as:photos"} <= set(diagram.participants)
    story = [(m.source, m.target, m.text) for m in diagram.messages]
    expected = [
        ("rqp:bob", "rs:photos@photos", "GET /rs/photos/resources/"),
        ("rs:photos@photos", "rqp:bob", "401 UMA ticket"),
        ("rqp:bob", "as:photos", "GET /.well-known/uma2-configuration"),
        ("rqp:bob", "as:photos", "POST /token (authorization_code)"),
        ("rqp:bob", "as:photos", "POST /token (uma-ticket)"),
        ("as:photos", "rqp:bob", "403 request_submitted"),
        ("rqp:bob", "as:photos", "POST /token (uma-ticket)"),
        ("as:photos", "rqp:bob", "200"),
        ("rqp:bob", "rs:photos@photos", "GET /rs/photos/resources/"),
        ("rs:photos@photos", "rqp:bob", "200"),
    ]
    position = 0
    for source, target, text in expected:
        while position < len(story) and not (
            story[position][:2] == (source, target) and story[position][2].startswith(text)
        ):
            position += 1
        assert position < len(story), (
            f"missing, or out of order: {source} -> {target}: {text}",
            "\n".join(map(str, story)),
        )
        position += 1
    assert set(SECRET_KEYS) >= {"ticket", "pct", "rpt", "code", "password", "client_secret"}


def test_a_demo_that_cannot_sign_in_says_why(
    qtbot: Any, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Demo, "password_of", lambda self, username: "forgotten")
    session = launch(app_dirs(app_home), poll_interval=None)
    qtbot.waitUntil(lambda: session.window is not None or session.error is not None, timeout=WAIT)
    assert session.window is not None, session.error
    qtbot.addWidget(session.window)
    demo = Demo(servers=(DemoServerSpec("Health"),))
    demo_session = start_demo(session.window, session.bridge, demo=demo)
    try:
        qtbot.waitUntil(lambda: demo_session.error is not None, timeout=WAIT)
        assert "demo password" in demo_session.error
        assert "forgotten" not in demo_session.error
        assert demo_session.panel is None
        assert "could not start" in session.window.statusBar().currentMessage()
    finally:
        demo_session.stop()
        session.close()
