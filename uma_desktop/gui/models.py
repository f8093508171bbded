"""Qt table models over domain objects.

Models own rows, proxies own filtering. Sorting happens here in Python on precomputed keys
(a list sort of 20,000 tuples takes milliseconds) because QSortFilterProxyModel sorting calls
back into Python for every comparison and blocks the GUI on big tables. ``SortRole`` returns
the native sort value, ``ObjectRole`` the row object (survives proxy mapping). Rows arrive per
connection and are inserted in chunks, yielding to the event loop between chunks, so 10,000
rows from one server never freeze the window. Models are only touched on the GUI thread.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont

from uma_desktop.domain import AccessRequest, Decision, Resource, Share, SharedWithMe
from uma_desktop.foreground import foreground
from uma_desktop.gui.widgets import rich_tooltip

SortRole = Qt.ItemDataRole.UserRole + 1
ObjectRole = Qt.ItemDataRole.UserRole + 2
KeyRole = Qt.ItemDataRole.UserRole + 3

T = TypeVar("T")
AnyIndex = QModelIndex | QPersistentModelIndex
CHUNK_ROWS = 500  # rows inserted per step (Qt's own work per insert grows with it)
SCAN_ROWS = 2500  # rows compared per step
STEP_BUDGET = 0.008  # seconds of model work per event-loop turn
FILTER_AT_ONCE = 25_000  # bigger tables are filtered a slice per event-loop turn
FILL_AT_ONCE = 50_000  # an empty table takes up to this many rows in one step
_SORTING = "\x00sorting"  # the job group of a re-sort in steps (never a connection id)


@dataclass(frozen=True)
class Column(Generic[T]):
    title: str
    display: Callable[[T], str]
    sort_key: Callable[[T], Any] | None = None
    tooltip: Callable[[T], str] | None = None
    align_right: bool = False


def age_text(when: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 min', '3 h', '2 d' — compact and sortable by the underlying datetime."""
    if when is None:
        return "—"
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def local_time_text(when: datetime | None) -> str:
    if when is None:
        return "—"
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def time_key(when: datetime | None, missing: float = float("inf")) -> float:
    """A sort key for optional datetimes (missing ones sort last by default)."""
    return missing if when is None else when.timestamp()


def scopes_text(scopes: Iterable[str]) -> str:
    return ", ".join(scopes)


_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _itself(obj: Any) -> Any:
    return obj


def _right_aligned(_obj: Any) -> int:
    return _RIGHT


