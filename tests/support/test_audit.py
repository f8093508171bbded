"""The local audit log: append-only, private, tolerant of damage, exportable."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

from uma_desktop.app.audit import AuditEntry, AuditLog


def test_entries_are_appended_private_and_read_back_newest_first(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "data")
    log.append(AuditEntry("support-rs", "Photo desk", "lookup by owner", person="alice"))
    with log.path.open("a", encoding="utf-8") as damaged:
        damaged.write('not json\n[1, 2]\n{"action": "no connection"}\n')
    log.append(
        AuditEntry("support-rs", "Photo desk", "revoke", changed="pol-1", reason="T-9" * 400)
    )
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    entries = log.entries()
    assert [e.action for e in entries] == ["revoke", "lookup by owner"]
    assert len(entries[0].reason) == 500 and entries[0].reason.endswith("…")
    assert entries[1].operator and entries[1].at.endswith("+00:00")
    assert [e.action for e in log.entries(limit=1)] == ["revoke"]
    lines_before = log.path.read_text().splitlines()
    log.append(AuditEntry("support-rs", "Photo desk", "why"))
    assert log.path.read_text().splitlines()[:-1] == lines_before  # only ever appended

    as_csv = tmp_path / "audit.csv"
    assert log.export(as_csv, "csv") == 3
    rows = list(csv.DictReader(as_csv.open(encoding="utf-8")))
    assert [r["action"] for r in rows] == ["lookup by owner", "revoke", "why"]
    as_json = tmp_path / "audit.json"
    log.export(as_json, "json")
    assert json.loads(as_json.read_text())[1]["changed"] == "pol-1"
    assert stat.S_IMODE(as_json.stat().st_mode) == 0o600


def test_no_log_yet_reads_as_empty(tmp_path: Path) -> None:
    assert AuditLog(tmp_path).entries() == []
