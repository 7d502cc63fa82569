"""The recorder: contact records and agent activity folded from the service's log.

It reads the domain's input stream and decision stream (and the dead-letter stream, to
skip what the service skipped), pairs each input with the decisions it caused -- a
decision's ``Nats-Msg-Id`` is ``<domain>:<input seq>:<n>`` -- and feeds them, in log order,
to the same :class:`~ccroute.records.ContactRecorder` the simulator feeds. What changed is
committed to DuckDB with the position it covers (:class:`~ccroute.record_store.RecordStore`)
every ``flush_seconds``; after any crash it continues from the stored position.

When is an input's set of decisions complete? The writer publishes decisions in input
order, so an input is complete once a decision of a *later* input has been read. The last
inputs of a quiet log have no later decision: for them the recorder reads the writer's
acknowledgement floor (the writer acknowledges an input only after its decisions are
stored) and then reads the decision stream up to its end.

Nothing it cannot fold stops it: an input that does not decode, a decision of an input
already folded (out of order) or of no input, a decision about a contact it has no record
of -- each is counted (:attr:`LogRecorder.skipped`), logged once per kind with its stream
sequence, and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ccroute.config import Config
from ccroute.events import (
    ContactArrived,
    ContactCompleted,
    ContactUpdated,
    Decision,
    Input,
    OfferRejected,
    SurveyAnswered,
    decode_input,
)
from ccroute.record_store import Position, RecordStore, StoreBusy
from ccroute.records import ContactRecorder
from ccroute.service.subjects import Names
from ccroute.service.transport import PullConsumer, parse_ack_reply, stream_seq_of

__all__ = ["LogRecorder", "RecorderSettings"]

log = logging.getLogger("ccroute.service.recorder")

# The decision codec itself (what events.decode_decision calls): one call less per decision.
_decode_decision = msgspec.json.Decoder(Decision).decode
_CONTACT_INPUTS = frozenset({ContactUpdated, OfferRejected, ContactCompleted, SurveyAnswered})


@dataclass(frozen=True)
class RecorderSettings:
    """How often the recorder commits and how much it reads at once."""

    flush_seconds: float = 1.0
    """Commit what changed at least this often while at the head of the log (readers
    see the database this fresh)."""
    flush_seconds_behind: float = 10.0
    """... and this often while catching up (a backlog, a restart): each commit rewrites
    the contacts changed since the last, so fewer commits fold a backlog faster."""
    flush_inputs: int = 200_000
    """... and after this many inputs, whatever the time."""
    pull_batch: int = 5000
    max_buffered_decisions: int = 200_000
    """Stop reading decisions ahead of the inputs past this many."""
    own_process: bool = False
    """The recorder is its process's only job (``ccroute record``): once the stored rows
    are loaded, they are kept out of the cyclic collector's passes and the passes run
    less often (every contact stays in memory, so the default thresholds would scan a
    growing heap again and again: a sixth of the recorder's CPU time, measured)."""


# ``Nats-Msg-Id: <domain>:<input seq>:<n>`` (a decision) or ``<domain>:dlq:<input seq>``.
_INPUT_SEQ = re.compile(rb"Nats-Msg-Id:\s*[^:\r\n]*:(?:dlq:)?(\d+)")


def _input_seq(headers: bytes) -> int | None:
    """The input sequence a decision's or dead letter's ``Nats-Msg-Id`` names."""
    m = _INPUT_SEQ.search(headers)
    return int(m.group(1)) if m else None


@dataclass(frozen=True, slots=True)
class _Probe:
    basis: int
    """The highest input sequence with a decision read when the probe was sent."""
    dlq_last: int
    floor: int
    dec_last: int | None
    """The decision stream's last sequence when the floor was read (None: not asked)."""


class LogRecorder:
    """Follows one routing domain's log into a :class:`RecordStore`."""

    def __init__(
        self,
        nc: NATS,
        names: Names,
        config: Config,
        store: RecordStore,
        settings: RecorderSettings | None = None,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.names = names
        self.config = config
        self.store = store
        self.settings = settings or RecorderSettings()
        self.recorder: ContactRecorder = ContactRecorder(config)
        self.position = Position()
        """What the stored rows cover."""
        self.folded = Position()
        """What has been folded into :attr:`recorder` (stored or not yet)."""
        self.inputs_folded = 0
        self.decisions_folded = 0
        self.skipped: Counter[str] = Counter()
        """Inputs and decisions skipped, by why."""
        self._logged: set[str] = set()
        self._subjects: dict[tuple[type, str | None, str | None], tuple[bytes, bytes]] = {}
        """The subjects each (input type, tenant, agent) may come on, as the service checks."""
        self._touched: set[tuple[str, str]] = set()
        self._agents: set[str] = set()
        self._inputs: deque[tuple[int, bytes, bytes]] = deque()
        self._decisions: dict[int, list[tuple[int, bytes]]] = {}
        self._n_decisions = 0
        self._dead: dict[int, int] = {}
        """Input seq -> dead-letter stream seq of the inputs the service dead-lettered."""
        # The last sequence read of each stream (plain ints: updated per message).
        self._in_read = self._dec_read = self._dlq_read = 0
        self._max_decided = 0
        self._safe_upto = 0
        self._in_pending = 0
        """Inputs stored after the last one read (from its delivery): 0 at the head."""
        self._probe_task: asyncio.Future[_Probe] | None = None
        self._probe_result: _Probe | None = None
        self._consumers: list[PullConsumer] = []
        self._unstored = 0
        self._inflight: tuple[asyncio.Future[Position], set[tuple[str, str]], set[str]] | None = (
            None
        )

    # ------------------------------------------------------------------ lifecycle

    async def _consumer(self, stream: str, after: int, *, headers: bool = True) -> PullConsumer:
        cfg = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
            inactive_threshold=60.0,
            mem_storage=True,
        )
        info = await self.js.add_consumer(stream, cfg)
        assert info.name is not None
        c = PullConsumer(
            self.nc, stream, info.name, batch=self.settings.pull_batch, headers=headers
        )
        await c.start()
        return c

    async def _open_consumers(self) -> None:
        for c in self._consumers:
            await c.stop()
        n = self.names
        self._consumers = [
            # Inputs by subject (checked as the service checks it); the rest by header.
            await self._consumer(n.input_stream, self._in_read, headers=False),
            await self._consumer(n.decision_stream, self._dec_read),
            await self._consumer(n.deadletter_stream, self._dlq_read),
        ]

    async def start(self) -> None:
        """Load the stored rows and position; start reading after it."""
        loop = asyncio.get_running_loop()
        self.recorder, self.position = await loop.run_in_executor(None, self.store.load)
        self.folded = p = self.position
        if self.settings.own_process:
            gc.collect()
            gc.freeze()
            gc.set_threshold(100_000, 50, 100)
        self._in_read, self._dec_read, self._dlq_read = (
            p.input_seq,
            p.decision_seq,
            p.deadletter_seq,
        )
        log.info(
            "recorder_resumed path=%s input_seq=%d decision_seq=%d contacts=%d",
            self.store.path,
            self.position.input_seq,
            self.position.decision_seq,
            len(self.recorder.records()),
        )
        await self._open_consumers()

    async def stop(self) -> None:
        """Commit what is folded (waiting a while for a reader to let go), stop reading."""
        for _ in range(50):
            await self.commit()
            if self.position == self.folded:
                break
            await asyncio.sleep(0.1)
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(BaseException):
                await self._probe_task
            self._probe_task = None
        for c in self._consumers:
            await c.stop()
        self._consumers = []

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until ``stop`` is set; commits on the way and at the end.

        Starts the recorder unless :meth:`start` was called already."""
        if not self._consumers:
            await self.start()
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                got = await self._read_some()
                await self._fold_ready()
                now = time.monotonic()
                behind = self._in_pending > 0 or len(self._inputs) > self.settings.pull_batch
                every = (
                    self.settings.flush_seconds_behind if behind else self.settings.flush_seconds
                )
                due = now - last_commit >= every
                if self._unstored and (due or self._unstored >= self.settings.flush_inputs):
                    try:
                        await self.commit(wait=False)
                    except StoreBusy as exc:
                        self._log_once("store_busy", f"recorder_store_busy error={exc}")
                    last_commit = now
                if self._inflight is not None and self._inflight[0].done():
                    await self._settle()
                if not got:
                    # Inputs waiting for a probe's answer: look again soon.
                    pause = 0.002 if self._inputs else 0.02
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
        finally:
            await self.stop()

    # ------------------------------------------------------------------ reading

    async def _read_some(self) -> int:
        """Take what has arrived on the three streams; the number of messages."""
        inputs, decisions, dead = self._consumers
        n = 0
        for headers, reply, _ in await dead.next_batch(10_000, 0):
            seq = stream_seq_of(reply)
            if seq <= self._dlq_read:
                continue
            self._dlq_read = seq
            n += 1
            in_seq = _input_seq(headers)
            if in_seq is not None and in_seq > self.folded.input_seq:
                self._dead[in_seq] = seq
        if self._n_decisions < self.settings.max_buffered_decisions:
            # About two decisions per input: the loop keeps its names local.
            decisions_of, folded_in = self._decisions, self.folded.input_seq
            dec_read, max_decided, buffered = self._dec_read, self._max_decided, 0
            for headers, reply, data in await decisions.next_batch(self.settings.pull_batch, 0):
                seq = stream_seq_of(reply)
                if seq <= dec_read:
                    continue
                dec_read = seq
                n += 1
                in_seq = _input_seq(headers)
                if in_seq is None:
                    self._skip("decision_without_input", seq, "no input sequence in its id")
                    continue
                if in_seq <= folded_in:
                    self._skip("decision_out_of_order", seq, f"input {in_seq} already folded")
                    continue
                held = decisions_of.get(in_seq)
                if held is None:
                    decisions_of[in_seq] = [(seq, data)]
                else:
                    held.append((seq, data))
                buffered += 1
                if in_seq > max_decided:
                    max_decided = in_seq
            self._dec_read, self._max_decided = dec_read, max_decided
            self._n_decisions += buffered
        if len(self._inputs) < 4 * self.settings.pull_batch:
            batch = await inputs.next_batch(self.settings.pull_batch, 0)
            for subject, reply, data in batch:
                seq = stream_seq_of(reply)
                if seq <= self._in_read:
                    continue
                self._in_read = seq
                n += 1
                self._inputs.append((seq, subject, data))
            if batch:
                self._in_pending = parse_ack_reply(batch[-1][1]).pending
        return n

    async def _probe(self, basis: int, need_floor: bool) -> _Probe:
        """What the server has stored now: the dead-letter stream's last sequence and, if
        asked, the writer's acknowledgement floor with the decision stream's last sequence
        (read after it)."""
        js, n = self.js, self.names
        try:
            dlq_last = int((await js.stream_info(n.deadletter_stream)).state.last_seq)
        except NotFoundError:
            dlq_last = 0  # no dead-letter stream: nothing was dead-lettered
        floor = 0
        dec_last: int | None = None
        if need_floor:
            with contextlib.suppress(NotFoundError):
                ci = await js.consumer_info(n.input_stream, n.input_consumer)
                floor = int(ci.ack_floor.stream_seq)
                dec_last = int((await js.stream_info(n.decision_stream)).state.last_seq)
        return _Probe(basis, dlq_last, floor, dec_last)

    def _complete_upto(self) -> int:
        """Every input up to the returned sequence has all its decisions read, and is known
        to be dead-lettered or not.

        An input is complete once a decision of a later input has been read (the writer
        publishes in input order), or once the writer has acknowledged it and the
        decision stream has been read to where it was then. The writer stores a batch's
        dead letters before its decisions, so the dead-letter stream read to its end
        after those decisions were read settles which of them were dead-lettered. The
        server is asked in the background, one probe at a time: folding never waits on
        a round trip, it runs one probe behind.
        """
        task = self._probe_task
        if task is not None and task.done():
            self._probe_task = None
            try:
                self._probe_result = task.result()
            except Exception as exc:
                self._log_once("probe_failed", f"recorder_probe_failed error={exc!r}")
        probe = self._probe_result
        if probe is not None and self._dlq_read >= probe.dlq_last:
            upto = probe.basis - 1
            if probe.dec_last is not None and self._dec_read >= probe.dec_last:
                upto = max(upto, probe.floor)
            self._safe_upto = max(self._safe_upto, upto)
            self._probe_result = None
        if self._probe_task is None and self._probe_result is None and self._inputs:
            need_floor = self._inputs[-1][0] >= self._max_decided
            self._probe_task = asyncio.ensure_future(self._probe(self._max_decided, need_floor))
        return self._safe_upto

    # ------------------------------------------------------------------ folding

    async def _fold_ready(self) -> None:
        inputs = self._inputs
        if not inputs:
            return
        upto = self._complete_upto()
        if inputs[0][0] > upto:
            return
        # Every input the service routes passes here: names are bound to locals once per
        # batch, counters are added up once per batch.
        folded_in = self.folded.input_seq
        folded_dec = self.folded.decision_seq
        folded_dlq = self.folded.deadletter_seq
        decisions_of, dead_letters, fold = self._decisions, self._dead, self._fold_one
        n_inputs = n_decisions = 0
        while inputs and inputs[0][0] <= upto:
            seq, subject, data = inputs.popleft()
            raw = decisions_of.pop(seq, None)
            if raw is None:
                raw = []
            else:
                n_decisions += len(raw)
                if raw[-1][0] > folded_dec:
                    folded_dec = raw[-1][0]
            folded_in = seq
            n_inputs += 1
            if dead_letters:
                dead = dead_letters.pop(seq, None)
                if dead is not None:
                    folded_dlq = max(folded_dlq, dead)
                    continue  # the service skipped it: so does the record
            fold(seq, subject, data, raw)
        self._n_decisions -= n_decisions
        self._unstored += n_inputs
        self.folded = Position(folded_in, folded_dec, folded_dlq)

    def _fold_one(
        self, seq: int, subject: bytes, data: bytes, raw: list[tuple[int, bytes]]
    ) -> None:
        rec = self.recorder
        try:
            inp = decode_input(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            # RecursionError: nesting deeper than the decoder goes, before the type tag.
            self._skip("input_undecodable", seq, str(exc))
            return
        # As the service checks it: the tenant's subject, or the acting agent's own.
        kind = type(inp)
        agent = getattr(inp, "agent", None)
        key = (kind, getattr(inp, "tenant", None), agent)
        expected = self._subjects.get(key)
        if expected is None:
            if len(self._subjects) > 100_000:
                self._subjects.clear()
            tag = _type_of(inp)
            expected = self._subjects[key] = (
                self.names.input_subject(tag, key[1]).encode(),
                self.names.agent_input_subject(tag, agent).encode()
                if isinstance(agent, str)
                else b"",
            )
        if subject not in expected:
            self._skip("input_subject_mismatch", seq, subject.decode(errors="replace"))
            return
        try:
            decisions: list[Decision] = [_decode_decision(payload) for _, payload in raw]
        except (msgspec.DecodeError, msgspec.ValidationError):
            decisions = self._decode_each(raw)
        if kind is ContactArrived and not decisions:
            # Every arrival the engine applies leads to a decision: this one was not applied.
            self._skip("input_without_decisions", seq, "an arrival with no decision")
            return
        if kind in _CONTACT_INPUTS:
            about: Any = inp  # a contact input: it has tenant and contact
            if rec.get(about.tenant, about.contact) is None:
                what = f"{_type_of(inp)} of {about.tenant}/{about.contact}"
                self._skip("unknown_contact", seq, what)
        try:
            rec.observe(inp, decisions)
        except Exception as exc:  # one bad event must not stop the records
            self._skip("unfoldable", seq, repr(exc))
            return
        for dec in rec.last_unknown:
            fact: Any = dec  # a contact decision (the fold names only those)
            self._skip("unknown_contact", seq, f"{_type_of(dec)} of {fact.tenant}/{fact.contact}")
        self._touched.update(rec.last_touched)
        if rec.last_agents:
            self._agents.update(rec.last_agents)
        self.inputs_folded += 1
        self.decisions_folded += len(decisions)

    def _decode_each(self, raw: list[tuple[int, bytes]]) -> list[Decision]:
        """The decisions that decode; each one that does not is skipped and counted."""
        decisions: list[Decision] = []
        for dseq, payload in raw:
            try:
                decisions.append(_decode_decision(payload))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._skip("decision_undecodable", dseq, str(exc))
        return decisions

    def _skip(self, why: str, seq: int, detail: str) -> None:
        self.skipped[why] += 1
        self._log_once(why, f"recorder_skipped reason={why} seq={seq} detail={detail!r}")

    def _log_once(self, kind: str, line: str) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("%s (further ones counted, not logged)", line)

    # ------------------------------------------------------------------ storing

    async def _settle(self) -> bool:
        """Wait for the write in flight; False (its rows folded back in) if it failed."""
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return True
        task, touched, agents = inflight
        try:
            await task
        except StoreBusy as exc:
            self._log_once("store_busy", f"recorder_store_busy error={exc}")
        except Exception as exc:
            log.error("recorder_commit_failed error=%r (retried at the next flush)", exc)
        else:
            self.position = task.result()
            return True
        # Not stored: the next commit writes these rows again, with a later position.
        self._touched |= touched
        self._agents |= agents
        self._unstored += 1
        return False

    async def commit(self, *, wait: bool = True) -> None:
        """Store what has been folded since the last commit, with its position.

        The rows are taken from the recorder here, between two folds; the database work
        runs in a thread while folding goes on (``wait=False``), and the position moves
        only once that transaction has committed.
        """
        await self._settle()
        if self.folded != self.position or self._touched or self._agents:
            touched, agents, folded = self._touched, self._agents, self.folded
            batch = self.store.prepare(self.recorder, touched, agents, folded)
            self._touched, self._agents = set(), set()
            self._unstored = 0
            loop = asyncio.get_running_loop()

            def write() -> Position:
                self.store.write(batch)
                return batch.position

            task = loop.run_in_executor(None, write)
            self._inflight = (asyncio.ensure_future(task), touched, agents)
        if wait:
            await self._settle()

    def status(self) -> dict[str, Any]:
        """Counters for logs and the benchmark."""
        return {
            "position": [
                self.position.input_seq,
                self.position.decision_seq,
                self.position.deadletter_seq,
            ],
            "inputs_folded": self.inputs_folded,
            "decisions_folded": self.decisions_folded,
            "skipped": dict(self.skipped),
            "commits": self.store.commits,
            "commit_seconds": round(self.store.commit_seconds, 3),
        }


def _type_of(event: Input | Decision) -> str:
    return str(type(event).__struct_config__.tag)
