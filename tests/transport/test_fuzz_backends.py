"""Property-based fuzz of every backend's reads, over real HTTP on loopback: whatever JSON a
hostile server (tests/fixtures/hostile.py) sends to a listing or a detail read, the read
either returns well-typed domain objects (str ids, tuples of str scopes, UTC datetimes, ...)
or raises one of the app's typed errors — never another exception, never a hang, and a
listing never holds more than its cap.

Each backend gets documents near the shapes it reads (keys from its real field vocabulary,
values sometimes plausible, sometimes anything: wrong types, huge or non-finite numbers, odd
text, deep nesting, long strings, repeated ids, paging headers that lie) and, separately,
fully arbitrary JSON on every path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import re
import time
import tracemalloc
import types
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fixtures.hostile import KEYCLOAK_REALM, Answer, CountingTokens, HostileServer, Seen
from tests.uma.test_fuzz_parsers import JSON_VALUES, VALUES
from uma_desktop import net
from uma_desktop.backends import keycloak, policy_manager
from uma_desktop.backends.base import MAX_LISTED_ITEMS
from uma_desktop.backends.forgerock import ForgeRockBackend
from uma_desktop.backends.keycloak import KeycloakBackend
from uma_desktop.backends.policy_manager import PolicyManagerBackend
from uma_desktop.backends.support_base import Page, PersonLookup
from uma_desktop.backends.support_keycloak import KeycloakSupportBackend
from uma_desktop.backends.support_sandbox import SandboxSupportBackend
from uma_desktop.domain import AccessRequest, Decision, Party, Resource, Share, SharedWithMe
from uma_desktop.errors import UmaDesktopError
from uma_desktop.uma.metadata import parse

FUZZ = settings(
    max_examples=60,
    deadline=10_000,  # ms per example (a dozen exchanges): longer is a hang in the making
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: a failure reproduces
    database=None,
)
pytestmark = pytest.mark.timeout(180)

EXCHANGE_DEADLINE = 5.0  # seconds per exchange; the server here never stalls
HANG_LIMIT = 20.0  # seconds for one whole read, however many exchanges it makes
MiB = 1024 * 1024
# Python memory at its peak over a whole fuzz run (server, client, the examples' documents):
# a body is read up to 16 MiB and a listing up to its cap, so this holds with room to spare.
MEMORY_BOUND = 64 * MiB

# -- documents near the shapes the backends read ------------------------------------------

IDS = st.sampled_from(["r1", "r2", "r3", "r1", "a/b", "", " ", "..", "%2F", "\u202er1"])
SCOPE_NAMES = st.sampled_from(["read", "write", "delete", "read", "", "\x1b[2Jx", "\u202eread"])
# Short odd text, valid where text belongs (long text comes with the values of any kind).
TEXT = st.text(max_size=20) | IDS | st.sampled_from(["\x00", "\x1b[2J", "\u202e", "\u0085", "😀"])
# Numbers a careless server sends where a time or a count belongs: each is valid JSON.
ODD_NUMBERS = st.sampled_from(
    [
        -1,
        -0.5,
        0.5,
        1e308,
        -1e308,
        float("inf"),
        float("nan"),
        10**30,
        -(10**30),
        2**63,
        253_402_300_800,
        253_402_300_800_000,
        10**4000,
    ]
)


def _plausible(kind: Any) -> st.SearchStrategy[Any]:
    """A value of the kind a field holds on a well-behaved server."""
    if isinstance(kind, dict):
        return _object(kind)
    if isinstance(kind, list):
        return st.lists(_object(kind[0]), min_size=1, max_size=4)
    return {
        "id": IDS,
        "text": TEXT,
        "optional_text": st.none() | TEXT,
        "scopes": st.lists(SCOPE_NAMES, min_size=1, max_size=4),
        "epoch": st.none() | st.integers(0, 2_000_000_000) | st.floats(0, 2e9) | ODD_NUMBERS,
        "millis": st.none() | st.integers(-(10**15), 10**16) | ODD_NUMBERS,
        "count": st.none() | st.integers(-5, 10**6) | ODD_NUMBERS,
        "bool": st.booleans(),
        "status": st.sampled_from(["granted", "pending", "expired", "denied"]),
        "name": st.sampled_from(["r1", "Report", "Holiday photos", "\u202eReport"]) | TEXT,
    }[kind]


def _field(kind: Any) -> st.SearchStrategy[Any]:
    """Mostly plausible, sometimes anything at all."""
    plausible = _plausible(kind)
    return st.one_of(plausible, plausible, plausible, VALUES)


DROPPED = "(dropped)"  # drawn as itself: the key goes


def _spoiled(values: dict[str, Any], key: str, replacement: Any, extra: dict[str, Any]) -> Any:
    spoiled = {name: value for name, value in values.items() if name != key}
    if replacement is not DROPPED:
        spoiled[key] = replacement
    return spoiled | extra


def _clean(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({key: _plausible(kind) for key, kind in schema.items()})


def _object(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with ``schema``'s keys and plausible values; or with one of them dropped or
    holding anything at all, and maybe an unknown key added."""
    clean = _clean(schema)
    spoiled = st.builds(
        _spoiled,
        clean,
        st.sampled_from(sorted(schema)),
        st.just(DROPPED) | VALUES,
        st.dictionaries(st.sampled_from(["_extra", "\u202e", "__proto__"]), VALUES, max_size=1),
    )
    return st.one_of(clean, clean, spoiled)


