"""Everything the app reads from a server, against a server that means harm (tests/fixtures/
hostile.py on loopback): bodies that never end, answers dripped byte by byte, page counts
that lie, busy servers, and every error status against every backend."""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from tests.fixtures.hostile import Answer, CountingTokens, HostileServer, Seen
from uma_desktop import net
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.backends.policy_manager import PAGE_SIZE, PARALLEL_PAGES, PolicyManagerBackend
from uma_desktop.errors import (
    ConflictError,
    ForbiddenError,
    LoginRequiredError,
    MalformedResponseError,
    NotFoundError,
    ResponseTooLargeError,
    ServerBusyError,
    ServerError,
    ServerTooSlowError,
    UmaDesktopError,
)
from uma_desktop.oauth.device import login_with_device
from uma_desktop.oauth.discovery import discover
from uma_desktop.oauth.idtoken import fetch_jwks
from uma_desktop.oauth.tokens import token_request
from uma_desktop.uma.metadata import parse

MiB = 1024 * 1024
MEMORY_BOUND = 64 * MiB

Reader = Callable[[HostileServer, net.AsyncClient], Awaitable[Any]]


def _policy_manager(server: HostileServer, client: net.AsyncClient, **options: Any) -> Any:
    tokens = options.pop("tokens", CountingTokens())
    return PolicyManagerBackend("hostile", parse(server.metadata()), client, tokens, **options)


def _keycloak(server: HostileServer, client: net.AsyncClient, **options: Any) -> Any:
    tokens = options.pop("tokens", CountingTokens())
    return KeycloakBackend("hostile", server.keycloak_issuer, client, tokens, **options)


async def _token_exchange(server: HostileServer, client: net.AsyncClient) -> Any:
    form = {"grant_type": "authorization_code", "code": "c0de", "client_id": "uma-desktop"}
    return await token_request(client, parse(server.metadata()), form, "the code exchange")


async def _device_login(server: HostileServer, client: net.AsyncClient) -> Any:
    return await login_with_device(
        parse(server.metadata()), "uma-desktop", ["openid"], lambda code: None, client=client
    )


# name -> (paths the reader asks, how the app reads them)
READERS: dict[str, tuple[Callable[[HostileServer], list[str]], Reader]] = {
    "discovery": (
        lambda s: ["/.well-known/uma2-configuration", "/.well-known/openid-configuration"],
        lambda s, c: discover(s.base, c),
    ),
    "jwks": (lambda s: ["/jwks"], lambda s, c: fetch_jwks(c, f"{s.base}/jwks")),
    "token": (lambda s: ["/token"], _token_exchange),
    "device": (lambda s: ["/device"], _device_login),
    "owner-api": (lambda s: ["/rreg/"], lambda s, c: _policy_manager(s, c).list_resources()),
    "keycloak": (
        lambda s: [s.keycloak_resources],
        lambda s, c: _keycloak(s, c).list_resources(),
    ),
}


@pytest.mark.parametrize("reader", list(READERS))
async def test_an_endless_body_stops_at_the_limit_with_bounded_memory(
    hostile: HostileServer, reader: str, report_figure: Callable[[str], None]
) -> None:
    paths, read = READERS[reader]
    for path in paths(hostile):
        hostile.route(path, Answer.endless_json())
    async with net.async_client() as client:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(ResponseTooLargeError, match="larger than 16 MiB"):
                await read(hostile, client)
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND
    assert hostile.sent_bytes < MEMORY_BOUND  # the client stopped reading; the server noticed
    report_figure(
        f"{reader}: peak {peak / MiB:.1f} MiB, typed error after {elapsed:.2f} s, "
        f"server wrote {hostile.sent_bytes / MiB:.1f} MiB"
    )


@pytest.mark.parametrize("reader", list(READERS))
async def test_a_dripping_server_fails_within_the_deadline(
    hostile: HostileServer, reader: str, report_figure: Callable[[str], None]
) -> None:
    paths, read = READERS[reader]
    dripped = Answer.json({"issuer": hostile.base, "padding": "x" * 400}).dripped(0.05)
    for path in paths(hostile):
        hostile.route(path, dripped)
    deadline = 1.0
    async with net.async_client(deadline=deadline) as client:
        started = time.monotonic()
        with pytest.raises(ServerTooSlowError, match=r"longer than 1 s") as failure:
            await read(hostile, client)
        elapsed = time.monotonic() - started
    assert deadline <= elapsed < deadline + 1.0
    assert "127.0.0.1" in failure.value.user_message
    report_figure(f"{reader}: clear error after {elapsed:.2f} s (deadline {deadline:g} s)")


