"""Trace fixtures: the OAuth-like loopback server (tests/fixtures/trace_server.py) and a
recorder listening to uma_desktop.net for the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.fixtures.trace_server import OAuthLikeServer
from uma_desktop.trace import TraceRecorder


@pytest.fixture
def oauth_like_server() -> Iterator[OAuthLikeServer]:
    server = OAuthLikeServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def recorder() -> Iterator[TraceRecorder]:
    with TraceRecorder() as rec:
        yield rec
