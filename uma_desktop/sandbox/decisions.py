"""Steps the owner's API and the support API take alike: record a decision in the owner's
history, remove a share, deny a request."""

from __future__ import annotations

from uma_desktop.sandbox.core import Sandbox
from uma_desktop.sandbox.store import Row, dumps, loads, new_id


def record_decision(
    sandbox: Sandbox, owner_sub: str, action: str, resource: Row, sub: str | None, scopes: list[str]
) -> None:
    """One row of the owner's decision history."""
    sandbox.store.execute(
        "INSERT INTO history (id, owner_sub, at, action, resource_id, resource_name, sub, scopes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id("hist"),
            owner_sub,
            sandbox.now(),
            action,
            resource["id"],
            resource["name"],
            sub,
            dumps(sorted(scopes)),
        ),
    )


def remember_denials(
    sandbox: Sandbox, resource_id: str, sub: str, scopes: list[str], at: float
) -> None:
    """Record that ``sub`` was refused ``scopes`` (their next attempt gets request_denied)."""
    for scope in scopes:
        sandbox.store.execute(
            "INSERT OR REPLACE INTO denials (resource_id, sub, scope, at) VALUES (?, ?, ?, ?)",
            (resource_id, sub, scope, at),
        )


def deny_pending(sandbox: Sandbox, request: Row, resource_id: str) -> list[str]:
    """Mark a pending request denied and remember a denial per scope; returns its scopes."""
    now = sandbox.now()
    scopes: list[str] = loads(request["scopes"])
    remember_denials(sandbox, resource_id, request["requester_sub"], scopes, now)
    sandbox.store.execute(
        "UPDATE pending SET status = 'denied', decided_at = ? WHERE id = ?", (now, request["id"])
    )
    return scopes


CLAIMS_POLICY_PREFIX = "claims:"  # a claims policy's stored ``sub``: it names no one


def policy_person(policy: Row) -> str | None:
    """The person a policy names; None for a claims policy (anyone with the claims)."""
    sub = str(policy["sub"])
    return None if sub.startswith(CLAIMS_POLICY_PREFIX) else sub


def remove_share(sandbox: Sandbox, policy: Row, resource_id: str) -> None:
    """Delete a share and invalidate the RPTs issued under it."""
    sandbox.store.execute("DELETE FROM policies WHERE id = ?", (policy["id"],))
    sandbox.revoke_rpts(policy_person(policy), resource_id)  # None: everyone's
