"""Blending rules that the stateful comparison uncovered: a call needs an agent with no
live work, and set-aside e-mail comes back however the live work leaves."""

from __future__ import annotations

from ccroute import Engine
from ccroute.config import config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    ContactArrived,
    ContactCompleted,
    ContactQueued,
    Decision,
    OfferAccepted,
    OfferMade,
    OfferRejected,
    WorkInterrupted,
    WorkResumed,
)

T = 1_767_600_000_000


def centre() -> Engine:
    return Engine(
        config_from_dict(
            {
                "tenants": [{"id": "shop"}],
                "queues": [
                    {"id": "calls", "tenant": "shop", "channels": ["voice"]},
                    {"id": "chat", "tenant": "shop", "channels": ["chat"]},
                    {"id": "mail", "tenant": "shop", "channels": ["email"], "interruptible": True},
                ],
                "agents": [{"id": "mia", "capacity": {"voice": 1, "chat": 2, "email": 1}}],
            }
        )
    )


def arrive(e: Engine, n: int, queue: str, channel: str) -> list[Decision]:
    return e.apply(
        ContactArrived(
            id=f"a{n}", ts=T + n, tenant="shop", contact=f"c{n}", queue=queue, channel=channel
        )
    )


def test_a_caller_waits_while_the_agent_is_in_a_chat() -> None:
    e = centre()
    e.apply(AgentLoggedIn(id="l", ts=T, agent="mia"))
    assert isinstance(arrive(e, 1, "chat", "chat")[0], OfferMade)
    e.apply(OfferAccepted(id="x1", ts=T + 2, tenant="shop", contact="c1", agent="mia"))
    # A call occupies the agent completely, so it is not offered beside a chat.
    assert isinstance(arrive(e, 3, "calls", "voice")[0], ContactQueued)


def test_set_aside_email_comes_back_when_the_live_offer_is_rejected() -> None:
    e = centre()
    e.apply(AgentLoggedIn(id="l", ts=T, agent="mia"))
    arrive(e, 1, "mail", "email")
    e.apply(OfferAccepted(id="x1", ts=T + 2, tenant="shop", contact="c1", agent="mia"))
    arrive(e, 3, "chat", "chat")
    ds = e.apply(OfferAccepted(id="x3", ts=T + 4, tenant="shop", contact="c3", agent="mia"))
    assert any(isinstance(d, WorkInterrupted) and d.contact == "c1" for d in ds)
    assert isinstance(arrive(e, 5, "chat", "chat")[0], OfferMade)  # a second chat is offered
    # The first chat ends while the second is still only offered: the e-mail stays aside...
    ds = e.apply(ContactCompleted(id="x6", ts=T + 6, tenant="shop", contact="c3", agent="mia"))
    assert not any(isinstance(d, WorkResumed) for d in ds)
    # ...and comes back the moment the offered chat is declined: no live work is left.
    ds = e.apply(OfferRejected(id="x7", ts=T + 7, tenant="shop", contact="c5", agent="mia"))
    assert isinstance(ds[0], WorkResumed) and ds[0].contact == "c1"
