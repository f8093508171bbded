"""Two error paths: expected failures and bugs.

Expected failures are typed ``UmaDesktopError``s: ``show_error`` shows their human message.
Anything else is a bug: the excepthook dialog shows copyable details (the traceback; the core
never puts tokens in exception text) so a person can report it, and the app keeps running.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from uma_desktop.errors import UmaDesktopError

log = logging.getLogger(__name__)


def error_text(exc: BaseException) -> str:
    """The sentence a person sees for ``exc``."""
    if isinstance(exc, UmaDesktopError):
        return exc.user_message
    return f"Something unexpected went wrong ({type(exc).__name__})."


def show_error(parent: QWidget | None, exc: BaseException, title: str = "UMA Desktop") -> None:
    """Tell the person what went wrong: a message box for expected errors, details for bugs."""
    if not isinstance(exc, UmaDesktopError):
        show_exception_dialog(parent, type(exc), exc, exc.__traceback__)
        return
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, error_text(exc), QMessageBox.StandardButton.Ok, parent
    )
    box.setTextFormat(Qt.TextFormat.PlainText)  # error texts can carry server words
    box.setObjectName("errorBox")
    box.setAccessibleName("Error")
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()


class ExceptionDialog(QDialog):
    """Shows an unexpected error with details that can be copied into a report."""

    def __init__(self, parent: QWidget | None, details: str) -> None:
        super().__init__(parent)
        self.setObjectName("exceptionDialog")
        self.setWindowTitle("Unexpected error")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "UMA Desktop ran into an unexpected problem. Your data is safe; the last action "
            "may not have finished. Please include the details below when you report it."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Error details")
        self.details.setMinimumSize(560, 220)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QApplication.clipboard().setText(details))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def show_exception_dialog(
    parent: QWidget | None,
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
) -> None:
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("unexpected error:\n%s", details)
    if QApplication.instance() is None:
        return
    dialog = ExceptionDialog(parent or QApplication.activeWindow(), details)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()


def install_excepthook() -> None:
    """Route uncaught exceptions (e.g. in a slot) to the dialog instead of a silent log line."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        try:
            show_exception_dialog(None, exc_type, exc, tb)
        except Exception:  # the hook must never raise itself
            previous(exc_type, exc, tb)

    sys.excepthook = hook
