"""Property-based fuzz of every parser of server answers: whatever a hostile server sends
(wrong types, huge or non-finite numbers, deep nesting, long or odd text, odd headers), the
parsers either return a usable value or raise one of the app's typed errors — never another
exception, never a hang."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from uma_desktop import net
from uma_desktop.errors import UmaDesktopError
from uma_desktop.oauth import discovery, idtoken, login
from uma_desktop.oauth.tokens import token_set_from
from uma_desktop.uma import errors, metadata, owner, permissions, resources, tokens

FUZZ = settings(
    max_examples=200,
    deadline=5000,  # ms per example: a parser that takes this long is a hang in the making
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: a failure reproduces
    database=None,
)
pytestmark = pytest.mark.timeout(120)

# JSON values as json.loads produces them ---------------------------------------------------

HUGE_INTEGERS = st.sampled_from(
    [2**63, -(2**63) - 1, 10**30, -(10**30), 10**300, 2**1023 * 3, 10**4000]
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e308, -1e308, 5e-324, 1.5, -0.0]
)
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\x1b[2J",
        "\u202e",
        "\ud7ff",
        "\ud800",
        "é",
        "😀",
        "\u0085",
        "UMA ",
        "Bearer",
        "https://",
        "http://[::1",
        "http://127.0.0.1:99999/",
        "file:///etc/passwd",
    ]
) | st.builds(
    lambda char, n: char * n, st.sampled_from("x\x00é😀\u202e"), st.integers(10_000, 100_000)
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INTEGERS
    | FLOATS
    | st.text(max_size=40)
    | ODD_TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | ODD_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def _nested(depth: int, leaf: Any) -> Any:
    """``leaf`` inside ``depth`` arrays, as json.loads would build it (below its limit)."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


DEEP = st.builds(_nested, st.integers(100, 900), SCALARS)
SMALL_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
LONG_LISTS = st.builds(lambda item, n: [item] * n, SMALL_SCALARS, st.integers(1000, 20_000))
VALUES = JSON_VALUES | DEEP | LONG_LISTS


