"""The authorization server's state and token machinery, shared by all route modules."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt

from uma_desktop.sandbox.crypto import Signer, check_password, dummy_password_hash, same_secret
from uma_desktop.sandbox.errors import (
    OAuthError,
    insufficient_scope,
    invalid_token,
    no_credentials,
)
from uma_desktop.sandbox.store import Clock, Row, Store, digest, dumps, loads, new_id, new_secret
from uma_desktop.sandbox.throttle import SignInThrottle
from uma_desktop.uma.errors import ErrorCode

log = logging.getLogger("uma_desktop.sandbox")

UMA_PROTECTION = "uma_protection"
POLICY_MANAGER = "uma_policy_manager"


@dataclass
class Settings:
    """Lifetimes in seconds and polling intervals; tests shorten some of them."""

    access_token_lifetime: int = 300
    rpt_lifetime: int = 600
    refresh_token_lifetime: int = 30 * 24 * 3600
    code_lifetime: int = 60
    ticket_lifetime: int = 300
    device_code_lifetime: int = 600
    device_interval: int = 5
    request_interval: int = 5
    pct_lifetime: int = 30 * 24 * 3600
    interaction_lifetime: int = 900
    # sign-in throttling: lock a username after this many failures in a row (an address
    # after the second number), first for the base delay, doubled per further failure
    login_failure_limit: int = 5
    login_address_failure_limit: int = 20
    login_lockout_seconds: float = 30.0
    login_lockout_max_seconds: float = 900.0


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    secret: str | None
    kind: str  # app | rqp | rs
    redirect_uris: tuple[str, ...]
    claims_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    rs_name: str | None = None

    @property
    def public(self) -> bool:
        return self.secret is None

    @staticmethod
    def from_row(row: Row) -> Client:
        return Client(
            client_id=row["client_id"],
            name=row["name"],
            secret=row["secret"],
            kind=row["kind"],
            redirect_uris=tuple(loads(row["redirect_uris"])),
            claims_redirect_uris=tuple(loads(row["claims_redirect_uris"])),
            grant_types=tuple(loads(row["grant_types"])),
            scopes=tuple(loads(row["scopes"])),
            rs_name=row["rs_name"],
        )


@dataclass(frozen=True)
class AccessToken:
    """A verified, unrevoked access token (plain access token, PAT or RPT)."""

    jti: str
    kind: str  # access | rpt
    client_id: str
    sub: str
    scopes: frozenset[str]
    permissions: list[dict[str, Any]]
    exp: float
    iat: float


def _is_loopback_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_matches(registered: tuple[str, ...], given: str) -> bool:
    """Exact match, except that loopback IP literals match on any port (RFC 8252 §7.3)."""
    if given in registered:
        return True
    try:
        candidate = urlsplit(given)
        _ = candidate.port  # any port will do, but it must be a valid one
    except ValueError:
        return False
    if candidate.scheme != "http" or not _is_loopback_host(candidate.hostname or ""):
        return False
    for uri in registered:
        known = urlsplit(uri)
        if (
            known.scheme == "http"
            and known.hostname == candidate.hostname
            and known.path == candidate.path
            and known.query == candidate.query
            and not candidate.fragment
        ):
            return True
    return False


def subject_view(user: Row) -> dict[str, Any]:
    return {
        "sub": user["sub"],
        "username": user["username"],
        "email": user["email"],
        "name": user["name"],
    }


class Sandbox:
    """One authorization server: store, signing key, clock, issuer and settings."""

    def __init__(
        self,
        store: Store,
        *,
        issuer: str,
        name: str,
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.name = name
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.signer = Signer(store)
        self.sign_ins = SignInThrottle(self.now)
        dummy_password_hash()  # computed now, not during the first unknown user's sign-in

    def now(self) -> float:
        return self.clock.now()

    def url(self, path: str) -> str:
        return self.issuer + path

    # people

    def user(self, sub: str) -> Row | None:
        return self.store.one("SELECT * FROM users WHERE sub = ?", (sub,))

    def find_person(self, query: str) -> Row | None:
        text = query.strip().lower()
        if not text:
            return None
        return self.store.one(
            "SELECT * FROM users WHERE lower(username) = ? OR lower(email) = ?", (text, text)
        )

    def authenticate_user(
        self, username: str, password: str, client_address: str | None = None
    ) -> Row | None:
        """The user whose password this is, or None. Raises SignInRefused while the username
        or the client address is locked out after repeated failures. Unknown usernames cost
        the same password hash as known ones, so timing does not tell which exist."""
        name = username.strip()
        settings = self.settings
        keys = [("user:" + name.casefold(), settings.login_failure_limit)]
        if client_address:
            keys.append(("address:" + client_address, settings.login_address_failure_limit))
        self.sign_ins.begin(
            keys,
            base_delay=settings.login_lockout_seconds,
            max_delay=settings.login_lockout_max_seconds,
        )
        user = self.store.one("SELECT * FROM users WHERE username = ?", (name,))
        stored = dummy_password_hash() if user is None else user["password_hash"]
        if not check_password(password, stored) or user is None:
            return None
        self.sign_ins.succeeded([key for key, _ in keys])
        return user

    # clients

    def client(self, client_id: str) -> Client | None:
        row = self.store.one("SELECT * FROM clients WHERE client_id = ?", (client_id,))
        return Client.from_row(row) if row else None

    def authenticate_client(
        self, authorization: str | None, form_client_id: str | None, form_secret: str | None
    ) -> Client:
        """client_secret_basic, client_secret_post, or a public client's bare client_id."""
        client_id, secret = form_client_id, form_secret
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                basic_id, basic_secret = decoded.split(":", 1)
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise self._bad_client() from None
            if form_client_id and form_client_id != unquote(basic_id):
                raise self._bad_client()
            client_id, secret = unquote(basic_id), unquote(basic_secret)
        if not client_id:
            raise self._bad_client()
        client = self.client(client_id)
        if client is None:
            raise self._bad_client()
        if client.public:
            if secret:
                raise self._bad_client()
            return client
        if not same_secret(secret, client.secret):
            raise self._bad_client()
        return client

    @staticmethod
    def _bad_client() -> OAuthError:
        return OAuthError(
            ErrorCode.INVALID_CLIENT,
            "Client authentication failed.",
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="token"'},
        )

    # issuing

    def issue_access_token(
        self,
        *,
        client_id: str,
        sub: str,
        scope: str,
        kind: str = "access",
        family: str | None = None,
        permissions: list[dict[str, Any]] | None = None,
        lifetime: int | None = None,
        not_after: float | None = None,
    ) -> tuple[str, int]:
        now = self.now()
        if lifetime is None:
            lifetime = (
                self.settings.rpt_lifetime if kind == "rpt" else self.settings.access_token_lifetime
            )
        exp = now + lifetime
        if not_after is not None:
            exp = min(exp, not_after)
        jti = new_id("at")
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.issuer,
            "client_id": client_id,
            "iat": int(now),
            "exp": int(exp),
            "jti": jti,
        }
        if scope:
            claims["scope"] = scope
        if permissions is not None:
            claims["permissions"] = permissions
        token = self.signer.sign(claims, typ="at+jwt")
        self.store.execute(
            "INSERT INTO access_tokens (jti, kind, family, client_id, sub, scope, permissions, "
            "exp, iat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                jti,
                kind,
                family,
                client_id,
                sub,
                scope,
                None if permissions is None else dumps(permissions),
                int(exp),
                int(now),
            ),
        )
        return token, max(0, int(exp - now))

    def issue_refresh_token(
        self,
        *,
        client_id: str,
        sub: str,
        scope: str,
        family: str,
        permissions: list[dict[str, Any]] | None = None,
    ) -> str:
        token = "rt-" + new_secret()
        now = self.now()
        self.store.execute(
            "INSERT INTO refresh_tokens (hash, family, client_id, sub, scope, permissions, exp, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                digest(token),
                family,
                client_id,
                sub,
                scope,
                None if permissions is None else dumps(permissions),
                now + self.settings.refresh_token_lifetime,
                now,
            ),
        )
        return token

    def issue_id_token(self, *, client_id: str, sub: str, nonce: str | None, scope: str) -> str:
        now = int(self.now())
        user = self.user(sub)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": client_id,
            "azp": client_id,
            "iat": now,
            "auth_time": now,
            "exp": now + self.settings.access_token_lifetime,
        }
        if nonce:
            claims["nonce"] = nonce
        scopes = set(scope.split())
        if user is not None:
            if "profile" in scopes:
                claims.update({"preferred_username": user["username"], "name": user["name"]})
            if "email" in scopes:
                claims.update({"email": user["email"], "email_verified": True})
        return self.signer.sign(claims)

    def token_response(
        self,
        client: Client,
        *,
        sub: str,
        scope: str,
        family: str | None = None,
        nonce: str | None = None,
        with_refresh: bool = True,
    ) -> dict[str, Any]:
        """Access token (+ refresh token with rotation family, + ID token for openid)."""
        family = family or new_id("fam")
        access, expires_in = self.issue_access_token(
            client_id=client.client_id, sub=sub, scope=scope, family=family
        )
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope,
        }
        if with_refresh and "refresh_token" in client.grant_types:
            body["refresh_token"] = self.issue_refresh_token(
                client_id=client.client_id, sub=sub, scope=scope, family=family
            )
        if "openid" in scope.split():
            body["id_token"] = self.issue_id_token(
                client_id=client.client_id, sub=sub, nonce=nonce, scope=scope
            )
        return body

    # verifying

    def verify_access_token(self, token: str) -> AccessToken | None:
        """Signature, issuer, expiry (sandbox clock) and revocation; None when not valid."""
        if not token or len(token) > 16384:
            return None
        try:
            claims = self.signer.verify(token, issuer=self.issuer)
        except jwt.InvalidTokenError:
            return None
        jti = claims.get("jti")
        if not isinstance(jti, str):
            return None
        row = self.store.one("SELECT * FROM access_tokens WHERE jti = ?", (jti,))
        if row is None or row["revoked"] or row["exp"] <= self.now():
            return None
        return AccessToken(
            jti=jti,
            kind=row["kind"],
            client_id=row["client_id"],
            sub=row["sub"],
            scopes=frozenset(row["scope"].split()),
            permissions=loads(row["permissions"]) or [],
            exp=row["exp"],
            iat=row["iat"],
        )

    def verify_id_token(self, token: str, client_id: str) -> dict[str, Any] | None:
        """An ID token this server issued to ``client_id``, not expired (for claim pushing)."""
        try:
            claims = self.signer.verify(token, issuer=self.issuer, audience=client_id)
        except jwt.InvalidTokenError:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= self.now():
            return None
        if not isinstance(claims.get("sub"), str) or self.user(claims["sub"]) is None:
            return None
        return claims

    def bearer(self, authorization: str | None, scope: str) -> AccessToken:
        """The request's bearer token, which must carry ``scope`` (401/403 otherwise)."""
        if not authorization:
            raise no_credentials(self.issuer)
        if authorization[:7].lower() != "bearer ":
            raise invalid_token("A bearer access token is required.")
        token = self.verify_access_token(authorization[7:].strip())
        if token is None or token.kind != "access":
            raise invalid_token()
        if scope not in token.scopes:
            raise insufficient_scope(scope)
        return token

    # revoking

    def revoke_family(self, family: str) -> None:
        with self.store.transaction():
            self.store.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family = ?", (family,))
            self.store.execute("UPDATE access_tokens SET revoked = 1 WHERE family = ?", (family,))

    def revoke_rpts(self, sub: str | None, resource_id: str) -> int:
        """Invalidate RPTs (and their refresh tokens) of ``sub`` (None: of anyone) that cover
        ``resource_id``."""
        count = 0
        with self.store.transaction():
            for row in self.store.all(
                "SELECT jti, family, permissions FROM access_tokens "
                "WHERE (? IS NULL OR sub = ?) AND kind = 'rpt' AND revoked = 0",
                (sub, sub),
            ):
                if any(
                    p.get("resource_id") == resource_id for p in loads(row["permissions"]) or []
                ):
                    self.store.execute(
                        "UPDATE access_tokens SET revoked = 1 WHERE jti = ?", (row["jti"],)
                    )
                    if row["family"]:
                        self.revoke_family(row["family"])
                    count += 1
            for row in self.store.all(
                "SELECT hash, family, permissions FROM refresh_tokens "
                "WHERE (? IS NULL OR sub = ?) AND permissions IS NOT NULL AND revoked = 0",
                (sub, sub),
            ):
                if any(
                    p.get("resource_id") == resource_id for p in loads(row["permissions"]) or []
                ):
                    self.revoke_family(row["family"])
        return count

    # interactions (pending login forms; the id doubles as the CSRF token)

    def start_interaction(self, kind: str, data: dict[str, Any]) -> str:
        interaction = new_secret(24)
        self.store.execute(
            "INSERT INTO interactions (hash, kind, data, exp) VALUES (?, ?, ?, ?)",
            (
                digest(interaction),
                kind,
                dumps(data),
                self.now() + self.settings.interaction_lifetime,
            ),
        )
        return interaction

    def peek_interaction(self, interaction: str, kind: str) -> dict[str, Any] | None:
        row = self.store.one(
            "SELECT * FROM interactions WHERE hash = ? AND kind = ?", (digest(interaction), kind)
        )
        if row is None or row["exp"] <= self.now():
            return None
        data: dict[str, Any] = loads(row["data"])
        return data

    def finish_interaction(self, interaction: str) -> None:
        self.store.execute("DELETE FROM interactions WHERE hash = ?", (digest(interaction),))
