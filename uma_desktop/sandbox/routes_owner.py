"""Owner API: UMA WG Policy Manager draft v0.1 (registered resources, policies) and the
UMA Desktop extension (pending requests, history, people, shared-with-me).
docs/owner-api.md is the contract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from uma_desktop.sandbox import claims as policy_claims
from uma_desktop.sandbox.core import Sandbox, subject_view
from uma_desktop.sandbox.decisions import (
    CLAIMS_POLICY_PREFIX,
    deny_pending,
    policy_person,
    record_decision,
    remember_denials,
    remove_share,
)
from uma_desktop.sandbox.errors import OAuthError, invalid_request, not_found
from uma_desktop.sandbox.routes_protection import resource_view
from uma_desktop.sandbox.schemas import ApproveInput, PolicyInput
from uma_desktop.sandbox.store import Row, dumps, loads, new_id
from uma_desktop.sandbox.web import OwnerToken, SandboxDep, require_json
from uma_desktop.uma.errors import ErrorCode

router = APIRouter(tags=["owner"])

Id = Annotated[str, Path(max_length=256)]


def _registered_view(sandbox: Sandbox, row: Row) -> dict[str, Any]:
    view = resource_view(row)
    client = sandbox.client(row["rs_client_id"])
    view["resource_server"] = row["rs_client_id"]
    view["resource_server_name"] = client.name if client else row["rs_client_id"]
    view["share_count"] = int(
        sandbox.store.scalar(
            "SELECT count(*) FROM policies WHERE resource_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (row["id"], sandbox.now()),
        )
        or 0
    )
    return view


def _owned(sandbox: Sandbox, owner_sub: str, resource_id: str) -> Row:
    row = sandbox.store.one(
        "SELECT * FROM resources WHERE id = ? AND owner_sub = ?", (resource_id, owner_sub)
    )
    if row is None:
        raise not_found("resource")
    return row


# Registered resources ------------------------------------------------------------------------


@router.get("/owner/resources")
def registered_resources(
    sandbox: SandboxDep,
    owner: OwnerToken,
    expand: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Ids of the owner's resources on every RS; ``expand=true`` pages full descriptions."""
    where = "owner_sub = ?"
    params: list[Any] = [owner.sub]
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where += " AND lower(coalesce(name, '')) LIKE ? ESCAPE '\\'"
        params.append(f"%{escaped}%")
    if not expand:
        rows = sandbox.store.all(
            f"SELECT id FROM resources WHERE {where} ORDER BY name, id",  # noqa: S608
            params,
        )
        return JSONResponse([row["id"] for row in rows])
    total = sandbox.store.scalar(f"SELECT count(*) FROM resources WHERE {where}", params)  # noqa: S608
    rows = sandbox.store.all(
        f"SELECT * FROM resources WHERE {where} ORDER BY name, id LIMIT ? OFFSET ?",  # noqa: S608
        [*params, limit, offset],
    )
    counts = _share_counts(sandbox, [row["id"] for row in rows])
    clients: dict[str, str] = {}
    items = []
    for row in rows:
        view = resource_view(row)
        rs = row["rs_client_id"]
        if rs not in clients:
            client = sandbox.client(rs)
            clients[rs] = client.name if client else rs
        view.update(
            resource_server=rs,
            resource_server_name=clients[rs],
            share_count=counts.get(row["id"], 0),
        )
        items.append(view)
    return JSONResponse(items, headers={"X-Total-Count": str(total or 0)})


def _share_counts(sandbox: Sandbox, resource_ids: list[str]) -> dict[str, int]:
    if not resource_ids:
        return {}
    marks = ",".join("?" for _ in resource_ids)
    rows = sandbox.store.all(
        f"SELECT resource_id, count(*) AS n FROM policies WHERE resource_id IN ({marks}) "  # noqa: S608
        "AND (expires_at IS NULL OR expires_at > ?) GROUP BY resource_id",
        [*resource_ids, sandbox.now()],
    )
    return {row["resource_id"]: int(row["n"]) for row in rows}


@router.get("/owner/resources/{resource_id}")
def registered_resource(sandbox: SandboxDep, owner: OwnerToken, resource_id: Id) -> dict[str, Any]:
    """One resource with ``resource_server`` (the RS client id) and ``share_count``."""
    return _registered_view(sandbox, _owned(sandbox, owner.sub, resource_id))


# Policies ------------------------------------------------------------------------------------


