"""Scenarios for the reference model of docs/routing.md, told as a contact centre day.

The reference model is the yardstick the Rust core is measured against in
``test_stateful.py``; these scenarios check the yardstick itself against the spec.
"""

from __future__ import annotations

from typing import Any

from ccroute.config import config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentProfileChanged,
    AgentStateChanged,
    AgentStateSet,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactQueued,
    ContactUpdated,
    Decision,
    InputRejected,
    OfferAccepted,
    OfferExpired,
    OfferMade,
    OfferRejected,
    OfferRevoked,
    SkillRequirement,
    SurveyAnswered,
    WorkInterrupted,
    WorkResumed,
    WrapUpEnded,
    WrapUpFinished,
    WrapUpStarted,
)
from reference_model import ReferenceEngine

HOUR = 3_600_000


class Desk:
    """A contact centre under the reference model: sends inputs, checks invariants."""

    def __init__(self, **config: Any) -> None:
        config.setdefault("tenants", [{"id": "acme"}, {"id": "globex"}])
        self.engine = ReferenceEngine(config_from_dict(config))
        self.now = 0
        self.n = 0

    def send(self, cls: type[Any], *, at: int | None = None, **fields: Any) -> list[Decision]:
        if at is not None:
            self.now = at
        self.n += 1
        fields.setdefault("id", f"e{self.n}")
        fields.setdefault("ts", self.now)
        decisions = self.engine.apply(cls(**fields))
        self.engine.invariants()
        return decisions

    def arrive(self, contact: str, queue: str, channel: str, **kw: Any) -> list[Decision]:
        kw.setdefault("tenant", "acme")
        return self.send(ContactArrived, contact=contact, queue=queue, channel=channel, **kw)

    def login(self, agent: str, **kw: Any) -> list[Decision]:
        return self.send(AgentLoggedIn, agent=agent, **kw)

    def accept(self, contact: str, agent: str, tenant: str = "acme") -> list[Decision]:
        return self.send(OfferAccepted, tenant=tenant, contact=contact, agent=agent)

    def complete(self, contact: str, agent: str, tenant: str = "acme") -> list[Decision]:
        return self.send(ContactCompleted, tenant=tenant, contact=contact, agent=agent)


def kinds(decisions: list[Decision]) -> list[str]:
    return [type(d).__struct_config__.tag for d in decisions]


def only(decisions: list[Decision], cls: type[Any]) -> Any:
    (d,) = [d for d in decisions if isinstance(d, cls)]
    return d


def offered(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.contact, d.agent) for d in decisions if isinstance(d, OfferMade)]


def voice_queue(**kw: Any) -> dict[str, Any]:
    return {"id": "calls", "tenant": "acme", "channels": ["voice"], **kw}


# ----------------------------------------------------------------- skills and language


def test_a_swedish_speaking_caller_waits_for_the_swedish_agent() -> None:
    desk = Desk(
        queues=[voice_queue()],
        agents=[
            {"id": "aino", "languages": ["fi"], "capacity": {"voice": 1}},
            {"id": "sven", "languages": ["sv", "fi"], "capacity": {"voice": 1}},
        ],
    )
    desk.login("aino")
    queued = desk.arrive("c1", "calls", "voice", language="sv")
    assert kinds(queued) == ["contact_queued"]
    assert only(queued, ContactQueued).waiting == 1

    got = desk.login("sven", at=5_000)
    assert kinds(got) == ["agent_state_set", "offer_made"]
    offer = only(got, OfferMade)
    assert (offer.contact, offer.agent, offer.offer, offer.attempt) == ("c1", "sven", "c1#1", 1)
    assert offer.expires_at == 5_000 + 20_000


def test_a_contact_needs_the_larger_of_queue_and_contact_skill_minimums() -> None:
    desk = Desk(
        queues=[voice_queue(skills={"billing": 3})],
        agents=[
            {"id": "junior", "skills": {"billing": 4}, "capacity": {"voice": 1}},
            {"id": "senior", "skills": {"billing": 8}, "capacity": {"voice": 1}},
        ],
    )
    desk.login("junior")
    desk.login("senior")
    hard = desk.arrive("c1", "calls", "voice", skills=[SkillRequirement("billing", 6)])
    assert offered(hard) == [("c1", "senior")]
    easy = desk.arrive("c2", "calls", "voice", skills=[SkillRequirement("billing", 2)])
    assert offered(easy) == [("c2", "junior")]


