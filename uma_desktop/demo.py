"""Demo mode for interop events (Qt-free): two sandbox servers, alice logged in, requesting parties.

:class:`Demo` starts two built-in sandbox authorization servers ("Health" and "Photos") on
loopback, connects a :class:`~uma_desktop.app.ControlPoint` to both and logs alice in through
each sandbox's real login page, driven by :class:`ScriptedUser` — a person at a browser who
reads the HTML form and posts it over HTTP, exactly as a real browser would. Requesting
parties (bob, carol) then run the real UMA grant against the demo resource servers.

Every exchange goes through :mod:`uma_desktop.net`, so a :class:`~uma_desktop.trace.TraceRecorder`
sees the app, the scripted browser, the demo resource servers and the requesting parties.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import webbrowser
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from uma_desktop import net
from uma_desktop.errors import AuthError, ConfigurationError, UmaDesktopError
from uma_desktop.sandbox import SandboxServer
from uma_desktop.sandbox.requesting_party import Denied, Granted, RequestingParty, Submitted
from uma_desktop.sandbox.requesting_party import Outcome as RqpOutcome
from uma_desktop.trace import TraceRecorder

if TYPE_CHECKING:
    from uma_desktop.app import ControlPoint

log = logging.getLogger(__name__)

DEMO_OWNER = "alice"
REQUESTING_PARTIES = ("bob", "carol")


@dataclass(frozen=True)
class DemoServerSpec:
    name: str  # shown in the app: "Health"
    port: int = 0  # 0: any free port
    seed_profile: str = "full"  # which demo resource servers it hosts (sandbox/seed.py)


# Fixed ports let a restarted demo find its connections again (any free port if taken).
# Each server holds its own services, so no resource shows twice in the app.
DEFAULT_SERVERS = (
    DemoServerSpec("Health", 8401, "health"),
    DemoServerSpec("Photos", 8402, "photos"),
)


# ---------------------------------------------------------------------------------------------
# The scripted demo user: a browser that signs in through the real login form
# ---------------------------------------------------------------------------------------------


@dataclass
class _Form:
    action: str = ""
    method: str = "get"
    fields: list[tuple[str, str]] = field(default_factory=list)
    submits: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of buttons
    has_password: bool = False


class _FormParser(HTMLParser):
    """Collects the forms of a page: action, method, named inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = _Form(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
            )
            self.forms.append(self._current)
            return
        form = self._current
        if form is None or "name" not in attributes:
            return
        kind = attributes.get("type", "submit" if tag == "button" else "text").lower()
        name, value = attributes["name"], attributes.get("value", "")
        if tag == "button" or kind == "submit":
            form.submits.append((name, value))
        elif tag == "input":
            form.has_password = form.has_password or kind == "password"
            form.fields.append((name, value))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