def _items(schema: Mapping[str, Any], full_page: int | None = None) -> st.SearchStrategy[Any]:
    """A JSON list of objects: a few, a full page of distinct ids (so the reader pages on), or
    not a list of objects at all."""
    few = st.lists(_object(schema), min_size=1, max_size=5)
    choices = [few] * 6 + [JSON_VALUES, VALUES]
    if full_page:
        id_key = "_id" if "_id" in schema else "id"
        choices.append(
            st.builds(
                lambda template, extra: [
                    {**template, id_key: f"p{index}"} for index in range(full_page + extra)
                ],
                _clean(schema),  # not a long string repeated into a body of gigabytes
                st.sampled_from([-1, 0, 1, 2 * full_page]),  # or a page far beyond its size
            )
        )
    return st.one_of(choices)


def _wrapped(key: str, inner: st.SearchStrategy[Any], **more: Any) -> st.SearchStrategy[Any]:
    """``{key: inner, ...more}`` (a query result or a support page), or something else."""
    shaped = st.builds(
        lambda value, extra: {key: value} | extra,
        inner,
        st.fixed_dictionaries({}, optional={name: _field(kind) for name, kind in more.items()}),
    )
    return st.one_of(shaped, shaped, shaped, shaped, shaped, JSON_VALUES)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, JSON document (or raw bytes), extra headers."""

    document: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def answer(self) -> Answer:
        if self.raw is not None:
            return Answer(self.status, {"Content-Type": "application/json"}, self.raw)
        return Answer.json(self.document, self.status, self.headers)


STATUSES = st.sampled_from([200] * 24 + [201, 204, 400, 401, 403, 404, 409, 500])
TOTAL_COUNTS = st.sampled_from(
    ["0", "1", "-1", "1000", "999999999999", "1e3", "", "NaN", "0x10", str(10**40), " 7 "]
)
RAW_BODIES = st.sampled_from([b"", b"null", b"[", b"{", b"\xff\xfe", b"[1,]", b"NaN", b"1e999999"])


def _replies(documents: st.SearchStrategy[Any], paged: bool = False) -> st.SearchStrategy[Reply]:
    headers = (
        st.fixed_dictionaries({}, optional={"X-Total-Count": TOTAL_COUNTS})
        if paged
        else st.just({})
    )
    shaped = st.builds(Reply, documents, STATUSES, headers)
    raw = st.builds(Reply, st.none(), STATUSES, st.just({}), RAW_BODIES)
    return st.one_of(shaped, shaped, shaped, shaped, raw)


Script = dict[str, list[Reply]]
"""role (which read a request belongs to) -> the answers to send, in turn."""


def _script(roles: Mapping[str, st.SearchStrategy[Reply]]) -> st.SearchStrategy[Script]:
    return st.fixed_dictionaries(
        {role: st.lists(replies, min_size=1, max_size=3) for role, replies in roles.items()}
    )


def _serve(
    server: HostileServer,
    script: Script,
    role_of: Callable[[Seen], str | None],
    paged: frozenset[str],
) -> None:
    """Answer every path by its role: the role's answers in turn, then the last again, but
    for a ``paged`` role an empty list (its pages ran out: no script makes a reader page
    forever; the cap is fuzzed with full pages)."""
    pending = {role: list(replies) for role, replies in script.items()}

    def respond(seen: Seen) -> Answer:
        role = role_of(seen)
        if role is None:
            return Answer.json({"error": "not_found"}, status=404)
        queue = pending[role]
        if len(queue) > 1 or role not in paged:
            return (queue.pop(0) if len(queue) > 1 else queue[0]).answer()
        return queue.pop().answer() if queue else Answer.json([])

    server.seen.clear()
    server.default = respond


# -- checking what a read returned --------------------------------------------------------


def _problems(value: Any, hint: Any, where: str) -> list[str]:
    """Where ``value`` does not have the annotated type ``hint`` (empty: it does)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [_problems(value, option, where) for option in get_args(hint)]
        return [] if any(not found for found in options) else min(options, key=len)
    if isinstance(hint, TypeVar) or hint is Any:
        return _problems(value, type(value), where) if dataclasses.is_dataclass(value) else []
    if hint is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, tuple):
            return [f"{where}: {type(value).__name__} is not a tuple"]
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        if len(args) != len(value):
            return [f"{where}: {len(value)} items, expected {len(args)}"]
        return [p for v, a in zip(value, args, strict=True) for p in _problems(v, a, f"{where}[]")]
    if origin in (list, dict):
        if not isinstance(value, origin):
            return [f"{where}: {type(value).__name__} is not a {origin.__name__}"]
        if origin is list:
            return [p for item in value for p in _problems(item, get_args(hint)[0], where)]
        key_hint, value_hint = get_args(hint)
        return [
            p
            for key, item in value.items()
            for p in [*_problems(key, key_hint, where), *_problems(item, value_hint, where)]
        ]
    if origin is not None:
        return _problems(value, origin, where)
    if hint is str:
        if type(value) is not str:
            return [f"{where}: {type(value).__name__} where a str belongs"]
        try:
            value.encode()
        except UnicodeEncodeError:
            return [f"{where}: a str that is not valid Unicode (a lone surrogate)"]
        return []
    if hint is int:
        ok = type(value) is int
        return [] if ok else [f"{where}: {type(value).__name__} where an int belongs"]
    if hint is bool:
        return [] if type(value) is bool else [f"{where}: {value!r} where a bool belongs"]
    if hint is datetime:
        if not isinstance(value, datetime):
            return [f"{where}: {type(value).__name__} where a datetime belongs"]
        if value.utcoffset() != timedelta(0):
            return [f"{where}: a datetime not in UTC"]
        return []
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [] if isinstance(value, hint) else [f"{where}: {value!r} is not a {hint.__name__}"]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if type(value) is not hint and not isinstance(value, hint):
            return [f"{where}: {type(value).__name__} where a {hint.__name__} belongs"]
        hints = get_type_hints(type(value))
        return [
            p
            for f in dataclasses.fields(value)
            for p in _problems(getattr(value, f.name), hints[f.name], f"{where}.{f.name}")
        ]
    if isinstance(hint, type):
        ok = isinstance(value, hint)
        return [] if ok else [f"{where}: {type(value).__name__} is not a {hint.__name__}"]
    raise AssertionError(f"no check for {hint!r}")