# ------------------------------------------------------------------------ blending


def blended(**email_queue: Any) -> Desk:
    return Desk(
        queues=[
            voice_queue(),
            {"id": "mail", "tenant": "acme", "channels": ["email"], **email_queue},
            {"id": "web", "tenant": "acme", "channels": ["chat"]},
        ],
        agents=[{"id": "maria", "capacity": {"voice": 1, "chat": 2, "email": 2}}],
    )


def test_an_agent_on_a_call_gets_no_chat() -> None:
    desk = blended()
    desk.login("maria")
    desk.arrive("call", "calls", "voice")
    desk.accept("call", "maria")
    assert kinds(desk.arrive("chat", "web", "chat")) == ["contact_queued"]

    # Hanging up frees Maria completely, and the waiting chat is pushed to her at once.
    done = desk.complete("call", "maria")
    assert kinds(done) == ["contact_closed", "offer_made"]
    assert offered(done) == [("chat", "maria")]


def test_quiet_phones_agents_work_email_until_the_phone_rings() -> None:
    desk = blended()
    desk.login("maria")
    assert offered(desk.arrive("m1", "mail", "email")) == [("m1", "maria")]
    desk.accept("m1", "maria")
    assert offered(desk.arrive("m2", "mail", "email")) == [("m2", "maria")]
    # E-mail is not interruptible here, so the call waits for the e-mails to be done.
    assert kinds(desk.arrive("call", "calls", "voice")) == ["contact_queued"]
    desk.accept("m2", "maria")
    desk.complete("m1", "maria")
    done = desk.complete("m2", "maria")
    assert offered(done) == [("call", "maria")]


def test_a_chatting_agent_gets_no_email() -> None:
    desk = blended()
    desk.login("maria")
    desk.arrive("chat", "web", "chat")
    desk.accept("chat", "maria")
    assert kinds(desk.arrive("m1", "mail", "email")) == ["contact_queued"]
    # Chat capacity 2: a second chat still reaches her.
    assert offered(desk.arrive("chat2", "web", "chat")) == [("chat2", "maria")]


def test_an_interruptible_email_is_set_aside_for_a_call_and_resumes_after_it() -> None:
    desk = blended(interruptible=True)
    desk.login("maria")
    desk.arrive("m1", "mail", "email")
    desk.accept("m1", "maria")
    ring = desk.arrive("call", "calls", "voice")
    assert offered(ring) == [("call", "maria")]

    taken = desk.accept("call", "maria")
    assert kinds(taken) == ["contact_assigned", "work_interrupted"]
    paused = only(taken, WorkInterrupted)
    assert (paused.contact, paused.by_contact) == ("m1", "call")

    done = desk.complete("call", "maria")
    assert kinds(done) == ["contact_closed", "work_resumed"]
    assert only(done, WorkResumed).contact == "m1"


def test_an_offered_email_blocks_a_call_until_it_is_accepted() -> None:
    desk = blended(interruptible=True)
    desk.login("maria")
    desk.arrive("m1", "mail", "email")
    # Only accepted (active) interruptible work can be set aside: an open offer cannot.
    assert kinds(desk.arrive("call", "calls", "voice")) == ["contact_queued"]
    # Once she accepts the e-mail, the call is pushed to her straight away.
    taken = desk.accept("m1", "maria")
    assert kinds(taken) == ["contact_assigned", "offer_made"]
    assert offered(taken) == [("call", "maria")]


# ---------------------------------------------------------------- priority and aging


