"""One adapter per authorization-server family, chosen by kind (detected from discovery).

``detect_kind(metadata)`` tells which adapter fits a server; ``make_backend(kind, ...)``
builds it. Adapters are imported lazily so one family's code never loads another's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from uma_desktop.domain import BackendKind
from uma_desktop.errors import ConfigurationError
from uma_desktop.uma.metadata import AuthorizationServerMetadata

if TYPE_CHECKING:
    from uma_desktop import net
    from uma_desktop.backends.base import Backend, TokenSource, YieldPoint

_KEYCLOAK_ISSUER = re.compile(r"/realms/[^/]+/?$")
# Discovery fields only Keycloak publishes (besides its uma-policy endpoint path).
_KEYCLOAK_FIELDS = ("check_session_iframe", "mtls_endpoint_aliases")
_KEYCLOAK_POLICY_PATH = "/authz/protection/uma-policy"
# ForgeRock AM / PingAM / OpenAM: issuer .../oauth2[/realms/root[/realms/<name>]...] and
# UMA 1.0 discovery fields (rpt_endpoint) or its AAT/PAT profile lists.
_FORGEROCK_ISSUER = re.compile(r"/oauth2(?:/realms/[^/]+)*/?$")
_FORGEROCK_FIELDS = ("rpt_endpoint", "pat_profiles_supported", "aat_grant_types_supported")


def describe_kinds() -> str:
    return ", ".join(kind.value for kind in BackendKind)


def parse_kind(text: str) -> BackendKind:
    """A kind typed by a person; ConfigurationError lists the valid ones."""
    try:
        return BackendKind(text.strip().lower())
    except ValueError:
        raise ConfigurationError(
            f"Unknown server kind {text!r}; choose one of: {describe_kinds()}."
        ) from None


def detect_kind(metadata: AuthorizationServerMetadata) -> BackendKind | None:
    """The adapter a server's discovery document points to, or None when it is unclear."""
    if metadata.is_policy_manager:
        return BackendKind.POLICY_MANAGER

    def has(names: tuple[str, ...]) -> bool:
        return any(getattr(metadata, name) is not None for name in names)

    # Before Keycloak: AM's OpenID document also has check_session_iframe and /realms/<x>.
    if _FORGEROCK_ISSUER.search(metadata.issuer) and has(_FORGEROCK_FIELDS):
        return BackendKind.FORGEROCK
    keycloak_fields = has(_KEYCLOAK_FIELDS) or (
        (metadata.policy_endpoint or "").rstrip("/").endswith(_KEYCLOAK_POLICY_PATH)
    )
    if _KEYCLOAK_ISSUER.search(metadata.issuer) and keycloak_fields:
        return BackendKind.KEYCLOAK
    return None


def choose_kind(
    metadata: AuthorizationServerMetadata, requested: BackendKind | None
) -> BackendKind:
    """The requested kind, else the detected one; ConfigurationError asks the person."""
    if requested is not None:
        return requested
    detected = detect_kind(metadata)
    if detected is None:
        raise ConfigurationError(
            f"Could not tell which kind of server {metadata.issuer} is; "
            f"choose one of: {describe_kinds()}."
        )
    return detected


def make_backend(
    kind: BackendKind,
    *,
    connection_id: str,
    metadata: AuthorizationServerMetadata,
    client: net.AsyncClient,
    tokens: TokenSource,
    yield_point: YieldPoint | None = None,
) -> Backend:
    """Build the adapter for ``kind``; the caller owns ``client`` and closes it.

    ``yield_point`` is called between small pieces of long work (default: nothing waits).
    """
    if kind is BackendKind.POLICY_MANAGER:
        from uma_desktop.backends.base import no_yield
        from uma_desktop.backends.policy_manager import PolicyManagerBackend

        return PolicyManagerBackend(
            connection_id, metadata, client, tokens, yield_point=yield_point or no_yield
        )
    if kind is BackendKind.KEYCLOAK:
        from uma_desktop.backends.keycloak import KeycloakBackend

        backend: Backend = KeycloakBackend(connection_id, metadata.issuer, client, tokens)
        return backend
    if kind is BackendKind.FORGEROCK:
        from uma_desktop.backends.forgerock import ForgeRockBackend

        return ForgeRockBackend(connection_id, metadata.issuer, client, tokens)
    raise ConfigurationError(f"Unknown server kind {kind!r}; choose one of: {describe_kinds()}.")
