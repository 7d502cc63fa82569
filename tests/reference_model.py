"""A plain-Python reference model of docs/routing.md, for differential testing.

The Rust core implements the routing rules with indexes built for speed; this model
implements the same rules with scans over plain dictionaries and lists, written to be
read next to the spec. Hypothesis (``tests/test_stateful.py``) drives both with the same
event sequences and requires identical decisions, so an index that forgets a case shows
up as a difference.

Section numbers in comments refer to docs/routing.md. Where the page leaves a detail
open, the model settles it as follows (and the core agrees):

- ``offer_accepted`` drains the agent afterwards (section 7: nothing waits while an agent
  is eligible, and an accepted interruptible e-mail no longer blocks live work);
- a cool-down end moves the waiting contact only if an agent is eligible for it now; that
  agent then drains (takes the line in its order, so a contact before it whose cool-down
  ended at the same millisecond goes first); it never repeats ``contact_queued``; a
  cool-down of 0 s sets no cool-down and no timer;
- ``contact_queued.waiting`` counts contacts in line; a contact between leaving an agent
  and being routed again is not in line yet;
- the dedupe window and the closed-contact retention are measured on the engine clock
  and include their last millisecond;
- ``offer_expired.missed_in_row`` counts the miss it reports; an abandoned contact's
  ``contact_closed`` names no agent; logging out sets no reason, going offline through
  ``agent_state_changed`` keeps the reason given.

Section 4b (service hours, callbacks, caps, more overflow triggers, borrowing, fairness):

- the schedule is read through ``ccroute.hours`` (the product's own Python rules, tested
  against published holiday dates and a minute-by-minute scan); every evaluation, also the
  one a ``queue_emergency`` makes, reads the schedule at that instant for its ``reason``;
- the silent first evaluation happens at the first input that passes the version and
  duplicate checks (a rejected one included), after time passes and before it is applied;
- a callback is any contact on channel ``callback``; the ``partner`` action leaves a
  callback of a queue that is not open parked (never dialled outside hours);
- the borrowing condition is checked at arrival, at a step reached and on entering a
  queue, not when an action opens the contact to the partner;
- the ``close`` action plays the emergency's announcement whenever an emergency with one
  is in force on the queue, whatever the reason;
- a moved callback is a contact that entered a queue: it gets ``contact_queued`` if not
  offered; rerouted to rerouted (another target) moves the line as closed to rerouted
  does; rerouted to closed changes nothing but the status;
- the max-wait timer is set at arrival (also for an arrival a policy then turns away) and
  on entering a queue by a move or transfer; a move does not check ``max_waiting``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from msgspec import UNSET, UnsetType

from ccroute.config import Config, Hours
from ccroute.events import (
    CHANNELS,
    LIVE_CHANNELS,
    PHONE_CHANNELS,
    SCHEMA_VERSION,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentProfileChanged,
    AgentStateChanged,
    AgentStateSet,
    CallbackAttempted,
    CallbackRequested,
    CallbackResult,
    CallbackScheduled,
    Candidate,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactHandedOver,
    ContactMoved,
    ContactQueued,
    ContactStepReached,
    ContactTransferred,
    ContactUpdated,
    Decision,
    Input,
    InputRejected,
    Nearest,
    OfferAccepted,
    OfferExpired,
    OfferMade,
    OfferReason,
    OfferRejected,
    OfferRevoked,
    QueueEmergency,
    QueueStatus,
    SurveyAnswered,
    WorkInterrupted,
    WorkResumed,
    WrapUpEnded,
    WrapUpFinished,
    WrapUpStarted,
)
from ccroute.hours import is_open, next_change

# Phases of an item an agent holds (section 2), plus the two states a contact has when
# no agent holds it.
WAITING = "waiting"
OFFERED = "offered"
ACTIVE = "active"
INTERRUPTED = "interrupted"
WRAP_UP = "wrap_up"
CLOSED = "closed"
HELD = (OFFERED, ACTIVE, INTERRUPTED, WRAP_UP)
# Between leaving an agent and being routed again: not yet back in line, so not counted
# in a queue's ``waiting`` (the expired contact is routed only after the agent's other
# revoked offers). Never seen between inputs.
ROUTING = "routing"

_HOUR_MS = 3_600_000
#: contact_queued.nearest lists at most this many missing needs (docs/events.md).
NEAREST_MISSING_MAX = 8
CALLBACK = "callback"
# Windows of the overflow triggers and of borrowing (section 4b).
_ANSWER_WINDOW_MS = 900_000
_SERVICE_WINDOW_MS = 1_800_000
# A queue without ``hours`` (or an emergency on it) acts by these defaults.
_NO_HOURS = Hours()


class Rejected(Exception):
    """Validation failed: the input becomes one ``input_rejected`` and nothing more."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Agent:
    id: str
    index: int
    skills: dict[str, int]
    languages: list[str]
    tenants: list[str]
    capacity: dict[str, int]
    presence: str = "offline"
    reason: str | None = None
    idle_since: int = 0
    last_assigned: dict[str, int] = field(default_factory=dict)
    missed: int = 0
    # Items above capacity are only possible after a profile change cut the capacity
    # under the agent's current load; the invariant check allows exactly those.
    grandfathered: dict[str, int] = field(default_factory=dict)
    partner: bool = False  # works for the outsourcing partner
    team: str = ""


@dataclass
class Contact:
    tenant: str
    id: str
    queue: str
    channel: str
    priority: int
    language: str | None
    requirements: dict[str, int]
    arrived_at: int
    # Global arrival number: the last tie-break in line, and the identity of this contact
    # instance (a contact id can be reused once the closed one is forgotten).
    seq: int
    tags: list[str]
    state: str = WAITING
    agent: str | None = None
    attempt: int = 0
    # Order of offering and of acceptance among one agent's items.
    offered_seq: int = 0
    accepted_seq: int = 0
    closed_at: int | None = None
    wrap_up_code: str | None = None
    resolved: bool | None = None
    surveys: list[SurveyAnswered] = field(default_factory=list)
    # Routing steps (section 4a): what the contact itself asked for, and the step in force.
    own_skills: dict[str, int] = field(default_factory=dict)
    own_language: str | None = None
    step: int = 0
    share: bool = False
    pool: str = "any"  # "any", "own" (provider's agents) or "partner"
    attr_bonus: int = 0
    tag_bonus: int = 0
    # A queue transfer restarts the steps: counted from entering the queue, and the old
    # queue's step timers (an older epoch) do nothing.
    entered_at: int = 0
    epoch: int = 0
    # Customer continuity: kept for this agent until offered or the time runs out.
    customer: str | None = None
    reserved_for: str | None = None
    # Opened to the partner by an overflow trigger at arrival or a ``partner`` action: the
    # partner may take it at once, and it is routed as usual even while its queue is shut.
    overflowed: bool = False
    # Section 4b. A parked contact waits in line (and counts) but is offered to no one.
    parked: bool = False
    not_before: int = 0  # a callback is not offered before this
    dials: int = 0  # callback dials so far
    by_transfer: bool = False  # offered by an agent's transfer (the agent's own judgement)
    reached: bool = False  # a callback whose customer answered
    # Teams the queue borrows for this contact, as decided when its needs were worked out.
    borrowed: frozenset[str] = frozenset()

    @property
    def base_priority(self) -> int:
        """Own priority plus the queue's priority-rule points (not the queue's priority)."""
        return self.priority + self.attr_bonus + self.tag_bonus

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.id)


