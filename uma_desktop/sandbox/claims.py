"""Claims-based policies: what a requesting party's claims are, and whether they satisfy a
policy's ``required_claims`` (UMA WG Policy Manager draft: a policy's ``required_claims``,
shaped like the UMA Grant's ``need_info`` hints, §3.3.6).

Each required claim names a claim and the value it must have: ``{"name": "email_domain",
"value": "example.org"}`` holds for a party whose *verified* e-mail address is at that
domain; any other name holds when the party's claim of that name equals the value.
"""

from __future__ import annotations

from typing import Any

from uma_desktop.sandbox.store import Row
from uma_desktop.uma.tokens import ID_TOKEN_CLAIM_FORMAT

EMAIL_DOMAIN = "email_domain"
CLAIM_NAMES = frozenset({EMAIL_DOMAIN, "email", "preferred_username", "name", "sub"})


def user_claims(user: Row) -> dict[str, Any]:
    """The claims the server itself verified for one of its users (they signed in here)."""
    return {
        "sub": user["sub"],
        "preferred_username": user["username"],
        "name": user["name"],
        "email": user["email"],
        "email_verified": True,
    }


def _email_domain(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str) or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def holds(claims: dict[str, Any], required: dict[str, Any]) -> bool:
    name, value = required.get("name"), required.get("value")
    if not isinstance(name, str) or not isinstance(value, str):
        return False
    if name == EMAIL_DOMAIN:
        return _email_domain(claims) == value.strip().lower()
    presented = claims.get(name)
    return isinstance(presented, str) and presented == value


def satisfied(claims: dict[str, Any], required_claims: list[dict[str, Any]]) -> bool:
    """Every required claim holds (an empty list holds for anyone the policy names)."""
    return all(holds(claims, required) for required in required_claims)


def invalid_reason(required_claims: list[dict[str, Any]]) -> str | None:
    """Why a policy's ``required_claims`` cannot be evaluated, or None when they can."""
    for required in required_claims:
        name, value = required.get("name"), required.get("value")
        if not isinstance(name, str) or name not in CLAIM_NAMES:
            return "Each required claim needs a name: one of " + ", ".join(sorted(CLAIM_NAMES))
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            return f"The required claim {name} needs a value (text, at most 256 characters)."
    return None


def hints(required_claims: list[dict[str, Any]], issuer: str) -> list[dict[str, Any]]:
    """``need_info`` hints (UMA Grant §3.3.6) naming the claims a policy looks at."""
    out: list[dict[str, Any]] = []
    for required in required_claims:
        name = required.get("name")
        if not isinstance(name, str):
            continue
        claim = "email" if name == EMAIL_DOMAIN else name
        friendly = (
            f"Verified e-mail address at {required.get('value')}"
            if name == EMAIL_DOMAIN
            else f"{name} = {required.get('value')}"
        )
        hint = {
            "claim_token_format": [ID_TOKEN_CLAIM_FORMAT],
            "claim_type": claim,
            "friendly_name": friendly,
            "issuer": [issuer],
            "name": claim,
        }
        if hint not in out:
            out.append(hint)
    return out


def describe(required_claims: list[dict[str, Any]]) -> str:
    """A person-readable name for a claims policy's audience."""
    parts = []
    for required in required_claims:
        name, value = required.get("name"), required.get("value")
        if name == EMAIL_DOMAIN:
            parts.append(f"a verified e-mail at {value}")
        else:
            parts.append(f"{name} = {value}")
    return "Anyone with " + " and ".join(parts) if parts else "Anyone"
