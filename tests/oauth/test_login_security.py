"""Sign-in responses the app must refuse, produced over real HTTP against real sandboxes:
a tampered state, a mix-up between two servers, a missing iss, a replayed callback, an
error callback, a swapped nonce, a login nobody finishes."""

from __future__ import annotations

import asyncio
import threading
import webbrowser
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests.fixtures.browser import drive, form_browser
from tests.fixtures.oauth_servers import AuthServer
from uma_desktop import net
from uma_desktop.errors import AuthError, SecurityCheckError
from uma_desktop.oauth import discover, login_in_browser


def rewrite_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    query += [(k, v) for k, v in changes.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def login(server: AuthServer, opener: Any, timeout: float = 30) -> Any:
    async with net.async_client() as client:
        metadata = await discover(server.issuer, client)
        login = login_in_browser(
            metadata, server.client_id, server.scopes, opener, timeout=timeout, client=client
        )
        return await (drive(opener, login) if hasattr(opener, "done") else login)


@pytest.fixture
def token_requests() -> Any:
    """Every request the app sends to a token endpoint during the test."""
    seen: list[str] = []

    def listener(exchange: net.Exchange) -> None:
        if exchange.method == "POST" and exchange.url.rstrip("/").endswith("token"):
            seen.append(exchange.url)

    net.add_listener(listener)
    yield seen
    net.remove_listener(listener)


async def test_a_tampered_state_is_refused(sandbox_server: AuthServer, token_requests: Any) -> None:
    user = form_browser(
        "alice", "alice", rewrite_callback=lambda url: rewrite_query(url, state="forged")
    )
    with pytest.raises(SecurityCheckError, match="state mismatch"):
        await login(sandbox_server, user)
    await user.finished()
    assert user.callback_status == 400 and "Sign-in failed" in user.final_page
    assert token_requests == []  # the code was never redeemed


async def test_a_mix_up_between_two_servers_is_refused(
    sandbox_server: AuthServer, sandbox_factory: Any, token_requests: Any
) -> None:
    """The app asked server A, but the user was steered to server B, which answers."""
    other = sandbox_factory()
    async with net.async_client() as client:
        other_metadata = await discover(other.issuer, client)
        own_metadata = await discover(sandbox_server.issuer, client)
    assert other_metadata.authorization_endpoint and own_metadata.authorization_endpoint

    def steer_to_other(url: str) -> str:
        return url.replace(
            own_metadata.authorization_endpoint or "", other_metadata.authorization_endpoint or ""
        )

    user = form_browser("alice", "alice", rewrite_url=steer_to_other)
    with pytest.raises(SecurityCheckError, match="issuer mismatch"):
        await login(sandbox_server, user)
    await user.finished()
    assert parse_qs(urlsplit(user.callback_url or "").query)["iss"] == [other.issuer]
    assert token_requests == []  # B's code never reached A's token endpoint


async def test_a_missing_iss_is_refused_when_the_server_promised_it(
    sandbox_server: AuthServer,
) -> None:
    async with net.async_client() as client:
        assert (await discover(sandbox_server.issuer, client)).requires_iss_in_response
    user = form_browser("alice", "alice", rewrite_callback=lambda url: rewrite_query(url, iss=None))
    with pytest.raises(SecurityCheckError, match="lacks the issuer"):
        await login(sandbox_server, user)


async def test_a_replayed_callback_is_refused(sandbox_server: AuthServer) -> None:
    first = form_browser("alice", "alice")
    await login(sandbox_server, first)
    await first.finished()
    assert first.callback_url
    # The listener of the finished login is gone: replaying there reaches nothing.
    with pytest.raises(httpx.ConnectError):
        httpx.get(first.callback_url)

    # Replayed into a later login's listener, the old response is not accepted either.
    replayed_status: list[int] = []
    replays: list[threading.Thread] = []
    old_query = urlsplit(first.callback_url).query

    def replaying_opener(url: str) -> bool:
        redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]

        def replay() -> None:
            replayed_status.append(httpx.get(f"{redirect_uri}?{old_query}").status_code)

        replays.append(threading.Thread(target=replay, daemon=True))
        replays[0].start()
        return True

    with pytest.raises(SecurityCheckError, match="state mismatch"):
        await login(sandbox_server, replaying_opener)
    await asyncio.to_thread(replays[0].join, 10)
    assert replayed_status == [400]


async def test_an_error_callback_is_reported_as_declined(sandbox_server: AuthServer) -> None:
    user = form_browser("alice", "alice", decision="deny")
    with pytest.raises(AuthError, match="declined") as caught:
        await login(sandbox_server, user)
    assert not isinstance(caught.value, SecurityCheckError)
    await user.finished()
    assert user.callback_status == 400 and "declined" in user.final_page


async def test_an_id_token_for_another_nonce_is_refused(sandbox_server: AuthServer) -> None:
    user = form_browser(
        "alice", "alice", rewrite_url=lambda url: rewrite_query(url, nonce="attacker-nonce")
    )
    with pytest.raises(SecurityCheckError, match="nonce"):
        await login(sandbox_server, user)


async def test_a_login_nobody_finishes_times_out_and_a_missing_browser_is_explained(
    sandbox_server: AuthServer,
) -> None:
    with pytest.raises(AuthError, match="not completed within"):
        await login(sandbox_server, lambda url: True, timeout=0.3)
    with pytest.raises(AuthError, match="device login"):
        await login(sandbox_server, lambda url: False)

    def broken_browser(url: str) -> bool:
        raise webbrowser.Error("could not locate runnable browser")

    with pytest.raises(AuthError, match="No web browser could be opened"):
        await login(sandbox_server, broken_browser)
