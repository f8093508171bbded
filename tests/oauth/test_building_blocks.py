"""PKCE, the loopback listener and log redaction, exercised over real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re

import httpx
import pytest

from uma_desktop.oauth.loopback import LoopbackListener, Outcome
from uma_desktop.oauth.pkce import AttemptSecrets, challenge_s256
from uma_desktop.oauth.redact import (
    RedactingFilter,
    install_redaction,
    redact,
    redaction_installed,
)


def test_pkce_verifier_and_challenge_follow_rfc_7636() -> None:
    # RFC 7636 appendix B test vector.
    assert (
        challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    first, second = AttemptSecrets(), AttemptSecrets()
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", first.verifier)
    assert first.verifier != second.verifier and first.state != second.state
    assert first.nonce != first.state
    digest = base64.urlsafe_b64encode(hashlib.sha256(first.verifier.encode()).digest())
    assert first.challenge == digest.rstrip(b"=").decode()
    assert first.verifier not in repr(first) and first.state not in repr(first)


async def test_listener_answers_once_on_its_path_then_stops_listening() -> None:
    async with LoopbackListener("/callback") as listener, httpx.AsyncClient() as browser:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", listener.redirect_uri)
        base = listener.redirect_uri.rsplit("/", 1)[0]

        favicon = await browser.get(base + "/favicon.ico")
        assert favicon.status_code == 404
        posted = await browser.post(listener.redirect_uri, content=b"x")
        assert posted.status_code == 405

        tab = asyncio.create_task(browser.get(listener.redirect_uri + "?code=abc&state=xyz"))
        params = await listener.wait(timeout=5)
        assert params == {"code": "abc", "state": "xyz"}
        listener.finish(Outcome(True, "Signed in", "Signed in as alice."))
        page = await tab
        assert page.status_code == 200
        assert "close this tab" in page.text and "Signed in as alice." in page.text
        assert page.headers["cache-control"] == "no-store"

        with pytest.raises(httpx.ConnectError):  # single use: nothing listens any more
            await browser.get(listener.redirect_uri + "?code=abc&state=xyz")


async def test_listener_shows_failures_and_times_out() -> None:
    async with LoopbackListener("/callback") as listener, httpx.AsyncClient() as browser:
        with pytest.raises(TimeoutError):
            await listener.wait(timeout=0.05)
        tab = asyncio.create_task(browser.get(listener.redirect_uri + "?error=access_denied"))
        await listener.wait(timeout=5)
        listener.finish(Outcome(False, "Sign-in failed", "The sign-in was declined."))
        page = await tab
        assert page.status_code == 400 and "The sign-in was declined." in page.text


async def test_listener_ignores_garbage_and_half_requests() -> None:
    async with LoopbackListener("/callback") as listener:
        port = int(listener.redirect_uri.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"NONSENSE\r\n\r\n")
        await writer.drain()
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /callback?code=1")  # never finished: must not count as the callback
        writer.close()
        with pytest.raises(TimeoutError):
            await listener.wait(timeout=0.2)


JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
OPAQUE = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8"


@pytest.mark.parametrize(
    "text",
    [
        f"token {JWT} leaked",
        f"Authorization: Bearer {OPAQUE}",
        "GET /callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj HTTP/1.1",
        "grant_type=refresh_token&refresh_token=8xLOxBtZp8&client_id=uma-desktop",
        '{"access_token": "2YotnFZFEjr1zCsicMWpAA", "token_type": "Bearer"}',
        "refresh_token: tGzv3JOkF0XG5Qx2TlKWIA",
        f"opaque {OPAQUE}",
        "code_verifier=dBjftJeZ4CVP-1mB92vj8MTbalGa3vuZ3Ff-eP1R2Ow",
    ],
)
def test_redaction_removes_token_like_values(text: str) -> None:
    cleaned = redact(text)
    for secret in (
        JWT,
        OPAQUE,
        "SplxlOBeZQQYbYS6WxSbIA",
        "af0ifjsldkj",
        "8xLOxBtZp8",
        "2YotnFZFEjr1zCsicMWpAA",
        "tGzv3JOkF0XG5Qx2TlKWIA",
        "dBjftJeZ4CVP-1mB92vj8MTbalGa3vuZ3Ff-eP1R2Ow",
    ):
        assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_redaction_keeps_ordinary_messages() -> None:
    text = "connection kc-demo: GET https://127.0.0.1:8443/realms/demo answered 200 in 0.2 s"
    assert redact(text) == text


def test_redacting_filter_and_record_factory_scrub_log_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("uma_desktop.test.redaction")
    handler_filter = RedactingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.DEBUG):
            logger.debug("refresh answered %s", {"refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA"})
            try:
                raise ValueError(f"bad token {JWT}")
            except ValueError:
                logger.exception("failed")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert "tGzv3JOkF0XG5Qx2TlKWIA" not in caplog.text and JWT not in caplog.text
    assert "[redacted]" in caplog.text

    previous = logging.getLogRecordFactory()
    try:
        install_redaction()
        install_redaction()  # idempotent
        record = logging.getLogRecordFactory()(
            "x", logging.INFO, __file__, 1, "sent %s", (f"Bearer {OPAQUE}",), None
        )
        assert OPAQUE not in record.getMessage()
    finally:
        logging.setLogRecordFactory(previous)


def test_redaction_comes_back_when_other_code_replaced_the_record_factory() -> None:
    """A library or test that puts back the plain factory must not leave logs unredacted."""
    previous = logging.getLogRecordFactory()
    try:
        install_redaction()
        logging.setLogRecordFactory(logging.LogRecord)  # someone else's reset
        assert not redaction_installed()
        install_redaction()
        record = logging.getLogRecordFactory()(
            "x", logging.INFO, __file__, 1, "GET /cb?state=%s", (OPAQUE,), None
        )
        assert OPAQUE not in record.getMessage()
    finally:
        logging.setLogRecordFactory(previous)
