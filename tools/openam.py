#!/usr/bin/env python3
"""Fetch, start, configure and stop the pinned OpenAM used by the tests (stdlib only).

Commands:
    python tools/openam.py fetch              download (if missing), verify, unpack once
    python tools/openam.py serve --port 18181 run a configured OpenAM with the test realm

Importable API (used by tests/fixtures/openam.py): ``fetch()``, ``is_unpacked()``,
``find_java_home()``, ``start()`` -> ``RunningOpenAM`` with ``stop()``.

OpenAM (Open Identity Platform's line of the ForgeRock AM family) ships as a WAR on Maven
Central; it runs in Apache Tomcat 10.1 (also from Maven Central) on Java 17. Both live in
``$UMA_CACHE/openam`` (default ``~/.cache/uma-desktop/openam``), never in the repository.
Every start gets a fresh Tomcat base directory and OpenAM configuration directory under
``$UMA_CACHE/openam/runs/`` (about 110 MB, removed by ``stop()``): the exploded WAR is shared
read-only, the JVM's ``user.home`` points into the run directory, so nothing lands in the
real home and nothing on the machine is changed (no hosts entry: the server URL is the
loopback address, which OpenAM accepts with an empty cookie domain; REST clients send the
session token in a header, never as a cookie).

A start is: Tomcat boot, then the first-time configuration posted to
``/openam/config/configurator`` with the embedded OpenDJ store, then the test realm through
the REST API (OAuth2 and UMA providers, users alice/bob/carol, the resource server client
``photo-rs`` and the requesting-party client ``photo-client``).

Figures on the 2-core machine (shared with other test suites): a clean ``fetch`` 14 s
(334 MB WAR 2.9 s + 15 MB Tomcat 0.6 s from Maven Central, checksums, unpacking 9 s); a
start is Tomcat boot 53-110 s, first-time configuration 66-159 s and realm provisioning
2-3 s, so 2-4.5 minutes in all depending on the load; the JVM stays near 1.5 GB resident
(-Xmx2g). The embedded OpenDJ listens on all interfaces on random free ports with random
passwords (its setup has no listen-address option); Tomcat only on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/ is not a package
import java_server
from java_server import free_port, java_major, log_tail

OPENAM_VERSION = "16.0.5"
TOMCAT_VERSION = "10.1.59"
JAVA_MAJOR = 17
WAR_URL = (
    "https://repo1.maven.org/maven2/org/openidentityplatform/openam/openam-server-only/"
    f"{OPENAM_VERSION}/openam-server-only-{OPENAM_VERSION}.war"
)
TOMCAT_URL = (
    "https://repo1.maven.org/maven2/org/apache/tomcat/tomcat/"
    f"{TOMCAT_VERSION}/tomcat-{TOMCAT_VERSION}.zip"
)
DEPLOYMENT_URI = "/openam"
REALM = "umatest"
USERS = ("alice", "bob", "carol")
RS_CLIENT_ID = "photo-rs"
RP_CLIENT_ID = "photo-client"
# `make openam` (manual use; tests reuse it through UMA_OPENAM_URL) uses known secrets.
MANUAL_ADMIN_PASSWORD = "amadmin-password"
MANUAL_CLIENT_SECRETS = ("photo-rs-secret", "photo-client-secret")
DEFAULT_START_TIMEOUT = 600.0
# Java options OpenAM needs on Java 17 (it reaches into JDK internals for keystores).
JAVA_OPENS = (
    "--add-exports java.base/sun.security.x509=ALL-UNNAMED "
    "--add-exports java.base/sun.security.tools.keytool=ALL-UNNAMED "
    "--add-opens java.base/java.lang=ALL-UNNAMED "
    "--add-opens java.base/java.util=ALL-UNNAMED"
)


class OpenAMToolError(RuntimeError):
    """Anything that prevents fetching, starting or configuring OpenAM; says what to do."""


def user_password(username: str) -> str:
    """Test users' passwords (OpenAM's directory wants at least eight characters)."""
    return f"{username}-password"


def cache_dir() -> Path:
    return java_server.cache_root() / "openam"


def war_path() -> Path:
    return cache_dir() / f"openam-server-only-{OPENAM_VERSION}.war"


def tomcat_zip_path() -> Path:
    return cache_dir() / f"tomcat-{TOMCAT_VERSION}.zip"


def webapp_dir() -> Path:
    return cache_dir() / f"openam-{OPENAM_VERSION}"


def tomcat_dir() -> Path:
    return cache_dir() / f"apache-tomcat-{TOMCAT_VERSION}"


def is_unpacked() -> bool:
    return (webapp_dir() / "WEB-INF" / "web.xml").is_file() and (
        tomcat_dir() / "bin" / "catalina.sh"
    ).is_file()


# --------------------------------------------------------------------------- fetch


def fetch(quiet: bool = False) -> dict[str, float]:
    """Download, verify and unpack the WAR and Tomcat (idempotent); returns seconds taken."""
    figures: dict[str, float] = {}
    for url, path in ((WAR_URL, war_path()), (TOMCAT_URL, tomcat_zip_path())):
        seconds = java_server.fetch_verified(
            url, path, redo="make openam-dist", error=OpenAMToolError, quiet=quiet
        )
        if seconds is not None:
            figures[f"download {path.name}"] = seconds
    began = time.monotonic()
    for archive, target, strip_top, required in (
        (war_path(), webapp_dir(), False, "WEB-INF/web.xml"),
        (tomcat_zip_path(), tomcat_dir(), True, "bin/catalina.sh"),
    ):
        if not (target / required).is_file():
            java_server.unpack(
                archive,
                target,
                strip_top=strip_top,
                required=required,
                error=OpenAMToolError,
                quiet=quiet,
            )
    for script in (tomcat_dir() / "bin").glob("*.sh"):
        script.chmod(0o755)  # the zip on Maven Central carries no Unix modes
    figures["unpack"] = time.monotonic() - began
    return figures


# --------------------------------------------------------------------------- java


def find_java_home() -> Path | None:
    """A Java 17 (OpenAM 16's supported runtime): $OPENAM_JAVA_HOME, then /usr/lib/jvm."""
    candidates: list[Path] = []
    if os.environ.get("OPENAM_JAVA_HOME"):
        candidates.append(Path(os.environ["OPENAM_JAVA_HOME"]))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        candidates.extend(sorted(p for p in jvm_root.iterdir() if p.is_dir()))
    for home in candidates:
        if java_major(home) == JAVA_MAJOR and (home / "bin" / "java").is_file():
            return home
    return None


# --------------------------------------------------------------------------- run


@dataclass
class RunningOpenAM:
    """An OpenAM started by ``start()``; ``stop()`` ends Tomcat and removes the run directory."""

    base_url: str
    port: int
    realm: str
    admin_password: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    run_dir: Path
    log_path: Path
    rs_client_secret: str = field(repr=False, default="")
    rp_client_secret: str = field(repr=False, default="")
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def realm_path(self) -> str:
        return f"/{self.realm}"

    def stop(self, timeout: float = 30.0, keep_files: bool = False) -> None:
        java_server.stop_process_group(self.process, timeout)
        if not keep_files:
            shutil.rmtree(self.run_dir, ignore_errors=True)


_SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="{port}" address="127.0.0.1" protocol="HTTP/1.1"
               connectionTimeout="20000" maxParameterCount="1000"/>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
"""


def _make_base(run_dir: Path, port: int) -> Path:
    """A Tomcat base directory whose only application is the shared exploded WAR."""
    base = run_dir / "tomcat"
    for sub in ("conf/Catalina/localhost", "logs", "temp", "work", "webapps"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for name in ("web.xml", "logging.properties", "catalina.properties"):
        shutil.copy(tomcat_dir() / "conf" / name, base / "conf" / name)
    (base / "conf" / "server.xml").write_text(_SERVER_XML.format(port=port))
    (base / "conf" / "Catalina" / "localhost" / "openam.xml").write_text(
        f'<Context docBase="{webapp_dir()}"/>\n'
    )
    return base


def _http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, bytes, dict[str, str]]:
    """One request; any HTTP status is returned, not raised; redirects are not followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(  # noqa: S310 (http on loopback only)
        url, data=body, method=method, headers=headers or {}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(1 << 20), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 20), dict(exc.headers or {})


def _wait_http(url: str, ok: tuple[int, ...], timeout: float, server: RunningOpenAM) -> None:

    def answers() -> bool:
        status, _, _ = _http("GET", url, timeout=10)
        return status in ok

    java_server.wait_until(
        answers,
        timeout=timeout,
        interval=0.5,
        error=OpenAMToolError,
        name="Tomcat",
        what=url,
        process=server.process,
        log_path=server.log_path,
    )


def _configure(server: RunningOpenAM, timeout: float) -> None:
    """OpenAM's first-time configuration, headless: the configurator's own POST form."""
    config_dir = server.run_dir / "config"
    directory_password = secrets.token_urlsafe(18)
    fields = {
        "SERVER_URL": server.base_url.removesuffix(DEPLOYMENT_URI),
        "DEPLOYMENT_URI": DEPLOYMENT_URI,
        "BASE_DIR": str(config_dir),
        "locale": "en_US",
        "PLATFORM_LOCALE": "en_US",
        "AM_ENC_KEY": secrets.token_urlsafe(24),
        "ADMIN_PWD": server.admin_password,
        "ADMIN_CONFIRM_PWD": server.admin_password,
        "AMLDAPUSERPASSWD": directory_password + "-agent",
        "AMLDAPUSERPASSWD_CONFIRM": directory_password + "-agent",
        "COOKIE_DOMAIN": "",
        "DATA_STORE": "embedded",
        "DIRECTORY_SSL": "SIMPLE",
        "DIRECTORY_SERVER": "127.0.0.1",
        "DIRECTORY_PORT": str(free_port()),
        "DIRECTORY_ADMIN_PORT": str(free_port()),
        "DIRECTORY_JMX_PORT": str(free_port()),
        "ROOT_SUFFIX": "dc=openam,dc=example,dc=test",
        "DS_DIRMGRDN": "cn=Directory Manager",
        "DS_DIRMGRPASSWD": directory_password,
        "acceptLicense": "true",
    }
    status, body, _ = _http(
        "POST",
        f"{server.base_url}/config/configurator",
        body=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=timeout,
    )
    if status != 200 or b"Configuration complete" not in body:
        raise OpenAMToolError(
            f"configurator answered HTTP {status}: {body[-400:]!r}\n{log_tail(server.log_path)}"
        )


class _Rest:
    """JSON calls to OpenAM's REST API with an administrator session."""

    def __init__(self, server: RunningOpenAM) -> None:
        self.server = server
        self.token = authenticate(server.base_url, "/", "amAdmin", server.admin_password)

    def call(
        self, method: str, path: str, payload: Any = None, ok: tuple[int, ...] = (200, 201)
    ) -> Any:
        status, body, _ = _http(
            method,
            f"{self.server.base_url}/json/{path}",
            body=json.dumps(payload).encode() if payload is not None else None,
            headers={
                "iPlanetDirectoryPro": self.token,
                "Content-Type": "application/json",
                "Accept-API-Version": "resource=1.0",
            },
        )
        if status not in ok:
            raise OpenAMToolError(f"{method} /json/{path}: HTTP {status} {body[:300]!r}")
        return json.loads(body) if body else None


def authenticate(base_url: str, realm: str, username: str, password: str) -> str:
    """A session token from ``/json/realms/root[/realms/<realm>]/authenticate``."""
    realm_part = "realms/root" + "".join(f"/realms/{r}" for r in realm.strip("/").split("/") if r)
    status, body, _ = _http(
        "POST",
        f"{base_url}/json/{realm_part}/authenticate",
        body=b"{}",
        headers={
            "X-OpenAM-Username": username,
            "X-OpenAM-Password": password,
            "Content-Type": "application/json",
            "Accept-API-Version": "resource=2.0, protocol=1.0",
        },
    )
    if status != 200:
        raise OpenAMToolError(f"login of {username} failed: HTTP {status}")
    token = json.loads(body).get("tokenId")
    if not isinstance(token, str):
        raise OpenAMToolError(f"login of {username}: no tokenId in the answer")
    return token


def _provision(server: RunningOpenAM) -> None:
    """Test realm: OAuth2 + UMA providers, users, a resource server and a client."""
    rest = _Rest(server)
    rest.call(
        "POST",
        "global-config/realms?_action=create",
        {"name": server.realm, "active": True, "parentPath": "/", "aliases": []},
    )
    realm = f"realms/root/realms/{server.realm}"
    oauth2 = rest.call("POST", f"{realm}/realm-config/services/oauth-oidc?_action=template", {})
    oauth2["advancedOAuth2Config"]["supportedScopes"] = ["uma_protection", "uma_authorization"]
    rest.call("POST", f"{realm}/realm-config/services/oauth-oidc?_action=create", oauth2)
    uma = rest.call("POST", f"{realm}/realm-config/services/uma?_action=template", {})
    # Requesting parties are identified by their AAT alone (no ID token pushed as a claim),
    # and no mail server is configured.
    uma.update(
        requireTrustElevation=False,
        emailResourceOwnerOnPendingRequestCreation=False,
        emailRequestingPartyOnPendingRequestApproval=False,
    )
    rest.call("POST", f"{realm}/realm-config/services/uma?_action=create", uma)
    for username in USERS:
        rest.call(
            "POST",
            f"{realm}/users?_action=create",
            {
                "username": username,
                "userpassword": user_password(username),
                "mail": f"{username}@example.test",
                "givenName": username.capitalize(),
                "sn": "Test",
            },
        )
    for client_id, secret, scope in (
        (RS_CLIENT_ID, server.rs_client_secret, "uma_protection"),
        (RP_CLIENT_ID, server.rp_client_secret, "uma_authorization"),
    ):
        rest.call(
            "POST",
            f"{realm}/agents?_action=create",
            {
                "username": client_id,
                "userpassword": secret,
                "AgentType": "OAuth2Client",
                "com.forgerock.openam.oauth2provider.clientType": "Confidential",
                "com.forgerock.openam.oauth2provider.scopes": [f"[0]={scope}"],
            },
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_abandoned_runs(runs: Path) -> None:
    """Delete run directories whose Tomcat is gone (a test session that was killed)."""
    for run in runs.iterdir():
        pid_file = run / "tomcat.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            # No pid yet: a start in progress, unless it is old.
            if time.time() - run.stat().st_mtime < 3600:
                continue
            pid = 0
        if pid <= 0 or not _pid_alive(pid):
            shutil.rmtree(run, ignore_errors=True)


def start(
    port: int | None = None,
    *,
    admin_password: str | None = None,
    client_secrets: tuple[str, str] | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
) -> RunningOpenAM:
    """Boot Tomcat with OpenAM on 127.0.0.1, configure it and create the test realm."""
    if not is_unpacked():
        raise OpenAMToolError(
            f"OpenAM {OPENAM_VERSION} is not in {cache_dir()}; run `make openam-dist`."
        )
    java_home = find_java_home()
    if java_home is None:
        raise OpenAMToolError(
            f"OpenAM {OPENAM_VERSION} needs Java {JAVA_MAJOR} (none in /usr/lib/jvm)."
        )
    port = port or free_port()
    runs = cache_dir() / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_runs(runs)
    run_dir = Path(tempfile.mkdtemp(prefix=f"openam-{port}-", dir=runs))
    base = _make_base(run_dir, port)
    home = run_dir / "home"
    home.mkdir()
    log_path = base / "logs" / "catalina.out"
    env = dict(os.environ)
    env.update(
        JAVA_HOME=str(java_home),
        CATALINA_HOME=str(tomcat_dir()),
        CATALINA_BASE=str(base),
        JAVA_OPTS=JAVA_OPENS,
        CATALINA_OPTS=(
            f"-Xmx2g -Duser.home={home} -Dcom.iplanet.services.configpath={home} "
            f"-Dcom.sun.identity.configuration.directory={home}"
        ),
    )
    began = time.monotonic()
    process = java_server.launch(
        [str(tomcat_dir() / "bin" / "catalina.sh"), "run"], cwd=run_dir, env=env, log_path=log_path
    )
    (run_dir / "tomcat.pid").write_text(f"{process.pid}\n")
    server = RunningOpenAM(
        base_url=f"http://127.0.0.1:{port}{DEPLOYMENT_URI}",
        port=port,
        realm=REALM,
        admin_password=admin_password or secrets.token_urlsafe(18),
        process=process,
        run_dir=run_dir,
        log_path=log_path,
        rs_client_secret=client_secrets[0] if client_secrets else secrets.token_urlsafe(18),
        rp_client_secret=client_secrets[1] if client_secrets else secrets.token_urlsafe(18),
    )
    try:
        # Unconfigured, the application redirects every page to its configuration options.
        _wait_http(f"{server.base_url}/", (302,), timeout, server)
        server.figures["boot"] = time.monotonic() - began
        step = time.monotonic()
        _configure(server, timeout)
        server.figures["configure"] = time.monotonic() - step
        step = time.monotonic()
        _wait_http(f"{server.base_url}/isAlive.jsp", (200,), timeout, server)
        _provision(server)
        server.figures["provision"] = time.monotonic() - step
    except BaseException:
        server.stop()
        raise
    server.figures["total"] = time.monotonic() - began
    return server


# --------------------------------------------------------------------------- CLI


def _serve(port: int) -> int:
    fetch(quiet=True)
    password = MANUAL_ADMIN_PASSWORD
    print(
        f"starting OpenAM {OPENAM_VERSION} on http://127.0.0.1:{port}{DEPLOYMENT_URI} ...",
        flush=True,
    )
    server = start(port, admin_password=password, client_secrets=MANUAL_CLIENT_SECRETS)
    figures = ", ".join(f"{k} {v:.0f} s" for k, v in server.figures.items())
    print(
        f"ready ({figures}): realm {server.realm_path}\n"
        f"  console: {server.base_url}/console (amAdmin / {password})\n"
        f"  users {', '.join(USERS)} (password <name>-password)\n"
        f"  clients {RS_CLIENT_ID} / {server.rs_client_secret}, "
        f"{RP_CLIENT_ID} / {server.rp_client_secret}\n"
        f"  log: {server.log_path}\n"
        f"  tests can reuse it: export UMA_OPENAM_URL={server.base_url}\n"
        "Ctrl-C stops it and removes its configuration.",
        flush=True,
    )

    return java_server.serve_in_foreground(server.process, server.stop, name="OpenAM")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download, verify and unpack OpenAM and Tomcat")
    serve = sub.add_parser("serve", help="run a configured OpenAM with the test realm")
    serve.add_argument("--port", type=int, default=18181)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            figures = fetch()
            for name, seconds in figures.items():
                print(f"{name}: {seconds:.1f} s")
            return 0
        return _serve(args.port)
    except OpenAMToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
