"""The Rust core against the reference model, on random contact-centre days.

Hypothesis builds a small random configuration (tenants, queues, agents), then sends a
random stream of inputs to both ``ccroute.Engine`` and ``tests/reference_model.py`` and
requires the same decisions after every input: same types, fields, ids, causes and order.
Rejections are compared on everything but the free-text ``message``. The model's
invariants (docs/routing.md section 7) are checked after every input, and the Rust engine
is snapshotted and restored mid-run to show that a restored engine carries on exactly.

Half of the centres also have the policies of section 4b: service hours in Helsinki or
Stockholm time with holidays and closed dates, actions outside hours and at closing,
callbacks and their retries, caps, the further overflow triggers, teams and borrowing,
tenants' fair shares; days then start at real 2026 moments near an opening or a closing
and time moves on by minutes and hours, so that queues open and close under the traffic.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ccroute import Engine
from ccroute.config import STRATEGIES, Config, config_from_dict
from ccroute.events import (
    CHANNELS,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentProfileChanged,
    AgentStateChanged,
    CallbackRequested,
    CallbackResult,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactCompleted,
    ContactTransferred,
    ContactUpdated,
    Decision,
    Input,
    InputRejected,
    OfferAccepted,
    OfferRejected,
    QueueEmergency,
    SkillRequirement,
    SurveyAnswered,
    WrapUpFinished,
)
from ccroute.hours import next_change
from reference_model import (
    ACTIVE,
    CLOSED,
    INTERRUPTED,
    OFFERED,
    WAITING,
    WRAP_UP,
    ReferenceEngine,
)

HOUR = 3_600_000
SKILLS = ("billing", "tech", "sales")
LANGUAGES = ("fi", "sv", "en")
CONTACT_IDS = tuple(f"c{n}" for n in range(30))
REASONS = (None, "lunch", "training")
# Voice, chat and e-mail are most of the traffic; the rarer channels still turn up.
CHANNEL_MIX = ("voice", "chat", "email") * 3 + ("web_form", "social", "callback")
AGENT_STATES = ("available", "paused", "paused", "offline")
LOGGED_IN = ("available", "paused", "not_responding")
TIME_MODES = ("step",) * 24 + ("same",) * 4 + ("late",) * 3 + ("minutes",) * 3 + ("jump",)
MINUTE = 60_000
# Days start at real moments near a change of the service hours: a Friday before the
# weekend, the eve of Midsummer (a holiday in both calendars), the nights the clocks
# change, Christmas. Local Helsinki time; holiday and closed dates are drawn from these.
STARTS = (
    "2026-11-20 07:30",
    "2026-11-20 17:40",
    "2026-06-18 16:00",
    "2026-03-29 01:30",
    "2026-10-25 02:30",
    "2026-12-23 16:45",
)
DATES = ("2026-11-20", "2026-11-21", "2026-06-18", "2026-06-19", "2026-03-29", "2026-12-24")
TEAMS = ("red", "blue", "")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def start_ms(local: str) -> int:
    when = datetime.datetime.fromisoformat(local).replace(
        tzinfo=zoneinfo.ZoneInfo("Europe/Helsinki")
    )
    return int(when.timestamp()) * 1000


def skill_sets() -> st.SearchStrategy[dict[str, int]]:
    return st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), min_size=2)


def capacities() -> st.SearchStrategy[dict[str, int]]:
    # Mostly some capacity on a few channels; 0 and missing channels both mean none.
    return st.dictionaries(
        st.sampled_from(CHANNEL_MIX), st.sampled_from([0, 1, 1, 2, 3]), min_size=2, max_size=4
    )


def blended_capacities() -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(
        {"voice": st.sampled_from([0, 1]), "chat": st.integers(1, 3), "email": st.integers(1, 3)},
        optional={"web_form": st.integers(0, 2), "callback": st.integers(0, 1)},
    )


# ------------------------------------------------------------------ configurations


@st.composite
def overflow_policies(draw: st.DrawFn) -> dict[str, object]:
    """Routing steps, overflow to the partner, a steady share and priority rules, or none."""
    if draw(st.booleans(), label="plain queue?"):
        return {}
    n_steps = draw(st.integers(0, 3))
    afters = sorted(
        draw(st.lists(st.integers(1, 120), min_size=n_steps, max_size=n_steps, unique=True))
    )
    steps = [
        {
            "after_seconds": after,
            **(
                {
                    "skills": draw(
                        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=1)
                    )
                }
                if draw(st.booleans())
                else {}
            ),
            **({"language": draw(st.booleans())} if draw(st.booleans()) else {}),
            **({"partner": draw(st.booleans())} if draw(st.booleans()) else {}),
        }
        for after in afters
    ]
    mode = draw(st.sampled_from(["always", "overflow"]))
    share = draw(st.sampled_from([0, 15, 50])) if mode == "overflow" and steps else 0
    rules = draw(
        st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {"attribute": st.just("segment"), "add": st.integers(-3, 5)},
                    optional={"equals": st.sampled_from(["vip", "basic"])},
                ),
                st.fixed_dictionaries(
                    {"tag": st.sampled_from(["complaint", "invoice"]), "add": st.integers(-3, 5)}
                ),
            ),
            max_size=2,
        )
    )
    over = draw(st.sampled_from([None, 0, 1, 3])) if mode == "overflow" else None
    return {
        "overflow_when_waiting_over": over,
        "continuity_seconds": draw(st.sampled_from([0, 5, 60])),
        "steps": steps,
        "partner": mode,
        "partner_share_percent": share,
        "priority_rules": rules,
    }


@st.composite
def day_ranges(draw: st.DrawFn) -> list[str]:
    """0-2 ranges of a day on the quarter hour; distinct sorted points never overlap."""
    n = draw(st.integers(0, 2))
    points = sorted(draw(st.lists(st.integers(0, 96), min_size=2 * n, max_size=2 * n, unique=True)))

    def hhmm(quarter: int) -> str:
        return f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"

    return [f"{hhmm(points[i])}-{hhmm(points[i + 1])}" for i in range(0, 2 * n, 2)]


@st.composite
def service_policies(
    draw: st.DrawFn, queue: dict[str, Any], queues: list[dict[str, Any]]
) -> dict[str, object]:
    """Section 4b on one queue: hours and their actions, callbacks, caps, the further
    overflow triggers, teams and borrowing; each only sometimes, and always valid."""
    policy: dict[str, Any] = {}
    overflow = queue.get("partner") == "overflow"
    channels = queue["channels"]
    if draw(st.integers(0, 2), label="takes callbacks?") == 0 and "callback" not in channels:
        queue["channels"] = channels = [*channels, "callback"]
    tickets = [
        q["id"]
        for q in queues
        if q["tenant"] == queue["tenant"] and q is not queue and "email" in q["channels"]
    ]
    actions = ["close"]
    if "callback" in channels:
        actions.append("callback")
    if overflow:
        actions.append("partner")
    if tickets:
        policy["ticket_queue"] = draw(st.sampled_from(tickets))
        actions.append("ticket")
    if draw(st.integers(0, 2), label="service hours?"):
        policy["hours"] = {
            **{d: draw(day_ranges()) for d in WEEKDAYS if draw(st.integers(0, 4))},
            "calendar": draw(st.sampled_from([None, "FI", "SE", "none"])),
            "holidays": [
                {"date": d, "hours": draw(day_ranges())}
                for d in draw(st.lists(st.sampled_from(DATES), max_size=1, unique=True))
            ],
            "closed": draw(st.lists(st.sampled_from(DATES), max_size=1, unique=True)),
            "outside": draw(st.sampled_from([*actions, "keep"])),
            "at_closing": draw(st.sampled_from([*actions, "keep", "serve", "serve"])),
        }
    policy["announcement"] = draw(st.sampled_from([None, "closed-msg"]))
    if draw(st.booleans(), label="caps?"):
        policy["max_waiting"] = draw(st.sampled_from([None, 0, 1, 3]))
        policy["max_wait_seconds"] = draw(st.sampled_from([None, 30, 300]))
        policy["when_full"] = draw(st.sampled_from(actions))
    policy["callback_attempts"] = draw(st.integers(1, 3))
    policy["callback_retry_seconds"] = draw(st.sampled_from([0, 60, 600]))
    if overflow:
        policy["overflow_when_expected_wait_over"] = draw(st.sampled_from([None, 0, 60, 1800]))
        policy["overflow_when_service_level_under"] = draw(st.booleans())
    policy["service_level"] = {
        "threshold_seconds": draw(st.sampled_from([5, 20])),
        "target_percent": draw(st.sampled_from([50.0, 80.0, 99.5])),
    }
    if draw(st.integers(0, 2), label="teams?") == 0:
        policy["teams"] = draw(st.lists(st.sampled_from(TEAMS), min_size=1, unique=True))
        if draw(st.booleans()):
            policy["borrow"] = [
                {
                    "team": draw(st.sampled_from(TEAMS)),
                    "while_queue": draw(st.sampled_from([q["id"] for q in queues])),
                    "service_level_at_least": draw(st.sampled_from([0.0, 50.0, 80.0])),
                }
            ]
    return policy


@st.composite
def configs(draw: st.DrawFn) -> Config:
    """A small centre: 2-3 tenants, 3-6 queues, 2-8 agents, short timers.

    Half of the centres are *blended*: every agent serves every tenant in every language
    and takes calls, chats and e-mail, so that the blending rules (a call blocks
    everything, live work sets aside e-mail) and close races between agents come up often
    rather than by luck.
    """
    blended = draw(st.booleans(), label="blended centre?")
    tenants = [f"t{n}" for n in range(draw(st.integers(2, 3)))]
    n_queues = draw(st.integers(3, 6))
    queues = []
    for n in range(n_queues):
        queues.append(
            {
                "id": f"q{n}",
                "tenant": draw(st.sampled_from(tenants)),
                "channels": draw(
                    st.lists(st.sampled_from(CHANNEL_MIX), min_size=1, max_size=3, unique=True)
                ),
                "skills": draw(
                    st.dictionaries(
                        st.sampled_from(SKILLS), st.integers(1, 4), max_size=0 if blended else 1
                    )
                ),
                "priority": draw(st.integers(-2, 3)),
                "strategy": draw(st.none() | st.sampled_from(STRATEGIES)),
                "offer_timeout_seconds": draw(st.sampled_from([None, None, 10, 60])),
                "wrap_up_seconds": draw(st.sampled_from([0, 0, 5, 20])),
                "interruptible": draw(st.booleans() | st.just(blended)),
                **draw(overflow_policies()),
            }
        )
    # Half of the centres have service hours, callbacks, caps, teams and fair shares.
    policies = draw(st.booleans(), label="section 4b?")
    agents = []
    for n in range(draw(st.integers(2, 8))):
        serves = draw(st.sampled_from([["*"], ["*"], *[[t] for t in tenants], tenants[:2]]))
        speaks = draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, unique=True))
        if blended:
            serves, speaks = ["*"], list(LANGUAGES)
        agents.append(
            {
                "id": f"a{n}",
                "skills": draw(skill_sets()),
                "languages": speaks,
                "tenants": serves,
                "capacity": draw(blended_capacities() if blended else capacities()),
                "partner": draw(st.sampled_from([None, None, None, "contactpro"])),
                "team": draw(st.sampled_from(TEAMS)),
            }
        )
        if policies and draw(st.booleans(), label="dials callbacks?"):
            agents[-1]["capacity"]["callback"] = 1  # type: ignore[index]
    routing = {
        "strategy": draw(st.sampled_from(STRATEGIES)),
        "offer_timeout_seconds": draw(st.sampled_from([10, 30, 60])),
        "max_missed_offers": draw(st.integers(1, 3)),
        "aging_seconds_per_point": draw(st.sampled_from([0, 1, 10, 60])),
        "decline_cooldown_seconds": draw(st.sampled_from([0, 5, 30])),
        "dedupe_window_hours": draw(st.integers(1, 2)),
        "closed_contact_retention_hours": draw(st.integers(1, 2)),
    }
    if policies:
        for q in queues:
            q.update(draw(service_policies(q, queues)))
        routing["fair_share_window_seconds"] = draw(st.sampled_from([600, 3600]))
    return config_from_dict(
        {
            "routing": routing,
            "tenants": [
                {
                    "id": t,
                    "timezone": draw(st.sampled_from(["Europe/Helsinki", "Europe/Stockholm"])),
                    "holidays": draw(st.sampled_from(["FI", "SE", "none"])),
                    "fair_share_percent": draw(st.sampled_from([0, 0, 20, 50])) if policies else 0,
                }
                for t in tenants
            ],
            "queues": queues,
            "agents": agents,
        }
    )


def comparable(decisions: list[Decision]) -> list[Decision]:
    """Decisions with the rejection text blanked: the spec leaves wording open."""
    return [
        msgspec.structs.replace(d, message="") if isinstance(d, InputRejected) else d
        for d in decisions
    ]


# ------------------------------------------------------------------ the state machine


def some_contacts(*states: str) -> Any:
    """Precondition: the model has a contact in one of ``states``."""
    return lambda machine: bool(machine.contacts_in(*states))


class RustAgainstModel(RuleBasedStateMachine):
    """Random inputs to both engines; the decisions must agree after every one.

    Most rules pick sensible targets from the model's state (the offered contact and its
    agent, an offline agent to log in) so that days get busy; the rule
    ``someone_names_the_wrong_thing`` and the occasional odd draw cover rejections.
    """

    def __init__(self) -> None:
        super().__init__()
        self.model: ReferenceEngine
        self.rust: Engine
        self.config: Config
        self.t = 0  # the latest timestamp sent
        self.n = 0
        self.sent: list[Input] = []

    @initialize(config=configs(), data=st.data(), start=st.sampled_from(STARTS))
    def open_the_centre(self, config: Config, data: st.DataObject, start: str) -> None:
        self.config = config
        self.t = start_ms(start)
        self.model = ReferenceEngine(config)
        self.rust = Engine(config)
        # The morning shift logs in, so that days get going within a few steps.
        for a in config.agents:
            if data.draw(st.integers(0, 3), label=f"{a.id} logs in?"):
                self.send(AgentLoggedIn, data, agent=a.id)

    # -------------------------------------------------------------- helpers

    def ts(self, data: st.DataObject) -> int:
        """Mostly forward in small steps; sometimes late, sometimes hours later."""
        mode = data.draw(st.sampled_from(TIME_MODES), label="time")
        if mode == "step":
            self.t += data.draw(st.integers(1, 5_000))
        elif mode == "late":
            return max(0, self.t - data.draw(st.integers(1, 5_000)))
        elif mode == "minutes":
            self.t += data.draw(st.integers(1, 40)) * MINUTE + data.draw(st.integers(0, 999))
        elif mode == "jump":
            self.t += data.draw(st.integers(HOUR - 30_000, 3 * HOUR))
        return self.t

    def send(self, cls: type[Any], data: st.DataObject, **fields: Any) -> None:
        self.n += 1
        fields.setdefault("id", f"e{self.n}")
        fields.setdefault("ts", self.ts(data))
        self.apply(cls(**fields))

    def apply(self, event: Input) -> None:
        note(repr(event))
        self.sent.append(event)
        expected = comparable(self.model.apply(event))
        actual = comparable(self.rust.apply(event))
        assert actual == expected, f"after {event!r}\nmodel: {expected}\nrust:  {actual}"
        assert self.rust.clock_ms == self.model.clock
        assert self.rust.stats()["late_events"] == self.model.late_events

    def tenant_ids(self) -> list[str]:
        return [t.id for t in self.config.tenants]

    def contacts_in(self, *states: str) -> list[tuple[str, str]]:
        return sorted(k for k, c in self.model.contacts.items() if c.state in states)

    def agents_in(self, *presences: str) -> list[str]:
        return [a.id for a in self.model.agents.values() if a.presence in presences]

    def pick_agent(self, data: st.DataObject, *presences: str) -> str:
        """Usually an agent in one of ``presences`` (invalid_state is the odd case)."""
        wanted = self.agents_in(*presences)
        if wanted and data.draw(st.integers(0, 9), label="usual agent?"):
            return data.draw(st.sampled_from(wanted))
        return data.draw(st.sampled_from(sorted(self.model.agents)))

    def holder_or_other(self, data: st.DataObject, key: tuple[str, str]) -> str:
        """Usually the agent who holds the contact; sometimes another (wrong_agent)."""
        c = self.model.contacts[key]
        if c.agent is not None and data.draw(st.integers(0, 9), label="holder?"):
            return c.agent
        return data.draw(st.sampled_from(sorted(self.model.agents)))

    # ---------------------------------------------------------------- contacts

    @rule(data=st.data(), rush=st.integers(1, 3))
    def customers_get_in_touch(self, data: st.DataObject, rush: int) -> None:
        for _ in range(rush):
            queue = data.draw(st.sampled_from(self.config.queues))
            self.send(
                ContactArrived,
                data,
                tenant=queue.tenant,
                contact=data.draw(st.sampled_from(CONTACT_IDS)),
                queue=queue.id,
                channel=data.draw(st.sampled_from(queue.channels)),
                priority=data.draw(st.integers(-3, 3)),
                language=data.draw(st.sampled_from([None, None, None, *LANGUAGES])),
                attributes=data.draw(
                    st.dictionaries(st.just("segment"), st.sampled_from(["vip", "basic"]))
                ),
                tags=data.draw(st.lists(st.sampled_from(["complaint", "invoice"]), max_size=1)),
                # A few returning customers, so continuity has someone to remember.
                customer=data.draw(st.none() | st.sampled_from(["anna", "ben", "cai"])),
                skills=data.draw(
                    st.lists(
                        st.builds(SkillRequirement, st.sampled_from(SKILLS), st.integers(1, 5)),
                        max_size=1,
                    )
                ),
            )

    @precondition(some_contacts(WAITING, OFFERED))
    @rule(data=st.data())
    def a_customer_gives_up(self, data: st.DataObject) -> None:
        tenant, contact = data.draw(st.sampled_from(self.contacts_in(WAITING, OFFERED)))
        self.send(ContactAbandoned, data, tenant=tenant, contact=contact)

    @precondition(some_contacts(WAITING, OFFERED))
    @rule(data=st.data())
    def a_waiting_customer_asks_for_a_callback(self, data: st.DataObject) -> None:
        # Mostly someone in line; sometimes anyone (already a callback, already talking,
        # a queue that takes no callbacks).
        keys = self.contacts_in(WAITING, OFFERED)
        if not data.draw(st.integers(0, 5), label="anyone?"):
            keys = sorted(self.model.contacts)
        tenant, contact = data.draw(st.sampled_from(keys))
        self.send(CallbackRequested, data, tenant=tenant, contact=contact)

    def active_callbacks(self) -> list[tuple[str, str]]:
        return sorted(
            k
            for k, c in self.model.contacts.items()
            if c.state == ACTIVE and c.channel == "callback" and not c.reached
        )

    @precondition(lambda self: bool(self.active_callbacks()))
    @rule(data=st.data())
    def an_agent_dials_a_callback(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.active_callbacks()))
        self.send(
            CallbackResult,
            data,
            tenant=key[0],
            contact=key[1],
            agent=self.holder_or_other(data, key),
            outcome=data.draw(st.sampled_from(["reached", "no_answer", "no_answer", "busy"])),
        )

    @rule(data=st.data())
    def a_supervisor_declares_an_emergency(self, data: st.DataObject) -> None:
        queue = data.draw(st.sampled_from(self.config.queues))
        mode = data.draw(st.sampled_from(["close", "reroute", "reroute", "off", "off"]))
        same_tenant = [q.id for q in self.config.queues if q.tenant == queue.tenant]
        others = [q for q in same_tenant if q != queue.id]
        to_queue = None
        if mode == "reroute" and others and data.draw(st.integers(0, 5), label="valid?"):
            to_queue = data.draw(st.sampled_from(others))
        elif not data.draw(st.integers(0, 3), label="odd target?"):
            to_queue = data.draw(st.sampled_from([q.id for q in self.config.queues]))
        self.send(
            QueueEmergency,
            data,
            tenant=queue.tenant if data.draw(st.integers(0, 9)) else "nobody",
            queue=queue.id,
            mode=mode,
            to_queue=to_queue,
            announcement=data.draw(st.sampled_from([None, "storm"])),
        )

    @precondition(some_contacts(WAITING, OFFERED, ACTIVE))
    @rule(data=st.data())
    def a_contact_is_reprioritised(self, data: st.DataObject) -> None:
        tenant, contact = data.draw(st.sampled_from(self.contacts_in(WAITING, OFFERED, ACTIVE)))
        priority = data.draw(st.none() | st.integers(-3, 5))
        tags = data.draw(st.none() | st.lists(st.sampled_from(["complaint", "invoice"])))
        self.send(
            ContactUpdated, data, tenant=tenant, contact=contact, priority=priority, tags=tags
        )

    @precondition(some_contacts(CLOSED, ACTIVE))
    @rule(data=st.data())
    def a_survey_comes_back(self, data: st.DataObject) -> None:
        tenant, contact = data.draw(st.sampled_from(self.contacts_in(CLOSED, ACTIVE)))
        self.send(SurveyAnswered, data, tenant=tenant, contact=contact, csat=4)

    # ------------------------------------------------------------------ offers

    def answer(self, cls: type[Any], data: st.DataObject, *states: str) -> None:
        key = data.draw(st.sampled_from(self.contacts_in(*states)))
        agent = self.holder_or_other(data, key)
        self.send(cls, data, tenant=key[0], contact=key[1], agent=agent)

    @precondition(some_contacts(OFFERED))
    @rule(data=st.data())
    def an_agent_accepts(self, data: st.DataObject) -> None:
        self.answer(OfferAccepted, data, OFFERED)

    @precondition(some_contacts(OFFERED))
    @rule(data=st.data())
    def an_agent_declines(self, data: st.DataObject) -> None:
        self.answer(OfferRejected, data, OFFERED)

    @precondition(some_contacts(ACTIVE, INTERRUPTED))
    @rule(data=st.data())
    def an_agent_completes(self, data: st.DataObject) -> None:
        self.answer(ContactCompleted, data, ACTIVE, INTERRUPTED)

    @precondition(some_contacts(ACTIVE, INTERRUPTED))
    @rule(data=st.data())
    def an_agent_passes_a_contact_on(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.contacts_in(ACTIVE, INTERRUPTED)))
        agent = self.holder_or_other(data, key)
        queue_ids = [q.id for q in self.config.queues]
        agent_ids = [a.id for a in self.config.agents]
        # One target mostly; sometimes none or two, which must be refused alike.
        targets = data.draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "to_queue": st.sampled_from(queue_ids),
                    "to_agent": st.sampled_from(agent_ids),
                    "handoff": st.just("sales-team"),
                },
            )
        )
        self.send(ContactTransferred, data, tenant=key[0], contact=key[1], agent=agent, **targets)

    @precondition(some_contacts(WRAP_UP))
    @rule(data=st.data())
    def an_agent_finishes_wrap_up(self, data: st.DataObject) -> None:
        self.answer(WrapUpFinished, data, WRAP_UP)

    @precondition(some_contacts(OFFERED, ACTIVE, INTERRUPTED))
    @rule(data=st.data())
    def the_team_works_through_its_items(self, data: st.DataObject) -> None:
        """Every agent acts on their items at once: a busy minute on the floor."""
        for tenant, contact in self.contacts_in(OFFERED, ACTIVE, INTERRUPTED):
            c = self.model.contacts.get((tenant, contact))
            if c is None or c.agent is None:
                continue  # an earlier input of this minute moved it on
            if c.state == OFFERED:
                cls = data.draw(st.sampled_from([OfferAccepted] * 3 + [OfferRejected, None]))
            elif c.state == ACTIVE and c.channel == "callback" and not c.reached:
                # The agent dials: callbacks made, reached, retried or given up.
                outcome = data.draw(st.sampled_from(["reached", "no_answer", "busy", None]))
                if outcome is not None:
                    self.send(
                        CallbackResult,
                        data,
                        tenant=tenant,
                        contact=contact,
                        agent=c.agent,
                        outcome=outcome,
                    )
                continue
            elif c.state in (ACTIVE, INTERRUPTED):
                cls = data.draw(st.sampled_from([ContactCompleted, None, None]))
            else:
                continue
            if cls is not None:
                self.send(cls, data, tenant=tenant, contact=contact, agent=c.agent)

    # ------------------------------------------------------------------ agents

    @precondition(lambda self: bool(self.agents_in("offline")))
    @rule(data=st.data())
    def an_agent_logs_in(self, data: st.DataObject) -> None:
        state = data.draw(st.sampled_from(["available", "available", "paused"]))
        self.send(
            AgentLoggedIn,
            data,
            agent=self.pick_agent(data, "offline"),
            state=state,
            reason=data.draw(st.sampled_from(REASONS)) if state == "paused" else None,
        )

    @precondition(lambda self: bool(self.agents_in(*LOGGED_IN)))
    @rule(data=st.data())
    def an_agent_marks_a_state(self, data: st.DataObject) -> None:
        if not data.draw(st.integers(0, 4), label="marks a state, or logs out?"):
            self.send(AgentLoggedOut, data, agent=self.pick_agent(data, *LOGGED_IN))
            return
        # Mostly someone coming back from a pause (or from not responding); a day where
        # everybody drifts into pauses routes nothing.
        back = data.draw(st.integers(0, 2), label="back to work?")
        agent = self.pick_agent(data, "paused", "not_responding") if back else None
        self.send(
            AgentStateChanged,
            data,
            agent=agent or self.pick_agent(data, *LOGGED_IN),
            state="available" if back else data.draw(st.sampled_from(AGENT_STATES)),
            reason=data.draw(st.sampled_from(REASONS)),
        )

    @rule(data=st.data())
    def a_supervisor_edits_a_profile(self, data: st.DataObject) -> None:
        tenants = self.tenant_ids()
        self.send(
            AgentProfileChanged,
            data,
            agent=data.draw(st.sampled_from([*sorted(self.model.agents), "new1", "new2"])),
            skills=data.draw(st.none() | skill_sets()),
            languages=data.draw(st.none() | st.lists(st.sampled_from(LANGUAGES), unique=True)),
            tenants=data.draw(
                st.none()
                | st.just(["*"])
                | st.lists(st.sampled_from([*tenants, "nobody"]), min_size=1, unique=True)
            ),
            capacity=data.draw(st.none() | capacities()),
        )

    # ------------------------------------------------------------ time and wire

    @rule(data=st.data())
    def time_passes(self, data: st.DataObject) -> None:
        self.send(ClockTick, data)

    def scheduled_queues(self) -> list[Any]:
        return [q for q in self.config.queues if q.hours is not None]

    @precondition(lambda self: bool(self.scheduled_queues()))
    @rule(data=st.data())
    def a_queue_opens_or_closes_under_the_traffic(self, data: st.DataObject) -> None:
        """Time runs to a queue's next opening or closing, while offers are still out."""
        q = data.draw(st.sampled_from(self.scheduled_queues()))
        assert q.hours is not None
        tenant = next(t for t in self.config.tenants if t.id == q.tenant)
        change = next_change(
            q.hours, tenant.timezone, tenant.holidays, max(self.t, self.model.clock)
        )
        if change is None or change - self.t > 3 * HOUR:
            return
        self.t = change + data.draw(st.sampled_from([0, 0, 1, 1_500]))
        self.send(ClockTick, data, ts=self.t)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def a_producer_sends_an_input_again(self, data: st.DataObject) -> None:
        again = data.draw(st.sampled_from(self.sent))
        # Same id, maybe a later time: a duplicate within the window, or a new input
        # once the id has been forgotten.
        self.apply(msgspec.structs.replace(again, ts=self.ts(data)))

    @rule(data=st.data())
    def someone_names_the_wrong_thing(self, data: st.DataObject) -> None:
        """Unknown ids, another tenant's queue, a channel the queue lacks, schema v2."""
        tenants = self.tenant_ids()
        # Another tenant's key, a tenant nobody configured, or a contact that is closed.
        tenant = data.draw(st.sampled_from([*tenants, "nobody"]))
        contact = data.draw(st.sampled_from(CONTACT_IDS))
        known = sorted(self.model.contacts)
        if known and data.draw(st.booleans(), label="a known contact?"):
            tenant, contact = data.draw(st.sampled_from(known))
        agent = data.draw(st.sampled_from([*sorted(self.model.agents), "ghost"]))
        queue = data.draw(st.sampled_from(self.config.queues))
        what = data.draw(st.integers(0, 11), label="what")
        if what == 0:
            self.send(
                ContactArrived,
                data,
                tenant=data.draw(st.sampled_from([*tenants, "nobody"])),
                contact=contact,
                queue=data.draw(st.sampled_from([queue.id, "nowhere"])),
                channel=data.draw(st.sampled_from(CHANNELS)),
            )
        elif what == 1:
            self.send(ContactAbandoned, data, tenant=tenant, contact=contact)
        elif what == 2:
            self.send(ContactUpdated, data, tenant=tenant, contact=contact, priority=1)
        elif what == 3:
            self.send(SurveyAnswered, data, tenant=tenant, contact=contact, nps=9)
        elif what == 4:
            cls = data.draw(
                st.sampled_from([OfferAccepted, OfferRejected, ContactCompleted, WrapUpFinished])
            )
            self.send(cls, data, tenant=tenant, contact=contact, agent=agent)
        elif what == 5:
            self.send(AgentLoggedIn, data, agent=agent)
        elif what == 6:
            self.send(AgentStateChanged, data, agent=agent, state="paused")
        elif what == 7:
            self.send(AgentLoggedOut, data, agent=agent)
        elif what == 9:
            outcome = data.draw(st.sampled_from(["reached", "no_answer", "busy"]))
            self.send(
                CallbackResult, data, tenant=tenant, contact=contact, agent=agent, outcome=outcome
            )
        elif what == 10:
            self.send(CallbackRequested, data, tenant=tenant, contact=contact)
        elif what == 11:
            self.send(
                QueueEmergency,
                data,
                tenant=tenant,
                queue=data.draw(st.sampled_from([queue.id, "nowhere"])),
                mode=data.draw(st.sampled_from(["close", "reroute", "off"])),
                to_queue=data.draw(st.sampled_from([None, queue.id, "nowhere"])),
            )
        else:
            self.send(ClockTick, data, v=2)

    @rule()
    def the_engine_restarts_from_a_snapshot(self) -> None:
        self.rust = Engine.restore(self.config, self.rust.snapshot())
        assert self.rust.clock_ms == self.model.clock

    @invariant()
    def the_rules_hold(self) -> None:
        if hasattr(self, "model"):
            self.model.invariants()