def _check(result: Any, expected: Any, cap: int) -> None:
    """``result`` has the ``expected`` type throughout, and a listing holds at most ``cap``."""
    if isinstance(result, list):
        assert len(result) <= min(cap, MAX_LISTED_ITEMS), f"{len(result)} items listed"
    if isinstance(result, Page):
        problems = [p for item in result.items for p in _problems(item, Any, "item")]
        problems += _problems(result.next_offset, int | None, "next_offset")
    else:
        problems = _problems(result, expected, "result")
    assert not problems, "; ".join(problems[:5])


def test_the_type_check_finds_what_a_careless_parser_lets_through() -> None:
    good = Resource("c", "r1", "Report", ("read",), "rs")
    assert not _problems(good, Resource, "r")
    wrong = [
        dataclasses.replace(good, scopes=["read"]),  # type: ignore[arg-type]
        dataclasses.replace(good, scopes=("read", 1)),  # type: ignore[arg-type]
        dataclasses.replace(good, id=1),  # type: ignore[arg-type]
        dataclasses.replace(good, name="\ud800"),
        dataclasses.replace(good, share_count=True),
        dataclasses.replace(good, owner=b"x"),  # type: ignore[arg-type]
    ]
    for resource in wrong:
        assert _problems(resource, Resource, "r"), resource
    naive = Share("c", "r1", Party("bob"), (), granted_at=datetime(2030, 1, 1))
    assert _problems(naive, Share, "s") == ["s.granted_at: a datetime not in UTC"]
    assert _problems(SharedWithMe("c", good, Party(id=None), ()), SharedWithMe, "s")  # type: ignore[arg-type]


