"""OAuth 2.0 / OpenID Connect: discovery, JWKS, authorization (login + consent form),
token endpoint, device authorization, revocation, userinfo."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from uma_desktop.sandbox import pages
from uma_desktop.sandbox.core import POLICY_MANAGER, UMA_PROTECTION, Client, Sandbox
from uma_desktop.sandbox.crypto import s256
from uma_desktop.sandbox.errors import NO_STORE, OAuthError, invalid_request
from uma_desktop.sandbox.store import digest, loads, new_id, new_secret
from uma_desktop.sandbox.throttle import SignInRefused
from uma_desktop.sandbox.uma_grant import uma_ticket_grant
from uma_desktop.sandbox.web import (
    BearerCredentials,
    SandboxDep,
    client_address,
    redirect,
    require_form,
    with_query,
)
from uma_desktop.uma.errors import ErrorCode
from uma_desktop.uma.metadata import (
    DEVICE_CODE_GRANT,
    POLICY_MANAGER_PROFILE,
    UMA_TICKET_GRANT,
)

router = APIRouter()

WRONG_PASSWORD_STATUS = 400  # the sign-in form again, with its error (see _authorize_form)
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
Text = Annotated[str | None, Form(max_length=8192)]


def metadata(sandbox: Sandbox) -> dict[str, Any]:
    url = sandbox.url
    return {
        "issuer": sandbox.issuer,
        "authorization_endpoint": url("/authorize"),
        "token_endpoint": url("/token"),
        "jwks_uri": url("/jwks"),
        "userinfo_endpoint": url("/userinfo"),
        "revocation_endpoint": url("/revoke"),
        "introspection_endpoint": url("/introspect"),
        "device_authorization_endpoint": url("/device_authorization"),
        "scopes_supported": [
            "openid",
            "profile",
            "email",
            "offline_access",
            UMA_PROTECTION,
            POLICY_MANAGER,
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            DEVICE_CODE_GRANT,
            UMA_TICKET_GRANT,
        ],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "bearer"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nonce",
            "name",
            "preferred_username",
            "email",
            "email_verified",
        ],
        "service_documentation": url("/docs"),
        # UMA 2.0 Grant + FedAuthz
        "claims_interaction_endpoint": url("/claims"),
        "uma_profiles_supported": [POLICY_MANAGER_PROFILE],
        "permission_endpoint": url("/protection/permissions"),
        "resource_registration_endpoint": url("/protection/resources"),
        # Owner API (docs/owner-api.md)
        "registered_resource_endpoint": url("/owner/resources"),
        "policy_endpoint": url("/owner/policies"),
        "pending_request_endpoint": url("/owner/requests"),
        "decision_history_endpoint": url("/owner/history"),
        "person_lookup_endpoint": url("/owner/people"),
        "shared_with_me_endpoint": url("/owner/shared-with-me"),
        "support_endpoint": url("/support"),  # support API (docs/owner-api.md)
    }


@router.get("/.well-known/uma2-configuration", tags=["discovery"])
def uma2_configuration(sandbox: SandboxDep) -> dict[str, Any]:
    """UMA 2.0 discovery document (also carries the owner-API endpoints)."""
    return metadata(sandbox)


@router.get("/.well-known/openid-configuration", tags=["discovery"])
def openid_configuration(sandbox: SandboxDep) -> dict[str, Any]:
    """OpenID Connect discovery document (the same metadata)."""
    return metadata(sandbox)


@router.get("/jwks", tags=["discovery"])
def jwks(sandbox: SandboxDep) -> dict[str, Any]:
    """The public keys that sign ID tokens and access tokens."""
    return sandbox.signer.jwks()


# Authorization endpoint ------------------------------------------------------------------


def _authorization_error(
    sandbox: Sandbox, redirect_uri: str, state: str | None, error: str, description: str
) -> Response:
    return redirect(
        with_query(
            redirect_uri,
            {
                "error": error,
                "error_description": description,
                "state": state,
                "iss": sandbox.issuer,
            },
        )
    )


def _allowed_scopes(client: Client, scope: str | None) -> list[str] | None:
    requested = (scope or "").split()
    if any(s not in client.scopes for s in requested):
        return None
    return list(dict.fromkeys(requested))


@router.get("/authorize", tags=["oauth"], response_class=HTMLResponse)
def authorize(
    sandbox: SandboxDep,
    client_id: Annotated[str | None, Query(max_length=256)] = None,
    redirect_uri: Annotated[str | None, Query(max_length=2048)] = None,
    response_type: Annotated[str | None, Query(max_length=64)] = None,
    scope: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    code_challenge: Annotated[str | None, Query(max_length=256)] = None,
    code_challenge_method: Annotated[str | None, Query(max_length=32)] = None,
    nonce: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Authorization code flow with PKCE (S256 only): shows the sign-in and consent form."""
    client = sandbox.client(client_id) if client_id else None
    if client is None:
        return pages.error_page("Unknown application (client_id).", server_name=sandbox.name)
    if not redirect_uri or not _redirect_ok(client, redirect_uri):
        return pages.error_page(
            "The redirect_uri is missing or not registered for this application.",
            server_name=sandbox.name,
        )
    if response_type != "code":
        return _authorization_error(
            sandbox, redirect_uri, state, "unsupported_response_type", "Only response_type=code."
        )
    if "authorization_code" not in client.grant_types:
        return _authorization_error(
            sandbox, redirect_uri, state, "unauthorized_client", "Code flow not allowed."
        )
    if not code_challenge:
        return _authorization_error(
            sandbox, redirect_uri, state, "invalid_request", "PKCE code_challenge is required."
        )
    if code_challenge_method != "S256":
        return _authorization_error(
            sandbox,
            redirect_uri,
            state,
            "invalid_request",
            "Only code_challenge_method=S256 is supported.",
        )
    if not PKCE_CHALLENGE.match(code_challenge):
        return _authorization_error(
            sandbox, redirect_uri, state, "invalid_request", "Malformed code_challenge."
        )
    scopes = _allowed_scopes(client, scope)
    if scopes is None:
        return _authorization_error(
            sandbox, redirect_uri, state, "invalid_scope", "A requested scope is not allowed."
        )
    interaction = sandbox.start_interaction(
        "authorize",
        {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": code_challenge,
            "nonce": nonce,
        },
    )
    return _authorize_form(sandbox, client, interaction, scopes)


