"""What a support desk reads from a resource server: people, resources, shares and requests.

A support adapter speaks for a resource server (its client credentials), not for an owner:
it sees every owner's resources on that RS and nothing of other resource servers.
Both adapters (support_keycloak, support_sandbox) parse their answers with ``SupportWire``
models and check a grant's state with ``ensure_revocable`` / ``ensure_deniable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Generic, Protocol, TypeVar

import msgspec

from uma_desktop.errors import NotFoundError

T = TypeVar("T")

SUPPORT_PAGE_SIZE = 100


class GrantStatus(StrEnum):
    GRANTED = "granted"
    EXPIRED = "expired"
    PENDING = "pending"
    DENIED = "denied"


@dataclass(frozen=True)
class SupportPerson:
    id: str
    username: str | None = None
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """The most human name known: name (username), else username, e-mail or id."""
        if self.name and self.username:
            return f"{self.name} ({self.username})"
        return self.name or self.username or self.email or self.id

    def matches(self, text: str) -> bool:
        wanted = text.strip().lower()
        return wanted in {
            (value or "").lower() for value in (self.id, self.username, self.email, self.name)
        }


@dataclass(frozen=True)
class PersonLookup:
    """A person found, and how the server let us find them (said to the operator)."""

    person: SupportPerson
    method: str


@dataclass(frozen=True)
class SupportResource:
    id: str
    name: str
    scopes: tuple[str, ...]
    owner: SupportPerson


@dataclass(frozen=True)
class SupportGrant:
    """A share (granted or expired) or an access request (pending or denied).

    ``server_ids`` are what the server must be told to revoke or deny it (one id on the
    sandbox; one permission ticket per scope on Keycloak).
    """

    id: str
    status: GrantStatus
    resource_id: str
    resource_name: str
    resource_scopes: tuple[str, ...]
    owner: SupportPerson
    person: SupportPerson
    scopes: tuple[str, ...]
    since: datetime | None = None
    expires_at: datetime | None = None
    decided_at: datetime | None = None
    client_id: str | None = None
    server_ids: tuple[str, ...] = ()

    @property
    def is_share(self) -> bool:
        return self.status in (GrantStatus.GRANTED, GrantStatus.EXPIRED)


def ensure_revocable(grant: SupportGrant) -> None:
    if not grant.is_share:
        raise NotFoundError("Only a share can be revoked; deny a pending request instead.")


def ensure_deniable(grant: SupportGrant) -> None:
    if grant.status is not GrantStatus.PENDING:
        raise NotFoundError("Only a pending request can be denied.")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_offset: int | None = None


@dataclass(frozen=True)
class ActionReceipt:
    """What the server said after a revoke or deny (its audit id when it keeps one)."""

    grant_id: str
    server_audit_id: str | None
    note: str


WireText = Annotated[str, msgspec.Meta(max_length=2000)]
"""A string field from a resource server's answer, bounded."""


class SupportWire(msgspec.Struct, frozen=True, kw_only=True):
    """A support adapter's view of one answer object: unknown fields ignored, immutable.

    Subclasses repeat ``frozen=True, kw_only=True``: type checkers do not inherit them."""


class SupportBackend(Protocol):
    """One resource server seen by its support desk. All calls raise ``uma_desktop.errors``."""

    kind: str
    #: Whether the server records the reason of a revoke itself (else only the local log).
    records_reasons: bool

    async def find_person(self, query: str) -> PersonLookup: ...

    async def resources(
        self,
        *,
        owner: str | None,
        name: str | None = None,
        offset: int = 0,
        limit: int = SUPPORT_PAGE_SIZE,
    ) -> Page[SupportResource]:
        """This RS's resources, by owner and/or a part of the name."""
        ...

    async def grants(
        self,
        *,
        owner: str | None = None,
        requester: str | None = None,
        resource_id: str | None = None,
        offset: int = 0,
        limit: int = SUPPORT_PAGE_SIZE,
    ) -> Page[SupportGrant]: ...

    async def revoke(self, grant: SupportGrant, reason: str) -> ActionReceipt: ...

    async def deny(self, grant: SupportGrant, reason: str) -> ActionReceipt: ...
