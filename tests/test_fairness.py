"""Sharing agents fairly: between clients (fair share of offers) and between teams
(borrowing agents while the lending queue keeps its service level).

Every day goes to the Rust core and the reference model at once.
"""

from __future__ import annotations

from typing import Any

from ccroute.events import (
    AgentLoggedIn,
    ContactArrived,
    ContactCompleted,
    OfferAccepted,
    OfferMade,
)
from policy_day import Day, kinds


def shared_desk(small_share: int) -> dict[str, Any]:
    """Maria serves two clients' phone lines: Megacorp's weighs more in line than
    Pikkufirma's, so without a guarantee Megacorp's calls would always go first."""
    return {
        "routing": {"offer_timeout_seconds": 600, "aging_seconds_per_point": 0},
        "tenants": [
            {"id": "megacorp"},
            {"id": "pikkufirma", "fair_share_percent": small_share},
        ],
        "queues": [
            {"id": "mega", "tenant": "megacorp", "channels": ["voice"], "priority": 5},
            {"id": "pikku", "tenant": "pikkufirma", "channels": ["voice"]},
        ],
        "agents": [{"id": "maria", "capacity": {"voice": 1}}],
    }


def served_in_order(small_share: int) -> list[str]:
    day = Day(shared_desk(small_share))
    day.at("2026-11-23 09:00")
    for n in range(1, 6):
        day.send(
            ContactArrived, tenant="megacorp", contact=f"big{n}", queue="mega", channel="voice"
        )
    for n in range(1, 3):
        day.send(
            ContactArrived, tenant="pikkufirma", contact=f"small{n}", queue="pikku", channel="voice"
        )
    order: list[str] = []
    offers = [d for d in day.send(AgentLoggedIn, agent="maria") if isinstance(d, OfferMade)]
    while offers:
        (offer,) = offers
        order.append(offer.contact)
        day.send(OfferAccepted, tenant=offer.tenant, contact=offer.contact, agent="maria")
        done = day.send(ContactCompleted, tenant=offer.tenant, contact=offer.contact, agent="maria")
        offers = [d for d in done if isinstance(d, OfferMade)]
    return order


def test_a_shared_agent_gives_the_small_client_its_share() -> None:
    # 30 %: after each offer Pikkufirma is under its share whenever its offers are fewer
    # than 30 % of all offers in the last hour.
    assert served_in_order(30) == [
        "big1",
        "small1",
        "big2",
        "big3",
        "small2",
        "big4",
        "big5",
    ]


def test_without_a_share_the_heavier_queue_always_goes_first() -> None:
    assert served_in_order(0) == ["big1", "big2", "big3", "big4", "big5", "small1", "small2"]


def borrowing_desk() -> dict[str, Any]:
    """Billing has its own team; Sam of sales may help while sales answers 80 % in time."""
    return {
        "routing": {"offer_timeout_seconds": 600},
        "tenants": [{"id": "lumo"}],
        "queues": [
            {
                "id": "billing",
                "tenant": "lumo",
                "channels": ["voice"],
                "teams": ["billing"],
                "borrow": [{"team": "sales", "while_queue": "sales", "service_level_at_least": 80}],
            },
            {
                "id": "sales",
                "tenant": "lumo",
                "channels": ["voice"],
                "teams": ["sales"],
                "service_level": {"threshold_seconds": 20, "target_percent": 80},
            },
        ],
        "agents": [
            {"id": "bea", "team": "billing", "capacity": {"voice": 1}},
            {"id": "sam", "team": "sales", "capacity": {"voice": 1}},
            {"id": "sid", "team": "sales", "capacity": {"voice": 1}},
        ],
    }


def arrive(day: Day, contact: str, queue: str) -> list[Any]:
    return day.send(ContactArrived, tenant="lumo", contact=contact, queue=queue, channel="voice")


def test_sales_lends_sam_to_billing_while_sales_keeps_its_service_level() -> None:
    day = Day(borrowing_desk())
    day.send(AgentLoggedIn, at="2026-11-23 09:00", agent="sam")
    # Nothing answered or missed in sales yet: healthy, so Sam takes a billing call.
    (offer,) = arrive(day, "b1", "billing")
    assert isinstance(offer, OfferMade) and offer.agent == "sam"
    day.send(OfferAccepted, tenant="lumo", contact="b1", agent="sam")
    # A sales caller waits a minute for Sam: sales answered 0 % in 20 s.
    arrive(day, "s1", "sales")
    day.send(ContactCompleted, at="2026-11-23 09:01", tenant="lumo", contact="b1", agent="sam")
    day.send(OfferAccepted, tenant="lumo", contact="s1", agent="sam")
    day.send(ContactCompleted, tenant="lumo", contact="s1", agent="sam")
    # Now billing's callers are for billing's own team only.
    assert kinds(arrive(day, "b2", "billing")) == ["contact_queued"]
    (offer,) = [d for d in day.send(AgentLoggedIn, agent="bea") if isinstance(d, OfferMade)]
    assert offer.contact == "b2"


def test_the_borrowing_condition_is_decided_when_the_contact_arrives() -> None:
    day = Day(borrowing_desk())
    day.at("2026-11-23 09:00")
    day.send(AgentLoggedIn, agent="sam")
    arrive(day, "s0", "sales")
    day.send(OfferAccepted, tenant="lumo", contact="s0", agent="sam")
    arrive(day, "s1", "sales")
    # Sales is healthy (one answered at once): b1 may have Sam, when he is free.
    assert kinds(arrive(day, "b1", "billing")) == ["contact_queued"]
    # Sid answers s1 after a minute: sales is at 50 %, under its 80.
    day.send(AgentLoggedIn, at="2026-11-23 09:01", agent="sid")
    day.send(OfferAccepted, tenant="lumo", contact="s1", agent="sid")
    assert kinds(arrive(day, "b2", "billing")) == ["contact_queued"]
    # Sam is free: b1 keeps what was decided at its arrival, b2 is not for him.
    done = day.send(
        ContactCompleted, at="2026-11-23 09:02", tenant="lumo", contact="s0", agent="sam"
    )
    assert [(d.contact, d.agent) for d in done if isinstance(d, OfferMade)] == [("b1", "sam")]
    day.send(OfferAccepted, tenant="lumo", contact="b1", agent="sam")
    assert kinds(day.send(ContactCompleted, tenant="lumo", contact="b1", agent="sam")) == [
        "contact_closed"
    ]
    # Half an hour later the miss has left the window: a new caller may have Sam at once,
    # while b2, who came when sales was struggling, still waits for billing's own team.
    day.at("2026-11-23 09:35")
    (offer,) = arrive(day, "b3", "billing")
    assert isinstance(offer, OfferMade) and offer.agent == "sam"
    assert day.state("lumo", "b2") == "waiting"
