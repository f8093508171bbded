""" "Who can see my data": one report across servers, as JSON, CSV and HTML (no Qt).

One model (:class:`Report`: every share as a row, grouped per person and per resource)
feeds every format, so they always carry the same rows; the GUI prints the same HTML to PDF.
Server text is escaped in HTML and kept as data in CSV/JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from uma_desktop.app.review_terms import ENFORCED_LABEL, ENFORCER, share_key
from uma_desktop.domain import Connection, Resource, Share

if TYPE_CHECKING:
    from uma_desktop.app.expiry import DueDate
    from uma_desktop.app.state import PerConnection

APP_NAME = "UMA Desktop"
REPORT_FIELDS = (
    "connection_id",
    "server",
    "issuer",
    "resource_id",
    "resource_name",
    "resource_server",
    "person_id",
    "person_username",
    "person_email",
    "person_name",
    "scopes",
    "granted_at",
    "expires_at",
    "expiry_enforced_by",
)


@dataclass(frozen=True)
class ReportRow:
    connection_id: str
    server: str
    issuer: str
    resource_id: str
    resource_name: str
    resource_server: str
    person_id: str
    person_username: str
    person_email: str
    person_name: str
    scopes: tuple[str, ...]
    granted_at: datetime | None
    expires_at: datetime | None
    expiry_enforced_by: str  # "" (the server's own, or none) or "UMA Desktop"

    @property
    def person_label(self) -> str:
        handle = self.person_username or self.person_email
        if self.person_name and handle and handle != self.person_name:
            return f"{self.person_name} ({handle})"
        return self.person_name or handle or self.person_id

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.connection_id, self.resource_id, self.person_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "server": self.server,
            "issuer": self.issuer,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "resource_server": self.resource_server,
            "person_id": self.person_id,
            "person_username": self.person_username,
            "person_email": self.person_email,
            "person_name": self.person_name,
            "scopes": list(self.scopes),
            "granted_at": self.granted_at.isoformat() if self.granted_at else "",
            "expires_at": self.expires_at.isoformat() if self.expires_at else "",
            "expiry_enforced_by": self.expiry_enforced_by,
        }


@dataclass(frozen=True)
class ReportConnection:
    id: str
    name: str
    issuer: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    connections: tuple[ReportConnection, ...]
    rows: tuple[ReportRow, ...]

    def by_person(self) -> list[tuple[str, list[ReportRow]]]:
        groups: dict[str, list[ReportRow]] = {}
        for row in self.rows:
            groups.setdefault(row.person_label, []).append(row)
        return sorted(groups.items(), key=lambda g: g[0].casefold())

    def by_resource(self) -> list[tuple[str, list[ReportRow]]]:
        groups: dict[tuple[str, str], list[ReportRow]] = {}
        for row in self.rows:
            groups.setdefault((row.server, row.resource_name), []).append(row)
        ordered = sorted(groups.items(), key=lambda g: (g[0][0].casefold(), g[0][1].casefold()))
        return [(f"{name} ({server})", rows) for (server, name), rows in ordered]


def build_report(
    results: Sequence[PerConnection[list[tuple[Resource, Share]]]],
    connections: Sequence[Connection],
    due_dates: dict[str, DueDate],
    *,
    now: datetime | None = None,
) -> Report:
    by_id = {c.id: c for c in connections}
    rows = []
    summary = []
    for result in results:
        connection = by_id.get(result.connection_id)
        name = connection.display_name if connection else result.connection_id
        issuer = connection.issuer if connection else ""
        summary.append(
            ReportConnection(
                result.connection_id,
                name,
                issuer,
                result.error is None,
                result.error.user_message if result.error else "",
            )
        )
        for resource, share in result.value or []:
            due = due_dates.get(share_key(share.connection_id, resource.id, share.party.id))
            enforced = share.expires_at is None and due is not None
            rows.append(
                ReportRow(
                    connection_id=result.connection_id,
                    server=name,
                    issuer=issuer,
                    resource_id=resource.id,
                    resource_name=resource.name,
                    resource_server=resource.resource_server,
                    person_id=share.party.id,
                    person_username=share.party.username or "",
                    person_email=share.party.email or "",
                    person_name=share.party.name or "",
                    scopes=share.scopes,
                    granted_at=share.granted_at,
                    expires_at=due.due if enforced and due else share.expires_at,
                    expiry_enforced_by=ENFORCER if enforced else "",
                )
            )
    rows.sort(key=lambda r: (r.server.casefold(), r.resource_name.casefold(), r.person_label))
    return Report(now or datetime.now(UTC), tuple(summary), tuple(rows))


def to_json(report: Report) -> dict[str, Any]:
    return {
        "generated_at": report.generated_at.isoformat(),
        "shares": [row.to_json() for row in report.rows],
        "connections": [
            {"id": c.id, "name": c.name, "issuer": c.issuer, "ok": c.ok, "message": c.message}
            for c in report.connections
        ],
        "people": [
            {"person": label, "shares": [row.to_json() for row in rows]}
            for label, rows in report.by_person()
        ],
    }


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({**row.to_json(), "scopes": " ".join(row.scopes)})
    return buffer.getvalue()


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "—"


def expiry_text(row: ReportRow) -> str:
    if row.expires_at is None:
        return "never"
    if row.expiry_enforced_by:
        return f"{_day(row.expires_at)} — {ENFORCED_LABEL}"
    return _day(row.expires_at)


_STYLE = """
body { font-family: 'DejaVu Sans', sans-serif; font-size: 10pt; color: #1b1b1b; }
h1 { font-size: 18pt; margin-bottom: 2pt; }
h2 { font-size: 13pt; margin-top: 14pt; border-bottom: 1px solid #999; }
h3 { font-size: 11pt; margin-top: 10pt; margin-bottom: 2pt; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; }
th { text-align: left; background: #e8ecf2; padding: 3pt 6pt; }
td { padding: 3pt 6pt; border-bottom: 1px solid #ddd; vertical-align: top; }
"""


def _cells(values: Sequence[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{escape(v)}</{tag}>" for v in values)


def _group_table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    body = "".join(f"<tr>{_cells(line)}</tr>" for line in lines)
    head = f"<tr>{_cells(header, 'th')}</tr>"
    return f'<table width="100%" cellspacing="0" cellpadding="4">{head}{body}</table>'


def to_html(report: Report) -> str:
    """A complete, self-contained printable HTML page; every piece of server text escaped."""
    stamp = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{APP_NAME} — who can see my data</title><style>{_STYLE}</style></head><body>",
        f"<h1>{APP_NAME}: who can see my data</h1>",
        f"<p class='meta'>Generated {escape(stamp)}"
        f" · {len(report.rows)} share{'s' if len(report.rows) != 1 else ''}</p>",
        "<h2>Connections</h2>",
        _group_table(
            ["Server", "Issuer", "Status"],
            [
                [c.name, c.issuer, "read" if c.ok else f"not read: {c.message}"]
                for c in report.connections
            ],
        ),
        "<h2>Per person: what they can access</h2>",
    ]
    if not report.rows:
        parts.append("<p>Nothing is shared with anyone.</p>")
    for label, rows in report.by_person():
        parts.append(f"<h3>{escape(label)}</h3>")
        parts.append(
            _group_table(
                ["Resource", "Server", "Scopes", "Since", "Expires"],
                [
                    [
                        r.resource_name,
                        r.server,
                        ", ".join(r.scopes),
                        _day(r.granted_at),
                        expiry_text(r),
                    ]
                    for r in rows
                ],
            )
        )
    parts.append("<h2>Per resource: who</h2>")
    for label, rows in report.by_resource():
        parts.append(f"<h3>{escape(label)}</h3>")
        parts.append(
            _group_table(
                ["Person", "Scopes", "Since", "Expires"],
                [
                    [r.person_label, ", ".join(r.scopes), _day(r.granted_at), expiry_text(r)]
                    for r in rows
                ],
            )
        )
    parts.append("</body></html>")
    return "".join(parts)
