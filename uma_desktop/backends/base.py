"""The contract every authorization-server family adapter implements (design §4).

Adapters are async and Qt-free. They receive an ``httpx.AsyncClient`` built by
``uma_desktop.net`` and a ``TokenSource`` that yields a fresh owner access token; they never
see refresh tokens or the keyring. Every exchange goes through ``net.send`` (one bounded,
authenticated transport, one status-to-error mapping) and every body through ``net.parse``.
Every method raises only ``uma_desktop.errors`` types.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from uma_desktop.domain import AccessRequest, Party, Resource, Share, SharedWithMe
from uma_desktop.net import TokenSource
from uma_desktop.yielding import YieldPoint, no_yield

__all__ = ["Backend", "Capability", "Listing", "TokenSource", "YieldPoint", "no_yield"]

T = TypeVar("T")

MAX_LISTED_ITEMS = 250_000  # a listing stops here, however much the server claims to hold


class Listing(list[T]):
    """A listing as read; ``cut_short`` says why it is incomplete (empty when complete)."""

    cut_short: str = ""


def cut_short_note(count: int) -> str:
    return f"Only the first {count} items were read; the server offers more than the app lists."


class Capability(StrEnum):
    """What a backend can do; the GUI shows only what is declared."""

    SCOPE_SUBSET = "scope_subset"  # approve only some of the requested scopes
    DENY = "deny"
    SHARE_BY_USERNAME = "share_by_username"
    SHARE_BY_EMAIL = "share_by_email"
    NARROW = "narrow"  # remove some scopes of a share, keep the rest
    EXPIRY = "expiry"  # shares may carry an expiry date
    SHARED_WITH_ME = "shared_with_me"
    PERSON_LOOKUP = "person_lookup"
    SHARE_BY_CLAIMS = "share_by_claims"  # anyone presenting claims, e.g. a verified e-mail domain


class Backend(Protocol):
    """One adapter per AS family. ``connection_id`` is stamped on every returned object."""

    kind: str
    capabilities: frozenset[Capability]

    async def list_resources(self, name_filter: str | None = None) -> list[Resource]: ...

    async def list_shares(self, resource_id: str) -> list[Share]: ...

    async def list_requests(self) -> list[AccessRequest]: ...

    async def approve(self, request: AccessRequest, scopes: Sequence[str] | None = None) -> None:
        """Grant ``scopes`` (default: all requested) of a pending request."""
        ...

    async def deny(self, request: AccessRequest) -> None: ...

    async def share(
        self,
        resource_id: str,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        """Give ``person`` (username or e-mail) ``scopes``, added to what they already have."""
        ...

    async def revoke(
        self, resource_id: str, person: str, scopes: Sequence[str] | None = None
    ) -> None:
        """Take ``scopes`` (default: all) away from ``person``; leaves everything else alone."""
        ...

    async def share_with_claims(
        self,
        resource_id: str,
        claims: Sequence[tuple[str, str]],
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> None:
        """Give anyone presenting every (name, value) claim ``scopes`` (SHARE_BY_CLAIMS)."""
        ...

    async def shared_with_me(self) -> list[SharedWithMe]: ...

    async def find_person(self, resource_id: str, query: str) -> Party | None: ...

    async def aclose(self) -> None: ...
