"""Customers: how many arrive in each 15-minute slot, and who they are.

For each traffic stream the *expected* volume per slot is the plan (what the client's
forecast says); the *actual* arrivals are a Poisson process around it, each day's volume
varied by the stream's ``noise``, so some days run hot, as real days do. Everything about
a customer that does not depend on the centre (language, topic, how long the issue takes
an average agent, how long they will wait) is drawn from the stream's own random stream
when they arrive: the same seed gives the same customers whatever the staffing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ccroute.config import Queue
from ccroute.simulation.distributions import Sampler, sampler, weighted_choice
from ccroute.simulation.scenario import (
    Effective,
    ForecastRow,
    LoadedScenario,
    Traffic,
    effective_behaviour,
)
from ccroute.simulation.timeline import SLOT_MS, OpenHours, Period


class Contact:
    """One customer request as the simulation follows it, from arrival to close."""

    __slots__ = (
        "abandon",
        "agent",
        "answered_ms",
        "arrived_ms",
        "asks_callback",
        "channel",
        "cid",
        "key",
        "language",
        "note",
        "page",
        "patience_s",
        "pending",
        "queue",
        "remaining_ms",
        "resolved",
        "stream",
        "tenant",
        "topic",
        "work",
        "work_s",
    )

    def __init__(
        self,
        stream: Stream,
        arrived_ms: int,
        language: str | None,
        topic: str | None,
        page: str | None,
        work_s: float,
        patience_s: float | None,
        resolved: bool,
    ) -> None:
        self.stream = stream
        self.tenant = stream.tenant
        self.queue = stream.queue.id
        self.channel = stream.channel
        self.arrived_ms = arrived_ms
        self.language = language
        self.topic = topic
        self.page = page
        self.work_s = work_s
        """Handle time for an agent of speed 1.0."""
        self.patience_s = patience_s
        self.resolved = resolved
        self.cid = ""
        self.key: tuple[str, str] = ("", "")
        self.agent: object = None
        """The agent offered or holding the contact (a simulator Agent)."""
        self.pending: list[Any] | None = None
        """The scheduled accept/reject of the open offer."""
        self.abandon: list[Any] | None = None
        self.work: list[Any] | None = None
        """The scheduled completion (or wrap-up end) while an agent holds it."""
        self.answered_ms = 0
        self.remaining_ms = 0
        self.note: str | None = None
        """Why the agent declines the open offer, if they will."""
        self.asks_callback: list[Any] | None = None
        """The scheduled callback request of a customer still waiting."""


@dataclass(slots=True)
class Stream:
    """A traffic stream made ready: expected volume per slot and its samplers."""

    index: int
    name: str
    traffic: Traffic
    queue: Queue
    tenant: str
    channel: str
    behaviour: Effective
    expected: list[float]
    """Contacts expected per slot of the period: the forecast."""
    rate: list[float]
    """Contacts per slot the customers actually bring: forecast times the day's noise."""
    handle: Sampler
    wrap: Sampler
    answer: Sampler
    patience: Sampler | None
    survey_delay: Sampler
    callback_after: Sampler
    dial: Sampler
    slot_starts: tuple[int, ...] = ()
    """UTC start of each slot of the period."""
    callback: Stream | None = None
    """Where callback requests of this stream go (a stream without volume of its own)."""

    def customers(self, rng: random.Random) -> Iterator[Contact]:
        """The stream's customers in arrival order (a Poisson process per slot)."""
        t = self.traffic
        pick_lang = weighted_choice(t.languages)
        pick_topic = weighted_choice(t.topics)
        pick_page = weighted_choice(t.pages)
        resolved_p = t.resolved_percent / 100.0
        handle, patience = self.handle, self.patience
        expo = rng.expovariate
        for start, lam in zip(self.slot_starts, self.rate, strict=True):
            if lam <= 0.0:
                continue
            rate = lam / SLOT_MS
            offset = expo(rate)
            while offset < SLOT_MS:
                yield Contact(
                    self,
                    start + int(offset),
                    pick_lang(rng),
                    pick_topic(rng),
                    pick_page(rng),
                    handle(rng),
                    patience(rng) if patience is not None else None,
                    rng.random() < resolved_p,
                )
                offset += expo(rate)


