"""Typed errors shared by every Qt-free layer.

Each carries a short human message (``str(err)``) fit for a dialog or a CLI line, and never a
token, code or secret. Layers raise the most specific subclass; the GUI and CLI show
``user_message`` and map the class to a status or exit code.
"""

from __future__ import annotations


class UmaDesktopError(Exception):
    """Base of every error the app expects and can explain to a person."""

    exit_code = 1

    @property
    def user_message(self) -> str:
        return str(self) or self.__class__.__name__


class ConfigurationError(UmaDesktopError):
    """Bad input typed by the user: a malformed URL, an unknown connection, a bad scope."""

    exit_code = 2


class ServerUnreachableError(UmaDesktopError):
    """The server could not be reached (DNS, refused connection, timeout)."""

    exit_code = 3


class TlsError(ServerUnreachableError):
    """TLS verification failed; we never turn verification off."""


class ServerError(UmaDesktopError):
    """The server answered, but with an error status or a body we cannot use."""

    exit_code = 4

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.error = error


class ServerTooSlowError(ServerUnreachableError):
    """The server did not finish its answer within the exchange's deadline."""


class MalformedResponseError(ServerError):
    """The server's answer was not the JSON shape the protocol requires."""


class ResponseTooLargeError(MalformedResponseError):
    """The server's answer passed the size limit; it was not read further."""


class ForbiddenError(ServerError):
    """The server knows this login but refuses it this request (HTTP 403)."""


class ServerBusyError(ServerError):
    """The server asked us to come back later (429/503) more often than we wait."""


class NotFoundError(ServerError):
    """The thing asked for does not exist (any more) on the server."""


class ConflictError(ServerError):
    """Doing this now would also change something the owner did not ask to change."""


class NotSupportedError(UmaDesktopError):
    """The backend or server cannot do this (see the backend's capabilities)."""

    exit_code = 5


class AuthError(UmaDesktopError):
    """Login failed or was refused; the message says why."""

    exit_code = 6


class LoginRequiredError(AuthError):
    """No usable tokens for this connection: the owner must log in (again)."""


class BrowserUnavailableError(AuthError):
    """No web browser could be opened for the login; the device login still works."""


class SecurityCheckError(AuthError):
    """A protocol security check failed (state, iss, PKCE, ID token, mix-up)."""


class VaultError(UmaDesktopError):
    """The OS keyring could not be used; subclasses say how."""

    exit_code = 7


class VaultUnavailableError(VaultError):
    """No usable keyring backend on this system."""


class VaultLockedError(VaultError):
    """The keyring is locked and could not be unlocked."""


class VaultDeniedError(VaultError):
    """The user or the system refused access to the keyring."""


class VaultTooLargeError(VaultError):
    """A secret exceeds what the keyring backend can store."""


class StorageError(UmaDesktopError):
    """A local file or folder could not be read or written (read-only or full disk)."""

    exit_code = 8


class HistoryBusyError(StorageError):
    """Another program held the decision history for longer than the app waits."""


class SignInBusyError(UmaDesktopError):
    """Another process kept this connection's sign-in lock for too long (it may be stuck)."""
