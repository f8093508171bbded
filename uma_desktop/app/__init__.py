"""The app layer: the ControlPoint over every connection (see /docs and controlpoint-api).

The names below load on first use: the window imports small parts of this package (review
terms, report shapes) before it is painted, and must not pay for the whole core then.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uma_desktop.app.control_point import ControlPoint
    from uma_desktop.app.state import (
        ConnectionsChanged,
        ConnectionState,
        ConnectionStatus,
        DataChanged,
        Event,
        NewRequests,
        PerConnection,
        RequestsChanged,
        StatusChanged,
    )
    from uma_desktop.app.storage import CorruptFileError

_HOMES = {
    "ControlPoint": "control_point",
    "ConnectionState": "state",
    "ConnectionStatus": "state",
    "ConnectionsChanged": "state",
    "DataChanged": "state",
    "Event": "state",
    "NewRequests": "state",
    "PerConnection": "state",
    "RequestsChanged": "state",
    "StatusChanged": "state",
    "CorruptFileError": "storage",
}

__all__ = [
    "ConnectionState",
    "ConnectionStatus",
    "ConnectionsChanged",
    "ControlPoint",
    "CorruptFileError",
    "DataChanged",
    "Event",
    "NewRequests",
    "PerConnection",
    "RequestsChanged",
    "StatusChanged",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
