"""When the partner takes a caller at once: a long line, a long expected wait, or a
recent service level under target (docs/routing.md 4b, "More overflow triggers").

Aino is Lumo's own agent, Kalle works for the partner ContactPro. Every day goes to the
Rust core and the reference model at once.
"""

from __future__ import annotations

from typing import Any

from ccroute.events import (
    AgentLoggedIn,
    ContactArrived,
    ContactStepReached,
    OfferAccepted,
    OfferMade,
)
from policy_day import Day, kinds


def centre(**queue: Any) -> dict[str, Any]:
    return {
        "routing": {"offer_timeout_seconds": 3600},
        "tenants": [{"id": "lumo"}],
        "queues": [
            {
                "id": "voice",
                "tenant": "lumo",
                "channels": ["voice"],
                "partner": "overflow",
                "service_level": {"threshold_seconds": 20, "target_percent": 80},
                **queue,
            }
        ],
        "agents": [
            {"id": "aino", "capacity": {"voice": 1}},
            {"id": "kalle", "partner": "contactpro", "capacity": {"voice": 1}},
        ],
    }


def call(day: Day, contact: str, at: str | None = None) -> list[Any]:
    return day.send(
        ContactArrived, at=at, tenant="lumo", contact=contact, queue="voice", channel="voice"
    )


def opened(decisions: list[Any]) -> list[tuple[int, bool, str]]:
    return [(d.step, d.partner, d.reason) for d in decisions if isinstance(d, ContactStepReached)]


def test_a_long_line_sends_the_next_caller_to_the_partner() -> None:
    day = Day(centre(overflow_when_waiting_over=1))
    day.send(AgentLoggedIn, at="2026-11-23 10:00", agent="kalle")
    assert kinds(call(day, "c1")) == ["contact_queued"]
    assert kinds(call(day, "c2")) == ["contact_queued"]
    out = call(day, "c3")
    assert opened(out) == [(0, True, "long_line")]
    assert isinstance(out[-1], OfferMade) and out[-1].agent == "kalle"


def test_a_long_expected_wait_sends_the_caller_to_the_partner() -> None:
    # One call answered in the last 15 minutes: with w waiting the expected wait is
    # (w + 1) * 15 min; over 40 min from the third caller in line.
    day = Day(centre(overflow_when_expected_wait_over=2400))
    day.send(AgentLoggedIn, at="2026-11-23 10:00", agent="aino")
    call(day, "c0")
    day.send(OfferAccepted, tenant="lumo", contact="c0", agent="aino")
    day.send(AgentLoggedIn, agent="kalle")
    assert opened(call(day, "c1")) == []  # nobody in line: no wait expected
    assert opened(call(day, "c2")) == []  # 30 minutes
    out = call(day, "c3")  # 45 minutes
    assert opened(out) == [(0, True, "expected_wait")]
    assert isinstance(out[-1], OfferMade) and out[-1].agent == "kalle"


def test_with_no_call_answered_lately_any_line_is_an_unbounded_wait() -> None:
    day = Day(centre(overflow_when_expected_wait_over=3600))
    day.send(AgentLoggedIn, at="2026-11-23 10:00", agent="kalle")
    assert opened(call(day, "c1")) == []
    assert opened(call(day, "c2")) == [(0, True, "expected_wait")]


def test_a_service_level_under_target_sends_callers_to_the_partner() -> None:
    day = Day(centre(overflow_when_service_level_under=True))
    day.send(AgentLoggedIn, at="2026-11-23 10:00", agent="aino")
    call(day, "c1")
    day.send(OfferAccepted, at="2026-11-23 10:01", tenant="lumo", contact="c1", agent="aino")
    # c1 waited a minute against 20 s: the last half hour is at 0 %.
    out = call(day, "c2")
    assert opened(out) == [(0, True, "service_level")]
    # Half an hour later that miss is out of the window: nothing counted, no overflow.
    assert opened(call(day, "c3", at="2026-11-23 10:31")) == []
