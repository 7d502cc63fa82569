"""Whether the JetStream store takes writes: full is a condition to report, not a failure.

When the store is full (the server's or the account's file storage limit, a stream's byte
limit, the disk) JetStream refuses writes with a reason, or, when the disk itself is
full, stops answering them. The service keeps its role (the lease lives in memory
storage), keeps retrying what it must store, reports the condition (a metric, /healthz
degraded with what the operator must do, one log line when it starts and one when it
ends) and goes on by itself when space returns. A stream nats-server left stuck after a
failed disk write needs a server restart (see :mod:`ccroute.service.disk_recovery`): the
embedded server gets one by itself, an external server's operator is told. Each stream
is tracked on its own: decisions stored do not mean the input stream takes inputs again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ccroute.service.metrics import ServiceMetrics

__all__ = [
    "REFUSED_ACTION",
    "STORE_FULL_CODES",
    "UNANSWERED_ACTION",
    "StoreHealth",
    "store_full_reason",
]

log = logging.getLogger("ccroute.service.storage")

STORE_FULL_CODES = frozenset({10023, 10047})
"""JetStream error codes of a full store: insufficient resources, insufficient storage."""

_FULL_WORDS = ("insufficient", "maximum bytes", "no space", "resource limits", "storage")


def store_full_reason(error: dict[str, Any] | None) -> str | None:
    """The server's reason when a publish error means "no room", else None."""
    if not error:
        return None
    code = error.get("err_code")
    desc = str(error.get("description", ""))
    if code in STORE_FULL_CODES or any(w in desc.lower() for w in _FULL_WORDS):
        return f"{desc} (err_code {code})"
    return None


REFUSED_ACTION = (
    "make room in JetStream (delete or trim streams) or raise its max_file_store or the "
    "stream's limit; writes resume by themselves"
)
"""What the operator does about a store that refuses writes with a reason (a limit)."""

UNANSWERED_ACTION = (
    "if the NATS server's disk filled up: nats-server keeps a stream that failed a disk "
    'write stuck after space returns (its log says "critical write error"); free disk '
    "space, then restart nats-server (or disable and re-enable JetStream for the account "
    "with a configuration reload); the service resumes by itself"
)
"""What the operator of an external server does about writes that get no answer."""


class StoreHealth:
    """The store's condition per stream, as the service's own writes find it."""

    UNANSWERED_AFTER = 5.0
    """Seconds of unanswered writes (while connected) before the store counts as stuck."""

    def __init__(self, metrics: ServiceMetrics | None = None) -> None:
        self.metrics = metrics
        self._full: dict[str, tuple[float, str]] = {}
        self._actions: dict[str, str] = {}
        self.unanswered_action = UNANSWERED_ACTION
        """What the operator does about unanswered writes (the embedded server's watch
        says its own)."""
        self._unanswered_since: dict[str, float] = {}
        self.quiet: set[str] = set()
        """Streams full because writes to them got no answer (not refused with a reason)."""

    def refused(self, stream: str, reason: str, action: str | None = None) -> None:
        """A write to ``stream`` was refused for want of room; ``action`` says what the
        operator must do (None: make room or raise a limit)."""
        self._unanswered_since.pop(stream, None)
        self._actions[stream] = action or REFUSED_ACTION
        if stream not in self._full:
            log.error(
                "store_full stream=%s reason=%r (keeping the writer role; retrying until "
                "space returns)",
                stream,
                reason,
            )
        self._full[stream] = (self._full.get(stream, (time.time(), ""))[0], reason)
        self._publish()

    def unanswered(self, stream: str) -> None:
        """A write to ``stream`` got no answer (a full disk makes JetStream go quiet)."""
        now = time.monotonic()
        since = self._unanswered_since.setdefault(stream, now)
        if now - since >= self.UNANSWERED_AFTER and stream not in self._full:
            self.refused(
                stream,
                f"no answer to writes for {now - since:.0f}s (disk full?)",
                self.unanswered_action,
            )
            self.quiet.add(stream)
            self._unanswered_since[stream] = since

    def stored(self, stream: str) -> None:
        """A write to ``stream`` was stored: it has room (again)."""
        self._unanswered_since.pop(stream, None)
        entry = self._full.pop(stream, None)
        self._actions.pop(stream, None)
        self.quiet.discard(stream)
        if entry is not None:
            log.warning(
                "store_writable stream=%s after=%.1fs (resuming)", stream, time.time() - entry[0]
            )
            self._publish()

    @property
    def full(self) -> bool:
        return bool(self._full)

    def status(self) -> dict[str, Any] | None:
        """What is full since when and why (None: everything takes writes)."""
        if not self._full:
            return None
        return {
            stream: {
                "since_ms": int(since * 1000),
                "reason": reason,
                "action": self._actions.get(stream, REFUSED_ACTION),
            }
            for stream, (since, reason) in sorted(self._full.items())
        }

    def _publish(self) -> None:
        if self.metrics is not None:
            self.metrics.store_full.set(1.0 if self._full else 0.0)