Read = tuple[str, Callable[[], Awaitable[Any]], Any]
"""(name, the read, the type it must return)"""


Tally = Counter[tuple[str, str]]
"""(read, outcome) -> how often: outcome "error" (typed), "empty" or "value"."""


def _run(
    reads: Callable[[net.AsyncClient], list[Read]], cap: int, rewind: Callable[[], None]
) -> Tally:
    """Run each read against the scripted server (``rewind`` before each read: every read
    meets the script from its start): typed error or well-typed value only."""
    tally: Tally = Counter()

    async def all_reads() -> None:
        async with net.async_client(deadline=EXCHANGE_DEADLINE) as client:
            for name, read, expected in reads(client):
                rewind()
                try:
                    result = await asyncio.wait_for(read(), HANG_LIMIT)
                except UmaDesktopError:
                    tally[name, "error"] += 1
                    continue
                except TimeoutError:
                    pytest.fail(f"{name} did not finish within {HANG_LIMIT:g} s")
                _check(result, expected, cap)
                empty = result is None or (isinstance(result, list) and not result)
                empty = empty or (isinstance(result, Page) and not result.items)
                tally[name, "empty" if empty else "value"] += 1

    asyncio.run(all_reads())
    return tally


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    """One loopback server for the module; each example scripts it afresh."""
    with HostileServer() as hostile:
        yield hostile


@dataclass(frozen=True)
class Target:
    """One backend as the fuzz drives it: what each path's answers look like, which role a
    request plays, and its reads."""

    roles: Mapping[str, st.SearchStrategy[Reply]]
    role_of: Callable[[Seen], str | None]
    reads: Callable[[HostileServer, net.AsyncClient], list[Read]]
    cap: int  # the listing cap the backend is built with (scaled down to stay fast)
    paged: frozenset[str] = frozenset()  # roles a reader pages through

    def run(self, server: HostileServer, script: Script) -> Tally:
        return _run(
            lambda client: self.reads(server, client),
            self.cap,
            lambda: _serve(server, script, self.role_of, self.paged),
        )


Case = tuple[Any, Script]
"""(what picks the target, e.g. a username, or None; the server's script)"""


def _fuzz(
    server: HostileServer,
    target_of: Callable[[Any], Target],
    cases: st.SearchStrategy[Case],
    report_figure: Callable[[str], None],
    *,
    examples: Iterable[Case] = (),
    max_examples: int | None = None,
    always_refused: Iterable[str] = (),
    must_reach: bool = True,
    measure_memory: bool = False,
) -> None:
    """Run the fuzz; then check every read (but ``always_refused``) returned something at
    least once, so the documents reach the conversion code and not only the parser."""
    tally: Tally = Counter()
    runs = 0

    def one_case(case: Case) -> None:
        nonlocal runs
        runs += 1
        choice, script = case
        tally.update(target_of(choice).run(server, script))

    fuzz = given(case=cases)(one_case)
    for case in examples:
        fuzz = example(case=case)(fuzz)
    started = time.monotonic()
    if measure_memory:  # tracemalloc triples the run time: only where asked
        tracemalloc.start()
    try:
        settings(FUZZ, max_examples=max_examples or FUZZ.max_examples)(fuzz)()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert peak < MEMORY_BOUND, f"peak {peak / MiB:.0f} MiB"
    memory = f", peak {peak / MiB:.0f} MiB" if measure_memory else ""
    reads = sorted({name for name, _ in tally})
    returned = {name: tally[name, "value"] for name in reads}
    if must_reach:
        never = [n for n in reads if not returned[n] and n not in set(always_refused)]
        assert not never, f"no example got a non-empty answer from {never}"
    errors = sum(count for (_, outcome), count in tally.items() if outcome == "error")
    report_figure(
        f"{runs} examples in {elapsed:.1f} s{memory}; "
        f"{sum(tally.values())} reads: "
        f"{sum(returned.values())} with items, {errors} typed errors"
    )


def _only(target: Target, **documents: Any) -> Case:
    """A hand-written case: these documents on their roles, an empty list on every other."""
    script = {role: [Reply(documents.get(role, []))] for role in target.roles}
    return None, script


