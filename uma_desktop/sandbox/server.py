"""``SandboxServer``: the sandbox on loopback, in a daemon thread (tests, demo mode) or in
the foreground (``uma-desktop sandbox``)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from uma_desktop.sandbox import seed as demo_seed
from uma_desktop.sandbox.app import create_app
from uma_desktop.sandbox.core import Sandbox, Settings
from uma_desktop.sandbox.demo_rs import resource_url
from uma_desktop.sandbox.store import Clock, Store, loads

HOST = "127.0.0.1"


class DataFileError(Exception):
    """The data file cannot be opened as sandbox state (corrupt, unreadable, not SQLite)."""


START_TIMEOUT = 20.0


class SandboxServer:
    """One sandbox authorization server (with its demo resource servers) on 127.0.0.1."""

    def __init__(
        self,
        name: str = "Sandbox",
        port: int = 0,
        data_path: Path | None = None,
        seed: bool = True,
        *,
        seed_profile: str = "full",
        ticket_lifetime: int | None = None,
        device_interval: int | None = None,
        request_interval: int | None = None,
        access_token_lifetime: int | None = None,
    ) -> None:
        self.name = name
        self.data_path = data_path
        self._requested_port = port
        self._seed = seed
        self.seed_profile = seed_profile
        self.settings = Settings()
        if ticket_lifetime is not None:
            self.settings.ticket_lifetime = ticket_lifetime
        if device_interval is not None:
            self.settings.device_interval = device_interval
        if request_interval is not None:
            self.settings.request_interval = request_interval
        if access_token_lifetime is not None:
            self.settings.access_token_lifetime = access_token_lifetime
        self.clock = Clock()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.sandbox: Sandbox | None = None
        self.port = 0

    # lifecycle

    def bind(self) -> uvicorn.Server:
        """Bind the port, open the store and seed it; ``start``/``serve_forever`` call it."""
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so,
        # and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self._requested_port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        try:
            store = Store(self.data_path)
            self.sandbox = Sandbox(
                store, issuer=self.issuer, name=self.name, settings=self.settings, clock=self.clock
            )
            if self._seed:
                demo_seed.seed(self.sandbox, self.seed_profile)
        except (sqlite3.Error, OSError, ValueError) as exc:
            self._close()
            raise DataFileError(f"{self.data_path} is not a usable sandbox data file") from exc
        config = uvicorn.Config(
            create_app(self.sandbox),
            log_level="warning",
            access_log=False,  # URLs can carry tickets and user codes
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> SandboxServer:
        """Start in a daemon thread; returns once the server accepts connections."""
        server = self.bind()
        sockets = [self._socket] if self._socket else None
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name=f"sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the sandbox server failed to start")
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start in time")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI)."""
        server = self._server or self.bind()
        try:
            server.run(sockets=[self._socket] if self._socket else None)
        finally:
            self._close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.sandbox is not None:
            self.sandbox.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # facts

    @property
    def issuer(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _require(self) -> Sandbox:
        if self.sandbox is None:
            raise RuntimeError("the sandbox server is not started")
        return self.sandbox

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward (expire tickets, codes, policies without waiting)."""
        self.clock.advance(seconds)

    def seed_bulk_resources(
        self, owner: str = "alice", count: int = 10000, resource_server: str = "photos"
    ) -> list[str]:
        return demo_seed.seed_bulk_resources(
            self._require(), owner=owner, count=count, resource_server=resource_server
        )

    def reset_data(self) -> None:
        """Resources, shares and requests back as seeded; people and sign-ins stay."""
        demo_seed.reset_data(self._require(), self.seed_profile)

    def seeded_profile(self) -> str | None:
        """The seed profile the data file holds (None: not seeded)."""
        return self._require().store.get_meta("seed_profile")

    def resource_id(self, name: str) -> str:
        """The id of a (seeded) resource by its name."""
        row = self._require().store.one("SELECT id FROM resources WHERE name = ?", (name,))
        if row is None:
            raise KeyError(name)
        return str(row["id"])

    def resource_url(self, name: str) -> str:
        """The demo RS URL of a seeded resource by name."""
        sandbox = self._require()
        row = sandbox.store.one(
            "SELECT r.id, c.rs_name FROM resources r JOIN clients c "
            "ON c.client_id = r.rs_client_id WHERE r.name = ?",
            (name,),
        )
        if row is None or not row["rs_name"]:
            raise KeyError(name)
        return resource_url(sandbox, row["rs_name"], row["id"])

    @property
    def config(self) -> dict[str, Any]:
        """Everything an interop tester needs (what ``--print-config`` prints)."""
        sandbox = self._require()
        store = sandbox.store
        users = [
            {
                "username": user.username,
                "password": user.password,
                "email": user.email,
                "name": user.name,
                "sub": store.scalar("SELECT sub FROM users WHERE username = ?", (user.username,)),
            }
            for user in demo_seed.DEMO_USERS
            if store.scalar("SELECT 1 FROM users WHERE username = ?", (user.username,))
        ]
        clients = []
        for row in store.all("SELECT * FROM clients ORDER BY kind, client_id"):
            clients.append(
                {
                    "client_id": row["client_id"],
                    "client_secret": row["secret"],
                    "name": row["name"],
                    "kind": {
                        "app": "owner-app",
                        "rqp": "requesting-party",
                        "rs": "resource-server",
                    }.get(row["kind"], row["kind"]),
                    "public": row["secret"] is None,
                    "redirect_uris": loads(row["redirect_uris"]),
                    "claims_redirect_uris": loads(row["claims_redirect_uris"]),
                    "grant_types": loads(row["grant_types"]),
                    "scopes": loads(row["scopes"]),
                }
            )
        resource_servers = []
        for spec in demo_seed.DEMO_RESOURCE_SERVERS:
            client = sandbox.client(spec.client_id)
            if client is None:
                continue
            resources = store.all(
                "SELECT r.id, r.name, r.scopes, u.username FROM resources r JOIN users u "
                "ON u.sub = r.owner_sub WHERE r.rs_client_id = ? "
                "AND coalesce(r.type, '') != 'bulk-item' "
                "ORDER BY r.created_at, r.name",
                (spec.client_id,),
            )
            resource_servers.append(
                {
                    "key": spec.key,
                    "name": spec.name,
                    "client_id": spec.client_id,
                    "client_secret": client.secret,
                    "url": sandbox.url(f"/rs/{spec.key}"),
                    "scopes": list(spec.scopes),
                    "resources": [
                        {
                            "id": r["id"],
                            "name": r["name"],
                            "owner": r["username"],
                            "resource_scopes": loads(r["scopes"]),
                            "url": resource_url(sandbox, spec.key, r["id"]),
                        }
                        for r in resources
                    ],
                }
            )
        return {
            "name": self.name,
            "issuer": self.issuer,
            "discovery": {
                "uma2": sandbox.url("/.well-known/uma2-configuration"),
                "openid": sandbox.url("/.well-known/openid-configuration"),
            },
            "openapi": sandbox.url("/openapi.json"),
            "users": users,
            "clients": clients,
            "resource_servers": resource_servers,
        }
