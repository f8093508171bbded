"""Authorization-server metadata: RFC 8414, OpenID Connect Discovery, UMA 2.0 and the
UMA Desktop owner-API extension (docs/owner-api.md), in one tolerant model."""

from __future__ import annotations

from typing import Any

import msgspec

from uma_desktop.uma._base import WireModel, parse_model

UMA_TICKET_GRANT = "urn:ietf:params:oauth:grant-type:uma-ticket"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
POLICY_MANAGER_PROFILE = "urn:uma-desktop:policy-manager:v1"
UMA2_CONFIGURATION_PATH = "/.well-known/uma2-configuration"
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"


class AuthorizationServerMetadata(WireModel, frozen=True, kw_only=True):
    """Discovery document. Only ``issuer`` is required; other fields are ignored."""

    issuer: str

    # RFC 8414
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    registration_endpoint: str | None = None
    scopes_supported: list[str] | None = None
    response_types_supported: list[str] | None = None
    response_modes_supported: list[str] | None = None
    grant_types_supported: list[str] | None = None
    token_endpoint_auth_methods_supported: list[str] | None = None
    token_endpoint_auth_signing_alg_values_supported: list[str] | None = None
    service_documentation: str | None = None
    ui_locales_supported: list[str] | None = None
    op_policy_uri: str | None = None
    op_tos_uri: str | None = None
    revocation_endpoint: str | None = None
    revocation_endpoint_auth_methods_supported: list[str] | None = None
    introspection_endpoint: str | None = None
    introspection_endpoint_auth_methods_supported: list[str] | None = None
    code_challenge_methods_supported: list[str] | None = None
    # RFC 8628, RFC 9207
    device_authorization_endpoint: str | None = None
    authorization_response_iss_parameter_supported: bool | None = None

    # OpenID Connect Discovery 1.0
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    subject_types_supported: list[str] | None = None
    id_token_signing_alg_values_supported: list[str] | None = None
    claims_supported: list[str] | None = None
    acr_values_supported: list[str] | None = None

    # UMA 2.0 Grant and Federated Authorization
    claims_interaction_endpoint: str | None = None
    uma_profiles_supported: list[str] | None = None
    permission_endpoint: str | None = None
    resource_registration_endpoint: str | None = None

    # Owner API: Policy Manager draft v0.1 (names "TBD" there) and the UMA Desktop extension.
    # Keycloak also publishes a ``policy_endpoint`` (its own, different API).
    registered_resource_endpoint: str | None = None
    policy_endpoint: str | None = None
    pending_request_endpoint: str | None = None
    decision_history_endpoint: str | None = None
    person_lookup_endpoint: str | None = None
    shared_with_me_endpoint: str | None = None

    # Vendor hints that tell one server product from another (backends.detect_kind); any
    # value is accepted, only their presence counts.
    check_session_iframe: Any = None  # Keycloak (and AM)
    mtls_endpoint_aliases: Any = None  # Keycloak
    rpt_endpoint: Any = None  # ForgeRock AM's UMA 1.0 document
    pat_profiles_supported: Any = None  # ForgeRock AM
    aat_grant_types_supported: Any = None  # ForgeRock AM

    @property
    def supports_pkce_s256(self) -> bool:
        return "S256" in (self.code_challenge_methods_supported or [])

    @property
    def supports_uma_grant(self) -> bool:
        return UMA_TICKET_GRANT in (self.grant_types_supported or [])

    @property
    def supports_device_grant(self) -> bool:
        return self.device_authorization_endpoint is not None

    @property
    def is_policy_manager(self) -> bool:
        """True when the server speaks the owner API of docs/owner-api.md: it says so in its
        profiles, or it publishes the two endpoints that API cannot do without (Keycloak
        publishes a ``policy_endpoint`` of its own, but no ``registered_resource_endpoint``)."""
        return POLICY_MANAGER_PROFILE in (self.uma_profiles_supported or []) or (
            self.registered_resource_endpoint is not None and self.policy_endpoint is not None
        )

    @property
    def requires_iss_in_response(self) -> bool:
        return bool(self.authorization_response_iss_parameter_supported)


def parse(data: Any) -> AuthorizationServerMetadata:
    """Validate a discovery document; MalformedResponseError names what is missing."""
    return parse_model(AuthorizationServerMetadata, data, "discovery document")


def merge(*documents: AuthorizationServerMetadata) -> AuthorizationServerMetadata:
    """Combine uma2- and openid-configuration of ONE issuer (first non-empty value wins).

    Raises MalformedResponseError when the documents name different issuers (mix-up defence).
    """
    from uma_desktop.errors import MalformedResponseError

    if not documents:
        raise ValueError("merge() needs at least one document")
    issuers = {doc.issuer for doc in documents}
    if len(issuers) > 1:
        raise MalformedResponseError("The discovery documents name different issuers.")
    combined: dict[str, Any] = {}
    for doc in documents:
        for key, value in msgspec.structs.asdict(doc).items():
            if value is not None:
                combined.setdefault(key, value)
    return AuthorizationServerMetadata(**combined)
