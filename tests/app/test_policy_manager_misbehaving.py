"""The policy-manager backend against a real loopback server that misbehaves on purpose.

The server here is deliberately broken (garbage bodies, wrong shapes, 401s, ids-only
listings); the well-behaved protocol is tested against the sandbox in test_policy_manager.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tests.fixtures.common import loopback_listener
from uma_desktop import net
from uma_desktop.backends.policy_manager import PolicyManagerBackend
from uma_desktop.errors import LoginRequiredError, MalformedResponseError, ServerUnreachableError
from uma_desktop.uma.metadata import parse


class MisbehavingServer:
    """A loopback HTTP server whose answers the test chooses (``mode``)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.seen_tokens: list[str] = []
        self.listener = loopback_listener()
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        app = FastAPI()

        @app.get("/rreg/")
        async def listing(request: Request) -> Response:
            self.seen_tokens.append(request.headers.get("authorization", ""))
            if self.mode == "html":
                return PlainTextResponse("<html>oops</html>", media_type="text/html")
            if self.mode == "bad-shape":
                return JSONResponse([{"_id": "r1", "name": 42, "resource_scopes": "view"}])
            if self.mode == "not-json":
                return Response(b'{"truncated', media_type="application/json")
            if self.mode == "401" or (self.mode == "401-once" and len(self.seen_tokens) == 1):
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            if self.mode == "ids-only":
                return JSONResponse(["r1", "r2"])
            return JSONResponse(
                [{"_id": "r1", "name": "Photos", "resource_scopes": ["view"]}],
                headers={"X-Total-Count": "1"},
            )

        @app.get("/rreg/{rid}")
        async def describe(rid: str) -> Response:
            return JSONResponse({"_id": rid, "name": f"Item {rid}", "resource_scopes": ["view"]})

        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.listener]}, daemon=True
        )

    def metadata(self) -> Any:
        return parse(
            {
                "issuer": self.base,
                "registered_resource_endpoint": f"{self.base}/rreg/",
                "policy_endpoint": f"{self.base}/policy/",
            }
        )

    def __enter__(self) -> MisbehavingServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the misbehaving server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.listener.close()


class CountingTokens:
    """A TokenSource handing out numbered tokens; a rejected one is never handed out again."""

    def __init__(self) -> None:
        self.issued = 0
        self.rejected: list[str] = []
        self.current: str | None = None

    async def access_token(self) -> str:
        if self.current is None:
            self.issued += 1
            self.current = f"token-{self.issued}"
        return self.current

    async def token_rejected(self, token: str) -> None:
        self.rejected.append(token)
        self.current = None


@pytest.fixture
def bad_server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as server:
        yield server


async def _backend(server: MisbehavingServer, tokens: CountingTokens) -> PolicyManagerBackend:
    return PolicyManagerBackend("bad", server.metadata(), net.async_client(), tokens)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("html", "text/html"),
        ("bad-shape", "resource list is malformed"),
        ("not-json", "not valid JSON"),
    ],
)
async def test_garbage_becomes_a_clear_malformed_response_error(
    bad_server: MisbehavingServer, mode: str, message: str
) -> None:
    bad_server.mode = mode
    backend = await _backend(bad_server, CountingTokens())
    with pytest.raises(MalformedResponseError, match=message):
        await backend.list_resources()
    await backend._client.aclose()


async def test_a_401_refreshes_once_and_retries(bad_server: MisbehavingServer) -> None:
    bad_server.mode = "401-once"
    tokens = CountingTokens()
    backend = await _backend(bad_server, tokens)
    resources = await backend.list_resources()
    assert [r.name for r in resources] == ["Photos"]
    assert tokens.rejected == ["token-1"]
    assert bad_server.seen_tokens == ["Bearer token-1", "Bearer token-2"]
    await backend._client.aclose()


async def test_repeated_401_means_login_needed(bad_server: MisbehavingServer) -> None:
    bad_server.mode = "401"
    tokens = CountingTokens()
    backend = await _backend(bad_server, tokens)
    with pytest.raises(LoginRequiredError, match="log in again"):
        await backend.list_resources()
    assert len(bad_server.seen_tokens) == 2
    await backend._client.aclose()


async def test_a_server_listing_ids_only_is_described_item_by_item(
    bad_server: MisbehavingServer,
) -> None:
    bad_server.mode = "ids-only"
    backend = await _backend(bad_server, CountingTokens())
    resources = await backend.list_resources()
    assert [(r.id, r.name) for r in resources] == [("r1", "Item r1"), ("r2", "Item r2")]
    await backend._client.aclose()


async def test_unreachable_server_is_a_human_error(closed_port: int) -> None:
    port = closed_port
    meta = parse(
        {
            "issuer": f"http://127.0.0.1:{port}",
            "registered_resource_endpoint": f"http://127.0.0.1:{port}/rreg/",
            "policy_endpoint": f"http://127.0.0.1:{port}/policy/",
        }
    )
    async with net.async_client() as client:
        backend = PolicyManagerBackend("gone", meta, client, CountingTokens())
        with pytest.raises(ServerUnreachableError, match=r"Could not connect to 127\.0\.0\.1"):
            await backend.list_resources()
