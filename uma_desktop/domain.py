"""The owner's domain, independent of any server family.

Global identity of anything is (connection id, server-side id): two servers may reuse ids.
All classes are immutable; times are timezone-aware UTC datetimes. They have slots, no
per-object dict: the app holds tens of thousands of resources at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

_T = TypeVar("_T")


class BackendKind(StrEnum):
    POLICY_MANAGER = "policy-manager"
    KEYCLOAK = "keycloak"
    FORGEROCK = "forgerock"  # ForgeRock AM / PingAM / OpenAM


@dataclass(frozen=True, slots=True)
class Connection:
    """One owner at one authorization server. Persisted without secrets."""

    id: str
    issuer: str
    kind: BackendKind
    client_id: str
    display_name: str
    username: str | None = None
    subject: str | None = None
    remember: bool = True  # False: tokens kept in memory only ("don't remember me")


@dataclass(frozen=True, slots=True)
class Party:
    """A person on a server: a requesting party, a recipient of a share, an owner."""

    id: str
    username: str | None = None
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.username or self.email or self.id

    @property
    def full_label(self) -> str:
        """The name with the username (or e-mail) beside it: "Bob Lee (bob)"."""
        handle = self.username or self.email
        if self.name and handle and handle != self.name:
            return f"{self.name} ({handle})"
        return self.label


@dataclass(frozen=True, slots=True)
class Resource:
    connection_id: str
    id: str
    name: str
    scopes: tuple[str, ...]
    resource_server: str  # human name of the RS (client) holding it
    resource_server_id: str | None = None
    type: str | None = None
    description: str | None = None
    icon_uri: str | None = None
    owner: str | None = None
    share_count: int | None = None  # number of people it is shared with, when known
    labels: tuple[str, ...] = ()  # the owner's or the resource server's labels, when offered

    @property
    def key(self) -> tuple[str, str]:
        return (self.connection_id, self.id)


@dataclass(frozen=True, slots=True)
class Share:
    """A grant: ``party`` may use ``scopes`` of the resource."""

    connection_id: str
    resource_id: str
    party: Party
    scopes: tuple[str, ...]
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    id: str | None = None  # server-side id where the server has one (e.g. a policy id)
    # A claims share: anyone presenting these (name, value) claims, ``party`` names them.
    claims: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A pending request waiting for the owner's decision."""

    connection_id: str
    id: str
    resource_id: str
    resource_name: str
    requester: Party
    scopes: tuple[str, ...]
    client_id: str | None = None
    requested_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.connection_id, self.id)


@dataclass(frozen=True, slots=True)
class SharedWithMe:
    """A resource someone else shared with the logged-in owner."""

    connection_id: str
    resource: Resource
    owner: Party | None
    scopes: tuple[str, ...]
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """One thing the owner did in the app, kept in the local history.

    ``settled`` is False while the outcome is not known: sent, then interrupted.
    """

    connection_id: str
    action: str  # approve | deny | share | revoke | narrow
    resource_id: str
    resource_name: str
    party: str
    scopes: tuple[str, ...]
    at: datetime
    ok: bool
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    settled: bool = True


def fast_builder(cls: type[_T]) -> Callable[..., _T]:
    """Builds ``cls`` objects from all their field values, in order, a few times faster than
    the frozen dataclass's ``__init__`` (one ``object.__setattr__`` call per field): a plain
    twin with the same slots is filled, then takes ``cls`` as its class (same layout). For
    thousands of objects at once (snapshots, listings)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields(cls)):  # type: ignore[arg-type]
        return cls
    twin = make_dataclass(f"_{cls.__name__}Draft", names, slots=True, eq=False, repr=False)

    def build(*values: Any, **named: Any) -> _T:
        item = twin(*values, **named)
        item.__class__ = cls
        return item  # type: ignore[no-any-return]

    try:  # a class whose layout differs (no slots, a weakref slot) keeps its own __init__
        build(*names)
    except TypeError:
        return cls
    return build
