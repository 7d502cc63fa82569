"""Caps on a queue: how many may wait, and how long, before the queue's ``when_full``.

Lumo's phone line has one agent, Aino (own staff), and Kalle of the partner ContactPro.
Every day goes to the Rust core and the reference model at once.
"""

from __future__ import annotations

from typing import Any

from ccroute.events import (
    AgentLoggedIn,
    CallbackRequested,
    CallbackScheduled,
    ClockTick,
    ContactArrived,
    ContactClosed,
    ContactMoved,
    ContactStepReached,
    OfferAccepted,
    OfferMade,
)
from policy_day import Day, kinds


def centre(**queue: Any) -> dict[str, Any]:
    return {
        "routing": {"offer_timeout_seconds": 600},
        "tenants": [{"id": "lumo"}],
        "queues": [
            {
                "id": "voice",
                "tenant": "lumo",
                "channels": ["voice", "callback"],
                "announcement": "try-later",
                **queue,
            },
            {"id": "mail", "tenant": "lumo", "channels": ["email"]},
        ],
        "agents": [
            {"id": "aino", "capacity": {"voice": 1, "callback": 1, "email": 1}},
            {"id": "kalle", "partner": "contactpro", "capacity": {"voice": 1}},
        ],
    }


def call(day: Day, contact: str) -> list[Any]:
    return day.send(ContactArrived, tenant="lumo", contact=contact, queue="voice", channel="voice")


def busy(day: Day, *agents: str) -> None:
    """The agents log in and each takes a call, so that the next callers wait."""
    day.at("2026-11-23 10:00")
    for n, agent in enumerate(agents):
        day.send(AgentLoggedIn, agent=agent)
        call(day, f"busy{n}")
        day.send(OfferAccepted, tenant="lumo", contact=f"busy{n}", agent=agent)


def test_a_full_queue_turns_the_next_caller_away_with_an_announcement() -> None:
    day = Day(centre(max_waiting=2))
    busy(day, "aino")
    assert kinds(call(day, "c1")) == ["contact_queued"]
    assert kinds(call(day, "c2")) == ["contact_queued"]
    (closed,) = call(day, "c3")
    assert isinstance(closed, ContactClosed)
    assert (closed.outcome, closed.reason, closed.announcement) == (
        "closed",
        "queue_full",
        "try-later",
    )


def test_callbacks_count_as_in_line() -> None:
    day = Day(centre(max_waiting=2))
    busy(day, "aino")
    call(day, "c1")
    day.send(CallbackRequested, tenant="lumo", contact="c1")
    call(day, "c2")
    assert kinds(call(day, "c3")) == ["contact_closed"]


def test_a_full_queue_can_offer_a_callback_instead() -> None:
    day = Day(centre(max_waiting=1, when_full="callback"))
    busy(day, "aino")
    call(day, "c1")
    (scheduled,) = call(day, "c2")
    assert isinstance(scheduled, CallbackScheduled)
    assert (scheduled.reason, scheduled.attempt) == ("queue_full", 0)
    assert day.state("lumo", "c2") == "waiting"


def test_a_caller_who_waited_five_minutes_is_made_an_email_ticket() -> None:
    day = Day(centre(max_wait_seconds=300, when_full="ticket", ticket_queue="mail"))
    busy(day, "aino")
    call(day, "c1")
    assert day.send(ClockTick, at="2026-11-23 10:04:59") == []
    moved = day.send(ClockTick, at="2026-11-23 10:05")
    assert kinds(moved) == ["contact_moved", "contact_queued"]
    assert isinstance(moved[0], ContactMoved)
    assert (moved[0].queue, moved[0].channel, moved[0].reason) == ("mail", "email", "max_wait")


def test_a_long_wait_can_go_to_the_partner() -> None:
    day = Day(centre(max_wait_seconds=120, when_full="partner", partner="overflow"))
    busy(day, "aino")
    day.send(AgentLoggedIn, agent="kalle")  # the partner is free, but not for this queue yet
    assert kinds(call(day, "c1")) == ["contact_queued"]
    out = day.send(ClockTick, at="2026-11-23 10:02")
    assert kinds(out) == ["contact_step_reached", "offer_made"]
    step, offer = out
    assert isinstance(step, ContactStepReached) and isinstance(offer, OfferMade)
    assert (step.step, step.partner, step.reason) == (0, True, "max_wait")
    assert offer.agent == "kalle"


def test_the_wait_cap_leaves_callbacks_alone() -> None:
    day = Day(centre(max_wait_seconds=120))
    busy(day, "aino")
    call(day, "c1")
    day.send(CallbackRequested, tenant="lumo", contact="c1")
    call(day, "c2")
    out = day.send(ClockTick, at="2026-11-23 10:10")
    assert [(d.contact, d.reason) for d in out if isinstance(d, ContactClosed)] == [
        ("c2", "max_wait")
    ]
    assert day.state("lumo", "c1") == "waiting"
