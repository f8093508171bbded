"""Command-line pieces the window and the CLI share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


class ShowVersion(argparse.Action):
    """``--version``: the installed version is looked up only when asked (that is slow)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: Any) -> None:
        super().__init__(
            option_strings, argparse.SUPPRESS, nargs=0, help="show the version and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from uma_desktop import __version__

        sys.stdout.write(f"{parser.prog} {__version__}\n")
        parser.exit()
