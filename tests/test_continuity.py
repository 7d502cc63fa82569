"""Customer continuity: a returning customer is offered first to the agent who helped
them last, for a while, then to anyone eligible."""

from __future__ import annotations

from ccroute import Engine
from ccroute.config import config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    ClockTick,
    ContactArrived,
    ContactCompleted,
    ContactQueued,
    Decision,
    OfferAccepted,
    OfferMade,
)

T = 1_767_600_000_000


def centre(continuity: int = 30) -> Engine:
    engine = Engine(
        config_from_dict(
            {
                "tenants": [{"id": "lumo"}],
                "queues": [
                    {
                        "id": "lumo-voice",
                        "tenant": "lumo",
                        "channels": ["voice"],
                        "continuity_seconds": continuity,
                    }
                ],
                "agents": [
                    {"id": "mia", "capacity": {"voice": 1}},
                    {"id": "olli", "capacity": {"voice": 1}},
                ],
            }
        )
    )
    engine.apply(AgentLoggedIn(id="in-mia", ts=T, agent="mia"))
    engine.apply(AgentLoggedIn(id="in-olli", ts=T + 1, agent="olli"))
    return engine


def at(s: float) -> int:
    return T + int(s * 1000)


def call(e: Engine, n: int, s: float, customer: str) -> list[Decision]:
    return e.apply(
        ContactArrived(
            id=f"c{n}",
            ts=at(s),
            tenant="lumo",
            contact=f"call-{n}",
            queue="lumo-voice",
            channel="voice",
            customer=customer,
        )
    )


def handle(e: Engine, n: int, agent: str, s: float) -> None:
    e.apply(OfferAccepted(id=f"a{n}", ts=at(s), tenant="lumo", contact=f"call-{n}", agent=agent))
    e.apply(
        ContactCompleted(id=f"x{n}", ts=at(s + 60), tenant="lumo", contact=f"call-{n}", agent=agent)
    )


def offer(ds: list[Decision]) -> OfferMade:
    made = [d for d in ds if isinstance(d, OfferMade)]
    assert len(made) == 1, ds
    return made[0]


def test_a_returning_customer_gets_the_agent_who_helped_them_last() -> None:
    e = centre()
    assert offer(call(e, 1, 10, "anna")).agent == "mia"  # longest idle
    handle(e, 1, "mia", 11)
    # Olli has now waited longest, but Anna comes back to Mia.
    again = offer(call(e, 2, 200, "anna"))
    assert again.agent == "mia" and again.reason.strategy == "continuity"
    # Another customer is routed as usual.
    assert offer(call(e, 3, 201, "ben")).agent == "olli"


def test_if_that_agent_is_busy_the_customer_waits_for_them_then_anyone_takes_it() -> None:
    e = centre(continuity=30)
    offer(call(e, 1, 10, "anna"))
    handle(e, 1, "mia", 11)
    assert offer(call(e, 2, 100, "ben")).agent == "olli"  # Olli idle longest now
    e.apply(OfferAccepted(id="a2", ts=at(101), tenant="lumo", contact="call-2", agent="olli"))
    assert offer(call(e, 3, 102, "cai")).agent == "mia"
    e.apply(OfferAccepted(id="a3", ts=at(103), tenant="lumo", contact="call-3", agent="mia"))
    assert isinstance(call(e, 4, 110, "anna")[0], ContactQueued)  # both busy
    # Olli frees up first, but Anna is kept for Mia for 30 s...
    ds = e.apply(
        ContactCompleted(id="x2", ts=at(120), tenant="lumo", contact="call-2", agent="olli")
    )
    assert not [d for d in ds if isinstance(d, OfferMade)]
    # ...then anyone eligible may take her call.
    ds = e.apply(ClockTick(id="t", ts=at(140)))
    taken = offer(ds)
    assert (taken.contact, taken.agent, taken.ts) == ("call-4", "olli", at(140))


def test_without_continuity_the_strategy_alone_decides() -> None:
    e = centre(continuity=0)
    offer(call(e, 1, 10, "anna"))
    handle(e, 1, "mia", 11)
    assert offer(call(e, 2, 200, "anna")).agent == "olli"
