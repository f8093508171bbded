"""``uma-desktop sandbox --port N [--data FILE] [--print-config]``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from uma_desktop.sandbox.server import DataFileError, SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uma-desktop sandbox",
        description="Run the built-in UMA 2.0 sandbox authorization server on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8400, help="TCP port (0: any free port)")
    parser.add_argument("--data", type=Path, help="SQLite file to keep state in (default: memory)")
    parser.add_argument("--name", default="Sandbox", help="display name of the server")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print issuer, demo users, clients and resource servers as one JSON object",
    )
    parser.add_argument("--no-seed", action="store_true", help="start without the demo data")
    parser.add_argument(
        "--access-token-lifetime",
        type=int,
        metavar="SECONDS",
        help="lifetime of the access tokens it issues (default: 300)",
    )
    return parser


def main(args: list[str]) -> int:
    options = _parser().parse_args(args)
    if not 0 <= options.port <= 65535:
        print("uma-desktop sandbox: --port must be 0..65535", file=sys.stderr)
        return 2
    if options.access_token_lifetime is not None and options.access_token_lifetime < 1:
        print("uma-desktop sandbox: --access-token-lifetime must be at least 1", file=sys.stderr)
        return 2
    server = SandboxServer(
        name=options.name,
        port=options.port,
        data_path=options.data,
        seed=not options.no_seed,
        access_token_lifetime=options.access_token_lifetime,
    )
    try:
        server.bind()
    except OSError as exc:
        print(
            f"uma-desktop sandbox: cannot listen on port {options.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 3
    except DataFileError as exc:
        print(f"uma-desktop sandbox: {exc}", file=sys.stderr)
        return 2
    if options.print_config:
        print(json.dumps(server.config), flush=True)
    else:
        print(f"UMA sandbox {options.name!r} at {server.issuer} (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
