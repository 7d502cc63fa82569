"""Fenced writes to the decision stream: the server refuses a stale writer's publish.

Every decision is published with ``Nats-Expected-Last-Sequence`` set to the stream
sequence it must follow: the writer knows the stream's last sequence (read when it took
over, then advanced by each batch it stored), so the i-th message of a batch expects
``base + i``. Every message of a batch but the first also carries
``Nats-Expected-Last-Msg-Id``: the id of the batch's previous message. JetStream stores a
message only if the stream's last sequence, and its last message's id, are exactly
those, so:

- a writer that was paused (SIGSTOP, a VM pause, CPU starvation) past its lease and
  wakes up after another writer published anything gets every publish refused;
- a batch cut by a lost connection can no longer reach the stream with a hole in it:
  a frame that follows a lost one expects a sequence the stream has not reached and is
  refused, so what is stored is always a prefix of the batch;
- a foreign message (anyone else's publish on a subject of the stream) that lands
  before or inside a pipelined batch breaks the chain: the sequence alone does not,
  since each foreign message takes the place of a refused decision and the next one's
  expected sequence is met (the rest of the batch was stored behind it, one decision
  short per foreign message, and the last answer looked like success). The message
  after the foreign one expects the id of a decision that is not the stream's last
  (a message without an id clears the server's last id), and each later one the id of
  a decision that was refused: all are refused. nats-server checks the expected
  sequence first, then the duplicate window, then the expected last id.

The first message of a batch expects only the sequence: the writer stored (or read) the
message at ``base`` itself, and the server's last id is not always there to compare with
(an empty stream has none).

After a refusal or an unclear answer (a time-out, a reconnect) the writer reads the
stream's last sequence ``L``. ``L - base`` messages of the batch are stored if the message
at ``L`` carries the id of the batch's ``(L - base)``-th decision; the rest is sent again,
expecting ``L``. Any other state means another writer wrote: :class:`Fenced` is raised and
the writer steps down (a new writer re-reads the horizon and goes on from there).

Decision ids are ``<domain>:<input seq>:<n>``, the same whichever writer makes them, and a
writer makes them from the log alone: a prefix that carries the batch's ids is the batch's
content, whoever stored it. A stale writer's message is stored only where the stream's
last sequence is the one it expects and every message before it in its batch is the
stream's last messages, in its order (a decision already in the stream, sent where its
sequence fits, is dropped as a duplicate): exactly where a writer that applied the same
inputs in the same order (and the runner never applies one out of turn) puts the same
decision. A stale writer therefore never adds a decision that differs from a replay, and
it finds out it was fenced at the end of the batch at the latest.
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
from ccroute.service.transport import (
    PubAck,
    PublishError,
    StreamBatches,
    replies_of,
)

__all__ = ["Fenced", "FencedWriter", "fenced_frame"]

log = logging.getLogger("ccroute.service.fencing")

_puback = msgspec.json.Decoder(PubAck)
_HEAD = b"NATS/1.0\r\nNats-Msg-Id: "
_EXPECT = b"\r\nNats-Expected-Last-Sequence: "
_EXPECT_ID = b"\r\nNats-Expected-Last-Msg-Id: "
_WRONG_LAST_SEQUENCE = 10071
_WRONG_LAST_MSG_ID = 10070
_MOVED = frozenset({_WRONG_LAST_SEQUENCE, _WRONG_LAST_MSG_ID})
"""Refusals that say the stream is not where the writer expects it (another wrote)."""

Item = tuple[bytes, bytes, bytes | msgspec.Raw]
"""A decision to store: (subject, ``Nats-Msg-Id``, payload)."""


class Fenced(RuntimeError):
    """The stream moved under this writer, or it cannot prove it holds the lease."""


def fenced_frame(
    subject: bytes,
    msg_id: bytes,
    payload: bytes | msgspec.Raw,
    expected: int,
    previous_id: bytes = b"",
) -> bytes:
    """One ``HPUB`` frame with ``Nats-Msg-Id`` and ``Nats-Expected-Last-Sequence``, and
    ``Nats-Expected-Last-Msg-Id`` unless ``previous_id`` is empty."""
    if previous_id:
        hdr = b"%s%s%s%d%s%s\r\n\r\n" % (
            _HEAD,
            msg_id,
            _EXPECT,
            expected,
            _EXPECT_ID,
            previous_id,
        )
    else:
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
            if ack.error.get("err_code") in _MOVED:
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
        """Pipeline ``items`` fenced from ``base``; the server's answer to the last one.

        The n-th message expects sequence ``base + n`` and, but the first, the id of the
        (n-1)-th: a chain nothing foreign can enter.
        """
        await self._may_send()
        nc = self._nc
        replies = await replies_of(nc) if self.raw else None
        if replies is None:  # pragma: no cover - another nats-py version
            for n, (bs, bi, bp) in enumerate(items[:-1]):
                await nc.publish(
                    bs.decode(), bytes(bp), headers=_headers(bi, base + n, _previous(items, n))
                )
            # Sent after the rest on the same connection: the answer tells where it ended.
            n = len(items) - 1
            s, i, p = items[n]
            headers = _headers(i, base + n, _previous(items, n))
            msg = await nc.request(s.decode(), bytes(p), timeout=self.timeout, headers=headers)
            return _puback.decode(msg.data)
        frames = [
            fenced_frame(bs, bi, bp, base + n, _previous(items, n))
            for n, (bs, bi, bp) in enumerate(items)
        ]
        # The last asks for an answer; sent after the rest on the same connection, it
        # tells where the batch ended.
        last = frames.pop()
        return _puback.decode(await replies.request(b"".join(frames), last, self.timeout))

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
                if ack.error is not None and ack.error.get("err_code") not in _MOVED:
                    raise PublishError(f"{self.stream}: {ack.error}")
            except Fenced:
                self.last_seq = -1
                raise
            except Exception as exc:
                self._unanswered(exc)
                backoff = await self._pause(exc, len(items), backoff, stop)


def _previous(items: list[Item], n: int) -> bytes:
    """The id the ``n``-th message expects last in the stream (none for the first)."""
    return items[n - 1][1] if n else b""


def _headers(msg_id: bytes, expected: int, previous_id: bytes) -> dict[str, str]:
    headers = {"Nats-Msg-Id": msg_id.decode(), "Nats-Expected-Last-Sequence": str(expected)}
    if previous_id:
        headers["Nats-Expected-Last-Msg-Id"] = previous_id.decode()
    return headers
