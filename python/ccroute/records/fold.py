"""The fold: each input with the decisions it caused, in log order, into contact records
and agent presence intervals (:class:`ContactRecorder`).

Times come from the engine's view of the clock: a decision carries its own ``ts`` (a timer
fires at its due time), and an input stamped behind the engine's clock counts at the clock,
as the engine applies it (``docs/routing.md`` s. 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccroute.config import Config
from ccroute.events import (
    AgentStateSet,
    CallbackAttempted,
    CallbackScheduled,
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
    SurveyAnswered,
    WorkInterrupted,
    WorkResumed,
    WrapUpEnded,
    WrapUpStarted,
)
from ccroute.records.rows import AgentActivity, AgentWork, CallbackDial, ContactRecord
from ccroute.records.work import work_items

if TYPE_CHECKING:
    import pyarrow as pa

# Rejections that happen before the engine's clock moves (docs/routing.md s. 1, steps 1-2).
_NO_TIME_PASSES = frozenset({"malformed", "unsupported_version", "duplicate_event"})


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
        self.last_unknown: list[Decision] = []
        """Decisions of the last :meth:`observe` about a contact with no record (ignored)."""

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

    # The live recorder folds every input the service routes, so this is a hot loop: the
    # event's type picks its handler from a table (one dict lookup, not a chain of
    # isinstance checks), and the clock moves by comparison, not by max().

    def observe(self, inp: Input, decisions: Sequence[Decision]) -> None:
        """Apply one input and the decisions it caused (in log order)."""
        touched: dict[tuple[str, str], None] = {}
        self.last_agents = set()
        if self.last_unknown:
            self.last_unknown = []
        rejected: str | None = None
        for d in decisions:
            if type(d) is InputRejected and d.cause == inp.id:
                rejected = d.code
                break
        if rejected not in _NO_TIME_PASSES and inp.ts > self._clock:
            # A late input is applied at the engine's clock, not at its own stamp.
            self._clock = inp.ts
        if rejected is None:
            self._apply_input(inp, touched)
        for d in decisions:
            if d.ts > self._clock:
                self._clock = d.ts
            self._apply_decision(d, touched)
        self.last_touched = list(touched)

    def _apply_input(self, inp: Input, touched: dict[tuple[str, str], None]) -> None:
        # Timer decisions listed before the input's own concern other contacts, so the
        # input's facts can be applied first (an arrival must exist before its offer).
        kind = type(inp)
        if kind is ContactArrived:
            assert isinstance(inp, ContactArrived)  # for the type checker: `kind is` is it
            self._arrived(inp, touched)
            return
        apply = _ON_INPUT.get(kind)
        if apply is None:
            return  # agent inputs show up as agent_state_set decisions
        fact: Any = inp  # one of the contact inputs (the keys of _ON_INPUT)
        key = (fact.tenant, fact.contact)
        rec = self._contacts.get(key)
        if rec is None:
            return
        touched[key] = None
        apply(self, rec, inp)

    def _arrived(self, inp: ContactArrived, touched: dict[tuple[str, str], None]) -> None:
        key = (inp.tenant, inp.contact)
        rec = self._contacts[key] = ContactRecord(
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
            rec.callback_requested_ms = self._clock
            rec.callback_reason = "requested"
        touched[key] = None

    def _contact_updated(self, rec: ContactRecord, inp: ContactUpdated) -> None:
        if inp.priority is not None:
            rec.priority = inp.priority
        if inp.tags is not None:
            rec.tags = _unique(inp.tags)  # the engine replaces the tag list

    def _offer_rejected(self, rec: ContactRecord, inp: OfferRejected) -> None:
        rec.offers_rejected += 1

    def _contact_completed(self, rec: ContactRecord, inp: ContactCompleted) -> None:
        rec.wrap_up_code = inp.wrap_up_code
        rec.resolved = inp.resolved
        rec.tags = _unique([*rec.tags, *inp.tags])

    def _survey_answered(self, rec: ContactRecord, inp: SurveyAnswered) -> None:
        if rec.survey_ms is None:
            # The first answer counts: a figure, once reported for an interval, stays.
            rec.survey_ms = self._clock
            rec.csat, rec.nps, rec.ces, rec.solved = inp.csat, inp.nps, inp.ces, inp.solved

    def _apply_decision(self, d: Decision, touched: dict[tuple[str, str], None]) -> None:
        kind = type(d)
        if kind is AgentStateSet:
            assert isinstance(d, AgentStateSet)
            self._set_state(d)
            return
        apply = _ON_DECISION.get(kind)
        if apply is None:
            return  # a rejection, a queue opening or closing: not a fact of any one contact
        fact: Any = d  # one of the contact decisions (the keys of _ON_DECISION)
        key = (fact.tenant, fact.contact)
        rec = self._contacts.get(key)
        if rec is None:
            if kind not in _OPENS_RECORD:
                self.last_unknown.append(d)
                return
            # A feed joined mid-stream: keep what the decisions tell.
            arrived = d.ts - d.wait_ms if isinstance(d, ContactAssigned) else d.ts
            rec = ContactRecord(
                tenant=fact.tenant,
                contact=fact.contact,
                queue=fact.queue,
                channel=fact.channel,
                arrived_ms=arrived,
            )
            self._contacts[key] = rec
        touched[key] = None
        apply(self, rec, d)

    def _no_fact(self, rec: ContactRecord, d: Decision) -> None:
        """Queued again, work resumed: the contact is touched, no field changes."""

    def _offer_made(self, rec: ContactRecord, d: OfferMade) -> None:
        rec.offers += 1
        if rec.first_offer_ms is None:
            rec.first_offer_ms = d.ts

    def _offer_expired(self, rec: ContactRecord, d: OfferExpired) -> None:
        rec.offers_expired += 1

    def _offer_revoked(self, rec: ContactRecord, d: OfferRevoked) -> None:
        rec.offers_revoked += 1

    def _contact_assigned(self, rec: ContactRecord, d: ContactAssigned) -> None:
        if rec.answered_ms is None and not rec.callback_dials:
            # The first acceptance is the answer; a transfer's next one is not another.
            rec.answered_ms = d.ts
            rec.wait_ms = d.wait_ms
        if rec.accepted_ms is None or rec.agent != d.agent:
            self._agent_contacts.setdefault(d.agent, []).append((rec.tenant, rec.contact))
        rec.accepted_ms = d.ts
        rec.agent = d.agent
        rec.agent_team, rec.agent_partner = self._agent_info.get(d.agent, ("", None))

    def _wrap_up_started(self, rec: ContactRecord, d: WrapUpStarted) -> None:
        rec.completed_ms = d.ts

    def _wrap_up_ended(self, rec: ContactRecord, d: WrapUpEnded) -> None:
        rec.wrap_end_ms = d.ts

    def _work_interrupted(self, rec: ContactRecord, d: WorkInterrupted) -> None:
        rec.interruptions += 1

    def _handed_over(self, rec: ContactRecord, d: ContactHandedOver) -> None:
        rec.transfers += 1
        rec.queue = d.queue
        if d.handoff is not None:
            rec.handoff = d.handoff

    def _step_reached(self, rec: ContactRecord, d: ContactStepReached) -> None:
        rec.step = d.step
        if d.partner and rec.overflow_ms is None:
            rec.overflow_ms = d.ts
            rec.overflow_reason = d.reason

    def _callback_scheduled(self, rec: ContactRecord, d: CallbackScheduled) -> None:
        if d.attempt == 0 and rec.callback_requested_ms is None:
            rec.callback_requested_ms = d.ts
            rec.callback_reason = d.reason

    def _callback_attempted(self, rec: ContactRecord, d: CallbackAttempted) -> None:
        accepted = rec.accepted_ms if rec.accepted_ms is not None else d.ts
        dial = CallbackDial(agent=d.agent, accepted_ms=accepted, ms=d.ts, outcome=d.outcome)
        rec.callback_dials = [*rec.callback_dials, dial]
        if d.outcome != "reached":
            # The agent let go of it: the busy span is the dial's, not the record's.
            rec.accepted_ms = None

    def _moved(self, rec: ContactRecord, d: ContactMoved) -> None:
        rec.moves += 1
        if rec.moved_ms is None:
            # The first move is the fact reports count, so what it was stays put.
            rec.moved_ms = d.ts
            rec.moved_from = d.from_queue
            rec.move_reason = d.reason
            # A reroute keeps the channel; the ticket action files it as an e-mail.
            rec.ticket = d.channel == "email" and d.queue == self._ticket_queue.get(d.from_queue)
        rec.queue = d.queue

    def _closed(self, rec: ContactRecord, d: ContactClosed) -> None:
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
        from ccroute.records.columns import STATE_SPEC, contacts_to_arrow, to_arrow, work_to_arrow

        return {
            "contacts": contacts_to_arrow(self.records()),
            "agent_states": to_arrow(STATE_SPEC, self.agent_activity()),
            "agent_work": work_to_arrow(self.records(), self._agent_info),
        }

    def write_duckdb(self, path: str | Path, *, replace: bool = True) -> None:
        """Write ``contacts``, ``agent_states``, ``agent_work`` and ``meta`` to a DuckDB file.

        ``replace`` drops the tables first; otherwise rows are appended (a contact written
        twice is then there twice) and the ``meta`` keys are overwritten.
        """
        from ccroute.records.database import write_tables

        write_tables(path, self.to_arrow(), self._config, self._clock, replace=replace)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# Handlers by event type (functions taking the recorder, the record and the event).
_ON_INPUT: dict[type, Callable[[ContactRecorder, ContactRecord, Any], None]] = {
    ContactUpdated: ContactRecorder._contact_updated,
    OfferRejected: ContactRecorder._offer_rejected,
    ContactCompleted: ContactRecorder._contact_completed,
    SurveyAnswered: ContactRecorder._survey_answered,
}
_ON_DECISION: dict[type, Callable[[ContactRecorder, ContactRecord, Any], None]] = {
    OfferMade: ContactRecorder._offer_made,
    OfferExpired: ContactRecorder._offer_expired,
    OfferRevoked: ContactRecorder._offer_revoked,
    ContactQueued: ContactRecorder._no_fact,
    ContactAssigned: ContactRecorder._contact_assigned,
    WrapUpStarted: ContactRecorder._wrap_up_started,
    WrapUpEnded: ContactRecorder._wrap_up_ended,
    ContactClosed: ContactRecorder._closed,
    WorkInterrupted: ContactRecorder._work_interrupted,
    WorkResumed: ContactRecorder._no_fact,
    ContactStepReached: ContactRecorder._step_reached,
    ContactHandedOver: ContactRecorder._handed_over,
    ContactMoved: ContactRecorder._moved,
    CallbackScheduled: ContactRecorder._callback_scheduled,
    CallbackAttempted: ContactRecorder._callback_attempted,
}
# Decisions that make a record of a contact the feed has not seen arrive (joined late).
_OPENS_RECORD = frozenset({OfferMade, ContactQueued, ContactAssigned, ContactClosed})
