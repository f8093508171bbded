"""Protocol trace: every HTTP exchange the app and its demo actors make, with secrets redacted.

``recording`` keeps the exchanges :mod:`uma_desktop.net` reports, each redacted on arrival by
``redaction``, in a bounded store that views read; ``export`` turns entries into a Mermaid
sequence diagram, a HAR 1.2 file or readable text.
"""

from uma_desktop.trace.export import entry_as_text, to_har, to_har_json, to_mermaid
from uma_desktop.trace.recording import TraceEntry, TraceListener, TraceRecorder, filter_entries
from uma_desktop.trace.redaction import SECRET_KEYS, Redactor, is_secret_key, mask

__all__ = [
    "SECRET_KEYS",
    "Redactor",
    "TraceEntry",
    "TraceListener",
    "TraceRecorder",
    "entry_as_text",
    "filter_entries",
    "is_secret_key",
    "mask",
    "to_har",
    "to_har_json",
    "to_mermaid",
]
