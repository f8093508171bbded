"""The command line of the access review, expiry and the "who can see my data" report.

``uma-desktop review`` lists every share of every connection with its flags and review id;
``review keep|revoke|narrow|expire <ids>`` acts on them; ``review finish`` closes the review
with its summary. ``uma-desktop expire --due`` revokes app-kept expiries that fell due (for a
scheduler; ``--install-timer``/``--remove-timer`` manage the systemd user timer).
``uma-desktop report --format html|csv|json`` writes the report. Registered by ``cli.py``;
output goes through the same safe writers (server text terminal-safe, JSON escaped).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from uma_desktop.errors import ConfigurationError, UmaDesktopError
from uma_desktop.text import terminal_safe

if TYPE_CHECKING:
    from uma_desktop.app import ControlPoint
    from uma_desktop.app.expiry import Clock
    from uma_desktop.app.review import ActionResult, ReviewItem, ReviewSession


COMMANDS = frozenset({"review", "expire"})
# The values of app.review.Flag, spelled here so that `--help` does not load the app.
FLAG_CHOICES = ("no-expiry", "old", "all-scopes", "unseen")


class Cli(Protocol):
    """What these commands use of ``cli.Cli`` (one invocation: control point, args, output)."""

    control: ControlPoint
    args: argparse.Namespace
    out: TextIO
    err: TextIO

    def warn(self, message: str) -> None: ...

    def fail_soft(self, error: UmaDesktopError, where: str) -> None: ...

    def emit_json(self, data: Any) -> None: ...

    def fan_out_report(self, results: Sequence[Any]) -> list[dict[str, Any]]: ...


def _scope_list(text: str) -> list[str]:
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    if not scopes:
        raise ConfigurationError("--scopes needs at least one scope (comma separated).")
    return scopes


def _clock(cli: Cli) -> Clock:
    from uma_desktop.app.expiry import system_clock

    clock: Clock | None = getattr(cli.args, "clock", None)
    return clock or system_clock


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else ""


def _table(rows: list[list[str]], header: list[str], out: TextIO) -> None:
    if not rows:
        return
    rows = [[terminal_safe(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for row in [header, *rows]:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        print(line, file=out)


def _item_json(item: ReviewItem) -> dict[str, Any]:
    share = item.share
    return {
        "id": item.id,
        "connection_id": share.connection_id,
        "server": item.server,
        "resource_id": item.resource.id,
        "resource_name": item.resource.name,
        "resource_scopes": list(item.resource.scopes),
        "person": {
            "id": share.party.id,
            "username": share.party.username,
            "email": share.party.email,
            "name": share.party.name,
        },
        "scopes": list(share.scopes),
        "granted_at": share.granted_at,
        "expires_at": item.expires_at,
        "expiry_enforced_by_app": share.expires_at is None and item.enforced_expiry is not None,
        "last_decision": item.last_decision,
        "flags": sorted(f.value for f in item.flags),
        "outcome": item.outcome.value if item.outcome else None,
    }


async def _session(cli: Cli) -> ReviewSession:
    from uma_desktop.app.review import ReviewSession

    session = ReviewSession(cli.control, clock=_clock(cli))
    await session.load()
    cli.fan_out_report(session.failures)
    return session


def _print_results(cli: Cli, session: ReviewSession, results: Sequence[ActionResult]) -> None:
    if cli.args.json:
        cli.emit_json(
            {
                "results": [
                    {"id": r.item.id, "ok": r.ok, "error": r.error, "decision": r.decision}
                    for r in results
                ],
                "progress": dict(zip(("reviewed", "total"), session.progress(), strict=True)),
            }
        )
    for result in results:
        what = f"{result.item.id} {result.item.share.party.label} on {result.item.resource.name}"
        if result.ok:
            outcome = result.item.outcome.value if result.item.outcome else "done"
            cli.warn(f"{what}: {outcome}")
        else:
            cli.fail_soft(ConfigurationError(result.error), what)
    cli.warn(session.progress_text())


async def review(cli: Cli) -> None:
    """``review``: the list; ``review <action> <ids>``: act on shares."""
    from uma_desktop.app.review import Flag

    action = cli.args.action
    if action == "settings":
        from dataclasses import replace  # not at import: `--help` would load inspect for it

        from uma_desktop.app.review import ReviewState, ReviewStore

        chosen = {
            "older_than_days": cli.args.older_than,
            "unseen_days": cli.args.unseen,
            "interval_days": cli.args.interval,
        }

        def adopt(state: ReviewState) -> None:
            given = {k: v for k, v in chosen.items() if v is not None}
            state.settings = replace(state.settings, **given).checked()

        # Under the file's lock: the window's progress recorded meanwhile is kept.
        settings = ReviewStore(cli.control.dirs.data).change(adopt).settings
        if cli.args.json:
            cli.emit_json(settings)
        else:
            print(
                f"older than {settings.older_than_days} days, not seen for "
                f"{settings.unseen_days} days, remind after {settings.interval_days} days",
                file=cli.out,
            )
        return
    session = await _session(cli)
    if action is None:
        items = session.items
        if cli.args.flag:
            wanted = Flag(cli.args.flag)
            items = [i for i in items if wanted in i.flags]
        if cli.args.pending:
            items = [i for i in items if i.outcome is None]
        reviewed, total = session.progress()
        if cli.args.json:
            cli.emit_json(
                {
                    "items": [_item_json(i) for i in items],
                    "progress": {"reviewed": reviewed, "total": total},
                    "settings": session.state.settings,
                }
            )
            return
        _table(
            [
                [
                    i.id,
                    i.server,
                    i.resource.name,
                    i.share.party.full_label,
                    ",".join(i.share.scopes),
                    _when(i.share.granted_at),
                    i.expiry_text,
                    _when(i.last_decision),
                    i.flag_text,
                    i.outcome.value if i.outcome else "",
                ]
                for i in items
            ],
            ["ID", "SERVER", "RESOURCE", "PERSON", "SCOPES", "SINCE", "EXPIRY",
             "LAST DECISION", "FLAGS", "REVIEWED"],
            cli.out,
        )  # fmt: skip
        cli.warn(session.progress_text())
        return
    if action == "finish":
        summary = session.finish()
        if cli.args.json:
            cli.emit_json(summary.to_json())
        else:
            print(summary.text(), file=cli.out)
        return
    items = session.find(cli.args.ids)
    if action == "keep":
        results = await session.keep(items)
    elif action == "revoke":
        results = await session.revoke(items)
    elif action == "narrow":
        results = await session.narrow(items, _scope_list(cli.args.scopes))
    else:
        from uma_desktop.app.expiry import parse_date

        results = await session.set_expiry(items, parse_date(cli.args.date))
    _print_results(cli, session, results)


async def expire(cli: Cli) -> None:
    """``expire --due`` (revoke what fell due), ``--install-timer``/``--remove-timer``; else
    the list of app-kept expiry dates."""
    from uma_desktop.app import scheduler
    from uma_desktop.app.expiry import ExpiryStore

    args = cli.args
    if args.install_timer or args.remove_timer:
        change = scheduler.install_timer() if args.install_timer else scheduler.remove_timer()
        verb = "installed" if args.install_timer else "removed"
        if args.json:
            cli.emit_json({verb: [str(p) for p in change.paths], "note": change.note})
        else:
            for path in change.paths:
                print(f"{verb} {path}", file=cli.out)
        if change.note:
            cli.warn(change.note)
        return
    if args.due:
        decisions = await revoke_due(cli)
        if args.json:
            cli.emit_json({"items": decisions})
        elif not decisions:
            cli.warn("no share is due to expire")
        return
    import asyncio

    entries = await asyncio.to_thread(ExpiryStore(cli.control.dirs.data).load)
    if args.json:
        cli.emit_json({"items": [e.to_json() for e in entries]})
        return
    _table(
        [[e.connection_id, e.resource_name, e.party_label, e.due.isoformat()] for e in entries],
        ["CONNECTION", "RESOURCE", "PERSON", "DUE (ENFORCED BY UMA DESKTOP)"],
        cli.out,
    )


async def revoke_due(cli: Cli) -> list[Any]:
    """Revoke what fell due; one line per revoke on stderr, failures counted in the exit code."""
    from uma_desktop.app.expiry import revoke_due as revoke

    decisions = await revoke(cli.control, clock=_clock(cli))
    for decision in decisions:
        what = f"{decision.party} on {decision.resource_name}"
        if decision.ok:
            cli.warn(f"expired: {what} - access revoked (enforced by UMA Desktop)")
        else:
            cli.fail_soft(UmaDesktopError(decision.detail), f"expiry of {what}")
    return decisions


async def enforce_at_start(control: ControlPoint, err: TextIO, clock: Clock | None) -> None:
    """The cheap check every command starts with: one small local file, network only when a
    share is due. Never stops the command."""
    from uma_desktop.app.expiry import ExpiryStore, revoke_due, system_clock

    now_of = clock or system_clock
    try:
        if not ExpiryStore(control.dirs.data).due(now_of()):
            return
        decisions = await revoke_due(control, clock=now_of)
    except UmaDesktopError as error:
        print(f"uma-desktop: {terminal_safe(error.user_message)}", file=err)
        return
    for decision in decisions:
        state = "access revoked" if decision.ok else f"not revoked yet ({decision.detail})"
        print(
            terminal_safe(
                f"uma-desktop: expired: {decision.party} on {decision.resource_name} - {state}"
            ),
            file=err,
        )


def enforced_expiries(control: ControlPoint, shares: Sequence[Any]) -> dict[str, str]:
    """Person id -> '<date> (expires (enforced by UMA Desktop))' for the shares whose due
    date the app keeps (their server has no expiry)."""
    from uma_desktop.app.expiry import ENFORCED_LABEL, app_kept_due_dates

    return {
        party_id: f"{due.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')} ({ENFORCED_LABEL})"
        for party_id, due in app_kept_due_dates(control.dirs.data, shares).items()
    }


async def report(cli: Cli) -> None:
    """Every share on every connection as CSV (default), JSON or HTML."""
    from uma_desktop.app.expiry import ExpiryStore
    from uma_desktop.app.report import build_report, to_csv, to_html, to_json
    from uma_desktop.app.review import collect_shares

    results = await collect_shares(cli.control)
    summary = cli.fan_out_report(results)
    connections = [s.connection for s in cli.control.connections()]
    import asyncio

    due = await asyncio.to_thread(ExpiryStore(cli.control.dirs.data).by_key)
    built = build_report(results, connections, due)
    if cli.args.format == "json":
        cli.emit_json({**to_json(built), "connections": summary})
    elif cli.args.format == "html":
        cli.out.write(to_html(built))
    else:
        cli.out.write(to_csv(built))


def add_commands(commands: Any, json_flag: argparse.ArgumentParser) -> None:
    """Register ``review`` and ``expire`` on the main parser's subcommands."""
    review_parser = commands.add_parser(
        "review", parents=[json_flag], help="review every share: keep, revoke, narrow, expire"
    )
    review_parser.add_argument("--flag", choices=FLAG_CHOICES, help="only these")
    review_parser.add_argument(
        "--pending", action="store_true", help="only shares not reviewed yet"
    )
    review_parser.set_defaults(run=review, action=None)
    actions = review_parser.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (
        ("keep", "mark as reviewed, change nothing"),
        ("revoke", "take the whole share away"),
        ("narrow", "take some scopes away"),
        ("expire", "set an expiry date"),
    ):
        sub = actions.add_parser(name, parents=[json_flag], help=text)
        sub.add_argument("ids", nargs="+", help="review ids (as `uma-desktop review` shows)")
        if name == "narrow":
            sub.add_argument("--scopes", required=True, help="comma-separated scopes to remove")
        if name == "expire":
            sub.add_argument("--date", required=True, help="YYYY-MM-DD or ISO date-time")
    actions.add_parser("finish", parents=[json_flag], help="end the review, print a summary")
    settings = actions.add_parser("settings", parents=[json_flag], help="flag thresholds")
    settings.add_argument("--older-than", type=int, help="flag shares older than N days")
    settings.add_argument("--unseen", type=int, help="flag people not seen for N days")
    settings.add_argument("--interval", type=int, help="remind after N days")

    expire_parser = commands.add_parser(
        "expire", parents=[json_flag], help="shares the app expires (servers without expiry)"
    )
    mode = expire_parser.add_mutually_exclusive_group()
    mode.add_argument("--due", action="store_true", help="revoke the shares that fell due")
    mode.add_argument(
        "--install-timer", action="store_true", help="run `expire --due` daily (systemd)"
    )
    mode.add_argument("--remove-timer", action="store_true", help="remove the daily timer")
    expire_parser.set_defaults(run=expire)