def _policy_view(sandbox: Sandbox, row: Row) -> dict[str, Any]:
    sub = policy_person(row)
    user = sandbox.user(sub) if sub else None
    view: dict[str, Any] = {
        "_id": row["id"],
        "resource_id": row["resource_id"],
        "resource_scopes": loads(row["scopes"]),
        "required_claims": loads(row["required_claims"]),
        "sub": sub,
        "expires_at": row["expires_at"],
        "created_at": int(row["created_at"]),
        "subject": (subject_view(user) if user else {"sub": sub}) if sub else None,
    }
    if sub is None:
        view["audience"] = policy_claims.describe(loads(row["required_claims"]))
    return view


def _owned_policy(sandbox: Sandbox, owner_sub: str, policy_id: str) -> tuple[Row, Row]:
    policy = sandbox.store.one("SELECT * FROM policies WHERE id = ?", (policy_id,))
    if policy is None:
        raise not_found("policy")
    resource = sandbox.store.one(
        "SELECT * FROM resources WHERE id = ? AND owner_sub = ?", (policy["resource_id"], owner_sub)
    )
    if resource is None:
        raise not_found("policy")
    return policy, resource


def _check_policy(sandbox: Sandbox, owner_sub: str, policy: PolicyInput) -> tuple[Row, list[str]]:
    resource = _owned(sandbox, owner_sub, policy.resource_id)
    problem = policy_claims.invalid_reason(policy.required_claims)
    if problem:
        raise invalid_request(problem)
    if policy.sub is None:
        if not policy.required_claims:
            raise invalid_request("A policy names a person (sub) or required_claims, or both.")
    elif sandbox.user(policy.sub) is None:
        raise invalid_request("sub is not a known person (use the person lookup endpoint).")
    if policy.sub == owner_sub:
        raise invalid_request("The owner always has access; no policy needed.")
    available = loads(resource["scopes"])
    scopes = list(dict.fromkeys(policy.resource_scopes))
    if any(scope not in available for scope in scopes):
        raise OAuthError(ErrorCode.INVALID_SCOPE, "A scope is not registered for the resource.")
    if policy.expires_at is not None and policy.expires_at <= sandbox.now():
        raise invalid_request("expires_at is in the past.")
    return resource, scopes


def _clear_denials(sandbox: Sandbox, resource_id: str, sub: str, scopes: list[str]) -> None:
    for scope in scopes:
        sandbox.store.execute(
            "DELETE FROM denials WHERE resource_id = ? AND sub = ? AND scope = ?",
            (resource_id, sub, scope),
        )


@router.post("/owner/policies", status_code=201, dependencies=[Depends(require_json)])
def create_policy(
    sandbox: SandboxDep, owner: OwnerToken, policy: Annotated[PolicyInput, Body()]
) -> JSONResponse:
    """Share: ``sub`` gets ``resource_scopes``. One policy per (resource, sub): 409 otherwise."""
    resource, scopes = _check_policy(sandbox, owner.sub, policy)
    store = sandbox.store
    with store.transaction():
        existing = (
            store.one(
                "SELECT id FROM policies WHERE resource_id = ? AND sub = ?",
                (resource["id"], policy.sub),
            )
            if policy.sub is not None
            else None
        )
        if existing is not None:
            raise OAuthError(
                ErrorCode.CONFLICT,
                "This person already has a policy on this resource; update it instead.",
                status=409,
                extra={"_id": existing["id"]},
            )
        policy_id = new_id("pol")
        store.execute(
            "INSERT INTO policies (id, resource_id, sub, scopes, required_claims, expires_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                policy_id,
                resource["id"],
                policy.sub or CLAIMS_POLICY_PREFIX + policy_id,
                dumps(scopes),
                dumps(policy.required_claims),
                policy.expires_at,
                sandbox.now(),
            ),
        )
        if policy.sub is not None:
            _clear_denials(sandbox, resource["id"], policy.sub, scopes)
        record_decision(sandbox, owner.sub, "share", resource, policy.sub, scopes)
    return JSONResponse(
        {"_id": policy_id},
        status_code=201,
        headers={"Location": sandbox.url(f"/owner/policies/{policy_id}")},
    )


