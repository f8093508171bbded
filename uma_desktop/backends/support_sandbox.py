"""Support adapter for servers with the support API of docs/owner-api.md (the sandbox).

Lookups are server-side filters, one page per call; revoke and deny send the reason, and
the server keeps its own audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec

from uma_desktop import net
from uma_desktop.backends.support_base import (
    SUPPORT_PAGE_SIZE,
    ActionReceipt,
    GrantStatus,
    Page,
    PersonLookup,
    SupportGrant,
    SupportPerson,
    SupportResource,
    SupportWire,
    WireText,
    ensure_deniable,
    ensure_revocable,
)
from uma_desktop.uma._base import EpochSeconds

Scopes = Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=200)]


class _Person(SupportWire, frozen=True, kw_only=True):
    sub: WireText
    username: WireText | None = None
    email: WireText | None = None
    name: WireText | None = None

    def domain(self) -> SupportPerson:
        return SupportPerson(self.sub, self.username, self.email, self.name)


class _Resource(SupportWire, frozen=True, kw_only=True):
    id: WireText = msgspec.field(name="_id")
    name: WireText | None = None
    resource_scopes: Scopes = []
    owner: _Person


class _Grant(SupportWire, frozen=True, kw_only=True):
    id: WireText = msgspec.field(name="_id")
    status: GrantStatus
    resource_id: WireText
    resource_name: WireText | None = None
    resource_all_scopes: Scopes = []
    owner: _Person
    person: _Person
    resource_scopes: Scopes = []
    since: EpochSeconds | None = None
    expires_at: EpochSeconds | None = None
    decided_at: EpochSeconds | None = None
    client_id: WireText | None = None


class _ResourcePage(SupportWire, frozen=True, kw_only=True):
    items: Annotated[list[_Resource], msgspec.Meta(max_length=1000)]
    next_offset: int | None = None


class _GrantPage(SupportWire, frozen=True, kw_only=True):
    items: Annotated[list[_Grant], msgspec.Meta(max_length=1000)]
    next_offset: int | None = None


class _Receipt(SupportWire, frozen=True, kw_only=True):
    audit_id: WireText | None = None


PERSON = net.decoder(_Person)
RESOURCES = net.decoder(_ResourcePage)
GRANTS = net.decoder(_GrantPage)
RECEIPT = net.decoder(_Receipt)


def _when(epoch: int | float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class SandboxSupportBackend:
    kind = "policy-manager"
    records_reasons = True

    def __init__(self, base_url: str, client: net.AsyncClient, tokens: net.TokenSource) -> None:
        self._base = base_url.rstrip("/")
        self._client = client
        self._tokens = tokens

    async def _get(self, path: str, params: dict[str, str | int], what: str) -> net.Reply:
        return await net.send(
            self._client, "GET", self._base + path, what, params=params, tokens=self._tokens
        )

    async def find_person(self, query: str) -> PersonLookup:
        reply = await self._get("/people", {"q": query}, "the person lookup")
        person = net.parse(reply, PERSON, "person").domain()
        return PersonLookup(person, "by username, e-mail or id")

    async def resources(
        self,
        *,
        owner: str | None,
        name: str | None = None,
        offset: int = 0,
        limit: int = SUPPORT_PAGE_SIZE,
    ) -> Page[SupportResource]:
        params: dict[str, str | int] = {"offset": offset, "limit": limit}
        if owner:
            params["owner"] = owner
        if name:
            params["q"] = name
        reply = await self._get("/resources", params, "the resource lookup")
        page = net.parse(reply, RESOURCES, "resource page")
        return Page(
            tuple(
                SupportResource(r.id, r.name or r.id, tuple(r.resource_scopes), r.owner.domain())
                for r in page.items
            ),
            page.next_offset,
        )

    async def grants(
        self,
        *,
        owner: str | None = None,
        requester: str | None = None,
        resource_id: str | None = None,
        offset: int = 0,
        limit: int = SUPPORT_PAGE_SIZE,
    ) -> Page[SupportGrant]:
        params: dict[str, str | int] = {"offset": offset, "limit": limit}
        for key, value in (
            ("owner", owner),
            ("requester", requester),
            ("resource_id", resource_id),
        ):
            if value:
                params[key] = value
        reply = await self._get("/grants", params, "the share lookup")
        page = net.parse(reply, GRANTS, "share page")
        return Page(tuple(_grant(g) for g in page.items), page.next_offset)

    async def _act(self, grant: SupportGrant, verb: str, reason: str, what: str) -> ActionReceipt:
        reply = await net.send(
            self._client,
            "POST",
            f"{self._base}/grants/{quote(grant.id, safe='')}/{verb}",
            what,
            json={"reason": reason},
            tokens=self._tokens,
            hints={404: "It may have been revoked or decided already; search again."},
        )
        receipt = net.parse(reply, RECEIPT, f"{verb} answer")
        return ActionReceipt(grant.id, receipt.audit_id, "the server recorded the reason")

    async def revoke(self, grant: SupportGrant, reason: str) -> ActionReceipt:
        ensure_revocable(grant)
        return await self._act(grant, "revoke", reason, "the revoke")

    async def deny(self, grant: SupportGrant, reason: str) -> ActionReceipt:
        ensure_deniable(grant)
        return await self._act(grant, "deny", reason, "the denial")


def _grant(wire: _Grant) -> SupportGrant:
    return SupportGrant(
        id=wire.id,
        status=wire.status,
        resource_id=wire.resource_id,
        resource_name=wire.resource_name or wire.resource_id,
        resource_scopes=tuple(wire.resource_all_scopes),
        owner=wire.owner.domain(),
        person=wire.person.domain(),
        scopes=tuple(wire.resource_scopes),
        since=_when(wire.since),
        expires_at=_when(wire.expires_at),
        decided_at=_when(wire.decided_at),
        client_id=wire.client_id,
        server_ids=(wire.id,),
    )


def support_endpoint(issuer: str, extra: dict[str, Any] | None) -> str:
    """The advertised ``support_endpoint``, else ``<issuer>/support``."""
    base = issuer.rstrip("/")
    value = (extra or {}).get("support_endpoint")
    # Only an endpoint under the issuer: the RS secret's token is never sent elsewhere.
    if isinstance(value, str) and value.startswith(base + "/"):
        return value
    return base + "/support"
