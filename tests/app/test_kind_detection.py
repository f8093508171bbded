"""Which adapter a server gets, from its discovery document."""

from __future__ import annotations

import pytest

from uma_desktop.backends import choose_kind, detect_kind, parse_kind
from uma_desktop.domain import BackendKind
from uma_desktop.errors import ConfigurationError
from uma_desktop.uma.metadata import AuthorizationServerMetadata, parse


def _meta(**fields: object) -> AuthorizationServerMetadata:
    return parse({"issuer": "https://as.example.org", **fields})


def test_policy_manager_by_profile() -> None:
    meta = _meta(uma_profiles_supported=["urn:uma-desktop:policy-manager:v1"])
    assert detect_kind(meta) is BackendKind.POLICY_MANAGER


def test_policy_manager_by_endpoints() -> None:
    meta = _meta(
        policy_endpoint="https://as.example.org/pm/policy",
        registered_resource_endpoint="https://as.example.org/pm/rreg",
    )
    assert detect_kind(meta) is BackendKind.POLICY_MANAGER


def test_keycloak_by_realm_issuer_and_its_own_fields() -> None:
    issuer = "https://kc.example.org/realms/demo"
    meta = parse(
        {
            "issuer": issuer,
            "policy_endpoint": f"{issuer}/authz/protection/uma-policy",
            "check_session_iframe": f"{issuer}/protocol/openid-connect/login-status-iframe.html",
        }
    )
    assert detect_kind(meta) is BackendKind.KEYCLOAK


def test_realm_looking_issuer_alone_is_not_enough() -> None:
    assert detect_kind(parse({"issuer": "https://x.example.org/realms/demo"})) is None


def test_unclear_server_asks_with_the_list_of_kinds() -> None:
    with pytest.raises(ConfigurationError, match="policy-manager, keycloak"):
        choose_kind(_meta(), None)
    assert choose_kind(_meta(), BackendKind.KEYCLOAK) is BackendKind.KEYCLOAK


def test_parse_kind_explains_bad_input() -> None:
    assert parse_kind(" Keycloak ") is BackendKind.KEYCLOAK
    with pytest.raises(ConfigurationError, match="choose one of"):
        parse_kind("pingam")


def test_forgerock_by_oauth2_issuer_and_uma1_fields_even_with_keycloak_like_fields() -> None:
    issuer = "https://am.example.org/openam/oauth2/realms/root/realms/family"
    meta = parse(
        {
            "issuer": issuer,
            "rpt_endpoint": "https://am.example.org/openam/uma/realms/root/realms/family/authz_request",
            "check_session_iframe": f"{issuer}/connect/checkSession",  # AM's OpenID has it too
        }
    )
    assert detect_kind(meta) is BackendKind.FORGEROCK
    root = parse(
        {"issuer": "https://am.example.org/am/oauth2", "pat_profiles_supported": ["bearer"]}
    )
    assert detect_kind(root) is BackendKind.FORGEROCK


def test_forgerock_issuer_gives_the_rest_base_and_realm() -> None:
    from uma_desktop.backends.forgerock import split_issuer

    assert split_issuer("https://am.example.org/openam/oauth2/realms/root/realms/a") == (
        "https://am.example.org/openam",
        "/realms/root/realms/a",
    )
    assert split_issuer("https://am.example.org/am/oauth2") == (
        "https://am.example.org/am",
        "/realms/root",
    )
    with pytest.raises(ConfigurationError):
        split_issuer("https://kc.example.org/realms/demo")
