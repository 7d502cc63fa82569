"""The fast lanes on nats-py: raw pull deliveries in, pipelined publishes out, confirmed.

On a 2-core machine the routing core costs little; nats-py's per-message work (a ``Msg``
object, header parsing, an asyncio queue hop per delivery; header building and subject
validation per publish) is what limits the service. This module keeps that work to a
minimum while using only the wire protocol's documented behaviour:

- :class:`PullConsumer` keeps pull requests outstanding on a JetStream consumer (like the
  newer clients' ``consume``) and takes deliveries as raw ``(subject, reply, data)``
  tuples straight from the protocol parser, in order, in batches.
- :class:`StreamWriter` writes many messages to one stream as pipelined ``HPUB`` frames
  and confirms the whole batch with one acknowledged publish at its end: JetStream stores
  a connection's messages in order, so when the last one's sequence is exactly the
  previous sequence plus the batch size, every message of the batch is stored once.
  Any other answer (a duplicate, a gap after a reconnect, another writer) falls back to
  publishing each message with its own acknowledgement, deduplicated by ``Nats-Msg-Id``.
  It shares the batch mechanics (:class:`StreamBatches`) with the decision stream's
  :class:`~ccroute.service.fencing.FencedWriter`, which confirms a batch by fencing each
  message on its predecessor instead, and so must be the stream's only writer.

Both reach into two private attributes of nats-py's ``Client`` (``_process_msg`` and
``_send_command``); when they are missing (another nats-py version) both fall back to
the public API, slower but the same behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    NoRespondersError,
    ProtocolError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.protocol.parser import AWAITING_CONTROL_LINE, Parser

__all__ = [
    "AckInfo",
    "Delivery",
    "PubAck",
    "PullConsumer",
    "StreamBatches",
    "StreamWriter",
    "consumer_seq_of",
    "parse_ack_reply",
    "stream_seq_of",
]

log = logging.getLogger("ccroute.service.transport")

T = TypeVar("T")

Delivery = tuple[bytes, bytes, bytes]
"""A JetStream delivery as it came off the wire: (subject, reply, data)."""


class AckInfo(msgspec.Struct, frozen=True, array_like=True):
    """What the ``$JS.ACK...`` reply subject of a delivery says."""

    stream_seq: int
    delivered: int
    timestamp_ns: int
    pending: int


def _ack_tokens(reply: bytes) -> tuple[list[bytes], int]:
    """The tokens of a ``$JS.ACK`` reply subject and the index of its ``<delivered>``.

    Two layouts exist: ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``
    and, with a JetStream domain, ``$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>
    .<sseq>.<cseq>.<ts>.<pending>[.<token>]``.
    """
    t = reply.split(b".")
    if len(t) == 9:
        return t, 4
    if len(t) >= 11:
        return t, 6
    raise ValueError(f"not a JetStream ack subject: {reply[:200]!r}")


def parse_ack_reply(reply: bytes) -> AckInfo:
    """Stream sequence, delivery count, store time and pending count of a delivery."""
    t, i = _ack_tokens(reply)
    return AckInfo(int(t[i + 1]), int(t[i]), int(t[i + 3]), int(t[i + 4]))


def stream_seq_of(reply: bytes) -> int:
    """The stream sequence of a delivery, from its ack subject (the hot path's one field)."""
    t, i = _ack_tokens(reply)
    return int(t[i + 1])


def consumer_seq_of(reply: bytes) -> int:
    """The consumer (delivery) sequence of a delivery, from its ack subject."""
    t, i = _ack_tokens(reply)
    return int(t[i + 2])


class PubAck(msgspec.Struct, frozen=True):
    """JetStream's answer to a publish."""

    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: dict[str, Any] | None = None


_puback = msgspec.json.Decoder(PubAck)


class PublishError(RuntimeError):
    """JetStream refused a publish (the stream's error is in the message)."""


# --------------------------------------------------------------------------- deliveries

_Handler = Callable[[bytes, bytes, bytes, bytes | None], None]


class _Interceptor:
    """Routes the deliveries of chosen subscriptions past nats-py's ``Msg`` machinery."""

    def __init__(self, nc: NATS) -> None:
        self.handlers: dict[int, _Handler] = {}
        self.want_headers: set[int] = set()
        """Subscriptions whose message headers are passed on (not only status headers)."""
        self._original: Callable[..., Awaitable[None]] = nc._process_msg
        nc._process_msg = self._process_msg  # type: ignore[method-assign]

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        handler = self.handlers.get(sid)
        if handler is None:
            await self._original(sid, subject, reply, data, headers)
        else:
            handler(subject, reply, data, headers)


class _FastParser(Parser):
    """nats-py's protocol parser with a quicker path for ``MSG``/``HMSG`` frames.

    The stock parser matches a regular expression and trims its buffer per message; this
    one walks the buffer with ``find`` and trims once. Anything that is not a message
    frame (PING, INFO, -ERR...) and any frame it meets in the middle is left to the stock
    parser, which keeps every other behaviour as it was.
    """

    def __init__(self, nc: NATS, icp: _Interceptor) -> None:
        super().__init__(nc)
        self._icp = icp

    async def parse(self, data: bytes = b"") -> None:
        buf = self.buf
        buf.extend(data)
        if self.state != AWAITING_CONTROL_LINE:
            await super().parse(b"")
            return
        handlers = self._icp.handlers
        process = self._icp._process_msg
        pos = 0
        n = len(buf)
        while pos < n:
            if buf.startswith(b"HMSG ", pos):
                head = 5
            elif buf.startswith(b"MSG ", pos):
                head = 4
            else:
                break
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            parts = bytes(buf[pos + head : end]).split()
            hlen = 0
            reply = b""
            try:
                if head == 5:
                    if len(parts) == 5:
                        subject, sid_b, reply, h_b, t_b = parts
                    else:
                        subject, sid_b, h_b, t_b = parts
                    hlen = int(h_b)
                else:
                    if len(parts) == 4:
                        subject, sid_b, reply, t_b = parts
                    else:
                        subject, sid_b, t_b = parts
                total = int(t_b)
                sid = int(sid_b)
            except ValueError:
                raise ProtocolError("nats: malformed MSG") from None
            start = end + 2
            if start + total + 2 > n:
                break  # the rest of this frame has not arrived yet
            payload = bytes(buf[start + hlen : start + total])
            handler = handlers.get(sid)
            # Our consumers read headers only of status messages (which have no reply).
            need_hdr = hlen and (handler is None or not reply or sid in self._icp.want_headers)
            hdr = bytes(buf[start : start + hlen]) if need_hdr else None
            pos = start + total + 2
            if handler is not None:
                handler(subject, reply, payload, hdr)
            else:
                await process(sid, subject, reply, payload, hdr)
        if pos:
            del buf[:pos]
        if buf and not (buf.startswith(b"MSG ") or buf.startswith(b"HMSG ")):
            await super().parse(b"")


def _interceptor(nc: NATS) -> _Interceptor | None:
    existing = getattr(nc, "_ccroute_interceptor", None)
    if isinstance(existing, _Interceptor):
        return existing
    if not callable(getattr(nc, "_process_msg", None)):
        return None
    icp = _Interceptor(nc)
    nc._ccroute_interceptor = icp  # type: ignore[attr-defined]
    ps = getattr(nc, "_ps", None)
    if type(ps) is Parser and not ps.buf:
        nc._ps = _FastParser(nc, icp)
    return icp


class PullConsumer:
    """Deliveries of one durable pull consumer, in order, in batches of what is there.

    Keeps between ``batch/2`` and ``1.5*batch`` messages requested; each pull request
    expires after ``expires`` seconds so requests lost with a server restart are renewed.
    """

    def __init__(
        self,
        nc: NATS,
        stream: str,
        consumer: str,
        *,
        batch: int = 1000,
        expires: float = 5.0,
        api_prefix: str = "$JS.API",
        headers: bool = False,
    ) -> None:
        self._nc = nc
        self._headers = headers
        """Deliver ``(header block, reply, data)`` instead of ``(subject, reply, data)``
        (the recorder reads each decision's ``Nats-Msg-Id``)."""
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.batch = max(1, batch)
        self.expires = expires
        self._buf: list[Delivery] = []
        self._waiter: asyncio.Future[None] | None = None
        """What :meth:`next_batch` waits on when nothing is buffered (woken by a delivery)."""
        # Pull requests in flight, oldest first: id -> [deadline (monotonic), still due].
        # The server serves waiting pull requests in order, so deliveries count down the
        # oldest; a status message (expired, no messages...) comes to the request's own
        # reply subject ``<inbox>.<id>``, so it ends exactly that request.
        self._pulls: dict[int, list[float]] = {}
        self._next_pull = 0
        self._uncounted = 0
        self._inbox = ""
        self._sub: Any = None
        self.raw = False
        self.may_pull: Callable[[], bool] | None = None
        """Asked before each pull request: a writer that may have lost its lease must not
        take deliveries meant for the new writer."""

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        icp = _interceptor(self._nc)

        async def _cb(msg: Msg) -> None:  # the public path (no interceptor)
            hdr = None
            if msg.headers and not msg.reply:
                status = msg.headers.get("Status", "")
                hdr = f"NATS/1.0 {status}\r\n".encode()
            elif msg.headers and self._headers:
                lines = "".join(f"{k}: {v}\r\n" for k, v in msg.headers.items())
                hdr = f"NATS/1.0\r\n{lines}\r\n".encode()
            self._on_delivery(msg.subject.encode(), (msg.reply or "").encode(), msg.data, hdr)

        self._sub = await self._nc.subscribe(
            self._inbox + ".*", cb=_cb, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        sid = getattr(self._sub, "_id", None)
        if icp is not None and isinstance(sid, int):
            icp.handlers[sid] = self._on_delivery
            if self._headers:
                icp.want_headers.add(sid)
            self.raw = True
        await self._top_up()

    async def stop(self) -> None:
        icp = getattr(self._nc, "_ccroute_interceptor", None)
        sid = getattr(self._sub, "_id", None)
        if isinstance(icp, _Interceptor) and isinstance(sid, int):
            icp.handlers.pop(sid, None)
            icp.want_headers.discard(sid)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        self._sub = None

    def _on_delivery(
        self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        if reply.startswith(b"$JS.ACK."):
            self._buf.append(((headers or b"") if self._headers else subject, reply, data))
            self._uncounted += 1  # counted against the pull requests in _count_down
            self._wake()
            return
        # A status message: 100 is an idle heartbeat; 404/408/409 end the pull request
        # it answers (no messages, expired, consumer deleted or leader changed).
        self._count_down()
        code = headers[9:12] if headers and headers.startswith(b"NATS/1.0 ") else b""
        if code != b"100":
            _, _, tail = subject.rpartition(b".")
            with contextlib.suppress(ValueError):
                self._pulls.pop(int(tail), None)
            if code == b"409":
                self._pulls.clear()
        self._wake()

    def _count_down(self) -> None:
        n, self._uncounted = self._uncounted, 0
        pulls = self._pulls
        while n > 0 and pulls:
            first = next(iter(pulls))
            entry = pulls[first]
            take = min(n, int(entry[1]))
            entry[1] -= take
            n -= take
            if entry[1] <= 0:
                del pulls[first]

    def reset(self) -> None:
        """Forget pull requests in flight (after a reconnect the server has none)."""
        self._uncounted = 0
        self._pulls.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float) -> None:
        """Until a delivery or a status message comes, or ``timeout`` seconds: a future
        and a timer (``wait_for`` on an event made a task each time, a few hundred a
        second while live)."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _wake_up, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    async def _top_up(self) -> None:
        if self.may_pull is not None and not self.may_pull():
            return
        self._count_down()
        now = time.monotonic()
        pulls = self._pulls
        for pid in [pid for pid, (deadline, _) in pulls.items() if deadline < now]:
            del pulls[pid]  # lost (a server restart): its 408 never came
        outstanding = sum(int(due) for _, due in pulls.values()) + len(self._buf)
        if outstanding >= self.batch // 2:
            return
        req = json.dumps({"batch": self.batch, "expires": int(self.expires * 1e9)}).encode()
        self._next_pull += 1
        pulls[self._next_pull] = [now + self.expires + 1.0, float(self.batch)]
        await self._nc.publish(self._next_subject, req, reply=f"{self._inbox}.{self._next_pull}")

    async def next_batch(self, max_n: int, timeout: float) -> list[Delivery]:
        """What has arrived, at most ``max_n``; waits up to ``timeout`` s for the first."""
        if not self._buf:
            await self._top_up()
            deadline = time.monotonic() + timeout
            while not self._buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                await self._wait(min(left, 1.0))
                await self._top_up()
        if len(self._buf) <= max_n:
            out, self._buf = self._buf, []
        else:
            out, self._buf = self._buf[:max_n], self._buf[max_n:]
        await self._top_up()
        return out


def _wake_up(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


# ----------------------------------------------------------------------------- replies


class Replies:
    """Answers to requests this process writes as raw frames, taken from the parser.

    ``nc.request`` costs a ``Msg`` for the answer, a subscription task's queue hop and a
    header dictionary each way; the writers make one request per batch (the batch's
    last publish, whose acknowledgement confirms the batch), a few hundred a second.
    Here a request is a frame with reply subject ``<inbox>.<n>`` and its answer's payload
    resolves the ``n``-th future straight from :class:`_FastParser`. A status answer
    (no responders) fails it as ``nc.request`` would. Use :func:`replies_of`.
    """

    def __init__(self, nc: NATS, icp: _Interceptor) -> None:
        self._nc = nc
        self._icp = icp
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._next = 0
        self._prefix = b""
        self._sub: Any = None

    async def _start(self) -> bool:
        inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(inbox + ".*")
        sid = getattr(self._sub, "_id", None)
        if not isinstance(sid, int):  # pragma: no cover - another nats-py version
            return False
        self._prefix = inbox.encode() + b"."
        self._icp.handlers[sid] = self._on_answer
        return True

    async def request(self, body: bytes, last: bytes, timeout: float) -> bytes:
        """Send the frames ``body``, then the frame ``last`` asking for an answer, in one
        piece; the answer's payload. Raises ``nats.errors.TimeoutError`` after
        ``timeout`` and ``NoRespondersError`` as ``nc.request`` does."""
        self._next += 1
        n = self._next
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        self._waiting[n] = fut
        try:
            await send_request(self._nc, body + with_reply(last, b"%s%d" % (self._prefix, n)))
            timer = loop.call_later(timeout, _expire, fut)
            try:
                return await fut
            finally:
                timer.cancel()
        finally:
            self._waiting.pop(n, None)

    def _on_answer(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        try:
            n = int(subject[len(self._prefix) :])
        except ValueError:
            return
        fut = self._waiting.pop(n, None)
        if fut is None or fut.done():
            return  # timed out already
        if headers and headers.startswith(b"NATS/1.0 503"):
            fut.set_exception(NoRespondersError())
        else:
            fut.set_result(data)


def _expire(fut: asyncio.Future[bytes]) -> None:
    if not fut.done():
        fut.set_exception(NatsTimeoutError())


async def replies_of(nc: NATS) -> Replies | None:
    """The connection's :class:`Replies` (made on first use), or ``None`` on a nats-py
    without the internals it needs (callers then use ``nc.request``)."""
    existing = getattr(nc, "_ccroute_replies", None)
    if isinstance(existing, Replies):
        return existing
    icp = _interceptor(nc)
    if icp is None or not callable(getattr(nc, "_send_command", None)):
        return None
    replies = Replies(nc, icp)
    if not await replies._start():  # pragma: no cover - another nats-py version
        return None
    nc._ccroute_replies = replies  # type: ignore[attr-defined]
    return replies


def with_reply(frame: bytes, reply: bytes) -> bytes:
    """A ``PUB``/``HPUB`` frame made by this module, with the reply subject ``reply``."""
    cut = frame.index(b" ", frame.index(b" ") + 1)  # after the subject
    return b"%s %s%s" % (frame[:cut], reply, frame[cut:])


async def send_request(nc: NATS, frames: bytes) -> None:
    """Queue ``frames`` (ending with a request) on the connection for its next write;
    the flusher is woken after this turn of the loop (:func:`wake_flusher_later`) unless
    the writer has written the queue itself by then. Raises as ``nc.publish`` does on a
    closed or draining connection."""
    if nc.is_closed:
        raise ConnectionClosedError
    if nc.is_draining_pubs:
        raise ConnectionDrainingError
    await nc._send_command(frames)
    asyncio.get_running_loop().call_soon(wake_flusher_later, nc)


# ------------------------------------------------------------------------------ writes


async def publish_with_next_write(nc: NATS, subject: bytes, payload: bytes) -> None:
    """Publish ``payload`` (no reply, no headers) in the connection's next write, after what
    the callbacks already due in this turn of the loop add to it.

    ``nc.publish`` wakes the connection's flusher at once, so whatever a task started just
    after it sends (the next batch's decisions after an acknowledgement) goes out in a
    write of its own: each write is a system call, and on a virtual machine those were a
    tenth of the writer's loop. Waking the flusher later lets them share it.
    """
    if not callable(getattr(nc, "_send_command", None)) or nc.is_closed:
        await nc.publish(subject.decode(), payload)  # another nats-py, or raise as it does
        return
    await nc._send_command(_hpub(subject, None, payload))
    asyncio.get_running_loop().call_soon(wake_flusher_later, nc)


def wake_flusher_later(nc: NATS) -> None:
    """Wake the connection's flusher for what is queued, two callbacks from the frame's
    queueing: after the tasks this turn of the loop resumes. The writer's loop writes
    its own queue (:func:`write_queued`) right after yielding once; by then the flusher
    finds nothing to write and is left asleep (a task step less per batch, about a
    twentieth of the loop). Whoever does not write it themselves gets the flusher."""
    asyncio.get_running_loop().call_soon(_wake_flusher, nc)


_inline_flushes: set[asyncio.Future[Any]] = set()


def _wake_flusher(nc: NATS) -> None:
    """What ``nc.publish`` does after queueing a frame, done later."""
    queue = nc._flush_queue
    if queue is None or not queue.empty() or not nc._pending_data_size or not nc.is_connected:
        return  # due to write already, nothing left to write, or written on reconnecting
    flusher = nc._flusher_task
    if flusher is None or flusher.done():  # nats-py's own fallback: it writes inline
        task = asyncio.ensure_future(nc._flush_pending())
        _inline_flushes.add(task)
        task.add_done_callback(_inline_flushes.discard)
        return
    queue.put_nowait(asyncio.get_running_loop().create_future())


def write_queued(nc: NATS) -> None:
    """Hand what the connection has queued to its socket now, as nats-py's flusher would
    on its next turn of the loop (the flusher then finds nothing left and just wakes).

    The writer's loop applies the next batch without yielding when deliveries are already
    waiting; without this the decisions it just queued would leave only after that batch.
    Writing does not wait for the socket to drain: the flusher's next turn does that. On a
    nats-py without these internals it does nothing, and the flusher writes as it would.
    """
    transport = getattr(nc, "_transport", None)
    pending = getattr(nc, "_pending", None)
    if not isinstance(pending, list) or not pending or transport is None:
        return
    if not nc.is_connected or not callable(getattr(transport, "writelines", None)):
        return
    transport.writelines(pending)
    nc._pending = []
    nc._pending_data_size = 0


_HDR_HEAD = b"NATS/1.0\r\nNats-Msg-Id: "
_HDR_FIXED = len(_HDR_HEAD) + 4  # the id is followed by two CRLFs


def hpub_frame(subject: bytes, msg_id: bytes, payload: bytes | msgspec.Raw) -> bytes:
    """One ``HPUB`` frame of the NATS protocol carrying ``Nats-Msg-Id``."""
    hlen = _HDR_FIXED + len(msg_id)
    return b"HPUB %s %d %d\r\n%s%s\r\n\r\n%s\r\n" % (
        subject,
        hlen,
        hlen + len(payload),
        _HDR_HEAD,
        msg_id,
        payload,
    )


def _hpub(subject: str | bytes, msg_id: str | None, payload: bytes) -> bytes:
    """One PUB/HPUB frame of the NATS protocol (with ``Nats-Msg-Id`` when given)."""
    subj = subject if isinstance(subject, bytes) else subject.encode()
    if not msg_id:
        return b"PUB %s %d\r\n%s\r\n" % (subj, len(payload), payload)
    return hpub_frame(subj, msg_id.encode(), payload)


def _unframe(frame: bytes) -> tuple[str, str | None, bytes]:
    """(subject, Nats-Msg-Id, payload) of a frame made by :func:`_hpub`."""
    line, _, rest = frame.partition(b"\r\n")
    parts = line.split()
    if parts[0] == b"PUB":
        return parts[1].decode(), None, rest[: int(parts[2])]
    hlen, total = int(parts[2]), int(parts[3])
    hdr = rest[:hlen]
    msg_id = hdr[len(_HDR_HEAD) : hlen - 4].decode()
    return parts[1].decode(), msg_id, rest[hlen:total]


class StreamBatches(Generic[T]):
    """What both stream writers share: the batch being built, the stream's last sequence
    as far as the writer knows, and the patient retry between attempts.

    :class:`StreamWriter` (this module) and :class:`~ccroute.service.fencing.FencedWriter`
    differ in what a batch item is and in how a commit is confirmed
    (:meth:`commit_items`).
    """

    _log = log

    def __init__(
        self, nc: NATS, stream: str, *, timeout: float = 5.0, api_prefix: str = "$JS.API"
    ) -> None:
        self._nc = nc
        self.stream = stream
        self.timeout = timeout
        self._api_prefix = api_prefix
        self._items: list[T] = []
        """Added since the last commit, in order."""
        self.last_seq = -1
        """The stream's last sequence as far as this writer knows (-1: not read yet)."""
        self.slow_commits = 0
        self.raw = callable(getattr(nc, "_send_command", None))

    async def sync_last_seq(self) -> int:
        """Read the stream's last sequence (the base the next batch is checked against)."""
        msg = await self._nc.request(
            f"{self._api_prefix}.STREAM.INFO.{self.stream}", b"", timeout=self.timeout
        )
        info = json.loads(msg.data)
        if "error" in info:
            raise PublishError(f"{self.stream}: {info['error']}")
        self.last_seq = int(info["state"]["last_seq"])
        return self.last_seq

    def __len__(self) -> int:
        return len(self._items)

    def take(self) -> list[T]:
        """What was added since the last commit (for :meth:`commit_items` in a task)."""
        items, self._items = self._items, []
        return items

    async def commit(self, stop: asyncio.Event | None = None) -> None:
        """Store everything added since the last commit; returns when it is stored."""
        await self.commit_items(self.take(), stop)

    async def commit_items(self, items: list[T], stop: asyncio.Event | None = None) -> None:
        raise NotImplementedError

    async def _pause(
        self, exc: Exception, n: int, backoff: float, stop: asyncio.Event | None
    ) -> float:
        """After a failed attempt at ``n`` items: give up (re-raise ``exc``) when stopping
        and disconnected, else log, wait ``backoff`` seconds and return the next wait."""
        if stop is not None and stop.is_set() and not self._nc.is_connected:
            raise exc
        self._log.warning(
            "publish_retry stream=%s n=%d error=%r backoff=%.2f", self.stream, n, exc, backoff
        )
        await asyncio.sleep(backoff)
        return min(backoff * 2, 2.0)


class StreamWriter(StreamBatches[bytes]):
    """Batches of messages to one stream: pipelined, then confirmed as a whole.

    ``add`` collects; ``commit`` sends and returns once every message is stored (or was
    already, by ``Nats-Msg-Id``), retrying through reconnects and server restarts.
    ``exact=False`` (for KV writes, which other writers share) skips the sequence check
    and only waits for the final acknowledgement.
    """

    def __init__(
        self,
        nc: NATS,
        stream: str,
        *,
        exact: bool = True,
        timeout: float = 5.0,
        api_prefix: str = "$JS.API",
    ) -> None:
        super().__init__(nc, stream, timeout=timeout, api_prefix=api_prefix)
        self.exact = exact

    def add(self, subject: str | bytes, payload: bytes, msg_id: str | None = None) -> None:
        self._items.append(_hpub(subject, msg_id, payload))

    def add_frame(self, frame: bytes) -> None:
        """Queue a frame made by :func:`hpub_frame` (the hot path builds its own)."""
        self._items.append(frame)

    async def commit_items(
        self,
        items: list[bytes],
        stop: asyncio.Event | None = None,
    ) -> None:
        """Store ``items`` in order; returns when all are stored.

        Callers that overlap work with this must not start the next commit before this
        one returns: the exact check counts on the previous batch being settled.
        """
        if not items:
            return
        backoff = 0.05
        try:
            if await self._fast(items):
                return
        except Exception as exc:  # time-outs, refusals, nats errors (no responders, connection)
            log.warning("publish_retry stream=%s n=%d error=%r", self.stream, len(items), exc)
        while True:
            try:
                await self._slow(items)
                return
            except Exception as exc:
                backoff = await self._pause(exc, len(items), backoff, stop)

    async def _request(self, frame: bytes) -> PubAck:
        """Publish one frame made by :func:`_hpub` and wait for the stream's answer."""
        nc = self._nc
        replies = await replies_of(nc) if self.raw else None
        if replies is None:
            subject, msg_id, payload = _unframe(frame)
            headers = {"Nats-Msg-Id": msg_id} if msg_id else None
            msg = await nc.request(subject, payload, timeout=self.timeout, headers=headers)
            data = msg.data
        else:
            data = await replies.request(b"", frame, self.timeout)
        ack = _puback.decode(data)
        if ack.error:
            raise PublishError(f"{self.stream}: {ack.error}")
        return ack

    async def _fast(self, items: list[bytes]) -> bool:
        nc = self._nc
        *body, last = items
        if body:
            if self.raw:
                await nc._send_command(b"".join(body))
            else:
                for frame in body:
                    s, i, p = _unframe(frame)
                    await nc.publish(s, p, headers={"Nats-Msg-Id": i} if i else None)
        ack = await self._request(last)
        if not self.exact:
            return True
        if not ack.duplicate and self.last_seq >= 0 and ack.seq == self.last_seq + len(items):
            self.last_seq = ack.seq
            return True
        return False

    async def _slow(self, items: list[bytes]) -> None:
        # One acknowledged publish per message, many in flight: dups are dropped by id.
        self.slow_commits += 1
        for i in range(0, len(items), 512):
            await asyncio.gather(*(self._request(f) for f in items[i : i + 512]))
        if self.exact:
            await self.sync_last_seq()
