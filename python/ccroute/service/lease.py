"""One writer per routing domain: a lease in the domain's lease bucket.

The lease is the key ``writer`` of bucket ``ccroute_<domain>_lease``, written with a
per-message TTL (``Nats-TTL``, kept by the server's clock, so machines' clocks need not
agree) and renewed with a revision-checked update (``Nats-Expected-Last-Subject-Sequence``):
only the holder knows the current revision, so only the holder can renew. When the holder
dies the server drops the key after the TTL; a standby that has seen it gone for half a
TTL more creates it (expected revision 0) and wins.

The holder counts itself the writer only until a monotonic deadline: two thirds of the
TTL after it *sent* its last successful write (the server stored that write later, so
the key lives at least a full TTL from that moment). A standby can take the key only
after the TTL, so the old holder's deadline passes a third of the TTL before anybody
else can become the writer, however long the holder was paused (SIGSTOP, a VM pause,
CPU starvation) and whenever it wakes up. What a woken writer had already handed to the
socket is refused by the server (the decision stream is fenced, see
:mod:`ccroute.service.fencing`). A holder that gets the lease back re-reads how far the
decision stream has come before it publishes again.

The lease has its own small memory-storage bucket: a full disk or a full input stream must
not cost the writer its role (a memory stream takes no file space). A restarted server has
lost it; the writer re-creates it at its next renewal, before a standby may.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError

from ccroute.service.subjects import Names

__all__ = ["Lease", "ensure_lease_bucket"]

log = logging.getLogger("ccroute.service.lease")

_WRONG_LAST_SEQUENCE = (10071, 10164)


async def ensure_lease_bucket(js: JetStreamContext, names: Names, replicas: int = 1) -> None:
    """Create the lease's KV bucket (memory storage) unless it exists."""
    try:
        await js.key_value(names.lease_bucket)
    except BucketNotFoundError:
        # Memory storage: the lease must stay writable when the file store is full (the
        # input stream at its limit, the disk full). A restarted server has lost it: the
        # writer re-creates it and takes the lease back (see ``Lease._request``).
        await js.create_key_value(
            KeyValueConfig(
                bucket=names.lease_bucket,
                description=f"ccroute {names.domain}: the writer lease",
                history=1,
                storage=StorageType.MEMORY,
                replicas=replicas,
                direct=True,
            )
        )
        log.info("kv_created bucket=%s", names.lease_bucket)


