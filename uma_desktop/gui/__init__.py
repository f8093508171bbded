"""The desktop app (PySide6): the only package that imports Qt."""

import sys

# httpx imports its command-line tool (rich, click, pygments: about 50 ms at every start)
# only to offer ``httpx.main``, which this app never calls. A ``None`` entry makes that one
# import fail, and httpx then defines a stub in its place.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
