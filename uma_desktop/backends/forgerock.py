"""ForgeRock AM family adapter (PingAM, ForgeRock AM, OpenAM): the owner's UMA REST API.

Everything goes to ``{server}/json/realms/root/realms/<realm>/users/<owner>/`` (CREST):
``oauth2/resources/sets`` and ``oauth2/resources/labels`` (read), ``uma/pendingrequests``
(query, ``_action=approve`` with the scopes granted, ``_action=deny``), ``uma/policies``
(one policy per resource set, id = resource set id: create with ``_action=create``, replace
with ``PUT`` + ``If-Match: *``, delete) and ``uma/auditHistory``. Facts this module relies
on, checked against OpenAM 16.0.5 by tests/openam/:

* The owner's session token (``POST /json/authenticate``) goes in the ``iPlanetDirectoryPro``
  header; an OAuth2 bearer token is not accepted by these endpoints in OpenAM 16. AM also
  sets that token as a cookie and reads a cookie before the header, so the client keeps no
  cookies (a stale or other user's cookie would win).
* Resource sets: ``_queryFilter=true`` is refused (501); ``_queryId=*`` lists them all.
  Their ``labels`` are label ids; names come from the labels collection.
* A pending request names its resource set by **name** only; the id is found by name among
  the owner's resource sets (the first match when names repeat).
* Approving a subset grants exactly the scopes sent and adds them to the resource set's
  policy; the request is gone afterwards, whatever was left out.
* The policy's ``permissions`` list has one entry per person (``subject`` = username).
* Labels the resource server set at registration (``SYSTEM``) are left out of the owner's
  view of a resource set; ``_queryFilter=labels eq "<label id>"`` finds their members.
* ``uma/auditHistory`` answers HTTP 500 for every query and action in OpenAM 16.0.5 (its
  handler reads the ``{user}`` route variable from the wrong router context);
  ``history()`` then raises NotSupportedError.
* No owner endpoint lists what others share with this user (a resource-set query needs the
  other owner's name), so shared-with-me is not offered.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import msgspec

from uma_desktop import net
from uma_desktop.backends.base import MAX_LISTED_ITEMS, Capability, Listing, TokenSource
from uma_desktop.domain import (
    AccessRequest,
    BackendKind,
    Decision,
    Party,
    Resource,
    Share,
    SharedWithMe,
)
from uma_desktop.errors import (
    ConfigurationError,
    NotFoundError,
    NotSupportedError,
    ServerError,
)

T = TypeVar("T")
SESSION_HEADER = "iPlanetDirectoryPro"
DEFAULT_CONCURRENCY = 8
MAX_LABEL_QUERIES = 200  # labels looked up per listing; an owner with more sees fewer labels
API_VERSION = "resource=1.0"
_ISSUER_PATH = re.compile(r"^(?P<base>.+?)/oauth2(?P<realm>(?:/realms/[^/]+)*)/?$")
_HINTS = {
    403: "Only the owner (or an administrator) may read these; policies only the owner.",
    404: "It may have been deleted, or UMA is not enabled in this realm.",
}


# --------------------------------------------------------------------------- wire shapes


class _Wire(msgspec.Struct, frozen=True, kw_only=True):
    """One object of AM's answer: fields it does not name are ignored (subclasses repeat
    ``frozen=True, kw_only=True``: type checkers do not inherit them)."""


class _ResourceSet(_Wire, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    name: str
    scopes: list[str] = []
    type: str | None = None
    icon_uri: str | None = None
    resource_server: str | None = msgspec.field(default=None, name="resourceServer")
    owner: str | None = msgspec.field(default=None, name="resourceOwnerId")
    labels: list[str] = []


class _Label(_Wire, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    name: str
    type: str | None = None


class _PendingRequest(_Wire, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    user: str
    resource: str
    when: int | None = None
    permissions: list[str] = []


class _Permission(_Wire, frozen=True, kw_only=True):
    subject: str
    scopes: list[str] = []


class _Policy(_Wire, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    permissions: list[_Permission] = []


class _AuditEntry(_Wire, frozen=True, kw_only=True):
    resource_set_id: str | None = msgspec.field(default=None, name="resourceSetId")
    resource_set_name: str | None = msgspec.field(default=None, name="resourceSetName")
    requesting_party: str | None = msgspec.field(default=None, name="requestingPartyId")
    type: str | None = None
    event_time: int | None = msgspec.field(default=None, name="eventTime")


class _Query(_Wire, Generic[T], frozen=True, kw_only=True):
    result: list[T] = []


_RESOURCE_SETS = net.decoder(_Query[_ResourceSet])
_LABELS = net.decoder(_Query[_Label])
_PENDING = net.decoder(_Query[_PendingRequest])
_POLICY = net.decoder(_Policy)
_AUDIT = net.decoder(_Query[_AuditEntry])
_SESSION_INFO = net.decoder(dict[str, Any])


def split_issuer(issuer: str) -> tuple[str, str]:
    """``(server base URL, realm path)`` of an AM OAuth2 issuer; ConfigurationError else.

    ``https://am.example/openam/oauth2/realms/root/realms/family`` ->
    ``("https://am.example/openam", "/realms/root/realms/family")``.
    """
    match = _ISSUER_PATH.match(issuer.strip())
    if not match:
        raise ConfigurationError(f"{issuer} does not look like a ForgeRock AM OAuth2 issuer.")
    realm = match.group("realm") or "/realms/root"
    if not realm.startswith("/realms/root"):
        realm = "/realms/root" + realm
    return match.group("base"), realm


def _when(milliseconds: int | None) -> datetime | None:
    if milliseconds is None or milliseconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _quoted(value: str) -> str:
    """A string inside a CREST query filter's double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _sorted(scopes: Sequence[str]) -> list[str]:
    return sorted(set(scopes))