class Lease:
    """The writer lease of one domain, held by ``holder`` (unique per process)."""

    VALIDITY = 2 / 3
    """Share of the TTL, from sending a write, during which the holder may act."""
    TAKEOVER_WAIT = 1 / 2
    """Share of the TTL a standby sees the key gone before it creates it: the holder,
    renewing every sixth of the TTL, re-creates a key the server lost (a restart drops
    the memory bucket) well before, so a server restart does not cause a takeover."""

    def __init__(
        self, nc: NATS, names: Names, holder: str, *, ttl: int = 3, replicas: int = 1
    ) -> None:
        if ttl < 1:
            raise ValueError("lease ttl is whole seconds, at least 1")
        self._nc = nc
        self.replicas = replicas
        self.names = names
        self.holder = holder
        self.ttl = ttl
        self.revision = 0
        bucket = names.lease_bucket
        self._subject = f"$KV.{bucket}.{Names.LEASE_KEY}"
        self._get_subject = f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{Names.LEASE_KEY}"
        self._valid_until = 0.0  # monotonic deadline of acting as the writer
        self._held = False
        self.since_ms = 0
        self.epoch = 0
        """Counts acquisitions: a writer that sees it move must re-read its position."""
        self._released = False  # the last read found the key purged (given up on purpose)

    @staticmethod
    def new_holder_id() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{time.time_ns() % 10**9:09d}"

    @property
    def held(self) -> bool:
        """True while this process may act as the writer (see the module doc)."""
        return self._held and time.monotonic() < self._valid_until

    @property
    def valid_for(self) -> float:
        """Seconds this process may still act as the writer (0 when it may not)."""
        return max(0.0, self._valid_until - time.monotonic()) if self._held else 0.0

    def _value(self) -> bytes:
        return json.dumps(
            {
                "holder": self.holder,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "since_ms": self.since_ms,
                "renewed_ms": int(time.time() * 1000),
                "ttl_s": self.ttl,
            }
        ).encode()

    async def current(self) -> tuple[int, dict[str, Any] | None]:
        """(revision, value) of the lease key now; (0, None) when nobody holds it."""
        msg = await self._request(self._get_subject, b"", None)
        hdrs = msg.headers or {}
        status = hdrs.get("Status")
        self._released = hdrs.get("KV-Operation") == "PURGE"
        if status == "404" or (status and status.startswith("404")):
            return 0, None
        rev = int(hdrs.get("Nats-Sequence", "0"))
        op = hdrs.get("KV-Operation")
        if op in ("DEL", "PURGE") or not msg.data:
            return rev, None
        try:
            return rev, json.loads(msg.data)
        except ValueError:
            return rev, None

    async def _request(self, subject: str, data: bytes, headers: dict[str, str] | None) -> Any:
        """A request to the lease bucket, re-creating the bucket if the server lost it."""
        try:
            return await self._nc.request(subject, data, timeout=2.0, headers=headers)
        except NoRespondersError:
            await ensure_lease_bucket(self._nc.jetstream(), self.names, self.replicas)
            return await self._nc.request(subject, data, timeout=2.0, headers=headers)

    async def _write(self, expected: int) -> int | None:
        """Write the lease expecting revision ``expected``; the new revision or None."""
        headers = {
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            "Nats-TTL": f"{self.ttl}s",
        }
        msg = await self._request(self._subject, self._value(), headers)
        ack = json.loads(msg.data)
        if "error" in ack:
            if ack["error"].get("err_code") in _WRONG_LAST_SEQUENCE:
                return None
            raise RuntimeError(f"lease write failed: {ack['error']}")
        return int(ack["seq"])

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True if this process is now the writer."""
        rev, value = await self.current()
        if value is not None and value.get("holder") != self.holder:
            return False
        self.since_ms = int(time.time() * 1000)
        sent_at = time.monotonic()
        new = await self._write(rev)
        if new is None:
            return False
        self.revision = new
        self._valid_until = sent_at + self.ttl * self.VALIDITY
        self._held = True
        self.epoch += 1
        log.info("lease_acquired holder=%s revision=%d", self.holder, new)
        return True

    async def acquire(self, stop: asyncio.Event, poll: float = 0.25) -> bool:
        """Wait as a standby until the lease is ours (True) or ``stop`` is set (False)."""
        announced = False
        absent_since: float | None = None
        while not stop.is_set():
            try:
                _, value = await self.current()
                now = time.monotonic()
                if value is None and not self._released:
                    # Expired, or lost with a server restart: give the holder time to
                    # re-create it before taking over.
                    absent_since = now if absent_since is None else absent_since
                    ready = now - absent_since >= self.ttl * self.TAKEOVER_WAIT
                else:
                    absent_since = None
                    ready = value is None or value.get("holder") == self.holder
                if ready and await self.try_acquire():
                    return True
                if not announced:
                    _, value = await self.current()
                    log.info(
                        "standby holder=%s leader=%s",
                        self.holder,
                        (value or {}).get("holder", "?"),
                    )
                    announced = True
            except Exception as exc:  # server away: keep waiting
                log.debug("lease_poll_failed error=%r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)
        return False

    async def renew(self) -> bool:
        """Extend the lease; False when another process took it (we are no writer)."""
        sent_at = time.monotonic()
        try:
            new = await self._write(self.revision)
        except Exception as exc:
            log.warning("lease_renew_failed error=%r", exc)
            return self.held
        if new is None:
            if self._held:
                log.warning("lease_lost holder=%s", self.holder)
            self._held = False
            return False
        self.revision = new
        self._valid_until = sent_at + self.ttl * self.VALIDITY
        self._held = True
        return True

    async def keep(self, stop: asyncio.Event, lost: asyncio.Event) -> None:
        """Renew every sixth of the TTL until ``stop``; set ``lost`` if the lease goes.

        Often enough that a renewal or two delayed by a busy machine does not let the
        validity (two thirds of the TTL) lapse.
        """
        interval = self.ttl / 6
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                break
            if await self.renew() or self.held:
                continue
            # Perhaps the key only expired while the server was away: take it back if
            # nobody else did (``epoch`` moves, so the runner re-reads where to resume).
            try:
                if await self.try_acquire():
                    continue
            except Exception as exc:
                log.debug("lease_reacquire_failed error=%r", exc)
            if not self.held:
                lost.set()
                return

    async def release(self) -> None:
        """Give the lease up at once (graceful stop), so a standby need not wait the TTL."""
        if not self._held:
            return
        self._held = False
        headers = {"KV-Operation": "PURGE", "Nats-Rollup": "sub"}
        headers["Nats-Expected-Last-Subject-Sequence"] = str(self.revision)
        with contextlib.suppress(Exception):
            await self._nc.request(self._subject, b"", timeout=2.0, headers=headers)
            log.info("lease_released holder=%s", self.holder)
