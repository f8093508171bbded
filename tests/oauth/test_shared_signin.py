"""One saved sign-in shared by several processes against a server that rotates refresh tokens
and treats the reuse of a rotated one as theft (the sandbox, like Keycloak with refresh-token
revocation): real processes, the real Secret Service, the real sandbox over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import drive, form_browser
from tests.fixtures.keyring import ROOT
from tests.oauth.conftest import AuthServer
from uma_desktop import net
from uma_desktop.errors import LoginRequiredError, SignInBusyError, VaultLockedError
from uma_desktop.oauth import (
    KeyringVault,
    MemoryVault,
    SessionState,
    TokenKind,
    TokenSession,
    discover,
    login_in_browser,
)
from uma_desktop.oauth.tokens import refresh_tokens, revoke_token
from uma_desktop.uma.metadata import AuthorizationServerMetadata

pytestmark = pytest.mark.keyring

WORKERS = 5
ROUNDS = 8


@dataclass
class SignedIn:
    server: AuthServer
    metadata: AuthorizationServerMetadata
    client: net.AsyncClient
    connection_id: str
    session: TokenSession

    def another_session(self, vault: Any = None, **options: Any) -> TokenSession:
        """A second session on the same saved login (what a second process would build)."""
        return TokenSession(
            self.connection_id,
            self.metadata,
            self.server.client_id,
            vault or KeyringVault(),
            self.client,
            **options,
        )


@pytest.fixture
async def signed_in(
    sandbox_server: AuthServer, real_keyring: Any, app_home: Path
) -> AsyncIterator[SignedIn]:
    """alice logged in with "remember me"; a connection id of its own in the shared keyring."""
    connection_id = f"shared-{secrets.token_hex(4)}"
    user = form_browser("alice", "alice")
    async with net.async_client() as client:
        metadata = await discover(sandbox_server.issuer, client)
        tokens = await drive(
            user,
            login_in_browser(
                metadata, sandbox_server.client_id, sandbox_server.scopes, user, client=client
            ),
        )
        session = TokenSession(
            connection_id, metadata, sandbox_server.client_id, KeyringVault(real_keyring), client
        )
        await session.start(tokens)
        yield SignedIn(sandbox_server, metadata, client, connection_id, session)
        await asyncio.to_thread(KeyringVault(real_keyring).delete_connection, connection_id)


def python(*args: str) -> subprocess.Popen[str]:
    """A child Python process running this checkout (the same HOME, D-Bus and keyring)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture
def hold_lock(signed_in: SignedIn) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """Start another process that holds this connection's sign-in lock until it is killed."""
    holders: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        holder = python("-m", "tests.oauth.signin_worker", "--hold", signed_in.connection_id)
        holders.append(holder)
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held", holder.stderr
        return holder

    yield start
    for holder in holders:
        holder.kill()
        holder.communicate(timeout=30)


