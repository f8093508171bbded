"""Sign-in throttling: after a few wrong passwords for a username (or from one client
address) further attempts are refused for a while, the pause doubling with each failure."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED_KEYS = 10_000


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class SignInRefused(Exception):
    """Too many failed sign-ins: the attempt was not checked; try again in ``retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-ins; try again in {retry_after} s.")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return (
            "Too many failed sign-ins. Wait "
            f"{self.retry_after} second{'s' if self.retry_after != 1 else ''} and try again."
        )


class SignInThrottle:
    """Counts failed sign-ins per key; a key with ``limit`` consecutive failures is locked for
    ``base_delay`` seconds, doubled with each further failure up to ``max_delay``.

    An attempt counts as failed when it starts and is forgiven when it succeeds, so a burst of
    parallel guesses cannot slip past the limit before the first one is answered. Failures
    older than ``max_delay`` are forgotten. State lives in memory; a restart clears it."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def begin(self, keys: list[tuple[str, int]], *, base_delay: float, max_delay: float) -> None:
        """Start an attempt for ``(key, limit)`` pairs; raises SignInRefused while locked."""
        with self._lock:
            now = self._now()
            waits = [self._wait(key, now, max_delay) for key, _ in keys]
            if max(waits, default=0.0) > 0:
                raise SignInRefused(max(1, math.ceil(max(waits))))
            for key, limit in keys:
                record = self._records.pop(key, None) or _Record()
                record.failures += 1
                record.last_failure = now
                if record.failures >= limit:
                    delay = base_delay * 2 ** min(record.failures - limit, 32)
                    record.locked_until = now + min(delay, max_delay)
                self._records[key] = record
            while len(self._records) > MAX_TRACKED_KEYS:
                self._records.popitem(last=False)

    def succeeded(self, keys: list[str]) -> None:
        """The attempt's password was right: forget the keys' failures."""
        with self._lock:
            for key in keys:
                self._records.pop(key, None)

    def _wait(self, key: str, now: float, max_delay: float) -> float:
        record = self._records.get(key)
        if record is None:
            return 0.0
        if now - record.last_failure > max_delay and now >= record.locked_until:
            del self._records[key]
            return 0.0
        return max(0.0, record.locked_until - now)
