"""``uma-desktop share RESOURCE --claim NAME=VALUE``: a claims share from the command line,
checked through the real UMA grant."""

from __future__ import annotations

import io
from collections.abc import Callable

from uma_desktop import cli
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import Granted, RequestingParty


def _access(server: SandboxServer, who: str, name: str, scopes: list[str]) -> object:
    with RequestingParty.for_sandbox(server.config, who) as party:
        return party.access(server.resource_url(name), scopes)


def test_cli_share_with_a_claim(
    sandbox: SandboxServer, kept_login: Callable[[SandboxServer], str]
) -> None:
    connection_id = kept_login(sandbox)
    resource_id = sandbox.resource_url("Blood tests 2026").rsplit("/", 1)[1]
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(
        [
            "share",
            f"{connection_id}:{resource_id}",
            "--scopes",
            "read",
            "--claim",
            "email_domain=example.test",
        ],
        out=out,
        err=err,
    )
    assert code == 0, err.getvalue()
    granted = _access(sandbox, "dave", "Blood tests 2026", ["read"])
    assert isinstance(granted, Granted), granted
    both = cli.run(
        ["share", f"{connection_id}:{resource_id}", "bob", "--scopes", "read", "--claim", "a=b"],
        out=out,
        err=err,
    )
    assert both == 2 and "not both" in err.getvalue()
    malformed = cli.run(
        ["share", f"{connection_id}:{resource_id}", "--scopes", "read", "--claim", "nodomain"],
        out=out,
        err=err,
    )
    assert malformed == 2 and "NAME=VALUE" in err.getvalue()