def _cases(target: Target) -> st.SearchStrategy[Case]:
    return st.tuples(st.none(), _script(target.roles))


def _matcher(prefix: str, patterns: Mapping[str, str]) -> Callable[[Seen], str | None]:
    """The role of the first pattern matching the path after ``prefix``."""
    compiled = [(re.compile(pattern), role) for pattern, role in patterns.items()]

    def role_of(seen: Seen) -> str | None:
        if not seen.path.startswith(prefix):
            return None
        rest = seen.path[len(prefix) :]
        return next((role for pattern, role in compiled if pattern.fullmatch(rest)), None)

    return role_of


# -- Policy Manager (owner API of docs/owner-api.md) --------------------------------------

PM_SUBJECT = {
    "sub": "id",
    "username": "optional_text",
    "email": "optional_text",
    "name": "optional_text",
}
PM_RESOURCE = {
    "_id": "id",
    "name": "name",
    "resource_scopes": "scopes",
    "resource_server": "optional_text",
    "resource_server_name": "optional_text",
    "type": "optional_text",
    "description": "optional_text",
    "icon_uri": "optional_text",
    "owner": "optional_text",
    "share_count": "count",
}
PM_POLICY = {
    "_id": "id",
    "resource_id": "id",
    "resource_scopes": "scopes",
    "required_claims": [{"name": "text", "value": "text"}],
    "sub": "optional_text",
    "expires_at": "epoch",
    "created_at": "epoch",
    "subject": PM_SUBJECT,
    "audience": "optional_text",
}
PM_PENDING = {
    "_id": "id",
    "resource_id": "id",
    "resource_name": "optional_text",
    "resource_scopes": "scopes",
    "requester": PM_SUBJECT,
    "client_id": "optional_text",
    "requested_at": "epoch",
}
PM_SHARED = {
    "resource": PM_RESOURCE | {"resource_server": "text"},
    "owner": PM_SUBJECT,
    "resource_scopes": "scopes",
    "expires_at": "epoch",
}
PM_PAGE = policy_manager.PAGE_SIZE
PM_CAP = 2 * PM_PAGE


def _pm_reads(server: HostileServer, client: net.AsyncClient) -> list[Read]:
    document = server.metadata(
        shared_with_me_endpoint=f"{server.base}/swm", person_lookup_endpoint=f"{server.base}/who"
    )
    backend = PolicyManagerBackend(
        "fuzz", parse(document), client, CountingTokens(), max_items=PM_CAP
    )
    return [
        ("list_resources", backend.list_resources, list[Resource]),
        ("list_resources(filter)", lambda: backend.list_resources("r"), list[Resource]),
        ("list_shares", lambda: backend.list_shares("r1"), list[Share]),
        ("list_requests", backend.list_requests, list[AccessRequest]),
        ("shared_with_me", backend.shared_with_me, list[SharedWithMe]),
        ("find_person", lambda: backend.find_person("r1", "bob"), Party | None),
    ]


POLICY_MANAGER = Target(
    roles={
        "resources": _replies(
            st.one_of(
                *[_items(PM_RESOURCE, PM_PAGE)] * 4,
                st.lists(IDS, min_size=1, max_size=4),  # ids only: the server ignored ``expand``
                st.just([f"p{index}" for index in range(PM_PAGE)]),  # a full page of them
            ),
            paged=True,
        ),
        "resource": _replies(_object(PM_RESOURCE) | JSON_VALUES),
        "policies": _replies(_items(PM_POLICY)),
        "pending": _replies(_items(PM_PENDING)),
        "shared": _replies(_items(PM_SHARED)),
        "person": _replies(_object(PM_SUBJECT) | JSON_VALUES),
    },
    role_of=_matcher(
        "/",
        {
            "rreg/": "resources",
            "rreg/.+": "resource",
            "policy/": "policies",
            "pending/": "pending",
            "swm": "shared",
            "who": "person",
        },
    ),
    reads=_pm_reads,
    cap=PM_CAP,
    paged=frozenset({"resources"}),
)


