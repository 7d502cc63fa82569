"""The service's parts on their own, against a real nats-server where they touch NATS."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from ccroute.service.assets import (
    AssetError,
    AssetSettings,
    add_tenant_entries,
    ensure_assets,
    entry_streams,
)
from ccroute.service.embedded import (
    GO_RUNTIME_DEFAULTS,
    NICE_DEFAULT,
    EmbeddedNats,
    find_nats_server,
    nice_from_environment,
)
from ccroute.service.lease import Lease
from ccroute.service.metrics import Registry
from ccroute.service.subjects import Names, decode_token, encode_token
from ccroute.service.transport import PullConsumer, StreamWriter, parse_ack_reply

_KV_KEY_CHARS = set("-/_=.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@given(st.text(min_size=0, max_size=60))
def test_tokens_round_trip_and_are_subject_and_key_safe(value: str) -> None:
    token = encode_token(value)
    assert decode_token(token) == value
    assert token and set(token) <= _KV_KEY_CHARS - {".", "/"}
    assert not token.startswith("_")


def test_names() -> None:
    n = Names("eu-1")
    assert n.input_subject("contact_arrived", "acme") == "ccroute.eu-1.in.acme.contact_arrived"
    assert n.input_subject("agent_logged_in", None) == "ccroute.eu-1.in._agents.agent_logged_in"
    assert n.input_subject("clock_tick", None) == "ccroute.eu-1.in._clock"
    assert n.decision_subject("offer_made", "a.b", "Eva Ö") == (
        "ccroute.eu-1.out.a=2Eb.offer_made.Eva=20=C3=96"
    )
    assert n.decision_subject("agent_state_set", None, "a1") == (
        "ccroute.eu-1.out._agents.agent_state_set.a1"
    )
    assert n.agent_offers("a1") == "ccroute.eu-1.out.*.offer_made.a1"
    assert n.input_stream == "CCROUTE_EU_1_IN" and n.kv_bucket == "ccroute_eu-1"
    assert Names.parse_decision_msg_id(n.decision_msg_id(42, 3)) == (42, 3)
    assert Names.parse_decision_msg_id("nonsense") is None
    with pytest.raises(ValueError):
        Names("bad.domain")


def test_frames_round_trip() -> None:
    from ccroute.service.transport import _hpub, _unframe

    assert _unframe(_hpub("a.b", "d:1:0", b"{}")) == ("a.b", "d:1:0", b"{}")
    assert _unframe(_hpub("a.b", None, b"x\r\ny")) == ("a.b", None, b"x\r\ny")


def test_parse_ack_reply_both_layouts() -> None:
    v1 = parse_ack_reply(b"$JS.ACK.S.C.2.40.39.1700000000000000000.7")
    assert (v1.stream_seq, v1.delivered, v1.pending) == (40, 2, 7)
    v2 = parse_ack_reply(b"$JS.ACK.dom.ACCHASH.S.C.1.41.40.1700000000000000000.0.tok")
    assert (v2.stream_seq, v2.delivered, v2.pending) == (41, 1, 0)


def test_embedded_server_restart_keeps_the_store(tmp_path: Path) -> None:
    assert Path(find_nats_server()).exists()
    server = EmbeddedNats(tmp_path / "s").start()

    async def put() -> None:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="KEEP", subjects=["keep.>"]))
        await js.publish("keep.x", b"1")
        await nc.close()

    async def count() -> int:
        nc = await nats.connect(server.url)
        info = await nc.jetstream().stream_info("KEEP")
        await nc.close()
        return int(info.state.messages)

    try:
        asyncio.run(put())
        port = server.port
        server.restart()
        assert server.port == port and asyncio.run(count()) == 1
        server.kill()
        assert not server.running
        server.start()
        assert asyncio.run(count()) == 1
    finally:
        server.stop()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_the_embedded_server_collects_less_often_unless_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Go's collector held offers up every 5-8 s at its default (embedded.py says how
    that was measured); the operator's own GOGC wins."""
    monkeypatch.delenv("GOGC", raising=False)
    server = EmbeddedNats(tmp_path / "a").start()
    try:
        assert server.pid is not None
        assert _environ(server.pid)["GOGC"] == GO_RUNTIME_DEFAULTS["GOGC"] == "400"
    finally:
        server.stop()
    monkeypatch.setenv("GOGC", "100")
    server = EmbeddedNats(tmp_path / "b").start()
    try:
        assert server.pid is not None
        assert _environ(server.pid)["GOGC"] == "100"
    finally:
        server.stop()


