"""A real loopback HTTP server that answers like an OAuth / UMA server with secrets the test knows.

The trace tests make real HTTP exchanges with it through uma_desktop.net and then look for
every one of its secret values in what the recorder kept. (The full sandbox scenario is
covered by tests/demo.)
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from uma_desktop.trace import TraceRecorder


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signature = secrets.token_urlsafe(32)
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': 'alice'})}.{signature}"


@dataclass
class Secrets:
    """Every secret value the server hands out or expects (the test searches for all of them)."""

    password: str = field(default_factory=lambda: f"pw-{secrets.token_urlsafe(9)}")
    client_secret: str = field(default_factory=lambda: f"cs-{secrets.token_urlsafe(18)}")
    code: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    code_verifier: str = field(default_factory=lambda: secrets.token_urlsafe(43))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    access_token: str = field(default_factory=_jwt)
    refresh_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    id_token: str = field(default_factory=_jwt)
    ticket1: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    ticket2: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    rpt: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    pct: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    device_code: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    user_code: str = "WDJB-MJHT"

    def values(self) -> dict[str, str]:
        return dict(vars(self))


class _Handler(BaseHTTPRequestHandler):
    server: OAuthLikeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def do_GET(self) -> None:
        s = self.server.secrets
        url = urlsplit(self.path)
        if url.path == "/login":
            html = (
                "<html><body><form method='post' action='/login?state=" + s.state + "&amp;x=1'>"
                f'<input type="hidden" name="csrf_token" value="{s.csrf}">'
                '<input name="username"><input type="password" name="password" value="">'
                "</form></body></html>"
            )
            self._send(200, html.encode(), "text/html; charset=utf-8")
        elif url.path == "/photos/1":
            if self.headers.get("Authorization") == f"Bearer {s.rpt}":
                self._json(200, {"name": "Beach", "scopes": ["view"]})
                return
            challenge = (
                f'UMA realm="photos", as_uri="http://{self.server.origin}", ticket="{s.ticket1}"'
            )
            self._send(401, b"", "text/plain", {"WWW-Authenticate": challenge})
        elif url.path == "/echo":
            self._send(200, f"you sent {self.headers.get('Authorization')}".encode(), "text/plain")
        elif url.path == "/.well-known/uma2-configuration":
            self._json(200, {"issuer": f"http://{self.server.origin}", "token_endpoint": "/token"})
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        s = self.server.secrets
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        path = urlsplit(self.path).path
        if path == "/login":
            location = f"http://127.0.0.1:1/callback?code={s.code}&state={s.state}&iss=x"
            self._send(
                302,
                b"",
                "text/plain",
                {"Location": location, "Set-Cookie": f"sid={s.session}; Path=/; HttpOnly"},
            )
        elif path == "/device":
            self._json(
                200,
                {
                    "device_code": s.device_code,
                    "user_code": s.user_code,
                    "verification_uri": f"http://{self.server.origin}/device",
                    "verification_uri_complete": f"http://{self.server.origin}/device?user_code={s.user_code}",
                    "interval": 5,
                },
            )
        elif path == "/token" and form.get("grant_type") == "authorization_code":
            self._json(
                200,
                {
                    "access_token": s.access_token,
                    "refresh_token": s.refresh_token,
                    "id_token": s.id_token,
                    "token_type": "Bearer",
                    "expires_in": 300,
                },
                {"Cache-Control": "no-store"},
            )
        elif path == "/token" and form.get("ticket") == s.ticket1:
            self._json(403, {"error": "request_submitted", "ticket": s.ticket2, "interval": 5})
        elif path == "/token" and form.get("ticket") == s.ticket2:
            self._json(200, {"access_token": s.rpt, "token_type": "Bearer", "pct": s.pct})
        else:
            self._json(400, {"error": "invalid_grant", "error_description": "unknown ticket"})


class OAuthLikeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secrets = Secrets()

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.origin}"


@pytest.fixture
def oauth_like_server() -> Iterator[OAuthLikeServer]:
    server = OAuthLikeServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def recorder() -> Iterator[TraceRecorder]:
    with TraceRecorder() as rec:
        yield rec
