"""Recording: a bounded, thread-safe store of redacted exchanges from :mod:`uma_desktop.net`.

A :class:`TraceRecorder` subscribes to the network layer's listeners and redacts each
:class:`~uma_desktop.net.Exchange` *as it arrives* (raw values are never stored).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from uma_desktop import net
from uma_desktop.trace.redaction import Redactor


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


__all__ = ["TraceEntry", "TraceListener", "TraceRecorder", "filter_entries"]
