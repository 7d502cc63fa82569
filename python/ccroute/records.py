"""The contact-record projection: one row per contact, one row per agent presence interval.

:class:`ContactRecorder` is fed every input together with the decisions it caused, in log
order -- the same feed the live service and the simulator have -- and keeps:

- one :class:`ContactRecord` per contact (tenant, contact id): every timestamp from arrival
  to close, the waits and handle times, the answering agent, tags, wrap-up code and the
  customer's survey answer;
- one :class:`AgentActivity` per agent presence interval (available, paused with a reason,
  not responding, offline);
- the item-level busy intervals (:class:`AgentWork`), one per answered contact.

All times are UTC milliseconds. Times come from the engine's view of the clock: a decision
carries its own ``ts`` (a timer fires at its due time), and an input stamped behind the
engine's clock counts at the clock, as the engine applies it (``docs/routing.md`` s. 1).

:meth:`ContactRecorder.write_duckdb` stores the tables ``contacts``, ``agent_states``,
``agent_work`` and ``meta`` (configuration snapshot); :mod:`ccroute.metrics` and
:mod:`ccroute.reports` read them. Column meanings: ``docs/reports.md``.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from msgspec import Struct

from ccroute.config import Config
from ccroute.events import (
    AgentStateSet,
    AgentStateValue,
    CallbackAttempted,
    CallbackScheduled,
    Channel,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactHandedOver,
    ContactMoved,
    ContactQueued,
    ContactStepReached,
    ContactUpdated,
    Decision,
    Input,
    InputRejected,
    OfferExpired,
    OfferMade,
    OfferRejected,
    OfferRevoked,
    QueueStatus,
    SurveyAnswered,
    WorkInterrupted,
    WrapUpEnded,
    WrapUpStarted,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

Outcome = Literal["completed", "abandoned", "handed_off", "closed", "callback_unreached", "open"]

#: Version of the DuckDB layout written by :meth:`ContactRecorder.write_duckdb`.
#: 2: step, overflow_ms; 3: transfers, handoff; 4: callbacks, policy closes, moves,
#: overflow reasons, accepted_at.
DB_FORMAT_VERSION = 4

# Rejections that happen before the engine's clock moves (docs/routing.md s. 1, steps 1-2).
_NO_TIME_PASSES = frozenset({"malformed", "unsupported_version", "duplicate_event"})


class CallbackDial(Struct, kw_only=True):
    """One dial of a callback: who, from acceptance to the result, and the result."""

    agent: str
    accepted_ms: int
    ms: int
    """When the agent reported the result (``callback_attempted``)."""
    outcome: str


class ContactRecord(Struct, kw_only=True):
    """Everything known about one contact, from arrival to close (and a late survey).

    Timestamps are UTC milliseconds; ``None`` means "has not happened".
    """

    tenant: str
    contact: str
    queue: str
    channel: Channel
    arrived_ms: int
    language: str | None = None
    priority: int = 0
    """The latest priority (arrival, or the last ``contact_updated``)."""
    customer: str | None = None
    page: str | None = None
    """The web page a chat (or form) started from."""
    attributes: dict[str, str] = {}
    tags: list[str] = []
    """Arrival tags (replaced by ``contact_updated``) plus the agent's tags at completion."""
    first_offer_ms: int | None = None
    answered_ms: int | None = None
    """The first acceptance of an offer (``contact_assigned``): the answer. A transfer's
    next acceptance and a callback's later dials leave it, so the answer, once counted,
    stays where it was (the live figures count it then too)."""
    accepted_ms: int | None = None
    """The latest acceptance: where the current agent's work (talk) starts."""
    completed_ms: int | None = None
    """Talk/writing ended (``contact_completed``)."""
    wrap_end_ms: int | None = None
    closed_ms: int | None = None
    abandoned_ms: int | None = None
    wait_ms: int | None = None
    """Arrival to answer, or arrival to abandon."""
    talk_ms: int | None = None
    wrap_ms: int | None = None
    handle_ms: int | None = None
    """Talk plus wrap-up."""
    agent: str | None = None
    agent_team: str | None = None
    agent_partner: str | None = None
    """The outsourcing partner of the answering agent; set means "handled by the partner"."""
    wrap_up_code: str | None = None
    resolved: bool | None = None
    """The agent's own "resolved" flag at completion."""
    offers: int = 0
    offers_rejected: int = 0
    offers_expired: int = 0
    offers_revoked: int = 0
    interruptions: int = 0
    step: int = 0
    """The last routing step the contact reached (0: the queue's own requirements)."""
    overflow_ms: int | None = None
    """When a routing step opened the contact to the outsourcing partner (overflow)."""
    overflow_reason: str | None = None
    """What opened it (``contact_step_reached.reason``: ``step``, ``long_line``, ...)."""
    callback_requested_ms: int | None = None
    """When the contact became a callback (``callback_scheduled`` attempt 0), or its
    arrival if it arrived on channel ``callback``."""
    callback_reason: str | None = None
    """Why it became a callback: ``requested`` or the policy (``outside_hours``, ...)."""
    callback_dials: list[CallbackDial] = []
    """Each dial (``callback_attempted``), in order."""
    moved_ms: int | None = None
    """When a policy first moved it to another queue (``contact_moved``)."""
    moved_from: str | None = None
    """The queue the first move took it from (its queue then)."""
    move_reason: str | None = None
    moves: int = 0
    ticket: bool = False
    """The first move made an e-mail task of it (the ``ticket`` action)."""
    closed_reason: str | None = None
    """Why a policy closed it (outcome ``closed``): ``outside_hours``, ``queue_full``, ..."""
    announcement: str | None = None
    """The announcement played when a policy closed it."""
    transfers: int = 0
    """Times an agent passed the contact on (to a queue, an agent or the client's team)."""
    handoff: str | None = None
    """The client's hand-off point the contact was handed to, if any."""
    survey_ms: int | None = None
    csat: int | None = None
    nps: int | None = None
    ces: int | None = None
    solved: bool | None = None
    """The customer's answer to "was your issue solved?"."""
    outcome: Outcome = "open"

    @property
    def handled_by_partner(self) -> bool:
        """Answered by an agent of the overflow partner."""
        return self.agent_partner is not None

    @property
    def is_callback(self) -> bool:
        """A callback: arrived on channel ``callback``, or became one while waiting."""
        return self.callback_requested_ms is not None or self.channel == "callback"


