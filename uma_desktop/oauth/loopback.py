"""The loopback redirect listener of a native login (RFC 8252 §7.3).

Bound to 127.0.0.1 on a port the OS picks, it waits for exactly one request on its
redirect path, hands the query parameters to the login code, shows the browser a short
page with the outcome ("you can close this tab") and stops listening. Requests for other
paths (a favicon, a probe) get 404 and do not use it up. Nothing it receives is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from uma_desktop import APP_NAME

log = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
MAX_REQUEST_HEAD = 16 * 1024
READ_TIMEOUT = 10.0
PAGE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Outcome:
    """What the browser tab shows once the login code has judged the callback."""

    ok: bool
    title: str
    detail: str


def render_page(outcome: Outcome) -> bytes:
    colour = "#1a7f37" if outcome.ok else "#b42318"
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(APP_NAME)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:4em auto;max-width:34em;color:#222}}
h1{{color:{colour};font-size:1.4em}}</style></head>
<body><h1>{html.escape(outcome.title)}</h1><p>{html.escape(outcome.detail)}</p>
<p>You can close this tab and return to {html.escape(APP_NAME)}.</p></body></html>
"""
    return body.encode("utf-8")


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class LoopbackListener:
    """One-shot HTTP listener for the authorization response. Use as an async context manager."""

    def __init__(self, path: str = "/callback") -> None:
        if not path.startswith("/") or "?" in path or "#" in path:
            raise ValueError("the redirect path must start with '/' and have no query")
        self._path = path
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._callback: asyncio.Future[dict[str, str]] | None = None
        self._outcome: asyncio.Future[Outcome] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def redirect_uri(self) -> str:
        if self._port is None:
            raise RuntimeError("the listener is not started")
        return f"http://{LOOPBACK_HOST}:{self._port}{self._path}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._callback = loop.create_future()
        self._outcome = loop.create_future()
        self._server = await asyncio.start_server(self._handle, LOOPBACK_HOST, 0)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(
                Outcome(False, "Sign-in stopped", "The app is no longer waiting for this sign-in.")
            )
        self._stop_listening()
        if self._callback is not None and not self._callback.done():
            self._callback.cancel()
        if self._handlers:  # let the browser tab receive its page before we go
            await asyncio.wait(self._handlers, timeout=2.0)

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    async def __aenter__(self) -> LoopbackListener:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def wait(self, timeout: float) -> dict[str, str]:
        """The query parameters of the one callback; TimeoutError after ``timeout`` seconds."""
        if self._callback is None:
            raise RuntimeError("the listener is not started")
        return await asyncio.wait_for(asyncio.shield(self._callback), timeout)

    def finish(self, outcome: Outcome) -> None:
        """Show ``outcome`` in the browser tab that delivered the callback."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            status, body = await self._serve(reader)
            writer.write(_response(status, body))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # a client that went away or sent garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader) -> tuple[str, bytes]:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        if len(head) > MAX_REQUEST_HEAD:
            return "431 Request Header Fields Too Large", b""
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return "400 Bad Request", b""
        method, target = parts[0], parts[1]
        url = urlsplit(target)
        if url.path != self._path:
            return "404 Not Found", b""
        if method != "GET":
            return "405 Method Not Allowed", b""
        assert self._callback is not None and self._outcome is not None
        if self._callback.done():
            used = Outcome(
                False, "Link already used", "This sign-in response was already received."
            )
            return "410 Gone", render_page(used)
        self._callback.set_result(dict(parse_qsl(url.query, keep_blank_values=True)))
        self._stop_listening()  # single use: no further connections are accepted
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._outcome), PAGE_TIMEOUT)
        except TimeoutError:
            outcome = Outcome(False, "Sign-in taking long", "Please check the app.")
        return ("200 OK" if outcome.ok else "400 Bad Request"), render_page(outcome)
