"""Render the main views of the real app into PNGs: ``make screenshots`` (docs/screenshots).

Two seeded sandbox servers run on loopback; a scripted user logs in through their real
login forms (the same helper the tests use); a requesting party asks for access through the
real UMA grant. Then the app is driven like a person would and each view is grabbed.
Run from a checkout: ``QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py DIR``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scripted user lives with the test helpers

import httpx  # noqa: E402
from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from tests.fixtures.browser import form_browser  # noqa: E402
from tests.fixtures.sandbox import sandbox_owner_token  # noqa: E402
from uma_desktop.app.support import SupportDesk  # noqa: E402
from uma_desktop.gui.app import Session, ensure_application, launch  # noqa: E402
from uma_desktop.gui.main_window import MainWindow  # noqa: E402
from uma_desktop.gui.support_desk import open_support_desk  # noqa: E402
from uma_desktop.oauth.vault import MemoryVault  # noqa: E402
from uma_desktop.paths import app_dirs  # noqa: E402
from uma_desktop.sandbox import SandboxServer  # noqa: E402
from uma_desktop.sandbox.requesting_party import RequestingParty  # noqa: E402

SIZE = (1280, 800)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Run the event loop until ``condition`` holds (polling with a deadline)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def settle(ms: int = 300) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def save(widget: QWidget, folder: Path, name: str) -> None:
    settle()
    path = folder / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def render_pdf_page(pdf: Path, target: Path) -> None:
    """The PDF's first page as a PNG, rendered by poppler's pdftoppm (poppler-utils)."""
    renderer = shutil.which("pdftoppm")
    if renderer is None:
        raise OSError("pdftoppm is missing: run tools/install-system-deps.sh")
    stem = target.with_suffix("")
    subprocess.run(
        [renderer, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
    )
    print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")


def ask(server: SandboxServer, person: str, resource: str, scopes: list[str]) -> None:
    with RequestingParty.for_sandbox(server.config, person) as party:
        party.access(server.resource_url(resource), scopes)


def log_in(window: MainWindow, issuer: str, name: str) -> None:
    before = set(window.controller.states)
    dialog = window.open_add_connection()
    dialog.issuer.setText(issuer)
    dialog.display_name.setText(name)
    dialog.remember.setChecked(False)  # no keyring needed to take pictures
    finished: list[int] = []
    dialog.finished.connect(finished.append)
    dialog.connect_button.click()
    wait_until(lambda: bool(finished), f"the login to {name}")
    wait_until(lambda: bool(set(window.controller.states) - before), f"{name} in the sidebar")


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2d30",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2023",
        QPalette.ColorRole.AlternateBase: "#27292c",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#35373b",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#3d83db",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#35373b",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.PlaceholderText: "#8a8d91",
        QPalette.ColorRole.Link: "#7ab0f0",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7d8084"))
    return palette


def share_directly(server: SandboxServer, resource: str, person: str, scopes: list[str]) -> None:
    """alice shares through the owner API, so the review has a few shares to show."""
    token = sandbox_owner_token(server, "alice")
    headers = {"Authorization": f"Bearer {token}"}
    found = httpx.get(f"{server.issuer}/owner/people", params={"q": person}, headers=headers)
    found.raise_for_status()
    answer = httpx.post(
        f"{server.issuer}/owner/policies",
        json={
            "resource_id": server.resource_id(resource),
            "resource_scopes": scopes,
            "sub": found.json()["sub"],
        },
        headers=headers,
    )
    answer.raise_for_status()


def shoot_support_desk(window: MainWindow, server: SandboxServer, folder: Path) -> None:
    """Lookup by owner with the why-answer for a pending request (secret in memory only)."""
    photos = next(r for r in server.config["resource_servers"] if r["key"] == "photos")
    desk = open_support_desk(
        window.controller.run,
        SupportDesk(app_dirs(), vault_factory=MemoryVault),
    )
    desk.resize(*SIZE)
    desk.add_connection(server.issuer, photos["client_id"], photos["client_secret"], "Photo Cloud")
    wait_until(lambda: desk.connection_box.count() == 1, "the support connection")
    desk.role_box.setCurrentIndex(desk.role_box.findData("owner"))
    desk.query.setText("alice")
    desk.search(0)
    wait_until(lambda: desk.results.topLevelItemCount() >= 2, "the support lookup")
    desk.select_grant(lambda g: g.person.username == "dave")
    desk.why_scope.setText("view")
    desk.why_button.click()
    wait_until(lambda: "pending" in desk.why_answer.text(), "the why-answer")
    desk.note.setText("Call from Alice: who can see my photos?")
    save(desk, folder, "support-desk")
    desk.close()


def take(folder: Path) -> None:
    app = ensure_application()
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="uma-shots-") as home:
        os.environ["UMA_DESKTOP_HOME"] = home
        # The demo's two servers, each with its own services (as `make run` shows them).
        home_server = SandboxServer(name="Health", seed_profile="health").start()
        work_server = SandboxServer(name="Photos", seed_profile="photos").start()
        sessions: list[Session] = []
        try:
            ask(work_server, "bob", "Holiday 2026", ["view", "download", "comment"])
            ask(work_server, "erin", "Cat pictures", ["view"])
            ask(home_server, "erin", "Allergies", ["read"])
            for server, resource, person, scopes in (
                (home_server, "Allergies", "carol", ["read"]),
                (home_server, "Vaccination record", "dave", ["read"]),
                (work_server, "Cat pictures", "carol", ["view"]),
            ):
                share_directly(server, resource, person, scopes)
            session = launch(
                app_dirs(Path(home)),
                browser_opener=form_browser("alice", "alice"),
                poll_interval=None,
            )
            sessions.append(session)
            wait_until(lambda: session.ready, "the app to open")
            window = session.window
            assert window is not None
            window.resize(*SIZE)
            log_in(window, home_server.issuer, "Health")
            log_in(window, work_server.issuer, "Photos")
            controller = window.controller
            model = window.resources_page.model
            wait_until(lambda: model.rowCount() >= 8 and not model.is_loading(), "the resources")
            wait_until(lambda: controller.requests.rowCount() >= 5, "the requests")

            # Resources with the sharing editor of a shared album
            page = window.resources_page
            window.show_page("resources")
            portraits = next(r for r in model.rows() if r.resource.name == "Family portraits")
            controller.toggle_favourite(portraits)
            page.select_resource(*portraits.key)
            wait_until(lambda: page.detail.shares.rowCount() > 0, "the shares")
            save(window, folder, "resources")

            dialog = page.detail.open_share_dialog()
            assert dialog is not None
            dialog.set_person("carol")
            dialog.check_scopes(["view", "download"])
            save(dialog, folder, "share-dialog")
            dialog.reject()

            # The sharing editor's claims option: anyone with a verified e-mail at a domain
            vaccination = next(r for r in model.rows() if r.resource.name == "Vaccination record")
            page.select_resource(*vaccination.key)
            claims = page.detail.open_share_dialog()
            assert claims is not None
            claims.use_claim("email_domain", "example.org")
            claims.check_scopes(["read"])
            save(claims, folder, "claims-share-dialog")
            claims.reject()

            # The server check of one connection
            check = window.open_check_server(home_server.issuer)
            check.resize(1100, 560)
            check.check_button.click()
            wait_until(lambda: check.report is not None, "the server check")
            settle()
            save(check, folder, "check-report")
            check.reject()

            # Inbox with one request selected, scopes to tick
            window.show_page("requests")
            inbox = window.requests_page
            holiday = next(
                r
                for r in controller.requests.rows()
                if r.resource_name == "Holiday 2026" and r.requester.username == "bob"
            )
            inbox.select_requests([holiday.key])
            inbox.toggle_scope(list(inbox.scope_boxes).index("comment"))
            save(window, folder, "requests")
            inbox.approve_action.trigger()
            wait_until(lambda: "Approved" in inbox.result_label.text(), "the approval")

            # History after a decision
            window.show_page("history")
            wait_until(lambda: window.history_page.model.rowCount() > 0, "the history")
            save(window, folder, "history")

            window.show_page("shared")
            wait_until(lambda: controller.shared_with_me.rowCount() > 0, "shared with me")
            save(window, folder, "shared-with-me")

            # The access review: two shares reviewed, one flagged row selected
            window.open_review()
            review = window.review_page
            wait_until(lambda: review.model.rowCount() >= 5 and not review.model.is_loading(),
                       "the shares under review")  # fmt: skip
            rows = review.model.rows()
            kept = [r for r in rows if r.resource.name == "Work calendar"]
            review.act("keep", kept)
            wait_until(lambda: review.progress_label.text().startswith("1 of"), "the keep")
            review.select_keys([r.key for r in rows if r.resource.name == "Family portraits"])
            save(window, folder, "review")

            # The "who can see my data" report, its first PDF page rendered by poppler
            pdf = Path(home) / "report.pdf"
            pages: list[int] = []
            review.export_pdf(pdf, then=pages.append)
            wait_until(lambda: bool(pages), "the PDF report")
            render_pdf_page(pdf, folder / "report-pdf.png")

            add = window.open_add_connection()
            add.issuer.setText("https://auth.example.org/realms/me")
            save(add, folder, "add-server")
            add.reject()

            # The support desk: a resource server's help desk looks up alice's shares
            shoot_support_desk(window, work_server, folder)

            # The same resources view in a dark palette
            app.setPalette(dark_palette())
            window.show_page("resources")
            save(window, folder, "resources-dark")
        finally:
            for session in sessions:
                session.close()
            home_server.stop()
            work_server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="where to write the PNGs")
    options = parser.parse_args()
    options.folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    take(options.folder.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