def _redirect_ok(client: Client, redirect_uri: str) -> bool:
    from uma_desktop.sandbox.core import redirect_uri_matches

    return redirect_uri_matches(client.redirect_uris, redirect_uri)


def _authorize_form(
    sandbox: Sandbox,
    client: Client,
    interaction: str,
    scopes: list[str],
    *,
    error: str | None = None,
    username: str = "",
    status: int | None = None,
) -> HTMLResponse:
    return pages.login_form(
        server_name=sandbox.name,
        title="Sign in",
        action="/authorize/login",
        interaction=interaction,
        purpose=f"{client.name} asks to act for you with these permissions:",
        scopes=scopes,
        error=error,
        username=username,
        # A wrong password shows the form again with 400: a 401 would need a
        # WWW-Authenticate challenge (RFC 9110 §15.5.2), which a form has none of.
        status=status or (WRONG_PASSWORD_STATUS if error else 200),
    )


class LoginForm(BaseModel):
    interaction: str = Field(max_length=256)
    username: str = Field(default="", max_length=256)
    password: str = Field(default="", max_length=1024)
    decision: str = Field(default="allow", max_length=16)


@router.post(
    "/authorize/login",
    tags=["oauth"],
    response_class=HTMLResponse,
    dependencies=[Depends(require_form)],
)
def authorize_login(
    sandbox: SandboxDep, request: Request, form: Annotated[LoginForm, Form()]
) -> Response:
    """The sign-in form's target: checks the password and redirects with the code."""
    data = sandbox.peek_interaction(form.interaction, "authorize")
    if data is None:
        return pages.error_page(
            "This sign-in page has expired or was already used. Start again from the app.",
            server_name=sandbox.name,
        )
    client = sandbox.client(data["client_id"])
    if client is None:
        return pages.error_page("Unknown application.", server_name=sandbox.name)
    if form.decision == "deny":
        sandbox.finish_interaction(form.interaction)
        return _authorization_error(
            sandbox, data["redirect_uri"], data["state"], "access_denied", "The user said no."
        )
    try:
        user = sandbox.authenticate_user(form.username, form.password, client_address(request))
    except SignInRefused as refused:
        return pages.with_retry_after(
            _authorize_form(
                sandbox,
                client,
                form.interaction,
                data["scope"].split(),
                error=refused.message,
                username=form.username,
                status=429,
            ),
            refused.retry_after,
        )
    if user is None:
        return _authorize_form(
            sandbox,
            client,
            form.interaction,
            data["scope"].split(),
            error="Wrong username or password.",
            username=form.username,
        )
    sandbox.finish_interaction(form.interaction)
    code = "code-" + new_secret()
    sandbox.store.execute(
        "INSERT INTO auth_codes (hash, client_id, redirect_uri, sub, scope, code_challenge, nonce, "
        "exp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            digest(code),
            client.client_id,
            data["redirect_uri"],
            user["sub"],
            data["scope"],
            data["code_challenge"],
            data["nonce"],
            sandbox.now() + sandbox.settings.code_lifetime,
        ),
    )
    return redirect(
        with_query(
            data["redirect_uri"], {"code": code, "state": data["state"], "iss": sandbox.issuer}
        )
    )