def test_a_vip_email_jumps_the_line() -> None:
    desk = Desk(
        queues=[{"id": "mail", "tenant": "acme", "channels": ["email"]}],
        agents=[{"id": "emil", "capacity": {"email": 1}}],
    )
    desk.arrive("plain1", "mail", "email", at=0)
    desk.arrive("plain2", "mail", "email", at=1_000)
    desk.arrive("vip", "mail", "email", priority=5, at=2_000)
    got = desk.login("emil", at=3_000)
    assert offered(got) == [("vip", "emil")]
    desk.accept("vip", "emil")
    assert offered(desk.complete("vip", "emil")) == [("plain1", "emil")]


def test_waiting_earns_one_point_per_aging_interval() -> None:
    # 60 s per point: an e-mail that waited two minutes longer outranks a one-point VIP.
    desk = Desk(
        queues=[{"id": "mail", "tenant": "acme", "channels": ["email"]}],
        agents=[{"id": "emil", "capacity": {"email": 1}}],
    )
    desk.arrive("old", "mail", "email", at=0)
    desk.arrive("vip", "mail", "email", priority=1, at=120_001)
    assert offered(desk.login("emil", at=200_000)) == [("old", "emil")]


def test_a_queue_priority_weighs_whole_queues_against_each_other() -> None:
    desk = Desk(
        routing={"aging_seconds_per_point": 0},
        queues=[
            {"id": "normal", "tenant": "acme", "channels": ["email"]},
            {"id": "gold", "tenant": "acme", "channels": ["email"], "priority": 2},
        ],
        agents=[{"id": "emil", "capacity": {"email": 1}}],
    )
    desk.arrive("n1", "normal", "email", priority=1, at=0)
    desk.arrive("g1", "gold", "email", at=HOUR)
    assert offered(desk.login("emil", at=2 * HOUR)) == [("g1", "emil")]


def test_a_priority_update_moves_a_waiting_contact_forward() -> None:
    desk = Desk(
        queues=[{"id": "mail", "tenant": "acme", "channels": ["email"]}],
        agents=[{"id": "emil", "capacity": {"email": 1}}],
    )
    desk.arrive("first", "mail", "email", at=0)
    desk.arrive("second", "mail", "email", at=1_000)
    assert desk.send(ContactUpdated, tenant="acme", contact="second", priority=3) == []
    assert offered(desk.login("emil", at=2_000)) == [("second", "emil")]


def test_equal_contacts_are_offered_in_arrival_order() -> None:
    desk = Desk(
        queues=[{"id": "web", "tenant": "acme", "channels": ["chat"]}],
        agents=[{"id": "cara", "capacity": {"chat": 3}}],
    )
    for n in range(4):
        desk.arrive(f"chat{n}", "web", "chat")
    # Chat capacity 3: three offers at once, oldest first.
    got = desk.login("cara")
    assert offered(got) == [("chat0", "cara"), ("chat1", "cara"), ("chat2", "cara")]


# --------------------------------------------------------------------- strategies


def team(strategy: str, **queue: Any) -> Desk:
    return Desk(
        routing={"strategy": strategy},
        queues=[{"id": "web", "tenant": "acme", "channels": ["chat"], **queue}],
        agents=[
            {"id": "a1", "skills": {"de": 3}, "capacity": {"chat": 2}},
            {"id": "a2", "skills": {"de": 7}, "capacity": {"chat": 3}},
            {"id": "a3", "skills": {"de": 5}, "capacity": {"chat": 1}},
        ],
    )


def test_longest_idle_offers_to_the_agent_waiting_longest() -> None:
    desk = team("longest_idle")
    desk.login("a2", at=1_000)
    desk.login("a1", at=2_000)
    desk.login("a3", at=3_000)
    offer = only(desk.arrive("c1", "web", "chat", at=10_000), OfferMade)
    assert offer.agent == "a2"
    assert (offer.reason.strategy, offer.reason.score, offer.reason.considered) == (
        "longest_idle",
        9_000,
        3,
    )
    assert [(r.agent, r.score) for r in offer.reason.runners_up] == [("a1", 8_000), ("a3", 7_000)]
    # a2 now holds an item, so the idle a1 comes first though a2 has been idle longer.
    assert only(desk.arrive("c2", "web", "chat", at=11_000), OfferMade).agent == "a1"


