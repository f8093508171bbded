"""Local GUI preferences in the config dir as plain JSON: window state and favourites.

No secrets ever live here. A damaged file is moved aside and the defaults are used, so a
broken preference never stops the app from starting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

UI_STATE_FILE = "gui-state.json"
FAVOURITES_FILE = "favourites.json"
SCHEMA_VERSION = 1


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring damaged %s: %s", path.name, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(path.suffix + ".damaged"))
        return None


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class UiState:
    """Window geometry, splitter and header states (base64 strings), last page."""

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / UI_STATE_FILE
        data = _read_json(self.path)
        self._values: dict[str, Any] = data.get("values", {}) if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def save(self) -> None:
        try:
            _write_json(self.path, {"schema": SCHEMA_VERSION, "values": self._values})
        except OSError as exc:
            log.warning("could not save the window state: %s", exc)


class Favourites:
    """Resources the owner starred, as (connection id, resource id) pairs."""

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / FAVOURITES_FILE
        data = _read_json(self.path)
        items = data.get("favourites", []) if isinstance(data, dict) else []
        self._keys: set[tuple[str, str]] = {
            (str(item[0]), str(item[1]))
            for item in items
            if isinstance(item, list) and len(item) == 2
        }

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> set[tuple[str, str]]:
        return set(self._keys)

    def toggle(self, key: tuple[str, str]) -> bool:
        """Flip ``key``; returns True when it is now a favourite. Saved at once."""
        if key in self._keys:
            self._keys.discard(key)
        else:
            self._keys.add(key)
        self.save()
        return key in self._keys

    def save(self) -> None:
        try:
            _write_json(
                self.path,
                {"schema": SCHEMA_VERSION, "favourites": sorted([list(k) for k in self._keys])},
            )
        except OSError as exc:
            log.warning("could not save favourites: %s", exc)
