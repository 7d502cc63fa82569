"""Read models folded from the decisions (and agent profile inputs), kept in the KV bucket.

Anyone can read them without the engine (``nats kv get ccroute_<domain> agent.a1``, the
client's :meth:`~ccroute.client.Client.agent_view`, or the request/reply API):

``agent.<agent>``
    ``state``, ``reason`` and ``since`` of the agent's presence; ``load`` (items held per
    channel), ``capacity`` per channel and ``offers`` (open offers).
``queue.<tenant>.<queue>``
    ``waiting`` contacts (callbacks and contacts parked in a closed queue included),
    ``oldest_arrived_at`` and ``oldest_wait_ms`` (as of ``as_of``, the engine clock),
    ``agents_available``: available agents who serve the tenant, have the queue's skills
    and a free place on one of its channels (and are not on a call); ``open`` and
    ``rerouted_to`` (the last ``queue_status``; before the first, the schedule at the start);
    ``today``: the queue's own day (``date``, ``offered``, ``answered``,
    ``answered_within_threshold``, ``abandoned``, ``service_level_percent``), as the
    tenant's below but per queue (offered in the queue the contact arrived in, abandoned in
    the queue it left), for wallboards.
``tenant.<tenant>.today`` and ``tenant.<tenant>.day.<YYYY-MM-DD>``
    the tenant's day in its own time zone: ``offered`` (contacts that arrived),
    ``answered``, ``answered_within_threshold`` (the queue's service-level threshold),
    ``abandoned``, ``completed``, and two service levels named for what they are:
    ``answered_percent`` (answered / offered, the DialOk definition) and
    ``service_level_percent`` (answered within the threshold / offered); and
    ``closed_by_policy`` (turned away by service hours or limits), ``callbacks_requested``,
    ``callbacks_made`` (dials), ``callbacks_reached``, ``callbacks_unreached``.

The fold is deterministic: replaying the log from the start, or from a snapshot that
carries this state, gives the same entries (``ccroute project --rebuild``).
"""

from __future__ import annotations

import datetime as _dt
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

import msgspec
from msgspec import Struct, field

from ccroute.config import Config
from ccroute.events import PHONE_CHANNELS, AgentProfileChanged
from ccroute.hours import is_open
from ccroute.metrics import (
    ContactTally,
    MetricOptions,
    add_abandon,
    add_answer,
    figures_of,
    headline,
)
from ccroute.service.subjects import Names

__all__ = ["DecisionView", "Projections"]


class DecisionView(Struct, gc=False):
    """The fields of a decision that routing and the fold use; the rest are skipped.

    Decoding every decision into its full typed struct would cost the service more than
    the engine does; this one flat struct is decoded from the engine's output in one call.
    """

    type: str
    ts: int = 0
    tenant: str | None = None
    contact: str | None = None
    queue: str | None = None
    channel: str | None = None
    agent: str | None = None
    state: str | None = None
    reason: msgspec.Raw = msgspec.Raw(b"null")
    """A string in ``agent_state_set``, an object in ``offer_made``: decoded when needed."""
    wait_ms: int = 0
    outcome: str | None = None
    code: str | None = None
    attempt: int = 0
    open: bool = True
    to_queue: str | None = None


view_list_decoder = msgspec.json.Decoder(list[DecisionView])

_OPTIONS = MetricOptions()
"""The figures' definitions: the report's defaults (``docs/reports.md``)."""
_TALLY_INTS = (
    "arrived",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_t",
    "abandoned_within_t",
    "wait_answered_ms",
    "wait_abandoned_ms",
    "max_wait_ms",
    "target_bp_sum",
    "partner_answered",
)
"""The sums of a :class:`ContactTally` the live fold keeps (answers, abandons, arrivals)."""


def today_figures(t: ContactTally | None) -> dict[str, object]:
    """The day-so-far figures of a tally, defined by :mod:`ccroute.metrics` as the report's
    (handle time and occupancy are the report's: not kept live)."""
    out = headline(figures_of(t or ContactTally(), None, _OPTIONS))
    for name in ("handled", "aht_seconds", "occupancy_percent"):
        del out[name]
    return out


