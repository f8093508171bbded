"""Reading secrets straight from the freedesktop Secret Service (Linux), past ``keyring``.

Same entries, attributes, collection and unlock prompt as keyring's SecretService backend,
in far fewer D-Bus round trips: one connection and one encrypted session per reader, the
default collection unlocked once, a batch's lookups sent together and its secrets fetched in
one ``GetSecrets`` call. ``secretstorage`` (and ``jeepney``, ``cryptography``) load on first
use. The vault (``vault.py``) decides when to read this way and maps the failures.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

DEFAULT_COLLECTION_ALIAS = "/org/freedesktop/secrets/aliases/default"


class NoDefaultCollection(Exception):
    """The default collection's alias led nowhere (it does not exist yet, or a busy service
    lost it): keyring's path decides, which creates the collection as it always did."""


_SECRET_BUS = "org.freedesktop.secrets"
_SECRET_PATH = "/org/freedesktop/secrets"
_SECRET_PREFIX = "org.freedesktop.Secret."
_IS_LOCKED = "org.freedesktop.Secret.Error.IsLocked"
DBUS_CALL_SECONDS = 25.0  # D-Bus's own default for a method call; an unlock prompt waits longer


class _Replayed:
    """A stand-in connection handing back a reply already received, so that secretstorage's
    own error mapping (``DBusAddressWrapper.send_and_get_reply``) judges replies that arrived
    in a batch."""

    def __init__(self, reply: Any) -> None:
        self._reply = reply

    def send_and_get_reply(self, _message: Any) -> Any:
        return self._reply


class SecretServiceReader:
    """Reads entries over one D-Bus connection and one encrypted session, with the default
    collection unlocked once, as keyring's SecretService backend would (same attributes,
    same collection, same unlock prompt). The lookups of one batch are sent together and
    their replies collected after, and the secrets come back in one ``GetSecrets`` call:
    two round trips for a batch where keyring makes about six per entry."""

    def __init__(self) -> None:
        import secretstorage

        self.connection: Any = secretstorage.dbus_init()  # raises when there is no D-Bus
        self._session: Any | None = None
        self._unlocked = False

    def close(self) -> None:
        with suppress(Exception):
            self.connection.close()

    def open_session(self) -> None:
        """The encrypted session (Diffie-Hellman, as secretstorage negotiates it)."""
        if self._session is None:
            from secretstorage.util import open_session

            self._session = open_session(self.connection)

    def read(self, service: str, usernames: list[str]) -> dict[str, str | None]:
        """The secret of each ``(service, username)`` entry; None where there is none."""
        from jeepney import DBusAddress, Properties, new_method_call
        from secretstorage.exceptions import ItemNotFoundException

        self.open_session()
        collection = DBusAddress(
            DEFAULT_COLLECTION_ALIAS, _SECRET_BUS, _SECRET_PREFIX + "Collection"
        )
        searches = [
            new_method_call(
                collection, "SearchItems", "a{ss}", ({"username": name, "service": service},)
            )
            for name in usernames
        ]
        if self._unlocked:
            found = self._exchange(collection, searches)
        else:
            try:
                locked, *found = self._exchange(
                    collection, [Properties(collection).get("Locked"), *searches]
                )
            except ItemNotFoundException as exc:
                raise NoDefaultCollection("no default collection") from exc
            if locked[0][1]:
                self._unlock([DEFAULT_COLLECTION_ALIAS])
                found = self._exchange(collection, searches)  # what a locked one hid
            self._unlocked = True
        paths = {
            name: reply[0][0] for name, reply in zip(usernames, found, strict=True) if reply[0]
        }
        secrets = self._secrets(list(paths.values()))
        return {
            name: secrets[paths[name]].decode("utf-8") if name in paths else None
            for name in usernames
        }

    def _secrets(self, paths: list[str]) -> dict[str, bytes]:
        """The decrypted secrets of the items at ``paths``, in one call. An item the service
        leaves out is unlocked (a prompt, as keyring asks per item) and asked for again."""
        from secretstorage.exceptions import ItemNotFoundException, LockedException

        if not paths:
            return {}
        secrets = self._get_secrets(paths)
        missing = [path for path in paths if path not in secrets]
        if missing:
            self._unlock(missing)
            secrets.update(self._get_secrets(missing))
            if any(path not in secrets for path in missing):
                if any(self._item_locked(path) for path in missing):
                    raise LockedException("An item is locked.")
                raise ItemNotFoundException("An item went away while being read.")
        return secrets

    def _get_secrets(self, paths: list[str]) -> dict[str, bytes]:
        from jeepney import DBusAddress, DBusErrorResponse, new_method_call

        assert self._session is not None
        service = DBusAddress(_SECRET_PATH, _SECRET_BUS, _SECRET_PREFIX + "Service")
        call = new_method_call(service, "GetSecrets", "aoo", (paths, self._session.object_path))
        try:
            [(secrets,)] = self._exchange(service, [call])
        except DBusErrorResponse as exc:
            if exc.name == _IS_LOCKED:  # some services refuse the whole call instead
                return {}
            raise
        return {path: self._decrypt(secret) for path, secret in secrets.items()}

    def _decrypt(self, secret: tuple[str, bytes, bytes, str]) -> bytes:
        """One secret as the session sent it, decrypted as secretstorage's ``Item`` does
        (AES-128-CBC with the session key, PKCS#7 padding)."""
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        _session, parameters, value, _content_type = secret
        session = self._session
        assert session is not None
        if not session.encrypted:
            return bytes(value)
        cipher = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(parameters)))
        decryptor = cipher.decryptor()
        padded = decryptor.update(bytes(value)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()

    def _unlock(self, paths: list[str]) -> None:
        """Ask the service to unlock (it may prompt; the owner may dismiss it)."""
        from secretstorage.exceptions import LockedException
        from secretstorage.util import unlock_objects

        unlock_objects(self.connection, paths)
        if paths == [DEFAULT_COLLECTION_ALIAS] and self._collection_locked():
            raise LockedException("The collection is locked.")

    def _collection_locked(self) -> bool:
        from secretstorage.util import DBusAddressWrapper

        collection = DBusAddressWrapper(
            DEFAULT_COLLECTION_ALIAS, _SECRET_PREFIX + "Collection", self.connection
        )
        return bool(collection.get_property("Locked"))

    def _item_locked(self, path: str) -> bool:
        from secretstorage.util import DBusAddressWrapper

        item = DBusAddressWrapper(path, _SECRET_PREFIX + "Item", self.connection)
        return bool(item.get_property("Locked"))

    def _exchange(self, address: Any, messages: list[Any]) -> list[Any]:
        """Send ``messages`` at once, then collect their replies (in order). An error reply
        raises as secretstorage would raise it, once every reply has arrived."""
        from jeepney.low_level import HeaderFields
        from secretstorage.util import DBusAddressWrapper

        connection = self.connection
        serials = []
        for message in messages:
            serial = next(connection.outgoing_serial)
            connection.send(message, serial=serial)
            serials.append(serial)
        replies: dict[int, Any] = {}
        deadline = time.monotonic() + DBUS_CALL_SECONDS
        while len(replies) < len(serials):
            incoming = connection.receive(timeout=max(deadline - time.monotonic(), 0.0))
            reply_to = incoming.header.fields.get(HeaderFields.reply_serial)
            if reply_to in serials:
                replies[reply_to] = incoming
        return [
            DBusAddressWrapper(
                address.object_path, address.interface, _Replayed(replies[serial])
            ).send_and_get_reply(message)
            for serial, message in zip(serials, messages, strict=True)
        ]
