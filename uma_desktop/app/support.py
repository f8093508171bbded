"""The support desk: a resource server's help desk looks up anyone's shares, explains why
someone can or cannot do something, and acts on an owner's behalf with a trail.

Support connections (an RS's client id on an authorization server; the secret only in the
OS keyring) live in their own file, apart from owner connections: owner views never see
them. Acting on behalf is off by default per connection; every lookup and action is
appended to the local audit log (:mod:`uma_desktop.app.audit`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uma_desktop import net
from uma_desktop.app import support_auth
from uma_desktop.app.audit import AuditEntry, AuditLog
from uma_desktop.app.storage import atomic_write_text, read_json, write_json
from uma_desktop.backends.support_base import (
    ActionReceipt,
    GrantStatus,
    Page,
    PersonLookup,
    SupportBackend,
    SupportGrant,
    SupportPerson,
    SupportResource,
)
from uma_desktop.backends.support_keycloak import KeycloakSupportBackend
from uma_desktop.backends.support_sandbox import SandboxSupportBackend, support_endpoint
from uma_desktop.errors import ConfigurationError, NotFoundError, NotSupportedError
from uma_desktop.paths import AppDirs, app_dirs

CONNECTIONS_FILE = "support-connections.json"
KINDS = ("policy-manager", "keycloak")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,60}$")
NAMED_RESOURCES = 10  # a resource looked up by name: its shares, for this many matches
WHY_PAGES = 20  # a person's shares are read page by page, at most this many pages


@dataclass(frozen=True)
class SupportConnection:
    """A resource server's credentials on one authorization server (secret in the keyring)."""

    id: str
    name: str
    issuer: str
    kind: str
    client_id: str
    token_endpoint: str
    acting_enabled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "issuer": self.issuer,
            "kind": self.kind,
            "client_id": self.client_id,
            "token_endpoint": self.token_endpoint,
            "acting_enabled": self.acting_enabled,
        }

    @staticmethod
    def from_json(item: Any) -> SupportConnection | None:
        if not isinstance(item, dict):
            return None
        try:
            connection = SupportConnection(
                id=str(item["id"]),
                name=str(item["name"]),
                issuer=str(item["issuer"]),
                kind=str(item["kind"]),
                client_id=str(item["client_id"]),
                token_endpoint=str(item["token_endpoint"]),
                acting_enabled=item.get("acting_enabled") is True,
            )
        except KeyError:
            return None
        ok = _ID.match(connection.id) and connection.kind in KINDS
        return connection if ok else None


# -- the plain-language answer ------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """``verdict``: can, partly, cannot. ``lines``: the answer, then the facts behind it."""

    verdict: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "an unknown date"


def _scopes(scopes: Iterable[str]) -> str:
    names = [f"“{s}”" for s in scopes]
    return ", ".join(names) if names else "nothing"


