"""The UMA grant at the token endpoint (UMA 2.0 Grant §3.3): tickets, claims, assessment.

Policy: the owner has every scope; a policy for (resource, person) that has not expired
grants its scopes; scopes the owner refused stay refused; anything else becomes (or joins)
a pending request for the owner. When nothing is granted yet the answer is
``request_submitted`` with a new ticket; when some scopes are granted the answer is an RPT
with those (UMA Grant §3.3.5 lets the server issue the partial set) while the owner is asked
about the rest (docs/sandbox.md, "Partial grants").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt

from uma_desktop.sandbox import claims as policy_claims
from uma_desktop.sandbox.core import Client, Sandbox
from uma_desktop.sandbox.errors import OAuthError, invalid_request
from uma_desktop.sandbox.store import Row, digest, dumps, loads, new_id, new_secret
from uma_desktop.uma.errors import ErrorCode
from uma_desktop.uma.metadata import UMA_TICKET_GRANT
from uma_desktop.uma.tokens import ID_TOKEN_CLAIM_FORMAT

ACCEPTED_CLAIM_FORMATS = frozenset(
    {ID_TOKEN_CLAIM_FORMAT, "urn:ietf:params:oauth:token-type:id_token"}
)


def new_ticket(
    sandbox: Sandbox,
    *,
    owner_sub: str,
    rs_client_id: str,
    permissions: list[dict[str, Any]],
    rqp_sub: str | None = None,
    client_id: str | None = None,
    pending_id: str | None = None,
) -> str:
    ticket = "tkt-" + new_secret()
    sandbox.store.execute(
        "INSERT INTO tickets (hash, owner_sub, rs_client_id, permissions, exp, rqp_sub, client_id, "
        "pending_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            digest(ticket),
            owner_sub,
            rs_client_id,
            dumps(permissions),
            sandbox.now() + sandbox.settings.ticket_lifetime,
            rqp_sub,
            client_id,
            pending_id,
        ),
    )
    return ticket


def consume_ticket(sandbox: Sandbox, ticket_hash: str) -> Row:
    """Mark a ticket used (single use) and return it; invalid_grant if unknown/used/expired."""
    store = sandbox.store
    with store.transaction():
        row = store.one("SELECT * FROM tickets WHERE hash = ?", (ticket_hash,))
        if row is None:
            raise OAuthError(ErrorCode.INVALID_GRANT, "Unknown permission ticket.")
        if row["used"]:
            raise OAuthError(ErrorCode.INVALID_GRANT, "The permission ticket was already used.")
        store.execute("UPDATE tickets SET used = 1 WHERE hash = ?", (ticket_hash,))
    if row["exp"] <= sandbox.now():
        raise OAuthError(ErrorCode.INVALID_GRANT, "The permission ticket has expired.")
    return row


def continue_ticket(sandbox: Sandbox, row: Row, **changes: Any) -> str:
    """A fresh ticket for the same authorization process (need_info, request_submitted)."""
    fields: dict[str, Any] = {
        "owner_sub": row["owner_sub"],
        "rs_client_id": row["rs_client_id"],
        "permissions": loads(row["permissions"]),
        "rqp_sub": row["rqp_sub"],
        "client_id": row["client_id"],
        "pending_id": row["pending_id"],
    }
    fields.update(changes)
    return new_ticket(sandbox, **fields)


@dataclass
class Assessment:
    granted: dict[str, set[str]] = field(default_factory=dict)
    undecided: dict[str, set[str]] = field(default_factory=dict)
    denied: dict[str, set[str]] = field(default_factory=dict)
    not_after: dict[str, int] = field(default_factory=dict)  # policy expiry per resource


def _identify(
    sandbox: Sandbox,
    client: Client,
    ticket: Row,
    claim_token: str | None,
    claim_token_format: str | None,
    pct: str | None,
) -> tuple[str | None, bool, dict[str, Any]]:
    """The requesting party's subject, whether it came from claims (not from a PCT), and the
    claims to judge claims policies by: a pushed ID token's own claims, else those this
    server verified when the party signed in here (claims interaction, or the PCT's)."""
    if claim_token:
        if claim_token_format not in ACCEPTED_CLAIM_FORMATS:
            return None, False, {}
        claims = sandbox.verify_id_token(claim_token, client.client_id)
        return (str(claims["sub"]), True, claims) if claims else (None, False, {})
    if pct:
        row = sandbox.store.one("SELECT * FROM pcts WHERE hash = ?", (digest(pct),))
        if (
            row is not None
            and row["client_id"] == client.client_id
            and not row["revoked"]
            and row["exp"] > sandbox.now()
        ):
            return str(row["sub"]), False, _known_claims(sandbox, str(row["sub"]))
        return None, False, {}
    if ticket["rqp_sub"] and ticket["client_id"] == client.client_id:
        # Claims gathered earlier in this process (claims interaction, or a pushed token).
        sub = str(ticket["rqp_sub"])
        return sub, True, _known_claims(sandbox, sub)
    return None, False, {}


def _known_claims(sandbox: Sandbox, sub: str) -> dict[str, Any]:
    user = sandbox.user(sub)
    return policy_claims.user_claims(user) if user is not None else {"sub": sub}


def _claims_policies(sandbox: Sandbox, resource_ids: list[str]) -> list[dict[str, Any]]:
    """The required claims of every claims policy (one with no person) on these resources."""
    found: list[dict[str, Any]] = []
    for resource_id in resource_ids:
        for row in sandbox.store.all(
            "SELECT required_claims FROM policies WHERE resource_id = ? AND sub LIKE 'claims:%'",
            (resource_id,),
        ):
            found.extend(loads(row["required_claims"]))
    return found


def _need_info(sandbox: Sandbox, ticket: Row, client: Client) -> OAuthError:
    new = continue_ticket(sandbox, ticket, rqp_sub=None, client_id=client.client_id)
    resource_ids = [p["resource_id"] for p in loads(ticket["permissions"])]
    return OAuthError(
        ErrorCode.NEED_INFO,
        "Tell the server who you are: push an ID token or use the claims interaction endpoint.",
        status=403,
        extra={
            "ticket": new,
            "required_claims": [
                {
                    "claim_token_format": [ID_TOKEN_CLAIM_FORMAT],
                    "claim_type": "sub",
                    "friendly_name": "Requesting party",
                    "issuer": [sandbox.issuer],
                    "name": "sub",
                },
                *policy_claims.hints(_claims_policies(sandbox, resource_ids), sandbox.issuer),
            ],
            "redirect_user": sandbox.url("/claims"),
        },
    )


def assess(
    sandbox: Sandbox,
    rqp_sub: str,
    requested: dict[str, set[str]],
    resources: dict[str, Row],
    claims: dict[str, Any] | None = None,
) -> Assessment:
    """Per resource: what the party's own policy and any claims policy it satisfies grant."""
    result = Assessment()
    now = sandbox.now()
    presented = claims if claims is not None else _known_claims(sandbox, rqp_sub)
    for resource_id, scopes in requested.items():
        resource = resources[resource_id]
        if resource["owner_sub"] == rqp_sub:
            result.granted[resource_id] = set(scopes)
            continue
        allowed: set[str] = set()
        expiries: list[int] = []
        lasting = False
        for policy in sandbox.store.all(
            "SELECT scopes, expires_at, required_claims FROM policies "
            "WHERE resource_id = ? AND (sub = ? OR sub LIKE 'claims:%')",
            (resource_id, rqp_sub),
        ):
            if policy["expires_at"] is not None and policy["expires_at"] <= now:
                continue
            if not policy_claims.satisfied(presented, loads(policy["required_claims"])):
                continue
            allowed |= set(loads(policy["scopes"]))
            if policy["expires_at"] is None:
                lasting = True
            else:
                expiries.append(int(policy["expires_at"]))
        if allowed and not lasting and expiries:
            result.not_after[resource_id] = max(expiries)
        refused = {
            row["scope"]
            for row in sandbox.store.all(
                "SELECT scope FROM denials WHERE resource_id = ? AND sub = ?",
                (resource_id, rqp_sub),
            )
        }
        result.granted[resource_id] = scopes & allowed
        rest = scopes - allowed
        result.denied[resource_id] = rest & refused
        result.undecided[resource_id] = rest - refused
    return result


def _file_request(
    sandbox: Sandbox,
    client: Client,
    rqp_sub: str,
    undecided: dict[str, set[str]],
    resources: dict[str, Row],
) -> str | None:
    """Create or extend the owner's pending request(s); the first request's id."""
    store = sandbox.store
    pending_id: str | None = None
    with store.transaction():
        for resource_id, scopes in undecided.items():
            if not scopes:
                continue
            existing = store.one(
                "SELECT id, scopes FROM pending WHERE resource_id = ? AND requester_sub = ? "
                "AND status = 'pending'",
                (resource_id, rqp_sub),
            )
            if existing is not None:
                merged = sorted(set(loads(existing["scopes"])) | scopes)
                store.execute(
                    "UPDATE pending SET scopes = ?, client_id = ? WHERE id = ?",
                    (dumps(merged), client.client_id, existing["id"]),
                )
                pending_id = pending_id or existing["id"]
            else:
                created = new_id("req")
                store.execute(
                    "INSERT INTO pending (id, resource_id, owner_sub, requester_sub, client_id, "
                    "scopes, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        created,
                        resource_id,
                        resources[resource_id]["owner_sub"],
                        rqp_sub,
                        client.client_id,
                        dumps(sorted(scopes)),
                        sandbox.now(),
                    ),
                )
                pending_id = pending_id or created
    return pending_id


