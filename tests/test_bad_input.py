"""Bad input: every rejection the engine makes, and proof that a rejection changes nothing.

Producers are many (PBX, chat platform, CRM, agent desktops) and they make mistakes. Each
mistake must come back as one ``input_rejected`` whose ``code`` says which rule and whose
``message`` names the offending thing, and must leave the engine exactly as it was: the
same counters, and the same decisions for whatever comes next.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ccroute import Engine
from ccroute.config import config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactCompleted,
    ContactUpdated,
    Decision,
    Input,
    InputRejected,
    OfferAccepted,
    OfferMade,
    SurveyAnswered,
    WrapUpFinished,
)

T0 = 1_767_261_600_000  # 2026-01-01 10:00 UTC
HOUR = 3_600_000


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


CONFIG = config_from_dict(
    {
        "tenants": [{"id": "energia"}, {"id": "kauppa"}],
        "queues": [
            {"id": "energia.service", "tenant": "energia", "channels": ["voice", "email"]},
            {"id": "kauppa.chat", "tenant": "kauppa", "channels": ["chat"]},
        ],
        "agents": [
            {"id": "aino", "capacity": {"voice": 1, "email": 2, "chat": 2}},
            {"id": "bo", "tenants": ["energia"], "capacity": {"voice": 1}},
        ],
    }
)

# The morning so far: both agents in, a call offered to Aino, an e-mail waiting (Aino's
# phone is ringing and Bo takes no e-mail).
SETUP: list[Input] = [
    AgentLoggedIn(id="s1", ts=at(0), agent="aino"),
    AgentLoggedIn(id="s2", ts=at(0), agent="bo"),
    ContactArrived(
        id="s3", ts=at(1), tenant="energia", contact="c-1", queue="energia.service", channel="voice"
    ),
    ContactArrived(
        id="s4", ts=at(2), tenant="energia", contact="m-1", queue="energia.service", channel="email"
    ),
]
NOW = at(2)  # the engine clock after SETUP; bad inputs carry it so no time passes

# What happens next on a healthy floor: calls taken and finished, the e-mail answered.
FOLLOW_UP: list[Input] = [
    OfferAccepted(id="f1", ts=at(3), tenant="energia", contact="c-1", agent="aino"),
    ContactArrived(
        id="f2", ts=at(4), tenant="energia", contact="c-2", queue="energia.service", channel="voice"
    ),
    OfferAccepted(id="f3", ts=at(5), tenant="energia", contact="c-2", agent="bo"),
    ContactCompleted(id="f4", ts=at(30), tenant="energia", contact="c-1", agent="aino"),
    OfferAccepted(id="f5", ts=at(31), tenant="energia", contact="m-1", agent="aino"),
    ContactCompleted(id="f6", ts=at(60), tenant="energia", contact="m-1", agent="aino"),
    ContactCompleted(id="f7", ts=at(61), tenant="energia", contact="c-2", agent="bo"),
    AgentLoggedOut(id="f8", ts=at(62), agent="bo"),
    ClockTick(id="f9", ts=at(120)),
]

# Counters that count the rejection itself; everything else describes the floor.
_BOOKKEEPING = ("inputs", "decisions", "rejected", "duplicates")


def floor_state(engine: Engine) -> dict[str, int]:
    return {k: v for k, v in engine.stats().items() if k not in _BOOKKEEPING}


def morning() -> Engine:
    engine = Engine(CONFIG)
    engine.apply_batch(SETUP)
    return engine


def without_ids(ds: list[Decision]) -> list[Decision]:
    # A rejection uses up one decision number, so later ids shift by one; all else must match.
    return [msgspec.structs.replace(d, id="") for d in ds]


def healthy_follow_up() -> list[Decision]:
    return without_ids(morning().apply_batch(FOLLOW_UP))


def rejected(
    bad: Input | bytes,
    code: str,
    event_type: str | None,
    names: tuple[str, ...],
    *,
    fmt: str = "json",
    engine: Engine | None = None,
) -> InputRejected:
    """Apply `bad` to the morning floor and check the rejection is total and harmless."""
    engine = engine or morning()
    before = floor_state(engine)
    raw = isinstance(bad, bytes)
    ds = engine.apply_raw(bad, format=fmt) if raw else engine.apply(bad)  # type: ignore[arg-type]
    assert len(ds) == 1, ds
    [r] = ds
    assert isinstance(r, InputRejected)
    assert (r.code, r.event_type) == (code, event_type)
    for name in names:
        assert name in r.message, f"{name!r} not named in {r.message!r}"
    assert r.ts == engine.clock_ms
    # Nothing moved: not a counter, not the clock ...
    assert floor_state(engine) == before
    # ... and the rest of the day goes exactly as if the bad input had never come.
    assert without_ids(engine.apply_batch(FOLLOW_UP)) == healthy_follow_up()
    return r


def test_the_follow_up_is_a_real_flow() -> None:
    # Guard for every test below: the follow-up must exercise offers, assignments, closes.
    kinds = {type(d).__name__ for d in healthy_follow_up()}
    assert {"OfferMade", "ContactAssigned", "ContactClosed", "AgentStateSet"} <= kinds
    assert "InputRejected" not in kinds


# ----------------------------------------------------------------------- unknown things


def test_unknown_agent_logging_in() -> None:
    rejected(
        AgentLoggedIn(id="x1", ts=NOW, agent="eve"), "unknown_agent", "agent_logged_in", ("eve",)
    )


def test_unknown_agent_accepting_an_offer() -> None:
    r = rejected(
        OfferAccepted(id="x1", ts=NOW, tenant="energia", contact="c-1", agent="eve"),
        "unknown_agent",
        "offer_accepted",
        ("eve",),
    )
    assert r.tenant == "energia"


def test_unknown_contact() -> None:
    rejected(
        OfferAccepted(id="x1", ts=NOW, tenant="energia", contact="c-404", agent="aino"),
        "unknown_contact",
        "offer_accepted",
        ("c-404", "energia"),
    )


def test_unknown_tenant() -> None:
    rejected(
        ContactArrived(
            id="x1", ts=NOW, tenant="acme", contact="c-9", queue="energia.service", channel="voice"
        ),
        "unknown_tenant",
        "contact_arrived",
        ("acme",),
    )


def test_unknown_queue() -> None:
    rejected(
        ContactArrived(
            id="x1",
            ts=NOW,
            tenant="energia",
            contact="c-9",
            queue="energia.sales",
            channel="voice",
        ),
        "unknown_queue",
        "contact_arrived",
        ("energia.sales",),
    )


# --------------------------------------------------------------------------- duplicates


def test_duplicate_event_changes_nothing_and_does_not_move_the_clock() -> None:
    engine = morning()
    # The PBX re-sends c-1's arrival an hour later (its retry after a lost ack). If the
    # duplicate moved the clock, Aino's offer of c-1 (due at 21 s) would expire now.
    resent = msgspec.structs.replace(SETUP[2], ts=NOW + HOUR)
    r = rejected(resent, "duplicate_event", "contact_arrived", ("s3",), engine=engine)
    assert r.ts == NOW


def test_duplicate_id_with_other_content_is_still_a_duplicate() -> None:
    # Idempotency is by id alone: a producer bug reusing ids cannot sneak in a contact.
    other = ContactArrived(
        id="s3", ts=NOW, tenant="energia", contact="c-77", queue="energia.service", channel="voice"
    )
    rejected(other, "duplicate_event", "contact_arrived", ("s3",))


def test_ids_are_forgotten_after_the_dedupe_window() -> None:
    engine = morning()
    window = CONFIG.routing.dedupe_window_hours * HOUR
    engine.apply(ClockTick(id="t1", ts=at(0) + window))
    # s1 was seen at 0 s: exactly one window later it is still remembered ...
    again = AgentLoggedIn(id="s1", ts=at(0) + window, agent="aino")
    assert engine.apply(again)[0].code == "duplicate_event"  # type: ignore[union-attr]
    # ... one millisecond past the window it is a new input (here: Aino is already in).
    engine.apply(ClockTick(id="t2", ts=at(0) + window + 1))
    [r] = engine.apply(msgspec.structs.replace(again, ts=at(0) + window + 1))
    assert isinstance(r, InputRejected)
    assert r.code == "invalid_state"


def test_a_producer_clock_a_year_ahead_is_a_clock_jump_and_changes_nothing() -> None:
    engine = morning()
    # A chat platform with a wrong clock stamps an arrival a year ahead: applying it would
    # expire every offer and run a year of queue openings and closings at once.
    far = ContactArrived(
        id="w1",
        ts=NOW + 366 * 24 * HOUR,
        tenant="energia",
        contact="c-99",
        queue="energia.service",
        channel="voice",
    )
    r = rejected(
        far,
        "clock_jump",
        "contact_arrived",
        ("366 days ahead", "max_clock_jump_days"),
        engine=engine,
    )
    assert r.ts == NOW
    # Within the limit (a long weekend with the service down) time simply passes.
    weekend = msgspec.structs.replace(far, id="w2", ts=NOW + 3 * 24 * HOUR)
    assert not any(isinstance(d, InputRejected) for d in engine.apply(weekend))


# ------------------------------------------------------------------------ tenant secrecy


def test_arrival_in_another_tenants_queue_is_tenant_mismatch() -> None:
    r = rejected(
        ContactArrived(
            id="x1",
            ts=NOW,
            tenant="kauppa",
            contact="k-1",
            queue="energia.service",
            channel="voice",
        ),
        "tenant_mismatch",
        "contact_arrived",
        ("energia.service", "kauppa"),
    )
    # The rejection goes back to the sender's tenant only.
    assert r.tenant == "kauppa"


@pytest.mark.parametrize(
    "make",
    [
        lambda c: OfferAccepted(id="x1", ts=NOW, tenant="kauppa", contact=c, agent="aino"),
        lambda c: ContactAbandoned(id="x1", ts=NOW, tenant="kauppa", contact=c),
        lambda c: ContactUpdated(id="x1", ts=NOW, tenant="kauppa", contact=c, priority=100),
        lambda c: SurveyAnswered(id="x1", ts=NOW, tenant="kauppa", contact=c, csat=1),
    ],
    ids=["accept", "abandon", "update", "survey"],
)
def test_another_tenants_contact_is_invisible(make: Any) -> None:
    # c-1 is Energia's call. Kauppa naming it gets the answer it would get for a contact
    # that does not exist at all: it cannot even learn that c-1 exists.
    event = make("c-1")
    r = rejected(event, "unknown_contact", event.__struct_config__.tag, ("c-1", "kauppa"))
    [nobody] = morning().apply(make("c-never"))
    assert isinstance(nobody, InputRejected)
    assert (nobody.code, nobody.message.replace("c-never", "c-1")) == (r.code, r.message)


def test_tenants_have_their_own_contact_ids() -> None:
    engine = morning()
    # Kauppa may call its own chat c-1 too: contacts are keyed by (tenant, contact).
    ds = engine.apply(
        ContactArrived(
            id="x1", ts=NOW, tenant="kauppa", contact="c-1", queue="kauppa.chat", channel="chat"
        )
    )
    assert not [d for d in ds if isinstance(d, InputRejected)]
    assert engine.stats()["open_contacts"] == 3


# ---------------------------------------------------------------------- wrong agent/state


def test_offer_accepted_by_the_wrong_agent() -> None:
    rejected(
        OfferAccepted(id="x1", ts=NOW, tenant="energia", contact="c-1", agent="bo"),
        "wrong_agent",
        "offer_accepted",
        ("c-1", "aino", "bo"),
    )


def test_contact_completed_by_the_wrong_agent() -> None:
    engine = morning()
    engine.apply(OfferAccepted(id="a1", ts=NOW, tenant="energia", contact="c-1", agent="aino"))
    before = floor_state(engine)
    [r] = engine.apply(
        ContactCompleted(id="x1", ts=NOW, tenant="energia", contact="c-1", agent="bo")
    )
    assert isinstance(r, InputRejected)
    assert (r.code, r.event_type) == ("wrong_agent", "contact_completed")
    assert "aino" in r.message and "bo" in r.message
    assert floor_state(engine) == before


def test_accepting_a_waiting_contact_is_invalid_state() -> None:
    # m-1 waits; nobody was offered it, so nobody can accept it (push, never pick).
    rejected(
        OfferAccepted(id="x1", ts=NOW, tenant="energia", contact="m-1", agent="aino"),
        "invalid_state",
        "offer_accepted",
        ("m-1", "waiting"),
    )


def test_finishing_a_wrap_up_that_is_not_running_is_invalid_state() -> None:
    rejected(
        WrapUpFinished(id="x1", ts=NOW, tenant="energia", contact="c-1", agent="aino"),
        "invalid_state",
        "wrap_up_finished",
        ("c-1",),
    )


def test_logout_with_work_in_progress_is_agent_has_work() -> None:
    engine = morning()
    engine.apply(OfferAccepted(id="a1", ts=NOW, tenant="energia", contact="c-1", agent="aino"))
    before = floor_state(engine)
    for bad in (
        AgentLoggedOut(id="x1", ts=NOW, agent="aino"),
        AgentStateChanged(id="x2", ts=NOW, agent="aino", state="offline"),
    ):
        [r] = engine.apply(bad)
        assert isinstance(r, InputRejected)
        assert r.code == "agent_has_work"
        assert "aino" in r.message
    # She is still on the call and still logged in; the call completes normally.
    assert floor_state(engine) == before
    ds = engine.apply(
        ContactCompleted(id="a2", ts=at(30), tenant="energia", contact="c-1", agent="aino")
    )
    assert not [d for d in ds if isinstance(d, InputRejected)]
    assert [d.contact for d in ds if isinstance(d, OfferMade)] == ["m-1"]


# ----------------------------------------------------------------- contacts and channels


def test_channel_not_served_by_the_queue() -> None:
    rejected(
        ContactArrived(
            id="x1",
            ts=NOW,
            tenant="energia",
            contact="c-9",
            queue="energia.service",
            channel="chat",
        ),
        "channel_not_served",
        "contact_arrived",
        ("energia.service", "chat"),
    )


def test_contact_id_reused_while_open() -> None:
    rejected(
        ContactArrived(
            id="x1",
            ts=NOW,
            tenant="energia",
            contact="c-1",
            queue="energia.service",
            channel="voice",
        ),
        "contact_exists",
        "contact_arrived",
        ("c-1", "energia"),
    )


def test_contact_id_reused_after_close_within_retention() -> None:
    engine = morning()
    engine.apply(ContactAbandoned(id="a1", ts=NOW, tenant="energia", contact="m-1"))
    reuse = ContactArrived(
        id="x1", ts=NOW, tenant="energia", contact="m-1", queue="energia.service", channel="email"
    )
    [r] = engine.apply(reuse)
    assert isinstance(r, InputRejected)
    assert r.code == "contact_exists"
    # After the retention the id is free again (a survey can no longer find the old one).
    later = at(2) + CONFIG.routing.closed_contact_retention_hours * HOUR + 1
    ds = engine.apply(msgspec.structs.replace(reuse, id="x2", ts=later))
    assert not [d for d in ds if isinstance(d, InputRejected)]


def test_late_survey_finds_its_contact_until_the_retention_ends() -> None:
    engine = morning()
    engine.apply(ContactAbandoned(id="a1", ts=NOW, tenant="energia", contact="m-1"))
    keep = CONFIG.routing.closed_contact_retention_hours * HOUR
    # A week later (just within the retention) the survey still counts ...
    ds = engine.apply(
        SurveyAnswered(id="s-a", ts=NOW + keep, tenant="energia", contact="m-1", csat=2)
    )
    assert not [d for d in ds if isinstance(d, InputRejected)]
    # ... after it, the contact is forgotten.
    [r] = engine.apply(
        SurveyAnswered(id="s-b", ts=NOW + keep + 1, tenant="energia", contact="m-1", csat=2)
    )
    assert isinstance(r, InputRejected)
    assert r.code == "unknown_contact"


# ------------------------------------------------------------------------------ payloads


def _json(**fields: Any) -> bytes:
    return msgspec.json.encode(fields)


@pytest.mark.parametrize(
    ("payload", "event_type", "names"),
    [
        pytest.param(b"not json", None, ("line 1",), id="not-json"),
        pytest.param(b"[1, 2]", None, (), id="not-an-object"),
        pytest.param(
            _json(type="contact_teleported", id="x1", ts=NOW),
            None,
            ("contact_teleported",),
            id="type",
        ),
        pytest.param(
            _json(type="clock_tick", id="x1", ts="soon"), "clock_tick", ("soon",), id="wrong-type"
        ),
        pytest.param(
            _json(type="offer_accepted", id="x1", ts=NOW, tenant="energia", agent="aino"),
            "offer_accepted",
            ("contact",),
            id="missing-field",
        ),
        pytest.param(
            _json(type="agent_logged_in", id="x1", ts=NOW, agent="aino", mood="happy"),
            "agent_logged_in",
            ("mood",),
            id="unknown-field",
        ),
        pytest.param(
            _json(type="survey_answered", id="x1", ts=NOW, tenant="energia", contact="c-1", csat=6),
            "survey_answered",
            ("csat",),
            id="csat-out-of-range",
        ),
        pytest.param(
            _json(type="clock_tick", id="x1", ts=-1), "clock_tick", ("ts",), id="negative-ts"
        ),
    ],
)
def test_malformed_payload(payload: bytes, event_type: str | None, names: tuple[str, ...]) -> None:
    rejected(payload, "malformed", event_type, names)


def test_malformed_msgpack() -> None:
    rejected(b"\xc1", "malformed", None, (), fmt="msgpack")


def test_malformed_msgpack_names_the_field() -> None:
    payload = msgspec.msgpack.encode({"type": "clock_tick", "id": "x1", "ts": "soon"})
    rejected(payload, "malformed", "clock_tick", ("ts",), fmt="msgpack")


def test_malformed_input_does_not_use_up_its_id() -> None:
    engine = morning()
    bad = _json(type="agent_logged_in", id="x1", ts=NOW, agent="aino", mood="happy")
    assert engine.apply_raw(bad)[0].code == "malformed"  # type: ignore[union-attr]
    # The producer fixes the payload and re-sends it under the same id: it is applied.
    ds = engine.apply_raw(
        _json(type="contact_abandoned", id="x1", ts=NOW, tenant="energia", contact="m-1")
    )
    assert [type(d).__name__ for d in ds] == ["ContactClosed"]


def test_unsupported_schema_version() -> None:
    r = rejected(
        ContactArrived(
            id="x1",
            ts=NOW,
            v=2,
            tenant="energia",
            contact="c-9",
            queue="energia.service",
            channel="voice",
        ),
        "unsupported_version",
        "contact_arrived",
        ("2", "1"),
    )
    assert r.tenant == "energia"


def test_unsupported_version_does_not_use_up_its_id() -> None:
    engine = morning()
    v2 = AgentLoggedOut(id="x1", ts=NOW, v=2, agent="bo")
    assert engine.apply(v2)[0].code == "unsupported_version"  # type: ignore[union-attr]
    # Re-sent in the version this engine speaks, under the same id, it is applied.
    [state] = engine.apply(msgspec.structs.replace(v2, v=1))
    assert (type(state).__name__, state.state) == ("AgentStateSet", "offline")  # type: ignore[union-attr]


# --------------------------------------------------------------------------- late events


def test_late_events_are_applied_at_the_engine_clock_and_counted() -> None:
    engine = morning()
    engine.apply(ClockTick(id="t1", ts=at(10)))
    clock = engine.clock_ms
    # Three arrivals from a PBX whose clock is a minute behind: none may be lost.
    late = [
        ContactArrived(
            id=f"late-{i}",
            ts=clock - 60_000 + i,
            tenant="energia",
            contact=f"late-{i}",
            queue="energia.service",
            channel="voice",
        )
        for i in range(3)
    ]
    ds = engine.apply_batch(late)
    assert not [d for d in ds if isinstance(d, InputRejected)]
    assert {d.ts for d in ds} == {clock}  # applied at the clock, not in the past
    assert engine.clock_ms == clock
    assert engine.stats()["late_events"] == 3
    assert engine.stats()["open_contacts"] == 2 + 3
    # Bo takes the first; when he is done, the next one comes; its wait is measured from
    # the clock at which it was applied, never negative.
    [offer] = [d for d in ds if isinstance(d, OfferMade)]
    assert (offer.contact, offer.agent) == ("late-0", "bo")
    ds = engine.apply(
        OfferAccepted(id="a1", ts=at(20), tenant="energia", contact="late-0", agent="bo")
    )
    [assigned] = [d for d in ds if isinstance(d, ContactAssigned)]
    assert assigned.wait_ms == at(20) - clock