def test_best_proficiency_offers_to_the_most_skilled() -> None:
    desk = team("best_proficiency", skills={"de": 2})
    for a in ("a1", "a2", "a3"):
        desk.login(a)
    offer = only(desk.arrive("c1", "web", "chat"), OfferMade)
    assert (offer.agent, offer.reason.score) == ("a2", 7)
    assert [(r.agent, r.score) for r in offer.reason.runners_up] == [("a3", 5), ("a1", 3)]


def test_most_spare_capacity_offers_to_the_least_loaded() -> None:
    desk = team("most_spare_capacity")
    for a in ("a1", "a2", "a3"):
        desk.login(a)
    assert [only(desk.arrive(f"c{n}", "web", "chat"), OfferMade).agent for n in range(4)] == [
        "a2",  # spare 3
        "a1",  # spare 2 vs a2 2: a1 holds nothing yet
        "a2",  # spare 2 (a2) beats 1 (a1, a3)
        "a3",  # spare 1 each; a3 holds nothing
    ]


def test_round_robin_offers_to_whoever_was_assigned_least_recently() -> None:
    desk = team("round_robin")
    for a in ("a1", "a2", "a3"):
        desk.login(a)
    first = only(desk.arrive("c1", "web", "chat", at=1_000), OfferMade)
    assert (first.agent, first.reason.score) == ("a1", 1_000)
    desk.accept("c1", "a1")
    # Only an acceptance counts as an assignment: a1 goes to the back of the round.
    second = only(desk.arrive("c2", "web", "chat", at=2_000), OfferMade)
    assert second.agent == "a2"
    assert [(r.agent, r.score) for r in second.reason.runners_up] == [
        ("a3", 2_000),
        ("a1", 1_000),
    ]


# ------------------------------------------------------------- offers that do not land


def pair(**routing: Any) -> Desk:
    return Desk(
        routing=routing,
        queues=[voice_queue()],
        agents=[
            {"id": "pia", "capacity": {"voice": 1}},
            {"id": "olli", "capacity": {"voice": 1}},
        ],
    )


def test_a_rejected_call_goes_to_the_next_agent_and_comes_back_after_cooldown() -> None:
    desk = pair(decline_cooldown_seconds=30)
    desk.login("pia", at=0)
    desk.login("olli", at=1_000)
    assert offered(desk.arrive("c1", "calls", "voice", at=2_000)) == [("c1", "pia")]
    moved = desk.send(OfferRejected, tenant="acme", contact="c1", agent="pia", at=3_000)
    assert offered(moved) == [("c1", "olli")]
    assert only(moved, OfferMade).offer == "c1#2"

    # Olli declines too while Pia is still cooling down: the call waits.
    again = desk.send(OfferRejected, tenant="acme", contact="c1", agent="olli", at=4_000)
    assert kinds(again) == ["contact_queued"]
    assert only(again, ContactQueued).requeued

    # Pia's cool-down ends at 33 s; the next input past it finds the call offered to her.
    back = desk.send(ClockTick, at=40_000)
    assert offered(back) == [("c1", "pia")]
    assert back[0].ts == 33_000
    assert back[0].cause == f"e{desk.n}"


def test_two_missed_offers_put_the_agent_in_not_responding() -> None:
    desk = pair(offer_timeout_seconds=10, decline_cooldown_seconds=100)
    desk.login("pia")
    desk.arrive("c1", "calls", "voice", at=1_000)
    first = desk.send(ClockTick, at=12_000)
    assert kinds(first) == ["offer_expired", "contact_queued"]
    assert only(first, OfferExpired).missed_in_row == 1
    assert first[0].ts == 11_000

    desk.arrive("c2", "calls", "voice", at=12_000)  # pia is cooling down for c1 only
    second = desk.send(ClockTick, at=30_000)
    assert kinds(second) == ["offer_expired", "agent_state_set", "contact_queued"]
    assert only(second, OfferExpired).missed_in_row == 2
    state = only(second, AgentStateSet)
    assert (state.state, state.reason, state.by) == ("not_responding", "missed_offers", "engine")

    # She must clear it herself. She is still cooling down for c1 and c2, but a new
    # call reaches her.
    back = desk.send(AgentStateChanged, agent="pia", state="available", at=31_000)
    assert kinds(back) == ["agent_state_set"]
    assert offered(desk.arrive("c3", "calls", "voice")) == [("c3", "pia")]


