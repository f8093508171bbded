"""The GUI-side state over one ControlPoint: connection states and the shared table models.

Every call to the core runs as a named worker (``gui/workers.py``) on the bridge's loop;
results land on the GUI thread through the worker's ``on_done`` / ``on_error`` and update the
models. Views read these models and call these methods; they never touch
the ControlPoint themselves. Reads are per connection, so one server's answer appears as
soon as it arrives and a dead server never holds up the others.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from uma_desktop.domain import (
    AccessRequest,
    BackendKind,
    Connection,
    Decision,
    Party,
    Resource,
    Share,
    SharedWithMe,
)
from uma_desktop.foreground import yield_to_foreground
from uma_desktop.gui.bridge import Bridge, Relay
from uma_desktop.gui.models import (
    HistoryModel,
    RequestsModel,
    ResourceRow,
    ResourcesModel,
    SharedWithMeModel,
)
from uma_desktop.gui.settings import Favourites
from uma_desktop.gui.workers import Worker, WorkerManager

if TYPE_CHECKING:
    # The core loads on its own thread once the window is shown (see gui/app.py), the demo
    # (sandbox servers, FastAPI) only when it starts.
    from uma_desktop.app import ConnectionState, ConnectionStatus, ControlPoint, PerConnection
    from uma_desktop.app.auth import Credentials
    from uma_desktop.app.expiry import ResourceShares
    from uma_desktop.app.last_known import LastKnown
    from uma_desktop.backends.base import Capability
    from uma_desktop.demo import Demo

log = logging.getLogger(__name__)


async def _call(func: Callable[[], Any]) -> Any:
    """Run a plain (non-network) ControlPoint method on the loop thread that owns it."""
    return func()


ROWS_PER_YIELD = 500  # table rows built between yields to the window
EARLY_ROWS_WAIT = 0.5  # seconds the core waits at most for the cached rows to be shown
Facets = tuple[frozenset[str], frozenset[str]]  # resource server names, types


def _rows(
    resources: list[Resource] | None,
    server: str,
    favourites: set[tuple[str, str]],
    built: dict[tuple[str, str], ResourceRow] | None = None,
) -> tuple[list[ResourceRow], Facets] | None:
    """Table rows and the filter values they offer (built off the GUI thread).

    ``built`` holds the rows made last time for this connection (updated here): a resource
    the core kept unchanged keeps its row object, so a reload of unchanged data leaves no
    thousands of fresh objects behind for the garbage collector.
    """
    if resources is None:
        return None
    previous = dict(built) if built is not None else {}
    rows: list[ResourceRow] = []
    for number, resource in enumerate(resources):
        if number % ROWS_PER_YIELD == 0:
            yield_to_foreground()
        key = (resource.connection_id, resource.id)
        favourite = key in favourites
        row = previous.get(key)
        if row is None or not (
            row.resource is resource and row.server == server and row.favourite == favourite
        ):
            row = ResourceRow(resource, server, favourite)
        rows.append(row)
    if built is not None:
        built.clear()
        built.update((row.key, row) for row in rows)
    facets = (
        frozenset(r.resource_server for r in resources),
        frozenset(r.type or "" for r in resources),
    )
    return rows, facets


def _exempt_long_lived_objects() -> None:
    """Leave everything that exists once the app is open out of future garbage collections.

    A full collection holds the interpreter lock while it walks every tracked object; with
    Qt and the app loaded that is 100+ ms, and the GUI thread would freeze for all
    of it. Called once, when the core is open, and without a collection first: the window is
    already on screen, and collecting here would be that very stall. What garbage exists at
    this moment is kept once; freezing after every load would keep each load's garbage, and
    memory would grow with each reload.
    """
    gc.freeze()


class Controller(QObject):
    """Owns connection states and models; turns user actions into ControlPoint calls."""

    connections_updated = Signal()  # the set or the states of connections changed
    busy_changed = Signal(bool)
    requests_count_changed = Signal(int, int)  # pending, unread
    new_requests = Signal(list)  # list[AccessRequest] seen for the first time
    decisions_made = Signal(list)  # list[Decision] after approve/deny/bulk/share/revoke
    problem = Signal(str)  # a note worth showing in the status bar
    resources_loaded = Signal(str)  # connection id whose rows are all in the table

    def __init__(
        self, bridge: Bridge, control: ControlPoint | None, favourites: Favourites
    ) -> None:
        """``control`` may come later (``attach``): the window is built and shown while the
        core still loads; nothing calls the core before it is attached."""
        super().__init__()
        self.bridge = bridge
        self._control = control
        self._when_open: list[Callable[[], None]] = []
        self.favourites = favourites
        self.states: dict[str, ConnectionState] = {}
        self.facets: dict[str, Facets] = {}
        # the last rows built per connection: filled on the core's thread (see _rows)
        self._built_rows: dict[str, dict[tuple[str, str], ResourceRow]] = {}
        # While bulk decisions run, the core's change events only note what to reload; it is
        # reloaded once when they are done (not once per decision).
        self._bulk_running = 0
        self._stale_resources: set[str] = set()
        self._stale_requests = False
        self.resources = ResourcesModel(self)
        self.requests = RequestsModel(self.server_name, self)
        self.shared_with_me = SharedWithMeModel(self.server_name, self)
        self.history = HistoryModel(self.server_name, self)
        self.workers = WorkerManager(bridge, self)
        self.workers.busy_changed.connect(self.busy_changed)
        self.workers.unhandled_error.connect(bridge.unhandled_error)
        self.resources.loading_finished.connect(self.resources_loaded)
        self._early_rows = Relay(self._show_early_rows, self)
        for signal in (
            self.requests.rowsInserted,
            self.requests.rowsRemoved,
            self.requests.modelReset,
        ):
            signal.connect(self._emit_counts)
        bridge.status_changed.connect(self._on_status)
        bridge.requests_changed.connect(self._requests_changed)
        bridge.new_requests.connect(self._on_new_requests)
        bridge.data_changed.connect(self._data_changed)
        bridge.event_received.connect(self._on_event)

    @property
    def control(self) -> ControlPoint:
        if self._control is None:
            raise RuntimeError("the core is not open yet")
        return self._control

    def attach(self, control: ControlPoint) -> None:
        """The core is open: from now on the controller works on ``control``."""
        self._control = control
        waiting, self._when_open = self._when_open, []
        for callback in waiting:
            callback()

    @property
    def is_open(self) -> bool:
        """Whether the core is open (before it is, only cached rows may be shown)."""
        return self._control is not None

    def server_count(self) -> int:
        """Connections known: their states once the core is open, before that the ones
        whose cached rows are shown."""
        return len(self.states) if self.is_open else len(self.facets)

    def when_open(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` now if the core is open, else as soon as it is."""
        if self._control is not None:
            callback()
        else:
            self._when_open.append(callback)

    # --- plumbing ------------------------------------------------------------------------
    def run(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str,
        group: str = "default",
        exclusive: bool = False,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
    ) -> Worker:
        """Run ``coro`` on the core's loop as a named worker (see ``WorkerManager.run``)."""
        return self.workers.run(
            coro,
            name=name,
            group=group,
            exclusive=exclusive,
            on_done=on_done,
            on_error=on_error,
            owner=owner,
        )

    def check_server(
        self,
        url: str,
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> Worker:
        """Run the server check (no sign-in) on ``url``; the report goes to ``on_done``."""
        from uma_desktop.app.server_check import check_server

        return self.run(
            check_server(url),
            name=f"check {url}",
            group="server-check",
            exclusive=True,
            on_done=on_done,
            on_error=on_error,
            owner=owner,
        )

    def is_busy(self) -> bool:
        return self.workers.is_busy()

    # --- connections ---------------------------------------------------------------------
    def server_name(self, connection_id: str) -> str:
        state = self.states.get(connection_id)
        return state.connection.display_name if state else connection_id

    def capabilities(self, connection_id: str) -> frozenset[Capability]:
        state = self.states.get(connection_id)
        return state.capabilities if state else frozenset()

    def start(self, poll_interval: float | None = 30.0) -> None:
        """Show the last-known data at once, then refresh everything from the servers."""

        def opened(result: tuple[list[ConnectionState], Any, Any, list[str]]) -> None:
            _exempt_long_lived_objects()
            states, rows, requests, problems = result
            self._set_states(states)
            self._apply_rows(rows)
            self._apply_requests(requests)
            for note in problems:
                self.problem.emit(note)
            self.refresh_all()
            self.refresh_history()
            if poll_interval:
                self.bridge.call_soon(lambda: self.control.start_polling(poll_interval))

        control = self.control
        favourites = self.favourites.keys()
        built_rows = self._built_rows

        def last_known() -> tuple[list[ConnectionState], Any, Any, list[str]]:
            # runs on the core's thread: reads the snapshots and builds the rows there
            states = control.connections()
            names = {s.connection.id: s.connection.display_name for s in states}
            rows = [
                (
                    part.connection_id,
                    _rows(
                        part.value,
                        names.get(part.connection_id, ""),
                        favourites,
                        built_rows.setdefault(part.connection_id, {}),
                    ),
                )
                for part in control.cached_resources()
            ]
            return states, rows, control.cached_requests(), list(control.problems)

        self.run(_call(last_known), name="open last-known data", on_done=opened)

    def reload_connections(self, then: Callable[[], None] | None = None) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open

        def done(states: list[ConnectionState]) -> None:
            self._set_states(states)
            if then is not None:
                then()

        self.run(_call(self.control.connections), name="list connections", on_done=done)

    def _set_states(self, states: Sequence[ConnectionState]) -> None:
        known = {s.connection.id for s in states}
        for gone in set(self.states) - known:
            self.resources.remove_group(gone)
            self.requests.remove_group(gone)
            self.shared_with_me.remove_group(gone)
            self._built_rows.pop(gone, None)
        self.states = {s.connection.id: s for s in states}
        self.connections_updated.emit()

    def _on_status(self, state: ConnectionState) -> None:
        self.states[state.connection.id] = state
        self.connections_updated.emit()

    def _on_event(self, event: object) -> None:
        from uma_desktop.app import ConnectionsChanged  # loaded already: events come from it

        if isinstance(event, ConnectionsChanged):
            self.reload_connections()
        # the bridge turns the other events into their own signals

    def login(
        self,
        connection_id: str,
        *,
        device: bool = False,
        on_device_code: Callable[[Any], None] | None = None,
        credentials: Credentials | None = None,
        on_done: Callable[[ConnectionState], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
    ) -> Worker:
        def done(state: ConnectionState) -> None:
            self.states[state.connection.id] = state
            self.connections_updated.emit()
            self.refresh_all(state.connection.id)
            if on_done is not None:
                on_done(state)

        # the device code is announced on the core's thread; the caller gets it on this one
        relay = Relay(on_device_code or (lambda _code: None), owner or self)

        def failed(exc: BaseException) -> None:
            relay.deleteLater()
            if on_error is not None:
                on_error(exc)
            else:
                self.bridge.unhandled_error.emit(exc)

        def succeeded(state: ConnectionState) -> None:
            relay.deleteLater()
            done(state)

        return self.run(
            self.control.login(
                connection_id,
                device=device,
                on_device_code=relay.send,
                credentials=credentials,
            ),
            name=f"log in to {connection_id}",
            group="login",
            on_done=succeeded,
            on_error=failed,
            owner=owner,
        )

    def add_connection(
        self,
        issuer: str,
        *,
        kind: BackendKind | None,
        display_name: str | None,
        remember: bool,
        on_done: Callable[[Connection], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> Worker:
        """Discover the server at ``issuer`` and add it (no login yet)."""
        return self.run(
            self.control.add_connection(
                issuer, kind=kind, display_name=display_name, remember=remember
            ),
            name=f"add {issuer}",
            on_done=on_done,
            on_error=on_error,
            owner=owner,
        )

    def logout(self, connection_id: str) -> None:
        self.run(
            self.control.logout(connection_id),
            name=f"log out of {connection_id}",
            on_done=lambda _: self.reload_connections(),
        )

    def remove_connection(self, connection_id: str) -> None:
        self.run(
            self.control.remove_connection(connection_id),
            name=f"remove {connection_id}",
            on_done=lambda _: self.reload_connections(),
        )

    def start_demo(
        self,
        demo: Demo,
        *,
        on_done: Callable[[list[str]], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> Worker:
        """Start the demo's servers and sign its user in to each; ``on_done(connection ids)``."""
        control = self.control

        async def boot() -> list[str]:
            import asyncio

            await asyncio.to_thread(demo.start)
            demo.install_browser()
            return await demo.connect(control)

        return self.run(
            boot(), name="start the demo", on_done=on_done, on_error=on_error, owner=owner
        )

    # --- reads ---------------------------------------------------------------------------
    def refresh_all(self, connection_id: str | None = None) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open
        ids = [connection_id] if connection_id else list(self.states)
        for cid in ids:
            self.refresh_resources(cid)
        self.refresh_requests(connection_id)
        self.refresh_shared_with_me(connection_id)

    def refresh_resources(self, connection_id: str) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open
        if connection_id not in self.states:
            return
        server = self.server_name(connection_id)
        favourites = self.favourites.keys()
        control = self.control
        built_rows = self._built_rows

        async def load() -> list[tuple[str, tuple[list[ResourceRow], Facets] | None]]:
            # Rows are built here, on the core's thread, so the GUI thread only inserts them.
            results = await control.resources(connection_id=connection_id)
            return [
                (
                    part.connection_id,
                    _rows(
                        part.value,
                        server,
                        favourites,
                        built_rows.setdefault(part.connection_id, {}),
                    ),
                )
                for part in results
            ]

        self.run(
            load(),
            name=f"load resources of {connection_id}",
            group="resources",
            on_done=self._apply_rows,
            on_error=self._report,
        )

    def _data_changed(self, connection_id: str) -> None:
        if self._bulk_running:
            self._stale_resources.add(connection_id)
        else:
            self.refresh_resources(connection_id)

    def _requests_changed(self) -> None:
        if self._bulk_running:
            self._stale_requests = True
        else:
            self._reload_cached_requests()

    def _bulk_finished(self) -> None:
        """The last running bulk is done: reload what its decisions changed, once."""
        self._bulk_running -= 1
        if self._bulk_running:
            return
        stale, self._stale_resources = self._stale_resources, set()
        for connection_id in sorted(stale):
            self.refresh_resources(connection_id)
        if self._stale_requests:
            self._stale_requests = False
            self._reload_cached_requests()

    def _apply_rows(
        self,
        parts: list[tuple[str, tuple[list[ResourceRow], Facets] | None]],
        *,
        before_open: bool = False,
    ) -> None:
        """Show each connection's new rows (``before_open``: the cached rows read before
        the core opened, when no connection state is known yet)."""
        shown = []
        for connection_id, built in parts:
            # None: nothing known yet for this server; leave its rows alone
            if built is not None and (before_open or connection_id in self.states):
                rows, self.facets[connection_id] = built
                shown.append((connection_id, rows))
        self.resources.replace_groups(shown)

    def last_known_shower(self) -> Callable[[LastKnown], None]:
        """For a thread other than the GUI's, before the core opens: a function that builds
        the rows of what was cached, shows them at once and returns once the window has
        them (at most EARLY_ROWS_WAIT later). The core loads after that: loading it while
        the table fills would slow both down (they compete for the interpreter lock)."""
        favourites = self.favourites.keys()
        built_rows = self._built_rows
        relay = self._early_rows

        def show(known: LastKnown) -> None:
            parts = [
                (
                    connection.id,
                    _rows(
                        resources,
                        connection.display_name,
                        favourites,
                        built_rows.setdefault(connection.id, {}),
                    ),
                )
                for connection, resources in known.resources()
            ]
            if parts and shiboken6.isValid(relay):
                shown = threading.Event()
                relay.send((parts, shown))
                shown.wait(EARLY_ROWS_WAIT)

        return show

    def _show_early_rows(self, sent: tuple[list[tuple[str, Any]], threading.Event]) -> None:
        parts, shown = sent
        if self._control is None and not self.resources.rowCount():
            self._apply_rows(parts, before_open=True)
        QTimer.singleShot(0, shown.set)  # after the repaint this change has asked for

    def filter_values(self) -> Facets:
        """Every resource server name and type present, across connections."""
        servers: set[str] = set()
        types: set[str] = set()
        for cid, (rs_names, kinds) in self.facets.items():
            if cid in self.states:
                servers |= rs_names
                types |= kinds
        return frozenset(servers), frozenset(types)

    def refresh_requests(self, connection_id: str | None = None) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open
        ids = [connection_id] if connection_id else list(self.states)
        for cid in ids:
            self.run(
                self.control.requests(connection_id=cid),
                name=f"load requests of {cid}",
                group="requests",
                on_done=self._apply_requests,
                on_error=self._report,
            )

    def _reload_cached_requests(self) -> None:
        self.run(
            _call(self.control.cached_requests),
            name="read last-known requests",
            group="requests",
            on_done=self._apply_requests,
        )

    def _apply_requests(self, results: list[PerConnection[list[AccessRequest]]]) -> None:
        for part in results:
            if part.value is not None:
                self.requests.replace_group(part.connection_id, part.value)

    def _on_new_requests(self, requests: list[AccessRequest]) -> None:
        self.requests.mark_unread(r.key for r in requests)
        self._emit_counts()
        self.new_requests.emit(requests)

    def _emit_counts(self, *_: Any) -> None:
        self.requests_count_changed.emit(self.requests.rowCount(), self.requests.unread_count())

    def mark_requests_read(self) -> None:
        self.requests.mark_all_read()
        self._emit_counts()

    def refresh_shared_with_me(self, connection_id: str | None = None) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open

        def done(results: list[PerConnection[list[SharedWithMe]]]) -> None:
            for part in results:
                if part.value is not None:
                    self.shared_with_me.replace_group(part.connection_id, part.value)

        self.run(
            self.control.shared_with_me(connection_id=connection_id),
            name=f"load shared with me of {connection_id or 'every server'}",
            group="shared with me",
            on_done=done,
            on_error=self._report,
        )

    def refresh_history(self) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open
        self.run(
            _call(self.control.history),
            name="read history",
            group="history",
            on_done=self.history.set_rows,
        )

    def poll_now(self) -> None:
        if self._control is None:
            return  # the core is still loading: start() reads everything once it is open
        self.run(
            self.control.poll_once(),
            name="poll for requests",
            on_done=lambda _: None,
            on_error=self._report,
        )

    def load_shares(
        self,
        connection_id: str,
        resource_id: str,
        *,
        on_done: Callable[[ResourceShares], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> Worker:
        """Who has access to one resource, with the due dates the app enforces where the
        server has no expiry. One load at a time: a new one cancels the last."""
        from uma_desktop.app.expiry import shares_with_due_dates  # loaded with the core

        return self.run(
            shares_with_due_dates(self.control, connection_id, resource_id),
            name=f"load shares of {resource_id}",
            group="resource shares",
            exclusive=True,
            on_done=on_done,
            on_error=on_error,
            owner=owner,
        )

    def find_person(
        self,
        connection_id: str,
        resource_id: str,
        query: str,
        *,
        on_done: Callable[[Party | None], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> Worker:
        """Look a person up on the server of a resource; the newest lookup wins."""
        return self.run(
            self.control.find_person(connection_id, resource_id, query),
            name=f"look up {query}",
            group="person lookup",
            exclusive=True,
            on_done=on_done,
            on_error=on_error,
            owner=owner,
        )

    def _report(self, exc: BaseException) -> None:
        """Per-server read failures show in the sidebar status; log the rest."""
        log.info("read failed: %s", exc)
        self.problem.emit(str(exc))

    # --- favourites ----------------------------------------------------------------------
    def toggle_favourite(self, row: ResourceRow) -> None:
        now = self.favourites.toggle(row.key)
        self.resources.update_object(ResourceRow(row.resource, row.server, now))

    # --- writes --------------------------------------------------------------------------
    def _decided(self, decisions: Sequence[Decision]) -> None:
        self.decisions_made.emit(list(decisions))
        self.refresh_history()

    def approve(
        self,
        request: AccessRequest,
        scopes: Sequence[str] | None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._run_decision(self.control.approve(request, scopes), "approve", None, on_error)

    def deny(
        self, request: AccessRequest, on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        self._run_decision(self.control.deny(request), "deny", None, on_error)

    def bulk(
        self,
        action: str,
        requests: Sequence[AccessRequest],
        on_done: Callable[[list[Decision]], None] | None = None,
    ) -> None:
        """Decide many requests with one core call; the tables reload once at the end."""

        def done(decisions: list[Decision]) -> None:
            self._bulk_finished()
            self._decided(decisions)
            if on_done is not None:
                on_done(decisions)

        def failed(exc: BaseException) -> None:
            self._bulk_finished()
            self._after_failure(None)(exc)

        self._bulk_running += 1
        self.run(
            self.control.bulk(action, list(requests)),  # type: ignore[arg-type]
            name=f"{action} {len(requests)} requests",
            group="decisions",
            on_done=done,
            on_error=failed,
        )

    def share(
        self,
        connection_id: str,
        resource_id: str,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
        on_done: Callable[[Decision], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> None:
        self._run_decision(
            self.control.share(connection_id, resource_id, person, scopes, expires_at),
            "share",
            on_done,
            on_error,
            owner,
        )

    def share_until(
        self,
        resource: Resource,
        person: str,
        scopes: Sequence[str],
        expires_at: datetime,
        on_done: Callable[[Decision], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> None:
        """Share until ``expires_at``: kept by the server where it can, else by the app."""
        from uma_desktop.app.expiry import share_until  # loaded with the core

        self._run_decision(
            share_until(self.control, resource, person, scopes, expires_at),
            "share",
            on_done,
            on_error,
            owner,
        )

    def share_with_claims(
        self,
        connection_id: str,
        resource_id: str,
        claims: Sequence[tuple[str, str]],
        scopes: Sequence[str],
        expires_at: datetime | None,
        on_done: Callable[[Decision], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> None:
        """Share with anyone presenting every (name, value) claim."""
        self._run_decision(
            self.control.share_with_claims(connection_id, resource_id, claims, scopes, expires_at),
            "share",
            on_done,
            on_error,
            owner,
        )

    def revoke(
        self,
        connection_id: str,
        resource_id: str,
        person: str,
        scopes: Sequence[str] | None,
        on_done: Callable[[Decision], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> None:
        self._run_decision(
            self.control.revoke(connection_id, resource_id, person, scopes),
            "revoke",
            on_done,
            on_error,
            owner,
        )

    def revoke_share(
        self,
        share: Share,
        on_done: Callable[[Decision], None],
        on_error: Callable[[BaseException], None],
        owner: QObject | None = None,
    ) -> None:
        """Take all access away from one share's person (and any due date the app kept)."""
        from uma_desktop.app.expiry import revoke_share  # loaded with the core

        self._run_decision(revoke_share(self.control, share), "revoke", on_done, on_error, owner)

    def _run_decision(
        self,
        coro: Coroutine[Any, Any, Decision],
        action: str,
        on_done: Callable[[Decision], None] | None,
        on_error: Callable[[BaseException], None] | None,
        owner: QObject | None = None,
    ) -> None:
        """Run one write; its decision reaches the history and listeners, then ``on_done``."""

        def done(decision: Decision) -> None:
            self._decided([decision])
            if on_done is not None:
                on_done(decision)

        self.run(
            coro,
            name=action,
            group="decisions",
            on_done=done,
            on_error=self._after_failure(on_error),
            owner=owner,
        )

    def _after_failure(
        self, on_error: Callable[[BaseException], None] | None
    ) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            self.refresh_history()  # failures are recorded too
            if on_error is not None:
                on_error(exc)
            else:
                self.bridge.unhandled_error.emit(exc)

        return failed

    def status_of(self, connection_id: str) -> ConnectionStatus | None:
        state = self.states.get(connection_id)
        return state.status if state else None
