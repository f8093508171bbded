"""Server text cannot drive the terminal: escapes, C1 and bidi controls come out visible.

A sandbox whose requester and resource names carry terminal escapes, a C1 CSI and a bidi
override; the real program in its own process lists, approves and shows the history. A small
hostile OAuth server on loopback sends the same in a device code and an error description.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.cli import Ran, run_program
from uma_desktop import cli
from uma_desktop.sandbox import SandboxServer
from uma_desktop.text import safe_json, terminal_safe

CLEAR_AND_PAINT = "\x1b[2J\x1b[32m"
HOSTILE_NAME = f"Bob{CLEAR_AND_PAINT}APPROVED by admin\x9b1;1H\u202eredlof\u202c"
HOSTILE_USERNAME = "bob\x1b]0;owned\x07\u2066x\u2069"
HOSTILE_RESOURCE = "Blood tests\x1b[8m hidden\x7f\u200f 2026"
# Every character a terminal or a bidi renderer acts on: C0 but the line feed, DEL, C1,
# bidi marks, embeddings, overrides and isolates, and the line/paragraph separators.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def assert_no_raw_controls(ran: Ran) -> None:
    for stream, text in (("stdout", ran.out), ("stderr", ran.err)):
        found = RAW_CONTROL.findall(text)
        assert not found, f"{stream} carries raw {[hex(ord(c)) for c in found]}: {text!r}"


@pytest.fixture
def hostile_sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    """The seeded sandbox with carol's name and a resource name made hostile.

    Carol's pending request for "Blood tests 2026" is seeded, so the hostile requester and
    resource both show in ``requests``.
    """
    server = sandbox_factory(name="Hostile")
    assert server.sandbox is not None
    store = server.sandbox.store
    store.execute(
        "UPDATE users SET name = ?, username = ? WHERE username = 'carol'",
        (HOSTILE_NAME, HOSTILE_USERNAME),
    )
    store.execute(
        "UPDATE resources SET name = ? WHERE name = 'Blood tests 2026'", (HOSTILE_RESOURCE,)
    )
    return server


def test_requests_approve_history_and_resources_show_server_text_escaped(
    hostile_sandbox: SandboxServer, kept_login: Callable[[SandboxServer], str]
) -> None:
    connection_id = kept_login(hostile_sandbox)

    listed = run_program("requests")
    assert listed.code == 0, listed.err
    assert_no_raw_controls(listed)
    assert terminal_safe(HOSTILE_NAME) in listed.out  # shown, escaped, on one line
    assert "Bob\\x1b[2J\\x1b[32mAPPROVED by admin\\x9b1;1H\\u202eredlof" in listed.out
    assert terminal_safe(HOSTILE_RESOURCE) in listed.out

    as_json = run_program("requests", "--json")
    assert as_json.code == 0, as_json.err
    assert_no_raw_controls(as_json)
    assert "\\u001b[2J" in as_json.out and "\\u009b" in as_json.out
    assert "\\u202e" in as_json.out and "\\u007f" in as_json.out
    (request,) = as_json.json()["items"]
    assert request["requester"]["name"] == HOSTILE_NAME  # escaped, yet the same text
    assert request["requester"]["username"] == HOSTILE_USERNAME
    assert request["resource_name"] == HOSTILE_RESOURCE

    approved = run_program("approve", f"{connection_id}:{request['id']}")
    assert approved.code == 0, approved.err
    assert_no_raw_controls(approved)
    person = f"{terminal_safe(HOSTILE_NAME)} ({terminal_safe(HOSTILE_USERNAME)})"
    assert f"approve: {person} on {terminal_safe(HOSTILE_RESOURCE)}" in approved.err

    history = run_program("history")
    assert history.code == 0, history.err
    assert_no_raw_controls(history)
    assert terminal_safe(HOSTILE_NAME) in history.out
    history_json = run_program("history", "--json")
    assert_no_raw_controls(history_json)
    (decision,) = history_json.json()["items"]
    party = f"{HOSTILE_NAME} ({HOSTILE_USERNAME})"
    assert (decision["party"], decision["resource_name"]) == (party, HOSTILE_RESOURCE)

    resources = run_program("resources")
    assert resources.code == 0, resources.err
    assert_no_raw_controls(resources)
    assert terminal_safe(HOSTILE_RESOURCE) in resources.out
    resources_json = run_program("resources", "--json")
    assert_no_raw_controls(resources_json)
    names = {item["name"] for item in resources_json.json()["items"]}
    assert HOSTILE_RESOURCE in names and "Holiday 2026" in names

    shares = run_program(
        "shares", f"{connection_id}:{hostile_sandbox.resource_id(HOSTILE_RESOURCE)}"
    )
    assert shares.code == 0, shares.err
    assert_no_raw_controls(shares)
    assert terminal_safe(HOSTILE_NAME) in shares.out  # the approval made carol a share

    report = run_program("report")
    assert report.code == 0, report.err
    assert_no_raw_controls(report)
    assert terminal_safe(HOSTILE_USERNAME) in report.out


# -- a hostile OAuth server --------------------------------------------------------------------

HOSTILE_USER_CODE = "WDJB\x1b[2J\x1b]8;;file:///etc/passwd\x07-MJHT\u202e"
HOSTILE_DESCRIPTION = f"Your session ended.{CLEAR_AND_PAINT}Logged in as admin\x9b2K\u2067!"


class _HostileOAuth(BaseHTTPRequestHandler):
    """Discovery that works, a device code and an error description full of controls."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/.well-known/uma2-configuration":
            self._answer(200, {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "device_authorization_endpoint": f"{issuer}/device_authorization",
                "permission_endpoint": f"{issuer}/permission",
                "resource_registration_endpoint": f"{issuer}/resource_set",
            })  # fmt: skip
        else:
            self._answer(404, {"error": "not_found"})

    def do_POST(self) -> None:
        issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/device_authorization":
            self._answer(200, {
                "device_code": "device-code-1",
                "user_code": HOSTILE_USER_CODE,
                "verification_uri": f"{issuer}/device",
                "expires_in": 60,
                "interval": 1,
            })  # fmt: skip
        else:
            self._answer(400, {"error": "invalid_scope", "error_description": HOSTILE_DESCRIPTION})


