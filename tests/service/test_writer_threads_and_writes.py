"""How the writer spends the machine: an acknowledgement sharing the next write."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from ccroute.service.transport import publish_with_next_write


async def test_an_acknowledgement_leaves_in_the_same_write_as_the_next_batch(nc: NATS) -> None:
    """The ack of batch N is queued, then batch N+1's decisions are sent by a task started
    right after it: one write to the socket carries both, in that order."""
    got: list[bytes] = []
    done = asyncio.Event()

    async def on_msg(msg: object) -> None:
        got.append(msg.subject.encode())  # type: ignore[attr-defined]
        if len(got) == 3:
            done.set()

    await nc.subscribe("t.>", cb=on_msg)
    await nc.flush()
    writes: list[bytes] = []
    transport = nc._transport
    assert transport is not None
    write_lines = transport.writelines

    def counted(payload: list[bytes]) -> None:
        writes.append(b"".join(payload))
        write_lines(payload)

    transport.writelines = counted  # type: ignore[method-assign]

    async def next_batch() -> None:
        await nc.publish("t.decision.1", b"d1")
        await nc.publish("t.decision.2", b"d2")

    await publish_with_next_write(nc, b"t.ack", b"+ACK")
    task = asyncio.get_running_loop().create_task(next_batch())
    await asyncio.wait_for(done.wait(), 5)
    await task
    assert got == [b"t.ack", b"t.decision.1", b"t.decision.2"]
    assert len(writes) == 1, writes
    assert writes[0].index(b"t.ack") < writes[0].index(b"t.decision.1")


async def test_an_acknowledgement_alone_is_still_sent(nc: NATS) -> None:
    sub = await nc.subscribe("t.alone")
    await nc.flush()
    await publish_with_next_write(nc, b"t.alone", b"+ACK")
    msg = await sub.next_msg(timeout=5)
    assert msg.data == b"+ACK"
