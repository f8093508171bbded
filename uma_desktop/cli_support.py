"""`uma-desktop support ...`: the support desk on the command line.

    support connections [list] | add ISSUER --client-id ID [--name N] [--kind K] |
                        remove ID | acting ID on|off
    support lookup CONNECTION (--owner P | --requester P | --resource ID) [--offset N]
                   [--export FILE --format json|csv --note TEXT]
    support why CONNECTION PERSON RESOURCE [--scope S]
    support revoke CONNECTION GRANT (--owner P | --requester P | --resource ID) --reason R [--deny]
    support audit [--limit N] [--export FILE --format json|csv]

The client secret is read from standard input (never from the command line) and kept only
in the OS keyring. Revoking or denying needs acting on behalf switched on for the
connection and a reason. Every lookup and action goes to the local audit log. Output is
terminal-safe; ``--json`` everywhere. Exit codes as for the other commands.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from uma_desktop.errors import ConfigurationError, UmaDesktopError
from uma_desktop.text import SafeWriter, discard_output, safe_json, terminal_safe

STATUS_WORDS = {"granted": "shared", "expired": "expired", "pending": "pending", "denied": "denied"}


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "-"


def _say(stream: TextIO, message: str) -> None:
    print(f"uma-desktop support: {terminal_safe(message)}", file=stream)


class SupportCli:
    def __init__(
        self, desk: Any, args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO
    ):
        self.desk = desk
        self.args = args
        self.out = out
        self.err = err
        self.stdin = stdin

    def emit(self, data: Any) -> None:
        from uma_desktop.cli import json_default

        print(safe_json(data, default=json_default), file=self.out)

    def line(self, text: str) -> None:
        print(terminal_safe(text), file=self.out)

    # connections

    async def connections(self) -> None:
        action = self.args.action or "list"
        desk = self.desk
        if action == "add":
            if not self.args.target or not self.args.client_id:
                raise ConfigurationError("Give the issuer and --client-id; the secret on stdin.")
            secret = self._secret()
            connection = await desk.add(
                self.args.target,
                self.args.client_id,
                secret,
                name=self.args.name,
                kind=self.args.kind,
            )
            if self.args.json:
                self.emit(connection.to_json())
            else:
                self.line(f"added support connection {connection.id} ({connection.name})")
            return
        if action == "remove":
            connection = await desk.remove(self._target())
            if self.args.json:
                self.emit({"removed": connection.id})
            else:
                self.line(f"removed {connection.id}")
            return
        if action == "acting":
            if self.args.value not in ("on", "off"):
                raise ConfigurationError("Say `acting ID on` or `acting ID off`.")
            connection = desk.set_acting(self._target(), self.args.value == "on")
            if self.args.json:
                self.emit(connection.to_json())
            else:
                state = "allowed" if connection.acting_enabled else "off"
                self.line(f"acting on behalf for {connection.id}: {state}")
            return
        connections = desk.connections()
        if self.args.json:
            self.emit([c.to_json() for c in connections])
            return
        for c in connections:
            acting = "acting allowed" if c.acting_enabled else "read-only"
            self.line(f"[SUPPORT] {c.id}  {c.name}  {c.kind}  client {c.client_id}  {acting}")

    def _target(self) -> str:
        if not self.args.target:
            raise ConfigurationError("Name the support connection (see `support connections`).")
        return str(self.args.target)

    def _secret(self) -> str:
        if self.stdin.isatty():
            secret = getpass.getpass("Client secret (kept in the OS keyring): ")
        else:
            secret = self.stdin.readline().rstrip("\r\n")
        if not secret:
            raise ConfigurationError("Give the client secret on standard input.")
        return secret

    # lookups

    def _filters(self) -> tuple[str, str | None, str | None]:
        args = self.args
        chosen = [
            (role, value)
            for role, value in (
                ("owner", args.owner),
                ("requester", args.requester),
                ("resource", args.resource),
            )
            if value
        ]
        if len(chosen) != 1:
            raise ConfigurationError("Give exactly one of --owner, --requester or --resource.")
        role, value = chosen[0]
        return (
            role,
            (value if role != "resource" else None),
            (value if role == "resource" else None),
        )

    async def lookup(self) -> None:
        role, person, resource_id = self._filters()
        lookup = await self.desk.lookup(
            self.args.connection,
            person=person,
            role=role,
            resource_id=resource_id,
            offset=self.args.offset,
        )
        if self.args.export:
            self.desk.export_case(
                lookup, self.args.note or "", Path(self.args.export), self.args.format
            )
        if self.args.json:
            from uma_desktop.app.support import case_header, case_rows

            self.emit(
                {
                    "case": case_header(lookup, self.args.note or ""),
                    "how_found": lookup.person.method if lookup.person else None,
                    "entries": case_rows(lookup),
                    "next_offset": lookup.next_offset,
                }
            )
            return
        self.line(f"[SUPPORT] {lookup.connection_name} — {role}: {lookup.query}")
        if lookup.person:
            self.line(f"person: {lookup.person.person.label} (found {lookup.person.method})")
        if not lookup.groups:
            self.line("nothing found")
        for group in lookup.groups:
            self.line(f"{group.resource_name}  [{group.resource_id}]  owner {group.owner.label}")
            for grant in (*group.shares, *group.requests):
                word = STATUS_WORDS[grant.status.value]
                extra = ""
                if grant.expires_at:
                    extra += f"  expires {_when(grant.expires_at)}"
                if grant.decided_at:
                    extra += f"  decided {_when(grant.decided_at)}"
                if grant.client_id:
                    extra += f"  via {grant.client_id}"
                self.line(
                    f"  {word:8} {grant.person.label}: {', '.join(grant.scopes)}"
                    f"  since {_when(grant.since)}{extra}  id {grant.id}"
                )
        if lookup.next_offset is not None:
            self.line(f"more: --offset {lookup.next_offset}")

    async def why(self) -> None:
        answer = await self.desk.why(
            self.args.connection, self.args.person, self.args.resource, self.args.scope
        )
        if self.args.json:
            self.emit({"verdict": answer.verdict, "answer": list(answer.lines)})
            return
        for text in answer.lines:
            self.line(text)

    async def revoke(self) -> None:
        if not (self.args.reason or "").strip():
            raise ConfigurationError("--reason is required (for example the ticket number).")
        role, person, resource_id = self._filters()
        grant = await self.desk.find_grant(
            self.args.connection,
            self.args.grant,
            owner=person if role == "owner" else None,
            requester=person if role == "requester" else None,
            resource_id=resource_id,
        )
        if self.args.deny:
            receipt = await self.desk.deny(self.args.connection, grant, self.args.reason)
        else:
            receipt = await self.desk.revoke(self.args.connection, grant, self.args.reason)
        verb = "denied" if self.args.deny else "revoked"
        if self.args.json:
            self.emit(
                {verb: grant.id, "server_audit_id": receipt.server_audit_id, "note": receipt.note}
            )
        else:
            self.line(
                f"{verb} {', '.join(grant.scopes)} of {grant.person.label} on "
                f"{grant.resource_name} ({receipt.note})"
            )

    async def audit(self) -> None:
        log = self.desk.audit
        if self.args.export:
            count = log.export(Path(self.args.export), self.args.format)
            if not self.args.json:
                self.line(f"exported {count} entries to {self.args.export}")
        entries = log.entries(self.args.limit)
        if self.args.json:
            self.emit([e.row() for e in entries])
            return
        for e in entries:
            parts = [e.at, e.operator, e.connection_id, e.action, e.person, e.resource]
            parts += [e.changed, f"reason: {e.reason}" if e.reason else "", e.outcome]
            self.line("  ".join(p for p in parts if p))


def build_parser() -> argparse.ArgumentParser:
    flag = argparse.ArgumentParser(add_help=False)
    flag.add_argument("--json", action="store_true", help="print JSON")
    parser = argparse.ArgumentParser(
        prog="uma-desktop support",
        description="The support desk: look up and act on shares with a resource server's "
        "credentials (kept apart from owner connections).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    conns = commands.add_parser("connections", parents=[flag], help="support connections")
    conns.add_argument("action", nargs="?", choices=("list", "add", "remove", "acting"))
    conns.add_argument("target", nargs="?", help="issuer (add) or connection id")
    conns.add_argument("value", nargs="?", help="on or off (acting)")
    conns.add_argument("--client-id", help="the resource server's client id (add)")
    conns.add_argument("--name", help="a display name (add)")
    conns.add_argument("--kind", choices=("policy-manager", "keycloak"))
    conns.set_defaults(run=SupportCli.connections)

    def person_filters(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--owner", help="a person (username, e-mail or id) as owner")
        sub.add_argument("--requester", help="a person as holder of shares / requester")
        sub.add_argument("--resource", help="a resource id (lookup: or a part of its name)")

    lookup = commands.add_parser("lookup", parents=[flag], help="shares and requests")
    lookup.add_argument("connection")
    person_filters(lookup)
    lookup.add_argument("--offset", type=int, default=0)
    lookup.add_argument("--export", help="write the case to this file")
    lookup.add_argument("--format", choices=("json", "csv"), default="json")
    lookup.add_argument("--note", help="the operator's note for the case file")
    lookup.set_defaults(run=SupportCli.lookup)

    why = commands.add_parser("why", parents=[flag], help="why can('t) someone use a resource")
    why.add_argument("connection")
    why.add_argument("person")
    why.add_argument("resource", help="resource id or name")
    why.add_argument("--scope", help="the action asked about (e.g. view)")
    why.set_defaults(run=SupportCli.why)

    revoke = commands.add_parser("revoke", parents=[flag], help="revoke (or deny) on behalf")
    revoke.add_argument("connection")
    revoke.add_argument("grant", help="share or request id (from lookup)")
    person_filters(revoke)
    revoke.add_argument("--reason", help="required: why (e.g. the ticket number)")
    revoke.add_argument("--deny", action="store_true", help="deny a pending request")
    revoke.set_defaults(run=SupportCli.revoke)

    audit = commands.add_parser("audit", parents=[flag], help="the local audit log")
    audit.add_argument("--limit", type=int, default=200)
    audit.add_argument("--export", help="write every entry to this file")
    audit.add_argument("--format", choices=("json", "csv"), default="csv")
    audit.set_defaults(run=SupportCli.audit)
    return parser


async def _run(
    args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO, vault_factory: Any
) -> int:
    from uma_desktop.app.support import SupportDesk

    desk = SupportDesk(vault_factory=vault_factory)
    try:
        await args.run(SupportCli(desk, args, out, err, stdin))
        return 0
    finally:
        await desk.aclose()


def run(
    argv: Sequence[str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
    vault_factory: Any = None,
) -> int:
    """Parse and run one support command; returns the exit code."""
    out = SafeWriter.wrap(out or sys.stdout)
    err = SafeWriter.wrap(err or sys.stderr)
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    from uma_desktop.logs import configure_logging, reset_logging
    from uma_desktop.paths import app_dirs

    configure_logging(app_dirs(), console_level=logging.WARNING)  # redaction on first
    try:
        return asyncio.run(_run(args, out, err, stdin or sys.stdin, vault_factory))
    except UmaDesktopError as exc:
        _say(err, exc.user_message)
        return exc.exit_code
    except KeyboardInterrupt:
        print("uma-desktop: interrupted", file=err)
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, like other tools
        return discard_output()
    finally:
        reset_logging()


def main(argv: list[str]) -> int:
    return run(argv)
