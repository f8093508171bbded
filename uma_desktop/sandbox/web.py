"""HTTP plumbing shared by the route modules: body limit, content types, error rendering,
bearer-token dependencies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from uma_desktop.sandbox.core import POLICY_MANAGER, UMA_PROTECTION, AccessToken, Sandbox
from uma_desktop.sandbox.errors import (
    NO_STORE,
    OAuthError,
    insufficient_scope,
    invalid_token,
    no_credentials,
)
from uma_desktop.uma.errors import ErrorCode

log = logging.getLogger("uma_desktop.sandbox")

MAX_BODY_BYTES = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def oauth_json(
    status: int, error: str, description: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413 and an OAuth-style body."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await oauth_json(400, "invalid_request", "Bad Content-Length.")(
                    scope, receive, send
                )
                return
            if length > self.limit:
                await self._too_large(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI re-raises HTTPException from body reading unchanged.
                    raise StarletteHTTPException(413, "The request body is larger than 1 MiB.")
            return message

        await self.app(scope, limited_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = oauth_json(413, "invalid_request", "The request body is larger than 1 MiB.")
        await response(scope, receive, send)


_HTTP_ERRORS = {
    400: "invalid_request",
    401: "invalid_token",
    403: "access_denied",
    404: "not_found",
    405: "unsupported_method_type",
    413: "invalid_request",
    415: "invalid_request",
}


def _describe_validation(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        if error.get("type") == "missing":
            problems.append(f"{location or 'body'} is required")
        elif error.get("type") == "json_invalid":
            problems.append("the body is not valid JSON")
        else:
            problems.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(problems) + "."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OAuthError)
    async def _oauth(request: Request, exc: OAuthError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers={**NO_STORE, **exc.headers})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return oauth_json(400, "invalid_request", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = _HTTP_ERRORS.get(exc.status_code, "invalid_request")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return oauth_json(exc.status_code, error, detail, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort: log the type and path only (never the request, it may hold secrets).
        log.error(
            "unexpected %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return oauth_json(500, "server_error", "The sandbox hit an unexpected error.")


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(sandbox_of)]


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def client_address(request: Request) -> str | None:
    """The peer's address, a key for sign-in throttling."""
    return request.client.host if request.client else None


def require_json(request: Request) -> None:
    """JSON endpoints refuse other content types with 415 (an empty body is left to the route)."""
    if not _has_body(request):
        return
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise OAuthError(
            ErrorCode.INVALID_REQUEST, "The body must be application/json.", status=415
        )


async def require_form(request: Request) -> None:
    """Form endpoints take application/x-www-form-urlencoded (415 otherwise) and refuse a
    parameter sent more than once (RFC 6749 §3.1, §3.2: invalid_request)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise OAuthError(
            ErrorCode.INVALID_REQUEST,
            "The body must be application/x-www-form-urlencoded.",
            status=415,
        )
    # The route's form parameters were parsed before this runs; request.form() is cached.
    refuse_repeated((await request.form()).multi_items())


def refuse_repeated(items: list[tuple[str, Any]]) -> None:
    """invalid_request naming the first parameter that occurs more than once."""
    seen: set[str] = set()
    for name, _ in items:
        if name in seen:
            raise OAuthError(
                ErrorCode.INVALID_REQUEST,
                f"The parameter {name[:64]!r} is included more than once.",
            )
        seen.add(name)


bearer_scheme = HTTPBearer(auto_error=False, description="An access token (JWT) of this server.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _token(sandbox: Sandbox, credentials: HTTPAuthorizationCredentials | None) -> AccessToken:
    if credentials is None:
        raise no_credentials(sandbox.issuer)
    token = sandbox.verify_access_token(credentials.credentials)
    if token is None or token.kind != "access":
        raise invalid_token()
    return token


def owner_token(sandbox: SandboxDep, credentials: BearerCredentials) -> AccessToken:
    """The owner's access token with scope uma_policy_manager (the draft's RMT)."""
    token = _token(sandbox, credentials)
    if POLICY_MANAGER not in token.scopes:
        raise insufficient_scope(POLICY_MANAGER)
    return token


def protection_token(sandbox: SandboxDep, credentials: BearerCredentials) -> AccessToken:
    """A PAT: scope uma_protection, issued to a resource-server client."""
    token = _token(sandbox, credentials)
    if UMA_PROTECTION not in token.scopes:
        raise insufficient_scope(UMA_PROTECTION)
    return token


OwnerToken = Annotated[AccessToken, Depends(owner_token)]
ProtectionToken = Annotated[AccessToken, Depends(protection_token)]


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` appended to its query (existing query kept, Nones dropped)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query and extra else (parts.query or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def redirect(uri: str) -> RedirectResponse:
    return RedirectResponse(uri, status_code=303, headers=NO_STORE)
