"""Run every benchmark in turn (`make benchmarks`); each prints its own figures and ratios,
and at the end every line that carries a ratio is printed again as one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "load_resources.py",
    "bulk_decisions.py",
    "cli_commands.py",
    "keycloak_scan.py",
    "gui_heartbeat.py",
    "support_lookup.py",
    "review_shares.py",
    "gui_start.py",
    "gui_interactions.py",
    "gui_memory.py",
    "gui_bulk.py",
)

FIGURE_WORDS = ("ratio", "app/baseline", "target")  # lines with a figure, or a heading


def run(name: str) -> tuple[int, list[str]]:
    """Run one benchmark, echoing its output; its lines that carry a ratio, for the table."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / name)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stdout is not None
    figures = []
    for line in process.stdout:
        print(line, end="", flush=True)
        if any(word in line for word in FIGURE_WORDS) and not line.startswith("dbus"):
            figures.append(line.rstrip())
    return process.wait(), figures


def main() -> int:
    failed = []
    table: list[tuple[str, list[str]]] = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        code, figures = run(name)
        table.append((name, figures))
        if code != 0:
            failed.append(name)
    print("\n== every figure with its same-run baseline")
    for name, figures in table:
        print(name)
        for line in figures or ["  (no ratio printed)"]:
            print(f"  {line.strip()}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