def _thread_nices(pid: int) -> set[int]:
    """The nice value of every thread of a process (Linux: nice is per thread)."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        out.add(int(stat[stat.rindex(")") + 2 :].split()[16]))
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_embedded_server_runs_below_the_routers_priority_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a small machine the collector's workers of the server must not take the core the
    router's loop is waiting for: every thread of the server, the Go runtime's included,
    runs NICE_DEFAULT below the service; CCROUTE_NATS_NICE=0 keeps it level."""
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    monkeypatch.delenv("CCROUTE_NATS_NICE", raising=False)
    with EmbeddedNats(tmp_path / "a") as server:
        assert server.pid is not None
        assert _thread_nices(server.pid) == {min(19, ours + NICE_DEFAULT)}
        assert NICE_DEFAULT == 8
    monkeypatch.setenv("CCROUTE_NATS_NICE", "0")
    with EmbeddedNats(tmp_path / "b") as server:
        assert server.pid is not None
        assert _thread_nices(server.pid) == {ours}


def test_a_nice_that_is_not_0_to_19_is_refused_naming_the_variable() -> None:
    assert nice_from_environment({}) == NICE_DEFAULT
    assert nice_from_environment({"CCROUTE_NATS_NICE": "3"}) == 3
    for bad in ("-1", "20", "low"):
        with pytest.raises(ValueError, match="CCROUTE_NATS_NICE"):
            nice_from_environment({"CCROUTE_NATS_NICE": bad})


async def test_assets_are_idempotent_and_checked(nc: NATS) -> None:
    js = nc.jetstream()
    names = Names("assets")
    await ensure_assets(js, names)
    await ensure_assets(js, names)  # again: nothing changes, nothing fails
    info = await js.stream_info(names.input_stream)
    assert info.config.subjects == ["ccroute.assets.in.>"]
    await js.key_value(names.kv_bucket)
    await js.object_store(names.snapshot_bucket)
    other = Names("clash")
    await js.add_stream(StreamConfig(name=other.input_stream, subjects=["elsewhere.>"]))
    with pytest.raises(AssetError):
        await ensure_assets(js, other)


async def _ack(nc: NATS, subject: str, msg_id: str | None = None) -> dict[str, object]:
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    reply = await nc.request(subject, b"{}", headers=headers, timeout=5)
    ack: dict[str, object] = json.loads(reply.data)
    return ack


async def _log_count(nc: NATS, names: Names, want: int) -> int:
    js = nc.jetstream()
    for _ in range(100):
        n = int((await js.stream_info(names.input_stream)).state.messages)
        if n >= want:
            break
        await asyncio.sleep(0.05)
    return n