class ObjectTableModel(QAbstractTableModel, Generic[T]):
    """A flat table of immutable objects, keyed by ``key_of``, sorted in Python."""

    loading_finished = Signal(str)  # group (connection id) whose chunked insert completed

    def __init__(
        self,
        columns: Sequence[Column[T]],
        key_of: Callable[[T], Hashable],
        group_of: Callable[[T], str],
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._key_of = key_of
        self._group_of = group_of
        self._rows: list[T] = []
        self._row_of_key: dict[Hashable, int] | None = None
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._group_column = -1
        # Changes run as step-wise jobs, one at a time, a few milliseconds per event-loop
        # turn, so a 10,000-row answer never holds the GUI thread for long.
        self._jobs: deque[tuple[str, Iterator[None]]] = deque()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._run_jobs)
        self._needs_sort = False
        self._getters: list[dict[int, Callable[[T], Any]]] | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    # --- Qt model API ------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        # Qt's own index() asks rowCount() and columnCount() first: two calls into Python,
        # each taking the GIL, for every index a repaint makes. One call instead.
        if parent.isValid() or not (
            0 <= row < len(self._rows) and 0 <= column < len(self._columns)
        ):
            return QModelIndex()
        return self.createIndex(row, column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.cell_data(index.row(), index.column(), role)

    def cell_data(self, row: int, column: int, role: int) -> Any:
        if row >= len(self._rows):
            return None
        getter = self._cell_roles()[column].get(role)
        return None if getter is None else getter(self._rows[row])

    def multiData(self, index: AnyIndex, roleDataSpan: Any) -> None:
        """All roles of one cell in one call: a view asks for ~7 roles per painted cell, and
        each separate call from Qt into Python costs a trip through the interpreter lock."""
        if index.isValid():
            self.fill_cell(index.row(), index.column(), roleDataSpan)

    def fill_cell(self, row: int, column: int, roleDataSpan: Any) -> None:
        """Answer every role asked in ``roleDataSpan`` for one cell."""
        if row >= len(self._rows):
            return
        obj = self._rows[row]
        getters = self._cell_roles()[column]
        for role_data in roleDataSpan:
            getter = getters.get(role_data.role())
            value = None if getter is None else getter(obj)
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

    def _cell_roles(self) -> list[dict[int, Callable[[T], Any]]]:
        """Per column, what each role returns: one dict lookup per role when painting."""
        if self._getters is None:
            self._getters = [self._roles_of(number) for number in range(len(self._columns))]
        return self._getters

    def _roles_of(self, column_number: int) -> dict[int, Callable[[T], Any]]:
        column = self._columns[column_number]
        roles: dict[int, Callable[[T], Any]] = dict(self.extra_roles(column_number))
        roles[Qt.ItemDataRole.DisplayRole] = column.display
        roles[SortRole] = column.sort_key or column.display
        roles[ObjectRole] = _itself
        roles[KeyRole] = self._key_of
        if column.tooltip is not None:
            tooltip = column.tooltip
            roles[Qt.ItemDataRole.ToolTipRole] = lambda obj: rich_tooltip(tooltip(obj))
        if column.align_right:
            roles[Qt.ItemDataRole.TextAlignmentRole] = _right_aligned
        if column_number == self._group_column:
            bold = self._bold
            roles[Qt.ItemDataRole.FontRole] = lambda _obj: bold
        return roles

    def extra_roles(self, column: int) -> dict[int, Callable[[T], Any]]:
        """Hook for subclasses: more roles of ``column`` (icons, fonts), as role → getter."""
        return {}

    # --- access --------------------------------------------------------------------------
    def rows(self) -> list[T]:
        return list(self._rows)

    def row_list(self) -> list[T]:
        """The row list itself, not a copy (for ObjectFilterProxy; do not change it)."""
        return self._rows

    def row_object(self, row: int) -> T:
        return self._rows[row]

    def row_for_key(self, key: Hashable) -> int:
        if self._row_of_key is None:
            self._row_of_key = {self._key_of(obj): i for i, obj in enumerate(self._rows)}
        return self._row_of_key.get(key, -1)

    def object_for_key(self, key: Hashable) -> T | None:
        row = self.row_for_key(key)
        return self._rows[row] if row >= 0 else None

    def is_loading(self) -> bool:
        """Whether rows are still arriving (a re-sort in steps is not loading)."""
        return any(group != _SORTING for group, _steps in self._jobs)

    def is_busy(self) -> bool:
        """Whether any step-wise change (loading or sorting) is still running."""
        return bool(self._jobs)

    # --- mutation ------------------------------------------------------------------------
    def set_rows(self, rows: Iterable[T]) -> None:
        """Replace everything at once (small tables: history, shares)."""
        self._jobs.clear()
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of_key = None
        self._sort_rows()
        self.endResetModel()

    def replace_group(self, group: str, rows: Sequence[T]) -> None:
        """Swap in ``group``'s new rows: update changed ones, remove gone ones, insert new ones.

        Runs in steps on later event-loop turns (see ``is_loading``); the table is re-sorted
        once the new rows are in. A newer call for the same group replaces a pending one.
        """
        self._jobs = deque(job for job in self._jobs if job[0] != group)
        self._jobs.append((group, self._replace_steps(group, list(rows))))
        self._timer.start()

    def replace_groups(self, parts: Sequence[tuple[str, Sequence[T]]]) -> None:
        """``replace_group`` for each part; an empty, idle table takes them all in one reset
        (the first fill: one sort and one view update instead of hundreds of steps)."""
        if self._rows or self._jobs or sum(len(rows) for _g, rows in parts) > FILL_AT_ONCE:
            for group, rows in parts:
                self.replace_group(group, rows)
            return
        self.beginResetModel()
        self._rows = [row for _group, rows in parts for row in rows]
        self._row_of_key = None
        self._sort_rows()
        self.endResetModel()
        for group, _rows in parts:
            self.loading_finished.emit(group)

    def remove_group(self, group: str) -> None:
        self._jobs = deque(job for job in self._jobs if job[0] != group)
        self._jobs.append((group, self._remove_group_steps(group)))
        self._timer.start()

    def _remove_group_steps(self, group: str) -> Iterator[None]:
        self._remove_rows([i for i, obj in enumerate(self._rows) if self._group_of(obj) == group])
        yield

    def _replace_steps(self, group: str, rows: list[T]) -> Iterator[None]:
        key_of, group_of = self._key_of, self._group_of
        incoming: dict[Hashable, T] = {}
        for begin in range(0, len(rows), SCAN_ROWS):
            incoming.update((key_of(obj), obj) for obj in rows[begin : begin + SCAN_ROWS])
            yield
        # 1. compare with what is shown, a slice at a time (only this job changes row order)
        gone: list[int] = []
        start = 0
        while start < len(self._rows):
            end = min(start + SCAN_ROWS, len(self._rows))
            first_changed = last_changed = -1
            for i in range(start, end):
                obj = self._rows[i]
                if group_of(obj) != group:
                    continue
                new = incoming.pop(key_of(obj), None)
                if new is None:
                    gone.append(i)
                elif new != obj:
                    self._rows[i] = new
                    first_changed = i if first_changed < 0 else first_changed
                    last_changed = i
            if first_changed >= 0:
                self._needs_sort = True
                self.dataChanged.emit(
                    self.index(first_changed, 0), self.index(last_changed, len(self._columns) - 1)
                )
            start = end
            yield
        # 2. drop what the server no longer has
        if gone:
            self._remove_rows(gone)
            yield
        # 3. append the new rows in chunks, then sort once
        fresh = list(incoming.values())
        for begin in range(0, len(fresh), CHUNK_ROWS):
            chunk = fresh[begin : begin + CHUNK_ROWS]
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(chunk) - 1)
            self._rows.extend(chunk)
            self._row_of_key = None
            self.endInsertRows()
            self._needs_sort = True
            yield
        if self._needs_sort:
            self._needs_sort = False
            yield from self._sort_steps()

    def update_object(self, obj: T) -> None:
        row = self.row_for_key(self._key_of(obj))
        if row >= 0:
            self._rows[row] = obj
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self._columns) - 1))

    def refresh_column(self, column: int) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def _remove_rows(self, rows: list[int]) -> None:
        if not rows:
            return
        ranges: list[tuple[int, int]] = []
        for row in sorted(rows):
            if ranges and ranges[-1][1] == row - 1:
                ranges[-1] = (ranges[-1][0], row)
            else:
                ranges.append((row, row))
        if len(ranges) > 16:
            # Scattered (sorted tables interleave servers): move them to the end with one
            # layout change, then remove one block — two signals instead of hundreds.
            drop = set(rows)
            order = [i for i in range(len(self._rows)) if i not in drop] + sorted(drop)
            self._permute(order)
            ranges = [(len(self._rows) - len(drop), len(self._rows) - 1)]
        for first, last in reversed(ranges):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self._row_of_key = None
            self.endRemoveRows()

    def _run_jobs(self) -> None:
        """Run job steps for up to STEP_BUDGET seconds, then yield to the event loop."""
        deadline = time.perf_counter() + STEP_BUDGET
        with foreground():
            self._run_steps(deadline)
        if self._jobs:
            self._timer.start()

    def _run_steps(self, deadline: float) -> None:
        while self._jobs:
            group, steps = self._jobs[0]
            try:
                next(steps)
            except StopIteration:
                self._jobs.popleft()
                if group != _SORTING:
                    self.loading_finished.emit(group)
                if self._needs_sort and not self._jobs:  # asked for while a job ran
                    self._needs_sort = False
                    self._jobs.append((_SORTING, self._sort_steps()))
                continue
            if time.perf_counter() >= deadline:
                break

    # --- sorting -------------------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column = column
        self._sort_order = order
        self._sort_soon()

    def set_group_column(self, column: int) -> None:
        """Group rows by ``column`` (sorted by it first, shown bold); -1 turns grouping off."""
        self._group_column = column
        self._getters = None
        self._sort_soon()
        self.refresh_column(max(column, 0))

    def _sort_keys(self) -> list[Callable[[T], Any]]:
        """Key functions, primary first: the group column (if any), then the sort column."""
        keys = []
        for column in (self._group_column, self._sort_column):
            if 0 <= column < len(self._columns):
                col = self._columns[column]
                keys.append(col.sort_key or col.display)
        return keys

    def _sort_steps(self) -> Iterator[None]:
        """Sort as job steps: sort keys a slice per step, then one quick reorder."""
        keys = self._sort_keys()
        if not keys or not self._rows:
            return
        values: list[list[Any]] = []
        for key in keys:
            column: list[Any] = []
            for start in range(0, len(self._rows), SCAN_ROWS * 2):
                column.extend(key(obj) for obj in self._rows[start : start + SCAN_ROWS * 2])
                yield
            values.append(column)
        order = self._order_from(values)
        if order is not None:
            self._permute(order)

    def _order_from(self, values: list[list[Any]]) -> list[int] | None:
        """The permutation sorting rows by ``values`` (primary key first), or None if sorted."""
        order = list(range(len(self._rows)))
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        grouped = 0 <= self._group_column < len(self._columns)
        # Stable sorts from the least significant key up; the group key is always ascending.
        for position in reversed(range(len(values))):
            reverse = descending and not (grouped and position == 0)
            order.sort(key=values[position].__getitem__, reverse=reverse)
        if all(i == n for i, n in enumerate(order)):
            return None
        return order

    def _sorted_order(self) -> list[int] | None:
        """The new order as a permutation of row numbers, or None when nothing changes."""
        keys = self._sort_keys()
        if not keys or not self._rows:
            return None
        return self._order_from([[key(obj) for obj in self._rows] for key in keys])

    def _sort_rows(self) -> None:
        order = self._sorted_order()
        if order is not None:
            rows = self._rows
            self._rows = [rows[i] for i in order]
            self._row_of_key = None

    def _sort_soon(self) -> None:
        """Sort now (small tables), in steps (big ones: computing 100,000 sort keys takes
        100 ms), or after the running job (a job walks rows by position)."""
        if self._jobs:
            self._needs_sort = True
        elif len(self._rows) <= SCAN_ROWS * 2:
            self._apply_sort()
        else:
            self._jobs.append((_SORTING, self._sort_steps()))
            self._timer.start()

    def _apply_sort(self) -> None:
        order = self._sorted_order()
        if order is not None:
            self._permute(order)

    def _permute(self, order: list[int]) -> None:
        """Reorder rows (``order[new] == old``) as one layout change, keeping selections."""
        self.layoutAboutToBeChanged.emit()
        rows = self._rows
        self._rows = [rows[i] for i in order]
        self._row_of_key = None
        persistent = self.persistentIndexList()
        if persistent:
            new_row = [0] * len(order)
            for new, old in enumerate(order):
                new_row[old] = new
            moved = [
                self.index(new_row[p.row()], p.column())
                if 0 <= p.row() < len(new_row)
                else QModelIndex()
                for p in persistent
            ]
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()