@dataclass
class Status:
    """A queue's status (section 4b): ``open``, ``closed`` or ``rerouted`` (to ``to``)."""

    kind: str
    reason: str
    to: str | None = None


@dataclass(order=True)
class Timer:
    due: int
    seq: int
    # "offer", "wrap_up", "cooldown", "continuity", "step:<epoch>", "max_wait:<epoch>",
    # "callback" or "schedule:<queue>"
    kind: str = field(compare=False)
    contact_seq: int = field(compare=False)
    attempt: int = field(compare=False, default=0)


class ReferenceEngine:
    """The routing rules of docs/routing.md, written for reading rather than for speed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        r = config.routing
        self.routing = r
        self.tenants = {t.id for t in config.tenants}
        self.queues = {q.id: q for q in config.queues}
        self.agents: dict[str, Agent] = {}
        for a in config.agents:
            agent = self._new_agent(
                a.id, dict(a.skills), list(a.languages), list(a.tenants), dict(a.capacity)
            )
            agent.partner = a.partner is not None
            agent.team = a.team
        self.queue_arrivals: dict[str, int] = {q.id: 0 for q in config.queues}
        # (tenant, customer) -> the agent who last accepted one of their contacts.
        self.last_agent: dict[tuple[str, str], str] = {}
        self.clock = 0
        self.late_events = 0
        self.decision_count = 0
        # (tenant, contact id) -> the open or remembered closed contact of that key.
        self.contacts: dict[tuple[str, str], Contact] = {}
        self.arrivals = 0
        self.seq = 0  # offers, acceptances and timers are numbered from this counter
        self.timers: list[Timer] = []
        # (agent id, contact seq) -> the time the agent may be offered the contact again.
        self.cooling: dict[tuple[str, int], int] = {}
        # input id -> the engine clock when it was applied (for the dedupe window).
        self.seen: dict[str, int] = {}
        # Closed contacts in the order they closed (for closed_contact_max).
        self._closed_order: dict[tuple[str, str], Contact] = {}
        self._out: list[Decision] = []
        self._cause = ""
        # Section 4b: queue statuses (evaluated silently at the first applied input), the
        # emergencies in force, and what the windows of the triggers and fair share count.
        self.tenant_config = {t.id: t for t in config.tenants}
        self.started = False
        self.status: dict[str, Status] = {}
        self.emergency: dict[str, QueueEmergency] = {}
        self.assigned_log: list[tuple[int, str, int]] = []  # (ts, queue, wait_ms)
        self.abandoned_log: list[tuple[int, str, int]] = []  # (ts, queue, waited ms)
        self.offer_log: list[tuple[int, str]] = []  # (ts, tenant)

    # ------------------------------------------------------------------ helpers

    def _new_agent(
        self,
        agent_id: str,
        skills: dict[str, int],
        languages: list[str],
        tenants: list[str],
        capacity: dict[str, int],
    ) -> Agent:
        a = Agent(agent_id, len(self.agents), skills, languages, tenants, capacity)
        self.agents[agent_id] = a
        return a

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _emit(self, cls: type[Any], **fields: Any) -> None:
        self.decision_count += 1
        self._out.append(
            cls(id=f"d{self.decision_count}", ts=self.clock, cause=self._cause, **fields)
        )

    def _by_seq(self, seq: int) -> Contact | None:
        for c in self.contacts.values():
            if c.seq == seq:
                return c
        return None

    def items(self, a: Agent) -> list[Contact]:
        """The contacts the agent holds, in the order they were offered."""
        held = [c for c in self.contacts.values() if c.agent == a.id and c.state in HELD]
        return sorted(held, key=lambda c: c.offered_seq)

    def load(self, a: Agent, channel: str) -> int:
        return sum(1 for c in self.items(a) if c.channel == channel)

    def waiting(self) -> list[Contact]:
        return [c for c in self.contacts.values() if c.state == WAITING]

    def _queue_of(self, c: Contact) -> Any:
        return self.queues[c.queue]

    # ------------------------------------------------------- section 2: eligibility

    def can_take(self, a: Agent, channel: str) -> bool:
        if a.presence != "available":
            return False
        if self.load(a, channel) >= a.capacity.get(channel, 0):
            return False
        for it in self.items(a):
            if it.channel in PHONE_CHANNELS:
                return False  # a call occupies the agent completely
            if channel in PHONE_CHANNELS and it.channel in LIVE_CHANNELS:
                return False  # ... so a call goes only to an agent with no chat either
            if channel in LIVE_CHANNELS:
                if it.channel not in LIVE_CHANNELS and not (
                    self._queue_of(it).interruptible and it.state in (ACTIVE, INTERRUPTED)
                ):
                    return False
            elif it.channel in LIVE_CHANNELS:
                return False
        return True

    def eligible(self, a: Agent, c: Contact) -> bool:
        if c.parked:
            return False  # in line, but offered to no one (section 4b)
        if not self.can_take(a, c.channel):
            return False
        if c.tenant not in a.tenants and "*" not in a.tenants:
            return False
        if c.language is not None and c.language not in a.languages:
            return False
        if any(a.skills.get(s, 0) < m for s, m in c.requirements.items()):
            return False
        if (c.pool == "own" and a.partner) or (c.pool == "partner" and not a.partner):
            return False
        if c.reserved_for is not None and c.reserved_for != a.id:
            return False
        teams = self._queue_of(c).teams
        if teams and a.team not in teams and a.team not in c.borrowed:
            return False
        return self.clock >= self.cooling.get((a.id, c.seq), self.clock)

    def eligible_agents(self, c: Contact) -> list[Agent]:
        return [a for a in self.agents.values() if self.eligible(a, c)]

    # --------------------------------------------------- section 3: contact side

    def _strategy(self, c: Contact) -> str:
        return self._queue_of(c).strategy or self.routing.strategy

    def rank(self, a: Agent, c: Contact) -> tuple[tuple[int, ...], int]:
        """(sort key, smallest first; score) of an agent for a contact (section 3 table)."""
        now = self.clock
        busy = 1 if self.items(a) else 0
        idle = (busy, a.idle_since, a.index)
        strategy = self._strategy(c)
        if strategy == "longest_idle":
            return idle, now - a.idle_since
        if strategy == "best_proficiency":
            total = sum(a.skills.get(s, 0) for s in c.requirements)
            return (-total, *idle), total
        if strategy == "most_spare_capacity":
            spare = a.capacity.get(c.channel, 0) - self.load(a, c.channel)
            return (-spare, *idle), spare
        assert strategy == "round_robin"
        last = a.last_assigned.get(c.channel)
        if last is None:
            return (0, 0, a.index), now
        return (1, last, a.index), now - last

    def _ranked(self, c: Contact) -> list[tuple[Agent, int]]:
        ranked = sorted(self.eligible_agents(c), key=lambda a: self.rank(a, c)[0])
        return [(a, self.rank(a, c)[1]) for a in ranked]

    def route(self, c: Contact, *, requeued: bool) -> None:
        """Offer the contact to the best eligible agent, or let it wait."""
        c.state = WAITING
        c.agent = None
        # A callback is never offered while its queue is not open (the partner action can
        # route one that arrived on a closed queue).
        c.parked = c.channel == CALLBACK and not self._may_dial(c)
        ranked = self._ranked(c)
        if ranked:
            (winner, score), rest = ranked[0], ranked[1:]
            self._offer(c, winner, score, len(ranked), rest)
            return
        self._queued(c, requeued=requeued)

    def _may_dial(self, c: Contact) -> bool:
        return self.status[c.queue].kind == "open" and c.not_before <= self.clock

    def _queued(self, c: Contact, *, requeued: bool) -> None:
        in_queue = sum(1 for w in self.waiting() if w.queue == c.queue)
        self._emit(
            ContactQueued,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            channel=c.channel,
            priority=c.base_priority,
            waiting=in_queue,
            requeued=requeued,
            nearest=self._nearest(c),
        )

    def _misses(self, a: Agent, c: Contact) -> list[str]:
        """What the agent's profile lacks for the contact's needs (section 3), in order."""
        missing = []
        if c.tenant not in a.tenants and "*" not in a.tenants:
            missing.append(f"tenant:{c.tenant}")
        if a.capacity.get(c.channel, 0) <= 0:
            missing.append(f"channel:{c.channel}")
        if c.pool == "own" and a.partner:
            missing.append("pool:own")
        if c.pool == "partner" and not a.partner:
            missing.append("pool:partner")
        teams = self._queue_of(c).teams
        if teams and a.team not in teams and a.team not in c.borrowed:
            missing.append("team")
        if c.language is not None and c.language not in a.languages:
            missing.append(f"language:{c.language}")
        for s, m in sorted(c.requirements.items()):
            if a.skills.get(s, 0) < m:
                missing.append(f"skill:{s}>={m}")
        return missing

    def _nearest(self, c: Contact) -> Nearest | UnsetType:
        """Who came closest, when no logged-in agent meets the contact's needs (section 3).

        A parked contact waits for its queue and a kept one for its agent: neither says.
        """
        if c.parked or c.reserved_for is not None:
            return UNSET
        logged_in = [a for a in self.agents.values() if a.presence != "offline"]
        if not logged_in:
            return Nearest(agent=None, missing=[])
        misses = {a.id: self._misses(a, c) for a in logged_in}
        best = min(logged_in, key=lambda a: (len(misses[a.id]), a.index))
        if not misses[best.id]:
            return UNSET
        return Nearest(agent=best.id, missing=misses[best.id][:NEAREST_MISSING_MAX])

    def _offer(
        self,
        c: Contact,
        a: Agent,
        score: int,
        considered: int,
        rest: list[tuple[Agent, int]],
        *,
        transfer: bool = False,
    ) -> None:
        # A transfer to a named agent is the transferring agent's judgement: it skips the
        # skills, language and pool checks (the agent must still be able to take it).
        assert transfer or self.eligible(a, c), "offers go only to eligible agents"
        assert c.channel != CALLBACK or transfer or self._may_dial(c), "dialled out of hours"
        self.offer_log.append((self.clock, c.tenant))
        continuity = c.reserved_for is not None
        c.reserved_for = None  # the previous agent has their chance now
        q = self._queue_of(c)
        timeout = q.offer_timeout_seconds or self.routing.offer_timeout_seconds
        c.attempt += 1
        c.state = OFFERED
        c.parked = False
        c.by_transfer = transfer
        c.agent = a.id
        c.offered_seq = self._next_seq()
        expires_at = self.clock + timeout * 1000
        self._add_timer(expires_at, "offer", c.seq, c.attempt)
        self._emit(
            OfferMade,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            channel=c.channel,
            agent=a.id,
            offer=f"{c.id}#{c.attempt}",
            attempt=c.attempt,
            expires_at=expires_at,
            reason=(
                OfferReason(strategy="continuity", score=0, considered=1)
                if continuity
                else OfferReason(
                    strategy="transfer" if transfer else self._strategy(c),
                    score=score,
                    considered=considered,
                    runners_up=[Candidate(agent=r.id, score=s) for r, s in rest[:3]],
                )
            ),
        )

    # ----------------------------------------------------- section 4: agent side

    def line_key(self, c: Contact) -> tuple[int, int, int]:
        """Place in line, smallest first: effective priority (highest first), arrival.

        Effective priority is ``p + (now - arrived) / aging_ms``; comparing two contacts at
        the same ``now`` is comparing ``p * aging_ms - arrived``, exact in integers.
        """
        p = c.base_priority + self._queue_of(c).priority
        aging_ms = self.routing.aging_seconds_per_point * 1000
        rank = p * aging_ms - c.arrived_at if aging_ms else p
        return (-rank, c.arrived_at, c.seq)

    def drain(self, a: Agent) -> None:
        while True:
            candidates = [c for c in self.waiting() if self.eligible(a, c)]
            if not candidates:
                return
            # Fair shares are weighed in the shared line; the pick then competes with the
            # contacts kept for this agent (continuity) by the usual order.
            shared = [c for c in candidates if c.reserved_for is None]
            kept = [c for c in candidates if c.reserved_for is not None]
            best = [self._fair_share(a, min(shared, key=self.line_key), shared)] if shared else []
            c = min(best + kept, key=self.line_key)
            ranked = self._ranked(c)
            score = next(s for r, s in ranked if r is a)
            rest = [(r, s) for r, s in ranked if r is not a]
            self._offer(c, a, score, len(ranked), rest)

    def _fair_share(self, a: Agent, best: Contact, candidates: list[Contact]) -> Contact:
        """A tenant under its guaranteed share of recent offers goes first (section 4b)."""
        window = self.routing.fair_share_window_seconds * 1000
        recent = [t for ts, t in self.offer_log if self.clock - window < ts <= self.clock]
        for t in self.config.tenants:
            if t.id == best.tenant or t.fair_share_percent <= 0:
                continue
            if "*" not in a.tenants and t.id not in a.tenants:
                continue
            if recent.count(t.id) * 100 >= t.fair_share_percent * len(recent):
                continue
            theirs = [c for c in candidates if c.tenant == t.id]
            if theirs:
                return min(theirs, key=self.line_key)
        return best

    # ------------------------------------------------------- items leaving agents

    def _leave(self, c: Contact, new_state: str) -> Agent:
        """The agent's item for ``c`` leaves; an available agent left with nothing is idle."""
        assert c.agent is not None
        a = self.agents[c.agent]
        c.state = new_state
        c.agent = None
        if a.presence == "available" and not self.items(a):
            a.idle_since = self.clock
        return a

    def _cool_down(self, a: Agent, c: Contact) -> None:
        cooldown_ms = self.routing.decline_cooldown_seconds * 1000
        if cooldown_ms == 0:
            return  # no cool-down: the agent is eligible again at once
        until = self.clock + cooldown_ms
        self.cooling[(a.id, c.seq)] = until
        self._add_timer(until, "cooldown", c.seq)

    def _close(self, c: Contact, a: Agent) -> None:
        """Closing a completed contact (section 5, after the table)."""
        self._leave(c, CLOSED)
        self._mark_closed(c)
        self._emit(
            ContactClosed,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            channel=c.channel,
            outcome="completed",
            agent=a.id,
        )
        self._resume(a)
        self.drain(a)

    def _resume(self, a: Agent) -> None:
        """With no live item left, interrupted deferred work comes back (section 5)."""
        if not any(it.channel in LIVE_CHANNELS for it in self.items(a)):
            for it in sorted(self.items(a), key=lambda it: it.accepted_seq):
                if it.state == INTERRUPTED:
                    it.state = ACTIVE
                    self._emit(WorkResumed, tenant=it.tenant, contact=it.id, agent=a.id)

    def _revoke(self, c: Contact, reason: str, new_state: str) -> Agent:
        """Withdraw ``c``'s open offer: ``offer_revoked``, the item leaves, resume."""
        assert c.state == OFFERED and c.agent is not None
        self._emit(
            OfferRevoked,
            tenant=c.tenant,
            contact=c.id,
            agent=c.agent,
            offer=f"{c.id}#{c.attempt}",
            reason=reason,
        )
        a = self._leave(c, new_state)
        self._resume(a)
        return a

    def _revoke_offers(self, a: Agent, reason: str) -> None:
        for c in self.items(a):
            if c.state == OFFERED:
                self._revoke(c, reason, ROUTING)
                self._back_in_line(c)

    # ------------------------------------------- section 4b: hours and their actions

    def _hours(self, q: Any) -> Hours:
        return q.hours if q.hours is not None else _NO_HOURS

    def _evaluate(self, q: Any) -> Status:
        """The status a queue should have now: emergency first, then the schedule."""
        em = self.emergency.get(q.id)
        if em is not None and em.mode == "close":
            return Status("closed", "emergency")
        if em is not None and em.mode == "reroute":
            return Status("rerouted", "emergency", em.to_queue)
        if q.hours is None:
            return Status("open", "no_schedule")
        t = self.tenant_config[q.tenant]
        up, reason = is_open(q.hours, t.timezone, t.holidays, self.clock)
        return Status("open" if up else "closed", reason)

    def _start(self) -> None:
        """The first applied input: every status is evaluated silently, timers set."""
        self.started = True
        for q in self.config.queues:
            self.status[q.id] = self._evaluate(q)
        for q in self.config.queues:
            self._schedule_timer(q)

    def _schedule_timer(self, q: Any) -> None:
        if q.hours is None:
            return
        t = self.tenant_config[q.tenant]
        due = next_change(q.hours, t.timezone, t.holidays, self.clock)
        if due is not None:
            self._add_timer(due, f"schedule:{q.id}", 0)

    def _policy_reason(self, q: Any, otherwise: str) -> str:
        return "emergency" if q.id in self.emergency else otherwise

    def _line(self, queue: str) -> list[Contact]:
        """The queue's contacts in line (parked or not), in line order."""
        return sorted((c for c in self.waiting() if c.queue == queue), key=self.line_key)

    def _reevaluate(self, q: Any) -> None:
        old, new = self.status[q.id], self._evaluate(q)
        self.status[q.id] = new
        if (old.kind, old.to) == (new.kind, new.to):
            return
        self._emit(
            QueueStatus,
            tenant=q.tenant,
            queue=q.id,
            open=new.kind == "open",
            reason=new.reason,
            to_queue=new.to,
        )
        if old.kind == "open":
            self._closing(q, new)
        elif new.kind == "open":
            self._opening(q)
        elif new.kind == "rerouted":
            assert new.to is not None
            target = self.queues[new.to]
            for c in self._line(q.id):
                if c.state == WAITING and c.queue == q.id and c.channel in target.channels:
                    self._move(c, target.id, "emergency")

    def _closing(self, q: Any, new: Status) -> None:
        """Open to closed or rerouted: the line, then offered callbacks, then drains."""
        target = None if new.to is None else self.queues[new.to]
        for c in self._line(q.id):
            if c.state != WAITING or c.queue != q.id:
                continue
            if target is not None and c.channel in target.channels:
                self._move(c, target.id, "emergency")
            elif c.channel == CALLBACK:
                c.parked = True
            else:
                self._act(c, self._hours(q).at_closing, self._policy_reason(q, "at_closing"))
        revoked: list[Agent] = []
        offered = [c for c in self.contacts.values() if c.state == OFFERED and c.queue == q.id]
        for c in sorted(offered, key=self.line_key):
            if c.channel != CALLBACK:
                continue
            a = self._revoke(c, "queue_closed", WAITING)
            c.parked = True
            if a not in revoked:
                revoked.append(a)
        for a in sorted(revoked, key=lambda a: a.index):
            self.drain(a)

    def _opening(self, q: Any) -> None:
        for c in self._line(q.id):
            if c.state == WAITING and c.parked and c.not_before <= self.clock:
                c.parked = False
                if self.eligible_agents(c):
                    self.route(c, requeued=True)

    def _act(self, c: Contact, action: str, reason: str, *, arrival: bool = False) -> None:
        """One of the actions ``close``, ``callback``, ``ticket``, ``partner``, ``keep``."""
        q = self._queue_of(c)
        if action == "serve":
            return
        if action == "close":
            # The emergency's announcement while one is in force, whatever closed it.
            em = self.emergency.get(q.id)
            announcement = q.announcement
            if em is not None and em.announcement is not None:
                announcement = em.announcement
            c.state = CLOSED
            c.parked = False
            self._mark_closed(c)
            self._emit(
                ContactClosed,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                channel=c.channel,
                outcome="closed",
                agent=None,
                reason=reason,
                announcement=announcement,
            )
        elif action == "callback":
            c.channel = CALLBACK
            c.not_before = self.clock
            self._emit(
                CallbackScheduled,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                reason=reason,
                attempt=c.dials,
                not_before=c.not_before,
            )
            self._line_up(c, entered=False)
        elif action == "ticket":
            assert q.ticket_queue is not None
            c.channel = "email"
            self._move(c, q.ticket_queue, reason)
        elif action == "partner":
            c.overflowed = True
            self._apply_step(c, borrow=False)
            self._emit(
                ContactStepReached,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                step=c.step,
                partner=True,
                reason=reason,
            )
            if arrival:
                self.route(c, requeued=False)
            else:
                c.parked = c.channel == CALLBACK and not self._may_dial(c)
                if self.eligible_agents(c):
                    self.route(c, requeued=True)
        else:
            assert action == "keep"
            c.state = WAITING
            c.parked = True
            if arrival:
                self._queued(c, requeued=False)

    def _move(self, c: Contact, queue: str, reason: str) -> None:
        """A policy moves the contact to another queue of its tenant; it lines up there."""
        self._emit(
            ContactMoved,
            tenant=c.tenant,
            contact=c.id,
            from_queue=c.queue,
            queue=queue,
            channel=c.channel,
            reason=reason,
        )
        self._enter(c, queue)
        self._line_up(c, entered=True)

    def _enter(self, c: Contact, queue: str) -> None:
        """Entering a queue by a transfer or a move: steps and caps count from now."""
        c.queue = queue
        c.step, c.share, c.overflowed = 0, False, False
        c.entered_at = self.clock
        c.epoch += 1
        for key in [k for k in self.cooling if k[1] == c.seq]:
            del self.cooling[key]
        self._apply_step(c)
        q = self._queue_of(c)
        if q.steps:
            due = self.clock + q.steps[0].after_seconds * 1000
            self._add_timer(due, f"step:{c.epoch}", c.seq, 1)
        self._max_wait_timer(c)

    def _max_wait_timer(self, c: Contact) -> None:
        q = self._queue_of(c)
        if q.max_wait_seconds is not None:
            due = self.clock + q.max_wait_seconds * 1000
            self._add_timer(due, f"max_wait:{c.epoch}", c.seq)

    def _line_up(self, c: Contact, *, entered: bool) -> None:
        """Lining up (section 4b): parked while the queue is not open or a callback is not
        due; otherwise offered if someone is eligible."""
        c.state = WAITING
        c.agent = None
        c.parked = self.status[c.queue].kind != "open" or c.not_before > self.clock
        if not c.parked and self.eligible_agents(c):
            self.route(c, requeued=True)
        elif entered:
            self._queued(c, requeued=True)

    def _back_in_line(self, c: Contact) -> None:
        """An offer failed (rejected, expired, revoked): the contact goes back to its queue,
        which may have closed meanwhile."""
        q = self._queue_of(c)
        status = self.status[q.id]
        if status.kind == "open" or c.overflowed:
            self.route(c, requeued=True)
            return
        if status.to is not None and c.channel in self.queues[status.to].channels:
            self._move(c, status.to, "emergency")
            return
        c.state = WAITING
        if c.channel == CALLBACK:
            c.parked = True
            return
        action = self._hours(q).at_closing
        if action == "serve":
            self.route(c, requeued=True)
        else:
            self._act(c, action, self._policy_reason(q, "at_closing"))

    # ---------------------------------------------- section 4b: the triggers' windows

    def service_level(self, queue: str) -> tuple[int, int]:
        """(met, counted) over the last 30 minutes (section 4b)."""
        q = self.queues[queue]
        limit = q.service_level.threshold_seconds * 1000
        since = self.clock - _SERVICE_WINDOW_MS
        met = counted = 0
        for ts, qid, wait in self.assigned_log:
            if qid == queue and since < ts <= self.clock:
                counted += 1
                met += wait <= limit
        for ts, qid, waited in self.abandoned_log:
            if qid == queue and since < ts <= self.clock and waited > limit:
                counted += 1
        return met, counted

    def _in_line(self, queue: str, but: Contact) -> int:
        return sum(1 for w in self.waiting() if w.queue == queue and w is not but)

    def _overflow_trigger(self, c: Contact) -> str | None:
        q = self._queue_of(c)
        if q.partner != "overflow" or c.share:
            return None
        w = self._in_line(q.id, c)
        if q.overflow_when_waiting_over is not None and w > q.overflow_when_waiting_over:
            return "long_line"
        if q.overflow_when_expected_wait_over is not None and w > 0:
            since = self.clock - _ANSWER_WINDOW_MS
            r = sum(1 for ts, qid, _ in self.assigned_log if qid == q.id and ts > since)
            if (
                r == 0
                or (w + 1) * _ANSWER_WINDOW_MS // r > q.overflow_when_expected_wait_over * 1000
            ):
                return "expected_wait"
        if q.overflow_when_service_level_under:
            met, counted = self.service_level(q.id)
            if counted and met * 100 < q.service_level.target_percent * counted:
                return "service_level"
        return None

    def _borrowed(self, q: Any) -> frozenset[str]:
        teams = set()
        for b in q.borrow:
            met, counted = self.service_level(b.while_queue)
            if counted == 0 or met * 100 >= b.service_level_at_least * counted:
                teams.add(b.team)
        return frozenset(teams)

    # ------------------------------------------------------------ section 6: timers

    def _add_timer(self, due: int, kind: str, contact_seq: int, attempt: int = 0) -> None:
        self.timers.append(Timer(due, self._next_seq(), kind, contact_seq, attempt))

    def _advance(self, ts: int) -> None:
        """Fire every timer due at or before ``ts`` at its own due time, then reach ``ts``."""
        while True:
            due = [t for t in self.timers if t.due <= ts]
            if not due:
                break
            t = min(due)
            self.timers.remove(t)
            self.clock = max(self.clock, t.due)
            self._fire(t)
        self.clock = ts

    def _fire(self, t: Timer) -> None:
        if t.kind.startswith("schedule:"):
            q = self.queues[t.kind[9:]]
            self._reevaluate(q)
            self._schedule_timer(q)
            return
        c = self._by_seq(t.contact_seq)
        if c is None:
            return
        if t.kind == "offer":
            if c.state == OFFERED and c.attempt == t.attempt:
                self._expire(c)
        elif t.kind == "wrap_up":
            if c.state == WRAP_UP:
                assert c.agent is not None
                a = self.agents[c.agent]
                self._emit(WrapUpEnded, tenant=c.tenant, contact=c.id, agent=a.id, by="timeout")
                self._close(c, a)
        elif t.kind == "continuity":
            if c.reserved_for is not None:
                c.reserved_for = None
                if c.state == WAITING and self.eligible_agents(c):
                    self.route(c, requeued=True)
        elif t.kind.startswith("step:"):
            if int(t.kind[5:]) == c.epoch and c.state in (WAITING, OFFERED):
                self._reach_step(c, t.attempt)
        elif t.kind.startswith("max_wait:"):
            if (
                int(t.kind[9:]) == c.epoch
                and c.state == WAITING
                and not c.parked
                and c.channel != CALLBACK
            ):
                self._act(c, self._queue_of(c).when_full, "max_wait")
        elif t.kind == "callback":
            if c.state == WAITING and c.parked and self._may_dial(c):
                c.parked = False
                if self.eligible_agents(c):
                    self.route(c, requeued=True)
        elif t.kind == "cooldown":
            self._cooled(c)

    def _cooled(self, c: Contact) -> None:
        """A cool-down ended (section 6): the agent takes the line in its own order.

        The contact already waits (and said so). Only the agent whose cool-down ended can
        have become eligible for it; another contact's cool-down for that agent may end at
        the same millisecond with its timer not fired yet, so the best eligible agent
        drains (section 4) and an older contact of equal priority goes first (section 7).
        """
        while c.state == WAITING:
            ranked = self._ranked(c)
            if not ranked:
                return
            self.drain(ranked[0][0])

    def _expire(self, c: Contact) -> None:
        assert c.agent is not None
        a = self.agents[c.agent]
        a.missed += 1
        self._emit(
            OfferExpired,
            tenant=c.tenant,
            contact=c.id,
            agent=a.id,
            offer=f"{c.id}#{c.attempt}",
            missed_in_row=a.missed,
        )
        self._leave(c, ROUTING)
        self._resume(a)
        self._cool_down(a, c)
        if a.missed >= self.routing.max_missed_offers:
            a.presence = "not_responding"
            a.reason = "missed_offers"
            self._emit(
                AgentStateSet,
                agent=a.id,
                state="not_responding",
                reason="missed_offers",
                by="engine",
            )
            self._revoke_offers(a, "agent_not_responding")
        self._back_in_line(c)
        self.drain(a)

    def _remembered(self, since: int, hours: int) -> bool:
        """Is something from ``since`` still within a memory window of ``hours`` now?"""
        return since + hours * _HOUR_MS >= self.clock

    def _forget(self) -> None:
        """Drop input ids and closed contacts whose memory window has passed."""
        window = self.routing.dedupe_window_hours
        self.seen = {i: t for i, t in self.seen.items() if self._remembered(t, window)}
        keep = self.routing.closed_contact_retention_hours
        for key, c in list(self.contacts.items()):
            if c.closed_at is not None and not self._remembered(c.closed_at, keep):
                del self.contacts[key]
        self._closed_order = {
            k: c for k, c in self._closed_order.items() if self.contacts.get(k) is c
        }

    def _mark_closed(self, c: Contact) -> None:
        """Close ``c`` now; past ``closed_contact_max`` closed contacts, the one closed
        longest ago is forgotten."""
        c.closed_at = self.clock
        order = self._closed_order
        order.pop(c.key, None)
        order[c.key] = c
        while len(order) > self.routing.closed_contact_max:
            key, old = next(iter(order.items()))
            del order[key]
            if self.contacts.get(key) is old:
                del self.contacts[key]

    def _remember_id(self, id: str) -> None:
        """Remember an input id; past ``dedupe_max_ids``, the oldest is forgotten."""
        self.seen[id] = self.clock
        while len(self.seen) > self.routing.dedupe_max_ids:
            del self.seen[next(iter(self.seen))]

    # ---------------------------------------------------------------- the inputs

    def apply(self, event: Input) -> list[Decision]:
        """Apply one input; the decisions it leads to, in order (section 1)."""
        self._out = []
        self._cause = event.id
        tag = type(event).__struct_config__.tag
        tenant = getattr(event, "tenant", None)
        if event.v != SCHEMA_VERSION:
            self._reject(tag, tenant, "unsupported_version", f"schema version {event.v}")
            return self._out
        # The window is measured on the engine clock: a duplicate is checked before (and
        # does not cause) any time passing.
        seen_at = self.seen.get(event.id)
        if seen_at is not None and self._remembered(seen_at, self.routing.dedupe_window_hours):
            self._reject(tag, tenant, "duplicate_event", f"input {event.id!r} seen before")
            return self._out
        jump_ms = self.routing.max_clock_jump_days * 86_400_000
        if self.started and event.ts > self.clock + jump_ms:
            self._reject(tag, tenant, "clock_jump", "input time too far ahead of the clock")
            return self._out
        if event.ts > self.clock:
            self._advance(event.ts)
        elif event.ts < self.clock:
            self.late_events += 1
        self._forget()
        if not self.started:
            self._start()
        self._remember_id(event.id)
        handler = getattr(self, f"_on_{tag}")
        try:
            handler(event)
        except Rejected as r:
            self._reject(tag, tenant, r.code, r.message)
        return self._out

    def _reject(self, tag: str, tenant: str | None, code: str, message: str) -> None:
        self._emit(InputRejected, event_type=tag, code=code, message=message, tenant=tenant)

    # Lookups that reject: each raises before anything changes.

    def _contact(self, tenant: str, contact: str) -> Contact:
        c = self.contacts.get((tenant, contact))
        if c is None:
            raise Rejected("unknown_contact", f"no contact {contact!r}")
        return c

    def _agent(self, agent: str) -> Agent:
        a = self.agents.get(agent)
        if a is None:
            raise Rejected("unknown_agent", f"no agent {agent!r}")
        return a

    def _on_contact_arrived(self, e: ContactArrived) -> None:
        if e.tenant not in self.tenants:
            raise Rejected("unknown_tenant", f"no tenant {e.tenant!r}")
        q = self.queues.get(e.queue)
        if q is None:
            raise Rejected("unknown_queue", f"no queue {e.queue!r}")
        if q.tenant != e.tenant:
            raise Rejected("tenant_mismatch", f"queue {e.queue!r} belongs to another tenant")
        if e.channel not in q.channels:
            raise Rejected("channel_not_served", f"queue {e.queue!r} does not serve {e.channel}")
        if (e.tenant, e.contact) in self.contacts:
            raise Rejected("contact_exists", f"contact {e.contact!r} exists")
        own: dict[str, int] = {}
        for req in e.skills:
            own[req.skill] = max(own.get(req.skill, 0), req.min)
        self.arrivals += 1
        n, share_pct = self.queue_arrivals[q.id], q.partner_share_percent
        self.queue_arrivals[q.id] = n + 1
        share = q.partner == "overflow" and (n + 1) * share_pct // 100 > n * share_pct // 100
        c = Contact(
            tenant=e.tenant,
            id=e.contact,
            queue=e.queue,
            channel=e.channel,
            priority=e.priority,
            language=None,
            requirements={},
            arrived_at=self.clock,
            seq=self.arrivals,
            tags=list(e.tags),
            own_skills=own,
            own_language=e.language,
            entered_at=self.clock,
            customer=e.customer,
            reserved_for=(
                self.last_agent.get((e.tenant, e.customer))
                if e.customer is not None and q.continuity_seconds
                else None
            ),
            share=share,
            attr_bonus=sum(
                r.add
                for r in q.priority_rules
                if r.attribute is not None
                and r.attribute in e.attributes
                and (r.equals is None or e.attributes[r.attribute] == r.equals)
            ),
            tag_bonus=self._tag_bonus(q, e.tags),
        )
        self._apply_step(c)
        self.contacts[c.key] = c
        if q.steps:
            self._add_timer(self.clock + q.steps[0].after_seconds * 1000, "step:0", c.seq, 1)
        if c.reserved_for is not None:
            self._add_timer(self.clock + q.continuity_seconds * 1000, "continuity", c.seq)
        self._max_wait_timer(c)
        status = self.status[q.id]
        if status.kind != "open":
            if status.to is not None and c.channel in self.queues[status.to].channels:
                self._move(c, status.to, "emergency")
            else:
                reason = self._policy_reason(q, "outside_hours")
                self._act(c, self._hours(q).outside, reason, arrival=True)
            return
        if q.max_waiting is not None and self._in_line(q.id, c) >= q.max_waiting:
            self._act(c, q.when_full, "queue_full", arrival=True)
            return
        trigger = self._overflow_trigger(c)
        if trigger is not None:
            c.overflowed = True
            self._apply_step(c)
            self._emit(
                ContactStepReached,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                step=0,
                partner=True,
                reason=trigger,
            )
        self.route(c, requeued=False)

    @staticmethod
    def _tag_bonus(q: Any, tags: list[str]) -> int:
        return sum(r.add for r in q.priority_rules if r.tag is not None and r.tag in tags)

    def _step_settings(self, q: Any, step: int) -> tuple[dict[str, int], bool, bool]:
        """(skills, language required, partner open) in force at a step; steps add up."""
        skills, language, partner = dict(q.skills), True, False
        for st in q.steps[:step]:
            if st.skills is not None:
                skills = dict(st.skills)
            if st.language is not None:
                language = st.language
            if st.partner is not None:
                partner = st.partner
        return skills, language, partner

    def _apply_step(self, c: Contact, *, borrow: bool = True) -> None:
        """Work out the contact's needs at its step. The borrowing condition is checked at
        arrival, at a step reached and on entering a queue, not when an action opens the
        contact to the partner (section 4b lists only those)."""
        q = self._queue_of(c)
        if borrow:
            c.borrowed = self._borrowed(q)
        skills, language, partner = self._step_settings(q, c.step)
        for s, m in c.own_skills.items():
            skills[s] = max(skills.get(s, 0), m)
        c.requirements = skills
        c.language = c.own_language if language else None
        if q.partner != "overflow":
            c.pool = "any"
        elif c.share and c.step == 0:
            c.pool = "partner"
        else:
            c.pool = "any" if (partner or c.share or c.overflowed) else "own"

    def _reach_step(self, c: Contact, step: int) -> None:
        q = self._queue_of(c)
        c.step = step
        self._apply_step(c)
        partner = q.partner == "overflow" and self._step_settings(q, step)[2]
        self._emit(
            ContactStepReached,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            step=step,
            partner=partner,
            reason="step",
        )
        if step < len(q.steps):
            due = c.entered_at + q.steps[step].after_seconds * 1000
            self._add_timer(due, f"step:{c.epoch}", c.seq, step + 1)
        if c.state == WAITING and self.eligible_agents(c):
            self.route(c, requeued=True)

    def _on_contact_abandoned(self, e: ContactAbandoned) -> None:
        c = self._contact(e.tenant, e.contact)
        if c.state not in (WAITING, OFFERED):
            raise Rejected("invalid_state", f"contact is {c.state}")
        self.abandoned_log.append((self.clock, c.queue, self.clock - c.arrived_at))
        a = None
        if c.state == OFFERED:
            a = self._revoke(c, "abandoned", CLOSED)
        c.state = CLOSED
        c.parked = False
        self._mark_closed(c)
        self._emit(
            ContactClosed,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            channel=c.channel,
            outcome="abandoned",
            agent=None,
        )
        if a is not None:
            self.drain(a)

    def _on_contact_updated(self, e: ContactUpdated) -> None:
        c = self._contact(e.tenant, e.contact)
        if c.state == CLOSED:
            raise Rejected("invalid_state", "contact is closed")
        # The line is a sort on demand, so a new priority is a new place at once.
        if e.priority is not None:
            c.priority = e.priority
        if e.tags is not None:
            c.tags = list(e.tags)
            c.tag_bonus = self._tag_bonus(self._queue_of(c), c.tags)

    def _offered_to(self, e: OfferAccepted | OfferRejected) -> tuple[Contact, Agent]:
        c = self._contact(e.tenant, e.contact)
        a = self._agent(e.agent)
        if c.state != OFFERED:
            raise Rejected("invalid_state", f"contact is {c.state}")
        if c.agent != a.id:
            raise Rejected("wrong_agent", "offered to another agent")
        return c, a

    def _on_offer_accepted(self, e: OfferAccepted) -> None:
        c, a = self._offered_to(e)
        c.state = ACTIVE
        c.accepted_seq = self._next_seq()
        a.missed = 0
        a.last_assigned[c.channel] = self.clock
        if c.customer is not None:
            self.last_agent[(c.tenant, c.customer)] = a.id
        self.assigned_log.append((self.clock, c.queue, self.clock - c.arrived_at))
        self._emit(
            ContactAssigned,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            channel=c.channel,
            agent=a.id,
            wait_ms=self.clock - c.arrived_at,
        )
        if c.channel in LIVE_CHANNELS:
            for it in sorted(self.items(a), key=lambda it: it.accepted_seq):
                if it.channel not in LIVE_CHANNELS and it.state == ACTIVE:
                    it.state = INTERRUPTED
                    self._emit(
                        WorkInterrupted,
                        tenant=it.tenant,
                        contact=it.id,
                        agent=a.id,
                        by_contact=c.id,
                    )
        # Accepting can make the agent eligible for more: an accepted interruptible e-mail
        # no longer blocks live work the way an open offer of it did. Section 7 wants no
        # waiting contact with an eligible agent after any input, so the agent is drained.
        self.drain(a)

    def _on_offer_rejected(self, e: OfferRejected) -> None:
        c, a = self._offered_to(e)
        self._leave(c, ROUTING)
        self._resume(a)
        self._cool_down(a, c)
        self._back_in_line(c)
        self.drain(a)

    def _held_by(
        self, e: ContactCompleted | ContactTransferred | WrapUpFinished, phases: tuple[str, ...]
    ) -> Any:
        c = self._contact(e.tenant, e.contact)
        a = self._agent(e.agent)
        if c.state not in phases:
            raise Rejected("invalid_state", f"contact is {c.state}")
        if c.agent != a.id:
            raise Rejected("wrong_agent", "held by another agent")
        return c, a

    def _on_contact_completed(self, e: ContactCompleted) -> None:
        c, a = self._held_by(e, (ACTIVE, INTERRUPTED))
        c.tags = c.tags + list(e.tags)
        c.wrap_up_code = e.wrap_up_code
        c.resolved = e.resolved
        wrap = self._queue_of(c).wrap_up_seconds
        if wrap > 0:
            c.state = WRAP_UP
            ends_by = self.clock + wrap * 1000
            self._add_timer(ends_by, "wrap_up", c.seq)
            self._emit(WrapUpStarted, tenant=c.tenant, contact=c.id, agent=a.id, ends_by=ends_by)
        else:
            self._close(c, a)

    def _on_contact_transferred(self, e: ContactTransferred) -> None:
        c, a = self._held_by(e, (ACTIVE, INTERRUPTED))
        if sum(x is not None for x in (e.to_queue, e.to_agent, e.handoff)) != 1:
            raise Rejected("invalid_target", "exactly one of to_queue, to_agent, handoff")
        if e.to_queue is not None:
            q = self.queues.get(e.to_queue)
            if q is None:
                raise Rejected("unknown_queue", f"no queue {e.to_queue!r}")
            if q.tenant != c.tenant:
                raise Rejected("tenant_mismatch", "queue of another tenant")
            if c.channel not in q.channels:
                raise Rejected("channel_not_served", "queue does not take the channel")
        b = None
        if e.to_agent is not None:
            b = self._agent(e.to_agent)
            if b is a:
                raise Rejected("invalid_target", "already with that agent")
            serves = "*" in b.tenants or c.tenant in b.tenants
            if not (serves and self.can_take(b, c.channel)):
                raise Rejected("agent_unavailable", "cannot take it now")
        self._leave(c, ROUTING)
        if e.to_queue is not None:
            c.queue = e.to_queue
        self._emit(
            ContactHandedOver,
            tenant=c.tenant,
            contact=c.id,
            from_agent=a.id,
            queue=c.queue,
            to_agent=None if b is None else b.id,
            handoff=e.handoff,
        )
        self._resume(a)
        if e.to_queue is not None:
            self._enter(c, e.to_queue)
            self._line_up(c, entered=True)
        elif b is not None:
            self._offer(c, b, 0, 1, [], transfer=True)
        else:
            c.state = CLOSED
            self._mark_closed(c)
            self._emit(
                ContactClosed,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                channel=c.channel,
                outcome="handed_off",
                agent=a.id,
            )
        self.drain(a)

    def _on_wrap_up_finished(self, e: WrapUpFinished) -> None:
        c, a = self._held_by(e, (WRAP_UP,))
        self._emit(WrapUpEnded, tenant=c.tenant, contact=c.id, agent=a.id, by="agent")
        self._close(c, a)

    def _on_agent_logged_in(self, e: AgentLoggedIn) -> None:
        a = self._agent(e.agent)
        if a.presence != "offline":
            raise Rejected("invalid_state", f"agent is {a.presence}")
        a.presence = e.state
        a.reason = e.reason
        a.missed = 0
        self._emit(AgentStateSet, agent=a.id, state=e.state, reason=e.reason)
        if e.state == "available":
            a.idle_since = self.clock
            self.drain(a)

    def _log_out(self, a: Agent, reason: str | None) -> None:
        if a.presence == "offline":
            raise Rejected("invalid_state", "agent is offline")
        if any(c.state != OFFERED for c in self.items(a)):
            raise Rejected("agent_has_work", "agent holds contacts in progress")
        a.presence = "offline"
        a.reason = reason
        self._emit(AgentStateSet, agent=a.id, state="offline", reason=reason)
        self._revoke_offers(a, "agent_offline")

    def _on_agent_logged_out(self, e: AgentLoggedOut) -> None:
        self._log_out(self._agent(e.agent), None)

    def _on_agent_state_changed(self, e: AgentStateChanged) -> None:
        a = self._agent(e.agent)
        if e.state == "offline":
            self._log_out(a, e.reason)
            return
        if a.presence == "offline":
            raise Rejected("invalid_state", "agent is offline")
        if (a.presence, a.reason) == (e.state, e.reason):
            return
        was = a.presence
        a.presence = e.state
        a.reason = e.reason
        self._emit(AgentStateSet, agent=a.id, state=e.state, reason=e.reason)
        if e.state == "paused":
            self._revoke_offers(a, "agent_paused")
        else:
            a.missed = 0
            if was != "available":
                a.idle_since = self.clock
            self.drain(a)

    def _on_agent_profile_changed(self, e: AgentProfileChanged) -> None:
        a = self.agents.get(e.agent)
        if a is None:
            a = self._new_agent(e.agent, {}, [], ["*"], {})
        if e.skills is not None:
            a.skills = dict(e.skills)
        if e.languages is not None:
            a.languages = list(e.languages)
        if e.tenants is not None:
            a.tenants = list(e.tenants)
        if e.capacity is not None:
            a.capacity = dict(e.capacity)
            a.grandfathered = {ch: self.load(a, ch) for ch in CHANNELS}
        if a.presence == "available":
            self.drain(a)

    def _on_survey_answered(self, e: SurveyAnswered) -> None:
        # Closed contacts past retention were forgotten in apply(), so a lookup suffices.
        self._contact(e.tenant, e.contact).surveys.append(e)

    def _on_clock_tick(self, e: ClockTick) -> None:
        pass  # only time passing, done in apply()

    def _on_callback_requested(self, e: CallbackRequested) -> None:
        c = self._contact(e.tenant, e.contact)
        if c.state not in (WAITING, OFFERED) or c.channel == CALLBACK:
            raise Rejected("invalid_state", f"contact is {c.state} on {c.channel}")
        if CALLBACK not in self._queue_of(c).channels:
            raise Rejected("channel_not_served", "the queue takes no callbacks")
        a = None
        if c.state == OFFERED:
            a = self._revoke(c, "callback_requested", ROUTING)
        c.channel = CALLBACK
        c.not_before = self.clock
        self._emit(
            CallbackScheduled,
            tenant=c.tenant,
            contact=c.id,
            queue=c.queue,
            reason="requested",
            attempt=c.dials,
            not_before=c.not_before,
        )
        self._line_up(c, entered=False)
        if a is not None:
            self.drain(a)

    def _on_callback_result(self, e: CallbackResult) -> None:
        c = self._contact(e.tenant, e.contact)
        a = self._agent(e.agent)
        if c.channel != CALLBACK or c.state != ACTIVE or c.reached:
            raise Rejected("invalid_state", f"contact is {c.state} on {c.channel}")
        if c.agent != a.id:
            raise Rejected("wrong_agent", "held by another agent")
        c.dials += 1
        self._emit(
            CallbackAttempted,
            tenant=c.tenant,
            contact=c.id,
            agent=a.id,
            attempt=c.dials,
            outcome=e.outcome,
        )
        if e.outcome == "reached":
            c.reached = True
            return
        q = self._queue_of(c)
        self._leave(c, WAITING)
        self._resume(a)
        if c.dials < q.callback_attempts:
            c.not_before = self.clock + q.callback_retry_seconds * 1000
            self._emit(
                CallbackScheduled,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                reason=e.outcome,
                attempt=c.dials,
                not_before=c.not_before,
            )
            # Lining up parks it until the timer (a retry of 0 s is offered at once).
            self._add_timer(c.not_before, "callback", c.seq)
            self._line_up(c, entered=False)
        else:
            c.state = CLOSED
            self._mark_closed(c)
            self._emit(
                ContactClosed,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                channel=c.channel,
                outcome="callback_unreached",
                agent=a.id,
            )
        self.drain(a)

    def _on_queue_emergency(self, e: QueueEmergency) -> None:
        if e.tenant not in self.tenants:
            raise Rejected("unknown_tenant", f"no tenant {e.tenant!r}")
        q = self.queues.get(e.queue)
        if q is None:
            raise Rejected("unknown_queue", f"no queue {e.queue!r}")
        if q.tenant != e.tenant:
            raise Rejected("tenant_mismatch", f"queue {e.queue!r} belongs to another tenant")
        if (e.mode == "reroute") != (e.to_queue is not None) or e.to_queue == e.queue:
            raise Rejected("invalid_target", "reroute, and only reroute, names another queue")
        if e.to_queue is not None:
            target = self.queues.get(e.to_queue)
            if target is None:
                raise Rejected("unknown_queue", f"no queue {e.to_queue!r}")
            if target.tenant != e.tenant:
                raise Rejected("tenant_mismatch", "target queue belongs to another tenant")
        if e.mode == "off":
            self.emergency.pop(q.id, None)
        else:
            self.emergency[q.id] = e
        self._reevaluate(q)

    # ---------------------------------------------------------- section 7: invariants

    def invariants(self) -> None:
        """Assert the invariants of section 7 on the model's own state."""
        holders: dict[tuple[str, str], list[str]] = {}
        for a in self.agents.values():
            for c in self.items(a):
                holders.setdefault(c.key, []).append(a.id)
            for ch in CHANNELS:
                allowed = max(a.capacity.get(ch, 0), a.grandfathered.get(ch, 0))
                assert self.load(a, ch) <= allowed, f"{a.id} over capacity on {ch}"
        for key, c in self.contacts.items():
            assert key == c.key
            assert c.state in (WAITING, *HELD, CLOSED), f"{key} in unknown state {c.state}"
            if c.state in HELD:
                assert holders.get(key) == [c.agent], f"{key} held by {holders.get(key)}"
            else:
                assert key not in holders, f"{key} is {c.state} yet held by {holders[key]}"
                assert c.agent is None
        for c in self.waiting():
            for a in self.agents.values():
                assert not self.eligible(a, c), f"{c.key} waits though {a.id} is eligible"
        for c in self.contacts.values():
            # Parked contacts are in line and nowhere else; a callback is with an agent only
            # while its queue is open (it is revoked at closing), unless an agent sent it.
            assert not c.parked or c.state == WAITING, f"{c.key} parked yet {c.state}"
            if c.state == OFFERED and c.channel == CALLBACK and not c.by_transfer:
                assert self.status[c.queue].kind == "open", f"{c.key} dialled out of hours"