def _submit_request(
    sandbox: Sandbox,
    ticket: Row,
    client: Client,
    rqp_sub: str,
    undecided: dict[str, set[str]],
    resources: dict[str, Row],
) -> OAuthError:
    """File the owner's pending request(s), answer request_submitted."""
    pending_id = _file_request(sandbox, client, rqp_sub, undecided, resources)
    new = continue_ticket(
        sandbox, ticket, rqp_sub=rqp_sub, client_id=client.client_id, pending_id=pending_id
    )
    return OAuthError(
        ErrorCode.REQUEST_SUBMITTED,
        "The owner has been asked; try again with the new ticket later.",
        status=403,
        extra={"ticket": new, "interval": sandbox.settings.request_interval},
    )


def _old_rpt_permissions(
    sandbox: Sandbox, rpt: str | None, rqp_sub: str, client: Client
) -> tuple[list[dict[str, Any]], str | None]:
    """Permissions of an earlier RPT of the same party and client (it may have expired)."""
    if not rpt:
        return [], None
    try:
        claims = sandbox.signer.verify(rpt, issuer=sandbox.issuer)
    except jwt.InvalidTokenError:
        return [], None
    row = sandbox.store.one("SELECT * FROM access_tokens WHERE jti = ?", (claims.get("jti"),))
    if (
        row is None
        or row["kind"] != "rpt"
        or row["revoked"]
        or row["sub"] != rqp_sub
        or row["client_id"] != client.client_id
    ):
        return [], None
    now = sandbox.now()
    kept = [p for p in loads(row["permissions"]) or [] if p.get("exp") is None or p["exp"] > now]
    return kept, str(row["jti"])