def documents(model: type[msgspec.Struct], valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A ``valid`` document with some fields dropped or replaced by anything; objects with any
    subset of ``model``'s fields, each of any type; and sometimes not an object at all."""
    names = [field.encode_name for field in msgspec.structs.fields(model)]
    replaced = st.fixed_dictionaries({}, optional={name: VALUES for name in names})
    dropped = st.sets(st.sampled_from(sorted(valid)))
    near_valid = st.builds(
        lambda changes, drop: {k: v for k, v in {**valid, **changes}.items() if k not in drop},
        replaced,
        dropped,
    )
    anything = st.fixed_dictionaries(
        {}, optional={name: VALUES for name in names} | {"_extra": VALUES}
    )
    return near_valid | anything | JSON_VALUES


LATER = 2_000_000_000
EARLIER = 1_700_000_000
VALID_METADATA = {
    "issuer": "https://as",
    "authorization_endpoint": "https://as/authorize",
    "token_endpoint": "https://as/token",
    "jwks_uri": "https://as/jwks",
    "permission_endpoint": "https://as/permissions",
    "resource_registration_endpoint": "https://as/resources",
    "code_challenge_methods_supported": ["S256"],
    "grant_types_supported": ["authorization_code"],
}
VALID_RESOURCE = {
    "_id": "r1",
    "resource_scopes": ["view"],
    "name": "Photo",
    "resource_server": "rs",
}
VALID_PERMISSION = {"resource_id": "r1", "resource_scopes": ["view"], "exp": LATER}
VALID_INTROSPECTION = {"active": True, "exp": LATER, "permissions": [VALID_PERMISSION]}
VALID_TOKENS = {
    "access_token": "at-1",
    "token_type": "Bearer",
    "expires_in": 300,
    "refresh_token": "rt-1",
    "scope": "openid uma_policy_manager",
}
VALID_DEVICE = {
    "device_code": "dc-1",
    "user_code": "BCDF-GHJK",
    "verification_uri": "https://as/device",
    "expires_in": 600,
    "interval": 5,
}
VALID_ERROR = {"error": "need_info", "error_description": "Who?", "ticket": "t", "interval": 5}


def check_typed(parse: Callable[[], Any], *, short_message: bool = True) -> Any:
    """Run ``parse``; only the app's typed errors may come out, with a short message."""
    try:
        return parse()
    except UmaDesktopError as exc:
        assert str(exc), "a typed error without a message"
        if short_message:
            assert len(str(exc)) <= 2000, f"a {len(str(exc))}-character message"
        return None


# uma/ wire models ----------------------------------------------------------------------------


@settings(FUZZ, max_examples=100)  # two documents and a URL check per field: the costly one
@given(
    documents(metadata.AuthorizationServerMetadata, VALID_METADATA),
    documents(metadata.AuthorizationServerMetadata, VALID_METADATA),
)
def test_discovery_documents(first: Any, second: Any) -> None:
    doc = check_typed(lambda: metadata.parse(first))
    other = check_typed(lambda: metadata.parse(second))
    if doc is None:
        return
    for name in discovery.ENDPOINT_FIELDS:
        value = getattr(doc, name)
        assert value is None or isinstance(value, str)
    _ = (doc.supports_pkce_s256, doc.supports_uma_grant, doc.supports_device_grant)
    _ = (doc.is_policy_manager, doc.requires_iss_in_response)
    check_typed(lambda: discovery.validate_metadata(doc, doc.issuer), short_message=False)
    check_typed(
        lambda: discovery.validate_metadata(doc, doc.issuer, require_uma=False),
        short_message=False,
    )
    if other is not None:
        check_typed(lambda: metadata.merge(doc, other))


@FUZZ
@given(documents(resources.RegisteredResource, VALID_RESOURCE))
def test_resource_descriptions(data: Any) -> None:
    described = check_typed(lambda: resources.parse_resource(data))
    if described is not None:
        assert all(isinstance(scope, str) for scope in described.resource_scopes)
        json.dumps(described.wire())
    registered = check_typed(lambda: resources.parse_registered_resource(data))
    if registered is not None:
        assert isinstance(registered.id, str) and isinstance(registered.resource_server, str)


@FUZZ
@given(
    documents(permissions.Introspection, VALID_INTROSPECTION),
    documents(permissions.Permission, VALID_PERMISSION),
    FLOATS,
)
def test_tickets_and_introspection(data: Any, permission: Any, now: float) -> None:
    check_typed(lambda: permissions.parse_ticket(data))
    introspection = check_typed(
        lambda: permissions.parse_introspection(
            {**data, "permissions": [permission]} if isinstance(data, dict) else data
        )
    )
    if introspection is None:
        return
    moment = now if math.isfinite(now) else None
    for granted in introspection.effective_permissions(moment):
        assert isinstance(granted.resource_id, str)
        introspection.scopes_for(granted.resource_id, moment)


AUTH_PARAM_NAMES = st.sampled_from(["as_uri", "ticket", "realm", "AS_URI", "x", "error", ""])
AUTH_PARAM_VALUES = (
    st.text(max_size=30)
    | ODD_TEXT
    | st.text(max_size=30).map(lambda text: '"' + text + '"')
    | st.just('"unterminated')
    | st.just('"esc\\"aped\\\\"')
)
AUTH_PARAMS = st.lists(
    st.tuples(AUTH_PARAM_NAMES, st.sampled_from(["=", " = ", "==", ""]), AUTH_PARAM_VALUES),
    max_size=6,
).map(lambda params: ", ".join(f"{n}{eq}{v}" for n, eq, v in params))
CHALLENGES = (
    st.tuples(st.sampled_from(["UMA ", "uma ", "UMA", " UMA  ", "Bearer ", ""]), AUTH_PARAMS).map(
        "".join
    )
    | st.text(max_size=200)
    | ODD_TEXT
    | st.integers(1, 20_000).map(lambda n: "UMA " + 'a="' * n)
    | st.integers(1, 20_000).map(lambda n: "UMA " + "a=b," * n)
    | st.integers(1, 20_000).map(lambda n: 'UMA ticket="' + "\\" * n)
    | st.none()
)


@FUZZ
@given(CHALLENGES)
def test_www_authenticate_uma_header(header: str | None) -> None:
    started = time.perf_counter()
    challenge = permissions.parse_www_authenticate(header)
    assert time.perf_counter() - started < 1.0, "the header parser backtracks"
    if challenge is not None:
        assert isinstance(challenge.as_uri, str) and isinstance(challenge.ticket, str)
        assert challenge.header_value().startswith("UMA ")


@FUZZ
@given(documents(tokens.TokenResponse, VALID_TOKENS))
@example(VALID_TOKENS | {"expires_in": 10**400})  # once an OverflowError building the TokenSet
@example(VALID_TOKENS | {"access_token": "at\x00\né"})  # unusable in an Authorization header
def test_token_responses(data: Any) -> None:
    response = check_typed(lambda: tokens.parse_token_response(data))
    if response is None:
        return
    assert response.access_token and all(isinstance(s, str) for s in response.scopes)
    for token in (response.access_token, response.refresh_token, response.id_token):
        assert token is None or (token.isascii() and token.isprintable())
    token_set = check_typed(
        lambda: token_set_from(response, None, requested_at=time.time()), short_message=False
    )
    if token_set is not None:
        assert token_set.expires_at is None or math.isfinite(token_set.expires_at)
        token_set.expires_within(60)
        assert response.access_token not in repr(token_set)


@FUZZ
@given(documents(tokens.DeviceAuthorization, VALID_DEVICE))
@example(VALID_DEVICE | {"interval": 10**400})  # once an OverflowError, or a wait of ages
@example(VALID_DEVICE | {"expires_in": -5, "interval": -1})
def test_device_authorization_responses(data: Any) -> None:
    grant = check_typed(lambda: tokens.parse_device_authorization(data))
    if grant is None:
        return
    # What the device login computes from it: a finite deadline and a bounded pause.
    assert 0 <= grant.interval <= tokens.MAX_DEVICE_INTERVAL
    assert 0 <= grant.expires_in <= tokens.MAX_DEVICE_CODE_LIFETIME
    assert math.isfinite(time.time() + grant.expires_in + float(grant.interval))


OWNER_PARSERS: list[tuple[type[msgspec.Struct], Callable[[Any], Any], dict[str, Any]]] = [
    (
        owner.PolicyDescription,
        owner.parse_policy,
        {"_id": "p1", "resource_id": "r1", "resource_scopes": ["view"], "sub": "bob"}
        | {"expires_at": LATER, "created_at": EARLIER},
    ),
    (
        owner.PendingRequest,
        owner.parse_pending_request,
        {"_id": "q1", "resource_id": "r1", "resource_scopes": ["view"]}
        | {"requester": {"sub": "bob"}, "requested_at": EARLIER},
    ),
    (
        owner.HistoryEntry,
        owner.parse_history_entry,
        {"_id": "h1", "at": EARLIER, "action": "approve", "resource_id": "r1"},
    ),
    (
        owner.SharedWithMeEntry,
        owner.parse_shared_with_me,
        {"resource": VALID_RESOURCE, "owner": {"sub": "alice"}, "expires_at": LATER},
    ),
    (owner.Subject, owner.parse_subject, {"sub": "bob", "username": "bob"}),
]


@FUZZ
@given(st.data())
def test_owner_api_objects(data: st.DataObject) -> None:
    model, parse, valid = data.draw(st.sampled_from(OWNER_PARSERS))
    parsed = check_typed(lambda: parse(data.draw(documents(model, valid))))
    if parsed is None:
        return
    for name in ("expires_at", "created_at", "requested_at", "at"):
        moment = getattr(parsed, name, None)
        assert moment is None or math.isfinite(moment), f"{name} is {moment}"


ERROR_TEXTS = (
    st.binary(max_size=200)
    | st.text(max_size=200)
    | st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n)
    | st.integers(1, 200_000).map(lambda n: '{"error":' * n)
    | st.builds(json.dumps, JSON_VALUES)
)


