"""How the writer spends the machine: snapshot work on threads at the lowest priority, an
acknowledgement sharing the next write, the stores' answers taken raw, the service's loop
on uvloop."""

from __future__ import annotations

import asyncio
import os
import sys
import zlib
from dataclasses import replace
from types import SimpleNamespace

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StreamConfig

from ccroute import event_loop
from ccroute.client import Client
from ccroute.config import Config
from ccroute.engine import Engine
from ccroute.events import AgentProfileChanged, decode_input, encode_json
from ccroute.service.background import (
    LOWEST_NICE,
    in_background,
    run_in_background,
    thread_nice,
    thread_policy,
)
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import Workload
from ccroute.service.projections import Projections, view_list_decoder
from ccroute.service.snapshots import CHUNK_SIZE, _PartsReader
from ccroute.service.subjects import Names
from ccroute.service.transport import (
    _unframe,
    hpub_frame,
    publish_with_next_write,
    replies_of,
    with_reply,
    write_queued,
)

from .conftest import arrivals, fast_settings, run_service

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


@linux_only
async def test_snapshot_encoding_runs_at_the_lowest_priority_and_the_loop_keeps_its_own() -> None:
    assert await in_background(thread_nice) == LOWEST_NICE
    # Idle policy: whatever wakes on its core takes the core at once, not after a slice.
    assert await in_background(thread_policy) == os.SCHED_IDLE
    assert thread_nice() == 0  # the loop's thread (the test's) is left as it was
    assert thread_policy() == os.SCHED_OTHER


@linux_only
def test_an_upload_is_deflated_on_a_thread_at_the_lowest_priority(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int | None, int | None]] = []
    deflate = _PartsReader._deflate

    def watched(self: _PartsReader, want: int) -> None:
        seen.append((thread_nice(), thread_policy()))
        deflate(self, want)

    monkeypatch.setattr(_PartsReader, "_deflate", watched)
    raw = os.urandom(3 * CHUNK_SIZE) + bytes(5 * CHUNK_SIZE)
    reader, buf, stored = _PartsReader([raw], deflate=True), bytearray(CHUNK_SIZE), b""
    while n := reader.readinto(buf):
        stored += bytes(buf[:n])
    assert zlib.decompress(stored) == raw
    assert seen and set(seen) == {(LOWEST_NICE, os.SCHED_IDLE)}
    assert thread_nice() == 0


@linux_only
def test_pieces_of_deflating_asked_back_to_back_on_a_busy_machine_keep_to_one_thread() -> None:
    """The upload's reading thread asks for the next piece of deflating as soon as the last
    is done. With both cores taken by other processes, the background thread (at the
    lowest priority) may not get to count itself idle before the next request: a pool of
    several then started another thread each time, and kept it with its memory (two or
    more in every run of this test before the pool was one thread)."""
    import subprocess
    import threading

    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(min(8, len(os.sched_getaffinity(0))))
    ]
    try:
        reader = threading.Thread(
            target=lambda: [run_in_background(lambda: sum(range(2000))) for _ in range(300)]
        )
        reader.start()
        reader.join()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    names = [t.name for t in threading.enumerate() if t.name.startswith("ccroute-background")]
    assert len(names) == 1, names


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


async def test_a_writer_that_writes_its_own_queue_leaves_the_flusher_asleep(nc: NATS) -> None:
    """The writer's loop yields once after queueing a batch and then writes the queue
    itself: nats-py's flusher, woken, would find nothing to write (a task step per
    batch). Whoever leaves the queue alone still gets it written by the flusher."""
    sub = await nc.subscribe("t.own")
    await nc.flush()
    queue = nc._flush_queue
    assert queue is not None
    woken: list[object] = []
    put = queue.put_nowait

    def counted(item: asyncio.Future[None]) -> None:
        woken.append(item)
        put(item)

    queue.put_nowait = counted  # type: ignore[method-assign]
    await publish_with_next_write(nc, b"t.own", b"+ACK")
    await asyncio.sleep(0)  # as the writer's loop yields to let its commit task queue
    write_queued(nc)
    for _ in range(5):
        await asyncio.sleep(0)
    assert woken == []
    assert (await sub.next_msg(timeout=5)).data == b"+ACK"
    await publish_with_next_write(nc, b"t.own", b"again")  # nobody writes it here
    assert (await sub.next_msg(timeout=5)).data == b"again"
    assert len(woken) == 1


