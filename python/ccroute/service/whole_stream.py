"""Reading a whole JetStream stream, first message to last, for checkers and audits.

The chaos tool's checker and the fault tests judge a run by reading the input log and the
decision stream in full and replaying them; both read through this one function, so what
they compare is read the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy

__all__ = ["StoredMessage", "read_whole_stream"]

log = logging.getLogger("ccroute.service.whole_stream")


class StoredMessage(NamedTuple):
    """One message as the stream stores it."""

    seq: int
    """The stream sequence."""
    subject: str
    data: bytes
    headers: dict[str, str]

    @property
    def msg_id(self) -> str:
        """The ``Nats-Msg-Id`` it was published with (``""`` when none)."""
        return self.headers.get("Nats-Msg-Id", "")


async def read_whole_stream(
    nc: NATS,
    stream: str,
    subject: str,
    *,
    retry_for: float = 0.0,
    next_timeout: float = 10.0,
    on_retry: Callable[[Exception], None] | None = None,
) -> list[StoredMessage]:
    """Every message of ``stream`` under ``subject``, in stream order, up to the last
    sequence the stream held when the read began (so ``subject`` must cover the stream's
    last message: the stream's wildcard).

    The read goes through an ordered ephemeral consumer (deliver all), so it leaves no
    durable consumer behind. ``next_timeout`` is how long one message may take to arrive
    before :class:`nats.errors.TimeoutError` is raised.

    With ``retry_for`` > 0, a read that the JetStream API does not serve (a timeout or an
    API error: for a while after a cluster's stream leader stops, even creating the
    consumer can time out) starts again from the beginning, a second apart, until
    ``retry_for`` seconds have passed; then the last error is raised. ``on_retry`` is
    called with each error that is retried. A checker retries so that it judges the log,
    not the cluster's recovery time.
    """
    deadline = time.monotonic() + retry_for
    while True:
        try:
            return await _read_once(nc, stream, subject, next_timeout)
        except (nats.errors.TimeoutError, nats.js.errors.APIError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("reading stream %s again after %r", stream, exc)
            if on_retry is not None:
                on_retry(exc)
            await asyncio.sleep(1.0)


async def _read_once(
    nc: NATS, stream: str, subject: str, next_timeout: float
) -> list[StoredMessage]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    out: list[StoredMessage] = []
    if not info.state.messages:
        return out
    last = int(info.state.last_seq)
    sub = await js.subscribe(
        subject,
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    try:
        while True:
            msg = await sub.next_msg(timeout=next_timeout)
            seq = msg.metadata.sequence.stream
            out.append(StoredMessage(seq, msg.subject, msg.data, dict(msg.headers or {})))
            if seq >= last:
                break
    finally:
        await sub.unsubscribe()
    return out