def _tally_of(sums: dict[str, int]) -> ContactTally:
    t = ContactTally()
    for name in _TALLY_INTS:
        setattr(t, name, int(sums.get(name, 0)))
    return t


class AgentEntry(Struct, gc=False):
    """An agent's KV entry (``agent.<agent>``), field by field in the stored order; the
    load and capacity maps are written with their keys sorted."""

    agent: str
    state: str
    reason: str | None
    since: int
    load: dict[str, int]
    capacity: dict[str, int]
    offers: int
    as_of: int


class _Agent(Struct):
    state: str = "offline"
    reason: str | None = None
    since: int = 0
    load: dict[str, int] = field(default_factory=dict)
    offers: int = 0
    phone: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    tenants: list[str] = field(default_factory=lambda: ["*"])
    capacity: dict[str, int] = field(default_factory=dict)


class _Contact(Struct, array_like=True, gc=False):
    tenant: str
    contact: str
    queue: str
    channel: str
    arrived: int
    agent: str | None = None
    phase: str = "routing"
    """queued, offered, active, interrupted, wrap_up; routing between two of them."""
    answered: bool = False
    """Its answer is counted (a transfer's or a redial's acceptance is not another)."""


class _Day(Struct):
    date: str = ""
    start_ms: int = 0
    end_ms: int = 0
    tallies: dict[str, dict[str, int]] = field(default_factory=dict)
    """The day's contact sums (:class:`ccroute.metrics.ContactTally`) per queue (``""``:
    the whole tenant), as stored in a snapshot; kept as tallies in memory."""
    offers_expired: dict[str, int] = field(default_factory=dict)
    """Offers that rang out today, per queue, counted when they expire."""
    completed: int = 0
    closed_by_policy: int = 0
    callbacks_requested: int = 0
    callbacks_made: int = 0
    callbacks_reached: int = 0
    callbacks_unreached: int = 0


