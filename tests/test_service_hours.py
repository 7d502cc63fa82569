"""Service hours, holidays and emergencies, as a provider's supervisors see them.

Lumo (a Finnish energy company, Helsinki time, Finnish holidays) and Norrkraft (Swedish,
Stockholm time, Swedish holidays) buy phone service from the provider. Every day here
goes to the Rust core and the reference model at once (``tests/policy_day.py``).
"""

from __future__ import annotations

from typing import Any

from ccroute.events import (
    AgentLoggedIn,
    ClockTick,
    ContactArrived,
    ContactClosed,
    ContactMoved,
    ContactQueued,
    ContactTransferred,
    OfferAccepted,
    OfferMade,
    OfferRejected,
    QueueEmergency,
    QueueStatus,
)
from policy_day import HELSINKI, STOCKHOLM, Day, kinds, local

WEEKDAYS = {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}
WEEKDAYS |= {"thu": ["08:00-18:00"], "fri": ["08:00-20:00"]}


def centre(billing: dict[str, Any] | None = None, **queue: Any) -> dict[str, Any]:
    return {
        "routing": {"offer_timeout_seconds": 120},
        "tenants": [
            {"id": "lumo", "timezone": HELSINKI, "holidays": "FI"},
            {"id": "norrkraft", "timezone": STOCKHOLM, "holidays": "SE"},
        ],
        "queues": [
            {
                "id": "lumo-billing",
                "tenant": "lumo",
                "channels": ["voice", "callback"],
                "announcement": "lumo-closed",
                "hours": {**WEEKDAYS, **(billing or {})},
                **queue,
            },
            {"id": "lumo-overflow", "tenant": "lumo", "channels": ["voice"]},
            {"id": "lumo-mail", "tenant": "lumo", "channels": ["email"]},
            {
                "id": "norrkraft-support",
                "tenant": "norrkraft",
                "channels": ["voice"],
                "hours": {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            },
        ],
        "agents": [
            {"id": "aino", "tenants": ["lumo"], "capacity": {"voice": 1, "callback": 1}},
            {"id": "kalle", "tenants": ["lumo"], "capacity": {"voice": 1, "email": 1}},
            {"id": "sven", "tenants": ["norrkraft"], "capacity": {"voice": 1}},
        ],
    }


def lumo_status(decisions: list[Any]) -> list[QueueStatus]:
    """The billing line's status changes (Norrkraft keeps its own hours meanwhile)."""
    return [d for d in decisions if isinstance(d, QueueStatus) and d.queue == "lumo-billing"]


def call(day: Day, contact: str, queue: str = "lumo-billing", **fields: Any) -> list[Any]:
    tenant = queue.split("-")[0]
    return day.send(
        ContactArrived, tenant=tenant, contact=contact, queue=queue, channel="voice", **fields
    )


def test_a_caller_at_2005_on_a_friday_hears_the_closed_announcement() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-20 19:30", agent="kalle")
    day.send(AgentLoggedIn, agent="aino")
    assert kinds(call(day, "late-1", at="2026-11-20 19:55")) == ["offer_made"]
    day.send(OfferAccepted, tenant="lumo", contact="late-1", agent="aino")
    closing = day.send(ClockTick, at="2026-11-20 20:00")
    assert closing == [
        QueueStatus(
            id=closing[0].id,
            ts=local("2026-11-20 20:00"),
            cause=closing[0].cause,
            tenant="lumo",
            queue="lumo-billing",
            open=False,
            reason="schedule",
        )
    ]
    (closed,) = call(day, "late-2", at="2026-11-20 20:05")
    assert isinstance(closed, ContactClosed)
    assert (closed.outcome, closed.reason, closed.announcement) == (
        "closed",
        "outside_hours",
        "lumo-closed",
    )
    # The line opens on Monday at eight, not at any time over the weekend.
    assert day.send(ClockTick, at="2026-11-23 07:59") == []
    (opened,) = lumo_status(day.send(ClockTick, at="2026-11-23 08:00"))
    assert opened.open and opened.reason == "schedule"


def test_the_first_input_sets_the_starting_state_silently() -> None:
    day = Day(centre())
    # Saturday night: the queues are closed, and no decision says so (nothing changed).
    assert kinds(day.send(AgentLoggedIn, at="2026-11-21 23:00", agent="aino")) == [
        "agent_state_set"
    ]
    assert day.model.status["lumo-billing"].kind == "closed"
    assert day.model.status["lumo-overflow"].kind == "open"


def test_on_midsummer_eve_the_finnish_queue_is_closed_the_swedish_one_too() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-06-18 16:00", agent="aino")
    day.send(AgentLoggedIn, agent="sven")
    closed = day.send(ClockTick, at="2026-06-19 12:00")
    # 18:00 in Helsinki is 17:00 in Stockholm: both close at once, in configuration order.
    assert [(d.queue, d.open, d.ts) for d in closed if isinstance(d, QueueStatus)] == [
        ("lumo-billing", False, local("2026-06-18 18:00")),
        ("norrkraft-support", False, local("2026-06-18 18:00")),
    ]
    lumo = call(day, "juhannus", at="2026-06-19 12:00")
    swede = call(day, "midsommar", queue="norrkraft-support")
    assert isinstance(lumo[0], ContactClosed) and lumo[0].reason == "outside_hours"
    assert isinstance(swede[0], ContactClosed) and swede[0].reason == "outside_hours"
    # Midsummer Day is a Saturday; both open again on Monday the 22nd.
    reopened = day.send(ClockTick, at="2026-06-22 12:00")
    assert [(d.queue, d.open) for d in reopened if isinstance(d, QueueStatus)] == [
        ("lumo-billing", True),  # 08:00 Helsinki is 07:00 Stockholm
        ("norrkraft-support", True),
    ]


def test_a_holiday_with_hours_opens_for_those_hours_only() -> None:
    eve = {"holidays": [{"date": "2026-12-24", "name": "Christmas Eve", "hours": ["09:00-12:00"]}]}
    day = Day(centre(eve))
    day.send(AgentLoggedIn, at="2026-12-24 07:00", agent="aino")
    (opened,) = lumo_status(day.send(ClockTick, at="2026-12-24 10:00"))
    assert (opened.ts, opened.open, opened.reason) == (local("2026-12-24 09:00"), True, "holiday")
    (closed,) = lumo_status(day.send(ClockTick, at="2026-12-24 13:00"))
    assert (closed.ts, closed.open, closed.reason) == (local("2026-12-24 12:00"), False, "holiday")


def test_a_closed_date_shuts_a_normal_weekday() -> None:
    day = Day(centre({"closed": ["2026-11-24"]}))
    day.send(AgentLoggedIn, at="2026-11-23 17:00", agent="aino")
    closes = lumo_status(day.send(ClockTick, at="2026-11-24 12:00"))
    # Closed at 18:00 Monday; Tuesday's 08:00 never comes.
    assert [(d.ts, d.open) for d in closes] == [(local("2026-11-23 18:00"), False)]
    (opens,) = lumo_status(day.send(ClockTick, at="2026-11-25 09:00"))
    assert opens.ts == local("2026-11-25 08:00") and opens.reason == "schedule"


def test_after_the_clocks_change_the_line_still_opens_at_eight_local_time() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-03-27 21:00", agent="aino")
    (opens,) = lumo_status(day.send(ClockTick, at="2026-03-30 09:00"))
    # Summer time from Sunday 29 March: 08:00 in Helsinki is 05:00 UTC, no longer 06:00.
    assert opens.ts == local("2026-03-30 08:00")
    assert opens.ts % 86_400_000 == 5 * 3_600_000


def test_calls_waiting_at_closing_are_still_answered_by_default() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 17:59", agent="aino")
    call(day, "c1", at="2026-11-23 17:59:30")
    assert kinds(call(day, "c2", at="2026-11-23 17:59:40")) == ["contact_queued"]
    day.send(ClockTick, at="2026-11-23 18:00")
    # ``serve``: aino turns c1 down after closing; c2 is still hers to answer.
    after = day.send(OfferRejected, tenant="lumo", contact="c1", agent="aino")
    assert [(d.contact, d.agent) for d in after if isinstance(d, OfferMade)] == [("c2", "aino")]


def test_kept_calls_are_parked_at_closing_and_offered_at_opening() -> None:
    day = Day(centre({"at_closing": "keep"}))
    day.send(AgentLoggedIn, at="2026-11-23 17:59", agent="aino")
    call(day, "c1", at="2026-11-23 17:59:30")
    call(day, "c2", at="2026-11-23 17:59:40")
    day.send(ClockTick, at="2026-11-23 18:00")
    assert day.parked("lumo", "c2")
    # c1 is turned down after hours: it is parked too (the queue keeps it for the morning).
    after = day.send(OfferRejected, tenant="lumo", contact="c1", agent="aino")
    assert kinds(after) == []
    assert day.parked("lumo", "c1")
    morning = day.send(ClockTick, at="2026-11-24 08:00")
    assert kinds(morning) == ["queue_status", "offer_made"]
    assert isinstance(morning[1], OfferMade) and morning[1].contact == "c1"


def test_outside_hours_a_call_can_wait_for_the_morning() -> None:
    day = Day(centre({"outside": "keep"}))
    day.send(AgentLoggedIn, at="2026-11-22 10:00", agent="aino")  # Sunday
    (queued,) = call(day, "early-bird", at="2026-11-23 07:30")
    assert isinstance(queued, ContactQueued) and queued.waiting == 1
    assert day.parked("lumo", "early-bird")
    assert kinds(day.send(ClockTick, at="2026-11-23 08:00")) == ["queue_status", "offer_made"]


def test_outside_hours_an_email_ticket_is_made_instead() -> None:
    billing: dict[str, Any] = {"outside": "ticket"}
    day = Day(centre(billing, ticket_queue="lumo-mail"))
    day.send(AgentLoggedIn, at="2026-11-21 10:00", agent="kalle")  # Saturday
    moved, offered = call(day, "weekend")
    assert isinstance(moved, ContactMoved)
    assert (moved.queue, moved.channel, moved.reason) == ("lumo-mail", "email", "outside_hours")
    assert isinstance(offered, OfferMade) and offered.channel == "email"


def test_an_emergency_closes_the_billing_line_at_once_and_reroutes_to_the_partner_queue() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 09:00", agent="aino")
    call(day, "c1", at="2026-11-23 09:01")
    day.send(OfferAccepted, tenant="lumo", contact="c1", agent="aino")
    call(day, "c2", at="2026-11-23 09:02")
    call(day, "c3", at="2026-11-23 09:03")
    out = day.send(
        QueueEmergency,
        at="2026-11-23 09:05",
        tenant="lumo",
        queue="lumo-billing",
        mode="reroute",
        to_queue="lumo-overflow",
    )
    # c1 is with aino already; c2 and c3 wait, and go to the overflow queue in line order.
    assert kinds(out) == ["queue_status", *["contact_moved", "contact_queued"] * 2]
    status = out[0]
    assert isinstance(status, QueueStatus)
    assert (status.open, status.reason, status.to_queue) == (False, "emergency", "lumo-overflow")
    assert [d.contact for d in out if isinstance(d, ContactMoved)] == ["c2", "c3"]
    # Kalle takes the overflow queue; new callers go straight there.
    assert kinds(day.send(AgentLoggedIn, agent="kalle")) == ["agent_state_set", "offer_made"]
    moved = call(day, "c4", at="2026-11-23 09:06")
    assert kinds(moved) == ["contact_moved", "contact_queued"]
    # The same emergency again changes nothing; ``off`` gives the line back to the schedule.
    again = {"tenant": "lumo", "queue": "lumo-billing", "mode": "reroute"}
    assert day.send(QueueEmergency, to_queue="lumo-overflow", **again) == []
    (back,) = day.send(QueueEmergency, tenant="lumo", queue="lumo-billing", mode="off")
    assert isinstance(back, QueueStatus) and back.open and back.reason == "schedule"


def test_an_emergency_close_plays_its_own_announcement() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 09:00", agent="aino")
    day.send(
        QueueEmergency,
        tenant="lumo",
        queue="lumo-billing",
        mode="close",
        announcement="storm-outage",
    )
    (closed,) = call(day, "storm")
    assert isinstance(closed, ContactClosed)
    assert (closed.reason, closed.announcement) == ("emergency", "storm-outage")


def test_a_queue_without_hours_can_be_closed_by_an_emergency() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 09:00", agent="kalle")
    (status,) = day.send(QueueEmergency, tenant="lumo", queue="lumo-overflow", mode="close")
    assert isinstance(status, QueueStatus) and (status.open, status.reason) == (False, "emergency")
    (closed,) = call(day, "x", queue="lumo-overflow")
    assert isinstance(closed, ContactClosed) and closed.announcement is None
    (status,) = day.send(QueueEmergency, tenant="lumo", queue="lumo-overflow", mode="off")
    assert isinstance(status, QueueStatus) and (status.open, status.reason) == (True, "no_schedule")


def test_emergencies_are_checked_like_any_input() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 09:00", agent="aino")

    def code(**fields: Any) -> str:
        (rejected,) = day.send(QueueEmergency, **fields)
        return str(getattr(rejected, "code", ""))

    assert code(tenant="acme", queue="lumo-billing", mode="close") == "unknown_tenant"
    assert code(tenant="lumo", queue="nowhere", mode="close") == "unknown_queue"
    assert code(tenant="lumo", queue="norrkraft-support", mode="close") == "tenant_mismatch"
    assert code(tenant="lumo", queue="lumo-billing", mode="reroute") == "invalid_target"
    assert (
        code(tenant="lumo", queue="lumo-billing", mode="reroute", to_queue="lumo-billing")
        == "invalid_target"
    )
    assert (
        code(tenant="lumo", queue="lumo-billing", mode="close", to_queue="lumo-overflow")
        == "invalid_target"
    )
    assert (
        code(tenant="lumo", queue="lumo-billing", mode="reroute", to_queue="norrkraft-support")
        == "tenant_mismatch"
    )


def test_an_emergency_ended_on_midsummer_eve_reports_the_holiday() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-06-18 17:00", agent="kalle")
    reroute = {"tenant": "lumo", "queue": "lumo-billing"}
    day.send(ClockTick, at="2026-06-19 10:00")  # closed since 18:00 yesterday (schedule)
    day.send(QueueEmergency, mode="reroute", to_queue="lumo-overflow", **reroute)
    (back,) = day.send(QueueEmergency, at="2026-06-19 11:00", mode="off", **reroute)
    # No schedule timer fired today (closed all along), yet today's rule is the holiday.
    assert isinstance(back, QueueStatus)
    assert (back.open, back.reason, back.to_queue) == (False, "holiday", None)


def test_at_closing_the_calls_still_waiting_become_email_tickets() -> None:
    day = Day(centre({"at_closing": "ticket"}, ticket_queue="lumo-mail"))
    day.send(AgentLoggedIn, at="2026-11-23 17:30", agent="aino")
    call(day, "c1", at="2026-11-23 17:40")
    day.send(OfferAccepted, tenant="lumo", contact="c1", agent="aino")
    call(day, "c2", at="2026-11-23 17:50")
    out = day.send(ClockTick, at="2026-11-23 18:00")
    # (Norrkraft closes at the same instant, 17:00 in Stockholm: its timer was set later.)
    assert kinds(out) == ["queue_status", "contact_moved", "contact_queued", "queue_status"]
    moved = out[1]
    assert isinstance(moved, ContactMoved)
    assert (moved.contact, moved.queue, moved.channel, moved.reason) == (
        "c2",
        "lumo-mail",
        "email",
        "at_closing",
    )
    # Kalle reads the mail queue: the ticket is his, with its original arrival time.
    (offer,) = [d for d in day.send(AgentLoggedIn, agent="kalle") if isinstance(d, OfferMade)]
    assert (offer.contact, offer.channel) == ("c2", "email")


def test_a_call_transferred_into_a_closed_queue_waits_there_for_the_opening() -> None:
    day = Day(centre())
    day.send(AgentLoggedIn, at="2026-11-23 19:00", agent="kalle")
    day.send(AgentLoggedIn, agent="aino")
    call(day, "c1", queue="lumo-overflow")
    holder = day.model.contacts[("lumo", "c1")].agent
    assert holder is not None
    day.send(OfferAccepted, tenant="lumo", contact="c1", agent=holder)
    out = day.send(
        ContactTransferred, tenant="lumo", contact="c1", agent=holder, to_queue="lumo-billing"
    )
    assert kinds(out) == ["contact_handed_over", "contact_queued"]
    assert isinstance(out[1], ContactQueued) and out[1].requeued
    assert day.parked("lumo", "c1")
    morning = day.send(ClockTick, at="2026-11-24 08:00")
    assert kinds(morning) == ["queue_status", "offer_made"]


def test_calls_kept_overnight_follow_an_emergency_reroute() -> None:
    day = Day(centre({"outside": "keep"}))
    day.send(AgentLoggedIn, at="2026-11-23 19:00", agent="aino")
    call(day, "night-1")
    call(day, "night-2")
    out = day.send(
        QueueEmergency,
        at="2026-11-23 19:05",
        tenant="lumo",
        queue="lumo-billing",
        mode="reroute",
        to_queue="lumo-overflow",
    )
    # Closed to rerouted: the kept calls go to the overflow line, where aino is free.
    assert kinds(out) == [
        "queue_status",
        "contact_moved",
        "offer_made",
        "contact_moved",
        "contact_queued",
    ]
    assert [d.contact for d in out if isinstance(d, ContactMoved)] == ["night-1", "night-2"]
