"""The names that mark a secret: OAuth/UMA parameters, JSON members and HTTP headers.

One vocabulary for every place that hides secrets: the protocol trace
(:mod:`uma_desktop.trace`) and the log filter (:mod:`uma_desktop.oauth.redact`).
"""

from __future__ import annotations

SECRET_KEYS: frozenset[str] = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "assertion",
        "authorization",
        "password",
        "passwd",
        "secret",
        "ticket",
        "pct",
        "rpt",
        "device_code",
        "user_code",
        "claim_token",
        "subject_token",
        "actor_token",
        # One-time anti-forgery values: a shared trace of a live login must not let anyone
        # finish or forge that login.
        "state",
        "nonce",
        "session",
        "session_state",
        "csrf",
        "csrf_token",
        "api_key",
        "apikey",
        "private_key",
        "interaction",  # a login in progress (the sandbox's handle)
        "client_data",  # Keycloak's login-form parameter: carries the app's state
        "tokenid",  # ForgeRock AM's session token in its login answer
        "sessionhandle",  # ForgeRock AM: a handle that can end the session
    }
)
"""Parameter / member names whose values are always secret (compared case-insensitively)."""

SECRET_SUFFIXES: tuple[str, ...] = ("_token", "_secret", "_password", "_code", "_verifier")
"""Any other name ending in one of these is secret too."""

NOT_SECRET_KEYS: frozenset[str] = frozenset(
    {
        "token_type",
        "claim_token_format",
        "error_code",
        "status_code",
        "response_code",
        # S256 challenge: a hash of the verifier, sent through the browser by design.
        "code_challenge",
    }
)
"""Names that look like secrets by the rules above but only describe or point at one."""

SECRET_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "dpop",
        "x-api-key",
        "iplanetdirectorypro",  # ForgeRock AM's default session-token header
    }
)
SECRET_HEADER_SUFFIXES: tuple[str, ...] = ("-token", "-key", "-secret", "-password", "-session")


def is_secret_key(name: str) -> bool:
    """True when a parameter or JSON member called ``name`` holds a secret."""
    key = name.strip().lower().replace("-", "_")
    if key in NOT_SECRET_KEYS:
        return False
    return key in SECRET_KEYS or key.endswith(SECRET_SUFFIXES)


def is_secret_header(name: str) -> bool:
    """True when an HTTP header called ``name`` carries a credential."""
    lower = name.strip().lower()
    return lower in SECRET_HEADERS or lower.endswith(SECRET_HEADER_SUFFIXES)
