"""Helpers for the oauth tests: a small real HTTP(S) server on loopback that serves fixed
documents (for discovery answers a real AS would never give: wrong issuer, HTML, bad TLS)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.oauth_servers import AuthServer, StaticServer


def _serve(server: StaticServer, tls: ssl.SSLContext | None) -> Iterator[StaticServer]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a client that stalls mid-handshake cannot hold the server

        def do_GET(self) -> None:
            server.hits.append(self.path)
            status, ctype, body = server.routes.get(
                self.path.split("?")[0], (404, "text/plain", b"no")
            )
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.posts.append((self.path, time.monotonic(), body))
            answers = server.post_answers.get(self.path) or [(404, {"error": "not_found"})]
            status, data = answers.pop(0) if len(answers) > 1 else answers[0]
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        scheme = "https"
    server.base_url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def static_server() -> Iterator[StaticServer]:
    yield from _serve(StaticServer(), None)


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[StaticServer]:
    """An https server whose certificate no trust store knows."""
    yield from _serve(StaticServer(), _self_signed(tmp_path))


# The two kinds of authorization server the login is tested against ---------------------------


@pytest.fixture(params=["sandbox", "keycloak"])
def auth_server(request: pytest.FixtureRequest) -> AuthServer:
    """Each test using this runs once against the sandbox and once against real Keycloak."""
    if request.param == "sandbox":
        sandbox = request.getfixturevalue("sandbox_factory")(device_interval=1)
        return AuthServer(
            "sandbox",
            sandbox.issuer,
            scopes=("openid", "profile", "email", "offline_access", "uma_policy_manager"),
        )
    keycloak = request.getfixturevalue("keycloak")
    return AuthServer("keycloak", keycloak.issuer, scopes=("openid", "profile", "email"))


@pytest.fixture
def sandbox_server(sandbox_factory: Any) -> AuthServer:
    sandbox = sandbox_factory(device_interval=1)
    return AuthServer(
        "sandbox",
        sandbox.issuer,
        scopes=("openid", "profile", "email", "offline_access", "uma_policy_manager"),
    )
