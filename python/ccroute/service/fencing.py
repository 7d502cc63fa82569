"""Fenced writes to the decision stream: the server refuses a stale writer's publish.

Every decision is published with ``Nats-Expected-Last-Sequence`` set to the stream
sequence it must follow: the writer knows the stream's last sequence (read when it took
over, then advanced by each batch it stored), so the i-th message of a batch expects
``base + i``. JetStream stores a message only if the stream's last sequence is exactly
that, so:

- a writer that was paused (SIGSTOP, a VM pause, CPU starvation) past its lease and
  wakes up after another writer published anything gets every publish refused;
- a batch cut by a lost connection can no longer reach the stream with a hole in it:
  a frame that follows a lost one expects a sequence the stream has not reached and is
  refused, so what is stored is always a prefix of the batch.

After a refusal or an unclear answer (a time-out, a reconnect) the writer reads the
stream's last sequence ``L``. ``L - base`` messages of the batch are stored if the message
at ``L`` carries the id of the batch's ``(L - base)``-th decision; the rest is sent again,
expecting ``L``. Any other state means another writer wrote: :class:`Fenced` is raised and
the writer steps down (a new writer re-reads the horizon and goes on from there).

Decision ids are ``<domain>:<input seq>:<n>``, the same whichever writer makes them, and a
writer makes them from the log alone: a prefix that carries the batch's ids is the batch's
content, whoever stored it. JetStream drops a message whose ``Nats-Msg-Id`` it has seen
before checking the expected sequence, so a stale writer's decisions already in the
stream are dropped as duplicates, and one of its messages is stored only where every
message before it in its batch is already in the stream, in its order: exactly where a
writer that applied the same inputs in the same order (and the runner never applies one
out of turn) puts the same decision. A stale writer therefore never adds a decision that
differs from a replay, and it finds out it was fenced at the end of the batch at the
latest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import msgspec
from nats.aio.client import Client as NATS

from ccroute.service.storage import StoreHealth, store_full_reason
from ccroute.service.transport import PubAck, PublishError, StreamBatches

__all__ = ["Fenced", "FencedWriter", "fenced_frame"]

log = logging.getLogger("ccroute.service.fencing")

_puback = msgspec.json.Decoder(PubAck)
_HEAD = b"NATS/1.0\r\nNats-Msg-Id: "
_EXPECT = b"\r\nNats-Expected-Last-Sequence: "
_WRONG_LAST_SEQUENCE = 10071

Item = tuple[bytes, bytes, bytes | msgspec.Raw]
"""A decision to store: (subject, ``Nats-Msg-Id``, payload)."""


class Fenced(RuntimeError):
    """The stream moved under this writer, or it cannot prove it holds the lease."""


def fenced_frame(
    subject: bytes, msg_id: bytes, payload: bytes | msgspec.Raw, expected: int
) -> bytes:
    """One ``HPUB`` frame with ``Nats-Msg-Id`` and ``Nats-Expected-Last-Sequence``."""
    hdr = b"%s%s%s%d\r\n\r\n" % (_HEAD, msg_id, _EXPECT, expected)
    return b"HPUB %s %d %d\r\n%s%s\r\n" % (
        subject,
        len(hdr),
        len(hdr) + len(payload),
        hdr,
        payload,
    )


class FencedWriter(StreamBatches[Item]):
    """Batches of decisions to one stream, each message fenced on its predecessor.

    ``may_send`` says whether this process may write now (the lease is valid); it is
    asked right before anything leaves, and when it stays false for ``hold_wait``
    seconds the commit raises :class:`Fenced`.
    """

    _log = log

    def __init__(
        self,
        nc: NATS,
        stream: str,
        *,
        may_send: Callable[[], bool] | None = None,
        hold_wait: float = 5.0,
        timeout: float = 5.0,
        api_prefix: str = "$JS.API",
    ) -> None:
        super().__init__(nc, stream, timeout=timeout, api_prefix=api_prefix)
        self.may_send = may_send
        self.hold_wait = hold_wait
        self.refusals = 0
        """Publishes the server refused because the stream had moved (a stale writer's)."""
        self.health: StoreHealth | None = None
        """Told when the stream refuses for want of room, and when it stores again."""

    def _answered(self, ack: PubAck, base: int, n: int) -> bool:
        """Note what the answer says about the store; True if the batch is all stored."""
        ok = ack.error is None and not ack.duplicate and ack.seq == base + n
        if ack.error is not None:
            if ack.error.get("err_code") == _WRONG_LAST_SEQUENCE:
                self.refusals += 1
            reason = store_full_reason(ack.error)
            if reason is not None and self.health is not None:
                self.health.refused(self.stream, reason)
        elif self.health is not None:
            self.health.stored(self.stream)
        if ok:
            self.last_seq = ack.seq
        return ok

    def _unanswered(self, exc: Exception) -> None:
        if self.health is not None and isinstance(exc, TimeoutError) and self._nc.is_connected:
            self.health.unanswered(self.stream)

    def add(self, subject: bytes, msg_id: bytes, payload: bytes | msgspec.Raw) -> None:
        self._items.append((subject, msg_id, payload))

    async def _may_send(self) -> None:
        if self.may_send is None or self.may_send():
            return
        deadline = time.monotonic() + self.hold_wait
        while not self.may_send():
            if time.monotonic() >= deadline:
                raise Fenced(f"{self.stream}: the writer lease is not held")
            await asyncio.sleep(0.02)

    async def _send(self, items: list[Item], base: int) -> PubAck:
        """Pipeline ``items`` fenced from ``base``; the server's answer to the last one."""
        await self._may_send()
        *body, (s, i, p) = items
        if body:
            if self.raw:
                await self._nc._send_command(
                    b"".join(
                        [fenced_frame(bs, bi, bp, base + n) for n, (bs, bi, bp) in enumerate(body)]
                    )
                )
            else:  # pragma: no cover - another nats-py version
                for n, (bs, bi, bp) in enumerate(body):
                    await self._nc.publish(
                        bs.decode(),
                        bytes(bp),
                        headers={
                            "Nats-Msg-Id": bi.decode(),
                            "Nats-Expected-Last-Sequence": str(base + n),
                        },
                    )
        # Sent after the body on the same connection: the answer tells where it all ended.
        headers = {
            "Nats-Msg-Id": i.decode(),
            "Nats-Expected-Last-Sequence": str(base + len(body)),
        }
        msg = await self._nc.request(s.decode(), bytes(p), timeout=self.timeout, headers=headers)
        return _puback.decode(msg.data)

    async def _msg_id_at(self, seq: int) -> bytes:
        req = json.dumps({"seq": seq}).encode()
        msg = await self._nc.request(
            f"{self._api_prefix}.DIRECT.GET.{self.stream}", req, timeout=self.timeout
        )
        return str((msg.headers or {}).get("Nats-Msg-Id", "")).encode()

    async def commit_items(self, items: list[Item], stop: asyncio.Event | None = None) -> None:
        """Store ``items`` right after the stream's known last sequence, or raise Fenced.

        Callers that overlap work with this must not start the next commit before this
        one returns: each batch is fenced on where the previous one ended.
        """
        if not items:
            return
        if self.last_seq < 0:
            await self.sync_last_seq()
        base = self.last_seq
        try:
            if self._answered(await self._send(items, base), base, len(items)):
                return
        except Fenced:
            raise
        except Exception as exc:  # time-outs, reconnects: find out below what was stored
            self._unanswered(exc)
            log.warning("publish_retry stream=%s n=%d error=%r", self.stream, len(items), exc)
        await self._reconcile(items, base, stop)

    async def _reconcile(self, items: list[Item], base: int, stop: asyncio.Event | None) -> None:
        self.slow_commits += 1
        backoff = 0.05
        while True:
            try:
                last = await self.sync_last_seq()
                stored = last - base
                if stored < 0 or stored > len(items):
                    raise Fenced(f"{self.stream}: last sequence {last}, this writer's base {base}")
                if stored and await self._msg_id_at(last) != items[stored - 1][1]:
                    raise Fenced(f"{self.stream}: sequence {last} holds another writer's message")
                if stored == len(items):
                    return
                ack = await self._send(items[stored:], last)
                if self._answered(ack, last, len(items) - stored):
                    return
                if ack.error is not None and ack.error.get("err_code") != _WRONG_LAST_SEQUENCE:
                    raise PublishError(f"{self.stream}: {ack.error}")
            except Fenced:
                self.last_seq = -1
                raise
            except Exception as exc:
                self._unanswered(exc)
                backoff = await self._pause(exc, len(items), backoff, stop)