def _pages_of(items: list[dict[str, Any]], total: str) -> Callable[[Seen], Answer]:
    def page(seen: Seen) -> Answer:
        offset, limit = int(seen.query.get("offset", 0)), int(seen.query.get("limit", 10))
        return Answer.json(items[offset : offset + limit], headers={"X-Total-Count": total})

    return page


async def test_a_huge_total_count_allocates_nothing(
    hostile: HostileServer, report_figure: Callable[[str], None]
) -> None:
    items = [{"_id": f"r{i}", "name": f"Item {i}"} for i in range(3)]
    hostile.route("/rreg/", _pages_of(items, str(10**12)))
    async with net.async_client() as client:
        tracemalloc.start()
        started = time.monotonic()
        try:
            listed = await _policy_manager(hostile, client).list_resources()
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert [r.id for r in listed] == ["r0", "r1", "r2"]
    assert len(hostile.requests_to("/rreg/")) <= 1 + PARALLEL_PAGES
    assert peak < MEMORY_BOUND
    report_figure(f"X-Total-Count 10^12: peak {peak / MiB:.1f} MiB in {elapsed:.2f} s")


async def test_an_endless_listing_is_cut_short_and_says_so(hostile: HostileServer) -> None:
    def full_page(seen: Seen) -> Answer:
        offset = int(seen.query["offset"])
        page = [{"_id": f"r{offset + i}", "name": "n"} for i in range(PAGE_SIZE)]
        return Answer.json(page, headers={"X-Total-Count": str(10**12)})

    hostile.route("/rreg/", full_page)
    async with net.async_client() as client:
        listed = await _policy_manager(hostile, client, max_items=3 * PAGE_SIZE).list_resources()
    assert len(listed) == 3 * PAGE_SIZE
    assert "first 3000 items" in listed.cut_short
    assert len(hostile.requests_to("/rreg/")) == 3


async def test_an_endless_keycloak_listing_is_cut_short_and_says_so(
    hostile: HostileServer,
) -> None:
    def full_page(seen: Seen) -> Answer:
        first, size = int(seen.query["first"]), int(seen.query["max"])
        return Answer.json([{"_id": f"r{first + i}", "name": "n"} for i in range(size)])

    hostile.route(hostile.keycloak_resources, full_page)
    async with net.async_client() as client:
        listed = await _keycloak(hostile, client, page_size=50, max_items=200).list_resources()
    assert len(listed) == 200 and "first 200 items" in listed.cut_short
    assert len(hostile.requests_to(hostile.keycloak_resources)) == 4


async def test_a_complete_listing_is_not_marked(hostile: HostileServer) -> None:
    items = [{"_id": f"r{i}", "name": f"Item {i}"} for i in range(5)]
    hostile.route("/rreg/", _pages_of(items, "5"))
    async with net.async_client() as client:
        listed = await _policy_manager(hostile, client).list_resources()
    assert len(listed) == 5 and listed.cut_short == ""


# -- busy servers ---------------------------------------------------------------------------


async def test_retry_after_is_honoured_then_the_answer_is_used(
    hostile: HostileServer, report_figure: Callable[[str], None]
) -> None:
    hostile.route(
        "/rreg/",
        Answer.json({"error": "slow_down"}, status=429, headers={"Retry-After": "1"}),
        Answer.json([{"_id": "r1", "name": "Photos"}]),
    )
    async with net.async_client() as client:
        started = time.monotonic()
        listed = await _policy_manager(hostile, client).list_resources()
        elapsed = time.monotonic() - started
    assert [r.id for r in listed] == ["r1"]
    assert len(hostile.requests_to("/rreg/")) == 2
    assert elapsed >= 1.0
    report_figure(f"Retry-After 1: answer after {elapsed:.2f} s")


