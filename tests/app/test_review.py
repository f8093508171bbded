"""The access review over real sandboxes: flags, the four actions, resume after restart,
the sandbox's own expiry, and app-kept expiry revoked when due (clock injected)."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.owner import OwnerApi, connect
from uma_desktop.app import ControlPoint
from uma_desktop.app.expiry import ENFORCED_LABEL, ExpiryStore, revoke_due
from uma_desktop.app.review import (
    Flag,
    Outcome,
    ReviewItem,
    ReviewSession,
    ReviewSettings,
    ReviewStore,
    review_due,
)
from uma_desktop.errors import ConfigurationError, NotFoundError
from uma_desktop.sandbox import SandboxServer

NOW = datetime.now(UTC)


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def by(items: list[ReviewItem], resource: str, username: str) -> ReviewItem:
    return next(
        i for i in items if i.resource.name == resource and i.share.party.username == username
    )


async def test_flags_keep_and_progress_resume_after_restart(
    open_control: Callable[..., Any], two_sandboxes: tuple[SandboxServer, ...]
) -> None:
    home, work = two_sandboxes
    control: ControlPoint = await open_control()
    try:
        home_id, work_id = await connect(control, home, work)
        await control.share(home_id, home.resource_id("Cat pictures"), "dave", ["view", "download"])
        session = ReviewSession(control, clock=fixed(NOW))
        items = await session.load()
        found = {(i.share.connection_id, i.resource.name, i.share.party.username) for i in items}
        assert found == {
            (home_id, "Family portraits", "bob"), (home_id, "Work calendar", "carol"),
            (home_id, "Cat pictures", "dave"),
            (work_id, "Family portraits", "bob"), (work_id, "Work calendar", "carol"),
        }  # fmt: skip
        assert session.progress_text() == "0 of 5 reviewed"
        dave = by(items, "Cat pictures", "dave")
        assert Flag.NO_EXPIRY in dave.flags and Flag.ALL_SCOPES in dave.flags
        assert Flag.UNSEEN not in dave.flags  # just shared: seen in a decision today
        assert Flag.OLD not in dave.flags
        carol = by(items, "Work calendar", "carol")
        assert carol.last_decision is None and Flag.UNSEEN not in carol.flags  # granted today
        assert len({i.id for i in items}) == 5

        # 200 days later: old, and dave not seen for more than 180 days.
        later = ReviewSession(control, clock=fixed(NOW + timedelta(days=200)))
        aged = await later.load()
        assert {Flag.OLD, Flag.UNSEEN} <= by(aged, "Cat pictures", "dave").flags
        assert {Flag.OLD, Flag.UNSEEN} <= by(aged, "Work calendar", "carol").flags

        kept = await session.keep([dave, by(items, "Work calendar", "carol")])
        assert all(r.ok for r in kept)
        assert session.progress_text() == "2 of 5 reviewed"
        history = control.history()
        assert sorted((d.action, d.resource_name, d.ok) for d in history if d.action == "keep") == [
            ("keep", "Cat pictures", True), ("keep", "Work calendar", True),
        ]  # fmt: skip
        path = ReviewStore(control.dirs.data).path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        await control.aclose()

    # A restart: a new ControlPoint over the same files keeps the review where it was.
    reopened: ControlPoint = await open_control()
    try:
        session = ReviewSession(reopened, clock=fixed(NOW + timedelta(hours=1)))
        items = await session.load()
        assert session.progress_text() == "2 of 5 reviewed"
        assert by(items, "Cat pictures", "dave").outcome is Outcome.KEPT
        assert by(items, "Family portraits", "bob").outcome is None
        with pytest.raises(NotFoundError):
            session.find(["nope"])
        await session.keep([i for i in items if i.outcome is None])
        summary = session.finish()
        assert (summary.reviewed, summary.total, summary.counts) == (5, 5, {"kept": 5})
        state = ReviewStore(reopened.dirs.data).load()
        assert state.started_at is None and state.last_completed is not None
        assert not review_due(state, NOW + timedelta(days=89))
        assert review_due(state, NOW + timedelta(days=91))
        assert review_due(ReviewStore(reopened.dirs.data.parent / "nowhere").load(), NOW)
    finally:
        await reopened.aclose()


async def test_revoke_narrow_and_native_expiry_on_the_sandbox(
    control: ControlPoint, sandbox: SandboxServer
) -> None:
    [cid] = await connect(control, sandbox)
    cats = sandbox.resource_id("Cat pictures")
    await control.share(cid, cats, "dave", ["view", "download"])
    await control.share(cid, cats, "erin@example.test", ["view"])
    session = ReviewSession(control)
    items = await session.load()
    api = OwnerApi(sandbox)

    narrowed = await session.narrow([by(items, "Cat pictures", "dave")], ["download"])
    assert narrowed[0].ok, narrowed[0].error
    assert api.policy_of("Cat pictures", "dave")["resource_scopes"] == ["view"]  # type: ignore[index]

    when = (NOW + timedelta(days=30)).replace(microsecond=0)
    expired = await session.set_expiry([by(items, "Family portraits", "bob")], when)
    assert expired[0].ok, expired[0].error
    policy = api.policy_of("Family portraits", "bob")
    assert policy is not None and policy["expires_at"] == int(when.timestamp())
    assert ExpiryStore(control.dirs.data).load() == []  # the server keeps it, not the app

    revoked = await session.revoke([by(items, "Cat pictures", "erin")])
    assert revoked[0].ok
    assert api.policy_of("Cat pictures", "erin") is None
    # Narrowing away every scope is refused: that is a revoke.
    refused = await session.narrow([by(items, "Work calendar", "carol")], ["free-busy"])
    assert not refused[0].ok and "revoke instead" in refused[0].error
    assert [(d.action, d.ok) for d in control.history()[:3]] == [
        ("revoke", True), ("set-expiry", True), ("narrow", True),
    ]  # fmt: skip
    with pytest.raises(ConfigurationError):
        await session.set_expiry(items[:1], NOW - timedelta(days=1))

    reloaded = ReviewSession(control)
    items = await reloaded.load()
    bob = by(items, "Family portraits", "bob")
    assert bob.share.expires_at == when and Flag.NO_EXPIRY not in bob.flags
    assert bob.expiry_text.startswith("expires ") and ENFORCED_LABEL not in bob.expiry_text
    assert reloaded.progress_text() == "3 of 4 reviewed"  # erin's revoked share still counts
    portraits = "/" + sandbox.resource_id("Family portraits")
    assert api.get("registered_resource_endpoint", portraits)["share_count"] == 1
    sandbox.advance_clock(31 * 86400)  # the server's own expiry: no app action needed
    fresh = OwnerApi(sandbox)  # the old token expired with the jump
    assert fresh.get("registered_resource_endpoint", portraits)["share_count"] == 0
    assert await revoke_due(control, clock=fixed(NOW + timedelta(days=31))) == []


def test_settings_are_checked_and_a_damaged_review_file_is_set_aside(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError):
        ReviewSettings(older_than_days=0).checked()
    store = ReviewStore(tmp_path)
    store.path.write_text(json.dumps({"settings": {"interval_days": "soon"}}))
    with pytest.raises(ConfigurationError, match="kept as"):
        store.load()
    assert not store.path.exists()
    assert store.load().settings == ReviewSettings()


def _record_progress(data_dir: str, prefix: str, count: int, start: Any, at: str) -> None:
    """One program's review: ``count`` shares kept, each saved as it is marked."""
    store = ReviewStore(Path(data_dir))
    start.wait()
    for number in range(count):
        key = f"{prefix}:{number}"
        entry = {"outcome": Outcome.KEPT.value, "id": key, "at": at}
        store.record({key: entry}, datetime.fromisoformat(at))


