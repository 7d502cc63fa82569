"""The discrete-event simulator: customers and agents acting on the real engine.

Everything the simulated people do is an input event of :mod:`ccroute.events`, applied to
an :class:`~ccroute.engine.Engine` exactly as the streaming service applies what comes off
the bus; everything the engine decides feeds back: an ``offer_made`` makes the agent
answer (or decline, or let it ring out) a few seconds later, a ``contact_assigned`` starts
the talk, a ``wrap_up_started`` the after-call work, and so on. A waiting customer may
ask to be called back (``callback_requested``); an agent who accepts a callback dials
and reports ``callback_result`` before the talk starts, and a failed dial is retried by
the engine's timer.

**Time.** A heap holds what will happen, ordered by (time, tie-break). Tie-breaks are
derived from *what* is scheduled, never from when it was pushed, so the order of events
does not depend on how they were batched.

**Batches.** Each engine call takes a batch of events inside a window of
:data:`WINDOW_MS`. That is exact, not an approximation, because of two rules:

1. every reaction is at least :data:`WINDOW_MS` after what caused it (answer delays,
   handle times, patience ... are clamped), so nothing a batch leads to can belong to the
   same batch;
2. an event that names a contact or an agent already named earlier in the batch starts a
   new batch, because the earlier event's decisions may withdraw it (an abandon revokes
   the offer the accept answers; a call interrupts the e-mail whose completion was due).

So a run with batches logs the same events, byte for byte, as one event per call
(``tests/test_simulation.py`` checks it).

**Randomness.** ``random.Random`` streams only, each seeded from the scenario seed and
what it is for: one per traffic stream (the customers), one per traffic stream for who
asks for a callback (drawn in arrival order), one per agent (absence, lateness, speed)
and one for the reactions to the engine's decisions, drawn in decision order.
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import msgspec

from ccroute.config import Config
from ccroute.engine import Engine
from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    AgentStateSet,
    CallbackAttempted,
    CallbackRequested,
    CallbackResult,
    CallbackScheduled,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactMoved,
    ContactQueued,
    Decision,
    Input,
    InputRejected,
    OfferAccepted,
    OfferMade,
    OfferRejected,
    OfferRevoked,
    SkillRequirement,
    SurveyAnswered,
    WorkInterrupted,
    WorkResumed,
    WrapUpFinished,
    WrapUpStarted,
)
from ccroute.simulation.distributions import Sampler, index_choice, sampler
from ccroute.simulation.progress import Progress
from ccroute.simulation.scenario import LoadedScenario
from ccroute.simulation.staff import (
    LOGIN,
    PAUSE,
    RESUME,
    SHIFT_END,
    StaffMember,
    plan_staff,
    simulated_config,
)
from ccroute.simulation.timeline import Period, make_period
from ccroute.simulation.traffic import Contact, Stream, build_streams

WINDOW_MS = 2000
"""Batch window, and the shortest delay between a cause and its effect, unless the
scenario is ``exact`` (or ``model = "textbook"``): then 1 ms, the engine's resolution."""

Observer = Callable[[Input, Sequence[Decision]], None]
"""Receives every input with the decisions it led to (``ContactRecorder.observe``)."""

# What a heap entry is: [ts, tie-break, kind, obj, arg, alive, keys]; ``keys`` are the
# contacts and agents the event names (see the module doc, rule 2).
TS, SUB, KIND, OBJ, ARG, ALIVE, KEYS = 0, 1, 2, 3, 4, 5, 6
_NO_KEYS: tuple[object, ...] = ()
Entry = list[Any]

# Kinds of scheduled happenings.
(
    K_ARRIVAL,
    K_CALLBACK,
    K_ABANDON,
    K_ACCEPT,
    K_REJECT,
    K_COMPLETE,
    K_WRAP_DONE,
    K_SURVEY,
    K_TICK,
    K_HEARTBEAT,
    K_LOGIN,
    K_PAUSE,
    K_RESUME,
    K_SHIFT_END,
    K_LOGOUT,
    K_RECOVER,
    K_ASK_CALLBACK,
    K_DIAL,
) = range(18)
_PLANNED_KIND = {LOGIN: K_LOGIN, PAUSE: K_PAUSE, RESUME: K_RESUME, SHIFT_END: K_SHIFT_END}

