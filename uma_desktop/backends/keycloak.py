"""Keycloak 26.x adapter: the owner's side of UMA through Keycloak's Account REST API.

Everything goes to ``{issuer}/account/resources`` with the owner's own access token (no
resource-server credentials). Facts this module relies on, checked against Keycloak 26.5.6
by tests/keycloak/:

* Every call sends ``Accept: application/json``; otherwise Keycloak answers with the account
  console's HTML page and status 200.
* ``scopes`` is left out of a resource when it has none; treated as empty.
* There is no list of all pending requests: each resource's ``permissions/requests`` is read,
  concurrently with a bound (``concurrency``, default 8).
* Every share the owner gave is listed by ``resources/shared-with-others``: the owner's
  resources that have grants, paged by resource (``first``/``max``), each with
  ``permissions`` (the people and their granted scopes, as ``{id}/permissions`` lists them).
* Keycloak has no request ids; a request is "all pending scopes of one person on one
  resource" and gets the id ``f"{resource_id}/{username}"``.
* ``PUT permissions`` is the only write. For each listed person it sets the final scope set on
  that resource: listed pending scopes are approved, listed new scopes are granted, and EVERY
  other ticket of that person on the resource (granted or pending) is deleted. Pending
  requests cannot be kept by the owner's API: listing them approves them, leaving them out
  deletes them (the protection API's ticket endpoints would allow finer edits but need a
  token issued to the resource server, which an owner's desktop app does not have).

So every write reads fresh state (``permissions`` and ``permissions/requests``) and builds the
PUT from it; the rules are:

* approve(request, subset) decides that request: the subset is granted, the rest of THAT
  request is denied (deleted); existing grants stay.
* deny(request) keeps the person's existing grants and deletes the request's scopes.
* share, revoke and narrow keep everything the person has that the action does not name.
* If the person has pending scopes that the action would delete without the owner having
  decided them (a request that grew since it was listed, or a pending request during a
  share/revoke/narrow), nothing is sent and ``ConflictError`` says to decide that request
  first. Nothing is ever denied silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec

from uma_desktop import net
from uma_desktop.backends.base import (
    MAX_LISTED_ITEMS,
    Capability,
    Listing,
    TokenSource,
    cut_short_note,
)
from uma_desktop.domain import AccessRequest, BackendKind, Party, Resource, Share, SharedWithMe
from uma_desktop.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    NotSupportedError,
)

PAGE_SIZE = 100
DEFAULT_CONCURRENCY = 8

T = TypeVar("T")
R = TypeVar("R", bound="_Resource")


# --------------------------------------------------------------------------- wire shapes


class _Wire(msgspec.Struct, frozen=True, kw_only=True):
    """One object of Keycloak's answer: fields it does not name are ignored (subclasses
    repeat ``frozen=True, kw_only=True``: type checkers do not inherit them)."""


class _Scope(_Wire, frozen=True, kw_only=True):
    name: str
    display_name: str | None = msgspec.field(default=None, name="displayName")


class _Client(_Wire, frozen=True, kw_only=True):
    client_id: str | None = msgspec.field(default=None, name="clientId")
    name: str | None = None


class _Owner(_Wire, frozen=True, kw_only=True):
    id: str | None = None
    username: str | None = None
    name: str | None = None
    email: str | None = None


class _Resource(_Wire, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    name: str
    display_name: str | None = msgspec.field(default=None, name="displayName")
    type: str | None = None
    icon_uri: str | None = None
    scopes: list[_Scope] = []
    client: _Client | None = None
    owner: _Owner | str | None = None


class _Permission(_Wire, frozen=True, kw_only=True):
    username: str
    first_name: str | None = msgspec.field(default=None, name="firstName")
    last_name: str | None = msgspec.field(default=None, name="lastName")
    email: str | None = None
    scopes: list[str] = []


class _SharedResource(_Resource, frozen=True, kw_only=True):
    permissions: list[_Permission] = []


class _User(_Wire, frozen=True, kw_only=True):
    id: str | None = None
    username: str
    first_name: str | None = msgspec.field(default=None, name="firstName")
    last_name: str | None = msgspec.field(default=None, name="lastName")
    email: str | None = None


_RESOURCES = net.decoder(list[_Resource])
_SHARED_RESOURCES = net.decoder(list[_SharedResource])
_PERMISSIONS = net.decoder(list[_Permission])
_RESOURCE = net.decoder(_Resource)
_OPTIONAL_USER: msgspec.json.Decoder[_User | None] = msgspec.json.Decoder(
    _User | None, strict=False
)
_HINTS = {
    403: "The account needs the roles manage-account and view-profile, and the realm must "
    "allow user-managed access.",
    404: "It may have been deleted, or the account API or user-managed access is switched "
    "off in this realm.",
}


def _full_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name or None


def _party(permission: _Permission) -> Party:
    return Party(
        id=permission.username,
        username=permission.username,
        email=permission.email,
        name=_full_name(permission.first_name, permission.last_name),
    )


def _sorted(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes))


def _listing(scopes: Iterable[str]) -> str:
    return ", ".join(_sorted(scopes))


def request_id(resource_id: str, username: str) -> str:
    """Keycloak has no request ids: one request = one person's pending scopes on one resource."""
    return f"{resource_id}/{username}"


