"""Reading a whole stream (the checkers' reader), against a real nats-server."""

from __future__ import annotations

import asyncio

import nats.js.errors
import pytest
from nats.aio.client import Client as NATS

from ccroute.service.whole_stream import StoredMessage, read_whole_stream


async def test_a_log_is_read_back_in_order_with_its_message_ids(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(name="LOG", subjects=["log.>"])
    assert await read_whole_stream(nc, "LOG", "log.>") == []  # an empty log reads as empty
    await js.publish("log.t0.contact_arrived", b'{"n":1}', headers={"Nats-Msg-Id": "in-1"})
    await js.publish("log.t1.contact_arrived", b'{"n":2}', headers={"Nats-Msg-Id": "in-2"})
    await js.publish("log.t0.contact_abandoned", b'{"n":3}')  # published without an id
    got = await read_whole_stream(nc, "LOG", "log.>")
    assert [(m.seq, m.subject, m.data, m.msg_id) for m in got] == [
        (1, "log.t0.contact_arrived", b'{"n":1}', "in-1"),
        (2, "log.t1.contact_arrived", b'{"n":2}', "in-2"),
        (3, "log.t0.contact_abandoned", b'{"n":3}', ""),
    ]
    assert all(isinstance(m, StoredMessage) for m in got)
    # A later read takes in what was stored since.
    await js.publish("log.t1.contact_abandoned", b'{"n":4}')
    assert [m.seq for m in await read_whole_stream(nc, "LOG", "log.>")] == [1, 2, 3, 4]


async def test_without_retry_an_unanswered_read_fails_at_once(nc: NATS) -> None:
    with pytest.raises(nats.js.errors.NotFoundError):
        await read_whole_stream(nc, "NOT_YET", "later.>")


async def test_with_retry_the_read_starts_again_until_the_api_answers(nc: NATS) -> None:
    """The stream appears only after the first attempt failed (as a cluster's stream comes
    back after its leader stopped): the reader tries again and reads it in full."""
    js = nc.jetstream()
    retried: list[Exception] = []
    made: list[asyncio.Task[None]] = []

    async def make_the_stream() -> None:
        await js.add_stream(name="LATE", subjects=["late.>"])
        for n in range(5):
            await js.publish(f"late.t0.e{n}", str(n).encode(), headers={"Nats-Msg-Id": f"id-{n}"})

    def on_retry(exc: Exception) -> None:
        retried.append(exc)
        if not made:
            made.append(asyncio.create_task(make_the_stream()))

    got = await read_whole_stream(nc, "LATE", "late.>", retry_for=30, on_retry=on_retry)
    await made[0]
    assert len(retried) == 1 and isinstance(retried[0], nats.js.errors.NotFoundError)
    assert [m.msg_id for m in got] == [f"id-{n}" for n in range(5)]
    assert [m.seq for m in got] == [1, 2, 3, 4, 5]
