"""OAuth-style error answers of the sandbox: raised anywhere, rendered by one handler."""

from __future__ import annotations

from typing import Any

from uma_desktop.uma.errors import ErrorCode

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An error the client is told about as ``{"error", "error_description", ...}``."""

    def __init__(
        self,
        error: ErrorCode | str | None,
        description: str | None = None,
        *,
        status: int = 400,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description or str(error))
        self.error = None if error is None else str(error)
        self.description = description
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {} if self.error is None else {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        body.update(self.extra)
        return body


def invalid_request(description: str) -> OAuthError:
    return OAuthError(ErrorCode.INVALID_REQUEST, description)


def not_found(what: str) -> OAuthError:
    return OAuthError(ErrorCode.NOT_FOUND, f"No such {what}.", status=404)


def invalid_token(
    description: str = "The access token is missing, invalid or expired.",
) -> OAuthError:
    return OAuthError(
        ErrorCode.INVALID_TOKEN,
        description,
        status=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def no_credentials(realm: str) -> OAuthError:
    """401 for a request that sent no credentials at all: the challenge carries no error code
    (RFC 6750 §3.1), only the realm."""
    return OAuthError(
        None,
        "This endpoint needs an access token.",
        status=401,
        headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
    )


def insufficient_scope(scope: str) -> OAuthError:
    return OAuthError(
        ErrorCode.INSUFFICIENT_SCOPE,
        f"The access token lacks the scope {scope}.",
        status=403,
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
    )
