"""Protocol trace: every HTTP exchange the app and its demo actors make, with secrets redacted.

A :class:`TraceRecorder` subscribes to :mod:`uma_desktop.net` listeners, redacts each
:class:`~uma_desktop.net.Exchange` *as it arrives* (raw values are never stored) and keeps
the result in a bounded, thread-safe store. Views read it; exports turn it into a Mermaid
sequence diagram or a HAR 1.2 file.

What is redacted (anywhere it appears: headers, URL query and fragment, URL user-info,
form bodies, JSON bodies, HTML ``<input>`` values and links, plain text):

* header values of ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``,
  ``DPoP`` and any ``*-Token`` / ``*-Key`` / ``*-Secret`` header; the ``ticket`` of a
  ``WWW-Authenticate: UMA`` challenge (the realm and ``as_uri`` stay visible);
* parameters and JSON members named in :data:`SECRET_KEYS` or ending in ``_token``,
  ``_secret``, ``_password``, ``_code`` or ``_verifier`` (``token_type`` or
  ``claim_token_format`` are descriptive, not secret, and stay);
* any string that looks like a JWT, wherever it is;
* any value already seen in a secret position, when it turns up again elsewhere.

``state`` and ``nonce`` are redacted too: they are one-time anti-forgery values, and a
shared trace taken during a live login must not let anyone finish or forge that login.

A redacted value reads ``‹kind abcde…›``: the kind of secret and, for long random values
only, its first five characters (eight from 32 characters on) so a demoer can follow one
ticket or token from message to message. Passwords, client secrets and PKCE verifiers never
show any character.
"""

# ruff: noqa: RUF001, RUF002 -- the angle quotes marking redacted values are deliberate
from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

from uma_desktop import __version__, net

# ---------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------

SECRET_KEYS: frozenset[str] = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "assertion",
        "password",
        "passwd",
        "secret",
        "ticket",
        "pct",
        "rpt",
        "device_code",
        "user_code",
        "claim_token",
        "subject_token",
        "actor_token",
        "state",
        "nonce",
        "session",
        "session_state",
        "csrf",
        "csrf_token",
        "api_key",
        "apikey",
        "private_key",
        "interaction",  # a login in progress (the sandbox's handle)
        "client_data",  # Keycloak's login-form parameter: carries the app's state
    }
)
"""Parameter / member names whose values are always redacted (compared case-insensitively)."""

_SECRET_SUFFIXES = ("_token", "_secret", "_password", "_code", "_verifier")
_NEVER_SECRET = frozenset(
    {"token_type", "claim_token_format", "error_code", "status_code", "response_code"}
)
_NO_PREFIX_KINDS = frozenset(
    {"password", "passwd", "client_secret", "secret", "code_verifier", "private_key", "credentials"}
)
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key"}
)
_SECRET_HEADER_SUFFIXES = ("-token", "-key", "-secret", "-password", "-session")

PREFIX_CHARS = 5
LONG_PREFIX_CHARS = 8  # for values of _LONG_VALUE characters or more
_LONG_VALUE = 32
_MIN_LEN_FOR_PREFIX = 16
_MIN_LEARNED_LEN = 6
_MAX_LEARNED = 4096
_MAX_ODD = 64
_RUN_RE = re.compile(r"[A-Za-z0-9_~.+/-]{6,}")  # a token-like run: base64(url), JWT, hex
MAX_BODY_CHARS = 64 * 1024

_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_REDACTED_RE = re.compile(r"‹[^‹›]*›")


def is_secret_key(name: str) -> bool:
    """True when a parameter or JSON member called ``name`` holds a secret."""
    key = name.strip().lower().replace("-", "_")
    if key in _NEVER_SECRET:
        return False
    return key in SECRET_KEYS or key.endswith(_SECRET_SUFFIXES)


def is_secret_header(name: str) -> bool:
    lower = name.strip().lower()
    return lower in _SECRET_HEADERS or lower.endswith(_SECRET_HEADER_SUFFIXES)


