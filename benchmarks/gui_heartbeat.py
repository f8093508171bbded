"""How long the window's thread can be blocked while 20,000 resources load, with and without
the foreground rule (uma_desktop/foreground.py).

Each round measures the heavy load of tests/gui/test_resilience.py (two standalone sandboxes
with 10,000 resources each, log in to both, reload; a 10 ms timer on the GUI thread) with the
same code (tests/fixtures/heartbeat.py), in a fresh process, alternating the app as it ships
and a baseline with the rule turned off (``UMA_DESKTOP_FOREGROUND=off``), on the same machine
in the same run.

    python benchmarks/gui_heartbeat.py [--rounds 5]

Prints the worst gap per round, the medians and the ratio app / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BULK = 10_000  # extra resources of alice on each server


def one_round() -> dict[str, float]:
    """Measure once in this process (the child of ``main``); the figures as a dict."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tests.fixtures.browser import form_browser
    from tests.fixtures.gui import EventLoopBot, GuiApps
    from tests.fixtures.heartbeat import load_and_reload_under_heartbeat
    from tests.fixtures.owner import ALICE_RESOURCES
    from tests.fixtures.sandbox import StandaloneSandbox
    from uma_desktop.sandbox import SandboxServer

    with tempfile.TemporaryDirectory(prefix="uma-heartbeat-") as folder:
        home = Path(folder) / "home"
        os.environ["UMA_DESKTOP_HOME"] = str(home)
        servers = []
        try:
            for name in ("Home", "Work"):
                data = Path(folder) / f"{name}.sqlite"
                with SandboxServer(name=name, data_path=data) as seeding:
                    seeding.seed_bulk_resources(count=BULK)
                servers.append(StandaloneSandbox.serve(data, name, niced=True))
            bot = EventLoopBot()
            apps = GuiApps(bot, home)
            try:
                window = apps(form_browser("alice", "alice"))
                figures = load_and_reload_under_heartbeat(
                    bot,
                    window,
                    {server.name: server.issuer for server in servers},
                    2 * (BULK + ALICE_RESOURCES),
                )
            finally:
                apps.close_all()
        finally:
            for server in servers:
                server.stop()
    beat = figures.heartbeat
    return {
        "worst_ms": beat.worst * 1000,
        "gui_ran_ms": beat.worst_gui_ran * 1000,
        "cpu_wait_ms": beat.worst_cpu_wait * 1000,
        "collection_ms": beat.worst_collection * 1000,
        "first_load_s": figures.first_load,
    }


def worst_gap_ms(foreground: str) -> float:
    """One round in a fresh process (private D-Bus and keyring, as the tests run)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", UMA_DESKTOP_FOREGROUND=foreground)
    command = [
        str(REPO_ROOT / "tools" / "keyring-session.sh"),
        sys.executable, str(Path(__file__).resolve()), "--one-round",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the round failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return float(json.loads(lines[-1])["worst_ms"])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one-round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_round:
        print(json.dumps(one_round()), flush=True)
        return 0
    app: list[float] = []
    baseline: list[float] = []
    for round_number in range(1, args.rounds + 1):
        app.append(worst_gap_ms("on"))
        baseline.append(worst_gap_ms("off"))
        print(
            f"round {round_number}: app {app[-1]:.0f} ms, baseline {baseline[-1]:.0f} ms",
            flush=True,
        )
    app_median, baseline_median = statistics.median(app), statistics.median(baseline)
    print(
        f"worst GUI-thread gap, median of {args.rounds}: app {app_median:.0f} ms "
        f"(max {max(app):.0f}), baseline without the foreground rule {baseline_median:.0f} ms "
        f"(max {max(baseline):.0f}); ratio app / baseline {app_median / baseline_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
