"""Widgets the views share: the big-table view and its settings, the empty-state note, and
labels that show text exactly as given (server text is never rendered as HTML)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from uma_desktop.foreground import foreground


class PlainLabel(QLabel):
    """A label whose text is never interpreted as rich text.

    ``QLabel`` guesses: a string that looks like HTML (``<b>``, ``<a href=…>``, ``<img …>``)
    is rendered as HTML. Names, titles and messages come from servers, so every label that
    can show them uses this class and shows the characters as they are.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)


def rich_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows its characters as they are.

    Qt renders a tooltip as HTML when it looks like HTML, and has no plain-text switch for
    tooltips; so the text is escaped and marked up deliberately (line breaks kept).
    """
    if not text:
        return ""
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"


def notification_text(text: str) -> str:
    """``text`` for a desktop notification: some notification services render markup in the
    body and others show it raw, so angle brackets are swapped for look-alikes."""
    return text.replace("<", "\u2039").replace(">", "\u203a")  # single angle quotes


class DataTable(QTableView):
    """A table view that paints in the foreground (see ``uma_desktop.foreground``): the
    core's thread pauses while a repaint asks the Python model for each visible cell."""

    def paintEvent(self, event: QPaintEvent) -> None:
        with foreground():
            super().paintEvent(event)


def configure_table(table: QTableView) -> None:
    """Settings every big table shares: fixed row height (no per-row measuring), row select."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.setSortingEnabled(True)
    table.verticalHeader().hide()
    header = table.verticalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    header.setDefaultSectionSize(table.fontMetrics().height() + 10)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setHighlightSections(False)


class EmptyState(PlainLabel):
    """The muted, centred note a page shows instead of an empty table."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setObjectName("emptyState")
        self.setEnabled(False)  # drawn in the muted text colour of the palette