def explain(
    person: str,
    resource: str,
    grants: Sequence[SupportGrant],
    *,
    scope: str | None = None,
    now: datetime | None = None,
) -> Explanation:
    """Why ``person`` can or cannot use ``resource`` (for ``scope``, or at all), from the
    shares and requests found for that person on that resource. Pure: no I/O."""
    now = now or datetime.now(UTC)
    wanted = f"{scope} " if scope else "use "
    active = [
        g
        for g in grants
        if g.status is GrantStatus.GRANTED and (g.expires_at is None or g.expires_at > now)
    ]
    expired = [
        g
        for g in grants
        if g.status is GrantStatus.EXPIRED
        or (g.status is GrantStatus.GRANTED and g.expires_at is not None and g.expires_at <= now)
    ]
    pending = [g for g in grants if g.status is GrantStatus.PENDING]
    denied = [g for g in grants if g.status is GrantStatus.DENIED]
    granted_scopes = sorted({s for g in active for s in g.scopes})
    facts: list[str] = []
    for g in active:
        until = f", until {_day(g.expires_at)}" if g.expires_at else ""
        since = f" since {_day(g.since)}" if g.since else ""
        facts.append(f"Shared by {g.owner.label}: {_scopes(g.scopes)}{since}{until}.")
    for g in expired:
        facts.append(f"A share of {_scopes(g.scopes)} expired on {_day(g.expires_at)}.")
    for g in pending:
        via = f" through {g.client_id}" if g.client_id else ""
        since = f"since {_day(g.since)}" if g.since else "(the server keeps no date)"
        facts.append(f"Asked for {_scopes(g.scopes)}{via}: pending {since}.")
    for g in denied:
        facts.append(
            f"{g.owner.label} denied a request for {_scopes(g.scopes)} on {_day(g.decided_at)}."
        )

    def answer(verdict: str, headline: str) -> Explanation:
        return Explanation(verdict, (headline, *facts))

    if active and (scope is None or scope in granted_scopes):
        what = f"{scope}" if scope else _scopes(granted_scopes)
        return answer(
            "can", f"{person} can {wanted if scope else 'use '}{resource}: shared {what}."
        )
    if active and scope is not None:
        headline = (
            f"{person} cannot {scope} {resource}: it is shared {_scopes(granted_scopes)} only, "
            f"not “{scope}”."
        )
        if any(scope in g.scopes for g in pending):
            headline += f" A request for “{scope}” is pending."
        return answer("partly", headline)
    if pending:
        first = min(pending, key=lambda g: g.since or now)
        since = f"since {_day(first.since)}" if first.since else "(no date kept)"
        return answer(
            "cannot",
            f"{person} cannot {wanted}{resource} yet: the request is pending {since}; "
            f"{first.owner.label} has not decided.",
        )
    if denied:
        last = max(denied, key=lambda g: g.decided_at or now)
        return answer(
            "cannot",
            f"{person} cannot {wanted}{resource}: {last.owner.label} denied the request "
            f"on {_day(last.decided_at)}.",
        )
    if expired:
        last = max(expired, key=lambda g: g.expires_at or now)
        return answer(
            "cannot",
            f"{person} cannot {wanted}{resource}: the share expired on {_day(last.expires_at)}.",
        )
    return answer(
        "cannot",
        f"{person} cannot {wanted}{resource}: it is not shared with them and they have "
        "not asked for access.",
    )


# -- lookups and their export --------------------------------------------------------------


@dataclass(frozen=True)
class ResourceGroup:
    resource_id: str
    resource_name: str
    owner: SupportPerson
    shares: tuple[SupportGrant, ...]
    requests: tuple[SupportGrant, ...]


@dataclass(frozen=True)
class Lookup:
    connection_id: str
    connection_name: str
    query: str
    role: str  # owner | requester | resource
    person: PersonLookup | None
    groups: tuple[ResourceGroup, ...]
    next_offset: int | None
    at: datetime


def group_by_resource(grants: Iterable[SupportGrant]) -> tuple[ResourceGroup, ...]:
    """Resource → its shares and its requests, in the order resources first appear."""
    order: dict[str, list[SupportGrant]] = {}
    for grant in grants:
        order.setdefault(grant.resource_id, []).append(grant)
    return tuple(
        ResourceGroup(
            resource_id=rid,
            resource_name=items[0].resource_name,
            owner=items[0].owner,
            shares=tuple(g for g in items if g.is_share),
            requests=tuple(g for g in items if not g.is_share),
        )
        for rid, items in order.items()
    )


CASE_FIELDS = (
    "resource_id",
    "resource_name",
    "owner",
    "kind",
    "status",
    "person",
    "scopes",
    "since",
    "expires_at",
    "decided_at",
    "client_id",
)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def case_rows(lookup: Lookup) -> list[dict[str, str]]:
    rows = []
    for group in lookup.groups:
        for grant in (*group.shares, *group.requests):
            rows.append(
                {
                    "resource_id": grant.resource_id,
                    "resource_name": grant.resource_name,
                    "owner": grant.owner.label,
                    "kind": "share" if grant.is_share else "request",
                    "status": grant.status.value,
                    "person": grant.person.label,
                    "scopes": " ".join(grant.scopes),
                    "since": _iso(grant.since),
                    "expires_at": _iso(grant.expires_at),
                    "decided_at": _iso(grant.decided_at),
                    "client_id": grant.client_id or "",
                }
            )
    return rows


def case_header(lookup: Lookup, note: str) -> dict[str, str]:
    return {
        "connection": f"{lookup.connection_name} ({lookup.connection_id})",
        "lookup": f"{lookup.role}: {lookup.query}",
        "person": lookup.person.person.label if lookup.person else "",
        "time": _iso(lookup.at),
        "note": note,
    }