async def test_a_busy_server_gets_two_more_tries_then_a_clear_error(
    hostile: HostileServer, report_figure: Callable[[str], None]
) -> None:
    hostile.route("/rreg/", Answer.json({}, status=503, headers={"Retry-After": "1"}))
    async with net.async_client() as client:
        started = time.monotonic()
        with pytest.raises(ServerBusyError, match="busy") as failure:
            await _policy_manager(hostile, client).list_resources()
        elapsed = time.monotonic() - started
    assert failure.value.status == 503
    assert len(hostile.requests_to("/rreg/")) == 1 + net.BUSY_RETRIES
    assert 2.0 <= elapsed < 2.0 + 1.5
    report_figure(f"always 503: clear error after {elapsed:.2f} s, 3 requests")


async def test_a_long_retry_after_is_not_waited_for(hostile: HostileServer) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    hostile.route("/token", Answer.json({}, status=429, headers={"Retry-After": later}))
    async with net.async_client() as client:
        started = time.monotonic()
        with pytest.raises(ServerBusyError):
            await _token_exchange(hostile, client)
        assert time.monotonic() - started < net.BUSY_WAIT_LIMIT
    assert len(hostile.requests_to("/token")) == 1


def test_retry_after_reads_seconds_and_dates() -> None:
    def headers(value: str) -> Any:
        return net.httpx.Headers({"Retry-After": value})

    assert net.retry_after(headers("7")) == 7.0
    when = datetime(2030, 1, 1, tzinfo=UTC)
    assert net.retry_after(headers(format_datetime(when, usegmt=True)), now=when.timestamp() - 4)
    assert net.retry_after(headers("soon")) is None
    assert net.retry_after(net.httpx.Headers()) is None


# -- one error table, every backend -----------------------------------------------------------

BACKENDS = {
    "policy-manager": (lambda s: "/rreg/", _policy_manager),
    "keycloak": (lambda s: s.keycloak_resources, _keycloak),
}

ERROR_TABLE: list[tuple[str, list[Answer], type[UmaDesktopError]]] = [
    ("401 twice", [Answer.json({"error": "invalid_token"}, status=401)], LoginRequiredError),
    ("403", [Answer.json({"error": "forbidden"}, status=403)], ForbiddenError),
    ("404", [Answer.json({"error": "not_found"}, status=404)], NotFoundError),
    ("410", [Answer.text("gone", status=410)], NotFoundError),
    ("409", [Answer.json({"error": "conflict"}, status=409)], ConflictError),
    ("429", [Answer.json({}, status=429, headers={"Retry-After": "0"})], ServerBusyError),
    ("503", [Answer.text("down", status=503)], ServerBusyError),
    ("500", [Answer.json({"error": "server_error"}, status=500)], ServerError),
    ("502 html", [Answer.text("<html>Bad gateway</html>", status=502)], ServerError),
    ("200 html", [Answer.text("<html>console</html>")], MalformedResponseError),
    (
        "200 cut json",
        [Answer.text('[{"_id": "r', content_type="application/json")],
        MalformedResponseError,
    ),
    ("200 wrong shape", [Answer.json([{"_id": 3, "name": ["x"]}])], MalformedResponseError),
    ("200 endless", [Answer.endless_json()], ResponseTooLargeError),
]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize(
    ("answers", "expected"),
    [(answers, expected) for _, answers, expected in ERROR_TABLE],
    ids=[name for name, _, _ in ERROR_TABLE],
)
async def test_every_backend_maps_every_status_the_same_way(
    hostile: HostileServer, backend: str, answers: list[Answer], expected: type[Exception]
) -> None:
    path, build = BACKENDS[backend]
    hostile.route(path(hostile), *answers)
    tokens = CountingTokens()
    async with net.async_client() as client:
        with pytest.raises(expected) as failure:
            await build(hostile, client, tokens=tokens).list_resources()
    assert type(failure.value) is expected
    message = failure.value.user_message
    assert "token-" not in message and "Bearer" not in message
    if expected is LoginRequiredError:
        assert tokens.rejected == ["token-1", "token-2"]
    if expected is ServerBusyError:
        assert len(hostile.requests_to(path(hostile))) == 1 + net.BUSY_RETRIES


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_a_servers_error_text_is_quoted_short_and_on_one_line(
    hostile: HostileServer, backend: str
) -> None:
    path, build = BACKENDS[backend]
    description = "Refused\x1b[31m because\n\u202e" + "x" * 30_000
    hostile.route(
        path(hostile),
        Answer.json(
            {"error": "server_error\r\nX-Injected: 1", "error_description": description}, status=500
        ),
    )
    async with net.async_client() as client:
        with pytest.raises(ServerError) as failure:
            await build(hostile, client, tokens=CountingTokens()).list_resources()
    message = failure.value.user_message
    assert "server_error X-Injected: 1" in message and "Refused [31m because" in message
    assert len(message) < net.MAX_ERROR_CODE + net.MAX_ERROR_DESCRIPTION + 100
    assert all(ch.isprintable() for ch in message)


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_every_backend_refreshes_once_on_a_401(hostile: HostileServer, backend: str) -> None:
    path, build = BACKENDS[backend]
    hostile.route(
        path(hostile),
        Answer.json({"error": "invalid_token"}, status=401),
        Answer.json([{"_id": "r1", "name": "Photos"}]),
    )
    tokens = CountingTokens()
    async with net.async_client() as client:
        listed = await build(hostile, client, tokens=tokens).list_resources()
    assert [r.id for r in listed] == ["r1"] and tokens.rejected == ["token-1"]
    sent = [seen.headers["authorization"] for seen in hostile.requests_to(path(hostile))]
    assert sent == ["Bearer token-1", "Bearer token-2"]


