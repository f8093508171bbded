"""Adapter for servers speaking the UMA WG Policy Manager draft plus our extension.

The wire contract is docs/owner-api.md; nothing else of the built-in sandbox is assumed.
Resources are listed page by page (``expand=true&offset&limit``), shares are the
server's policies (all of the owner's at once, page by page, for a review), and narrowing
or revoking replaces or deletes the person's policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import msgspec

from uma_desktop import net
from uma_desktop.backends.base import (
    MAX_LISTED_ITEMS,
    Capability,
    Listing,
    TokenSource,
    YieldPoint,
    cut_short_note,
    no_yield,
)
from uma_desktop.domain import AccessRequest, Party, Resource, Share, SharedWithMe, fast_builder
from uma_desktop.errors import (
    ConfigurationError,
    ConflictError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    ServerError,
)
from uma_desktop.uma._base import WireModel
from uma_desktop.uma.metadata import POLICY_MANAGER_PROFILE, AuthorizationServerMetadata
from uma_desktop.uma.owner import (
    PendingRequest,
    PolicyDescription,
    SharedWithMeEntry,
    Subject,
)
from uma_desktop.uma.resources import RegisteredResource

PAGE_SIZE = 1000
YIELD_EVERY = 200  # items converted between yield points (the window may paint meanwhile)
PARALLEL_PAGES = 4  # pages asked for at once; the server's total only says whether to
PARALLEL_LOOKUPS = 8

JsonParams = Mapping[str, str | int]


def _party(person: Subject) -> Party:
    return Party(id=person.sub, username=person.username, email=person.email, name=person.name)


# Only what a Resource needs (listings carry thousands): decoding into this struct and
# reading its attributes was ~25% faster than into a TypedDict read by key.
class _ResourceWire(WireModel, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    name: str
    resource_scopes: list[str] = []
    resource_server: str | None = None
    resource_server_name: str | None = None
    type: str | None = None
    description: str | None = None
    icon_uri: str | None = None
    owner: str | None = None
    share_count: int | None = None


Listed = Resource | str  # a listed resource, or only its id (the server ignored ``expand``)


_build_resource = fast_builder(Resource)  # listings build thousands at once


def _resource(wire: _ResourceWire, connection_id: str) -> Resource:
    rs_id = wire.resource_server
    return _build_resource(  # Resource's fields in order (pinned by a test)
        connection_id,
        wire.id,
        wire.name,
        tuple(wire.resource_scopes),
        wire.resource_server_name or rs_id or "",
        rs_id,
        wire.type,
        wire.description,
        wire.icon_uri,
        wire.owner,
        wire.share_count,
        (),  # labels: this listing has none
    )


def _policy_party(policy: PolicyDescription) -> Party:
    if policy.sub is None and policy.required_claims:
        # A claims policy: "anyone with …", addressed by the policy's id.
        return Party(id=policy.id or "", name=policy.audience or _audience(_claims(policy)))
    return _party(policy.subject) if policy.subject else Party(id=policy.sub or "")


def _claims(policy: PolicyDescription) -> tuple[tuple[str, str], ...]:
    pairs = []
    for claim in policy.required_claims:
        name, value = claim.get("name"), claim.get("value")
        if isinstance(name, str) and isinstance(value, str):
            pairs.append((name, value))
    return tuple(pairs)


def _audience(claims: Sequence[tuple[str, str]]) -> str:
    return "Anyone with " + " and ".join(f"{name} = {value}" for name, value in claims)


def _holds(policy: PolicyDescription, person: str) -> bool:
    """Whether ``person`` (subject id, username or e-mail; a claims policy's id) is the one
    ``policy`` names."""
    wanted = person.strip().casefold()
    names = {policy.sub, policy.id if policy.sub is None else None}
    if policy.subject:
        names.update((policy.subject.username, policy.subject.email))
    return wanted in {n.casefold() for n in names if n}


def _registered(wire: RegisteredResource, connection_id: str) -> Resource:
    return Resource(
        connection_id=connection_id,
        id=wire.id,
        name=wire.name or wire.id,
        scopes=tuple(wire.resource_scopes),
        resource_server=wire.resource_server_name or wire.resource_server,
        resource_server_id=wire.resource_server,
        type=wire.type,
        description=wire.description,
        icon_uri=wire.icon_uri,
        owner=wire.owner,
        share_count=wire.share_count,
    )


_RESOURCES = net.decoder(list[_ResourceWire | str])
_RESOURCE = net.decoder(_ResourceWire)
_POLICIES = net.decoder(list[PolicyDescription])
_PENDING = net.decoder(list[PendingRequest])
_SHARED = net.decoder(list[SharedWithMeEntry])
_PERSON = net.decoder(Subject)
_HINTS = {403: "This login lacks the owner permission (scope uma_policy_manager); log in again."}


def _time(epoch: float | None) -> datetime | None:
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedResponseError("The server sent a time that is out of range.") from None


def _epoch(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ConfigurationError("An expiry date needs a time zone.")
    return int(moment.timestamp())


def _as_sent(epoch: float | None) -> int | float | None:
    """A time read back from the server (a float once parsed) as it most likely came: a
    whole number of seconds goes back as an integer."""
    if epoch is None:
        return None
    return int(epoch) if float(epoch).is_integer() else epoch


def _checked(policies: list[PolicyDescription]) -> list[PolicyDescription]:
    """A listing's policies, refused when one lacks an id or whom it grants to."""
    # Optional in the model (a policy being created has neither), required in a listing;
    # a claims policy names no person but its required claims instead.
    missing = sorted(
        {
            f
            for p in policies
            for f, v in (("_id", p.id), ("sub", p.sub or p.required_claims))
            if not v
        }
    )
    if missing:
        raise MalformedResponseError(
            "The server's policy list is malformed: "
            f"missing required field(s): {', '.join(missing)}."
        )
    return policies


def _endpoint(url: str, *parts: str) -> str:
    """``url`` plus path segments, each percent-encoded (ids come from the server)."""
    return "/".join([url.rstrip("/"), *(quote(part, safe="") for part in parts)])


class PolicyManagerBackend:
    """One owner's view of one Policy-Manager server."""

    kind = "policy-manager"

    def __init__(
        self,
        connection_id: str,
        metadata: AuthorizationServerMetadata,
        client: net.AsyncClient,
        tokens: TokenSource,
        *,
        yield_point: YieldPoint = no_yield,
        max_items: int = MAX_LISTED_ITEMS,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if not metadata.registered_resource_endpoint or not metadata.policy_endpoint:
            raise ConfigurationError(
                f"{metadata.issuer} does not advertise the Policy Manager owner API "
                "(registered_resource_endpoint and policy_endpoint)."
            )
        self.connection_id = connection_id
        self.metadata = metadata
        self._client = client
        self._tokens = tokens
        self._yield = yield_point
        self._max_items = max_items
        self._page_size = page_size
        self._resources_url: str = metadata.registered_resource_endpoint
        self._policies_url: str = metadata.policy_endpoint
        # The owner's policies without a resource_id: the draft's policy list, expanded.
        capabilities = {Capability.NARROW, Capability.EXPIRY, Capability.ALL_SHARES}
        if metadata.pending_request_endpoint:
            capabilities |= {Capability.SCOPE_SUBSET, Capability.DENY}
        if metadata.person_lookup_endpoint:
            capabilities |= {
                Capability.PERSON_LOOKUP,
                Capability.SHARE_BY_USERNAME,
                Capability.SHARE_BY_EMAIL,
            }
        if metadata.shared_with_me_endpoint:
            capabilities.add(Capability.SHARED_WITH_ME)
        if POLICY_MANAGER_PROFILE in (metadata.uma_profiles_supported or []):
            capabilities.add(Capability.SHARE_BY_CLAIMS)  # its policies evaluate required_claims
        self.capabilities: frozenset[Capability] = frozenset(capabilities)

    # -- transport ---------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: JsonParams | None = None,
        body: Any = None,
    ) -> net.Reply:
        """One authorized exchange (net.send: bounded, one refresh on 401, typed errors)."""
        return await net.send(
            self._client,
            method,
            url,
            what,
            params=params,
            json=body,
            tokens=self._tokens,
            hints=_HINTS,
        )

    async def _get(
        self,
        into: msgspec.json.Decoder[Any],
        url: str,
        what: str,
        params: JsonParams | None = None,
    ) -> Any:
        return net.parse(await self._send("GET", url, what, params=params), into, what)

    def _require(self, endpoint: str | None, capability: str) -> str:
        if not endpoint:
            raise NotSupportedError(f"{self.metadata.issuer} does not offer {capability}.")
        return endpoint

    # -- resources ---------------------------------------------------------------------

    async def _page(self, offset: int, name_filter: str | None) -> tuple[list[Listed], int | None]:
        params: dict[str, str | int] = {
            "expand": "true",
            "offset": offset,
            "limit": self._page_size,
        }
        if name_filter:
            params["q"] = name_filter
        response = await self._send("GET", self._resources_url, "resource list", params=params)
        items: list[_ResourceWire | str] = net.parse(response, _RESOURCES, "resource list")
        # Domain objects at once: the page's wire dicts die young instead of piling up
        # until every page is in (fewer long-lived objects, shorter garbage collections).
        listed: list[Listed] = []
        for start in range(0, len(items), YIELD_EVERY):
            self._yield()
            listed.extend(
                item if isinstance(item, str) else _resource(item, self.connection_id)
                for item in items[start : start + YIELD_EVERY]
            )
        total_header = response.headers.get("x-total-count")
        total: int | None = None
        if total_header is not None:
            try:
                total = int(total_header)
            except ValueError:
                raise MalformedResponseError(
                    "The server's X-Total-Count header is not a number."
                ) from None
        return listed, total

    async def list_resources(self, name_filter: str | None = None) -> Listing[Resource]:
        """Page until a short page (or the claimed total), a few pages at a time, at most
        ``max_items``: the server's X-Total-Count is a hint, never a size to allocate."""
        first, total = await self._page(0, name_filter)
        items: list[Listed] = list(first)
        size = len(first)
        more = size >= self._page_size or (total is not None and total > size)
        cut_short = ""
        offset = size
        while size and more:
            if total is not None and offset >= total:
                break
            if offset >= self._max_items or len(items) >= self._max_items:
                cut_short = cut_short_note(min(offset, len(items)))
                break
            wanted = PARALLEL_PAGES if total is None else -(-(total - offset) // size)
            offsets = [offset + i * size for i in range(max(1, min(PARALLEL_PAGES, wanted)))]
            offsets = [o for o in offsets if o < self._max_items] or [offset]
            pages = await asyncio.gather(*(self._page(o, name_filter) for o in offsets))
            for page, _ in pages:
                items.extend(page)
                more = len(page) >= size
                if not more:
                    break
            offset += size * len(offsets)
        if len(items) > self._max_items:  # pages longer than asked for: the cap still holds
            del items[self._max_items :]
            cut_short = cut_short_note(self._max_items)
        listing: Listing[Resource] = Listing(await self._expand(items, name_filter))
        listing.cut_short = cut_short
        return listing

    async def _expand(self, items: list[Listed], name_filter: str | None) -> list[Resource]:
        """A server that ignores ``expand`` answers ids only: fetch each description."""
        gate = asyncio.Semaphore(PARALLEL_LOOKUPS)

        async def describe(resource_id: str) -> Resource:
            async with gate:
                return _resource(await self._describe(resource_id), self.connection_id)

        ids_only = [item for item in items if isinstance(item, str)]
        looked_up = iter(await asyncio.gather(*(describe(i) for i in ids_only)))
        described = [item if isinstance(item, Resource) else next(looked_up) for item in items]
        seen: set[str] = set()
        resources: list[Resource] = []
        needle = name_filter.casefold() if name_filter else None
        for resource in described:
            if resource.id in seen:
                continue  # a resource may move between pages while we read them
            if needle and needle not in resource.name.casefold():
                continue
            seen.add(resource.id)
            resources.append(resource)
        return resources

    async def _describe(self, resource_id: str) -> _ResourceWire:
        parsed: _ResourceWire = await self._get(
            _RESOURCE, _endpoint(self._resources_url, resource_id), "resource description"
        )
        return parsed

    # -- shares (policies) -------------------------------------------------------------

    async def _policies(self, resource_id: str) -> list[PolicyDescription]:
        policies: list[PolicyDescription] = await self._get(
            _POLICIES,
            self._policies_url,
            "policy list",
            params={"expand": "true", "resource_id": resource_id},
        )
        return [p for p in _checked(policies) if p.resource_id == resource_id]

    def _share(self, policy: PolicyDescription) -> Share:
        return Share(
            connection_id=self.connection_id,
            resource_id=policy.resource_id,
            party=_policy_party(policy),
            scopes=tuple(policy.resource_scopes),
            granted_at=_time(policy.created_at),
            expires_at=_time(policy.expires_at),
            id=policy.id,
            claims=_claims(policy) if policy.sub is None else (),
        )

    async def list_shares(self, resource_id: str) -> list[Share]:
        return [self._share(policy) for policy in await self._policies(resource_id)]

    async def list_all_shares(self) -> Listing[Share]:
        """Every policy of the owner, page by page (``expand=true&offset&limit``), at most
        ``max_items``. Stops at a short page, and at a page that brings nothing new (a server
        that ignores ``offset`` sends the same page again) or more than asked for (one that
        ignores ``limit`` sent everything)."""
        shares: Listing[Share] = Listing()
        seen: set[str] = set()
        offset = 0
        while True:
            if offset >= self._max_items:
                shares.cut_short = cut_short_note(len(shares))
                return shares
            params: dict[str, str | int] = {
                "expand": "true",
                "offset": offset,
                "limit": self._page_size,
            }
            page: list[PolicyDescription] = _checked(
                await self._get(_POLICIES, self._policies_url, "policy list", params=params)
            )
            fresh = 0
            for number, policy in enumerate(page):
                if number % YIELD_EVERY == 0:
                    self._yield()
                if policy.id in seen:
                    continue
                if len(shares) >= self._max_items:
                    shares.cut_short = cut_short_note(len(shares))
                    return shares
                seen.add(policy.id or "")
                shares.append(self._share(policy))
                fresh += 1
            if len(page) != self._page_size or not fresh:
                return shares
            offset += len(page)

    async def share(
        self,
        resource_id: str,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        wanted = [s for s in dict.fromkeys(scopes) if s]
        if not wanted:
            raise ConfigurationError("Choose at least one scope to share.")
        party = await self.find_person(resource_id, person)
        if party is None:
            raise NotFoundError(f"Nobody called {person!r} is known to {self.metadata.issuer}.")
        existing = next((p for p in await self._policies(resource_id) if p.sub == party.id), None)
        if existing is None:
            body = {
                "resource_id": resource_id,
                "resource_scopes": wanted,
                "sub": party.id,
                "expires_at": _epoch(expires_at),
            }
            try:
                await self._send("POST", self._policies_url, "the new share", body=body)
                return
            except ConflictError:
                pass
            # Someone created the policy meanwhile: merge into it.
            existing = next(
                (p for p in await self._policies(resource_id) if p.sub == party.id), None
            )
            if existing is None:
                raise ServerError("The server reported a conflicting share it then did not list.")
        merged = list(dict.fromkeys([*existing.resource_scopes, *wanted]))
        expiry = _epoch(expires_at) if expires_at is not None else existing.expires_at
        await self._replace(existing, merged, expiry)

    async def share_with_claims(
        self,
        resource_id: str,
        claims: Sequence[tuple[str, str]],
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        if Capability.SHARE_BY_CLAIMS not in self.capabilities:
            raise NotSupportedError(f"{self.metadata.issuer} does not evaluate claims policies.")
        wanted = [s for s in dict.fromkeys(scopes) if s]
        if not wanted:
            raise ConfigurationError("Choose at least one scope to share.")
        pairs = tuple(dict.fromkeys((name.strip(), value.strip()) for name, value in claims))
        if not pairs or any(not name or not value for name, value in pairs):
            raise ConfigurationError("A claims share needs at least one claim as name=value.")
        existing = next(
            (
                p
                for p in await self._policies(resource_id)
                if p.sub is None and set(_claims(p)) == set(pairs)
            ),
            None,
        )
        if existing is not None:
            merged = list(dict.fromkeys([*existing.resource_scopes, *wanted]))
            expiry = _epoch(expires_at) if expires_at is not None else existing.expires_at
            await self._replace(existing, merged, expiry)
            return
        body = {
            "resource_id": resource_id,
            "resource_scopes": wanted,
            "required_claims": [{"name": name, "value": value} for name, value in pairs],
            "expires_at": _epoch(expires_at),
        }
        await self._send("POST", self._policies_url, "the new claims share", body=body)

    async def _replace(
        self, policy: PolicyDescription, scopes: list[str], expires_at: float | None
    ) -> None:
        body = {
            "resource_id": policy.resource_id,
            "resource_scopes": scopes,
            "sub": policy.sub,
            # Sent back as received: only the members the server set, unknown ones included.
            "required_claims": policy.required_claims,
            "expires_at": _as_sent(expires_at),
        }
        await self._send(
            "PUT", _endpoint(self._policies_url, policy.id or ""), "the share", body=body
        )

    async def revoke(
        self, resource_id: str, person: str, scopes: Sequence[str] | None = None
    ) -> None:
        policy = next((p for p in await self._policies(resource_id) if _holds(p, person)), None)
        if policy is None:
            raise NotFoundError(f"{person} has no share on this resource.")
        remaining = (
            [] if scopes is None else [s for s in policy.resource_scopes if s not in set(scopes)]
        )
        if scopes is not None and remaining == policy.resource_scopes:
            raise ConfigurationError(
                f"{person} does not hold {', '.join(scopes)} on this resource."
            )
        if remaining:
            await self._replace(policy, remaining, policy.expires_at)
        else:
            await self._send(
                "DELETE", _endpoint(self._policies_url, policy.id or ""), "revoking the share"
            )

    # -- pending requests --------------------------------------------------------------

    async def list_requests(self) -> list[AccessRequest]:
        url = self._require(self.metadata.pending_request_endpoint, "pending requests")
        pending: list[PendingRequest] = await self._get(_PENDING, url, "pending request list")
        return [
            AccessRequest(
                connection_id=self.connection_id,
                id=item.id,
                resource_id=item.resource_id,
                resource_name=item.resource_name or item.resource_id,
                requester=_party(item.requester),
                scopes=tuple(item.resource_scopes),
                client_id=item.client_id,
                requested_at=_time(item.requested_at),
            )
            for item in pending
        ]

    async def approve(self, request: AccessRequest, scopes: Sequence[str] | None = None) -> None:
        url = self._require(self.metadata.pending_request_endpoint, "pending requests")
        body: dict[str, Any] = {}
        if scopes is not None:
            chosen = list(dict.fromkeys(scopes))
            unknown = [s for s in chosen if s not in request.scopes]
            if unknown:
                raise ConfigurationError(
                    f"{', '.join(unknown)} was not requested; choose among "
                    f"{', '.join(request.scopes)}."
                )
            if not chosen:
                raise ConfigurationError("Choose at least one scope to approve, or deny.")
            body["resource_scopes"] = chosen
        await self._send("POST", _endpoint(url, request.id, "approve"), "the approval", body=body)

    async def deny(self, request: AccessRequest) -> None:
        url = self._require(self.metadata.pending_request_endpoint, "pending requests")
        await self._send("POST", _endpoint(url, request.id, "deny"), "the denial", body={})

    # -- people, shared with me --------------------------------------------------------

    async def find_person(self, resource_id: str, query: str) -> Party | None:
        url = self._require(self.metadata.person_lookup_endpoint, "person lookup")
        text = query.strip()
        if not text:
            raise ConfigurationError("Type a username or an e-mail address.")
        try:
            person: Subject = await self._get(_PERSON, url, "person lookup", params={"q": text})
        except NotFoundError:
            return None
        return _party(person)

    async def shared_with_me(self) -> list[SharedWithMe]:
        url = self._require(self.metadata.shared_with_me_endpoint, "shared-with-me")
        items: list[SharedWithMeEntry] = await self._get(_SHARED, url, "shared-with-me list")
        return [
            SharedWithMe(
                connection_id=self.connection_id,
                resource=_registered(item.resource, self.connection_id),
                owner=_party(item.owner) if item.owner else None,
                scopes=tuple(item.resource_scopes),
                expires_at=_time(item.expires_at),
            )
            for item in items
        ]

    async def aclose(self) -> None:
        """The HTTP client belongs to the caller; nothing to release here."""
