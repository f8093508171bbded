"""The owner API exactly as docs/owner-api.md describes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import sandbox_owner_token
from tests.sandbox.flows import Parties, parties
from uma_desktop.sandbox import SandboxServer
from uma_desktop.uma import owner as owner_models
from uma_desktop.uma.resources import parse_registered_resource


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(name="Owner API") as running:
        yield running


@pytest.fixture(scope="module")
def story(server: SandboxServer) -> Parties:
    return parties(server)


class Owner:
    def __init__(self, server: SandboxServer, username: str = "alice") -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {sandbox_owner_token(server, username)}"}
        self.discovery = httpx.get(f"{server.issuer}/.well-known/uma2-configuration").json()

    def get(self, endpoint: str, path: str = "", **params: Any) -> httpx.Response:
        return httpx.get(self.discovery[endpoint] + path, params=params, headers=self.headers)

    def post(self, endpoint: str, path: str = "", body: Any = None) -> httpx.Response:
        return httpx.post(self.discovery[endpoint] + path, json=body, headers=self.headers)

    def sub(self, who: str) -> str:
        return str(self.get("person_lookup_endpoint", q=who).json()["sub"])


@pytest.fixture(scope="module")
def alice(server: SandboxServer) -> Owner:
    return Owner(server)


def test_registered_resources_ids_and_expanded_pages(alice: Owner) -> None:
    ids = alice.get("registered_resource_endpoint").json()
    assert all(isinstance(i, str) for i in ids) and len(ids) >= 8
    page = alice.get("registered_resource_endpoint", expand="true", limit=3, offset=0)
    assert page.status_code == 200
    assert int(page.headers["x-total-count"]) == len(ids)
    first = [parse_registered_resource(item) for item in page.json()]
    assert len(first) == 3
    second = alice.get("registered_resource_endpoint", expand="true", limit=3, offset=3).json()
    assert not {r.id for r in first} & {r["_id"] for r in second}
    servers = {
        r["resource_server"]
        for r in alice.get("registered_resource_endpoint", expand="true", limit=1000).json()
    }
    assert servers >= {"rs-photos", "rs-health", "rs-calendar"}
    found = alice.get("registered_resource_endpoint", expand="true", q="portraits").json()
    assert [r["name"] for r in found] == ["Family portraits"]
    assert found[0]["share_count"] == 1 and found[0]["resource_server_name"] == "Photo Cloud"
    one = alice.get("registered_resource_endpoint", f"/{found[0]['_id']}").json()
    assert one["resource_server"] == "rs-photos" and "view" in one["resource_scopes"]
    # bob's resource is not alice's
    bobs = alice.server.resource_id("Running log")
    assert bobs not in ids
    assert alice.get("registered_resource_endpoint", f"/{bobs}").status_code == 404
    too_many = alice.get("registered_resource_endpoint", expand="true", limit=5000)
    assert too_many.status_code == 400 and too_many.json()["error"] == "invalid_request"


def test_policy_crud_conflict_and_history(alice: Owner, story: Parties) -> None:
    resource_id = story.register("Shared album", ["view", "download", "comment"])
    dave = alice.sub("dave@example.test")
    created = alice.post(
        "policy_endpoint",
        body={
            "resource_id": resource_id,
            "resource_scopes": ["view", "download"],
            "sub": dave,
            "required_claims": [],
            "expires_at": None,
        },
    )
    assert created.status_code == 201, created.text
    policy_id = created.json()["_id"]
    assert created.headers["location"].endswith(policy_id)
    conflict = alice.post(
        "policy_endpoint",
        body={"resource_id": resource_id, "resource_scopes": ["view"], "sub": dave},
    )
    assert conflict.status_code == 409
    assert conflict.json() == {**conflict.json(), "error": "conflict", "_id": policy_id}
    assert policy_id in alice.get("policy_endpoint").json()
    listed = alice.get("policy_endpoint", expand="true", resource_id=resource_id).json()
    policy = owner_models.parse_policy(listed[0])
    assert policy.id == policy_id and policy.subject and policy.subject.username == "dave"
    assert policy.created_at

    replaced = httpx.put(
        f"{alice.discovery['policy_endpoint']}/{policy_id}",
        json={
            "resource_id": resource_id,
            "resource_scopes": ["view"],
            "sub": dave,
            "required_claims": [],
        },
        headers=alice.headers,
    )
    assert replaced.status_code == 200 and replaced.json()["resource_scopes"] == ["view"]
    empty = httpx.put(
        f"{alice.discovery['policy_endpoint']}/{policy_id}",
        json={"resource_id": resource_id, "resource_scopes": [], "sub": dave},
        headers=alice.headers,
    )
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
    deleted = httpx.delete(
        f"{alice.discovery['policy_endpoint']}/{policy_id}", headers=alice.headers
    )
    assert deleted.status_code == 204
    assert alice.get("policy_endpoint", f"/{policy_id}").status_code == 404

    history = [
        owner_models.parse_history_entry(h) for h in alice.get("decision_history_endpoint").json()
    ]
    mine = [h for h in history if h.resource_id == resource_id]
    assert [h.action for h in mine] == ["revoke", "narrow", "share"]  # newest first
    assert mine[-1].resource_scopes == ["download", "view"] and mine[-1].sub == dave


def test_policy_validation(alice: Owner, story: Parties) -> None:
    resource_id = story.register("Album", ["view"])
    bob = alice.sub("bob")
    cases = [
        (
            {"resource_id": resource_id, "resource_scopes": ["fly"], "sub": bob},
            400,
            "invalid_scope",
        ),
        (
            {"resource_id": resource_id, "resource_scopes": ["view"], "sub": "nobody"},
            400,
            "invalid_request",
        ),
        (
            {"resource_id": resource_id, "resource_scopes": ["view"], "sub": alice.sub("alice")},
            400,
            "invalid_request",
        ),
        (
            {"resource_id": resource_id, "resource_scopes": ["view"], "sub": bob, "expires_at": 1},
            400,
            "invalid_request",
        ),
        ({"resource_id": "res-unknown", "resource_scopes": ["view"], "sub": bob}, 404, "not_found"),
        ({"resource_scopes": ["view"], "sub": bob}, 400, "invalid_request"),
    ]
    for body, status, error in cases:
        answer = alice.post("policy_endpoint", body=body)
        assert (answer.status_code, answer.json()["error"]) == (status, error), body


def test_narrowing_a_policy_revokes_rpts(alice: Owner, story: Parties) -> None:
    resource_id = story.register("Album", ["view", "download"])
    bob = alice.sub("bob")
    policy_id = alice.post(
        "policy_endpoint",
        body={"resource_id": resource_id, "resource_scopes": ["view", "download"], "sub": bob},
    ).json()["_id"]
    rpt = story.ask(story.ticket(resource_id, ["view"])).json()["access_token"]
    assert story.introspect(rpt)["active"] is True
    httpx.put(
        f"{alice.discovery['policy_endpoint']}/{policy_id}",
        json={"resource_id": resource_id, "resource_scopes": ["view"], "sub": bob},
        headers=alice.headers,
    )
    assert story.introspect(rpt) == {"active": False}


def test_expiring_share(alice: Owner, story: Parties, server: SandboxServer) -> None:
    resource_id = story.register("Album", ["view"])
    bob = alice.sub("bob")
    expires_at = int(server.sandbox.now()) + 3600 if server.sandbox else 0
    alice.post(
        "policy_endpoint",
        body={
            "resource_id": resource_id,
            "resource_scopes": ["view"],
            "sub": bob,
            "expires_at": expires_at,
        },
    )
    granted = story.ask(story.ticket(resource_id, ["view"])).json()
    permissions = story.introspect(granted["access_token"])["permissions"]
    assert permissions == [
        {"resource_id": resource_id, "resource_scopes": ["view"], "exp": expires_at}
    ]
    bob_owner = Owner(server, "bob")
    shared = [
        owner_models.parse_shared_with_me(e)
        for e in bob_owner.get("shared_with_me_endpoint").json()
    ]
    entry = next(e for e in shared if e.resource.id == resource_id)
    assert entry.expires_at == expires_at and entry.owner and entry.owner.username == "alice"


def test_shared_with_me_and_people(server: SandboxServer, alice: Owner) -> None:
    shared = alice.get("shared_with_me_endpoint").json()
    assert [
        (e["resource"]["name"], e["owner"]["username"], e["resource_scopes"]) for e in shared
    ] == [("Running log", "bob", ["read"])]
    person = alice.get("person_lookup_endpoint", q="Carol@Example.Test")
    assert person.json()["username"] == "carol" and person.json()["name"] == "Carol Clark"
    nobody = alice.get("person_lookup_endpoint", q="car")
    assert nobody.status_code == 404 and nobody.json()["error"] == "not_found"


def test_pending_requests_seeded_and_approve_validation(alice: Owner) -> None:
    requests = [
        owner_models.parse_pending_request(r) for r in alice.get("pending_request_endpoint").json()
    ]
    seeded = next(r for r in requests if r.resource_name == "Blood tests 2026")
    assert seeded.requester.username == "carol" and seeded.resource_scopes == ["read"]
    wrong = alice.post(
        "pending_request_endpoint", f"/{seeded.id}/approve", {"resource_scopes": ["write"]}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_scope"
    none = alice.post("pending_request_endpoint", f"/{seeded.id}/approve", {"resource_scopes": []})
    assert none.status_code == 400
    everything = httpx.post(  # no body at all: approve everything requested
        f"{alice.discovery['pending_request_endpoint']}/{seeded.id}/approve", headers=alice.headers
    )
    assert everything.status_code == 200, everything.text
    assert alice.get("pending_request_endpoint").json() == [
        r for r in alice.get("pending_request_endpoint").json() if r["_id"] != seeded.id
    ]
    unknown = alice.post("pending_request_endpoint", "/req-nope/approve", None)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


def test_owner_api_needs_the_policy_manager_scope(server: SandboxServer, story: Parties) -> None:
    endpoint = f"{server.issuer}/owner/resources"
    assert httpx.get(endpoint).status_code == 401
    assert httpx.get(endpoint).headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(endpoint, headers={"Authorization": "Bearer garbage"}).json()["error"] == (
        "invalid_token"
    )
    pat_answer = httpx.get(endpoint, headers=story.pat_headers())
    assert pat_answer.status_code == 403 and pat_answer.json()["error"] == "insufficient_scope"