# Token endpoint ---------------------------------------------------------------------------


class TokenForm(BaseModel):
    grant_type: str = Field(max_length=256)
    code: str | None = Field(default=None, max_length=512)
    redirect_uri: str | None = Field(default=None, max_length=2048)
    code_verifier: str | None = Field(default=None, max_length=512)
    refresh_token: str | None = Field(default=None, max_length=512)
    scope: str | None = Field(default=None, max_length=2048)
    client_id: str | None = Field(default=None, max_length=256)
    client_secret: str | None = Field(default=None, max_length=512)
    device_code: str | None = Field(default=None, max_length=512)
    ticket: str | None = Field(default=None, max_length=512)
    claim_token: str | None = Field(default=None, max_length=16384)
    claim_token_format: str | None = Field(default=None, max_length=512)
    pct: str | None = Field(default=None, max_length=512)
    rpt: str | None = Field(default=None, max_length=16384)


@router.post("/token", tags=["oauth"], dependencies=[Depends(require_form)])
def token(
    sandbox: SandboxDep,
    form: Annotated[TokenForm, Form()],
    authorization: Annotated[str | None, Header(max_length=4096)] = None,
) -> JSONResponse:
    """Token endpoint: authorization_code, refresh_token, client_credentials, device_code and
    the UMA grant (urn:ietf:params:oauth:grant-type:uma-ticket)."""
    client = sandbox.authenticate_client(authorization, form.client_id, form.client_secret)
    grant = form.grant_type
    if grant == "authorization_code":
        body = _code_grant(sandbox, client, form)
    elif grant == "refresh_token":
        body = _refresh_grant(sandbox, client, form)
    elif grant == "client_credentials":
        body = _client_credentials_grant(sandbox, client, form)
    elif grant == DEVICE_CODE_GRANT:
        body = _device_grant(sandbox, client, form)
    elif grant == UMA_TICKET_GRANT:
        body = uma_ticket_grant(
            sandbox,
            client,
            ticket=form.ticket,
            claim_token=form.claim_token,
            claim_token_format=form.claim_token_format,
            pct=form.pct,
            rpt=form.rpt,
            scope=form.scope,
        )
    else:
        raise OAuthError(ErrorCode.UNSUPPORTED_GRANT_TYPE, "This grant type is not supported.")
    return JSONResponse(body, headers=NO_STORE)


