"""Whether memory stays flat while the window reloads again and again.

A sandbox served by its own process holds alice's demo data and 5,000 more resources; the
window logs in to it and reloads everything (Ctrl+R) 50 times, waiting for each reload to
finish. The resident memory after reload 10 (everything warmed up) is the baseline, measured
in the same run; the figure is the memory after reload 50, and the objects frozen out of
garbage collection (``gc.get_freeze_count``) before and after. (The memory of a window
showing 30,000 resources against a hello-world window is in gui_start.py.)

    python benchmarks/gui_memory.py [--reloads 50] [--resources 5000]

Prints the memory every ten reloads, the growth and the ratio.
"""

from __future__ import annotations

import gc
import sys
import tempfile
from pathlib import Path

from gui_bench import resident_mib, run_measurement, served_sandbox, window_on

WARM_UP = 10  # reloads before the baseline is taken
TARGET_MIB = 2.0


def measure(reloads: int, resources: int) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="uma-gui-memory-") as name:
        folder = Path(name)
        server = served_sandbox(folder, "Bench", resources=resources)
        with window_on(server, folder / "home") as (window, _session, bot):
            controller, model = window.controller, window.resources_page.model

            def settled() -> bool:
                return not controller.is_busy() and not model.is_loading()

            bot.waitUntil(lambda: model.rowCount() > resources and settled(), timeout=120_000)
            rss: dict[int, float] = {}
            frozen: dict[int, int] = {}
            for number in range(1, reloads + 1):
                window.refresh_action.trigger()
                bot.waitUntil(settled, timeout=120_000)
                rss[number], frozen[number] = resident_mib(), gc.get_freeze_count()
                if number % 10 == 0:
                    print(
                        f"  after reload {number}: {rss[number]:.1f} MiB, "
                        f"{frozen[number]:,} objects frozen",
                        flush=True,
                    )
            first = min(WARM_UP, reloads)
            growth = rss[reloads] - rss[first]
            lines.append(
                f"RSS over {reloads} reloads of {model.rowCount():,} resources: app (after "
                f"reload {reloads}) {rss[reloads]:.1f} MiB, baseline (after reload {first}) "
                f"{rss[first]:.1f} MiB, ratio {rss[reloads] / rss[first]:.3f}; growth "
                f"{growth:+.1f} MiB (target within ±{TARGET_MIB:.0f} MiB), "
                f"{(growth / max(reloads - first, 1)) * 1024:+.0f} KiB per reload"
            )
            lines.append(
                f"objects frozen out of garbage collection: {frozen[1]:,} after the first "
                f"reload, {frozen[reloads]:,} after the last"
            )
    return lines


def main() -> int:
    return run_measurement(__file__, __doc__, {"reloads": 50, "resources": 5000}, measure)


if __name__ == "__main__":
    sys.exit(main())