async def test_a_batchs_decisions_reach_the_socket_before_the_engine_starts_the_next(
    nats_server: EmbeddedNats, nc: NATS, config: Config
) -> None:
    """A burst of arrivals while caught up is applied ten at a time, and the next ten are
    already waiting when one batch is sent: the server must be storing batch N while the
    engine applies N+1, not after it (that wait was on every arrival's offer)."""
    settings = fast_settings(nats_server.url)
    settings = replace(settings, router=replace(settings.router, live_batch=10))
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        router = svc.service.router
        assert router is not None
        transport = router.nc._transport
        assert transport is not None
        written = bytearray()
        write_lines, take, process = transport.writelines, router.writer.take, router._process
        last_sent: list[bytes] = []  # the msg id ending the batch most recently sent
        late: list[bytes] = []
        applied: list[int] = []

        def counted(payload: list[bytes]) -> None:
            written.extend(b"".join(payload))
            write_lines(payload)

        def taken() -> list[tuple[bytes, bytes, bytes]]:
            items = take()
            if items:
                last_sent[:] = [items[-1][1]]
            return items

        def watched(batch: list[tuple[bytes, bytes, bytes]]) -> bool:
            if last_sent and last_sent[0] not in written:
                late.append(last_sent[0])
            applied.append(len(batch))
            return process(batch)

        transport.writelines = counted  # type: ignore[method-assign]
        router.writer.take = taken  # type: ignore[method-assign]
        router._process = watched  # type: ignore[method-assign]
        await Client(nc, "test").publish_many(arrivals(0, 150))
        for _ in range(400):
            if sum(applied) >= 150:
                break
            await asyncio.sleep(0.025)
        assert sum(applied) == 150
        assert len(applied) >= 15, applied  # applied in live batches, so sent in many
        assert last_sent, "no decision was sent"
        assert late == [], f"{len(late)} of {len(applied)} batches' decisions waited"


async def test_projections_folded_after_each_send_end_as_a_plain_fold_of_the_log(
    nats_server: EmbeddedNats, nc: NATS, config: Config
) -> None:
    """The writer folds a batch into the projections after sending its decisions, profile
    changes and decisions in the inputs' order. With an agent moved to another tenant and
    back among the workload's inputs, in the same live batches as decisions about it, the
    projections must end exactly as a plain fold of the log does: nothing left out."""
    steps = Workload(config, Names("test"), max_waiting=3).generate(
        1_200, start_ms=1_700_000_000_000, rate=40
    )
    inputs: list[tuple[str, bytes]] = []
    client = Client(nc, "test")
    for n, step in enumerate(steps):
        inputs.append((step.subject, step.payload))
        if n % 40 == 39:
            moved = AgentProfileChanged(
                id=f"move-{n}",
                ts=1_700_000_000_000,
                agent="a1",
                tenants=["t1"] if n % 80 == 39 else ["*"],
            )
            inputs.append((client.subject_of(moved), encode_json(moved)))

    settings = fast_settings(nats_server.url)
    settings = replace(settings, router=replace(settings.router, live_batch=16))
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        js = nc.jetstream()
        acks = [await js.publish_async(subject, payload) for subject, payload in inputs]
        await asyncio.gather(*acks)
        router = svc.service.router
        assert router is not None
        for _ in range(400):
            if router.confirmed_seq >= len(inputs):  # stored, so sent, so folded
                break
            await asyncio.sleep(0.025)
        assert router.confirmed_seq == len(inputs)
        sizes = router.metrics.batch_size
        assert sizes.count < len(inputs), "every input came alone: nothing was batched"
        live = dict(router.projections.all_entries())

    engine, plain = Engine(config), Projections(config)
    for (_, payload), out in zip(
        inputs, engine.apply_raw_many([p for _, p in inputs]), strict=True
    ):
        ev = decode_input(payload)
        if isinstance(ev, AgentProfileChanged):
            plain.on_profile(ev)
        views = view_list_decoder.decode(out)
        if not (
            len(views) == 1 and views[0].type == "input_rejected" and views[0].code == "malformed"
        ):
            plain.fold(views)
    assert live == dict(plain.all_entries())


