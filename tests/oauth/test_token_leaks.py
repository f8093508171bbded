"""No token, code or state ends up in the app's files or logs after a full session."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fixtures.browser import drive, form_browser
from tests.fixtures.oauth_servers import AuthServer
from uma_desktop import net
from uma_desktop.oauth import KeyringVault, TokenKind, TokenSession, discover, login_in_browser
from uma_desktop.paths import app_dirs


def from_the_app(record: logging.LogRecord) -> bool:
    """Records of the app's threads; the scripted user stands for a separate browser
    process, whose own request log (with the authorization URL) is not the app's."""
    return record.threadName != "form-browser"


@pytest.mark.keyring
async def test_no_secret_reaches_files_or_logs(
    auth_server: AuthServer, real_keyring: Any, app_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dirs = app_dirs().ensure()
    log_file = dirs.log / "uma-desktop.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.addFilter(from_the_app)
    root = logging.getLogger()
    root.addHandler(file_handler)
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = set()
    try:
        user = form_browser("alice", "alice")
        async with net.async_client(connection_id="conn-leak") as client:
            metadata = await discover(auth_server.issuer, client)
            tokens = await drive(
                user,
                login_in_browser(
                    metadata,
                    auth_server.client_id,
                    auth_server.scopes,
                    user,
                    timeout=60,
                    client=client,
                ),
            )
            await user.finished()
            session = TokenSession(
                "conn-leak", metadata, auth_server.client_id, KeyringVault(real_keyring), client
            )
            await session.start(tokens)
            await session.token_rejected(tokens.access_token)
            refreshed = await session.access_token()
            rotated = session.vault.load("conn-leak", TokenKind.REFRESH)
            await session.logout()
        callback = parse_qs(urlsplit(user.callback_url or "").query)
        secrets |= {tokens.access_token, refreshed, callback["code"][0], callback["state"][0]}
        secrets |= {value for value in (tokens.refresh_token, tokens.id_token, rotated) if value}
    finally:
        root.removeHandler(file_handler)
        file_handler.close()

    app_log = "\n".join(
        logging.Formatter("%(name)s %(message)s").format(record)
        for record in caplog.records
        if from_the_app(record)
    )
    assert log_file.stat().st_size > 0, "the session should have logged something"
    assert "login at" in app_log and "refreshed" in app_log
    assert "HTTP Request: POST" in app_log  # httpx's own request lines are included
    written = [path for base in dirs.all() for path in base.rglob("*") if path.is_file()]
    for secret in secrets:
        assert len(secret) >= 16
        assert secret not in app_log
        for path in written:
            assert secret not in path.read_text(encoding="utf-8", errors="replace"), path