def render_case(lookup: Lookup, note: str, fmt: str) -> str:
    """The lookup as a case file: ``json`` (header + rows) or ``csv`` (header lines first)."""
    header = case_header(lookup, note)
    rows = case_rows(lookup)
    if fmt == "json":
        return json.dumps({"case": header, "entries": rows}, ensure_ascii=False, indent=1)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for key, value in header.items():
        writer.writerow([f"# {key}", value])
    dict_writer = csv.DictWriter(buffer, fieldnames=CASE_FIELDS)
    dict_writer.writeheader()
    dict_writer.writerows(rows)
    return buffer.getvalue()


# -- the desk --------------------------------------------------------------------------------


class _Live:
    def __init__(
        self, connection: SupportConnection, vault: support_auth.TokenVault, timeout: float
    ) -> None:
        self.client = net.async_client(
            actor="support", connection_id=connection.id, timeout=timeout
        )
        tokens = support_auth.token_source(
            self.client, connection.token_endpoint, connection.client_id, vault, connection.id
        )
        self.backend: SupportBackend
        if connection.kind == "keycloak":
            self.backend = KeycloakSupportBackend(connection.issuer, self.client, tokens)
        else:
            self.backend = SandboxSupportBackend(
                support_endpoint(connection.issuer, None), self.client, tokens
            )


