"""Exports of recorded entries: a Mermaid sequence diagram, a HAR 1.2 log, readable text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from uma_desktop import __version__
from uma_desktop.trace.recording import TraceEntry


def _mermaid_text(text: str) -> str:
    """Make text safe inside a Mermaid message or alias (entity codes for the specials)."""
    text = text.replace("#", "#35;").replace(";", "#59;").replace("\n", " ")
    return text.replace("%%", "%#37;")


def _participant_id(index: int) -> str:
    return f"P{index}"


def to_mermaid(entries: Iterable[TraceEntry], *, title: str | None = None) -> str:
    """A Mermaid ``sequenceDiagram``: a request arrow and an answer arrow per exchange.

    Participants appear in the order they first take part; labels keep redacted values only.
    """
    entries = list(entries)
    order: list[str] = []
    for entry in entries:
        for name in (entry.actor, entry.target):
            if name not in order:
                order.append(name)
    ids = {name: _participant_id(i + 1) for i, name in enumerate(order)}
    lines = []
    if title:  # front matter: how every Mermaid diagram type takes a title
        lines += ["---", f"title: {json.dumps(title.replace(chr(10), ' '))}", "---"]
    lines += ["sequenceDiagram", "    autonumber"]
    for name in order:
        kind = "actor" if name.startswith("rqp:") else "participant"
        lines.append(f"    {kind} {ids[name]} as {_mermaid_text(name)}")
    # Requests at their start, answers at their end: a call the server made while serving
    # another (an RS asking the AS for a ticket) nests inside it, as on the wire.
    events = sorted(
        [(e.started, 0, e.seq, e) for e in entries]
        + [(e.started + e.duration, 1, e.seq, e) for e in entries],
        key=lambda event: event[:3],
    )
    for _, is_answer, _, entry in events:
        source, target = ids[entry.actor], ids[entry.target]
        if not is_answer:
            lines.append(f"    {source}->>{target}: {_mermaid_text(entry.summary)}")
            continue
        arrow = "-->>" if entry.status is not None and entry.status < 400 else "--x"
        lines.append(f"    {target}{arrow}{source}: {_mermaid_text(entry.outcome)}")
    return "\n".join(lines) + "\n"


def _iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _har_headers(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers]


def _har_cookies(headers: Iterable[tuple[str, str]], header: str) -> list[dict[str, str]]:
    cookies = []
    for key, value in headers:
        if key.lower() != header:
            continue
        parts = value.split(";") if header == "cookie" else [value.split(";")[0]]
        for part in parts:
            name, _, val = part.strip().partition("=")
            if name:
                cookies.append({"name": name, "value": val})
    return cookies


_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 302: "Found", 303: "See Other",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    409: "Conflict", 422: "Unprocessable Entity", 500: "Internal Server Error",
}  # fmt: skip


def to_har(entries: Iterable[TraceEntry]) -> dict[str, Any]:
    """A HAR 1.2 log; the custom ``_actor``, ``_target``, ``_connection`` keep the trace's view."""
    har_entries = []
    for entry in entries:
        parts = urlsplit(entry.url)
        request_type = entry.header("content-type", response=False) or ""
        request: dict[str, Any] = {
            "method": entry.method,
            "url": entry.url,
            "httpVersion": "HTTP/1.1",
            "cookies": _har_cookies(entry.request_headers, "cookie"),
            "headers": _har_headers(entry.request_headers),
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ],
            "headersSize": -1,
            "bodySize": len(entry.request_body.encode()),
        }
        if entry.request_body:
            request["postData"] = {"mimeType": request_type, "text": entry.request_body}
        response_type = entry.header("content-type") or ""
        millis = round(entry.duration * 1000, 3)
        har_entries.append(
            {
                "startedDateTime": _iso(entry.started),
                "time": millis,
                "request": request,
                "response": {
                    "status": entry.status or 0,
                    "statusText": _REASONS.get(entry.status or 0, ""),
                    "httpVersion": "HTTP/1.1",
                    "cookies": _har_cookies(entry.response_headers, "set-cookie"),
                    "headers": _har_headers(entry.response_headers),
                    "content": {
                        "size": len(entry.response_body.encode()),
                        "mimeType": response_type,
                        "text": entry.response_body,
                    },
                    "redirectURL": entry.header("location") or "",
                    "headersSize": -1,
                    "bodySize": len(entry.response_body.encode()),
                    **({"_error": entry.error} if entry.error else {}),
                },
                "cache": {},
                "timings": {"send": 0, "wait": millis, "receive": 0},
                "_actor": entry.actor,
                "_target": entry.target,
                "_connection": entry.connection_id,
            }
        )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "uma-desktop", "version": __version__},
            "comment": "Protocol trace; every token, code, secret and password is redacted.",
            "pages": [],
            "entries": har_entries,
        }
    }


def to_har_json(entries: Iterable[TraceEntry]) -> str:
    return json.dumps(to_har(entries), indent=2, ensure_ascii=False)


def _readable_form(body: str) -> str:
    """``a=1&b=x%20y`` as one decoded ``a = 1`` line per field (masks stay as they are)."""
    fields = []
    for piece in body.split("&"):
        key, sep, value = piece.partition("=")
        fields.append(f"{unquote_plus(key)} = {unquote_plus(value)}" if sep else unquote_plus(key))
    return "\n".join(fields)


def entry_as_text(entry: TraceEntry) -> str:
    """The full, redacted exchange as readable text (details pane, copy to clipboard)."""
    lines = [
        f"{entry.time_text}  {entry.actor} → {entry.target}  ({entry.duration * 1000:.0f} ms)",
        "",
        f"{entry.method} {entry.url}",
        *(f"{k}: {v}" for k, v in entry.request_headers),
    ]
    if entry.request_body:
        form = "x-www-form-urlencoded" in (entry.header("content-type", response=False) or "")
        lines += ["", _readable_form(entry.request_body) if form else entry.request_body]
    lines += ["", "—" * 20, ""]
    lines.append(f"HTTP {entry.status}" if entry.status is not None else f"failed: {entry.error}")
    lines += [f"{k}: {v}" for k, v in entry.response_headers]
    if entry.response_body:
        lines += ["", entry.response_body]
    return "\n".join(lines)


__all__ = ["entry_as_text", "to_har", "to_har_json", "to_mermaid"]