# Tie-break classes: who scheduled it. Ticks that stand for engine timers go first at
# equal times, as the engine fires due timers before it applies an input.
_FIRST = 0
_NORMAL = 1 << 60
_CLS_STREAM, _CLS_REACTION, _CLS_PLAN, _CLS_HEARTBEAT = (c << 56 for c in range(4))
_REJECT_REASONS = ("not_my_topic", "technical_issue", "needs_specialist")
END_OF_SHIFT = "end_of_shift"
"""Pause reason of an agent finishing their last contacts before logging out."""


class SimAgent:
    """An agent as the simulation follows them: presence, work in hand, behaviour."""

    __slots__ = (
        "id",
        "leaving",
        "miss_p",
        "presence",
        "reason",
        "recovery",
        "reject_p",
        "speed",
        "work",
    )

    def __init__(self, member: StaffMember) -> None:
        g = member.group
        self.id = member.profile.id
        self.speed = member.speed
        self.miss_p = g.miss_percent / 100.0
        self.reject_p = self.miss_p + g.reject_percent / 100.0
        self.recovery: Sampler = sampler(g.recovery)
        self.presence = "offline"
        self.reason: str | None = None
        self.work = 0
        """Contacts accepted and not yet closed (talk, interrupted or wrap-up)."""
        self.leaving = False
        """The shift has ended; log out once the work in hand is done."""


@dataclass(slots=True)
class SimulationResult:
    """What a run did: counts, the configuration it ran and how long it took."""

    config: Config
    period: Period
    streams: list[Stream]
    seed: int
    inputs: int = 0
    decisions: int = 0
    batches: int = 0
    arrived: int = 0
    callbacks: int = 0
    """Callback requests left by customers who gave up (arrivals on channel callback)."""
    callbacks_requested: int = 0
    """Contacts that became callbacks while waiting (asked for, or a policy's action)."""
    callback_dials: int = 0
    callbacks_reached: int = 0
    callbacks_unreached: int = 0
    closed_by_policy: int = 0
    """Contacts the queue's service hours or limits turned away."""
    moved: int = 0
    """Contacts a policy moved to another queue (a ticket, an emergency reroute)."""
    answered: int = 0
    completed: int = 0
    abandoned: int = 0
    surveys: int = 0
    open_at_end: int = 0
    rejected: int = 0
    rejections: list[InputRejected] = field(default_factory=list)
    """The first rejected inputs (a healthy run has none)."""
    wall_seconds: float = 0.0

    @property
    def contacts_per_second(self) -> float:
        return self.arrived / self.wall_seconds if self.wall_seconds > 0 else 0.0


class BatchEngine(Protocol):
    """What the simulator needs of an engine: the in-process :class:`Engine`, or the
    service over NATS (:mod:`ccroute.simulation.live`)."""

    def apply_batch_grouped(self, events: Sequence[Input]) -> list[list[Decision]]: ...