# --------------------------------------------------------------------------- backend


class ForgeRockBackend:
    """Backend (backends/base.py) for one owner in one realm of a ForgeRock AM server."""

    kind: str = BackendKind.FORGEROCK.value
    # No expiry (OpenAM's policies carry none), no e-mail sharing (policies name usernames),
    # no person lookup and no shared-with-me list in the owner API.
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.SCOPE_SUBSET,
            Capability.DENY,
            Capability.SHARE_BY_USERNAME,
            Capability.NARROW,
        }
    )

    def __init__(
        self,
        connection_id: str,
        issuer: str,
        client: net.AsyncClient,
        tokens: TokenSource,
        *,
        username: str | None = None,
        max_items: int = MAX_LISTED_ITEMS,
    ) -> None:
        self.connection_id = connection_id
        self.server_url, self.realm_path = split_issuer(issuer)
        self._client = client
        net.refuse_cookies(client)  # AM reads a session cookie before the header
        self._tokens = tokens
        self._username = username
        self._max_items = max_items
        self.request_count = 0

    # ------------------------------------------------------------------ HTTP

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: dict[str, str | int] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> net.Reply:
        self.request_count += 1
        return await net.send(
            self._client,
            method,
            url,
            what,
            params=params,
            json=body,
            headers={"Accept": "application/json", "Accept-API-Version": API_VERSION}
            | (headers or {}),
            tokens=self._tokens,
            token_header=SESSION_HEADER,
            hints=_HINTS,
        )

    async def owner(self) -> str:
        """The session's username (asked once: ``sessions?_action=getSessionInfo``)."""
        if self._username is None:
            reply = await self._send(
                "POST",
                f"{self.server_url}/json{self.realm_path}/sessions",
                "the session lookup",
                params={"_action": "getSessionInfo"},
                body={},
                headers={"Accept-API-Version": "resource=2.0"},
            )
            info = net.parse(reply, _SESSION_INFO, "session information")
            username = info.get("username")
            if not isinstance(username, str) or not username:
                raise NotSupportedError("The server did not say whose session this is.")
            self._username = username
        return self._username

    async def _url(self, path: str) -> str:
        owner = quote(await self.owner(), safe="")
        return f"{self.server_url}/json{self.realm_path}/users/{owner}/{path}"

    # ------------------------------------------------------------------ reads

    async def _resource_sets(self, query: str | None = None) -> list[_ResourceSet]:
        """All the owner's resource sets (``_queryId=*``), or those matching ``query``."""
        params: dict[str, str | int] = {"_queryFilter": query} if query else {"_queryId": "*"}
        reply = await self._send(
            "GET", await self._url("oauth2/resources/sets"), "the resource list", params=params
        )
        return net.parse(reply, _RESOURCE_SETS, "resource list").result

    async def _labels(self) -> dict[str, str]:
        reply = await self._send(
            "GET",
            await self._url("oauth2/resources/labels"),
            "the label list",
            params={"_queryFilter": "true"},
        )
        return {label.id: label.name for label in net.parse(reply, _LABELS, "label list").result}

    async def _policy(self, resource_id: str) -> _Policy | None:
        try:
            reply = await self._send(
                "GET",
                await self._url(f"uma/policies/{quote(resource_id, safe='')}"),
                "the sharing policy",
            )
        except NotFoundError:
            return None
        return net.parse(reply, _POLICY, "sharing policy")

    async def _labelled(self, labels: dict[str, str]) -> dict[str, set[str]]:
        """Resource set id -> label names, one query per label (bounded).

        The owner's view of a resource set lists only the owner's own labels; the labels the
        resource server set at registration (``SYSTEM``) are found by querying per label.
        """
        found: dict[str, set[str]] = {}
        limit = asyncio.Semaphore(DEFAULT_CONCURRENCY)

        async def members(label_id: str) -> list[_ResourceSet]:
            async with limit:
                return await self._resource_sets(f'labels eq "{_quoted(label_id)}"')

        ids = list(labels)[:MAX_LABEL_QUERIES]
        results = await asyncio.gather(*(members(i) for i in ids))
        for label_id, sets in zip(ids, results, strict=True):
            for raw in sets:
                found.setdefault(raw.id, set()).add(labels[label_id])
        return found

    def _resource(self, raw: _ResourceSet, labels: set[str]) -> Resource:
        return Resource(
            connection_id=self.connection_id,
            id=raw.id,
            name=raw.name,
            scopes=tuple(_sorted(raw.scopes)),
            resource_server=raw.resource_server or "",
            resource_server_id=raw.resource_server,
            type=raw.type,
            icon_uri=raw.icon_uri,
            owner=raw.owner,
            labels=tuple(sorted(labels)),
        )

    async def list_resources(self, name_filter: str | None = None) -> list[Resource]:
        labels = await self._labels()
        labelled = await self._labelled(labels)
        found: Listing[Resource] = Listing()
        for raw in await self._resource_sets():
            if name_filter and name_filter.casefold() not in raw.name.casefold():
                continue
            if len(found) >= self._max_items:
                found.cut_short = f"Only the first {self._max_items} resources were read."
                break
            names = labelled.get(raw.id, set()) | {labels.get(i, i) for i in raw.labels}
            found.append(self._resource(raw, names))
        return found

    async def list_shares(self, resource_id: str) -> list[Share]:
        policy = await self._policy(resource_id)
        if policy is None:
            return []
        return [
            Share(
                connection_id=self.connection_id,
                resource_id=resource_id,
                party=Party(id=permission.subject, username=permission.subject),
                scopes=tuple(_sorted(permission.scopes)),
                id=policy.id,
            )
            for permission in policy.permissions
        ]

    async def list_all_shares(self) -> list[Share]:
        """Not offered: the shares are read resource set by resource set."""
        raise NotSupportedError("This server is read one resource set at a time.")

    async def list_requests(self) -> list[AccessRequest]:
        reply = await self._send(
            "GET",
            await self._url("uma/pendingrequests"),
            "the pending requests",
            params={"_queryFilter": "true"},
        )
        pending = net.parse(reply, _PENDING, "pending requests").result
        if not pending:
            return []
        by_name: dict[str, str] = {}
        for raw in await self._resource_sets():
            by_name.setdefault(raw.name, raw.id)
        return [
            AccessRequest(
                connection_id=self.connection_id,
                id=item.id,
                resource_id=by_name.get(item.resource, ""),
                resource_name=item.resource,
                requester=Party(id=item.user, username=item.user),
                scopes=tuple(_sorted(item.permissions)),
                requested_at=_when(item.when),
            )
            for item in pending
        ]

    async def history(self) -> list[Decision]:
        """The server's audit history for this owner, oldest first, as settled decisions."""
        try:
            reply = await self._send(
                "GET",
                await self._url("uma/auditHistory"),
                "the audit history",
                params={"_queryFilter": "true"},
            )
        except ServerError as exc:
            if exc.status != 500:
                raise
            # OpenAM 16.0.5 fails every audit-history call (its handler cannot find the user
            # in the route); PingAM / ForgeRock AM answer it.
            raise NotSupportedError(
                "This server could not produce its audit history (HTTP 500); the app's own "
                "history still records what you decide here."
            ) from None
        entries = net.parse(reply, _AUDIT, "audit history").result
        decisions = [
            Decision(
                connection_id=self.connection_id,
                action=(entry.type or "event").lower(),
                resource_id=entry.resource_set_id or "",
                resource_name=entry.resource_set_name or entry.resource_set_id or "",
                party=entry.requesting_party or "",
                scopes=(),
                at=_when(entry.event_time) or datetime.fromtimestamp(0, tz=UTC),
                ok=True,
                extra={"source": "server audit history"},
            )
            for entry in entries
        ]
        return sorted(decisions, key=lambda decision: decision.at)

    async def shared_with_me(self) -> list[SharedWithMe]:
        raise NotSupportedError("This server's owner API offers no list of what others share.")

    async def find_person(self, resource_id: str, query: str) -> Party | None:
        raise NotSupportedError("This server's owner API has no person lookup.")

    # ------------------------------------------------------------------ writes

    async def approve(self, request: AccessRequest, scopes: Sequence[str] | None = None) -> None:
        granted = _sorted(request.scopes if scopes is None else scopes)
        if not granted:
            await self.deny(request)
            return
        await self._send(
            "POST",
            await self._url(f"uma/pendingrequests/{quote(request.id, safe='')}"),
            "the approval",
            params={"_action": "approve"},
            body={"scopes": granted},
        )

    async def deny(self, request: AccessRequest) -> None:
        await self._send(
            "POST",
            await self._url(f"uma/pendingrequests/{quote(request.id, safe='')}"),
            "the denial",
            params={"_action": "deny"},
            body={},
        )

    async def _write_policy(
        self, resource_id: str, exists: bool, permissions: dict[str, list[str]]
    ) -> None:
        url = await self._url("uma/policies")
        item_url = f"{url}/{quote(resource_id, safe='')}"
        body = {
            "policyId": resource_id,
            "permissions": [
                {"subject": subject, "scopes": scopes}
                for subject, scopes in sorted(permissions.items())
                if scopes
            ],
        }
        if not body["permissions"]:
            if exists:
                await self._send("DELETE", item_url, "removing the sharing policy")
            return
        if exists:
            await self._send(
                "PUT", item_url, "the sharing policy", body=body, headers={"If-Match": "*"}
            )
        else:
            await self._send(
                "POST", url, "the new sharing policy", params={"_action": "create"}, body=body
            )

    @staticmethod
    def _permissions(policy: _Policy | None) -> dict[str, list[str]]:
        if policy is None:
            return {}
        return {p.subject: _sorted(p.scopes) for p in policy.permissions}

    async def share_with_claims(
        self,
        resource_id: str,
        claims: Sequence[tuple[str, str]],
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        """The AM family's sharing policies name users only."""
        raise NotSupportedError("This server cannot share with everyone presenting a claim.")

    async def share(
        self,
        resource_id: str,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        if expires_at is not None:
            raise NotSupportedError("This server's sharing policies carry no expiry date.")
        policy = await self._policy(resource_id)
        permissions = self._permissions(policy)
        permissions[person] = _sorted([*permissions.get(person, []), *scopes])
        await self._write_policy(resource_id, policy is not None, permissions)

    async def revoke(
        self, resource_id: str, person: str, scopes: Sequence[str] | None = None
    ) -> None:
        policy = await self._policy(resource_id)
        permissions = self._permissions(policy)
        if person not in permissions:
            return
        if scopes is None:
            del permissions[person]
        else:
            permissions[person] = [s for s in permissions[person] if s not in set(scopes)]
        await self._write_policy(resource_id, policy is not None, permissions)

    async def aclose(self) -> None:
        """The client belongs to the caller."""
