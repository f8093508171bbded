"""Where the specs are strict the sandbox is too: each test drives it as another vendor's
client or resource server would and checks the answer the RFC or UMA text asks for."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.fixtures.sandbox import client_secret, form_interaction, sandbox_login
from tests.sandbox.flows import ID_TOKEN_FORMAT, UMA_GRANT, Parties, parties
from uma_desktop.sandbox import SandboxServer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with SandboxServer(name="Strictness") as server:
        yield server


@pytest.fixture(scope="module")
def story(shared_server: SandboxServer) -> Parties:
    return parties(shared_server)


def _post_pairs(
    url: str,
    pairs: list[tuple[str, str]],
    *,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.post(url, content=urlencode(pairs), headers={**FORM, **(headers or {})}, auth=auth)


def test_token_endpoint_refuses_a_repeated_ticket(story: Parties) -> None:
    resource_id = story.register("Repeated ticket album", ["view"])
    first, second = story.ticket(resource_id, ["view"]), story.ticket(resource_id, ["view"])
    answer = _post_pairs(
        story.discovery["token_endpoint"],
        [
            ("grant_type", UMA_GRANT),
            ("ticket", first),
            ("ticket", second),
            ("claim_token", story.bob_id_token),
            ("claim_token_format", ID_TOKEN_FORMAT),
        ],
        auth=("rqp-app", story.rqp_secret),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert "ticket" in answer.json()["error_description"]
    # Neither ticket was spent by the refused request.
    assert story.ask(second).json()["error"] == "request_submitted"


def test_token_endpoint_refuses_two_grant_types(story: Parties) -> None:
    answer = _post_pairs(
        story.discovery["token_endpoint"],
        [("grant_type", "client_credentials"), ("grant_type", "client_credentials")],
        auth=("rqp-app", story.rqp_secret),
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_revocation_and_introspection_refuse_repeated_parameters(story: Parties) -> None:
    revoke = _post_pairs(
        story.discovery["revocation_endpoint"],
        [("token", "a"), ("token", "b")],
        auth=("rqp-app", story.rqp_secret),
    )
    assert revoke.status_code == 400 and revoke.json()["error"] == "invalid_request"
    introspect = _post_pairs(
        story.discovery["introspection_endpoint"],
        [("token", story.pat), ("token", story.pat)],
        headers=story.pat_headers(),
    )
    assert introspect.status_code == 400 and introspect.json()["error"] == "invalid_request"


def test_permission_request_needs_resource_scopes(story: Parties) -> None:
    resource_id = story.register("Scopeless request album", ["view", "download"])
    missing = httpx.post(
        story.discovery["permission_endpoint"],
        json={"resource_id": resource_id},
        headers=story.pat_headers(),
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    in_a_list = httpx.post(
        story.discovery["permission_endpoint"],
        json=[
            {"resource_id": resource_id, "resource_scopes": ["view"]},
            {"resource_id": resource_id},
        ],
        headers=story.pat_headers(),
    )
    assert in_a_list.status_code == 400 and in_a_list.json()["error"] == "invalid_request"
    empty = httpx.post(
        story.discovery["permission_endpoint"],
        json={"resource_id": resource_id, "resource_scopes": []},
        headers=story.pat_headers(),
    )
    assert empty.status_code == 201 and empty.json()["ticket"]


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("GET", "resource_registration_endpoint"),
        ("POST", "permission_endpoint"),
        ("GET", "registered_resource_endpoint"),
        ("GET", "userinfo_endpoint"),
        ("POST", "introspection_endpoint"),
    ],
)
def test_no_credentials_gets_a_challenge_without_an_error_code(
    story: Parties, method: str, endpoint: str
) -> None:
    kwargs: dict[str, object] = {}
    if endpoint == "introspection_endpoint":
        kwargs["data"] = {"token": "x"}
    elif method == "POST":
        kwargs["json"] = {"resource_id": "res-x", "resource_scopes": []}
    answer = httpx.request(method, story.discovery[endpoint], **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge == f'Bearer realm="{story.server.issuer}"'
    assert "error" not in answer.json()
    # A token that is sent but wrong still names the error (RFC 6750 §3.1).
    wrong = httpx.request(
        method,
        story.discovery[endpoint],
        headers={"Authorization": "Bearer nope"},
        **kwargs,  # type: ignore[arg-type]
    )
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


def test_revoking_another_clients_token_is_refused_and_keeps_it(story: Parties) -> None:
    server = story.server
    native = sandbox_login(server, client_id="uma-desktop", username="alice", scope="openid")
    other_secret = client_secret(server, "rqp-app")
    for token in (native["access_token"], native["refresh_token"]):
        refused = httpx.post(
            story.discovery["revocation_endpoint"],
            data={"token": token},
            auth=("rqp-app", other_secret),
        )
        assert refused.status_code == 400
        assert refused.json()["error"] == "unauthorized_client"
    assert story.introspect(native["access_token"])["active"] is True
    refreshed = httpx.post(
        story.discovery["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": native["refresh_token"],
            "client_id": "uma-desktop",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    # The client that owns it may still revoke it; an unknown token stays a success.
    own = httpx.post(
        story.discovery["revocation_endpoint"],
        data={"token": native["access_token"], "client_id": "uma-desktop"},
    )
    assert own.status_code == 200
    assert story.introspect(native["access_token"])["active"] is False
    unknown = httpx.post(
        story.discovery["revocation_endpoint"],
        data={"token": "never-issued"},
        auth=("rqp-app", other_secret),
    )
    assert unknown.status_code == 200


def test_partial_grant_gives_an_rpt_for_the_allowed_scopes_and_asks_the_owner(
    story: Parties,
) -> None:
    resource_id = story.register("Partly shared album", ["view", "download"])
    submitted = story.ask(story.ticket(resource_id, ["view"])).json()
    request = story.pending_for(resource_id)
    approved = httpx.post(
        f"{story.discovery['pending_request_endpoint']}/{request['_id']}/approve",
        json={"resource_scopes": ["view"]},
        headers=story.owner_headers(),
    )
    assert approved.status_code == 200, approved.text
    first = story.ask(submitted["ticket"])
    assert first.status_code == 200

    partial = story.ask(story.ticket(resource_id, ["view", "download"]))
    assert partial.status_code == 200, partial.text
    assert story.introspect(partial.json()["access_token"])["permissions"] == [
        {"resource_id": resource_id, "resource_scopes": ["view"]}
    ]
    asked = story.pending_for(resource_id)
    assert asked["resource_scopes"] == ["download"]

    # Once the owner allows the rest, the RPT is upgraded to carry both.
    allowed = httpx.post(
        f"{story.discovery['pending_request_endpoint']}/{asked['_id']}/approve",
        json={"resource_scopes": ["download"]},
        headers=story.owner_headers(),
    )
    assert allowed.status_code == 200, allowed.text
    upgraded = story.ask(
        story.ticket(resource_id, ["download"]), rpt=partial.json()["access_token"]
    )
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["upgraded"] is True
    permissions = story.introspect(upgraded.json()["access_token"])["permissions"]
    assert permissions == [{"resource_id": resource_id, "resource_scopes": ["download", "view"]}]


def test_a_wrong_password_shows_the_form_again_without_a_401(story: Parties) -> None:
    """A 401 needs a WWW-Authenticate challenge (RFC 9110 §15.5.2); a form has none."""
    resource_id = story.register("Password album", ["view"])
    with httpx.Client() as browser:
        page = browser.get(
            f"{story.server.issuer}/claims",
            params={
                "client_id": "rqp-app",
                "ticket": story.ticket(resource_id, ["view"]),
                "claims_redirect_uri": "http://127.0.0.1/claims-callback",
            },
        )
        assert page.status_code == 200, page.text
        wrong = browser.post(
            f"{story.server.issuer}/claims/login",
            data={"interaction": form_interaction(page.text), "username": "bob", "password": "x"},
        )
    assert wrong.status_code == 400
    assert "www-authenticate" not in wrong.headers
    assert "Wrong username or password" in wrong.text