def mask(kind: str, value: str) -> str:
    """The placeholder shown instead of ``value``: ``‹kind abcde…›`` or ``‹kind›``."""
    kind = kind.lower()
    if value and len(value) >= _MIN_LEN_FOR_PREFIX and kind not in _NO_PREFIX_KINDS:
        # Long values often start with a fixed type tag ("tkt-", "eyJhbGci"): show a bit more.
        shown = PREFIX_CHARS if len(value) < _LONG_VALUE else LONG_PREFIX_CHARS
        return f"‹{kind} {value[:shown]}…›"
    return f"‹{kind}›"


class Redactor:
    """Redacts one exchange's parts; remembers secret values to catch them elsewhere later.

    The remembered values live only in memory, bounded, and only to redact them.
    """

    def __init__(self) -> None:
        # Token-like values (the usual case) are found by a hash lookup of each run of token
        # characters in a text; the rare value with other characters (a password with a
        # space) is searched for directly.
        self._learned: OrderedDict[str, str] = OrderedDict()  # value -> kind
        self._odd: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- learned values ------------------------------------------------------------------

    def learn(self, value: str, kind: str) -> None:
        """Treat ``value`` as a secret of ``kind`` wherever it appears from now on."""
        value = value.rstrip("=")  # base64 padding is not part of a run
        if len(value) < _MIN_LEARNED_LEN or _REDACTED_RE.fullmatch(value):
            return
        with self._lock:
            if not _RUN_RE.fullmatch(value):
                if len(self._odd) < _MAX_ODD:
                    self._odd[value] = kind.lower()
                return
            if value in self._learned:
                self._learned.move_to_end(value)
                return
            self._learned[value] = kind.lower()
            while len(self._learned) > _MAX_LEARNED:
                self._learned.popitem(last=False)

    def _scrub_learned(self, text: str) -> str:
        with self._lock:
            if not self._learned and not self._odd:
                return text
            odd = list(self._odd.items())

        def replace(match: re.Match[str]) -> str:
            run = match.group(0)
            with self._lock:
                kind = self._learned.get(run)
            return run if kind is None else mask(kind, run)

        text = _RUN_RE.sub(replace, text)
        for value, kind in odd:
            if value in text:
                text = text.replace(value, mask(kind, value))
        if "%" in text:
            text = self._scrub_encoded(text)
        return text

    def _scrub_encoded(self, text: str) -> str:
        """Secrets that appear percent-encoded (``%2F`` in a standard-base64 value)."""
        decoded = unquote_plus(text)
        if decoded == text:
            return text
        found: dict[str, str] = {}
        with self._lock:
            for run in _RUN_RE.findall(decoded):
                kind = self._learned.get(run)
                if kind is not None:
                    found[run] = kind
        for value, kind in found.items():
            for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
                text = text.replace(encoded, mask(kind, value))
        return text

    def _secret(self, kind: str, value: str) -> str:
        if _REDACTED_RE.fullmatch(value) or not value:
            return value
        self.learn(value, kind)
        return mask(kind, value)

    # -- building blocks -----------------------------------------------------------------

    def text(self, text: str) -> str:
        """Free text: JWTs, secret ``key=value`` pairs and JSON members, learned values."""
        text = _JWT_RE.sub(lambda m: self._secret("jwt", m.group(0)), text)
        text = _PAIR_RE.sub(self._pair, text)
        text = _JSON_MEMBER_RE.sub(self._json_member, text)
        text = _HTML_INPUT_RE.sub(self._html_input, text)
        return self._scrub_learned(text)

    def _pair(self, match: re.Match[str]) -> str:
        key, value = match.group("key"), match.group("value")
        if not is_secret_key(unquote(key)):
            return match.group(0)
        return f"{match.group('lead')}{key}={self._secret(unquote(key), unquote(value))}"

    def _json_member(self, match: re.Match[str]) -> str:
        key = match.group("key")
        if not is_secret_key(key):
            return match.group(0)
        return f'{match.group("head")}"{self._secret(key, match.group("value"))}"'

    def _html_input(self, match: re.Match[str]) -> str:
        tag = match.group(0)
        name = _HTML_NAME_RE.search(tag)
        if name is None or not is_secret_key(name.group("v")):
            return tag
        kind = name.group("v")
        return _HTML_VALUE_RE.sub(
            lambda v: (
                f"{v.group('head')}{v.group('q')}{self._secret(kind, v.group('v'))}{v.group('q')}"
            ),
            tag,
        )

    def url(self, url: str) -> str:
        """A URL with secret query/fragment parameters and any user-info password redacted."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, password = userinfo.partition(":")
            netloc = (
                f"{user}:{self._secret('password', unquote(password))}@{hostport}"
                if sep
                else netloc
            )
        query = self._query(parts.query)
        fragment = self._query(parts.fragment) if "=" in parts.fragment else parts.fragment
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
        return self._scrub_learned(rebuilt)

    def _query(self, query: str) -> str:
        """``a=1&b=2`` with secret values masked; everything else kept byte for byte."""
        if not query:
            return query
        pieces = []
        for piece in query.split("&"):
            key, sep, value = piece.partition("=")
            plain_key = unquote(key.replace("+", " "))
            if sep and is_secret_key(plain_key):
                pieces.append(f"{key}={self._secret(plain_key, unquote(value.replace('+', ' ')))}")
            else:
                pieces.append(self._nested(key, sep, value))
        return "&".join(pieces)

    def _nested(self, key: str, sep: str, value: str) -> str:
        """A non-secret parameter whose value may itself be an encoded URL or query."""
        decoded = unquote(value.replace("+", " "))
        if decoded == value:
            return self.text(f"{key}{sep}{value}")
        inner = self.url(decoded) if "?" in decoded or "#" in decoded else self._query(decoded)
        if inner == decoded:
            return self.text(f"{key}{sep}{value}")
        # Keep it readable but unambiguous inside the outer query.
        escaped = inner.replace("%", "%25").replace("&", "%26").replace("#", "%23")
        return f"{key}{sep}{escaped.replace(' ', '%20')}"

    def form(self, body: str) -> str:
        return self._query(body.strip())

    def json_value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.json_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json_value(v, key) for v in value]
        if isinstance(value, str):
            if key is not None and is_secret_key(key):
                return self._secret(key, value)
            if value.startswith(("http://", "https://")):
                return self.url(value)
            return self.text(value)
        return value  # numbers and booleans: OAuth never sends a secret as one

    def header(self, name: str, value: str) -> str:
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization"):
            return self._authorization(value)
        if lower == "cookie":
            return "; ".join(self._cookie_pair(p) for p in value.split(";") if p.strip())
        if lower == "set-cookie":
            first, sep, attributes = value.partition(";")
            return self._cookie_pair(first) + (sep + attributes if sep else "")
        if lower == "www-authenticate":
            return _AUTH_PARAM_RE.sub(self._auth_param, value)
        if lower in ("location", "content-location", "referer", "link"):
            return self.url(value) if lower != "link" else self.text(value)
        if is_secret_header(name):
            return self._secret(lower, value)
        return self.text(value)

    def _authorization(self, value: str) -> str:
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        if not credentials:
            return self._secret("credentials", scheme)
        if scheme.lower() == "basic":
            return f"{scheme} {self._basic(credentials)}"
        kind = "jwt" if _JWT_RE.fullmatch(credentials) else "access_token"
        return f"{scheme} {self._secret(kind, credentials)}"

    def _basic(self, credentials: str) -> str:
        self.learn(credentials, "credentials")
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return mask("credentials", credentials)
        user, _, secret = decoded.partition(":")
        self._secret("client_secret", unquote(secret))
        self._secret("client_secret", secret)
        return f"‹credentials {unquote(user)}:‹client_secret››"

    def _cookie_pair(self, pair: str) -> str:
        name, sep, value = pair.strip().partition("=")
        if not sep:
            return self._secret("cookie", name)
        return f"{name}={self._secret('cookie', value)}"

    def _auth_param(self, match: re.Match[str]) -> str:
        key = match.group("key")
        if not is_secret_key(key) and key.lower() != "error_uri":
            return match.group(0)
        value = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
        if key.lower() == "error_uri":
            return f'{key}="{self.url(value)}"'
        return f'{key}="{self._secret(key, value)}"'

    def body(self, raw: bytes, content_type: str) -> str:
        """A body as display text, redacted according to its content type."""
        if not raw:
            return ""
        text = raw[:MAX_BODY_CHARS].decode("utf-8", errors="replace")
        truncated = len(raw) > MAX_BODY_CHARS
        ctype = content_type.split(";")[0].strip().lower()
        result: str
        if "json" in ctype or (not ctype and text.lstrip()[:1] in ("{", "[")):
            try:
                parsed = json.loads(text)
            except ValueError:
                result = self.text(text)
            else:
                result = json.dumps(self.json_value(parsed), indent=2, ensure_ascii=False)
        elif ctype == "application/x-www-form-urlencoded":
            result = self.form(text)
        elif ctype.startswith(("text/", "application/xml", "application/xhtml")) or not ctype:
            result = self.text(text)
        else:
            result = f"[{len(raw)} bytes of {ctype}]"
            truncated = False
        result = self._scrub_learned(result)
        return result + ("\n[… truncated]" if truncated else "")


_PAIR_RE = re.compile(
    r"(?P<lead>(?:^|[?&;#\s\"'(]))(?P<key>[A-Za-z_][\w.%-]*)=(?P<value>[^&\s\"'<>#;)]+)"
)
_JSON_MEMBER_RE = re.compile(
    r'(?P<head>"(?P<key>[A-Za-z_][\w-]*)"\s*:\s*)"(?P<value>(?:[^"\\]|\\.)*)"'
)
_HTML_INPUT_RE = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_HTML_NAME_RE = re.compile(r"""\bname\s*=\s*(["']?)(?P<v>[^"'\s>]+)\1""", re.IGNORECASE)
_HTML_VALUE_RE = re.compile(
    r"""(?P<head>\bvalue\s*=\s*)(?P<q>["'])(?P<v>.*?)(?P=q)""", re.IGNORECASE | re.DOTALL
)
_AUTH_PARAM_RE = re.compile(
    r"""(?P<key>[A-Za-z_][\w-]*)\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s,"]+))"""
)


# ---------------------------------------------------------------------------------------------
# Entries and the recorder
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceEntry:
    """One redacted exchange, ready to show or export."""

    seq: int
    started: float  # seconds since the epoch
    duration: float  # seconds
    actor: str  # who sent it: "app", "app:Health", "rs:photos", "rqp:bob"
    connection_id: str | None
    target: str  # who answered: a friendly server name or host:port
    method: str
    url: str
    status: int | None
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    response_headers: tuple[tuple[str, str], ...]
    response_body: str
    error: str | None = None

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "") or "/"

    @property
    def time_text(self) -> str:
        return datetime.fromtimestamp(self.started).strftime("%H:%M:%S.%f")[:-3]

    def header(self, name: str, *, response: bool = True) -> str | None:
        headers = self.response_headers if response else self.request_headers
        for key, value in headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def summary(self) -> str:
        """A short human label of the message: ``POST /token (uma-ticket)``."""
        return f"{self.method} {urlsplit(self.url).path or '/'}{_grant_hint(self)}"

    @property
    def outcome(self) -> str:
        """A short label of the answer: ``403 request_submitted``, ``200``, ``error: …``."""
        if self.status is None:
            return f"failed: {self.error or 'no answer'}"
        detail = ""
        challenge = self.header("www-authenticate") or ""
        if self.status == 401 and challenge[:4].upper() == "UMA ":
            return f"{self.status} UMA ticket" if "ticket=" in challenge else f"{self.status} UMA"
        if self.response_body.lstrip().startswith("{"):
            try:
                body = json.loads(self.response_body)
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                detail = f" {body['error']}"
        if not detail and challenge:
            detail = f" {challenge.split(' ', 1)[0]}"
        return f"{self.status}{detail}"


def _grant_hint(entry: TraceEntry) -> str:
    if entry.method != "POST" or "grant_type=" not in entry.request_body:
        return ""
    for key, value in parse_qsl(entry.request_body, keep_blank_values=True):
        if key == "grant_type":
            return f" ({value.rsplit(':', 1)[-1].replace('grant-type', '')})"
    return ""


@dataclass
class _Names:
    servers: dict[str, str] = field(default_factory=dict)  # URL prefix -> friendly name
    connections: dict[str, str] = field(default_factory=dict)  # connection id -> name
    actors: dict[tuple[str, str], str] = field(default_factory=dict)  # (actor, prefix) -> name


TraceListener = Callable[[TraceEntry], None]


class TraceRecorder:
    """Records redacted exchanges from :mod:`uma_desktop.net` in a bounded, thread-safe store.

    ``start()`` subscribes to the network layer; ``stop()`` unsubscribes. Listeners added
    with :meth:`subscribe` are called (from the thread that made the request) with each new
    entry; a GUI marshals that to its own thread.
    """

    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = capacity
        self.redactor = Redactor()
        self._entries: deque[TraceEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._seq = 0
        self._names = _Names()
        self._listeners: list[TraceListener] = []
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> TraceRecorder:
        if not self._started:
            net.add_listener(self._on_exchange)
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            net.remove_listener(self._on_exchange)
            self._started = False

    def __enter__(self) -> TraceRecorder:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- naming --------------------------------------------------------------------------

    def name_server(self, base_url: str, name: str) -> None:
        """Show requests to URLs under ``base_url`` as going to ``name`` (longest prefix wins)."""
        with self._lock:
            self._names.servers[_normalise_prefix(base_url)] = name

    def name_connection(self, connection_id: str, name: str) -> None:
        """Show the app's requests for ``connection_id`` as coming from ``app:<name>``."""
        with self._lock:
            self._names.connections[connection_id] = name

    def name_actor_at(self, actor: str, base_url: str, name: str) -> None:
        """Show ``actor``'s requests to URLs under ``base_url`` as coming from ``name``.

        Two sandboxes both run an ``rs:photos``; the server each one talks to tells them apart.
        """
        with self._lock:
            self._names.actors[(actor, _normalise_prefix(base_url))] = name

    def add_secret(self, value: str, kind: str = "secret") -> None:
        """Redact a value known to be secret (e.g. a demo password) wherever it appears."""
        self.redactor.learn(value, kind)

    def target_name(self, url: str) -> str:
        prefix = _normalise_prefix(url)
        with self._lock:
            servers = dict(self._names.servers)
        best = max((p for p in servers if prefix.startswith(p)), key=len, default=None)
        if best is not None:
            return servers[best]
        parts = urlsplit(url)
        if parts.hostname in _LOOPBACK and parts.path == "/callback" and "state=" in parts.query:
            return "app:callback"  # the app's own one-time sign-in listener (RFC 8252)
        return parts.netloc.rpartition("@")[2] or url

    def actor_name(self, actor: str, connection_id: str | None, url: str = "") -> str:
        if url:
            prefix = _normalise_prefix(url)
            with self._lock:
                aliases = [(p, name) for (a, p), name in self._names.actors.items() if a == actor]
            best = max(
                (a for a in aliases if prefix.startswith(a[0])),
                default=None,
                key=lambda a: len(a[0]),
            )
            if best is not None:
                return best[1]
        if connection_id and actor == "app":
            with self._lock:
                name = self._names.connections.get(connection_id, connection_id)
            return f"app:{name}"
        return actor

    # -- recording -----------------------------------------------------------------------

    def _on_exchange(self, exchange: net.Exchange) -> None:
        self.record(exchange)

    def record(self, exchange: net.Exchange) -> TraceEntry:
        """Redact ``exchange`` and store it (the net listener)."""
        red = self.redactor
        request_type = _content_type(exchange.request_headers)
        response_type = _content_type(exchange.response_headers)
        # Structured parts first so their secret values are learned before free text is scanned.
        request_headers = tuple((k, red.header(k, v)) for k, v in exchange.request_headers)
        request_body = red.body(exchange.request_body, request_type)
        response_headers = tuple((k, red.header(k, v)) for k, v in exchange.response_headers)
        response_body = red.body(exchange.response_body, response_type)
        url = red.url(exchange.url)
        error = red.text(exchange.error) if exchange.error else None
        entry = TraceEntry(
            seq=0,
            started=exchange.started,
            duration=exchange.duration,
            actor=self.actor_name(exchange.actor, exchange.connection_id, exchange.url),
            connection_id=exchange.connection_id,
            target=self.target_name(exchange.url),
            method=exchange.method,
            url=url,
            status=exchange.status,
            request_headers=request_headers,
            request_body=request_body,
            response_headers=response_headers,
            response_body=response_body,
            error=error,
        )
        with self._lock:  # numbered and stored in one step: the store stays in seq order
            self._seq += 1
            entry = replace(entry, seq=self._seq)
            self._entries.append(entry)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(entry)
        return entry

    def subscribe(self, listener: TraceListener) -> Callable[[], None]:
        """Call ``listener`` with each new entry; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    # -- reading -------------------------------------------------------------------------

    def entries(
        self, *, actor: str | None = None, connection_id: str | None = None
    ) -> list[TraceEntry]:
        with self._lock:
            entries = list(self._entries)
        return filter_entries(entries, actor=actor, connection_id=connection_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def filter_entries(
    entries: Iterable[TraceEntry], *, actor: str | None = None, connection_id: str | None = None
) -> list[TraceEntry]:
    """Entries sent by ``actor`` (exact, or any ``actor:*`` when given a bare prefix such as
    ``app``) and belonging to ``connection_id``."""
    result = []
    for entry in entries:
        if actor and entry.actor != actor and not entry.actor.startswith(f"{actor}:"):
            continue
        if connection_id and entry.connection_id != connection_id:
            continue
        result.append(entry)
    return result


_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _normalise_prefix(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{host}:{port}{path}/"


def _content_type(headers: Iterable[tuple[str, str]]) -> str:
    for key, value in headers:
        if key.lower() == "content-type":
            return value
    return ""


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Make text safe inside a Mermaid message or alias (entity codes for the specials)."""
    text = text.replace("#", "#35;").replace(";", "#59;").replace("\n", " ")
    return text.replace("%%", "%#37;")


def _participant_id(index: int) -> str:
    return f"P{index}"


def to_mermaid(entries: Iterable[TraceEntry], *, title: str | None = None) -> str:
    """A Mermaid ``sequenceDiagram``: a request arrow and an answer arrow per exchange.

    Participants appear in the order they first take part; labels keep redacted values only.
    """
    entries = list(entries)
    order: list[str] = []
    for entry in entries:
        for name in (entry.actor, entry.target):
            if name not in order:
                order.append(name)
    ids = {name: _participant_id(i + 1) for i, name in enumerate(order)}
    lines = []
    if title:  # front matter: how every Mermaid diagram type takes a title
        lines += ["---", f"title: {json.dumps(title.replace(chr(10), ' '))}", "---"]
    lines += ["sequenceDiagram", "    autonumber"]
    for name in order:
        kind = "actor" if name.startswith("rqp:") else "participant"
        lines.append(f"    {kind} {ids[name]} as {_mermaid_text(name)}")
    # Requests at their start, answers at their end: a call the server made while serving
    # another (an RS asking the AS for a ticket) nests inside it, as on the wire.
    events = sorted(
        [(e.started, 0, e.seq, e) for e in entries]
        + [(e.started + e.duration, 1, e.seq, e) for e in entries],
        key=lambda event: event[:3],
    )
    for _, is_answer, _, entry in events:
        source, target = ids[entry.actor], ids[entry.target]
        if not is_answer:
            lines.append(f"    {source}->>{target}: {_mermaid_text(entry.summary)}")
            continue
        arrow = "-->>" if entry.status is not None and entry.status < 400 else "--x"
        lines.append(f"    {target}{arrow}{source}: {_mermaid_text(entry.outcome)}")
    return "\n".join(lines) + "\n"


def _iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _har_headers(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers]


def _har_cookies(headers: Iterable[tuple[str, str]], header: str) -> list[dict[str, str]]:
    cookies = []
    for key, value in headers:
        if key.lower() != header:
            continue
        parts = value.split(";") if header == "cookie" else [value.split(";")[0]]
        for part in parts:
            name, _, val = part.strip().partition("=")
            if name:
                cookies.append({"name": name, "value": val})
    return cookies


_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 302: "Found", 303: "See Other",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    409: "Conflict", 422: "Unprocessable Entity", 500: "Internal Server Error",
}  # fmt: skip


def to_har(entries: Iterable[TraceEntry]) -> dict[str, Any]:
    """A HAR 1.2 log; the custom ``_actor``, ``_target``, ``_connection`` keep the trace's view."""
    har_entries = []
    for entry in entries:
        parts = urlsplit(entry.url)
        request_type = entry.header("content-type", response=False) or ""
        request: dict[str, Any] = {
            "method": entry.method,
            "url": entry.url,
            "httpVersion": "HTTP/1.1",
            "cookies": _har_cookies(entry.request_headers, "cookie"),
            "headers": _har_headers(entry.request_headers),
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ],
            "headersSize": -1,
            "bodySize": len(entry.request_body.encode()),
        }
        if entry.request_body:
            request["postData"] = {"mimeType": request_type, "text": entry.request_body}
        response_type = entry.header("content-type") or ""
        millis = round(entry.duration * 1000, 3)
        har_entries.append(
            {
                "startedDateTime": _iso(entry.started),
                "time": millis,
                "request": request,
                "response": {
                    "status": entry.status or 0,
                    "statusText": _REASONS.get(entry.status or 0, ""),
                    "httpVersion": "HTTP/1.1",
                    "cookies": _har_cookies(entry.response_headers, "set-cookie"),
                    "headers": _har_headers(entry.response_headers),
                    "content": {
                        "size": len(entry.response_body.encode()),
                        "mimeType": response_type,
                        "text": entry.response_body,
                    },
                    "redirectURL": entry.header("location") or "",
                    "headersSize": -1,
                    "bodySize": len(entry.response_body.encode()),
                    **({"_error": entry.error} if entry.error else {}),
                },
                "cache": {},
                "timings": {"send": 0, "wait": millis, "receive": 0},
                "_actor": entry.actor,
                "_target": entry.target,
                "_connection": entry.connection_id,
            }
        )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "uma-desktop", "version": __version__},
            "comment": "Protocol trace; every token, code, secret and password is redacted.",
            "pages": [],
            "entries": har_entries,
        }
    }


