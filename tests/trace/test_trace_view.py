"""The protocol trace page, driven as a user would: rows arrive live, filters, details, exports."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.fixtures import mermaid_grammar
from tests.fixtures.trace_server import OAuthLikeServer, run_login_and_uma_flow
from uma_desktop.gui.trace_view import TraceView
from uma_desktop.trace import TraceRecorder

pytestmark = pytest.mark.gui


def all_model_text(view: TraceView) -> str:
    model = view.model
    texts = []
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                texts.append(str(model.data(index, role)))
    return "\n".join(texts)


def test_rows_arrive_from_other_threads_and_filter(
    qtbot, oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    recorder.name_server(oauth_like_server.url, "as:health")
    recorder.name_connection("conn-1", "health")
    view = TraceView(recorder)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()

    worker = threading.Thread(target=run_login_and_uma_flow, args=(oauth_like_server,))
    worker.start()
    qtbot.waitUntil(lambda: view.model.rowCount() == 10, timeout=10_000)
    worker.join(5)

    assert view.count_label.text() == "10 exchanges"
    first = view.model.index(0, 0)
    assert [view.model.data(first.siblingAtColumn(c)) for c in (1, 2, 3, 4)] == [
        "app:health",
        "as:health",
        "GET",
        "/.well-known/uma2-configuration",
    ]

    view.set_actor_filter("rqp:bob")
    assert view.proxy.rowCount() == 4 and view.count_label.text() == "4 of 10 exchanges"
    assert {e.actor for e in view.visible_entries()} == {"rqp:bob"}
    view.set_actor_filter("")
    view.set_connection_filter("conn-1")
    assert view.proxy.rowCount() == 6
    assert view.connection_filter.currentText() == "conn-1"
    view.name_connection("conn-1", "Health")
    assert view.connection_filter.currentText() == "Health"

    view.table.selectRow(3)  # the code exchange at the token endpoint
    details = view.details.toPlainText()
    assert "POST http://127.0.0.1:" in details and "grant_type = authorization_code" in details
    assert "‹access_token" in details  # noqa: RUF001

    secrets = oauth_like_server.secrets.values()
    visible = all_model_text(view) + details
    assert not [name for name, value in secrets.items() if value in visible]


def test_exports_write_the_shown_rows(
    qtbot, tmp_path: Path, oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    run_login_and_uma_flow(oauth_like_server)
    view = TraceView(recorder)
    qtbot.addWidget(view)
    view.set_actor_filter("rqp")
    with qtbot.waitSignal(view.exported):
        mermaid = view.export_mermaid(tmp_path / "trace.mmd")
    diagram = mermaid_grammar.parse(mermaid.read_text("utf-8"))
    assert len(diagram.messages) == 8 and diagram.participants[0] == "rqp:bob"
    har = json.loads(view.export_har(tmp_path / "trace.har").read_text("utf-8"))
    assert len(har["log"]["entries"]) == 4

    view.clear()
    assert view.model.rowCount() == 0 and len(recorder) == 0