def _require_grant(client: Client, grant: str) -> None:
    if grant not in client.grant_types:
        raise OAuthError(ErrorCode.UNAUTHORIZED_CLIENT, "This client may not use this grant.")


def _code_grant(sandbox: Sandbox, client: Client, form: TokenForm) -> dict[str, Any]:
    _require_grant(client, "authorization_code")
    if not form.code or not form.redirect_uri:
        raise invalid_request("code and redirect_uri are required.")
    if not form.code_verifier:
        raise OAuthError(ErrorCode.INVALID_GRANT, "The PKCE code_verifier is missing.")
    store = sandbox.store
    row = store.one("SELECT * FROM auth_codes WHERE hash = ?", (digest(form.code),))
    if row is None or row["client_id"] != client.client_id:
        raise OAuthError(ErrorCode.INVALID_GRANT, "Unknown authorization code.")
    family = new_id("fam")
    claimed = store.execute(
        "UPDATE auth_codes SET used = 1, family = ? WHERE hash = ? AND used = 0",
        (family, row["hash"]),
    )
    if not claimed:
        # A replayed code: revoke what the first use produced (RFC 6749 §4.1.2).
        first = store.one("SELECT family FROM auth_codes WHERE hash = ?", (row["hash"],))
        if first is not None and first["family"]:
            sandbox.revoke_family(first["family"])
        raise OAuthError(ErrorCode.INVALID_GRANT, "The authorization code was already used.")
    if row["exp"] <= sandbox.now():
        raise OAuthError(ErrorCode.INVALID_GRANT, "The authorization code has expired.")
    if row["redirect_uri"] != form.redirect_uri:
        raise OAuthError(ErrorCode.INVALID_GRANT, "redirect_uri does not match the request.")
    if (
        not PKCE_VERIFIER.match(form.code_verifier)
        or s256(form.code_verifier) != row["code_challenge"]
    ):
        raise OAuthError(ErrorCode.INVALID_GRANT, "The PKCE code_verifier does not match.")
    return sandbox.token_response(
        client, sub=row["sub"], scope=row["scope"], family=family, nonce=row["nonce"]
    )


def _refresh_grant(sandbox: Sandbox, client: Client, form: TokenForm) -> dict[str, Any]:
    _require_grant(client, "refresh_token")
    if not form.refresh_token:
        raise invalid_request("refresh_token is required.")
    store = sandbox.store
    row = store.one("SELECT * FROM refresh_tokens WHERE hash = ?", (digest(form.refresh_token),))
    if row is None or row["client_id"] != client.client_id or row["revoked"]:
        raise OAuthError(ErrorCode.INVALID_GRANT, "Unknown or revoked refresh token.")
    if row["exp"] <= sandbox.now():
        raise OAuthError(ErrorCode.INVALID_GRANT, "The refresh token has expired.")
    scope = row["scope"]
    if form.scope:
        narrowed = form.scope.split()
        if any(s not in scope.split() for s in narrowed):
            raise OAuthError(ErrorCode.INVALID_SCOPE, "Scopes can only be narrowed.")
        scope = " ".join(dict.fromkeys(narrowed))
    # Claim the token atomically: of two concurrent uses only one wins.
    claimed = store.execute(
        "UPDATE refresh_tokens SET used = 1 WHERE hash = ? AND used = 0", (row["hash"],)
    )
    if not claimed:
        # Reuse of a rotated token: the family is compromised (RFC 9700 §4.14.2).
        sandbox.revoke_family(row["family"])
        raise OAuthError(ErrorCode.INVALID_GRANT, "The refresh token was already used.")
    permissions = loads(row["permissions"])
    if permissions is None:
        return sandbox.token_response(client, sub=row["sub"], scope=scope, family=row["family"])
    # An RPT's refresh: same permissions, no new assessment (UMA Grant §3.6).
    rpt, expires_in = sandbox.issue_access_token(
        client_id=client.client_id,
        sub=row["sub"],
        scope="",
        kind="rpt",
        family=row["family"],
        permissions=permissions,
    )
    return {
        "access_token": rpt,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": sandbox.issue_refresh_token(
            client_id=client.client_id,
            sub=row["sub"],
            scope="",
            family=row["family"],
            permissions=permissions,
        ),
    }


