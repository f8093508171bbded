"""Command-line interface over the same ControlPoint the GUI uses.

`uma-desktop sandbox ...` runs the built-in authorization server standalone.

Requests and resources are named ``<connection-id>:<server-id>`` (as ``requests`` and
``resources`` print them); a bare server id is accepted when only one connection has it.
Every read takes ``--json`` (indented on a terminal, one compact line for programs).
Results go to stdout, messages to stderr. Exit codes: 0 ok,
otherwise the ``exit_code`` of the error class (2 bad input, 3 unreachable, 4 server error,
5 not supported, 6 login, 7 keyring, 8 local files unusable, 1 other; 130 interrupted, and
a decision cut short is in ``history`` as "outcome unknown"); a fan-out read that got data from some
servers but not all prints what it got and exits with the first failure's code.
The log (redacted) goes to ``uma-desktop.log`` in the app's log folder; warnings also to
stderr. A home that cannot be written still lets every read command run, with a warning.
Everything printed passes through ``text.SafeWriter``: server text cannot drive the
terminal (control and bidi characters show as escapes), and JSON escapes them as ``\\uXXXX``.
"""

from __future__ import annotations

# Imported lazily where used (asyncio, logging, the app, csv, ...): `uma-desktop --help`
# and the GUI (which reads COMMANDS) only load argparse and what is below.
import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from uma_desktop import cli_review
from uma_desktop.arguments import ShowVersion
from uma_desktop.errors import (
    ConfigurationError,
    NotFoundError,
    UmaDesktopError,
    VaultUnavailableError,
)
from uma_desktop.text import SafeWriter, discard_output, safe_json, terminal_safe

if TYPE_CHECKING:  # the GUI imports COMMANDS from here: keep start-up imports light
    from uma_desktop.app import ControlPoint

COMMANDS = frozenset(
    {
        "sandbox",
        "connections",
        "login",
        "logout",
        "resources",
        "requests",
        "approve",
        "deny",
        "shares",
        "share",
        "revoke",
        "shared-with-me",
        "history",
        "report",
        "check",
        "support",
        "review",
        "expire",
    }
)

T = TypeVar("T")
BrowserOpener = Callable[[str], object]


# -- output helpers ----------------------------------------------------------------------


# per dataclass: its field names, and one getter returning all their values at once
_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], Any]]] = {}


def json_default(value: Any) -> Any:
    """What JSON output makes of a value the encoder does not know (its ``default``):
    domain objects (dataclasses) as objects, datetimes as ISO text, sets sorted.

    The encoder calls it again for what it returns, so nested objects need no recursion here.
    """
    known = _FIELDS.get(type(value))
    if known is None:
        import dataclasses
        from operator import attrgetter

        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, set | frozenset):
                return sorted(value)
            raise TypeError(f"{type(value).__name__} cannot be written as JSON")
        names = tuple(f.name for f in dataclasses.fields(value))
        # attrgetter of two or more names returns a tuple; of one, the bare value
        getter = (
            attrgetter(*names)
            if len(names) > 1
            else (lambda v: tuple(getattr(v, n) for n in names))
        )
        known = _FIELDS[type(value)] = (names, getter)
    names, values = known
    return dict(zip(names, values(value), strict=True))


