"""A requesting-party client doing the real UMA flow, as a scripted browser plus app.

Given an RS resource URL and a person's credentials it signs the person in through the AS's
login form (authorization code + PKCE), calls the RS, takes the ticket from the 401
challenge, asks the token endpoint for an RPT (pushing the ID token as a claim token, or
through need_info and the claims interaction endpoint) and reports a typed outcome.
``retry`` continues after the owner decided. All HTTP goes through ``net`` with the actor
``rqp:<username>`` so the protocol trace shows it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from uma_desktop import net
from uma_desktop.errors import UmaDesktopError
from uma_desktop.uma.errors import ErrorCode, parse_error_body
from uma_desktop.uma.metadata import (
    UMA2_CONFIGURATION_PATH,
    UMA_TICKET_GRANT,
    AuthorizationServerMetadata,
)
from uma_desktop.uma.metadata import parse as parse_metadata
from uma_desktop.uma.permissions import parse_www_authenticate
from uma_desktop.uma.tokens import ID_TOKEN_CLAIM_FORMAT, parse_token_response

LOGIN_REDIRECT_URI = "http://127.0.0.1:8765/callback"
CLAIMS_REDIRECT_URI = "http://127.0.0.1:8765/claims-callback"
_INTERACTION = re.compile(r"name='interaction' value='([^']+)'")


@dataclass(frozen=True)
class Granted:
    """The RS served the resource with an RPT."""

    resource_url: str
    scopes: tuple[str, ...]
    data: Mapping[str, Any]
    upgraded: bool = False


@dataclass(frozen=True)
class Submitted:
    """The AS asked the owner; call ``retry`` (no sooner than ``interval`` seconds)."""

    resource_url: str
    ticket: str = field(repr=False)
    interval: int
    as_uri: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Denied:
    """The owner said no (``request_denied``)."""

    resource_url: str
    message: str


@dataclass(frozen=True)
class Failed:
    """Anything else: bad credentials, an unreachable server, an unexpected answer."""

    resource_url: str
    message: str
    error: str | None = None


Outcome = Granted | Submitted | Denied | Failed


class _Stop(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(getattr(outcome, "message", ""))
        self.outcome = outcome


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RequestingParty:
    """One person using one requesting-party client against any UMA AS."""

    def __init__(
        self,
        username: str,
        password: str,
        *,
        client_id: str = "rqp-app",
        client_secret: str | None = None,
        use_claims_interaction: bool = False,
        timeout: float = net.DEFAULT_TIMEOUT,
    ) -> None:
        self.username = username
        self._password = password
        self.client_id = client_id
        self._client_secret = client_secret
        self.use_claims_interaction = use_claims_interaction
        self._http = net.sync_client(actor=f"rqp:{username}", timeout=timeout)
        self._metadata: dict[str, AuthorizationServerMetadata] = {}
        self._id_tokens: dict[str, str] = {}
        self._pcts: dict[str, str] = {}
        self._rpts: dict[str, str] = {}  # by issuer: offered for upgrade
        self._rs_rpts: dict[str, str] = {}  # by RS origin: tried first

    @classmethod
    def for_sandbox(
        cls, config: Mapping[str, Any], username: str, password: str | None = None, **kwargs: Any
    ) -> RequestingParty:
        """Use the sandbox's confidential requesting-party client (``rqp-app``)."""
        client_id = kwargs.pop("client_id", "rqp-app")
        secret = next(
            (c["client_secret"] for c in config["clients"] if c["client_id"] == client_id), None
        )
        if password is None:
            password = next(u["password"] for u in config["users"] if u["username"] == username)
        return cls(username, password, client_id=client_id, client_secret=secret, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RequestingParty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # public flow

    def access(self, resource_url: str, scopes: Sequence[str] = ()) -> Outcome:
        """Try to read ``resource_url`` (needing ``scopes``, default: the RS's read scope)."""
        try:
            return self._access(resource_url, tuple(scopes))
        except _Stop as stop:
            return stop.outcome
        except UmaDesktopError as exc:
            return Failed(resource_url, exc.user_message)
        except net.TransportError as exc:
            return Failed(
                resource_url, net.describe_transport_error(exc, resource_url).user_message
            )

    def retry(self, outcome: Submitted) -> Outcome:
        """Ask the token endpoint again with the ticket the AS gave (after the owner decided)."""
        try:
            metadata = self._discover(outcome.as_uri, outcome.resource_url)
            return self._ask_for_rpt(metadata, outcome.ticket, outcome.resource_url, outcome.scopes)
        except _Stop as stop:
            return stop.outcome
        except UmaDesktopError as exc:
            return Failed(outcome.resource_url, exc.user_message)
        except net.TransportError as exc:
            message = net.describe_transport_error(exc, outcome.as_uri).user_message
            return Failed(outcome.resource_url, message)

    # steps

    def _access(self, resource_url: str, scopes: tuple[str, ...]) -> Outcome:
        response = self._call_rs(resource_url, scopes, self._rs_rpts.get(_origin(resource_url)))
        if response.status_code == 200:
            return self._granted(resource_url, response, upgraded=False)
        if response.status_code == 403 and "warning" in response.headers:
            return Failed(
                resource_url, "The resource server cannot reach its authorization server."
            )
        challenge = parse_www_authenticate(response.headers.get("www-authenticate"))
        if response.status_code != 401 or challenge is None:
            return Failed(
                resource_url, f"The resource server answered HTTP {response.status_code}."
            )
        metadata = self._discover(challenge.as_uri, resource_url)
        return self._ask_for_rpt(metadata, challenge.ticket, resource_url, scopes)

    def _call_rs(self, resource_url: str, scopes: tuple[str, ...], rpt: str | None) -> net.Response:
        params = {"scopes": " ".join(scopes)} if scopes else None
        headers = {"Authorization": f"Bearer {rpt}"} if rpt else None
        return self._http.get(resource_url, params=params, headers=headers)

    def _discover(self, as_uri: str, resource_url: str) -> AuthorizationServerMetadata:
        issuer = as_uri.rstrip("/")
        if issuer not in self._metadata:
            response = self._http.get(issuer + UMA2_CONFIGURATION_PATH)
            net.raise_for_error(response, "the discovery request")
            metadata = parse_metadata(net.json_body(response, "discovery document"))
            if metadata.issuer.rstrip("/") != issuer or not metadata.token_endpoint:
                raise _Stop(Failed(resource_url, "The authorization server's metadata is wrong."))
            self._metadata[issuer] = metadata
        return self._metadata[issuer]

    def _ask_for_rpt(
        self,
        metadata: AuthorizationServerMetadata,
        ticket: str,
        resource_url: str,
        scopes: tuple[str, ...],
    ) -> Outcome:
        interactions = 0
        while True:
            data: dict[str, str] = {"grant_type": UMA_TICKET_GRANT, "ticket": ticket}
            if not self.use_claims_interaction:
                data["claim_token"] = self._id_token(metadata, resource_url)
                data["claim_token_format"] = ID_TOKEN_CLAIM_FORMAT
            elif metadata.issuer in self._pcts:
                data["pct"] = self._pcts[metadata.issuer]
            if metadata.issuer in self._rpts:
                data["rpt"] = self._rpts[metadata.issuer]
            response = self._token_request(metadata, data)
            if response.status_code == 200:
                tokens = parse_token_response(net.json_body(response, "token response"))
                self._rpts[metadata.issuer] = tokens.access_token
                self._rs_rpts[_origin(resource_url)] = tokens.access_token
                if tokens.pct:
                    self._pcts[metadata.issuer] = tokens.pct
                served = self._call_rs(resource_url, scopes, tokens.access_token)
                if served.status_code == 401 and scopes:
                    # The owner granted only part of what we asked: read with what we have.
                    served = self._call_rs(resource_url, (), tokens.access_token)
                if served.status_code != 200:
                    return Failed(
                        resource_url,
                        f"The resource server refused the new RPT (HTTP {served.status_code}).",
                    )
                return self._granted(resource_url, served, upgraded=bool(tokens.upgraded))
            body = parse_error_body(response.content)
            if body is None:
                return Failed(
                    resource_url, f"The token endpoint answered HTTP {response.status_code}."
                )
            code = body.code
            if code is ErrorCode.REQUEST_SUBMITTED and body.ticket:
                return Submitted(
                    resource_url, body.ticket, body.interval or 5, metadata.issuer, scopes
                )
            if code is ErrorCode.REQUEST_DENIED:
                return Denied(resource_url, body.error_description or "The owner said no.")
            if code is ErrorCode.NEED_INFO and body.ticket and interactions < 2:
                interactions += 1
                target = body.redirect_user or metadata.claims_interaction_endpoint
                if not target:
                    return Failed(resource_url, "More information needed, but no way to give it.")
                ticket = self._claims_interaction(target, body.ticket, resource_url)
                continue
            return Failed(
                resource_url,
                body.error_description or f"The token endpoint refused: {body.error}.",
                error=body.error,
            )

    def _token_request(
        self, metadata: AuthorizationServerMetadata, data: dict[str, str]
    ) -> net.Response:
        assert metadata.token_endpoint is not None
        if self._client_secret:
            return self._http.post(
                metadata.token_endpoint, data=data, auth=(self.client_id, self._client_secret)
            )
        return self._http.post(metadata.token_endpoint, data={**data, "client_id": self.client_id})

    def _granted(self, resource_url: str, response: net.Response, *, upgraded: bool) -> Granted:
        body = net.json_body(response, "resource")
        scopes = body.get("scopes_granted", []) if isinstance(body, dict) else []
        return Granted(
            resource_url,
            tuple(str(s) for s in scopes),
            body if isinstance(body, dict) else {"data": body},
            upgraded,
        )

    # the scripted browser

    def _sign_in(self, page: net.Response, resource_url: str) -> net.Response:
        """Fill the AS's sign-in form; returns the answer (a redirect when it worked)."""
        if page.status_code != 200:
            raise _Stop(Failed(resource_url, f"The sign-in page answered HTTP {page.status_code}."))
        match = _INTERACTION.search(page.text)
        action = re.search(r"<form method='post' action='([^']+)'", page.text)
        if match is None or action is None:
            raise _Stop(Failed(resource_url, "The sign-in page has no form."))
        target = page.url.join(unescape(action.group(1)))
        answer = self._http.post(
            target,
            data={
                "interaction": unescape(match.group(1)),
                "username": self.username,
                "password": self._password,
                "decision": "allow",
            },
        )
        if answer.status_code in (400, 401) and "Wrong username or password" in answer.text:
            raise _Stop(Failed(resource_url, f"{self.username}: wrong username or password."))
        if answer.status_code not in (302, 303) or "location" not in answer.headers:
            raise _Stop(Failed(resource_url, f"Signing in answered HTTP {answer.status_code}."))
        return answer

    def _id_token(self, metadata: AuthorizationServerMetadata, resource_url: str) -> str:
        if metadata.issuer in self._id_tokens:
            return self._id_tokens[metadata.issuer]
        if not metadata.authorization_endpoint or not metadata.token_endpoint:
            raise _Stop(Failed(resource_url, "The authorization server cannot sign people in."))
        verifier, challenge = _pkce()
        state = secrets.token_urlsafe(16)
        page = self._http.get(
            metadata.authorization_endpoint,
            params={
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": LOGIN_REDIRECT_URI,
                "scope": "openid profile email",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "nonce": secrets.token_urlsafe(16),
            },
        )
        answer = self._sign_in(page, resource_url)
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        if query.get("state") != [state] or "code" not in query:
            raise _Stop(Failed(resource_url, "Signing in did not return a code."))
        if metadata.requires_iss_in_response and query.get("iss") != [metadata.issuer]:
            raise _Stop(Failed(resource_url, "Signing in returned from the wrong server."))
        response = self._token_request(
            metadata,
            {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": LOGIN_REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        net.raise_for_error(response, "the sign-in")
        tokens = parse_token_response(net.json_body(response, "token response"))
        if not tokens.id_token:
            raise _Stop(Failed(resource_url, "Signing in gave no ID token."))
        self._id_tokens[metadata.issuer] = tokens.id_token
        return tokens.id_token

    def _claims_interaction(self, endpoint: str, ticket: str, resource_url: str) -> str:
        """Send the person through the claims interaction endpoint; returns the new ticket."""
        state = secrets.token_urlsafe(16)
        page = self._http.get(
            endpoint,
            params={
                "client_id": self.client_id,
                "ticket": ticket,
                "claims_redirect_uri": CLAIMS_REDIRECT_URI,
                "state": state,
            },
        )
        answer = page if page.status_code in (302, 303) else self._sign_in(page, resource_url)
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        if query.get("state") != [state]:
            raise _Stop(Failed(resource_url, "The claims interaction lost its state."))
        if "ticket" not in query:
            error = query.get("error", ["unknown"])[0]
            raise _Stop(Failed(resource_url, f"The claims interaction failed: {error}.", error))
        return query["ticket"][0]
