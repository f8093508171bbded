"""The token vault against the real Secret Service, and each way it can fail."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.keyring import ROOT, run_with_denied_secret_service
from uma_desktop.errors import (
    VaultLockedError,
    VaultTooLargeError,
    VaultUnavailableError,
)
from uma_desktop.oauth.vault import (
    CHUNK_CHARS,
    KeyringVault,
    MemoryVault,
    TokenKind,
    open_vault,
    select_backend,
)

pytestmark = pytest.mark.keyring


def fake_jwt(length: int) -> str:
    body = secrets.token_urlsafe(length)[: length - 40]
    return "eyJhbGciOiJSUzI1NiJ9." + body + "." + secrets.token_urlsafe(15)[:17]


def stored_entries(service: str) -> dict[str, str]:
    """Every Secret Service item of ``service``: username attribute -> secret."""
    import secretstorage

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        return {
            item.get_attributes()["username"]: item.get_secret().decode()
            for item in collection.search_items({"service": service})
        }
    finally:
        connection.close()


@pytest.fixture
def service() -> str:
    return f"uma-desktop-test-{secrets.token_hex(4)}"


def test_a_long_token_round_trips_in_chunks_under_the_windows_limit(
    real_keyring: Any, service: str
) -> None:
    vault = KeyringVault(real_keyring, service=service)
    token = fake_jwt(5000)
    vault.store("conn-1", TokenKind.REFRESH, token)

    assert vault.load("conn-1", TokenKind.REFRESH) == token
    entries = stored_entries(service)
    assert len(entries) == 1 + -(-len(token) // CHUNK_CHARS)  # header + chunks
    assert all(len(value) <= CHUNK_CHARS for value in entries.values())
    # A fresh vault object (the app after a restart) reads the same value.
    assert KeyringVault(real_keyring, service=service).load("conn-1", TokenKind.REFRESH) == token


def test_replacing_a_token_leaves_no_old_chunks_and_kinds_are_separate(
    real_keyring: Any, service: str
) -> None:
    vault = KeyringVault(real_keyring, service=service)
    vault.store("conn-1", TokenKind.REFRESH, fake_jwt(3000))
    vault.store("conn-1", TokenKind.ID, "id-token-value")
    vault.store("conn-2", TokenKind.REFRESH, "other-connection")
    new = fake_jwt(1500)
    vault.store("conn-1", TokenKind.REFRESH, new)

    assert vault.load("conn-1", TokenKind.REFRESH) == new
    assert vault.load("conn-1", TokenKind.ID) == "id-token-value"
    assert vault.load("conn-2", TokenKind.REFRESH) == "other-connection"
    assert len(stored_entries(service)) == (1 + 2) + (1 + 1) + (1 + 1)

    vault.delete_connection("conn-1")
    assert vault.load("conn-1", TokenKind.REFRESH) is None
    assert vault.load("conn-1", TokenKind.ID) is None
    assert vault.load("conn-2", TokenKind.REFRESH) == "other-connection"
    assert set(stored_entries(service)) == {
        "conn-2/refresh",
        next(key for key in stored_entries(service) if key.startswith("conn-2/refresh/")),
    }
    vault.delete_connection("conn-2")
    assert stored_entries(service) == {}


def test_open_vault_picks_the_secret_service_and_memory_when_not_remembering(
    real_keyring: Any,
) -> None:
    remembered = open_vault(remember=True)
    assert isinstance(remembered, KeyringVault) and remembered.remembers
    remembered.check()  # write, read back, delete a probe
    assert type(remembered.backend).__module__ == "keyring.backends.SecretService"

    memory = open_vault(remember=False)
    assert isinstance(memory, MemoryVault) and not memory.remembers
    memory.store("conn-mem", TokenKind.REFRESH, "only-in-memory-value")
    assert memory.load("conn-mem", TokenKind.REFRESH) == "only-in-memory-value"
    assert remembered.load("conn-mem", TokenKind.REFRESH) is None
    memory.delete_connection("conn-mem")
    assert memory.load("conn-mem", TokenKind.REFRESH) is None


def test_a_too_large_token_is_refused_and_nothing_is_written(
    real_keyring: Any, service: str
) -> None:
    vault = KeyringVault(real_keyring, service=service)
    vault.store("conn-1", TokenKind.REFRESH, "the-old-value")
    with pytest.raises(VaultTooLargeError, match="too large"):
        vault.store("conn-1", TokenKind.REFRESH, "x" * 50_000)
    with pytest.raises(VaultTooLargeError):
        MemoryVault().store("conn-1", TokenKind.REFRESH, "x" * 50_000)
    assert vault.load("conn-1", TokenKind.REFRESH) == "the-old-value"
    assert len(stored_entries(service)) == 2


def test_a_locked_keyring_gives_a_locked_error(locked_keyring: Any, service: str) -> None:
    vault = KeyringVault(locked_keyring, service=service)
    with pytest.raises(VaultLockedError, match="locked"):
        vault.store("conn-1", TokenKind.REFRESH, "value")
    with pytest.raises(VaultLockedError):
        vault.load("conn-1", TokenKind.REFRESH)


def test_without_a_keyring_service_the_vault_is_unavailable() -> None:
    """No D-Bus session at all (a bare server or container): keyring has no backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS")}
    env["PYTHONPATH"] = str(ROOT)
    code = textwrap.dedent(
        """
        from uma_desktop.errors import VaultUnavailableError
        from uma_desktop.oauth.vault import TokenKind, open_vault
        try:
            open_vault(remember=True)
        except VaultUnavailableError as exc:
            print("UNAVAILABLE", exc)
        memory = open_vault(remember=False)
        memory.store("conn-1", TokenKind.REFRESH, "value")
        print("MEMORY", memory.load("conn-1", TokenKind.REFRESH) == "value")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert "UNAVAILABLE No secure keyring" in result.stdout, result.stderr
    assert "a login can be kept in memory only" in result.stdout
    assert "MEMORY True" in result.stdout


def _backend_in_fresh_process(env: dict[str, str]) -> str:
    """The vault's backend (or its refusal) as a new process chooses it, and whether that
    process loaded keyring's macOS backend on the way."""
    code = textwrap.dedent(
        """
        import sys
        from uma_desktop.errors import VaultUnavailableError
        from uma_desktop.oauth.vault import backend_name, open_vault
        try:
            print("BACKEND", backend_name(open_vault(remember=True).backend))
        except VaultUnavailableError as exc:
            print("UNAVAILABLE", exc)
        print("MACOS", "keyring.backends.macOS" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout + result.stderr


def test_on_linux_the_secret_service_is_taken_without_ranking_every_backend() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.pop("XDG_CURRENT_DESKTOP", None)
    output = _backend_in_fresh_process(env)
    assert "BACKEND keyring.backends.SecretService.Keyring" in output, output
    assert "MACOS False" in output, output


def test_a_backend_configured_for_keyring_is_respected_and_still_checked() -> None:
    """PYTHON_KEYRING_BACKEND wins over the Secret Service, and the allow-list still applies."""
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    output = _backend_in_fresh_process(env)
    assert "UNAVAILABLE No secure keyring" in output, output
    assert "keyring.backends.null.Keyring" in output, output


def test_null_and_fail_backends_are_refused_never_used() -> None:
    from keyring.backends import fail, null

    for backend in (null.Keyring(), fail.Keyring()):
        with pytest.raises(VaultUnavailableError, match=type(backend).__module__):
            select_backend(backend)


def test_plaintext_backends_are_refused(tmp_path: Path) -> None:
    """A file-based keyring (like keyrings.alt's plaintext one) is never accepted.
    Named fake: keyrings.alt is not installed, so a minimal file backend stands in."""
    from keyring.backend import KeyringBackend

    class PlaintextKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            (tmp_path / "secrets.txt").write_text(password)

        def delete_password(self, service: str, username: str) -> None:
            pass

    with pytest.raises(VaultUnavailableError, match="PlaintextKeyring"):
        KeyringVault(PlaintextKeyring()).store("conn-1", TokenKind.REFRESH, "secret")
    assert not (tmp_path / "secrets.txt").exists()


def test_a_secret_service_that_refuses_access_gives_a_denied_error(tmp_path: Path) -> None:
    result = run_with_denied_secret_service(
        """
        from uma_desktop.errors import VaultDeniedError
        from uma_desktop.oauth.vault import TokenKind, open_vault
        try:
            open_vault(remember=True).store("conn-1", TokenKind.REFRESH, "value")
        except VaultDeniedError as exc:
            print("DENIED", exc)
        try:
            open_vault(remember=True).load_many("conn-1", [TokenKind.REFRESH, TokenKind.ID])
        except VaultDeniedError as exc:
            print("READ DENIED", exc)
        """,
        tmp_path,
    )
    assert "DENIED Access to the keyring was refused." in result.stdout, result.stderr
    assert "READ DENIED Access to the keyring was refused." in result.stdout, result.stderr
    assert "value" not in result.stdout.replace("DENIED", "")


# Reads straight from the Secret Service (no keyring on the read path), same stored format.


@pytest.fixture
def keyring_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing tells keyring which backend to use: on Linux it would take the Secret Service."""
    from keyring import core

    monkeypatch.setattr(core, "_keyring_backend", None)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.delenv("XDG_CURRENT_DESKTOP", raising=False)


class DBusTurns:
    """Counts a connection's messages and round trips (a burst of sends, then the wait)."""

    def __init__(self) -> None:
        self.messages = 0
        self.turns = 0
        self._waiting = False

    def watch(self, connection: Any) -> Any:
        send, receive = connection.send, connection.receive

        def counted_send(message: Any, serial: Any = None) -> Any:
            self.messages += 1
            if not self._waiting:
                self.turns += 1
                self._waiting = True
            return send(message, serial)

        def counted_receive(**kwargs: Any) -> Any:
            self._waiting = False
            return receive(**kwargs)

        connection.send = connection.send_message = counted_send
        connection.receive = counted_receive
        return connection


@pytest.mark.usefixtures("keyring_unconfigured")
def test_direct_reads_return_what_keyring_wrote_in_one_two_and_five_chunks(
    real_keyring: Any, service: str
) -> None:
    written = KeyringVault(real_keyring, service=service)  # every step through keyring
    values = {
        TokenKind.ID: fake_jwt(CHUNK_CHARS),  # one chunk, exactly full
        TokenKind.ACCESS: fake_jwt(CHUNK_CHARS + 1),  # two
        TokenKind.REFRESH: fake_jwt(4 * CHUNK_CHARS + 7),  # five
    }
    for kind, value in values.items():
        written.store("conn-1", kind, value)

    direct = KeyringVault(service=service)
    assert direct.reads_directly
    for kind, value in values.items():
        assert direct.load("conn-1", kind) == value
    assert KeyringVault(service=service).load_many("conn-1", list(values)) == values


def test_a_keyring_set_to_the_secret_service_is_read_directly_and_others_through_keyring(
    real_keyring: Any, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keyring configured (here by its environment variable) for the Secret Service: reads
    still go straight to it. A backend handed in is always read through keyring."""
    from keyring import core

    monkeypatch.setattr(core, "_keyring_backend", None)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    KeyringVault(real_keyring, service=service).store("conn-1", TokenKind.ID, "id-token")

    configured = KeyringVault(service=service)
    assert configured.reads_directly
    assert configured.load("conn-1", TokenKind.ID) == "id-token"
    handed_in = KeyringVault(real_keyring, service=service)
    assert not handed_in.reads_directly
    assert handed_in.load("conn-1", TokenKind.ID) == "id-token"


@pytest.mark.usefixtures("keyring_unconfigured")
def test_what_a_direct_reading_vault_writes_keyring_reads_back_in_the_same_format(
    real_keyring: Any, service: str
) -> None:
    direct = KeyringVault(service=service)
    token, replaced = fake_jwt(3000), fake_jwt(5000)
    direct.store("conn-1", TokenKind.REFRESH, replaced)
    direct.store("conn-1", TokenKind.REFRESH, token)  # the header is read directly here
    direct.store("conn-1", TokenKind.ID, "id-token-value")

    through_keyring = KeyringVault(real_keyring, service=service)
    assert through_keyring.load("conn-1", TokenKind.REFRESH) == token
    assert through_keyring.load("conn-1", TokenKind.ID) == "id-token-value"
    entries = stored_entries(service)
    assert set(entries) == {
        "conn-1/id",
        "conn-1/refresh",
        *(f"conn-1/refresh/g{entries['conn-1/refresh'][4:12]}/{index}" for index in range(3)),
        f"conn-1/id/g{entries['conn-1/id'][4:12]}/0",
    }
    assert entries["conn-1/refresh"].endswith(":3")

    direct.delete_connection("conn-1")
    assert through_keyring.load("conn-1", TokenKind.REFRESH) is None
    assert stored_entries(service) == {}


@pytest.mark.usefixtures("keyring_unconfigured")
def test_load_many_answers_as_separate_loads_and_missing_entries_are_none(
    real_keyring: Any, service: str
) -> None:
    vault = KeyringVault(service=service)
    vault.store("conn-1", TokenKind.REFRESH, fake_jwt(2500))
    vault.store("conn-1", TokenKind.ID, "id-token-value")
    vault.store("conn-2", TokenKind.ACCESS, "other-connection")
    kinds = [TokenKind.REFRESH, TokenKind.ID, TokenKind.ACCESS, TokenKind.SESSION]

    many = vault.load_many("conn-1", kinds)
    assert many == {kind: vault.load("conn-1", kind) for kind in kinds}
    assert many[TokenKind.ACCESS] is None and many[TokenKind.SESSION] is None
    assert KeyringVault(real_keyring, service=service).load_many("conn-1", kinds) == many
    assert vault.load_many("conn-3", kinds) == dict.fromkeys(kinds)

    memory = MemoryVault()
    memory.store("conn-1", TokenKind.ID, "id-token-value")
    assert memory.load_many("conn-1", kinds) == {
        kind: memory.load("conn-1", kind) for kind in kinds
    }


@pytest.mark.usefixtures("keyring_unconfigured")
def test_a_damaged_chunked_entry_reads_as_none_and_others_still_read(
    real_keyring: Any, service: str
) -> None:
    """A chunk gone while its header stays (a crash of a foreign writer): incomplete, None."""
    vault = KeyringVault(service=service)
    vault.store("conn-1", TokenKind.REFRESH, fake_jwt(3000))
    vault.store("conn-1", TokenKind.ID, "id-token-value")
    chunk = next(key for key in stored_entries(service) if key.endswith("/1"))
    real_keyring.delete_password(service, chunk)

    assert vault.load_many("conn-1", [TokenKind.REFRESH, TokenKind.ID]) == {
        TokenKind.REFRESH: None,
        TokenKind.ID: "id-token-value",
    }


@pytest.mark.usefixtures("keyring_unconfigured")
def test_resuming_three_tokens_takes_a_handful_of_round_trips_on_one_connection(
    real_keyring: Any, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keyring makes about six D-Bus round trips per entry and connects for each; the direct
    read connects once, then needs one turn for the session, one for the lookups of a batch
    and one for their secrets, headers first and chunks next."""
    import secretstorage

    writer = KeyringVault(real_keyring, service=service)
    writer.store("conn-1", TokenKind.REFRESH, fake_jwt(5000))  # header + 5 chunks
    writer.store("conn-1", TokenKind.ID, fake_jwt(1000))
    writer.store("conn-1", TokenKind.ACCESS, fake_jwt(1000))
    kinds = [TokenKind.REFRESH, TokenKind.ID, TokenKind.ACCESS]
    expected = KeyringVault(real_keyring, service=service).load_many("conn-1", kinds)

    turns = DBusTurns()
    connections: list[Any] = []
    connect = secretstorage.dbus_init

    def counted_connect() -> Any:
        connections.append(turns.watch(connect()))
        return connections[-1]

    monkeypatch.setattr(secretstorage, "dbus_init", counted_connect)
    vault = KeyringVault(service=service)
    assert vault.load_many("conn-1", kinds) == expected
    assert (len(connections), turns.turns, turns.messages) == (1, 5, 1 + 4 + 1 + 7 + 1)

    assert vault.load_many("conn-1", kinds) == expected  # within the reuse window
    assert (len(connections), turns.turns) == (1, 5 + 4)

    connections[0].close()  # a kept connection that went away: the next load connects anew
    assert vault.load("conn-1", TokenKind.ID) == expected[TokenKind.ID]
    assert len(connections) == 2


def test_a_read_loads_neither_keyring_nor_its_dependencies(real_keyring: Any, service: str) -> None:
    KeyringVault(real_keyring, service=service).store("conn-1", TokenKind.REFRESH, "r" * 3000)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.pop("XDG_CURRENT_DESKTOP", None)
    code = textwrap.dedent(
        f"""
        import sys
        from uma_desktop.oauth.vault import KeyringVault, TokenKind, open_vault
        open_vault(remember=True)
        vault = KeyringVault(service={service!r})
        entries = vault.load_many("conn-1", [TokenKind.REFRESH, TokenKind.ID])
        print("READ", entries == {{TokenKind.REFRESH: "r" * 3000, TokenKind.ID: None}})
        print("LOADED", sorted(name for name in ("keyring", "jaraco", "importlib_metadata")
                               if name in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "READ True" in result.stdout, result.stdout + result.stderr
    assert "LOADED []" in result.stdout, result.stdout + result.stderr


@pytest.mark.usefixtures("keyring_unconfigured")
def test_a_locked_collection_gives_a_locked_error_on_direct_reads(
    locked_keyring: Any, service: str
) -> None:
    vault = KeyringVault(service=service)
    assert vault.reads_directly
    with pytest.raises(VaultLockedError, match="locked"):
        vault.load("conn-1", TokenKind.REFRESH)
    with pytest.raises(VaultLockedError):
        vault.load_many("conn-1", [TokenKind.REFRESH, TokenKind.ID])
    with pytest.raises(VaultLockedError):
        vault.store("conn-1", TokenKind.REFRESH, "value")


@pytest.mark.usefixtures("keyring_unconfigured")
def test_a_collection_locked_while_its_connection_is_kept_gives_a_locked_error(
    real_keyring: Any, service: str
) -> None:
    """The kept connection unlocked the collection earlier; now its items are locked again
    and the unlock prompt cannot show: locked, with no secret in the message."""
    import secretstorage

    from tests.fixtures.keyring import LOGIN_COLLECTION, _unlock_login_collection

    vault = KeyringVault(service=service)
    vault.store("conn-1", TokenKind.REFRESH, "kept-token-value")
    assert vault.load("conn-1", TokenKind.REFRESH) == "kept-token-value"
    connection = secretstorage.dbus_init()
    try:
        secretstorage.Collection(connection, LOGIN_COLLECTION).lock()
        with pytest.raises(VaultLockedError) as raised:
            vault.load("conn-1", TokenKind.REFRESH)
        assert "kept-token-value" not in str(raised.value)
    finally:
        _unlock_login_collection()
        connection.close()
    assert vault.load("conn-1", TokenKind.REFRESH) == "kept-token-value"


_BUS_WITHOUT_SERVICES = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def test_direct_reads_without_a_secret_service_are_unavailable(tmp_path: Path) -> None:
    """A D-Bus session where no Secret Service runs or can be started: keyring's own
    ranking is asked, finds nothing secure, and the vault says so."""
    config = tmp_path / "bare-bus.conf"
    config.write_text(_BUS_WITHOUT_SERVICES)
    script = tmp_path / "no_secret_service.py"
    script.write_text(
        textwrap.dedent(
            """
            from uma_desktop.errors import VaultUnavailableError
            from uma_desktop.oauth.vault import KeyringVault, TokenKind
            vault = KeyringVault()
            print("DIRECT", vault.reads_directly)
            try:
                vault.load("conn-1", TokenKind.REFRESH)
            except VaultUnavailableError as exc:
                print("UNAVAILABLE", exc)
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS")}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env.pop("XDG_CURRENT_DESKTOP", None)
    result = subprocess.run(
        ["dbus-run-session", f"--config-file={config}", "--", sys.executable, str(script)],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "DIRECT True" in result.stdout, result.stdout + result.stderr
    assert "UNAVAILABLE No secure keyring" in result.stdout, result.stdout + result.stderr
