"""What an owner-side client can verify about an authorization server, from the outside.

``check_server(url)`` reads the discovery documents, the JWKS and a few unauthenticated
answers, and returns a :class:`CheckReport`: one :class:`Finding` (pass / warn / fail) per
property, each naming the text it comes from. Nothing here signs in or sends a credential;
the probes are requests any client may send (no token, a made-up ticket). Every answer is
read through ``net.send`` (bounded, deadline) and treated as hostile: server text in a
finding is cut to a short single line.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from uma_desktop import net
from uma_desktop.errors import ConfigurationError, MalformedResponseError, UmaDesktopError
from uma_desktop.oauth.discovery import check_url, normalise_issuer
from uma_desktop.uma import metadata as uma_metadata

MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DETAIL_CHARS = 200
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One checked property: what, the outcome, why, and the text it comes from."""

    id: str
    title: str
    outcome: Outcome
    detail: str
    reference: str


@dataclass(frozen=True)
class CheckReport:
    target: str
    checked_at: datetime
    findings: tuple[Finding, ...]
    issuer: str | None = None
    owner_api: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for finding in self.findings if finding.outcome is outcome)

    @property
    def summary(self) -> str:
        return (
            f"{self.count(Outcome.PASS)} passed, {self.count(Outcome.WARN)} warnings, "
            f"{self.count(Outcome.FAIL)} failed"
        )

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "issuer": self.issuer,
            "owner_api": self.owner_api,
            "checked_at": self.checked_at.isoformat(),
            "summary": {outcome.value: self.count(outcome) for outcome in Outcome},
            "findings": [
                {
                    "id": f.id,
                    "title": f.title,
                    "outcome": f.outcome.value,
                    "detail": f.detail,
                    "reference": f.reference,
                }
                for f in self.findings
            ],
        }

    def to_html(self) -> str:
        """A standalone page; every value is escaped (server text is never markup)."""
        colours = {Outcome.PASS: "#1a7f37", Outcome.WARN: "#9a6700", Outcome.FAIL: "#cf222e"}
        rows = "".join(
            "<tr>"
            f"<td style='color:{colours[f.outcome]};font-weight:bold'>{f.outcome.value.upper()}"
            f"</td><td>{html.escape(f.title)}</td><td>{html.escape(f.detail)}</td>"
            f"<td>{html.escape(f.reference)}</td></tr>"
            for f in self.findings
        )
        title = f"Server check: {self.target}"
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1f23}"
            "table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;"
            "padding:.35rem .6rem;text-align:left;vertical-align:top}th{background:#f6f8fa}"
            "</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            f"<p>Issuer: {html.escape(self.issuer or 'unknown')}<br>"
            f"Owner API: {html.escape(self.owner_api or 'none found')}<br>"
            f"Checked: {html.escape(self.checked_at.strftime('%Y-%m-%d %H:%M:%S UTC'))}<br>"
            f"Result: {html.escape(self.summary)}</p>"
            "<table><thead><tr><th>Result</th><th>Check</th><th>Detail</th><th>Reference</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
            "<p>Made by UMA Desktop without signing in: what any client can see.</p>"
            "</body></html>"
        )