def test_an_offer_accepted_in_time_resets_the_missed_count() -> None:
    desk = pair(offer_timeout_seconds=10, decline_cooldown_seconds=0)
    desk.login("pia")
    desk.arrive("c1", "calls", "voice", at=0)
    desk.send(ClockTick, at=10_000)  # missed once, and offered again at once (no cool-down)
    desk.accept("c1", "pia")
    desk.complete("c1", "pia")
    desk.arrive("c2", "calls", "voice")
    expired = desk.send(ClockTick, at=25_000)
    assert only(expired, OfferExpired).missed_in_row == 1
    assert "agent_state_set" not in kinds(expired)


def test_pausing_revokes_an_open_offer_and_the_call_moves_on() -> None:
    desk = pair()
    desk.login("pia")
    desk.login("olli", at=1)
    desk.arrive("c1", "calls", "voice", at=2)
    got = desk.send(AgentStateChanged, agent="pia", state="paused", reason="lunch")
    assert kinds(got) == ["agent_state_set", "offer_revoked", "offer_made"]
    assert only(got, OfferRevoked).reason == "agent_paused"
    assert offered(got) == [("c1", "olli")]
    # Marking the same pause again changes nothing.
    assert desk.send(AgentStateChanged, agent="pia", state="paused", reason="lunch") == []


def test_a_caller_who_hangs_up_during_the_offer_frees_the_agent() -> None:
    desk = pair()
    desk.login("pia")
    desk.arrive("c1", "calls", "voice")
    desk.arrive("c2", "calls", "voice")
    gone = desk.send(ContactAbandoned, tenant="acme", contact="c1")
    assert kinds(gone) == ["offer_revoked", "contact_closed", "offer_made"]
    assert only(gone, ContactClosed).outcome == "abandoned"
    assert offered(gone) == [("c2", "pia")]
    late = desk.send(ContactAbandoned, tenant="acme", contact="c1")
    assert only(late, InputRejected).code == "invalid_state"


# --------------------------------------------------------------- wrap-up and sessions


def test_wrap_up_holds_the_agent_until_done_or_the_limit() -> None:
    desk = Desk(
        queues=[voice_queue(wrap_up_seconds=60)],
        agents=[{"id": "pia", "capacity": {"voice": 1}}],
    )
    desk.login("pia")
    desk.arrive("c1", "calls", "voice")
    desk.accept("c1", "pia")
    started = desk.complete("c1", "pia")
    assert only(started, WrapUpStarted).ends_by == 60_000
    assert kinds(desk.arrive("c2", "calls", "voice", at=1_000)) == ["contact_queued"]
    done = desk.send(ClockTick, at=70_000)
    assert kinds(done) == ["wrap_up_ended", "contact_closed", "offer_made"]
    assert only(done, WrapUpEnded).by == "timeout"
    assert all(d.ts == 60_000 for d in done)
    desk.accept("c2", "pia")
    desk.complete("c2", "pia")
    finished = desk.send(WrapUpFinished, tenant="acme", contact="c2", agent="pia")
    assert only(finished, WrapUpEnded).by == "agent"
    assert only(finished, ContactClosed).agent == "pia"


def test_an_agent_with_a_call_in_progress_cannot_log_out() -> None:
    desk = pair()
    desk.login("pia")
    desk.arrive("c1", "calls", "voice")
    desk.accept("c1", "pia")
    refused = desk.send(AgentLoggedOut, agent="pia")
    assert only(refused, InputRejected).code == "agent_has_work"
    desk.complete("c1", "pia")
    assert kinds(desk.send(AgentLoggedOut, agent="pia")) == ["agent_state_set"]


