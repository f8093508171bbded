"""How long the window's thread can be blocked while 20,000 resources load, with and without
the foreground rule (uma_desktop/foreground.py).

Each round runs the heartbeat test (tests/gui/test_resilience.py: two standalone sandboxes
with 10,000 resources each, log in to both, reload; a 10 ms timer on the GUI thread) in a
fresh process, alternating the app as it ships and a baseline with the rule turned off
(``UMA_DESKTOP_FOREGROUND=off``), on the same machine in the same run.

    python benchmarks/gui_heartbeat.py [--rounds 5]

Prints the worst gap per round, the medians and the ratio app / baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST = (
    "tests/gui/test_resilience.py::test_loading_twenty_thousand_resources_never_blocks_the_window"
)
GAP = re.compile(r"worst GUI-thread gap (\d+) ms")


def worst_gap_ms(foreground: str) -> int:
    """One run of the heartbeat test; its worst gap (printed before it asserts)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", UMA_DESKTOP_FOREGROUND=foreground)
    command = [
        str(REPO_ROOT / "tools" / "keyring-session.sh"),
        sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", TEST,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    found = GAP.search(done.stdout)
    if found is None:
        raise SystemExit(f"the heartbeat test printed no gap:\n{done.stdout[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    app: list[int] = []
    baseline: list[int] = []
    for round_number in range(1, args.rounds + 1):
        app.append(worst_gap_ms("on"))
        baseline.append(worst_gap_ms("off"))
        print(f"round {round_number}: app {app[-1]} ms, baseline {baseline[-1]} ms", flush=True)
    app_median, baseline_median = statistics.median(app), statistics.median(baseline)
    print(
        f"worst GUI-thread gap, median of {args.rounds}: app {app_median:.0f} ms "
        f"(max {max(app)}), baseline without the foreground rule {baseline_median:.0f} ms "
        f"(max {max(baseline)}); ratio app / baseline {app_median / baseline_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
