"""The simulator with service hours and callbacks: customers who ask to be called back,
agents who dial and report, lines that open and close by the engine's hours."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest

from ccroute.events import (
    CallbackAttempted,
    CallbackResult,
    ContactAssigned,
    ContactClosed,
    Decision,
    Input,
    OfferMade,
)
from ccroute.metrics import cube_from_records
from ccroute.records import ContactRecorder
from ccroute.simulation import ScenarioError, simulate
from ccroute.simulation.scenario import LoadedScenario, scenario_from_text
from ccroute.simulation.simulator import SimulationResult
from ccroute.simulation.staff import simulated_config

ZONE = ZoneInfo("Europe/Helsinki")

# A Monday and Tuesday: a phone line open 9-15 that takes callbacks (callers out of hours
# and those still waiting at three get one; a third of those waiting ask for one), and an
# info line open 10-12 that closes on callers out of hours. Customers call 7-18.
LINES = """
[scenario]
name = "two lines with hours"
start = 2025-05-05
days = 2
seed = 3

[engine.routing]
offer_timeout_seconds = 20

[[engine.tenants]]
id = "acme"
holidays = "FI"

[[engine.queues]]
id = "acme-voice"
tenant = "acme"
channels = ["voice", "callback"]
wrap_up_seconds = 30
announcement = "acme-closed"
callback_attempts = 2
callback_retry_seconds = 300

[engine.queues.hours]
mon = ["09:00-15:00"]
tue = ["09:00-15:00"]
outside = "callback"
at_closing = "callback"

[[engine.queues]]
id = "acme-info"
tenant = "acme"
channels = ["voice"]
announcement = "acme-info-hours"

[engine.queues.hours]
mon = ["10:00-12:00"]
tue = ["10:00-12:00"]
outside = "close"

[hours.calls]
mon = "07:00-18:00"
tue = "07:00-18:00"

[shifts.day]
start = "08:30"
hours = 7

[[agents]]
group = "desk"
count = 4
capacity = { voice = 1, callback = 1 }
shifts = ["day"]

[[traffic]]
queue = "acme-voice"
per_day = { mon = 260, tue = 240 }
hours = "calls"
patience = { distribution = "exponential", mean_seconds = 150 }
callback_request_percent = 35
callback_request_after = { distribution = "exponential", mean_seconds = 40, min_seconds = 5 }
callback_answer_percent = 60

[[traffic]]
queue = "acme-info"
per_day = { mon = 40, tue = 40 }
hours = "calls"
"""


def lines(**replace: str) -> LoadedScenario:
    text = LINES
    for old, new in replace.items():
        text = text.replace(old, new)
    return scenario_from_text(text, source="lines.toml")


Feed = list[tuple[Input, Sequence[Decision]]]


@pytest.fixture(scope="module")
def run() -> tuple[SimulationResult, Feed, ContactRecorder]:
    ld = lines()
    rec = ContactRecorder(simulated_config(ld))
    feed: Feed = []

    def observe(inp: Input, ds: Sequence[Decision]) -> None:
        feed.append((inp, ds))
        rec.observe(inp, ds)

    res = simulate(ld, observe=observe)
    assert res.rejected == 0, res.rejections
    return res, feed, rec


def _local(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=ZONE)


def _in(ms: int, lo: int, hi: int) -> bool:
    t = _local(ms)
    return lo * 60 <= t.hour * 60 + t.minute < hi * 60


def test_customers_ask_for_callbacks_and_agents_dial_them(
    run: tuple[SimulationResult, Feed, ContactRecorder],
) -> None:
    res, feed, rec = run
    why = Counter(r.callback_reason for r in rec.records() if r.callback_reason)
    assert why["requested"] > 20 and why["outside_hours"] > 20
    dials = [d for _, ds in feed for d in ds if isinstance(d, CallbackAttempted)]
    outcomes = Counter(d.outcome for d in dials)
    # 60 % of dials reach the customer; the rest are retried once, then given up.
    assert 0.45 < outcomes["reached"] / len(dials) < 0.75
    assert outcomes["no_answer"] > 0 and outcomes["busy"] == 0
    fig = cube_from_records(rec.config, rec.records()).figures(tenant="acme")
    assert (res.callbacks_requested, res.callback_dials) == (
        fig.callbacks_requested,
        fig.callbacks_made,
    )
    assert (res.callbacks_reached, res.callbacks_unreached) == (
        fig.callbacks_reached,
        fig.callbacks_unreached,
    )
    assert fig.callbacks_unreached > 0


def test_every_accepted_callback_is_dialled_before_it_is_talked(
    run: tuple[SimulationResult, Feed, ContactRecorder],
) -> None:
    _, feed, _ = run
    held: dict[str, str] = {}
    for inp, ds in feed:
        if isinstance(inp, CallbackResult):
            assert held.pop(inp.contact) == inp.agent
        for d in ds:
            if isinstance(d, ContactAssigned) and d.channel == "callback":
                held[d.contact] = d.agent
            if isinstance(d, ContactClosed) and d.outcome == "completed":
                # A callback is completed only after the customer was reached.
                assert d.contact not in held


def test_no_callback_is_dialled_and_no_call_offered_while_its_line_is_closed(
    run: tuple[SimulationResult, Feed, ContactRecorder],
) -> None:
    _, feed, _ = run
    offers = [d for _, ds in feed for d in ds if isinstance(d, OfferMade)]
    assert offers
    for d in offers:
        if d.queue == "acme-voice":
            assert _in(d.ts, 9, 15), d
        else:
            assert _in(d.ts, 10, 12), d


def test_callers_of_a_closed_line_hear_the_announcement_or_get_a_callback(
    run: tuple[SimulationResult, Feed, ContactRecorder],
) -> None:
    res, _, rec = run
    info = [r for r in rec.records() if r.queue == "acme-info"]
    closed = [r for r in info if r.outcome == "closed"]
    assert closed and res.closed_by_policy == len(closed)
    for r in closed:
        assert (r.closed_reason, r.announcement) == ("outside_hours", "acme-info-hours")
        assert not _in(r.arrived_ms, 10, 12)
    # The callback line turns nobody away: out of hours, a callback instead.
    assert not [r for r in rec.records() if r.queue == "acme-voice" and r.outcome == "closed"]
    at_closing = [r for r in rec.records() if r.callback_reason == "at_closing"]
    assert all(_local(r.callback_requested_ms or 0).hour == 15 for r in at_closing)


def test_batches_are_exact_with_callbacks_and_hours() -> None:
    def log(batch: bool) -> bytes:
        buf = io.BytesIO()
        simulate(lines(), log=buf, days=1, batch=batch)
        return buf.getvalue()

    first = log(True)
    assert b'"callback_result"' in first and b'"callback_requested"' in first
    assert first == log(False)


def test_a_callback_request_share_on_a_queue_without_callbacks_is_an_error() -> None:
    text = LINES.replace(
        'channels = ["voice", "callback"]\nwrap_up_seconds = 30',
        'channels = ["voice"]\nwrap_up_seconds = 30',
    ).replace('outside = "callback"\nat_closing = "callback"', 'outside = "close"')
    with pytest.raises(ScenarioError) as err:
        scenario_from_text(text, source="lines.toml")
    assert str(err.value) == (
        "lines.toml: traffic[0].callback_request_percent: queue 'acme-voice' does not serve "
        "'callback'; add it to the queue's channels"
    )