def test_two_programs_recording_progress_at_once_keep_both(tmp_path: Path) -> None:
    """The window and ``uma-desktop review`` both mark shares: neither loses the other's."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    count = 60
    programs = [
        spawn.Process(
            target=_record_progress, args=(str(tmp_path), name, count, start, NOW.isoformat())
        )
        for name in ("window", "command")
    ]
    for program in programs:
        program.start()
    for program in programs:
        program.join(120)
        assert program.exitcode == 0
    state = ReviewStore(tmp_path).load()
    assert len(state.done) == 2 * count
    assert {key.split(":")[0] for key in state.done} == {"window", "command"}
    assert state.started_at == NOW
    assert stat.S_IMODE((tmp_path / "review.json.lock").stat().st_mode) == 0o600


async def test_two_sessions_on_one_review_keep_each_others_progress(
    open_control: Callable[..., Any], two_sandboxes: tuple[SandboxServer, ...]
) -> None:
    """A window and a command reviewing at once: each save merges into the file as it is."""
    home, _ = two_sandboxes
    window: ControlPoint = await open_control()
    command: ControlPoint | None = None
    try:
        await connect(window, home)
        command = await open_control()
        in_window, in_command = ReviewSession(window), ReviewSession(command)
        first, second = (await in_window.load())[:2]
        await in_command.load()
        assert all(r.ok for r in await in_window.keep([first]))
        [second_there] = in_command.find([second.id])
        assert all(r.ok for r in await in_command.keep([second_there]))
        assert set(ReviewStore(window.dirs.data).load().done) == {first.key, second.key}
        assert in_command.progress()[0] == 2  # the window's mark came back with the merge
        summary = in_window.finish()
        assert summary.counts == {"kept": 2}
        assert not ReviewStore(window.dirs.data).load().done
    finally:
        await window.aclose()
        if command is not None:
            await command.aclose()