@FUZZ
@given(ERROR_TEXTS | documents(errors.ErrorBody, VALID_ERROR), st.none() | st.integers(100, 599))
def test_error_bodies(content: Any, status: int | None) -> None:
    body = errors.parse_error_body(content)  # None when it is not an error body; never raises
    if body is None:
        return
    _ = body.code
    refused = errors.UmaError(body, status=status)
    assert isinstance(refused, UmaDesktopError) and str(refused)
    assert len(str(refused)) <= len(body.error) + errors.MAX_DESCRIPTION_CHARS + 100


CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "", "x/y+json"]
)


@FUZZ
@given(ERROR_TEXTS, CONTENT_TYPES, st.integers(100, 599))
@example(b"[" * 100_000, "application/json", 400)  # once a RecursionError
@example(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", 200)
@example(b'{"truncated', "application/json", 200)
def test_bodies_through_the_transport(content: Any, content_type: str, status: int) -> None:
    """net's body parsers, which every answer above passes through first."""
    raw = content if isinstance(content, bytes) else str(content).encode("utf-8", "surrogatepass")
    answer = httpx.Response(status, content=raw, headers={"content-type": content_type})
    check_typed(lambda: net.json_body(answer, "answer"))
    check_typed(lambda: net.raise_for_error(answer, "the request"), short_message=False)
    check_typed(lambda: net.parse(answer, net.decoder(list[owner.Subject]), "listing"))
    check_typed(lambda: net.parse(answer, OBJECTS, "object"))


OBJECTS = net.decoder(dict[str, Any])


# oauth/ parsers --------------------------------------------------------------------------------

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _finite(value: Any) -> Any:
    """``value`` without NaN/infinity (a signing library refuses to encode them)."""
    text = json.dumps(value, allow_nan=True).replace("NaN", "0").replace("Infinity", "0")
    return json.loads(text)


def _signed_token(claims: Any, header: Any) -> str:
    """A token signed with the listed key; claims the signing library refuses to encode
    (e.g. a non-text issuer) are sent unsigned instead."""
    try:
        return jwt.encode(
            _finite(claims), _KEY, algorithm="RS256", headers={**_finite(header), "kid": "k1"}
        )
    except (TypeError, ValueError):
        return _unverified_token(header, claims)


CALLBACK_VALUES = st.text(max_size=40) | ODD_TEXT | st.just("state-1") | st.just("https://as")


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["state", "iss", "code", "error", "error_description", "x"]),
        CALLBACK_VALUES,
    ),
    st.booleans(),
)
def test_authorization_callbacks(params: dict[str, str], iss_required: bool) -> None:
    code = check_typed(
        lambda: login.check_callback(
            params, state="state-1", issuer="https://as", iss_required=iss_required
        ),
        short_message=False,
    )
    if code is not None:
        assert code == params["code"] and params["state"] == "state-1"


