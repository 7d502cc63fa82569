"""The decision stream is fenced: the server refuses a stale writer's publish, and a
writer that finds part of its batch stored (by itself or by a writer making the same
decisions) sends only the rest."""

from __future__ import annotations

import asyncio
import random

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from ccroute.service.embedded import EmbeddedNats
from ccroute.service.fencing import Fenced, FencedWriter


def decisions(first_input: int, n: int) -> list[tuple[bytes, bytes, bytes]]:
    return [
        (b"out.t0.offer_made.a1", b"d:%d:0" % seq, b'{"input":%d}' % seq)
        for seq in range(first_input, first_input + n)
    ]


async def stored_ids(nc: NATS, stream: str) -> list[str]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    out = []
    for seq in range(1, int(info.state.last_seq) + 1):
        msg = await js.get_msg(stream, seq)
        out.append((msg.headers or {}).get("Nats-Msg-Id", ""))
    return out


async def two_writers(nc: NATS, stream: str, window: float) -> tuple[FencedWriter, FencedWriter]:
    """A new decision stream and two writers that both read it empty (one will be stale)."""
    await nc.jetstream().add_stream(
        StreamConfig(name=stream, subjects=["out.>"], duplicate_window=window, allow_direct=True)
    )
    writers = FencedWriter(nc, stream), FencedWriter(nc, stream)
    for w in writers:
        await w.sync_last_seq()
    return writers


async def store(writer: FencedWriter, items: list[tuple[bytes, bytes, bytes]]) -> None:
    for item in items:
        writer.add(*item)
    await writer.commit()


async def test_a_busy_writer_stores_each_batch_whole_in_one_round_trip(nc: NATS) -> None:
    """A thousand decisions pipelined and confirmed by the last one's answer, then the
    next batch fenced on where the first ended: no retry, no refusal, in order."""
    await nc.jetstream().add_stream(
        StreamConfig(name="BUSY", subjects=["out.>"], allow_direct=True, duplicate_window=60)
    )
    w = FencedWriter(nc, "BUSY")
    await w.sync_last_seq()
    for item in decisions(1, 1000):
        w.add(*item)
    assert len(w) == 1000
    await w.commit()
    assert w.last_seq == 1000 and len(w) == 0
    for item in decisions(1001, 500):
        w.add(*item)
    await w.commit()
    assert w.last_seq == 1500 and w.slow_commits == 0 and w.refusals == 0
    info = await nc.jetstream().stream_info("BUSY")
    assert info.state.messages == 1500
    assert await stored_ids(nc, "BUSY") == [f"d:{s}:0" for s in range(1, 1501)]


async def test_a_stale_writer_is_refused_once_the_new_one_has_written(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="OUT", subjects=["out.>"], allow_direct=True))
    stale = FencedWriter(nc, "OUT")
    await stale.sync_last_seq()
    await store(stale, decisions(1, 3))
    assert stale.last_seq == 3 and stale.slow_commits == 0
    # The stale writer pauses; a new writer reads where the stream is and goes on.
    new = FencedWriter(nc, "OUT")
    await new.sync_last_seq()
    await store(new, decisions(4, 2))
    # The stale writer wakes up holding decisions the stream does not continue with
    # (inputs 6 and 7: what it would have made had it taken the inputs out of turn): the
    # server refuses them, and the writer sees it was fenced.
    for item in decisions(6, 2):
        stale.add(*(item[0], item[1], b'{"stale":true}'))
    with pytest.raises(Fenced):
        await stale.commit()
    assert stale.refusals == 1
    # Woken with the decisions it had made before the pause (inputs 4 and 5): the
    # stream has them from the new writer already; nothing is stored twice, and the
    # writer still finds out that the stream went on without it.
    stale.last_seq = 3
    for item in decisions(4, 2):
        stale.add(*item)
    new.add(*decisions(6, 1)[0])
    await new.commit()
    with pytest.raises(Fenced):
        await stale.commit()
    assert await stored_ids(nc, "OUT") == [f"d:{s}:0" for s in range(1, 7)]


async def test_a_batch_partly_stored_is_completed_not_doubled(nc: NATS) -> None:
    first, second = await two_writers(nc, "OUT2", window=60)
    # The same decisions (made from the same log): one writer stored the first two...
    await store(first, decisions(1, 2))
    # ...the other, fenced on the old base, finds them and sends only the rest.
    await store(second, decisions(1, 5))
    assert second.last_seq == 5
    assert await stored_ids(nc, "OUT2") == [f"d:{s}:0" for s in range(1, 6)]


async def test_a_batch_sent_again_after_the_duplicate_window_is_not_stored_twice(
    nc: NATS,
) -> None:
    """The decision stream's duplicate window is a backstop (10 s by default): a writer
    that got no answer and sends its batch again long after the window has passed finds
    the batch stored, by the sequence it expected, and sends nothing twice."""
    stored, late = await two_writers(nc, "OUT6", window=0.2)
    await store(stored, decisions(1, 3))
    await asyncio.sleep(0.5)  # every id has left the duplicate window
    await store(late, decisions(1, 3))
    assert late.last_seq == 3 and late.slow_commits == 1
    assert await stored_ids(nc, "OUT6") == [f"d:{s}:0" for s in range(1, 4)]
    # Only the fencing kept it out: the window no longer knows the ids.
    ack = await nc.jetstream().publish(
        "out.t0.offer_made.a1", b"{}", headers={"Nats-Msg-Id": "d:1:0"}
    )
    assert not ack.duplicate and ack.seq == 4


