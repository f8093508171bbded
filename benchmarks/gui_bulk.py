"""Approving (and denying) 500 selected requests in the Inbox against the same core call.

A sandbox served by its own process holds alice's demo data, 500 more resources and 500
pending requests of bob. The window is logged in to it. Alternating, in the same run:

- app: select the 500 in the Inbox and press Approve (Deny); timed until the Inbox is empty
  and the window has reloaded what the decisions changed (one reload at the end);
- baseline: the same ``ControlPoint.bulk`` call submitted straight to the core's loop, the
  window's thread running its event loop meanwhile but hearing none of the core's change
  events; timed until the call returns.

Before each run the 500 are made pending again and the Inbox shows them (not timed).

    python benchmarks/gui_bulk.py [--rounds 3] [--requests 500]

Prints min / median / max seconds of each and the ratio of the medians.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gui_bench import BenchRequests, run_measurement, served_sandbox, window_on


def measure(requests: int, rounds: int) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="uma-gui-bulk-") as name:
        folder = Path(name)
        server = served_sandbox(folder, "Bench", resources=requests, requests=requests)
        pending = BenchRequests(folder / "Bench.sqlite")
        with window_on(server, folder / "home") as (window, session, bot):
            controller = window.controller
            inbox = window.requests_page
            window.show_page("requests")

            def bench_requests() -> list[Any]:
                return [r for r in inbox.model.rows() if r.id.startswith("req-gui-bench-")]

            def settled() -> bool:
                model = window.resources_page.model
                return not controller.is_busy() and not model.is_loading()

            def prepare() -> None:
                pending.make_pending_again()
                controller.refresh_requests()
                bot.waitUntil(
                    lambda: len(bench_requests()) == requests and settled(), timeout=120_000
                )

            def app(action: str) -> None:
                inbox.select_requests([r.key for r in bench_requests()])
                trigger = inbox.approve_action if action == "approve" else inbox.deny_action
                trigger.trigger()
                bot.waitUntil(lambda: not bench_requests() and settled(), timeout=300_000)

            def core(action: str) -> None:
                chosen = bench_requests()
                assert session is not None and session.control is not None
                # the core call alone: the window hears none of its change events
                session.bridge.blockSignals(True)
                try:
                    future = session.bridge.submit(session.control.bulk(action, chosen))  # type: ignore[arg-type]
                    bot.waitUntil(future.done, timeout=300_000)
                finally:
                    session.bridge.blockSignals(False)
                failed = [d.detail for d in future.result() if not d.ok]
                assert not failed, f"{len(failed)} failed: {sorted(set(failed))[:3]}"
                controller.refresh_all()  # what the window missed (not timed)

            for action in ("approve", "deny"):
                seconds: dict[str, list[float]] = {"app": [], "core": []}
                for _round in range(rounds):
                    for variant, run in (("app", app), ("core", core)):
                        prepare()
                        started = time.perf_counter()
                        run(action)
                        seconds[variant].append(time.perf_counter() - started)
                        print(f"  {action} {variant}: {seconds[variant][-1]:.2f} s", flush=True)
                        bot.waitUntil(settled, timeout=120_000)  # its reload, not timed
                app_s, core_s = seconds["app"], seconds["core"]
                lines.append(
                    f"{action} {requests} in the Inbox: app {min(app_s):.2f} / "
                    f"{statistics.median(app_s):.2f} / {max(app_s):.2f} s, baseline "
                    f"ControlPoint.bulk {min(core_s):.2f} / {statistics.median(core_s):.2f} / "
                    f"{max(core_s):.2f} s, ratio "
                    f"{statistics.median(app_s) / statistics.median(core_s):.2f}"
                )
    return lines


def main() -> int:
    return run_measurement(__file__, __doc__, {"rounds": 3, "requests": 500}, measure)


if __name__ == "__main__":
    sys.exit(main())