async def test_a_walled_log_takes_over_an_open_one_and_keeps_every_input(nc: NATS) -> None:
    """An open deployment's log becomes the walled one in place: its inputs and sequences
    stay; what tenant accounts publish (their imports map ``in.<t>.>`` to ``entry.<t>.>``,
    published here as such) lands in their entry streams first and is copied into the log
    under its ``in.`` subject; the same message id from two tenants and from the router
    itself is three inputs in the log."""
    js = nc.jetstream()
    names = Names("walled")

    def tenant_subject(tenant: str) -> str:
        return names.entry_of(names.input_subject("contact_arrived", tenant))

    await ensure_assets(js, names)
    # Before the wall, under an id of its own: the open log's ids can outlive the update
    # that removes its duplicate window (nats-server clears them on a timer of its own,
    # and in 2 of 10 runs one was still there 2 s later), and the router's "X" below was
    # then taken for this one.
    assert await _ack(nc, names.input_subject("contact_arrived", "acme"), "W") == {
        "stream": names.input_stream,
        "seq": 1,
    }
    walled = AssetSettings(tenants=("acme", "globex"), tenant_max_bytes=4096)
    await ensure_assets(js, names, walled)
    await ensure_assets(js, names, walled)  # again: nothing changes, nothing fails
    log = (await js.stream_info(names.input_stream)).config
    assert log.subjects == [names.input_wildcard] and not log.duplicate_window
    assert {src.name for src in log.sources or []} == set(entry_streams(names, ("acme", "globex")))
    for tenant in ("acme", "globex"):
        ack = await _ack(nc, tenant_subject(tenant), "X")
        assert ack == {"stream": names.tenant_entry_stream(tenant), "seq": 1}
    # The router's own publishes (ticks, the demo, admin tools) go straight into the log.
    assert await _ack(nc, names.clock_subject, "X") == {"stream": names.input_stream, "seq": 2}
    assert await _log_count(nc, names, 4) == 4
    subjects = [(await js.get_msg(names.input_stream, q)).subject for q in range(1, 5)]
    assert sorted(subjects) == sorted(
        [names.input_subject("contact_arrived", t) for t in ("acme", "acme", "globex")]
        + [names.clock_subject]
    )
    # A tenant's byte limit: its entry stream refuses, another tenant's takes inputs.
    big = b"x" * 3000
    await nc.request(tenant_subject("acme"), big, timeout=5)
    full = json.loads((await nc.request(tenant_subject("acme"), big, timeout=5)).data)
    assert full["error"]["description"] == "maximum bytes exceeded", full
    assert "error" not in await _ack(nc, tenant_subject("globex"))
    # A tool that does not know the tenants (ccroute project) leaves the sourcing log be.
    await ensure_assets(js, names, adjust=False)
    assert (await js.stream_info(names.input_stream)).config.sources
    # A tenant added later (ccroute creds issue) is sourced too; none is ever dropped.
    assert await add_tenant_entries(js, names, ("initech",))
    log = (await js.stream_info(names.input_stream)).config
    sources = {src.name for src in log.sources or []}
    assert sources == set(entry_streams(names, ("acme", "globex", "initech")))
    ack = await _ack(nc, tenant_subject("initech"), "X")
    assert ack["stream"] == names.tenant_entry_stream("initech")
    assert await _log_count(nc, names, 7) == 7


async def test_stream_writer_confirms_batches_and_dedupes(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="W", subjects=["w.>"], duplicate_window=60))
    w = StreamWriter(nc, "W")
    await w.sync_last_seq()
    for i in range(1000):
        w.add(f"w.{i % 3}", b"x%d" % i, f"id-{i}")
    await w.commit()
    assert w.last_seq == 1000 and w.slow_commits == 0
    # The same ids again (a replay): stored once, confirmed one by one.
    for i in range(990, 1010):
        w.add("w.0", b"y", f"id-{i}")
    await w.commit()
    assert w.slow_commits == 1
    info = await js.stream_info("W")
    assert info.state.messages == 1010 and w.last_seq == 1010


