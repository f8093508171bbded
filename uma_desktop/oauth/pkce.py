"""PKCE (RFC 7636, S256 only) and the random values of one login attempt."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """A 64-character verifier from the unreserved set (384 bits of entropy)."""
    return _b64url(secrets.token_bytes(48))


def challenge_s256(verifier: str) -> str:
    """BASE64URL(SHA-256(ASCII(verifier))) as RFC 7636 §4.2 defines it."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def random_token() -> str:
    """An unguessable value for ``state`` and ``nonce`` (256 bits)."""
    return _b64url(secrets.token_bytes(32))


@dataclass(frozen=True)
class AttemptSecrets:
    """Secrets of one authorization request; never logged, never persisted."""

    verifier: str = field(default_factory=new_verifier, repr=False)
    state: str = field(default_factory=random_token, repr=False)
    nonce: str = field(default_factory=random_token, repr=False)

    @property
    def challenge(self) -> str:
        return challenge_s256(self.verifier)
