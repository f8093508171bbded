"""The "Review shares" page in the real window over two real sandboxes: flags, filter,
keep / narrow / set expiry / revoke on selections, progress kept across a restart, the
summary, the settings dialog, and the PDF report rendered by poppler."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.gui import WAIT, log_in
from tests.fixtures.owner import OwnerApi
from uma_desktop.app.review import ReviewStore
from uma_desktop.gui.review_page import ALL, NOT_REVIEWED, NarrowDialog, ReviewModel, ReviewPage

pytestmark = pytest.mark.gui


def keys_of(page: ReviewPage, resource: str, username: str) -> list[str]:
    return [
        item.key
        for item in page.model.rows()
        if item.resource.name == resource and item.share.party.username == username
    ]


def wait_loaded(qtbot: Any, page: ReviewPage, rows: int) -> None:
    def loaded() -> None:
        assert page.model.rowCount() == rows and not page.model.is_loading(), (
            f"{page.model.rowCount()} rows; status: {page.status.text()}"
        )

    qtbot.waitUntil(loaded, timeout=WAIT)


def wait_progress(qtbot: Any, page: ReviewPage, text: str) -> None:
    qtbot.waitUntil(lambda: page.progress_label.text() == text, timeout=WAIT)


def test_review_page_actions_resume_and_pdf(
    qtbot: Any, gui_app: Any, sandbox_factory: Any, tmp_path: Path
) -> None:
    home, work = sandbox_factory(name="Home"), sandbox_factory(name="Work")
    window = gui_app(form_browser("alice", "alice"))
    home_id = log_in(qtbot, window, home.issuer, name="Home")
    log_in(qtbot, window, work.issuer, name="Work")
    api = OwnerApi(home)
    done: list[Any] = []
    window.controller.share(
        home_id, home.resource_id("Cat pictures"), "dave", ["view", "download"],
        None, done.append, None,
    )  # fmt: skip
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)

    window.open_review()
    page = window.review_page
    wait_loaded(qtbot, page, 5)
    wait_progress(qtbot, page, "0 of 5 reviewed")
    servers = {page.model.index(r, ReviewModel.SERVER).data() for r in range(5)}
    assert servers == {"Home", "Work"}

    page.flag_filter.setCurrentIndex(page.flag_filter.findData("all-scopes"))
    assert page.proxy.rowCount() == 1
    assert page.proxy.index(0, ReviewModel.PERSON).data() == "Dave Davis"
    assert "all scopes" in page.proxy.index(0, ReviewModel.FLAGS).data()
    page.flag_filter.setCurrentIndex(page.flag_filter.findData(ALL))
    page.search.setText("calendar")
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 2, timeout=WAIT)
    page.search.clear()
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 5, timeout=WAIT)

    # Narrow one, keep both calendars (bulk), set an expiry, revoke one.
    page.select_keys(keys_of(page, "Cat pictures", "dave"))
    page.narrow_button.click()
    dialog = page.dialog
    assert isinstance(dialog, NarrowDialog) and dialog.scopes == ["download", "view"]
    dialog.boxes[0].setChecked(True)
    dialog.accept()
    wait_progress(qtbot, page, "1 of 5 reviewed")
    assert api.policy_of("Cat pictures", "dave")["resource_scopes"] == ["view"]  # type: ignore[index]
    page.select_keys([i.key for i in page.model.rows() if i.resource.name == "Work calendar"])
    assert len(page.selected_items()) == 2
    page.keep_button.click()
    wait_progress(qtbot, page, "3 of 5 reviewed")
    when = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    page.act("expire", [page.model.object_for_key(keys_of(page, "Family portraits", "bob")[0])],
             when=when)  # fmt: skip
    wait_progress(qtbot, page, "4 of 5 reviewed")
    assert api.policy_of("Family portraits", "bob")["expires_at"] == int(when.timestamp())  # type: ignore[index]
    history = [d.action for d in window.controller.control.history()]
    assert {"narrow", "keep", "set-expiry"} <= set(history)
    reviewed = [page.model.index(r, ReviewModel.REVIEWED).data() for r in range(5)]
    assert sorted(reviewed) == ["", "expiry set", "kept", "kept", "narrowed"]
    page.flag_filter.setCurrentIndex(page.flag_filter.findData(NOT_REVIEWED))
    assert page.proxy.rowCount() == 1
    page.flag_filter.setCurrentIndex(0)

    # The PDF report: rendered by poppler, holding every share.
    pdf = tmp_path / "report.pdf"
    pages: list[int] = []
    page.export_pdf(pdf, then=pages.append)
    qtbot.waitUntil(lambda: bool(pages), timeout=WAIT)
    assert pdf.read_bytes().startswith(b"%PDF")
    renderer, extractor = shutil.which("pdftoppm"), shutil.which("pdftotext")
    assert renderer and extractor, "poppler-utils missing (tools/install-system-deps.sh)"
    subprocess.run([renderer, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == pages[0] >= 1
    text = subprocess.run(
        [extractor, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "UMA Desktop" in text and "who can see my data" in text
    report = page.last_report
    assert report is not None and len(report.rows) == 5
    for row in report.rows:
        assert row.resource_name in text and row.person_name in text

    # Leave and come back: a restarted app resumes the review where it was.
    gui_app.close(window)
    window = gui_app(form_browser("alice", "alice"))
    window.open_review()
    page = window.review_page
    wait_loaded(qtbot, page, 5)
    wait_progress(qtbot, page, "4 of 5 reviewed")
    page.select_keys(
        keys_of(page, "Family portraits", "bob") + keys_of(page, "Cat pictures", "dave")
    )
    page.revoke_selected(confirm=False)
    wait_progress(qtbot, page, "5 of 5 reviewed")
    assert api.policy_of("Cat pictures", "dave") is None
    page.finish()
    qtbot.waitUntil(lambda: page.summary is not None, timeout=WAIT)
    assert page.summary is not None and page.summary.total == 5
    assert "5 of 5 shares reviewed" in page.summary_label.text()
    wait_loaded(qtbot, page, 2)  # bob's two shares and dave's were revoked
    wait_progress(qtbot, page, "0 of 2 reviewed")
    assert ReviewStore(window.controller.control.dirs.data).load().last_completed is not None


def test_reminder_and_settings_dialog(
    qtbot: Any, gui_app: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    window = gui_app(form_browser("alice", "alice"))
    log_in(qtbot, window, sandbox.issuer, name="Home")
    window.review.check_reminder()  # no finished review yet: due
    qtbot.waitUntil(lambda: window.last_notification is not None, timeout=WAIT)
    assert window.last_notification[0] == "Time to review your shares"
    window._message_clicked()
    assert window.current_page_key() == "review"

    page = window.review_page
    dialog = page.open_settings()
    dialog.interval.setValue(30)
    dialog.timer.setChecked(True)
    dialog.accept()
    units = tmp_path / "config" / "systemd" / "user"
    qtbot.waitUntil(lambda: (units / "uma-desktop-expire.timer").exists(), timeout=WAIT)
    qtbot.waitUntil(
        lambda: (
            ReviewStore(window.controller.control.dirs.data).load().settings.interval_days == 30
        ),
        timeout=WAIT,
    )
    dialog = page.open_settings()
    assert dialog.timer.isChecked() and dialog.interval.value() == 30
    dialog.timer.setChecked(False)
    dialog.accept()
    qtbot.waitUntil(lambda: not (units / "uma-desktop-expire.timer").exists(), timeout=WAIT)


def test_the_reminder_comes_by_itself_when_the_window_starts(
    qtbot: Any, gui_app: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-up checks (reminder, due expiries) wait for the core instead of failing."""
    from uma_desktop.gui.main_window import MainWindow

    titles: list[str] = []
    notify = MainWindow.notify

    def recording(self: MainWindow, title: str, text: str) -> None:
        titles.append(title)
        notify(self, title, text)

    monkeypatch.setattr(MainWindow, "notify", recording)
    window = gui_app(form_browser("alice", "alice"))
    log_in(qtbot, window, sandbox.issuer, name="Home")
    gui_app.close(window)
    titles.clear()

    gui_app(form_browser("alice", "alice"))  # a connection exists, no review done yet
    qtbot.waitUntil(lambda: "Time to review your shares" in titles, timeout=WAIT)