async def test_pull_consumer_delivers_in_order_in_batches(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="P", subjects=["p.>"]))
    w = StreamWriter(nc, "P")
    await w.sync_last_seq()
    for i in range(2500):
        w.add("p.x", str(i).encode())
    await w.commit()
    from nats.js.api import AckPolicy, ConsumerConfig

    await js.add_consumer("P", ConsumerConfig(durable_name="d", ack_policy=AckPolicy.ALL))
    pc = PullConsumer(nc, "P", "d", batch=300)
    await pc.start()
    assert pc.raw  # the fast path is in use with this nats-py
    seen: list[int] = []
    while len(seen) < 2500:
        batch = await pc.next_batch(400, 5.0)
        assert 0 < len(batch) <= 400
        seen.extend(parse_ack_reply(r).stream_seq for _, r, _ in batch)
        assert [int(d) for _, _, d in batch] == [s - 1 for s in seen[-len(batch) :]]
        await nc.publish(batch[-1][1].decode(), b"+ACK")  # one ack covers the batch
    assert seen == list(range(1, 2501))
    assert await pc.next_batch(10, 0.2) == []
    await pc.stop()


async def test_lease_single_writer_expiry_and_release(nc: NATS) -> None:
    names = Names("lease")
    await ensure_assets(nc.jetstream(), names)
    a = Lease(nc, names, "A", ttl=1)
    b = Lease(nc, names, "B", ttl=1)
    assert await a.try_acquire() and a.held
    assert not await b.try_acquire()
    assert await a.renew()
    t0 = time.monotonic()
    stop = asyncio.Event()
    assert await b.acquire(stop, poll=0.05)  # A stopped renewing: the key expires
    assert time.monotonic() - t0 < 4
    assert not await a.renew() and not a.held  # A cannot renew over B's revision
    _, value = await b.current()
    assert value is not None and value["holder"] == "B"
    await b.release()
    assert await a.try_acquire()


def test_metrics_text_format() -> None:
    r = Registry({"domain": "d"})
    c = r.counter("x_total", "X.", label="reason")
    c.inc(2, "bad")
    h = r.histogram("lat_seconds", "Latency.", (0.1, 1.0))
    h.observe(0.05)
    h.observe(5)
    g = r.gauge("g", "G.", fn=lambda: 3.5)
    assert g.get() == 3.5
    text = r.render()
    assert 'x_total{domain="d",reason="bad"} 2' in text
    assert 'lat_seconds_bucket{domain="d",le="0.1"} 1' in text
    assert 'lat_seconds_bucket{domain="d",le="+Inf"} 2' in text
    assert 'lat_seconds_count{domain="d"} 2' in text
    assert '# TYPE g gauge\ng{domain="d"} 3.5' in text
    json.dumps(text)


def test_service_table_sets_tuning_and_the_environment_overrides_it() -> None:
    from argparse import Namespace

    from ccroute.config import config_from_dict
    from ccroute.service.service import ServiceSettings

    cfg = config_from_dict(
        {"service": {"tick_ms": 250, "snapshot_every_events": 5000, "metrics_port": 9464}}
    )
    args = Namespace(metrics_port=None, nats=None, domain="eu")
    s = ServiceSettings.from_args(args, env={}, table=cfg.service)
    assert (s.tick_ms, s.router.snapshot_every_events, s.metrics_port) == (250, 5000, 9464)
    s = ServiceSettings.from_args(args, env={"CCROUTE_TICK_MS": "100"}, table=cfg.service)
    assert s.tick_ms == 100, "the environment wins over the file"
    args.metrics_port = 9000
    assert ServiceSettings.from_args(args, env={}, table=cfg.service).metrics_port == 9000


def test_a_variable_that_is_not_a_number_is_refused_naming_it() -> None:
    """``ccroute serve`` exits with the variable's name (status 2), not a traceback."""
    from ccroute.service.service import ServiceSettings, SettingsError

    for env, name in (
        ({"CCROUTE_TICK_MS": "fast"}, "CCROUTE_TICK_MS"),
        ({"CCROUTE_SNAPSHOT_SECONDS": "1m"}, "CCROUTE_SNAPSHOT_SECONDS"),
        ({"CCROUTE_NATS_NICE": "20"}, "CCROUTE_NATS_NICE"),
        ({"CCROUTE_METRICS_PORT": "nine"}, "CCROUTE_METRICS_PORT"),
    ):
        with pytest.raises(SettingsError, match=name):
            ServiceSettings.from_args(None, env=env)
    assert ServiceSettings.from_args(None, env={}).nats_nice == NICE_DEFAULT
    assert ServiceSettings.from_args(None, env={"CCROUTE_NATS_NICE": "0"}).nats_nice == 0


