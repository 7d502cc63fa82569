"""A synthetic, engine-free month of contacts: to preview the report and to test it.

This is not the simulator (``ccroute.simulation`` drives the real engine). It writes a
plausible feed of inputs and the decisions an engine would have made -- arrivals by hour
and weekday, agents on shifts with breaks, waits, abandons, handle times, surveys, tags,
chat start pages, an overflow partner, callbacks (dialled, retried, some never reached),
calls turned away outside the service hours and ticketed at closing -- quickly and
without the Rust core, so the report can be looked at and tested on its own::

    python tests/report_sample.py --out /tmp/preview --month 2025-03
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ccroute.config import Config, config_from_dict
from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    AgentStateSet,
    CallbackAttempted,
    CallbackRequested,
    CallbackResult,
    CallbackScheduled,
    Channel,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactAssigned,
    ContactClosed,
    ContactCompleted,
    ContactMoved,
    ContactQueued,
    ContactStepReached,
    Decision,
    Input,
    OfferAccepted,
    OfferMade,
    OfferReason,
    QueueStatus,
    SurveyAnswered,
    WrapUpEnded,
    WrapUpFinished,
    WrapUpStarted,
)

Feed = Iterator[tuple[Input, list[Decision]]]
_Emit = Callable[[Input, list[Decision]], None]
_Did = Callable[[], str]


def sample_config() -> Config:
    """Two client companies, their queues and SL targets, own agents and a partner's."""
    agents: list[dict[str, object]] = []
    names = ["Aino", "Elias", "Helmi", "Oskari", "Ella", "Leo", "Sofia", "Väinö", "Aada", "Eino"]
    names += ["Pihla", "Onni"]
    for i, name in enumerate(names, start=1):
        agents.append(
            {
                "id": f"a{i:02d}",
                "name": name,
                "team": "Helsinki A" if i <= 6 else "Helsinki B",
                "languages": ["fi", "sv", "en"] if i % 3 else ["fi", "en"],
                "capacity": {"voice": 1, "chat": 2, "callback": 1},
            }
        )
    for i, name in enumerate(["Linnea", "Oliver"], start=1):
        agents.append(
            {
                "id": f"e{i}",
                "name": name,
                "team": "Back office",
                "capacity": {"email": 3, "web_form": 3},
            }
        )
    for i, name in enumerate(["Maja", "William", "Alva"], start=1):
        agents.append(
            {
                "id": f"p{i}",
                "name": name,
                "team": "Partner",
                "partner": "Tallinn Partner OÜ",
                "capacity": {"voice": 1, "chat": 2, "callback": 1},
            }
        )
    raw: dict[str, object] = {
        "tenants": [
            {
                "id": "nordbank",
                "name": "Nordbank Oy",
                "languages": ["fi", "sv", "en"],
                # The bank asked for the agent table (its agents agreed) and names a topic.
                "report": {"agents": True, "agent_rows": 6, "tags": {"card": "Cards"}},
            },
            {"id": "kotiposti", "name": "Kotiposti Ab", "languages": ["fi", "sv"]},
        ],
        "queues": [
            {
                "id": "nb-voice",
                "tenant": "nordbank",
                "channels": ["voice", "callback"],
                "wrap_up_seconds": 120,
                "announcement": "nb-closed",
                "ticket_queue": "nb-email",
                "callback_attempts": 2,
                "service_level": {"threshold_seconds": 20, "target_percent": 80},
            },
            {
                "id": "nb-chat",
                "tenant": "nordbank",
                "channels": ["chat"],
                "wrap_up_seconds": 60,
                "service_level": {"threshold_seconds": 30, "target_percent": 85},
            },
            {
                "id": "nb-email",
                "tenant": "nordbank",
                "channels": ["email", "web_form"],
                "wrap_up_seconds": 120,
                "service_level": {"threshold_seconds": 24 * 3600, "target_percent": 90},
            },
            {
                "id": "kp-voice",
                "tenant": "kotiposti",
                "channels": ["voice"],
                "wrap_up_seconds": 60,
                "service_level": {"threshold_seconds": 30, "target_percent": 75},
            },
            {
                "id": "kp-chat",
                "tenant": "kotiposti",
                "channels": ["chat"],
                "wrap_up_seconds": 60,
                "service_level": {"threshold_seconds": 30, "target_percent": 80},
            },
        ],
        "agents": agents,
    }
    return config_from_dict(raw, source="sample")


