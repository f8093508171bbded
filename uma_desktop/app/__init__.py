"""The app layer: the ControlPoint over every connection (see /docs and controlpoint-api)."""

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
