"""The Keycloak backend against a real loopback HTTP server that misbehaves on purpose.

Real Keycloak never answers like this, so the server here is a deliberately broken stand-in
(stdlib http.server on 127.0.0.1); the token source is a fake handing out fixed strings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from uma_desktop import net
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.errors import (
    LoginRequiredError,
    MalformedResponseError,
    ServerError,
    ServerUnreachableError,
)

REALM_PATH = "/realms/broken"


class FakeTokenSource:
    """Hands out ``token-1``, ``token-2``, ... and records rejections."""

    def __init__(self) -> None:
        self.issued = 0
        self.rejected: list[str] = []

    async def access_token(self) -> str:
        self.issued += 1
        return f"token-{self.issued}"

    async def token_rejected(self, token: str) -> None:
        self.rejected.append(token)


class MisbehavingServer:
    """Answers every request with ``(status, content type, body)`` chosen by the test."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str, bytes]] = []
        self.default: tuple[int, str, bytes] = (200, "application/json", b"[]")
        self.seen: list[tuple[str, str, str]] = []  # method, path, authorization
        self.accepted: list[str] = []
        self.issuer = ""  # known once serving, on the port the system picked

    def answer(self, status: int, content_type: str, body: str | bytes | Any) -> None:
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        self.default = (status, content_type, body.encode() if isinstance(body, str) else body)

    def then(self, status: int, content_type: str, body: Any) -> None:
        """Queue a one-off answer before the default one."""
        self.answers.append((status, content_type, json.dumps(body).encode()))

    def serve(self) -> Iterator[MisbehavingServer]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                outer.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                outer.accepted.append(self.headers.get("Accept", ""))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, ctype, body = outer.answers.pop(0) if outer.answers else outer.default
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = _reply

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{httpd.server_address[1]}{REALM_PATH}"
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    yield from MisbehavingServer().serve()


@pytest.fixture
async def tokens() -> FakeTokenSource:
    return FakeTokenSource()


@pytest.fixture
async def backend(server: MisbehavingServer, tokens: FakeTokenSource) -> Iterator[KeycloakBackend]:
    instance = KeycloakBackend("broken", server.issuer, net.async_client(), tokens)
    yield instance
    await instance.aclose()


async def test_html_instead_of_json_is_a_clear_error(
    server: MisbehavingServer, backend: KeycloakBackend
) -> None:
    server.answer(200, "text/html; charset=utf-8", "<!doctype html><title>Sign in</title>")
    with pytest.raises(MalformedResponseError, match=r"text/html.*where JSON"):
        await backend.list_resources()
    # the backend asked for JSON explicitly (Keycloak serves its console page otherwise)
    assert server.seen[0][:2] == ("GET", f"{REALM_PATH}/account/resources?first=0&max=100")
    assert server.accepted == ["application/json"]


async def test_garbage_and_wrong_shapes_are_clear_errors(
    server: MisbehavingServer, backend: KeycloakBackend
) -> None:
    server.answer(200, "application/json", '[{"_id": "r1", "name": "trunc')
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        await backend.list_resources()
    server.answer(200, "application/json", [{"_id": "r1", "name": ["not", "a", "name"]}])
    with pytest.raises(MalformedResponseError, match="list of resources is malformed"):
        await backend.list_resources()
    server.answer(200, "application/json", {"resources": []})
    with pytest.raises(MalformedResponseError, match="list of resources is malformed"):
        await backend.list_requests()
    server.answer(200, "application/json", [{"scopes": ["view"]}])
    with pytest.raises(MalformedResponseError, match="username"):
        await backend.list_shares("r1")


async def test_missing_scopes_and_unknown_keys_are_tolerated(
    server: MisbehavingServer, backend: KeycloakBackend
) -> None:
    server.answer(
        200,
        "application/json",
        [{"_id": "r1", "name": "bare", "uris": [], "futureField": {"x": 1}}],
    )
    [resource] = await backend.list_resources()
    assert (resource.id, resource.name, resource.scopes) == ("r1", "bare", ())


async def test_error_statuses_say_what_failed(
    server: MisbehavingServer, backend: KeycloakBackend, tokens: FakeTokenSource
) -> None:
    server.answer(500, "application/json", {"error": "unknown_error"})
    with pytest.raises(ServerError, match=r"HTTP 500 \(unknown_error\)") as failure:
        await backend.list_resources()
    assert failure.value.status == 500
    server.answer(403, "application/json", {"error": "forbidden"})
    with pytest.raises(ServerError, match="manage-account"):
        await backend.list_resources()
    server.answer(502, "text/html", "<html>Bad gateway</html>")
    with pytest.raises(ServerError, match="HTTP 502"):
        await backend.list_resources()
    assert not any(t in str(failure.value) for t in ("token-1", "Bearer"))


async def test_a_rejected_token_is_refreshed_once(
    server: MisbehavingServer, backend: KeycloakBackend, tokens: FakeTokenSource
) -> None:
    server.then(401, "application/json", {"error": "invalid_token"})
    server.answer(200, "application/json", [])
    assert await backend.list_resources() == []
    assert tokens.rejected == ["token-1"]
    assert [auth for _, _, auth in server.seen] == ["Bearer token-1", "Bearer token-2"]

    server.answer(401, "application/json", {"error": "invalid_token"})
    with pytest.raises(LoginRequiredError, match="log in again") as failure:
        await backend.list_resources()
    assert tokens.rejected == ["token-1", "token-3", "token-4"]
    assert "token-" not in str(failure.value)


async def test_unreachable_server(tokens: FakeTokenSource, closed_port: int) -> None:
    backend = KeycloakBackend(
        "gone", f"http://127.0.0.1:{closed_port}/realms/x", net.async_client(), tokens
    )
    try:
        with pytest.raises(ServerUnreachableError, match=r"Could not connect to 127\.0\.0\.1"):
            await backend.list_requests()
    finally:
        await backend.aclose()