@router.get("/owner/policies")
def list_policies(
    sandbox: SandboxDep,
    owner: OwnerToken,
    expand: bool = False,
    resource_id: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """Ids of the owner's policies; ``expand=true`` gives full objects."""
    sql = (
        "SELECT p.* FROM policies p JOIN resources r ON r.id = p.resource_id WHERE r.owner_sub = ?"
    )
    params: list[Any] = [owner.sub]
    if resource_id is not None:
        sql += " AND p.resource_id = ?"
        params.append(resource_id)
    rows = sandbox.store.all(sql + " ORDER BY p.created_at, p.id", params)
    if not expand:
        return JSONResponse([row["id"] for row in rows])
    return JSONResponse([_policy_view(sandbox, row) for row in rows])


@router.get("/owner/policies/{policy_id}")
def read_policy(sandbox: SandboxDep, owner: OwnerToken, policy_id: Id) -> dict[str, Any]:
    policy, _ = _owned_policy(sandbox, owner.sub, policy_id)
    return _policy_view(sandbox, policy)


@router.put("/owner/policies/{policy_id}", dependencies=[Depends(require_json)])
def replace_policy(
    sandbox: SandboxDep, owner: OwnerToken, policy_id: Id, policy: Annotated[PolicyInput, Body()]
) -> dict[str, Any]:
    """Full replace. Removing scopes revokes the person's RPTs for this resource."""
    current, resource = _owned_policy(sandbox, owner.sub, policy_id)
    person = policy_person(current)
    if policy.resource_id != current["resource_id"] or policy.sub != person:
        raise invalid_request("resource_id and sub of a policy cannot change.")
    _, scopes = _check_policy(sandbox, owner.sub, policy)
    old = set(loads(current["scopes"]))
    store = sandbox.store
    with store.transaction():
        store.execute(
            "UPDATE policies SET scopes = ?, required_claims = ?, expires_at = ? WHERE id = ?",
            (dumps(scopes), dumps(policy.required_claims), policy.expires_at, policy_id),
        )
        if person is not None:
            _clear_denials(sandbox, resource["id"], person, scopes)
        narrowed = bool(old - set(scopes))
        expiry_moved_earlier = policy.expires_at is not None and (
            current["expires_at"] is None or policy.expires_at < current["expires_at"]
        )
        claims_changed = loads(current["required_claims"]) != policy.required_claims
        if narrowed or expiry_moved_earlier or claims_changed:
            # A claims policy's RPTs may be held by anyone: revoke them all for this resource.
            sandbox.revoke_rpts(person, resource["id"])
        record_decision(
            sandbox, owner.sub, "narrow" if narrowed else "share", resource, person, scopes
        )
    updated = store.one("SELECT * FROM policies WHERE id = ?", (policy_id,))
    assert updated is not None
    return _policy_view(sandbox, updated)


@router.delete("/owner/policies/{policy_id}", status_code=204)
def delete_policy(sandbox: SandboxDep, owner: OwnerToken, policy_id: Id) -> Response:
    """Revoke a share completely (and the RPTs issued under it)."""
    policy, resource = _owned_policy(sandbox, owner.sub, policy_id)
    with sandbox.store.transaction():
        remove_share(sandbox, policy, resource["id"])
        record_decision(
            sandbox, owner.sub, "revoke", resource, policy_person(policy), loads(policy["scopes"])
        )
    return Response(status_code=204)


# Pending requests ----------------------------------------------------------------------------


def _pending_view(sandbox: Sandbox, row: Row) -> dict[str, Any]:
    user = sandbox.user(row["requester_sub"])
    return {
        "_id": row["id"],
        "resource_id": row["resource_id"],
        "resource_name": row["resource_name"],
        "resource_scopes": loads(row["scopes"]),
        "requester": subject_view(user) if user else {"sub": row["requester_sub"]},
        "client_id": row["client_id"],
        "requested_at": int(row["requested_at"]),
    }


def _pending(sandbox: Sandbox, owner_sub: str, request_id: str) -> Row:
    row = sandbox.store.one(
        "SELECT p.*, r.name AS resource_name FROM pending p JOIN resources r "
        "ON r.id = p.resource_id WHERE p.id = ? AND p.owner_sub = ? AND p.status = 'pending'",
        (request_id, owner_sub),
    )
    if row is None:
        raise not_found("pending request")
    return row


@router.get("/owner/requests")
def pending_requests(sandbox: SandboxDep, owner: OwnerToken) -> list[dict[str, Any]]:
    """Requests waiting for the owner's decision (oldest first)."""
    rows = sandbox.store.all(
        "SELECT p.*, r.name AS resource_name FROM pending p JOIN resources r "
        "ON r.id = p.resource_id WHERE p.owner_sub = ? AND p.status = 'pending' "
        "ORDER BY p.requested_at, p.id",
        (owner.sub,),
    )
    return [_pending_view(sandbox, row) for row in rows]


@router.post("/owner/requests/{request_id}/approve", dependencies=[Depends(require_json)])
def approve_request(
    sandbox: SandboxDep,
    owner: OwnerToken,
    request_id: Id,
    decision: Annotated[ApproveInput | None, Body()] = None,
) -> dict[str, str]:
    """Grant all or some requested scopes; scopes left out count as denied."""
    store = sandbox.store
    with store.transaction():
        row = _pending(sandbox, owner.sub, request_id)
        requested = loads(row["scopes"])
        chosen = (
            requested
            if decision is None or decision.resource_scopes is None
            else list(dict.fromkeys(decision.resource_scopes))
        )
        if not chosen:
            raise invalid_request("Approve at least one scope, or deny the request.")
        if any(scope not in requested for scope in chosen):
            raise OAuthError(ErrorCode.INVALID_SCOPE, "Only requested scopes can be approved.")
        resource = _owned(sandbox, owner.sub, row["resource_id"])
        sub = row["requester_sub"]
        policy = store.one(
            "SELECT * FROM policies WHERE resource_id = ? AND sub = ?", (resource["id"], sub)
        )
        if policy is None:
            policy_id = new_id("pol")
            store.execute(
                "INSERT INTO policies (id, resource_id, sub, scopes, expires_at, created_at) "
                "VALUES (?, ?, ?, ?, NULL, ?)",
                (policy_id, resource["id"], sub, dumps(chosen), sandbox.now()),
            )
        else:
            policy_id = policy["id"]
            merged = list(dict.fromkeys([*loads(policy["scopes"]), *chosen]))
            store.execute("UPDATE policies SET scopes = ? WHERE id = ?", (dumps(merged), policy_id))
        _clear_denials(sandbox, resource["id"], sub, chosen)
        now = sandbox.now()
        refused = [scope for scope in requested if scope not in chosen]
        remember_denials(sandbox, resource["id"], sub, refused, now)
        store.execute(
            "UPDATE pending SET status = 'approved', decided_at = ? WHERE id = ?", (now, row["id"])
        )
        record_decision(sandbox, owner.sub, "approve", resource, sub, chosen)
    return {"policy_id": policy_id}


@router.post("/owner/requests/{request_id}/deny")
def deny_request(sandbox: SandboxDep, owner: OwnerToken, request_id: Id) -> dict[str, str]:
    """Refuse the request; the requesting party's next attempt gets request_denied."""
    store = sandbox.store
    with store.transaction():
        row = _pending(sandbox, owner.sub, request_id)
        resource = _owned(sandbox, owner.sub, row["resource_id"])
        scopes = deny_pending(sandbox, row, resource["id"])
        record_decision(sandbox, owner.sub, "deny", resource, row["requester_sub"], scopes)
    return {}


# History, people, shared with me ----------------------------------------------------------


@router.get("/owner/history")
def decision_history(
    sandbox: SandboxDep,
    owner: OwnerToken,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[dict[str, Any]]:
    """Decisions taken on this server (newest first)."""
    rows = sandbox.store.all(
        "SELECT * FROM history WHERE owner_sub = ? ORDER BY at DESC, rowid DESC LIMIT ?",
        (owner.sub, limit),
    )
    return [
        {
            "_id": row["id"],
            "at": int(row["at"]),
            "action": row["action"],
            "resource_id": row["resource_id"],
            "resource_name": row["resource_name"],
            "sub": row["sub"],
            "resource_scopes": loads(row["scopes"]),
        }
        for row in rows
    ]


@router.get("/owner/people")
def person_lookup(
    sandbox: SandboxDep, owner: OwnerToken, q: Annotated[str, Query(min_length=1, max_length=256)]
) -> dict[str, Any]:
    """Find a person by exact username or e-mail."""
    user = sandbox.find_person(q)
    if user is None:
        raise not_found("person")
    return subject_view(user)


@router.get("/owner/shared-with-me")
def shared_with_me(sandbox: SandboxDep, owner: OwnerToken) -> list[dict[str, Any]]:
    """Resources other owners shared with the caller (unexpired policies)."""
    rows = sandbox.store.all(
        "SELECT p.scopes AS granted, p.expires_at, r.* FROM policies p JOIN resources r "
        "ON r.id = p.resource_id WHERE p.sub = ? AND (p.expires_at IS NULL OR p.expires_at > ?) "
        "ORDER BY r.name, r.id",
        (owner.sub, sandbox.now()),
    )
    result = []
    for row in rows:
        owner_row = sandbox.user(row["owner_sub"])
        result.append(
            {
                "resource": _registered_view(sandbox, row),
                "owner": subject_view(owner_row) if owner_row else {"sub": row["owner_sub"]},
                "resource_scopes": loads(row["granted"]),
                "expires_at": row["expires_at"],
            }
        )
    return result