async def test_processes_hammering_refresh_never_burn_the_shared_sign_in(
    signed_in: SignedIn, report_figure: Any
) -> None:
    workers = [
        python(
            "-m",
            "tests.oauth.signin_worker",
            signed_in.server.issuer,
            signed_in.connection_id,
            str(ROUNDS),
        )
        for _ in range(WORKERS - 1)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            ready = await asyncio.to_thread(worker.stdout.readline)
            assert ready.strip() == "ready", ready
        for worker in workers:  # go: every process refreshes at the same moment
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        own_waits = []
        for _ in range(ROUNDS):  # this process takes part too
            await signed_in.session.refresh()
            own_waits.append(signed_in.session.last_lock_wait or 0.0)
        outcomes = [await asyncio.to_thread(worker.communicate, timeout=240) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()

    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outcomes]
    assert [w.returncode for w in workers] == [0] * len(workers), reports
    assert all(report["refreshes"] == ROUNDS for report in reports), reports
    # the sign-in survived: the stored refresh token is the latest and still works
    assert signed_in.session.state is SessionState.OK
    survivor = signed_in.another_session()
    assert await survivor.resume() is SessionState.OK
    await survivor.refresh()
    waits = own_waits + [wait for report in reports for wait in report["lock_waits"]]
    assert len(waits) == WORKERS * ROUNDS
    report_figure(
        f"{WORKERS} processes x {ROUNDS} refreshes: no logout; lock wait median "
        f"{statistics.median(waits) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms; "
        f"{max(r['seconds'] for r in reports):.1f} s in all"
    )


async def test_a_second_process_takes_over_tokens_renewed_by_the_first(
    signed_in: SignedIn,
) -> None:
    first = signed_in.session
    second = signed_in.another_session()
    assert await second.resume() is SessionState.OK
    shared = await second.access_token()
    assert shared == await first.access_token()  # the access token comes from the keyring
    assert second.refresh_count == 0

    await first.refresh()  # rotates the refresh token the second one still has in memory
    renewed = await first.access_token()
    await second.token_rejected(shared)
    assert await second.access_token() == renewed  # taken over, no refresh of its own
    assert second.refresh_count == 0 and second.adopted_count == 1
    await second.refresh()  # with the rotated token: the server sees no reuse
    await first.token_rejected(renewed)
    assert await first.access_token() == await second.access_token()
    assert first.state is second.state is SessionState.OK


async def test_a_token_the_server_refused_is_not_taken_over(signed_in: SignedIn) -> None:
    first, second = signed_in.session, signed_in.another_session()
    assert await second.resume() is SessionState.OK
    refused = await first.access_token()
    await second.token_rejected(refused)
    assert await second.access_token() != refused
    assert second.refresh_count == 1


async def test_signed_out_in_another_process_means_login_needed_here(
    signed_in: SignedIn,
) -> None:
    first, second = signed_in.session, signed_in.another_session()
    assert await second.resume() is SessionState.OK
    await second.logout()
    await first.token_rejected(await first.access_token())
    with pytest.raises(LoginRequiredError):
        await first.access_token()
    assert first.state is SessionState.LOGIN_NEEDED
    assert first.refresh_count == 0  # it learnt from the vault, not by burning a token


async def test_refused_after_rereading_the_vault_means_login_needed(
    signed_in: SignedIn,
) -> None:
    session = signed_in.session
    stored = await asyncio.to_thread(session.vault.load, signed_in.connection_id, TokenKind.REFRESH)
    assert stored
    await revoke_token(
        signed_in.client, signed_in.metadata, signed_in.server.client_id, stored, "refresh_token"
    )
    with pytest.raises(LoginRequiredError, match="log in again"):
        await session.refresh()
    assert session.state is SessionState.LOGIN_NEEDED
    for kind in (TokenKind.REFRESH, TokenKind.ACCESS):
        assert session.vault.load(signed_in.connection_id, kind) is None


async def test_a_held_lock_times_out_with_a_clear_error_and_a_killed_holder_frees_it(
    signed_in: SignedIn, hold_lock: Callable[[], subprocess.Popen[str]]
) -> None:
    session = signed_in.another_session(lock_timeout=0.5)
    assert await session.resume() is SessionState.OK
    lock_holder = hold_lock()
    started = time.monotonic()
    with pytest.raises(SignInBusyError, match="try again"):
        await session.refresh()
    assert 0.5 <= time.monotonic() - started < 5
    assert session.state is SessionState.OK  # busy is not logged out

    lock_holder.kill()  # its flock dies with it: no stale lock
    await asyncio.to_thread(lock_holder.wait)
    await session.refresh()
    assert session.last_lock_wait is not None and session.last_lock_wait < 0.5


async def test_memory_mode_needs_no_lock(
    signed_in: SignedIn, hold_lock: Callable[[], subprocess.Popen[str]]
) -> None:
    """A "don't remember me" login is this process's alone: another process holding the lock
    of the same connection id does not delay it."""
    hold_lock()
    session = signed_in.another_session(MemoryVault())
    stored = signed_in.session.vault.load(signed_in.connection_id, TokenKind.REFRESH)
    assert stored
    session.vault.store(signed_in.connection_id, TokenKind.REFRESH, stored)
    assert await session.resume() is SessionState.OK
    started = time.monotonic()
    await session.refresh()
    assert time.monotonic() - started < 5 and session.last_lock_wait is None


async def test_an_unreadable_keyring_stops_the_refresh_instead_of_risking_reuse(
    signed_in: SignedIn, request: pytest.FixtureRequest
) -> None:
    """Without the keyring this process cannot know whether another one rotated the token:
    it says the keyring is locked and sends nothing, so the saved sign-in stays intact."""
    session = signed_in.session
    stored = session.vault.load(signed_in.connection_id, TokenKind.REFRESH)
    assert stored
    request.getfixturevalue("locked_keyring")
    await session.token_rejected(await session.access_token())
    with pytest.raises(VaultLockedError):
        await session.access_token()
    assert session.state is SessionState.OK and session.refresh_count == 0
    # the stored refresh token was never sent: the server still takes it (no reuse)
    assert await refresh_tokens(
        signed_in.client, signed_in.metadata, signed_in.server.client_id, stored
    )
