"""Support adapter for Keycloak: the protection API with the resource server's own token.

Resources by owner come from ``resource_set?owner=&deep=true`` and shares/requests from
``permission/ticket`` (one ticket per resource, requester and scope; granted = share,
not granted = pending request). Keycloak keeps no timestamps, no expiry, no denied state
and no reason: revoke and deny delete the tickets, and the reason stays in the local audit
log only.
"""

from __future__ import annotations

from typing import Annotated
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
from uma_desktop.errors import ForbiddenError, NotFoundError


class _Scope(SupportWire, frozen=True, kw_only=True):
    name: WireText


class _Owner(SupportWire, frozen=True, kw_only=True):
    id: WireText
    name: WireText | None = None


class _Resource(SupportWire, frozen=True, kw_only=True):
    id: WireText = msgspec.field(name="_id")
    name: WireText
    displayName: WireText | None = None
    owner: _Owner | None = None
    scopes: Annotated[list[_Scope], msgspec.Meta(max_length=500)] = []


class _Ticket(SupportWire, frozen=True, kw_only=True):
    id: WireText
    owner: WireText
    ownerName: WireText | None = None
    resource: WireText
    resourceName: WireText | None = None
    scopeName: WireText | None = None
    requester: WireText
    requesterName: WireText | None = None
    granted: bool = False


class _User(SupportWire, frozen=True, kw_only=True):
    id: WireText
    username: WireText
    email: WireText | None = None
    firstName: WireText | None = None
    lastName: WireText | None = None


RESOURCES: msgspec.json.Decoder[list[_Resource]] = msgspec.json.Decoder(
    Annotated[list[_Resource], msgspec.Meta(max_length=5000)], strict=False
)
RESOURCE = net.decoder(_Resource)
TICKETS: msgspec.json.Decoder[list[_Ticket]] = msgspec.json.Decoder(
    Annotated[list[_Ticket], msgspec.Meta(max_length=5000)], strict=False
)
USERS: msgspec.json.Decoder[list[_User]] = msgspec.json.Decoder(
    Annotated[list[_User], msgspec.Meta(max_length=100)], strict=False
)


def _label(resource: _Resource) -> str:
    return resource.displayName or resource.name


class KeycloakSupportBackend:
    kind = "keycloak"
    records_reasons = False

    def __init__(self, issuer: str, client: net.AsyncClient, tokens: net.TokenSource) -> None:
        self._issuer = issuer.rstrip("/")
        self._protection = self._issuer + "/authz/protection"
        base, _, realm = self._issuer.rpartition("/realms/")
        self._admin_users = f"{base}/admin/realms/{realm}/users"
        self._client = client
        self._tokens = tokens
        self._scopes: dict[str, tuple[str, ...]] = {}

    async def _get(self, url: str, params: dict[str, str | int], what: str) -> net.Reply:
        return await net.send(self._client, "GET", url, what, params=params, tokens=self._tokens)

    async def find_person(self, query: str) -> PersonLookup:
        text = query.strip()
        key = "email" if "@" in text else "username"
        try:
            reply = await self._get(
                self._admin_users, {key: text, "exact": "true"}, "the person lookup"
            )
        except ForbiddenError:
            return PersonLookup(
                SupportPerson(text, username=None if "@" in text else text),
                "as typed: this service account may not read users, so search by username "
                "or user id (an e-mail cannot be resolved)",
            )
        users = net.parse(reply, USERS, "user list")
        if not users:
            raise NotFoundError(f"Nobody on this server has the {key} {text!r}.")
        user = users[0]
        name = " ".join(p for p in (user.firstName, user.lastName) if p) or None
        return PersonLookup(
            SupportPerson(user.id, user.username, user.email, name), f"by {key} (user directory)"
        )

    async def resources(
        self,
        *,
        owner: str | None,
        name: str | None = None,
        offset: int = 0,
        limit: int = SUPPORT_PAGE_SIZE,
    ) -> Page[SupportResource]:
        params: dict[str, str | int] = {"deep": "true", "first": offset, "max": limit}
        if owner:
            params["owner"] = owner
        if name:
            params["name"] = name
        reply = await self._get(self._protection + "/resource_set", params, "the resource lookup")
        found = net.parse(reply, RESOURCES, "resource list")
        items = []
        for resource in found:
            scopes = tuple(s.name for s in resource.scopes)
            self._scopes[resource.id] = scopes
            owner_person = SupportPerson(
                resource.owner.id if resource.owner else "",
                resource.owner.name if resource.owner else None,
            )
            items.append(SupportResource(resource.id, _label(resource), scopes, owner_person))
        return Page(tuple(items), offset + limit if len(found) >= limit else None)

    async def _resource_scopes(self, resource_id: str) -> tuple[str, ...]:
        if resource_id not in self._scopes:
            reply = await self._get(
                f"{self._protection}/resource_set/{quote(resource_id, safe='')}",
                {},
                "the resource",
            )
            resource = net.parse(reply, RESOURCE, "resource")
            self._scopes[resource_id] = tuple(s.name for s in resource.scopes)
        return self._scopes[resource_id]

    async def grants(
        self,
        *,
        owner: str | None = None,
        requester: str | None = None,
        resource_id: str | None = None,
        offset: int = 0,
        limit: int = SUPPORT_PAGE_SIZE,
    ) -> Page[SupportGrant]:
        params: dict[str, str | int] = {"returnNames": "true", "first": offset, "max": limit}
        for key, value in (("owner", owner), ("requester", requester), ("resourceId", resource_id)):
            if value:
                params[key] = value
        reply = await self._get(self._protection + "/permission/ticket", params, "the share lookup")
        tickets = net.parse(reply, TICKETS, "ticket list")
        groups: dict[tuple[str, str, bool], list[_Ticket]] = {}
        for ticket in tickets:
            groups.setdefault((ticket.resource, ticket.requester, ticket.granted), []).append(
                ticket
            )
        items = []
        for (resource, _requester, granted), group in groups.items():
            first = group[0]
            items.append(
                SupportGrant(
                    id=first.id,
                    status=GrantStatus.GRANTED if granted else GrantStatus.PENDING,
                    resource_id=resource,
                    resource_name=first.resourceName or resource,
                    resource_scopes=await self._resource_scopes(resource),
                    owner=SupportPerson(first.owner, first.ownerName),
                    person=SupportPerson(first.requester, first.requesterName),
                    scopes=tuple(sorted(t.scopeName or "" for t in group if t.scopeName)),
                    server_ids=tuple(t.id for t in group),
                )
            )
        return Page(tuple(items), offset + limit if len(tickets) >= limit else None)

    async def _delete(self, grant: SupportGrant, what: str) -> ActionReceipt:
        for ticket_id in grant.server_ids:
            await net.send(
                self._client,
                "DELETE",
                f"{self._protection}/permission/ticket/{quote(ticket_id, safe='')}",
                what,
                tokens=self._tokens,
            )
        return ActionReceipt(
            grant.id, None, "Keycloak deleted the tickets; it keeps no reason (local log only)"
        )

    async def revoke(self, grant: SupportGrant, reason: str) -> ActionReceipt:
        ensure_revocable(grant)
        return await self._delete(grant, "the revoke")

    async def deny(self, grant: SupportGrant, reason: str) -> ActionReceipt:
        ensure_deniable(grant)
        return await self._delete(grant, "the denial")
