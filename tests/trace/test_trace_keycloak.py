"""The trace works for a real external server too: the app signs in to a real Keycloak and
reads alice's resources; every exchange is recorded, named, and nothing secret shows."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fixtures import mermaid_grammar
from tests.fixtures.browser import form_browser
from tests.fixtures.keycloak import KeycloakServer
from uma_desktop import net
from uma_desktop.app import ControlPoint
from uma_desktop.domain import BackendKind
from uma_desktop.paths import app_dirs
from uma_desktop.trace import TraceRecorder, entry_as_text, is_secret_key, to_har_json, to_mermaid

pytestmark = pytest.mark.keycloak


def secret_values(exchanges: list[net.Exchange]) -> set[str]:
    """Secret values that crossed the wire: token-endpoint JSON, form fields, bearer tokens."""
    found: set[str] = set()
    for exchange in exchanges:
        for name, value in exchange.request_headers:
            if name.lower() == "authorization":
                found.add(value.partition(" ")[2])
        for key, value in parse_qsl(exchange.request_body.decode("utf-8", "replace")):
            if is_secret_key(key):
                found.add(value)
        for key, value in parse_qsl(urlsplit(exchange.url).query):
            if is_secret_key(key):
                found.add(value)
        try:
            body = json.loads(exchange.response_body)
        except ValueError:
            continue
        if isinstance(body, dict):
            found |= {v for k, v in body.items() if is_secret_key(k) and isinstance(v, str)}
    return {value for value in found if len(value) >= 8}


async def test_a_keycloak_login_and_reads_are_traced_without_secrets(
    keycloak: KeycloakServer, tmp_path: Path
) -> None:
    raw: list[net.Exchange] = []
    lock = threading.Lock()

    def keep(exchange: net.Exchange) -> None:
        with lock:
            raw.append(exchange)

    net.add_listener(keep)
    try:
        with TraceRecorder() as recorder:
            recorder.name_server(keycloak.issuer, "as:keycloak")
            control = await ControlPoint.open(
                app_dirs(tmp_path), browser_opener=form_browser("alice", keycloak.password("alice"))
            )
            try:
                connection = await control.add_connection(
                    keycloak.issuer, kind=BackendKind.KEYCLOAK, remember=False
                )
                recorder.name_connection(connection.id, "keycloak")
                await control.login(connection.id)
                [resources] = await control.resources()
                assert resources.error is None and resources.value
            finally:
                await control.aclose()
            entries = recorder.entries()
    finally:
        net.remove_listener(keep)

    app_entries = [e for e in entries if e.actor == "app:keycloak"]
    assert app_entries and all(e.target == "as:keycloak" for e in app_entries)
    assert any(e.method == "POST" and e.path.endswith("/token") for e in app_entries)
    visible = "\n".join(
        [repr(entries), to_mermaid(entries), to_har_json(entries)]
        + [entry_as_text(e) for e in entries]
    )
    secrets = secret_values(raw)
    assert len(secrets) >= 3  # access, refresh and ID token at least: the check proves something
    assert not [value for value in secrets if value in visible]
    diagram = mermaid_grammar.parse(to_mermaid(entries))
    assert "as:keycloak" in diagram.participants
    token_exchange: Any = next(e for e in app_entries if e.path.endswith("/token"))
    body = json.loads(token_exchange.response_body)
    assert body["access_token"].startswith("‹access_token eyJhbGci")  # noqa: RUF001
    assert body["token_type"].lower() == "bearer"
