"""The support desk's local audit log: every lookup and every action, append-only.

One JSON object per line in ``support-audit.jsonl`` (data dir, 0600): who on this desktop,
which connection, which person or resource, what changed, the reason, when. It never holds
tokens or secrets (nothing that could carry one is passed in). Exportable as JSON or CSV.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uma_desktop.app.storage import atomic_write_text, cannot_save
from uma_desktop.paths import PRIVATE_FILE_MODE, make_private_dir

AUDIT_FILE = "support-audit.jsonl"
MAX_FIELD = 500
FIELDS = (
    "at",
    "operator",
    "connection_id",
    "connection_name",
    "action",
    "person",
    "resource",
    "changed",
    "reason",
    "outcome",
)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _clip(value: str) -> str:
    return value if len(value) <= MAX_FIELD else value[: MAX_FIELD - 1] + "…"


@dataclass(frozen=True)
class AuditEntry:
    connection_id: str
    connection_name: str
    action: str
    person: str = ""
    resource: str = ""
    changed: str = ""
    reason: str = ""
    outcome: str = "ok"
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    operator: str = field(default_factory=_operator)

    def row(self) -> dict[str, str]:
        return {key: _clip(str(value)) for key, value in asdict(self).items()}


class AuditLog:
    """Appends entries; reads them back newest first; exports them."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / AUDIT_FILE

    def append(self, entry: AuditEntry) -> None:
        line = json.dumps(entry.row(), ensure_ascii=False, sort_keys=True) + "\n"
        try:
            make_private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise cannot_save(self.path, exc) from None

    def entries(self, limit: int | None = None) -> list[AuditEntry]:
        """Newest first; lines that are not entries are skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise cannot_save(self.path, exc) from None
        found: list[AuditEntry] = []
        for line in reversed(text.splitlines()):
            entry = _parse(line)
            if entry is not None:
                found.append(entry)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def export(self, target: Path, fmt: str) -> int:
        """Write every entry (oldest first) as ``json`` or ``csv``; returns the count."""
        rows = [entry.row() for entry in reversed(self.entries())]
        atomic_write_text(target, render(rows, fmt))
        return len(rows)


def render(rows: list[dict[str, str]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _parse(line: str) -> AuditEntry | None:
    try:
        data: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    values = {key: str(data.get(key, "")) for key in FIELDS}
    if not values["connection_id"] or not values["action"]:
        return None
    return AuditEntry(**values)
