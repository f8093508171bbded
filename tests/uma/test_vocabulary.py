"""The protocol vocabulary: tolerant of unknown fields, clear about missing ones."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from uma_desktop import net
from uma_desktop.errors import MalformedResponseError, ServerError
from uma_desktop.uma import metadata, owner, permissions, resources, tokens
from uma_desktop.uma.errors import ErrorCode, UmaError, parse_error_body

KEYCLOAK_UMA2 = {
    "issuer": "https://kc.example.test/realms/demo",
    "authorization_endpoint": "https://kc.example.test/realms/demo/protocol/openid-connect/auth",
    "token_endpoint": "https://kc.example.test/realms/demo/protocol/openid-connect/token",
    "introspection_endpoint": "https://kc.example.test/realms/demo/protocol/openid-connect/token/introspect",
    "jwks_uri": "https://kc.example.test/realms/demo/protocol/openid-connect/certs",
    "grant_types_supported": ["authorization_code", "urn:ietf:params:oauth:grant-type:uma-ticket"],
    "resource_registration_endpoint": "https://kc.example.test/realms/demo/authz/protection/resource_set",
    "permission_endpoint": "https://kc.example.test/realms/demo/authz/protection/permission",
    "policy_endpoint": "https://kc.example.test/realms/demo/authz/protection/uma-policy",
    "mtls_endpoint_aliases": {"token_endpoint": "https://kc.example.test/mtls/token"},
    "code_challenge_methods_supported": ["plain", "S256"],
}


def test_metadata_tolerates_unknown_fields_and_keeps_vendor_hints() -> None:
    parsed = metadata.parse(KEYCLOAK_UMA2 | {"x_unknown": {"deep": [1, 2]}})
    assert parsed.supports_uma_grant and parsed.supports_pkce_s256
    assert parsed.policy_endpoint and not parsed.is_policy_manager  # Keycloak's own API
    assert parsed.mtls_endpoint_aliases == KEYCLOAK_UMA2["mtls_endpoint_aliases"]
    assert "x_unknown" not in msgspec.structs.asdict(parsed)
    assert not parsed.supports_device_grant and not parsed.requires_iss_in_response


def test_metadata_missing_issuer_names_the_field() -> None:
    with pytest.raises(MalformedResponseError) as raised:
        metadata.parse({"token_endpoint": "https://x.test/token"})
    assert "missing required field(s): issuer" in str(raised.value)
    assert isinstance(raised.value, ServerError)


@pytest.mark.parametrize("document", [None, [], "issuer", 42])
def test_metadata_not_an_object(document: object) -> None:
    with pytest.raises(MalformedResponseError, match="not a JSON object"):
        metadata.parse(document)


def test_metadata_wrong_type_is_named_without_value() -> None:
    with pytest.raises(MalformedResponseError) as raised:
        metadata.parse({"issuer": "https://a.test", "grant_types_supported": "secret-value"})
    assert "grant_types_supported" in str(raised.value)
    assert "secret-value" not in str(raised.value)


def test_merge_refuses_two_issuers() -> None:
    a = metadata.parse({"issuer": "https://a.test", "token_endpoint": "https://a.test/t"})
    b = metadata.parse({"issuer": "https://a.test", "userinfo_endpoint": "https://a.test/u"})
    merged = metadata.merge(a, b)
    assert merged.token_endpoint and merged.userinfo_endpoint
    with pytest.raises(MalformedResponseError):
        metadata.merge(a, metadata.parse({"issuer": "https://evil.test"}))


def test_resource_descriptions() -> None:
    described = resources.parse_resource(
        {"resource_scopes": ["view", {"name": "edit"}], "name": "Album", "x-extra": True}
    )
    assert described.resource_scopes == ["view", "edit"]
    assert described.wire() == {"resource_scopes": ["view", "edit"], "name": "Album"}
    assert resources.parse_resource({"_id": "r9", "resource_scopes": []}).wire() == {
        "_id": "r9",
        "resource_scopes": [],
    }
    with pytest.raises(MalformedResponseError, match="resource_scopes"):
        resources.parse_resource({"resource_scopes": [{"no_name": "edit"}]})
    with pytest.raises(MalformedResponseError, match="resource_scopes"):
        resources.parse_resource({"name": "No scopes"})
    registered = resources.parse_registered_resource(
        {"_id": "r1", "resource_scopes": [], "resource_server": "rs-photos"}
    )
    assert registered.id == "r1"
    with pytest.raises(MalformedResponseError, match="resource_server"):
        resources.parse_registered_resource({"_id": "r1", "resource_scopes": []})
    assert msgspec.convert({"name": "View", "icon_uri": "x"}, resources.ScopeDescription).name


def test_permissions_tickets_and_introspection() -> None:
    request = permissions.PermissionRequest(resource_id="r1", resource_scopes=["view"])
    assert msgspec.structs.asdict(request) == {"resource_id": "r1", "resource_scopes": ["view"]}
    assert permissions.parse_ticket({"ticket": "t"}).ticket == "t"
    with pytest.raises(MalformedResponseError, match="ticket"):
        permissions.parse_ticket({})
    keycloak_style = permissions.parse_introspection(
        {
            "active": True,
            "exp": 2000,
            "permissions": [
                {"rsid": "r1", "scopes": ["view"]},
                {"resource_id": "r2", "resource_scopes": ["edit"], "exp": 1500},
            ],
        }
    )
    assert keycloak_style.scopes_for("r1", now=1000) == {"view"}
    assert keycloak_style.scopes_for("r2", now=1000) == {"edit"}
    assert keycloak_style.scopes_for("r2", now=1600) == set()  # permission expired
    assert keycloak_style.effective_permissions(now=2500) == []  # token expired
    assert permissions.parse_introspection({"active": False}).effective_permissions() == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'UMA realm="demo", as_uri="https://as.test", ticket="t-1"',
            ("demo", "https://as.test", "t-1"),
        ),
        ("uma as_uri=https://as.test,ticket=t-2", (None, "https://as.test", "t-2")),
        (
            'UMA realm="a \\"q\\"", as_uri="https://as.test", ticket="t"',
            ('a "q"', "https://as.test", "t"),
        ),
    ],
)
def test_www_authenticate(header: str, expected: tuple[str | None, str, str]) -> None:
    challenge = permissions.parse_www_authenticate(header)
    assert challenge is not None
    assert (challenge.realm, challenge.as_uri, challenge.ticket) == expected


@pytest.mark.parametrize("header", [None, "", 'Bearer realm="x"', 'UMA realm="x", ticket="t"'])
def test_www_authenticate_not_uma(header: str | None) -> None:
    assert permissions.parse_www_authenticate(header) is None


def test_challenge_round_trip() -> None:
    challenge = permissions.UmaChallenge(realm="photos", as_uri="http://127.0.0.1:1", ticket="t")
    assert permissions.parse_www_authenticate(challenge.header_value()) == challenge


def test_error_bodies_and_codes() -> None:
    submitted = parse_error_body(b'{"error":"request_submitted","ticket":"t2","interval":5}')
    assert submitted is not None and submitted.code is ErrorCode.REQUEST_SUBMITTED
    assert submitted.ticket == "t2" and submitted.interval == 5
    need_info = parse_error_body(
        {
            "error": "need_info",
            "ticket": "t3",
            "redirect_user": "https://as.test/claims",
            "required_claims": [{"claim_token_format": ["f"], "name": "sub", "x": 1}],
        }
    )
    assert need_info is not None and need_info.required_claims
    assert need_info.required_claims[0].claim_token_format == ["f"]
    keycloak = parse_error_body(
        {"error": "access_denied", "error_description": "request_submitted"}
    )
    assert keycloak is not None and keycloak.code is ErrorCode.REQUEST_SUBMITTED
    not_authorized = parse_error_body(
        {"error": "access_denied", "error_description": "not_authorized"}
    )
    assert not_authorized is not None and not_authorized.code is ErrorCode.REQUEST_DENIED
    vendor = parse_error_body({"error": "vendor_specific"})
    assert vendor is not None and vendor.code is None
    for garbage in (b"<html>", b"[]", b'{"no_error": 1}', "not json", {"error": 5}):
        assert parse_error_body(garbage) is None
    assert {code.value for code in ErrorCode} >= {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "invalid_token",
        "insufficient_scope",
        "unsupported_token_type",
        "authorization_pending",
        "slow_down",
        "expired_token",
        "need_info",
        "request_denied",
        "request_submitted",
        "invalid_resource_id",
        "not_found",
        "unsupported_method_type",
    }


def test_uma_error_message_never_holds_the_ticket() -> None:
    body = parse_error_body(
        {
            "error": "request_submitted",
            "ticket": "SECRET-TICKET",
            "error_description": "Asked the owner",
        }
    )
    assert body is not None
    error = UmaError(body, status=403, what="the access request")
    assert "SECRET-TICKET" not in str(error)
    assert error.status == 403 and error.error == "request_submitted"
    assert error.code is ErrorCode.REQUEST_SUBMITTED


def test_token_responses() -> None:
    rpt = tokens.parse_token_response(
        {"access_token": "a", "token_type": "Bearer", "pct": "p", "upgraded": True, "foo": 1}
    )
    assert rpt.pct == "p" and rpt.upgraded and rpt.scopes == []
    with pytest.raises(MalformedResponseError, match="access_token"):
        tokens.parse_token_response({"token_type": "Bearer"})
    device = tokens.parse_device_authorization(
        {"device_code": "d", "user_code": "U", "verification_uri": "https://v", "expires_in": 60}
    )
    assert device.interval == 5


def test_owner_objects() -> None:
    policy = owner.parse_policy(
        {
            "_id": "p1",
            "resource_id": "r1",
            "resource_scopes": ["view"],
            "sub": "u1",
            "required_claims": [],
            "expires_at": None,
            "subject": {"sub": "u1", "username": "bob"},
        }
    )
    assert policy.id == "p1" and policy.subject and policy.subject.username == "bob"
    with pytest.raises(MalformedResponseError, match="requester"):
        owner.parse_pending_request({"_id": "q", "resource_id": "r", "resource_scopes": []})
    entry = owner.parse_history_entry(
        {"_id": "h", "at": 1, "action": "approve", "resource_id": "r"}
    )
    assert entry.resource_scopes == []
    with pytest.raises(MalformedResponseError, match="sub"):
        owner.parse_subject({"username": "x"})


def test_secrets_stay_out_of_representations() -> None:
    rpt = tokens.parse_token_response(
        {
            "access_token": "SECRET-AT",
            "token_type": "Bearer",
            "refresh_token": "SECRET-RT",
            "id_token": "SECRET-IT",
            "pct": "SECRET-PCT",
            "scope": "openid",
        }
    )
    device = tokens.parse_device_authorization(
        {"device_code": "SECRET-DC", "user_code": "U", "verification_uri": "https://v"}
        | {"expires_in": 60}
    )
    ticket = permissions.parse_ticket({"ticket": "SECRET-TICKET"})
    challenge = permissions.UmaChallenge(as_uri="https://as", ticket="SECRET-TICKET")
    body = parse_error_body({"error": "need_info", "ticket": "SECRET-TICKET"})
    shown = " ".join(repr(value) for value in (rpt, device, ticket, challenge, body))
    assert "SECRET" not in shown
    assert "openid" in repr(rpt) and "'U'" in repr(device)  # what is safe is still shown


def test_server_chosen_durations_are_bounded_and_numbers_may_come_as_text() -> None:
    forever = tokens.parse_token_response(
        {"access_token": "a", "token_type": "Bearer", "expires_in": "9" * 40}
    )
    assert forever.expires_in == tokens.MAX_TOKEN_LIFETIME
    device = tokens.parse_device_authorization(
        {"device_code": "d", "user_code": "U", "verification_uri": "https://v"}
        | {"expires_in": -5, "interval": 10**30}
    )
    assert (device.expires_in, device.interval) == (0, tokens.MAX_DEVICE_INTERVAL)
    with pytest.raises(MalformedResponseError, match="access_token contains characters"):
        tokens.parse_token_response({"access_token": "a\nb", "token_type": "Bearer"})
    with pytest.raises(MalformedResponseError, match="expires_in"):
        tokens.parse_token_response({"access_token": "a", "token_type": "B", "expires_in": 1.5})


def test_error_texts_of_any_type_are_read_as_text() -> None:
    body = parse_error_body({"error": "invalid_request", "error_description": 42, "x": None})
    assert body is not None and body.error_description == "42"
    assert parse_error_body({"error": "e", "error_description": 10**5000}) is None
    assert parse_error_body({"error": "e", "interval": -1}) is None


def test_claims_policies_keep_their_claims_as_sent() -> None:
    claim = {"name": "email", "value": "a@b.test", "claim_token_format": ["f"], "x-vendor": 1}
    policy = owner.parse_policy(
        {"_id": "p", "resource_id": "r", "resource_scopes": ["view"], "required_claims": [claim]}
        | {"expires_at": 1_700_000_000}
    )
    assert policy.required_claims == [claim] and policy.expires_at == 1_700_000_000
    with pytest.raises(MalformedResponseError, match=r"required_claims\.0"):
        owner.parse_policy({"resource_id": "r", "resource_scopes": [], "required_claims": [1]})
    with pytest.raises(MalformedResponseError, match="expires_at"):
        owner.parse_policy({"resource_id": "r", "resource_scopes": [], "expires_at": 1e300})


def test_a_cut_body_is_called_invalid_json_even_when_its_start_has_the_wrong_shape() -> None:
    json_type = {"content-type": "application/json"}
    answer = httpx.Response(200, content=b'{"truncated', headers=json_type)
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        net.parse(answer, net.decoder(list[owner.Subject]), "listing")
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = httpx.Response(200, content=deep, headers=json_type)
    with pytest.raises(MalformedResponseError, match="nested too deeply"):
        net.parse(answer, net.decoder(dict[str, Any]), "object")


def test_member_names_that_are_not_unicode_are_refused_clearly() -> None:
    document = {"issuer": "https://as.test", "\ud800": 1}
    with pytest.raises(MalformedResponseError, match="not valid Unicode"):
        metadata.parse(document)
    assert parse_error_body({"error": "invalid_request", "\ud800": 1}) is None
