"""The window's history table says which decisions have no known outcome (real history file)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from uma_desktop.app.history import INTERRUPTED_NOTE, SENT_NOTE, History
from uma_desktop.domain import Decision
from uma_desktop.gui.models import HistoryModel
from uma_desktop.paths import app_dirs

pytestmark = pytest.mark.gui

RESULT = 6


def test_history_table_shows_done_failed_and_unknown_outcomes(app_home: Path) -> None:
    history = History(app_dirs().ensure().data)
    history.open()

    def decision(resource: str, **outcome: Any) -> Decision:
        done = Decision(
            "home", "approve", resource, resource, "Bob Brown (bob)", ("view",),
            datetime.now(UTC), ok=True,
        )  # fmt: skip
        return replace(done, **outcome)

    history.record(decision("done"))
    history.record(decision("failed", ok=False, detail="server down"))
    history.settle(
        history.begin(decision("cut")),
        decision("cut", ok=False, settled=False, detail=INTERRUPTED_NOTE),
    )
    history.begin(decision("sent"))  # the process died before the answer

    model = HistoryModel(str)
    model.set_rows(history.recent())
    shown = {
        model.row_object(row).resource_name: model.index(row, RESULT).data(
            Qt.ItemDataRole.DisplayRole
        )
        for row in range(model.rowCount())
    }
    assert shown == {
        "done": "done",
        "failed": "failed: server down",
        "cut": f"unknown: {INTERRUPTED_NOTE}",
        "sent": f"unknown: {SENT_NOTE}",
    }
