"""The why-answer, one case at a time (pure function, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uma_desktop.app.support import explain
from uma_desktop.backends.support_base import GrantStatus, SupportGrant, SupportPerson

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ALICE = SupportPerson("u-alice", "alice", "alice@example.test", "Alice Adams")
BOB = SupportPerson("u-bob", "bob", "bob@example.test", "Bob Brown")


def grant(status: GrantStatus, scopes: tuple[str, ...], **when: datetime) -> SupportGrant:
    return SupportGrant(
        id="g1",
        status=status,
        resource_id="r1",
        resource_name="Holiday 2026",
        resource_scopes=("view", "download", "comment"),
        owner=ALICE,
        person=BOB,
        scopes=scopes,
        client_id="rqp-app",
        **when,
    )


def test_no_share_and_no_request() -> None:
    answer = explain("Bob", "Holiday 2026", [], scope="view", now=NOW)
    assert answer.verdict == "cannot"
    assert answer.lines == (
        "Bob cannot view Holiday 2026: it is not shared with them and they have not asked "
        "for access.",
    )


def test_pending_since() -> None:
    asked = NOW - timedelta(days=3)
    answer = explain(
        "Bob", "Holiday 2026", [grant(GrantStatus.PENDING, ("view",), since=asked)], now=NOW
    )
    assert answer.verdict == "cannot"
    assert "pending since 2026-11-30" in answer.lines[0]
    assert "Alice Adams (alice) has not decided" in answer.lines[0]
    assert "through rqp-app" in answer.lines[1]


def test_denied_on() -> None:
    answer = explain(
        "Bob",
        "Holiday 2026",
        [grant(GrantStatus.DENIED, ("view",), decided_at=NOW - timedelta(days=1))],
        scope="view",
        now=NOW,
    )
    assert answer.verdict == "cannot"
    assert answer.lines[0] == (
        "Bob cannot view Holiday 2026: Alice Adams (alice) denied the request on 2026-12-02."
    )


def test_partial_scopes() -> None:
    answer = explain(
        "Bob", "Holiday 2026", [grant(GrantStatus.GRANTED, ("view",))], scope="download", now=NOW
    )
    assert answer.verdict == "partly"
    assert answer.lines[0] == (
        "Bob cannot download Holiday 2026: it is shared “view” only, not “download”."
    )


def test_partial_with_pending_extra_scope() -> None:
    grants = [
        grant(GrantStatus.GRANTED, ("view",)),
        grant(GrantStatus.PENDING, ("download",), since=NOW),
    ]
    answer = explain("Bob", "Holiday 2026", grants, scope="download", now=NOW)
    assert answer.verdict == "partly"
    assert answer.lines[0].endswith("A request for “download” is pending.")


def test_expired_on() -> None:
    answer = explain(
        "Bob",
        "Holiday 2026",
        [grant(GrantStatus.EXPIRED, ("view",), expires_at=NOW - timedelta(days=2))],
        scope="view",
        now=NOW,
    )
    assert answer.verdict == "cannot"
    assert answer.lines[0] == "Bob cannot view Holiday 2026: the share expired on 2026-12-01."


def test_granted_share_whose_expiry_passed_counts_as_expired() -> None:
    answer = explain(
        "Bob",
        "Holiday 2026",
        [grant(GrantStatus.GRANTED, ("view",), expires_at=NOW - timedelta(hours=1))],
        now=NOW,
    )
    assert answer.verdict == "cannot"
    assert "expired on 2026-12-03" in answer.lines[0]


def test_can_with_the_share_behind_it() -> None:
    answer = explain(
        "Bob",
        "Holiday 2026",
        [grant(GrantStatus.GRANTED, ("view", "download"), since=NOW - timedelta(days=10))],
        scope="view",
        now=NOW,
    )
    assert answer.verdict == "can"
    assert answer.lines == (
        "Bob can view Holiday 2026: shared view.",
        "Shared by Alice Adams (alice): “view”, “download” since 2026-11-23.",
    )
