"""Native owner login: system browser + loopback redirect + PKCE (RFC 8252, 7636, 9207)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from uma_desktop import APP_NAME, net
from uma_desktop.errors import (
    AuthError,
    BrowserUnavailableError,
    MalformedResponseError,
    SecurityCheckError,
    ServerError,
    UmaDesktopError,
)
from uma_desktop.oauth.idtoken import IdTokenVerifier
from uma_desktop.oauth.loopback import LoopbackListener, Outcome
from uma_desktop.oauth.pkce import AttemptSecrets
from uma_desktop.oauth.redact import redact
from uma_desktop.oauth.tokens import TokenSet, require_endpoint, token_request, token_set_from
from uma_desktop.uma.metadata import AuthorizationServerMetadata

log = logging.getLogger(__name__)

BrowserOpener = Callable[[str], object]
DEFAULT_TIMEOUT = 300.0
_MAX_DESCRIPTION = 200


def build_authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    """``endpoint`` with ``params`` added to any query it already has."""
    parts = urlsplit(endpoint)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _safe_description(params: Mapping[str, str]) -> str:
    text = params.get("error_description", "")
    text = redact("".join(ch for ch in text if ch.isprintable()))[:_MAX_DESCRIPTION]
    return f": {text}" if text else ""


def check_callback(
    params: Mapping[str, str],
    *,
    state: str,
    issuer: str,
    iss_required: bool,
) -> str:
    """Judge an authorization response; return the code or raise (state, iss, error)."""
    sent_state = params.get("state")
    # Bytes: compare_digest refuses str with non-ASCII characters, which a callback may carry.
    if sent_state is None or not hmac.compare_digest(
        sent_state.encode("utf-8", "surrogatepass"), state.encode("utf-8", "surrogatepass")
    ):
        raise SecurityCheckError(
            "The sign-in response does not belong to this sign-in (state mismatch); it was refused."
        )
    sent_iss = params.get("iss")
    if sent_iss is not None:
        if sent_iss != issuer:
            raise SecurityCheckError(
                "The sign-in response came from another server than the one asked "
                "(issuer mismatch); it was refused."
            )
    elif iss_required:
        raise SecurityCheckError(
            "The sign-in response lacks the issuer the server promised to send; it was refused."
        )
    error = params.get("error")
    if error is not None:
        if error == "access_denied":
            raise AuthError(f"The sign-in was declined{_safe_description(params)}.")
        raise AuthError(f"The server refused the sign-in ({error}){_safe_description(params)}.")
    code = params.get("code")
    if not code:
        raise AuthError("The sign-in response carries no authorization code.")
    return code


async def finish_token_response(
    client: net.AsyncClient,
    metadata: AuthorizationServerMetadata,
    client_id: str,
    form: Mapping[str, str],
    *,
    nonce: str | None,
    openid: bool,
    what: str,
) -> TokenSet:
    """Call the token endpoint, verify the ID token, and build the TokenSet."""
    requested_at = time.time()
    try:
        response = await token_request(client, metadata, form, what)
    except MalformedResponseError:
        raise
    except ServerError as exc:
        if exc.error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise AuthError(f"The server did not accept the sign-in ({exc.error}).") from None
        raise
    claims = None
    if response.id_token:
        verifier = IdTokenVerifier(metadata, client_id)
        claims, _ = await verifier.verify(client, response.id_token, nonce=nonce)
    elif openid:
        raise SecurityCheckError("The server sent no ID token although one was requested.")
    return token_set_from(response, claims, requested_at=requested_at)


async def login_in_browser(
    metadata: AuthorizationServerMetadata,
    client_id: str,
    scopes: Sequence[str],
    open_browser: BrowserOpener = webbrowser.open,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    client: net.AsyncClient | None = None,
    redirect_path: str = "/callback",
    extra_params: Mapping[str, str] | None = None,
) -> TokenSet:
    """Log the owner in through the system browser and return their tokens.

    ``open_browser`` is called once with the authorization URL (in a worker thread); it may
    return False to say no browser could be opened. Raises BrowserUnavailableError (no
    browser), AuthError (declined, timed out),
    SecurityCheckError (state, iss, ID token), ServerError/ServerUnreachableError.
    """
    authorization_endpoint = require_endpoint(metadata, "authorization_endpoint")
    require_endpoint(metadata, "token_endpoint")
    attempt = AttemptSecrets()
    openid = "openid" in scopes
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(net.async_client(actor="login"))
        listener = await stack.enter_async_context(LoopbackListener(redirect_path))
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": listener.redirect_uri,
            "scope": " ".join(scopes),
            "state": attempt.state,
            "code_challenge": attempt.challenge,
            "code_challenge_method": "S256",
        }
        if openid:
            params["nonce"] = attempt.nonce
        params.update(extra_params or {})
        url = build_authorization_url(authorization_endpoint, params)
        log.info("opening the browser for a login at %s", metadata.issuer)
        try:
            opened = await asyncio.to_thread(open_browser, url)
        except Exception as exc:  # webbrowser.Error, a missing helper program, ...
            log.warning("the browser could not be opened: %s", type(exc).__name__)
            opened = False
        if opened is False:
            raise BrowserUnavailableError(
                "No web browser could be opened. Try the device login (a code to type in "
                "any browser) instead."
            )
        try:
            callback = await listener.wait(timeout)
        except TimeoutError:
            raise AuthError(f"The sign-in was not completed within {timeout:g} seconds.") from None
        try:
            code = check_callback(
                callback,
                state=attempt.state,
                issuer=metadata.issuer,
                iss_required=metadata.requires_iss_in_response,
            )
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": listener.redirect_uri,
                "client_id": client_id,
                "code_verifier": attempt.verifier,
            }
            tokens = await finish_token_response(
                client,
                metadata,
                client_id,
                form,
                nonce=attempt.nonce if openid else None,
                openid=openid,
                what="the sign-in code exchange",
            )
        except Exception as exc:
            message = exc.user_message if isinstance(exc, UmaDesktopError) else "Please try again."
            listener.finish(Outcome(False, "Sign-in failed", message))
            raise
        who = tokens.claims.label if tokens.claims else "you"
        listener.finish(Outcome(True, "Signed in", f"{APP_NAME} is now signed in as {who}."))
        log.info("login at %s completed", metadata.issuer)
        return tokens
    raise AssertionError("unreachable")  # pragma: no cover - AsyncExitStack never swallows
