"""`uma-desktop sandbox` runs standalone and prints its configuration for interop testers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from uma_desktop.sandbox.cli import main as sandbox_main


def test_print_config_then_serve(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uma_desktop",
            "sandbox",
            "--port",
            "0",
            "--data",
            str(tmp_path / "state.db"),
            "--print-config",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the port is bound
        config = json.loads(line)
        issuer = config["issuer"]  # the port the system picked
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", issuer), issuer
        users = {u["username"]: u for u in config["users"]}
        assert users["alice"]["password"] == "alice" and users["bob"]["email"] == "bob@example.test"
        clients = {c["client_id"]: c for c in config["clients"]}
        assert clients["uma-desktop"]["public"] is True
        assert clients["uma-desktop"]["redirect_uris"][0] == "http://127.0.0.1/callback"
        assert clients["rqp-app"]["client_secret"]
        servers = {rs["key"]: rs for rs in config["resource_servers"]}
        assert set(servers) >= {"photos", "health", "calendar"}
        assert servers["photos"]["url"] == f"{issuer}/rs/photos"
        discovery = httpx.get(f"{issuer}/.well-known/uma2-configuration", timeout=10)
        assert discovery.json()["issuer"] == issuer
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert (tmp_path / "state.db").exists()
    assert process.returncode in (0, -signal.SIGINT)
    assert process.stderr is not None
    errors = process.stderr.read()
    assert "alice" not in errors  # nothing secret logged


def test_busy_port_is_a_clear_error() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = sandbox_main(["--port", str(busy.getsockname()[1])])
    assert code == 3


def test_bad_port_is_a_usage_error() -> None:
    assert sandbox_main(["--port", "70000"]) == 2


def test_corrupt_data_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not sqlite" * 100)
    assert sandbox_main(["--port", "0", "--data", str(broken)]) == 2
    assert "not a usable sandbox data file" in capsys.readouterr().err
    assert broken.read_bytes() == b"this is not sqlite" * 100  # left untouched