class ObjectFilterProxy(QAbstractTableModel):
    """The rows of an ``ObjectTableModel`` that pass a predicate, in the source's order.

    A QSortFilterProxyModel asks the (Python) source for a filter value once per row and
    then removes and inserts the rows that changed one range at a time: tens of thousands of
    calls into Python and thousands of signals for one keystroke. Here the predicate runs in
    one Python pass over the source's row list and the result is applied as ONE layout change
    (persistent indexes, hence the selection, follow their rows). Appends and removals in the
    source (step-wise loads) are forwarded as one contiguous range each: the kept rows are
    in source order, so any source range maps to a contiguous proxy range. A big table is
    filtered a slice per event-loop turn, then shown at once. ``sort`` is forwarded to the
    source model's Python sort.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._source: ObjectTableModel[Any] | None = None
        self._predicate: Callable[[Any], bool] | None = None
        self._map: list[int] = []  # proxy row -> source row, increasing
        # during a layout change: our persistent indexes, and where each points in the source
        self._saved: list[tuple[QModelIndex, QPersistentModelIndex]] = []
        # a filter being computed in steps: predicate, source rows kept so far, next row
        self._pending: tuple[Callable[[Any], bool] | None, list[int], int] | None = None
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._filter_step)

    # --- wiring --------------------------------------------------------------------------
    def setSourceModel(self, model: ObjectTableModel[Any]) -> None:
        self.beginResetModel()
        self._source = model
        model.modelAboutToBeReset.connect(self.beginResetModel)
        model.modelReset.connect(self._source_reset)
        model.layoutAboutToBeChanged.connect(self._before_layout_change)
        model.layoutChanged.connect(self._source_layout_changed)
        model.rowsInserted.connect(self._source_inserted)
        model.rowsRemoved.connect(self._source_removed)
        model.dataChanged.connect(self._source_data_changed)
        model.headerDataChanged.connect(self.headerDataChanged)
        self._map = self._filtered()
        self.endResetModel()

    def sourceModel(self) -> ObjectTableModel[Any] | None:
        return self._source

    def set_predicate(
        self, predicate: Callable[[Any], bool] | None, *, at_once: bool = False
    ) -> None:
        """Show only the rows ``predicate`` accepts (None: all), as one layout change: at
        once for tables up to FILTER_AT_ONCE rows (or when asked), else after a few steps
        (see ``is_filtering``)."""
        rows = self._source.rowCount() if self._source is not None else 0
        if at_once or rows <= FILTER_AT_ONCE:
            self._pending = None
            self._step_timer.stop()
            self._apply_filter(predicate, None)
        else:
            self._pending = (predicate, [], 0)
            self._step_timer.start()

    def is_filtering(self) -> bool:
        """Whether a new filter is still being computed (the old one is shown meanwhile)."""
        return self._pending is not None

    def _filter_step(self) -> None:
        if self._pending is None or self._source is None:
            return
        accept, kept, start = self._pending
        rows = self._source.row_list()
        deadline = time.perf_counter() + STEP_BUDGET
        while start < len(rows):
            end = min(start + SCAN_ROWS, len(rows))
            if accept is None:
                kept.extend(range(start, end))
            else:
                kept.extend(i for i in range(start, end) if accept(rows[i]))
            start = end
            if time.perf_counter() >= deadline:
                break
        if start < len(rows):
            self._pending = (accept, kept, start)
            self._step_timer.start()
        else:
            self._pending = None
            self._apply_filter(accept, kept)

    def _restart_pending_filter(self) -> None:
        """The source's rows moved: a filter being computed starts over."""
        if self._pending is not None:
            self._pending = (self._pending[0], [], 0)

    def _apply_filter(
        self, predicate: Callable[[Any], bool] | None, kept: list[int] | None
    ) -> None:
        self._predicate = predicate
        if self._source is not None:
            self._before_layout_change()
            self._after_layout_change(kept)

    def _filtered(self) -> list[int]:
        if self._source is None:
            return []
        rows = self._source.row_list()
        accept = self._predicate
        if accept is None:
            return list(range(len(rows)))
        return [i for i, obj in enumerate(rows) if accept(obj)]

    def _proxy_row(self, source_row: int) -> int:
        """Where a source row is shown, or -1 (the map is increasing: a binary search)."""
        at = bisect_left(self._map, source_row)
        return at if at < len(self._map) and self._map[at] == source_row else -1

    # --- following the source ------------------------------------------------------------
    def _source_reset(self) -> None:
        self._restart_pending_filter()
        self._map = self._filtered()
        self.endResetModel()

    def _before_layout_change(self) -> None:
        """Note, for each of our persistent indexes, a persistent index on the source row it
        shows: the source moves those along with its rows (no lookup by key needed)."""
        self.layoutAboutToBeChanged.emit()
        assert self._source is not None
        source = self._source
        saved = []
        for index in self.persistentIndexList():
            row = index.row()
            target = source.index(self._map[row], index.column()) if row < len(self._map) else None
            saved.append((index, QPersistentModelIndex(target or QModelIndex())))
        self._saved = saved

    def _source_layout_changed(self) -> None:
        self._after_layout_change()

    def _after_layout_change(self, kept: list[int] | None = None) -> None:
        """``kept``: the new map when already computed (a filter done in steps)."""
        if kept is None:
            self._restart_pending_filter()
        self._map = self._filtered() if kept is None else kept
        if self._saved:
            old, new = [], []
            for index, target in self._saved:
                proxy_row = self._proxy_row(target.row()) if target.isValid() else -1
                old.append(index)
                new.append(
                    self.index(proxy_row, index.column()) if proxy_row >= 0 else QModelIndex()
                )
            self._saved = []
            self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _source_inserted(self, _parent: AnyIndex, first: int, last: int) -> None:
        assert self._source is not None
        self._restart_pending_filter()
        count = last - first + 1
        at = bisect_left(self._map, first)
        rows = self._source.row_list()
        accept = self._predicate
        fresh = [i for i in range(first, last + 1) if accept is None or accept(rows[i])]
        tail = [i + count for i in self._map[at:]]
        if not fresh:
            self._map[at:] = tail
            return
        self.beginInsertRows(QModelIndex(), at, at + len(fresh) - 1)
        self._map[at:] = fresh + tail
        self.endInsertRows()

    def _source_removed(self, _parent: AnyIndex, first: int, last: int) -> None:
        self._restart_pending_filter()
        count = last - first + 1
        begin = bisect_left(self._map, first)
        end = bisect_right(self._map, last)
        tail = [i - count for i in self._map[end:]]
        if begin < end:
            self.beginRemoveRows(QModelIndex(), begin, end - 1)
            self._map[begin:] = tail
            self.endRemoveRows()
        else:
            self._map[begin:] = tail

    def _source_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        begin = bisect_left(self._map, top_left.row())
        end = bisect_right(self._map, bottom_right.row())
        if begin < end:
            self.dataChanged.emit(
                self.index(begin, top_left.column()), self.index(end - 1, bottom_right.column())
            )

    # --- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._map)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        if parent.isValid() or self._source is None:
            return 0
        return self._source.columnCount()

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid() or not (0 <= row < len(self._map) and 0 <= column < self.columnCount()):
            return QModelIndex()
        return self.createIndex(row, column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if self._source is None:
            return None
        if orientation == Qt.Orientation.Vertical:
            return section + 1 if role == Qt.ItemDataRole.DisplayRole else None
        return self._source.headerData(section, orientation, role)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        source_row = self._source_row(index)
        if source_row < 0 or self._source is None:
            return None
        return self._source.cell_data(source_row, index.column(), role)

    def multiData(self, index: AnyIndex, roleDataSpan: Any) -> None:
        """All roles of one cell in one call into Python (see ObjectTableModel.multiData)."""
        source_row = self._source_row(index)
        if source_row >= 0 and self._source is not None:
            self._source.fill_cell(source_row, index.column(), roleDataSpan)

    def _source_row(self, index: AnyIndex) -> int:
        if not index.isValid() or index.row() >= len(self._map):
            return -1
        return self._map[index.row()]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self._source is not None:
            self._source.sort(column, order)

    # --- mapping (QAbstractProxyModel's names) -------------------------------------------
    def mapToSource(self, index: AnyIndex) -> QModelIndex:
        source_row = self._source_row(index)
        if source_row < 0 or self._source is None:
            return QModelIndex()
        return self._source.index(source_row, index.column())

    def mapFromSource(self, index: AnyIndex) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        proxy_row = self._proxy_row(index.row())
        return self.index(proxy_row, index.column()) if proxy_row >= 0 else QModelIndex()


# --- concrete tables ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """A resource plus what the table shows about it (server label, favourite flag).

    Slots: a table holds tens of thousands of these, and a per-object dict is most of
    their size."""

    resource: Resource
    server: str
    favourite: bool = False
    key: tuple[str, str] = field(init=False, compare=False)
    search_text: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # built for every row of every load (off the GUI thread): kept to plain operations
        r = self.resource
        text = f"{r.name} {r.type or ''} {r.resource_server} {self.server} {r.description or ''}"
        if r.scopes:
            text = f"{text} {' '.join(r.scopes)}"
        object.__setattr__(self, "key", (r.connection_id, r.id))
        object.__setattr__(self, "search_text", text.casefold())


class ResourcesModel(ObjectTableModel[ResourceRow]):
    FAVOURITE, SERVER, RESOURCE_SERVER, NAME, TYPE, SCOPES, SHARED = range(7)

    def __init__(self, parent: Any = None) -> None:
        columns: list[Column[ResourceRow]] = [
            Column("★", lambda r: "", lambda r: not r.favourite),
            Column("Server", lambda r: r.server, lambda r: r.server.casefold()),
            Column(
                "Resource server",
                lambda r: r.resource.resource_server,
                lambda r: r.resource.resource_server.casefold(),
            ),
            Column(
                "Name",
                lambda r: r.resource.name,
                lambda r: r.resource.name.casefold(),
                lambda r: r.resource.description or r.resource.name,
            ),
            Column("Type", lambda r: r.resource.type or "—", lambda r: r.resource.type or ""),
            Column(
                "Scopes",
                lambda r: scopes_text(r.resource.scopes),
                lambda r: len(r.resource.scopes),
                lambda r: scopes_text(r.resource.scopes),
            ),
            Column(
                "Shared with",
                lambda r: "—" if r.resource.share_count is None else str(r.resource.share_count),
                lambda r: -1 if r.resource.share_count is None else r.resource.share_count,
                align_right=True,
            ),
        ]
        super().__init__(columns, lambda r: r.key, lambda r: r.resource.connection_id, parent)
        self._star_icons: tuple[Any, Any] | None = None

    def set_star_icons(self, on: Any, off: Any) -> None:
        self._star_icons = (on, off)
        self.refresh_column(self.FAVOURITE)

    def extra_roles(self, column: int) -> dict[int, Callable[[ResourceRow], Any]]:
        if column != self.FAVOURITE:
            return {}
        return {
            Qt.ItemDataRole.DecorationRole: self._star_icon,
            Qt.ItemDataRole.AccessibleTextRole: (
                lambda r: "Favourite" if r.favourite else "Not a favourite"
            ),
            Qt.ItemDataRole.ToolTipRole: (
                lambda r: "Remove from favourites" if r.favourite else "Add to favourites"
            ),
        }

    def _star_icon(self, row: ResourceRow) -> Any:
        if self._star_icons is None:
            return None
        return self._star_icons[0] if row.favourite else self._star_icons[1]


class RequestsModel(ObjectTableModel[AccessRequest]):
    REQUESTER, RESOURCE, SCOPES, SERVER, AGE = range(5)

    def __init__(self, server_name: Callable[[str], str], parent: Any = None) -> None:
        self._unread: set[tuple[str, str]] = set()
        columns: list[Column[AccessRequest]] = [
            Column(
                "Requester",
                lambda r: r.requester.label,
                lambda r: r.requester.label.casefold(),
                lambda r: r.requester.email or r.requester.username or r.requester.id,
            ),
            Column("Resource", lambda r: r.resource_name, lambda r: r.resource_name.casefold()),
            Column("Scopes", lambda r: scopes_text(r.scopes), lambda r: len(r.scopes)),
            Column("Server", lambda r: server_name(r.connection_id)),
            Column(
                "Age",
                lambda r: age_text(r.requested_at),
                lambda r: -(r.requested_at.timestamp()) if r.requested_at else 0,
                lambda r: local_time_text(r.requested_at),
                align_right=True,
            ),
        ]
        super().__init__(columns, lambda r: r.key, lambda r: r.connection_id, parent)

    def mark_unread(self, keys: Iterable[tuple[str, str]]) -> None:
        self._unread.update(keys)
        self.refresh_column(self.REQUESTER)

    def mark_all_read(self) -> None:
        self._unread.clear()
        self.refresh_column(self.REQUESTER)

    def unread_count(self) -> int:
        present = {r.key for r in self._rows}
        return len(self._unread & present)

    def extra_roles(self, column: int) -> dict[int, Callable[[AccessRequest], Any]]:
        return {Qt.ItemDataRole.FontRole: self._unread_font}

    def _unread_font(self, request: AccessRequest) -> QFont | None:
        return self._bold if request.key in self._unread else None


def _share_tooltip(share: Share) -> str:
    who = share.party.email or share.party.username or share.party.id
    if share.granted_at is None:
        return who
    return f"{who} · granted {local_time_text(share.granted_at)}"


ENFORCED_BY_APP = "(enforced by UMA\u00a0Desktop)"  # kept on one line when wrapped
ENFORCED_TOOLTIP = (
    "This server cannot expire a share, so UMA Desktop keeps the date and revokes the "
    "share when it falls due (while the app runs, on any command, or by the daily timer)."
)


class SharesModel(ObjectTableModel[Share]):
    """Who has access to one resource. The Expires column shows the server's own expiry,
    else the due date the app keeps for it (``app_kept_due``: person id -> date)."""

    PERSON, SCOPES, GRANTED, EXPIRES = range(4)

    def __init__(self, parent: Any = None) -> None:
        self.app_kept_due: dict[str, datetime] = {}
        columns: list[Column[Share]] = [
            Column(
                "Person",
                lambda s: s.party.label,
                lambda s: s.party.label.casefold(),
                _share_tooltip,
            ),
            Column("Scopes", lambda s: scopes_text(s.scopes)),
            Column(
                "Granted",
                lambda s: local_time_text(s.granted_at),
                lambda s: time_key(s.granted_at, 0.0),
            ),
            Column(
                "Expires", self._expiry_text, lambda s: time_key(self._expiry(s)), self._expiry_tip
            ),
        ]
        super().__init__(
            columns,
            lambda s: (s.connection_id, s.resource_id, s.party.id),
            lambda s: s.connection_id,
            parent,
        )

    def set_shares(self, shares: Iterable[Share], app_kept_due: dict[str, datetime]) -> None:
        self.app_kept_due = dict(app_kept_due)
        self.set_rows(shares)

    def _expiry(self, share: Share) -> datetime | None:
        return share.expires_at or self.app_kept_due.get(share.party.id)

    def _expiry_text(self, share: Share) -> str:
        if share.expires_at is not None:
            return local_time_text(share.expires_at)
        due = self.app_kept_due.get(share.party.id)
        if due is not None:
            return f"{local_time_text(due)}\n{ENFORCED_BY_APP}"  # two lines: a narrow panel
        return "never"

    def _expiry_tip(self, share: Share) -> str:
        if share.expires_at is None and share.party.id in self.app_kept_due:
            return ENFORCED_TOOLTIP
        return ""


class SharedWithMeModel(ObjectTableModel[SharedWithMe]):
    def __init__(self, server_name: Callable[[str], str], parent: Any = None) -> None:
        columns: list[Column[SharedWithMe]] = [
            Column("Resource", lambda s: s.resource.name, lambda s: s.resource.name.casefold()),
            Column("Owner", lambda s: s.owner.label if s.owner else "—"),
            Column("Scopes", lambda s: scopes_text(s.scopes)),
            Column("Resource server", lambda s: s.resource.resource_server),
            Column("Server", lambda s: server_name(s.connection_id)),
            Column(
                "Expires",
                lambda s: local_time_text(s.expires_at) if s.expires_at else "never",
                lambda s: time_key(s.expires_at),
            ),
        ]
        super().__init__(
            columns, lambda s: (s.connection_id, s.resource.id), lambda s: s.connection_id, parent
        )


class HistoryModel(ObjectTableModel[Decision]):
    def __init__(self, server_name: Callable[[str], str], parent: Any = None) -> None:
        columns: list[Column[Decision]] = [
            Column("When", lambda d: local_time_text(d.at), lambda d: time_key(d.at)),
            Column("Action", lambda d: d.action),
            Column("Resource", lambda d: d.resource_name),
            Column("Person", lambda d: d.party),
            Column("Scopes", lambda d: scopes_text(d.scopes)),
            Column("Server", lambda d: server_name(d.connection_id)),
            Column(
                "Result",
                lambda d: "done" if d.ok else f"{'failed' if d.settled else 'unknown'}: {d.detail}",
                None,
                lambda d: d.detail,
            ),
        ]
        super().__init__(
            columns,
            lambda d: (d.connection_id, d.at, d.action, d.resource_id, d.party),
            lambda d: d.connection_id,
            parent,
        )
        self.sort(0, Qt.SortOrder.DescendingOrder)
