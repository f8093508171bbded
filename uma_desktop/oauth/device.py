"""Device authorization grant (RFC 8628): the fallback when no browser can be opened here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

from uma_desktop import net
from uma_desktop.errors import AuthError, MalformedResponseError, ServerError
from uma_desktop.oauth.login import finish_token_response
from uma_desktop.oauth.pkce import AttemptSecrets
from uma_desktop.oauth.tokens import TokenSet, post_form, require_endpoint
from uma_desktop.uma.metadata import DEVICE_CODE_GRANT, AuthorizationServerMetadata
from uma_desktop.uma.tokens import parse_device_authorization

log = logging.getLogger(__name__)

SLOW_DOWN_STEP = 5.0
MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class DeviceCode:
    """What to show the owner: a code to type at a web address (not secret on its own)."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float


async def login_with_device(
    metadata: AuthorizationServerMetadata,
    client_id: str,
    scopes: Sequence[str],
    on_code: Callable[[DeviceCode], None],
    *,
    client: net.AsyncClient | None = None,
    cancel: asyncio.Event | None = None,
) -> TokenSet:
    """Log in with a user code typed in any browser; poll until approved, denied or expired.

    ``on_code`` is called once with the code to show. Cancel by cancelling the task or by
    setting ``cancel`` (then AuthError "cancelled" is raised).
    """
    endpoint = require_endpoint(metadata, "device_authorization_endpoint")
    require_endpoint(metadata, "token_endpoint")
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(net.async_client(actor="login"))
        # PKCE is not part of RFC 8628, but Keycloak requires it for clients set to PKCE and
        # other servers ignore unknown parameters; it binds the polling to this app.
        pkce = AttemptSecrets()
        form = {
            "client_id": client_id,
            "scope": " ".join(scopes),
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        response = await post_form(client, endpoint, form, "the device authorization")
        net.raise_for_error(response, "the device authorization")
        grant = parse_device_authorization(net.json_body(response, "device authorization response"))
        started = time.time()
        interval = max(float(grant.interval), MIN_INTERVAL)
        code = DeviceCode(
            user_code=grant.user_code,
            verification_uri=grant.verification_uri,
            verification_uri_complete=grant.verification_uri_complete,
            expires_at=started + grant.expires_in,
            interval=interval,
        )
        on_code(code)
        log.info("device login at %s started; waiting for approval", metadata.issuer)
        poll_form = {
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": grant.device_code,
            "client_id": client_id,
            "code_verifier": pkce.verifier,
        }
        while True:
            if await _wait_or_cancel(interval, cancel):
                raise AuthError("The device login was cancelled.")
            if time.time() >= code.expires_at:
                raise AuthError("The device code expired before it was approved; start again.")
            try:
                return await finish_token_response(
                    client,
                    metadata,
                    client_id,
                    poll_form,
                    nonce=None,
                    openid="openid" in scopes,
                    what="the device login",
                )
            except MalformedResponseError:
                raise
            except ServerError as exc:
                error = exc.error
                if error == "authorization_pending":
                    continue
                if error == "slow_down":
                    interval += SLOW_DOWN_STEP
                    continue
                if error == "access_denied":
                    raise AuthError("The device login was declined.") from None
                if error == "expired_token":
                    raise AuthError("The device code expired before it was approved.") from None
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _wait_or_cancel(seconds: float, cancel: asyncio.Event | None) -> bool:
    """Sleep ``seconds`` (the protocol's polling interval); True when cancelled meanwhile."""
    if cancel is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(cancel.wait(), seconds)
    return cancel.is_set()
