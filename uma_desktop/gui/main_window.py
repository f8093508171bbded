"""The main window: navigation + connections on the left, pages on the right, tray icon.

Other parts of the app add their own pages and docks through ``add_page`` / ``add_dock``
(the demo mode adds a requesting-party panel this way). View ▸ Protocol trace opens the
trace page on demand; it records from then on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

import uma_desktop
from uma_desktop.domain import AccessRequest
from uma_desktop.gui import icons
from uma_desktop.gui.connections import AddConnectionDialog, ConnectionsPanel
from uma_desktop.gui.controller import Controller
from uma_desktop.gui.errors import show_error
from uma_desktop.gui.inbox_view import RequestsPage
from uma_desktop.gui.lists_view import history_page, shared_with_me_page
from uma_desktop.gui.resources_page import ResourcesPage
from uma_desktop.gui.review_control import ReviewControl
from uma_desktop.gui.settings import UiState
from uma_desktop.gui.widgets import notification_text

if TYPE_CHECKING:
    from uma_desktop.gui.review_page import ReviewPage
    from uma_desktop.gui.trace_view import TraceView

PageKeyRole = Qt.ItemDataRole.UserRole + 20
APP_ID = "org.umadesktop.UmaDesktop"
TRACE_PAGE = "trace"
REVIEW_PAGE = "review"
REVIEW_REMINDER = "Time to review your shares"


class MainWindow(QMainWindow):
    """Navigation, connections, pages; remembers its geometry and layout."""

    page_changed = Signal(str)

    def __init__(
        self, controller: Controller, ui_state: UiState, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.ui_state = ui_state
        self.setObjectName("mainWindow")
        self.setWindowTitle("UMA Desktop")
        self.setWindowIcon(icons.app_icon())
        self.resize(1200, 760)
        self._pages: dict[str, QWidget] = {}
        self._page_titles: dict[str, str] = {}
        self._page_icons: dict[str, str | QIcon | None] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._view_actions: dict[str, QAction] = {}
        self.last_notification: tuple[str, str] | None = None
        self.dialog: QWidget | None = None
        self._splitters_restored = False

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setAccessibleName("Views")
        self.nav.setFrameShape(QListWidget.Shape.NoFrame)
        self.nav.currentItemChanged.connect(self._nav_changed)
        self.connections = ConnectionsPanel(controller)
        self.connections.add_requested.connect(self.open_add_connection)
        self.connections.login_requested.connect(self.open_login)
        self.connections.check_requested.connect(self._check_connection)

        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        side_layout = QVBoxLayout(sidebar)
        side_layout.setContentsMargins(6, 6, 6, 6)
        side_layout.addWidget(self.nav, 0)
        side_layout.addWidget(self.connections, 1)

        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(sidebar)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 960])
        self.setCentralWidget(self.splitter)

        self.resources_page = ResourcesPage(controller)
        self.requests_page = RequestsPage(controller)
        self.shared_page = shared_with_me_page(controller)
        self.history_page = history_page(controller)
        self.review = ReviewControl(controller)
        self._review_page: ReviewPage | None = None  # built when first shown
        self.add_page("resources", "Resources", self.resources_page, "resources")
        self.add_page("requests", "Inbox", self.requests_page, "inbox")
        self.add_page("shared", "Shared with me", self.shared_page, "shared-with-me")
        self.add_page("history", "History", self.history_page, "history")
        self.add_page(REVIEW_PAGE, "Review shares", QWidget(), "review")
        self._fit_nav()

        self.busy_label = QLabel()
        self.statusBar().addPermanentWidget(self.busy_label)
        self._build_menus()
        self.tray = self._build_tray()

        controller.requests_count_changed.connect(self._counts_changed)
        controller.new_requests.connect(self._new_requests)
        controller.busy_changed.connect(
            lambda busy: self.busy_label.setText("Working…" if busy else "")
        )
        controller.problem.connect(lambda text: self.statusBar().showMessage(text, 8000))
        controller.bridge.unhandled_error.connect(lambda exc: show_error(self, exc))
        self.page_changed.connect(self._page_shown)
        self.review.reminder_due.connect(self._review_reminder)
        self.review.expired.connect(self._shares_expired)
        self.controller.when_open(self.review.start)  # reminder and expiry need the core
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _s: self.retheme())
        self.restore_state()
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)

    # --- pages and docks -----------------------------------------------------------------
    def add_page(
        self, key: str, title: str, widget: QWidget, icon: str | QIcon | None = None
    ) -> None:
        """Add a page to the navigation (``icon``: a name from gui/icons or a QIcon)."""
        if key in self._pages:
            raise ValueError(f"a page called {key!r} exists already")
        self._pages[key] = widget
        self._page_titles[key] = title
        self._page_icons[key] = icon
        self.stack.addWidget(widget)
        item = QListWidgetItem(title)
        item.setData(PageKeyRole, key)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, title)
        self._set_item_icon(item, icon)
        self.nav.addItem(item)
        self._fit_nav()
        shortcut_number = len(self._pages)
        if key not in self._view_actions and shortcut_number <= 9 and hasattr(self, "view_menu"):
            self._add_view_action(key, title, shortcut_number)

    def add_dock(
        self,
        key: str,
        title: str,
        widget: QWidget,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea,
    ) -> QDockWidget:
        """Add a dockable panel; its visibility and place are remembered with the window."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def page(self, key: str) -> QWidget:
        return self._pages[key]

    def page_keys(self) -> list[str]:
        return list(self._pages)

    def current_page_key(self) -> str | None:
        item = self.nav.currentItem()
        return item.data(PageKeyRole) if item else None

    def show_page(self, key: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(PageKeyRole) == key:
                self.nav.setCurrentRow(row)
                return
        raise KeyError(key)

    def show_trace(self) -> TraceView:
        """Show the "Protocol trace" page, adding it (and starting to record) the first time."""
        # the trace (and the HTTP layer it observes) loads when first asked for
        from uma_desktop.gui.trace_view import TraceView, install_trace_page

        if TRACE_PAGE not in self._pages:
            install_trace_page(self)
        self.show_page(TRACE_PAGE)
        view = self._pages[TRACE_PAGE]
        assert isinstance(view, TraceView)
        return view

    @property
    def review_page(self) -> ReviewPage:
        """The Review shares page, built on first use (most starts never show it)."""
        if self._review_page is None:
            from uma_desktop.gui.review_page import ReviewPage

            page = ReviewPage(self.review)
            placeholder = self._pages[REVIEW_PAGE]
            self.stack.insertWidget(self.stack.indexOf(placeholder), page)
            if self.stack.currentWidget() is placeholder:
                self.stack.setCurrentWidget(page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self._pages[REVIEW_PAGE] = self._review_page = page
        return self._review_page

    def _nav_changed(self, current: QListWidgetItem | None, _previous: Any) -> None:
        if current is None:
            return
        key = current.data(PageKeyRole)
        if key == REVIEW_PAGE:
            self.review_page  # noqa: B018 (built now, when first shown)
        self.stack.setCurrentWidget(self._pages[key])
        self.page_changed.emit(key)

    def _page_shown(self, key: str) -> None:
        if key == "requests":
            self.controller.mark_requests_read()
        elif key == "history":
            self.controller.refresh_history()
        elif key == REVIEW_PAGE and not self.review_page.loaded_once:
            self.controller.when_open(self.review_page.load)  # the page may be restored first

    def _fit_nav(self) -> None:
        rows = self.nav.count()
        height = (
            sum(self.nav.sizeHintForRow(r) for r in range(rows)) + 2 * self.nav.frameWidth() + 4
        )
        self.nav.setFixedHeight(max(height, 40))

    def _set_item_icon(self, item: QListWidgetItem, icon: str | QIcon | None) -> None:
        if isinstance(icon, str):
            item.setIcon(icons.icon(icon))
        elif isinstance(icon, QIcon):
            item.setIcon(icon)

    # --- menus ---------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.add_action = self._menu_action(
            file_menu, "&Add server…", "Ctrl+N", self.open_add_connection, "add"
        )
        self.refresh_action = self._menu_action(
            file_menu, "&Refresh everything", "Ctrl+R", self.controller.refresh_all, "refresh"
        )
        self.check_action = self._menu_action(
            file_menu, "C&heck server…", "Ctrl+Shift+K", self.open_check_server
        )
        file_menu.addSeparator()
        self._menu_action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self._quit)
        self.view_menu = self.menuBar().addMenu("&View")
        for number, key in enumerate(self._pages, start=1):
            self._add_view_action(key, self._page_titles[key], number)
        self.view_menu.addSeparator()
        self.trace_action = self._menu_action(
            self.view_menu, "Protocol &trace", "Ctrl+Shift+T", self.show_trace, "trace"
        )
        self.trace_action.setToolTip("Every HTTP exchange with your servers, secrets hidden")
        self._view_actions[TRACE_PAGE] = self.trace_action
        from uma_desktop.gui.zoom import install_zoom

        self.zoom = install_zoom(self, self.view_menu, self.ui_state)  # presenter mode
        self.support_action = self._menu_action(
            self.view_menu, "&Support desk…", "Ctrl+Shift+D", self.open_support_desk
        )
        help_menu = self.menuBar().addMenu("&Help")
        self._menu_action(help_menu, "&About UMA Desktop", None, self._about)

    def _add_view_action(self, key: str, title: str, number: int) -> None:
        action = QAction(title, self)
        action.setShortcut(QKeySequence(f"Ctrl+{number}"))
        action.triggered.connect(lambda _=False, k=key: self.show_page(k))
        self.view_menu.addAction(action)
        self._view_actions[key] = action

    def _menu_action(
        self, menu: QMenu, text: str, shortcut: Any, slot: Any, icon_name: str | None = None
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            icons.bind(action, icon_name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def open_support_desk(self) -> QWidget:
        """A separate window for support staff (resource-server credentials, never mixed in)."""
        from uma_desktop.app.support import SupportDesk
        from uma_desktop.gui.support_desk import open_support_desk

        return open_support_desk(self.controller.run, SupportDesk(self.controller.control.dirs))

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About UMA Desktop",
            f"<b>UMA Desktop {uma_desktop.__version__}</b><p>One place to decide who may access "
            "your data across User-Managed Access (UMA 2.0) authorization servers.</p>",
        )

    def _quit(self) -> None:
        self.close()
        QApplication.quit()

    # --- dialogs -------------------------------------------------------------------------
    def _check_connection(self, connection_id: str) -> None:
        state = self.controller.states.get(connection_id)
        if state is not None:
            self.open_check_server(state.connection.issuer)

    def open_check_server(self, url: str | None = None) -> QWidget:
        """The server check, on ``url`` or the selected connection's issuer."""
        from uma_desktop.gui.check_dialog import CheckServerDialog

        if url is None:
            selected = self.connections.selected_id()
            state = self.controller.states.get(selected) if selected else None
            url = state.connection.issuer if state else None
        dialog = CheckServerDialog(self.controller, url, self)
        self.dialog = dialog
        dialog.show()
        return dialog

    def open_add_connection(self) -> AddConnectionDialog:
        dialog = AddConnectionDialog(self.controller, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_login(self, connection_id: str) -> AddConnectionDialog:
        state = self.controller.states[connection_id]
        dialog = AddConnectionDialog(self.controller, self, connection=state.connection)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    # --- requests badge, tray, notifications ---------------------------------------------
    def _counts_changed(self, pending: int, unread: int) -> None:
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            if item.data(PageKeyRole) == "requests":
                title = self._page_titles["requests"]
                item.setText(
                    f"{title} ({unread} new)"
                    if unread
                    else (f"{title} · {pending}" if pending else title)
                )
                item.setData(
                    Qt.ItemDataRole.AccessibleTextRole, f"{title}, {pending} pending, {unread} new"
                )
                font = item.font()
                font.setBold(unread > 0)
                item.setFont(font)
        title = "UMA Desktop" + (f" ({pending} pending)" if pending else "")
        self.setWindowTitle(title)
        if self.tray is not None:
            self.tray.setIcon(icons.badge_icon(icons.app_icon(), pending))
            self.tray.setToolTip(
                f"UMA Desktop — {pending} pending request{'s' if pending != 1 else ''}"
                if pending
                else "UMA Desktop — no pending requests"
            )

    def _new_requests(self, requests: list[AccessRequest]) -> None:
        if not requests:
            return
        if len(requests) == 1:
            r = requests[0]
            text = f"{r.requester.label} asks for {', '.join(r.scopes)} on {r.resource_name}."
        else:
            text = f"{len(requests)} new access requests are waiting for you."
        self.notify("New access request" if len(requests) == 1 else "New access requests", text)
        if self.current_page_key() == "requests" and self.isActiveWindow():
            return
        QApplication.alert(self)

    def notify(self, title: str, text: str) -> None:
        """A desktop notification (through the tray where there is one)."""
        self.last_notification = (title, text)
        if self.tray is not None and self.tray.isVisible() and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(
                notification_text(title), notification_text(text), icons.app_icon(), 8000
            )
        else:
            self.statusBar().showMessage(f"{title}: {text}", 10000)

    def _build_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(icons.app_icon(), self)
        tray.setToolTip("UMA Desktop")
        menu = QMenu(self)
        show = menu.addAction("Show UMA Desktop")
        show.triggered.connect(self._raise)
        inbox = menu.addAction("Open requests")
        inbox.triggered.connect(self._open_inbox)
        self.review_tray_action = menu.addAction("Review your shares (due)")
        self.review_tray_action.triggered.connect(self.open_review)
        self.review_tray_action.setVisible(False)
        menu.addSeparator()
        quit_action = menu.addAction("Quit")
        quit_action.triggered.connect(self._quit)
        tray.setContextMenu(menu)
        tray.activated.connect(self._tray_activated)
        tray.messageClicked.connect(self._message_clicked)
        tray.show()
        return tray

    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._raise()

    def _message_clicked(self) -> None:
        if self.last_notification and self.last_notification[0] == REVIEW_REMINDER:
            self.open_review()
        else:
            self._open_inbox()

    def _review_reminder(self) -> None:
        """The last finished review is older than the interval: say so, offer to open it."""
        if self.tray is not None:
            self.review_tray_action.setVisible(True)
        self.notify(REVIEW_REMINDER, "Go through who can access what, and keep or revoke.")

    def _shares_expired(self, decisions: list[Any]) -> None:
        done = [d for d in decisions if d.ok]
        if done:
            self.notify(
                "Shares expired",
                f"UMA Desktop revoked {len(done)} share{'s' if len(done) != 1 else ''} whose "
                "expiry date has passed.",
            )

    def open_review(self) -> None:
        self._raise()
        self.show_page(REVIEW_PAGE)

    def _open_inbox(self) -> None:
        self._raise()
        self.show_page("requests")

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # --- theme ---------------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.retheme()
        super().changeEvent(event)

    def retheme(self) -> None:
        """Re-colour every icon for the current palette (light/dark switch at run time)."""
        icons.retheme()
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            self._set_item_icon(item, self._page_icons.get(item.data(PageKeyRole)))
        self.resources_page.model.set_star_icons(icons.icon("star-filled"), icons.icon("star"))
        self.connections.refresh()

    # --- state ---------------------------------------------------------------------------
    def _splitters(self) -> dict[str, QSplitter]:
        return {
            "main": self.splitter,
            "resources": self.resources_page.splitter,
            "requests": self.requests_page.splitter,
        }

    def restore_state(self) -> None:
        state = self.ui_state
        geometry = state.get("geometry")
        if isinstance(geometry, str):
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))
        layout = state.get("window_state")
        if isinstance(layout, str):
            self.restoreState(QByteArray.fromBase64(layout.encode()))
        header = state.get("header.resources")
        if isinstance(header, str):
            self.resources_page.table.horizontalHeader().restoreState(
                QByteArray.fromBase64(header.encode())
            )
            self.resources_page.adopt_column_widths()  # widths the person chose stay
        page = state.get("page")
        if isinstance(page, str) and page in self._pages:
            self.show_page(page)

    def _restore_splitters(self) -> None:
        # Only once the window has its real size: before that, a splitter squeezes the
        # restored sizes into its default width and keeps the squeezed proportions.
        for name, splitter in self._splitters().items():
            saved = self.ui_state.get(f"splitter.{name}")
            if isinstance(saved, str):
                splitter.restoreState(QByteArray.fromBase64(saved.encode()))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._splitters_restored:
            self._splitters_restored = True
            QTimer.singleShot(0, self._restore_splitters)  # after the platform sized us

    def save_state(self) -> None:
        def b64(data: QByteArray) -> str:
            return bytes(data.toBase64().data()).decode()

        state = self.ui_state
        state.set("geometry", b64(self.saveGeometry()))
        state.set("window_state", b64(self.saveState()))
        for name, splitter in self._splitters().items():
            state.set(f"splitter.{name}", b64(splitter.saveState()))
        state.set("header.resources", b64(self.resources_page.table.horizontalHeader().saveState()))
        key = self.current_page_key()
        if key:
            state.set("page", key)
        state.save()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if self.tray is not None:
            self.tray.hide()
        super().closeEvent(event)
