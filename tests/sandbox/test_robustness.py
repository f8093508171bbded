"""Bad input never breaks the sandbox: 4xx with an OAuth-style body, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.fixtures.sandbox import sandbox_owner_token, sandbox_pat
from uma_desktop.sandbox import SandboxServer

MIB = 1024 * 1024
EXAMPLES_PER_MODE = 5


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(name="Robustness") as running:
        yield running


@pytest.fixture(scope="module")
def tokens(server: SandboxServer) -> dict[str, str]:
    return {"owner": sandbox_owner_token(server), "pat": sandbox_pat(server)}


def _is_oauth_error(response: httpx.Response) -> bool:
    body = response.json()
    return isinstance(body, dict) and isinstance(body.get("error"), str)


JSON_ENDPOINTS = [
    ("POST", "/owner/policies", "owner"),
    ("POST", "/protection/resources", "pat"),
    ("POST", "/protection/permissions", "pat"),
]


@pytest.mark.parametrize(("method", "path", "who"), JSON_ENDPOINTS)
def test_malformed_json_is_invalid_request(
    server: SandboxServer, tokens: dict[str, str], method: str, path: str, who: str
) -> None:
    for body in (b"{", b"[1, 2", b"\xff\xfe", b"null", b'"text"', b'{"resource_scopes": 5}'):
        answer = httpx.request(
            method,
            server.issuer + path,
            content=body,
            headers={"Authorization": f"Bearer {tokens[who]}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"] == "invalid_request"
        assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("method", "path", "who"), JSON_ENDPOINTS)
def test_wrong_content_type_is_refused(
    server: SandboxServer, tokens: dict[str, str], method: str, path: str, who: str
) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        answer = httpx.request(
            method,
            server.issuer + path,
            content=b'{"resource_scopes": ["a"]}',
            headers={"Authorization": f"Bearer {tokens[who]}", "Content-Type": content_type},
        )
        assert answer.status_code == 415, answer.text
        assert _is_oauth_error(answer)


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect", "/device_authorization"])
def test_form_endpoints_refuse_json(server: SandboxServer, path: str) -> None:
    answer = httpx.post(server.issuer + path, json={"grant_type": "client_credentials"})
    assert 400 <= answer.status_code < 500
    assert _is_oauth_error(answer)


def test_token_endpoint_without_grant_type(server: SandboxServer) -> None:
    answer = httpx.post(f"{server.issuer}/token", data={"client_id": "uma-desktop"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/owner/policies", "/protection/resources", "/token"])
def test_oversized_bodies_are_413(server: SandboxServer, tokens: dict[str, str], path: str) -> None:
    media = "application/x-www-form-urlencoded" if path == "/token" else "application/json"
    headers = {"Authorization": f"Bearer {tokens['owner']}", "Content-Type": media}
    big = b'{"x": "' + b"a" * (MIB + 10) + b'"}'
    declared = httpx.post(server.issuer + path, content=big, headers=headers)
    assert declared.status_code == 413
    assert declared.json()["error"] == "invalid_request"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted while reading
        for _ in range(17):
            yield b"a" * (64 * 1024)

    streamed = httpx.post(server.issuer + path, content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert _is_oauth_error(streamed)


def test_just_under_the_limit_is_read(server: SandboxServer, tokens: dict[str, str]) -> None:
    body = json.dumps(
        {"resource_scopes": ["view"], "description": "x" * 3000, "padding": "p" * (MIB - 4000)}
    ).encode()
    assert len(body) < MIB
    answer = httpx.post(
        f"{server.issuer}/protection/resources",
        content=body,
        headers={"Authorization": f"Bearer {tokens['pat']}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 201


def test_unknown_paths_and_methods(server: SandboxServer) -> None:
    missing = httpx.get(f"{server.issuer}/no/such/thing")
    assert missing.status_code == 404 and _is_oauth_error(missing)
    wrong_method = httpx.delete(f"{server.issuer}/token")
    assert wrong_method.status_code == 405 and _is_oauth_error(wrong_method)


def test_openapi_describes_request_bodies(server: SandboxServer) -> None:
    document = httpx.get(f"{server.issuer}/openapi.json").json()
    paths = document["paths"]
    assert "application/json" in paths["/owner/policies"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in paths["/token"]["post"]["requestBody"]["content"]
    assert "application/json" in paths["/protection/permissions"]["post"]["requestBody"]["content"]
    for endpoint in (
        "/owner/resources",
        "/owner/policies",
        "/owner/requests",
        "/owner/history",
        "/owner/people",
        "/owner/shared-with-me",
    ):
        assert endpoint in paths


def test_fuzzing_the_openapi_finds_no_server_errors(
    server: SandboxServer, tokens: dict[str, str]
) -> None:
    """Schemathesis generates valid and invalid requests for every operation of the OpenAPI
    document (with real tokens, so bodies get past authentication); none may be a 5xx."""
    schema = schemathesis.openapi.from_url(f"{server.issuer}/openapi.json")

    def auth_headers(path: str) -> dict[str, str]:
        if path.startswith("/rs/"):
            return {}
        who = "pat" if path.startswith(("/protection", "/introspect")) else "owner"
        return {"Authorization": f"Bearer {tokens[who]}"}

    failures: list[str] = []
    statuses: dict[int, int] = {}
    calls = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document is invalid: {result}"
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                nonlocal calls
                calls += 1
                response = case.call(headers=auth_headers(case.operation.path), timeout=20)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                label = f"{case.method} {case.formatted_path}: {response.status_code}"
                if response.status_code >= 500:
                    failures.append(label)
                elif response.status_code >= 400 and "json" in response.headers.get(
                    "content-type", ""
                ):
                    body = response.json()
                    if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
                        failures.append(f"{label} without an OAuth error body")

            try:
                call()
            except Unsatisfiable:
                # Nothing to make invalid (e.g. no parameters at all): no negative cases.
                assert mode is GenerationMode.NEGATIVE
    print(f"fuzzing: {calls} calls, statuses {sorted(statuses.items())}")
    assert calls >= 100
    assert failures == []
    assert any(200 <= status < 300 for status in statuses)  # it got past validation too
