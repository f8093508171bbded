"""Discovery: the documents a server publishes about itself, and every way that goes wrong."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.oauth_servers import StaticServer
from uma_desktop import net
from uma_desktop.errors import (
    ConfigurationError,
    MalformedResponseError,
    NotSupportedError,
    SecurityCheckError,
    ServerUnreachableError,
    TlsError,
)
from uma_desktop.oauth.discovery import discover


def uma_document(issuer: str, **overrides: Any) -> dict[str, Any]:
    doc = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "permission_endpoint": f"{issuer}/perm",
        "resource_registration_endpoint": f"{issuer}/rreg",
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": [
            "authorization_code",
            "urn:ietf:params:oauth:grant-type:uma-ticket",
        ],
    }
    doc.update(overrides)
    return doc


async def test_a_uma_server_is_discovered_from_both_documents(static_server: StaticServer) -> None:
    issuer = static_server.base_url + "/realms/demo"
    static_server.json("/realms/demo/.well-known/uma2-configuration", uma_document(issuer))
    static_server.json(
        "/realms/demo/.well-known/openid-configuration",
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "end_session_endpoint": f"{issuer}/logout",
        },
    )
    async with net.async_client() as client:
        metadata = await discover(issuer + "/", client)  # a typed trailing slash is fine
    assert metadata.issuer == issuer
    assert metadata.userinfo_endpoint == f"{issuer}/userinfo"
    assert metadata.permission_endpoint == f"{issuer}/perm"


@pytest.mark.parametrize(
    "issuer",
    [
        "http://as.example.com/realms/demo",
        "http://10.0.0.5:8080",
        "ftp://127.0.0.1/x",
        "not a url",
        "https://user:pw@as.example.com",
        "https://as.example.com/?realm=x",
    ],
)
async def test_insecure_or_malformed_issuer_urls_are_refused_before_any_request(
    issuer: str,
) -> None:
    async with net.async_client() as client:
        with pytest.raises(ConfigurationError) as caught:
            await discover(issuer, client)
    assert "issuer" in str(caught.value).lower() or "url" in str(caught.value).lower()


async def test_loopback_http_issuers_are_allowed(static_server: StaticServer) -> None:
    port = static_server.base_url.rsplit(":", 1)[1]
    issuer = f"http://localhost:{port}"
    static_server.json("/.well-known/uma2-configuration", uma_document(issuer))
    async with net.async_client() as client:
        assert (await discover(issuer, client)).issuer == issuer


async def test_nothing_listening_is_reported_as_unreachable(closed_port: int) -> None:
    async with net.async_client() as client:
        with pytest.raises(ServerUnreachableError, match="Could not connect"):
            await discover(f"http://127.0.0.1:{closed_port}", client)


async def test_a_wrong_url_on_a_live_server_says_no_server_found(
    static_server: StaticServer,
) -> None:
    async with net.async_client() as client:
        with pytest.raises(ConfigurationError, match="No authorization server found"):
            await discover(static_server.base_url + "/typo", client)


async def test_an_oidc_server_without_uma_is_not_supported(static_server: StaticServer) -> None:
    issuer = static_server.base_url
    static_server.json("/.well-known/openid-configuration", uma_document(issuer))
    async with net.async_client() as client:
        with pytest.raises(NotSupportedError, match=r"not a UMA 2\.0"):
            await discover(issuer, client)


async def test_a_web_page_instead_of_json_is_not_a_uma_server(static_server: StaticServer) -> None:
    static_server.text("/.well-known/uma2-configuration", "<html>Welcome</html>")
    async with net.async_client() as client:
        with pytest.raises(NotSupportedError, match=r"No UMA 2\.0 authorization server"):
            await discover(static_server.base_url, client)


async def test_uma_metadata_without_the_uma_endpoints_is_not_supported(
    static_server: StaticServer,
) -> None:
    issuer = static_server.base_url
    static_server.json(
        "/.well-known/uma2-configuration", uma_document(issuer, permission_endpoint=None)
    )
    async with net.async_client() as client:
        with pytest.raises(NotSupportedError, match="permission_endpoint"):
            await discover(issuer, client)


async def test_a_document_naming_another_issuer_is_refused(static_server: StaticServer) -> None:
    issuer = static_server.base_url
    static_server.json("/.well-known/uma2-configuration", uma_document("https://evil.example.com"))
    async with net.async_client() as client:
        with pytest.raises(SecurityCheckError, match="issuer"):
            await discover(issuer, client)


async def test_the_two_documents_must_agree_on_the_issuer(static_server: StaticServer) -> None:
    issuer = static_server.base_url
    static_server.json("/.well-known/uma2-configuration", uma_document(issuer))
    static_server.json(
        "/.well-known/openid-configuration", uma_document(static_server.base_url + "/other")
    )
    async with net.async_client() as client:
        with pytest.raises(SecurityCheckError):
            await discover(issuer, client)


async def test_plain_http_endpoints_off_loopback_are_refused(static_server: StaticServer) -> None:
    issuer = static_server.base_url
    static_server.json(
        "/.well-known/uma2-configuration",
        uma_document(issuer, token_endpoint="http://as.example.com/token"),
    )
    async with net.async_client() as client:
        with pytest.raises(MalformedResponseError, match="https"):
            await discover(issuer, client)


async def test_missing_login_endpoints_and_no_pkce_are_explained(
    static_server: StaticServer,
) -> None:
    issuer = static_server.base_url
    static_server.json("/.well-known/uma2-configuration", uma_document(issuer, token_endpoint=None))
    async with net.async_client() as client:
        with pytest.raises(MalformedResponseError, match="token_endpoint"):
            await discover(issuer, client)
    static_server.json(
        "/.well-known/uma2-configuration",
        uma_document(issuer, code_challenge_methods_supported=["plain"]),
    )
    async with net.async_client() as client:
        with pytest.raises(NotSupportedError, match="PKCE"):
            await discover(issuer, client)


async def test_an_untrusted_certificate_is_a_tls_error(self_signed_server: StaticServer) -> None:
    issuer = self_signed_server.base_url
    self_signed_server.json("/.well-known/uma2-configuration", uma_document(issuer))
    async with net.async_client() as client:
        with pytest.raises(TlsError, match="certificate"):
            await discover(issuer, client)