class SupportDesk:
    """Support connections, lookups, the why-answer, acting on behalf, the audit log."""

    def __init__(
        self,
        dirs: AppDirs | None = None,
        *,
        vault_factory: support_auth.SupportVaultFactory | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.dirs = dirs or app_dirs()
        self._file = self.dirs.config / CONNECTIONS_FILE
        self._vault_factory = vault_factory or support_auth.default_support_vault
        self._vault: support_auth.TokenVault | None = None
        self._timeout = timeout
        self._live: dict[str, _Live] = {}
        self._known: list[SupportConnection] | None = None  # the file, as last read or written
        self.audit = AuditLog(self.dirs.data)

    # connections

    def _vault_now(self) -> support_auth.TokenVault:
        if self._vault is None:
            self._vault = self._vault_factory()
        return self._vault

    def connections(self) -> list[SupportConnection]:
        if self._known is None:
            data = read_json(self._file, "support connections") or []
            items = data if isinstance(data, list) else []
            found = [SupportConnection.from_json(item) for item in items]
            self._known = [c for c in found if c is not None]
        return list(self._known)

    def connection(self, connection_id: str) -> SupportConnection:
        for connection in self.connections():
            if connection.id == connection_id:
                return connection
        raise ConfigurationError(f"There is no support connection {connection_id!r}.")

    def _save(self, connections: list[SupportConnection]) -> None:
        write_json(self._file, [c.to_json() for c in connections])
        self._known = list(connections)

    def _log(self, connection: SupportConnection, action: str, **fields: str) -> None:
        self.audit.append(AuditEntry(connection.id, connection.name, action, **fields))

    async def add(
        self,
        issuer: str,
        client_id: str,
        secret: str,
        *,
        name: str | None = None,
        kind: str | None = None,
    ) -> SupportConnection:
        """Discover the server, keep the secret in the keyring, check it with a token."""
        if not client_id.strip() or not secret:
            raise ConfigurationError("A support connection needs a client id and a secret.")
        async with net.async_client(actor="support", timeout=self._timeout) as client:
            metadata = await support_auth.discover(issuer, client)
        if not metadata.token_endpoint:
            raise NotSupportedError(f"{metadata.issuer} publishes no token endpoint.")
        chosen = kind or ("keycloak" if "/realms/" in metadata.issuer else "policy-manager")
        if chosen not in KINDS:
            raise ConfigurationError(f"Unknown kind {chosen!r}; choose one of {', '.join(KINDS)}.")
        existing = {c.id for c in self.connections()}
        base = re.sub(r"[^a-z0-9]+", "-", client_id.lower()).strip("-")[:40] or "support"
        connection_id, n = f"support-{base}", 2
        while connection_id in existing:
            connection_id, n = f"support-{base}-{n}", n + 1
        connection = SupportConnection(
            id=connection_id,
            name=name or f"{client_id} on {metadata.issuer}",
            issuer=metadata.issuer,
            kind=chosen,
            client_id=client_id.strip(),
            token_endpoint=metadata.token_endpoint,
        )
        vault = self._vault_now()
        await asyncio.to_thread(support_auth.save_secret, vault, connection.id, secret)
        try:
            await self.check(connection)
        except BaseException:
            await asyncio.to_thread(support_auth.forget_secret, vault, connection.id)
            await self._drop(connection.id)
            raise
        self._save([*self.connections(), connection])
        self._log(connection, "connection added", changed=f"client {connection.client_id}")
        return connection

    async def check(self, connection: SupportConnection) -> None:
        """Get a token with the stored secret (a clear AuthError when it is refused)."""
        live = self._get_live(connection)
        await support_auth.token_source(
            live.client,
            connection.token_endpoint,
            connection.client_id,
            self._vault_now(),
            connection.id,
        ).access_token()

    async def remove(self, connection_id: str) -> SupportConnection:
        connection = self.connection(connection_id)
        self._save([c for c in self.connections() if c.id != connection_id])
        await asyncio.to_thread(support_auth.forget_secret, self._vault_now(), connection_id)
        await self._drop(connection_id)
        self._log(connection, "connection removed")
        return connection

    def set_acting(self, connection_id: str, enabled: bool) -> SupportConnection:
        """Allow or forbid revoking and denying on behalf of owners (off by default)."""
        connection = replace(self.connection(connection_id), acting_enabled=enabled)
        self._save([connection if c.id == connection_id else c for c in self.connections()])
        self._log(connection, "acting on behalf " + ("allowed" if enabled else "switched off"))
        return connection

    def _get_live(self, connection: SupportConnection) -> _Live:
        if connection.id not in self._live:
            self._live[connection.id] = _Live(connection, self._vault_now(), self._timeout)
        return self._live[connection.id]

    async def _drop(self, connection_id: str) -> None:
        live = self._live.pop(connection_id, None)
        if live is not None:
            await live.client.aclose()

    async def aclose(self) -> None:
        for connection_id in list(self._live):
            await self._drop(connection_id)

    def backend(self, connection_id: str) -> SupportBackend:
        return self._get_live(self.connection(connection_id)).backend

    # lookups

    async def find_person(self, connection_id: str, query: str) -> PersonLookup:
        return await self.backend(connection_id).find_person(query)

    async def lookup(
        self,
        connection_id: str,
        *,
        person: str | None = None,
        role: str = "owner",
        resource_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Lookup:
        """One page of shares and requests by owner, by requester, or on one resource."""
        connection = self.connection(connection_id)
        backend = self._get_live(connection).backend
        found: PersonLookup | None = None
        if role == "resource":
            if not resource_id:
                raise ConfigurationError("Give the resource id to look up.")
            page = await backend.grants(resource_id=resource_id, offset=offset, limit=limit)
            if not page.items and offset == 0:
                page = await self._by_resource_name(backend, resource_id, limit)
            query = resource_id
        else:
            if role not in ("owner", "requester") or not person:
                raise ConfigurationError("Look up a person as owner or as requester.")
            found = await backend.find_person(person)
            key = found.person.username or found.person.id
            if role == "owner":
                page = await backend.grants(owner=key, offset=offset, limit=limit)
            else:
                page = await backend.grants(requester=key, offset=offset, limit=limit)
            query = person
        self._log(
            connection,
            f"lookup by {role}",
            person=found.person.label if found else "",
            resource=resource_id or "",
            outcome=f"{len(page.items)} entries",
        )
        return Lookup(
            connection.id,
            connection.name,
            query,
            role,
            found,
            group_by_resource(page.items),
            page.next_offset,
            datetime.now(UTC),
        )

    @staticmethod
    async def _by_resource_name(
        backend: SupportBackend, name: str, limit: int
    ) -> Page[SupportGrant]:
        """Shares and requests of the resources whose name contains ``name`` (a few)."""
        named = await backend.resources(owner=None, name=name, limit=NAMED_RESOURCES)
        found: list[SupportGrant] = []
        for resource in named.items:
            found += (await backend.grants(resource_id=resource.id, limit=limit)).items
        return Page(tuple(found), None)

    async def resources(
        self, connection_id: str, owner: str | None, offset: int = 0, limit: int = 100
    ) -> Page[SupportResource]:
        connection = self.connection(connection_id)
        page = await self._get_live(connection).backend.resources(
            owner=owner, offset=offset, limit=limit
        )
        self._log(connection, "resource lookup", person=owner or "", outcome=f"{len(page.items)}")
        return page

    async def why(
        self, connection_id: str, person: str, resource: str, scope: str | None = None
    ) -> Explanation:
        """“Why can('t) ``person`` ``scope`` ``resource``?” from the person's shares and
        requests (``resource`` is an id or a name)."""
        connection = self.connection(connection_id)
        backend = self._get_live(connection).backend
        found = await backend.find_person(person)
        key = found.person.username or found.person.id
        wanted = resource.strip().lower()
        matching: list[SupportGrant] = []
        offset: int | None = 0
        pages = 0
        while offset is not None and pages < WHY_PAGES:
            page = await backend.grants(requester=key, offset=offset)
            matching += [
                g for g in page.items if wanted in (g.resource_id.lower(), g.resource_name.lower())
            ]
            offset, pages = page.next_offset, pages + 1
        name = matching[0].resource_name if matching else resource
        answer = explain(found.person.label, name, matching, scope=scope)
        self._log(
            connection,
            "why",
            person=found.person.label,
            resource=name,
            outcome=answer.lines[0],
        )
        return answer

    # acting on behalf

    def _may_act(self, connection: SupportConnection, reason: str) -> str:
        if not connection.acting_enabled:
            raise ConfigurationError(
                f"Acting on behalf of owners is off for {connection.name}; switch it on for "
                "this connection first."
            )
        reason = reason.strip()
        if not reason:
            raise ConfigurationError("Give a reason (for example the support ticket number).")
        return reason

    async def revoke(self, connection_id: str, grant: SupportGrant, reason: str) -> ActionReceipt:
        return await self._act(connection_id, grant, reason, "revoke")

    async def deny(self, connection_id: str, grant: SupportGrant, reason: str) -> ActionReceipt:
        return await self._act(connection_id, grant, reason, "deny")

    async def _act(
        self, connection_id: str, grant: SupportGrant, reason: str, action: str
    ) -> ActionReceipt:
        connection = self.connection(connection_id)
        reason = self._may_act(connection, reason)
        backend = self._get_live(connection).backend
        changed = f"{grant.id}: {' '.join(grant.scopes)} of {grant.person.label}"
        try:
            if action == "revoke":
                receipt = await backend.revoke(grant, reason)
            else:
                receipt = await backend.deny(grant, reason)
        except Exception as exc:
            self._log(
                connection,
                action,
                person=grant.person.label,
                resource=grant.resource_name,
                changed=changed,
                reason=reason,
                outcome=f"failed: {type(exc).__name__}",
            )
            raise
        self._log(
            connection,
            action,
            person=grant.person.label,
            resource=grant.resource_name,
            changed=changed,
            reason=reason,
            outcome=f"done; server audit {receipt.server_audit_id or 'none'} ({receipt.note})",
        )
        return receipt

    async def find_grant(
        self,
        connection_id: str,
        grant_id: str,
        *,
        owner: str | None = None,
        requester: str | None = None,
        resource_id: str | None = None,
    ) -> SupportGrant:
        """The share or request ``grant_id`` among a lookup's results (paged)."""
        backend = self.backend(connection_id)
        offset: int | None = 0
        while offset is not None:
            page = await backend.grants(
                owner=owner, requester=requester, resource_id=resource_id, offset=offset
            )
            for grant in page.items:
                if grant.id == grant_id or grant_id in grant.server_ids:
                    return grant
            offset = page.next_offset
        raise NotFoundError(f"No share or request {grant_id!r} matches that lookup.")

    def export_case(self, lookup: Lookup, note: str, target: Path, fmt: str) -> None:
        atomic_write_text(target, render_case(lookup, note, fmt))
        self.record_export(lookup, fmt)

    def record_export(self, lookup: Lookup, fmt: str) -> None:
        """Log that the case was exported (the GUI writes PDFs itself)."""
        self.audit.append(
            AuditEntry(
                lookup.connection_id,
                lookup.connection_name,
                "case exported",
                person=lookup.person.person.label if lookup.person else "",
                resource=lookup.query if lookup.role == "resource" else "",
                changed=f"{fmt} file",
            )
        )
