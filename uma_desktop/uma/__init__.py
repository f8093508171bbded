"""Protocol vocabulary shared by the client side and the sandbox: pydantic models of the
OAuth/UMA wire objects, with tolerant parsing (unknown fields kept) and clear errors."""
