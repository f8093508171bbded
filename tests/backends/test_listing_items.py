"""A listed resource carries every field the server sent, each in its own place (the listing
builds resources positionally, fast, so a reordered domain class must fail here)."""

from __future__ import annotations

import msgspec

from uma_desktop.backends.policy_manager import _resource, _ResourceWire
from uma_desktop.domain import Resource


def test_a_listed_resource_has_each_field_where_it_belongs() -> None:
    sent = {
        "_id": "r1",
        "name": "Holiday 2026",
        "resource_scopes": ["view", "download"],
        "resource_server": "rs-photos",
        "resource_server_name": "Photo Cloud",
        "type": "photo-album",
        "description": "Beach week",
        "icon_uri": "https://photos.example/icon.png",
        "owner": "sub-alice",
        "share_count": 3,
    }
    wire = msgspec.convert(sent, _ResourceWire)
    assert _resource(wire, "home") == Resource(
        connection_id="home",
        id="r1",
        name="Holiday 2026",
        scopes=("view", "download"),
        resource_server="Photo Cloud",
        resource_server_id="rs-photos",
        type="photo-album",
        description="Beach week",
        icon_uri="https://photos.example/icon.png",
        owner="sub-alice",
        share_count=3,
        labels=(),
    )
    bare = _resource(_ResourceWire(id="r2", name="Notes"), "home")
    assert (bare.scopes, bare.resource_server, bare.share_count) == ((), "", None)
