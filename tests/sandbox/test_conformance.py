"""Conformance: the sandbox driven only through standard endpoints, as a third-party RS and
requesting-party client would (UMA 2.0 Grant + Federated Authorization)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.sandbox import form_interaction, sandbox_login
from tests.sandbox.flows import Parties, parties
from uma_desktop.sandbox import SandboxServer


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    # One server for the module: every test registers its own resources.
    with SandboxServer(name="Conformance") as server:
        yield server


@pytest.fixture(scope="module")
def story(shared_server: SandboxServer) -> Parties:
    return parties(shared_server)


def test_request_approve_subset_rpt_introspection_and_demo_rs(story: Parties) -> None:
    resource_id = story.register("Wedding album", ["view", "download", "comment"])
    ticket = story.ticket(resource_id, ["view", "download"])

    submitted = story.ask(ticket)
    assert submitted.status_code == 403
    assert submitted.headers["cache-control"] == "no-store"
    body = submitted.json()
    assert body["error"] == "request_submitted"
    assert body["ticket"] != ticket and body["interval"] >= 1

    request = story.pending_for(resource_id)
    assert request["requester"]["username"] == "bob"
    assert sorted(request["resource_scopes"]) == ["download", "view"]
    assert request["client_id"] == "rqp-app"

    approved = httpx.post(
        f"{story.discovery['pending_request_endpoint']}/{request['_id']}/approve",
        json={"resource_scopes": ["view"]},
        headers=story.owner_headers(),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["policy_id"]

    granted = story.ask(body["ticket"])
    assert granted.status_code == 200, granted.text
    tokens = granted.json()
    assert tokens["token_type"] == "Bearer" and "scope" not in tokens
    assert tokens["pct"]

    introspection = story.introspect(tokens["access_token"])
    assert introspection["active"] is True
    assert "scope" not in introspection
    assert introspection["permissions"] == [
        {"resource_id": resource_id, "resource_scopes": ["view"]}
    ]

    served = httpx.get(
        f"{story.server.issuer}/rs/photos/resources/{resource_id}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert served.status_code == 200, served.text
    assert served.json()["scopes_granted"] == ["view"]
    # download was left out by the owner: the demo RS asks for a new ticket.
    refused = httpx.get(
        f"{story.server.issuer}/rs/photos/resources/{resource_id}",
        params={"scopes": "download"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert refused.status_code == 401
    assert re.fullmatch(
        r'UMA realm="photos", as_uri="[^"]+", ticket="[^"]+"', refused.headers["www-authenticate"]
    )
    # ... and the AS now refuses download outright.
    again = story.ask(story.ticket(resource_id, ["download"]))
    assert again.status_code == 403 and again.json()["error"] == "request_denied"


def test_demo_rs_challenge_names_the_as(story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    response = httpx.get(f"{story.server.issuer}/rs/photos/resources/{resource_id}")
    assert response.status_code == 401
    header = response.headers["www-authenticate"]
    assert f'as_uri="{story.server.issuer}"' in header
    ticket = re.search(r'ticket="([^"]+)"', header)
    assert ticket is not None
    assert story.ask(ticket.group(1)).json()["error"] == "request_submitted"


def test_deny_gives_request_denied(story: Parties) -> None:
    resource_id = story.register("Private album", ["view"])
    submitted = story.ask(story.ticket(resource_id, ["view"])).json()
    request = story.pending_for(resource_id)
    denied = httpx.post(
        f"{story.discovery['pending_request_endpoint']}/{request['_id']}/deny",
        headers=story.owner_headers(),
    )
    assert denied.status_code == 200 and denied.json() == {}
    answer = story.ask(submitted["ticket"])
    assert answer.status_code == 403
    assert answer.json()["error"] == "request_denied"
    assert "ticket" not in answer.json()
    # The decided request is gone from the inbox; deciding it again is 404.
    again = httpx.post(
        f"{story.discovery['pending_request_endpoint']}/{request['_id']}/deny",
        headers=story.owner_headers(),
    )
    assert again.status_code == 404 and again.json()["error"] == "not_found"


def test_reused_ticket_is_invalid_grant(story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    ticket = story.ticket(resource_id, ["view"])
    assert story.ask(ticket).json()["error"] == "request_submitted"
    reused = story.ask(ticket)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_unknown_ticket_is_invalid_grant(story: Parties) -> None:
    answer = story.ask("tkt-made-up")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_expired_ticket_is_invalid_grant(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(ticket_lifetime=30)
    own = parties(server)
    resource_id = own.register("Album", ["view"])
    ticket = own.ticket(resource_id, ["view"])
    server.advance_clock(31)
    answer = own.ask(ticket)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert "expired" in answer.json()["error_description"]


def test_unknown_scope_is_invalid_scope(story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    answer = story.ask(story.ticket(resource_id, ["view"]), scope="delete-everything")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


def test_need_info_round_trip_through_claims_interaction(story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    # bob already has a policy, so the only thing missing is who he is.
    policy = httpx.post(
        story.discovery["policy_endpoint"],
        json={
            "resource_id": resource_id,
            "resource_scopes": ["view"],
            "sub": httpx.get(
                story.discovery["person_lookup_endpoint"],
                params={"q": "bob"},
                headers=story.owner_headers(),
            ).json()["sub"],
        },
        headers=story.owner_headers(),
    )
    assert policy.status_code == 201, policy.text

    need_info = story.ask(story.ticket(resource_id, ["view"]), anonymous="yes")
    assert need_info.status_code == 403
    body = need_info.json()
    assert body["error"] == "need_info"
    assert body["required_claims"][0]["claim_token_format"]
    assert body["redirect_user"] == story.discovery["claims_interaction_endpoint"]

    with httpx.Client() as browser:
        page = browser.get(
            body["redirect_user"],
            params={
                "client_id": "rqp-app",
                "ticket": body["ticket"],
                "claims_redirect_uri": "http://127.0.0.1:40000/claims-callback",
                "state": "s-42",
            },
        )
        assert page.status_code == 200
        assert "<script" not in page.text
        back = browser.post(
            f"{story.server.issuer}/claims/login",
            data={"interaction": form_interaction(page.text), "username": "bob", "password": "bob"},
        )
    assert back.status_code == 303
    location = urlsplit(back.headers["location"])
    assert location.path == "/claims-callback" and location.port == 40000
    query = parse_qs(location.query)
    assert query["state"] == ["s-42"]
    new_ticket = query["ticket"][0]
    assert new_ticket != body["ticket"]

    rpt = story.ask(new_ticket, anonymous="yes")
    assert rpt.status_code == 200, rpt.text
    assert story.introspect(rpt.json()["access_token"])["permissions"][0]["resource_scopes"] == [
        "view"
    ]
    # The PCT stands for bob's claims next time: no interaction needed.
    pct = rpt.json()["pct"]
    second = story.ask(story.ticket(resource_id, ["view"]), pct=pct)
    assert second.status_code == 200, second.text


def test_claims_interaction_refuses_unregistered_redirect(story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    ticket = story.ask(story.ticket(resource_id, ["view"]), anonymous="yes").json()["ticket"]
    page = httpx.get(
        story.discovery["claims_interaction_endpoint"],
        params={
            "client_id": "rqp-app",
            "ticket": ticket,
            "claims_redirect_uri": "https://evil.test/",
        },
    )
    assert page.status_code == 400
    assert "location" not in page.headers


def test_rpt_upgrade_carries_earlier_permissions(story: Parties) -> None:
    first = story.register("First", ["view"])
    second = story.register("Second", ["view"])
    bob = httpx.get(
        story.discovery["person_lookup_endpoint"],
        params={"q": "bob@example.test"},
        headers=story.owner_headers(),
    ).json()["sub"]
    for resource_id in (first, second):
        created = httpx.post(
            story.discovery["policy_endpoint"],
            json={"resource_id": resource_id, "resource_scopes": ["view"], "sub": bob},
            headers=story.owner_headers(),
        )
        assert created.status_code == 201
    rpt1 = story.ask(story.ticket(first, ["view"])).json()["access_token"]
    upgraded = story.ask(story.ticket(second, ["view"]), rpt=rpt1).json()
    assert upgraded["upgraded"] is True
    permissions = story.introspect(upgraded["access_token"])["permissions"]
    assert {p["resource_id"] for p in permissions} == {first, second}
    assert story.introspect(rpt1) == {"active": False}


def test_owner_gets_rpt_without_asking(story: Parties) -> None:
    resource_id = story.register("Mine", ["view"])
    alice = sandbox_login(
        story.server, client_id="rqp-app", client_secret=story.rqp_secret, scope="openid"
    )
    answer = story.ask(
        story.ticket(resource_id, ["view"]),
        claim_token=alice["id_token"],
        claim_token_format="http://openid.net/specs/openid-connect-core-1_0.html#IDToken",
    )
    assert answer.status_code == 200, answer.text


def test_protection_api_crud_and_errors(story: Parties) -> None:
    endpoint = story.discovery["resource_registration_endpoint"]
    resource_id = story.register("Album", ["view", "download"])
    assert resource_id in httpx.get(endpoint, headers=story.pat_headers()).json()
    read = httpx.get(f"{endpoint}/{resource_id}", headers=story.pat_headers()).json()
    assert read == {
        "_id": resource_id,
        "name": "Album",
        "type": "photo-album",
        "resource_scopes": ["view", "download"],
    }
    updated = httpx.put(
        f"{endpoint}/{resource_id}",
        json={"name": "Renamed", "resource_scopes": ["view"], "unknown_extension": 1},
        headers=story.pat_headers(),
    )
    assert updated.status_code == 200 and updated.json()["_id"] == resource_id
    assert httpx.get(f"{endpoint}/{resource_id}", headers=story.pat_headers()).json()["name"] == (
        "Renamed"
    )
    bad_scope = httpx.post(
        story.discovery["permission_endpoint"],
        json={"resource_id": resource_id, "resource_scopes": ["download"]},
        headers=story.pat_headers(),
    )
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    bad_id = httpx.post(
        story.discovery["permission_endpoint"],
        json={"resource_id": "res-nope", "resource_scopes": []},
        headers=story.pat_headers(),
    )
    assert bad_id.status_code == 400 and bad_id.json()["error"] == "invalid_resource_id"
    assert httpx.delete(f"{endpoint}/{resource_id}", headers=story.pat_headers()).status_code == 204
    gone = httpx.get(f"{endpoint}/{resource_id}", headers=story.pat_headers())
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
    no_pat = httpx.get(endpoint)
    assert no_pat.status_code == 401 and "error" not in no_pat.json()  # RFC 6750 §3.1
    owner_token_is_no_pat = httpx.get(endpoint, headers=story.owner_headers())
    assert owner_token_is_no_pat.status_code == 403
    assert owner_token_is_no_pat.json()["error"] == "insufficient_scope"


def test_polling_before_the_owner_decides_keeps_one_request(story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    first = story.ask(story.ticket(resource_id, ["view"])).json()
    second = story.ask(first["ticket"]).json()
    assert second["error"] == "request_submitted"
    assert second["ticket"] not in (first["ticket"],)
    story.pending_for(resource_id)  # exactly one pending request
    assert story.ask(first["ticket"]).json()["error"] == "invalid_grant"  # used up


def test_nothing_secret_is_logged(story: Parties, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    resource_id = story.register("Logged?", ["view"])
    ticket = story.ticket(resource_id, ["view"])
    answer = story.ask(ticket).json()
    secrets = [
        story.pat,
        story.owner_token,
        story.bob_id_token,
        story.rqp_secret,
        ticket,
        answer["ticket"],
    ]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert not [s for s in secrets if s in text]