def _client_credentials_grant(sandbox: Sandbox, client: Client, form: TokenForm) -> dict[str, Any]:
    _require_grant(client, "client_credentials")
    if client.public:
        raise OAuthError(ErrorCode.UNAUTHORIZED_CLIENT, "Public clients cannot use this grant.")
    requested = (form.scope or "").split()
    if any(s not in client.scopes or s in (UMA_PROTECTION, "openid") for s in requested):
        # A PAT must come from the owner authorizing the RS, not from the RS alone.
        raise OAuthError(ErrorCode.INVALID_SCOPE, "A requested scope is not allowed here.")
    return sandbox.token_response(
        client, sub=client.client_id, scope=" ".join(requested), with_refresh=False
    )


# Device authorization grant (RFC 8628) ------------------------------------------------------


class DeviceAuthorizationForm(BaseModel):
    client_id: str | None = Field(default=None, max_length=256)
    client_secret: str | None = Field(default=None, max_length=512)
    scope: str | None = Field(default=None, max_length=2048)


def _user_code() -> str:
    import secrets

    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def _normalise_user_code(code: str) -> str:
    letters = "".join(ch for ch in code.upper() if ch.isalpha())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


@router.post("/device_authorization", tags=["oauth"], dependencies=[Depends(require_form)])
def device_authorization(
    sandbox: SandboxDep,
    form: Annotated[DeviceAuthorizationForm, Form()],
    authorization: Annotated[str | None, Header(max_length=4096)] = None,
) -> JSONResponse:
    """Start a device authorization (RFC 8628 §3.1)."""
    client = sandbox.authenticate_client(authorization, form.client_id, form.client_secret)
    _require_grant(client, DEVICE_CODE_GRANT)
    scopes = _allowed_scopes(client, form.scope)
    if scopes is None:
        raise OAuthError(ErrorCode.INVALID_SCOPE, "A requested scope is not allowed.")
    device_code = "dc-" + new_secret()
    user_code = _user_code()
    lifetime = sandbox.settings.device_code_lifetime
    interval = sandbox.settings.device_interval
    sandbox.store.execute(
        "INSERT INTO device_codes (hash, user_code, client_id, scope, exp, status, interval) "
        "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
        (
            digest(device_code),
            user_code,
            client.client_id,
            " ".join(scopes),
            sandbox.now() + lifetime,
            interval,
        ),
    )
    verification = sandbox.url("/device")
    return JSONResponse(
        {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification,
            "verification_uri_complete": with_query(verification, {"user_code": user_code}),
            "expires_in": lifetime,
            "interval": interval,
        },
        headers=NO_STORE,
    )


