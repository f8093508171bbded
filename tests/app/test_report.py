"""The report model and its formats: server text escaped in HTML, app-kept expiry labelled."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from uma_desktop.app.expiry import ENFORCED_LABEL, DueDate, share_key
from uma_desktop.app.report import build_report, to_csv, to_html, to_json
from uma_desktop.app.state import PerConnection
from uma_desktop.domain import BackendKind, Connection, Party, Resource, Share
from uma_desktop.errors import ServerUnreachableError

HOSTILE = '<img src="file:///etc/passwd"><script>alert(1)</script>'
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_formats_escape_server_text_and_label_app_kept_expiry() -> None:
    connections = [
        Connection("kc", "https://kc.example", BackendKind.KEYCLOAK, "app", "Keycloak"),
        Connection("gone", "https://down.example", BackendKind.POLICY_MANAGER, "app", "Down"),
    ]
    resource = Resource("kc", "r1", HOSTILE, ("view", "edit"), "Photos")
    bob = Party("u-bob", username="bob", name=f"Bob {HOSTILE}")
    share = Share("kc", "r1", bob, ("view",), granted_at=NOW - timedelta(days=3))
    due = DueDate("kc", "r1", HOSTILE, "u-bob", "bob", "Bob", NOW + timedelta(days=9), NOW)
    results = [
        PerConnection("kc", [(resource, share)]),
        PerConnection("gone", None, ServerUnreachableError("Down did not answer.")),
    ]
    report = build_report(results, connections, {share_key("kc", "r1", "u-bob"): due}, now=NOW)
    [row] = report.rows
    assert row.expires_at == due.due and row.expiry_enforced_by == "UMA Desktop"

    page = to_html(report)
    parsed = _Tags()
    parsed.feed(page)
    assert not parsed.tags & {"img", "script"}  # shown as text, never as markup
    text = "".join(parsed.text)
    assert HOSTILE in text and ENFORCED_LABEL in text and "not read: Down did not answer." in text
    [as_csv] = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert as_csv["resource_name"] == HOSTILE and as_csv["expiry_enforced_by"] == "UMA Desktop"
    data = to_json(report)
    assert data["shares"][0]["person_name"] == f"Bob {HOSTILE}"
    assert [c["ok"] for c in data["connections"]] == [True, False]


def test_the_command_line_offers_every_flag() -> None:
    from uma_desktop.app.review import Flag
    from uma_desktop.cli_review import FLAG_CHOICES

    assert tuple(flag.value for flag in Flag) == FLAG_CHOICES
