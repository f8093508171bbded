"""The dialogs that change who has access: share a resource with a person, and narrow a
person's scopes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.domain import Decision, Party, Resource, Share
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.errors import error_text
from uma_desktop.gui.icons import icon
from uma_desktop.gui.widgets import PlainLabel

if TYPE_CHECKING:  # the core loads after the window is shown (see gui/app.py)
    from uma_desktop.backends.base import Capability

# The claims a claims share can require, as the sharing editor offers them.
CLAIM_KINDS = (
    ("email_domain", "Verified e-mail at the domain", "example.org"),
    ("email", "E-mail address", "someone@example.org"),
    ("preferred_username", "Username", "bob"),
    ("name", "Full name", "Bob Brown"),
)


def person_id(party: Party) -> str:
    """What to send the server to name a person: username, else e-mail, else id."""
    return party.username or party.email or party.id


class ShareDialog(QDialog):
    """Share a resource with a person: who, which scopes, until when (kept by the server, or
    by the app where the server has no expiry).

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
        from uma_desktop.backends.base import Capability  # loaded with the core

        self.controller = controller
        self.resource = resource
        self.setObjectName("shareDialog")
        self.setWindowTitle(f"Share “{resource.name}”")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.supports_claims = Capability.SHARE_BY_CLAIMS in capabilities
        self.with_person = QRadioButton("A &person")
        self.with_person.setObjectName("shareWithPerson")
        self.with_claim = QRadioButton("&Anyone with a claim")
        self.with_claim.setObjectName("shareWithClaim")
        self.with_claim.setToolTip(
            "Anyone the server has verified a claim for, e.g. an e-mail address at a domain"
        )
        self.audience = QButtonGroup(self)
        self.audience.addButton(self.with_person)
        self.audience.addButton(self.with_claim)
        self.with_person.setChecked(True)
        audience_row = QHBoxLayout()
        audience_row.addWidget(self.with_person)
        audience_row.addWidget(self.with_claim)
        audience_row.addStretch(1)
        self.audience_row = QWidget()
        self.audience_row.setLayout(audience_row)
        audience_row.setContentsMargins(0, 0, 0, 0)
        self.audience_row.setVisible(self.supports_claims)
        form.addRow("Share with:", self.audience_row)
        self.person = QLineEdit()
        self.person.setObjectName("personEdit")
        hint = "username or e-mail" if Capability.SHARE_BY_EMAIL in capabilities else "username"
        self.person.setPlaceholderText(hint)
        self.person.setAccessibleName("Person")
        self.lookup_button = QPushButton(icon("person"), "&Look up")
        self.lookup_button.setToolTip("Check that this person exists on the server")
        self.lookup_button.clicked.connect(self.look_up)
        self._lookup_offered = Capability.PERSON_LOOKUP in capabilities
        self.lookup_button.setVisible(self._lookup_offered)
        person_row = QHBoxLayout()
        person_row.addWidget(self.person, 1)
        person_row.addWidget(self.lookup_button)
        person_label = QLabel("&Person:")
        person_label.setBuddy(self.person)
        form.addRow(person_label, person_row)
        self.lookup_result = PlainLabel()
        self.lookup_result.setObjectName("lookupResult")
        self.lookup_result.setWordWrap(True)
        form.addRow("", self.lookup_result)

        self.claim_kind = QComboBox()
        self.claim_kind.setObjectName("claimKind")
        self.claim_kind.setAccessibleName("Claim")
        for name, label, _ in CLAIM_KINDS:
            self.claim_kind.addItem(label, name)
        self.claim_value = QLineEdit()
        self.claim_value.setObjectName("claimValue")
        self.claim_value.setAccessibleName("Claim value")
        self.claim_kind.currentIndexChanged.connect(self._claim_kind_changed)
        self._claim_kind_changed()
        claim_row = QHBoxLayout()
        claim_row.addWidget(self.claim_kind)
        claim_row.addWidget(self.claim_value, 1)
        claim_row.setContentsMargins(0, 0, 0, 0)
        self.claim_row = QWidget()
        self.claim_row.setLayout(claim_row)
        self.claim_label = QLabel("&Claim:")
        self.claim_label.setBuddy(self.claim_value)
        form.addRow(self.claim_label, self.claim_row)
        self.person_widgets = (person_label, self.person, self.lookup_button, self.lookup_result)
        self.with_claim.toggled.connect(self._audience_changed)
        self._audience_changed()

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
        if capabilities and Capability.EXPIRY not in capabilities:
            # The server cannot expire a share: the app keeps the date and revokes it then.
            self.expires.setText("&Expires (enforced by UMA Desktop)")
            self.expiry_row.setToolTip(
                "This server cannot expire a share, so UMA Desktop keeps the date and "
                "revokes the share when it falls due."
            )
        form.addRow(self.expiry_row)
        layout.addLayout(form)

        self.error = PlainLabel()
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

    def _claim_kind_changed(self) -> None:
        self.claim_value.setPlaceholderText(CLAIM_KINDS[self.claim_kind.currentIndex()][2])

    def _audience_changed(self) -> None:
        claims = self.with_claim.isChecked()
        self.claim_label.setVisible(claims)
        self.claim_row.setVisible(claims)
        self.person.setVisible(not claims)
        self.person_widgets[0].setVisible(not claims)
        self.lookup_button.setVisible(not claims and self._lookup_offered)
        self.lookup_result.setVisible(not claims)

    def use_claim(self, name: str, value: str) -> None:
        """Switch to "anyone with a claim" and fill it in (for scripts and tests)."""
        self.with_claim.setChecked(True)
        self.claim_kind.setCurrentIndex(self.claim_kind.findData(name))
        self.claim_value.setText(value)

    def chosen_claim(self) -> tuple[str, str]:
        return str(self.claim_kind.currentData()), self.claim_value.text().strip()

    def chosen_scopes(self) -> list[str]:
        return [scope for scope, box in self.scope_boxes.items() if box.isChecked()]

    def set_person(self, text: str) -> None:
        self.person.setText(text)

    def check_scopes(self, scopes: list[str]) -> None:
        for scope, box in self.scope_boxes.items():
            box.setChecked(scope in scopes)

    def expires_at(self) -> datetime | None:
        if not self.expires.isChecked():
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

        self.controller.find_person(
            self.resource.connection_id,
            self.resource.id,
            query,
            on_done=found,
            on_error=lambda exc: self.lookup_result.setText(error_text(exc)),
            owner=self,
        )

    def submit(self) -> None:
        person = self.person.text().strip()
        scopes = self.chosen_scopes()
        by_claim = self.supports_claims and self.with_claim.isChecked()
        if by_claim and not self.chosen_claim()[1]:
            self._show_error("Type the value the claim must have.")
            return
        if not by_claim and not person:
            self._show_error("Type who to share with.")
            return
        if not scopes:
            self._show_error("Choose at least one scope.")
            return
        self.share_button.setEnabled(False)
        self.error.setText("Sharing…")
        self.error.show()
        if by_claim:
            self.controller.share_with_claims(
                self.resource.connection_id,
                self.resource.id,
                [self.chosen_claim()],
                scopes,
                self.expires_at(),
                self._done,
                self._failed,
                owner=self,
            )
            return
        until = self.expires_at()
        if until is not None:
            self.controller.share_until(
                self.resource, person, scopes, until, self._done, self._failed, owner=self
            )
            return
        self.controller.share(
            self.resource.connection_id,
            self.resource.id,
            person,
            scopes,
            None,
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
        self.setMinimumWidth(360)
        layout = QVBoxLayout(self)
        self.intro = PlainLabel(
            f"{share.party.label} keeps the ticked scopes on “{resource.name}”:"
        )
        self.intro.setObjectName("narrowIntro")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.scope_boxes: dict[str, QCheckBox] = {}
        for scope in share.scopes:
            box = QCheckBox(scope)
            box.setChecked(True)
            box.setAccessibleName(f"Keep scope {scope}")
            self.scope_boxes[scope] = box
            layout.addWidget(box)
        self.error = PlainLabel()
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