def test_the_loop_minute_counts_the_collectors_passes() -> None:
    """A full pass of the cyclic collector stops the writer's loop like any work on it;
    the minute's line says how many there were and the longest, so an operator can tell
    a collector pause from the router's own work."""
    import gc

    from ccroute.service.loop_watch import CollectorPasses

    watcher = CollectorPasses.watching()
    assert CollectorPasses.watching() is watcher, "one watcher per process"
    gc.disable()  # only the passes asked for here
    try:
        watcher.take()
        gc.collect(0)
        gc.collect(2)
        assert watcher.take()[:2] == (2, 1)
        assert watcher.take() == (0, 0, 0.0), "taken: counted afresh"
        gc.collect(2)
        assert watcher.take()[2] > 0.0, "the longest pass, in seconds"
    finally:
        gc.enable()


def test_the_loop_minute_names_the_slowest_live_batch_and_the_loops_page_faults(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A slow minute is laid beside the machine's record: the longest live batch's size,
    the page faults it took (a heap growing on a virtual machine) and when it ran; the
    minute's faults on the loop's thread and the process's threads."""
    from ccroute.service.loop_watch import LoopWatch, process_threads, thread_faults

    watch = LoopWatch()
    before = time.time()
    watch.process(0.004, live=True, inputs=13, faults=2)
    watch.process(0.009, live=True, inputs=40, faults=517)
    watch.process(0.050, live=False, inputs=5000, faults=9000)  # catching up, not live
    watch.process(0.002, live=True, inputs=1, faults=0)
    touched = bytearray(8 * 1024 * 1024)  # pages first touched by this thread
    for i in range(0, len(touched), 4096):
        touched[i] = 1
    with caplog.at_level("INFO", logger="ccroute.service.runner"):
        watch.maybe_log(time.monotonic() + 61.0)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("loop_minute")]
    fields = dict(part.split("=") for part in line.split()[1:])
    assert fields["process_cpu_max_ms"] == "50.0"
    assert fields["live_process_cpu_max_ms"] == "9.0"
    assert (fields["live_slowest_inputs"], fields["live_slowest_faults"]) == ("40", "517")
    assert before - 0.001 <= float(fields["live_slowest_at"]) <= time.time()
    if sys.platform == "linux":
        assert int(fields["faults"]) >= 2048, "8 MiB of fresh pages"
        assert int(fields["threads"]) == process_threads() >= 1
        assert thread_faults() > 0
    watch.maybe_log(time.monotonic() + 122.0)
    assert watch.live_max == 0.0 and watch.live_inputs == 0, "counted afresh each minute"


def test_the_sequences_read_from_an_ack_subject_agree_with_its_full_reading() -> None:
    from ccroute.service.transport import consumer_seq_of, stream_seq_of

    for reply in (
        b"$JS.ACK.S.C.2.40.39.1700000000000000000.7",
        b"$JS.ACK.dom.ACCHASH.S.C.1.41.40.1700000000000000000.0.tok",
    ):
        assert stream_seq_of(reply) == parse_ack_reply(reply).stream_seq
    assert consumer_seq_of(b"$JS.ACK.S.C.2.40.39.1700000000000000000.7") == 39
    assert consumer_seq_of(b"$JS.ACK.dom.ACCHASH.S.C.1.41.40.1700000000000000000.0.tok") == 40
    with pytest.raises(ValueError, match="not a JetStream ack subject"):
        stream_seq_of(b"_INBOX.abc.def")