async def test_no_publish_leaves_without_the_lease(nc: NATS) -> None:
    await nc.jetstream().add_stream(
        StreamConfig(name="OUT3", subjects=["out.>"], allow_direct=True)
    )
    w = FencedWriter(nc, "OUT3", may_send=lambda: False, hold_wait=0.2)
    for item in decisions(1, 2):
        w.add(*item)
    with pytest.raises(Fenced):
        await w.commit()
    assert await stored_ids(nc, "OUT3") == []


def misplaced_after_foreign(ids: list[str]) -> list[str]:
    """Decisions stored after a message that is not one (it has no decision id)."""
    first_foreign = ids.index("")
    return [i for i in ids[first_foreign:] if i != ""]


async def test_a_foreign_message_before_a_pipelined_batch_fences_all_of_it(nc: NATS) -> None:
    """Someone else publishes on the decision stream right after the writer's last
    decision. The batch's first message expects the writer's last sequence and is
    refused; the second expected only the next sequence, which the foreign message
    reached for it: without a chain on the previous message's id, it and the rest of
    the batch were stored behind the foreign message, one decision short, and the
    server's answer to the last one said all was stored."""
    await nc.jetstream().add_stream(
        StreamConfig(name="OUT4", subjects=["out.>"], allow_direct=True)
    )
    writer = FencedWriter(nc, "OUT4")
    await store(writer, decisions(1, 3))
    await nc.jetstream().publish("out.foreign", b"not a decision")
    for item in decisions(4, 5):
        writer.add(*item)
    with pytest.raises(Fenced):
        await writer.commit()
    ids = await stored_ids(nc, "OUT4")
    assert misplaced_after_foreign(ids) == []
    assert ids == ["d:1:0", "d:2:0", "d:3:0", ""]


async def test_foreign_messages_racing_a_pipelined_batch_leave_no_decision_behind_them(
    nc: NATS, nats_server: EmbeddedNats
) -> None:
    """A foreign publisher floods the decision stream while a large batch is on the
    wire: the stream's queue interleaves the two connections. Whatever the interleaving,
    what is stored of the batch is a prefix of it, before any foreign message, and the
    writer is fenced."""
    await nc.jetstream().add_stream(
        StreamConfig(name="OUT5", subjects=["out.>"], allow_direct=True)
    )
    intruder = await nats.connect(nats_server.url)
    writer = FencedWriter(nc, "OUT5")
    await writer.sync_last_seq()
    batch = 3000
    for item in decisions(1, batch):
        writer.add(*item)
    done = asyncio.Event()

    async def flood() -> None:
        for n in range(1, 1001):
            if done.is_set():
                return
            await intruder.publish("out.foreign", b"foreign %d" % n)
            if n % 20 == 0:
                await intruder.flush()

    task = asyncio.create_task(flood())
    await asyncio.sleep(0)
    try:
        with pytest.raises(Fenced):
            await writer.commit()
    finally:
        done.set()
        await asyncio.wait_for(task, 10)
        await intruder.close()
    ids = await stored_ids(nc, "OUT5")
    first_foreign = ids.index("")
    assert misplaced_after_foreign(ids) == [], "decisions stored after a foreign message"
    assert ids[:first_foreign] == [f"d:{s}:0" for s in range(1, first_foreign + 1)]


async def test_a_snapshot_whose_writer_lost_the_lease_does_not_replace_the_newer_one(
    nc: NATS,
) -> None:
    """A writer stalled past its lease while uploading a snapshot must not store it
    once it wakes: the new writer's later snapshot stays, and nothing of the abandoned
    upload is left in the bucket."""
    from ccroute.service.snapshots import (
        CHUNK_SIZE,
        Snapshot,
        SnapshotAbandoned,
        SnapshotStore,
        _PartsReader,
        encoded_parts,
    )
    from ccroute.service.subjects import Names

    names = Names("fenced")
    js = nc.jetstream()
    await js.create_object_store(names.snapshot_bucket)
    store = SnapshotStore(nc, names)

    def snapshot(seq: int, size: int) -> Snapshot:
        return Snapshot(
            domain="fenced",
            seq=seq,
            created_ms=seq,
            config_sha256="0" * 64,
            engine=random.Random(seq).randbytes(size),  # as many chunks deflated
            projections=b"",
        )

    await store.save(snapshot(900, 3 * CHUNK_SIZE))  # the new writer's
    stream = f"OBJ_{names.snapshot_bucket}"
    before = (await js.stream_info(stream)).state.messages

    # The old writer's older snapshot: its lease is found lost after two chunks.
    reads = 0

    def lease_held() -> bool:
        nonlocal reads
        reads += 1
        return reads <= 2

    with pytest.raises(SnapshotAbandoned):
        await store.save(snapshot(500, 5 * CHUNK_SIZE), lease_held)
    kept = await store.load()
    assert kept is not None and kept.seq == 900
    assert kept.engine == snapshot(900, 3 * CHUNK_SIZE).engine
    assert (await js.stream_info(stream)).state.messages == before, "chunks left behind"

    # Lost on the very last check, after every chunk went: still not stored.
    late = snapshot(501, 5 * CHUNK_SIZE)
    reader, buf, chunks = _PartsReader(encoded_parts(late), deflate=True), bytearray(CHUNK_SIZE), 0
    while reader.readinto(buf):
        chunks += 1  # the chunks the upload will send, as it deflates them
    reads = 2 - chunks  # true for each chunk's read, false for the last (empty) one
    with pytest.raises(SnapshotAbandoned):
        await store.save(late, lease_held)
    assert reads == 3
    kept = await store.load()
    assert kept is not None and kept.seq == 900
    assert (await js.stream_info(stream)).state.messages == before
