"""The protocol trace page: every HTTP exchange, redacted, filterable, exportable.

Entries come from a :class:`~uma_desktop.trace.TraceRecorder` on whatever thread made the
request; a relay signal queues them to the GUI thread, where the model appends them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.gui.widgets import rich_tooltip
from uma_desktop.trace import TraceEntry, TraceRecorder, entry_as_text, to_har_json, to_mermaid

AnyIndex = QModelIndex | QPersistentModelIndex
W = TypeVar("W", bound=QWidget)
EntryRole = Qt.ItemDataRole.UserRole + 1

COLUMNS = ("Time", "From", "To", "Method", "URL", "Status", "Duration")
ALL = ""


def _named(widget: W, name: str) -> W:
    widget.setObjectName(name)
    return widget


class _Relay(QObject):
    """Carries entries from any thread to the GUI thread (queued signal)."""

    entry = Signal(object)


class TraceModel(QAbstractTableModel):
    """The recorded exchanges, oldest first, bounded like the recorder."""

    def __init__(self, capacity: int = 5000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._entries: list[TraceEntry] = []

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def entry(self, row: int) -> TraceEntry:
        return self._entries[row]

    def entries(self) -> list[TraceEntry]:
        return list(self._entries)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return rich_tooltip(entry.url if column == 4 else f"{entry.actor} → {entry.target}")
        if role == Qt.ItemDataRole.ForegroundRole and column == 5:
            return _status_colour(entry.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == EntryRole:
            return entry
        return None

    @staticmethod
    def _display(entry: TraceEntry, column: int) -> str:
        if column == 0:
            return entry.time_text
        if column == 1:
            return entry.actor
        if column == 2:
            return entry.target
        if column == 3:
            return entry.method
        if column == 4:
            return entry.path
        if column == 5:
            return entry.outcome
        return f"{entry.duration * 1000:.0f} ms"

    def append(self, entry: TraceEntry) -> None:
        if len(self._entries) >= self.capacity:
            drop = len(self._entries) - self.capacity + 1
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            del self._entries[:drop]
            self.endRemoveRows()
        # Rows go by start time: exchanges finish (and arrive) out of order when concurrent.
        row = bisect.bisect_right(self._entries, _order(entry), key=_order)
        self.beginInsertRows(QModelIndex(), row, row)
        self._entries.insert(row, entry)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._entries.clear()
        self.endResetModel()


def _order(entry: TraceEntry) -> tuple[float, int]:
    return (entry.started, entry.seq)


def _status_colour(status: int | None) -> QColor:
    if status is None or status >= 500:
        return QColor("#c62828")
    if status >= 400:
        return QColor("#b26a00")
    return QColor("#2e7d32")


class TraceFilter(QSortFilterProxyModel):
    """Keeps the rows of one actor (or actor kind, e.g. ``rqp``) and one connection."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._actor = ALL
        self._connection = ALL

    def set_actor(self, actor: str) -> None:
        self.beginFilterChange()
        self._actor = actor
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_connection(self, connection_id: str) -> None:
        self.beginFilterChange()
        self._connection = connection_id
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, TraceModel)
        entry = model.entry(source_row)
        if (
            self._actor
            and entry.actor != self._actor
            and not entry.actor.startswith(f"{self._actor}:")
        ):
            return False
        return not (self._connection and entry.connection_id != self._connection)

    def visible_entries(self) -> list[TraceEntry]:
        return [self.index(row, 0).data(EntryRole) for row in range(self.rowCount())]


