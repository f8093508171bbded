"""Owner API objects (Policy Manager draft v0.1 + the extension in docs/owner-api.md).

Shared by the sandbox's tests and the client's Policy Manager backend, so they accept what
any such server may send: times as integer or fractional epoch seconds (read as floats),
unknown fields (ignored).
"""

from __future__ import annotations

from typing import Any

import msgspec

from uma_desktop.uma._base import EpochSeconds, WireModel, parse_model
from uma_desktop.uma.resources import RegisteredResource


class Subject(WireModel, frozen=True, kw_only=True):
    """A person as the owner API shows them."""

    sub: str
    username: str | None = None
    email: str | None = None
    name: str | None = None


class PolicyDescription(WireModel, frozen=True, kw_only=True):
    """A policy: ``sub`` may use ``resource_scopes`` of ``resource_id`` until ``expires_at``."""

    id: str | None = msgspec.field(default=None, name="_id")
    resource_id: str
    resource_scopes: list[str]
    # Kept as sent (name, value, claim_token_format, … and any other member): a policy that
    # is changed is sent back with its claims exactly as the server gave them.
    required_claims: list[dict[str, Any]] = []
    sub: str | None = None
    expires_at: EpochSeconds | None = None
    created_at: EpochSeconds | None = None
    subject: Subject | None = None
    audience: str | None = None  # a claims policy's readable audience (UMA Desktop extension)


class PendingRequest(WireModel, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    resource_id: str
    resource_name: str | None = None
    resource_scopes: list[str]
    requester: Subject
    client_id: str | None = None
    requested_at: EpochSeconds | None = None


class HistoryEntry(WireModel, frozen=True, kw_only=True):
    id: str = msgspec.field(name="_id")
    at: EpochSeconds
    action: str
    resource_id: str
    resource_name: str | None = None
    sub: str | None = None
    resource_scopes: list[str] = []


class SharedWithMeEntry(WireModel, frozen=True, kw_only=True):
    resource: RegisteredResource
    owner: Subject | None = None
    resource_scopes: list[str] = []
    expires_at: EpochSeconds | None = None


def parse_policy(data: Any) -> PolicyDescription:
    return parse_model(PolicyDescription, data, "policy")


def parse_pending_request(data: Any) -> PendingRequest:
    return parse_model(PendingRequest, data, "pending request")


def parse_history_entry(data: Any) -> HistoryEntry:
    return parse_model(HistoryEntry, data, "history entry")


def parse_shared_with_me(data: Any) -> SharedWithMeEntry:
    return parse_model(SharedWithMeEntry, data, "shared-with-me entry")


def parse_subject(data: Any) -> Subject:
    return parse_model(Subject, data, "person")