def test_logging_out_hands_open_offers_to_colleagues() -> None:
    desk = pair()
    desk.login("pia")
    desk.arrive("c1", "calls", "voice")
    desk.login("olli", at=5)
    out = desk.send(AgentLoggedOut, agent="pia")
    assert kinds(out) == ["agent_state_set", "offer_revoked", "offer_made"]
    assert only(out, OfferRevoked).reason == "agent_offline"
    assert offered(out) == [("c1", "olli")]


def test_a_new_agent_appears_with_a_profile_and_starts_offline() -> None:
    desk = Desk(queues=[voice_queue()])
    desk.arrive("c1", "calls", "voice")
    assert desk.send(AgentProfileChanged, agent="new", capacity={"voice": 1}) == []
    assert offered(desk.login("new")) == [("c1", "new")]


# ---------------------------------------------------------------- tenants and inputs


def test_tenants_cannot_see_or_touch_each_others_contacts() -> None:
    desk = Desk(
        queues=[voice_queue(), {"id": "g-calls", "tenant": "globex", "channels": ["voice"]}],
        agents=[{"id": "pia", "tenants": ["globex"], "capacity": {"voice": 1}}],
    )
    desk.login("pia")
    assert kinds(desk.arrive("c1", "calls", "voice")) == ["contact_queued"]
    assert offered(desk.arrive("c1", "g-calls", "voice", tenant="globex")) == [("c1", "pia")]
    # globex's agent cannot accept acme's c1: for acme's key there is no offer to her.
    wrong = desk.accept("c1", "pia", tenant="acme")
    assert only(wrong, InputRejected).code == "invalid_state"
    nosy = desk.send(ContactAbandoned, tenant="initech", contact="c1")
    assert (only(nosy, InputRejected).code, nosy[0].tenant) == ("unknown_contact", "initech")
    mixed = desk.arrive("c2", "g-calls", "voice", tenant="acme")
    assert only(mixed, InputRejected).code == "tenant_mismatch"


def test_invalid_references_are_rejected_with_their_code() -> None:
    desk = pair()
    codes = [
        desk.arrive("c", "calls", "voice", tenant="initech"),
        desk.arrive("c", "nowhere", "voice"),
        desk.arrive("c", "calls", "chat"),
        desk.send(AgentLoggedIn, agent="ghost"),
        desk.send(OfferAccepted, tenant="acme", contact="nobody", agent="pia"),
    ]
    assert [only(d, InputRejected).code for d in codes] == [
        "unknown_tenant",
        "unknown_queue",
        "channel_not_served",
        "unknown_agent",
        "unknown_contact",
    ]
    desk.login("pia")
    desk.arrive("c", "calls", "voice")
    assert only(desk.accept("c", "olli"), InputRejected).code == "wrong_agent"
    assert only(desk.arrive("c", "calls", "voice"), InputRejected).code == "contact_exists"
    assert only(desk.login("pia"), InputRejected).code == "invalid_state"
    # A closed contact is still known (for surveys), so the unknown agent is named first.
    desk.send(ContactAbandoned, tenant="acme", contact="c")
    assert only(desk.accept("c", "ghost"), InputRejected).code == "unknown_agent"
    assert only(desk.accept("c", "pia"), InputRejected).code == "invalid_state"


def test_a_duplicate_input_is_rejected_and_does_not_move_the_clock() -> None:
    desk = pair()
    desk.arrive("c1", "calls", "voice", id="x", at=1_000)
    dup = desk.arrive("c2", "calls", "voice", id="x", at=9_000)
    rejected = only(dup, InputRejected)
    assert (rejected.code, rejected.event_type, rejected.ts) == (
        "duplicate_event",
        "contact_arrived",
        1_000,
    )
    assert desk.engine.clock == 1_000


def test_an_input_id_is_forgotten_after_the_dedupe_window() -> None:
    desk = pair(dedupe_window_hours=1)
    desk.send(AgentLoggedIn, agent="pia", id="x", at=0)
    # The window is on the engine clock, which only later inputs move.
    assert only(desk.send(ClockTick, id="x", at=2 * HOUR), InputRejected).code == (
        "duplicate_event"
    )
    desk.send(ClockTick, at=HOUR + 1)
    again = desk.send(AgentLoggedOut, agent="pia", id="x")
    assert kinds(again) == ["agent_state_set"]