def _short(text: object) -> str:
    """Server text as one short line (the terminal and the GUI escape it further)."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_DETAIL_CHARS else line[: MAX_DETAIL_CHARS - 1] + "…"


@dataclass
class _Checker:
    client: net.AsyncClient
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding_id: str, title: str, outcome: Outcome, detail: str, ref: str) -> None:
        self.findings.append(Finding(finding_id, title, outcome, detail, ref))

    async def get(self, url: str, what: str, **kwargs: Any) -> net.Reply | str:
        """The answer, or a sentence saying why there is none."""
        try:
            return await net.send(
                self.client, "GET", url, what, check=False, limit=MAX_DOCUMENT_BYTES, **kwargs
            )
        except UmaDesktopError as exc:
            return _short(exc.user_message)

    async def post(self, url: str, what: str, data: dict[str, str]) -> net.Reply | str:
        try:
            return await net.send(
                self.client, "POST", url, what, data=data, check=False, limit=MAX_DOCUMENT_BYTES
            )
        except UmaDesktopError as exc:
            return _short(exc.user_message)


def _json_object(reply: net.Reply) -> dict[str, Any] | None:
    if "json" not in reply.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(reply.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def _document(
    checker: _Checker,
    issuer: str,
    path: str,
    finding_id: str,
    title: str,
    ref: str,
    *,
    needed: bool,
) -> dict[str, Any] | None:
    reply = await checker.get(issuer + path, title)
    missing = Outcome.FAIL if needed else Outcome.WARN
    if isinstance(reply, str):
        checker.add(finding_id, title, missing, reply, ref)
        return None
    if reply.status_code != 200:
        checker.add(finding_id, title, missing, f"{path} answers HTTP {reply.status_code}.", ref)
        return None
    body = _json_object(reply)
    if body is None:
        checker.add(finding_id, title, Outcome.FAIL, f"{path} is not a JSON object.", ref)
        return None
    checker.add(finding_id, title, Outcome.PASS, f"{path} is served.", ref)
    return body


def _check_issuers(checker: _Checker, issuer: str, documents: dict[str, dict[str, Any]]) -> None:
    ref = "RFC 8414 §3.3; OpenID Connect Discovery §4.3"
    wrong = [
        f"{name} says {_short(doc.get('issuer'))!r}"
        for name, doc in documents.items()
        if doc.get("issuer") != issuer
    ]
    if not documents:
        checker.add("issuer", "Issuer matches the URL", Outcome.FAIL, "No document to read.", ref)
    elif wrong:
        checker.add(
            "issuer",
            "Issuer matches the URL",
            Outcome.FAIL,
            f"Expected {issuer!r}; " + "; ".join(wrong) + ".",
            ref,
        )
    else:
        checker.add(
            "issuer", "Issuer matches the URL", Outcome.PASS, f"Every document names {issuer}.", ref
        )


def _required(
    checker: _Checker,
    doc: dict[str, Any],
    finding_id: str,
    title: str,
    names: tuple[str, ...],
    ref: str,
) -> None:
    missing = [name for name in names if not doc.get(name)]
    if missing:
        checker.add(finding_id, title, Outcome.FAIL, "Missing: " + ", ".join(missing) + ".", ref)
    else:
        checker.add(finding_id, title, Outcome.PASS, "Present: " + ", ".join(names) + ".", ref)


def _check_metadata(checker: _Checker, uma: dict[str, Any] | None, merged: dict[str, Any]) -> None:
    if uma is not None:
        _required(
            checker,
            uma,
            "metadata.rfc8414",
            "Required OAuth metadata",
            ("issuer", "token_endpoint", "response_types_supported"),
            "RFC 8414 §2",
        )
        grants = uma.get("grant_types_supported")
        grant_ok = isinstance(grants, list) and uma_metadata.UMA_TICKET_GRANT in grants
        checker.add(
            "metadata.uma_grant",
            "UMA grant type listed",
            Outcome.PASS if grant_ok else Outcome.FAIL,
            "grant_types_supported lists urn:ietf:params:oauth:grant-type:uma-ticket."
            if grant_ok
            else "grant_types_supported does not list the UMA grant.",
            "UMA 2.0 Grant §2; RFC 8414 §2",
        )
        _required(
            checker,
            uma,
            "metadata.fedauthz",
            "Protection API metadata",
            ("permission_endpoint", "resource_registration_endpoint"),
            "UMA 2.0 FedAuthz §2",
        )
        introspection = bool(uma.get("introspection_endpoint"))
        checker.add(
            "metadata.introspection",
            "Token introspection endpoint",
            Outcome.PASS if introspection else Outcome.WARN,
            "introspection_endpoint is published."
            if introspection
            else "No introspection_endpoint: resource servers must validate RPTs themselves.",
            "UMA 2.0 FedAuthz §2, §5",
        )
        claims = bool(uma.get("claims_interaction_endpoint"))
        checker.add(
            "metadata.claims_interaction",
            "Claims interaction endpoint",
            Outcome.PASS if claims else Outcome.WARN,
            "claims_interaction_endpoint is published."
            if claims
            else "None published (optional): requesting parties can only push claims.",
            "UMA 2.0 Grant §2, §3.3.2",
        )
    issuer = str(merged.get("issuer") or "")
    secure = urlsplit(issuer).scheme == "https"
    bad = []
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint"):
        value = merged.get(name)
        if not isinstance(value, str):
            continue
        try:
            check_url(value, name)
        except ConfigurationError:
            bad.append(name)
            continue
        if secure and urlsplit(value).scheme != "https":
            bad.append(name)
    checker.add(
        "metadata.tls",
        "Endpoints use TLS",
        Outcome.FAIL if bad else Outcome.PASS,
        "Not https (or not a usable URL): " + ", ".join(bad) + "."
        if bad
        else "Every endpoint is https (or plain http on a loopback address).",
        "RFC 6749 §3.1, §3.2; RFC 8414 §2",
    )


def _check_features(checker: _Checker, merged: dict[str, Any]) -> None:
    methods = merged.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" in methods:
        checker.add(
            "pkce.s256",
            "PKCE with S256",
            Outcome.PASS,
            "S256 is listed.",
            "RFC 7636 §4.2; RFC 8414 §2",
        )
    elif methods is None:
        checker.add(
            "pkce.s256",
            "PKCE with S256",
            Outcome.WARN,
            "code_challenge_methods_supported is not published; the app sends S256 anyway.",
            "RFC 7636 §4.2; RFC 8414 §2",
        )
    else:
        checker.add(
            "pkce.s256",
            "PKCE with S256",
            Outcome.FAIL,
            "S256 is not listed: a native app cannot sign in safely.",
            "RFC 7636 §4.2; RFC 8252 §6",
        )
    iss = merged.get("authorization_response_iss_parameter_supported") is True
    checker.add(
        "iss.rfc9207",
        "Issuer in the authorization response",
        Outcome.PASS if iss else Outcome.WARN,
        "authorization_response_iss_parameter_supported is true."
        if iss
        else "Not announced: with several servers the app cannot tell who answered a sign-in.",
        "RFC 9207 §2, §3",
    )
    revocation = bool(merged.get("revocation_endpoint"))
    checker.add(
        "revocation",
        "Token revocation",
        Outcome.PASS if revocation else Outcome.WARN,
        "revocation_endpoint is published."
        if revocation
        else "No revocation_endpoint: logging out cannot revoke the refresh token.",
        "RFC 7009 §2; RFC 8414 §2",
    )
    grants = merged.get("grant_types_supported")
    device = bool(merged.get("device_authorization_endpoint")) and (
        not isinstance(grants, list) or uma_metadata.DEVICE_CODE_GRANT in grants
    )
    checker.add(
        "device_grant",
        "Device authorization grant",
        Outcome.PASS if device else Outcome.WARN,
        "device_authorization_endpoint is published."
        if device
        else "No device grant: sign-in needs a browser on this computer.",
        "RFC 8628 §3.1, §4",
    )


async def _check_jwks(checker: _Checker, merged: dict[str, Any]) -> None:
    ref = "RFC 7517 §5; RFC 8414 §2 (jwks_uri)"
    uri = merged.get("jwks_uri")
    if not isinstance(uri, str):
        checker.add("jwks", "Signing keys (JWKS)", Outcome.WARN, "No jwks_uri published.", ref)
        return
    reply = await checker.get(uri, "the JWKS")
    if isinstance(reply, str):
        checker.add("jwks", "Signing keys (JWKS)", Outcome.FAIL, reply, ref)
        return
    body = _json_object(reply) if reply.status_code == 200 else None
    keys = body.get("keys") if body is not None else None
    if not isinstance(keys, list) or not keys:
        checker.add(
            "jwks",
            "Signing keys (JWKS)",
            Outcome.FAIL,
            f"jwks_uri answers HTTP {reply.status_code} without a non-empty keys array.",
            ref,
        )
        return
    private = [k for k in keys if isinstance(k, dict) and PRIVATE_JWK_MEMBERS & set(k)]
    if private:
        checker.add(
            "jwks",
            "Signing keys (JWKS)",
            Outcome.FAIL,
            f"{len(private)} key(s) carry private members: the JWKS leaks secret keys.",
            "RFC 7517 §5; RFC 7518 §6.3.2, §6.4",
        )
        return
    signing = [
        k
        for k in keys
        if isinstance(k, dict) and isinstance(k.get("kty"), str) and k.get("use") in (None, "sig")
    ]
    if not signing:
        checker.add(
            "jwks", "Signing keys (JWKS)", Outcome.FAIL, "No key usable for signatures.", ref
        )
        return
    unnamed = sum(1 for k in signing if not k.get("kid"))
    checker.add(
        "jwks",
        "Signing keys (JWKS)",
        Outcome.WARN if unnamed and len(signing) > 1 else Outcome.PASS,
        f"{len(signing)} public signing key(s)"
        + (f", {unnamed} without kid." if unnamed else ", each with a kid."),
        ref,
    )


async def _check_protection_probe(checker: _Checker, uma: dict[str, Any] | None) -> None:
    """The resource registration endpoint asked without a PAT: 401 and a Bearer challenge."""
    ref = "UMA 2.0 FedAuthz §1.3; RFC 6750 §3, §3.1"
    endpoint = (uma or {}).get("resource_registration_endpoint")
    title = "Protection API needs a PAT"
    if not isinstance(endpoint, str):
        checker.add("protection.challenge", title, Outcome.WARN, "No endpoint to ask.", ref)
        return
    reply = await checker.get(endpoint, "the protection API without a token")
    if isinstance(reply, str):
        checker.add("protection.challenge", title, Outcome.FAIL, reply, ref)
        return
    challenge = reply.headers.get("www-authenticate", "")
    if reply.status_code != 401:
        checker.add(
            "protection.challenge",
            title,
            Outcome.FAIL,
            f"Without a token it answers HTTP {reply.status_code}, not 401.",
            ref,
        )
    elif not challenge.lower().startswith("bearer"):
        checker.add(
            "protection.challenge",
            title,
            Outcome.FAIL,
            "401 without a WWW-Authenticate: Bearer challenge.",
            "RFC 6750 §3; RFC 9110 §15.5.2",
        )
    elif "error=" in challenge:
        checker.add(
            "protection.challenge",
            title,
            Outcome.WARN,
            "401 with a Bearer challenge, but it names an error although no token was sent.",
            "RFC 6750 §3.1",
        )
    else:
        checker.add(
            "protection.challenge", title, Outcome.PASS, "401 with a Bearer challenge.", ref
        )


async def _check_token_errors(checker: _Checker, merged: dict[str, Any]) -> None:
    """The token endpoint asked for an RPT with a made-up ticket: an RFC 6749 §5.2 error."""
    ref = "RFC 6749 §5.2; UMA 2.0 Grant §3.3.6"
    title = "Token endpoint errors are OAuth JSON"
    endpoint = merged.get("token_endpoint")
    if not isinstance(endpoint, str):
        checker.add("token.errors", title, Outcome.FAIL, "No token_endpoint.", ref)
        return
    reply = await checker.post(
        endpoint,
        "the UMA grant with a made-up ticket",
        {
            "grant_type": uma_metadata.UMA_TICKET_GRANT,
            "ticket": "check-" + secrets.token_urlsafe(12),
            "client_id": "uma-desktop-check",
        },
    )
    if isinstance(reply, str):
        checker.add("token.errors", title, Outcome.FAIL, reply, ref)
        return
    body = _json_object(reply)
    error = body.get("error") if body is not None else None
    if reply.status_code in (400, 401) and isinstance(error, str):
        checker.add(
            "token.errors",
            title,
            Outcome.PASS,
            f"A made-up ticket from an unknown client: HTTP {reply.status_code} {_short(error)}.",
            ref,
        )
    else:
        checker.add(
            "token.errors",
            title,
            Outcome.FAIL,
            f"HTTP {reply.status_code} without a JSON error code.",
            ref,
        )


def _check_owner_api(checker: _Checker, merged: dict[str, Any]) -> str | None:
    from uma_desktop.backends import detect_kind
    from uma_desktop.domain import BackendKind

    ref = "UMA WG Policy Manager draft v0.1; docs/owner-api.md"
    try:
        detected = detect_kind(uma_metadata.parse(merged))
    except MalformedResponseError:
        detected = None
    if detected is BackendKind.POLICY_MANAGER:
        name = "Policy Manager (UMA WG draft, UMA Desktop owner API)"
        outcome, detail = Outcome.PASS, "registered_resource_endpoint and policy_endpoint found."
    elif detected is BackendKind.KEYCLOAK:
        name = "Keycloak Account REST API (vendor-specific)"
        outcome = Outcome.PASS
        detail = "No standard owner API; the app uses Keycloak's own account API."
    else:
        name = None
        outcome = Outcome.WARN
        detail = "No owner API recognised: the app cannot list requests or shares here."
    checker.add("owner_api", "Owner API", outcome, name + ": " + detail if name else detail, ref)
    return name


async def check_server(
    url: str, *, client_factory: Callable[[], net.AsyncClient] | None = None
) -> CheckReport:
    """Check the authorization server whose issuer is ``url`` (never raises for its answers).

    Raises ConfigurationError only when ``url`` itself is not an acceptable issuer URL.
    """
    issuer = normalise_issuer(url)
    client = (client_factory or (lambda: net.async_client(actor="check", deadline=20.0)))()
    checker = _Checker(client)
    try:
        uma = await _document(
            checker,
            issuer,
            uma_metadata.UMA2_CONFIGURATION_PATH,
            "discovery.uma2",
            "UMA discovery document",
            "UMA 2.0 Grant §2; UMA 2.0 FedAuthz §2",
            needed=True,
        )
        oidc = await _document(
            checker,
            issuer,
            uma_metadata.OPENID_CONFIGURATION_PATH,
            "discovery.openid",
            "OpenID discovery document",
            "OpenID Connect Discovery §4",
            needed=False,
        )
        documents = {
            name: doc
            for name, doc in (("uma2-configuration", uma), ("openid-configuration", oidc))
            if doc is not None
        }
        _check_issuers(checker, issuer, documents)
        merged: dict[str, Any] = {}
        for doc in documents.values():
            for key, value in doc.items():
                merged.setdefault(key, value)
        owner_api = None
        if merged:
            _check_metadata(checker, uma, merged)
            _check_features(checker, merged)
            await _check_jwks(checker, merged)
            await _check_protection_probe(checker, uma)
            await _check_token_errors(checker, merged)
            owner_api = _check_owner_api(checker, merged)
    finally:
        await client.aclose()
    return CheckReport(
        target=issuer,
        checked_at=datetime.now(UTC),
        findings=tuple(checker.findings),
        issuer=str(merged.get("issuer")) if isinstance(merged.get("issuer"), str) else None,
        owner_api=owner_api,
    )