def test_policy_manager_reads_of_hostile_answers(
    server: HostileServer, report_figure: Callable[[str], None]
) -> None:
    too_late = {"_id": "p1", "resource_id": "r1", "resource_scopes": ["read"], "sub": "bob"}
    overfull = [{"_id": f"p{index}", "name": "Report"} for index in range(PM_CAP + PM_PAGE)]
    examples = [
        _only(POLICY_MANAGER, resources=overfull),  # once listed beyond the cap
        # once an OverflowError: an integer time beyond a float's range
        _only(POLICY_MANAGER, policies=[too_late | {"expires_at": 10**400}]),
        _only(
            POLICY_MANAGER,
            pending=[{**too_late, "requester": {"sub": "bob"}} | {"requested_at": -(10**400)}],
        ),
    ]
    _fuzz(
        server,
        lambda _: POLICY_MANAGER,
        _cases(POLICY_MANAGER),
        report_figure,
        examples=examples,
        max_examples=50,
    )


# -- Keycloak account API -----------------------------------------------------------------

KC_PERSON = {
    "username": "text",
    "firstName": "optional_text",
    "lastName": "optional_text",
    "email": "optional_text",
}
KC_RESOURCE = {
    "_id": "id",
    "name": "text",
    "displayName": "optional_text",
    "type": "optional_text",
    "icon_uri": "optional_text",
    "scopes": [{"name": "text", "displayName": "optional_text"}],
    "client": {"clientId": "optional_text", "name": "optional_text"},
    "owner": KC_PERSON | {"id": "optional_text", "name": "optional_text"},
}
KC_PERMISSION = KC_PERSON | {"scopes": "scopes"}
KC_PAGE = keycloak.PAGE_SIZE
KC_CAP = 2 * KC_PAGE


def _kc_reads(server: HostileServer, client: net.AsyncClient) -> list[Read]:
    backend = KeycloakBackend(
        "fuzz", server.keycloak_issuer, client, CountingTokens(), max_items=KC_CAP
    )
    return [
        ("list_resources", backend.list_resources, list[Resource]),
        ("list_shares", lambda: backend.list_shares("r1"), list[Share]),
        ("list_requests", backend.list_requests, list[AccessRequest]),
        ("shared_with_me", backend.shared_with_me, list[SharedWithMe]),
        ("find_person", lambda: backend.find_person("r1", "bob"), Party | None),
    ]


KEYCLOAK = Target(
    roles={
        "resources": _replies(_items(KC_RESOURCE, KC_PAGE)),
        "shared": _replies(_items(KC_RESOURCE, KC_PAGE)),
        "granted": _replies(_items(KC_PERMISSION)),
        "pending": _replies(_items(KC_PERMISSION)),
        "user": _replies(_object(KC_PERSON | {"id": "optional_text"}) | JSON_VALUES),
    },
    role_of=_matcher(
        f"{KEYCLOAK_REALM}/account/resources",
        {
            "": "resources",
            "/shared-with-me": "shared",
            "/[^/]+/permissions": "granted",
            "/[^/]+/permissions/requests": "pending",
            "/[^/]+/user": "user",
        },
    ),
    reads=_kc_reads,
    cap=KC_CAP,
    paged=frozenset({"resources", "shared"}),
)


def test_keycloak_reads_of_hostile_answers(
    server: HostileServer, report_figure: Callable[[str], None]
) -> None:
    overfull = [{"_id": f"p{index}", "name": "Report"} for index in range(KC_CAP + KC_PAGE)]
    asking = [{"username": f"u{index}", "scopes": ["read"]} for index in range(3)]
    examples = [  # once listed beyond the cap: one page far longer than asked for
        _only(KEYCLOAK, resources=overfull),
        _only(KEYCLOAK, shared=overfull),
        # once beyond the cap too: a few requests on each of as many resources as the cap
        _only(KEYCLOAK, resources=overfull[:KC_CAP], pending=asking),
    ]
    _fuzz(
        server,
        lambda _: KEYCLOAK,
        _cases(KEYCLOAK),
        report_figure,
        examples=examples,
        max_examples=30,
    )


# -- ForgeRock AM family (CREST owner API) ------------------------------------------------

FR_RESOURCE_SET = {
    "_id": "id",
    "name": "name",
    "scopes": "scopes",
    "type": "optional_text",
    "icon_uri": "optional_text",
    "resourceServer": "optional_text",
    "resourceOwnerId": "optional_text",
    "labels": "scopes",
}
FR_LABEL = {"_id": "id", "name": "text", "type": "optional_text"}
FR_PENDING = {
    "_id": "id",
    "user": "text",
    "resource": "text",
    "when": "millis",
    "permissions": "scopes",
}
FR_POLICY = {"_id": "id", "permissions": [{"subject": "text", "scopes": "scopes"}]}
FR_AUDIT = {
    "resourceSetId": "optional_text",
    "resourceSetName": "optional_text",
    "requestingPartyId": "optional_text",
    "type": "optional_text",
    "eventTime": "millis",
}
FR_CAP = 3  # resource sets come in one body; a small cap shows it holds
CREST_PAGING = {
    "resultCount": "count",
    "pagedResultsCookie": "optional_text",
    "remainingPagedResults": "count",
    "totalPagedResults": "count",
}