def test_past_its_budget_the_dedupe_memory_forgets_the_oldest_id_first() -> None:
    desk = pair(dedupe_max_ids=2)
    desk.send(AgentLoggedIn, agent="pia", id="x", at=0)
    desk.send(ClockTick, id="y", at=1_000)
    assert only(desk.send(ClockTick, id="x", at=2_000), InputRejected).code == ("duplicate_event")
    # A third id pushes the oldest, x, out, long before its 24 hours are up.
    desk.send(ClockTick, id="z", at=3_000)
    assert only(desk.send(ClockTick, id="y", at=4_000), InputRejected).code == ("duplicate_event")
    again = desk.send(AgentLoggedOut, agent="pia", id="x", at=5_000)
    assert kinds(again) == ["agent_state_set"]


def test_past_its_budget_the_closed_contact_memory_forgets_the_first_closed() -> None:
    desk = Desk(
        routing={"closed_contact_max": 1},
        queues=[{"id": "web", "tenant": "acme", "channels": ["chat"]}],
        agents=[{"id": "cara", "capacity": {"chat": 1}}],
    )
    desk.login("cara")
    for contact in ("c1", "c2"):
        desk.arrive(contact, "web", "chat")
        desk.accept(contact, "cara")
        desk.complete(contact, "cara")
    # c2 closed last and is remembered; c1 made way for it, well within the week.
    assert desk.send(SurveyAnswered, tenant="acme", contact="c2", csat=5) == []
    late = desk.send(SurveyAnswered, tenant="acme", contact="c1", csat=4)
    assert only(late, InputRejected).code == "unknown_contact"
    assert kinds(desk.arrive("c1", "web", "chat")) == ["offer_made"]


def test_a_late_event_is_applied_at_the_engine_clock() -> None:
    desk = pair()
    desk.login("pia", at=10_000)
    late = desk.arrive("c1", "calls", "voice", at=4_000)
    offer = only(late, OfferMade)
    assert (offer.ts, offer.expires_at) == (10_000, 30_000)
    assert desk.engine.late_events == 1


def test_an_unsupported_schema_version_is_rejected_without_effect() -> None:
    desk = pair()
    got = desk.send(AgentLoggedIn, agent="pia", v=2, at=5_000)
    assert only(got, InputRejected).code == "unsupported_version"
    assert desk.engine.clock == 0
    assert kinds(desk.login("pia")) == ["agent_state_set"]


def test_a_survey_finds_the_closed_contact_until_retention_ends() -> None:
    desk = Desk(
        routing={"closed_contact_retention_hours": 1},
        queues=[{"id": "web", "tenant": "acme", "channels": ["chat"]}],
        agents=[{"id": "cara", "capacity": {"chat": 1}}],
    )
    desk.login("cara")
    desk.arrive("c1", "web", "chat")
    desk.accept("c1", "cara")
    desk.complete("c1", "cara")
    # Retention counts from the close (at 0) and includes its last millisecond.
    assert desk.send(SurveyAnswered, tenant="acme", contact="c1", csat=5, at=HOUR) == []
    assert only(desk.arrive("c1", "web", "chat"), InputRejected).code == "contact_exists"
    late = desk.send(SurveyAnswered, tenant="acme", contact="c1", csat=4, at=HOUR + 1)
    assert only(late, InputRejected).code == "unknown_contact"
    # Forgotten, the id is free for a new contact.
    assert kinds(desk.arrive("c1", "web", "chat")) == ["offer_made"]


def test_decision_ids_count_up_across_inputs_and_name_their_cause() -> None:
    desk = pair()
    first = desk.login("pia", id="login-1")
    second = desk.arrive("c1", "calls", "voice", id="call-1")
    assert [(d.id, d.cause) for d in first + second] == [("d1", "login-1"), ("d2", "call-1")]
    assert isinstance(second[0], OfferMade)
    accepted = desk.accept("c1", "pia")
    assert only(accepted, ContactAssigned).wait_ms == 0
