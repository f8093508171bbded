"""The server check against real servers: the sandbox passes everything; a hostile server's
lies each show up as the failing line they should."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.cli import run_program
from tests.fixtures.hostile import Answer, HostileServer
from uma_desktop.app.server_check import CheckReport, Outcome, check_server
from uma_desktop.errors import ConfigurationError
from uma_desktop.sandbox import SandboxServer

EVERY_CHECK = {
    "discovery.uma2",
    "discovery.openid",
    "issuer",
    "metadata.rfc8414",
    "metadata.uma_grant",
    "metadata.fedauthz",
    "metadata.introspection",
    "metadata.claims_interaction",
    "metadata.tls",
    "pkce.s256",
    "iss.rfc9207",
    "revocation",
    "device_grant",
    "jwks",
    "protection.challenge",
    "token.errors",
    "owner_api",
}


def _outcomes(report: CheckReport) -> dict[str, Outcome]:
    return {finding.id: finding.outcome for finding in report.findings}


async def test_the_sandbox_passes_every_check(sandbox: SandboxServer) -> None:
    report = await check_server(sandbox.issuer + "/")
    assert _outcomes(report) == dict.fromkeys(EVERY_CHECK, Outcome.PASS)
    assert report.issuer == sandbox.issuer
    assert report.owner_api is not None and "Policy Manager" in report.owner_api
    assert all(finding.reference for finding in report.findings)


async def test_a_lying_server_fails_where_it_lies(hostile: HostileServer) -> None:
    document = hostile.metadata(
        issuer="https://elsewhere.example",
        grant_types_supported=["authorization_code"],
        code_challenge_methods_supported=["plain"],
        revocation_endpoint="http://not-loopback.example/revoke",
    )
    del document["permission_endpoint"]
    hostile.route("/.well-known/uma2-configuration", Answer.json(document))
    hostile.route("/.well-known/openid-configuration", Answer.text("nope", status=404))
    private_key = {"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB", "d": "d-value-9f3"}
    hostile.route("/jwks", Answer.json({"keys": [private_key]}))
    hostile.route("/rsrc", Answer.json({"resources": []}))  # open to anyone
    hostile.route("/token", Answer.text("<html>ok</html>"))
    report = await check_server(hostile.base)
    outcomes = _outcomes(report)
    assert outcomes["discovery.uma2"] is Outcome.PASS
    assert outcomes["discovery.openid"] is Outcome.WARN
    for failing in (
        "issuer",
        "metadata.uma_grant",
        "metadata.fedauthz",
        "metadata.tls",
        "pkce.s256",
        "jwks",
        "protection.challenge",
        "token.errors",
    ):
        assert outcomes[failing] is Outcome.FAIL, failing
    jwks = report.finding("jwks")
    assert jwks is not None and "private" in jwks.detail and "d-value-9f3" not in jwks.detail
    issuer = report.finding("issuer")
    assert issuer is not None and "elsewhere.example" in issuer.detail
    # Only requests anyone may send: no credentials of any kind.
    assert all("authorization" not in dict(seen.headers) for seen in hostile.seen)


async def test_no_server_at_all_is_one_failing_line(hostile: HostileServer) -> None:
    hostile.route("/.well-known/uma2-configuration", Answer.text("no", status=404))
    hostile.route("/.well-known/openid-configuration", Answer.text("no", status=404))
    report = await check_server(hostile.base)
    assert _outcomes(report) == {
        "discovery.uma2": Outcome.FAIL,
        "discovery.openid": Outcome.WARN,
        "issuer": Outcome.FAIL,
    }


async def test_an_endless_document_is_cut_and_reported(hostile: HostileServer) -> None:
    hostile.route("/.well-known/uma2-configuration", Answer.endless_json())
    hostile.route("/.well-known/openid-configuration", Answer.text("no", status=404))
    report = await check_server(hostile.base)
    uma = report.finding("discovery.uma2")
    assert uma is not None and uma.outcome is Outcome.FAIL
    assert len(uma.detail) <= 200


async def test_hostile_text_stays_text_in_the_html_export(hostile: HostileServer) -> None:
    hostile.serve_discovery(issuer="<script>alert(1)</script>\u202e")
    report = await check_server(hostile.base)
    page = report.to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "default-src 'none'" in page


async def test_a_url_that_is_no_issuer_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        await check_server("http://example.org/")  # plain http off loopback


def test_cli_check_prints_the_list_json_and_html(sandbox: SandboxServer, tmp_path: Path) -> None:
    page = tmp_path / "check.html"
    human = run_program("check", sandbox.issuer, "--html", str(page))
    assert human.code == 0, human.err
    assert re.search(r"^PASS +Issuer matches the URL +Every document names", human.out, re.M)
    assert "RFC 8414 §3.3" in human.out
    assert human.out.rstrip().endswith("17 passed, 0 warnings, 0 failed")
    assert "Issuer matches the URL" in page.read_text(encoding="utf-8")
    as_json = run_program("check", sandbox.issuer, "--json")
    assert as_json.code == 0, as_json.err
    body = as_json.json()
    assert body["summary"] == {"pass": 17, "warn": 0, "fail": 0}
    assert {f["id"] for f in body["findings"]} == EVERY_CHECK


def test_cli_check_exits_4_when_a_check_fails(hostile: HostileServer) -> None:
    hostile.serve_discovery(grant_types_supported=["authorization_code"])
    ran = run_program("check", hostile.base, "--json")
    assert ran.code == 4, ran.err
    failed = [f["id"] for f in json.loads(ran.out)["findings"] if f["outcome"] == "fail"]
    assert "metadata.uma_grant" in failed
