"""One writer per routing domain: a lease in the domain's KV bucket.

The lease is the key ``writer`` of bucket ``ccroute_<domain>``, written with a per-message
TTL (``Nats-TTL``, kept by the server's clock, so machines' clocks need not agree) and
renewed with a revision-checked update (``Nats-Expected-Last-Subject-Sequence``): only the
holder knows the current revision, so only the holder can renew. When the holder dies the
server drops the key after the TTL and a standby's create (expected revision 0) wins.

A holder that cannot renew (server away) stops counting itself the writer once its own
monotonic clock says the TTL may have passed; if it gets the lease back afterwards, it
re-reads how far the decision stream has come before it publishes again, so two writers
in a row never publish the same decision twice.
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

from ccroute.service.subjects import Names

__all__ = ["Lease"]

log = logging.getLogger("ccroute.service.lease")

_WRONG_LAST_SEQUENCE = (10071, 10164)


class Lease:
    """The writer lease of one domain, held by ``holder`` (unique per process)."""

    def __init__(self, nc: NATS, names: Names, holder: str, *, ttl: int = 3) -> None:
        if ttl < 1:
            raise ValueError("lease ttl is whole seconds, at least 1")
        self._nc = nc
        self.names = names
        self.holder = holder
        self.ttl = ttl
        self.revision = 0
        self._subject = f"$KV.{names.kv_bucket}.{Names.LEASE_KEY}"
        self._get_subject = (
            f"$JS.API.DIRECT.GET.KV_{names.kv_bucket}.$KV.{names.kv_bucket}.{Names.LEASE_KEY}"
        )
        self._renewed_at = 0.0  # monotonic time of the last successful write
        self._held = False
        self.since_ms = 0
        self.epoch = 0
        """Counts acquisitions: a writer that sees it move must re-read its position."""

    @staticmethod
    def new_holder_id() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{time.time_ns() % 10**9:09d}"

    @property
    def held(self) -> bool:
        """True while this process may act as the writer (renewed within the TTL)."""
        return self._held and time.monotonic() - self._renewed_at < self.ttl * 0.9

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
        msg = await self._nc.request(self._get_subject, b"", timeout=2.0)
        hdrs = msg.headers or {}
        status = hdrs.get("Status")
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

    async def _write(self, expected: int) -> int | None:
        """Write the lease expecting revision ``expected``; the new revision or None."""
        headers = {
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            "Nats-TTL": f"{self.ttl}s",
        }
        msg = await self._nc.request(self._subject, self._value(), timeout=2.0, headers=headers)
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
        new = await self._write(rev)
        if new is None:
            return False
        self.revision = new
        self._renewed_at = time.monotonic()
        self._held = True
        self.epoch += 1
        log.info("lease_acquired holder=%s revision=%d", self.holder, new)
        return True

    async def acquire(self, stop: asyncio.Event, poll: float = 0.25) -> bool:
        """Wait as a standby until the lease is ours (True) or ``stop`` is set (False)."""
        announced = False
        while not stop.is_set():
            try:
                if await self.try_acquire():
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
        self._renewed_at = time.monotonic()
        self._held = True
        return True

    async def keep(self, stop: asyncio.Event, lost: asyncio.Event) -> None:
        """Renew every third of the TTL until ``stop``; set ``lost`` if the lease goes."""
        interval = self.ttl / 3
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
