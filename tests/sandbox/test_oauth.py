"""OAuth 2.0 / OpenID Connect behaviour of the sandbox: discovery, signed tokens, the code
flow's security checks, refresh rotation, device grant, client credentials, revocation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.fixtures.sandbox import (
    APP_CLIENT_ID,
    authorization_code,
    client_secret,
    form_interaction,
    pkce_pair,
    sandbox_login,
)
from uma_desktop.sandbox import SandboxServer
from uma_desktop.uma import metadata as as_metadata

REDIRECT = "http://127.0.0.1:61001/callback"


def _authorize_params(challenge: str, redirect_uri: str = REDIRECT, **extra: str) -> dict[str, str]:
    """A PKCE S256 authorization request of the app's client."""
    return {
        "response_type": "code",
        "client_id": APP_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(name="OAuth", device_interval=1) as running:
        yield running


def _token(server: SandboxServer, **data: str) -> httpx.Response:
    return httpx.post(f"{server.issuer}/token", data={"client_id": APP_CLIENT_ID, **data})


def _code(server: SandboxServer, challenge: str, redirect_uri: str = REDIRECT) -> str:
    query = authorization_code(server, challenge=challenge, redirect_uri=redirect_uri)
    return query["code"][0]


def test_discovery_documents_validate_and_agree(server: SandboxServer) -> None:
    uma = as_metadata.parse(httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json())
    oidc = as_metadata.parse(httpx.get(f"{server.issuer}/.well-known/openid-configuration").json())
    assert uma.issuer == oidc.issuer == server.issuer
    assert uma.supports_pkce_s256 and uma.code_challenge_methods_supported == ["S256"]
    assert uma.supports_uma_grant and uma.supports_device_grant
    assert uma.authorization_response_iss_parameter_supported is True
    assert uma.is_policy_manager
    for endpoint in (
        uma.permission_endpoint,
        uma.resource_registration_endpoint,
        uma.introspection_endpoint,
        uma.claims_interaction_endpoint,
        uma.registered_resource_endpoint,
        uma.policy_endpoint,
        uma.pending_request_endpoint,
        uma.decision_history_endpoint,
        uma.person_lookup_endpoint,
        uma.shared_with_me_endpoint,
        uma.revocation_endpoint,
    ):
        assert endpoint and endpoint.startswith(server.issuer + "/")


def test_id_and_access_tokens_verify_with_pyjwt_and_jwks(server: SandboxServer) -> None:
    tokens = sandbox_login(server)
    jwks_client = jwt.PyJWKClient(f"{server.issuer}/jwks")
    id_key = jwks_client.get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(
        tokens["id_token"],
        id_key.key,
        algorithms=["RS256"],
        audience=APP_CLIENT_ID,
        issuer=server.issuer,
    )
    assert claims["preferred_username"] == "alice"
    assert claims["email"] == "alice@example.test"
    assert claims["nonce"] == "nonce-1"
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "RS256" and header["kid"]
    access = jwt.decode(
        tokens["access_token"],
        jwks_client.get_signing_key_from_jwt(tokens["access_token"]).key,
        algorithms=["RS256"],
        audience=server.issuer,
        issuer=server.issuer,
    )
    assert "uma_policy_manager" in access["scope"].split()
    assert access["sub"] == claims["sub"]
    userinfo = httpx.get(
        f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.json()["preferred_username"] == "alice"


def test_login_page_is_a_plain_form(server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    page = httpx.get(
        f"{server.issuer}/authorize", params=_authorize_params(challenge, scope="openid")
    )
    assert page.status_code == 200
    assert "<script" not in page.text.lower()
    assert "name='username'" in page.text and "name='password'" in page.text
    assert "UMA Desktop" in page.text  # who is asking


def test_wrong_password_shows_the_form_again(server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    with httpx.Client() as browser:
        page = browser.get(f"{server.issuer}/authorize", params=_authorize_params(challenge))
        answer = browser.post(
            f"{server.issuer}/authorize/login",
            data={
                "interaction": form_interaction(page.text),
                "username": "alice",
                "password": "wrong",
            },
        )
    assert answer.status_code == 400  # a 401 would need a challenge (RFC 9110 §15.5.2)
    assert "www-authenticate" not in answer.headers
    assert "Wrong username or password" in answer.text
    assert "wrong" not in answer.text.replace("Wrong", "")  # the password is not echoed


def test_authorization_response_has_state_and_iss_and_loopback_any_port(
    server: SandboxServer,
) -> None:
    _, challenge = pkce_pair()
    for port in (1024, 50505, 65000):
        uri = f"http://127.0.0.1:{port}/callback"
        query = authorization_code(server, challenge=challenge, redirect_uri=uri, state="xyz")
        assert query["state"] == ["xyz"] and query["iss"] == [server.issuer]
    ipv6 = authorization_code(
        server, challenge=challenge, redirect_uri="http://[::1]:4000/callback"
    )
    assert "code" in ipv6


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:5000/other",
        "http://localhost:5000/callback",
        "https://evil.test/callback",
        "http://127.0.0.1:5000/callback#frag",
        "http://127.0.0.2.evil.test/callback",
    ],
)
def test_unregistered_redirect_uri_shows_error_page_never_redirects(
    server: SandboxServer, redirect_uri: str
) -> None:
    _, challenge = pkce_pair()
    page = httpx.get(
        f"{server.issuer}/authorize", params=_authorize_params(challenge, redirect_uri)
    )
    assert page.status_code == 400
    assert "location" not in page.headers


def _authorize_error(server: SandboxServer, **params: str) -> dict[str, list[str]]:
    base = {
        "response_type": "code",
        "client_id": APP_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "st",
    }
    answer = httpx.get(f"{server.issuer}/authorize", params={**base, **params})
    assert answer.status_code == 303, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st"] and query["iss"] == [server.issuer]
    return query


def test_pkce_plain_and_missing_challenge_refused(server: SandboxServer) -> None:
    verifier, _ = pkce_pair()
    plain = _authorize_error(server, code_challenge=verifier[:43], code_challenge_method="plain")
    assert plain["error"] == ["invalid_request"] and "S256" in plain["error_description"][0]
    missing = _authorize_error(server)
    assert missing["error"] == ["invalid_request"]
    no_method = _authorize_error(server, code_challenge=pkce_pair()[1])
    assert no_method["error"] == ["invalid_request"]


def test_bad_scope_and_response_type_refused(server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    scope = _authorize_error(
        server, code_challenge=challenge, code_challenge_method="S256", scope="uma_protection"
    )
    assert scope["error"] == ["invalid_scope"]
    implicit = _authorize_error(
        server, code_challenge=challenge, code_challenge_method="S256", response_type="token"
    )
    assert implicit["error"] == ["unsupported_response_type"]


def test_deny_button_returns_access_denied(server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    with httpx.Client() as browser:
        page = browser.get(
            f"{server.issuer}/authorize", params=_authorize_params(challenge, state="d")
        )
        answer = browser.post(
            f"{server.issuer}/authorize/login",
            data={"interaction": form_interaction(page.text), "decision": "deny"},
        )
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["d"]


def test_missing_or_wrong_code_verifier_refused(server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    missing = _token(
        server,
        grant_type="authorization_code",
        code=_code(server, challenge),
        redirect_uri=REDIRECT,
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    other_verifier, _ = pkce_pair()
    wrong = _token(
        server,
        grant_type="authorization_code",
        code=_code(server, challenge),
        redirect_uri=REDIRECT,
        code_verifier=other_verifier,
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The challenge itself is no verifier ("plain" in disguise).
    as_plain = _token(
        server,
        grant_type="authorization_code",
        code=_code(server, challenge),
        redirect_uri=REDIRECT,
        code_verifier=challenge,
    )
    assert as_plain.status_code == 400


def test_wrong_redirect_uri_at_token_endpoint_refused(server: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    answer = _token(
        server,
        grant_type="authorization_code",
        code=_code(server, challenge),
        redirect_uri="http://127.0.0.1:61002/callback",
        code_verifier=verifier,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_reused_code_refused_and_first_tokens_revoked(server: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    code = _code(server, challenge)
    first = _token(
        server,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert first.status_code == 200
    second = _token(
        server,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    refreshed = _token(
        server, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
    )
    assert refreshed.status_code == 400


def test_refresh_rotation_and_reuse_detection(server: SandboxServer) -> None:
    tokens = sandbox_login(server)
    rotated = _token(server, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    narrowed = _token(
        server,
        grant_type="refresh_token",
        refresh_token=new["refresh_token"],
        scope="uma_policy_manager",
    )
    assert narrowed.json()["scope"] == "uma_policy_manager"
    # Replaying the first (rotated) token revokes the whole family.
    replay = _token(server, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    latest = _token(
        server, grant_type="refresh_token", refresh_token=narrowed.json()["refresh_token"]
    )
    assert latest.status_code == 400


def _device_poll(server: SandboxServer, device_code: str) -> httpx.Response:
    return _token(
        server, grant_type="urn:ietf:params:oauth:grant-type:device_code", device_code=device_code
    )


def test_device_authorization_grant(server: SandboxServer) -> None:
    start = httpx.post(
        f"{server.issuer}/device_authorization",
        data={"client_id": APP_CLIENT_ID, "scope": "openid uma_policy_manager"},
    )
    assert start.status_code == 200
    device = start.json()
    assert device["verification_uri"] == f"{server.issuer}/device"
    assert device["interval"] == 1 and device["expires_in"] > 0
    pending = _device_poll(server, device["device_code"])
    assert pending.json()["error"] == "authorization_pending"
    with httpx.Client() as browser:
        page = browser.get(device["verification_uri_complete"])
        assert page.status_code == 200 and device["user_code"] in page.text
        assert "<script" not in page.text.lower()
        approved = browser.post(
            f"{server.issuer}/device",
            data={
                "interaction": form_interaction(page.text),
                "user_code": device["user_code"].lower().replace("-", ""),
                "username": "alice",
                "password": "alice",
            },
        )
    assert approved.status_code == 200 and "connected" in approved.text
    server.advance_clock(2)  # past the polling interval, without sleeping
    tokens = _device_poll(server, device["device_code"])
    assert tokens.status_code == 200, tokens.text
    assert "uma_policy_manager" in tokens.json()["scope"].split() and tokens.json()["id_token"]
    assert _device_poll(server, device["device_code"]).json()["error"] == "invalid_grant"


def test_device_polling_too_fast_gets_slow_down(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(device_interval=60)
    device = httpx.post(
        f"{server.issuer}/device_authorization", data={"client_id": APP_CLIENT_ID}
    ).json()
    assert _device_poll(server, device["device_code"]).json()["error"] == "authorization_pending"
    assert _device_poll(server, device["device_code"]).json()["error"] == "slow_down"
    server.advance_clock(device["expires_in"] + 1)
    assert _device_poll(server, device["device_code"]).json()["error"] == "expired_token"


def test_device_denied(server: SandboxServer) -> None:
    device = httpx.post(
        f"{server.issuer}/device_authorization", data={"client_id": APP_CLIENT_ID}
    ).json()
    with httpx.Client() as browser:
        page = browser.get(f"{server.issuer}/device")
        denied = browser.post(
            f"{server.issuer}/device",
            data={
                "interaction": form_interaction(page.text),
                "user_code": device["user_code"],
                "username": "alice",
                "password": "alice",
                "decision": "deny",
            },
        )
    assert denied.status_code == 200 and "denied" in denied.text
    answer = _token(
        server,
        grant_type="urn:ietf:params:oauth:grant-type:device_code",
        device_code=device["device_code"],
    )
    assert answer.json()["error"] == "access_denied"


def test_client_credentials_and_client_authentication(server: SandboxServer) -> None:
    secret = client_secret(server, "rqp-app")
    ok = httpx.post(
        f"{server.issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=("rqp-app", secret),
    )
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    wrong = httpx.post(
        f"{server.issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=("rqp-app", "nope"),
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "www-authenticate" in wrong.headers
    # A PAT needs the owner's consent: not available through client credentials.
    pat = httpx.post(
        f"{server.issuer}/token",
        data={"grant_type": "client_credentials", "scope": "uma_protection"},
        auth=("rs-photos", client_secret(server, "rs-photos")),
    )
    assert pat.status_code == 400
    public = _token(server, grant_type="client_credentials")
    assert public.json()["error"] == "unauthorized_client"
    unknown = _token(server, grant_type="password")
    assert unknown.json()["error"] == "unsupported_grant_type"


def test_revocation(server: SandboxServer) -> None:
    tokens = sandbox_login(server)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(f"{server.issuer}/owner/requests", headers=bearer).status_code == 200
    revoked = httpx.post(
        f"{server.issuer}/revoke",
        data={"token": tokens["refresh_token"], "client_id": APP_CLIENT_ID},
    )
    assert revoked.status_code == 200
    assert (
        _token(
            server, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        ).status_code
        == 400
    )
    # Revoking the refresh token ends its access tokens too.
    assert httpx.get(f"{server.issuer}/owner/requests", headers=bearer).status_code == 401
    unknown = httpx.post(
        f"{server.issuer}/revoke", data={"token": "whatever", "client_id": APP_CLIENT_ID}
    )
    assert unknown.status_code == 200
