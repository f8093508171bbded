"""Claims policies in the UMA grant: "anyone whose verified e-mail is at example.test may
view", judged on the claims the requesting party presents, over plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox.flows import Parties, parties
from uma_desktop.sandbox import SandboxServer


@pytest.fixture(scope="module")
def shared_server() -> Iterator[SandboxServer]:
    with SandboxServer(name="Claims") as server:
        yield server


@pytest.fixture(scope="module")
def story(shared_server: SandboxServer) -> Parties:
    return parties(shared_server)


def _claims_policy(story: Parties, resource_id: str, domain: str) -> httpx.Response:
    return httpx.post(
        story.discovery["policy_endpoint"],
        json={
            "resource_id": resource_id,
            "resource_scopes": ["view"],
            "required_claims": [{"name": "email_domain", "value": domain}],
        },
        headers=story.owner_headers(),
    )


def test_a_verified_email_at_the_domain_gets_an_rpt_at_once(story: Parties) -> None:
    resource_id = story.register("Team album", ["view", "download"])
    created = _claims_policy(story, resource_id, "Example.TEST")
    assert created.status_code == 201, created.text
    policy: dict[str, Any] = httpx.get(
        f"{story.discovery['policy_endpoint']}/{created.json()['_id']}",
        headers=story.owner_headers(),
    ).json()
    assert policy["sub"] is None and policy["subject"] is None
    assert policy["audience"] == "Anyone with a verified e-mail at Example.TEST"

    granted = story.ask(story.ticket(resource_id, ["view"]))  # bob@example.test, ID token
    assert granted.status_code == 200, granted.text
    assert story.introspect(granted.json()["access_token"])["permissions"] == [
        {"resource_id": resource_id, "resource_scopes": ["view"]}
    ]
    # The claims policy grants view only: download still goes to the owner.
    more = story.ask(story.ticket(resource_id, ["download"]))
    assert more.json()["error"] == "request_submitted"

    # Taking the policy away revokes what it granted, whoever holds it.
    gone = httpx.delete(
        f"{story.discovery['policy_endpoint']}/{created.json()['_id']}",
        headers=story.owner_headers(),
    )
    assert gone.status_code == 204
    assert story.introspect(granted.json()["access_token"])["active"] is False


def test_without_the_claim_the_owner_is_asked(story: Parties) -> None:
    resource_id = story.register("Partner album", ["view"])
    assert _claims_policy(story, resource_id, "example.org").status_code == 201
    answer = story.ask(story.ticket(resource_id, ["view"]))
    assert answer.status_code == 403 and answer.json()["error"] == "request_submitted"


def test_need_info_names_the_claims_a_policy_looks_at(story: Parties) -> None:
    resource_id = story.register("Club album", ["view"])
    assert _claims_policy(story, resource_id, "example.org").status_code == 201
    answer = story.ask(story.ticket(resource_id, ["view"]), anonymous="yes")
    assert answer.status_code == 403
    body = answer.json()
    assert body["error"] == "need_info" and body["redirect_user"].endswith("/claims")
    names = {(hint["name"], hint["friendly_name"]) for hint in body["required_claims"]}
    assert ("email", "Verified e-mail address at example.org") in names
    assert ("sub", "Requesting party") in names


def test_a_policy_without_a_person_needs_evaluable_claims(story: Parties) -> None:
    resource_id = story.register("Odd album", ["view"])
    for claims in ([], [{"name": "shoe_size", "value": "42"}], [{"name": "email_domain"}]):
        refused = httpx.post(
            story.discovery["policy_endpoint"],
            json={
                "resource_id": resource_id,
                "resource_scopes": ["view"],
                "required_claims": claims,
            },
            headers=story.owner_headers(),
        )
        assert refused.status_code == 400, claims
        assert refused.json()["error"] == "invalid_request"


def test_a_claim_value_policy_matches_the_exact_value(story: Parties) -> None:
    resource_id = story.register("Bob's corner", ["view"])
    created = httpx.post(
        story.discovery["policy_endpoint"],
        json={
            "resource_id": resource_id,
            "resource_scopes": ["view"],
            "required_claims": [{"name": "preferred_username", "value": "bob"}],
        },
        headers=story.owner_headers(),
    )
    assert created.status_code == 201, created.text
    assert story.ask(story.ticket(resource_id, ["view"])).status_code == 200
