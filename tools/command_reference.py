#!/usr/bin/env python3
"""The man page and shell completions of `uma-desktop`, generated from its argparse parsers.

    python tools/command_reference.py man  > uma-desktop.1
    python tools/command_reference.py bash > uma-desktop       (bash-completion)
    python tools/command_reference.py zsh  > _uma-desktop

One parser describes the whole program: the CLI's commands (``uma_desktop.cli``), the
``sandbox`` command (``uma_desktop.sandbox.cli``) and the desktop window's options
(``uma_desktop.gui.app``), so nothing is written twice. argparse-manpage renders the man
page, shtab the completions.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # importing the GUI module is enough

WINDOW_GROUP = "desktop window (run without a COMMAND)"
EXTRA_SECTIONS = [
    (
        "FILES",
        "Connections and settings live in the user's configuration folder "
        "(~/.config/uma-desktop), the history in ~/.local/share/uma-desktop, last-known data "
        "in ~/.cache/uma-desktop, the log in ~/.local/state/uma-desktop/log. "
        "Tokens are kept only in the system keyring (Secret Service), never in these files.",
    ),
    (
        "ENVIRONMENT",
        "UMA_DESKTOP_HOME: keep config, data, cache and logs under this one folder. "
        "UMA_DESKTOP_DEBUG=1: write debug records to the log. "
        "UMA_DESKTOP_QUIT_AFTER=N: quit the window N seconds after it is shown "
        "(for smoke tests).",
    ),
    (
        "EXIT STATUS",
        "0 ok; 2 bad input; 3 a server was unreachable; 4 a server error; 5 not supported "
        "by the server; 6 login needed or failed; 7 the keyring is unusable; 1 anything else.",
    ),
]


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError("the CLI parser has no commands")


def full_parser() -> argparse.ArgumentParser:
    """The CLI's parser with the ``sandbox`` command and the window's options added."""
    from uma_desktop import cli
    from uma_desktop.gui.app import build_parser as window_parser
    from uma_desktop.sandbox.cli import _parser as sandbox_parser

    parser = cli.build_parser()
    window = parser.add_argument_group(WINDOW_GROUP)
    for action in window_parser()._actions:
        if not {"-h", "--help", "--version"} & set(action.option_strings):
            window._add_action(action)
    sandbox = sandbox_parser()
    _subparsers(parser).add_parser(
        "sandbox",
        parents=[sandbox],
        add_help=False,
        help="run the built-in UMA 2.0 authorization server",
        description=sandbox.description,
    )
    _mark_paths(parser)
    return parser


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Tell shtab which options take a folder or a file."""
    import shtab

    folders = {"--home"}
    files = {"--data"}
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            if folders & set(action.option_strings):
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
            elif files & set(action.option_strings):
                action.complete = shtab.FILE  # type: ignore[attr-defined]
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())


def man_page() -> str:
    from argparse_manpage.manpage import Manpage

    from uma_desktop import __version__

    parser = full_parser()
    page = Manpage(
        parser,
        _data={
            "project_name": "uma-desktop",
            "version": __version__,
            "manual_section": 1,
            "manual_title": "UMA Desktop manual",
            "url": "https://umadesktop.org",
            "description": "manage who may access your data on UMA 2.0 authorization servers",
        },
    )
    for title, text in EXTRA_SECTIONS:
        page.add_section(title, "=", text.replace("\\", "\\\\").replace("-", "\\-"))
    return str(page)


def completion(shell: str) -> str:
    import shtab

    return str(shtab.complete(full_parser(), shell=shell))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("man", "bash", "zsh"))
    what = parser.parse_args(argv).what
    sys.stdout.write(man_page() if what == "man" else completion(what))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
