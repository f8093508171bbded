"""Command-line interface over the same ControlPoint the GUI uses.

`uma-desktop sandbox ...` runs the built-in authorization server standalone.
"""

from __future__ import annotations

import sys

COMMANDS = frozenset(
    {
        "sandbox",
        "connections",
        "login",
        "logout",
        "resources",
        "requests",
        "approve",
        "deny",
        "shares",
        "share",
        "revoke",
        "shared-with-me",
        "history",
        "report",
    }
)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "sandbox":
        from uma_desktop.sandbox.cli import main as sandbox_main

        return sandbox_main(args[1:])
    print("usage: uma-desktop [--demo] | uma-desktop <command> ...", file=sys.stderr)
    return 2