def _slot_weights(ld: LoadedScenario, t: Traffic, period: Period) -> list[float]:
    if t.profile is None:
        return [1.0] * len(period.slots)
    prof = ld.scenario.profiles[t.profile]
    out: list[float] = []
    for s in period.slots:
        w = prof.weekdays.get(s.weekday, prof.weights)
        out.append(w[s.minute // 60] if len(w) == 24 else w[s.minute // 15])
    return out


def expected_volume(ld: LoadedScenario, i: int, period: Period) -> list[float]:
    """Contacts expected per slot for traffic stream ``i`` (zero while closed)."""
    t = ld.scenario.traffic[i]
    hours = OpenHours(ld.scenario.hours[t.hours] if t.hours is not None else None)
    is_open = [hours.is_open(s.day, s.minute) for s in period.slots]
    if t.forecast is not None:
        return _from_forecast(ld.forecasts.get(i, []), period, is_open)
    weights = [w if o else 0.0 for w, o in zip(_slot_weights(ld, t, period), is_open, strict=True)]
    totals = [0.0] * period.days
    for s, w in zip(period.slots, weights, strict=True):
        totals[s.day_index] += w
    out: list[float] = []
    for s, w in zip(period.slots, weights, strict=True):
        per_day = t.per_day if not isinstance(t.per_day, dict) else t.per_day.get(s.weekday, 0.0)
        vol = per_day * t.day_of_month.get(str(s.day.day), 1.0)
        total = totals[s.day_index]
        out.append(vol * w / total if total > 0 else 0.0)
    return out


def _from_forecast(rows: list[ForecastRow], period: Period, is_open: list[bool]) -> list[float]:
    out = [0.0] * len(period.slots)
    if not rows:
        return out
    starts = sorted({r.start for r in rows})
    step = min((b - a for a, b in itertools.pairwise(starts)), default=dt.timedelta(minutes=15))
    # An hourly forecast spreads evenly over its four quarter hours.
    parts = max(1, int(step.total_seconds() // 900))
    for r in rows:
        ms = int(r.start.replace(tzinfo=period.zone).timestamp() * 1000)
        first = (ms - period.start_ms) // SLOT_MS
        for k in range(first, first + parts):
            if 0 <= k < len(out) and is_open[k]:
                out[k] += r.offered / parts
    return out


def day_noise(seed: int, i: int, days: int, cv: float) -> list[float]:
    """A factor per day, mean 1: how far each day's volume strays from the forecast."""
    rng = random.Random(f"{seed}:volume:{i}")
    if cv <= 0:
        return [1.0] * days
    shape = 1.0 / (cv * cv)
    return [rng.gammavariate(shape, 1.0 / shape) for _ in range(days)]


def build_streams(ld: LoadedScenario, period: Period, *, seed: int) -> list[Stream]:
    """Every traffic stream with its forecast, actual rate and samplers."""
    scn = ld.scenario
    streams: list[Stream] = []
    starts = tuple(s.start_ms for s in period.slots)
    for i, t in enumerate(scn.traffic):
        channel = ld.stream_channel(i)
        q = ld.engine.queue(t.queue)
        expected = expected_volume(ld, i, period)
        noise = day_noise(seed, i, period.days, t.noise)
        rate = [e * noise[s.day_index] for e, s in zip(expected, period.slots, strict=True)]
        st = _stream(ld, i, t, q, channel, expected, rate)
        st.slot_starts = starts
        if t.callback_queue is not None and t.callback_percent > 0:
            cbq = ld.engine.queue(t.callback_queue)
            cbt = Traffic(
                queue=cbq.id,
                channel="callback",
                languages=t.languages,
                topics=t.topics,
                resolved_percent=t.resolved_percent,
                callback_answer_percent=t.callback_answer_percent,
                callback_dial=t.callback_dial,
            )
            st.callback = _stream(ld, i, cbt, cbq, "callback", [], [])
        streams.append(st)
    return streams


def _stream(
    ld: LoadedScenario,
    i: int,
    t: Traffic,
    q: Queue,
    channel: str,
    expected: list[float],
    rate: list[float],
) -> Stream:
    b = effective_behaviour(ld.scenario, t, channel)
    return Stream(
        index=i,
        name=f"{q.id}/{channel}",
        traffic=t,
        queue=q,
        tenant=q.tenant,
        channel=channel,
        behaviour=b,
        expected=expected,
        rate=rate,
        handle=sampler(b.handle_time),
        wrap=sampler(b.wrap_up),
        answer=sampler(b.answer_delay),
        patience=sampler(b.patience) if b.patience is not None else None,
        survey_delay=sampler(b.survey.delay),
        callback_after=sampler(t.callback_request_after),
        dial=sampler(t.callback_dial),
    )
