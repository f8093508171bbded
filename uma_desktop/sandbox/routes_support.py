"""Support API: a resource server's help desk looks up and acts on the shares of its own
resources, with the RS's client-credentials token. docs/owner-api.md ("Support API") is the
contract. Every revoke or deny carries a reason and leaves a row in ``support_audit``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from uma_desktop.sandbox.core import AccessToken, Sandbox, subject_view
from uma_desktop.sandbox.decisions import deny_pending, record_decision, remove_share
from uma_desktop.sandbox.errors import OAuthError, invalid_request, not_found
from uma_desktop.sandbox.store import Row, dumps, loads, new_id
from uma_desktop.sandbox.web import BearerCredentials, SandboxDep, require_json
from uma_desktop.uma.errors import ErrorCode

router = APIRouter(tags=["support"])

Id = Annotated[str, Path(max_length=256)]
PersonQuery = Annotated[str | None, Query(max_length=320)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
STATUSES = ("granted", "expired", "pending", "denied")


class ReasonInput(BaseModel):
    reason: str = Field(default="", max_length=500)


def support_token(sandbox: SandboxDep, credentials: BearerCredentials) -> AccessToken:
    """A resource server's own token (client credentials: the token's subject is the RS)."""
    if credentials is None:
        raise OAuthError(
            ErrorCode.INVALID_TOKEN,
            "A bearer access token is required.",
            status=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    token = sandbox.verify_access_token(credentials.credentials)
    if token is None or token.kind != "access":
        raise OAuthError(
            ErrorCode.INVALID_TOKEN,
            "The access token is missing, invalid or expired.",
            status=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    client = sandbox.client(token.client_id)
    if client is None or client.kind != "rs" or token.sub != token.client_id:
        raise OAuthError(
            ErrorCode.INSUFFICIENT_SCOPE,
            "The support API needs a resource server's own client-credentials token.",
            status=403,
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )
    return token


SupportToken = Annotated[AccessToken, Depends(support_token)]


def _person_sub(sandbox: Sandbox, text: str | None) -> str | None:
    """A person given as sub, username or e-mail; an unknown one matches nobody."""
    if not text:
        return None
    if sandbox.user(text) is not None:
        return text
    row = sandbox.find_person(text)
    return str(row["sub"]) if row else "\x00nobody"


def _people(sandbox: Sandbox, subs: set[str]) -> dict[str, dict[str, Any]]:
    if not subs:
        return {}
    marks = ",".join("?" for _ in subs)
    rows = sandbox.store.all(f"SELECT * FROM users WHERE sub IN ({marks})", list(subs))  # noqa: S608
    return {row["sub"]: subject_view(row) for row in rows}


def _unknown(sub: str) -> dict[str, Any]:
    return {"sub": sub, "username": None, "email": None, "name": None}


def _page(items: list[dict[str, Any]], offset: int, limit: int) -> dict[str, Any]:
    more = len(items) > limit
    return {"items": items[:limit], "next_offset": offset + limit if more else None}


@router.get("/support/people")
def support_person(
    sandbox: SandboxDep, rs: SupportToken, q: Annotated[str, Query(max_length=320)]
) -> dict[str, Any]:
    """A person by username, e-mail or sub (404 ``not_found``)."""
    row = sandbox.user(q) or sandbox.find_person(q)
    if row is None:
        raise not_found("person")
    return subject_view(row)


@router.get("/support/resources")
def support_resources(
    sandbox: SandboxDep,
    rs: SupportToken,
    owner: PersonQuery = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """This RS's resources, by owner and/or name substring, paged."""
    where = "rs_client_id = ?"
    params: list[Any] = [rs.client_id]
    owner_sub = _person_sub(sandbox, owner)
    if owner_sub is not None:
        where += " AND owner_sub = ?"
        params.append(owner_sub)
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where += " AND lower(coalesce(name, '')) LIKE ? ESCAPE '\\'"
        params.append(f"%{escaped}%")
    rows = sandbox.store.all(
        f"SELECT * FROM resources WHERE {where} ORDER BY name, id LIMIT ? OFFSET ?",  # noqa: S608
        [*params, limit + 1, offset],
    )
    people = _people(sandbox, {row["owner_sub"] for row in rows})
    items = [
        {
            "_id": row["id"],
            "name": row["name"],
            "type": row["type"],
            "resource_scopes": loads(row["scopes"]),
            "owner": people.get(row["owner_sub"], _unknown(row["owner_sub"])),
        }
        for row in rows
    ]
    return _page(items, offset, limit)


