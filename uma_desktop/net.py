"""The one module that imports httpx (swap it for a continuation here, nowhere else).

Every HTTP client the app, the sandbox's demo actors and the requesting-party simulator use
is built here, so that TLS verification stays on, timeouts are set, errors map to the app's
typed errors, and every exchange can be observed by the protocol trace (``add_listener``).

Everything the app reads from a server goes through :func:`send`: the body is read as a
stream and dropped at ``MAX_BODY_BYTES``, the whole exchange (connect, headers, body, any
``Retry-After`` wait) has one deadline, 429/503 are retried at most ``BUSY_RETRIES`` times
within ``BUSY_WAIT_LIMIT`` seconds, and owner-API calls authenticate with :class:`BearerAuth`.
:func:`raise_for_error` is the one status-to-error mapping:

====================  =========================================================
status                error
====================  =========================================================
401 with a bearer     ``LoginRequiredError`` (after one refresh and one retry)
403                   ``ForbiddenError``
404, 410              ``NotFoundError``
409                   ``ConflictError``
429, 503              ``ServerBusyError`` (after the bounded ``Retry-After`` waits)
any other 4xx / 5xx   ``ServerError`` (with the OAuth ``error`` code when sent)
====================  =========================================================

Bodies become typed values through :func:`parse` (size-checked JSON, a msgspec decoder).
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import json
import ssl
import threading
import time
import zlib
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx
import msgspec

from uma_desktop import __version__
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
    ServerUnreachableError,
    TlsError,
)
from uma_desktop.uma._base import describe_validation_error

Client = httpx.Client
Response = httpx.Response
Request = httpx.Request
HTTPError = httpx.HTTPError
TransportError = httpx.TransportError
URL = httpx.URL

USER_AGENT = f"uma-desktop/{__version__}"
DEFAULT_TIMEOUT = 15.0  # between two reads
DEFAULT_DEADLINE = 30.0  # for a whole exchange, however the server paces it
MAX_BODY_BYTES = 16 * 1024 * 1024
BUSY_RETRIES = 2
BUSY_WAIT_LIMIT = 10.0  # seconds of Retry-After waiting per exchange, in total
BUSY_DEFAULT_WAIT = 1.0  # when a busy server does not say how long

T = TypeVar("T")


@runtime_checkable
class TokenSource(Protocol):
    """Hands out the owner's current access token for one connection."""

    async def access_token(self) -> str:
        """A valid access token, refreshing first if needed (raises LoginRequiredError)."""
        ...

    async def token_rejected(self, token: str) -> None:
        """Tell the source the server answered 401 for ``token`` so the next call refreshes."""
        ...


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


def _request_body(request: Request) -> bytes:
    return request.content if hasattr(request, "_content") else b""


def _exchange(actor: str, connection_id: str | None, response: Response, body: bytes) -> Exchange:
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
        request_body=_request_body(request),
        response_headers=tuple(response.headers.multi_items()),
        response_body=body,
    )


def _base_headers(accept_json: bool) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPTED_ENCODINGS}
    if accept_json:
        headers["Accept"] = "application/json"
    return headers


class _TlsWhenNeeded(httpx.AsyncBaseTransport):
    """A client's own transport: https:// requests go through httpx's verifying transport,
    built with its CA bundle (slow to load) on the first https request; plain http://
    requests (a loopback server) through a pool whose TLS context trusts no certificate,
    so a command that only talks to a loopback sandbox never loads the bundle."""

    def __init__(self, **options: Any) -> None:
        self._options = options  # as httpx would build its transport (verify=True, limits...)
        self._tls: httpx.AsyncHTTPTransport | None = None
        self._plain: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: Request) -> Response:
        if request.url.scheme == "http":
            if self._plain is None:
                # Verifying, with no trusted certificate: it could not complete a handshake.
                untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                self._plain = httpx.AsyncHTTPTransport(**{**self._options, "verify": untrusting})
            return await self._plain.handle_async_request(request)
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport(**self._options)
        return await self._tls.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()


