"""Transfers and hand-offs: to another queue, to a named agent, to the client's own team,
keeping the contact's arrival time and history."""

from __future__ import annotations

from ccroute import Engine
from ccroute.config import config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    ContactArrived,
    ContactClosed,
    ContactHandedOver,
    ContactQueued,
    ContactTransferred,
    Decision,
    InputRejected,
    OfferAccepted,
    OfferMade,
)

T = 1_767_600_000_000


def centre() -> Engine:
    """Kide Shop's chat and a billing chat queue; Mia and Olli on chat, Olli on billing."""
    return Engine(
        config_from_dict(
            {
                "tenants": [{"id": "kide"}, {"id": "lumo"}],
                "queues": [
                    {"id": "kide-chat", "tenant": "kide", "channels": ["chat"]},
                    {
                        "id": "kide-billing",
                        "tenant": "kide",
                        "channels": ["chat"],
                        "skills": {"billing": 5},
                    },
                    {"id": "lumo-chat", "tenant": "lumo", "channels": ["chat"]},
                ],
                "agents": [
                    {"id": "mia", "capacity": {"chat": 1}},
                    {"id": "olli", "skills": {"billing": 7}, "capacity": {"chat": 1}},
                ],
            }
        )
    )


def at(s: float) -> int:
    return T + int(s * 1000)


def chat_with_mia(e: Engine) -> None:
    e.apply(AgentLoggedIn(id="in-mia", ts=T, agent="mia"))
    ds = e.apply(
        ContactArrived(
            id="a1",
            ts=at(1),
            tenant="kide",
            contact="chat-1",
            queue="kide-chat",
            channel="chat",
            tags=["order"],
        )
    )
    assert [(d.contact, d.agent) for d in ds if isinstance(d, OfferMade)] == [("chat-1", "mia")]
    e.apply(OfferAccepted(id="x1", ts=at(2), tenant="kide", contact="chat-1", agent="mia"))


def transfer(e: Engine, s: float, **target: str) -> list[Decision]:
    return e.apply(
        ContactTransferred(
            id=f"t{s}", ts=at(s), tenant="kide", contact="chat-1", agent="mia", **target
        )
    )


def test_a_billing_question_goes_to_the_billing_queue_keeping_its_time_in_line() -> None:
    e = centre()
    chat_with_mia(e)
    ds = transfer(e, 60, to_queue="kide-billing")
    assert isinstance(ds[0], ContactHandedOver) and ds[0].queue == "kide-billing"
    assert isinstance(ds[1], ContactQueued) and ds[1].requeued  # Olli is not logged in
    e.apply(AgentLoggedIn(id="in-olli", ts=at(70), agent="olli"))
    ds = e.apply(
        ContactArrived(
            id="a2",
            ts=at(71),
            tenant="kide",
            contact="chat-2",
            queue="kide-billing",
            channel="chat",
        )
    )
    assert isinstance(ds[0], ContactQueued)  # Olli has chat-1 already: it was there first
    ds = e.apply(OfferAccepted(id="x3", ts=at(72), tenant="kide", contact="chat-1", agent="olli"))
    assert ds[0].wait_ms == 71_000  # type: ignore[union-attr]  # time in system since arrival


def test_a_named_colleague_gets_the_offer_if_free_and_refuses_are_clear() -> None:
    e = centre()
    chat_with_mia(e)
    refused = transfer(e, 10, to_agent="olli")  # Olli is not logged in
    assert isinstance(refused[0], InputRejected) and refused[0].code == "agent_unavailable"
    e.apply(AgentLoggedIn(id="in-olli", ts=at(11), agent="olli"))
    ds = transfer(e, 12, to_agent="olli")
    assert isinstance(ds[0], ContactHandedOver) and ds[0].to_agent == "olli"
    offer = ds[1]
    assert isinstance(offer, OfferMade) and offer.agent == "olli"
    assert offer.reason.strategy == "transfer" and offer.attempt == 2


def test_a_hand_off_to_the_clients_own_sales_team_closes_it_here() -> None:
    e = centre()
    chat_with_mia(e)
    ds = transfer(e, 30, handoff="kide-sales")
    assert isinstance(ds[1], ContactClosed) and ds[1].outcome == "handed_off"
    assert ds[1].agent == "mia"


def test_transfers_that_cannot_be_made_change_nothing() -> None:
    e = centre()
    chat_with_mia(e)
    before = e.stats()
    for n, (target, code) in enumerate(
        [
            ({}, "invalid_target"),
            ({"to_queue": "kide-billing", "handoff": "kide-sales"}, "invalid_target"),
            ({"to_agent": "mia"}, "invalid_target"),
            ({"to_queue": "lumo-chat"}, "tenant_mismatch"),
            ({"to_queue": "nowhere"}, "unknown_queue"),
        ]
    ):
        ds = transfer(e, 5 + n, **target)
        assert isinstance(ds[0], InputRejected) and ds[0].code == code, target
    after = e.stats()
    assert after["open_contacts"] == before["open_contacts"] == 1
    assert after["waiting"] == before["waiting"] == 0
