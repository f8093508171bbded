"""Run every benchmark in turn (`make benchmarks`); each prints its own figures and ratios."""

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


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
