"""The figures: service-level formulas on worked examples, presence, time grouping, and
live figures equal to historical ones for every closed interval."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from tests.report_sample import sample_config, sample_feed

from ccroute.config import Config, config_from_dict
from ccroute.events import (
    AgentStateSet,
    ClockTick,
    ContactArrived,
    ContactClosed,
    ContactQueued,
    OfferExpired,
    OfferMade,
    OfferReason,
)
from ccroute.metrics import (
    SL_FORMULAS,
    Figures,
    LiveMetrics,
    MetricOptions,
    cube_from_duckdb,
    cube_from_records,
)
from ccroute.records import AgentActivity, ContactRecord

T0 = 1_740_816_000_000  # 2025-03-01 08:00 UTC
S = 1000
MIN = 60 * S


def config() -> Config:
    return config_from_dict(
        {
            "tenants": [{"id": "acme"}, {"id": "globex"}],
            "queues": [
                {
                    "id": "q20",
                    "tenant": "acme",
                    "channels": ["voice"],
                    "service_level": {"threshold_seconds": 20, "target_percent": 80},
                },
                {
                    "id": "q60",
                    "tenant": "acme",
                    "channels": ["chat"],
                    "service_level": {"threshold_seconds": 60, "target_percent": 90},
                },
                {"id": "g", "tenant": "globex", "channels": ["voice"]},
            ],
        }
    )


def answered(
    n: int, wait_s: float, *, queue: str = "q20", talk_s: int = 100, **kw: object
) -> ContactRecord:
    t = T0 + n * MIN
    w = int(wait_s * 1000)
    return ContactRecord(
        tenant=str(kw.pop("tenant", "acme")),
        contact=f"c{n}",
        queue=queue,
        channel="chat" if queue == "q60" else "voice",
        arrived_ms=t,
        answered_ms=t + w,
        completed_ms=t + w + talk_s * S,
        wrap_end_ms=t + w + talk_s * S + 20 * S,
        closed_ms=t + w + talk_s * S + 20 * S,
        wait_ms=w,
        talk_ms=talk_s * S,
        wrap_ms=20 * S,
        handle_ms=talk_s * S + 20 * S,
        agent=str(kw.pop("agent", "a1")),
        outcome="completed",
        **kw,  # type: ignore[arg-type]
    )


def abandoned(n: int, wait_s: float, *, queue: str = "q20") -> ContactRecord:
    t = T0 + n * MIN
    w = int(wait_s * 1000)
    return ContactRecord(
        tenant="acme",
        contact=f"c{n}",
        queue=queue,
        channel="voice",
        arrived_ms=t,
        abandoned_ms=t + w,
        closed_ms=t + w,
        wait_ms=w,
        outcome="abandoned",
    )


def worked_example() -> list[ContactRecord]:
    """10 offered with T = 20 s: 6 answered within T (20 s counts as within), 2 answered
    later, one abandon after 3 s (short, within T) and one after 40 s."""
    waits = [5, 10, 12, 15, 18, 20, 25, 60]
    recs = [answered(i, w) for i, w in enumerate(waits)]
    recs += [abandoned(8, 3), abandoned(9, 40)]
    return recs


# --------------------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("answered_within_t_over_offered", 60.0),  # 6 / 10
        ("answered_within_t_over_answered", 75.0),  # 6 / 8
        ("answered_within_t_over_offered_minus_short_abandons", 600 / 9),  # 6 / (10 - 1)
        ("answered_or_abandoned_within_t", 70.0),  # (6 + 1) / 10
        ("answered_over_offered", 80.0),  # 8 / 10, DialOk's palveluaste
    ],
)
def test_each_service_level_formula_on_the_worked_example(formula: str, expected: float) -> None:
    opts = MetricOptions(sl_formula=formula)  # type: ignore[arg-type]
    f = cube_from_records(config(), worked_example(), options=opts).figures()
    assert f.sl_formula == formula
    assert f.service_level_pct == pytest.approx(expected)
    assert f.service_levels_pct[formula] == pytest.approx(expected)
    assert set(f.service_levels_pct) == set(SL_FORMULAS)


def test_counts_waits_and_rates_of_the_worked_example() -> None:
    f = cube_from_records(config(), worked_example()).figures()
    assert (f.offered, f.answered, f.abandoned, f.short_abandoned) == (10, 8, 2, 1)
    assert (f.answered_within_t, f.abandoned_within_t) == (6, 1)
    assert f.asa_s == pytest.approx((5 + 10 + 12 + 15 + 18 + 20 + 25 + 60) / 8)
    assert f.avg_wait_s == pytest.approx((165 + 3 + 40) / 10)
    assert f.max_wait_s == 60.0
    assert f.abandon_rate_pct == 20.0
    assert f.target_pct == 80.0
    assert f.aht_s == 120.0 and f.avg_talk_s == 100.0 and f.avg_wrap_s == 20.0
    assert f.handled == 8 and f.closed == 10


def test_short_abandon_threshold_and_t_are_options() -> None:
    recs = worked_example()
    f = cube_from_records(config(), recs, options=MetricOptions(short_abandon_seconds=2)).figures()
    assert f.short_abandoned == 0
    f = cube_from_records(config(), recs, options=MetricOptions(threshold_seconds=30)).figures()
    assert f.answered_within_t == 7


def test_each_queue_counts_against_its_own_threshold_and_target() -> None:
    recs = [answered(0, 30, queue="q20"), answered(1, 30, queue="q60")]
    cube = cube_from_records(config(), recs)
    assert cube.figures(queue="q20").service_level_pct == 0.0
    assert cube.figures(queue="q60").service_level_pct == 100.0
    both = cube.figures(tenant="acme")
    assert both.service_level_pct == 50.0
    assert both.target_pct == 85.0  # (80 + 90) / 2: each queue's target, weighted by offered


def test_customer_experience_figures() -> None:
    recs = [
        answered(0, 1, csat=5, nps=10, ces=7, solved=True, survey_ms=T0 + 10 * MIN),
        answered(1, 1, csat=4, nps=9, ces=5, solved=True, survey_ms=T0 + 10 * MIN),
        answered(2, 1, csat=2, nps=8, solved=False, survey_ms=T0 + 10 * MIN),
        answered(3, 1, nps=6, survey_ms=T0 + 10 * MIN),
        answered(4, 1, nps=3, survey_ms=T0 + 10 * MIN),
        answered(5, 1, tags=["card", "loan"]),
        answered(6, 1, tags=["card"], resolved=True),
        answered(7, 1, resolved=False, agent="p1", agent_partner="Partner OÜ"),
    ]
    f = cube_from_records(config(), recs).figures()
    assert f.csat_avg == pytest.approx(11 / 3) and f.csat_responses == 3
    assert f.nps == 0.0  # promoters 2/5 - detractors 2/5
    assert (f.promoters_pct, f.detractors_pct) == (40.0, 40.0)
    assert f.ces_avg == 6.0 and f.ces_responses == 2
    assert f.solved_pct == pytest.approx(200 / 3)
    assert f.tags == {"card": 2, "loan": 1}
    assert f.tag_shares_pct == {"card": 25.0, "loan": 12.5}
    assert f.resolved_pct == 50.0
    assert f.handled_by_partner == 1 and f.partner_share_pct == 12.5


def test_empty_selection_has_no_rates() -> None:
    f = cube_from_records(config(), []).figures(tenant="acme")
    assert f.offered == 0 and f.service_level_pct is None and f.asa_s is None and f.nps is None


# --------------------------------------------------------------------------- presence


def test_occupancy_utilisation_and_pause_by_reason() -> None:
    """Logged in 08:00-09:00, lunch 08:30-08:45; one call 08:05-08:20 and two chats at
    once 08:50-08:55 and 08:52-08:58: busy 15 + 8 = 23 min of 60 logged in, 45 ready."""
    acts = [
        AgentActivity(
            agent="a1", state="available", reason=None, start_ms=T0, end_ms=T0 + 30 * MIN
        ),
        AgentActivity(
            agent="a1", state="paused", reason="lunch", start_ms=T0 + 30 * MIN, end_ms=T0 + 45 * MIN
        ),
        AgentActivity(
            agent="a1", state="available", reason=None, start_ms=T0 + 45 * MIN, end_ms=T0 + 60 * MIN
        ),
        AgentActivity(agent="a1", state="offline", reason=None, start_ms=T0 + 60 * MIN),
    ]

    def item(n: int, start: int, end: int) -> ContactRecord:
        return ContactRecord(
            tenant="acme",
            contact=f"i{n}",
            queue="q60",
            channel="chat",
            arrived_ms=start,
            answered_ms=start,
            closed_ms=end,
            completed_ms=end,
            talk_ms=end - start,
            wrap_ms=0,
            wait_ms=0,
            agent="a1",
            outcome="completed",
        )

    recs = [
        item(1, T0 + 5 * MIN, T0 + 20 * MIN),
        item(2, T0 + 50 * MIN, T0 + 55 * MIN),
        item(3, T0 + 52 * MIN, T0 + 58 * MIN),
    ]
    cube = cube_from_records(config(), recs, agent_activity=acts, as_of_ms=T0 + 120 * MIN)
    f = cube.figures(agent="a1")
    assert f.logged_in_s == 3600 and f.busy_s == 23 * 60 and f.available_s == 45 * 60
    assert f.pause_s == 900 and f.pause_s_by_reason == {"lunch": 900.0}
    assert f.occupancy_pct == pytest.approx(100 * 23 / 60)
    assert f.utilisation_pct == pytest.approx(100 * 23 / 45)
    first = cube.figures(T0, T0 + 15 * MIN, agent="a1")
    assert first.busy_s == 600 and first.logged_in_s == 900  # cut at the interval boundary
    assert cube.figures(queue="q60").occupancy_pct is None  # presence is not per queue
    scoped = cube_from_records(config(), recs, tenant="acme")
    assert scoped.figures(tenant="acme").busy_s == 23 * 60  # time on this tenant's work


def test_a_tenant_cube_refuses_other_tenants_records_and_presence() -> None:
    with pytest.raises(ValueError, match="tenant"):
        cube_from_records(config(), [answered(0, 1, tenant="globex", queue="g")], tenant="acme")
    act = AgentActivity(agent="a1", state="available", reason=None, start_ms=T0)
    with pytest.raises(ValueError, match="provider"):
        cube_from_records(config(), [], tenant="acme", agent_activity=[act])


# --------------------------------------------------------------------------- periods


def test_days_and_hours_are_local_time() -> None:
    # 22:30 UTC on 1 March is 00:30 on 2 March in Helsinki.
    late = ContactRecord(
        tenant="acme",
        contact="x",
        queue="q20",
        channel="voice",
        arrived_ms=T0 + (14 * 60 + 30) * MIN,
        outcome="open",
    )
    early = ContactRecord(
        tenant="acme", contact="y", queue="q20", channel="voice", arrived_ms=T0, outcome="open"
    )
    cube = cube_from_records(config(), [late, early])
    days = cube.collect(period="day", tz="Europe/Helsinki")
    assert {p: f.arrived for (p, _), f in days.items()} == {"2025-03-01": 1, "2025-03-02": 1}
    hours = cube.collect(period="hour_of_day", tz="Europe/Helsinki")
    assert {p: f.arrived for (p, _), f in hours.items()} == {0: 1, 10: 1}
    months = cube.collect(period="month", tz="UTC", by=("channel",))
    assert list(months) == [("2025-03", ("voice",))]
    intervals = cube.collect(period="interval")
    assert sorted(p for p, _ in intervals) == [T0, T0 + (14 * 60 + 30) * MIN]


def test_an_answer_counts_in_the_interval_it_happened() -> None:
    r = answered(14, 90)  # arrives 08:14, answered 08:15:30
    cube = cube_from_records(config(), [r])
    assert cube.figures(T0, T0 + 15 * MIN).arrived == 1
    assert cube.figures(T0, T0 + 15 * MIN).offered == 0
    assert cube.figures(T0 + 15 * MIN, T0 + 30 * MIN).answered == 1


# --------------------------------------------------------------------------- live = historical

_PRESENCE = (
    "logged_in_s",
    "available_s",
    "busy_s",
    "not_responding_s",
    "pause_s",
    "pause_s_by_reason",
    "occupancy_pct",
    "utilisation_pct",
)


def _contact_part(f: Figures) -> dict[str, object]:
    d = msgspec.to_builtins(f)
    return {k: v for k, v in d.items() if k not in _PRESENCE}


def test_live_figures_of_closed_intervals_equal_the_historical_ones(tmp_path: Path) -> None:
    cfg = sample_config()
    live = LiveMetrics(cfg)
    for inp, decisions in sample_feed(cfg, "2025-03", days=2, volume=0.3, seed=3):
        live.observe(inp, decisions)
    db = tmp_path / "c.duckdb"
    live.recorder.write_duckdb(db)
    hist, _ = cube_from_duckdb(db, tenant=None)
    closed = live.closed.intervals()
    until = live.closed_until_ms
    assert until is not None and len(closed) > 100
    size = MetricOptions().interval_ms
    for b in closed:
        assert b < until
        assert live.interval(b) == hist.figures(b, b + size)
        for t in ("nordbank", "kotiposti"):
            assert live.interval(b, tenant=t) == hist.figures(b, b + size, tenant=t)
        assert live.interval(b, channel="chat") == hist.figures(b, b + size, channel="chat")
        assert live.interval(b, agent="a01") == hist.figures(b, b + size, agent="a01")
    # Days are sums of intervals: the same for both.
    first_day = closed[0] - closed[0] % 86_400_000
    assert live.closed.figures(first_day, first_day + 86_400_000) == hist.figures(
        first_day, first_day + 86_400_000
    )
    # A tenant's own (scoped) cube, as the report builds it, agrees on the contact figures.
    scoped, _ = cube_from_duckdb(db, tenant="nordbank")
    for b in closed[::7]:
        assert _contact_part(live.interval(b, tenant="nordbank")) == _contact_part(
            scoped.figures(b, b + size, tenant="nordbank")
        )
    # The open interval so far is what history says of it up to now.
    assert live.current() == hist.figures(until, until + size)


def test_live_callbacks_policies_and_overflow_equal_the_historical_ones(tmp_path: Path) -> None:
    cfg = sample_config()
    live = LiveMetrics(cfg)
    # Days 3 and 4 are working days: closed calls, tickets and retried callbacks.
    for inp, decisions in sample_feed(cfg, "2025-03", days=4, volume=0.2, seed=5):
        live.observe(inp, decisions)
    db = tmp_path / "c.duckdb"
    live.recorder.write_duckdb(db)
    hist, _ = cube_from_duckdb(db, tenant=None)
    size = MetricOptions().interval_ms
    seen = {"made": 0, "unreached": 0, "closed": 0, "moved": 0, "overflowed": 0}
    for b in live.closed.intervals():
        f = live.interval(b, tenant="nordbank")
        assert f == hist.figures(b, b + size, tenant="nordbank")
        # The agent who dials a callback twice: busy time and dials, interval by interval.
        assert live.interval(b, agent="a01") == hist.figures(b, b + size, agent="a01")
        assert live.interval(b, queue="nb-voice") == hist.figures(b, b + size, queue="nb-voice")
        seen["made"] += f.callbacks_made
        seen["unreached"] += f.callbacks_unreached
        seen["closed"] += f.closed_by_policy
        seen["moved"] += f.moved
        seen["overflowed"] += f.overflowed
    assert all(seen.values()), seen


def test_a_timer_that_fired_before_the_boundary_counts_in_the_earlier_interval() -> None:
    cfg = config_from_dict(
        {
            "tenants": [{"id": "acme"}],
            "queues": [{"id": "q", "tenant": "acme", "channels": ["voice"]}],
        }
    )
    live = LiveMetrics(cfg)
    arr = ContactArrived(
        id="a", ts=T0 + 14 * MIN, tenant="acme", contact="c", queue="q", channel="voice"
    )
    reason = OfferReason(strategy="longest_idle", score=0, considered=1)
    live.observe(
        arr,
        [
            OfferMade(
                id="d1",
                ts=arr.ts,
                cause="a",
                tenant="acme",
                contact="c",
                queue="q",
                channel="voice",
                agent="x",
                offer="c#1",
                attempt=1,
                expires_at=arr.ts + 20 * S,
                reason=reason,
            ),
        ],
    )
    live.observe(
        ClockTick(id="t", ts=T0 + 16 * MIN),
        [
            OfferExpired(
                id="d2",
                ts=arr.ts + 20 * S,
                cause="t",
                tenant="acme",
                contact="c",
                agent="x",
                offer="c#1",
                missed_in_row=1,
            ),
            ContactQueued(
                id="d3",
                ts=arr.ts + 20 * S,
                cause="t",
                tenant="acme",
                contact="c",
                queue="q",
                channel="voice",
                priority=0,
                waiting=1,
                requeued=True,
            ),
            AgentStateSet(id="d4", ts=arr.ts + 20 * S, cause="t", agent="x", state="paused"),
        ],
    )
    live.observe(
        ClockTick(id="t2", ts=T0 + 29 * MIN),
        [
            ContactClosed(
                id="d5",
                ts=T0 + 17 * MIN,
                cause="t2",
                tenant="acme",
                contact="c",
                queue="q",
                channel="voice",
                outcome="abandoned",
            )
        ],
    )
    live.observe(ClockTick(id="t3", ts=T0 + 31 * MIN), [])
    first = live.interval(T0)
    second = live.interval(T0 + 15 * MIN)
    assert (first.arrived, first.offered, second.abandoned) == (1, 0, 1)
    assert first.not_responding_s is not None and first.pause_s == 40.0  # 08:14:20-08:15
    assert second.pause_s == 900.0
    with pytest.raises(ValueError, match="not closed"):
        live.interval(T0 + 30 * MIN)


def test_live_keeps_a_window_of_closed_intervals() -> None:
    cfg = sample_config()
    live = LiveMetrics(cfg, keep_intervals=8)
    for inp, decisions in sample_feed(cfg, "2025-03", days=1, volume=0.2, seed=5):
        live.observe(inp, decisions)
    assert live.closed_until_ms is not None
    assert min(live.closed.intervals()) >= live.closed_until_ms - 8 * 15 * MIN