@dataclass(frozen=True)
class _Stream:
    tenant: str
    queue: str
    channel: Channel
    per_day: float
    hours: tuple[int, int]
    talk_s: float
    wrap_s: float
    patience_s: float
    tags: tuple[tuple[str, float], ...]
    pages: tuple[str, ...] = ()


_NB_TAGS = (
    ("card", 0.24),
    ("online bank login", 0.2),
    ("loan", 0.14),
    ("invoice", 0.12),
    ("address change", 0.08),
    ("complaint", 0.05),
    ("mortgage", 0.1),
    ("other", 0.07),
)
_KP_TAGS = (
    ("parcel tracking", 0.38),
    ("delivery time", 0.22),
    ("return", 0.16),
    ("damaged item", 0.08),
    ("address change", 0.1),
    ("other", 0.06),
)
_STREAMS = (
    _Stream("nordbank", "nb-voice", "voice", 190, (8, 18), 250, 45, 95, _NB_TAGS),
    _Stream("nordbank", "nb-voice", "callback", 16, (9, 17), 200, 40, 1e9, _NB_TAGS),
    _Stream(
        "nordbank",
        "nb-chat",
        "chat",
        120,
        (8, 20),
        400,
        25,
        160,
        _NB_TAGS,
        ("/", "/loans", "/cards/lost-card", "/online-bank/help", "/mortgage/calculator"),
    ),
    _Stream("nordbank", "nb-email", "email", 50, (0, 24), 330, 60, 1e9, _NB_TAGS),
    _Stream("nordbank", "nb-email", "web_form", 14, (0, 24), 240, 40, 1e9, _NB_TAGS),
    _Stream("kotiposti", "kp-voice", "voice", 110, (8, 17), 180, 30, 80, _KP_TAGS),
    _Stream(
        "kotiposti",
        "kp-chat",
        "chat",
        90,
        (8, 20),
        300,
        20,
        140,
        _KP_TAGS,
        ("/track", "/returns", "/", "/business"),
    ),
)

# Share of a day's contacts per hour (voice peaks mid-morning, chat in the evening).
_HOURLY = {
    "voice": [0] * 8 + [7, 12, 13, 11, 9, 10, 10, 9, 8, 6] + [0] * 6,
    "chat": [0] * 8 + [4, 6, 8, 8, 8, 8, 9, 9, 9, 10, 11, 10] + [0] * 4,
}


@dataclass
class _Agent:
    id: str
    channels: frozenset[str]
    tenants: frozenset[str]
    partner: bool
    speed: float
    free_at: int = 0
    shifts: list[tuple[int, int]] = field(default_factory=list)
    breaks: list[tuple[int, int]] = field(default_factory=list)


