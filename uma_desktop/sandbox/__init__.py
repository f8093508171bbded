"""The built-in UMA 2.0 sandbox: authorization server, demo resource servers and a
requesting-party client, for demos, tests and interop testing."""

from uma_desktop.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