class _State(Struct):
    """The fold's state as it goes into a snapshot."""

    clock: int = 0
    agents: dict[str, _Agent] = field(default_factory=dict)
    contacts: list[_Contact] = field(default_factory=list)
    waiting: list[tuple[str, str, str, int]] = field(default_factory=list)
    """(tenant, queue, contact, arrived) of each waiting contact."""
    available: list[tuple[str, str, int]] = field(default_factory=list)
    days: dict[str, _Day] = field(default_factory=dict)
    closed_queues: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(tenant, queue, rerouted to) of each queue not open."""


class _Contacts:
    """The open contacts by (tenant, contact), stored one dict per tenant keyed by the
    contact's id: a hundred thousand waiting contacts would otherwise each keep a key
    tuple (56 bytes) besides the strings it holds."""

    __slots__ = ("_tenants",)

    def __init__(self) -> None:
        self._tenants: dict[str, dict[str, _Contact]] = {}

    def get(self, key: _Key) -> _Contact | None:
        t = self._tenants.get(key[0])
        return None if t is None else t.get(key[1])

    def pop(self, key: _Key, default: None = None) -> _Contact | None:
        t = self._tenants.get(key[0])
        return default if t is None else t.pop(key[1], default)

    def __setitem__(self, key: _Key, c: _Contact) -> None:
        t = self._tenants.get(key[0])
        if t is None:
            t = self._tenants[key[0]] = {}
        t[key[1]] = c

    def __len__(self) -> int:
        return sum(len(t) for t in self._tenants.values())

    def values(self) -> Iterator[_Contact]:
        for t in self._tenants.values():
            yield from t.values()


_state_enc = msgspec.msgpack.Encoder()
_state_dec = msgspec.msgpack.Decoder(_State)
_json = msgspec.json.Encoder()
_agent_json = msgspec.json.Encoder(order="deterministic")
"""Agent entries: their load and capacity maps in key order, as readers have had them."""

_Key = tuple[str, str]
"""(tenant, contact) of a contact, (tenant, queue) of a queue: tuples of strings hash
cheaply, which matters at tens of thousands of decisions a second."""


class Projections:
    """The fold; :meth:`fold` per input's decisions, :meth:`drain` for the changed entries."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._thresholds: dict[_Key, int] = {
            (q.tenant, q.id): q.service_level.threshold_seconds * 1000 for q in config.queues
        }
        self._queues: dict[_Key, tuple[frozenset[str], dict[str, int]]] = {
            (q.tenant, q.id): (frozenset(q.channels), dict(q.skills)) for q in config.queues
        }
        self._zones: dict[str, _dt.tzinfo] = {}
        for t in config.tenants:
            try:
                self._zones[t.id] = zoneinfo.ZoneInfo(t.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                self._zones[t.id] = _dt.UTC
        self.clock = 0
        self.agents: dict[str, _Agent] = {
            a.id: _Agent(
                skills=dict(a.skills),
                tenants=list(a.tenants),
                capacity={str(k): v for k, v in a.capacity.items()},
            )
            for a in config.agents
        }
        self.contacts = _Contacts()
        self.waiting: dict[_Key, dict[str, int]] = {qk: {} for qk in self._queues}
        """Per queue, the waiting contacts' ids (the tenant is the queue's) and arrivals."""
        self._oldest: dict[_Key, int] = {}
        """Per queue, the earliest arrival waiting, once asked for (see _oldest_waiting)."""
        self._names: dict[str, str] = {}
        """One copy of each tenant, queue and channel name: every decision decodes its
        own, and a hundred thousand waiting contacts would each keep three."""
        self.available: dict[_Key, int] = dict.fromkeys(self._queues, 0)
        self.days: dict[str, _Day] = {}
        self._tallies: dict[str, dict[str, ContactTally]] = {}
        """Per tenant, the day's tallies per queue (``""``: the whole tenant)."""
        self._targets: dict[_Key, int] = {
            (q.tenant, q.id): round(100 * q.service_level.target_percent) for q in config.queues
        }
        self._partners = {a.id: a.partner is not None for a in config.agents}
        self._short_ms = round(1000 * _OPTIONS.short_abandon_seconds)
        self._dirty_queue_days: set[_Key] = set()
        self.closed_queues: dict[_Key, str | None] = {}
        """Queues not open now, with where an emergency reroutes them (or ``None``)."""
        self._dirty_agents: set[str] = set(self.agents)
        self._dirty_queues: set[_Key] = set(self._queues)
        self._dirty_days: set[str] = set()
        self._counted: dict[str, tuple[_Key, ...]] = {}
        """The queues each agent counts towards in ``available`` (see _count_agent)."""
        self._serving: dict[str, dict[tuple[str, ...], tuple[_Key, ...]]] = {}
        """Per agent, by the channels it has room on, the queues it counts towards: its
        tenants and skills change only with its profile, while its state and load change
        with nearly every decision about it (and an agent's channels with room take few
        combinations)."""
        self._dispatch: dict[str, Callable[[DecisionView], None]] = {
            "offer_made": self._offer_made,
            "contact_queued": self._queued,
            "offer_expired": self._offer_ended,
            "offer_revoked": self._offer_ended,
            "contact_assigned": self._assigned,
            "wrap_up_started": self._phase,
            "contact_closed": self._closed,
            "agent_state_set": self._agent_state,
            "work_interrupted": self._phase,
            "work_resumed": self._phase,
            "callback_scheduled": self._callback_scheduled,
            "callback_attempted": self._callback_attempted,
            "contact_moved": self._moved,
            "queue_status": self._queue_status,
        }

    # ------------------------------------------------------------------ state io

    def to_bytes(self) -> bytes:
        """The whole fold state (goes into each snapshot beside the engine's)."""
        return _state_enc.encode(
            _State(
                clock=self.clock,
                agents=self.agents,
                contacts=list(self.contacts.values()),
                waiting=[
                    (qk[0], qk[1], contact, arrived)
                    for qk, w in self.waiting.items()
                    for contact, arrived in w.items()
                ],
                available=[(qk[0], qk[1], n) for qk, n in self.available.items()],
                days={t: self._stored_day(t, d) for t, d in self.days.items()},
                closed_queues=[(qk[0], qk[1], to) for qk, to in self.closed_queues.items()],
            )
        )

    def load_bytes(self, data: bytes) -> None:
        """Continue from :meth:`to_bytes`; every entry is written again at the next drain."""
        st = _state_dec.decode(data)
        self.clock = st.clock
        self.agents = st.agents
        self.contacts = _Contacts()
        name = self._name
        for c in st.contacts:
            c.tenant, c.queue, c.channel = name(c.tenant), name(c.queue), name(c.channel)
            self.contacts[(c.tenant, c.contact)] = c
        self.waiting = {qk: {} for qk in self._queues}
        self._oldest = {}
        for tenant, queue, contact, arrived in st.waiting:
            held = self.contacts.get((tenant, contact))
            key = held.contact if held is not None else contact  # one copy of the id
            self.waiting.setdefault((tenant, queue), {})[key] = arrived
        # Counted again from the agents (all marked changed below): the counts follow from
        # them, and each agent's share must be known to be taken back later.
        self.available = dict.fromkeys(self._queues, 0)
        self._counted = {}
        self._serving = {}
        self.days = st.days
        self._tallies = {
            t: {q: _tally_of(sums) for q, sums in d.tallies.items()} for t, d in self.days.items()
        }
        for d in self.days.values():
            d.tallies = {}
        self.closed_queues = {(t, q): to for t, q, to in st.closed_queues}
        self.mark_all_dirty()

    def mark_all_dirty(self) -> None:
        self._dirty_agents = set(self.agents)
        self._dirty_queues = set(self._queues)
        self._dirty_days = set(self.days)

    # ----------------------------------------------------------------------- fold

    def on_decisions(self, decisions: Iterable[DecisionView]) -> None:
        self.fold(list(decisions))

    def on_decision(self, d: DecisionView) -> None:
        self.fold([d])

    def fold(self, views: list[DecisionView]) -> None:
        """Fold one input's decisions (the three commonest types are written out inline)."""
        if self.clock == 0 and views:
            self._start_hours(views[0].ts)
        contacts = self.contacts
        agents = self.agents
        dirty_agents = self._dirty_agents
        for d in views:
            t = d.type
            if d.ts > self.clock:
                self.clock = d.ts
            if t == "offer_made":
                key = (d.tenant or "", d.contact or "")
                c = contacts.get(key)
                if c is None:
                    c = self._new_contact(d, key)
                else:
                    if c.agent is not None:  # the previous offer ended by a rejection
                        self._release(c)
                    if c.phase == "queued":
                        self._unqueue(c)
                agent = d.agent or ""
                a = agents.get(agent)
                if a is None:
                    a = agents[agent] = _Agent()
                ch = c.channel
                a.load[ch] = a.load.get(ch, 0) + 1
                a.offers += 1
                if ch in PHONE_CHANNELS:
                    a.phone += 1
                c.agent = agent
                c.phase = "offered"
                dirty_agents.add(agent)
            elif t == "contact_assigned":
                tenant = d.tenant or ""
                c = contacts.get((tenant, d.contact or ""))
                agent = d.agent or ""
                if c is not None and c.agent == agent and c.phase == "offered":
                    c.phase = "active"
                    agents[agent].offers -= 1
                    dirty_agents.add(agent)
                # A contact's first acceptance is its answer; a callback's wait is the
                # time to call back, not a speed of answer (metrics.add_answer).
                if c is None or (not c.answered and c.channel != "callback"):
                    if c is not None:
                        c.answered = True
                    qk = (tenant, d.queue or "")
                    thr = self._thresholds.get(qk, 20_000)
                    target = self._targets.get(qk, 8000)
                    partner = self._partners.get(agent, False)
                    for tally in self._day_tallies(tenant, qk[1], d.ts):
                        add_answer(tally, d.wait_ms, thr, target, partner=partner)
            elif t == "contact_closed":
                self._closed(d)
            else:
                fn = self._dispatch.get(t)
                if fn is not None:
                    fn(d)

    def on_profile(self, e: AgentProfileChanged) -> None:
        """An agent's skills, tenants or capacities changed (inputs are never rejected)."""
        a = self.agents.get(e.agent)
        if a is None:
            a = self.agents[e.agent] = _Agent()
        if e.skills is not None:
            a.skills = dict(e.skills)
        if e.tenants is not None:
            a.tenants = list(e.tenants)
        if e.capacity is not None:
            a.capacity = {str(k): v for k, v in e.capacity.items()}
        self._serving.pop(e.agent, None)
        self._dirty_agents.add(e.agent)

    def _agent(self, agent: str) -> _Agent:
        a = self.agents.get(agent)
        if a is None:
            a = self.agents[agent] = _Agent()
        return a

    def _day(self, tenant: str, ts: int) -> _Day:
        self._dirty_days.add(tenant)
        day = self.days.get(tenant)
        if day is not None and day.start_ms <= ts < day.end_ms:
            return day
        tz = self._zones.get(tenant, _dt.UTC)
        local = _dt.datetime.fromtimestamp(ts / 1000, tz)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = (start + _dt.timedelta(days=1, hours=3)).replace(hour=0)  # DST-proof
        date = local.date().isoformat()
        if day is None or day.date != date:
            day = _Day(date=date)
            self.days[tenant] = day
            self._tallies[tenant] = {}
            self._dirty_queue_days.update(qk for qk in self._queues if qk[0] == tenant)
        day.start_ms = int(start.timestamp() * 1000)
        day.end_ms = int(end.timestamp() * 1000)
        return day

    # The fields a decision type always carries are read with ``or ""``: the view makes
    # them optional only because one struct serves every type.

    def _name(self, s: str) -> str:
        return self._names.setdefault(s, s)

    def _new_contact(self, d: DecisionView, key: _Key) -> _Contact:
        name = self._name
        key = (name(key[0]), key[1])
        c = _Contact(key[0], key[1], name(d.queue or ""), name(d.channel or ""), d.ts)
        self.contacts[key] = c
        for t in self._day_tallies(key[0], c.queue, d.ts):
            t.arrived += 1
        return c

    def _day_tallies(self, tenant: str, queue: str, ts: int) -> tuple[ContactTally, ContactTally]:
        """Today's tallies of the tenant and of its queue (in the tenant's time zone)."""
        self._day(tenant, ts)
        per_queue = self._tallies.setdefault(tenant, {})
        whole = per_queue.get("")
        if whole is None:
            whole = per_queue[""] = ContactTally()
        one = per_queue.get(queue)
        if one is None:
            one = per_queue[queue] = ContactTally()
        self._dirty_queue_days.add((tenant, queue))
        return whole, one

    def _stored_day(self, tenant: str, d: _Day) -> _Day:
        sums = {
            q: {f: getattr(t, f) for f in _TALLY_INTS}
            for q, t in self._tallies.get(tenant, {}).items()
        }
        return msgspec.structs.replace(d, tallies=sums)

    def _release(self, c: _Contact) -> None:
        if c.agent is None:
            return
        a = self._agent(c.agent)
        left = a.load.get(c.channel, 0) - 1
        if left > 0:
            a.load[c.channel] = left
        else:
            a.load.pop(c.channel, None)
        if c.phase == "offered":
            a.offers -= 1
        if c.channel in PHONE_CHANNELS:
            a.phone -= 1
        self._dirty_agents.add(c.agent)
        c.agent = None
        c.phase = "routing"

    def _unqueue(self, c: _Contact) -> None:
        if c.phase == "queued":
            qk = (c.tenant, c.queue)
            w = self.waiting.get(qk)
            if w is not None and w.pop(c.contact, None) == self._oldest.get(qk):
                self._oldest.pop(qk, None)  # the oldest left: found again when asked
            self._dirty_queues.add(qk)

    def _enqueue(self, qk: _Key, c: _Contact) -> None:
        self.waiting.setdefault(qk, {})[c.contact] = c.arrived
        oldest = self._oldest.get(qk)
        if oldest is not None and c.arrived < oldest:
            self._oldest[qk] = c.arrived

    def _oldest_waiting(self, qk: _Key) -> int | None:
        """The earliest arrival waiting in a queue, kept between calls: with a hundred
        thousand contacts waiting a scan on every write was the flush's largest cost."""
        oldest = self._oldest.get(qk)
        if oldest is None:
            waiting = self.waiting.get(qk)
            if waiting:
                oldest = self._oldest[qk] = min(waiting.values())
        return oldest

    def _offer_made(self, d: DecisionView) -> None:
        self.fold([d])

    def _queued(self, d: DecisionView) -> None:
        key = (d.tenant or "", d.contact or "")
        c = self.contacts.get(key)
        if c is None:
            c = self._new_contact(d, key)
        elif c.agent is not None:
            self._release(c)
        qk = (c.tenant, c.queue)
        self._enqueue(qk, c)
        c.phase = "queued"
        self._dirty_queues.add(qk)

    def _offer_ended(self, d: DecisionView) -> None:
        key = (d.tenant or "", d.contact or "")
        c = self.contacts.get(key)
        if d.type == "offer_expired" and c is not None:
            day = self._day(c.tenant, d.ts)
            day.offers_expired[c.queue] = day.offers_expired.get(c.queue, 0) + 1
            self._dirty_queue_days.add((c.tenant, c.queue))
        if c is not None and c.agent == d.agent:
            self._release(c)
            if d.type == "offer_revoked" and d.reason == b'"queue_closed"':
                # A callback its closing queue took back waits there, parked: no
                # contact_queued follows.
                qk = (c.tenant, c.queue)
                self._enqueue(qk, c)
                c.phase = "queued"
                self._dirty_queues.add(qk)

    def _assigned(self, d: DecisionView) -> None:
        self.fold([d])

    _PHASES: ClassVar[dict[str, str]] = {
        "wrap_up_started": "wrap_up",
        "work_interrupted": "interrupted",
        "work_resumed": "active",
    }

    def _phase(self, d: DecisionView) -> None:
        c = self.contacts.get((d.tenant or "", d.contact or ""))
        if c is not None:
            c.phase = self._PHASES[d.type]

    def _closed(self, d: DecisionView) -> None:
        tenant = d.tenant or ""
        c = self.contacts.pop((tenant, d.contact or ""), None)
        if c is not None:
            self._release(c)
            self._unqueue(c)
        day = self._day(tenant, d.ts)
        queue = c.queue if c is not None else d.queue or ""
        if c is None:
            # Closed at arrival (a policy turned it away): it arrived all the same.
            for t in self._day_tallies(tenant, queue, d.ts):
                t.arrived += 1
        if d.outcome == "abandoned":
            qk = (tenant, queue)
            wait = d.ts - c.arrived if c is not None else 0
            thr = self._thresholds.get(qk, 20_000)
            target = self._targets.get(qk, 8000)
            for t in self._day_tallies(tenant, queue, d.ts):
                add_abandon(t, wait, thr, target, self._short_ms)
        elif d.outcome == "closed":
            day.closed_by_policy += 1
        elif d.outcome == "callback_unreached":
            day.callbacks_unreached += 1
        else:
            day.completed += 1

    def _callback_scheduled(self, d: DecisionView) -> None:
        # A callback lines up without a contact_queued: this decision says it waits.
        key = (d.tenant or "", d.contact or "")
        c = self.contacts.get(key)
        if c is None:
            c = self._new_contact(d, key)
        elif c.agent is not None:
            self._release(c)
        c.channel = "callback"
        if d.attempt == 0:
            self._day(c.tenant, d.ts).callbacks_requested += 1
        qk = (c.tenant, c.queue)
        self._enqueue(qk, c)
        c.phase = "queued"
        self._dirty_queues.add(qk)

    def _callback_attempted(self, d: DecisionView) -> None:
        tenant = d.tenant or ""
        day = self._day(tenant, d.ts)
        day.callbacks_made += 1
        if d.outcome == "reached":
            day.callbacks_reached += 1
            return
        # No answer: the agent lets go of it now; a retry or a close follows.
        c = self.contacts.get((tenant, d.contact or ""))
        if c is not None and c.agent == d.agent:
            self._release(c)

    def _moved(self, d: DecisionView) -> None:
        c = self.contacts.get((d.tenant or "", d.contact or ""))
        if c is None:
            return
        self._unqueue(c)
        c.phase = "routing"
        c.queue = self._name(d.queue or c.queue)
        c.channel = self._name(d.channel or c.channel)

    def _start_hours(self, ts: int) -> None:
        """The queues the schedule has closed when the log starts. The engine takes its
        starting state silently (routing.md 4b); no change can come before the first
        decision without being one, so the schedule at that decision's time is it."""
        tenants = {t.id: t for t in self.config.tenants}
        for q in self.config.queues:
            t = tenants.get(q.tenant)
            if q.hours is None or t is None:
                continue
            if not is_open(q.hours, t.timezone, t.holidays, ts)[0]:
                self.closed_queues[(q.tenant, q.id)] = None
                self._dirty_queues.add((q.tenant, q.id))

    def _queue_status(self, d: DecisionView) -> None:
        qk = (d.tenant or "", d.queue or "")
        if d.open:
            self.closed_queues.pop(qk, None)
        else:
            self.closed_queues[qk] = d.to_queue
        self._dirty_queues.add(qk)

    def _agent_state(self, d: DecisionView) -> None:
        agent = d.agent or ""
        a = self._agent(agent)
        a.state = d.state or "offline"
        reason = msgspec.json.decode(d.reason)
        a.reason = reason if isinstance(reason, str) else None
        a.since = d.ts
        self._dirty_agents.add(agent)

    # ---------------------------------------------------------------------- reads

    def _serves(self, a: _Agent, tenant: str, skills: dict[str, int]) -> bool:
        if "*" not in a.tenants and tenant not in a.tenants:
            return False
        return all(a.skills.get(k, 0) >= v for k, v in skills.items())

    def _count_agent(self, agent: str) -> None:
        """Bring the queues' ``agents_available`` up to date with one agent's state.

        Each agent's contribution is kept (the queues it counts towards), so a change
        costs that agent's queues, not every agent times every queue: with thousands of
        agents a full recount on each flush was the largest pause of the writer's loop.
        """
        a = self.agents.get(agent)
        now: tuple[_Key, ...] = ()
        if a is not None and a.state == "available" and a.phone == 0:
            by_room = self._serving.get(agent)
            if by_room is None:
                by_room = self._serving[agent] = {}
            load = a.load
            room = tuple([ch for ch, cap in a.capacity.items() if cap > load.get(ch, 0)])
            found = by_room.get(room)
            if found is None:
                found = by_room[room] = tuple(
                    qk
                    for qk, (channels, skills) in self._queues.items()
                    if not channels.isdisjoint(room) and self._serves(a, qk[0], skills)
                )
            now = found
        before = self._counted.get(agent, ())
        if now is before or now == before:
            return
        if now:
            self._counted[agent] = now
        else:
            self._counted.pop(agent, None)
        available = self.available
        for qk in before:
            if qk not in now:
                available[qk] -= 1
                self._dirty_queues.add(qk)
        for qk in now:
            if qk not in before:
                available[qk] = available.get(qk, 0) + 1
                self._dirty_queues.add(qk)

    def agent_entry(self, agent: str) -> AgentEntry:
        a = self.agents[agent]
        return AgentEntry(
            agent, a.state, a.reason, a.since, a.load, a.capacity, a.offers, self.clock
        )

    def queue_entry(self, qk: _Key) -> dict[str, object]:
        tenant, queue = qk
        waiting = self.waiting.get(qk, {})
        oldest = self._oldest_waiting(qk)
        return {
            "tenant": tenant,
            "queue": queue,
            "waiting": len(waiting),
            "oldest_arrived_at": oldest,
            "oldest_wait_ms": (self.clock - oldest) if oldest is not None else 0,
            "agents_available": self.available.get(qk, 0),
            "open": qk not in self.closed_queues,
            "rerouted_to": self.closed_queues.get(qk),
            "today": self.queue_today(qk),
            "as_of": self.clock,
        }

    def day_tally(self, tenant: str, queue: str = "") -> ContactTally | None:
        """Today's sums of a queue (``""``: the whole tenant), ``None`` before any contact."""
        return self._tallies.get(tenant, {}).get(queue)

    def queue_today(self, qk: _Key) -> dict[str, object]:
        """The queue's figures so far today (the tenant's day), as the report defines them."""
        tenant, queue = qk
        day = self.days.get(tenant)
        return {
            "date": day.date if day is not None else None,
            **today_figures(self._tallies.get(tenant, {}).get(queue)),
            "offers_expired": day.offers_expired.get(queue, 0) if day is not None else 0,
        }

    def tenant_entry(self, tenant: str) -> dict[str, object]:
        d = self.days[tenant]
        return {
            "tenant": tenant,
            "date": d.date,
            **today_figures(self._tallies.get(tenant, {}).get("")),
            "completed": d.completed,
            "offers_expired": sum(d.offers_expired.values()),
            "closed_by_policy": d.closed_by_policy,
            "callbacks_requested": d.callbacks_requested,
            "callbacks_made": d.callbacks_made,
            "callbacks_reached": d.callbacks_reached,
            "callbacks_unreached": d.callbacks_unreached,
            "as_of": self.clock,
        }

    def pending(self) -> int:
        """Entries changed and not yet drained."""
        return len(self._dirty_agents) + len(self._dirty_queues) + 2 * len(self._dirty_days)

    def changed_agents(self) -> int:
        """Agents whose entries changed and are not yet drained."""
        return len(self._dirty_agents)

    def drain(self, limit: int | None = None, *, shared: bool = True) -> list[tuple[str, bytes]]:
        """(KV key, JSON value) of the entries changed since the last drain: all of them,
        or at most ``limit`` agents' (the rest stay changed for the next drain) with every
        changed queue and tenant, so that a writer can spread the work over its loop
        instead of stopping for thousands of agents. ``shared=False``: agents only (the
        later chunks of one flush: queues and tenants change with nearly every input, and
        written with each chunk they would be most of the writes)."""
        out: list[tuple[str, bytes]] = []
        self._dirty_queues |= self._dirty_queue_days
        self._dirty_queue_days.clear()
        budget = (1 << 62) if limit is None else max(1, limit)
        dirty = self._dirty_agents
        agents = (
            sorted(dirty)
            if limit is None
            else [dirty.pop() for _ in range(min(budget, len(dirty)))]
        )
        if limit is None:
            dirty.clear()
        for agent in agents:
            self._count_agent(agent)
            if agent in self.agents:
                out.append((Names.agent_key(agent), _agent_json.encode(self.agent_entry(agent))))
        # Queues and days are few and written with a flush's first chunk: a queue's entry
        # must not wait behind a backlog of agents (its agents_available catches up as
        # they are).
        if not shared:
            return out
        if self._dirty_queues:
            for qk in sorted(self._dirty_queues):
                if qk in self._queues:
                    out.append((Names.queue_key(*qk), _json.encode(self.queue_entry(qk))))
            self._dirty_queues.clear()
        if self._dirty_days:
            for tenant in sorted(self._dirty_days):
                if tenant in self.days:
                    value = _json.encode(self.tenant_entry(tenant))
                    out.append((Names.tenant_key(tenant), value))
                    out.append((Names.tenant_day_key(tenant, self.days[tenant].date), value))
            self._dirty_days.clear()
        return out

    def all_entries(self) -> list[tuple[str, bytes]]:
        """Every entry (a rebuild writes them all)."""
        self.mark_all_dirty()
        return self.drain()
