"""A resource server at help-desk scale: many owners, resources, shares and requests.

Bulk SQL inserts in one transaction (a few seconds for the default 100,000 resources and
300,000 shares/requests); the people sign in with password = username like the demo users.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from uma_desktop.sandbox.core import Sandbox
from uma_desktop.sandbox.crypto import hash_password
from uma_desktop.sandbox.seed import DEMO_RESOURCE_SERVERS, RQP_CLIENT_ID
from uma_desktop.sandbox.store import dumps

DAY = 24 * 3600


@dataclass(frozen=True)
class ScaleSeed:
    owners: int
    resources: int
    entries: int
    sample_owner: str
    sample_requester: str
    sample_resource_id: str


def seed_support_scale(
    sandbox: Sandbox,
    *,
    resource_server: str = "photos",
    owners: int = 5000,
    resources: int = 100_000,
    entries: int = 300_000,
    seed: int = 13,
) -> ScaleSeed:
    """Add ``owners`` people, ``resources`` resources on one demo RS and ``entries``
    shares/requests (about 60 % granted, 10 % expired, 20 % pending, 10 % denied)."""
    rs = next((r for r in DEMO_RESOURCE_SERVERS if r.key == resource_server), None)
    if rs is None:
        raise ValueError(f"unknown resource server {resource_server!r}")
    rng = random.Random(seed)
    now = sandbox.now()
    scopes = list(rs.scopes)
    # One password hash for all: scrypt per person would take minutes.
    hashed = hash_password("scale")
    subs = [f"user-scale{index:05d}" for index in range(owners)]
    users = [
        (
            sub,
            f"person{index:05d}",
            f"person{index:05d}@example.test",
            f"Person {index:05d}",
            hashed,
        )
        for index, sub in enumerate(subs)
    ]
    resource_rows = []
    resource_ids = []
    resource_owner = []
    for index in range(resources):
        owner = index % owners
        resource_id = f"res-scale{index:06d}"
        resource_ids.append(resource_id)
        resource_owner.append(owner)
        resource_rows.append(
            (
                resource_id,
                subs[owner],
                rs.client_id,
                f"{rs.name} scale item {index:06d}",
                "scale-item",
                None,
                dumps(scopes),
                now - rng.randint(30, 400) * DAY,
            )
        )
    policies = []
    pending = []
    per_resource = max(1, entries // max(1, resources))
    extra = entries - per_resource * resources
    serial = 0
    for index, resource_id in enumerate(resource_ids):
        count = per_resource + (1 if index < extra else 0)
        owner = resource_owner[index]
        people = rng.sample(range(owners), min(owners, count + 1))
        people = [p for p in people if p != owner][:count]
        for person in people:
            serial += 1
            roll = rng.random()
            granted = rng.sample(scopes, rng.randint(1, len(scopes)))
            since = now - rng.randint(1, 300) * DAY
            if roll < 0.7:
                expires = None if roll < 0.6 else now - rng.randint(1, 30) * DAY
                policies.append(
                    (
                        f"pol-scale{serial:07d}",
                        resource_id,
                        subs[person],
                        dumps(granted),
                        expires,
                        since,
                    )
                )
            else:
                status = "pending" if roll < 0.9 else "denied"
                decided = None if status == "pending" else since + DAY
                pending.append(
                    (
                        f"req-scale{serial:07d}",
                        resource_id,
                        subs[owner],
                        subs[person],
                        RQP_CLIENT_ID,
                        dumps(granted),
                        since,
                        status,
                        decided,
                    )
                )
    store = sandbox.store
    with store.transaction():
        store.executemany(
            "INSERT INTO users (sub, username, email, name, password_hash) VALUES (?, ?, ?, ?, ?)",
            users,
        )
        store.executemany(
            "INSERT INTO resources (id, owner_sub, rs_client_id, name, type, description, "
            "scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            resource_rows,
        )
        store.executemany(
            "INSERT INTO policies (id, resource_id, sub, scopes, expires_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            policies,
        )
        store.executemany(
            "INSERT INTO pending (id, resource_id, owner_sub, requester_sub, client_id, scopes, "
            "requested_at, status, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            pending,
        )
    store.execute("ANALYZE")
    return ScaleSeed(
        owners=owners,
        resources=resources,
        entries=len(policies) + len(pending),
        sample_owner="person00042",
        sample_requester="person01234",
        sample_resource_id=resource_ids[len(resource_ids) // 2],
    )
