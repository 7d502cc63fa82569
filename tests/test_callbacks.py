"""Callbacks: a waiting caller asks to be called back, and an agent dials when it is due.

Lumo's billing line (Helsinki, weekdays 08:00-18:00) takes calls and callbacks; Aino and
Kalle answer. Every day goes to the Rust core and the reference model at once.
"""

from __future__ import annotations

from typing import Any

from ccroute.events import (
    AgentLoggedIn,
    CallbackAttempted,
    CallbackRequested,
    CallbackResult,
    CallbackScheduled,
    ClockTick,
    ContactArrived,
    ContactClosed,
    ContactCompleted,
    OfferAccepted,
    OfferMade,
    OfferRevoked,
)
from policy_day import MINUTE, Day, kinds, local

HOURS = {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def centre(**queue: Any) -> dict[str, Any]:
    return {
        "routing": {"offer_timeout_seconds": 300},
        "tenants": [{"id": "lumo"}],
        "queues": [
            {
                "id": "billing",
                "tenant": "lumo",
                "channels": ["voice", "callback"],
                "hours": HOURS,
                **queue,
            },
            {"id": "sales", "tenant": "lumo", "channels": ["voice"]},
        ],
        "agents": [
            {"id": "aino", "capacity": {"voice": 1, "callback": 1}},
            {"id": "kalle", "capacity": {"voice": 1}},
        ],
    }


def call(day: Day, contact: str, queue: str = "billing", **fields: Any) -> list[Any]:
    return day.send(
        ContactArrived, tenant="lumo", contact=contact, queue=queue, channel="voice", **fields
    )


def busy_aino(day: Day, at: str) -> None:
    """Aino logs in and takes a first call, so that the next callers wait."""
    day.send(AgentLoggedIn, at=at, agent="aino")
    call(day, "first")
    day.send(OfferAccepted, tenant="lumo", contact="first", agent="aino")


def test_a_caller_asks_for_a_callback_and_keeps_their_place() -> None:
    day = Day(centre())
    busy_aino(day, "2026-11-23 10:00")
    call(day, "c1", at="2026-11-23 10:01")
    call(day, "c2", at="2026-11-23 10:02")
    (scheduled,) = day.send(CallbackRequested, at="2026-11-23 10:03", tenant="lumo", contact="c1")
    assert isinstance(scheduled, CallbackScheduled)
    assert (scheduled.reason, scheduled.attempt, scheduled.not_before) == (
        "requested",
        0,
        local("2026-11-23 10:03"),
    )
    assert day.model.contacts[("lumo", "c1")].channel == "callback"
    # When Aino is free, the callback comes before c2, who called after c1.
    done = day.send(
        ContactCompleted, at="2026-11-23 10:10", tenant="lumo", contact="first", agent="aino"
    )
    offers = [d for d in done if isinstance(d, OfferMade)]
    assert [(o.contact, o.channel) for o in offers] == [("c1", "callback")]


def test_an_offered_caller_who_asks_for_a_callback_is_taken_back_first() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 10:00", agent="kalle")
    call(day, "c1")
    out = day.send(CallbackRequested, tenant="lumo", contact="c1")
    assert kinds(out) == ["offer_revoked", "callback_scheduled"]
    assert isinstance(out[0], OfferRevoked) and out[0].reason == "callback_requested"
    # Kalle takes no callbacks; the callback waits for someone who does.
    assert kinds(day.send(AgentLoggedIn, agent="aino")) == ["agent_state_set", "offer_made"]


def test_a_callback_asked_at_1755_is_not_dialled_after_closing_but_at_eight_next_morning() -> None:
    day = Day(centre())
    busy_aino(day, "2026-11-23 17:50")
    call(day, "late", at="2026-11-23 17:54")
    day.send(CallbackRequested, at="2026-11-23 17:55", tenant="lumo", contact="late")
    closing = day.send(ClockTick, at="2026-11-23 18:00")
    assert kinds(closing) == ["queue_status"]
    assert day.parked("lumo", "late")
    # Aino is free at 18:05: the callback is not dialled tonight.
    done = day.send(
        ContactCompleted, at="2026-11-23 18:05", tenant="lumo", contact="first", agent="aino"
    )
    assert kinds(done) == ["contact_closed"]
    morning = day.send(ClockTick, at="2026-11-24 08:00")
    assert kinds(morning) == ["queue_status", "offer_made"]
    assert isinstance(morning[1], OfferMade) and morning[1].contact == "late"


def test_a_callback_offered_at_closing_time_is_taken_back() -> None:
    day = Day(centre())
    busy_aino(day, "2026-11-23 17:50")
    call(day, "late", at="2026-11-23 17:54")
    day.send(CallbackRequested, tenant="lumo", contact="late")
    day.send(ContactCompleted, at="2026-11-23 17:59", tenant="lumo", contact="first", agent="aino")
    assert day.state("lumo", "late") == "offered"
    closing = day.send(ClockTick, at="2026-11-23 18:00")
    assert kinds(closing) == ["queue_status", "offer_revoked"]
    assert isinstance(closing[1], OfferRevoked) and closing[1].reason == "queue_closed"
    assert day.parked("lumo", "late")


def test_no_answer_three_times_closes_it_as_callback_unreached() -> None:
    day = Day(centre(callback_attempts=3, callback_retry_seconds=600))
    busy_aino(day, "2026-11-23 10:00")
    call(day, "c1")
    day.send(CallbackRequested, tenant="lumo", contact="c1")
    day.send(ContactCompleted, at="2026-11-23 10:05", tenant="lumo", contact="first", agent="aino")
    dial_at = local("2026-11-23 10:05")
    for attempt in (1, 2):
        day.send(OfferAccepted, tenant="lumo", contact="c1", agent="aino")
        out = day.send(
            CallbackResult, tenant="lumo", contact="c1", agent="aino", outcome="no_answer"
        )
        assert kinds(out) == ["callback_attempted", "callback_scheduled"]
        assert isinstance(out[0], CallbackAttempted) and out[0].attempt == attempt
        assert isinstance(out[1], CallbackScheduled)
        assert (out[1].reason, out[1].attempt, out[1].not_before) == (
            "no_answer",
            attempt,
            dial_at + 10 * MINUTE,
        )
        # Not before ten minutes have passed, even with Aino free.
        assert day.parked("lumo", "c1")
        day.now = dial_at + 10 * MINUTE - 1
        assert day.send(ClockTick) == []
        dial_at += 10 * MINUTE
        day.now = dial_at
        assert kinds(day.send(ClockTick)) == ["offer_made"]
    day.send(OfferAccepted, tenant="lumo", contact="c1", agent="aino")
    out = day.send(CallbackResult, tenant="lumo", contact="c1", agent="aino", outcome="busy")
    assert kinds(out) == ["callback_attempted", "contact_closed"]
    closed = out[1]
    assert isinstance(closed, ContactClosed)
    assert (closed.outcome, closed.agent, closed.channel) == (
        "callback_unreached",
        "aino",
        "callback",
    )


def test_a_reached_callback_is_an_ordinary_call_from_then_on() -> None:
    day = Day(centre())
    busy_aino(day, "2026-11-23 10:00")
    call(day, "c1")
    day.send(CallbackRequested, tenant="lumo", contact="c1")
    day.send(ContactCompleted, tenant="lumo", contact="first", agent="aino")
    day.send(OfferAccepted, tenant="lumo", contact="c1", agent="aino")
    out = day.send(CallbackResult, tenant="lumo", contact="c1", agent="aino", outcome="reached")
    assert kinds(out) == ["callback_attempted"]
    # A second result for the same call is refused: it was reached already.
    (again,) = day.send(CallbackResult, tenant="lumo", contact="c1", agent="aino", outcome="busy")
    assert getattr(again, "code", None) == "invalid_state"
    done = day.send(ContactCompleted, tenant="lumo", contact="c1", agent="aino")
    assert isinstance(done[0], ContactClosed) and done[0].outcome == "completed"


def test_a_retry_that_falls_due_after_closing_waits_for_the_opening() -> None:
    day = Day(centre(callback_retry_seconds=1800))
    busy_aino(day, "2026-11-23 17:00")
    call(day, "c1")
    day.send(CallbackRequested, tenant="lumo", contact="c1")
    day.send(ContactCompleted, at="2026-11-23 17:45", tenant="lumo", contact="first", agent="aino")
    day.send(OfferAccepted, tenant="lumo", contact="c1", agent="aino")
    day.send(CallbackResult, tenant="lumo", contact="c1", agent="aino", outcome="no_answer")
    # Due at 18:15, after closing: nothing that evening.
    assert kinds(day.send(ClockTick, at="2026-11-23 18:30")) == ["queue_status"]
    assert kinds(day.send(ClockTick, at="2026-11-24 08:00")) == ["queue_status", "offer_made"]


def test_after_hours_callers_can_be_called_back_in_the_morning() -> None:
    day = Day(centre(hours={**HOURS, "outside": "callback"}))
    day.send(AgentLoggedIn, at="2026-11-23 19:00", agent="aino")
    out = call(day, "evening")
    assert kinds(out) == ["callback_scheduled"]
    assert isinstance(out[0], CallbackScheduled) and out[0].reason == "outside_hours"
    assert day.parked("lumo", "evening")
    assert kinds(day.send(ClockTick, at="2026-11-24 08:00")) == ["queue_status", "offer_made"]


def test_callback_requests_and_results_are_checked() -> None:
    day = Day(centre())
    busy_aino(day, "2026-11-23 10:00")
    call(day, "s1", queue="sales")
    call(day, "c1")

    def code(cls: type[Any], **fields: Any) -> str:
        (rejected,) = day.send(cls, tenant="lumo", **fields)
        return str(getattr(rejected, "code", ""))

    assert code(CallbackRequested, contact="ghost") == "unknown_contact"
    assert code(CallbackRequested, contact="s1") == "channel_not_served"
    assert code(CallbackRequested, contact="first") == "invalid_state"  # already talking
    day.send(CallbackRequested, tenant="lumo", contact="c1")
    assert code(CallbackRequested, contact="c1") == "invalid_state"  # already a callback
    assert code(CallbackResult, contact="c1", agent="aino", outcome="busy") == "invalid_state"
    assert code(CallbackResult, contact="first", agent="aino", outcome="busy") == "invalid_state"
    assert code(CallbackResult, contact="c1", agent="ghost", outcome="busy") == "unknown_agent"


def test_a_callback_sent_to_the_partner_after_hours_still_waits_for_the_opening() -> None:
    partner_queue = {
        "partner": "overflow",
        "hours": {**HOURS, "outside": "partner"},
    }
    config = centre(**partner_queue)
    config["agents"].append(
        {"id": "pirjo", "partner": "contactpro", "capacity": {"voice": 1, "callback": 1}}
    )
    day = Day(config)
    day.send(AgentLoggedIn, at="2026-11-23 19:00", agent="pirjo")
    out = day.send(ContactArrived, tenant="lumo", contact="cb", queue="billing", channel="callback")
    # Opened to the partner, but a callback is never dialled while its queue is closed.
    assert kinds(out) == ["contact_step_reached", "contact_queued"]
    assert day.parked("lumo", "cb")
    morning = day.send(ClockTick, at="2026-11-24 08:00")
    assert kinds(morning) == ["queue_status", "offer_made"]
    assert isinstance(morning[1], OfferMade) and morning[1].agent == "pirjo"


def test_a_result_for_a_call_that_is_no_callback_is_refused_whoever_sends_it() -> None:
    day = Day(centre())
    busy_aino(day, "2026-11-23 10:00")
    for agent in ("aino", "kalle"):
        (rejected,) = day.send(
            CallbackResult, tenant="lumo", contact="first", agent=agent, outcome="busy"
        )
        assert getattr(rejected, "code", None) == "invalid_state"
