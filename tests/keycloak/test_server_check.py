"""The server check against the real Keycloak: what it says is what Keycloak answers."""

from __future__ import annotations

from tests.fixtures.keycloak import KeycloakServer
from uma_desktop.app.server_check import Outcome, check_server


async def test_keycloak_check_records_its_real_answers(keycloak: KeycloakServer) -> None:
    report = await check_server(keycloak.issuer)
    outcomes = {finding.id: finding.outcome for finding in report.findings}
    # Keycloak publishes no claims interaction endpoint (UMA Grant §2: optional).
    assert outcomes.pop("metadata.claims_interaction") is Outcome.WARN
    # Without a PAT its protection API answers 403 invalid_bearer_token, no Bearer challenge.
    assert outcomes.pop("protection.challenge") is Outcome.FAIL
    challenge = report.finding("protection.challenge")
    assert challenge is not None and "HTTP 403" in challenge.detail
    assert set(outcomes.values()) == {Outcome.PASS}, outcomes
    # The rest of its metadata lives in openid-configuration; both name the realm.
    assert report.issuer == keycloak.issuer
    assert report.owner_api is not None and report.owner_api.startswith("Keycloak")
    token_errors = report.finding("token.errors")
    assert token_errors is not None and "HTTP 401 invalid_client" in token_errors.detail