def _query(schema: Mapping[str, Any]) -> st.SearchStrategy[Reply]:
    return _replies(_wrapped("result", _items(schema), **CREST_PAGING))


FR_REFUSED = ("shared_with_me", "find_person")  # no such owner endpoint in the AM family


def _fr_reads(server: HostileServer, client: net.AsyncClient, username: str | None) -> list[Read]:
    backend = ForgeRockBackend(
        "fuzz",
        f"{server.base}/am/oauth2",
        client,
        CountingTokens(),
        username=username,
        max_items=FR_CAP,
    )
    return [
        ("owner", backend.owner, str),
        ("list_resources", backend.list_resources, list[Resource]),
        ("list_resources(filter)", lambda: backend.list_resources("r"), list[Resource]),
        ("list_shares", lambda: backend.list_shares("r1"), list[Share]),
        ("list_requests", backend.list_requests, list[AccessRequest]),
        ("history", backend.history, list[Decision]),
        ("shared_with_me", backend.shared_with_me, list[SharedWithMe]),
        ("find_person", lambda: backend.find_person("r1", "bob"), Party | None),
    ]


FORGEROCK_ROLES = {
    "session": _replies(_object({"username": "text"}) | JSON_VALUES),
    "sets": _query(FR_RESOURCE_SET),
    "labelled": _query(FR_RESOURCE_SET),
    "labels": _query(FR_LABEL),
    "policy": _replies(_object(FR_POLICY) | JSON_VALUES),
    "pending": _query(FR_PENDING),
    "audit": _query(FR_AUDIT),
}
_FR_USER = "users/[^/]+/"
_fr_paths = _matcher(
    "/am/json/realms/root/",
    {
        "sessions": "session",
        _FR_USER + "oauth2/resources/sets": "sets",
        _FR_USER + "oauth2/resources/labels": "labels",
        _FR_USER + "uma/policies/[^/]+": "policy",
        _FR_USER + "uma/pendingrequests": "pending",
        _FR_USER + "uma/auditHistory": "audit",
    },
)


def _fr_role(seen: Seen) -> str | None:
    role = _fr_paths(seen)
    return "labelled" if role == "sets" and "_queryFilter" in seen.query else role


def _forgerock(username: str | None) -> Target:
    return Target(
        roles=FORGEROCK_ROLES,
        role_of=_fr_role,
        reads=lambda server, client: _fr_reads(server, client, username),
        cap=FR_CAP,
    )


def test_forgerock_reads_of_hostile_answers(
    server: HostileServer, report_figure: Callable[[str], None]
) -> None:
    usernames = st.sampled_from([None, "alice", "a/b c"])  # None: asks the session's owner
    cases = st.tuples(usernames, _script(FORGEROCK_ROLES))
    _fuzz(server, _forgerock, cases, report_figure, always_refused=FR_REFUSED)


# -- support adapters (a resource server's view) ------------------------------------------

SK_RESOURCE = {
    "_id": "id",
    "name": "text",
    "displayName": "optional_text",
    "owner": {"id": "id", "name": "optional_text"},
    "scopes": [{"name": "text"}],
}
SK_TICKET = {
    "id": "id",
    "owner": "id",
    "ownerName": "optional_text",
    "resource": "id",
    "resourceName": "optional_text",
    "scopeName": "optional_text",
    "requester": "id",
    "requesterName": "optional_text",
    "granted": "bool",
}
SK_USER = {
    "id": "id",
    "username": "text",
    "email": "optional_text",
    "firstName": "optional_text",
    "lastName": "optional_text",
}


def _support_reads(backend: Any) -> list[Read]:
    return [
        ("find_person", lambda: backend.find_person("bob"), PersonLookup),
        ("find_person(e-mail)", lambda: backend.find_person("bob@example.org"), PersonLookup),
        ("resources", lambda: backend.resources(owner="alice"), Page),
        ("resources(name)", lambda: backend.resources(owner=None, name="r", offset=5), Page),
        ("grants", lambda: backend.grants(), Page),
        ("grants(resource)", lambda: backend.grants(resource_id="r1", owner="alice"), Page),
    ]