class AgentActivity(Struct, kw_only=True):
    """One interval of an agent's presence; ``end_ms`` is ``None`` while it lasts."""

    agent: str
    state: AgentStateValue
    reason: str | None
    start_ms: int
    end_ms: int | None = None
    by: Literal["agent", "engine"] = "agent"
    team: str = ""
    partner: str | None = None


class AgentWork(Struct, kw_only=True):
    """One contact held by an agent: from acceptance to close (talk, then wrap-up)."""

    agent: str
    tenant: str
    contact: str
    queue: str
    channel: Channel
    start_ms: int
    talk_end_ms: int | None
    end_ms: int | None
    team: str = ""
    partner: str | None = None


class ContactRecorder:
    """Builds contact records and agent activity from the engine's input/decision feed.

    >>> rec = ContactRecorder(config)  # doctest: +SKIP
    >>> for event in inputs:  # doctest: +SKIP
    ...     rec.observe(event, engine.apply(event))
    >>> rec.write_duckdb("reports/contacts.duckdb")  # doctest: +SKIP

    Every closed contact stays in memory: a month of contacts is small, and late surveys
    must still find their contact.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._agent_info: dict[str, tuple[str, str | None]] = {
            a.id: (a.team, a.partner) for a in config.agents
        }
        self._ticket_queue = {q.id: q.ticket_queue for q in config.queues}
        self._contacts: dict[tuple[str, str], ContactRecord] = {}
        self._states: dict[str, list[AgentActivity]] = {}
        self._agent_contacts: dict[str, list[tuple[str, str]]] = {}
        self._clock = 0
        self.last_touched: list[tuple[str, str]] = []
        """Keys (tenant, contact) of the records the last :meth:`observe` changed."""
        self.last_agents: set[str] = set()
        """Agents whose presence the last :meth:`observe` changed."""

    @classmethod
    def restore(
        cls,
        config: Config,
        records: Iterable[ContactRecord],
        activity: Iterable[AgentActivity],
        clock_ms: int,
    ) -> ContactRecorder:
        """A recorder continuing from stored rows (:mod:`ccroute.record_store`): the records
        in arrival order, each agent's presence intervals in time order, and the clock."""
        rec = cls(config)
        for r in records:
            key = (r.tenant, r.contact)
            rec._contacts[key] = r
            for agent in dict.fromkeys([*(d.agent for d in r.callback_dials), r.agent]):
                if agent is not None:
                    rec._agent_contacts.setdefault(agent, []).append(key)
        for a in activity:
            rec._states.setdefault(a.agent, []).append(a)
        rec._clock = clock_ms
        return rec

    # ------------------------------------------------------------------ reading

    @property
    def config(self) -> Config:
        return self._config

    @property
    def clock_ms(self) -> int:
        """The engine's clock as seen from the feed: the latest event time applied."""
        return self._clock

    def get(self, tenant: str, contact: str) -> ContactRecord | None:
        """The record of one contact, or ``None``."""
        return self._contacts.get((tenant, contact))

    def records(self, tenant: str | None = None) -> list[ContactRecord]:
        """Contact records in arrival order, of one tenant or (``None``) of all."""
        return [r for r in self._contacts.values() if tenant is None or r.tenant == tenant]

    def agents(self) -> list[str]:
        """Agents that have had a presence, in order of first appearance."""
        return list(self._states)

    def agent_activity(self, agent: str | None = None) -> list[AgentActivity]:
        """Presence intervals of one agent or of all, each agent's in time order."""
        if agent is not None:
            return list(self._states.get(agent, ()))
        return [a for acts in self._states.values() for a in acts]

    def agent_contacts(self, agent: str) -> list[ContactRecord]:
        """The contacts an agent answered, in order of acceptance."""
        return [self._contacts[k] for k in self._agent_contacts.get(agent, ())]

    def agent_work(self, tenant: str | None = None) -> list[AgentWork]:
        """Item-level busy intervals, of one tenant's contacts or of all."""
        return work_items(self.records(tenant), self._agent_info)

    # ------------------------------------------------------------------ feeding

    def observe(self, inp: Input, decisions: Sequence[Decision]) -> None:
        """Apply one input and the decisions it caused (in log order)."""
        touched: dict[tuple[str, str], None] = {}
        self.last_agents = set()
        rejected: str | None = None
        for d in decisions:
            if isinstance(d, InputRejected) and d.cause == inp.id:
                rejected = d.code
                break
        if rejected not in _NO_TIME_PASSES:
            # A late input is applied at the engine's clock, not at its own stamp.
            self._clock = max(self._clock, inp.ts)
        if rejected is None:
            self._apply_input(inp, touched)
        for d in decisions:
            self._clock = max(self._clock, d.ts)
            self._apply_decision(d, touched)
        self.last_touched = list(touched)

    def _apply_input(self, inp: Input, touched: dict[tuple[str, str], None]) -> None:
        # Timer decisions listed before the input's own concern other contacts, so the
        # input's facts can be applied first (an arrival must exist before its offer).
        if isinstance(inp, ContactArrived):
            key = (inp.tenant, inp.contact)
            self._contacts[key] = ContactRecord(
                tenant=inp.tenant,
                contact=inp.contact,
                queue=inp.queue,
                channel=inp.channel,
                arrived_ms=self._clock,
                language=inp.language,
                priority=inp.priority,
                customer=inp.customer,
                page=inp.page,
                attributes=dict(inp.attributes),
                tags=_unique(inp.tags),
            )
            if inp.channel == "callback":
                self._contacts[key].callback_requested_ms = self._clock
                self._contacts[key].callback_reason = "requested"
            touched[key] = None
            return
        if not isinstance(inp, ContactUpdated | OfferRejected | ContactCompleted | SurveyAnswered):
            return  # agent inputs show up as agent_state_set decisions
        key = (inp.tenant, inp.contact)
        rec = self._contacts.get(key)
        if rec is None:
            return
        touched[key] = None
        if isinstance(inp, ContactUpdated):
            if inp.priority is not None:
                rec.priority = inp.priority
            if inp.tags is not None:
                rec.tags = _unique(inp.tags)  # the engine replaces the tag list
        elif isinstance(inp, OfferRejected):
            rec.offers_rejected += 1
        elif isinstance(inp, ContactCompleted):
            rec.wrap_up_code = inp.wrap_up_code
            rec.resolved = inp.resolved
            rec.tags = _unique([*rec.tags, *inp.tags])
        elif rec.survey_ms is None:
            # The first answer counts: a figure, once reported for an interval, stays.
            rec.survey_ms = self._clock
            rec.csat, rec.nps, rec.ces, rec.solved = inp.csat, inp.nps, inp.ces, inp.solved

    def _apply_decision(self, d: Decision, touched: dict[tuple[str, str], None]) -> None:
        if isinstance(d, AgentStateSet):
            self._set_state(d)
            return
        if isinstance(d, InputRejected | QueueStatus):
            return  # a queue opening or closing is not a fact of any one contact
        key = (d.tenant, d.contact)
        rec = self._contacts.get(key)
        if rec is None:
            if not isinstance(d, OfferMade | ContactQueued | ContactAssigned | ContactClosed):
                return
            # A feed joined mid-stream: keep what the decisions tell.
            arrived = d.ts - d.wait_ms if isinstance(d, ContactAssigned) else d.ts
            rec = ContactRecord(
                tenant=d.tenant,
                contact=d.contact,
                queue=d.queue,
                channel=d.channel,
                arrived_ms=arrived,
            )
            self._contacts[key] = rec
        touched[key] = None
        if isinstance(d, OfferMade):
            rec.offers += 1
            if rec.first_offer_ms is None:
                rec.first_offer_ms = d.ts
        elif isinstance(d, OfferExpired):
            rec.offers_expired += 1
        elif isinstance(d, OfferRevoked):
            rec.offers_revoked += 1
        elif isinstance(d, ContactAssigned):
            if rec.answered_ms is None and not rec.callback_dials:
                # The first acceptance is the answer; a transfer's next one is not another.
                rec.answered_ms = d.ts
                rec.wait_ms = d.wait_ms
            if rec.accepted_ms is None or rec.agent != d.agent:
                self._agent_contacts.setdefault(d.agent, []).append(key)
            rec.accepted_ms = d.ts
            rec.agent = d.agent
            rec.agent_team, rec.agent_partner = self._agent_info.get(d.agent, ("", None))
        elif isinstance(d, WrapUpStarted):
            rec.completed_ms = d.ts
        elif isinstance(d, WrapUpEnded):
            rec.wrap_end_ms = d.ts
        elif isinstance(d, WorkInterrupted):
            rec.interruptions += 1
        elif isinstance(d, ContactHandedOver):
            rec.transfers += 1
            rec.queue = d.queue
            if d.handoff is not None:
                rec.handoff = d.handoff
        elif isinstance(d, ContactStepReached):
            rec.step = d.step
            if d.partner and rec.overflow_ms is None:
                rec.overflow_ms = d.ts
                rec.overflow_reason = d.reason
        elif isinstance(d, CallbackScheduled):
            if d.attempt == 0 and rec.callback_requested_ms is None:
                rec.callback_requested_ms = d.ts
                rec.callback_reason = d.reason
        elif isinstance(d, CallbackAttempted):
            accepted = rec.accepted_ms if rec.accepted_ms is not None else d.ts
            dial = CallbackDial(agent=d.agent, accepted_ms=accepted, ms=d.ts, outcome=d.outcome)
            rec.callback_dials = [*rec.callback_dials, dial]
            if d.outcome != "reached":
                # The agent let go of it: the busy span is the dial's, not the record's.
                rec.accepted_ms = None
        elif isinstance(d, ContactMoved):
            rec.moves += 1
            if rec.moved_ms is None:
                # The first move is the fact reports count, so what it was stays put.
                rec.moved_ms = d.ts
                rec.moved_from = d.from_queue
                rec.move_reason = d.reason
                # A reroute keeps the channel; the ticket action files it as an e-mail.
                rec.ticket = d.channel == "email" and d.queue == self._ticket_queue.get(
                    d.from_queue
                )
            rec.queue = d.queue
        elif isinstance(d, ContactClosed):
            rec.closed_ms = d.ts
            rec.outcome = d.outcome
            if d.outcome == "abandoned":
                rec.abandoned_ms = d.ts
                rec.wait_ms = d.ts - rec.arrived_ms
            elif d.outcome == "closed":
                rec.closed_reason = d.reason
                rec.announcement = d.announcement
                rec.wait_ms = d.ts - rec.arrived_ms
            elif d.outcome != "callback_unreached":
                # Without a wrap-up phase, talk ends and the contact closes at once.
                if rec.completed_ms is None:
                    rec.completed_ms = d.ts
                if rec.wrap_end_ms is None:
                    rec.wrap_end_ms = d.ts
                if rec.accepted_ms is not None:
                    rec.talk_ms = rec.completed_ms - rec.accepted_ms
                    rec.wrap_ms = rec.wrap_end_ms - rec.completed_ms
                    rec.handle_ms = rec.talk_ms + rec.wrap_ms

    def _set_state(self, d: AgentStateSet) -> None:
        acts = self._states.setdefault(d.agent, [])
        if acts and acts[-1].end_ms is None:
            acts[-1].end_ms = d.ts
        team, partner = self._agent_info.get(d.agent, ("", None))
        acts.append(
            AgentActivity(
                agent=d.agent,
                state=d.state,
                reason=d.reason,
                start_ms=d.ts,
                by=d.by,
                team=team,
                partner=partner,
            )
        )
        self.last_agents.add(d.agent)

    # ------------------------------------------------------------------ storing

    def to_arrow(self) -> dict[str, pa.Table]:
        """The tables ``contacts``, ``agent_states`` and ``agent_work`` as Arrow tables."""
        return {
            "contacts": contacts_to_arrow(self.records()),
            "agent_states": _to_arrow(_STATE_COLUMNS, self.agent_activity()),
            "agent_work": _to_arrow(_WORK_COLUMNS, self.agent_work()),
        }

    def write_duckdb(self, path: str | Path, *, replace: bool = True) -> None:
        """Write ``contacts``, ``agent_states``, ``agent_work`` and ``meta`` to a DuckDB file.

        ``replace`` drops the tables first; otherwise rows are appended (a contact written
        twice is then there twice) and the ``meta`` keys are overwritten.
        """
        import duckdb

        tables = self.to_arrow()
        con = duckdb.connect(str(path))
        try:
            con.begin()
            for name, table in tables.items():
                _store(con, name, table, _DDL[name], replace=replace)
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            meta = {
                "format_version": str(DB_FORMAT_VERSION),
                "as_of_ms": str(self._clock),
                "config": msgspec.json.encode(self._config).decode(),
            }
            for k, v in meta.items():
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
            con.commit()
        finally:
            con.close()


