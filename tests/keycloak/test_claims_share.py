"""Keycloak's account API shares with named users only: no claims shares are offered."""

from __future__ import annotations

import pytest

from uma_desktop.backends.base import Capability
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.errors import NotSupportedError


async def test_keycloak_offers_no_claims_shares(alice: KeycloakBackend) -> None:
    assert Capability.SHARE_BY_CLAIMS not in alice.capabilities
    [resource, *_] = await alice.list_resources()
    with pytest.raises(NotSupportedError):
        await alice.share_with_claims(resource.id, [("email_domain", "example.org")], ["view"])