RustAgainstModel.TestCase.settings = settings(
    max_examples=350,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestRustAgainstModel = RustAgainstModel.TestCase


# ------------------------------------------------------------------ determinism


@st.composite
def event_lists(draw: st.DrawFn, config: Config) -> list[Input]:
    """Inputs over a small id space, so that many of them refer to each other.

    Some come late (behind the clock) and some repeat an earlier id.
    """
    agents = [a.id for a in config.agents]
    tenants = [t.id for t in config.tenants]
    events: list[Input] = []
    t = start_ms(draw(st.sampled_from(STARTS)))
    for n in range(draw(st.integers(1, 60))):
        t += draw(st.integers(0, 10_000)) if draw(st.integers(0, 9)) else 20 * MINUTE
        late = draw(st.sampled_from([0, 0, 0, 0, 3_000]))
        again = draw(st.integers(0, n)) if draw(st.integers(0, 9)) == 0 else n
        head = {"id": f"e{again}", "ts": max(0, t - late)}
        kind = draw(st.integers(0, 14))
        tenant = draw(st.sampled_from(tenants))
        contact = draw(st.sampled_from(CONTACT_IDS[:4]))
        agent = draw(st.sampled_from(agents))
        if kind == 0:
            q = draw(st.sampled_from(config.queues))
            events.append(
                ContactArrived(
                    **head,
                    tenant=q.tenant,
                    contact=contact,
                    queue=q.id,
                    channel=draw(st.sampled_from(q.channels)),
                    priority=draw(st.integers(-2, 2)),
                )
            )
        elif kind == 1:
            events.append(AgentLoggedIn(**head, agent=agent))
        elif kind == 2:
            events.append(OfferAccepted(**head, tenant=tenant, contact=contact, agent=agent))
        elif kind == 3:
            events.append(OfferRejected(**head, tenant=tenant, contact=contact, agent=agent))
        elif kind == 4:
            events.append(ContactCompleted(**head, tenant=tenant, contact=contact, agent=agent))
        elif kind == 5:
            events.append(AgentStateChanged(**head, agent=agent, state="paused"))
        elif kind == 6:
            events.append(AgentStateChanged(**head, agent=agent, state="available"))
        elif kind == 7:
            events.append(ContactAbandoned(**head, tenant=tenant, contact=contact))
        elif kind == 8:
            events.append(WrapUpFinished(**head, tenant=tenant, contact=contact, agent=agent))
        elif kind == 9:
            events.append(AgentProfileChanged(**head, agent=agent, capacity=draw(capacities())))
        elif kind == 10:
            events.append(AgentLoggedOut(**head, agent=agent))
        elif kind == 12:
            events.append(CallbackRequested(**head, tenant=tenant, contact=contact))
        elif kind == 13:
            outcome = draw(st.sampled_from(["reached", "no_answer", "busy"]))
            events.append(
                CallbackResult(**head, tenant=tenant, contact=contact, agent=agent, outcome=outcome)
            )
        elif kind == 14:
            q = draw(st.sampled_from(config.queues))
            events.append(
                QueueEmergency(
                    **head,
                    tenant=q.tenant,
                    queue=q.id,
                    mode=draw(st.sampled_from(["close", "off"])),
                )
            )
        else:
            events.append(ClockTick(**head))
    return events


@st.composite
def days(draw: st.DrawFn) -> tuple[Config, list[Input], int]:
    config = draw(configs())
    events = draw(event_lists(config))
    return config, events, draw(st.integers(0, len(events)))


def encoded(events: list[Input]) -> bytes:
    return msgspec.msgpack.encode(events)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_the_same_inputs_give_byte_identical_decisions(
    day: tuple[Config, list[Input], int],
) -> None:
    config, events, _ = day
    first = Engine(config).apply_encoded_batch(encoded(events))
    second = Engine(config).apply_encoded_batch(encoded(events))
    assert first == second


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_snapshot_restore_and_continue_equals_never_snapshotting(
    day: tuple[Config, list[Input], int],
) -> None:
    config, events, cut = day
    straight = Engine(config)
    whole = straight.apply_encoded_batch(encoded(events[:cut]))
    rest = straight.apply_encoded_batch(encoded(events[cut:]))

    before = Engine(config)
    assert before.apply_encoded_batch(encoded(events[:cut])) == whole
    restored = Engine.restore(config, before.snapshot())
    assert restored.apply_encoded_batch(encoded(events[cut:])) == rest
    assert restored.snapshot() == straight.snapshot()


@pytest.mark.parametrize("cut", [0, 3, 7])
def test_a_restored_engine_agrees_with_the_model(cut: int) -> None:
    """A fixed day, restored at a few points, decision for decision with the model."""
    config = config_from_dict(
        {
            "routing": {"offer_timeout_seconds": 10, "decline_cooldown_seconds": 5},
            "tenants": [{"id": "acme"}],
            "queues": [{"id": "calls", "tenant": "acme", "channels": ["voice"]}],
            "agents": [
                {"id": "pia", "capacity": {"voice": 1}},
                {"id": "olli", "capacity": {"voice": 1}},
            ],
        }
    )
    day: list[Input] = [
        AgentLoggedIn(id="e1", ts=0, agent="pia"),
        ContactArrived(
            id="e2", ts=1_000, tenant="acme", contact="c1", queue="calls", channel="voice"
        ),
        AgentLoggedIn(id="e3", ts=2_000, agent="olli"),
        ContactArrived(
            id="e4", ts=3_000, tenant="acme", contact="c2", queue="calls", channel="voice"
        ),
        OfferRejected(id="e5", ts=4_000, tenant="acme", contact="c1", agent="pia"),
        ClockTick(id="e6", ts=30_000),
        OfferAccepted(id="e7", ts=31_000, tenant="acme", contact="c1", agent="pia"),
        ContactCompleted(id="e8", ts=40_000, tenant="acme", contact="c1", agent="pia"),
        ClockTick(id="e9", ts=60_000),
    ]
    model = ReferenceEngine(config)
    rust = Engine(config)
    for n, event in enumerate(day):
        if n == cut:
            rust = Engine.restore(config, rust.snapshot())
        assert comparable(rust.apply(event)) == comparable(model.apply(event))
        model.invariants()
    assert model.contacts[("acme", "c1")].state == CLOSED


BLENDED = config_from_dict(
    {
        "routing": {"offer_timeout_seconds": 10, "decline_cooldown_seconds": 5},
        "tenants": [{"id": "acme"}, {"id": "globex"}],
        "queues": [
            {"id": "mail", "tenant": "acme", "channels": ["email"], "interruptible": True},
            {"id": "web", "tenant": "acme", "channels": ["chat"], "wrap_up_seconds": 30},
            {"id": "calls", "tenant": "globex", "channels": ["voice"], "strategy": "round_robin"},
        ],
        "agents": [
            {"id": "maria", "capacity": {"voice": 1, "chat": 2, "email": 2}},
            {"id": "emil", "tenants": ["acme"], "capacity": {"email": 1, "chat": 1}},
        ],
    }
)


def blended_day() -> list[Input]:
    """E-mail set aside for a chat and a call, resumed after; drains after accepting."""

    def arrive(n: int, ts: int, contact: str, queue: str, channel: str) -> ContactArrived:
        tenant = "globex" if queue == "calls" else "acme"
        return ContactArrived(
            id=f"e{n}", ts=ts, tenant=tenant, contact=contact, queue=queue, channel=channel
        )

    return [
        AgentLoggedIn(id="e1", ts=0, agent="maria"),
        arrive(2, 1_000, "m1", "mail", "email"),
        arrive(3, 2_000, "chat1", "web", "chat"),  # waits: maria's e-mail is only offered
        OfferAccepted(id="e4", ts=3_000, tenant="acme", contact="m1", agent="maria"),
        OfferAccepted(id="e5", ts=4_000, tenant="acme", contact="chat1", agent="maria"),
        # A call waits while maria is in a chat: it needs an agent with no live work.
        arrive(6, 5_000, "call1", "calls", "voice"),
        AgentLoggedIn(id="e7", ts=6_000, agent="emil"),
        arrive(8, 7_000, "m2", "mail", "email"),
        ContactCompleted(id="e9", ts=8_000, tenant="acme", contact="chat1", agent="maria"),
        WrapUpFinished(id="e10", ts=9_000, tenant="acme", contact="chat1", agent="maria"),
        OfferAccepted(id="e11", ts=10_000, tenant="globex", contact="call1", agent="maria"),
        ContactCompleted(id="e12", ts=11_000, tenant="globex", contact="call1", agent="maria"),
        ClockTick(id="e13", ts=40_000),
        ContactCompleted(id="e14", ts=41_000, tenant="acme", contact="m1", agent="maria"),
    ]


@pytest.mark.parametrize("cut", range(len(blended_day()) + 1))
def test_a_blended_day_agrees_with_the_model(cut: int) -> None:
    model = ReferenceEngine(BLENDED)
    rust = Engine(BLENDED)
    seen: list[str] = []
    for n, event in enumerate(blended_day()):
        if n == cut:
            rust = Engine.restore(BLENDED, rust.snapshot())
        decisions = model.apply(event)
        assert comparable(rust.apply(event)) == comparable(decisions)
        model.invariants()
        seen += [type(d).__struct_config__.tag for d in decisions]
    # The day is only worth comparing if it went through the blending rules.
    assert {"work_interrupted", "work_resumed", "wrap_up_started"} <= set(seen)


# ------------------------------------- once core deviations from the spec, kept as regressions


def small_centre() -> Config:
    return config_from_dict(
        {
            "tenants": [{"id": "acme"}],
            "queues": [{"id": "calls", "tenant": "acme", "channels": ["voice"]}],
            "agents": [{"id": "pia", "capacity": {"voice": 1}}],
        }
    )


def rejection_codes(engine: Engine, day: list[Input]) -> list[str]:
    return [d.code for event in day for d in engine.apply(event) if isinstance(d, InputRejected)]


@pytest.mark.parametrize(
    "nosy",
    [
        ContactAbandoned(id="e1", ts=0, tenant="initech", contact="c1"),
        SurveyAnswered(id="e1", ts=0, tenant="initech", contact="c1", csat=5),
    ],
    ids=["abandon", "survey"],
)
def test_a_contact_of_an_unknown_tenant_is_an_unknown_contact(nosy: Input) -> None:
    # The model's side is test_tenants_cannot_see_or_touch_each_others_contacts.
    assert rejection_codes(Engine(small_centre()), [nosy]) == ["unknown_contact"]


def test_an_unknown_agent_is_named_before_a_closed_contact() -> None:
    config = small_centre()
    day: list[Input] = [
        ContactArrived(id="e1", ts=0, tenant="acme", contact="c1", queue="calls", channel="voice"),
        ContactAbandoned(id="e2", ts=1, tenant="acme", contact="c1"),
        OfferAccepted(id="e3", ts=2, tenant="acme", contact="c1", agent="ghost"),
    ]
    # The model's side is test_invalid_references_are_rejected_with_their_code.
    assert rejection_codes(Engine(config), day) == ["unknown_agent"]
