"""The test realm is what the app and the other tests rely on (checked on the live server)."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx
import jwt
import pytest

from tests.fixtures.keycloak import KeycloakServer, password_token

pytestmark = pytest.mark.keycloak


def _authorize(keycloak: KeycloakServer, **extra: str) -> httpx.Response:
    params = {
        "client_id": keycloak.app_client_id,
        "response_type": "code",
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "redirect_uri": "http://127.0.0.1:54321/callback",
        **extra,
    }
    with httpx.Client(timeout=30) as client:
        return client.get(f"{keycloak.issuer}/protocol/openid-connect/auth", params=params)


def test_desktop_client_forces_pkce_and_takes_any_loopback_port(keycloak: KeycloakServer) -> None:
    without_pkce = _authorize(keycloak)
    assert without_pkce.status_code in (302, 303, 400)
    assert "code_challenge" in (without_pkce.headers.get("location", "") + without_pkce.text)

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    with_pkce = _authorize(
        keycloak, code_challenge=challenge.decode(), code_challenge_method="S256"
    )
    assert with_pkce.status_code == 200
    assert 'name="username"' in with_pkce.text  # the real login form


def test_desktop_client_offers_the_device_grant_with_pkce(keycloak: KeycloakServer) -> None:
    """Forced PKCE applies to the device grant too: the device request needs a challenge."""
    endpoint = f"{keycloak.issuer}/protocol/openid-connect/auth/device"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"x" * 43).digest()).rstrip(b"=")
    with httpx.Client(timeout=30) as client:
        refused = client.post(endpoint, data={"client_id": keycloak.app_client_id})
        answer = client.post(
            endpoint,
            data={
                "client_id": keycloak.app_client_id,
                "scope": "openid",
                "code_challenge": challenge.decode(),
                "code_challenge_method": "S256",
            },
        )
    assert refused.status_code == 400
    assert "code_challenge" in refused.json()["error_description"]
    assert answer.status_code == 200
    assert {"device_code", "user_code", "verification_uri"} <= answer.json().keys()


def test_user_tokens_reach_the_account_api(keycloak: KeycloakServer) -> None:
    claims = jwt.decode(password_token(keycloak, "bob"), options={"verify_signature": False})
    assert claims["iss"] == keycloak.issuer
    assert "account" in (claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]])
    assert {"manage-account", "view-profile"} <= set(claims["resource_access"]["account"]["roles"])
    assert claims["email"] == "bob@example.test"