class Simulator:
    """One run of a scenario through an engine.

    ``config`` replaces the configuration made from the scenario (the silo comparison
    runs the same scenario with differently skilled agents); ``batch=False`` applies one
    event per engine call (same log, slower: a check of the batching).
    """

    def __init__(
        self,
        ld: LoadedScenario,
        *,
        days: int | None = None,
        seed: int | None = None,
        config: Config | None = None,
        observe: Observer | None = None,
        log: IO[bytes] | None = None,
        progress: Progress | None = None,
        batch: bool = True,
        engine: BatchEngine | None = None,
    ) -> None:
        info = ld.info
        self.ld = ld
        self.seed = info.seed if seed is None else seed
        self.config = config or simulated_config(ld)
        self.period = make_period(info.start, days or info.days, ld.zone)
        self.streams = build_streams(ld, self.period, seed=self.seed)
        self.staff = plan_staff(ld, self.config, self.period, seed=self.seed)
        self.engine: BatchEngine = engine if engine is not None else Engine(self.config)
        self.observe = observe
        self.log = log
        self.progress = progress
        self.max_batch = 1 << 30 if batch else 1
        self.window_ms = 1 if info.exact else WINDOW_MS
        """The batch window and the shortest delay from a cause to its effect."""
        self.rng = random.Random(f"{self.seed}:reactions")
        self.result = SimulationResult(self.config, self.period, self.streams, self.seed)

        routing = self.config.routing
        self.cooldown_ms = routing.decline_cooldown_seconds * 1000
        self.heartbeat_ms = info.tick_seconds * 1000
        self.agents = {m.profile.id: SimAgent(m) for m in self.staff}
        self.contacts: dict[tuple[str, str], Contact] = {}
        self.heap: list[Entry] = []
        self._seq = 0  # reactions, in decision order
        self._now = 0
        """Time of the input whose decisions are being handled: no reaction is earlier."""
        self._stream_seq = [0] * (len(self.streams) + 1)
        self._next_id = itertools.count(1).__next__
        self._queue_counts: dict[str, int] = {}
        self._skills = {
            st.index: [SkillRequirement(k, v) for k, v in st.traffic.skills.items()]
            for st in self.streams
        }
        self._survey_pickers: dict[int, tuple[Any, ...]] = {}
        self._ask_rngs: dict[int, random.Random] = {}
        self._callback_queues = {q.id for q in self.config.queues if "callback" in q.channels}
        self._handlers: dict[type, Callable[[Any], None]] = {
            OfferMade: self._on_offer,
            ContactQueued: self._on_queued,
            OfferRevoked: self._on_revoked,
            ContactAssigned: self._on_assigned,
            WorkInterrupted: self._on_interrupted,
            WorkResumed: self._on_resumed,
            WrapUpStarted: self._on_wrap_started,
            ContactClosed: self._on_closed,
            AgentStateSet: self._on_agent_state,
            InputRejected: self._on_rejected,
            CallbackScheduled: self._on_callback_scheduled,
            CallbackAttempted: self._on_dialled,
            ContactMoved: self._on_moved,
        }

    # ------------------------------------------------------------------ scheduling

    def _push(
        self,
        ts: int,
        sub: int,
        kind: int,
        obj: Any = None,
        arg: Any = None,
        keys: tuple[object, ...] = _NO_KEYS,
    ) -> Entry:
        entry: Entry = [ts, sub, kind, obj, arg, True, keys]
        heapq.heappush(self.heap, entry)
        return entry

    def _react(
        self,
        ts: int,
        kind: int,
        obj: Any = None,
        arg: Any = None,
        keys: tuple[object, ...] = _NO_KEYS,
        *,
        first: bool = False,
    ) -> Entry:
        """Schedule a reaction to a decision (the caller keeps it >= self.window_ms ahead)."""
        self._seq += 1
        sub = (_FIRST if first else _NORMAL) | _CLS_REACTION | self._seq
        return self._push(ts, sub, kind, obj, arg, keys)

    def _stream_push(
        self, i: int, ts: int, kind: int, obj: Any, keys: tuple[object, ...] = _NO_KEYS
    ) -> Entry:
        n = self._stream_seq[i] = self._stream_seq[i] + 1
        return self._push(ts, _NORMAL | _CLS_STREAM | (i << 36) | n, kind, obj, None, keys)

    def _seed_heap(self) -> None:
        for st in self.streams:
            it = st.customers(random.Random(f"{self.seed}:traffic:{st.index}"))
            c = next(it, None)
            if c is not None:
                self._stream_push_arrival(st.index, c, it)
        n = 0
        for m in self.staff:
            a = self.agents[m.profile.id]
            for act in m.plan:
                n += 1
                kind = _PLANNED_KIND[act.kind]
                self._push(act.ts, _NORMAL | _CLS_PLAN | n, kind, a, act.reason, (a.id,))
        if self.heartbeat_ms:
            self._push(self.period.start_ms, _NORMAL | _CLS_HEARTBEAT, K_HEARTBEAT)

    def _stream_push_arrival(self, i: int, c: Contact, it: Any) -> None:
        n = self._stream_seq[i] = self._stream_seq[i] + 1
        entry: Entry = [
            c.arrived_ms,
            _NORMAL | _CLS_STREAM | (i << 36) | n,
            K_ARRIVAL,
            c,
            it,
            True,
            _NO_KEYS,
        ]
        heapq.heappush(self.heap, entry)

    # ------------------------------------------------------------------ main loop

    def run(self) -> SimulationResult:
        """Simulate the whole period; returns the counts."""
        t_start = time.perf_counter()
        self._seed_heap()
        heap = self.heap
        pop = heapq.heappop
        end = self.period.end_ms
        apply = self.engine.apply_batch_grouped
        observe = self.observe
        handlers = self._handlers
        encode_lines = msgspec.json.Encoder().encode_lines
        log = self.log
        res = self.result
        converters = self._converters()
        progress = self.progress
        max_batch = self.max_batch
        next_report = 0
        while heap:
            t0 = heap[0][TS]
            if t0 >= end:
                break
            limit = min(t0 + self.window_ms, end)
            batch: list[Input] = []
            touched: set[object] = set()
            while heap:
                e = heap[0]
                if e[TS] >= limit:
                    break
                if not e[ALIVE]:
                    pop(heap)
                    continue
                keys = e[KEYS]
                if (keys and not touched.isdisjoint(keys)) or len(batch) >= max_batch:
                    break
                pop(heap)
                inp = converters[e[KIND]](e)
                if inp is not None:
                    batch.append(inp)
                    if keys:
                        touched.update(keys)
            if not batch:
                continue
            results = apply(batch)
            res.batches += 1
            res.inputs += len(batch)
            for inp, ds in zip(batch, results, strict=True):
                self._now = inp.ts
                if observe is not None:
                    observe(inp, ds)
                res.decisions += len(ds)
                for d in ds:
                    h = handlers.get(type(d))
                    if h is not None:
                        h(d)
            if log is not None:
                log.write(encode_lines(batch))
            if progress is not None and res.inputs >= next_report:
                next_report = res.inputs + 2000
                progress.update((t0 - self.period.start_ms) / (end - self.period.start_ms), res)
        self._finish(end, encode_lines)
        res.open_at_end = len(self.contacts)
        res.wall_seconds = time.perf_counter() - t_start
        if progress is not None:
            progress.done(res)
        return res

    def _finish(self, end: int, encode_lines: Callable[[Sequence[Input]], bytes]) -> None:
        """A last clock tick at the end, so timers due by then have fired."""
        tick = ClockTick(id=self._id(), ts=end)
        (ds,) = self.engine.apply_batch_grouped([tick])
        if self.observe is not None:
            self.observe(tick, ds)
        self.result.inputs += 1
        self.result.decisions += len(ds)
        for d in ds:
            h = self._handlers.get(type(d))
            if h is not None:
                h(d)
        if self.log is not None:
            self.log.write(encode_lines([tick]))

    def _id(self) -> str:
        return f"e{self._next_id()}"

    # ------------------------------------------------------------------ events -> inputs

    # One converter per kind (a list indexed by kind: no chain of ifs per event). Each
    # returns the input event for a scheduled happening, or None if it no longer applies.

    def _converters(self) -> list[Callable[[Entry], Input | None]]:
        agent = self._agent_event
        table: dict[int, Callable[[Entry], Input | None]] = {
            K_ARRIVAL: self._arrive,
            K_CALLBACK: self._arrive,
            K_ABANDON: self._abandon,
            K_ACCEPT: self._accept,
            K_REJECT: self._reject,
            K_COMPLETE: self._complete,
            K_WRAP_DONE: self._wrap_done,
            K_SURVEY: self._survey,
            K_TICK: self._tick,
            K_HEARTBEAT: self._heartbeat,
            K_LOGIN: agent,
            K_PAUSE: agent,
            K_RESUME: agent,
            K_SHIFT_END: agent,
            K_LOGOUT: agent,
            K_RECOVER: agent,
            K_ASK_CALLBACK: self._ask_callback,
            K_DIAL: self._dial,
        }
        return [table[k] for k in range(len(table))]

    def _tick(self, e: Entry) -> Input:
        return ClockTick(id=self._id(), ts=e[TS])

    def _heartbeat(self, e: Entry) -> Input:
        ts: int = e[TS]
        if ts + self.heartbeat_ms < self.period.end_ms:
            self._push(ts + self.heartbeat_ms, _NORMAL | _CLS_HEARTBEAT, K_HEARTBEAT)
        return ClockTick(id=self._id(), ts=ts)

    def _accept(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        c.pending = None
        return OfferAccepted(
            id=self._id(), ts=e[TS], tenant=c.tenant, contact=c.cid, agent=e[ARG].id
        )

    def _reject(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        c.pending = None
        return OfferRejected(
            id=self._id(), ts=e[TS], tenant=c.tenant, contact=c.cid, agent=e[ARG].id, reason=c.note
        )

    def _complete(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        c.work = None
        return ContactCompleted(
            id=self._id(),
            ts=e[TS],
            tenant=c.tenant,
            contact=c.cid,
            agent=e[ARG].id,
            wrap_up_code="resolved" if c.resolved else "follow_up",
            tags=[c.topic] if c.topic else [],
            resolved=c.resolved,
        )

    def _wrap_done(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        c.work = None
        return WrapUpFinished(
            id=self._id(), ts=e[TS], tenant=c.tenant, contact=c.cid, agent=e[ARG].id
        )

    def _abandon(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        c.abandon = None
        return ContactAbandoned(id=self._id(), ts=e[TS], tenant=c.tenant, contact=c.cid)

    def _survey(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        csat, nps, ces, solved = e[ARG]
        self.result.surveys += 1
        return SurveyAnswered(
            id=self._id(),
            ts=e[TS],
            tenant=c.tenant,
            contact=c.cid,
            csat=csat,
            nps=nps,
            ces=ces,
            solved=solved,
        )

    def _ask_callback(self, e: Entry) -> Input | None:
        c: Contact = e[OBJ]
        c.asks_callback = None
        if (
            self.contacts.get(c.key) is not c
            or c.answered_ms
            or c.channel == "callback"
            or c.queue not in self._callback_queues
        ):
            return None
        if c.abandon is not None:
            # Waiting for the call now, not on the line: this customer no longer hangs up.
            c.abandon[ALIVE] = False
            c.abandon = None
        return CallbackRequested(id=self._id(), ts=e[TS], tenant=c.tenant, contact=c.cid)

    def _dial(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        c.work = None
        a, reached = e[ARG]
        return CallbackResult(
            id=self._id(),
            ts=e[TS],
            tenant=c.tenant,
            contact=c.cid,
            agent=a.id,
            outcome="reached" if reached else "no_answer",
        )

    def _agent_event(self, e: Entry) -> Input | None:
        return self._agent_input(e[KIND], e[TS], e[OBJ], e[ARG])

    def _arrive(self, e: Entry) -> Input:
        c: Contact = e[OBJ]
        st = c.stream
        ts: int = e[TS]
        if e[KIND] == K_ARRIVAL:
            it = e[ARG]
            nxt = next(it, None)
            if nxt is not None:
                self._stream_push_arrival(st.index, nxt, it)
            n = self._queue_counts.get(c.queue, 0) + 1
            self._queue_counts[c.queue] = n
            c.cid = f"{c.queue}-{n:06d}"
            self.result.arrived += 1
        else:
            self.result.callbacks += 1
        c.key = (c.tenant, c.cid)
        self.contacts[c.key] = c
        if c.patience_s is not None:
            wait_ms = max(int(c.patience_s * 1000), self.window_ms)
            i = st.index if e[KIND] == K_ARRIVAL else len(self.streams)
            c.abandon = self._stream_push(i, ts + wait_ms, K_ABANDON, c, (c.key,))
        ask_p = st.traffic.callback_request_percent
        if ask_p > 0 and e[KIND] == K_ARRIVAL:
            rng = self._ask_rngs.get(st.index)
            if rng is None:
                rng = self._ask_rngs[st.index] = random.Random(f"{self.seed}:ask:{st.index}")
            if rng.random() * 100.0 < ask_p:
                after = max(int(st.callback_after(rng) * 1000), self.window_ms)
                c.asks_callback = self._stream_push(
                    st.index, ts + after, K_ASK_CALLBACK, c, (c.key,)
                )
        t = st.traffic
        return ContactArrived(
            id=self._id(),
            ts=ts,
            tenant=c.tenant,
            contact=c.cid,
            queue=c.queue,
            channel=c.channel,  # type: ignore[arg-type]
            priority=t.priority,
            language=c.language,
            skills=self._skills.get(st.index, []) if e[KIND] == K_ARRIVAL else [],
            page=c.page,
        )

    def _agent_input(self, kind: int, ts: int, a: SimAgent, reason: str | None) -> Input | None:
        p = a.presence
        if kind == K_LOGIN:
            if p != "offline":
                return None
            a.leaving = False
            if reason is not None:
                return AgentLoggedIn(
                    id=self._id(), ts=ts, agent=a.id, state="paused", reason=reason
                )
            return AgentLoggedIn(id=self._id(), ts=ts, agent=a.id)
        if p == "offline":
            return None
        if kind == K_PAUSE:
            if a.leaving:
                return None
            return AgentStateChanged(
                id=self._id(), ts=ts, agent=a.id, state="paused", reason=reason
            )
        if kind == K_RESUME:
            if a.leaving or not (p == "not_responding" or (p == "paused" and a.reason == reason)):
                return None
            return AgentStateChanged(id=self._id(), ts=ts, agent=a.id, state="available")
        if kind in (K_SHIFT_END, K_LOGOUT):
            if a.work == 0:
                return AgentLoggedOut(id=self._id(), ts=ts, agent=a.id)
            if kind == K_LOGOUT or (a.leaving and p == "paused" and a.reason == END_OF_SHIFT):
                return None
            # Finish the contacts in hand first: no new work, then log out (see _on_closed).
            a.leaving = True
            return AgentStateChanged(
                id=self._id(), ts=ts, agent=a.id, state="paused", reason=END_OF_SHIFT
            )
        if kind == K_RECOVER:
            if p != "not_responding":
                return None
            if a.leaving:
                return self._agent_input(K_SHIFT_END, ts, a, None)
            return AgentStateChanged(id=self._id(), ts=ts, agent=a.id, state="available")
        raise AssertionError(f"unknown agent event kind {kind}")

    # ------------------------------------------------------------------ decisions -> reactions

    def _on_offer(self, d: OfferMade) -> None:
        c = self.contacts[(d.tenant, d.contact)]
        a = self.agents[d.agent]
        c.agent = a
        now = d.ts if d.ts > self._now else self._now
        r = self.rng.random()
        delay = max(int(c.stream.answer(self.rng) * 1000), self.window_ms)
        latest = d.expires_at - now - 1000
        if r < a.miss_p or latest < self.window_ms:
            # Let it ring out: the engine's offer timer decides; tick when it is due.
            c.pending = None
            due = max(d.expires_at, now + self.window_ms)
            self._react(due, K_TICK, None, None, (c.key, a.id), first=True)
            return
        delay = min(delay, latest)
        if r < a.reject_p:
            # The same draw picks the reason, so declining costs no extra number.
            c.note = _REJECT_REASONS[int((r - a.miss_p) / (a.reject_p - a.miss_p) * 3) % 3]
            c.pending = self._react(now + delay, K_REJECT, c, a, (c.key, a.id))
        else:
            c.pending = self._react(now + delay, K_ACCEPT, c, a, (c.key, a.id))

    def _on_queued(self, d: ContactQueued) -> None:
        if d.requeued and self.cooldown_ms:
            # Declined or missed and now waiting: the agent's cool-down may be all that
            # keeps it from them; tick when the engine's cool-down timer is due.
            c = self.contacts.get((d.tenant, d.contact))
            if c is not None:
                due = max(d.ts + self.cooldown_ms, self._now + self.window_ms)
                self._react(due, K_TICK, None, None, (c.key,), first=True)

    def _on_revoked(self, d: OfferRevoked) -> None:
        c = self.contacts.get((d.tenant, d.contact))
        if c is not None and c.pending is not None:
            c.pending[ALIVE] = False
            c.pending = None

    def _on_assigned(self, d: ContactAssigned) -> None:
        c = self.contacts[(d.tenant, d.contact)]
        a = self.agents[d.agent]
        c.agent = a
        for pending in (c.abandon, c.asks_callback):
            if pending is not None:
                pending[ALIVE] = False
        c.abandon = c.asks_callback = None
        a.work += 1
        if not c.answered_ms:
            # A callback dialled again was answered once: its first acceptance counts.
            c.answered_ms = d.ts
            self.result.answered += 1
        now = d.ts if d.ts > self._now else self._now
        if d.channel == "callback":
            # The agent dials first; whether the customer picks up is drawn now.
            ring = max(int(c.stream.dial(self.rng) * 1000), self.window_ms)
            reached = self.rng.random() * 100.0 < c.stream.traffic.callback_answer_percent
            c.work = self._react(now + ring, K_DIAL, c, (a, reached), (c.key, a.id))
            return
        talk = max(int(c.work_s * a.speed * 1000), self.window_ms)
        c.work = self._react(now + talk, K_COMPLETE, c, a, (c.key, a.id))

    def _on_dialled(self, d: CallbackAttempted) -> None:
        res = self.result
        res.callback_dials += 1
        c = self.contacts.get((d.tenant, d.contact))
        a = self.agents.get(d.agent)
        if c is None or a is None:
            return
        now = d.ts if d.ts > self._now else self._now
        if d.outcome == "reached":
            res.callbacks_reached += 1
            talk = max(int(c.work_s * a.speed * 1000), self.window_ms)
            c.work = self._react(now + talk, K_COMPLETE, c, a, (c.key, a.id))
            return
        # No answer: the agent is free at once; the engine retries or gives it up.
        c.agent = None
        a.work -= 1
        if a.leaving and a.work == 0:
            self._react(now + self.window_ms, K_LOGOUT, a, None, (a.id,))

    def _on_callback_scheduled(self, d: CallbackScheduled) -> None:
        c = self.contacts.get((d.tenant, d.contact))
        if c is None:
            return
        if d.attempt == 0:
            self.result.callbacks_requested += 1
        c.channel = "callback"
        for pending in (c.abandon, c.asks_callback):
            if pending is not None:
                pending[ALIVE] = False
        c.abandon = c.asks_callback = None
        now = d.ts if d.ts > self._now else self._now
        if d.not_before > now:
            # A retry: tick when the engine's callback timer is due.
            due = max(d.not_before, now + self.window_ms)
            self._react(due, K_TICK, None, None, (c.key,), first=True)

    def _on_moved(self, d: ContactMoved) -> None:
        self.result.moved += 1
        c = self.contacts.get((d.tenant, d.contact))
        if c is None:
            return
        c.queue = d.queue
        if d.channel != c.channel:
            # Made an e-mail task: the customer is not waiting on the line any more.
            c.channel = d.channel
            for pending in (c.abandon, c.asks_callback):
                if pending is not None:
                    pending[ALIVE] = False
            c.abandon = c.asks_callback = None

    def _on_interrupted(self, d: WorkInterrupted) -> None:
        c = self.contacts[(d.tenant, d.contact)]
        if c.work is not None:
            c.work[ALIVE] = False
            c.remaining_ms = max(c.work[TS] - d.ts, 0)
            c.work = None

    def _on_resumed(self, d: WorkResumed) -> None:
        c = self.contacts[(d.tenant, d.contact)]
        now = d.ts if d.ts > self._now else self._now
        a: SimAgent = c.agent  # type: ignore[assignment]
        c.work = self._react(
            now + max(c.remaining_ms, self.window_ms), K_COMPLETE, c, a, (c.key, a.id)
        )

    def _on_wrap_started(self, d: WrapUpStarted) -> None:
        c = self.contacts[(d.tenant, d.contact)]
        wrap = max(int(c.stream.wrap(self.rng) * 1000), self.window_ms)
        a: SimAgent = c.agent  # type: ignore[assignment]
        now = d.ts if d.ts > self._now else self._now
        if d.ends_by is not None and now + wrap >= d.ends_by:
            # The queue's wrap-up limit ends it; tick when the engine's timer is due.
            due = max(d.ends_by, now + self.window_ms)
            self._react(due, K_TICK, None, None, (c.key, a.id), first=True)
        else:
            c.work = self._react(now + wrap, K_WRAP_DONE, c, a, (c.key, a.id))

    def _on_closed(self, d: ContactClosed) -> None:
        c = self.contacts.pop((d.tenant, d.contact), None)
        if c is None:
            return
        now = d.ts if d.ts > self._now else self._now
        if c.asks_callback is not None:
            c.asks_callback[ALIVE] = False
            c.asks_callback = None
        if d.outcome == "closed" or d.outcome == "callback_unreached":
            # A policy turned it away, or its dials all failed (the agent was freed then).
            if d.outcome == "closed":
                self.result.closed_by_policy += 1
            else:
                self.result.callbacks_unreached += 1
            for pending in (c.abandon, c.pending):
                if pending is not None:
                    pending[ALIVE] = False
            return
        if d.outcome == "completed":
            self.result.completed += 1
            a: SimAgent = c.agent  # type: ignore[assignment]
            a.work -= 1
            if a.leaving and a.work == 0:
                self._react(now + self.window_ms, K_LOGOUT, a, None, (a.id,))
            self._maybe_survey(c, now)
        else:
            self.result.abandoned += 1
            if c.pending is not None:
                c.pending[ALIVE] = False
            self._maybe_callback(c, now)

    def _on_agent_state(self, d: AgentStateSet) -> None:
        a = self.agents.get(d.agent)
        if a is None:
            return
        a.presence = d.state
        a.reason = d.reason
        if d.state == "not_responding":
            back = max(int(a.recovery(self.rng) * 1000), self.window_ms)
            self._react(max(d.ts, self._now) + back, K_RECOVER, a, None, (a.id,))
        elif d.state == "offline":
            a.leaving = False

    def _on_rejected(self, d: InputRejected) -> None:
        self.result.rejected += 1
        if len(self.result.rejections) < 20:
            self.result.rejections.append(d)

    # ------------------------------------------------------------------ customers' follow-ups

    def _maybe_survey(self, c: Contact, ts: int) -> None:
        st = c.stream
        sv = st.behaviour.survey
        rng = self.rng
        if sv.share <= 0.0 or rng.random() >= sv.share:
            return
        pickers = self._survey_pickers.get(st.index)
        if pickers is None:
            pickers = (
                index_choice(sv.csat_weights),
                index_choice(sv.nps_weights) if sv.nps_weights else None,
                index_choice(sv.ces_weights) if sv.ces_weights else None,
            )
            self._survey_pickers[st.index] = pickers
        pick_csat, pick_nps, pick_ces = pickers
        solved_p = sv.solved_percent / 100.0
        solved = rng.random() < (solved_p if c.resolved else solved_p * 0.25)
        drop = 0 if solved else 1
        if sv.wait_penalty_seconds > 0:
            x = (c.answered_ms - c.arrived_ms) / 1000.0 / sv.wait_penalty_seconds
            drop += int(x) + (1 if rng.random() < x - int(x) else 0)
        csat = max(1, pick_csat(rng) + 1 - drop)
        nps = max(0, pick_nps(rng) - 2 * drop) if pick_nps is not None else None
        ces = min(7, pick_ces(rng) + 1 + drop) if pick_ces is not None else None
        delay = max(int(st.survey_delay(rng) * 1000), self.window_ms)
        self._react(ts + delay, K_SURVEY, c, (csat, nps, ces, solved))

    def _maybe_callback(self, c: Contact, ts: int) -> None:
        st = c.stream
        cb = st.callback
        if cb is None or self.rng.random() * 100.0 >= st.traffic.callback_percent:
            return
        req = Contact(cb, ts, c.language, c.topic, None, cb.handle(self.rng), None, c.resolved)
        req.cid = f"{c.cid}-cb"
        delay = max(int(self.rng.uniform(10.0, 60.0) * 1000), self.window_ms)
        req.arrived_ms = ts + delay
        self._react(ts + delay, K_CALLBACK, req)


def simulate(
    ld: LoadedScenario,
    *,
    days: int | None = None,
    seed: int | None = None,
    config: Config | None = None,
    observe: Observer | None = None,
    log: IO[bytes] | None = None,
    progress: bool = False,
    batch: bool = True,
) -> SimulationResult:
    """Run a scenario through the engine; see :class:`Simulator` for the arguments."""
    bar = Progress(sys.stderr) if progress else None
    return Simulator(
        ld, days=days, seed=seed, config=config, observe=observe, log=log, progress=bar, batch=batch
    ).run()
