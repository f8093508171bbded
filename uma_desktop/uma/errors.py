"""Every OAuth 2.0 / UMA 2.0 error code and a tolerant parser of error bodies."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from uma_desktop.errors import ServerError
from uma_desktop.uma._base import WireModel


class ErrorCode(StrEnum):
    """Error codes of RFC 6749, 6750, 7009, 8628, OIDC, UMA Grant/FedAuthz and the owner API."""

    # RFC 6749 §4.1.2.1 / §5.2
    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
    INVALID_SCOPE = "invalid_scope"
    ACCESS_DENIED = "access_denied"
    SERVER_ERROR = "server_error"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    # RFC 6750
    INVALID_TOKEN = "invalid_token"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    # RFC 7009
    UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"
    # RFC 8628
    AUTHORIZATION_PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    EXPIRED_TOKEN = "expired_token"
    # OpenID Connect Core §3.1.2.6
    LOGIN_REQUIRED = "login_required"
    CONSENT_REQUIRED = "consent_required"
    INTERACTION_REQUIRED = "interaction_required"
    # UMA 2.0 Grant §3.3.6
    NEED_INFO = "need_info"
    REQUEST_DENIED = "request_denied"
    REQUEST_SUBMITTED = "request_submitted"
    # UMA 2.0 FedAuthz §3.2, §4
    INVALID_RESOURCE_ID = "invalid_resource_id"
    NOT_FOUND = "not_found"
    UNSUPPORTED_METHOD_TYPE = "unsupported_method_type"
    # Owner API (docs/owner-api.md)
    CONFLICT = "conflict"
    REQUEST_TOO_LARGE = "request_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"

    @classmethod
    def lookup(cls, value: str | None) -> ErrorCode | None:
        try:
            return cls(value) if value else None
        except ValueError:
            return None


MAX_DESCRIPTION_CHARS = 500  # of a server's error_description quoted in a message
_TEXT_FIELDS = frozenset({"error_description", "error_uri", "redirect_user"})

# Keycloak answers access_denied with the UMA code in the description (keycloak#9298).
_DESCRIPTION_ALIASES = {
    "request_submitted": ErrorCode.REQUEST_SUBMITTED,
    "not_authorized": ErrorCode.REQUEST_DENIED,
}


class RequiredClaim(WireModel, frozen=True, kw_only=True):
    """One hint in a ``need_info`` error's ``required_claims`` (UMA Grant §3.3.6)."""

    claim_token_format: list[str] | None = None
    claim_type: str | None = None
    friendly_name: str | None = None
    issuer: list[str] | None = None
    name: str | None = None


class ErrorBody(WireModel, frozen=True, kw_only=True):
    """An OAuth-style JSON error body, with the UMA extras."""

    error: str
    error_description: str | None = None
    error_uri: str | None = None
    ticket: str | None = None
    interval: Annotated[int, msgspec.Meta(ge=0)] | None = None
    required_claims: list[RequiredClaim] | None = None
    redirect_user: str | None = None

    def __repr__(self) -> str:  # never the ticket
        return f"ErrorBody(error={self.error!r}, error_description={self.error_description!r})"

    @property
    def code(self) -> ErrorCode | None:
        """The known code, normalising vendor quirks (Keycloak's access_denied + UMA code)."""
        if self.error == ErrorCode.ACCESS_DENIED and self.error_description:
            alias = _DESCRIPTION_ALIASES.get(self.error_description.strip())
            if alias is not None:
                return alias
        return ErrorCode.lookup(self.error)


def parse_error_body(content: bytes | str | Any) -> ErrorBody | None:
    """Parse raw bytes, text or decoded JSON as an error body; None if it is not one."""
    data = content
    if isinstance(content, bytes | str):
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return None
    if not isinstance(data, dict):
        return None
    try:
        # Texts meant for people are taken whatever JSON type a server sends them as.
        data = {
            key: str(value) if key in _TEXT_FIELDS and value is not None else value
            for key, value in data.items()
        }
        return msgspec.convert(data, ErrorBody, strict=False)
    # ValueError: a number too long to show as text, or a member name with a lone surrogate.
    except (msgspec.ValidationError, ValueError, RecursionError):
        return None


class UmaError(ServerError):
    """An error answer of an OAuth/UMA endpoint; ``body`` holds the parsed details.

    The message names the code and description only: never a ticket or token.
    """

    def __init__(self, body: ErrorBody, *, status: int | None = None, what: str = "the request"):
        text = body.error_description or ""
        if len(text) > MAX_DESCRIPTION_CHARS:
            text = text[:MAX_DESCRIPTION_CHARS] + "…"
        description = f": {text}" if text else ""
        status_text = f"HTTP {status}, " if status is not None else ""
        super().__init__(
            f"The server refused {what} ({status_text}{body.error}{description}).",
            status=status,
            error=body.error,
        )
        self.body = body

    @property
    def code(self) -> ErrorCode | None:
        return self.body.code
