"""Routing steps, overflow to an outsourcing partner, the steady share and priority rules,
in the words of the provider and its clients."""

from __future__ import annotations

from typing import Any

import pytest

from ccroute import ConfigError, Engine
from ccroute.config import config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    ClockTick,
    ContactArrived,
    ContactCompleted,
    ContactQueued,
    ContactStepReached,
    ContactUpdated,
    Decision,
    OfferAccepted,
    OfferMade,
)

T = 1_767_600_000_000  # a Monday morning


def centre(**queue: Any) -> Engine:
    """Lumo's phone line at a provider: Sara (own staff, Swedish), Pekka (own, Finnish),
    and Kalle of the partner ContactPro (Finnish and Swedish)."""
    return Engine(
        config_from_dict(
            {
                "tenants": [{"id": "lumo"}],
                "queues": [
                    {
                        "id": "lumo-voice",
                        "tenant": "lumo",
                        "channels": ["voice"],
                        "skills": {"billing": 1},
                        **queue,
                    }
                ],
                "agents": [
                    {
                        "id": "sara",
                        "skills": {"billing": 8},
                        "languages": ["sv", "fi"],
                        "capacity": {"voice": 1},
                    },
                    {
                        "id": "pekka",
                        "skills": {"billing": 4},
                        "languages": ["fi"],
                        "capacity": {"voice": 1},
                    },
                    {
                        "id": "kalle",
                        "skills": {"billing": 6},
                        "languages": ["fi", "sv"],
                        "capacity": {"voice": 1},
                        "partner": "contactpro",
                    },
                ],
            }
        )
    )


def call(n: int, at_s: float, **fields: Any) -> ContactArrived:
    return ContactArrived(
        id=f"c{n}",
        ts=T + int(at_s * 1000),
        tenant="lumo",
        contact=f"call-{n}",
        queue="lumo-voice",
        channel="voice",
        **fields,
    )


def login(e: Engine, *agents: str) -> None:
    for a in agents:
        e.apply(AgentLoggedIn(id=f"in-{a}", ts=T, agent=a))


def offers(ds: list[Decision]) -> list[tuple[str, str]]:
    return [(d.contact, d.agent) for d in ds if isinstance(d, OfferMade)]


def test_a_swedish_caller_waits_for_the_swedish_agent_then_overflows_to_the_partner() -> None:
    e = centre(partner="overflow", steps=[{"after_seconds": 60, "partner": True}])
    login(e, "sara", "kalle")
    assert offers(e.apply(call(1, 1, language="sv"))) == [("call-1", "sara")]
    e.apply(OfferAccepted(id="a1", ts=T + 3000, tenant="lumo", contact="call-1", agent="sara"))
    # Sara is on the phone; Kalle speaks Swedish but is the partner's: the caller waits.
    first = e.apply(call(2, 10, language="sv"))
    assert isinstance(first[0], ContactQueued)
    assert e.apply(ClockTick(id="t1", ts=T + 69_000)) == []
    # 60 s after arrival the step opens the partner: the call goes to Kalle at once.
    ds = e.apply(ClockTick(id="t2", ts=T + 70_000))
    assert isinstance(ds[0], ContactStepReached) and ds[0].partner and ds[0].step == 1
    assert ds[0].ts == T + 70_000  # fired at its own time, from the log
    assert offers(ds) == [("call-2", "kalle")]


def test_requirements_relax_step_by_step() -> None:
    # First a billing expert (7+), after 30 s any billing level, after 90 s any language.
    e = centre(
        skills={"billing": 7},
        steps=[
            {"after_seconds": 30, "skills": {"billing": 1}},
            {"after_seconds": 90, "language": False},
        ],
    )
    login(e, "pekka")
    assert isinstance(e.apply(call(1, 0, language="fi"))[0], ContactQueued)
    ds = e.apply(ClockTick(id="t1", ts=T + 30_000))
    assert offers(ds) == [("call-1", "pekka")], "after 30 s Pekka's billing 4 will do"
    e.apply(OfferAccepted(id="a1", ts=T + 31_000, tenant="lumo", contact="call-1", agent="pekka"))
    # An English caller: nobody speaks English; after 90 s the language no longer counts.
    e.apply(call(2, 40, language="en"))
    login(e, "sara")
    ds = e.apply(ClockTick(id="t2", ts=T + 129_000))
    assert [d.step for d in ds if isinstance(d, ContactStepReached)] == [1]
    assert offers(ds) == []  # billing relaxed, but still English
    ds = e.apply(ClockTick(id="t3", ts=T + 130_000))
    assert offers(ds) == [("call-2", "sara")]