def uma_ticket_grant(
    sandbox: Sandbox,
    client: Client,
    *,
    ticket: str | None,
    claim_token: str | None,
    claim_token_format: str | None,
    pct: str | None,
    rpt: str | None,
    scope: str | None,
) -> dict[str, Any]:
    if UMA_TICKET_GRANT not in client.grant_types:
        raise OAuthError(ErrorCode.UNAUTHORIZED_CLIENT, "This client may not use the UMA grant.")
    if not ticket:
        raise invalid_request("ticket is required.")
    if bool(claim_token) != bool(claim_token_format):
        raise invalid_request("claim_token and claim_token_format go together.")
    row = consume_ticket(sandbox, digest(ticket))
    rqp_sub, fresh_claims, presented = _identify(
        sandbox, client, row, claim_token, claim_token_format, pct
    )
    if rqp_sub is None:
        raise _need_info(sandbox, row, client)

    ticket_permissions: list[dict[str, Any]] = loads(row["permissions"])
    resources: dict[str, Row] = {}
    for permission in ticket_permissions:
        resource = sandbox.store.one(
            "SELECT * FROM resources WHERE id = ?", (permission["resource_id"],)
        )
        if resource is not None:
            resources[resource["id"]] = resource
    if not resources:
        raise OAuthError(ErrorCode.INVALID_GRANT, "The ticket's resources no longer exist.")
    extra = set((scope or "").split())
    available = {rid: set(loads(res["scopes"])) for rid, res in resources.items()}
    if extra - set().union(*available.values()):
        raise OAuthError(ErrorCode.INVALID_SCOPE, "A requested scope matches no resource.")
    requested: dict[str, set[str]] = {}
    for permission in ticket_permissions:
        rid = permission["resource_id"]
        if rid not in resources:
            continue
        asked = set(permission["resource_scopes"]) or set(available[rid])
        requested[rid] = requested.get(rid, set()) | asked | (extra & available[rid])

    result = assess(sandbox, rqp_sub, requested, resources, presented)
    if any(result.undecided.values()):
        if not any(result.granted.values()):
            raise _submit_request(sandbox, row, client, rqp_sub, result.undecided, resources)
        # Partial grant: an RPT for what is allowed now, the owner asked about the rest.
        _file_request(sandbox, client, rqp_sub, result.undecided, resources)
    carried, old_jti = _old_rpt_permissions(sandbox, rpt, rqp_sub, client)
    if not any(result.granted.values()) and not carried:
        raise OAuthError(ErrorCode.REQUEST_DENIED, "The owner has not allowed this.", status=403)

    permissions: dict[str, dict[str, Any]] = {}
    for permission in carried:
        permissions[permission["resource_id"]] = dict(permission)
    for rid, scopes in result.granted.items():
        if not scopes:
            continue
        entry = permissions.setdefault(rid, {"resource_id": rid, "resource_scopes": []})
        entry["resource_scopes"] = sorted(set(entry["resource_scopes"]) | scopes)
        if rid in result.not_after:
            entry["exp"] = result.not_after[rid]
        else:
            entry.pop("exp", None)
    granted = list(permissions.values())
    expiries = [p["exp"] for p in granted if p.get("exp") is not None]
    family = new_id("fam")
    access, expires_in = sandbox.issue_access_token(
        client_id=client.client_id,
        sub=rqp_sub,
        scope="",
        kind="rpt",
        family=family,
        permissions=granted,
        not_after=min(expiries) if expiries else None,
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }
    if "refresh_token" in client.grant_types:
        body["refresh_token"] = sandbox.issue_refresh_token(
            client_id=client.client_id, sub=rqp_sub, scope="", family=family, permissions=granted
        )
    if old_jti is not None:
        body["upgraded"] = True
        sandbox.store.execute("UPDATE access_tokens SET revoked = 1 WHERE jti = ?", (old_jti,))
    if fresh_claims:
        new_pct = "pct-" + new_secret()
        sandbox.store.execute(
            "INSERT INTO pcts (hash, client_id, sub, exp) VALUES (?, ?, ?, ?)",
            (
                digest(new_pct),
                client.client_id,
                rqp_sub,
                sandbox.now() + sandbox.settings.pct_lifetime,
            ),
        )
        body["pct"] = new_pct
    return body
