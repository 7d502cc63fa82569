"""The writer's loop: consume the input log in order, apply, publish decisions, ack.

One pass of the loop takes the batch of inputs that has arrived (up to ``batch``), applies
it to the engine in one call (:meth:`ccroute.engine.Engine.apply_raw_many`), publishes each
decision on its subject with ``Nats-Msg-Id = <domain>:<input seq>:<n>``, waits until the
decision stream has stored them all, and only then acknowledges the inputs (one ack for
the batch: the consumer's ack policy is *all*).

Exactly once, downstream: on taking over, the writer reads the ``Nats-Msg-Id`` of the last
message in the decision stream (its *horizon*). While replaying inputs up to the horizon it
applies them but publishes nothing (their decisions are stored already); past it, it
publishes. The ids make a re-published decision a duplicate the stream drops, as a
second line of defence.

Fencing: decisions are published with ``Nats-Expected-Last-Sequence`` (see
:mod:`ccroute.service.fencing`), so a writer that was paused past its lease and wakes up
has its publishes refused once the new writer has written; it then steps down. The
writer pulls and publishes only while its lease is valid, and takes its inputs strictly
in order: the consumer sequence of each delivery must follow the previous one, else some
deliveries went elsewhere (a stale writer's pull, a lost connection) and the consumer is
re-created at the next input to apply. No input is ever skipped silently.

Recovery: the newest snapshot (engine + projections + the input sequence they cover), then
the log from the next sequence through a durable consumer re-created to start there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ccroute import _core
from ccroute.config import Config
from ccroute.engine import Engine
from ccroute.events import (
    INPUT_TYPES,
    AgentProfileChanged,
    decode_input,
)
from ccroute.limits import InputLimitExceeded, bounded, check_input
from ccroute.service import allocator
from ccroute.service.background import in_background
from ccroute.service.deadletter import DeadLetters
from ccroute.service.fencing import Fenced, FencedWriter
from ccroute.service.lease import Lease
from ccroute.service.loop_watch import LoopWatch, thread_faults
from ccroute.service.metrics import ServiceMetrics
from ccroute.service.projections import DecisionView, Projections, view_list_decoder
from ccroute.service.snapshots import Snapshot, SnapshotAbandoned, SnapshotStore, config_digest
from ccroute.service.subjects import Names
from ccroute.service.transport import (
    PullConsumer,
    StreamWriter,
    consumer_seq_of,
    parse_ack_reply,
    publish_with_next_write,
    stream_seq_of,
    write_queued,
)

__all__ = ["LogTrimmedError", "Router", "RouterSettings"]

log = logging.getLogger("ccroute.service.runner")

SNAPSHOT_BUSY_MS = 1.0
SNAPSHOT_REST_MS = 2.0
"""The snapshot encoder works 1 ms, then rests 2 ms: a busy state (tens of megabytes, a
few hundred ms of one core) is written over about a second while routing, the broker and
the publishers keep the cores; offers waited for the encoder on a two-core machine (the
soak's per-minute p99). A stop that waits for it tells it to hurry."""

SNAPSHOT_CHUNK_REST_S = 0.0025
"""And its upload rests 2.5 ms between two 128 KiB chunks (about 0.9 s more for 45 MB):
512 KiB chunks sent in one go kept the broker and the writer's connection busy for half
a second and offers waited behind them (three quarters of the soak's slowest 1 % fell in
uploads, 2.5 % of the time; 4 % with these). A stop tells it to hurry too."""
RELEASE_IDLE_S = 1.0
"""How long the writer must have had nothing to do before it gives its allocators' unused
memory back (see Router._release_when_idle)."""


@dataclass(frozen=True)
class RouterSettings:
    """How the writer batches, snapshots and flushes."""

    batch: int = 1000
    """Most inputs per engine call."""
    pull_batch: int = 1000
    """Messages per pull request (between half and one and a half of it are in flight)."""
    snapshot_every_events: int = 100_000
    snapshot_every_seconds: float = 60.0
    projection_flush_seconds: float = 0.25
    projection_flush_chunk: int = 256
    """Most projection entries encoded per pass of the loop while catching up (bounds the
    pause a flush adds to routing; the rest follow on the next passes)."""
    live_batch: int = 64
    """Most inputs per engine call while caught up: a batch costs 15-35 us of CPU per
    input, so 64 keep one piece of loop work within about 2-3 ms and an arrival behind a
    batch waits no longer than that (``batch`` applies again once behind)."""
    live_flush_chunk: int = 64
    """Most projection entries encoded per pass while caught up (20-35 us each)."""
    catchup_backlog: int = 5000
    """Inputs waiting (stored but not applied) from which the writer counts as catching
    up and takes ``batch`` at a time for throughput: a second of load at 5,000 inputs/s,
    more than a hiccup of the machine leaves behind."""
    projections: bool = True
    ack_wait_seconds: float = 30.0


class LogTrimmedError(RuntimeError):
    """The log no longer starts at its first input (retention trimmed it)."""


class _Head(msgspec.Struct):
    """Just enough of an input to check its subject (unknown fields are skipped)."""

    type: str = ""
    tenant: str | None = None
    agent: Any = None
    """The agent an input names (checked against an agent subject); any JSON value, so a
    wrong one is the engine's to reject, as before agent subjects existed."""


def _dead_tenant(subject: bytes) -> str | None:
    """The tenant token a dead letter is filed under: the input *subject's* one.

    Not the tenant the payload names: only the subject is vouched for by the broker (a
    tenant may publish under its own token only), so one tenant cannot fill another's
    dead letters by naming it in a payload.
    """
    parts = subject.split(b".", 4)
    return parts[3].decode() if len(parts) > 3 and parts[3] else None


_head = msgspec.json.Decoder(_Head)
_INPUT_TAGS = frozenset(str(t.__struct_config__.tag) for t in INPUT_TYPES)


def _decode_head(data: bytes) -> _Head:
    """The head of an input, its limits checked first (the decoder skips unknown fields
    recursively: a deep one must never reach it); raises ``msgspec.DecodeError``."""
    check_input(data)
    head = _head.decode(data)
    if head.type not in _INPUT_TAGS:
        if not head.type:
            raise msgspec.ValidationError("Object missing required field `type`")
        raise msgspec.ValidationError(
            f"Invalid value {bounded(head.type)!r} - at `$.type`; expected one of the input types"
        )
    return head


_raw_list = msgspec.json.Decoder(list[msgspec.Raw])


_DEAD_CODES = frozenset({"malformed", "unsupported_version", "clock_jump"})
_NO_HORIZON = (0, -1)


class Router:
    """The consume -> apply -> publish loop of the domain's writer."""

    def __init__(
        self,
        nc: NATS,
        names: Names,
        config: Config,
        settings: RouterSettings | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.names = names
        self.config = config
        self.settings = settings or RouterSettings()
        self.metrics = metrics or ServiceMetrics(names.domain)
        self.engine = Engine(config)
        self.projections = Projections(config)
        self.snapshots = SnapshotStore(nc, names, chunk_rest=SNAPSHOT_CHUNK_REST_S)
        self.config_sha = config_digest(config)
        self.applied_seq = 0
        self.snapshot_seq = 0
        self.horizon: tuple[int, int] = _NO_HORIZON
        self.writer = FencedWriter(nc, names.decision_stream)
        self.kv_writer = StreamWriter(nc, f"KV_{names.kv_bucket}", exact=False)
        self.dead = DeadLetters(nc, names, self.metrics)
        self.consumer: PullConsumer | None = None
        self.ready = False
        self.recovered_from = 0
        self.recovery_started = 0.0
        self.recovery_seconds: float | None = None
        self._start_last_seq = 0
        self._last_snapshot_at = time.monotonic()
        self._last_flush_at = 0.0
        self._snapshot_task: asyncio.Task[None] | None = None
        self._idle_since = time.monotonic()
        """When the writer last had an input or a batch in flight."""
        self._release_due = False
        """Memory was freed (work done, a snapshot taken) since it last released it."""
        self._snapshot_job: _core.SnapshotJob | None = None
        """The snapshot being encoded, told to hurry when a stop waits for it."""
        self._abandoned = False
        """Set by :meth:`abandon`: no snapshot of this router's is stored any more."""
        self._flush_task: asyncio.Task[None] | None = None
        self._round_left = 0
        """Changed agents the flush under way has still to write (<= 0: none under way)."""
        self._loop_stats = LoopWatch()
        self._epoch = -1
        self._live_from = 0
        self.rebuilt_entries = 0
        self.log_trimmed: dict[str, int] | None = None
        """Set when inputs between the snapshot and the log's first are gone."""
        self._inflight: tuple[asyncio.Task[None], bytes, int, int] | None = None
        self.confirmed_seq = 0
        """The input sequence whose decisions are all stored (and the inputs acked)."""
        self._last_cseq = 0
        """Consumer sequence of the last delivery taken: the next must be one more."""
        self._lease: Lease | None = None
        self._pending = 0
        """Inputs in the stream after the last one acknowledged (from its ack reply)."""
        self._tail_ids: set[tuple[int, int]] = set()
        self._tail_from = 1 << 62
        self._in_subjects: dict[tuple[str, str | None], bytes] = {}
        self._agent_subjects: dict[tuple[str, str], bytes] = {}
        self._out_subjects: dict[tuple[str, str | None, str | None], bytes] = {}
        self._to_fold: list[list[DecisionView] | AgentProfileChanged] = []
        """What the last batch decided, for the projections once its decisions are sent."""

    # ------------------------------------------------------------------ recovery

    async def recover(self, *, use_snapshot: bool = True) -> None:
        """Load the newest snapshot, find the decision horizon, position the consumer."""
        self.recovery_started = time.perf_counter()
        snap = await self.snapshots.load() if use_snapshot else None
        if snap is not None:
            try:
                self.engine = Engine.restore(self.config, snap.engine)
                if self.settings.projections and snap.projections:
                    self.projections.load_bytes(snap.projections)
                self.applied_seq = self.snapshot_seq = snap.seq
                self.metrics.snapshot_seq.set(snap.seq)
                self.metrics.snapshot_time = snap.created_ms / 1000
                if snap.config_sha256 != self.config_sha:
                    log.warning(
                        "snapshot_config_changed seq=%d (continuing with this config)", snap.seq
                    )
            except Exception as exc:
                log.error(
                    "snapshot_restore_failed seq=%d error=%r (replaying the log)", snap.seq, exc
                )
                self.engine = Engine(self.config)
                self.projections = Projections(self.config)
                self.applied_seq = self.snapshot_seq = 0
        self.recovered_from = self.confirmed_seq = self.applied_seq
        await self.read_horizon()
        await self.writer.sync_last_seq()
        info = await self.js.stream_info(self.names.input_stream)
        self._start_last_seq = int(info.state.last_seq)
        first = int(info.state.first_seq)
        if self.applied_seq + 1 < first:
            self.log_trimmed = {"first_seq": first, "applied_seq": self.applied_seq}
            self.metrics.log_trimmed.set(1)
            log.error(
                "log_trimmed first_seq=%d applied=%d (inputs between are gone)",
                first,
                self.applied_seq,
            )
        await self._reset_consumer()
        log.info(
            "recovering from_seq=%d log_last_seq=%d horizon=%d:%d snapshot=%s",
            self.applied_seq,
            self._start_last_seq,
            self.horizon[0],
            self.horizon[1],
            "yes" if snap is not None else "no",
        )
        if self.applied_seq >= self._start_last_seq:
            self._caught_up()

    async def read_horizon(self) -> tuple[int, int]:
        """(input seq, index) of the last decision stored: nothing at or before it is re-sent.

        Also reads the ids of the last few batches' decisions: a batch cut by a lost
        connection may have reached the stream with a hole in it (frames lost in the
        socket, later ones re-sent from the client's buffer after the reconnect) and the
        process may have died before re-sending the batch one by one. Decisions of those
        inputs missing from the tail are published again, so the hole closes.
        """
        stream = self.names.decision_stream
        info = await self.js.stream_info(stream)
        last = int(info.state.last_seq)
        horizon = _NO_HORIZON
        self._tail_ids = set()
        self._tail_from = 1 << 62
        if last and info.state.messages:
            first = int(info.state.first_seq)
            found = await self._read_tail(
                stream, max(first, last - 4 * self.settings.batch + 1), last
            )
            if found is not None:
                horizon = found
        self.horizon = horizon
        return horizon

    async def _read_tail(self, stream: str, start: int, last: int) -> tuple[int, int] | None:
        """Read the ids of the stream's tail; the highest of ours (the horizon), or None.

        Our ids rise with the stream sequence. Anything after the highest, or out of that
        order before it, was published by someone else (a rogue publisher) and neither
        moves the horizon nor counts as one of our decisions.
        """
        ids: list[tuple[int, int]] = []
        sub = await self.js.pull_subscribe(
            self.names.decision_wildcard,
            stream=stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                ack_policy=AckPolicy.NONE,
                headers_only=True,
                inactive_threshold=30.0,
                mem_storage=True,
            ),
        )
        try:
            seen = start - 1
            while seen < last:
                msgs = await sub.fetch(min(1000, last - seen), timeout=5.0)
                for m in msgs:
                    seen = m.metadata.sequence.stream
                    parsed = Names.parse_decision_msg_id((m.headers or {}).get("Nats-Msg-Id", ""))
                    if parsed is not None:
                        ids.append(parsed)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if not ids:
            return None
        top = max(range(len(ids)), key=ids.__getitem__)
        kept = [ids[top]]
        for i in range(top - 1, -1, -1):
            if ids[i] < kept[-1]:
                kept.append(ids[i])
        # The first input of the window may have decisions before it: not a hole.
        self._tail_from = min(seq for seq, _ in kept) + 1
        self._tail_ids = set(kept)
        return ids[top]

    async def _reset_consumer(self) -> None:
        stream, name = self.names.input_stream, self.names.input_consumer
        if self.consumer is not None:
            await self.consumer.stop()
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(stream, name)
        start = self.applied_seq + 1
        cfg = ConsumerConfig(
            durable_name=name,
            description="ccroute writer: applies the log in order",
            ack_policy=AckPolicy.ALL,
            ack_wait=self.settings.ack_wait_seconds,
            max_ack_pending=max(50_000, 4 * self.settings.pull_batch),
            max_waiting=512,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 1 else DeliverPolicy.ALL,
            opt_start_seq=start if start > 1 else None,
        )
        await self.js.add_consumer(stream, cfg)
        self._last_cseq = 0
        self.consumer = PullConsumer(self.nc, stream, name, batch=self.settings.pull_batch)
        lease = self._lease
        if lease is not None:
            self.consumer.may_pull = lambda: lease.held
        await self.consumer.start()

    async def consumer_stop(self) -> None:
        """Stop taking deliveries (a writer that will not route)."""
        if self.consumer is not None:
            await self.consumer.stop()

    def _caught_up(self) -> None:
        if self.ready:
            return
        self.ready = True
        if self.applied_seq - self.snapshot_seq >= self.settings.snapshot_every_events:
            self._last_snapshot_at = 0.0  # a long replay: snapshot at the next chance
        self.recovery_seconds = time.perf_counter() - self.recovery_started
        replayed = self.applied_seq - self.recovered_from
        log.info(
            "caught_up applied_seq=%d replayed=%d seconds=%.3f",
            self.applied_seq,
            replayed,
            self.recovery_seconds,
        )

    def on_reconnect(self) -> None:
        """The connection came back: renew pulls, rewrite every projection entry."""
        if self.consumer is not None:
            self.consumer.reset()
        self.projections.mark_all_dirty()

    # ---------------------------------------------------------------------- loop

    async def run(
        self, stop: asyncio.Event, lease: Lease | None = None, lost: asyncio.Event | None = None
    ) -> str:
        """Process until ``stop`` ("stopped") or the lease is gone ("lease_lost").

        Batch N+1 is applied while the decision stream confirms batch N: the CPU work of
        one overlaps the server's work on the other. Sending stays strictly in order:
        batch N+1's decisions leave only once batch N is confirmed stored.
        """
        assert self.consumer is not None, "call recover() first"
        self.metrics.leader.set(1)
        if lease is not None:
            self._epoch = lease.epoch
            self._lease = lease
            self.writer.may_send = lambda: lease.held
            self.consumer.may_pull = lambda: lease.held
        self._inflight = None
        try:
            while not stop.is_set():
                if lost is not None and lost.is_set():
                    await self._settle()
                    return "lease_lost"
                if lease is not None and lease.epoch != self._epoch:
                    # Re-acquired after losing it: someone may have written meanwhile.
                    await self._settle()
                    self._epoch = lease.epoch
                    await self.read_horizon()
                    await self.writer.sync_last_seq()
                    log.info("lease_reacquired horizon=%d:%d", *self.horizon)
                if lease is not None and not lease.held:
                    # It cannot prove it holds the lease (paused, starved, server away):
                    # take nothing, send nothing until it can, or step down.
                    await self._settle()
                    await self._wait_for_lease(lease, stop, lost)
                    if stop.is_set() or (lost is not None and lost.is_set()):
                        continue  # gone for good: leave the consumer to the new writer
                    await self._reset_consumer()  # pulls made before went who knows where
                    continue
                wait = 0.0 if self._inflight is not None else 0.2
                batch = await self.consumer.next_batch(self._batch_limit(), wait)
                if batch or self._inflight is not None:
                    self._idle_since = time.monotonic()
                    self._release_due = True
                else:
                    self._release_when_idle(time.monotonic())
                if batch and lease is not None and not lease.held:
                    continue  # dropped unapplied; the top of the loop decides what next
                batch, gap = self._cut_at_gap(batch)
                c0, f0 = time.thread_time(), thread_faults()
                small = len(batch) <= self.settings.live_batch
                live = self._process(batch) if batch else False
                self._loop_stats.process(
                    time.thread_time() - c0, small, len(batch), thread_faults() - f0
                )
                await self._settle()
                if batch:
                    await self._send(batch, live, stop)
                self._fold_projections()
                if gap:
                    await self._settle()
                    self.metrics.input_gaps.inc()
                    log.warning(
                        "input_gap applied_seq=%d (deliveries went elsewhere or were lost: "
                        "the consumer restarts at the next input)",
                        self.applied_seq,
                    )
                    await self._reset_consumer()
                now = time.monotonic()
                if self.settings.projections:
                    self._maybe_flush(now)
                if self._inflight is None:
                    self._maybe_snapshot(now)
                self._loop_stats.maybe_log(now)
            await self._settle()
        except Fenced as exc:
            # Another writer has written (or this one cannot prove its lease): what this
            # process holds may be behind. Step down; if it is still the lease holder, it
            # recovers afresh from the stream's horizon.
            self._inflight = None
            self.metrics.fenced.inc()
            log.warning("writer_fenced error=%s", exc)
            return "fenced"
        finally:
            self.metrics.leader.set(0)
            # Not awaited: with the server gone a write in flight retries until stopped,
            # and stopping must not wait for it (the next writer rewrites every entry).
            self._cancel_flush()
        return "stopped"

    def _live(self) -> bool:
        """Caught up and not behind: small pieces of work (latency) rather than big ones
        (throughput)."""
        if not self.ready or self.consumer is None:
            return False
        return self._pending + self.consumer.buffered < self.settings.catchup_backlog

    def _batch_limit(self) -> int:
        """Most inputs the next engine call takes: ``live_batch`` while live, so no arrival
        waits behind a long batch; ``batch`` while catching up (fewer, cheaper passes)."""
        s = self.settings
        return min(s.live_batch, s.batch) if self._live() else s.batch

    def _cut_at_gap(
        self, batch: list[tuple[bytes, bytes, bytes]]
    ) -> tuple[list[tuple[bytes, bytes, bytes]], bool]:
        """The deliveries up to the first that does not follow its predecessor; gap found?

        The consumer numbers its deliveries 1, 2, 3... (redeliveries included, deleted
        messages skipped): a jump means deliveries went to someone else or were lost on
        the way, and what follows must not be applied before them.
        """
        last = self._last_cseq
        for i, (_, reply, _) in enumerate(batch):
            cseq = consumer_seq_of(reply)
            if cseq != last + 1:
                self._last_cseq = last
                return batch[:i], True
            last = cseq
        self._last_cseq = last
        return batch, False

    async def _wait_for_lease(
        self, lease: Lease, stop: asyncio.Event, lost: asyncio.Event | None
    ) -> None:
        while not lease.held and not stop.is_set() and not (lost is not None and lost.is_set()):
            await asyncio.sleep(0.05)

    async def _send(
        self, batch: list[tuple[bytes, bytes, bytes]], live: bool, stop: asyncio.Event
    ) -> None:
        """Start storing a processed batch's decisions; :meth:`_settle` finishes it."""
        if len(self.dead):
            await self.dead.commit()
        items = self.writer.take()
        task = asyncio.get_running_loop().create_task(self.writer.commit_items(items, stop))
        first_ts_ns = parse_ack_reply(batch[0][1]).timestamp_ns if live else 0
        self._inflight = (task, batch[-1][1], first_ts_ns, self.applied_seq)
        # One turn of the loop lets the commit queue its frames; they go to the socket now,
        # so the server stores this batch while the engine applies the next one.
        await asyncio.sleep(0)
        write_queued(self.nc)

    async def _settle(self) -> None:
        """Wait until the batch in flight is stored, then acknowledge its inputs."""
        inflight = self._inflight
        if inflight is None:
            return
        self._inflight = None
        task, last_reply, first_ts_ns, applied = inflight
        before = self.writer.slow_commits
        await task
        if self.writer.slow_commits != before:
            self.metrics.publish_retries.inc()
        # One ack covers the batch (AckPolicy.ALL); it leaves with the next batch's
        # decisions when the loop sends them right after this.
        await publish_with_next_write(self.nc, last_reply, b"+ACK")
        self.confirmed_seq = applied
        last = parse_ack_reply(last_reply)
        self._pending = last.pending
        m = self.metrics
        m.lag.set(last.pending)
        m.applied_seq.set(self.applied_seq)
        if first_ts_ns:
            m.event_latency.observe(max(0.0, (time.time_ns() - first_ts_ns) / 1e9))
        if not self.ready and last.pending == 0 and last.stream_seq >= self._start_last_seq:
            self._caught_up()

    def _input_subject(self, type_: str, tenant: str | None) -> bytes:
        key = (type_, tenant)
        subject = self._in_subjects.get(key)
        if subject is None:
            if len(self._in_subjects) > 100_000:
                self._in_subjects.clear()
            subject = self._in_subjects[key] = self.names.input_subject(type_, tenant).encode()
        return subject

    def _agent_subject(self, type_: str, agent: str) -> bytes:
        key = (type_, agent)
        subject = self._agent_subjects.get(key)
        if subject is None:
            if len(self._agent_subjects) > 100_000:
                self._agent_subjects.clear()
            subject = self.names.agent_input_subject(type_, agent).encode()
            self._agent_subjects[key] = subject
        return subject

    def _decision_subject(self, type_: str, tenant: str | None, agent: str | None) -> bytes:
        key = (type_, tenant, agent)
        subject = self._out_subjects.get(key)
        if subject is None:
            if len(self._out_subjects) > 100_000:
                self._out_subjects.clear()
            subject = self.names.decision_subject(type_, tenant, agent).encode()
            self._out_subjects[key] = subject
        return subject

    def _process(self, batch: list[tuple[bytes, bytes, bytes]]) -> bool:
        """Apply a batch and queue its decisions and dead letters; True if any is live."""
        applied = self.applied_seq
        seqs: list[int] = []
        payloads: list[bytes] = []
        heads: list[_Head] = []
        subjects: list[bytes] = []
        h_seq, h_n = self.horizon
        m = self.metrics
        m.events_in.inc(len(batch))
        head_decode = _decode_head
        input_subject = self._input_subject
        for subject, reply, data in batch:
            seq = stream_seq_of(reply)
            if seq <= applied:
                m.redeliveries.inc()
                continue
            applied = seq
            try:
                head = head_decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                # RecursionError: nested deeper than the decoder goes (in a field it skips,
                # or in ``agent``); one tenant's input must not stop the router for all.
                limit = exc.limit if isinstance(exc, InputLimitExceeded) else None
                self.dead.add(
                    "malformed",
                    str(exc),
                    subject.decode(),
                    seq,
                    data,
                    publish=seq > h_seq,
                    tenant_token=_dead_tenant(subject),
                    limit=limit,
                )
                continue
            if input_subject(head.type, head.tenant) != subject and (
                not isinstance(head.agent, str)
                or self._agent_subject(head.type, head.agent) != subject
            ):
                expected = input_subject(head.type, head.tenant).decode()
                if isinstance(head.agent, str):
                    expected += " or " + self._agent_subject(head.type, head.agent).decode()
                self.dead.add(
                    "subject_mismatch",
                    f"an input of type {head.type!r} and tenant "
                    f"{head.tenant if head.tenant is None else bounded(head.tenant)!r} belongs on "
                    f"{expected}",
                    subject.decode(),
                    seq,
                    data,
                    publish=seq > h_seq,
                    tenant_token=_dead_tenant(subject),
                )
                continue
            seqs.append(seq)
            payloads.append(data)
            heads.append(head)
            subjects.append(subject)
        self.applied_seq = applied
        if not payloads:
            return False
        t0 = time.perf_counter()
        outs = self.engine.apply_raw_many(payloads)
        m.apply_seconds.observe(time.perf_counter() - t0)
        m.batch_size.observe(len(payloads))

        add = self.writer.add
        folding = self.settings.projections
        to_fold = self._to_fold
        decision_subject = self._decision_subject
        prefix = f"{self.names.domain}:".encode()
        published = 0
        for i, out in enumerate(outs):
            seq = seqs[i]
            if folding and heads[i].type == "agent_profile_changed":
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    ev = decode_input(payloads[i])
                    if isinstance(ev, AgentProfileChanged):
                        to_fold.append(ev)
            if len(out) <= 2:  # b"[]": nothing decided
                continue
            views = view_list_decoder.decode(out)
            if (
                len(views) == 1
                and views[0].type == "input_rejected"
                and views[0].code in _DEAD_CODES
            ):
                # The engine could not decode or validate it (the only decision it makes
                # then): dead-lettered, not published.
                rejection = msgspec.json.decode(out)[0]
                self.dead.add(
                    views[0].code or "malformed",
                    str(rejection.get("message", views[0].code)),
                    subjects[i].decode(),
                    seq,
                    payloads[i],
                    publish=seq > h_seq,
                    tenant_token=_dead_tenant(subjects[i]),
                    limit=rejection.get("limit"),
                )
                continue
            if folding:
                to_fold.append(views)
            if seq < h_seq and seq < self._tail_from:
                continue  # replaying what was published before
            raws = _raw_list.decode(out)
            skip_upto = h_n if seq == h_seq else -1 if seq > h_seq else 1 << 30
            for n, v in enumerate(views):
                if n > skip_upto or (
                    self._tail_from <= seq <= h_seq and (seq, n) not in self._tail_ids
                ):
                    msg_id = b"%s%d:%d" % (prefix, seq, n)
                    add(decision_subject(v.type, v.tenant, v.agent), msg_id, raws[n])
                    published += 1
        m.decisions_out.inc(published)
        return seqs[-1] > h_seq

    # ------------------------------------------------------- projections, snapshots

    def _fold_projections(self) -> None:
        """Fold what the last batch decided into the projections, in the inputs' order.

        The run loop calls this once the batch's decisions are on their way to the server,
        so folding (a fifth of the writer's work) overlaps their storing instead of
        delaying them. Meanwhile a reader (a flush, a status request) sees the projections
        as of the batch before, as it would have between two batches; a snapshot folds
        first, so it always covers exactly what was applied.
        """
        pending, self._to_fold = self._to_fold, []
        p = self.projections
        for item in pending:
            if isinstance(item, AgentProfileChanged):
                p.on_profile(item)
            else:
                p.fold(item)

    def _maybe_flush(self, now: float) -> None:
        """Start writing changed projection entries, a bounded chunk at a time, without
        waiting for the KV bucket: the loop goes on routing while the server stores them.

        Every ``projection_flush_seconds`` a flush begins; it covers the agents changed
        by then (a chunk follows the last at once until they are written; a busy second
        changes thousands) and, with its first chunk, the queues and tenants. What
        changes meanwhile waits for the next flush: an entry is written at most once per
        interval however often it changes (on a server that syncs every write, each one
        is a disk flush)."""
        task = self._flush_task
        if task is not None and not task.done():
            return
        s = self.settings
        chunk = s.live_flush_chunk if self._live() else s.projection_flush_chunk
        if self._round_left > 0:
            self._round_left -= chunk
            self._flush_task = asyncio.get_running_loop().create_task(
                self.flush_projections(chunk, shared=False)
            )
        elif now - self._last_flush_at >= s.projection_flush_seconds:
            self._last_flush_at = now
            self._round_left = self.projections.changed_agents() - chunk
            self._flush_task = asyncio.get_running_loop().create_task(self.flush_projections(chunk))

    async def flush_projections(self, limit: int | None = None, *, shared: bool = True) -> None:
        """Write changed projection entries to the KV bucket: all; or ``limit`` agents'
        with the changed queues and tenants; or without them (``shared=False``)."""
        if self._lease is not None and not self._lease.held:
            return  # a stale writer must not overwrite the new writer's entries
        c0 = time.thread_time()
        entries = self.projections.drain(limit, shared=shared)
        self._loop_stats.flush(time.thread_time() - c0)
        if not entries:
            return
        self.metrics.projection_flush_entries.observe(len(entries))
        prefix = f"$KV.{self.names.kv_bucket}."
        for key, value in entries:
            self.kv_writer.add(prefix + key, value)
        if limit is None:
            await self.kv_writer.commit()
            return
        try:
            await self.kv_writer.commit()
        except Exception as exc:
            # Written beside the loop, nobody awaits the outcome: what may not have been
            # stored is written again, all of it, as after a reconnect.
            log.warning("projection_flush_failed entries=%d error=%r", len(entries), exc)
            self.projections.mark_all_dirty()

    def _cancel_flush(self) -> None:
        task, self._flush_task = self._flush_task, None
        if task is not None and not task.done():
            task.cancel()
            self.projections.mark_all_dirty()

    async def _settle_flush(self) -> None:
        task, self._flush_task = self._flush_task, None
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    def _maybe_snapshot(self, now: float) -> None:
        if self._snapshot_task is not None and not self._snapshot_task.done():
            return
        if not self.ready:
            # Catching up: snapshotting would slow the replay down (the engine pauses,
            # the upload shares this core); one follows as soon as the tail is applied.
            return
        s = self.settings
        pending = self.applied_seq - self.snapshot_seq
        if pending <= 0:
            return
        if (
            pending >= s.snapshot_every_events
            or now - self._last_snapshot_at >= s.snapshot_every_seconds
        ):
            # Taken here, not when the task first runs: by then the loop may have applied
            # another batch whose decisions are still on their way, and a snapshot that
            # covers inputs whose decisions were never stored loses them for good (the
            # next writer starts after the snapshot). Seen in the chaos run.
            taken = self._take_job()
            self._snapshot_task = asyncio.get_running_loop().create_task(
                self._snapshot_off_loop(*taken)
            )

    def _take_job(self) -> tuple[Snapshot, _core.SnapshotJob, float, float, float]:
        """What the loop itself does for a snapshot, between two batches (every applied
        input's decisions stored): the engine's state taken (its large memories shared,
        not copied) and the projections' encoded. The engine's bytes are written later,
        on a worker thread. Returns the snapshot, the job, the wall and CPU seconds, and
        the wall seconds of the engine's part alone (the rest is the projections')."""
        self._fold_projections()
        if self._inflight is not None or self.confirmed_seq != self.applied_seq:
            raise RuntimeError("a snapshot must not cover decisions not yet stored")
        self._last_snapshot_at = time.monotonic()
        c0 = time.thread_time()
        t0 = time.perf_counter()
        job = self.engine.snapshot_job(SNAPSHOT_BUSY_MS, SNAPSHOT_REST_MS)
        engine_part = time.perf_counter() - t0
        snap = Snapshot(
            domain=self.names.domain,
            seq=self.applied_seq,
            created_ms=int(time.time() * 1000),
            config_sha256=self.config_sha,
            engine=b"",
            projections=self.projections.to_bytes() if self.settings.projections else b"",
        )
        return snap, job, time.perf_counter() - t0, time.thread_time() - c0, engine_part

    async def _snapshot_off_loop(
        self,
        snap: Snapshot,
        job: _core.SnapshotJob,
        pause: float,
        pause_cpu: float,
        engine_part: float,
    ) -> None:
        """Snapshot without holding up routing or the lease: the loop pays only for
        :meth:`_take_job`; the engine's bytes are encoded with the GIL released on a
        worker thread, and the upload is paced by the server's acknowledgements."""
        t0 = time.perf_counter()
        self._snapshot_job = job
        try:
            # Not copied into a bytes object: tens of megabytes, and the allocator that
            # holds them reuses the same pages at the next snapshot (allocator.tune).
            engine = memoryview(await in_background(job.encode_buffer))
        except Exception as exc:  # the next interval tries again
            log.error("snapshot_encode_failed seq=%d error=%r", snap.seq, exc)
            return
        finally:
            self._snapshot_job = None
        del job
        encode = time.perf_counter() - t0
        self._release_due = True  # the job's copies and buffers: returned once idle
        projections_part = pause - engine_part
        self.metrics.snapshot_pause.observe(pause)
        # pause_ms is wall time, pause_cpu_ms this thread's CPU time in it: on a busy
        # machine the difference is time the loop was ready but not running. Its two
        # parts follow the encoding's time: the engine's job and the projections' bytes.
        log.info(
            "snapshot_taken seq=%d bytes=%d pause_ms=%.1f pause_cpu_ms=%.1f encode_ms=%.1f"
            " engine_ms=%.1f projections_ms=%.1f",
            snap.seq,
            len(engine) + len(snap.projections),
            pause * 1000,
            pause_cpu * 1000,
            encode * 1000,
            engine_part * 1000,
            projections_part * 1000,
        )
        await self._save(snap, engine)
        del snap, engine  # the last references: the engine's buffer is freed here

    def _release_when_idle(self, now: float) -> None:
        """Give memory both allocators hold unused back to the system, once the writer has
        had nothing to do for :data:`RELEASE_IDLE_S` and no snapshot is in flight.

        Not while busy: on a virtual machine every page returned costs a page fault of
        8-16 us when it is used again, and a snapshot's copies and buffers (tens of
        megabytes every 20 s at 5,000 inputs/s) are used again at the next one; returned
        after each snapshot, its copies alone held the loop 15 ms. Busy, the allocators
        reuse what they hold (``allocator.tune``); idle, the process shrinks as before.
        """
        if not self._release_due or now - self._idle_since < RELEASE_IDLE_S:
            return
        if self._snapshot_task is not None and not self._snapshot_task.done():
            return
        self._release_due = False
        # On this thread: the engine's allocator returns its heap's pages here.
        allocator.release()
        self.metrics.memory_releases.inc()

    def _take_snapshot(self) -> Snapshot:
        """A snapshot encoded here and now (the last one, on a graceful stop)."""
        self._fold_projections()
        self._last_snapshot_at = time.monotonic()
        return Snapshot(
            domain=self.names.domain,
            seq=self.applied_seq,
            created_ms=int(time.time() * 1000),
            config_sha256=self.config_sha,
            engine=self.engine.snapshot(),
            projections=self.projections.to_bytes() if self.settings.projections else b"",
        )

    async def _save(self, snap: Snapshot, engine: memoryview | None = None) -> None:
        try:
            await self.snapshots.save(snap, self._may_store_snapshot, engine)
        except SnapshotAbandoned:
            # Stalled or cut off past the lease: a newer writer may have stored a later
            # snapshot, which this older one must not replace.
            log.warning("snapshot_abandoned seq=%d (the lease is not proven held)", snap.seq)
            return
        except Exception as exc:
            log.error("snapshot_save_failed seq=%d error=%r", snap.seq, exc)
            return
        self.snapshot_seq = max(self.snapshot_seq, snap.seq)
        self.metrics.snapshot_seq.set(self.snapshot_seq)
        self.metrics.snapshot_time = snap.created_ms / 1000

    def _may_store_snapshot(self) -> bool:
        """Asked before every chunk of an upload (on the upload's worker thread)."""
        return not self._abandoned and (self._lease is None or self._lease.held)

    def _hurry_snapshots(self) -> None:
        """No more rests: the encoding in flight, its upload and any later upload go
        at full speed (the rests leave the cores to routing, which has stopped)."""
        self.snapshots.hurry()
        if self._snapshot_job is not None:
            self._snapshot_job.hurry()

    def abandon(self) -> None:
        """This process is no longer the writer: a snapshot still being encoded or
        uploaded ends soon and is not stored."""
        self._abandoned = True
        self._hurry_snapshots()

    async def finish(self) -> None:
        """Graceful end: wait for an upload in flight, flush projections, final snapshot."""
        # The one in flight and the last one go at full speed.
        self._hurry_snapshots()
        if self._snapshot_task is not None:
            with contextlib.suppress(Exception):
                await self._snapshot_task
        await self._settle_flush()
        self._fold_projections()
        if self.settings.projections:
            with contextlib.suppress(Exception):
                await self.flush_projections()
        if self.applied_seq > self.snapshot_seq:
            await self._save(self._take_snapshot())
        if self.consumer is not None:
            await self.consumer.stop()

    async def rebuild(self) -> int:
        """Fold the whole input log into fresh projections and rewrite the KV entries.

        Nothing is published and nothing acknowledged: an ephemeral consumer reads the
        log from its first message through a fresh engine. Old projection keys are purged
        first, so entries of agents or queues no longer configured disappear. Returns the
        last input sequence folded.
        """
        stream = self.names.input_stream
        info = await self.js.stream_info(stream)
        last = int(info.state.last_seq)
        first = int(info.state.first_seq)
        if first > 1 and info.state.messages:
            raise LogTrimmedError(
                f"the input log starts at sequence {first}: the inputs before it are gone "
                "(service.input_max_age_seconds), and projections folded from part of the "
                "log would be wrong; the running service's projections (from its snapshots) "
                "are unaffected"
            )
        self.horizon = (1 << 62, 0)  # everything counts as published already
        ci = await self.js.add_consumer(
            stream,
            ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=30.0,
                mem_storage=True,
            ),
        )
        assert ci.name is not None
        consumer = PullConsumer(self.nc, stream, ci.name, batch=self.settings.pull_batch)
        await consumer.start()
        try:
            idle = 0
            while self.applied_seq < last and idle < 10:
                batch = await consumer.next_batch(self.settings.batch, 1.0)
                if not batch:
                    idle += 1  # messages deleted at the end of the log: stop after a while
                    continue
                idle = 0
                self._process(batch)
                self._fold_projections()
                self.dead._pending.clear()  # dead letters were published when they came
        finally:
            await consumer.stop()
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(stream, ci.name)
        kv_stream = f"KV_{self.names.kv_bucket}"
        for prefix in ("agent", "queue", "tenant"):
            await self.js.purge_stream(kv_stream, subject=f"$KV.{self.names.kv_bucket}.{prefix}.>")
        entries = self.projections.all_entries()
        kv_prefix = f"$KV.{self.names.kv_bucket}."
        for key, value in entries:
            self.kv_writer.add(kv_prefix + key, value)
        await self.kv_writer.commit()
        self.rebuilt_entries = len(entries)
        log.info("projections_rebuilt inputs=%d entries=%d", self.applied_seq, len(entries))
        return self.applied_seq

    def status(self) -> dict[str, Any]:
        return {
            "applied_seq": self.confirmed_seq,
            "engine_seq": self.applied_seq,
            "snapshot_seq": self.snapshot_seq,
            "horizon": list(self.horizon),
            "ready": self.ready,
            "log_trimmed": self.log_trimmed,
            "recovery_seconds": self.recovery_seconds,
            "engine": self.engine.stats(),
        }