def test_a_steady_share_goes_to_the_partner_even_when_the_phones_are_quiet() -> None:
    e = centre(
        partner="overflow",
        partner_share_percent=15,
        steps=[{"after_seconds": 600, "partner": True}],
    )
    login(e, "sara", "pekka", "kalle")
    to_partner = 0
    for n in range(20):
        ds = e.apply(call(n, n * 100))
        for contact, agent in offers(ds):
            e.apply(
                OfferAccepted(
                    id=f"a{n}", ts=T + n * 100_000 + 1, tenant="lumo", contact=contact, agent=agent
                )
            )
            e.apply(
                ContactCompleted(
                    id=f"x{n}", ts=T + n * 100_000 + 2, tenant="lumo", contact=contact, agent=agent
                )
            )
            to_partner += agent == "kalle"
    # 15 % of 20 arrivals, chosen by count (deterministic), never by chance.
    assert to_partner == 3


def test_a_vip_caller_and_a_complaint_jump_the_line() -> None:
    e = centre(
        priority_rules=[
            {"attribute": "segment", "equals": "vip", "add": 10},
            {"tag": "complaint", "add": 5},
        ]
    )
    login(e, "pekka")
    e.apply(call(1, 0, language="fi"))  # Pekka takes the first caller
    e.apply(OfferAccepted(id="a1", ts=T + 1000, tenant="lumo", contact="call-1", agent="pekka"))
    plain = e.apply(call(2, 2, language="fi"))
    vip = e.apply(call(3, 3, language="fi", attributes={"segment": "vip"}))
    assert isinstance(plain[0], ContactQueued) and plain[0].priority == 0
    assert isinstance(vip[0], ContactQueued) and vip[0].priority == 10
    e.apply(call(4, 4, language="fi"))
    e.apply(
        ContactUpdated(id="u4", ts=T + 5000, tenant="lumo", contact="call-4", tags=["complaint"])
    )
    ds = e.apply(
        ContactCompleted(id="x1", ts=T + 6000, tenant="lumo", contact="call-1", agent="pekka")
    )
    assert offers(ds) == [("call-3", "pekka")], "the VIP first"
    e.apply(OfferAccepted(id="a3", ts=T + 7000, tenant="lumo", contact="call-3", agent="pekka"))
    ds = e.apply(
        ContactCompleted(id="x3", ts=T + 8000, tenant="lumo", contact="call-3", agent="pekka")
    )
    assert offers(ds) == [("call-4", "pekka")], "then the complaint, ahead of an older call"


@pytest.mark.parametrize(
    ("queue", "key"),
    [
        (
            {"partner_share_percent": 10, "steps": [{"after_seconds": 5}]},
            "queues[0].partner_share_percent",
        ),
        ({"partner": "overflow", "partner_share_percent": 10}, "queues[0].partner_share_percent"),
        (
            {"steps": [{"after_seconds": 60}, {"after_seconds": 30}]},
            "queues[0].steps[1].after_seconds",
        ),
        ({"priority_rules": [{"add": 5}]}, "queues[0].priority_rules[0]"),
    ],
)
def test_policy_mistakes_name_the_key(queue: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict(
            {
                "tenants": [{"id": "lumo"}],
                "queues": [{"id": "q", "tenant": "lumo", "channels": ["voice"], **queue}],
            },
            source="ccroute.toml",
        )


def test_at_a_peak_calls_overflow_to_the_partner_once_the_line_is_long() -> None:
    # More than two callers already waiting: the next one may go to the partner at once.
    e = centre(partner="overflow", overflow_when_waiting_over=2)
    login(e, "kalle")  # only the partner's agent is in: the provider's staff are at lunch
    for n in (1, 2, 3):
        assert isinstance(e.apply(call(n, n, language="fi"))[0], ContactQueued)
    ds = e.apply(call(4, 4, language="fi"))
    assert isinstance(ds[0], ContactStepReached) and ds[0].step == 0 and ds[0].partner
    assert offers(ds) == [("call-4", "kalle")]
    # The three who came before a long line formed stay with the provider's own agents.
    assert e.stats()["waiting"] == 3