# --------------------------------------------------------------------------- backend


class KeycloakBackend:
    """Backend (backends/base.py) for one owner at one Keycloak realm."""

    kind: str = BackendKind.KEYCLOAK.value
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.SCOPE_SUBSET,
            Capability.DENY,
            Capability.SHARE_BY_USERNAME,
            Capability.SHARE_BY_EMAIL,
            Capability.NARROW,
            Capability.SHARED_WITH_ME,
            Capability.PERSON_LOOKUP,
            Capability.ALL_SHARES,
        }
    )

    def __init__(
        self,
        connection_id: str,
        issuer: str,
        client: net.AsyncClient,
        tokens: TokenSource,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = PAGE_SIZE,
        max_items: int = MAX_LISTED_ITEMS,
    ) -> None:
        self.connection_id = connection_id
        self.issuer = issuer.rstrip("/")
        self.account_url = f"{self.issuer}/account"
        self._client = client
        self._tokens = tokens
        self._limit = asyncio.Semaphore(concurrency)
        self._page_size = page_size
        self._max_items = max_items
        self.request_count = 0  # HTTP requests sent (for benchmarks and tests)

    # ------------------------------------------------------------------ HTTP

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, str | int] | None = None,
        body: Any = None,
    ) -> net.Reply:
        """One Account API exchange with the owner's token (net.send: one refresh on 401)."""
        self.request_count += 1
        return await net.send(
            self._client,
            method,
            f"{self.account_url}/{path}",
            what,
            params=params,
            json=body,
            headers={"Accept": "application/json"},
            tokens=self._tokens,
            hints=_HINTS,
        )

    async def _get(
        self,
        into: msgspec.json.Decoder[T],
        empty: T,
        what: tuple[str, str],
        path: str,
        params: dict[str, str | int] | None = None,
    ) -> T:
        """GET ``path`` as ``into``'s type; ``empty`` when Keycloak sends no document.

        ``what`` names the request ("the person lookup") and the document ("person").
        """
        request, document = what
        reply = await self._send("GET", path, request, params=params)
        return empty if net.is_empty(reply) else net.parse(reply, into, document)

    async def _bounded(self, calls: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
        async def run(call: Callable[[], Awaitable[T]]) -> T:
            async with self._limit:
                return await call()

        return list(await asyncio.gather(*(run(call) for call in calls)))

    # ------------------------------------------------------------------ reads

    def _resource(self, raw: _Resource) -> Resource:
        client = raw.client
        return Resource(
            connection_id=self.connection_id,
            id=raw.id,
            name=raw.display_name or raw.name,
            scopes=tuple(scope.name for scope in raw.scopes),
            resource_server=(client.name or client.client_id or "") if client else "",
            resource_server_id=client.client_id if client else None,
            type=raw.type,
            description=raw.name if raw.display_name and raw.display_name != raw.name else None,
            icon_uri=raw.icon_uri,
        )

    async def _pages(
        self,
        into: msgspec.json.Decoder[list[R]],
        what: tuple[str, str],
        path: str,
        extra: dict[str, str | int] | None = None,
    ) -> Listing[R]:
        """Page until a short page, at most ``max_items`` (then the listing is cut short)."""
        found: Listing[R] = Listing()
        first = 0
        while True:
            if first >= self._max_items:
                found.cut_short = cut_short_note(first)
                return found
            params: dict[str, str | int] = {"first": first, "max": self._page_size, **(extra or {})}
            page = await self._get(into, [], what, path, params)
            found.extend(page)
            if len(found) > self._max_items:  # a page longer than asked for
                del found[self._max_items :]
                found.cut_short = cut_short_note(self._max_items)
                return found
            if len(page) < self._page_size:
                return found
            first += self._page_size

    async def _raw_resources(self, name_filter: str | None) -> Listing[_Resource]:
        extra: dict[str, str | int] = {"name": name_filter} if name_filter else {}
        return await self._pages(
            _RESOURCES, ("the list of your resources", "list of resources"), "resources", extra
        )

    async def list_resources(self, name_filter: str | None = None) -> Listing[Resource]:
        raw = await self._raw_resources(name_filter)
        listing: Listing[Resource] = Listing(self._resource(item) for item in raw)
        listing.cut_short = raw.cut_short
        return listing

    async def _granted(self, resource_id: str) -> list[_Permission]:
        return await self._get(
            _PERMISSIONS,
            [],
            ("the people a resource is shared with", "list of shares"),
            f"resources/{quote(resource_id, safe='')}/permissions",
        )

    async def _pending(self, resource_id: str) -> list[_Permission]:
        return await self._get(
            _PERMISSIONS,
            [],
            ("the pending requests of a resource", "list of pending requests"),
            f"resources/{quote(resource_id, safe='')}/permissions/requests",
        )

    async def list_shares(self, resource_id: str) -> list[Share]:
        return [
            Share(
                connection_id=self.connection_id,
                resource_id=resource_id,
                party=_party(permission),
                scopes=tuple(_sorted(permission.scopes)),
            )
            for permission in await self._granted(resource_id)
        ]

    async def list_all_shares(self) -> Listing[Share]:
        """Every grant on every resource of the owner, from ``shared-with-others`` (paged by
        resource; a resource met twice while paging counts once)."""
        shared = await self._pages(
            _SHARED_RESOURCES,
            ("the resources you share", "list of resources you share"),
            "resources/shared-with-others",
        )
        shares: Listing[Share] = Listing()
        shares.cut_short = shared.cut_short
        seen: set[str] = set()
        for resource in shared:
            if resource.id in seen:
                continue
            seen.add(resource.id)
            shares.extend(
                Share(
                    connection_id=self.connection_id,
                    resource_id=resource.id,
                    party=_party(permission),
                    scopes=tuple(_sorted(permission.scopes)),
                )
                for permission in resource.permissions
            )
        return shares

    def _requests_of(self, resource: _Resource, pending: list[_Permission]) -> list[AccessRequest]:
        return [
            AccessRequest(
                connection_id=self.connection_id,
                id=request_id(resource.id, permission.username),
                resource_id=resource.id,
                resource_name=resource.display_name or resource.name,
                requester=_party(permission),
                scopes=tuple(_sorted(permission.scopes)),
            )
            for permission in pending
            if permission.scopes
        ]

    async def list_requests(self) -> Listing[AccessRequest]:
        """Every pending request on every resource the owner has (concurrent, bounded), at most
        ``max_items``: each resource's list becomes requests as it arrives, none read after."""
        resources = await self._raw_resources(None)
        found: list[list[AccessRequest]] = [[] for _ in resources]
        count = 0
        cut_short = resources.cut_short

        def reader(index: int, resource: _Resource) -> Callable[[], Awaitable[None]]:
            async def read() -> None:
                nonlocal count, cut_short
                if count >= self._max_items:
                    cut_short = cut_short_note(count)
                    return
                try:
                    pending = await self._pending(resource.id)
                except NotFoundError:
                    return  # deleted while we were scanning: it has no requests any more
                requests = self._requests_of(resource, pending)
                room = max(0, self._max_items - count)
                if len(requests) > room:
                    cut_short = cut_short_note(self._max_items)
                found[index] = requests[:room]
                count += len(found[index])

            return read

        await self._bounded(reader(i, resource) for i, resource in enumerate(resources))
        requests: Listing[AccessRequest] = Listing(r for group in found for r in group)
        requests.cut_short = cut_short
        return requests

    async def shared_with_me(self) -> Listing[SharedWithMe]:
        found: Listing[SharedWithMe] = Listing()
        listed = await self._pages(
            _RESOURCES,
            ("the resources shared with you", "list of resources shared with you"),
            "resources/shared-with-me",
        )
        found.cut_short = listed.cut_short
        for raw in listed:
            owner = raw.owner
            party: Party | None = None
            if isinstance(owner, _Owner) and (owner.id or owner.username or owner.name):
                party = Party(
                    id=owner.id or owner.username or owner.name or "",
                    username=owner.username or owner.name,
                    email=owner.email,
                )
            elif isinstance(owner, str) and owner:
                party = Party(id=owner, username=owner)
            resource = self._resource(raw)
            found.append(
                SharedWithMe(
                    connection_id=self.connection_id,
                    resource=resource,
                    owner=party,
                    scopes=resource.scopes,
                )
            )
        return found

    async def find_person(self, resource_id: str, query: str) -> Party | None:
        """Look a person up by username or e-mail (Keycloak scopes the lookup to a resource)."""
        query = query.strip()
        if not query:
            return None
        user = await self._get(
            _OPTIONAL_USER,
            None,
            ("the person lookup", "person lookup"),
            f"resources/{quote(resource_id, safe='')}/user",
            {"value": query},
        )
        if user is None:
            return None
        return Party(
            id=user.id or user.username,
            username=user.username,
            email=user.email,
            name=_full_name(user.first_name, user.last_name),
        )

    # ------------------------------------------------------------------ writes

    async def _state(self, resource_id: str, username: str) -> tuple[set[str], set[str]]:
        """Fresh (granted, pending) scopes of ``username`` on the resource."""
        granted, pending = await asyncio.gather(
            self._granted(resource_id), self._pending(resource_id)
        )

        def scopes_of(permissions: list[_Permission]) -> set[str]:
            return {s for p in permissions if p.username == username for s in p.scopes}

        return scopes_of(granted), scopes_of(pending)

    async def _put(self, resource_id: str, username: str, scopes: Iterable[str], what: str) -> None:
        body = [{"username": username, "scopes": _sorted(scopes)}]
        await self._send(
            "PUT", f"resources/{quote(resource_id, safe='')}/permissions", what, body=body
        )

    async def _resource_scopes(self, resource_id: str) -> tuple[str, set[str]]:
        reply = await self._send("GET", f"resources/{quote(resource_id, safe='')}", "the resource")
        raw = net.parse(reply, _RESOURCE, "resource")
        return raw.display_name or raw.name, {scope.name for scope in raw.scopes}

    @staticmethod
    def _split_request_id(request: AccessRequest) -> str:
        prefix = f"{request.resource_id}/"
        if not request.id.startswith(prefix) or len(request.id) == len(prefix):
            raise ConfigurationError(f"{request.id!r} is not a Keycloak request id.")
        return request.id[len(prefix) :]

    async def approve(self, request: AccessRequest, scopes: Sequence[str] | None = None) -> None:
        """Grant ``scopes`` (default: all) of the request; its other scopes are denied."""
        username = self._split_request_id(request)
        chosen = set(request.scopes if scopes is None else scopes)
        if not chosen:
            raise ConfigurationError("Choose at least one scope to approve, or deny the request.")
        if not chosen <= set(request.scopes):
            raise ConfigurationError(
                f"{_listing(chosen - set(request.scopes))} was not requested by {username}."
            )
        granted, pending = await self._state(request.resource_id, username)
        if not pending & set(request.scopes):
            raise NotFoundError(
                f"{username}'s request for {request.resource_name} is no longer pending "
                "(it was decided or withdrawn).",
                status=404,
            )
        self._refuse_undecided(username, request.resource_name, pending - set(request.scopes))
        await self._put(
            request.resource_id,
            username,
            granted | (chosen & pending),
            f"approving {username}'s request",
        )

    async def deny(self, request: AccessRequest) -> None:
        """Delete the request's pending scopes; the person's existing grants stay."""
        username = self._split_request_id(request)
        granted, pending = await self._state(request.resource_id, username)
        if not pending & set(request.scopes):
            return  # already gone: the outcome the owner wants
        self._refuse_undecided(username, request.resource_name, pending - set(request.scopes))
        await self._put(request.resource_id, username, granted, f"denying {username}'s request")

    async def share_with_claims(
        self,
        resource_id: str,
        claims: Sequence[tuple[str, str]],
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        """Keycloak's account API shares with named users only."""
        raise NotSupportedError("Keycloak cannot share with everyone presenting a claim.")

    async def share(
        self,
        resource_id: str,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        """Give ``person`` (username or e-mail) ``scopes`` on top of what they already have."""
        if expires_at is not None:
            raise NotSupportedError("Keycloak shares cannot expire.")
        wanted = set(scopes)
        if not wanted:
            raise ConfigurationError("Choose at least one scope to share.")
        resource_name, offered = await self._resource_scopes(resource_id)
        if not wanted <= offered:
            raise ConfigurationError(
                f"{resource_name} has no scope {_listing(wanted - offered)} "
                f"(it offers {_listing(offered) or 'none'})."
            )
        username = await self._username(resource_id, person)
        granted, pending = await self._state(resource_id, username)
        if wanted <= granted:
            return  # nothing to send, so nothing pending can be lost
        self._refuse_undecided(username, resource_name, pending - wanted)
        await self._put(resource_id, username, granted | wanted, f"sharing with {username}")

    async def revoke(
        self, resource_id: str, person: str, scopes: Sequence[str] | None = None
    ) -> None:
        """Take ``scopes`` (default: all) from ``person``; their other grants stay."""
        username = await self._username(resource_id, person)
        granted, pending = await self._state(resource_id, username)
        removing = granted if scopes is None else granted & set(scopes)
        if not removing:
            return
        if pending:
            self._refuse_undecided(username, await self._resource_name(resource_id), pending)
        await self._put(
            resource_id, username, granted - removing, f"taking access away from {username}"
        )

    async def _resource_name(self, resource_id: str) -> str:
        name, _ = await self._resource_scopes(resource_id)
        return name

    async def _username(self, resource_id: str, person: str) -> str:
        party = await self.find_person(resource_id, person)
        if party is None or not party.username:
            raise NotFoundError(f"Keycloak has no user {person.strip()!r}.", status=404)
        return party.username

    @staticmethod
    def _refuse_undecided(username: str, resource_name: str, undecided: set[str]) -> None:
        """Keycloak would delete these pending scopes along with the change: refuse instead."""
        if undecided:
            raise ConflictError(
                f"{username} has a pending request for {_listing(undecided)} on "
                f"{resource_name}. Keycloak would drop it with this change, so nothing was "
                "changed: approve or deny that request first."
            )

    async def aclose(self) -> None:
        await self._client.aclose()