async def test_queued_frames_written_at_once_and_nothing_done_without_the_internals(
    nc: NATS,
) -> None:
    sub = await nc.subscribe("t.now")
    await nc.flush()
    await nc._send_command(b"PUB t.now 3\r\nnow\r\n")  # queued, flusher not woken
    write_queued(nc)
    assert nc._pending == [] and nc._pending_data_size == 0
    assert (await sub.next_msg(timeout=5)).data == b"now"
    # Another nats-py without these internals: nothing is touched, the flusher keeps its
    # own timing.
    other = SimpleNamespace(is_connected=True)
    write_queued(other)  # type: ignore[arg-type]
    assert vars(other) == {"is_connected": True}


def test_the_service_loop_is_uvloop_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def which() -> object:
        return asyncio.get_running_loop()

    assert isinstance(event_loop.run(which()), uvloop.Loop)


def test_a_reply_subject_goes_after_the_subject_of_either_frame() -> None:
    assert with_reply(b"PUB a.b 3\r\nabc\r\n", b"_R.1") == b"PUB a.b _R.1 3\r\nabc\r\n"
    framed = hpub_frame(b"a.b", b"id-1", b"abc")
    subject, msg_id, payload = _unframe(framed)
    assert (subject, msg_id, payload) == ("a.b", "id-1", b"abc")
    assert with_reply(framed, b"_R.2").startswith(b"HPUB a.b _R.2 ")
    assert with_reply(framed, b"_R.2").endswith(framed[framed.index(b" ", 5) :])


async def test_a_stores_answers_come_back_raw_each_to_its_own_request(nc: NATS) -> None:
    """The writers' per-batch request: frames, the last with a reply subject, its answer
    taken from the parser without a ``Msg``; many in flight, each gets its own."""
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="RAW", subjects=["raw.>"]))
    replies = await replies_of(nc)
    assert replies is not None and await replies_of(nc) is replies  # one per connection
    made: list[object] = []
    original = nc._ccroute_interceptor._original  # type: ignore[attr-defined]

    async def counting(*args: object) -> None:
        made.append(args)
        await original(*args)

    nc._ccroute_interceptor._original = counting  # type: ignore[attr-defined]
    body = hpub_frame(b"raw.x", b"m-0", b"x")
    answers = await asyncio.gather(
        replies.request(body, hpub_frame(b"raw.x", b"m-1", b"x"), 5.0),
        *(replies.request(b"", hpub_frame(b"raw.x", b"m-%d" % i, b"x"), 5.0) for i in (2, 3)),
    )
    assert [msgspec.json.decode(a)["seq"] for a in answers] == [2, 3, 4]
    assert made == []  # nothing went through nats-py's Msg path
    assert replies._waiting == {}


async def test_a_request_nobody_answers_fails_as_nats_py_would(nc: NATS) -> None:
    replies = await replies_of(nc)
    assert replies is not None
    with pytest.raises(NoRespondersError):
        await replies.request(b"", b"PUB nobody.home 1\r\nx\r\n", 5.0)
    # A subscriber that never answers: a time-out, and the request is forgotten, so a
    # late answer finds nothing to resolve.
    silent = await nc.subscribe("silent.one")
    await nc.flush()
    with pytest.raises(NatsTimeoutError):
        await replies.request(b"", b"PUB silent.one 1\r\nx\r\n", 0.2)
    assert replies._waiting == {}
    late = await silent.next_msg(timeout=5)
    await nc.publish(late.reply, b"too late")
    await nc.flush()
    assert replies._waiting == {}
    await nc.close()
    with pytest.raises(ConnectionClosedError):
        await replies.request(b"", b"PUB closed 1\r\nx\r\n", 5.0)
    assert replies._waiting == {}  # nothing left waiting for an answer that cannot come
