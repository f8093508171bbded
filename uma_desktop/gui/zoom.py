"""Presenter mode: View ▸ Zoom in / Zoom out / Actual size (Ctrl+= / Ctrl+- / Ctrl+0) makes
every text in the window larger for a projector; the choice is remembered."""

from __future__ import annotations

from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QTableView

from uma_desktop.gui.settings import UiState

ZOOM_KEY = "zoom_percent"
STEPS = (80, 90, 100, 115, 130, 150, 175, 200, 250)
_started_size: list[float] = []  # the application font's size before any zoom (per process)


def _base_size() -> float:
    if not _started_size:
        _started_size.append(QApplication.font().pointSizeF())
    return _started_size[0]


class Zoom:
    """The application font at ``percent`` of the size it started with."""

    def __init__(self, window: QMainWindow, ui_state: UiState) -> None:
        self.window = window
        self.ui_state = ui_state
        self.base_size = _base_size()
        self.percent = 100
        saved = ui_state.get(ZOOM_KEY, 100)
        self.apply(saved if isinstance(saved, int) and saved in STEPS else 100, remember=False)

    def apply(self, percent: int, *, remember: bool = True) -> None:
        self.percent = percent
        font = QFont(QApplication.font())
        font.setPointSizeF(self.base_size * percent / 100)
        QApplication.setFont(font)
        row_height = QFontMetrics(font).height() + 10
        for table in self.window.findChildren(QTableView):
            # Tables keep a fixed row height (set once for speed): follow the new text size.
            table.verticalHeader().setDefaultSectionSize(row_height)
        if remember:
            self.ui_state.set(ZOOM_KEY, percent)
            self.ui_state.save()

    def zoom_in(self) -> None:
        larger = [step for step in STEPS if step > self.percent]
        if larger:
            self.apply(larger[0])

    def zoom_out(self) -> None:
        smaller = [step for step in STEPS if step < self.percent]
        if smaller:
            self.apply(smaller[-1])

    def reset(self) -> None:
        self.apply(100)


def install_zoom(window: QMainWindow, menu: QMenu, ui_state: UiState) -> Zoom:
    """Add the zoom actions to ``menu`` (the View menu) and apply the remembered zoom."""
    zoom = Zoom(window, ui_state)
    menu.addSeparator()
    for text, keys, slot, name in (
        ("Zoom &in", ("Ctrl+=", "Ctrl++"), zoom.zoom_in, "zoomIn"),
        ("Zoom &out", ("Ctrl+-",), zoom.zoom_out, "zoomOut"),
        ("&Actual size", ("Ctrl+0",), zoom.reset, "zoomReset"),
    ):
        action = QAction(text, window)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(key) for key in keys])
        action.triggered.connect(lambda _=False, run=slot: run())
        menu.addAction(action)
    return zoom
