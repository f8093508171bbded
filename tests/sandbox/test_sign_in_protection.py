"""The sandbox's sign-in forms against an attacker: cross-site posts to the device form,
decisions without signing in, password guessing, and telling users apart by timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx

from tests.fixtures.sandbox import APP_CLIENT_ID, form_interaction, pkce_pair
from uma_desktop.sandbox import SandboxServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REDIRECT = "http://127.0.0.1:61001/callback"


def _start_device(server: SandboxServer) -> dict[str, str]:
    answer = httpx.post(f"{server.issuer}/device_authorization", data={"client_id": APP_CLIENT_ID})
    assert answer.status_code == 200, answer.text
    device: dict[str, str] = answer.json()
    return device


def _device_state(server: SandboxServer, device_code: str) -> str:
    server.advance_clock(6)  # past the polling interval, so the answer is never slow_down
    answer = httpx.post(
        f"{server.issuer}/token",
        data={"client_id": APP_CLIENT_ID, "grant_type": DEVICE_GRANT, "device_code": device_code},
    )
    return "approved" if answer.status_code == 200 else str(answer.json()["error"])


def _open_login_form(server: SandboxServer, browser: httpx.Client) -> str:
    _, challenge = pkce_pair()
    page = browser.get(
        f"{server.issuer}/authorize",
        params={
            "response_type": "code",
            "client_id": APP_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200, page.text
    return form_interaction(page.text)


def _sign_in(
    server: SandboxServer, browser: httpx.Client, interaction: str, username: str, password: str
) -> httpx.Response:
    return browser.post(
        f"{server.issuer}/authorize/login",
        data={"interaction": interaction, "username": username, "password": password},
    )


def test_device_form_refuses_posts_that_did_not_come_from_its_page(
    sandbox: SandboxServer,
) -> None:
    device = _start_device(sandbox)
    credentials = {"user_code": device["user_code"], "username": "alice", "password": "alice"}
    # A cross-site form: no token at all.
    bare = httpx.post(f"{sandbox.issuer}/device", data=credentials)
    assert bare.status_code == 403 and "expired or was not opened" in bare.text
    # A token the attacker fetched themselves, posted from the victim's browser, which has
    # no matching cookie (SameSite=Strict keeps it off cross-site posts anyway).
    attacker_page = httpx.get(f"{sandbox.issuer}/device")
    forged = httpx.post(
        f"{sandbox.issuer}/device",
        data={**credentials, "interaction": form_interaction(attacker_page.text)},
    )
    assert forged.status_code == 403
    # A token that does not belong to the cookie the browser holds.
    with httpx.Client() as browser:
        browser.get(f"{sandbox.issuer}/device")
        swapped = browser.post(
            f"{sandbox.issuer}/device",
            data={**credentials, "interaction": form_interaction(attacker_page.text)},
        )
    assert swapped.status_code == 403
    assert _device_state(sandbox, device["device_code"]) == "authorization_pending"
    # The user's own browser, which opened the page, gets through.
    with httpx.Client() as browser:
        page = browser.get(device["verification_uri_complete"])
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        approved = browser.post(
            f"{sandbox.issuer}/device",
            data={**credentials, "interaction": form_interaction(page.text)},
        )
        assert approved.status_code == 200 and "Device connected" in approved.text
        # The token is single-use: the same form cannot be replayed for another code.
        other = _start_device(sandbox)
        replay = browser.post(
            f"{sandbox.issuer}/device",
            data={
                **credentials,
                "user_code": other["user_code"],
                "interaction": form_interaction(page.text),
            },
        )
    assert replay.status_code == 403
    assert _device_state(sandbox, device["device_code"]) == "approved"
    assert _device_state(sandbox, other["device_code"]) == "authorization_pending"


def test_denying_a_device_needs_the_user_to_sign_in(sandbox: SandboxServer) -> None:
    device = _start_device(sandbox)
    with httpx.Client() as browser:
        page = browser.get(device["verification_uri_complete"])
        interaction = form_interaction(page.text)
        anonymous = browser.post(
            f"{sandbox.issuer}/device",
            data={"interaction": interaction, "user_code": device["user_code"], "decision": "deny"},
        )
        assert anonymous.status_code == 400 and "Wrong username or password" in anonymous.text
        assert _device_state(sandbox, device["device_code"]) == "authorization_pending"
        signed_in = browser.post(
            f"{sandbox.issuer}/device",
            data={
                "interaction": interaction,
                "user_code": device["user_code"],
                "username": "alice",
                "password": "alice",
                "decision": "deny",
            },
        )
    assert signed_in.status_code == 200 and "You denied the request" in signed_in.text
    assert _device_state(sandbox, device["device_code"]) == "access_denied"


def test_password_guessing_is_locked_out_with_growing_pauses(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory()
    limit = server.settings.login_failure_limit
    pause = server.settings.login_lockout_seconds
    with httpx.Client() as browser:
        interaction = _open_login_form(server, browser)
        for _ in range(limit):
            wrong = _sign_in(server, browser, interaction, "alice", "guess")
            assert wrong.status_code == 400
        # Locked: even the right password is not checked now.
        locked = _sign_in(server, browser, interaction, "alice", "alice")
        assert locked.status_code == 429, locked.text
        assert "Too many failed sign-ins" in locked.text
        assert 0 < int(locked.headers["retry-after"]) <= pause
        assert "location" not in locked.headers
        # Other users are not locked out by alice's attacker.
        assert _sign_in(server, browser, interaction, "bob", "bob").status_code == 303
        interaction = _open_login_form(server, browser)
        # After the pause one more guess is allowed; failing it doubles the pause.
        server.advance_clock(pause + 1)
        assert _sign_in(server, browser, interaction, "alice", "guess").status_code == 400
        again = _sign_in(server, browser, interaction, "alice", "alice")
        assert again.status_code == 429
        assert pause < int(again.headers["retry-after"]) <= 2 * pause
        server.advance_clock(2 * pause + 1)
        assert _sign_in(server, browser, interaction, "alice", "alice").status_code == 303
        # Success forgives the failures: a single typo afterwards is just a typo.
        interaction = _open_login_form(server, browser)
        assert _sign_in(server, browser, interaction, "alice", "typo").status_code == 400
        assert _sign_in(server, browser, interaction, "alice", "alice").status_code == 303


def test_guessing_many_usernames_from_one_address_is_locked_out(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory()
    with httpx.Client() as browser:
        interaction = _open_login_form(server, browser)
        for attempt in range(server.settings.login_address_failure_limit):
            answer = _sign_in(server, browser, interaction, f"user{attempt}", "guess")
            assert answer.status_code == 400
        assert _sign_in(server, browser, interaction, "alice", "alice").status_code == 429
        device = _start_device(server)
        page = browser.get(device["verification_uri_complete"])
        refused = browser.post(
            f"{server.issuer}/device",
            data={
                "interaction": form_interaction(page.text),
                "user_code": device["user_code"],
                "username": "bob",
                "password": "bob",
            },
        )
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert _device_state(server, device["device_code"]) == "authorization_pending"


def test_unknown_and_known_usernames_take_the_same_time(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory()
    server.settings.login_failure_limit = 10_000  # this test is about timing, not lockout
    server.settings.login_address_failure_limit = 10_000
    known: list[float] = []
    unknown: list[float] = []
    with httpx.Client() as browser:
        interaction = _open_login_form(server, browser)
        for attempt in range(3):  # warm up connections and code paths
            _sign_in(server, browser, interaction, f"nobody{attempt}", "guess")
        for attempt in range(30):  # interleaved, so load on the machine hits both alike
            for username, timings in (("alice", known), (f"nobody{attempt}", unknown)):
                started = time.perf_counter()
                answer = _sign_in(server, browser, interaction, username, "guess")
                timings.append(time.perf_counter() - started)
                assert answer.status_code == 400
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (
        f"wrong password for a known user: {statistics.median(known) * 1000:.1f} ms, "
        f"for an unknown user: {statistics.median(unknown) * 1000:.1f} ms"
    )
