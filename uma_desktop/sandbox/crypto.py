"""Signing keys (persisted in the store), JWT issue/verify, JWKS, password hashing."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from uma_desktop.sandbox.store import Store

ALGORITHM = "RS256"


class Signer:
    """The server's RSA key: created once, kept in the database so restarts keep tokens valid."""

    def __init__(self, store: Store) -> None:
        pem = store.get_meta("signing_key")
        kid = store.get_meta("signing_kid")
        if pem is None or kid is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
            kid = secrets.token_hex(8)
            store.set_meta("signing_key", pem)
            store.set_meta("signing_kid", kid)
        else:
            loaded = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise TypeError("the stored signing key is not an RSA key")
            key = loaded
        self._private = key
        self._public = key.public_key()
        self.kid = kid

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self._public))
        public.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [public]}

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        return jwt.encode(
            claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": typ}
        )

    def verify(self, token: str, *, issuer: str, audience: str | None = None) -> dict[str, Any]:
        """Check signature, issuer and (when given) audience. Time claims are the caller's job,
        against the sandbox clock. Raises jwt.InvalidTokenError."""
        header = jwt.get_unverified_header(token)
        if header.get("kid") != self.kid or header.get("alg") != ALGORITHM:
            raise jwt.InvalidTokenError("unknown key")
        claims: dict[str, Any] = jwt.decode(
            token,
            self._public,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": audience is not None,
            },
        )
        return claims


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**12, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(derived).decode()


@functools.cache
def dummy_password_hash() -> str:
    """A hash no password matches, checked for unknown users so they cost the same time."""
    return hash_password(secrets.token_urlsafe(32))


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, derived_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    derived = hashlib.scrypt(
        password.encode("utf-8"), salt=base64.b64decode(salt_b64), n=2**12, r=8, p=1
    )
    return hmac.compare_digest(derived, base64.b64decode(derived_b64))


def s256(verifier: str) -> str:
    """PKCE S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_secret(given: str | None, expected: str | None) -> bool:
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
