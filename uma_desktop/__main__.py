"""Entry point: `uma-desktop [--demo]` opens the GUI, `uma-desktop <command>` runs the CLI."""

from __future__ import annotations

import sys

from uma_desktop.cli import COMMANDS


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        from uma_desktop.cli import main as cli_main

        return cli_main(args)
    if args and args[0] in ("-h", "--help", "--version") and len(args) == 1:
        from uma_desktop.cli import main as cli_main

        return cli_main(args)
    from uma_desktop.gui.app import main as gui_main

    return gui_main(args)


if __name__ == "__main__":
    sys.exit(main())
