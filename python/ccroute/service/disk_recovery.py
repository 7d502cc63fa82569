"""A stream the embedded server left stuck after a failed disk write: restarted once space
returns.

nats-server (2.15.1, found on a small tmpfs) marks a file stream's store failed at its
first write that fails for want of room (``Filestore [S] Critical write error: write
.../msgs/1.blk: no space left on device``, then ``JetStream stream 'ACC > S' critical
write error: ...``). From then on it drops every publish to that stream without an
answer (``JetStream failed to store a msg on stream 'ACC > S': ... no space left on
device`` per publish), also once the disk has room again. Only that stream: the others,
and new streams, take writes. A stream update, a configuration reload (SIGHUP) and
waiting do not clear it; disabling and re-enabling JetStream for the account (two
reloads) and restarting the server do, the stream restored from its files.

``ccroute serve`` owns its embedded server, so it watches the server's log for such a
failure (or, the log being on the same disk, for writes that get no answer while the
disk was seen full). While the disk stays full it reports the stream stuck (``/healthz`` degraded,
with what it waits for); once the store's filesystem has room, it restarts the server on
the same port and store. SIGTERM lets the server write what it holds, which is why it
waits for room first. The service's connections reconnect by themselves; the writer
keeps its role (it re-creates the lease bucket, a memory stream the restart dropped, at
its next renewal, before a standby may take over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import time

from ccroute.service.embedded import EmbeddedNats
from ccroute.service.storage import StoreHealth

__all__ = ["EMBEDDED_UNANSWERED_ACTION", "EmbeddedStoreWatch", "stuck_streams"]

log = logging.getLogger("ccroute.service.disk_recovery")

EMBEDDED_UNANSWERED_ACTION = (
    "if the disk of the embedded server's store filled up: free space there; the server "
    "restarts by itself once there is room and the service resumes"
)
"""What the operator does about unanswered writes to the embedded server."""

_CRITICAL = re.compile(
    r"JetStream stream '(?P<account>[^']*) > (?P<stream>[^']+)' critical write error: "
    r"(?P<error>.*)$",
    re.MULTILINE,
)


def stuck_streams(log_text: str) -> dict[str, str]:
    """Streams a nats-server log says failed a write for good: {stream: the error}."""
    return {m["stream"]: m["error"].strip() for m in _CRITICAL.finditer(log_text)}


class EmbeddedStoreWatch:
    """Restarts the embedded server when one of its streams is stuck and space is back.

    ``min_free`` is the room (bytes free on the store's filesystem) that counts as back;
    None: 1 % of the filesystem, at least 1 MiB and at most 64 MiB.
    """

    RESTART_BACKOFF = (5.0, 300.0)
    """Seconds between restarts for the same failure, doubling (a disk that fails writes
    with room to spare must not make the server restart in a loop)."""

    def __init__(
        self,
        server: EmbeddedNats,
        health: StoreHealth,
        *,
        min_free: int | None = None,
        interval: float = 0.5,
    ) -> None:
        self.server = server
        self.health = health
        self.min_free = min_free
        self.interval = interval
        self.restarts = 0
        self._offset = 0
        self._stuck: dict[str, str] = {}
        self._backoff = self.RESTART_BACKOFF[0]
        self._next_restart = 0.0
        self._down = False
        self._disk_was_full = False

    def room_needed(self) -> int:
        if self.min_free is not None:
            return self.min_free
        total = shutil.disk_usage(self.server.store_dir).total
        return min(max(total // 100, 1 << 20), 64 << 20)

    def _scan(self) -> None:
        """Read what the server logged since the last look (its log is new per start)."""
        try:
            with self.server.log_path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        # Only whole lines: the server may be half-way through writing one.
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for stream, error in stuck_streams(chunk[:end].decode(errors="replace")).items():
            if stream not in self._stuck:
                log.error(
                    "store_stuck stream=%s error=%r (the embedded server restarts once "
                    "its disk has %d bytes free)",
                    stream,
                    error,
                    self.room_needed(),
                )
            self._stuck[stream] = error

    def _start(self) -> None:
        # Started from the event loop's thread, as at the first start: the server's
        # parent-death signal belongs to the thread that started it.
        try:
            self.server.start()
        except Exception as exc:  # tried again at the next look
            log.error("embedded_nats_start_failed error=%r (retrying)", exc)
            return
        self._down = False

    async def check(self) -> bool:
        """One look: report stuck streams, restart the server if there is room. True if
        it restarted."""
        if self._down:
            self._start()
            return False
        need = self.room_needed()
        free = shutil.disk_usage(self.server.store_dir).free
        if free < need:
            self._disk_was_full = True
        elif not self.health.full:
            self._disk_was_full = False  # full once, but nothing was stuck by it
        self._scan()
        # The server's log is on the same disk: its "critical write error" line can be
        # lost for want of room. Writes that get no answer while the disk was seen full
        # mean the same.
        quiet = set(self.health.quiet) if self._disk_was_full else set()
        if not self._stuck and not quiet:
            return False
        for stream, error in self._stuck.items():
            self.health.refused(
                stream,
                f"disk write failed: {error}",
                action=(
                    f"free space on the disk of {self.server.store_dir} (now {free} bytes "
                    f"free): the embedded server restarts by itself once {need} are free"
                ),
            )
        if free < need or time.monotonic() < self._next_restart:
            return False
        streams = ",".join(sorted(set(self._stuck) | quiet))
        log.warning(
            "embedded_nats_restarting streams=%s free=%d (stuck after a disk error)", streams, free
        )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.server.stop)
        self._down = True
        self._start()
        self.restarts += 1
        self._offset = 0
        for stream in self._stuck:
            # Restored from its files: it takes writes again (a stream the service does
            # not write itself would otherwise stay reported for good).
            self.health.stored(stream)
        self._stuck.clear()
        self._disk_was_full = False
        self._next_restart = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.RESTART_BACKOFF[1])
        log.warning("embedded_nats_restarted streams=%s restarts=%d", streams, self.restarts)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Look every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.check()
            except Exception as exc:  # a failed look must not end the watch
                log.warning("store_watch_failed error=%r", exc)
            if self._next_restart and time.monotonic() > self._next_restart + 600:
                self._backoff, self._next_restart = self.RESTART_BACKOFF[0], 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