def _device_grant(sandbox: Sandbox, client: Client, form: TokenForm) -> dict[str, Any]:
    _require_grant(client, DEVICE_CODE_GRANT)
    if not form.device_code:
        raise invalid_request("device_code is required.")
    store = sandbox.store
    now = sandbox.now()
    row = store.one("SELECT * FROM device_codes WHERE hash = ?", (digest(form.device_code),))
    if row is None or row["client_id"] != client.client_id:
        raise OAuthError(ErrorCode.INVALID_GRANT, "Unknown device code.")
    if row["exp"] <= now:
        raise OAuthError(ErrorCode.EXPIRED_TOKEN, "The device code has expired.")
    if row["status"] == "denied":
        raise OAuthError(ErrorCode.ACCESS_DENIED, "The user denied the request.")
    if row["status"] == "pending":
        too_fast = row["last_poll"] is not None and now - row["last_poll"] < row["interval"]
        store.execute(
            "UPDATE device_codes SET last_poll = ?, interval = ? WHERE hash = ?",
            (now, row["interval"] + (5 if too_fast else 0), row["hash"]),
        )
        if too_fast:
            raise OAuthError(ErrorCode.SLOW_DOWN, "Poll less often.")
        raise OAuthError(ErrorCode.AUTHORIZATION_PENDING, "The user has not decided yet.")
    claimed = store.execute(
        "UPDATE device_codes SET status = 'used' WHERE hash = ? AND status = 'approved'",
        (row["hash"],),
    )
    if not claimed:
        raise OAuthError(ErrorCode.INVALID_GRANT, "The device code was already used.")
    return sandbox.token_response(client, sub=row["sub"], scope=row["scope"])


DEVICE_FORM_COOKIE = "sandbox_device_form"


