"""For a room with a projector: names are readable at the default window size, and the
presenter zoom makes every text larger and is remembered."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QAction, QFontMetrics
from PySide6.QtWidgets import QApplication

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from uma_desktop.gui.models import ResourcesModel

pytestmark = pytest.mark.gui


def test_names_are_readable_at_the_default_window_size(
    qtbot: Any, gui_app: Any, sandbox_factory: Any
) -> None:
    home, work = sandbox_factory(name="Home"), sandbox_factory(name="Work")
    window = gui_app(form_browser("alice", "alice"))
    window.show()
    assert (window.width(), window.height()) == (1200, 760)  # the size a first start gets
    log_in(qtbot, window, home.issuer, name="Home")
    log_in(qtbot, window, work.issuer, name="Work")
    page = window.resources_page
    qtbot.waitUntil(lambda: page.proxy.rowCount() >= 16, timeout=WAIT)
    table = page.table
    metrics = QFontMetrics(table.font())
    longest = max(
        metrics.horizontalAdvance(str(page.proxy.index(row, ResourcesModel.NAME).data()))
        for row in range(page.proxy.rowCount())
    )
    qtbot.waitUntil(lambda: table.columnWidth(ResourcesModel.NAME) > longest, timeout=WAIT)
    # The other columns gave up room, and everything still fits the table's width.
    used = sum(table.columnWidth(c) for c in range(page.model.columnCount()))
    assert used <= table.viewport().width() + 1


def test_presenter_zoom_grows_text_and_is_remembered(qtbot: Any, gui_app: Any) -> None:
    window = gui_app()
    base = QApplication.font().pointSizeF()
    zoom_in = window.findChild(QAction, "zoomIn")
    zoom_out = window.findChild(QAction, "zoomOut")
    actual = window.findChild(QAction, "zoomReset")
    assert [a.shortcut().toString() for a in (zoom_in, zoom_out, actual)] == [
        "Ctrl+=",
        "Ctrl+-",
        "Ctrl+0",
    ]
    try:
        zoom_in.trigger()
        zoom_in.trigger()
        assert QApplication.font().pointSizeF() == pytest.approx(base * 1.3)
        table = window.resources_page.table
        assert table.verticalHeader().defaultSectionSize() == (
            QFontMetrics(QApplication.font()).height() + 10
        )
        gui_app.close(window)
        again = gui_app()  # a restart keeps the presenter's choice
        assert again.zoom.percent == 130
        assert QApplication.font().pointSizeF() == pytest.approx(base * 1.3)
        again.findChild(QAction, "zoomOut").trigger()
        assert again.zoom.percent == 115
        again.findChild(QAction, "zoomReset").trigger()
        assert QApplication.font().pointSizeF() == pytest.approx(base)
    finally:  # the application font is per process: leave it as found
        font = QApplication.font()
        font.setPointSizeF(base)
        QApplication.setFont(font)
