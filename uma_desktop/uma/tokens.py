"""Token-endpoint and device-authorization answers (RFC 6749 §5.1, RFC 8628, UMA Grant)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from uma_desktop.uma._base import WireModel, clamp, parse_model

ID_TOKEN_CLAIM_FORMAT = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"
# Bounds for durations the server chooses: beyond them a token is treated as living this
# long, a device login as expiring then and polling at least this often.
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600
MAX_DEVICE_CODE_LIFETIME = 24 * 3600
MAX_DEVICE_INTERVAL = 60


def _check_visible_ascii(name: str, value: str | None) -> None:
    # RFC 6749 Appendix A: tokens are VSCHAR (%x20-7E); anything else would later break the
    # Authorization header it is sent in.
    if value is not None and not all(" " <= char <= "~" for char in value):
        raise ValueError(f"{name} contains characters a token may not have")


class TokenResponse(WireModel, frozen=True, kw_only=True):
    """A successful token response; for the UMA grant ``access_token`` is the RPT."""

    access_token: Annotated[str, msgspec.Meta(min_length=1)]
    token_type: str
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None
    pct: str | None = None
    upgraded: bool | None = None

    def __post_init__(self) -> None:
        for name in ("access_token", "refresh_token", "id_token", "pct"):
            _check_visible_ascii(name, getattr(self, name))
        if self.expires_in is not None:
            lifetime = clamp(self.expires_in, 0, MAX_TOKEN_LIFETIME)
            msgspec.structs.force_setattr(self, "expires_in", lifetime)

    def __repr__(self) -> str:
        held = [name for name in ("refresh_token", "id_token", "pct") if getattr(self, name)]
        return (
            f"TokenResponse(token_type={self.token_type!r}, expires_in={self.expires_in!r}, "
            f"scope={self.scope!r}, upgraded={self.upgraded!r}, also holds={held!r})"
        )

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


class DeviceAuthorization(WireModel, frozen=True, kw_only=True):
    """RFC 8628 §3.2 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: int
    interval: int = 5

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(
            self, "expires_in", clamp(self.expires_in, 0, MAX_DEVICE_CODE_LIFETIME)
        )
        msgspec.structs.force_setattr(
            self, "interval", clamp(self.interval, 0, MAX_DEVICE_INTERVAL)
        )

    def __repr__(self) -> str:  # the device code is what the token request proves
        return (
            f"DeviceAuthorization(user_code={self.user_code!r}, "
            f"verification_uri={self.verification_uri!r}, expires_in={self.expires_in!r}, "
            f"interval={self.interval!r})"
        )


def parse_token_response(data: Any) -> TokenResponse:
    return parse_model(TokenResponse, data, "token response")


def parse_device_authorization(data: Any) -> DeviceAuthorization:
    return parse_model(DeviceAuthorization, data, "device authorization response")
