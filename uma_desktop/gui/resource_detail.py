"""The detail panel of one resource: what it is, who has which scopes, and the buttons that
share, narrow and revoke."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.domain import Share
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.errors import error_text
from uma_desktop.gui.icons import icon
from uma_desktop.gui.models import ObjectRole, ResourceRow, SharesModel, scopes_text
from uma_desktop.gui.sharing_dialogs import NarrowDialog, ShareDialog
from uma_desktop.gui.widgets import DataTable, EmptyState, PlainLabel, configure_table

if TYPE_CHECKING:  # the core loads after the window is shown (see gui/app.py)
    from uma_desktop.app.expiry import ResourceShares
    from uma_desktop.backends.base import Capability


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

        self.title = PlainLabel()
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
        self.facts.setTextFormat(Qt.TextFormat.RichText)  # composed here, values escaped
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
        # The panel is narrow: Expires is as wide as a date, and a due date the app enforces
        # wraps its note under the date (rows measured: a resource has few shares).
        shares_header.setSectionResizeMode(SharesModel.EXPIRES, QHeaderView.ResizeMode.Interactive)
        date_width = self.shares_table.fontMetrics().horizontalAdvance("0000-00-00 00:00")
        shares_header.resizeSection(SharesModel.EXPIRES, date_width + 16)
        self.shares_table.setWordWrap(True)
        self.shares_table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.shares_table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.shares_status = PlainLabel()
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
        if r.labels:
            facts.append(("Labels", ", ".join(r.labels)))
        if r.description:
            facts.append(("About", r.description))
        self.facts.setText(
            "<table cellspacing='2'>"
            + "".join(
                f"<tr><td style='padding-right:10px'><b>{k}</b></td><td>{html.escape(v)}</td></tr>"
                for k, v in facts
            )
            + "</table>"
        )
        self._update_buttons()

    def reload_shares(self) -> None:
        if self.row is None:
            return
        resource = self.row.resource
        self.shares_status.setText("Loading who has access…")

        def done(loaded: ResourceShares) -> None:
            self.shares.set_shares(loaded.shares, loaded.app_kept_due)
            self.shares_status.setText("" if loaded.shares else "Not shared with anyone.")
            self._update_buttons()
            self.shares_loaded.emit()

        def failed(exc: BaseException) -> None:
            self.shares_status.setText(f"Could not load the shares: {error_text(exc)}")
            self.shares_loaded.emit()

        # Exclusive: when the person moves on to another resource, the previous load is
        # cancelled and its answer never reaches this panel.
        self.controller.load_shares(
            resource.connection_id, resource.id, on_done=done, on_error=failed, owner=self
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
        if caps:
            from uma_desktop.backends.base import Capability  # loaded with the core

            self.narrow_button.setVisible(Capability.NARROW in caps)
        else:
            self.narrow_button.setVisible(True)
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
        box.setTextFormat(Qt.TextFormat.PlainText)  # names come from the server
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
        self.shares_status.setText(f"Revoking {share.party.label}…")
        self.controller.revoke_share(
            share,
            lambda _d: self._changed(),
            lambda exc: self.shares_status.setText(f"Could not revoke: {error_text(exc)}"),
            owner=self,
        )

    def _changed(self) -> None:
        self.reload_shares()