class AsyncClient(httpx.AsyncClient):
    """An httpx client that knows who uses it (for the trace) and its exchanges' deadline."""

    def __init__(
        self, *, actor: str, connection_id: str | None, deadline: float, **options: Any
    ) -> None:
        super().__init__(**options)
        self.actor = actor
        self.connection_id = connection_id
        self.deadline = deadline

    def _init_transport(  # type: ignore[override]
        self, transport: httpx.AsyncBaseTransport | None = None, **options: Any
    ) -> httpx.AsyncBaseTransport:
        """httpx's default transport, its TLS context made when an https request needs it
        (httpx's own hook for the transport; httpx is pinned to 0.28 in pyproject.toml)."""
        return transport if transport is not None else _TlsWhenNeeded(**options)

    def emit(self, response: Response, body: bytes) -> None:
        if _listeners:
            _emit(_exchange(self.actor, self.connection_id, response, body))


_BOUNDED = "uma_bounded"  # request extension: send() reads and traces the body itself
_BEARER = "uma_bearer"  # request extension: BearerAuth signed it (a 401 means login needed)


def async_client(
    *,
    actor: str = "app",
    connection_id: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    accept_json: bool = True,
    follow_redirects: bool = False,
    max_connections: int = 16,
) -> AsyncClient:
    """An AsyncClient with TLS verification on, a read timeout, a deadline and trace hooks.

    ``deadline`` bounds each whole exchange made through :func:`send` (default: the larger
    of ``timeout`` and ``DEFAULT_DEADLINE``).
    """

    async def on_request(request: Request) -> None:
        request.extensions["uma_started"] = time.time()

    async def on_response(response: Response) -> None:
        if _listeners and not response.request.extensions.get(_BOUNDED):
            await response.aread()
            _emit(_exchange(actor, connection_id, response, response.content))

    return AsyncClient(
        actor=actor,
        connection_id=connection_id,
        deadline=deadline if deadline is not None else max(timeout, DEFAULT_DEADLINE),
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
            _emit(_exchange(actor, connection_id, response, response.content))

    return httpx.Client(
        timeout=timeout,
        verify=True,
        headers=_base_headers(accept_json),
        follow_redirects=follow_redirects,
        event_hooks={"request": [on_request], "response": [on_response]},
    )


def refuse_cookies(client: httpx.AsyncClient) -> None:
    """Make ``client`` keep and send no cookies (for servers that read a session from a
    cookie before the header the app sets, so a stale cookie would win)."""
    client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    client.cookies.clear()


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or "the server"
    except httpx.InvalidURL:
        return "the server"


def describe_transport_error(exc: BaseException, url: str) -> ServerUnreachableError:
    """Turn an httpx transport failure into a typed, human error (no secrets in it)."""
    host = _host(url) if url else "the server"
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "certificate" in text.lower():
        return TlsError(f"The TLS certificate of {host} could not be verified.")
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnreachableError(f"{host} did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        return ServerUnreachableError(f"Could not connect to {host}.")
    return ServerUnreachableError(f"Could not talk to {host}: {exc.__class__.__name__}.")


# -- the authenticated exchange ------------------------------------------------------------


class BearerAuth(httpx.Auth):
    """Sends the source's access token; on 401 the source hears so, refreshes, and the
    request is sent once more. A second 401 is reported to the source too and returned."""

    requires_response_body = False

    def __init__(
        self,
        source: TokenSource,
        client: AsyncClient | None = None,
        header: str = "Authorization",
    ) -> None:
        self._source = source
        self._client = client
        self._header = header

    def _sign(self, request: Request, token: str) -> None:
        """``Authorization: Bearer <token>``, or the bare token in a vendor's own header."""
        if self._header == "Authorization":
            request.headers["Authorization"] = f"Bearer {token}"
        else:
            request.headers[self._header] = token

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        raise RuntimeError("BearerAuth is for the async client only")

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        request.extensions[_BEARER] = True
        token = await self._source.access_token()
        self._sign(request, token)
        response = yield request
        if response.status_code != 401:
            return
        # httpx reads a replaced answer whole before the retry: read it here, bounded, and
        # hand httpx the bytes (its read() keeps content it already has).
        body = await _read_bounded(response, MAX_BODY_BYTES, "answer")
        response._content = body
        if self._client is not None:  # the rejected attempt belongs in the trace too
            self._client.emit(response, body)
        await self._source.token_rejected(token)
        token = await self._source.access_token()
        self._sign(request, token)
        response = yield request
        if response.status_code == 401:
            await self._source.token_rejected(token)


@dataclass(frozen=True)
class Reply:
    """A whole answer read within the size limit and the deadline."""

    method: str
    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes
    authenticated: bool = False

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class Answer(Protocol):
    """What the error mapping and the parsers read: a Reply or a (sync) httpx.Response."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> httpx.Headers: ...

    @property
    def content(self) -> bytes: ...


def _too_large(status: int | None) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"The server's answer is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
        "it was not read further.",
        status=status,
    )


_ZLIB_WINDOWS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}
ACCEPTED_ENCODINGS = "gzip, deflate"


async def _read_bounded(response: Response, limit: int, what: str) -> bytes:
    """The body, read chunk by chunk; ResponseTooLargeError as soon as it passes ``limit``.

    Compressed answers are inflated here, never more than the remaining allowance at a time
    (a few kilobytes of gzip can hold gigabytes of zeros).
    """
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity") and declared.isdigit() and int(declared) > limit:
        raise _too_large(response.status_code)
    if encoding not in ("", "identity") and encoding not in _ZLIB_WINDOWS:
        raise MalformedResponseError(
            f"The server sent {what} in an encoding the app did not ask for ({encoding[:40]}).",
            status=response.status_code,
        )
    inflater = zlib.decompressobj(_ZLIB_WINDOWS[encoding]) if encoding in _ZLIB_WINDOWS else None
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        pending = raw
        while pending:
            if inflater is None:
                chunk, pending = pending, b""
            else:
                try:
                    chunk = inflater.decompress(pending, limit - size + 1)
                except zlib.error:
                    raise MalformedResponseError(
                        f"The server's {what} is not valid {encoding} data.",
                        status=response.status_code,
                    ) from None
                pending = inflater.unconsumed_tail
            size += len(chunk)
            if size > limit:
                raise _too_large(response.status_code)
            chunks.append(chunk)
    return b"".join(chunks)


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds a busy server asks us to wait (delta-seconds or HTTP date), None if unsaid."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    what: str,
    *,
    params: Mapping[str, str | int] | None = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    tokens: TokenSource | None = None,
    check: bool = True,
    hints: Mapping[int, str] | None = None,
    deadline: float | None = None,
    limit: int = MAX_BODY_BYTES,
    token_header: str = "Authorization",  # noqa: S107 (a header name, not a secret)
) -> Reply:
    """One exchange, read whole within ``limit`` bytes and ``deadline`` seconds.

    ``tokens`` authenticates with :class:`BearerAuth` (in ``token_header`` when a server
    wants its own session header instead of ``Authorization: Bearer``). ``check`` maps an
    error status through :func:`raise_for_error` (``hints`` adds a sentence per status). Raises only
    ``uma_desktop.errors`` types: ServerTooSlowError when the deadline passes.
    """
    bounded_client = client if isinstance(client, AsyncClient) else None
    seconds = deadline or (bounded_client.deadline if bounded_client else DEFAULT_DEADLINE)
    auth = (
        BearerAuth(tokens, bounded_client, token_header)
        if tokens is not None
        else httpx.USE_CLIENT_DEFAULT
    )
    waited = 0.0
    try:
        async with asyncio.timeout(seconds):
            for attempt in range(BUSY_RETRIES + 1):
                reply = await _exchange_once(
                    client, method, url, what, auth, params, json, data, headers, limit
                )
                if reply.status_code not in (429, 503) or attempt == BUSY_RETRIES:
                    break
                wait = retry_after(reply.headers)
                wait = BUSY_DEFAULT_WAIT if wait is None else wait
                if waited + wait > BUSY_WAIT_LIMIT:
                    break
                waited += wait
                await asyncio.sleep(wait)
    except TimeoutError:
        raise ServerTooSlowError(
            f"{_host(url)} took longer than {seconds:g} s to answer ({what}); gave up."
        ) from None
    if check:
        raise_for_error(reply, what, hints=hints)
    return reply


async def _exchange_once(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    what: str,
    auth: Any,
    params: Mapping[str, str | int] | None,
    body: Any,
    data: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    limit: int,
) -> Reply:
    try:
        async with client.stream(
            method,
            url,
            params=params,
            json=body,
            data=data,
            headers=headers,
            auth=auth,
            extensions={_BOUNDED: True},
        ) as response:
            try:
                content = await _read_bounded(response, limit, what)
            except ResponseTooLargeError:
                if isinstance(client, AsyncClient):
                    client.emit(response, b"")
                raise
            if isinstance(client, AsyncClient):
                client.emit(response, content)
            return Reply(
                method=method,
                url=str(response.request.url),
                status_code=response.status_code,
                headers=response.headers,
                content=content,
                authenticated=bool(response.request.extensions.get(_BEARER)),
            )
    except httpx.RequestError as exc:  # transport failures, too many redirects
        raise describe_transport_error(exc, url) from None


# -- one status-to-error mapping, one body parser ------------------------------------------


MAX_ERROR_CODE = 64  # characters of a server's OAuth error code kept in a message
MAX_ERROR_DESCRIPTION = 300  # and of its error_description


def _shown(text: str, limit: int) -> str:
    """Server text fit for a message: one line of printable characters, at most ``limit``."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text[: limit * 4])
    short = " ".join(printable.split())
    return short if len(short) <= limit else short[: limit - 1] + "…"


def _oauth_error(content: bytes) -> tuple[str | None, str]:
    if len(content) > 64 * 1024:  # an error answer this big carries no message worth showing
        return None, ""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    error = body.get("error")
    description = body.get("error_description")
    return (
        _shown(error, MAX_ERROR_CODE) or None if isinstance(error, str) else None,
        _shown(description, MAX_ERROR_DESCRIPTION) if isinstance(description, str) else "",
    )


def raise_for_error(response: Answer, what: str, *, hints: Mapping[int, str] | None = None) -> None:
    """Raise the typed error for a non-2xx answer (table in the module docstring)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    error, description = _oauth_error(response.content)
    hint = f" {hints[status]}" if hints and status in hints else ""
    if status == 401 and isinstance(response, Reply) and response.authenticated:
        raise LoginRequiredError(
            f"{_host(response.url)} no longer accepts this login; please log in again.{hint}"
        )
    detail = f" ({error}{': ' + description if description else ''})" if error else ""
    message = f"The server refused {what}: HTTP {status}{detail}.{hint}"
    kind: type[ServerError] = ServerError
    if status == 403:
        kind = ForbiddenError
    elif status in (404, 410):
        kind = NotFoundError
    elif status == 409:
        kind = ConflictError
    elif status in (429, 503):
        kind = ServerBusyError
        message = f"The server is busy and refused {what} (HTTP {status}); try again later."
    raise kind(message, status=status, error=error)


def json_body(response: Answer, what: str) -> Any:
    """Parse a JSON body or raise MalformedResponseError naming ``what`` was expected."""
    _check_json(response, what)
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise MalformedResponseError(
            f"The server's {what} is not valid JSON.", status=response.status_code
        ) from None


def _check_json(response: Answer, what: str) -> None:
    if len(response.content) > MAX_BODY_BYTES:
        raise _too_large(response.status_code)
    ctype = response.headers.get("content-type", "")
    if "json" not in ctype:
        raise MalformedResponseError(
            f"The server sent {ctype or 'no content type'} where JSON ({what}) was expected.",
            status=response.status_code,
        )


def decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    """A reusable parser of JSON bodies into ``kind`` (a wire model, TypedDict, list of
    those, …); numbers and booleans sent as strings are accepted, as servers do that."""
    return msgspec.json.Decoder(kind, strict=False)


def parse(response: Answer, into: msgspec.json.Decoder[T], what: str) -> T:
    """The body as ``into``'s type (one pass over the bytes, validating as it goes)."""
    _check_json(response, what)
    try:
        return into.decode(response.content)
    except msgspec.ValidationError as exc:
        # Validation runs while parsing, so a wrong shape may be seen before a cut body.
        if not _is_json(response.content):
            raise MalformedResponseError(
                f"The server's {what} is not valid JSON.", status=response.status_code
            ) from None
        raise MalformedResponseError(
            f"The server's {what} is malformed: {describe_validation_error(exc)}.",
            status=response.status_code,
        ) from None
    except msgspec.DecodeError:
        raise MalformedResponseError(
            f"The server's {what} is not valid JSON.", status=response.status_code
        ) from None
    except RecursionError:
        raise MalformedResponseError(
            f"The server's {what} is nested too deeply.", status=response.status_code
        ) from None


def _is_json(content: bytes) -> bool:
    try:
        msgspec.json.decode(content)
    except msgspec.DecodeError:
        return False
    except RecursionError:
        return True  # nested too deeply to check: the validation error is reported instead
    return True


def is_empty(response: Answer) -> bool:
    """Whether the answer carries no document (204, or an empty or ``null`` body)."""
    return response.status_code == 204 or response.content.strip() in (b"", b"null")