def _device_form(
    sandbox: Sandbox,
    *,
    user_code: str,
    interaction: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The verification form. Its ``interaction`` field is a one-use token that must come
    back together with the same value in a SameSite=Strict cookie (cross-site forms fail)."""
    fresh = interaction is None
    if interaction is None:
        interaction = sandbox.start_interaction("device", {})
    page = pages.device_code_form(
        server_name=sandbox.name,
        action="/device",
        interaction=interaction,
        user_code=user_code,
        error=error,
        status=status,
    )
    if fresh:
        page.set_cookie(
            DEVICE_FORM_COOKIE,
            interaction,
            max_age=sandbox.settings.interaction_lifetime,
            path="/device",
            httponly=True,
            samesite="strict",
        )
    return page


@router.get("/device", tags=["oauth"], response_class=HTMLResponse)
def device_page(
    sandbox: SandboxDep, user_code: Annotated[str | None, Query(max_length=64)] = None
) -> HTMLResponse:
    """Verification page where the user enters the code and signs in."""
    return _device_form(sandbox, user_code=user_code or "")


class DeviceVerifyForm(BaseModel):
    interaction: str = Field(default="", max_length=256)
    user_code: str = Field(default="", max_length=64)
    username: str = Field(default="", max_length=256)
    password: str = Field(default="", max_length=1024)
    decision: str = Field(default="allow", max_length=16)


def _device_form_is_genuine(sandbox: Sandbox, interaction: str, cookie: str | None) -> bool:
    import hmac

    if not interaction or not cookie or sandbox.peek_interaction(interaction, "device") is None:
        return False
    return hmac.compare_digest(interaction.encode(), cookie.encode())


@router.post(
    "/device", tags=["oauth"], response_class=HTMLResponse, dependencies=[Depends(require_form)]
)
def device_verify(
    sandbox: SandboxDep,
    request: Request,
    form: Annotated[DeviceVerifyForm, Form()],
    form_cookie: Annotated[str | None, Cookie(alias=DEVICE_FORM_COOKIE, max_length=256)] = None,
) -> HTMLResponse:
    """Approve or deny a device code; both need the user to sign in on this server's form."""
    if not _device_form_is_genuine(sandbox, form.interaction, form_cookie):
        return _device_form(
            sandbox,
            user_code=form.user_code,
            error="This form has expired or was not opened on this server. "
            "Check the code and sign in again.",
            status=403,
        )
    code = _normalise_user_code(form.user_code)
    row = sandbox.store.one(
        "SELECT * FROM device_codes WHERE user_code = ? AND status = 'pending'", (code,)
    )
    if row is None or row["exp"] <= sandbox.now():
        return _device_form(
            sandbox,
            interaction=form.interaction,
            user_code=form.user_code,
            error="This code is unknown or has expired.",
            status=400,
        )
    try:
        user = sandbox.authenticate_user(form.username, form.password, client_address(request))
    except SignInRefused as refused:
        return pages.with_retry_after(
            _device_form(
                sandbox,
                interaction=form.interaction,
                user_code=form.user_code,
                error=refused.message,
                status=429,
            ),
            refused.retry_after,
        )
    if user is None:
        return _device_form(
            sandbox,
            interaction=form.interaction,
            user_code=form.user_code,
            error="Wrong username or password.",
            status=WRONG_PASSWORD_STATUS,
        )
    sandbox.finish_interaction(form.interaction)
    if form.decision == "deny":
        sandbox.store.execute(
            "UPDATE device_codes SET status = 'denied', sub = ? "
            "WHERE hash = ? AND status = 'pending'",
            (user["sub"], row["hash"]),
        )
        page = pages.message_page(
            "Device not connected", "You denied the request.", server_name=sandbox.name
        )
    else:
        sandbox.store.execute(
            "UPDATE device_codes SET status = 'approved', sub = ? "
            "WHERE hash = ? AND status = 'pending'",
            (user["sub"], row["hash"]),
        )
        page = pages.message_page(
            "Device connected", "You can return to your device now.", server_name=sandbox.name
        )
    page.delete_cookie(DEVICE_FORM_COOKIE, path="/device", httponly=True, samesite="strict")
    return page


# Revocation (RFC 7009) and userinfo --------------------------------------------------------


class RevocationForm(BaseModel):
    token: str = Field(max_length=16384)
    token_type_hint: str | None = Field(default=None, max_length=64)
    client_id: str | None = Field(default=None, max_length=256)
    client_secret: str | None = Field(default=None, max_length=512)


@router.post("/revoke", tags=["oauth"], dependencies=[Depends(require_form)])
def revoke(
    sandbox: SandboxDep,
    form: Annotated[RevocationForm, Form()],
    authorization: Annotated[str | None, Header(max_length=4096)] = None,
) -> Response:
    """Revoke a refresh token (its whole family), an access token/RPT, or a PCT. A token of
    another client is refused and kept (RFC 7009 §2.1); an unknown token is a success (§2.2)."""
    client = sandbox.authenticate_client(authorization, form.client_id, form.client_secret)
    store = sandbox.store
    hashed = digest(form.token)
    refresh = store.one("SELECT family, client_id FROM refresh_tokens WHERE hash = ?", (hashed,))
    pct = store.one("SELECT client_id FROM pcts WHERE hash = ?", (hashed,))
    access = sandbox.verify_access_token(form.token)
    owners = {row["client_id"] for row in (refresh, pct) if row is not None}
    if access is not None:
        owners.add(access.client_id)
    if owners - {client.client_id}:
        raise OAuthError(ErrorCode.UNAUTHORIZED_CLIENT, "This token was issued to another client.")
    if refresh is not None:
        sandbox.revoke_family(refresh["family"])
    if pct is not None:
        store.execute("UPDATE pcts SET revoked = 1 WHERE hash = ?", (hashed,))
    if access is not None:
        store.execute("UPDATE access_tokens SET revoked = 1 WHERE jti = ?", (access.jti,))
    return Response(status_code=200, headers=NO_STORE)


@router.get("/userinfo", tags=["oauth"])
def userinfo(sandbox: SandboxDep, credentials: BearerCredentials) -> dict[str, Any]:
    """OpenID Connect userinfo for an access token with scope openid."""
    token = sandbox.bearer(
        None if credentials is None else f"Bearer {credentials.credentials}", "openid"
    )
    user = sandbox.user(token.sub)
    if user is None:
        raise OAuthError(ErrorCode.INVALID_TOKEN, "The user no longer exists.", status=401)
    claims: dict[str, Any] = {"sub": user["sub"]}
    if "profile" in token.scopes:
        claims.update({"preferred_username": user["username"], "name": user["name"]})
    if "email" in token.scopes:
        claims.update({"email": user["email"], "email_verified": True})
    return claims
