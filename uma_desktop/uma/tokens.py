"""Token-endpoint and device-authorization answers (RFC 6749 §5.1, RFC 8628, UMA Grant)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from uma_desktop.uma._base import WireModel, clamp, parse_model

ID_TOKEN_CLAIM_FORMAT = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"
# Bounds for durations the server chooses: beyond them a token is treated as living this
# long, a device login as expiring then and polling at least this often.
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600
MAX_DEVICE_CODE_LIFETIME = 24 * 3600
MAX_DEVICE_INTERVAL = 60


def _visible_ascii(value: str | None) -> str | None:
    # RFC 6749 Appendix A: tokens are VSCHAR (%x20-7E); anything else would later break the
    # Authorization header it is sent in.
    if value is not None and not all(" " <= char <= "~" for char in value):
        raise ValueError("contains characters a token may not have")
    return value


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

    _tokens_are_visible_ascii = field_validator("access_token", "refresh_token", "id_token", "pct")(
        _visible_ascii
    )

    @field_validator("expires_in")
    @classmethod
    def _sane_lifetime(cls, value: int | None) -> int | None:
        return None if value is None else clamp(value, 0, MAX_TOKEN_LIFETIME)

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

    @field_validator("expires_in")
    @classmethod
    def _sane_lifetime(cls, value: int) -> int:
        return clamp(value, 0, MAX_DEVICE_CODE_LIFETIME)

    @field_validator("interval")
    @classmethod
    def _sane_interval(cls, value: int) -> int:
        return clamp(value, 0, MAX_DEVICE_INTERVAL)


def parse_token_response(data: Any) -> TokenResponse:
    return parse_model(TokenResponse, data, "token response")


def parse_device_authorization(data: Any) -> DeviceAuthorization:
    return parse_model(DeviceAuthorization, data, "device authorization response")