class ScriptedUser:
    """A demo person at a web browser who signs in with their username and password.

    Use an instance as the ``browser_opener`` of a ControlPoint (or install it as the
    system browser with :meth:`install_as_browser`): given an authorization URL it loads the
    login page, fills in the form and follows the redirects back to the app's loopback
    listener — in a thread of its own, as a separate browser process would. Only URLs under
    ``origins`` are handled; others are left to the next browser.
    """

    MAX_STEPS = 10

    def __init__(
        self,
        username: str,
        password: str,
        *,
        origins: Callable[[], Iterable[str]] | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.username = username
        self._password = password
        self._origins = origins
        self.timeout = timeout
        self.errors: list[str] = []  # human descriptions of failed sign-ins
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"ScriptedUser({self.username!r})"

    def _issuers(self) -> list[str]:
        return list(self._origins()) if self._origins is not None else []

    def handles(self, url: str) -> bool:
        if self._origins is None:
            return True
        return any(_same_origin(url, origin) for origin in self._origins())

    def __call__(self, url: str) -> bool:
        """Open ``url`` "in the browser": returns at once, the sign-in runs in a thread."""
        if not self.handles(url):
            return False
        thread = threading.Thread(
            target=self._sign_in_reporting,
            args=(url,),
            name=f"browser-{self.username}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()
        return True

    def join(self, timeout: float = 10.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _sign_in_reporting(self, url: str) -> None:
        try:
            self.sign_in(url)
        except Exception as exc:
            message = exc.user_message if isinstance(exc, UmaDesktopError) else type(exc).__name__
            self.errors.append(message)
            log.warning("the scripted sign-in of %s failed: %s", self.username, message)
            self._report_failure(url, message)

    def sign_in(self, url: str) -> str:
        """Sign in at the authorization ``url``; returns the final (loopback) URL reached."""
        redirect_uri = dict(parse_qsl(urlsplit(url).query)).get("redirect_uri", "")
        with net.sync_client(
            actor=f"browser:{self.username}", accept_json=False, timeout=self.timeout
        ) as browser:
            response = browser.get(url)
            submitted = False
            for _ in range(self.MAX_STEPS):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    response = browser.get(location)
                    if redirect_uri and _same_endpoint(location, redirect_uri):
                        return location
                    continue
                form = self._login_form(response)
                if submitted:
                    raise AuthError(
                        f"The sign-in page refused {self.username}'s demo password "
                        f"(HTTP {response.status_code})."
                    )
                response = self._submit(browser, str(response.url), form)
                submitted = True
            raise AuthError("The sign-in pages did not lead back to the app.")

    def _login_form(self, response: net.Response) -> _Form:
        ctype = response.headers.get("content-type", "")
        if "html" not in ctype:
            raise AuthError(f"The sign-in page answered HTTP {response.status_code} ({ctype}).")
        forms = [f for f in parse_forms(response.text) if f.has_password]
        if not forms:
            raise AuthError(f"The sign-in page (HTTP {response.status_code}) has no login form.")
        return forms[0]

    def _submit(self, browser: net.Client, page_url: str, form: _Form) -> net.Response:
        if form.method != "post":
            raise AuthError("The sign-in form does not post its password; refusing to send it.")
        values = [(k, v) for k, v in form.fields if k not in ("username", "password")]
        values += [("username", self.username), ("password", self._password)]
        allow = next((s for s in form.submits if s[1] in ("allow", "approve", "accept")), None)
        if allow is not None or form.submits:
            values.append(allow or form.submits[0])
        return browser.post(
            urljoin(page_url, form.action or page_url),
            content=urlencode(values).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def _report_failure(self, url: str, message: str) -> None:
        """Tell the waiting app at once (as the server would on "deny") instead of letting it
        wait for its sign-in timeout."""
        query = dict(parse_qsl(urlsplit(url).query))
        redirect_uri, state = query.get("redirect_uri"), query.get("state")
        if not redirect_uri or not state:
            return
        answer = {"error": "access_denied", "error_description": message[:150], "state": state}
        issuer = next((i for i in self._issuers() if _same_origin(url, i)), None)
        if issuer is not None:
            answer["iss"] = issuer  # RFC 9207: error answers name their issuer too
        params = urlencode(answer)
        try:
            with net.sync_client(actor=f"browser:{self.username}", timeout=5) as browser:
                browser.get(f"{redirect_uri}?{params}")
        except net.HTTPError:
            pass


class _BrowserAdapter(webbrowser.BaseBrowser):
    def __init__(self, demo: Demo) -> None:
        super().__init__("uma-demo-alice")
        self._demo = demo

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        return self._demo.browser_opener(url)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return (
        parts.scheme,
        parts.hostname or "",
        parts.port or (443 if parts.scheme == "https" else 80),
    )


def _same_origin(url: str, origin: str) -> bool:
    return _origin(url) == _origin(origin)


def _same_endpoint(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    return _origin(url) == _origin(endpoint) and a.path == b.path


# ---------------------------------------------------------------------------------------------
# The demo: servers, connections, requesting parties
# ---------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    GRANTED = "granted"  # the requesting party read the resource
    PENDING = "pending"  # request_submitted: waiting for the owner
    DENIED = "denied"  # request_denied
    FAILED = "failed"  # anything else (message says what)


@dataclass(frozen=True)
class Attempt:
    """Where one requesting party's request stands after its latest try."""

    number: int  # stable id of this request in the demo
    person: str
    resource: DemoResource
    scopes: tuple[str, ...]  # what was asked for
    outcome: Outcome
    granted_scopes: tuple[str, ...] = ()
    content: Any = None  # what the resource server returned when granted
    message: str = ""  # human summary of the latest try
    interval: float = 5.0  # how long to wait before trying again (pending only)
    tries: int = 1


@dataclass(frozen=True)
class DemoResource:
    """One of alice's resources a requesting party can ask for."""

    server: str  # demo server name: "Health"
    resource_server: str  # RS key: "photos"
    resource_server_name: str  # "Photo Cloud"
    name: str
    scopes: tuple[str, ...]
    url: str  # where the demo RS serves it

    @property
    def label(self) -> str:
        return f"{self.name} ({self.resource_server_name}, {self.server})"


@dataclass
class DemoServer:
    name: str
    server: SandboxServer
    connection_id: str | None = None

    @property
    def issuer(self) -> str:
        return str(self.server.issuer)


def _start_sandbox(spec: DemoServerSpec, data_path: Path | None) -> SandboxServer:
    """Start one sandbox on its preferred port, or any free port when that one is taken."""
    try:
        server = SandboxServer(
            spec.name, port=spec.port, data_path=data_path, seed_profile=spec.seed_profile
        ).start()
    except OSError:
        if spec.port == 0:
            raise
        log.info("port %s is taken; the %s sandbox uses another one", spec.port, spec.name)
        server = SandboxServer(
            spec.name, port=0, data_path=data_path, seed_profile=spec.seed_profile
        ).start()
    if server.seeded_profile() != spec.seed_profile:
        server.reset_data()  # a data file from an earlier demo that held other services
    return server


def _trace_name(name: str) -> str:
    return name.lower().replace(" ", "-")


class Demo:
    """Owns the demo's sandbox servers and requesting parties; see the module docstring."""

    def __init__(
        self,
        recorder: TraceRecorder | None = None,
        *,
        servers: Sequence[DemoServerSpec] = DEFAULT_SERVERS,
        data_dir: Path | None = None,
    ) -> None:
        self.recorder = recorder
        self._specs = tuple(servers)
        self._data_dir = data_dir
        self.servers: list[DemoServer] = []
        self.owner = ScriptedUser(DEMO_OWNER, "", origins=self.issuers)
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._parties: dict[tuple[str, str], tuple[RequestingParty, threading.Lock]] = {}
        self._submitted: dict[int, Submitted] = {}
        self._catalog: list[DemoResource] = []
        self._browser_installed = False

    # -- servers -------------------------------------------------------------------------

    def browser_opener(self, url: str) -> bool:
        """alice at her browser: a ControlPoint's ``browser_opener`` for the demo servers."""
        return self.owner(url)

    def install_browser(self) -> None:
        """Let alice's scripted browser take ``webbrowser.open`` calls for the demo servers
        (other URLs still go to the real browser)."""
        if not self._browser_installed:
            webbrowser.register("uma-demo-alice", None, _BrowserAdapter(self), preferred=True)
            self._browser_installed = True

    def issuers(self) -> list[str]:
        return [server.issuer for server in self.servers]

    def start(self) -> Demo:
        """Start the sandbox servers (blocking for a moment: run it off the GUI thread)."""
        if self.recorder is not None:
            self.recorder.start()
        with self._lock:
            if self.servers:
                return self
            for spec in self._specs:
                data_path = (
                    self._data_dir / f"{_trace_name(spec.name)}.sqlite3" if self._data_dir else None
                )
                self.servers.append(DemoServer(spec.name, _start_sandbox(spec, data_path)))
        self.owner = ScriptedUser(DEMO_OWNER, self.password_of(DEMO_OWNER), origins=self.issuers)
        catalog = self._read_catalog()
        with self._lock:
            self._catalog = catalog
        self._name_in_trace()
        return self

    def stop(self) -> None:
        """Close the requesting parties and stop every sandbox server (idempotent)."""
        with self._lock:
            servers, self.servers = self.servers, []
            parties, self._parties = list(self._parties.values()), {}
            self._submitted.clear()
            self._catalog = []
        for party, _ in parties:
            party.close()

        def stop(server: DemoServer) -> None:
            try:
                server.server.stop()
            except Exception:
                log.warning("the %s sandbox did not stop cleanly", server.name, exc_info=True)

        # Side by side: each may wait a moment for its open connections to close.
        stoppers = [threading.Thread(target=stop, args=(server,)) for server in servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()

    def reset(self) -> None:
        """Put every demo server back as seeded (resources, shares, requests) without
        restarting: alice stays signed in; requesting parties start afresh (blocking: run it
        off the GUI thread)."""
        with self._lock:
            servers = list(self.servers)
            parties, self._parties = list(self._parties.values()), {}
            self._submitted.clear()
        for party, _ in parties:
            party.close()
        for server in servers:
            server.server.reset_data()
        catalog = self._read_catalog()
        with self._lock:
            self._catalog = catalog

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def server(self, name: str) -> DemoServer:
        for server in self.servers:
            if server.name.lower() == name.lower():
                return server
        known = ", ".join(s.name for s in self.servers) or "none (not started)"
        raise ConfigurationError(f"There is no demo server called {name!r} (known: {known}).")

    def config(self, name: str) -> dict[str, Any]:
        """The sandbox's printed configuration (issuer, users, clients, resource servers)."""
        return self.server(name).server.config

    def password_of(self, username: str) -> str:
        """A demo person's password, from the sandbox's printed configuration."""
        for user in self.config(self.servers[0].name).get("users", []):
            if user.get("username") == username:
                return str(user["password"])
        raise ConfigurationError(f"{username!r} is not a demo user of the sandbox.")

    def _name_in_trace(self) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        for server in self.servers:
            short = _trace_name(server.name)
            recorder.name_server(server.issuer, f"as:{short}")
            config = self.config(server.name)
            for rs in config.get("resource_servers", []):
                base = rs.get("url") or f"{server.issuer.rstrip('/')}/rs/{rs['key']}"
                recorder.name_server(base, f"rs:{rs['key']}@{short}")
                recorder.name_actor_at(f"rs:{rs['key']}", server.issuer, f"rs:{rs['key']}@{short}")
                if rs.get("client_secret"):
                    recorder.add_secret(str(rs["client_secret"]), "client_secret")
            for user in config.get("users", []):
                recorder.add_secret(str(user.get("password", "")), "password")
            for client in config.get("clients", []):
                if client.get("client_secret"):
                    recorder.add_secret(str(client["client_secret"]), "client_secret")

    # -- the owner's connections ---------------------------------------------------------

    async def connect(self, control: ControlPoint) -> list[str]:
        """Connect ``control`` (a ControlPoint) to every demo server and log alice in through
        the real login page. Reuses a connection to the same issuer; returns connection ids."""
        existing = {s.connection.issuer.rstrip("/"): s.connection for s in control.connections()}

        async def one(server: DemoServer) -> str:
            connection = existing.get(server.issuer.rstrip("/"))
            if connection is None:
                connection = await control.add_connection(
                    server.issuer, display_name=server.name, remember=False
                )
            server.connection_id = connection.id
            if self.recorder is not None:
                self.recorder.name_connection(connection.id, _trace_name(server.name))
            await control.login(connection.id)
            return str(connection.id)

        return list(await asyncio.gather(*(one(server) for server in self.servers)))

    # -- what requesting parties can ask for ---------------------------------------------

    def catalog(self) -> list[DemoResource]:
        """alice's resources on every demo server, as a requesting party may ask for them
        (read once at start: the GUI thread may call this)."""
        with self._lock:
            return list(self._catalog)

    def _read_catalog(self) -> list[DemoResource]:
        resources = []
        for server in self.servers:
            for rs in self.config(server.name).get("resource_servers", []):
                for resource in rs.get("resources", []):
                    if resource.get("owner", DEMO_OWNER) != DEMO_OWNER:
                        continue
                    resources.append(
                        DemoResource(
                            server=server.name,
                            resource_server=str(rs["key"]),
                            resource_server_name=str(rs.get("name", rs["key"])),
                            name=str(resource["name"]),
                            scopes=tuple(resource.get("resource_scopes", ())),
                            url=str(resource["url"]),
                        )
                    )
        return resources

    # -- requesting parties --------------------------------------------------------------

    def _party(self, person: str, server: str) -> tuple[RequestingParty, threading.Lock]:
        key = (person, server.lower())
        with self._lock:
            if key not in self._parties:
                if person not in REQUESTING_PARTIES:
                    raise ConfigurationError(f"{person!r} is not one of the demo's people.")
                party = RequestingParty.for_sandbox(self.config(server), person)
                self._parties[key] = (party, threading.Lock())
            return self._parties[key]

    def request_access(self, person: str, resource: DemoResource, scopes: Sequence[str]) -> Attempt:
        """``person``'s client tries to read ``resource`` with ``scopes`` (blocking: run it in
        a worker thread). Usually ends PENDING: the request is in alice's inbox."""
        wanted = tuple(scopes)
        unknown = [scope for scope in wanted if scope not in resource.scopes]
        if not wanted or unknown:
            raise ConfigurationError(
                f"Choose scopes of {resource.name}: {', '.join(resource.scopes)}."
            )
        party, lock = self._party(person, resource.server)
        with lock:
            outcome = party.access(resource.url, wanted)
        return self._attempt(next(self._numbers), person, resource, wanted, outcome, tries=1)

    def retry(self, attempt: Attempt) -> Attempt:
        """Ask again for a PENDING request (after alice decided, or to poll)."""
        with self._lock:
            submitted = self._submitted.get(attempt.number)
        if submitted is None or attempt.outcome is not Outcome.PENDING:
            return attempt
        party, lock = self._party(attempt.person, attempt.resource.server)
        with lock:
            outcome = party.retry(submitted)
        return self._attempt(
            attempt.number,
            attempt.person,
            attempt.resource,
            attempt.scopes,
            outcome,
            tries=attempt.tries + 1,
        )

    def _attempt(
        self,
        number: int,
        person: str,
        resource: DemoResource,
        scopes: tuple[str, ...],
        outcome: RqpOutcome,
        *,
        tries: int,
    ) -> Attempt:
        with self._lock:
            if isinstance(outcome, Submitted):
                self._submitted[number] = outcome
            else:
                self._submitted.pop(number, None)
        base = Attempt(number, person, resource, scopes, Outcome.FAILED, tries=tries)
        if isinstance(outcome, Granted):
            return replace(
                base,
                outcome=Outcome.GRANTED,
                granted_scopes=outcome.scopes,
                content=outcome.data.get("content", outcome.data),
            )
        if isinstance(outcome, Submitted):
            return replace(
                base,
                outcome=Outcome.PENDING,
                message="The request is waiting for alice's decision.",
                interval=float(outcome.interval),
            )
        if isinstance(outcome, Denied):
            return replace(base, outcome=Outcome.DENIED, message=outcome.message)
        return replace(base, message=outcome.message)

    def resource(self, server: str, name: str) -> DemoResource:
        for resource in self.catalog():
            if resource.server.lower() == server.lower() and resource.name == name:
                return resource
        raise ConfigurationError(f"{server} has no demo resource called {name!r}.")