class TraceView(QWidget):
    """The page: filters and export buttons on top, the table, the selected exchange below."""

    exported = Signal(str)  # path of a file just written

    def __init__(
        self,
        recorder: TraceRecorder,
        parent: QWidget | None = None,
        *,
        connection_names: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("traceView")
        self.recorder = recorder
        self._connection_names = dict(connection_names or {})
        self.model = TraceModel(recorder.capacity, self)
        self.proxy = TraceFilter(self)
        self.proxy.setSourceModel(self.model)

        self.actor_filter = _named(QComboBox(), "traceActorFilter")
        self.actor_filter.setAccessibleName("Filter by actor")
        self.actor_filter.addItem("All actors", ALL)
        self.connection_filter = _named(QComboBox(), "traceConnectionFilter")
        self.connection_filter.setAccessibleName("Filter by connection")
        self.connection_filter.addItem("All connections", ALL)
        self.count_label = _named(QLabel(), "traceCount")
        metrics = self.count_label.fontMetrics()
        self.count_label.setMinimumWidth(metrics.horizontalAdvance("00000 of 00000 exchanges  "))
        clear = _named(QPushButton("Clear"), "traceClear")
        self.mermaid_button = _named(QPushButton("Export Mermaid…"), "traceExportMermaid")
        self.har_button = _named(QPushButton("Export HAR…"), "traceExportHar")
        clear.setToolTip("Forget the exchanges recorded so far")
        self.mermaid_button.setToolTip("Save the shown exchanges as a Mermaid sequence diagram")
        self.har_button.setToolTip("Save the shown exchanges as a HAR 1.2 file")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Actor:"))
        bar.addWidget(self.actor_filter)
        bar.addWidget(QLabel("Connection:"))
        bar.addWidget(self.connection_filter)
        bar.addWidget(self.count_label)
        bar.addStretch(1)
        bar.addWidget(clear)
        bar.addWidget(self.mermaid_button)
        bar.addWidget(self.har_button)

        self.table = _named(QTableView(), "traceTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((95, 120, 130, 60, 0, 160, 80)):
            if width:
                self.table.setColumnWidth(column, width)

        self.details = _named(QPlainTextEdit(), "traceDetails")
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select an exchange to see its headers and bodies.")

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter)

        self.actor_filter.currentIndexChanged.connect(self._filters_changed)
        self.connection_filter.currentIndexChanged.connect(self._filters_changed)
        clear.clicked.connect(self.clear)
        self.mermaid_button.clicked.connect(self._ask_export_mermaid)
        self.har_button.clicked.connect(self._ask_export_har)
        self.table.selectionModel().currentRowChanged.connect(self._show_current)
        self.proxy.rowsInserted.connect(self._follow_new_rows)

        self._relay = _Relay(self)
        self._relay.entry.connect(self._add)
        for entry in recorder.entries():
            self._add(entry)
        self._unsubscribe = recorder.subscribe(self._relay.entry.emit)
        self.destroyed.connect(lambda *_: self._unsubscribe())
        self._update_count()

    # -- data ----------------------------------------------------------------------------

    def name_connection(self, connection_id: str, name: str) -> None:
        """Label a connection in the connection filter."""
        self._connection_names[connection_id] = name
        index = self.connection_filter.findData(connection_id)
        if index >= 0:
            self.connection_filter.setItemText(index, name)

    def _add(self, entry: TraceEntry) -> None:
        self.model.append(entry)
        self._offer(self.actor_filter, entry.actor, entry.actor)
        kind = entry.actor.split(":", 1)[0]
        if kind != entry.actor:
            self._offer(self.actor_filter, kind, f"{kind}: all")
        if entry.connection_id:
            name = self._connection_names.get(entry.connection_id, entry.connection_id)
            self._offer(self.connection_filter, entry.connection_id, name)
        self._update_count()

    @staticmethod
    def _offer(combo: QComboBox, value: str, label: str) -> None:
        if combo.findData(value) < 0:
            combo.addItem(label, value)

    def clear(self) -> None:
        self.recorder.clear()
        self.model.clear()
        self.details.clear()
        self._update_count()

    def visible_entries(self) -> list[TraceEntry]:
        return self.proxy.visible_entries()

    # -- filters -------------------------------------------------------------------------

    def set_actor_filter(self, actor: str) -> None:
        index = self.actor_filter.findData(actor)
        if index < 0:
            raise ValueError(f"no exchanges from {actor!r} yet")
        self.actor_filter.setCurrentIndex(index)

    def set_connection_filter(self, connection_id: str) -> None:
        index = self.connection_filter.findData(connection_id)
        if index < 0:
            raise ValueError(f"no exchanges for connection {connection_id!r} yet")
        self.connection_filter.setCurrentIndex(index)

    def _filters_changed(self) -> None:
        self.proxy.set_actor(self.actor_filter.currentData() or ALL)
        self.proxy.set_connection(self.connection_filter.currentData() or ALL)
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        text = f"{total} exchanges" if shown == total else f"{shown} of {total} exchanges"
        self.count_label.setText(text)

    def _show_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        entry = current.data(EntryRole) if current.isValid() else None
        self.details.setPlainText(entry_as_text(entry) if entry is not None else "")

    def _follow_new_rows(self) -> None:
        scrollbar = self.table.verticalScrollBar()
        if scrollbar.value() >= scrollbar.maximum() - 2:
            self.table.scrollToBottom()

    # -- export --------------------------------------------------------------------------

    def export_mermaid(self, path: Path) -> Path:
        """Write the shown exchanges as a Mermaid sequence diagram (``.mmd``)."""
        path.write_text(to_mermaid(self.visible_entries(), title="UMA protocol trace"), "utf-8")
        self.exported.emit(str(path))
        return path

    def export_har(self, path: Path) -> Path:
        """Write the shown exchanges as a HAR 1.2 JSON file."""
        path.write_text(to_har_json(self.visible_entries()), "utf-8")
        self.exported.emit(str(path))
        return path

    def _ask_export_mermaid(self) -> None:
        self._ask_export(
            "Export Mermaid diagram", "uma-trace.mmd", "Mermaid (*.mmd *.md)", self.export_mermaid
        )

    def _ask_export_har(self) -> None:
        self._ask_export("Export HAR file", "uma-trace.har", "HAR (*.har *.json)", self.export_har)

    def _ask_export(
        self, title: str, name: str, pattern: str, write: Callable[[Path], Path]
    ) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), pattern)
        if not path:
            return
        try:
            write(Path(path))
        except OSError as exc:
            QMessageBox.warning(self, title, f"The file could not be written: {exc.strerror}.")


def install_trace_page(window: Any, recorder: TraceRecorder | None = None) -> TraceView:
    """Add the "Protocol trace" page to a main window, recording from now on.

    Works for any server the app talks to (demo sandboxes, Keycloak, …): every client is
    built by ``uma_desktop.net``. Without a ``recorder`` (the normal app) a bounded one is
    made and the window's connections are named after their display names, also when they
    change. The recording stops when the page goes away.
    """
    own_recorder = recorder is None  # (an empty recorder is falsy: it has a length)
    if recorder is None:
        recorder = TraceRecorder()
    recorder.start()
    view = TraceView(recorder)
    view.destroyed.connect(lambda *_: recorder.stop())
    controller = getattr(window, "controller", None)
    if own_recorder and controller is not None:
        _name_connections(view, controller)
        controller.connections_updated.connect(
            lambda: _name_connections(view, controller) if shiboken6.isValid(view) else None
        )
    window.add_page("trace", "Protocol trace", view, "trace")
    return view


def _name_connections(view: TraceView, controller: Any) -> None:
    """Show the app's requests as ``app:<display name>`` and their servers by name."""
    for connection_id, state in controller.states.items():
        name = state.connection.display_name
        view.recorder.name_connection(connection_id, name)
        view.recorder.name_server(state.connection.issuer, name)
        view.name_connection(connection_id, name)
