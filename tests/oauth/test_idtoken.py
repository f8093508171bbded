"""ID token checks. The tokens are signed here with a test key whose JWKS a real loopback
server publishes: a real AS cannot be made to issue a forged or mis-addressed token."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.oauth_servers import StaticServer
from uma_desktop import net
from uma_desktop.errors import SecurityCheckError
from uma_desktop.oauth.idtoken import IdTokenVerifier
from uma_desktop.uma.metadata import AuthorizationServerMetadata

CLIENT_ID = "uma-desktop"
NONCE = "n-0S6_WzA2Mj"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def issuer(static_server: StaticServer, signing_key: rsa.RSAPrivateKey) -> str:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    static_server.json("/jwks", {"keys": [jwk]})
    return static_server.base_url


def claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    data = {
        "iss": issuer, "sub": "alice-id", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": NONCE, "preferred_username": "alice", "email": "alice@example.org",
    }  # fmt: skip
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def sign(payload: dict[str, Any], key: Any, kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


async def verify(issuer: str, token: str, nonce: str | None = NONCE) -> Any:
    metadata = AuthorizationServerMetadata(issuer=issuer, jwks_uri=issuer + "/jwks")
    async with net.async_client() as client:
        identity, _ = await IdTokenVerifier(metadata, CLIENT_ID).verify(client, token, nonce=nonce)
    return identity


async def test_a_good_id_token_yields_the_identity(issuer: str, signing_key: Any) -> None:
    identity = await verify(issuer, sign(claims(issuer), signing_key))
    assert (identity.subject, identity.username, identity.email) == (
        "alice-id", "alice", "alice@example.org",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aud": "someone-else"}, "another application"),
        ({"aud": ["someone-else", CLIENT_ID], "azp": "someone-else"}, "another application"),
        ({"nonce": "other-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"iss": "https://evil.example.com"}, "another server"),
        ({"sub": None}, "'sub'"),
    ],
)
async def test_wrong_claims_are_refused(
    issuer: str, signing_key: Any, change: dict[str, Any], message: str
) -> None:
    token = sign(claims(issuer, **change), signing_key)
    with pytest.raises(SecurityCheckError, match=message):
        await verify(issuer, token)


async def test_a_bad_signature_is_refused(issuer: str) -> None:
    forged = sign(claims(issuer), new_key())  # same kid, another key
    with pytest.raises(SecurityCheckError, match="signature is not valid"):
        await verify(issuer, forged)


async def test_unsigned_and_symmetric_tokens_are_refused(issuer: str, signing_key: Any) -> None:
    unsigned = jwt.encode(claims(issuer), None, algorithm="none")
    with pytest.raises(SecurityCheckError, match="algorithm"):
        await verify(issuer, unsigned)
    hmac_token = jwt.encode(
        claims(issuer), "a-shared-secret-long-enough-for-hs256!", algorithm="HS256"
    )
    with pytest.raises(SecurityCheckError, match="algorithm"):
        await verify(issuer, hmac_token)
    with pytest.raises(SecurityCheckError, match="not a valid JWT"):
        await verify(issuer, "not-a-jwt")


async def test_an_unknown_key_id_is_looked_up_once_more_then_refused(
    issuer: str, static_server: StaticServer
) -> None:
    token = sign(claims(issuer), new_key(), kid="k-unknown")
    with pytest.raises(SecurityCheckError, match="key the server does not list"):
        await verify(issuer, token)
    assert static_server.hits.count("/jwks") == 2
