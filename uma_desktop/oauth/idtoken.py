"""ID token verification (OpenID Connect Core §3.1.3.7) with pyjwt against the issuer's JWKS.

PyJWT (and the cryptography it loads) is imported by the verifying functions only: a run
that resumes a saved login reads the stored identity without it.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uma_desktop import net
from uma_desktop.errors import MalformedResponseError, SecurityCheckError
from uma_desktop.uma.metadata import AuthorizationServerMetadata

if TYPE_CHECKING:
    import jwt

log = logging.getLogger(__name__)

# Asymmetric algorithms only: a public client has no secret, so HS* would be forgeable.
ALLOWED_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
CLOCK_SKEW_SECONDS = 60
MAX_ID_TOKEN_CHARS = 256 * 1024  # real ones are a few KiB; the JWT library is slow on MiBs


@dataclass(frozen=True)
class IdClaims:
    """The verified identity of the signed-in owner (no secrets)."""

    issuer: str
    subject: str
    username: str | None = None
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.username or self.email or self.name or self.subject


async def fetch_jwks(client: net.AsyncClient, jwks_uri: str) -> jwt.PyJWKSet:
    response = await net.send(client, "GET", jwks_uri, "the key set (JWKS) request")
    return parse_jwks(net.json_body(response, "key set (JWKS)"))


def parse_jwks(data: Any) -> jwt.PyJWKSet:
    """The usable keys of a JWKS document; MalformedResponseError when there are none."""
    import jwt

    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise MalformedResponseError("The server's key set (JWKS) is not a JSON key set.")
    # Keys of unknown or broken shape are skipped, as a key set may list keys for others.
    keys = [key for key in data["keys"] if isinstance(key, dict)]
    try:
        return jwt.PyJWKSet.from_dict({"keys": keys})
    except (jwt.PyJWKSetError, jwt.PyJWKError, TypeError, KeyError, ValueError):
        raise MalformedResponseError("The server's key set (JWKS) has no usable keys.") from None


def _pick_key(jwks: jwt.PyJWKSet, kid: str | None, alg: str) -> jwt.PyJWK | None:
    candidates = [
        key
        for key in jwks.keys
        if (kid is None or key.key_id == kid)
        and key.public_key_use in (None, "sig")
        and (key.algorithm_name in (alg, None) or not key.algorithm_name)
    ]
    if kid is None and len(candidates) > 1:
        return None
    return candidates[0] if candidates else None


class IdTokenVerifier:
    """Verifies ID tokens of one issuer; fetches the JWKS once and again on an unknown key id."""

    def __init__(self, metadata: AuthorizationServerMetadata, client_id: str) -> None:
        if not metadata.jwks_uri:
            raise SecurityCheckError(
                "The server publishes no key set (jwks_uri), so its ID tokens cannot be checked."
            )
        self._metadata = metadata
        self._jwks_uri = metadata.jwks_uri
        self._client_id = client_id
        self._jwks: jwt.PyJWKSet | None = None

    async def verify(
        self,
        client: net.AsyncClient,
        id_token: str,
        *,
        nonce: str | None,
    ) -> tuple[IdClaims, dict[str, Any]]:
        """Check signature, iss, aud, azp, exp, iat and (when given) nonce; return the claims."""
        import jwt

        try:
            # A JWT is ASCII (the library fails untyped on other text), and small.
            if not id_token.isascii() or len(id_token) > MAX_ID_TOKEN_CHARS:
                raise jwt.DecodeError("not ASCII or too large")
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise SecurityCheckError("The ID token is not a valid JWT.") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise SecurityCheckError("The ID token uses a signing algorithm we do not accept.")
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        if self._jwks is None:
            self._jwks = await fetch_jwks(client, self._jwks_uri)
        key = _pick_key(self._jwks, kid, alg)
        if key is None:  # the server may have rotated its keys: look once more
            self._jwks = await fetch_jwks(client, self._jwks_uri)
            key = _pick_key(self._jwks, kid, alg)
        if key is None:
            raise SecurityCheckError("The ID token was signed with a key the server does not list.")
        claims = self.decode(id_token, key, alg)
        if nonce is not None:
            sent = claims.get("nonce")
            if not isinstance(sent, str) or not hmac.compare_digest(
                sent.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
            ):
                raise SecurityCheckError("The ID token does not belong to this sign-in (nonce).")
        return _identity(claims), claims

    def decode(self, id_token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        import jwt

        options: dict[str, Any] = {"require": ["iss", "sub", "aud", "exp", "iat"]}
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[alg],
                audience=self._client_id,
                issuer=self._metadata.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.InvalidSignatureError:
            raise SecurityCheckError("The ID token's signature is not valid.") from None
        except jwt.ExpiredSignatureError:
            raise SecurityCheckError("The ID token has expired.") from None
        except jwt.InvalidAudienceError:
            raise SecurityCheckError("The ID token was issued for another application.") from None
        except jwt.InvalidIssuerError:
            raise SecurityCheckError("The ID token was issued by another server.") from None
        except jwt.ImmatureSignatureError:
            raise SecurityCheckError("The ID token is not valid yet (check the clock).") from None
        except jwt.MissingRequiredClaimError as exc:
            raise SecurityCheckError(f"The ID token lacks the '{exc.claim}' claim.") from None
        except jwt.PyJWTError as exc:
            raise SecurityCheckError(f"The ID token is invalid ({type(exc).__name__}).") from None
        audience = claims.get("aud")
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != self._client_id
        ):
            raise SecurityCheckError("The ID token was issued for another application (azp).")
        return claims


def stored_identity(id_token: str) -> IdClaims | None:
    """The identity in an ID token that was verified when it was received (read back from
    the vault after a restart); None when it cannot be read. Not a verification."""
    if not id_token.isascii() or len(id_token) > MAX_ID_TOKEN_CHARS:
        return None
    claims = _unverified_claims(id_token)
    if claims is None:
        return None
    if not isinstance(claims.get("iss"), str) or not isinstance(claims.get("sub"), str):
        return None
    return _identity(claims)


def _unverified_claims(id_token: str) -> dict[str, Any] | None:
    """The payload of a compact JWS with a JSON-object header, nothing else checked."""
    parts = id_token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            for part in parts[:2]
        )
    except (ValueError, RecursionError):  # bad base64, UTF-8 or JSON; absurd nesting
        return None
    return payload if isinstance(header, dict) and isinstance(payload, dict) else None


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _identity(claims: dict[str, Any]) -> IdClaims:
    return IdClaims(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        username=_text(claims, "preferred_username"),
        email=_text(claims, "email"),
        name=_text(claims, "name"),
    )