def _jwk_members() -> st.SearchStrategy[Any]:
    """A real public key with some members replaced, or any subset of members."""
    real = json.loads(RSAAlgorithm.to_jwk(_KEY.public_key()))
    names = ("kty", "kid", "use", "alg", "n", "e", "crv", "x", "y")
    changed = st.fixed_dictionaries({}, optional={name: VALUES for name in names})
    return changed | changed.map(lambda overrides: {**real, **overrides})


@FUZZ
@given(
    st.fixed_dictionaries({}, optional={"keys": st.lists(_jwk_members(), max_size=3) | VALUES})
    | JSON_VALUES,
    st.none() | st.text(max_size=10),
    st.sampled_from(idtoken.ALLOWED_ALGORITHMS),
)
def test_jwks_documents(data: Any, kid: str | None, alg: str) -> None:
    key_set = check_typed(lambda: idtoken.parse_jwks(data))
    if key_set is not None:
        idtoken._pick_key(key_set, kid, alg)


CLAIM_VALUES = VALUES | st.just("https://as") | st.just("uma-desktop") | st.just("nonce-1")
CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        name: CLAIM_VALUES
        for name in (
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "nbf",
            "nonce",
            "preferred_username",
            "email",
            "name",
        )
    },
)
HEADERS = st.fixed_dictionaries({}, optional={"kid": VALUES, "typ": VALUES, "crit": VALUES})


def _unverified_token(header: Any, claims: Any) -> str:
    def part(value: Any) -> str:
        encoded = json.dumps(value, allow_nan=True).encode()
        return jwt.utils.base64url_encode(encoded).decode()

    return f"{part(header)}.{part(claims)}.{jwt.utils.base64url_encode(b'sig').decode()}"


ID_TOKENS = (
    st.builds(
        _signed_token,
        CLAIMS,
        HEADERS.map(lambda header: {k: v for k, v in header.items() if k != "crit"}),
    )
    | st.builds(_unverified_token, JSON_VALUES | HEADERS, JSON_VALUES | CLAIMS)
    | st.text(max_size=300)
    | ODD_TEXT
)


@pytest.fixture(scope="module")
def unreachable_jwks() -> Iterator[tuple[asyncio.Runner, net.AsyncClient]]:
    """One event loop and HTTP client for all examples (a client per example is slow)."""
    with asyncio.Runner() as runner:
        client = net.async_client(actor="fuzz")
        yield runner, client
        runner.run(client.aclose())


@FUZZ
@given(ID_TOKENS, st.none() | st.just("nonce-1") | st.text(max_size=10))
def test_id_tokens(
    unreachable_jwks: tuple[asyncio.Runner, net.AsyncClient], token: str, nonce: str | None
) -> None:
    runner, client = unreachable_jwks
    verifier = idtoken.IdTokenVerifier(
        metadata.AuthorizationServerMetadata(
            issuer="https://as", jwks_uri="http://127.0.0.1:9/jwks"
        ),
        "uma-desktop",
    )
    public = json.loads(RSAAlgorithm.to_jwk(_KEY.public_key()))
    verifier._jwks = idtoken.parse_jwks({"keys": [{**public, "kid": "k1", "use": "sig"}]})
    # An unknown key id makes the verifier fetch the key set again: nobody listens on port 9
    # of the loopback, so that ends in a typed "unreachable" error.
    verified = check_typed(lambda: runner.run(verifier.verify(client, token, nonce=nonce)))
    if verified is not None:
        identity, _ = verified
        assert identity.issuer == "https://as" and isinstance(identity.subject, str)
    stored = idtoken.stored_identity(token)
    assert stored is None or isinstance(stored.label, str)