def to_har_json(entries: Iterable[TraceEntry]) -> str:
    return json.dumps(to_har(entries), indent=2, ensure_ascii=False)


def _readable_form(body: str) -> str:
    """``a=1&b=x%20y`` as one decoded ``a = 1`` line per field (masks stay as they are)."""
    fields = []
    for piece in body.split("&"):
        key, sep, value = piece.partition("=")
        fields.append(f"{unquote_plus(key)} = {unquote_plus(value)}" if sep else unquote_plus(key))
    return "\n".join(fields)


def entry_as_text(entry: TraceEntry) -> str:
    """The full, redacted exchange as readable text (details pane, copy to clipboard)."""
    lines = [
        f"{entry.time_text}  {entry.actor} → {entry.target}  ({entry.duration * 1000:.0f} ms)",
        "",
        f"{entry.method} {entry.url}",
        *(f"{k}: {v}" for k, v in entry.request_headers),
    ]
    if entry.request_body:
        form = "x-www-form-urlencoded" in (entry.header("content-type", response=False) or "")
        lines += ["", _readable_form(entry.request_body) if form else entry.request_body]
    lines += ["", "—" * 20, ""]
    lines.append(f"HTTP {entry.status}" if entry.status is not None else f"failed: {entry.error}")
    lines += [f"{k}: {v}" for k, v in entry.response_headers]
    if entry.response_body:
        lines += ["", entry.response_body]
    return "\n".join(lines)


__all__ = [
    "SECRET_KEYS",
    "Redactor",
    "TraceEntry",
    "TraceListener",
    "TraceRecorder",
    "entry_as_text",
    "filter_entries",
    "is_secret_key",
    "mask",
    "to_har",
    "to_har_json",
    "to_mermaid",
]
