"""Token-endpoint and device-authorization answers (RFC 6749 §5.1, RFC 8628, UMA Grant)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from uma_desktop.uma._base import WireModel, parse_model

ID_TOKEN_CLAIM_FORMAT = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"


class TokenResponse(WireModel):
    """A successful token response; for the UMA grant ``access_token`` is the RPT."""

    access_token: str = Field(min_length=1)
    token_type: str
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None
    pct: str | None = None
    upgraded: bool | None = None

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


class DeviceAuthorization(WireModel):
    """RFC 8628 §3.2 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: int
    interval: int = 5


def parse_token_response(data: Any) -> TokenResponse:
    return parse_model(TokenResponse, data, "token response")


def parse_device_authorization(data: Any) -> DeviceAuthorization:
    return parse_model(DeviceAuthorization, data, "device authorization response")
