"""Read-only pages: what others shared with me, and the local history of decisions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedLayout, QVBoxLayout, QWidget

from uma_desktop.gui.controller import Controller
from uma_desktop.gui.models import ObjectFilterProxy, ObjectTableModel
from uma_desktop.gui.widgets import DataTable, EmptyState, configure_table


class TablePage(QWidget):
    """A sortable table over one of the controller's models, with an empty state."""

    def __init__(
        self,
        model: ObjectTableModel[Any],
        name: str,
        empty_text: str,
        intro: str,
        widths: list[int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = ObjectFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.table = DataTable()
        self.table.setObjectName(name)
        self.table.setAccessibleName(intro)
        configure_table(self.table)
        self.table.setModel(self.proxy)
        for column, width in enumerate(widths):
            self.table.setColumnWidth(column, width)
        self.empty = EmptyState(empty_text)
        self.stack = QStackedLayout()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        box = QWidget()
        box.setLayout(self.stack)
        heading = QLabel(intro)
        heading.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(box, 1)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._rows_changed)
        self._rows_changed()

    def _rows_changed(self, *_: Any) -> None:
        self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)


def shared_with_me_page(controller: Controller) -> TablePage:
    page = TablePage(
        controller.shared_with_me,
        "sharedWithMeTable",
        "Nothing is shared with you yet.",
        "Resources other people shared with you, on every server.",
        [200, 140, 150, 150, 130],
    )
    page.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    return page


def history_page(controller: Controller) -> TablePage:
    page = TablePage(
        controller.history,
        "historyTable",
        "No decisions yet.\nEverything you approve, deny, share or revoke here is listed.",
        "Every decision taken in this app, newest first (kept on this computer).",
        [130, 70, 180, 130, 130, 120],
    )
    page.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    return page
