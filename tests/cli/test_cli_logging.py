"""The command line's log: a file in the log folder, with no sign-in code, state or token."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fixtures.browser import form_browser
from tests.fixtures.wire import wire_secrets
from uma_desktop import cli, net
from uma_desktop.logs import DEBUG_ENV, LOG_FILE_NAME
from uma_desktop.oauth.vault import MemoryVault
from uma_desktop.paths import app_dirs
from uma_desktop.sandbox import SandboxServer


@pytest.fixture
def restore_levels() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("", "uma_desktop", "httpx")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def test_a_cli_login_leaves_no_code_state_or_token_in_the_log(
    app_home: Path,
    sandbox: SandboxServer,
    raw_exchanges: list[net.Exchange],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    restore_levels: None,
) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")  # httpx logs each request line, the callback's too
    vault = MemoryVault()
    browser = form_browser("alice", "alice")

    def uma(*argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(
            list(argv), out=out, err=err, browser_opener=browser, vault_factory=lambda _r: vault
        )
        return code, out.getvalue() + err.getvalue()

    code, text = uma("connections", "add", sandbox.issuer)
    assert code == 0, text
    connection_id = text.splitlines()[0].strip()
    code, text = uma("login", connection_id)
    assert code == 0, text
    assert uma("requests", "--json")[0] == 0

    log = (app_dirs(app_home).log / LOG_FILE_NAME).read_text("utf-8")
    assert f"login at {sandbox.issuer} completed" in log
    assert "code=[redacted]" in log  # httpx's line for the browser's visit to the callback
    callback = dict(parse_qsl(urlsplit(browser.callback_url or "").query))
    secrets = wire_secrets(raw_exchanges, browser.callback_url)
    assert {callback["code"], callback["state"]} <= secrets
    for secret in secrets:
        assert secret not in log
        assert secret not in caplog.text
    # the handlers are gone after each command: nothing keeps the file open
    assert not [h for h in logging.getLogger().handlers if hasattr(h, "_uma_desktop_handler")]
