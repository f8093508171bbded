"""The one module that imports httpx (swap it for a continuation here, nowhere else).

Every HTTP client the app, the sandbox's demo actors and the requesting-party simulator use
is built here, so that TLS verification stays on, timeouts are set, errors map to the app's
typed errors, and every exchange can be observed by the protocol trace (``add_listener``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from uma_desktop import __version__
from uma_desktop.errors import (
    MalformedResponseError,
    ServerError,
    ServerUnreachableError,
    TlsError,
)

AsyncClient = httpx.AsyncClient
Client = httpx.Client
Response = httpx.Response
Request = httpx.Request
HTTPError = httpx.HTTPError
TransportError = httpx.TransportError
URL = httpx.URL

USER_AGENT = f"uma-desktop/{__version__}"
DEFAULT_TIMEOUT = 15.0
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Exchange:
    """One finished HTTP exchange, as seen by a client. Bodies are raw; the trace redacts."""

    actor: str
    connection_id: str | None
    started: float
    duration: float
    method: str
    url: str
    status: int | None
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes
    error: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


ExchangeListener = Callable[[Exchange], None]
_listeners: list[ExchangeListener] = []
_listeners_lock = threading.Lock()


def add_listener(listener: ExchangeListener) -> None:
    with _listeners_lock:
        _listeners.append(listener)


def remove_listener(listener: ExchangeListener) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _emit(exchange: Exchange) -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(exchange)


def _exchange(actor: str, connection_id: str | None, response: Response) -> Exchange:
    request = response.request
    started = float(request.extensions.get("uma_started", time.time()))
    return Exchange(
        actor=actor,
        connection_id=connection_id,
        started=started,
        duration=time.time() - started,
        method=request.method,
        url=str(request.url),
        status=response.status_code,
        request_headers=tuple(request.headers.multi_items()),
        request_body=request.content if hasattr(request, "_content") else b"",
        response_headers=tuple(response.headers.multi_items()),
        response_body=response.content,
    )


def _base_headers(accept_json: bool) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT}
    if accept_json:
        headers["Accept"] = "application/json"
    return headers


def async_client(
    *,
    actor: str = "app",
    connection_id: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    accept_json: bool = True,
    follow_redirects: bool = False,
    max_connections: int = 16,
) -> httpx.AsyncClient:
    """An AsyncClient with TLS verification on, a timeout and trace hooks."""

    async def on_request(request: Request) -> None:
        request.extensions["uma_started"] = time.time()

    async def on_response(response: Response) -> None:
        if _listeners:
            await response.aread()
            _emit(_exchange(actor, connection_id, response))

    return httpx.AsyncClient(
        timeout=timeout,
        verify=True,
        headers=_base_headers(accept_json),
        follow_redirects=follow_redirects,
        limits=httpx.Limits(max_connections=max_connections),
        event_hooks={"request": [on_request], "response": [on_response]},
    )


def sync_client(
    *,
    actor: str = "app",
    connection_id: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    accept_json: bool = True,
    follow_redirects: bool = False,
) -> httpx.Client:
    """A blocking Client with the same guarantees (for the sandbox's demo actors and tools)."""

    def on_request(request: Request) -> None:
        request.extensions["uma_started"] = time.time()

    def on_response(response: Response) -> None:
        if _listeners:
            response.read()
            _emit(_exchange(actor, connection_id, response))

    return httpx.Client(
        timeout=timeout,
        verify=True,
        headers=_base_headers(accept_json),
        follow_redirects=follow_redirects,
        event_hooks={"request": [on_request], "response": [on_response]},
    )


def describe_transport_error(exc: BaseException, url: str) -> ServerUnreachableError:
    """Turn an httpx transport failure into a typed, human error (no secrets in it)."""
    host = httpx.URL(url).host if url else "the server"
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "certificate" in text.lower():
        return TlsError(f"The TLS certificate of {host} could not be verified.")
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnreachableError(f"{host} did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        return ServerUnreachableError(f"Could not connect to {host}.")
    return ServerUnreachableError(f"Could not talk to {host}: {exc.__class__.__name__}.")


def json_body(response: Response, what: str) -> Any:
    """Parse a JSON body or raise MalformedResponseError naming ``what`` was expected."""
    if len(response.content) > MAX_BODY_BYTES:
        raise MalformedResponseError(
            f"The server's {what} is too large.", status=response.status_code
        )
    ctype = response.headers.get("content-type", "")
    if "json" not in ctype:
        raise MalformedResponseError(
            f"The server sent {ctype or 'no content type'} where JSON ({what}) was expected.",
            status=response.status_code,
        )
    try:
        return json.loads(response.content)
    except ValueError:
        raise MalformedResponseError(
            f"The server's {what} is not valid JSON.", status=response.status_code
        ) from None


def raise_for_error(response: Response, what: str) -> None:
    """Raise ServerError with the OAuth-style ``error`` when the status is not 2xx."""
    if response.is_success:
        return
    error: str | None = None
    description = ""
    try:
        body = json.loads(response.content)
        if isinstance(body, dict):
            error = body.get("error") if isinstance(body.get("error"), str) else None
            desc = body.get("error_description")
            description = desc if isinstance(desc, str) else ""
    except ValueError:
        pass
    detail = f" ({error}{': ' + description if description else ''})" if error else ""
    raise ServerError(
        f"The server refused {what}: HTTP {response.status_code}{detail}.",
        status=response.status_code,
        error=error,
    )
