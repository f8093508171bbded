# ruff: noqa: RUF001 -- the angle quotes of redacted values are what these tests look for
"""The protocol trace records real loopback exchanges, redacts every secret, filters and exports."""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

import pytest

from tests.fixtures import mermaid_grammar
from tests.fixtures.trace_server import OAuthLikeServer, run_login_and_uma_flow
from uma_desktop import net
from uma_desktop.trace import (
    Redactor,
    TraceEntry,
    TraceRecorder,
    entry_as_text,
    to_har,
    to_har_json,
    to_mermaid,
)


def everything_visible(entries: list[TraceEntry]) -> str:
    """All text a user could see or export from these entries."""
    return "\n".join(
        [repr(entries), to_mermaid(entries), to_har_json(entries)]
        + [entry_as_text(e) for e in entries]
    )


def test_no_secret_survives_a_real_login_and_uma_flow(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    run_login_and_uma_flow(oauth_like_server)
    entries = recorder.entries()
    assert len(entries) == 10
    visible = everything_visible(entries)
    for name, value in oauth_like_server.secrets.values().items():
        assert value not in visible, f"{name} leaked into the trace"
        assert quote(value, safe="") not in visible, f"{name} leaked (URL-encoded)"


def test_redacted_values_say_what_they_were(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    run_login_and_uma_flow(oauth_like_server)
    s = oauth_like_server.secrets
    by_path = {}
    for entry in recorder.entries():
        by_path.setdefault((entry.actor, entry.method, entry.path.split("?")[0]), []).append(entry)

    token = by_path[("app:conn-1", "POST", "/token")][0]
    body = json.loads(token.response_body)
    assert body["access_token"] == f"‹access_token {s.access_token[:8]}…›"
    assert body["refresh_token"].startswith("‹refresh_token ")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300  # not secrets: visible
    assert "grant_type=authorization_code" in token.request_body
    assert (
        "code=‹code " in token.request_body
        and "code_verifier=‹code_verifier›" in token.request_body
    )
    assert (
        token.header("authorization", response=False)
        == "Basic ‹credentials desktop:‹client_secret››"
    )

    login_post = by_path[("app:conn-1", "POST", "/login")][0]
    assert "username=alice" in login_post.request_body
    assert "password=‹password›" in login_post.request_body  # never any character of it
    assert login_post.header("cookie", response=False).startswith("sid=‹cookie ")
    assert "theme=‹cookie›" in login_post.header("cookie", response=False)
    assert login_post.header("set-cookie").endswith("; Path=/; HttpOnly")
    location = login_post.header("location")
    assert "code=‹code " in location and "state=‹state " in location and "iss=x" in location

    login_page = by_path[("app:conn-1", "GET", "/login")][0]
    assert "code_challenge=abc" in login_page.url  # the challenge is public by design
    assert 'name="csrf_token" value="‹csrf_token ' in login_page.response_body

    challenge = by_path[("rqp:bob", "GET", "/photos/1")][0].header("www-authenticate")
    assert challenge.startswith('UMA realm="photos", as_uri="http://127.0.0.1:')
    assert f'ticket="‹ticket {s.ticket1[:5]}…›"' in challenge

    submitted = by_path[("rqp:bob", "POST", "/token")][0]
    assert f"ticket=‹ticket {s.ticket1[:5]}…›" in submitted.request_body  # same prefix: followable
    assert submitted.outcome == "403 request_submitted"
    assert json.loads(submitted.response_body)["interval"] == 5

    device = by_path[("app:conn-1", "POST", "/device")][0]
    device_body = json.loads(device.response_body)
    assert device_body["user_code"] == "‹user_code›"  # short: no prefix
    assert "user_code=‹user_code›" in device_body["verification_uri_complete"]

    echo = by_path[("app:conn-1", "GET", "/echo")][0]
    assert echo.response_body == f"you sent Bearer ‹jwt {s.access_token[:8]}…›"


async def test_async_clients_are_recorded_with_their_connection(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    recorder.name_connection("conn-2", "Photos")
    recorder.name_server(oauth_like_server.url, "as:photos")
    async with net.async_client(connection_id="conn-2") as client:
        response = await client.get(f"{oauth_like_server.url}/.well-known/uma2-configuration")
    assert response.status_code == 200
    [entry] = recorder.entries()
    assert (entry.actor, entry.target, entry.status) == ("app:Photos", "as:photos", 200)
    assert entry.duration >= 0 and entry.started > 0
    assert json.loads(entry.response_body)["token_endpoint"] == "/token"


def test_targets_are_named_by_longest_prefix_else_host_and_port(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    recorder.name_server(oauth_like_server.url, "as:health")
    recorder.name_server(f"{oauth_like_server.url}/photos/", "rs:photos")
    run_login_and_uma_flow(oauth_like_server)
    targets = {(e.path.split("?")[0], e.target) for e in recorder.entries()}
    assert ("/photos/1", "rs:photos") in targets
    assert ("/token", "as:health") in targets
    assert recorder.target_name("http://127.0.0.1:9/x") == "127.0.0.1:9"
    recorder.name_actor_at("rqp:bob", oauth_like_server.url, "rqp:bob@health")
    with net.sync_client(actor="rqp:bob") as bob:
        bob.get(f"{oauth_like_server.url}/photos/1")
    assert recorder.entries()[-1].actor == "rqp:bob@health"


def test_filter_by_actor_and_connection(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    run_login_and_uma_flow(oauth_like_server)
    assert {e.actor for e in recorder.entries(actor="rqp:bob")} == {"rqp:bob"}
    assert len(recorder.entries(actor="rqp")) == 4  # a bare kind matches all of that kind
    assert len(recorder.entries(actor="app")) == 6
    assert len(recorder.entries(connection_id="conn-1")) == 6
    assert recorder.entries(actor="rqp:bob", connection_id="conn-1") == []


def test_store_is_bounded_and_thread_safe(oauth_like_server: OAuthLikeServer) -> None:
    with TraceRecorder(capacity=50) as recorder:
        seen: list[int] = []
        unsubscribe = recorder.subscribe(lambda entry: seen.append(entry.seq))

        def worker() -> None:
            with net.sync_client(actor="rqp:carol") as client:
                for _ in range(20):
                    client.get(f"{oauth_like_server.url}/.well-known/uma2-configuration")

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        unsubscribe()
        entries = recorder.entries()
    assert len(entries) == 50  # the oldest 30 were dropped
    assert sorted(seen) == list(range(1, 81))  # every exchange was seen once, with a unique seq
    assert [e.seq for e in entries] == list(range(31, 81))  # the newest, in order


def test_recorder_stops_listening(oauth_like_server: OAuthLikeServer) -> None:
    recorder = TraceRecorder().start()
    recorder.stop()
    with net.sync_client() as client:
        client.get(f"{oauth_like_server.url}/.well-known/uma2-configuration")
    assert len(recorder) == 0


def test_mermaid_export_parses_and_keeps_the_order(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    recorder.name_server(oauth_like_server.url, "as:health")
    recorder.name_server(f"{oauth_like_server.url}/photos", "rs:photos")
    run_login_and_uma_flow(oauth_like_server)
    diagram = mermaid_grammar.parse(to_mermaid(recorder.entries(actor="rqp:bob"), title="bob; #1"))
    assert diagram.title == "bob; #1"
    assert diagram.participants == ["rqp:bob", "rs:photos", "as:health"]
    assert [(m.source, m.target, m.text) for m in diagram.messages] == [
        ("rqp:bob", "rs:photos", "GET /photos/1"),
        ("rs:photos", "rqp:bob", "401 UMA ticket"),
        ("rqp:bob", "as:health", "POST /token (uma-ticket)"),
        ("as:health", "rqp:bob", "403 request_submitted"),
        ("rqp:bob", "as:health", "POST /token (uma-ticket)"),
        ("as:health", "rqp:bob", "200"),
        ("rqp:bob", "rs:photos", "GET /photos/1"),
        ("rs:photos", "rqp:bob", "200"),
    ]
    assert [m.arrow for m in diagram.messages][1::2] == ["--x", "--x", "-->>", "-->>"]


def test_mermaid_grammar_check_rejects_bad_diagrams() -> None:
    with pytest.raises(SyntaxError):
        mermaid_grammar.parse("sequenceDiagram\n    A->>B: hi")  # undeclared
    with pytest.raises(SyntaxError):
        mermaid_grammar.parse("sequenceDiagram\n participant A as a\n A->>A: x; y")
    with pytest.raises(SyntaxError):
        mermaid_grammar.parse("graph LR\n A-->B")


def test_har_export_is_har_1_2_shaped(
    oauth_like_server: OAuthLikeServer, recorder: TraceRecorder
) -> None:
    run_login_and_uma_flow(oauth_like_server)
    har = json.loads(to_har_json(recorder.entries()))
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "uma-desktop"
    assert len(log["entries"]) == 10
    for entry in log["entries"]:
        assert set(entry) >= {"startedDateTime", "time", "request", "response", "cache", "timings"}
        assert entry["startedDateTime"].endswith("Z")
        assert set(entry["request"]) >= {
            "method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize",
            "bodySize",
        }  # fmt: skip
        assert set(entry["response"]) >= {
            "status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL",
            "headersSize", "bodySize",
        }  # fmt: skip
        assert entry["timings"]["wait"] >= 0 and entry["_actor"] in ("app:conn-1", "rqp:bob")
    posts = [e for e in log["entries"] if e["request"]["method"] == "POST"]
    assert all(
        e["request"]["postData"]["mimeType"].startswith("application/x-www-form") for e in posts
    )
    login = next(e for e in posts if "/login" in e["request"]["url"])
    assert login["response"]["cookies"][0]["name"] == "sid"
    assert login["response"]["redirectURL"].startswith("http://127.0.0.1:1/callback?code=‹code")
    assert to_har([])["log"]["entries"] == []


@pytest.mark.parametrize(
    ("url", "leak"),
    [
        ("https://bob:hunter2-long@as.example/x", "hunter2-long"),
        (
            "https://app.example/cb#access_token=abcdefghijklmnopqrstu&token_type=bearer",
            "abcdefghijklm",
        ),
        ("https://as.example/authorize?Client_Secret=s3cr3t-value", "s3cr3t-value"),
        ("https://as.example/x?next=%2Fcb%3Fcode%3Dzyxwvutsrqponmlk", "zyxwvutsrqponmlk"),
    ],
)
def test_secrets_inside_urls(url: str, leak: str) -> None:
    redacted = Redactor().url(url)
    assert leak not in redacted
    assert "‹" in redacted


def test_bodies_that_are_not_what_they_claim_are_still_redacted() -> None:
    redactor = Redactor()
    broken_json = b'{"access_token": "abcdefghijklmnopqrstuvwxyz", "oops'
    assert "abcdefghijklmnop" not in redactor.body(broken_json, "application/json")
    html = b'<a href="/cb?code=qwertyuiopasdfgh&amp;state=zxcvbnmasdfghjkl">go</a>'
    out = redactor.body(html, "text/html")
    assert "qwertyuiop" not in out and "zxcvbnm" not in out
    assert redactor.body(b"\x89PNG\r\n", "image/png") == "[6 bytes of image/png]"
    nested = b'{"permissions": [{"rpt": "rpt-0123456789abcdef"}], "token_type": "pct"}'
    assert "0123456789" not in redactor.body(nested, "application/json; charset=utf-8")


def test_a_secret_seen_once_is_caught_anywhere_later() -> None:
    redactor = Redactor()
    redactor.body(b'{"refresh_token": "rt-ABCdef123456ghiJKL/+xyz=="}', "application/json")
    quoted = redactor.text("invalid_grant: rt-ABCdef123456ghiJKL/+xyz== was revoked")
    assert "ABCdef123456" not in quoted and "‹refresh_token rt-AB…›" in quoted
    encoded = redactor.text("next=%2Fcb%3Fx%3Drt-ABCdef123456ghiJKL%2F%2Bxyz")
    assert "ABCdef123456" not in encoded
    redactor.learn("correct horse battery", "password")
    assert redactor.text("he typed correct horse battery twice") == "he typed ‹password› twice"