async def test_the_trace_sees_every_exchange_with_its_body_bounded(hostile: HostileServer) -> None:
    hostile.route(
        "/rreg/",
        Answer.json({"error": "invalid_token"}, status=401),
        Answer.json([{"_id": "r1", "name": "Photos"}]),
    )
    hostile.route("/jwks", Answer.endless_json())
    exchanges: list[net.Exchange] = []
    net.add_listener(exchanges.append)
    try:
        async with net.async_client(actor="app", connection_id="hostile") as client:
            await _policy_manager(hostile, client).list_resources()
            with pytest.raises(ResponseTooLargeError):
                await fetch_jwks(client, f"{hostile.base}/jwks")
    finally:
        net.remove_listener(exchanges.append)
    assert [e.status for e in exchanges] == [401, 200, 200]
    assert {e.connection_id for e in exchanges} == {"hostile"}
    rejected, listed, endless = exchanges
    assert json.loads(rejected.response_body) == {"error": "invalid_token"}
    assert dict(rejected.request_headers)["authorization"] == "Bearer token-1"
    assert json.loads(listed.response_body) == [{"_id": "r1", "name": "Photos"}]
    assert endless.response_body == b""  # not kept: it passed the limit


def _gzip(data: bytes, repeat: int = 1) -> bytes:
    packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(data) for _ in range(repeat)) + packer.flush()


async def test_a_compressed_answer_is_read_and_a_compression_bomb_is_not(
    hostile: HostileServer, report_figure: Callable[[str], None]
) -> None:
    gzipped = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    listing = json.dumps([{"_id": "r1", "name": "Photos"}]).encode()
    bomb = _gzip(b"[" + b" " * MiB, repeat=256)  # 256 MiB of JSON whitespace
    hostile.route(
        "/rreg/", Answer(headers=gzipped, body=_gzip(listing)), Answer(headers=gzipped, body=bomb)
    )
    async with net.async_client() as client:
        backend = _policy_manager(hostile, client)
        assert [r.id for r in await backend.list_resources()] == ["r1"]
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError):
                await backend.list_resources()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert hostile.requests_to("/rreg/")[0].headers["accept-encoding"] == "gzip, deflate"
    assert peak < MEMORY_BOUND
    report_figure(f"{len(bomb) / 1024:.0f} KiB gzip of 256 MiB: peak {peak / MiB:.1f} MiB")


async def test_an_encoding_the_app_did_not_ask_for_is_refused(hostile: HostileServer) -> None:
    hostile.route(
        "/jwks", Answer(headers={"Content-Type": "application/json", "Content-Encoding": "br"})
    )
    async with net.async_client() as client:
        with pytest.raises(
            MalformedResponseError, match=r"encoding the app did not ask for \(br\)"
        ):
            await fetch_jwks(client, f"{hostile.base}/jwks")
