"""The resources page: every server's resources in one table, with search, filters,
grouping and favourites, and the detail panel of the current resource beside it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.gui.controller import Controller
from uma_desktop.gui.icons import icon
from uma_desktop.gui.models import ObjectFilterProxy, ObjectRole, ResourceRow, ResourcesModel
from uma_desktop.gui.resource_detail import ResourceDetail
from uma_desktop.gui.widgets import DataTable, EmptyState, configure_table

ALL = "__all__"
SEARCH_PAUSE_MS = 50
GROUPS: list[tuple[str, int]] = [
    ("No grouping", -1),
    ("Server", ResourcesModel.SERVER),
    ("Resource server", ResourcesModel.RESOURCE_SERVER),
    ("Type", ResourcesModel.TYPE),
]


class ResourcesPage(QWidget):
    """The table of all resources, plus the detail panel for the current one."""

    COLUMN_WIDTHS = (
        (ResourcesModel.SERVER, 90),
        (ResourcesModel.RESOURCE_SERVER, 120),
        (ResourcesModel.TYPE, 110),
        (ResourcesModel.SCOPES, 150),
        (ResourcesModel.SHARED, 85),
    )
    NAME_SAMPLE = 300  # rows measured for the longest name (the top of the sorted list)

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = controller.resources
        self.proxy = ObjectFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.model.set_star_icons(icon("star-filled"), icon("star"))

        # toolbar: search, filters, grouping
        self.search = QLineEdit()
        self.search.setObjectName("resourceSearch")
        self.search.setPlaceholderText("Search resources (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setAccessibleName("Search resources")
        self.server_filter = self._combo("Filter by server")
        self.rs_filter = self._combo("Filter by resource server")
        self.type_filter = self._combo("Filter by type")
        self.favourites_only = QCheckBox("★ only")
        self.favourites_only.setToolTip("Show only favourites")
        self.favourites_only.setAccessibleName("Show only favourites")
        self.group_by = QComboBox()
        self.group_by.setAccessibleName("Group by")
        for label, _column in GROUPS:
            self.group_by.addItem(label)
        bar = QVBoxLayout()
        first = QHBoxLayout()
        first.addWidget(self.search, 1)
        first.addWidget(self.favourites_only)
        group_label = QLabel("&Group by:")
        group_label.setBuddy(self.group_by)
        first.addWidget(group_label)
        first.addWidget(self.group_by)
        second = QHBoxLayout()
        filter_label = QLabel("Filter:")
        filter_label.setEnabled(False)
        second.addWidget(filter_label)
        second.addWidget(self.server_filter, 1)
        second.addWidget(self.rs_filter, 1)
        second.addWidget(self.type_filter, 1)
        bar.addLayout(first)
        bar.addLayout(second)

        self.table = DataTable()
        self.table.setObjectName("resourcesTable")
        self.table.setAccessibleName("Resources")
        configure_table(self.table)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setModel(self.proxy)
        self.table.sortByColumn(ResourcesModel.NAME, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(ResourcesModel.FAVOURITE, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(ResourcesModel.FAVOURITE, 28)
        for column, width in self.COLUMN_WIDTHS:
            self.table.setColumnWidth(column, width)
        # Names first: the other columns give up room before a name is cut.
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self.fit_columns)
        self.table.viewport().installEventFilter(self)
        self._fitting = False
        self._chosen_widths: dict[int, int] = {}  # columns the person resized themselves
        header.sectionResized.connect(self._section_resized)
        for signal in (self.proxy.modelReset, self.proxy.layoutChanged, self.proxy.rowsInserted):
            signal.connect(self._fit_timer.start)
        self.table.clicked.connect(self._clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.empty = EmptyState("No resources yet.\nAdd a server to see what you have registered.")
        self.stack = QStackedLayout()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        table_box = QWidget()
        table_box.setLayout(self.stack)

        self.count_label = QLabel()
        self.count_label.setObjectName("resourceCount")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(bar)
        left_layout.addWidget(table_box, 1)
        left_layout.addWidget(self.count_label)

        self.detail = ResourceDetail(controller)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("resourcesSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([780, 340])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        # Filtering 20,000 rows is one pass in Python (a few ms): a short pause merges the
        # keys of fast typing without making a slow typist wait for each one.
        self._debounce.setInterval(SEARCH_PAUSE_MS)
        self._debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._debounce.start)
        # filters set together (several combos in one go) are applied once
        self._filter_soon = QTimer(self)
        self._filter_soon.setSingleShot(True)
        self._filter_soon.setInterval(0)
        self._filter_soon.timeout.connect(self.apply_filter)
        for combo in (self.server_filter, self.rs_filter, self.type_filter):
            combo.currentIndexChanged.connect(self._filter_soon.start)
        self.favourites_only.toggled.connect(self._filter_soon.start)
        self.group_by.currentIndexChanged.connect(
            lambda i: self.model.set_group_column(GROUPS[i][1])
        )
        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search)
        fav = QShortcut(QKeySequence("Ctrl+D"), self.table, self.toggle_current_favourite)
        fav.setContext(Qt.ShortcutContext.WidgetShortcut)

        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._update_counts)
        self.proxy.layoutChanged.connect(self._update_counts)  # a new filter is shown
        self.model.loading_finished.connect(self._refresh_filter_choices)
        self.model.loading_finished.connect(self._update_counts)
        self.model.modelReset.connect(self._refresh_filter_choices)
        controller.connections_updated.connect(self._refresh_server_choices)
        self.model.dataChanged.connect(self._current_changed_in_model)
        self._refresh_filter_choices()
        self._update_counts()

    def _combo(self, name: str) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.setToolTip(name)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(10)
        return combo

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # --- filtering -----------------------------------------------------------------------
    def apply_filter(self, *, at_once: bool = False) -> None:
        needle = self.search.text().strip().casefold()
        server = self.server_filter.currentData()
        rs = self.rs_filter.currentData()
        kind = self.type_filter.currentData()
        favourites = self.favourites_only.isChecked()
        if (
            not needle
            and server in (None, ALL)
            and rs in (None, ALL)
            and kind in (None, ALL)
            and not favourites
        ):
            self.proxy.set_predicate(None, at_once=at_once)
        else:
            words = needle.split()

            def accept(row: ResourceRow) -> bool:
                r = row.resource
                return (
                    (server in (None, ALL) or r.connection_id == server)
                    and (rs in (None, ALL) or r.resource_server == rs)
                    and (kind in (None, ALL) or (r.type or "") == kind)
                    and (not favourites or row.favourite)
                    and all(w in row.search_text for w in words)
                )

            self.proxy.set_predicate(accept, at_once=at_once)
        self._update_counts()

    def _refresh_server_choices(self) -> None:
        servers = sorted(
            ((self.controller.server_name(cid), cid) for cid in self.controller.states),
            key=lambda p: p[0].casefold(),
        )
        self._fill(self.server_filter, "All servers", servers)

    def _refresh_filter_choices(self, *_: Any) -> None:
        """Offer the values present in the table (after a load, not on every change)."""
        self._refresh_server_choices()
        rs_names, kinds = self.controller.filter_values()
        rss = sorted(rs_names, key=str.casefold)
        self._fill(self.rs_filter, "All resource servers", [(v, v) for v in rss])
        types = sorted(kinds)
        self._fill(self.type_filter, "All types", [(t or "(no type)", t) for t in types])

    @staticmethod
    def _fill(combo: QComboBox, all_label: str, items: list[tuple[str, str]]) -> None:
        current = combo.currentData()
        wanted = [(all_label, ALL), *items]
        if [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())] == wanted:
            return
        combo.blockSignals(True)
        combo.clear()
        for label, value in wanted:
            combo.addItem(label, value)
        index = combo.findData(current) if current is not None else 0
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def _update_counts(self, *_: Any) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        servers = self.controller.server_count()
        text = f"{total:,} resources on {servers} server{'s' if servers != 1 else ''}"
        if shown != total:
            text = f"{shown:,} of {text}"
        if self.model.is_loading():
            text += " · loading…"
        self.count_label.setText(text)
        if total == 0:
            self.empty.setText(
                "No resources yet.\nAdd a server to see what you have registered."
                if not self.controller.states
                else "No resources on your servers yet."
            )
            self.stack.setCurrentWidget(self.empty)
        elif shown == 0:
            self.empty.setText("No resources match the search and filters.")
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.table)

    # --- selection, favourites -----------------------------------------------------------
    def current_row(self) -> ResourceRow | None:
        index = self.table.currentIndex()
        if not index.isValid() or not self.table.selectionModel().isRowSelected(index.row()):
            return None
        return index.data(ObjectRole)

    def select_resource(self, connection_id: str, resource_id: str) -> bool:
        """Select a resource by identity (clears filters that hide it). Returns success."""
        row = self.model.row_for_key((connection_id, resource_id))
        if row < 0:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(row, ResourcesModel.NAME))
        if not proxy_index.isValid():
            self.search.clear()
            self.apply_filter(at_once=True)
            proxy_index = self.proxy.mapFromSource(self.model.index(row, ResourcesModel.NAME))
        flags = QItemSelectionModel.SelectionFlag
        self.table.selectionModel().setCurrentIndex(proxy_index, flags.ClearAndSelect | flags.Rows)
        self.table.scrollTo(proxy_index)
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_timer.start()
        return super().eventFilter(watched, event)

    def _section_resized(self, column: int, _old: int, new: int) -> None:
        if not self._fitting and column in dict(self.COLUMN_WIDTHS):
            self._chosen_widths[column] = new

    def adopt_column_widths(self) -> None:
        """Keep the widths a restored header state holds where they differ from ours."""
        for column, width in self.COLUMN_WIDTHS:
            if self.table.columnWidth(column) not in (0, width):
                self._chosen_widths[column] = self.table.columnWidth(column)
        self._fit_timer.start()

    def fit_columns(self) -> None:
        self._fitting = True
        try:
            self._fit_columns()
        finally:
            self._fitting = False

    def _fit_columns(self) -> None:
        """Give Name the width its longest (sampled) name needs; the other columns shrink
        towards their header's width first, and Name takes whatever room is left over."""
        available = self.table.viewport().width() - self.table.columnWidth(ResourcesModel.FAVOURITE)
        metrics = self.table.fontMetrics()
        padding = 3 * metrics.averageCharWidth()
        rows = min(self.proxy.rowCount(), self.NAME_SAMPLE)
        name_needed = max(
            [metrics.horizontalAdvance("Name") + padding]
            + [
                metrics.horizontalAdvance(str(self.proxy.index(row, ResourcesModel.NAME).data()))
                + padding
                for row in range(rows)
            ]
        )
        header = self.table.horizontalHeader().model()
        preferred = {**dict(self.COLUMN_WIDTHS), **self._chosen_widths}
        minimum = {
            column: min(
                width,
                metrics.horizontalAdvance(str(header.headerData(column, Qt.Orientation.Horizontal)))
                + padding,
            )
            for column, width in self.COLUMN_WIDTHS
        }
        minimum.update(self._chosen_widths)  # never shrink what the person chose
        spare = available - name_needed - sum(preferred.values())
        if spare >= 0:
            widths = preferred
        else:
            give = sum(preferred[c] - minimum[c] for c in preferred) or 1
            share = min(1.0, -spare / give)
            widths = {
                c: round(preferred[c] - (preferred[c] - minimum[c]) * share) for c in preferred
            }
        for column, width in widths.items():
            if not self.table.isColumnHidden(column):
                self.table.setColumnWidth(column, width)
        used = sum(w for c, w in widths.items() if not self.table.isColumnHidden(c))
        self.table.setColumnWidth(ResourcesModel.NAME, max(name_needed, available - used))

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == ResourcesModel.FAVOURITE:
            row = index.data(ObjectRole)
            if row is not None:
                self.controller.toggle_favourite(row)

    def toggle_current_favourite(self) -> None:
        row = self.current_row()
        if row is not None:
            self.controller.toggle_favourite(row)

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        row = self.current_row()
        self.detail.show_resource(row)

    def _current_changed_in_model(self, *_: Any) -> None:
        row = self.current_row()
        if row is not None and self.detail.row is not None and row.key == self.detail.row.key:
            self.detail.update_row(row)
