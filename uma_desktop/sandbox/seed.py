"""The demo seed: people, clients, three resource servers with alice's resources, a few
shares and one pending request, so every screen of the app has something to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uma_desktop.sandbox.core import POLICY_MANAGER, UMA_PROTECTION, Sandbox
from uma_desktop.sandbox.crypto import hash_password
from uma_desktop.sandbox.store import digest, dumps, new_id, new_secret
from uma_desktop.uma.metadata import DEVICE_CODE_GRANT, UMA_TICKET_GRANT

LOOPBACK_CALLBACK = "http://127.0.0.1/callback"
LOOPBACK_CALLBACK_V6 = "http://[::1]/callback"
APP_CLIENT_ID = "uma-desktop"
RQP_CLIENT_ID = "rqp-app"
RQP_PUBLIC_CLIENT_ID = "rqp-native"
RQP_CLAIMS_REDIRECT = "http://127.0.0.1/claims-callback"


@dataclass(frozen=True)
class DemoUser:
    username: str
    name: str

    @property
    def password(self) -> str:
        return self.username

    @property
    def email(self) -> str:
        return f"{self.username}@example.test"


DEMO_USERS = (
    DemoUser("alice", "Alice Adams"),
    DemoUser("bob", "Bob Brown"),
    DemoUser("carol", "Carol Clark"),
    DemoUser("dave", "Dave Davis"),
    DemoUser("erin", "Erin Evans"),
)


@dataclass(frozen=True)
class DemoResource:
    name: str
    type: str
    description: str
    scopes: tuple[str, ...]
    content: dict[str, Any]
    owner: str = "alice"


@dataclass(frozen=True)
class DemoResourceServer:
    key: str  # URL segment: /rs/<key>
    name: str
    read_scope: str  # what a plain GET needs
    scopes: tuple[str, ...]
    resources: tuple[DemoResource, ...] = field(default_factory=tuple)

    @property
    def client_id(self) -> str:
        return f"rs-{self.key}"


PHOTO_SCOPES = ("view", "download", "comment")
HEALTH_SCOPES = ("read", "write", "share")
CALENDAR_SCOPES = ("read", "write", "free-busy")

DEMO_RESOURCE_SERVERS = (
    DemoResourceServer(
        key="photos",
        name="Photo Cloud",
        read_scope="view",
        scopes=PHOTO_SCOPES,
        resources=(
            DemoResource(
                "Holiday 2026",
                "photo-album",
                "Pictures from the summer trip.",
                PHOTO_SCOPES,
                {"photos": ["beach.jpg", "harbour.jpg", "sunset.jpg"]},
            ),
            DemoResource(
                "Family portraits",
                "photo-album",
                "Portraits taken at home.",
                PHOTO_SCOPES,
                {"photos": ["grandma.jpg", "kids.jpg"]},
            ),
            DemoResource(
                "Cat pictures",
                "photo-album",
                "Mostly the cat sleeping.",
                ("view", "download"),
                {"photos": ["cat-1.jpg", "cat-2.jpg"]},
            ),
        ),
    ),
    DemoResourceServer(
        key="health",
        name="Health Records",
        read_scope="read",
        scopes=HEALTH_SCOPES,
        resources=(
            DemoResource(
                "Blood tests 2026",
                "lab-results",
                "Results of the yearly check-up.",
                HEALTH_SCOPES,
                {"haemoglobin_g_dl": 14.1, "cholesterol_mmol_l": 4.6},
            ),
            DemoResource(
                "Vaccination record",
                "immunizations",
                "All vaccinations since childhood.",
                ("read", "share"),
                {"vaccines": ["MMR", "Tetanus 2024", "Influenza 2025"]},
            ),
            DemoResource(
                "Allergies",
                "allergy-list",
                "Known allergies.",
                ("read", "write"),
                {"allergies": ["penicillin"]},
            ),
            DemoResource(
                "Running log",
                "activity-log",
                "Bob's weekly runs.",
                ("read",),
                {"runs_km": [5, 8, 10]},
                owner="bob",
            ),
        ),
    ),
    DemoResourceServer(
        key="calendar",
        name="Calendar",
        read_scope="read",
        scopes=CALENDAR_SCOPES,
        resources=(
            DemoResource(
                "Work calendar",
                "calendar",
                "Meetings and deadlines.",
                CALENDAR_SCOPES,
                {"events": ["Planning, Monday 10:00", "Review, Thursday 14:00"]},
            ),
            DemoResource(
                "Family calendar",
                "calendar",
                "Birthdays and school events.",
                CALENDAR_SCOPES,
                {"events": ["Carol's birthday, 12 May"]},
            ),
        ),
    ),
)


# Which demo resource servers a sandbox hosts: everything, or one demo server's share of it
# (demo mode runs "Health" and "Photos" side by side, so no resource shows twice).
SEED_PROFILES: dict[str, tuple[str, ...]] = {
    "full": ("photos", "health", "calendar"),
    "health": ("health",),
    "photos": ("photos", "calendar"),
}
DEMO_SHARES = (
    ("Family portraits", "bob", ("view",)),
    ("Work calendar", "carol", ("free-busy",)),
    ("Running log", "alice", ("read",)),
)
DEMO_PENDING = (("Blood tests 2026", "carol", ("read",)),)
# So that each demo server's inbox has a request waiting.
PROFILE_PENDING = {"photos": (("Holiday 2026", "dave", ("view",)),)}
# Tables that hold what the owner and requesting parties did (cleared by a reset).
DATA_TABLES = ("policies", "denials", "pending", "history", "tickets", "pcts", "resources")


def profile_servers(profile: str) -> tuple[DemoResourceServer, ...]:
    if profile not in SEED_PROFILES:
        raise ValueError(f"unknown seed profile {profile!r}")
    keys = SEED_PROFILES[profile]
    return tuple(rs for rs in DEMO_RESOURCE_SERVERS if rs.key in keys)


def _client_row(
    client_id: str,
    name: str,
    *,
    secret: str | None,
    kind: str,
    redirect_uris: list[str],
    grant_types: list[str],
    scopes: list[str],
    claims_redirect_uris: list[str] | None = None,
    rs_name: str | None = None,
) -> tuple[Any, ...]:
    return (
        client_id,
        name,
        secret,
        kind,
        dumps(redirect_uris),
        dumps(claims_redirect_uris or []),
        dumps(grant_types),
        dumps(scopes),
        rs_name,
    )


def is_seeded(sandbox: Sandbox) -> bool:
    return sandbox.store.get_meta("seeded") is not None


def seed(sandbox: Sandbox, profile: str = "full") -> None:
    """Insert the demo data once (a data file that was seeded before is left alone)."""
    store = sandbox.store
    if is_seeded(sandbox):
        return
    servers = profile_servers(profile)
    now = sandbox.now()
    subs = {user.username: new_id("user") for user in DEMO_USERS}
    with store.transaction():
        store.executemany(
            "INSERT INTO users (sub, username, email, name, password_hash) VALUES (?, ?, ?, ?, ?)",
            [
                (subs[u.username], u.username, u.email, u.name, hash_password(u.password))
                for u in DEMO_USERS
            ],
        )
        clients = [
            _client_row(
                APP_CLIENT_ID,
                "UMA Desktop",
                secret=None,
                kind="app",
                redirect_uris=[LOOPBACK_CALLBACK, LOOPBACK_CALLBACK_V6],
                grant_types=["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
                scopes=["openid", "profile", "email", "offline_access", POLICY_MANAGER],
            ),
            _client_row(
                RQP_CLIENT_ID,
                "Requesting-party app",
                secret=new_secret(18),
                kind="rqp",
                redirect_uris=[LOOPBACK_CALLBACK],
                claims_redirect_uris=[RQP_CLAIMS_REDIRECT],
                grant_types=[
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    UMA_TICKET_GRANT,
                ],
                scopes=["openid", "profile", "email"],
            ),
            _client_row(
                RQP_PUBLIC_CLIENT_ID,
                "Requesting-party native app",
                secret=None,
                kind="rqp",
                redirect_uris=[LOOPBACK_CALLBACK],
                claims_redirect_uris=[RQP_CLAIMS_REDIRECT],
                grant_types=["authorization_code", "refresh_token", UMA_TICKET_GRANT],
                scopes=["openid", "profile", "email"],
            ),
        ]
        for rs in servers:
            clients.append(
                _client_row(
                    rs.client_id,
                    rs.name,
                    secret=new_secret(18),
                    kind="rs",
                    redirect_uris=[LOOPBACK_CALLBACK],
                    # client_credentials: the RS's own token for the support API
                    grant_types=["authorization_code", "refresh_token", "client_credentials"],
                    scopes=["openid", "profile", UMA_PROTECTION],
                    rs_name=rs.key,
                )
            )
        store.executemany(
            "INSERT INTO clients (client_id, name, secret, kind, redirect_uris, "
            "claims_redirect_uris, grant_types, scopes, rs_name) VALUES (?,?,?,?,?,?,?,?,?)",
            clients,
        )
        for rs in servers:
            # The owners "authorized" each demo RS once: the RS keeps a refresh token for its PAT.
            for owner in ("alice", "bob"):
                refresh = "rt-" + new_secret()
                store.execute(
                    "INSERT INTO refresh_tokens (hash, family, client_id, sub, scope, exp, "
                    "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        digest(refresh),
                        new_id("fam"),
                        rs.client_id,
                        subs[owner],
                        UMA_PROTECTION,
                        now + 10 * 365 * 24 * 3600,
                        now,
                    ),
                )
                store.execute(
                    "INSERT INTO demo_rs_grants (rs_client_id, owner_sub, refresh_token) "
                    "VALUES (?, ?, ?)",
                    (rs.client_id, subs[owner], refresh),
                )
        _seed_data(sandbox, profile, subs)
        store.set_meta("seed_profile", profile)
        store.set_meta("seeded", str(int(now)))


def _seed_data(sandbox: Sandbox, profile: str, subs: dict[str, str]) -> None:
    """The profile's resources with the demo shares and pending requests among them."""
    servers = profile_servers(profile)
    store = sandbox.store
    now = sandbox.now()
    resource_ids: dict[str, str] = {}
    for rs in servers:
        for resource in rs.resources:
            resource_id = new_id("res")
            resource_ids[resource.name] = resource_id
            store.execute(
                "INSERT INTO resources (id, owner_sub, rs_client_id, name, type, description, "
                "scopes, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    resource_id,
                    subs[resource.owner],
                    rs.client_id,
                    resource.name,
                    resource.type,
                    resource.description,
                    dumps(list(resource.scopes)),
                    dumps(resource.content),
                    now,
                ),
            )
    for resource_name, person, scopes in DEMO_SHARES:
        if resource_name in resource_ids:
            store.execute(
                "INSERT INTO policies (id, resource_id, sub, scopes, expires_at, created_at) "
                "VALUES (?, ?, ?, ?, NULL, ?)",
                (new_id("pol"), resource_ids[resource_name], subs[person], dumps(scopes), now),
            )
    for resource_name, person, scopes in (*DEMO_PENDING, *PROFILE_PENDING.get(profile, ())):
        if resource_name not in resource_ids:
            continue
        store.execute(
            "INSERT INTO pending (id, resource_id, owner_sub, requester_sub, client_id, scopes, "
            "requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                new_id("req"),
                resource_ids[resource_name],
                subs["alice"],
                subs[person],
                RQP_CLIENT_ID,
                dumps(list(scopes)),
                now,
            ),
        )