def sample_feed(
    config: Config,
    month: str,
    *,
    seed: int = 7,
    days: int | None = None,
    volume: float = 1.0,
) -> Feed:
    """Yield (input, decisions) in log order for ``days`` days of ``month`` (YYYY-MM)."""
    rng = random.Random(seed)
    year, mon = (int(x) for x in month.split("-"))
    ndays = calendar.monthrange(year, mon)[1] if days is None else days
    tz = ZoneInfo("Europe/Helsinki")
    events: list[tuple[int, int, Input, list[Decision]]] = []
    seq = [0]
    dseq = [0]

    def emit(inp: Input, decisions: list[Decision]) -> None:
        seq[0] += 1
        events.append((inp.ts, seq[0], inp, decisions))

    def did() -> str:
        dseq[0] += 1
        return f"d{dseq[0]}"

    agents = _agents(config, rng)
    # Days with a storm of contacts (a card outage, a parcel backlog): a month can meet
    # its target and still hide days far below it.
    peak_days = {rng.randrange(min(2, ndays), ndays + 1) for _ in range(max(1, ndays // 10))}
    arrivals: list[tuple[int, _Stream, int]] = []
    for day in range(1, ndays + 1):
        date = dt.date(year, mon, day)
        midnight = int(dt.datetime(year, mon, day, tzinfo=tz).timestamp() * 1000)
        weekend = date.weekday() >= 5
        for a in agents:
            _plan_shift(a, midnight, weekend, rng, emit, did)
        for st in _STREAMS:
            factor = volume * (0.35 if weekend else 1.0) * rng.uniform(0.85, 1.15)
            if day in peak_days and st.channel in ("voice", "chat"):
                factor *= 1.7
            profile = _HOURLY.get("voice" if st.channel == "callback" else st.channel)
            for hour in range(24):
                if not st.hours[0] <= hour < st.hours[1]:
                    continue
                if profile is None:
                    share = 1 / (st.hours[1] - st.hours[0])
                else:
                    share = profile[hour] / sum(profile)
                n = _poisson(rng, st.per_day * factor * share)
                for _ in range(n):
                    t = midnight + hour * 3_600_000 + rng.randrange(3_600_000)
                    arrivals.append((t, st, day))
    arrivals.sort(key=lambda x: x[0])
    for n, (t, st, _day) in enumerate(arrivals, start=1):
        _contact(n, t, st, agents, rng, emit, did)
    # Its own random stream: the policies add contacts without changing the ones above.
    prng = random.Random(f"{seed}:policies")
    for day in range(1, ndays + 1):
        if dt.date(year, mon, day).weekday() < 5:
            midnight = int(dt.datetime(year, mon, day, tzinfo=tz).timestamp() * 1000)
            _policy_contacts(day, midnight, prng, emit, did)
    events.sort(key=lambda e: (e[0], e[1]))
    for _, _, inp, decisions in events:
        yield inp, decisions


def _agents(config: Config, rng: random.Random) -> list[_Agent]:
    out = []
    for a in config.agents:
        speed = 1.0
        if a.partner:
            speed = 1.12
        if a.id == "a06":
            speed = 1.45  # a newcomer: the agent comparison should show who needs training
        out.append(
            _Agent(
                id=a.id,
                channels=frozenset(a.capacity),
                tenants=frozenset(t for t in a.tenants),
                partner=a.partner is not None,
                speed=speed,
            )
        )
    return out


def _plan_shift(
    a: _Agent, midnight: int, weekend: bool, rng: random.Random, emit: _Emit, did: _Did
) -> None:
    h = 3_600_000
    idx = int(a.id[1:]) if a.id[1:].isdigit() else 0
    if weekend and not a.partner and idx % 3:
        return
    if a.partner:
        start, end = 10 * h, 18 * h
    elif "email" in a.channels:
        start, end = 8 * h, 16 * h
    else:
        start, end = (8 * h, 16 * h) if idx % 2 else (12 * h, 20 * h + 30 * 60_000)
    start += midnight - rng.randrange(0, 10) * 60_000
    end += midnight + rng.randrange(0, 10) * 60_000
    lunch = start + 4 * h + rng.randrange(-30, 30) * 60_000
    coffee = start + 2 * h + rng.randrange(-20, 20) * 60_000
    a.shifts.append((start, end))
    a.breaks += [(lunch, lunch + 30 * 60_000), (coffee, coffee + 15 * 60_000)]
    emit(
        AgentLoggedIn(id=f"in-{a.id}-{start}", ts=start, agent=a.id),
        [
            AgentStateSet(
                id=did(), ts=start, cause=f"in-{a.id}-{start}", agent=a.id, state="available"
            )
        ],
    )
    for (s, e), reason in (
        ((coffee, coffee + 15 * 60_000), "break"),
        ((lunch, lunch + 30 * 60_000), "lunch"),
    ):
        emit(
            AgentStateChanged(id=f"p-{a.id}-{s}", ts=s, agent=a.id, state="paused", reason=reason),
            [
                AgentStateSet(
                    id=did(), ts=s, cause=f"p-{a.id}-{s}", agent=a.id, state="paused", reason=reason
                )
            ],
        )
        emit(
            AgentStateChanged(id=f"r-{a.id}-{e}", ts=e, agent=a.id, state="available"),
            [AgentStateSet(id=did(), ts=e, cause=f"r-{a.id}-{e}", agent=a.id, state="available")],
        )
    emit(
        AgentLoggedOut(id=f"out-{a.id}-{end}", ts=end, agent=a.id),
        [AgentStateSet(id=did(), ts=end, cause=f"out-{a.id}-{end}", agent=a.id, state="offline")],
    )


def _start_time(a: _Agent, t: int) -> int | None:
    """When the agent can next start a contact at or after ``t`` (None: not today)."""
    s = max(t, a.free_at)
    for _ in range(6):
        shift = next(((ss, ee) for ss, ee in a.shifts if ee > s), None)
        if shift is None:
            return None
        s = max(s, shift[0])
        moved = False
        for bs, be in a.breaks:
            if bs <= s < be:
                s, moved = be, True
        if not moved and s < shift[1] - 60_000:
            return s
        if not moved:
            s = shift[1]
    return None


def _contact(
    n: int, t: int, st: _Stream, agents: list[_Agent], rng: random.Random, emit: _Emit, did: _Did
) -> None:
    cid = f"{st.tenant[:2]}-{n:06d}"
    tags = [_pick(rng, st.tags)]
    page = rng.choice(st.pages) if st.pages else None
    arr = ContactArrived(
        id=f"arr-{cid}",
        ts=t,
        tenant=st.tenant,
        contact=cid,
        queue=st.queue,
        channel=st.channel,
        language=rng.choice(["fi", "fi", "fi", "sv", "en"]),
        customer=f"cust-{rng.randrange(1, 4000)}",
        page=page,
        tags=tags if st.channel == "chat" and rng.random() < 0.5 else [],
    )
    eligible = [
        a
        for a in agents
        if st.channel in a.channels and ("*" in a.tenants or st.tenant in a.tenants)
    ]
    best: tuple[int, _Agent] | None = None
    for a in eligible:
        s = _start_time(a, t)
        if s is None:
            continue
        # The partner takes a steady share in calm times and the overflow in peaks.
        s2 = s + (25_000 if a.partner and rng.random() < 0.8 else 0)
        if best is None or s2 < best[0]:
            best = (s2, a)
    patience = rng.expovariate(1 / st.patience_s) * 1000 if st.patience_s < 1e8 else math.inf
    if best is None or best[0] - t > patience:
        end = t + max(1000, int(patience)) if patience < math.inf else t + 6 * 3_600_000
        emit(arr, [queued_decision(did(), arr)])
        emit(
            ContactAbandoned(id=f"ab-{cid}", ts=end, tenant=st.tenant, contact=cid),
            [
                ContactClosed(
                    id=did(),
                    ts=end,
                    cause=f"ab-{cid}",
                    tenant=st.tenant,
                    contact=cid,
                    queue=st.queue,
                    channel=st.channel,
                    outcome="abandoned",
                )
            ],
        )
        return
    start, agent = max(best[0], t), best[1]
    offer = start
    if offer == t:
        # Every third partner contact taken at once went over because the line was long.
        long_line = [_step(did(), arr, 0, "long_line", t)] if agent.partner and n % 3 == 0 else []
        emit(arr, [*long_line, offer_decision(did(), arr, agent.id, offer)])
    else:
        emit(arr, [queued_decision(did(), arr)])
        step = [_step(did(), arr, 1, "step", offer, f"tick-{cid}")] if agent.partner else []
        emit(
            ClockTick(id=f"tick-{cid}", ts=offer),
            [*step, offer_decision(did(), arr, agent.id, offer, cause=f"tick-{cid}")],
        )
    accept = offer + rng.randrange(1500, 6000)
    emit(
        OfferAccepted(id=f"acc-{cid}", ts=accept, tenant=st.tenant, contact=cid, agent=agent.id),
        [
            ContactAssigned(
                id=did(),
                ts=accept,
                cause=f"acc-{cid}",
                tenant=st.tenant,
                contact=cid,
                queue=st.queue,
                channel=st.channel,
                agent=agent.id,
                wait_ms=accept - t,
            )
        ],
    )
    if st.channel == "callback":
        dialled = accept + 8_000
        emit(
            CallbackResult(
                id=f"cbr-{cid}",
                ts=dialled,
                tenant=st.tenant,
                contact=cid,
                agent=agent.id,
                outcome="reached",
            ),
            [_dial(did(), st.tenant, cid, agent.id, dialled, 1, "reached", f"cbr-{cid}")],
        )
    talk = int(rng.lognormvariate(math.log(st.talk_s * agent.speed), 0.45) * 1000)
    wrap = int(rng.uniform(0.4, 1.6) * st.wrap_s * agent.speed * 1000)
    done = accept + talk
    closed = done + wrap
    agent.free_at = closed
    more = [_pick(rng, st.tags)] if rng.random() < 0.6 else []
    emit(
        ContactCompleted(
            id=f"cmp-{cid}",
            ts=done,
            tenant=st.tenant,
            contact=cid,
            agent=agent.id,
            tags=more,
            resolved=rng.random() < 0.85,
            wrap_up_code=rng.choice(["answered", "answered", "forwarded", "ticket", "lead"]),
        ),
        [
            WrapUpStarted(
                id=did(),
                ts=done,
                cause=f"cmp-{cid}",
                tenant=st.tenant,
                contact=cid,
                agent=agent.id,
                ends_by=done + 600_000,
            )
        ],
    )
    emit(
        WrapUpFinished(id=f"wu-{cid}", ts=closed, tenant=st.tenant, contact=cid, agent=agent.id),
        [
            WrapUpEnded(
                id=did(),
                ts=closed,
                cause=f"wu-{cid}",
                tenant=st.tenant,
                contact=cid,
                agent=agent.id,
                by="agent",
            ),
            ContactClosed(
                id=did(),
                ts=closed,
                cause=f"wu-{cid}",
                tenant=st.tenant,
                contact=cid,
                queue=st.queue,
                channel=st.channel,
                outcome="completed",
                agent=agent.id,
            ),
        ],
    )
    wait_s = (accept - t) / 1000
    mood = -0.8 if wait_s > 60 else 0.0
    mood -= 0.5 if agent.speed > 1.3 else 0.0
    if st.channel == "chat" and rng.random() < 0.55:
        csat = _clamp(round(rng.gauss(4.4 + mood, 0.9)), 1, 5)
        emit(
            SurveyAnswered(
                id=f"sv-{cid}",
                ts=closed + rng.randrange(5_000, 90_000),
                tenant=st.tenant,
                contact=cid,
                csat=csat,
                solved=rng.random() < 0.78 + 0.04 * (csat - 4),
            ),
            [],
        )
    elif st.channel == "voice" and rng.random() < 0.3:
        emit(
            SurveyAnswered(
                id=f"sv-{cid}",
                ts=closed + rng.randrange(20_000, 300_000),
                tenant=st.tenant,
                contact=cid,
                nps=_clamp(round(rng.gauss(8.2 + 2 * mood, 1.9)), 0, 10),
                ces=_clamp(round(rng.gauss(5.6 + mood, 1.1)), 1, 7),
            ),
            [],
        )


def _step(
    d: str, arr: ContactArrived, step: int, reason: str, ts: int, cause: str | None = None
) -> ContactStepReached:
    return ContactStepReached(
        id=d,
        ts=ts,
        cause=cause or arr.id,
        tenant=arr.tenant,
        contact=arr.contact,
        queue=arr.queue,
        step=step,
        partner=True,
        reason=reason,  # type: ignore[arg-type]
    )


def _dial(
    d: str, tenant: str, cid: str, agent: str, ts: int, attempt: int, outcome: str, cause: str
) -> CallbackAttempted:
    return CallbackAttempted(
        id=d,
        ts=ts,
        cause=cause,
        tenant=tenant,
        contact=cid,
        agent=agent,
        attempt=attempt,
        outcome=outcome,  # type: ignore[arg-type]
    )


def _policy_contacts(day: int, midnight: int, rng: random.Random, emit: _Emit, did: _Did) -> None:
    """Nordbank's phone line on a working day: callers after 18:00 hear the closed
    announcement, those still in line at 18:00 become e-mail tasks, and some callers ask
    for a callback, which is dialled twice (reached on the second dial, or never)."""
    hour = 3_600_000
    closing = midnight + 18 * hour
    n = 0

    def arrive(t: int, kind: str) -> ContactArrived:
        nonlocal n
        n += 1
        return ContactArrived(
            id=f"arr-nb-{kind}-{day:02d}-{n}",
            ts=t,
            tenant="nordbank",
            contact=f"nb-{kind}-{day:02d}-{n}",
            queue="nb-voice",
            channel="voice",
            language="fi",
        )

    for _ in range(rng.randrange(3, 7)):
        arr = arrive(closing + rng.randrange(1_000, 2 * hour), "late")
        closed = ContactClosed(
            id=did(),
            ts=arr.ts,
            cause=arr.id,
            tenant=arr.tenant,
            contact=arr.contact,
            queue=arr.queue,
            channel="voice",
            outcome="closed",
            reason="outside_hours",
            announcement="nb-closed",
        )
        emit(arr, [closed])
    waiting = [arrive(closing - rng.randrange(5_000, 120_000), "late") for _ in range(2)]
    for arr in waiting:
        emit(arr, [queued_decision(did(), arr)])
    shut = f"tick-nb-close-{day:02d}"
    at_closing: list[Decision] = [
        QueueStatus(
            id=did(),
            ts=closing,
            cause=shut,
            tenant="nordbank",
            queue="nb-voice",
            open=False,
            reason="schedule",
        )
    ]
    for arr in waiting:
        at_closing.append(
            ContactMoved(
                id=did(),
                ts=closing,
                cause=shut,
                tenant=arr.tenant,
                contact=arr.contact,
                from_queue="nb-voice",
                queue="nb-email",
                channel="email",
                reason="at_closing",
            )
        )
        at_closing.append(
            ContactQueued(
                id=did(),
                ts=closing,
                cause=shut,
                tenant=arr.tenant,
                contact=arr.contact,
                queue="nb-email",
                channel="email",
                priority=0,
                waiting=1,
                requeued=True,
            )
        )
    emit(ClockTick(id=shut, ts=closing), at_closing)
    for reached in (True, False):
        arr = arrive(midnight + rng.randrange(9 * hour, 16 * hour), "cb")
        _callback_twice(arr, "a01", reached, emit, did)


def _callback_twice(arr: ContactArrived, agent: str, reached: bool, emit: _Emit, did: _Did) -> None:
    """A waiting caller asks for a callback; the first dial gets no answer, the second
    reaches the customer (then a short call) or is busy, and the callback is given up."""
    t, cid, tenant = arr.ts, arr.contact, arr.tenant
    emit(arr, [queued_decision(did(), arr)])
    req = CallbackRequested(id=f"cbq-{cid}", ts=t + 60_000, tenant=tenant, contact=cid)
    emit(
        req,
        [
            CallbackScheduled(
                id=did(),
                ts=req.ts,
                cause=req.id,
                tenant=tenant,
                contact=cid,
                queue=arr.queue,
                reason="requested",
                attempt=0,
                not_before=req.ts,
            )
        ],
    )
    as_callback = ContactArrived(
        id=arr.id, ts=t, tenant=tenant, contact=cid, queue=arr.queue, channel="callback"
    )
    for attempt, due in ((1, t + 120_000), (2, t + 900_000)):
        tick = f"tick-{cid}-{attempt}"
        emit(
            ClockTick(id=tick, ts=due), [offer_decision(did(), as_callback, agent, due, cause=tick)]
        )
        acc = OfferAccepted(
            id=f"acc-{cid}-{attempt}", ts=due + 5_000, tenant=tenant, contact=cid, agent=agent
        )
        emit(
            acc,
            [
                ContactAssigned(
                    id=did(),
                    ts=acc.ts,
                    cause=acc.id,
                    tenant=tenant,
                    contact=cid,
                    queue=arr.queue,
                    channel="callback",
                    agent=agent,
                    wait_ms=acc.ts - t,
                )
            ],
        )
        outcome = (
            "reached" if reached and attempt == 2 else ("no_answer" if attempt == 1 else "busy")
        )
        res = CallbackResult(
            id=f"cbr-{cid}-{attempt}",
            ts=acc.ts + 25_000,
            tenant=tenant,
            contact=cid,
            agent=agent,
            outcome=outcome,  # type: ignore[arg-type]
        )
        after: list[Decision] = [_dial(did(), tenant, cid, agent, res.ts, attempt, outcome, res.id)]
        if attempt == 1:
            after.append(
                CallbackScheduled(
                    id=did(),
                    ts=res.ts,
                    cause=res.id,
                    tenant=tenant,
                    contact=cid,
                    queue=arr.queue,
                    reason="no_answer",
                    attempt=1,
                    not_before=res.ts + 600_000,
                )
            )
        elif not reached:
            after.append(
                ContactClosed(
                    id=did(),
                    ts=res.ts,
                    cause=res.id,
                    tenant=tenant,
                    contact=cid,
                    queue=arr.queue,
                    channel="callback",
                    outcome="callback_unreached",
                    agent=agent,
                )
            )
        emit(res, after)
    if reached:
        done = t + 900_000 + 5_000 + 240_000
        cmp = ContactCompleted(id=f"cmp-{cid}", ts=done, tenant=tenant, contact=cid, agent=agent)
        emit(
            cmp,
            [
                ContactClosed(
                    id=did(),
                    ts=done,
                    cause=cmp.id,
                    tenant=tenant,
                    contact=cid,
                    queue=arr.queue,
                    channel="callback",
                    outcome="completed",
                    agent=agent,
                )
            ],
        )


def queued_decision(d: str, arr: ContactArrived) -> ContactQueued:
    """Decision ``d``: the arrival waits in its queue (no agent free), first in line."""
    return ContactQueued(
        id=d,
        ts=arr.ts,
        cause=arr.id,
        tenant=arr.tenant,
        contact=arr.contact,
        queue=arr.queue,
        channel=arr.channel,
        priority=0,
        waiting=1,
    )


def offer_decision(
    d: str, arr: ContactArrived, agent: str, ts: int, cause: str | None = None
) -> OfferMade:
    """Decision ``d``: the contact's first offer to ``agent`` at ``ts``, ringing 20 s."""
    return OfferMade(
        id=d,
        ts=ts,
        cause=cause or arr.id,
        tenant=arr.tenant,
        contact=arr.contact,
        queue=arr.queue,
        channel=arr.channel,
        agent=agent,
        offer=f"{arr.contact}#1",
        attempt=1,
        expires_at=ts + 20_000,
        reason=OfferReason(strategy="longest_idle", score=0, considered=1),
    )


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in weighted)
    for name, w in weighted:
        x -= w
        if x <= 0:
            return name
    return weighted[-1][0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def sample_forecast(
    config: Config, month: str, *, seed: int = 7, days: int | None = None
) -> list[tuple[str, dt.datetime, float, float]]:
    """Forecast rows (tenant, interval start UTC, offered, agents) per hour, as a client
    would send them: the expected volume of a normal day, without the peaks."""
    rng = random.Random(seed + 1)
    year, mon = (int(x) for x in month.split("-"))
    ndays = calendar.monthrange(year, mon)[1] if days is None else days
    tz = ZoneInfo("Europe/Helsinki")
    rows = []
    for tenant in (t.id for t in config.tenants):
        for day in range(1, ndays + 1):
            weekend = dt.date(year, mon, day).weekday() >= 5
            for hour in range(24):
                offered = 0.0
                work_s = 0.0
                for st in _STREAMS:
                    if st.tenant != tenant or not st.hours[0] <= hour < st.hours[1]:
                        continue
                    prof = _HOURLY.get("voice" if st.channel == "callback" else st.channel)
                    share = (
                        1 / (st.hours[1] - st.hours[0]) if prof is None else prof[hour] / sum(prof)
                    )
                    n = st.per_day * share * (0.35 if weekend else 1.0)
                    offered += n
                    work_s += n * (st.talk_s + st.wrap_s)
                if offered <= 0:
                    continue
                start = dt.datetime(year, mon, day, hour, tzinfo=tz).astimezone(dt.UTC)
                agents = work_s / 3600 / 0.8 * 1.1  # ~80 % occupancy plus a margin
                rows.append(
                    (
                        tenant,
                        start.replace(tzinfo=None),
                        round(offered * rng.uniform(0.95, 1.05), 1),
                        round(agents, 1),
                    )
                )
    return rows


def write_forecast(db_path: str | Path, rows: list[tuple[str, dt.datetime, float, float]]) -> None:
    """Store forecast rows as the table the report reads (the simulator writes the same)."""
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        con.execute(
            "CREATE OR REPLACE TABLE forecast (tenant VARCHAR, interval_start TIMESTAMP, "
            "offered_forecast DOUBLE, agents_forecast DOUBLE)"
        )
        con.executemany("INSERT INTO forecast VALUES (?, ?, ?, ?)", rows)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Write a sample database and a report per tenant (to look at the report)."""
    from ccroute.records import ContactRecorder
    from ccroute.reports.monthly import write_monthly_report

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--out", default="report-preview")
    p.add_argument("--month", default="2025-03")
    p.add_argument("--days", type=int, default=None)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = sample_config()
    rec = ContactRecorder(config)
    for inp, decisions in sample_feed(config, args.month, seed=args.seed, days=args.days):
        rec.observe(inp, decisions)
    db = out / "contacts.duckdb"
    rec.write_duckdb(db)
    write_forecast(db, sample_forecast(config, args.month, seed=args.seed, days=args.days))
    for t in config.tenants:
        html, csv = write_monthly_report(db, t.id, args.month, out)
        print(html)
        print(csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
