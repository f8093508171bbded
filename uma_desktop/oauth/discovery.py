"""Find an authorization server from its issuer URL and check what it says about itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from uma_desktop import net
from uma_desktop.errors import (
    ConfigurationError,
    MalformedResponseError,
    NotSupportedError,
    ResponseTooLargeError,
    SecurityCheckError,
    ServerBusyError,
    ServerError,
)
from uma_desktop.uma import metadata as uma_metadata
from uma_desktop.uma.metadata import AuthorizationServerMetadata

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "device_authorization_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "claims_interaction_endpoint",
    "permission_endpoint",
    "resource_registration_endpoint",
    "registered_resource_endpoint",
    "policy_endpoint",
    "pending_request_endpoint",
    "decision_history_endpoint",
    "person_lookup_endpoint",
    "shared_with_me_endpoint",
)
REQUIRED_FIELDS = ("authorization_endpoint", "token_endpoint")
UMA_REQUIRED_FIELDS = ("permission_endpoint", "resource_registration_endpoint")


def is_loopback_host(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK_HOSTS


def check_url(url: str, what: str) -> str:
    """``url`` if it is absolute https, or http on a loopback host; ConfigurationError else."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigurationError(f"The {what} '{url}' is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"The {what} must be an https:// URL (got '{url}').")
    if parts.username or parts.password:
        raise ConfigurationError(f"The {what} must not contain a user name or password.")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"The {what} must use https:// (plain http:// is allowed only for 127.0.0.1, "
            "::1 and localhost)."
        )
    return url.strip()


def normalise_issuer(issuer: str) -> str:
    issuer = check_url(issuer, "issuer URL")
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ConfigurationError("The issuer URL must not have a query (?) or fragment (#).")
    return issuer.rstrip("/")


async def _fetch(
    client: net.AsyncClient, url: str, what: str
) -> AuthorizationServerMetadata | None:
    """The document at ``url``, or None when the server says it has none (404/410)."""
    response = await net.send(client, "GET", url, f"the {what} request", check=False)
    if response.status_code in (404, 410):
        return None
    net.raise_for_error(response, f"the {what} request")
    return uma_metadata.parse(net.json_body(response, what))


async def _both(
    first: Coroutine[Any, Any, AuthorizationServerMetadata | None],
    second: Coroutine[Any, Any, AuthorizationServerMetadata | None],
) -> tuple[AuthorizationServerMetadata | None, AuthorizationServerMetadata | None]:
    """Run both fetches at once; when one fails, cancel the other and raise its error."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        return await tasks[0], await tasks[1]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check_document(doc: AuthorizationServerMetadata, issuer: str, what: str) -> None:
    if doc.issuer != issuer and doc.issuer.rstrip("/") != issuer:
        raise SecurityCheckError(
            f"The server's {what} names the issuer '{doc.issuer}', not '{issuer}' as asked; "
            "it was refused."
        )


def validate_metadata(
    doc: AuthorizationServerMetadata, issuer: str, *, require_uma: bool = True
) -> AuthorizationServerMetadata:
    """Check the endpoints a login needs and that every endpoint is an acceptable URL."""
    secure_issuer = urlsplit(issuer).scheme == "https"
    for name in ENDPOINT_FIELDS:
        value = getattr(doc, name, None)
        if value is None:
            continue
        try:
            check_url(value, name.replace("_", " "))
        except ConfigurationError as exc:
            raise MalformedResponseError(f"The server's discovery document: {exc}") from None
        if secure_issuer and urlsplit(value).scheme != "https":
            raise MalformedResponseError(
                f"The server's {name.replace('_', ' ')} is not https although its issuer is."
            )
    missing = [name for name in REQUIRED_FIELDS if not getattr(doc, name, None)]
    if missing:
        raise MalformedResponseError(
            "The server's discovery document lacks: " + ", ".join(missing) + "."
        )
    if doc.code_challenge_methods_supported is not None and not doc.supports_pkce_s256:
        raise NotSupportedError("The server does not support PKCE with S256, which login needs.")
    if require_uma:
        missing = [name for name in UMA_REQUIRED_FIELDS if not getattr(doc, name, None)]
        if missing:
            raise NotSupportedError(
                "This server is not a UMA 2.0 authorization server (its metadata lacks "
                + ", ".join(missing)
                + ")."
            )
    return doc


async def discover(
    issuer: str, client: net.AsyncClient, *, require_uma: bool = True
) -> AuthorizationServerMetadata:
    """Fetch and check ``uma2-configuration`` and ``openid-configuration`` of ``issuer``.

    Both documents must name exactly this issuer. Raises ConfigurationError (bad URL, plain
    http to a non-loopback host, nothing found), NotSupportedError (not a UMA server),
    TlsError / ServerUnreachableError, SecurityCheckError (issuer mismatch) or
    MalformedResponseError (unusable document).
    """
    issuer = normalise_issuer(issuer)
    uma_url = issuer + uma_metadata.UMA2_CONFIGURATION_PATH
    oidc_url = issuer + uma_metadata.OPENID_CONFIGURATION_PATH
    try:
        uma_doc, oidc_doc = await _both(
            _fetch(client, uma_url, "UMA discovery document"),
            _fetch(client, oidc_url, "OpenID discovery document"),
        )
    except (ResponseTooLargeError, ServerBusyError):
        raise
    except MalformedResponseError as exc:
        raise NotSupportedError(
            f"No UMA 2.0 authorization server answers at {issuer} ({exc})"
        ) from None
    except ServerError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise ConfigurationError(
                f"No authorization server found at {issuer} (HTTP {exc.status})."
            ) from None
        raise
    if uma_doc is None and oidc_doc is None:
        raise ConfigurationError(
            f"No authorization server found at {issuer}: check the issuer URL."
        )
    if uma_doc is None and require_uma:
        raise NotSupportedError(
            f"{issuer} is an OAuth/OpenID server but not a UMA 2.0 authorization server "
            "(it has no /.well-known/uma2-configuration)."
        )
    if uma_doc is not None:
        _check_document(uma_doc, issuer, "UMA discovery document")
    if oidc_doc is not None:
        _check_document(oidc_doc, issuer, "OpenID discovery document")
    documents = [doc for doc in (uma_doc, oidc_doc) if doc is not None]
    merged = uma_metadata.merge(*documents)
    validate_metadata(merged, merged.issuer, require_uma=require_uma)
    log.info("discovered the authorization server %s", merged.issuer)
    return merged
