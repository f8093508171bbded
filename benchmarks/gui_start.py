"""How fast the window appears: a start with no connections, and an offline start with
30,000 cached resources (snapshots of three connections whose servers do not answer),
against a hello-world QMainWindow; also the memory each holds once everything is shown.

Each round starts fresh processes, alternating the app and the baseline, in the same run:
the time from spawning the process to the first paint of the main window (and, offline, to
the paint after the last cached row is in the table), and the resident memory then.

    python benchmarks/gui_start.py [--rounds 5]

Prints the figures per round, the medians and the ratios app / baseline.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from gui_bench import resident_mib

if TYPE_CHECKING:
    from pathlib import Path

# The measured processes run this file too: they import only what the hello window needs,
# so the baseline pays no more than the app for this script itself.

CONNECTIONS = 3
RESOURCES_EACH = 10_000


def child(kind: str, home: str, spawned: float) -> None:
    """In the measured process: print first paint, all rows (s since spawn) and RSS as JSON."""
    figures: dict[str, float] = {}
    if kind == "hello":
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

        app = QApplication([])
        window = QMainWindow()
        window.setCentralWidget(QLabel("Hello"))
        window.resize(1100, 700)
    else:
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtWidgets import QWidget

        from uma_desktop.gui.app import ensure_application, start

        app = ensure_application()
        session = start(["--home", home, "--poll", "0"])

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            painted = event.type() == QEvent.Type.Paint and isinstance(watched, QWidget)
            if painted and "first_paint" not in figures and in_main_window(watched):
                figures["first_paint"] = time.time() - spawned
            return False

    def in_main_window(widget: QWidget) -> bool:
        return bool(widget.window().inherits("QMainWindow"))

    watcher = FirstPaint()
    app.installEventFilter(watcher)
    expected = CONNECTIONS * RESOURCES_EACH if kind == "offline" else 0

    def check() -> None:
        if "first_paint" not in figures:
            return
        if kind in ("app", "offline") and "all_rows" not in figures:
            window = session.shown  # the cached rows show before the core has opened
            if window is None:
                return
            model = window.resources_page.model
            if model.rowCount() < expected or model.is_loading():
                return
            window.resources_page.table.viewport().repaint()
        figures.setdefault("all_rows", time.time() - spawned)
        if kind in ("app", "offline") and session.window is None:
            return  # the memory is measured once the core has loaded too
        figures["rss_mib"] = resident_mib()
        print(json.dumps(figures), flush=True)
        app.quit()

    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(check)
    poll.start()
    if kind == "hello":
        window.show()
    app.exec()
    if kind != "hello":
        session.close()


def measure(kind: str, home: Path) -> dict[str, float]:
    import os
    import subprocess

    from gui_bench import REPO_ROOT

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(home), repr(spawned)],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the {kind} start failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


def main() -> int:
    import argparse
    import statistics
    import tempfile

    from gui_bench import in_keyring_session, seed_offline_home

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return 0
    outer = in_keyring_session(__file__, ["--rounds", str(args.rounds)])
    if outer is not None:
        return outer
    results: dict[str, list[dict[str, float]]] = {"hello": [], "app": [], "offline": []}
    with tempfile.TemporaryDirectory(prefix="uma-start-") as folder:
        from pathlib import Path

        empty, offline = Path(folder) / "empty", Path(folder) / "offline"
        seed_offline_home(offline, CONNECTIONS, RESOURCES_EACH)
        for round_number in range(1, args.rounds + 1):
            for kind, home in (("hello", empty), ("app", empty), ("offline", offline)):
                results[kind].append(measure(kind, home))
            hello, app, off = (results[k][-1] for k in ("hello", "app", "offline"))
            print(
                f"round {round_number}: hello {hello['first_paint']:.3f} s, "
                f"app {app['first_paint']:.3f} s, offline first paint "
                f"{off['first_paint']:.3f} s / all rows {off['all_rows']:.3f} s",
                flush=True,
            )

    def median(kind: str, figure: str) -> float:
        return statistics.median(r[figure] for r in results[kind])

    base, base_rss = median("hello", "first_paint"), median("hello", "rss_mib")
    rows = [
        ("start, no connections → first paint", median("app", "first_paint"), base, "s"),
        ("offline start, 30,000 cached → first paint", median("offline", "first_paint"), base, "s"),
        ("offline start, 30,000 cached → all rows", median("offline", "all_rows"), base, "s"),
        ("RSS, no connections", median("app", "rss_mib"), base_rss, "MiB"),
        ("RSS with 30,000 resources shown", median("offline", "rss_mib"), base_rss, "MiB"),
    ]
    print(f"medians of {args.rounds} rounds (baseline: a hello-world QMainWindow):")
    for label, app_value, baseline, unit in rows:
        print(
            f"  {label}: app {app_value:.3f} {unit}, baseline {baseline:.3f} {unit}, "
            f"ratio {app_value / baseline:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
