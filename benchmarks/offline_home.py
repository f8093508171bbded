"""Shared by the GUI benchmarks: an app home whose connections point at closed ports and
whose snapshots hold many resources (an offline start), and the process's resident memory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT_ISSUER = "http://127.0.0.1:9/realms/offline-{}"  # nothing listens there


def resident_mib() -> float:
    """This process's resident set size in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def seed_offline_home(home: Path, connections: int, resources_each: int) -> None:
    """``connections`` servers that do not answer, each with a snapshot of resources."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from uma_desktop.app.registry import ConnectionRegistry
    from uma_desktop.app.snapshots import Snapshot, SnapshotStore
    from uma_desktop.domain import BackendKind, Connection, Resource
    from uma_desktop.paths import app_dirs

    dirs = app_dirs(home).ensure()
    registry = ConnectionRegistry(dirs.config)
    store = SnapshotStore(dirs.cache)
    for number in range(connections):
        connection_id = f"offline{number}"
        registry.add(
            Connection(
                id=connection_id,
                issuer=CLOSED_PORT_ISSUER.format(number),
                kind=BackendKind.POLICY_MANAGER,
                client_id="uma-desktop",
                display_name=f"Offline {number}",
                remember=False,
            )
        )
        resources = [
            Resource(
                connection_id=connection_id,
                id=f"r{number}-{i}",
                name=f"Photo album {i:05d} of server {number}",
                scopes=("view", "edit") if i % 3 else ("view",),
                resource_server=f"Photos {i % 7}",
                type=f"https://example.org/type/{i % 11}",
                description=f"Resource number {i}",
                share_count=i % 5,
            )
            for i in range(resources_each)
        ]
        store.save(connection_id, Snapshot(resources=resources))


def in_keyring_session(script: str, argv: list[str]) -> int | None:
    """Re-run ``script`` inside a private D-Bus session, keyring and throw-away HOME (as the
    tests run), unless this process already is that run; then None."""
    if os.environ.get("UMA_BENCHMARK_SESSION") == "1":
        return None
    import subprocess  # only here: the measured start-up processes import this module

    command = [str(REPO_ROOT / "tools" / "keyring-session.sh"), sys.executable, script, *argv]
    env = dict(os.environ, UMA_BENCHMARK_SESSION="1", QT_QPA_PLATFORM="offscreen")
    return subprocess.run(command, env=env, check=False).returncode
