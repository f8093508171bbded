"""The worst GUI-thread gap of every interaction with a big resources table: typing a search
(one key per 100 ms and per 300 ms), each filter to one value and back, sorting by each
column both ways, switching pages and back, and a reload that changes every row.

The app opens offline from snapshots (servers on closed ports) with 20,000 and then 100,000
resources, the window shown (offscreen); a 10 ms timer on the GUI thread measures the longest
gap while each interaction runs and settles (tests/fixtures/heartbeat.py). The baseline is
the same timer's worst gap while the same window sits idle, measured in the same run.

    python benchmarks/gui_interactions.py [--rows 20000 100000]

Prints each interaction's worst gap, the idle gap beside it, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from gui_bench import REPO_ROOT, in_keyring_session, seed_offline_home

ROWS_PER_CONNECTION = 10_000
SEARCH = "album 0123"
TARGET_MS = {20_000: 50, 100_000: 100}


def one_size(rows: int) -> list[tuple[str, float, float, float]]:
    """In a child process: (interaction, worst gap ms, GUI thread's own work during it ms,
    idle gap ms) for ``rows`` resources."""
    sys.path.insert(0, str(REPO_ROOT))
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from tests.fixtures.gui import EventLoopBot
    from tests.fixtures.heartbeat import Heartbeat
    from uma_desktop.gui.app import launch
    from uma_desktop.gui.models import ResourceRow, ResourcesModel
    from uma_desktop.paths import app_dirs

    bot = EventLoopBot()
    connections = max(1, rows // ROWS_PER_CONNECTION)
    with tempfile.TemporaryDirectory(prefix="uma-interactions-") as folder:
        home = Path(folder)
        seed_offline_home(home, connections, rows // connections)
        session = launch(app_dirs(home), poll_interval=None)
        bot.waitUntil(lambda: session.ready, timeout=60_000)
        window = session.window
        assert window is not None
        window.resize(1200, 800)
        page = window.resources_page
        model, controller = page.model, window.controller
        bot.waitUntil(
            lambda: (
                model.rowCount() == rows and not model.is_loading() and not controller.is_busy()
            ),
            timeout=120_000,
        )
        window.show_page("resources")

        def settled() -> bool:
            timers = (page._debounce, page._filter_soon)
            return not (
                model.is_busy() or controller.is_busy() or any(t.isActive() for t in timers)
            )

        def gap(
            action: Callable[[], Any], done: Callable[[], bool] = lambda: True
        ) -> tuple[float, float]:
            bot.wait(50)
            beat = Heartbeat()
            beat.start()
            try:
                action()
                bot.waitUntil(lambda: done() and settled(), timeout=120_000)
                bot.wait(30)  # the repaint that follows
            finally:
                beat.stop()
            if os.environ.get("UMA_BENCHMARK_DETAIL"):
                print(beat.report(), file=sys.stderr)
            return beat.worst * 1000, beat.worst_gui_ran * 1000

        def typing(interval_ms: int) -> Callable[[], Any]:
            keys = list(SEARCH)
            state = {"typed": 0}

            def action() -> None:
                page.search.setFocus()
                timer = QTimer(page)
                timer.setInterval(interval_ms)

                def key() -> None:
                    QTest.keyClick(page.search, keys[state["typed"]])
                    state["typed"] += 1
                    if state["typed"] == len(keys):
                        timer.stop()

                timer.timeout.connect(key)
                timer.start()
                state["timer"] = timer  # type: ignore[assignment]

            return action

        figures: list[tuple[str, tuple[float, float]]] = []

        def measure(
            label: str, action: Callable[[], Any], done: Callable[[], bool] = lambda: True
        ) -> None:
            figures.append((label, gap(action, done)))

        for interval in (100, 300):
            measure(
                f"type a search, a key per {interval} ms",
                typing(interval),
                lambda: page.search.text() == SEARCH,
            )
            measure("clear the search", page.search.clear)
        for name, combo in (
            ("server", page.server_filter),
            ("resource server", page.rs_filter),
            ("type", page.type_filter),
        ):
            measure(f"{name} filter → one value", lambda c=combo: c.setCurrentIndex(1))
            measure(f"{name} filter → all", lambda c=combo: c.setCurrentIndex(0))

        def all_filters(index: int) -> None:
            for combo in (page.server_filter, page.rs_filter, page.type_filter):
                combo.setCurrentIndex(index)

        measure("all three filters → one value each", lambda: all_filters(1))
        measure("all three filters → all", lambda: all_filters(0))
        measure("favourites only → on", lambda: page.favourites_only.setChecked(True))
        measure("favourites only → off", lambda: page.favourites_only.setChecked(False))
        worst_sort = (0.0, 0.0)
        for column in range(model.columnCount()):
            for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
                worst_sort = max(
                    worst_sort, gap(lambda c=column, o=order: page.table.sortByColumn(c, o))
                )
        figures.append(("sort by each column, both ways (worst)", worst_sort))
        measure("group by server", lambda: page.group_by.setCurrentIndex(1))
        measure("no grouping", lambda: page.group_by.setCurrentIndex(0))
        measure("switch to the inbox", lambda: window.show_page("requests"))
        measure("switch back to resources", lambda: window.show_page("resources"))

        # a reload's GUI-thread part: every server's answer applied, every row changed
        parts: list[tuple[str, Any]] = []
        for cid in controller.states:
            fresh = [
                ResourceRow(
                    replace(row.resource, share_count=(row.resource.share_count or 0) + 1),
                    row.server,
                    row.favourite,
                )
                for row in model.rows()
                if row.resource.connection_id == cid
            ]
            parts.append((cid, (fresh, controller.facets[cid])))
        measure("reload (every row changed)", lambda: controller._apply_rows(parts))
        assert model.rowCount() == rows and isinstance(model, ResourcesModel)

        idle, _ran = gap(lambda: bot.wait(1000))
        session.close()
    return [(label, worst, ran, idle) for label, (worst, ran) in figures]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_size(args.child)), flush=True)
        return 0
    outer = in_keyring_session(__file__, ["--rows", *map(str, args.rows)])
    if outer is not None:
        return outer
    import subprocess

    for rows in args.rows:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(rows)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise SystemExit(f"the {rows} rows run failed:\n{done.stderr[-3000:]}")
        target = TARGET_MS.get(rows)
        print(
            f"{rows:,} resources (target: worst gap ≤ {target} ms; "
            f"run took {time.perf_counter() - started:.0f} s):"
        )
        for label, worst, ran, idle in json.loads(lines[-1]):
            print(
                f"  {label}: app {worst:.0f} ms (GUI thread busy {ran:.0f} ms of it), "
                f"idle {idle:.0f} ms, ratio {worst / idle:.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