SUPPORT_KEYCLOAK = Target(
    roles={
        "resources": _replies(_items(SK_RESOURCE)),
        "resource": _replies(_object(SK_RESOURCE) | JSON_VALUES),
        "tickets": _replies(_items(SK_TICKET)),
        "users": _replies(_items(SK_USER)),
    },
    role_of=_matcher(
        "/",
        {
            f"{KEYCLOAK_REALM[1:]}/authz/protection/resource_set": "resources",
            f"{KEYCLOAK_REALM[1:]}/authz/protection/resource_set/[^/]+": "resource",
            f"{KEYCLOAK_REALM[1:]}/authz/protection/permission/ticket": "tickets",
            f"admin{KEYCLOAK_REALM}/users": "users",
        },
    ),
    reads=lambda server, client: _support_reads(
        KeycloakSupportBackend(server.keycloak_issuer, client, CountingTokens())
    ),
    cap=MAX_LISTED_ITEMS,
)


def test_keycloak_support_reads_of_hostile_answers(
    server: HostileServer, report_figure: Callable[[str], None]
) -> None:
    _fuzz(server, lambda _: SUPPORT_KEYCLOAK, _cases(SUPPORT_KEYCLOAK), report_figure)


SS_PERSON = PM_SUBJECT
SS_RESOURCE = {
    "_id": "id",
    "name": "optional_text",
    "resource_scopes": "scopes",
    "owner": SS_PERSON,
}
SS_GRANT = {
    "_id": "id",
    "status": "status",
    "resource_id": "id",
    "resource_name": "optional_text",
    "resource_all_scopes": "scopes",
    "owner": SS_PERSON,
    "person": SS_PERSON,
    "resource_scopes": "scopes",
    "since": "epoch",
    "expires_at": "epoch",
    "decided_at": "epoch",
    "client_id": "optional_text",
}
SUPPORT_SANDBOX = Target(
    roles={
        "person": _replies(_object(SS_PERSON) | JSON_VALUES),
        "resources": _replies(_wrapped("items", _items(SS_RESOURCE), next_offset="count")),
        "grants": _replies(_wrapped("items", _items(SS_GRANT), next_offset="count")),
    },
    role_of=_matcher(
        "/support/", {"people": "person", "resources": "resources", "grants": "grants"}
    ),
    reads=lambda server, client: _support_reads(
        SandboxSupportBackend(f"{server.base}/support", client, CountingTokens())
    ),
    cap=MAX_LISTED_ITEMS,
)


def test_sandbox_support_reads_of_hostile_answers(
    server: HostileServer, report_figure: Callable[[str], None]
) -> None:
    grant = {
        "_id": "g1",
        "status": "granted",
        "resource_id": "r1",
        "owner": {"sub": "al"},
        "person": {"sub": "bob"},
    }
    examples = [  # once an OverflowError, a ValueError: times no datetime holds
        _only(SUPPORT_SANDBOX, grants={"items": [grant | {"since": 1e308}]}),
        _only(SUPPORT_SANDBOX, grants={"items": [grant | {"expires_at": float("nan")}]}),
    ]
    _fuzz(
        server, lambda _: SUPPORT_SANDBOX, _cases(SUPPORT_SANDBOX), report_figure, examples=examples
    )


# -- fully arbitrary JSON on every path ---------------------------------------------------

TARGETS = {
    "policy-manager": POLICY_MANAGER,
    "keycloak": KEYCLOAK,
    "forgerock": _forgerock(None),
    "support-keycloak": SUPPORT_KEYCLOAK,
    "support-sandbox": SUPPORT_SANDBOX,
}
ANYTHING = _replies(VALUES)


@pytest.mark.parametrize("name", list(TARGETS))
def test_reads_of_arbitrary_json(
    server: HostileServer, name: str, report_figure: Callable[[str], None]
) -> None:
    target = TARGETS[name]
    scripts = _script(dict.fromkeys(target.roles, ANYTHING))
    cases = st.tuples(st.none(), scripts)
    _fuzz(
        server,
        lambda _: target,
        cases,
        report_figure,
        max_examples=15,
        must_reach=False,
        measure_memory=True,
    )
