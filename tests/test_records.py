"""The contact-record projection, from hand-made input/decision sequences."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import duckdb
import msgspec
import pytest
from tests.report_sample import offer_decision, queued_decision

from ccroute.config import Config, config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    AgentStateName,
    AgentStateSet,
    AgentStateValue,
    CallbackAttempted,
    CallbackOutcome,
    CallbackRequested,
    CallbackResult,
    CallbackScheduled,
    Channel,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactMoved,
    ContactStepReached,
    ContactUpdated,
    Decision,
    Input,
    InputRejected,
    OfferAccepted,
    OfferExpired,
    OfferMade,
    OfferRejected,
    SurveyAnswered,
    WrapUpEnded,
    WrapUpFinished,
    WrapUpStarted,
)
from ccroute.metrics import cube_from_records
from ccroute.records import (
    AGENT_STATE_COLUMNS,
    AGENT_WORK_COLUMNS,
    CONTACT_COLUMNS,
    ContactRecorder,
    load_agent_activity,
    load_meta,
    load_records,
)

T0 = 1_740_816_000_000  # 2025-03-01 08:00 UTC
S = 1000


def make_config() -> Config:
    return config_from_dict(
        {
            "tenants": [
                {"id": "acme", "name": "Acme Oy"},
                {"id": "globex", "name": "Globex Ab"},
            ],
            "queues": [
                {
                    "id": "acme-voice",
                    "tenant": "acme",
                    "channels": ["voice", "callback"],
                    "wrap_up_seconds": 60,
                },
                {
                    "id": "acme-chat",
                    "tenant": "acme",
                    "channels": ["chat"],
                    "wrap_up_seconds": 60,
                    "service_level": {"threshold_seconds": 30, "target_percent": 85},
                },
                {"id": "globex-voice", "tenant": "globex", "channels": ["voice"]},
            ],
            "agents": [
                {"id": "a1", "name": "Aino", "team": "Helsinki", "capacity": {"voice": 1}},
                {"id": "a2", "name": "Elias", "team": "Helsinki", "capacity": {"chat": 2}},
                {
                    "id": "p1",
                    "name": "Maja",
                    "team": "Partner",
                    "partner": "Partner OÜ",
                    "capacity": {"voice": 1},
                },
            ],
        }
    )


class Feed:
    """Builds (input, decisions) pairs the way the engine would emit them."""

    def __init__(self) -> None:
        self.items: list[tuple[Input, list[Decision]]] = []
        self._n = 0

    def d(self) -> str:
        self._n += 1
        return f"d{self._n}"

    def add(self, inp: Input, decisions: list[Decision]) -> None:
        self.items.append((inp, decisions))

    def arrive(
        self,
        ts: int,
        contact: str,
        *,
        tenant: str = "acme",
        queue: str = "acme-voice",
        channel: Channel = "voice",
        agent: str | None = None,
        **kw: object,
    ) -> ContactArrived:
        inp = ContactArrived(
            id=f"arr-{contact}",
            ts=ts,
            tenant=tenant,
            contact=contact,
            queue=queue,
            channel=channel,
            **kw,  # type: ignore[arg-type]
        )
        if agent is None:
            dec: Decision = queued_decision(self.d(), inp)
        else:
            dec = self.offer(ts, inp, agent, inp.id)
        self.add(inp, [dec])
        return inp

    def offer(self, ts: int, arr: ContactArrived, agent: str, cause: str) -> OfferMade:
        return offer_decision(self.d(), arr, agent, ts, cause)

    def accept(self, ts: int, arr: ContactArrived, agent: str) -> None:
        inp = OfferAccepted(
            id=f"acc-{arr.contact}", ts=ts, tenant=arr.tenant, contact=arr.contact, agent=agent
        )
        self.add(
            inp,
            [
                ContactAssigned(
                    id=self.d(),
                    ts=ts,
                    cause=inp.id,
                    tenant=arr.tenant,
                    contact=arr.contact,
                    queue=arr.queue,
                    channel=arr.channel,
                    agent=agent,
                    wait_ms=ts - arr.ts,
                )
            ],
        )

    def complete(
        self,
        ts: int,
        arr: ContactArrived,
        agent: str,
        *,
        wrap_end: int | None,
        tags: list[str] | None = None,
        code: str | None = None,
        resolved: bool | None = None,
    ) -> None:
        inp = ContactCompleted(
            id=f"cmp-{arr.contact}",
            ts=ts,
            tenant=arr.tenant,
            contact=arr.contact,
            agent=agent,
            tags=tags or [],
            wrap_up_code=code,
            resolved=resolved,
        )
        closed = ContactClosed(
            id="",
            ts=ts,
            cause=inp.id,
            tenant=arr.tenant,
            contact=arr.contact,
            queue=arr.queue,
            channel=arr.channel,
            outcome="completed",
            agent=agent,
        )
        if wrap_end is None:
            self.add(inp, [msgspec.structs.replace(closed, id=self.d())])
            return
        self.add(
            inp,
            [
                WrapUpStarted(
                    id=self.d(),
                    ts=ts,
                    cause=inp.id,
                    tenant=arr.tenant,
                    contact=arr.contact,
                    agent=agent,
                    ends_by=ts + 60 * S,
                )
            ],
        )
        fin = WrapUpFinished(
            id=f"wu-{arr.contact}",
            ts=wrap_end,
            tenant=arr.tenant,
            contact=arr.contact,
            agent=agent,
        )
        self.add(
            fin,
            [
                WrapUpEnded(
                    id=self.d(),
                    ts=wrap_end,
                    cause=fin.id,
                    tenant=arr.tenant,
                    contact=arr.contact,
                    agent=agent,
                    by="agent",
                ),
                msgspec.structs.replace(closed, id=self.d(), ts=wrap_end, cause=fin.id),
            ],
        )

    def abandon(self, ts: int, arr: ContactArrived) -> None:
        inp = ContactAbandoned(
            id=f"ab-{arr.contact}", ts=ts, tenant=arr.tenant, contact=arr.contact
        )
        self.add(
            inp,
            [
                ContactClosed(
                    id=self.d(),
                    ts=ts,
                    cause=inp.id,
                    tenant=arr.tenant,
                    contact=arr.contact,
                    queue=arr.queue,
                    channel=arr.channel,
                    outcome="abandoned",
                )
            ],
        )

    def state(self, ts: int, agent: str, state: str, reason: str | None = None) -> None:
        inp: Input
        if state == "login":
            inp, state = AgentLoggedIn(id=f"li-{agent}-{ts}", ts=ts, agent=agent), "available"
        elif state == "offline":
            inp = AgentLoggedOut(id=f"lo-{agent}-{ts}", ts=ts, agent=agent)
        else:
            inp = AgentStateChanged(
                id=f"st-{agent}-{ts}",
                ts=ts,
                agent=agent,
                state=cast(AgentStateName, state),
                reason=reason,
            )
        self.add(
            inp,
            [
                AgentStateSet(
                    id=self.d(),
                    ts=ts,
                    cause=inp.id,
                    agent=agent,
                    state=cast(AgentStateValue, state),
                    reason=reason,
                )
            ],
        )

    def run(self, config: Config | None = None) -> ContactRecorder:
        rec = ContactRecorder(config or make_config())
        for inp, decisions in self.items:
            rec.observe(inp, decisions)
        return rec


# --------------------------------------------------------------------------- contacts


def test_a_caller_who_hangs_up_after_3_s_is_a_short_abandon() -> None:
    f = Feed()
    arr = f.arrive(T0, "c1")
    f.abandon(T0 + 3 * S, arr)
    rec = f.run()
    r = rec.get("acme", "c1")
    assert r is not None
    assert r.outcome == "abandoned"
    assert (r.arrived_ms, r.abandoned_ms, r.closed_ms, r.wait_ms) == (
        T0,
        T0 + 3000,
        T0 + 3000,
        3000,
    )
    assert r.answered_ms is None and r.agent is None and r.handle_ms is None
    fig = cube_from_records(rec.config, rec.records()).figures(tenant="acme")
    assert (fig.offered, fig.abandoned, fig.short_abandoned, fig.answered) == (1, 1, 1, 0)


def test_a_chat_answered_in_15_s_with_csat_5() -> None:
    f = Feed()
    arr = f.arrive(
        T0,
        "chat1",
        queue="acme-chat",
        channel="chat",
        agent="a2",
        page="/pricing",
        tags=["billing"],
        language="sv",
        customer="cust-9",
        attributes={"plan": "gold"},
    )
    f.accept(T0 + 15 * S, arr, "a2")
    f.complete(
        T0 + 315 * S,
        arr,
        "a2",
        wrap_end=T0 + 345 * S,
        tags=["refund", "billing"],
        code="answered",
        resolved=True,
    )
    survey = SurveyAnswered(
        id="sv1", ts=T0 + 400 * S, tenant="acme", contact="chat1", csat=5, solved=True
    )
    f.add(survey, [])
    rec = f.run()
    r = rec.get("acme", "chat1")
    assert r is not None
    assert r.outcome == "completed"
    assert r.first_offer_ms == T0 and r.answered_ms == T0 + 15_000 and r.wait_ms == 15_000
    assert (r.talk_ms, r.wrap_ms, r.handle_ms) == (300_000, 30_000, 330_000)
    assert r.completed_ms == T0 + 315_000 and r.wrap_end_ms == r.closed_ms == T0 + 345_000
    assert (r.agent, r.agent_team, r.agent_partner) == ("a2", "Helsinki", None)
    assert r.tags == ["billing", "refund"]  # arrival + completion, once each
    assert (r.page, r.language, r.customer, r.attributes) == (
        "/pricing",
        "sv",
        "cust-9",
        {"plan": "gold"},
    )
    assert (r.wrap_up_code, r.resolved, r.csat, r.solved, r.survey_ms) == (
        "answered",
        True,
        5,
        True,
        T0 + 400_000,
    )
    assert r.offers == 1 and not r.handled_by_partner
    fig = cube_from_records(rec.config, rec.records()).figures(tenant="acme")
    assert fig.answered == 1 and fig.answered_within_t == 1  # the chat queue's T is 30 s
    assert fig.asa_s == 15.0 and fig.csat_avg == 5.0 and fig.aht_s == 330.0
    assert fig.pages == {"/pricing": 1} and fig.solved_pct == 100.0


def test_a_partner_agents_contact_counts_as_overflow() -> None:
    f = Feed()
    own = f.arrive(T0, "own", agent="a1")
    f.accept(T0 + 2 * S, own, "a1")
    f.complete(T0 + 100 * S, own, "a1", wrap_end=T0 + 110 * S)
    ovf = f.arrive(T0 + 5 * S, "ovf", agent="p1")
    f.accept(T0 + 8 * S, ovf, "p1")
    f.complete(T0 + 90 * S, ovf, "p1", wrap_end=T0 + 95 * S)
    f.items.sort(key=lambda x: x[0].ts)
    rec = f.run()
    r = rec.get("acme", "ovf")
    assert r is not None and r.agent_partner == "Partner OÜ" and r.handled_by_partner
    assert rec.get("acme", "own").handled_by_partner is False  # type: ignore[union-attr]
    fig = cube_from_records(rec.config, rec.records()).figures(tenant="acme")
    assert fig.handled_by_partner == 1 and fig.partner_share_pct == 50.0


def _dial(f: Feed, ts: int, arr: ContactArrived, agent: str, attempt: int, outcome: str) -> None:
    inp = CallbackResult(
        id=f"cbr-{arr.contact}-{attempt}",
        ts=ts,
        tenant=arr.tenant,
        contact=arr.contact,
        agent=agent,
        outcome=cast(CallbackOutcome, outcome),
    )
    out: list[Decision] = [
        CallbackAttempted(
            id=f.d(),
            ts=ts,
            cause=inp.id,
            tenant=arr.tenant,
            contact=arr.contact,
            agent=agent,
            attempt=attempt,
            outcome=cast(CallbackOutcome, outcome),
        )
    ]
    if outcome != "reached" and attempt == 1:
        out.append(
            CallbackScheduled(
                id=f.d(),
                ts=ts,
                cause=inp.id,
                tenant=arr.tenant,
                contact=arr.contact,
                queue=arr.queue,
                reason=cast(Any, outcome),
                attempt=1,
                not_before=ts + 300 * S,
            )
        )
    elif outcome != "reached":
        out.append(
            ContactClosed(
                id=f.d(),
                ts=ts,
                cause=inp.id,
                tenant=arr.tenant,
                contact=arr.contact,
                queue=arr.queue,
                channel="callback",
                outcome="callback_unreached",
                agent=agent,
            )
        )
    f.add(inp, out)


def _request_callback(f: Feed, ts: int, arr: ContactArrived, reason: str = "requested") -> None:
    inp = CallbackRequested(id=f"cbq-{arr.contact}", ts=ts, tenant=arr.tenant, contact=arr.contact)
    f.add(
        inp,
        [
            CallbackScheduled(
                id=f.d(),
                ts=ts,
                cause=inp.id,
                tenant=arr.tenant,
                contact=arr.contact,
                queue=arr.queue,
                reason=cast(Any, reason),
                attempt=0,
                not_before=ts,
            )
        ],
    )


def _callback_feed() -> tuple[Feed, ContactArrived, ContactArrived]:
    """A caller who asks for a callback, reached on the second dial by another agent; and
    a web callback request nobody answers in two dials."""
    f = Feed()
    call = f.arrive(T0, "cb1")
    _request_callback(f, T0 + 30 * S, call)
    f.accept(T0 + 45 * S, call, "a1")
    _dial(f, T0 + 75 * S, call, "a1", 1, "no_answer")
    f.accept(T0 + 400 * S, call, "p1")
    _dial(f, T0 + 420 * S, call, "p1", 2, "reached")
    f.complete(T0 + 600 * S, call, "p1", wrap_end=None)
    web = f.arrive(T0 + 10 * S, "cb2", channel="callback")
    f.accept(T0 + 700 * S, web, "a1")
    _dial(f, T0 + 720 * S, web, "a1", 1, "busy")
    f.accept(T0 + 1100 * S, web, "a1")
    _dial(f, T0 + 1130 * S, web, "a1", 2, "no_answer")
    f.items.sort(key=lambda x: x[0].ts)
    return f, call, web


def test_callbacks_requested_made_reached_and_unreached() -> None:
    f, call, web = _callback_feed()
    rec = f.run()
    cb1 = rec.get("acme", call.contact)
    assert cb1 is not None and cb1.is_callback and cb1.callback_reason == "requested"
    # The answer stays the first acceptance; the talk is the reaching agent's.
    assert (cb1.answered_ms, cb1.wait_ms, cb1.agent) == (T0 + 45 * S, 45 * S, "p1")
    assert cb1.talk_ms == 200 * S and cb1.outcome == "completed"
    assert [(d.agent, d.outcome) for d in cb1.callback_dials] == [
        ("a1", "no_answer"),
        ("p1", "reached"),
    ]
    cb2 = rec.get("acme", web.contact)
    assert cb2 is not None and cb2.outcome == "callback_unreached" and cb2.talk_ms is None
    assert cb2.callback_requested_ms == T0 + 10 * S
    cube = cube_from_records(rec.config, rec.records())
    fig = cube.figures(tenant="acme")
    assert (fig.callbacks_requested, fig.callbacks_made) == (2, 4)
    assert (fig.callbacks_reached, fig.callbacks_unreached) == (1, 1)
    assert fig.callbacks_by_reason == {"requested": 2}
    # Time to call back: request to the first dial's acceptance, 15 s and 690 s.
    assert fig.avg_callback_wait_s == (15 + 690) / 2
    # Each dial counts for the agent who made it. Callbacks are not answered calls: they
    # stay out of answered, speed of answer and service level, reported as callbacks.
    assert cube.figures(agent="a1").callbacks_made == 3
    assert (cube.figures(agent="a1").answered, cube.figures(agent="p1").answered) == (0, 0)
    assert (fig.answered, fig.service_level_pct) == (0, None)
    assert fig.handled_by_partner == 0
    assert cube.figures(agent="p1").callbacks_reached == 1
    # Busy: the failed dials are a1's (30 s, 20 s, 30 s), the reached call p1's (200 s).
    assert cube.figures(agent="a1").busy_s == 80
    assert cube.figures(agent="p1").busy_s == 200
    spans = sorted((w.agent, w.start_ms, w.end_ms) for w in rec.agent_work())
    assert spans == [
        ("a1", T0 + 45 * S, T0 + 75 * S),
        ("a1", T0 + 700 * S, T0 + 720 * S),
        ("a1", T0 + 1100 * S, T0 + 1130 * S),
        ("p1", T0 + 400 * S, T0 + 600 * S),
    ]


def test_dials_count_in_the_interval_they_were_made() -> None:
    f, _, _ = _callback_feed()
    rec = f.run()
    got = cube_from_records(rec.config, rec.records()).collect(period="interval")
    made = {k: v.callbacks_made for (k, _), v in got.items() if v.callbacks_made}
    # 15-minute intervals: T0 is on a boundary; the last dial is at 18 min 50 s.
    assert made == {T0: 3, T0 + 15 * 60 * S: 1}


def _policy_config() -> Config:
    raw = msgspec.to_builtins(make_config())
    raw["queues"][0]["ticket_queue"] = "acme-mail"
    raw["queues"] += [
        {"id": "acme-mail", "tenant": "acme", "channels": ["email"]},
        {"id": "acme-backup", "tenant": "acme", "channels": ["voice"]},
    ]
    return config_from_dict(raw)


def _policy(f: Feed, ts: int, arr: ContactArrived, decision: Decision) -> None:
    tick = ClockTick(id=f"tick-{arr.contact}", ts=ts)
    f.add(tick, [msgspec.structs.replace(decision, cause=tick.id)])  # type: ignore[type-var]


def test_policy_closes_moves_and_overflows_are_counted_by_reason() -> None:
    f = Feed()
    late = f.arrive(T0, "late")
    f.items[-1] = (
        late,
        [
            ContactClosed(
                id=f.d(),
                ts=T0,
                cause=late.id,
                tenant="acme",
                contact="late",
                queue="acme-voice",
                channel="voice",
                outcome="closed",
                reason="outside_hours",
                announcement="acme-closed",
            )
        ],
    )
    waiting = f.arrive(T0 + 1 * S, "waiting")
    rerouted = f.arrive(T0 + 2 * S, "rerouted")
    for arr, queue, channel, reason in (
        (waiting, "acme-mail", "email", "at_closing"),
        (rerouted, "acme-backup", "voice", "emergency"),
    ):
        moved = ContactMoved(
            id=f.d(),
            ts=T0 + 60 * S,
            cause="",
            tenant="acme",
            contact=arr.contact,
            from_queue="acme-voice",
            queue=queue,
            channel=cast(Channel, channel),
            reason=cast(Any, reason),
        )
        _policy(f, T0 + 60 * S, arr, moved)
    for n, (step, reason) in enumerate([(0, "long_line"), (1, "step"), (0, "expected_wait")]):
        arr = f.arrive(T0 + (3 + n) * S, f"ovf{n}")
        reached = ContactStepReached(
            id=f.d(),
            ts=arr.ts,
            cause=arr.id,
            tenant="acme",
            contact=arr.contact,
            queue="acme-voice",
            step=step,
            partner=True,
            reason=cast(Any, reason),
        )
        f.items[-1] = (arr, [reached, *f.items[-1][1]])
    rec = f.run(_policy_config())
    r = rec.get("acme", "late")
    assert r is not None and r.outcome == "closed"
    assert (r.closed_reason, r.announcement, r.wait_ms) == ("outside_hours", "acme-closed", 0)
    w = rec.get("acme", "waiting")
    assert w is not None and (w.queue, w.moved_from, w.ticket) == ("acme-mail", "acme-voice", True)
    rr = rec.get("acme", "rerouted")
    assert rr is not None and (rr.queue, rr.ticket, rr.move_reason) == (
        "acme-backup",
        False,
        "emergency",
    )
    cube = cube_from_records(rec.config, rec.records())
    fig = cube.figures(tenant="acme")
    assert fig.closed_by_policy == 1 and fig.closed_by_policy_reason == {"outside_hours": 1}
    assert fig.moved_by_reason == {"at_closing": 1, "emergency": 1} and fig.ticketed == 1
    assert fig.overflow_by_reason == {"expected_wait": 1, "long_line": 1, "step": 1}
    # A move counts in the queue the contact left; a closed contact was never offered.
    assert cube.figures(queue="acme-voice").moved == 2
    assert cube.figures(queue="acme-mail").moved == 0
    assert fig.offered == 0


def test_new_columns_round_trip_and_an_older_database_still_loads(tmp_path: Path) -> None:
    f, call, _ = _callback_feed()
    rec = f.run()
    path = tmp_path / "c.duckdb"
    rec.write_duckdb(path)
    con = duckdb.connect(str(path))
    try:
        loaded = load_records(con, "acme")
        assert loaded == rec.records("acme")
        row = con.execute(
            "SELECT callback_attempts, callback_reason FROM contacts WHERE contact = ?",
            [call.contact],
        ).fetchone()
        assert row == (2, "requested")
        # Format 3 had none of the 1.3 columns: records load with their defaults.
        for col in (
            "accepted_at",
            "overflow_reason",
            "callback_requested_at",
            "callback_reason",
            "callback_attempts",
            "callback_dials",
            "moved_at",
            "moved_from",
            "move_reason",
            "moves",
            "ticket",
            "closed_reason",
            "announcement",
        ):
            con.execute(f"ALTER TABLE contacts DROP COLUMN {col}")
        old = load_records(con, "acme")
    finally:
        con.close()
    assert [r.contact for r in old] == [r.contact for r in loaded]
    assert all(r.callback_dials == [] and r.accepted_ms is None for r in old)
    # Without accepted_at, the answer is where the agent's work starts.
    fig = cube_from_records(rec.config, old).figures(agent="p1")
    assert fig.answered == 1


def test_no_wrap_up_phase_closes_at_completion() -> None:
    f = Feed()
    arr = f.arrive(T0, "c1", agent="a1")
    f.accept(T0 + 4 * S, arr, "a1")
    f.complete(T0 + 64 * S, arr, "a1", wrap_end=None)
    r = f.run().get("acme", "c1")
    assert r is not None
    assert (r.completed_ms, r.wrap_end_ms, r.closed_ms) == (T0 + 64_000,) * 3
    assert (r.talk_ms, r.wrap_ms, r.handle_ms) == (60_000, 0, 60_000)


def test_offers_rejected_expired_and_updated_tags() -> None:
    f = Feed()
    arr = f.arrive(T0, "c1", agent="a1", tags=["ivr:card"], priority=1)
    rej = OfferRejected(id="rej", ts=T0 + 3 * S, tenant="acme", contact="c1", agent="a1")
    f.add(rej, [f.offer(T0 + 3 * S, arr, "p1", rej.id)])
    tick = ClockTick(id="tick", ts=T0 + 30 * S)
    expired = OfferExpired(
        id=f.d(),
        ts=T0 + 23 * S,
        cause="tick",
        tenant="acme",
        contact="c1",
        agent="p1",
        offer="c1#2",
        missed_in_row=1,
    )
    f.add(tick, [expired, f.offer(T0 + 23 * S, arr, "a1", "tick")])
    f.add(
        ContactUpdated(
            id="upd", ts=T0 + 31 * S, tenant="acme", contact="c1", tags=["vip"], priority=5
        ),
        [],
    )
    f.accept(T0 + 35 * S, arr, "a1")
    rec = f.run()
    r = rec.get("acme", "c1")
    assert r is not None
    assert (r.offers, r.offers_rejected, r.offers_expired) == (3, 1, 1)
    assert r.tags == ["vip"] and r.priority == 5  # the engine replaces the tag list
    assert r.first_offer_ms == T0 and r.wait_ms == 35_000
    assert r.outcome == "open" and r.agent == "a1"


def test_rejected_inputs_change_nothing_and_late_inputs_count_at_the_clock() -> None:
    f = Feed()
    f.arrive(T0 + 60 * S, "c1")
    bad = ContactArrived(
        id="dup", ts=T0 + 61 * S, tenant="acme", contact="c1", queue="acme-voice", channel="voice"
    )
    f.add(
        bad,
        [
            InputRejected(
                id=f.d(),
                ts=T0 + 61 * S,
                cause="dup",
                event_type="contact_arrived",
                code="contact_exists",
                message="exists",
                tenant="acme",
            )
        ],
    )
    # Stamped behind the clock: the engine applies it at its clock (T0 + 61 s).
    late = f.arrive(T0 + 10 * S, "late")
    f.abandon(T0 + 63 * S, late)
    rec = f.run()
    assert len(rec.records()) == 2
    r = rec.get("acme", "late")
    assert r is not None and r.arrived_ms == T0 + 61_000 and r.wait_ms == 2_000
    assert rec.clock_ms == T0 + 63_000


def test_contacts_are_keyed_by_tenant() -> None:
    f = Feed()
    f.arrive(T0, "same-id")
    f.arrive(T0 + 1, "same-id", tenant="globex", queue="globex-voice")
    rec = f.run()
    assert {r.tenant for r in rec.records()} == {"acme", "globex"}
    assert [r.tenant for r in rec.records("globex")] == ["globex"]


# --------------------------------------------------------------------------- agents


def test_agent_presence_intervals_with_pause_reasons() -> None:
    f = Feed()
    f.state(T0, "a1", "login")
    f.state(T0 + 30 * 60 * S, "a1", "paused", "lunch")
    f.state(T0 + 60 * 60 * S, "a1", "available")
    f.state(T0 + 90 * 60 * S, "a1", "not_responding", "missed_offers")
    f.state(T0 + 95 * 60 * S, "a1", "available")
    f.state(T0 + 120 * 60 * S, "a1", "offline")
    rec = f.run()
    acts = rec.agent_activity("a1")
    assert [(a.state, a.reason) for a in acts] == [
        ("available", None),
        ("paused", "lunch"),
        ("available", None),
        ("not_responding", "missed_offers"),
        ("available", None),
        ("offline", None),
    ]
    assert [a.end_ms for a in acts[:-1]] == [a.start_ms for a in acts[1:]]
    assert acts[-1].end_ms is None and acts[0].team == "Helsinki"
    fig = cube_from_records(
        rec.config, [], agent_activity=rec.agent_activity(), as_of_ms=T0 + 180 * 60 * S
    ).figures(agent="a1")
    assert fig.logged_in_s == 120 * 60
    assert fig.pause_s_by_reason == {"lunch": 1800.0}
    assert fig.not_responding_s == 300.0


# --------------------------------------------------------------------------- storage


def _sample_recorder() -> ContactRecorder:
    f = Feed()
    f.state(T0 - 60 * S, "a1", "login")
    a = f.arrive(T0, "c1", agent="a1", tags=["x"], attributes={"k": "v"})
    f.accept(T0 + 5 * S, a, "a1")
    f.complete(T0 + 65 * S, a, "a1", wrap_end=T0 + 70 * S, code="done", resolved=False)
    b = f.arrive(T0 + 1 * S, "c2", tenant="globex", queue="globex-voice")
    f.abandon(T0 + 9 * S, b)
    f.add(SurveyAnswered(id="s", ts=T0 + 80 * S, tenant="acme", contact="c1", nps=9, ces=6), [])
    f.arrive(T0 + 90 * S, "c3")
    f.items.sort(key=lambda x: x[0].ts)
    return f.run()


def test_write_duckdb_round_trips_records(tmp_path: Path) -> None:
    rec = _sample_recorder()
    db = tmp_path / "c.duckdb"
    rec.write_duckdb(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = [r[0] for r in con.execute("DESCRIBE contacts").fetchall()]
        assert tuple(cols) == CONTACT_COLUMNS
        assert tuple(r[0] for r in con.execute("DESCRIBE agent_states").fetchall()) == (
            AGENT_STATE_COLUMNS
        )
        assert tuple(r[0] for r in con.execute("DESCRIBE agent_work").fetchall()) == (
            AGENT_WORK_COLUMNS
        )
        types = dict(
            con.execute("SELECT column_name, column_type FROM (DESCRIBE contacts)").fetchall()
        )
        assert types["arrived_at"] == "TIMESTAMP" and types["tags"] == "VARCHAR[]"
        assert sorted(load_records(con, None), key=lambda r: r.contact) == sorted(
            rec.records(), key=lambda r: r.contact
        )
        assert load_records(con, "globex") == rec.records("globex")
        assert load_agent_activity(con) == rec.agent_activity()
        config, as_of = load_meta(con)
        assert config == rec.config and as_of == rec.clock_ms
        work = con.execute("SELECT agent, tenant, contact FROM agent_work").fetchall()
        assert work == [("a1", "acme", "c1")]
        assert con.execute("SELECT count(*) FROM contacts WHERE handled_by_partner").fetchone() == (
            0,
        )
    finally:
        con.close()
    rec.write_duckdb(db)  # replace: the same rows, not twice
    rec.write_duckdb(db, replace=False)  # append
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM contacts").fetchone() == (6,)
        assert con.execute("SELECT count(*) FROM meta").fetchone() == (3,)
    finally:
        con.close()


def test_to_arrow_has_the_tables() -> None:
    tables = _sample_recorder().to_arrow()
    assert set(tables) == {"contacts", "agent_states", "agent_work"}
    assert tables["contacts"].num_rows == 3
    assert tuple(tables["contacts"].column_names) == CONTACT_COLUMNS


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_records_of_one_tenant_only(tenant: str) -> None:
    rec = _sample_recorder()
    assert {r.tenant for r in rec.records(tenant)} == {tenant}
    assert {w.tenant for w in rec.agent_work(tenant)} <= {tenant}