def reset_data(sandbox: Sandbox, profile: str | None = None) -> None:
    """Put resources, shares and requests back as seeded; people, clients and sign-ins stay
    (an app signed in keeps working). Every RPT, PCT and ticket handed out is void."""
    store = sandbox.store
    profile = profile or store.get_meta("seed_profile") or "full"
    profile_servers(profile)  # an unknown profile fails before anything is deleted
    subs = {row["username"]: row["sub"] for row in store.all("SELECT sub, username FROM users")}
    with store.transaction():
        for table in DATA_TABLES:
            store.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        store.execute("UPDATE access_tokens SET revoked = 1 WHERE kind = 'rpt'")
        store.execute("UPDATE refresh_tokens SET revoked = 1 WHERE permissions IS NOT NULL")
        _seed_data(sandbox, profile, subs)
        store.set_meta("seed_profile", profile)


def seed_bulk_resources(
    sandbox: Sandbox, *, owner: str = "alice", count: int = 10000, resource_server: str = "photos"
) -> list[str]:
    """Insert ``count`` resources for ``owner`` on one demo RS in one transaction."""
    user = sandbox.store.one("SELECT sub FROM users WHERE username = ?", (owner,))
    if user is None:
        raise ValueError(f"unknown user {owner!r}")
    rs = next((r for r in DEMO_RESOURCE_SERVERS if r.key == resource_server), None)
    if rs is None:
        raise ValueError(f"unknown resource server {resource_server!r}")
    now = sandbox.now()
    start = int(sandbox.store.scalar("SELECT count(*) FROM resources") or 0)
    rows = []
    ids = []
    for index in range(count):
        resource_id = new_id("res")
        ids.append(resource_id)
        rows.append(
            (
                resource_id,
                user["sub"],
                rs.client_id,
                f"{rs.name} item {start + index + 1:05d}",
                "bulk-item",
                None,
                dumps(list(rs.scopes)),
                now,
            )
        )
    sandbox.store.executemany(
        "INSERT INTO resources (id, owner_sub, rs_client_id, name, type, description, scopes, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return ids
