"""UMA Desktop: the owner's single control point across UMA 2.0 authorization servers."""

import sys

__version__ = "0.1.0"
APP_NAME = "UMA Desktop"
APP_ID = "org.umadesktop.UmaDesktop"

# httpx imports its command-line tool (rich, click, pygments: about 50 ms at every start)
# only to offer ``httpx.main``, which this app never calls. A ``None`` entry makes that one
# import fail, and httpx then defines a stub in its place.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