@pytest.fixture
def hostile_oauth() -> Iterator[str]:
    """The issuer URL of a hostile OAuth server on loopback (port chosen by the system)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileOAuth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_device_code_and_an_error_description_cannot_drive_the_terminal(
    app_home: Any, hostile_oauth: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["connections", "add", hostile_oauth, "--kind", "policy-manager", "--no-remember"]
    assert cli.run(argv, out=out, err=err) == 0, err.getvalue()
    connection_id = out.getvalue().strip()

    login = run_program("login", connection_id, "--device")
    assert login.code == 4, login.err  # the server's refusal, after the code was shown
    assert_no_raw_controls(login)
    assert f"enter the code {terminal_safe(HOSTILE_USER_CODE)}" in login.err
    # the server's description is quoted as one line of its printable characters
    assert "invalid_scope" in login.err and "Your session ended." in login.err
    assert "Logged in as admin" in login.err
    assert login.out == ""


# -- the rule itself -------------------------------------------------------------------------


@given(st.text(st.characters(exclude_categories=())))  # surrogates and controls included
def test_any_text_is_terminal_safe_and_round_trips_through_safe_json(text: str) -> None:
    one_line = terminal_safe(text)
    assert not RAW_CONTROL.search(one_line) and "\n" not in one_line
    assert not RAW_CONTROL.search(terminal_safe(text, multiline=True))
    document = safe_json({"value": text, "list": [text]})
    assert not RAW_CONTROL.search(document)
    assert json.loads(document) == {"value": text, "list": [text]}


def test_in_process_output_streams_are_made_safe_too(app_home: Any, hostile_oauth: str) -> None:
    """``cli.run`` with caller-given streams (as tests and embedders use it) filters them too."""
    name = f"Home\x85{CLEAR_AND_PAINT}\u202e office"
    out, err = io.StringIO(), io.StringIO()
    argv = ["connections", "add", hostile_oauth, "--kind", "policy-manager", "--name", name]
    assert cli.run(argv, out=out, err=err) == 0, err.getvalue()
    assert f"added {terminal_safe(name)} (policy-manager)" in err.getvalue()
    assert not RAW_CONTROL.search(out.getvalue() + err.getvalue())

    for argv in (["connections", "list"], ["connections", "list", "--json"]):
        out, err = io.StringIO(), io.StringIO()
        assert cli.run(argv, out=out, err=err) == 0, err.getvalue()
        assert not RAW_CONTROL.search(out.getvalue() + err.getvalue()), out.getvalue()
    (listed,) = json.loads(out.getvalue())
    assert listed["display_name"] == name


def test_a_terminal_that_cannot_show_a_character_gets_an_escape_not_a_crash(
    app_home: Any, hostile_oauth: str
) -> None:
    name = "Zoë's 😀 files"
    argv = ["connections", "add", hostile_oauth, "--kind", "policy-manager", "--name", name]
    assert cli.run(argv, out=io.StringIO(), err=io.StringIO()) == 0
    ascii_terminal = {**os.environ, "PYTHONIOENCODING": "ascii"}

    table = run_program("connections", "list", env=ascii_terminal)
    assert table.code == 0, table.err
    assert "Zo\\u00eb's \\ud83d\\ude00 files" in table.out
    as_json = run_program("connections", "list", "--json", env=ascii_terminal)
    assert as_json.code == 0, as_json.err
    assert as_json.json()[0]["display_name"] == name
