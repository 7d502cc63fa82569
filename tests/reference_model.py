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
- a cool-down end offers the waiting contact only if an agent is eligible now; it never
  repeats ``contact_queued``; a cool-down of 0 s sets no cool-down and no timer;
- ``contact_queued.waiting`` counts contacts in line; a contact between leaving an agent
  and being routed again is not in line yet;
- the dedupe window and the closed-contact retention are measured on the engine clock
  and include their last millisecond;
- ``offer_expired.missed_in_row`` counts the miss it reports; an abandoned contact's
  ``contact_closed`` names no agent; logging out sets no reason, going offline through
  ``agent_state_changed`` keeps the reason given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccroute.config import Config
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
    Candidate,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactHandedOver,
    ContactQueued,
    ContactStepReached,
    ContactTransferred,
    ContactUpdated,
    Decision,
    Input,
    InputRejected,
    OfferAccepted,
    OfferExpired,
    OfferMade,
    OfferReason,
    OfferRejected,
    OfferRevoked,
    SurveyAnswered,
    WorkInterrupted,
    WorkResumed,
    WrapUpEnded,
    WrapUpFinished,
    WrapUpStarted,
)

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
    overflowed: bool = False  # arrived at a long queue: the partner may take it at once

    @property
    def base_priority(self) -> int:
        """Own priority plus the queue's priority-rule points (not the queue's priority)."""
        return self.priority + self.attr_bonus + self.tag_bonus

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.id)


@dataclass(order=True)
class Timer:
    due: int
    seq: int
    kind: str = field(compare=False)  # "offer", "wrap_up" or "cooldown"
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
        self._out: list[Decision] = []
        self._cause = ""

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
        ranked = self._ranked(c)
        if ranked:
            (winner, score), rest = ranked[0], ranked[1:]
            self._offer(c, winner, score, len(ranked), rest)
            return
        c.state = WAITING
        c.agent = None
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
        )

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
        continuity = c.reserved_for is not None
        c.reserved_for = None  # the previous agent has their chance now
        q = self._queue_of(c)
        timeout = q.offer_timeout_seconds or self.routing.offer_timeout_seconds
        c.attempt += 1
        c.state = OFFERED
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
            c = min(candidates, key=self.line_key)
            ranked = self._ranked(c)
            score = next(s for r, s in ranked if r is a)
            rest = [(r, s) for r, s in ranked if r is not a]
            self._offer(c, a, score, len(ranked), rest)

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
        c.closed_at = self.clock
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

    def _revoke_offers(self, a: Agent, reason: str) -> None:
        for c in self.items(a):
            if c.state == OFFERED:
                self._emit(
                    OfferRevoked,
                    tenant=c.tenant,
                    contact=c.id,
                    agent=a.id,
                    offer=f"{c.id}#{c.attempt}",
                    reason=reason,
                )
                self._leave(c, ROUTING)
                self._resume(a)
                self.route(c, requeued=True)

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
        elif t.kind == "cooldown" and c.state == WAITING and self.eligible_agents(c):
            # The contact already waits (and said so); it only moves if the agent whose
            # cool-down ended, or anyone, can take it now.
            self.route(c, requeued=True)

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
        self.route(c, requeued=True)
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
        if event.ts > self.clock:
            self._advance(event.ts)
        elif event.ts < self.clock:
            self.late_events += 1
        self._forget()
        self.seen[event.id] = self.clock
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
        in_line = sum(1 for w in self.waiting() if w.queue == q.id)
        overflowed = (
            q.partner == "overflow"
            and not share
            and q.overflow_when_waiting_over is not None
            and in_line > q.overflow_when_waiting_over
        )
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
            overflowed=overflowed,
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
        if overflowed:
            self._emit(
                ContactStepReached,
                tenant=c.tenant,
                contact=c.id,
                queue=c.queue,
                step=0,
                partner=True,
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

    def _apply_step(self, c: Contact) -> None:
        q = self._queue_of(c)
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
        a = None
        if c.state == OFFERED:
            assert c.agent is not None
            self._emit(
                OfferRevoked,
                tenant=c.tenant,
                contact=c.id,
                agent=c.agent,
                offer=f"{c.id}#{c.attempt}",
                reason="abandoned",
            )
            a = self._leave(c, CLOSED)
            self._resume(a)
        c.state = CLOSED
        c.closed_at = self.clock
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
        self.route(c, requeued=True)
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
            c.step, c.share, c.overflowed, c.entered_at = 0, False, False, self.clock
            c.epoch += 1
            for key in [k for k in self.cooling if k[1] == c.seq]:
                del self.cooling[key]
            self._apply_step(c)
            q = self._queue_of(c)
            if q.steps:
                due = self.clock + q.steps[0].after_seconds * 1000
                self._add_timer(due, f"step:{c.epoch}", c.seq, 1)
            self.route(c, requeued=True)
        elif b is not None:
            self._offer(c, b, 0, 1, [], transfer=True)
        else:
            c.state = CLOSED
            c.closed_at = self.clock
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