def _filters(
    sandbox: Sandbox, rs: AccessToken, owner: str | None, resource: str | None
) -> tuple[str, list[Any]]:
    where = "r.rs_client_id = ?"
    params: list[Any] = [rs.client_id]
    owner_sub = _person_sub(sandbox, owner)
    if owner_sub is not None:
        where += " AND r.owner_sub = ?"
        params.append(owner_sub)
    if resource:
        where += " AND r.id = ?"
        params.append(resource)
    return where, params


@router.get("/support/grants")
def support_grants(
    sandbox: SandboxDep,
    rs: SupportToken,
    owner: PersonQuery = None,
    requester: PersonQuery = None,
    resource_id: Annotated[str | None, Query(max_length=256)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Shares and requests on this RS's resources, newest first, paged.

    ``requester`` is the person who holds the share or asked for access; ``status`` is a
    comma-separated subset of granted, expired, pending, denied (default: all).
    """
    wanted = set((status or ",".join(STATUSES)).split(","))
    if not wanted <= set(STATUSES):
        raise invalid_request("status must be a comma-separated subset of " + ", ".join(STATUSES))
    if not (owner or requester or resource_id):
        raise invalid_request("Give at least one of owner, requester or resource_id.")
    where, params = _filters(sandbox, rs, owner, resource_id)
    person_sub = _person_sub(sandbox, requester)
    now = sandbox.now()
    parts: list[str] = []
    args: list[Any] = []
    policy_states = [s for s in ("granted", "expired") if s in wanted]
    if policy_states:
        cond = where + (" AND p.sub = ?" if person_sub else "")
        if policy_states == ["granted"]:
            cond += " AND (p.expires_at IS NULL OR p.expires_at > ?)"
        elif policy_states == ["expired"]:
            cond += " AND p.expires_at IS NOT NULL AND p.expires_at <= ?"
        else:
            cond += " AND ? IS NOT NULL"
        parts.append(
            "SELECT p.id AS id, 'share' AS kind, CASE WHEN p.expires_at IS NOT NULL AND "  # noqa: S608
            "p.expires_at <= ? THEN 'expired' ELSE 'granted' END AS status, r.id AS resource_id, "
            "r.name AS resource_name, r.scopes AS resource_all_scopes, r.owner_sub AS owner_sub, "
            "p.sub AS person_sub, p.scopes AS scopes, p.created_at AS since, "
            "p.expires_at AS expires_at, NULL AS decided_at, NULL AS client_id "
            f"FROM policies p JOIN resources r ON r.id = p.resource_id WHERE {cond}"
        )
        args += [now, *params, *([person_sub] if person_sub else []), now]
    request_states = [s for s in ("pending", "denied") if s in wanted]
    if request_states:
        cond = where + (" AND q.requester_sub = ?" if person_sub else "")
        marks = ",".join("?" for _ in request_states)
        cond += f" AND q.status IN ({marks})"
        parts.append(
            "SELECT q.id AS id, 'request' AS kind, q.status AS status, r.id AS resource_id, "  # noqa: S608
            "r.name AS resource_name, r.scopes AS resource_all_scopes, r.owner_sub AS owner_sub, "
            "q.requester_sub AS person_sub, q.scopes AS scopes, q.requested_at AS since, "
            "NULL AS expires_at, q.decided_at AS decided_at, q.client_id AS client_id "
            f"FROM pending q JOIN resources r ON r.id = q.resource_id WHERE {cond}"
        )
        args += [*params, *([person_sub] if person_sub else []), *request_states]
    sql = " UNION ALL ".join(parts) + " ORDER BY since DESC, id LIMIT ? OFFSET ?"
    rows = sandbox.store.all(sql, [*args, limit + 1, offset])
    people = _people(
        sandbox, {row["owner_sub"] for row in rows} | {row["person_sub"] for row in rows}
    )
    items = [_grant_view(row, people) for row in rows]
    return _page(items, offset, limit)


def _grant_view(row: Row, people: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "_id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "resource_id": row["resource_id"],
        "resource_name": row["resource_name"],
        "resource_all_scopes": loads(row["resource_all_scopes"]),
        "owner": people.get(row["owner_sub"], _unknown(row["owner_sub"])),
        "person": people.get(row["person_sub"], _unknown(row["person_sub"])),
        "resource_scopes": loads(row["scopes"]),
        "since": None if row["since"] is None else int(row["since"]),
        "expires_at": None if row["expires_at"] is None else int(row["expires_at"]),
        "decided_at": None if row["decided_at"] is None else int(row["decided_at"]),
        "client_id": row["client_id"],
    }


def _reason(body: ReasonInput | None) -> str:
    reason = (body.reason if body else "").strip()
    if not reason:
        raise invalid_request("A reason is required (for example the support ticket number).")
    return reason


def _audit(
    sandbox: Sandbox,
    rs: AccessToken,
    action: str,
    target_id: str,
    resource: Row,
    sub: str,
    scopes: list[str],
    reason: str,
) -> str:
    audit_id = new_id("audit")
    sandbox.store.execute(
        "INSERT INTO support_audit (id, rs_client_id, at, action, target_id, resource_id, "
        "owner_sub, sub, scopes, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            audit_id,
            rs.client_id,
            sandbox.now(),
            action,
            target_id,
            resource["id"],
            resource["owner_sub"],
            sub,
            dumps(sorted(scopes)),
            reason,
        ),
    )
    record_decision(sandbox, resource["owner_sub"], action, resource, sub, scopes)
    return audit_id


def _rs_resource(sandbox: Sandbox, rs: AccessToken, resource_id: str) -> Row:
    row = sandbox.store.one(
        "SELECT * FROM resources WHERE id = ? AND rs_client_id = ?", (resource_id, rs.client_id)
    )
    if row is None:
        raise not_found("share")
    return row


@router.post("/support/grants/{grant_id}/revoke", dependencies=[Depends(require_json)])
def support_revoke(
    sandbox: SandboxDep,
    rs: SupportToken,
    grant_id: Id,
    body: Annotated[ReasonInput | None, Body()] = None,
) -> dict[str, str]:
    """Revoke a share on behalf of its owner (``reason`` required) → ``{"audit_id"}``."""
    reason = _reason(body)
    store = sandbox.store
    with store.transaction():
        policy = store.one("SELECT * FROM policies WHERE id = ?", (grant_id,))
        if policy is None:
            raise not_found("share")
        resource = _rs_resource(sandbox, rs, policy["resource_id"])
        remove_share(sandbox, policy, resource["id"])
        audit_id = _audit(
            sandbox,
            rs,
            "revoke",
            grant_id,
            resource,
            policy["sub"],
            loads(policy["scopes"]),
            reason,
        )
    return {"audit_id": audit_id}


@router.post("/support/grants/{request_id}/deny", dependencies=[Depends(require_json)])
def support_deny(
    sandbox: SandboxDep,
    rs: SupportToken,
    request_id: Id,
    body: Annotated[ReasonInput | None, Body()] = None,
) -> dict[str, str]:
    """Deny a pending request on behalf of the owner (``reason`` required) → ``{"audit_id"}``."""
    reason = _reason(body)
    store = sandbox.store
    with store.transaction():
        row = store.one("SELECT * FROM pending WHERE id = ? AND status = 'pending'", (request_id,))
        if row is None:
            raise not_found("pending request")
        resource = _rs_resource(sandbox, rs, row["resource_id"])
        scopes = deny_pending(sandbox, row, resource["id"])
        audit_id = _audit(
            sandbox, rs, "deny", request_id, resource, row["requester_sub"], scopes, reason
        )
    return {"audit_id": audit_id}


@router.get("/support/audit")
def support_audit(
    sandbox: SandboxDep, rs: SupportToken, offset: Offset = 0, limit: Limit = 100
) -> dict[str, Any]:
    """What this RS's support staff changed, newest first."""
    rows = sandbox.store.all(
        "SELECT * FROM support_audit WHERE rs_client_id = ? ORDER BY at DESC, rowid DESC "
        "LIMIT ? OFFSET ?",
        (rs.client_id, limit + 1, offset),
    )
    items = [
        {
            "_id": row["id"],
            "at": int(row["at"]),
            "action": row["action"],
            "target_id": row["target_id"],
            "resource_id": row["resource_id"],
            "owner_sub": row["owner_sub"],
            "sub": row["sub"],
            "resource_scopes": loads(row["scopes"]),
            "reason": row["reason"],
        }
        for row in rows
    ]
    return _page(items, offset, limit)