# ---------------------------------------------------------------------- helpers


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def busy_spans(r: ContactRecord) -> list[tuple[str, int, int | None, int | None]]:
    """(agent, accepted, talk ended, let go) of every time an agent held the contact: each
    failed callback dial, then the current (or last) holder; ``None`` while it lasts."""
    out: list[tuple[str, int, int | None, int | None]] = [
        (d.agent, d.accepted_ms, d.ms, d.ms) for d in r.callback_dials if d.outcome != "reached"
    ]
    start = r.accepted_ms
    if start is None and not r.callback_dials:
        # Records made before ``accepted_ms`` existed: the one acceptance is the answer.
        start = r.answered_ms
    if r.agent is not None and start is not None:
        out.append((r.agent, start, r.completed_ms, r.closed_ms))
    return out


def work_items(
    records: Iterable[ContactRecord], agent_info: dict[str, tuple[str, str | None]] | None = None
) -> list[AgentWork]:
    """The busy interval of every answered contact (acceptance to close)."""
    info = agent_info or {}
    out = []
    for r in records:
        for agent, start, talk_end, end in busy_spans(r):
            team, partner = info.get(agent, (r.agent_team or "", r.agent_partner))
            out.append(
                AgentWork(
                    agent=agent,
                    tenant=r.tenant,
                    contact=r.contact,
                    queue=r.queue,
                    channel=r.channel,
                    start_ms=start,
                    talk_end_ms=talk_end,
                    end_ms=end,
                    team=team,
                    partner=partner,
                )
            )
    out.sort(key=lambda w: (w.start_ms, w.agent))
    return out


