"""The "Review shares" page: every share of every server in one table, with the flags a
reviewer cares about, Keep / Revoke / Narrow / Set expiry on one row or a selection, the
review's progress ("37 of 112 reviewed"), resume, summary, settings and the PDF report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QItemSelection, QItemSelectionModel, QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.app.report import Report
from uma_desktop.app.review_terms import (
    ENFORCED_LABEL,
    FLAG_LABELS,
    Flag,
    Outcome,
    ReviewItem,
    ReviewSettings,
    Summary,
)
from uma_desktop.gui.models import (
    Column,
    ObjectFilterProxy,
    ObjectRole,
    ObjectTableModel,
    local_time_text,
    scopes_text,
    time_key,
)
from uma_desktop.gui.review_control import Acted, Loaded, ReviewControl, default_report_name
from uma_desktop.gui.widgets import DataTable, EmptyState, PlainLabel, configure_table

ALL = "__all__"
NOT_REVIEWED = "__pending__"
SEARCH_DELAY_MS = 150
OUTCOME_TEXT = {
    Outcome.KEPT: "kept",
    Outcome.REVOKED: "revoked",
    Outcome.NARROWED: "narrowed",
    Outcome.EXPIRY_SET: "expiry set",
}


def _expiry(item: ReviewItem) -> str:
    if item.share.expires_at is not None:
        return local_time_text(item.share.expires_at)
    if item.enforced_expiry is not None:
        return f"{local_time_text(item.enforced_expiry)} ({ENFORCED_LABEL})"
    return "never"


class ReviewModel(ObjectTableModel[ReviewItem]):
    RESOURCE, SERVER, PERSON, SCOPES, SINCE, EXPIRES, LAST, FLAGS, REVIEWED = range(9)

    def __init__(self, parent: Any = None) -> None:
        columns: list[Column[ReviewItem]] = [
            Column("Resource", lambda i: i.resource.name, lambda i: i.resource.name.casefold()),
            Column("Server", lambda i: i.server, lambda i: i.server.casefold()),
            Column(
                "Person",
                lambda i: i.share.party.label,
                lambda i: i.share.party.label.casefold(),
                lambda i: i.share.party.full_label,
            ),
            Column("Scopes", lambda i: scopes_text(i.share.scopes), lambda i: len(i.share.scopes)),
            Column(
                "Since",
                lambda i: local_time_text(i.share.granted_at),
                lambda i: time_key(i.share.granted_at, 0.0),
            ),
            Column("Expires", _expiry, lambda i: time_key(i.expires_at), _expiry),
            Column(
                "Last decision",
                lambda i: local_time_text(i.last_decision),
                lambda i: time_key(i.last_decision, 0.0),
            ),
            Column("Flags", lambda i: i.flag_text, lambda i: (-len(i.flags), i.flag_text)),
            Column(
                "Reviewed",
                lambda i: OUTCOME_TEXT[i.outcome] if i.outcome else "",
                lambda i: i.outcome.value if i.outcome else "",
            ),
        ]
        super().__init__(columns, lambda i: i.key, lambda i: i.share.connection_id, parent)


class NarrowDialog(QDialog):
    """Which scopes to take away from the selected shares."""

    def __init__(self, scopes: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Narrow scopes")
        layout = QVBoxLayout(self)
        layout.addWidget(PlainLabel("Take these scopes away (the others stay):"))
        self.scopes = list(scopes)
        # "&&": a scope's ampersand is shown, not taken as a keyboard shortcut marker
        self.boxes = [QCheckBox(scope.replace("&", "&&")) for scope in self.scopes]
        for box in self.boxes:
            layout.addWidget(box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> list[str]:
        return [
            scope for scope, box in zip(self.scopes, self.boxes, strict=True) if box.isChecked()
        ]


class ExpiryDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set expiry")
        layout = QFormLayout(self)
        self.date = QDateEdit(QDate.currentDate().addDays(30))
        self.date.setCalendarPopup(True)
        self.date.setMinimumDate(QDate.currentDate().addDays(1))
        layout.addRow("Access ends after:", self.date)
        layout.addRow(
            PlainLabel(
                "Servers without expiry (Keycloak): UMA Desktop revokes the share when the "
                "date has passed, while it runs or by its daily timer."
            )
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    def when(self) -> datetime:
        day = self.date.date()
        return datetime(day.year(), day.month(), day.day(), 23, 59, 59).astimezone(UTC)


class ReviewSettingsDialog(QDialog):
    """Flag thresholds, the reminder interval, and the daily expiry timer."""

    def __init__(
        self, settings: ReviewSettings, timer_installed: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review settings")
        layout = QFormLayout(self)
        self.older = self._days(settings.older_than_days)
        self.unseen = self._days(settings.unseen_days)
        self.interval = self._days(settings.interval_days)
        layout.addRow("Flag shares older than (days):", self.older)
        layout.addRow("Flag people not seen for (days):", self.unseen)
        layout.addRow("Remind me to review every (days):", self.interval)
        self.timer = QCheckBox("Revoke expired shares daily, also when the app is closed")
        self.timer.setToolTip("Installs a systemd user timer running `uma-desktop expire --due`")
        self.timer.setChecked(timer_installed)
        layout.addRow(self.timer)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    @staticmethod
    def _days(value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(1, 36500)
        box.setValue(value)
        return box

    def settings(self) -> ReviewSettings:
        return ReviewSettings(
            older_than_days=self.older.value(),
            unseen_days=self.unseen.value(),
            interval_days=self.interval.value(),
        )


class ReviewPage(QWidget):
    """The review table with its toolbar, progress and actions."""

    def __init__(self, review: ReviewControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.review = review
        self.settings = ReviewSettings()
        self.summary: Summary | None = None
        self.last_report: Report | None = None
        self.dialog: QDialog | None = None
        self.loaded_once = False
        self.model = ReviewModel(self)
        self.proxy = ObjectFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.progress_label = PlainLabel("")
        self.progress_label.setObjectName("reviewProgress")
        font = self.progress_label.font()
        font.setBold(True)
        self.progress_label.setFont(font)
        self.summary_label = PlainLabel("")
        self.summary_label.setObjectName("reviewSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.hide()
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read every share again (the review's progress stays)")
        self.reload_button.clicked.connect(self.load)
        self.finish_button = QPushButton("Finish review")
        self.finish_button.clicked.connect(self.finish)
        self.pdf_button = QPushButton("Export report (PDF)…")
        self.pdf_button.clicked.connect(self.export_pdf_dialog)
        self.settings_button = QPushButton("Settings…")
        self.settings_button.clicked.connect(self.open_settings)
        top = QHBoxLayout()
        top.addWidget(self.progress_label, 1)
        for button in (self.reload_button, self.finish_button, self.pdf_button,
                       self.settings_button):  # fmt: skip
            top.addWidget(button)

        self.search = QLineEdit()
        self.search.setObjectName("reviewSearch")
        self.search.setPlaceholderText("Search resource, person or server")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search shares")
        self.flag_filter = QComboBox()
        self.flag_filter.setAccessibleName("Show")
        self.flag_filter.addItem("All shares", ALL)
        self.flag_filter.addItem("Not reviewed yet", NOT_REVIEWED)
        for flag in Flag:
            self.flag_filter.addItem(f"Flagged: {FLAG_LABELS[flag]}", flag.value)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.flag_filter.currentIndexChanged.connect(lambda _i: self.apply_filter())
        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.flag_filter)

        self.table = DataTable()
        self.table.setObjectName("reviewTable")
        self.table.setAccessibleName("Shares under review")
        configure_table(self.table)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setModel(self.proxy)
        self.table.sortByColumn(ReviewModel.FLAGS, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(ReviewModel.FLAGS, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (ReviewModel.RESOURCE, 170), (ReviewModel.SERVER, 80), (ReviewModel.PERSON, 120),
            (ReviewModel.SCOPES, 110), (ReviewModel.SINCE, 120), (ReviewModel.EXPIRES, 120),
            (ReviewModel.LAST, 120), (ReviewModel.REVIEWED, 80),
        ):  # fmt: skip
            self.table.setColumnWidth(column, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.empty = EmptyState("Loading every share of every server…")
        self.stack = QStackedLayout()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        self.stack.setCurrentWidget(self.empty)
        table_box = QWidget()
        table_box.setLayout(self.stack)

        self.keep_button = QPushButton("Keep")
        self.keep_button.setToolTip("Mark as reviewed; nothing changes on the server")
        self.keep_button.clicked.connect(self.keep_selected)
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.narrow_button = QPushButton("Narrow scopes…")
        self.narrow_button.clicked.connect(self.narrow_dialog)
        self.expiry_button = QPushButton("Set expiry…")
        self.expiry_button.clicked.connect(self.expiry_dialog)
        self.status = PlainLabel("")
        self.status.setObjectName("reviewStatus")
        self.status.setWordWrap(True)
        actions = QHBoxLayout()
        for button in (self.keep_button, self.revoke_button, self.narrow_button,
                       self.expiry_button):  # fmt: skip
            actions.addWidget(button)
        actions.addWidget(self.status, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addLayout(filters)
        layout.addWidget(table_box, 1)
        layout.addLayout(actions)
        self._update_buttons()

    # --- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        self.status.setText("Reading every share of every server…")
        self.reload_button.setEnabled(False)
        self.review.load(self._loaded, self._failed)

    def _loaded(self, loaded: Loaded) -> None:
        self.loaded_once = True
        self.reload_button.setEnabled(True)
        self.settings = loaded.settings
        groups: dict[str, list[ReviewItem]] = {}
        for item in loaded.items:
            groups.setdefault(item.share.connection_id, []).append(item)
        shown = {self.model.row_object(r).share.connection_id for r in range(self.model.rowCount())}
        for group in shown - set(groups):
            self.model.remove_group(group)
        for group, items in groups.items():
            self.model.replace_group(group, items)
        self._show_progress(loaded.progress)
        note = "; ".join(loaded.failures)
        self.status.setText(f"Not read: {note}" if note else "")
        if not loaded.items:
            self.empty.setText("Nothing is shared: there is nothing to review.")
        self.stack.setCurrentWidget(self.table if loaded.items else self.empty)
        self._update_buttons()

    def _failed(self, exc: BaseException) -> None:
        self.reload_button.setEnabled(True)
        message = getattr(exc, "user_message", None) or str(exc)
        self.status.setText(f"Failed: {message}")

    def _show_progress(self, progress: tuple[int, int]) -> None:
        reviewed, total = progress
        self.progress = progress
        self.progress_label.setText(f"{reviewed} of {total} reviewed")

    # --- filtering -----------------------------------------------------------------------------
    def apply_filter(self) -> None:
        needle = self.search.text().strip().casefold()
        chosen = self.flag_filter.currentData()
        tests: list[Callable[[ReviewItem], bool]] = []
        if needle:
            tests.append(
                lambda i: (
                    needle in i.resource.name.casefold()
                    or needle in i.share.party.full_label.casefold()
                    or needle in i.server.casefold()
                )
            )
        if chosen == NOT_REVIEWED:
            tests.append(lambda i: i.outcome is None)
        elif chosen not in (ALL, None):
            flag = Flag(chosen)
            tests.append(lambda i: flag in i.flags)
        self.proxy.set_predicate((lambda i: all(t(i) for t in tests)) if tests else None)

    # --- selection and actions ------------------------------------------------------------------
    def selected_items(self) -> list[ReviewItem]:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return [self.proxy.index(row, 0).data(ObjectRole) for row in sorted(rows)]

    def select_keys(self, keys: Sequence[str]) -> None:
        """Select the rows of these share keys (for bulk actions and tests)."""
        wanted = set(keys)
        chosen = QItemSelection()  # one change (one selectionChanged), not one per row
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(ObjectRole).key in wanted:
                chosen.select(index, index)
        flags = QItemSelectionModel.SelectionFlag
        self.table.selectionModel().select(chosen, flags.ClearAndSelect | flags.Rows)

    def _update_buttons(self) -> None:
        chosen = bool(self.table.selectionModel().selectedRows())
        for button in (self.keep_button, self.revoke_button, self.narrow_button,
                       self.expiry_button):  # fmt: skip
            button.setEnabled(chosen)

    def _context_menu(self, point: QPoint) -> None:
        if not self.table.indexAt(point).isValid():
            return
        menu = QMenu(self)
        menu.addAction("Keep", self.keep_selected)
        menu.addAction("Revoke…", self.revoke_selected)
        menu.addAction("Narrow scopes…", self.narrow_dialog)
        menu.addAction("Set expiry…", self.expiry_dialog)
        menu.popup(self.table.viewport().mapToGlobal(point))

    def keep_selected(self) -> None:
        self.act("keep", self.selected_items())

    def revoke_selected(self, *, confirm: bool = True) -> None:
        items = self.selected_items()
        if not items:
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                "Revoke access",
                f"Take away all access of {len(items)} share{'s' if len(items) != 1 else ''}?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.act("revoke", items)

    def narrow_dialog(self) -> None:
        items = self.selected_items()
        if not items:
            return
        scopes = sorted({s for item in items for s in item.share.scopes})
        dialog = NarrowDialog(scopes, self)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self.act("narrow", items, scopes=dialog.chosen()))
        dialog.open()

    def expiry_dialog(self) -> None:
        items = self.selected_items()
        if not items:
            return
        dialog = ExpiryDialog(self)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self.act("expire", items, when=dialog.when()))
        dialog.open()

    def act(
        self,
        action: str,
        items: Sequence[ReviewItem],
        *,
        scopes: Sequence[str] = (),
        when: datetime | None = None,
    ) -> None:
        if not items:
            return
        self.status.setText(f"{action}: {len(items)} share{'s' if len(items) != 1 else ''}…")
        self.review.act(action, items, self._acted, self._failed, scopes=scopes, when=when)

    def _acted(self, acted: Acted) -> None:
        failed = [r for r in acted.results if not r.ok]
        for result in acted.results:
            if result.ok:
                item = result.item
                if item.outcome is Outcome.EXPIRY_SET and result.decision is not None:
                    expires = result.decision.extra.get("expires_at")
                    if (
                        expires
                        and item.share.expires_at is None
                        and "enforced_by" in (result.decision.extra)
                    ):
                        item = replace(item, enforced_expiry=datetime.fromisoformat(expires))
                self.model.update_object(item)
        self._show_progress(acted.progress)
        done = len(acted.results) - len(failed)
        text = f"{done} done"
        if failed:
            text += f", {len(failed)} failed: {failed[0].error}"
        self.status.setText(text)

    # --- the end, settings, report --------------------------------------------------------------
    def finish(self) -> None:
        self.review.finish(self._finished)

    def _finished(self, summary: Summary) -> None:
        self.summary = summary
        self.summary_label.setText(f"{summary.text()} A new review has started.")
        self.summary_label.show()
        self.load()  # a new review starts from a clean slate

    def open_settings(self) -> ReviewSettingsDialog:
        dialog = ReviewSettingsDialog(self.settings, self.review.timer_installed(), self)
        self.dialog = dialog
        was_installed = dialog.timer.isChecked()

        def accepted() -> None:
            self.settings = dialog.settings()
            self.review.save_settings(self.settings, lambda _r: self.load())
            if dialog.timer.isChecked() != was_installed:
                self.review.set_timer(dialog.timer.isChecked(), self._timer_changed, self._failed)

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def _timer_changed(self, change: Any) -> None:
        state = "installed" if self.review.timer_installed() else "removed"
        self.status.setText(f"Daily expiry timer {state}. {change.note}".strip())

    def export_pdf_dialog(self) -> None:
        suggested = default_report_name(Path.home(), datetime.now(UTC))
        path, _ = QFileDialog.getSaveFileName(self, "Export report", str(suggested), "PDF (*.pdf)")
        if path:
            self.export_pdf(Path(path))

    def export_pdf(self, path: Path, then: Callable[[int], None] | None = None) -> None:
        """Build the report (worker), then print it to ``path`` on this thread."""
        from uma_desktop.gui.report_pdf import write_pdf

        self.status.setText("Building the report…")

        def built(report: Report) -> None:
            self.last_report = report
            try:
                pages = write_pdf(report, path)
            except Exception as exc:  # a folder that cannot be written
                self._failed(exc)
                return
            self.status.setText(f"Report saved: {path} ({pages} page{'s' if pages != 1 else ''})")
            if then is not None:
                then(pages)

        self.review.report(built, self._failed)
