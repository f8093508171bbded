"""Another process sharing a saved sign-in, as a ``uma-desktop`` command shares the window's.

``python -m tests.oauth.signin_worker ISSUER CONNECTION_ID ROUNDS`` resumes the login from the
real keyring, prints ``ready``, waits for a line on stdin (so every worker starts at once),
then refreshes ROUNDS times, proving each new access token at the server's userinfo endpoint.
Prints one JSON line with what it saw; exit code 3 when it was logged out.

``python -m tests.oauth.signin_worker --hold CONNECTION_ID`` holds that connection's sign-in
lock, prints ``held`` and keeps it until killed (or stdin closes).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx

from uma_desktop import net
from uma_desktop.errors import LoginRequiredError
from uma_desktop.oauth import KeyringVault, SessionState, TokenSession, discover
from uma_desktop.oauth.signin_lock import SignInLock
from uma_desktop.paths import runtime_dir

CLIENT_ID = "uma-desktop"


async def refresh_rounds(issuer: str, connection_id: str, rounds: int) -> int:
    async with net.async_client(connection_id=connection_id) as client:
        metadata = await discover(issuer, client)
        session = TokenSession(connection_id, metadata, CLIENT_ID, KeyringVault(), client)
        if await session.resume() is not SessionState.OK:
            print(json.dumps({"error": "no saved sign-in"}), flush=True)
            return 3
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        waits: list[float] = []
        started = time.monotonic()
        try:
            for _ in range(rounds):
                await session.refresh()
                waits.append(session.last_lock_wait or 0.0)
                token = await session.access_token()
                async with httpx.AsyncClient() as plain:
                    answer = await plain.get(
                        str(metadata.userinfo_endpoint),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                if answer.status_code != 200:
                    raise LoginRequiredError(f"userinfo said HTTP {answer.status_code}")
        except LoginRequiredError as exc:
            print(json.dumps({"error": str(exc), "refreshes": session.refresh_count}), flush=True)
            return 3
        print(
            json.dumps(
                {
                    "refreshes": session.refresh_count,
                    "lock_waits": waits,
                    "seconds": time.monotonic() - started,
                }
            ),
            flush=True,
        )
        return 0


async def hold(connection_id: str) -> int:
    async with SignInLock(runtime_dir(), connection_id).held():
        print("held", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "--hold":
        return asyncio.run(hold(argv[1]))
    issuer, connection_id, rounds = argv
    return asyncio.run(refresh_rounds(issuer, connection_id, int(rounds)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