# A column: (name in the database, Arrow type name, DuckDB type, value from the struct).
_Column = tuple[str, str, str, Callable[[Any], object]]


class _attr:  # lower case: it reads as the function it stands for
    """A column that is a field of the struct as it is (converted column-wise, fast)."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = field

    def __call__(self, o: Any) -> object:
        return getattr(o, self.field)


_CONTACT_COLUMNS: list[_Column] = [
    ("tenant", "string", "VARCHAR NOT NULL", _attr("tenant")),
    ("contact", "string", "VARCHAR NOT NULL", _attr("contact")),
    ("queue", "string", "VARCHAR NOT NULL", _attr("queue")),
    ("channel", "string", "VARCHAR NOT NULL", _attr("channel")),
    ("language", "string", "VARCHAR", _attr("language")),
    ("priority", "int64", "BIGINT", _attr("priority")),
    ("customer", "string", "VARCHAR", _attr("customer")),
    ("page", "string", "VARCHAR", _attr("page")),
    (
        "attributes",
        "string",
        "VARCHAR",
        lambda r: json.dumps(r.attributes, sort_keys=True) if r.attributes else "{}",
    ),
    ("tags", "list", "VARCHAR[]", _attr("tags")),
    ("arrived_at", "ts", "TIMESTAMP NOT NULL", _attr("arrived_ms")),
    ("first_offer_at", "ts", "TIMESTAMP", _attr("first_offer_ms")),
    ("answered_at", "ts", "TIMESTAMP", _attr("answered_ms")),
    ("accepted_at", "ts", "TIMESTAMP", _attr("accepted_ms")),
    ("completed_at", "ts", "TIMESTAMP", _attr("completed_ms")),
    ("wrap_up_end_at", "ts", "TIMESTAMP", _attr("wrap_end_ms")),
    ("closed_at", "ts", "TIMESTAMP", _attr("closed_ms")),
    ("abandoned_at", "ts", "TIMESTAMP", _attr("abandoned_ms")),
    ("wait_ms", "int64", "BIGINT", _attr("wait_ms")),
    ("talk_ms", "int64", "BIGINT", _attr("talk_ms")),
    ("wrap_ms", "int64", "BIGINT", _attr("wrap_ms")),
    ("handle_ms", "int64", "BIGINT", _attr("handle_ms")),
    ("agent", "string", "VARCHAR", _attr("agent")),
    ("agent_team", "string", "VARCHAR", _attr("agent_team")),
    ("agent_partner", "string", "VARCHAR", _attr("agent_partner")),
    ("handled_by_partner", "bool", "BOOLEAN NOT NULL", lambda r: r.agent_partner is not None),
    ("wrap_up_code", "string", "VARCHAR", _attr("wrap_up_code")),
    ("resolved", "bool", "BOOLEAN", _attr("resolved")),
    ("offers", "int64", "BIGINT NOT NULL", _attr("offers")),
    ("offers_rejected", "int64", "BIGINT NOT NULL", _attr("offers_rejected")),
    ("offers_expired", "int64", "BIGINT NOT NULL", _attr("offers_expired")),
    ("offers_revoked", "int64", "BIGINT NOT NULL", _attr("offers_revoked")),
    ("interruptions", "int64", "BIGINT NOT NULL", _attr("interruptions")),
    ("step", "int64", "BIGINT NOT NULL", _attr("step")),
    ("overflow_ms", "int64", "BIGINT", _attr("overflow_ms")),
    ("overflow_reason", "string", "VARCHAR", _attr("overflow_reason")),
    ("transfers", "int64", "BIGINT NOT NULL", _attr("transfers")),
    ("handoff", "string", "VARCHAR", _attr("handoff")),
    ("callback_requested_at", "ts", "TIMESTAMP", _attr("callback_requested_ms")),
    ("callback_reason", "string", "VARCHAR", _attr("callback_reason")),
    ("callback_attempts", "int64", "BIGINT NOT NULL", lambda r: len(r.callback_dials)),
    (
        "callback_dials",
        "string",
        "VARCHAR",
        lambda r: msgspec.json.encode(r.callback_dials).decode(),
    ),
    ("moved_at", "ts", "TIMESTAMP", _attr("moved_ms")),
    ("moved_from", "string", "VARCHAR", _attr("moved_from")),
    ("move_reason", "string", "VARCHAR", _attr("move_reason")),
    ("moves", "int64", "BIGINT NOT NULL", _attr("moves")),
    ("ticket", "bool", "BOOLEAN NOT NULL", _attr("ticket")),
    ("closed_reason", "string", "VARCHAR", _attr("closed_reason")),
    ("announcement", "string", "VARCHAR", _attr("announcement")),
    ("survey_at", "ts", "TIMESTAMP", _attr("survey_ms")),
    ("csat", "int64", "BIGINT", _attr("csat")),
    ("nps", "int64", "BIGINT", _attr("nps")),
    ("ces", "int64", "BIGINT", _attr("ces")),
    ("solved", "bool", "BOOLEAN", _attr("solved")),
    ("outcome", "string", "VARCHAR NOT NULL", _attr("outcome")),
]

_STATE_COLUMNS: list[_Column] = [
    ("agent", "string", "VARCHAR NOT NULL", _attr("agent")),
    ("team", "string", "VARCHAR", _attr("team")),
    ("partner", "string", "VARCHAR", _attr("partner")),
    ("state", "string", "VARCHAR NOT NULL", _attr("state")),
    ("reason", "string", "VARCHAR", _attr("reason")),
    ("set_by", "string", "VARCHAR NOT NULL", _attr("by")),
    ("start_at", "ts", "TIMESTAMP NOT NULL", _attr("start_ms")),
    ("end_at", "ts", "TIMESTAMP", _attr("end_ms")),
]

_WORK_COLUMNS: list[_Column] = [
    ("agent", "string", "VARCHAR NOT NULL", _attr("agent")),
    ("team", "string", "VARCHAR", _attr("team")),
    ("partner", "string", "VARCHAR", _attr("partner")),
    ("tenant", "string", "VARCHAR NOT NULL", _attr("tenant")),
    ("contact", "string", "VARCHAR NOT NULL", _attr("contact")),
    ("queue", "string", "VARCHAR NOT NULL", _attr("queue")),
    ("channel", "string", "VARCHAR NOT NULL", _attr("channel")),
    ("start_at", "ts", "TIMESTAMP NOT NULL", _attr("start_ms")),
    ("talk_end_at", "ts", "TIMESTAMP", _attr("talk_end_ms")),
    ("end_at", "ts", "TIMESTAMP", _attr("end_ms")),
]

#: Column names of the ``contacts`` table, in order.
CONTACT_COLUMNS: tuple[str, ...] = tuple(c[0] for c in _CONTACT_COLUMNS)
#: Column names of the ``agent_states`` table, in order.
AGENT_STATE_COLUMNS: tuple[str, ...] = tuple(c[0] for c in _STATE_COLUMNS)
#: Column names of the ``agent_work`` table, in order.
AGENT_WORK_COLUMNS: tuple[str, ...] = tuple(c[0] for c in _WORK_COLUMNS)

_DDL = {
    "contacts": _CONTACT_COLUMNS,
    "agent_states": _STATE_COLUMNS,
    "agent_work": _WORK_COLUMNS,
}


def _arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "list": pa.list_(pa.string()),
        "ts": pa.timestamp("ms"),
    }[kind]


def _to_arrow(columns: list[_Column], rows: Sequence[object]) -> pa.Table:
    import pyarrow as pa

    # A month's commit converts tens of thousands of rows: take every field of each struct
    # in one call and hand whole columns to Arrow, calling Python per row only for the
    # computed columns.
    kinds = {type(r) for r in rows}
    index: dict[str, int] = {}
    values: list[tuple[object, ...]] = []
    if len(kinds) == 1:
        (kind_of_rows,) = kinds
        fields = kind_of_rows.__struct_fields__  # type: ignore[attr-defined]
        index = {f: i for i, f in enumerate(fields)}
        values = list(zip(*map(operator.attrgetter(*fields), rows), strict=True))
    arrays = []
    for _, kind, _, get in columns:
        at = index.get(get.field) if isinstance(get, _attr) else None
        column = values[at] if at is not None else [get(r) for r in rows]
        arrays.append(pa.array(column, type=_arrow_type(kind)))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def contacts_to_arrow(records: Sequence[ContactRecord]) -> pa.Table:
    """Contact records as an Arrow table with the ``contacts`` columns (times UTC, naive)."""
    return _to_arrow(_CONTACT_COLUMNS, records)


def _store(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: pa.Table,
    columns: list[_Column],
    *,
    replace: bool,
) -> None:
    if replace:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    cols = ", ".join(f"{n} {ddl}" for n, _, ddl, _ in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    con.register("_ccroute_src", table)
    try:
        # Arrow's timestamp[ms] arrives as TIMESTAMP_MS; the insert casts to TIMESTAMP.
        con.execute(f"INSERT INTO {name} SELECT * FROM _ccroute_src")
    finally:
        con.unregister("_ccroute_src")


# ---------------------------------------------------------------------- loading


def _ms(col: str) -> str:
    return f"epoch_ms({col})"


def load_records(
    con: duckdb.DuckDBPyConnection,
    tenant: str | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[ContactRecord]:
    """Contact records of one tenant (``None``: all) from a database written by
    :meth:`ContactRecorder.write_duckdb`.

    With a time window, only records with some event in ``[start_ms, end_ms)`` are read
    (arrived before the end, and not closed with no later survey before the start).
    """
    where = ["TRUE"]
    params: list[object] = []
    if tenant is not None:
        where.append("tenant = ?")
        params.append(tenant)
    if end_ms is not None:
        where.append("epoch_ms(arrived_at) < ?")
        params.append(end_ms)
    if start_ms is not None:
        where.append(
            "(closed_at IS NULL OR epoch_ms(greatest(closed_at, coalesce(survey_at, closed_at)))"
            " >= ?)"
        )
        params.append(start_ms)
    # A database of an older format lacks the newer columns: their defaults stand.
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'"
        ).fetchall()
    }
    columns = [
        (name, kind)
        for name, kind, _, _ in _CONTACT_COLUMNS
        if name not in _DERIVED and name in present
    ]
    select = [_ms(name) if kind == "ts" else name for name, kind in columns]
    sql = (
        f"SELECT {', '.join(select)} FROM contacts WHERE {' AND '.join(where)} "
        "ORDER BY arrived_at, tenant, contact"
    )
    fields = [_FIELD_OF.get(name, name) for name, _ in columns]
    out = []
    for row in con.execute(sql, params).fetchall():
        values = dict(zip(fields, row, strict=True))
        values["attributes"] = json.loads(values["attributes"] or "{}")
        values["tags"] = list(values["tags"] or [])
        values["callback_dials"] = json.loads(values.get("callback_dials") or "[]")
        out.append(msgspec.convert(values, ContactRecord))
    return out


#: Columns computed from others when written, not read back.
_DERIVED = frozenset({"handled_by_partner", "callback_attempts"})


_FIELD_OF = {
    "arrived_at": "arrived_ms",
    "first_offer_at": "first_offer_ms",
    "answered_at": "answered_ms",
    "accepted_at": "accepted_ms",
    "callback_requested_at": "callback_requested_ms",
    "moved_at": "moved_ms",
    "completed_at": "completed_ms",
    "wrap_up_end_at": "wrap_end_ms",
    "closed_at": "closed_ms",
    "abandoned_at": "abandoned_ms",
    "survey_at": "survey_ms",
}


def load_agent_activity(con: duckdb.DuckDBPyConnection) -> list[AgentActivity]:
    """All agent presence intervals from the database (provider-internal: not per tenant)."""
    rows = con.execute(
        "SELECT agent, team, partner, state, reason, set_by, epoch_ms(start_at), "
        "epoch_ms(end_at) FROM agent_states ORDER BY agent, start_at"
    ).fetchall()
    return [
        AgentActivity(
            agent=a, team=t or "", partner=p, state=s, reason=r, by=b, start_ms=st, end_ms=en
        )
        for a, t, p, s, r, b, st, en in rows
    ]


def load_meta(con: duckdb.DuckDBPyConnection) -> tuple[Config, int]:
    """The configuration snapshot and the as-of time (ms) stored with the records."""
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    config = msgspec.json.decode(meta["config"], type=Config)
    return config, int(meta.get("as_of_ms", "0"))
