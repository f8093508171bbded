"""How long the command line takes, each command a fresh process as a person runs it:

- ``uma-desktop resources --json`` listing 10,008 resources of one sandbox (served by its
  own process), against a bare httpx script given the endpoint and an owner token that
  fetches the same pages the same way (first page, then four at a time), parses them and
  prints them as JSON;
- ``uma-desktop --help`` against ``python -c pass``.

The app's run includes everything a real one does: keyring, discovery, token refresh,
the snapshot. It runs inside tools/keyring-session.sh (a private Secret Service), which
this script starts itself when needed.

    python benchmarks/cli_commands.py [--rounds 7] [--help-rounds 25]

Prints min / median / max seconds of each and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from timing import REPO_ROOT, compile_sources, interleaved_sync, row, seeded_data, serve

from tests.fixtures.browser import form_browser
from tests.fixtures.sandbox import sandbox_owner_token
from uma_desktop import cli
from uma_desktop.backends.policy_manager import PAGE_SIZE, PARALLEL_PAGES

IN_KEYRING = "UMA_BENCH_KEYRING_SESSION"
BULK = 10_000
BARE_SCRIPT = """
import asyncio, json, sys
import httpx

url, token, page_size, parallel = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

async def main():
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        async def page(offset):
            params = {"expand": "true", "offset": str(offset), "limit": str(page_size)}
            answer = await client.get(url, params=params)
            answer.raise_for_status()
            return json.loads(answer.content), int(answer.headers["x-total-count"])

        items, total = await page(0)
        gate = asyncio.Semaphore(parallel)

        async def rest(offset):
            async with gate:
                return (await page(offset))[0]

        for more in await asyncio.gather(*(rest(o) for o in range(len(items), total, page_size))):
            items += more
    print(json.dumps({"items": items}, ensure_ascii=False))

asyncio.run(main())
"""


def program() -> list[str]:
    """The installed ``uma-desktop`` next to this Python, or ``python -m uma_desktop``."""
    script = Path(sys.executable).parent / "uma-desktop"
    return [str(script)] if script.exists() else [sys.executable, "-m", "uma_desktop"]


def items_printed(output: bytes) -> int:
    return len(json.loads(output)["items"])


def measure(rounds: int, help_rounds: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="uma-bench-cli-") as name:
        folder = Path(name)
        env["UMA_DESKTOP_HOME"] = os.environ["UMA_DESKTOP_HOME"] = str(folder / "home")
        server = serve(seeded_data(folder, "cli", BULK), "cli")
        try:
            out, err = io.StringIO(), io.StringIO()
            assert cli.run(["connections", "add", server.issuer], out=out, err=err) == 0, err
            connection_id = out.getvalue().strip()
            login = ["login", connection_id]
            opener = form_browser("alice", "alice")
            assert cli.run(login, out=out, err=err, browser_opener=opener) == 0, err.getvalue()
            meta = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()
            token = sandbox_owner_token(server, "alice")  # type: ignore[arg-type]
            bare_args = [meta["registered_resource_endpoint"], token]
            bare_args += [str(PAGE_SIZE), str(PARALLEL_PAGES)]
            printed: dict[str, int] = {}

            def app() -> None:
                done = subprocess.run(
                    [*program(), "resources", "--json"], capture_output=True, env=env, check=True
                )
                printed["app"] = items_printed(done.stdout)

            def bare() -> None:
                done = subprocess.run(
                    [sys.executable, "-c", BARE_SCRIPT, *bare_args],
                    capture_output=True,
                    env=env,
                    check=True,
                )
                printed["bare"] = items_printed(done.stdout)

            app()  # warm up: first snapshot, file caches
            bare()
            listing = interleaved_sync({"app": app, "bare": bare}, rounds)
            assert printed["app"] == printed["bare"], printed
        finally:
            server.stop()

        def help_text() -> None:
            subprocess.run([*program(), "--help"], capture_output=True, env=env, check=True)

        def nothing() -> None:
            subprocess.run([sys.executable, "-c", "pass"], capture_output=True, env=env, check=True)

        help_text()
        nothing()
        helped = interleaved_sync({"help": help_text, "pass": nothing}, help_rounds)
    return [
        row(
            f"resources --json, {printed['app']} items",
            listing["app"],
            listing["bare"],
            "bare httpx script",
        ),
        row("uma-desktop --help", helped["help"], helped["pass"], "python -c pass"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--help-rounds", type=int, default=25)
    args = parser.parse_args()
    if os.environ.get(IN_KEYRING) != "1":  # the logins need a Secret Service: a private one
        session = REPO_ROOT / "tools" / "keyring-session.sh"
        command = [str(session), sys.executable, *sys.argv]
        return subprocess.run(command, env={**os.environ, IN_KEYRING: "1"}, check=False).returncode
    lines = measure(args.rounds, args.help_rounds)
    rounds = f"{args.rounds} rounds ({args.help_rounds} for --help)"
    print(f"{rounds}; min / median / max; ratio of the medians")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
