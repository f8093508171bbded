"""Check server…: run the server check on a connection's issuer or a typed URL, show the
pass/warn/fail list with its spec references, and save it as HTML or JSON.

Everything in the table is plain text (items and labels never interpret markup); the check
runs as a controller worker, so the window stays responsive however slow the server is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.gui.widgets import PlainLabel

if TYPE_CHECKING:
    from uma_desktop.app.server_check import CheckReport
    from uma_desktop.gui.controller import Controller

COLUMNS = ("Result", "Check", "Detail", "Reference")
OUTCOME_COLOURS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}


class CheckServerDialog(QDialog):
    """Pick a connection or type an issuer URL, check it, read and export the report."""

    def __init__(
        self, controller: Controller, initial: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.report: CheckReport | None = None
        self.setObjectName("checkServerDialog")
        self.setWindowTitle("Check server")
        self.resize(980, 560)

        self.target = QComboBox()
        self.target.setObjectName("checkTarget")
        self.target.setEditable(True)
        self.target.setAccessibleName("Server to check (issuer URL)")
        for state in controller.states.values():
            self.target.addItem(
                f"{state.connection.display_name} — {state.connection.issuer}",
                state.connection.issuer,
            )
        if initial:
            index = self.target.findData(initial)
            if index >= 0:
                self.target.setCurrentIndex(index)
            else:
                self.target.setEditText(initial)
        self.check_button = QPushButton("Check")
        self.check_button.setObjectName("runCheck")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.run_check)
        row = QHBoxLayout()
        row.addWidget(PlainLabel("Server:"))
        row.addWidget(self.target, 1)
        row.addWidget(self.check_button)

        self.status = PlainLabel(
            "Checks what any client can see, without signing in: discovery, keys, "
            "sign-in safety and the owner API."
        )
        self.status.setObjectName("checkStatus")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("checkFindings")
        self.table.setAccessibleName("Check results")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)

        self.save_html = QPushButton("Save as HTML…")
        self.save_json = QPushButton("Save as JSON…")
        for button in (self.save_html, self.save_json):
            button.setEnabled(False)
        self.save_html.clicked.connect(lambda: self._save("html"))
        self.save_json.clicked.connect(lambda: self._save("json"))
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_html)
        buttons.addWidget(self.save_json)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def url(self) -> str:
        data = self.target.currentData()
        text = self.target.currentText().strip()
        if isinstance(data, str) and self.target.itemText(self.target.currentIndex()) == text:
            return data
        return text

    def run_check(self) -> None:
        url = self.url()
        if not url:
            self.status.setText("Type the issuer URL of a server, or pick a connection.")
            return
        self.check_button.setEnabled(False)
        self.status.setText(f"Checking {url}…")
        self.controller.check_server(
            url, on_done=self.show_report, on_error=self._failed, owner=self
        )

    def _failed(self, exc: BaseException) -> None:
        self.check_button.setEnabled(True)
        message = getattr(exc, "user_message", None) or "The check could not run."
        self.status.setText(str(message))

    def show_report(self, report: CheckReport) -> None:
        self.report = report
        self.check_button.setEnabled(True)
        self.table.setRowCount(len(report.findings))
        for row, finding in enumerate(report.findings):
            outcome = QTableWidgetItem(finding.outcome.value.upper())
            outcome.setForeground(QBrush(QColor(OUTCOME_COLOURS[finding.outcome.value])))
            self.table.setItem(row, 0, outcome)
            for column, text in enumerate((finding.title, finding.detail, finding.reference), 1):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
        self.status.setText(
            f"{report.target} — owner API: {report.owner_api or 'none found'} — {report.summary}"
        )
        self.save_html.setEnabled(True)
        self.save_json.setEnabled(True)

    def export(self, path: Path, kind: str) -> None:
        """Write the report to ``path`` as ``html`` or ``json``."""
        assert self.report is not None
        if kind == "html":
            text = self.report.to_html()
        else:
            text = json.dumps(self.report.to_json(), indent=2, ensure_ascii=True)
        path.write_text(text, encoding="utf-8")

    def _save(self, kind: str) -> None:
        if self.report is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Save check report",
            f"server-check.{kind}",
            "HTML page (*.html)" if kind == "html" else "JSON (*.json)",
        )
        if not name:
            return
        try:
            self.export(Path(name), kind)
        except OSError as exc:
            self.status.setText(f"Could not save {name}: {exc.strerror or exc}")
        else:
            self.status.setText(f"Saved {name}.")