def to_jsonable(value: Any) -> Any:
    """A value as JSON output shows it, one level deep (a datetime as ISO text)."""
    return value if value is None else json_default(value)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _table(rows: list[list[str]], header: list[str], out: TextIO) -> None:
    """Aligned columns; a cell is one line whatever the server put in it."""
    if not rows:
        return
    rows = [[terminal_safe(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )


def _scopes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    if not scopes:
        raise ConfigurationError("--scopes needs at least one scope (comma separated).")
    return scopes


def _claim(text: str) -> tuple[str, str]:
    """``--claim NAME=VALUE`` as a pair (e.g. email_domain=example.org)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ConfigurationError(
            f"--claim {text!r} is not NAME=VALUE (e.g. email_domain=example.org)."
        )
    return name.strip(), value.strip()


def parse_expiry(text: str) -> datetime:
    """``YYYY-MM-DD`` (end of that day, UTC) or an ISO date-time (UTC when no zone)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"--expires {text!r} is not a date (YYYY-MM-DD) or ISO date-time."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ask_credentials(server: str, username: str | None) -> Any:
    """Username and password for a server that logs in with them (typed, never stored)."""
    import getpass

    from uma_desktop.app.auth import Credentials

    prompt = terminal_safe(server)
    name = input(f"Username at {prompt}{f' [{username}]' if username else ''}: ").strip()
    name = name or (username or "")
    if not name:
        raise ConfigurationError("A username is needed to log in.")
    return Credentials(name, getpass.getpass(f"Password for {name} at {prompt}: "))


def _say(stream: TextIO, message: str) -> None:
    """One message line on ``stream`` (stderr): server text in it cannot break the line."""
    print(f"uma-desktop: {terminal_safe(message)}", file=stream)


NO_KEYRING_HINT = (
    "To keep a connection's tokens in memory only, add it with "
    "`uma-desktop connections add --no-remember <issuer>` (remove it first if it exists); "
    "a login then lasts for one command."
)


def error_message(error: UmaDesktopError) -> str:
    """What the command line says for ``error``: its message, and the option that helps."""
    if isinstance(error, VaultUnavailableError):
        return f"{error.user_message} {NO_KEYRING_HINT}"
    return error.user_message


def print_check_report(report: Any, out: TextIO) -> None:
    """A server check as aligned lines: outcome, check, detail, reference."""
    print(f"Server check of {terminal_safe(report.target)}", file=out)
    print(f"Owner API: {terminal_safe(report.owner_api or 'none found')}", file=out)
    _table(
        [[f.outcome.value.upper(), f.title, f.detail, f.reference] for f in report.findings],
        ["RESULT", "CHECK", "DETAIL", "REFERENCE"],
        out,
    )
    print(report.summary, file=out)


# -- the command runner --------------------------------------------------------------------


class Cli:
    """One invocation: a ControlPoint, parsed arguments, and where output goes."""

    def __init__(
        self, control: ControlPoint, args: argparse.Namespace, out: TextIO, err: TextIO
    ) -> None:
        self.control = control
        self.args = args
        self.out = out
        self.err = err
        self.exit_code = 0

    def warn(self, message: str) -> None:
        _say(self.err, message)

    def fail_soft(self, error: UmaDesktopError, where: str) -> None:
        """Report one server's failure and remember its exit code (the first one wins)."""
        self.warn(f"{where}: {error_message(error)}")
        if self.exit_code == 0:
            self.exit_code = error.exit_code

    def emit_json(self, data: Any) -> None:
        indent = 2 if self.out.isatty() else None  # a person reads it, or a program does
        print(safe_json(data, indent=indent, default=json_default), file=self.out)

    def listing(
        self,
        results: Sequence[Any],
        headers: list[str],
        row: Callable[[Any], list[str]],
    ) -> None:
        """Print a fan-out read: every server's items as JSON or as one table."""
        summary = self.fan_out_report(results)
        items = [item for result in results for item in result.value or []]
        if self.args.json:
            self.emit_json({"items": items, "connections": summary})
        else:
            _table([row(item) for item in items], headers, self.out)

    def fan_out_report(self, results: Sequence[Any]) -> list[dict[str, Any]]:
        """Per-connection outcome lines on stderr; the summary for JSON output."""
        summary = []
        for result in results:
            if result.error is not None:
                note = " (showing last-known data)" if result.stale else ""
                self.fail_soft(result.error, f"{result.connection_id}{note}")
            if result.cut_short:
                self.warn(f"{result.connection_id}: {result.cut_short}")
            summary.append(
                {
                    "id": result.connection_id,
                    "ok": result.error is None,
                    "stale": result.stale,
                    "error": type(result.error).__name__ if result.error else None,
                    "message": result.error.user_message if result.error else "",
                    "cut_short": result.cut_short,
                }
            )
        return summary

    # -- ids ---------------------------------------------------------------------------

    def split_id(self, text: str) -> tuple[str | None, str]:
        """``conn:server-id`` -> (conn, server-id); a bare id -> (None, id)."""
        prefix, sep, rest = text.partition(":")
        known = {state.connection.id for state in self.control.connections()}
        if sep and prefix in known and rest:
            return prefix, rest
        if not text.strip():
            raise ConfigurationError("An id is empty.")
        return None, text

    @staticmethod
    def _pick(matches: list[T], text: str, what: str, key: Callable[[T], str]) -> T:
        if not matches:
            raise NotFoundError(f"No {what} {text!r} was found.")
        if len(matches) > 1:
            options = ", ".join(sorted(key(m) for m in matches))
            raise ConfigurationError(
                f"{what.capitalize()} {text!r} exists on several connections ({options}); "
                "name it as <connection-id>:<id>."
            )
        return matches[0]

    async def find_request(self, text: str) -> Any:
        connection_id, request_id = self.split_id(text)
        results = await self.control.requests(connection_id=connection_id)
        matches = []
        for result in results:
            if result.error is not None and not result.stale:
                self.warn(f"{result.connection_id}: {error_message(result.error)}")
            if result.error is None:
                matches += [r for r in result.value or [] if r.id == request_id]
        if not matches:
            failed = [r.error for r in results if r.error is not None]
            if failed:
                raise failed[0]
            raise NotFoundError(f"No pending request {text!r} (already decided?).")
        request: Any = self._pick(matches, text, "pending request", lambda r: r.connection_id)
        return request

    async def find_resource(self, text: str) -> tuple[str, str]:
        connection_id, resource_id = self.split_id(text)
        if connection_id is not None:
            return connection_id, resource_id
        states = self.control.connections()
        if len(states) == 1:
            return states[0].connection.id, resource_id
        results = await self.control.resources()
        owners = [
            r.connection_id for r in results if any(x.id == resource_id for x in r.value or [])
        ]
        return self._pick(owners, text, "resource", str), resource_id

    # -- commands ----------------------------------------------------------------------

    async def connections_add(self) -> None:
        from uma_desktop.backends import parse_kind

        kind = parse_kind(self.args.kind) if self.args.kind else None
        connection = await self.control.add_connection(
            self.args.issuer,
            kind=kind,
            display_name=self.args.name,
            remember=not self.args.no_remember,
        )
        if self.args.json:
            self.emit_json(connection)
        else:
            print(connection.id, file=self.out)
            self.warn(
                f"added {connection.display_name} ({connection.kind.value}) as "
                f"{connection.id!r}; log in with: uma-desktop login {connection.id}"
            )
        if self.args.no_remember:
            self.warn(
                "tokens of this connection are kept in memory only: a login lasts for one "
                "command here (the desktop app keeps it while it runs)"
            )

    async def connections_list(self) -> None:
        states = await self.control.check_saved_logins()  # what is known here, no network
        if self.args.json:
            self.emit_json(
                [
                    {
                        **to_jsonable(s.connection),
                        "status": s.status.value,
                        "message": s.message,
                        "last_success": to_jsonable(s.last_success),
                    }
                    for s in states
                ]
            )
            return
        rows = [
            [
                s.connection.id,
                s.connection.display_name,
                s.connection.kind.value,
                s.connection.username or "",
                s.status.value.replace("_", " "),
                _when(s.last_success),
                s.connection.issuer,
            ]
            for s in states
        ]
        _table(rows, ["ID", "NAME", "KIND", "USER", "STATUS", "LAST UPDATE", "ISSUER"], self.out)
        for state in states:
            if state.message and state.status == "error":  # e.g. the keyring is unusable
                self.warn(f"{state.connection.id}: {state.message}")

    async def connections_remove(self) -> None:
        await self.control.remove_connection(self.args.id)
        self.warn(f"removed {self.args.id}")

    async def login(self) -> None:
        def show_code(code: Any) -> None:
            where = code.verification_uri_complete or code.verification_uri
            self.warn(f"open {where} in any browser and enter the code {code.user_code}")

        credentials = None
        connection = self.control.connection(self.args.id)
        if connection.kind == "forgerock":
            import asyncio  # loaded only when a command runs (keeps --help light)

            # This family's REST takes a username and password; only its session token is kept.
            credentials = await asyncio.to_thread(
                _ask_credentials, connection.display_name, connection.username
            )
        state = await self.control.login(
            self.args.id,
            device=self.args.device,
            on_device_code=show_code,
            credentials=credentials,
        )
        who = state.connection.username or state.connection.subject or "you"
        if self.args.json:
            self.emit_json(
                {
                    "id": state.connection.id,
                    "status": state.status.value,
                    "username": state.connection.username,
                }
            )
        else:
            self.warn(f"logged in to {state.connection.display_name} as {who}")

    async def logout(self) -> None:
        await self.control.logout(self.args.id)
        self.warn(f"logged out of {self.args.id}")

    async def resources(self) -> None:
        results = await self.control.resources(self.args.search, connection_id=self.args.connection)
        self.listing(
            results,
            ["RESOURCE", "NAME", "SERVER", "SCOPES", "SHARED"],
            lambda r: [
                f"{r.connection_id}:{r.id}",
                r.name,
                r.resource_server,
                ",".join(r.scopes),
                "" if r.share_count is None else str(r.share_count),
            ],
        )

    async def requests(self) -> None:
        self.listing(
            await self.control.requests(),
            ["REQUEST", "RESOURCE", "REQUESTER", "SCOPES", "ASKED"],
            lambda r: [
                f"{r.connection_id}:{r.id}",
                r.resource_name,
                r.requester.label,
                ",".join(r.scopes),
                _when(r.requested_at),
            ],
        )

    def decided(self, decision: Any) -> None:
        if self.args.json:
            self.emit_json(decision)
        else:
            scopes = f" ({', '.join(decision.scopes)})" if decision.scopes else ""
            self.warn(
                f"{decision.action}: {decision.party} on {decision.resource_name}{scopes} - done"
            )

    async def approve(self) -> None:
        request = await self.find_request(self.args.request)
        self.decided(await self.control.approve(request, _scopes(self.args.scopes)))

    async def deny(self) -> None:
        request = await self.find_request(self.args.request)
        self.decided(await self.control.deny(request))

    async def shares(self) -> None:
        connection_id, resource_id = await self.find_resource(self.args.resource)
        shares = await self.control.shares(connection_id, resource_id)
        if self.args.json:
            self.emit_json({"items": shares})
            return
        kept = cli_review.enforced_expiries(self.control, shares)
        rows = [
            [
                s.party.label,
                s.party.email or "",
                ",".join(s.scopes),
                _when(s.granted_at),
                _when(s.expires_at) or kept.get(s.party.id, ""),
            ]
            for s in shares
        ]
        _table(rows, ["PERSON", "E-MAIL", "SCOPES", "SINCE", "EXPIRES"], self.out)
        if not shares:
            self.warn("this resource is not shared with anyone")

    async def share(self) -> None:
        claims = [_claim(text) for text in self.args.claim or []]
        if bool(claims) == bool(self.args.person):
            raise ConfigurationError("Name a person, or give --claim NAME=VALUE (not both).")
        connection_id, resource_id = await self.find_resource(self.args.resource)
        scopes = _scopes(self.args.scopes) or []
        expires = parse_expiry(self.args.expires) if self.args.expires else None
        if claims:
            self.decided(
                await self.control.share_with_claims(
                    connection_id, resource_id, claims, scopes, expires
                )
            )
            return
        self.decided(
            await self.control.share(connection_id, resource_id, self.args.person, scopes, expires)
        )

    async def revoke(self) -> None:
        connection_id, resource_id = await self.find_resource(self.args.resource)
        scopes = _scopes(self.args.scopes)
        decision = await self.control.revoke(connection_id, resource_id, self.args.person, scopes)
        if decision.ok and scopes is None:  # all access gone: so is a due date the app kept
            import asyncio

            from uma_desktop.app.expiry import forget_person

            await asyncio.to_thread(
                forget_person, self.control, connection_id, resource_id, self.args.person
            )
        self.decided(decision)

    async def shared_with_me(self) -> None:
        self.listing(
            await self.control.shared_with_me(),
            ["RESOURCE", "NAME", "OWNER", "SCOPES", "EXPIRES"],
            lambda s: [
                f"{s.connection_id}:{s.resource.id}",
                s.resource.name,
                s.owner.label if s.owner else "",
                ",".join(s.scopes),
                _when(s.expires_at),
            ],
        )

    async def history(self) -> None:
        decisions = self.control.history(self.args.limit)
        if self.args.json:
            self.emit_json({"items": decisions})
            return
        rows = [
            [
                _when(d.at),
                d.connection_id,
                d.action,
                d.resource_name,
                d.party,
                ",".join(d.scopes),
                "ok" if d.ok else f"{'FAILED' if d.settled else 'UNKNOWN'}: {d.detail}",
            ]
            for d in decisions
        ]
        _table(
            rows,
            ["WHEN", "CONNECTION", "ACTION", "RESOURCE", "PERSON", "SCOPES", "RESULT"],
            self.out,
        )

    async def check(self) -> None:
        """Check an authorization server (an issuer URL or a connection id) without signing in."""
        from pathlib import Path

        from uma_desktop.app.server_check import Outcome, check_server

        issuers = {s.connection.id: s.connection.issuer for s in self.control.connections()}
        report = await check_server(issuers.get(self.args.target, self.args.target))
        if self.args.html:
            try:
                Path(self.args.html).write_text(report.to_html(), encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"Could not write {self.args.html}: {exc}") from None
        if self.args.json:
            self.emit_json(report.to_json())
        else:
            print_check_report(report, self.out)
        if report.count(Outcome.FAIL):
            self.exit_code = 4

    async def report(self) -> None:
        await cli_review.report(self)


# -- argument parsing ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON")
    parser = argparse.ArgumentParser(
        prog="uma-desktop",
        description="Manage who may access your resources on UMA authorization servers.",
        epilog="Requests and resources are named <connection-id>:<server-id>; a bare "
        "server id works when only one connection has it. `uma-desktop sandbox --help` "
        "runs the built-in authorization server; `uma-desktop support --help` is the "
        "support desk (a resource server's credentials).",
    )
    parser.add_argument("--version", action=ShowVersion)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    conns = commands.add_parser("connections", help="add, list or remove connections")
    conn_commands = conns.add_subparsers(dest="subcommand", required=True, metavar="ACTION")
    add = conn_commands.add_parser("add", parents=[json_flag], help="connect to a server")
    add.add_argument("issuer", help="the server's issuer URL")
    add.add_argument("--kind", help="policy-manager, keycloak or forgerock (default: detected)")
    add.add_argument("--name", help="a display name")
    add.add_argument(
        "--no-remember",
        action="store_true",
        help="keep tokens in memory only (this command's process)",
    )
    add.set_defaults(run=Cli.connections_add)
    listing = conn_commands.add_parser("list", parents=[json_flag], help="list connections")
    listing.set_defaults(run=Cli.connections_list)
    remove = conn_commands.add_parser("remove", parents=[json_flag], help="forget a connection")
    remove.add_argument("id")
    remove.set_defaults(run=Cli.connections_remove)

    login = commands.add_parser("login", parents=[json_flag], help="log in (system browser)")
    login.add_argument("id", help="connection id")
    login.add_argument("--device", action="store_true", help="log in with a code instead")
    login.set_defaults(run=Cli.login)
    logout = commands.add_parser("logout", parents=[json_flag], help="log out, forget tokens")
    logout.add_argument("id", help="connection id")
    logout.set_defaults(run=Cli.logout)

    resources = commands.add_parser("resources", parents=[json_flag], help="list resources")
    resources.add_argument("--connection", help="only this connection")
    resources.add_argument("--search", help="names containing this text")
    resources.set_defaults(run=Cli.resources)
    commands.add_parser("requests", parents=[json_flag], help="pending requests").set_defaults(
        run=Cli.requests
    )
    approve = commands.add_parser("approve", parents=[json_flag], help="approve a request")
    approve.add_argument("request", help="<connection-id>:<request-id>")
    approve.add_argument("--scopes", help="comma-separated subset (default: all requested)")
    approve.set_defaults(run=Cli.approve)
    deny = commands.add_parser("deny", parents=[json_flag], help="deny a request")
    deny.add_argument("request", help="<connection-id>:<request-id>")
    deny.set_defaults(run=Cli.deny)

    shares = commands.add_parser("shares", parents=[json_flag], help="who has access")
    shares.add_argument("resource", help="<connection-id>:<resource-id>")
    shares.set_defaults(run=Cli.shares)
    share = commands.add_parser("share", parents=[json_flag], help="give someone access")
    share.add_argument("resource", help="<connection-id>:<resource-id>")
    share.add_argument("person", nargs="?", help="username or e-mail (or use --claim)")
    share.add_argument("--scopes", required=True, help="comma-separated scopes")
    share.add_argument(
        "--claim",
        action="append",
        metavar="NAME=VALUE",
        help="share with anyone presenting this claim, e.g. email_domain=example.org "
        "(repeat for several; servers that evaluate claims only)",
    )
    share.add_argument("--expires", help="YYYY-MM-DD or ISO date-time")
    share.set_defaults(run=Cli.share)
    revoke = commands.add_parser("revoke", parents=[json_flag], help="take access away")
    revoke.add_argument("resource", help="<connection-id>:<resource-id>")
    revoke.add_argument("person", help="username or e-mail")
    revoke.add_argument("--scopes", help="only these scopes (default: all)")
    revoke.set_defaults(run=Cli.revoke)
    commands.add_parser(
        "shared-with-me", parents=[json_flag], help="what others shared with you"
    ).set_defaults(run=Cli.shared_with_me)
    history = commands.add_parser("history", parents=[json_flag], help="decisions taken here")
    history.add_argument("--limit", type=int, default=500)
    history.set_defaults(run=Cli.history)
    report = commands.add_parser("report", help="every share on every connection")
    report.add_argument("--format", choices=("csv", "json", "html"), default="csv")
    report.set_defaults(run=Cli.report, json=False)
    check = commands.add_parser(
        "check",
        parents=[json_flag],
        help="check what a server offers, without signing in (exit 4 when a check fails)",
    )
    check.add_argument("target", help="issuer URL, or a connection id")
    check.add_argument("--html", metavar="FILE", help="also write the report as an HTML page")
    check.set_defaults(run=Cli.check)
    cli_review.add_commands(commands, json_flag)
    return parser


async def _run(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    browser_opener: BrowserOpener | None,
    vault_factory: Any,
    whole_process: bool,
) -> int:
    from uma_desktop.app import ControlPoint

    if whole_process:
        # What was loaded to run the command lives until the process ends: frozen, the
        # garbage collector stops walking it again in every full pass while data pours in.
        import gc

        gc.freeze()
        gc.enable()  # off while the modules loaded (see ``run``)
    control = await ControlPoint.open(vault_factory=vault_factory, browser_opener=browser_opener)
    told = 0

    def tell_problems() -> None:
        nonlocal told
        for problem in control.problems[told:]:
            _say(err, problem)
        told = len(control.problems)

    try:
        tell_problems()
        if not (args.command == "expire" and args.due):
            await cli_review.enforce_at_start(control, err, getattr(args, "clock", None))
        cli = Cli(control, args, out, err)
        await args.run(cli)
        return cli.exit_code
    finally:
        tell_problems()  # what the command found on the way (an unreadable history row, ...)
        await control.aclose()


def run(
    argv: Sequence[str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    browser_opener: BrowserOpener | None = None,
    vault_factory: Any = None,
    clock: Callable[[], datetime] | None = None,
    whole_process: bool = False,
) -> int:
    """Parse and run one command; returns the exit code (never raises for expected errors).

    ``browser_opener`` and ``vault_factory`` default to the system browser and the OS keyring;
    ``clock`` (default: the system's) decides which app-kept expiries are due.
    ``whole_process``: the command is all this process does (``main``), so once it ran
    the process ends here (see ``_end_process``) instead of returning.
    """
    out = SafeWriter.wrap(out or sys.stdout)  # every byte printed passes through it
    err = SafeWriter.wrap(err or sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse already printed usage or help
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    if whole_process:  # loading the app makes objects that all live on: nothing to collect
        import gc

        gc.disable()
    import asyncio
    import logging

    args.clock = clock
    from uma_desktop.logs import configure_logging, reset_logging
    from uma_desktop.paths import app_dirs

    configure_logging(app_dirs(), console_level=logging.WARNING)  # redaction on first
    try:
        code = asyncio.run(_run(args, out, err, browser_opener, vault_factory, whole_process))
    except UmaDesktopError as exc:
        _say(err, error_message(exc))
        code = exc.exit_code
    except KeyboardInterrupt:
        print("uma-desktop: interrupted", file=err)
        code = 130
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, like other tools
        code = discard_output()
    finally:
        reset_logging()
    if whole_process:
        _end_process(code, (out, err))
    return code


def _end_process(code: int, streams: Sequence[TextIO]) -> None:
    """End the process at once with ``code`` when nothing is left to do but tear it down.

    By now the command has closed what it opened: history transactions are committed and
    closed, snapshots written (``ControlPoint.aclose``), lock files released, worker threads
    joined (``asyncio.run``) and the log closed. What remains is output, flushed here, and
    freeing every object one by one, which with 10,000 resources costs tens of milliseconds
    and changes nothing. While another thread still runs, or the output cannot be flushed
    (a closed pipe), the process ends the usual way instead, which reports it.
    """
    import logging
    import os
    import threading

    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return
    logging.shutdown()  # any handler a library added is flushed, as at a usual exit
    try:
        for stream in streams:
            stream.flush()
    except OSError:
        return
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "sandbox":
        from uma_desktop.sandbox.cli import main as sandbox_main

        return int(sandbox_main(args[1:]))
    if args and args[0] == "support":
        from uma_desktop.cli_support import main as support_main

        return support_main(args[1:])
    # Also what argparse and the log's console handler write goes through the safe writers.
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeWriter.wrap(sys.stdout), SafeWriter.wrap(sys.stderr)
    try:
        return run(args, whole_process=True)
    finally:
        sys.stdout, sys.stderr = saved
