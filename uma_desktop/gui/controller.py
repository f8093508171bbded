"""The GUI-side state over one ControlPoint: connection states and the shared table models.

Every call to the core goes through ``Bridge.submit``; results land here on the GUI thread
and update the models. Views read these models and call these methods; they never touch
the ControlPoint themselves. Reads are per connection, so one server's answer appears as
soon as it arrives and a dead server never holds up the others.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Signal

from uma_desktop.app import ConnectionState, ConnectionStatus, ControlPoint, PerConnection
from uma_desktop.backends.base import Capability
from uma_desktop.domain import AccessRequest, Decision, Resource, SharedWithMe
from uma_desktop.foreground import yield_to_foreground
from uma_desktop.gui.bridge import Bridge
from uma_desktop.gui.models import (
    HistoryModel,
    RequestsModel,
    ResourceRow,
    ResourcesModel,
    SharedWithMeModel,
)
from uma_desktop.gui.settings import Favourites

log = logging.getLogger(__name__)


async def _call(func: Callable[[], Any]) -> Any:
    """Run a plain (non-network) ControlPoint method on the loop thread that owns it."""
    return func()


ROWS_PER_YIELD = 500  # table rows built between yields to the window
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
    """Leave everything that exists now out of future garbage collections.

    A full collection holds the interpreter lock while it walks every tracked object; with
    Qt, pydantic and the app loaded that is 100+ ms, and after a load of 20,000 resources
    tens of ms more. The GUI thread would freeze for all of it. Called once the app is open
    and after each server's resources are in the table: what exists then lives long (the
    rows stay until the next load, and are freed by reference counting when replaced, as
    they hold no cycles), so ``gc.freeze`` keeps each collection to the objects made since.
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

    def __init__(self, bridge: Bridge, control: ControlPoint, favourites: Favourites) -> None:
        super().__init__()
        self.bridge = bridge
        self.control = control
        self.favourites = favourites
        self.states: dict[str, ConnectionState] = {}
        self.facets: dict[str, Facets] = {}
        # the last rows built per connection: filled on the core's thread (see _rows)
        self._built_rows: dict[str, dict[tuple[str, str], ResourceRow]] = {}
        self.resources = ResourcesModel(self)
        self.requests = RequestsModel(self.server_name, self)
        self.shared_with_me = SharedWithMeModel(self.server_name, self)
        self.history = HistoryModel(self.server_name, self)
        self._in_flight = 0
        self._polling = False
        self.resources.loading_finished.connect(self.resources_loaded)
        self.resources.loading_finished.connect(self._resources_settled)
        for signal in (
            self.requests.rowsInserted,
            self.requests.rowsRemoved,
            self.requests.modelReset,
        ):
            signal.connect(self._emit_counts)
        bridge.status_changed.connect(self._on_status)
        bridge.requests_changed.connect(self._reload_cached_requests)
        bridge.new_requests.connect(self._on_new_requests)
        bridge.data_changed.connect(self.refresh_resources)
        bridge.event_received.connect(self._on_event)

    # --- plumbing ------------------------------------------------------------------------
    def run(
        self,
        coro: Coroutine[Any, Any, Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        owner: QObject | None = None,
    ) -> Any:
        """Submit ``coro`` and keep a busy count for the status bar."""
        self._in_flight += 1
        if self._in_flight == 1:
            self.busy_changed.emit(True)

        def settle() -> None:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.busy_changed.emit(False)

        def done(value: Any) -> None:
            settle()
            if on_done is not None:
                on_done(value)

        def failed(exc: BaseException) -> None:
            settle()
            if on_error is not None:
                on_error(exc)
            else:
                self.bridge.unhandled_error.emit(exc)

        return self.bridge.submit(coro, done, failed, owner=owner)

    def is_busy(self) -> bool:
        return self._in_flight > 0

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

        self.run(_call(last_known), opened)

    def reload_connections(self, then: Callable[[], None] | None = None) -> None:
        def done(states: list[ConnectionState]) -> None:
            self._set_states(states)
            if then is not None:
                then()

        self.run(_call(self.control.connections), done)

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
        if type(event).__name__ == "ConnectionsChanged":
            self.reload_connections()

    def login(
        self,
        connection_id: str,
        *,
        device: bool = False,
        on_device_code: Callable[[Any], None] | None = None,
        on_done: Callable[[ConnectionState], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
    ) -> Any:
        def done(state: ConnectionState) -> None:
            self.states[state.connection.id] = state
            self.connections_updated.emit()
            self.refresh_all(state.connection.id)
            if on_done is not None:
                on_done(state)

        return self.run(
            self.control.login(connection_id, device=device, on_device_code=on_device_code),
            done,
            on_error,
            owner=owner,
        )

    def logout(self, connection_id: str) -> None:
        self.run(self.control.logout(connection_id), lambda _: self.reload_connections())

    def remove_connection(self, connection_id: str) -> None:
        self.run(self.control.remove_connection(connection_id), lambda _: self.reload_connections())

    # --- reads ---------------------------------------------------------------------------
    def refresh_all(self, connection_id: str | None = None) -> None:
        ids = [connection_id] if connection_id else list(self.states)
        for cid in ids:
            self.refresh_resources(cid)
        self.refresh_requests(connection_id)
        self.refresh_shared_with_me(connection_id)

    def refresh_resources(self, connection_id: str) -> None:
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

        self.run(load(), self._apply_rows, self._report)

    def _resources_settled(self, _connection_id: str) -> None:
        if not self.resources.is_loading():
            _exempt_long_lived_objects()

    def _apply_rows(self, parts: list[tuple[str, tuple[list[ResourceRow], Facets] | None]]) -> None:
        for connection_id, built in parts:
            if built is not None and connection_id in self.states:
                # None: nothing known yet for this server; leave its rows alone
                rows, self.facets[connection_id] = built
                self.resources.replace_group(connection_id, rows)

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
        ids = [connection_id] if connection_id else list(self.states)
        for cid in ids:
            self.run(
                self.control.requests(connection_id=cid),
                self._apply_requests,
                self._report,
            )

    def _reload_cached_requests(self) -> None:
        self.run(
            _call(self.control.cached_requests),
            self._apply_requests,
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
        def done(results: list[PerConnection[list[SharedWithMe]]]) -> None:
            for part in results:
                if part.value is not None:
                    self.shared_with_me.replace_group(part.connection_id, part.value)

        self.run(self.control.shared_with_me(connection_id=connection_id), done, self._report)

    def refresh_history(self) -> None:
        self.run(_call(self.control.history), self.history.set_rows)

    def poll_now(self) -> None:
        self.run(self.control.poll_once(), lambda _: None, self._report)

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
        self._run_decision(self.control.approve(request, scopes), None, on_error)

    def deny(
        self, request: AccessRequest, on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        self._run_decision(self.control.deny(request), None, on_error)

    def bulk(
        self,
        action: str,
        requests: Sequence[AccessRequest],
        on_done: Callable[[list[Decision]], None] | None = None,
    ) -> None:
        def done(decisions: list[Decision]) -> None:
            self._decided(decisions)
            if on_done is not None:
                on_done(decisions)

        self.run(self.control.bulk(action, list(requests)), done)  # type: ignore[arg-type]

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
            on_done,
            on_error,
            owner,
        )

    def _run_decision(
        self,
        coro: Coroutine[Any, Any, Decision],
        on_done: Callable[[Decision], None] | None,
        on_error: Callable[[BaseException], None] | None,
        owner: QObject | None = None,
    ) -> None:
        """Run one write; its decision reaches the history and listeners, then ``on_done``."""

        def done(decision: Decision) -> None:
            self._decided([decision])
            if on_done is not None:
                on_done(decision)

        self.run(coro, done, self._after_failure(on_error), owner=owner)

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
