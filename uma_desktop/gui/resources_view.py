"""Resources of every server in one table, with search, filters, grouping and favourites,
and the resource detail / sharing editor beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QDateTime,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeySequence, QPaintEvent, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedLayout,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.backends.base import Capability
from uma_desktop.domain import Decision, Party, Resource, Share
from uma_desktop.foreground import foreground
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.errors import error_text
from uma_desktop.gui.icons import icon
from uma_desktop.gui.models import (
    ObjectFilterProxy,
    ObjectRole,
    ResourceRow,
    ResourcesModel,
    SharesModel,
    scopes_text,
)

ALL = "__all__"
GROUPS: list[tuple[str, int]] = [
    ("No grouping", -1),
    ("Server", ResourcesModel.SERVER),
    ("Resource server", ResourcesModel.RESOURCE_SERVER),
    ("Type", ResourcesModel.TYPE),
]


def person_id(party: Party) -> str:
    """What to send the server to name a person: username, else e-mail, else id."""
    return party.username or party.email or party.id


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


class EmptyState(QLabel):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setObjectName("emptyState")
        self.setEnabled(False)  # drawn in the muted text colour of the palette


class ResourcesPage(QWidget):
    """The table of all resources, plus the detail panel for the current one."""

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
        header.setSectionResizeMode(ResourcesModel.NAME, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(ResourcesModel.FAVOURITE, 28)
        for column, width in (
            (ResourcesModel.SERVER, 90),
            (ResourcesModel.RESOURCE_SERVER, 120),
            (ResourcesModel.TYPE, 110),
            (ResourcesModel.SCOPES, 150),
            (ResourcesModel.SHARED, 85),
        ):
            self.table.setColumnWidth(column, width)
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
        self._debounce.setInterval(180)
        self._debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._debounce.start)
        for combo in (self.server_filter, self.rs_filter, self.type_filter):
            combo.currentIndexChanged.connect(self.apply_filter)
        self.favourites_only.toggled.connect(self.apply_filter)
        self.group_by.currentIndexChanged.connect(
            lambda i: self.model.set_group_column(GROUPS[i][1])
        )
        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search)
        fav = QShortcut(QKeySequence("Ctrl+D"), self.table, self.toggle_current_favourite)
        fav.setContext(Qt.ShortcutContext.WidgetShortcut)

        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._update_counts)
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
    def apply_filter(self) -> None:
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
            self.proxy.set_predicate(None)
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

            self.proxy.set_predicate(accept)
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
        servers = len({cid for cid in self.controller.states})
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
            self.apply_filter()
            proxy_index = self.proxy.mapFromSource(self.model.index(row, ResourcesModel.NAME))
        flags = QItemSelectionModel.SelectionFlag
        self.table.selectionModel().setCurrentIndex(proxy_index, flags.ClearAndSelect | flags.Rows)
        self.table.scrollTo(proxy_index)
        return True

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


class ResourceDetail(QFrame):
    """One resource: what it is, who has which scopes, and the actions to change that."""

    shares_loaded = Signal()

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.row: ResourceRow | None = None
        self.setObjectName("resourceDetail")
        self.setMinimumWidth(300)
        self.shares = SharesModel(self)
        self._share_generation = 0

        self.title = QLabel()
        self.title.setObjectName("detailTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.favourite_button = QToolButton()
        self.favourite_button.setAutoRaise(True)
        self.favourite_button.setAccessibleName("Favourite")
        self.favourite_button.setCheckable(True)
        self.favourite_button.clicked.connect(self._toggle_favourite)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title, 1)
        title_row.addWidget(self.favourite_button, 0, Qt.AlignmentFlag.AlignTop)

        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setObjectName("detailFacts")

        self.shares_table = DataTable()
        self.shares_table.setObjectName("sharesTable")
        self.shares_table.setAccessibleName("Shared with")
        configure_table(self.shares_table)
        self.shares_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.shares_table.setModel(self.shares)
        shares_header = self.shares_table.horizontalHeader()
        shares_header.setStretchLastSection(False)
        shares_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        shares_header.setSectionResizeMode(SharesModel.SCOPES, QHeaderView.ResizeMode.Stretch)
        self.shares_table.hideColumn(SharesModel.GRANTED)  # in the person's tooltip instead
        self.shares_table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.shares_status = QLabel()
        self.shares_status.setObjectName("sharesStatus")
        self.shares_status.setWordWrap(True)

        self.share_button = QPushButton(icon("share"), "&Share…")
        self.share_button.setObjectName("shareButton")
        self.share_button.setToolTip("Give a person access to this resource")
        self.share_button.clicked.connect(self.open_share_dialog)
        self.narrow_button = QPushButton(icon("narrow"), "Change &scopes…")
        self.narrow_button.setObjectName("narrowButton")
        self.narrow_button.setToolTip("Take some scopes away from the selected person")
        self.narrow_button.clicked.connect(self.open_narrow_dialog)
        self.revoke_button = QPushButton(icon("revoke"), "&Revoke")
        self.revoke_button.setObjectName("revokeButton")
        self.revoke_button.setToolTip("Take all access away from the selected person")
        self.revoke_button.clicked.connect(self.confirm_revoke)
        buttons = QHBoxLayout()
        buttons.addWidget(self.share_button)
        buttons.addWidget(self.narrow_button)
        buttons.addWidget(self.revoke_button)
        buttons.addStretch(1)

        box = QGroupBox("Shared with")
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(self.shares_table, 1)
        box_layout.addWidget(self.shares_status)
        box_layout.addLayout(buttons)

        self.content = QWidget()
        content_layout = QVBoxLayout(self.content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addLayout(title_row)
        content_layout.addWidget(self.facts)
        content_layout.addWidget(box, 1)
        self.placeholder = EmptyState("Select a resource to see who can use it.")
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.content)
        self.dialog: QDialog | None = None
        self.show_resource(None)

    # --- showing -------------------------------------------------------------------------
    def show_resource(self, row: ResourceRow | None) -> None:
        same = row is not None and self.row is not None and row.key == self.row.key
        self.row = row
        if row is None:
            self.stack.setCurrentWidget(self.placeholder)
            return
        self.stack.setCurrentWidget(self.content)
        self.update_row(row)
        if not same:
            self.shares.set_rows([])
            self.reload_shares()

    def update_row(self, row: ResourceRow) -> None:
        self.row = row
        r = row.resource
        self.title.setText(r.name)
        self.favourite_button.setChecked(row.favourite)
        self.favourite_button.setIcon(icon("star-filled" if row.favourite else "star"))
        self.favourite_button.setToolTip(
            "Remove from favourites (Ctrl+D)" if row.favourite else "Add to favourites (Ctrl+D)"
        )
        facts = [
            ("Server", row.server),
            ("Resource server", r.resource_server),
            ("Type", r.type or "—"),
            ("Scopes", scopes_text(r.scopes) or "—"),
        ]
        if r.description:
            facts.append(("About", r.description))
        self.facts.setText(
            "<table cellspacing='2'>"
            + "".join(
                f"<tr><td style='padding-right:10px'><b>{k}</b></td><td>{_escape(v)}</td></tr>"
                for k, v in facts
            )
            + "</table>"
        )
        self._update_buttons()

    def reload_shares(self) -> None:
        if self.row is None:
            return
        resource = self.row.resource
        self._share_generation += 1
        generation = self._share_generation
        self.shares_status.setText("Loading who has access…")

        def done(shares: list[Share]) -> None:
            if generation != self._share_generation:
                return  # the person moved on to another resource
            self.shares.set_rows(shares)
            self.shares_status.setText("" if shares else "Not shared with anyone.")
            self._update_buttons()
            self.shares_loaded.emit()

        def failed(exc: BaseException) -> None:
            if generation != self._share_generation:
                return
            self.shares_status.setText(f"Could not load the shares: {error_text(exc)}")
            self.shares_loaded.emit()

        self.controller.run(
            self.controller.control.shares(resource.connection_id, resource.id),
            done,
            failed,
            owner=self,
        )

    def selected_share(self) -> Share | None:
        rows = self.shares_table.selectionModel().selectedRows()
        return rows[0].data(ObjectRole) if rows else None

    def select_share(self, person: str) -> bool:
        for row in range(self.shares.rowCount()):
            share = self.shares.row_object(row)
            if person in (
                share.party.username,
                share.party.email,
                share.party.id,
                share.party.label,
            ):
                self.shares_table.selectRow(row)
                return True
        return False

    def _capabilities(self) -> frozenset[Capability]:
        if self.row is None:
            return frozenset()
        return self.controller.capabilities(self.row.resource.connection_id)

    def _update_buttons(self, *_: Any) -> None:
        has_share = self.selected_share() is not None
        caps = self._capabilities()
        self.share_button.setEnabled(self.row is not None)
        self.revoke_button.setEnabled(has_share)
        self.narrow_button.setVisible(not caps or Capability.NARROW in caps)
        self.narrow_button.setEnabled(has_share)

    def _toggle_favourite(self) -> None:
        if self.row is not None:
            self.controller.toggle_favourite(self.row)

    # --- actions -------------------------------------------------------------------------
    def open_share_dialog(self) -> ShareDialog | None:
        if self.row is None:
            return None
        dialog = ShareDialog(self.controller, self.row.resource, self._capabilities(), self)
        dialog.shared.connect(lambda _d: self._changed())
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_narrow_dialog(self) -> NarrowDialog | None:
        share = self.selected_share()
        if self.row is None or share is None:
            return None
        dialog = NarrowDialog(self.controller, self.row.resource, share, self)
        dialog.changed.connect(lambda _d: self._changed())
        self.dialog = dialog
        dialog.open()
        return dialog

    def confirm_revoke(self) -> QMessageBox | None:
        share = self.selected_share()
        if self.row is None or share is None:
            return None
        resource = self.row.resource
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Revoke access",
            f"Take all access to “{resource.name}” away from {share.party.label}?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        revoke = box.addButton("Revoke", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(button: Any) -> None:
            if box.clickedButton() is revoke:
                self.revoke(share)

        box.buttonClicked.connect(answered)
        box.open()
        self.dialog = box  # type: ignore[assignment]
        return box

    def revoke(self, share: Share) -> None:
        assert self.row is not None
        resource = self.row.resource
        self.shares_status.setText(f"Revoking {share.party.label}…")
        self.controller.revoke(
            resource.connection_id,
            resource.id,
            person_id(share.party),
            None,
            lambda _d: self._changed(),
            lambda exc: self.shares_status.setText(f"Could not revoke: {error_text(exc)}"),
            owner=self,
        )

    def _changed(self) -> None:
        self.reload_shares()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ShareDialog(QDialog):
    """Share a resource with a person: who, which scopes, until when (where supported).

    A failure keeps the dialog open with everything typed, and says what went wrong.
    """

    shared = Signal(object)  # Decision

    def __init__(
        self,
        controller: Controller,
        resource: Resource,
        capabilities: frozenset[Capability],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.resource = resource
        self.setObjectName("shareDialog")
        self.setWindowTitle(f"Share “{resource.name}”")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.person = QLineEdit()
        self.person.setObjectName("personEdit")
        hint = "username or e-mail" if Capability.SHARE_BY_EMAIL in capabilities else "username"
        self.person.setPlaceholderText(hint)
        self.person.setAccessibleName("Person")
        self.lookup_button = QPushButton(icon("person"), "&Look up")
        self.lookup_button.setToolTip("Check that this person exists on the server")
        self.lookup_button.clicked.connect(self.look_up)
        self.lookup_button.setVisible(Capability.PERSON_LOOKUP in capabilities)
        person_row = QHBoxLayout()
        person_row.addWidget(self.person, 1)
        person_row.addWidget(self.lookup_button)
        person_label = QLabel("&Person:")
        person_label.setBuddy(self.person)
        form.addRow(person_label, person_row)
        self.lookup_result = QLabel()
        self.lookup_result.setObjectName("lookupResult")
        form.addRow("", self.lookup_result)

        self.scope_boxes: dict[str, QCheckBox] = {}
        scopes_box = QVBoxLayout()
        for scope in resource.scopes:
            box = QCheckBox(scope)
            box.setAccessibleName(f"Scope {scope}")
            self.scope_boxes[scope] = box
            scopes_box.addWidget(box)
        if len(resource.scopes) == 1:
            next(iter(self.scope_boxes.values())).setChecked(True)
        form.addRow("Scopes:", scopes_box)

        self.expires = QCheckBox("&Expires")
        self.expiry = QDateTimeEdit(QDateTime.currentDateTime().addDays(30))
        self.expiry.setCalendarPopup(True)
        self.expiry.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.expiry.setMinimumDateTime(QDateTime.currentDateTime())
        self.expiry.setEnabled(False)
        self.expiry.setAccessibleName("Expiry date")
        self.expires.toggled.connect(self.expiry.setEnabled)
        expiry_row = QHBoxLayout()
        expiry_row.addWidget(self.expires)
        expiry_row.addWidget(self.expiry, 1)
        self.expiry_row = QWidget()
        self.expiry_row.setLayout(expiry_row)
        expiry_row.setContentsMargins(0, 0, 0, 0)
        self.supports_expiry = Capability.EXPIRY in capabilities
        self.expiry_row.setVisible(self.supports_expiry)
        form.addRow(self.expiry_row)
        layout.addLayout(form)

        self.error = QLabel()
        self.error.setObjectName("shareError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox()
        self.share_button = self.buttons.addButton("Share", QDialogButtonBox.ButtonRole.AcceptRole)
        self.share_button.setObjectName("confirmShareButton")
        self.share_button.setDefault(True)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def chosen_scopes(self) -> list[str]:
        return [scope for scope, box in self.scope_boxes.items() if box.isChecked()]

    def set_person(self, text: str) -> None:
        self.person.setText(text)

    def check_scopes(self, scopes: list[str]) -> None:
        for scope, box in self.scope_boxes.items():
            box.setChecked(scope in scopes)

    def expires_at(self) -> datetime | None:
        if not self.supports_expiry or not self.expires.isChecked():
            return None
        chosen = self.expiry.dateTime().toSecsSinceEpoch()
        return datetime.fromtimestamp(chosen, UTC)

    def look_up(self) -> None:
        query = self.person.text().strip()
        if not query:
            return
        self.lookup_result.setText("Looking up…")

        def found(party: Party | None) -> None:
            if party is None:
                self.lookup_result.setText(f"No one called “{query}” on this server.")
            else:
                self.lookup_result.setText(
                    f"✓ {party.label}" + (f" <{party.email}>" if party.email else "")
                )

        self.controller.run(
            self.controller.control.find_person(
                self.resource.connection_id, self.resource.id, query
            ),
            found,
            lambda exc: self.lookup_result.setText(error_text(exc)),
            owner=self,
        )

    def submit(self) -> None:
        person = self.person.text().strip()
        scopes = self.chosen_scopes()
        if not person:
            self._show_error("Type who to share with.")
            return
        if not scopes:
            self._show_error("Choose at least one scope.")
            return
        self.share_button.setEnabled(False)
        self.error.setText("Sharing…")
        self.error.show()
        self.controller.share(
            self.resource.connection_id,
            self.resource.id,
            person,
            scopes,
            self.expires_at(),
            self._done,
            self._failed,
            owner=self,
        )

    def _done(self, decision: Decision) -> None:
        self.shared.emit(decision)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.share_button.setEnabled(True)
        self._show_error(f"Not shared: {error_text(exc)}")

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


class NarrowDialog(QDialog):
    """Untick the scopes a person should lose; the rest of their access stays."""

    changed = Signal(object)  # Decision

    def __init__(
        self,
        controller: Controller,
        resource: Resource,
        share: Share,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.resource = resource
        self.share = share
        self.setObjectName("narrowDialog")
        self.setWindowTitle(f"Scopes of {share.party.label}")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"{share.party.label} keeps the ticked scopes on “{resource.name}”:")
        )
        self.scope_boxes: dict[str, QCheckBox] = {}
        for scope in share.scopes:
            box = QCheckBox(scope)
            box.setChecked(True)
            box.setAccessibleName(f"Keep scope {scope}")
            self.scope_boxes[scope] = box
            layout.addWidget(box)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Apply")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def removed_scopes(self) -> list[str]:
        return [scope for scope, box in self.scope_boxes.items() if not box.isChecked()]

    def submit(self) -> None:
        removed = self.removed_scopes()
        if not removed:
            self.accept()
            return
        self.ok_button.setEnabled(False)
        # Removing every scope is a revoke; the server treats it the same way.
        scopes = None if len(removed) == len(self.scope_boxes) else removed
        self.controller.revoke(
            self.resource.connection_id,
            self.resource.id,
            person_id(self.share.party),
            scopes,
            self._done,
            self._failed,
            owner=self,
        )

    def _done(self, decision: Decision) -> None:
        self.changed.emit(decision)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.ok_button.setEnabled(True)
        self.error.setText(f"Not changed: {error_text(exc)}")
        self.error.show()
