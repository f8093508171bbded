"""Protocol vocabulary shared by the client side and the sandbox: msgspec structs of the
OAuth/UMA wire objects, with tolerant parsing (unknown fields ignored) and clear errors."""
