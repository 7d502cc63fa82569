"""Erlang C and Erlang A staffing, checked against published figures, an independent
Markov-chain solve, and the properties every workforce planner relies on."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute.staffing import (
    ErlangA,
    ErlangC,
    ForecastError,
    ServiceTarget,
    agents_needed,
    asa,
    cli_staffing,
    erlang_b,
    erlang_c,
    evaluate,
    occupancy,
    read_forecast,
    scheduled_agents,
    service_level,
    traffic_intensity,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "forecast.csv"
AHT = 180.0  # three-minute calls


# --------------------------------------------------------------------------- Erlang C


def test_ten_erlangs_on_fourteen_agents_wait_in_17_4_percent_of_calls() -> None:
    assert round(erlang_c(10, 14), 4) == 0.1741


def test_ten_erlangs_on_fourteen_agents_answer_88_8_percent_within_20_s() -> None:
    assert round(service_level(10, 14, AHT, 20), 4) == 0.8884


def test_ten_erlangs_on_fourteen_agents_answer_in_7_84_s_on_average() -> None:
    assert round(asa(10, 14, AHT), 2) == 7.84


def test_ten_erlangs_keep_fourteen_agents_busy_71_percent_of_the_time() -> None:
    assert occupancy(10, 14) == pytest.approx(10 / 14)


def test_probability_of_wait_does_not_depend_on_handle_time() -> None:
    assert ErlangC(10, 14, 60).p_wait == ErlangC(10, 14, 600).p_wait


def test_erlang_b_matches_the_loss_table() -> None:
    # Published Erlang B table: 10 Erlangs on 14 trunks block 5.68 %; on 10 trunks 21.46 %.
    assert round(erlang_b(10, 14), 4) == 0.0568
    assert round(erlang_b(10, 10), 4) == 0.2146
    assert erlang_b(3, 0) == 1.0  # no trunks: everything blocked


def test_as_many_agents_as_erlangs_cannot_keep_up() -> None:
    assert erlang_c(10, 10) == 1.0
    assert service_level(10, 10, AHT, 20) == 0.0
    assert asa(10, 9, AHT) == math.inf


def test_a_quiet_interval_needs_nobody() -> None:
    result = agents_needed(0.0, 240, ServiceTarget(0.8, 20))
    assert (result.agents, result.scheduled) == (0, 0)
    assert result.service_level == 1.0 and result.asa == 0.0


def test_ten_erlangs_need_fourteen_agents_for_80_percent_in_20_s() -> None:
    result = agents_needed(10, AHT, ServiceTarget.parse("80/20"))
    assert result.agents == 14  # 13 agents answer only 80 % minus
    assert service_level(10, 13, AHT, 20) < 0.8 <= result.service_level
    assert result.model == "Erlang C" and result.p_abandon == 0.0


def test_an_occupancy_cap_adds_agents_beyond_the_service_level() -> None:
    # 100 Erlangs meet 80/20 with 107 agents, 93 % busy; a 90 % cap needs ceil(100/0.9).
    assert agents_needed(100, AHT, ServiceTarget(0.8, 20)).agents == 107
    capped = agents_needed(100, AHT, ServiceTarget(0.8, 20), max_occupancy=0.9)
    assert capped.agents == 112
    assert capped.occupancy <= 0.9


@pytest.mark.parametrize(
    ("agents", "shrinkage", "scheduled"),
    [(14, 0.0, 14), (14, 0.3, 20), (14, 0.35, 22), (1, 0.5, 2), (0, 0.3, 0)],
)
def test_shrinkage_rounds_the_schedule_up(agents: int, shrinkage: float, scheduled: int) -> None:
    assert scheduled_agents(agents, shrinkage) == scheduled


def test_two_hundred_calls_of_four_minutes_in_a_quarter_hour_are_53_erlangs() -> None:
    assert traffic_intensity(200, 240, 900) == pytest.approx(53.333333)


@pytest.mark.parametrize("traffic", [480.0, 950.0, 4900.0])
def test_large_centres_stay_finite(traffic: float) -> None:
    # Factorials of 500+ agents overflow a float; the recursion must not.
    for agents in range(math.floor(traffic) + 1, math.floor(traffic) + 60, 7):
        pw = erlang_c(traffic, agents)
        sl = service_level(traffic, agents, AHT, 20)
        assert 0.0 < pw < 1.0 and 0.0 < sl <= 1.0
        assert math.isfinite(asa(traffic, agents, AHT))
    needed = agents_needed(traffic, AHT, ServiceTarget(0.8, 20))
    assert traffic < needed.agents < traffic * 1.1
    assert service_level(traffic, needed.agents - 1, AHT, 20) < 0.8


def test_a_huge_lightly_loaded_centre_has_no_wait() -> None:
    assert erlang_c(1.0, 2000) == 0.0
    assert service_level(1.0, 2000, AHT, 0) == 1.0


def test_nonsense_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        erlang_c(-1.0, 5)
    with pytest.raises(ValueError):
        erlang_c(math.nan, 5)
    with pytest.raises(ValueError):
        service_level(5, 6, 0.0, 20)
    with pytest.raises(ValueError):
        ErlangA(5, 6, AHT, 0.0)
    with pytest.raises(ValueError):
        ServiceTarget(1.0, 20)  # 100 % is never reached by a queue


# --------------------------------------------------------------------------- Erlang A:
# an independent reference. The birth-death chain of M/M/N+M truncated at N+K, its
# stationary distribution solved by Gaussian elimination on the generator (no product
# form); the tagged caller's wait by uniformisation of the absorbing chain; ASA by
# first-step analysis.


def _stationary(traffic: float, agents: int, aht: float, patience: float, k: int) -> list[float]:
    lam, mu, theta = traffic / aht, 1.0 / aht, 1.0 / patience
    size = agents + k + 1
    q = [[0.0] * size for _ in range(size)]
    for n in range(size):
        if n + 1 < size:
            q[n][n + 1] = lam
        if n > 0:
            q[n][n - 1] = min(n, agents) * mu + max(n - agents, 0) * theta
        q[n][n] = -sum(q[n])
    # Solve pi Q = 0 with sum(pi) = 1: the transposed system, last equation replaced.
    a = [[q[col][row] for col in range(size)] for row in range(size)]
    b = [0.0] * size
    a[-1] = [1.0] * size
    b[-1] = 1.0
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        b[col], b[pivot] = b[pivot], b[col]
        for r in range(col + 1, size):
            f = a[r][col] / a[col][col]
            if f:
                for c in range(col, size):
                    a[r][c] -= f * a[col][c]
                b[r] -= f * b[col]
    pi = [0.0] * size
    for r in range(size - 1, -1, -1):
        pi[r] = (b[r] - sum(a[r][c] * pi[c] for c in range(r + 1, size))) / a[r][r]
    return pi


def _reference(
    traffic: float, agents: int, aht: float, patience: float, threshold: float, k: int = 60
) -> dict[str, float]:
    lam, mu, theta = traffic / aht, 1.0 / aht, 1.0 / patience
    pi = _stationary(traffic, agents, aht, patience, k)
    queued = pi[agents:]  # an arrival finding agents + j in the system has j ahead
    p_wait = sum(queued)
    p_abandon = theta * sum(j * p for j, p in enumerate(queued)) / lam
    # Tagged caller with j ahead: leaves j at rate N mu + j theta (service or someone ahead
    # giving up) and gives up itself at rate theta. Answered / waiting-time moment by
    # first-step analysis:
    answer: list[float] = []
    moment: list[float] = []
    for j in range(len(queued)):
        advance = agents * mu + j * theta
        out = advance + theta
        before_p, before_m = (answer[-1], moment[-1]) if j else (1.0, 0.0)
        answer.append(advance / out * before_p)
        moment.append(advance / out * (before_p / out + before_m))
    answered = (1.0 - p_wait) + sum(p * a for p, a in zip(queued, answer, strict=True))
    mean_wait = sum(p * m for p, m in zip(queued, moment, strict=True)) / answered
    # Answered within T by uniformisation at rate r: P(answered by T) is the sum over
    # steps m of P(first answered at step m) * P(Poisson(r T) >= m).
    rate = agents * mu + len(queued) * theta
    mean = rate * threshold
    pmf = below = math.exp(-mean)  # Poisson(mean) at 0, and P(<= 0)
    state = list(queued)
    within = 0.0
    step = 0
    while step < mean or pmf > 1e-18:
        step += 1
        nxt = [0.0] * len(state)
        answered_now = 0.0
        for j, p in enumerate(state):
            advance = agents * mu + j * theta
            nxt[j] += p * (1.0 - (advance + theta) / rate)
            if j:
                nxt[j - 1] += p * advance / rate
            else:
                answered_now += p * advance / rate
        state = nxt
        within += answered_now * (1.0 - below)
        pmf *= mean / step
        below += pmf
    return {
        "p_wait": p_wait,
        "p_abandon": p_abandon,
        "service_level": (1.0 - p_wait) + within,
        "asa": mean_wait,
    }


@pytest.mark.parametrize(
    ("traffic", "agents", "patience"),
    [
        (10.0, 14, 120.0),  # a normal morning
        (5.0, 3, 60.0),  # badly understaffed: abandonment keeps the queue finite
        (2.5, 3, 30.0),  # impatient callers
        (8.0, 8, 300.0),  # as many agents as Erlangs
    ],
)
def test_erlang_a_matches_an_independent_markov_chain_solve(
    traffic: float, agents: int, patience: float
) -> None:
    ref = _reference(traffic, agents, AHT, patience, threshold=20.0)
    q = ErlangA(traffic, agents, AHT, patience)
    assert q.p_wait == pytest.approx(ref["p_wait"], rel=1e-9)
    assert q.p_abandon == pytest.approx(ref["p_abandon"], rel=1e-9)
    assert q.asa == pytest.approx(ref["asa"], rel=1e-9)
    assert q.service_level(20) == pytest.approx(ref["service_level"], abs=1e-9)


def test_callers_who_never_hang_up_are_erlang_c() -> None:
    q = ErlangA(10, 14, AHT, patience=1e8)
    assert q.p_wait == pytest.approx(0.174132, rel=1e-5)
    assert q.service_level(20) == pytest.approx(0.888350, rel=1e-5)
    assert q.asa == pytest.approx(7.8359, rel=1e-5)
    assert q.p_abandon < 1e-6
    infinite = ErlangA(10, 14, AHT, patience=math.inf)
    assert (infinite.p_wait, infinite.asa) == (erlang_c(10, 14), asa(10, 14, AHT))


def test_impatient_callers_shorten_the_queue_for_those_who_stay() -> None:
    patient = ErlangC(10, 14, AHT)
    real = ErlangA(10, 14, AHT, patience=120)
    assert real.p_wait < patient.p_wait
    assert real.asa < patient.asa
    assert 0.0 < real.p_abandon < real.p_wait  # only callers who queue can give up


def test_understaffed_with_abandonment_still_has_figures() -> None:
    q = ErlangA(30, 22, AHT, patience=90)  # 22 agents for 30 Erlangs
    assert 0.0 < q.service_level(20) < 0.5
    assert q.p_abandon > 1 - 22 / 30  # at least the excess traffic hangs up
    assert q.occupancy == pytest.approx(30 * (1 - q.p_abandon) / 22)
    assert math.isfinite(q.asa)


def test_an_empty_team_answers_nobody() -> None:
    q = ErlangA(3, 0, AHT, patience=60)
    assert q.p_wait == 1.0 and q.service_level(20) == 0.0
    assert q.p_abandon == pytest.approx(1.0)
    assert q.occupancy == 0.0


@pytest.mark.parametrize("agents", [450, 500, 520, 600])
def test_erlang_a_stays_finite_for_five_hundred_erlangs(agents: int) -> None:
    q = ErlangA(500, agents, AHT, patience=120)
    figures = [q.p_wait, q.p_abandon, q.service_level(20), q.asa, q.occupancy]
    assert all(math.isfinite(f) and f >= 0.0 for f in figures)
    assert 0.0 <= q.p_abandon <= q.p_wait <= 1.0


def test_abandonment_lets_fewer_agents_meet_the_target_but_costs_callers() -> None:
    target = ServiceTarget(0.8, 20)
    c = agents_needed(33, 240, target)
    a = agents_needed(33, 240, target, patience=120, shrinkage=0.3)
    assert a.agents < c.agents
    assert a.scheduled == scheduled_agents(a.agents, 0.3)
    assert a.service_level >= 0.8 and a.p_abandon > 0.02
    assert a.model == "Erlang A"


def test_an_abandon_cap_stops_a_big_queue_buying_its_service_level_with_hang_ups() -> None:
    # 2000 Erlangs of impatient callers: 80/20 is met by letting one in five hang up.
    target = ServiceTarget(0.8, 20)
    cheap = agents_needed(2000, AHT, target, patience=60)
    assert cheap.agents < 2000 and cheap.p_abandon > 0.1
    capped = agents_needed(2000, AHT, target, patience=60, max_abandon=0.03)
    assert (
        capped.p_abandon <= 0.03 < evaluate(2000, capped.agents - 1, AHT, 20, patience=60).p_abandon
    )


# --------------------------------------------------------------------------- properties

traffics = st.floats(min_value=0.1, max_value=150.0)
patiences = st.floats(min_value=10.0, max_value=1000.0)
thresholds = st.floats(min_value=0.0, max_value=120.0)


@settings(max_examples=60, deadline=None)
@given(traffics, st.integers(1, 20), thresholds)
def test_one_more_agent_never_lowers_the_erlang_c_service_level(
    traffic: float, extra: int, threshold: float
) -> None:
    n = math.floor(traffic) + extra
    assert service_level(traffic, n + 1, AHT, threshold) >= service_level(
        traffic, n, AHT, threshold
    )
    assert asa(traffic, n + 1, AHT) <= asa(traffic, n, AHT)


@settings(max_examples=60, deadline=None)
@given(traffics, st.integers(0, 180), patiences, thresholds)
def test_one_more_agent_never_lowers_the_erlang_a_service_level(
    traffic: float, agents: int, patience: float, threshold: float
) -> None:
    now = ErlangA(traffic, agents, AHT, patience)
    more = ErlangA(traffic, agents + 1, AHT, patience)
    assert more.service_level(threshold) >= now.service_level(threshold) - 1e-12
    assert more.p_abandon <= now.p_abandon + 1e-12
    assert 0.0 <= now.p_abandon <= now.p_wait <= 1.0
    assert 0.0 <= now.service_level(threshold) <= 1.0 - now.p_abandon + 1e-12


@settings(max_examples=60, deadline=None)
@given(traffics, st.integers(1, 20), patiences)
def test_erlang_a_never_waits_longer_than_erlang_c(
    traffic: float, extra: int, patience: float
) -> None:
    n = math.floor(traffic) + extra
    a, c = ErlangA(traffic, n, AHT, patience), ErlangC(traffic, n, AHT)
    assert a.p_wait <= c.p_wait + 1e-12
    assert a.asa <= c.asa * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    traffics,
    st.floats(min_value=0.5, max_value=0.95),
    thresholds,
    st.one_of(st.none(), patiences),
)
def test_agents_needed_is_the_smallest_team_that_meets_the_target(
    traffic: float, level: float, threshold: float, patience: float | None
) -> None:
    target = ServiceTarget(level, threshold)
    result = agents_needed(traffic, AHT, target, patience=patience)
    assert result.service_level >= level
    fewer = evaluate(traffic, result.agents - 1, AHT, threshold, patience=patience)
    assert fewer.service_level < level


# --------------------------------------------------------------------------- forecast + CLI


def _args(forecast: Path | str = EXAMPLE, **overrides: object) -> argparse.Namespace:
    args = argparse.Namespace(
        forecast=str(forecast),
        aht=240.0,
        target="80/20",
        interval=900,
        shrinkage=0.0,
        patience=None,
        max_occupancy=None,
    )
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_the_example_is_a_working_day_of_quarter_hours_with_a_morning_peak() -> None:
    rows = read_forecast(EXAMPLE)
    assert len(rows) == 40  # 08:00-18:00
    assert rows[0].interval_start.endswith("08:00") and rows[-1].interval_start.endswith("17:45")
    peak = max(rows, key=lambda r: r.offered)
    assert "T09:" in peak.interval_start or "T10:" in peak.interval_start
    lunch = min(rows[14:20], key=lambda r: r.offered)  # 11:30-12:45
    afternoon = max(rows[20:28], key=lambda r: r.offered)  # 13:00-14:45
    assert lunch.offered < afternoon.offered < peak.offered


def test_staffing_prints_agents_needed_per_interval(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_staffing(_args(EXAMPLE, shrinkage=0.3)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Erlang C, AHT 240 s, target 80 % answered within 20 s")
    interval_lines = [ln for ln in lines if ln.startswith("2025-01-13T")]
    assert len(interval_lines) == 40
    # 10:00: 124 calls of 4 minutes = 33.07 Erlangs need 39 agents, 56 scheduled.
    ten = next(ln for ln in interval_lines if ln.startswith("2025-01-13T10:00"))
    assert ten.split()[1:5] == ["124", "33.07", "39", "56"]
    assert agents_needed(124 * 240 / 900, 240, ServiceTarget(0.8, 20)).agents == 39
    assert any(ln.startswith("total") and "2874" in ln for ln in lines)


def test_staffing_with_patience_shows_the_abandon_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_staffing(_args(EXAMPLE, patience=120.0, max_occupancy=0.85)) == 0
    out = capsys.readouterr().out
    assert out.startswith("Erlang A") and "abandon" in out and "mean patience 120 s" in out


def test_a_row_can_carry_its_own_handle_time(tmp_path: Path) -> None:
    f = tmp_path / "f.csv"
    f.write_text("interval_start,offered,aht\n09:00,100,\n09:15,100,300\n")
    first, second = read_forecast(f)
    assert (first.aht, second.aht) == (None, 300.0)


def test_a_finnish_spreadsheet_export_reads(tmp_path: Path) -> None:
    f = tmp_path / "ennuste.csv"
    f.write_text("\ufeffInterval_Start;Offered;AHT\n09:00;80,5;245,5\n", encoding="utf-8")
    (row,) = read_forecast(f)
    assert (row.interval_start, row.offered, row.aht, row.line) == ("09:00", 80.5, 245.5, 2)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("start,offered\n09:00,10\n", "missing column 'interval_start'"),
        ("interval_start,offered\n09:00,10\n09:15,lots\n", "line 3, column 'offered': 'lots'"),
        ("interval_start,offered\n9 o'clock,10\n", "line 2, column 'interval_start'"),
        ("interval_start,offered\n09:00,-4\n", "line 2, column 'offered': '-4' is negative"),
        ("interval_start,offered,aht\n09:00,4,0\n", "line 2, column 'aht'"),
        ("interval_start,offered\n", "no intervals"),
        ("", "empty"),
    ],
)
def test_a_bad_forecast_is_named_by_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    f = tmp_path / "forecast.csv"
    f.write_text(content)
    with pytest.raises(ForecastError, match=r"forecast\.csv"):
        read_forecast(f)
    assert cli_staffing(_args(f)) == 2
    err = capsys.readouterr().err
    assert expected in err and str(f) in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"forecast": "/nonexistent/forecast.csv"}, "no such forecast file"),
        ({"target": "80%"}, "not PCT/SECONDS"),
        ({"target": "100/20"}, "below 100 %"),
        ({"shrinkage": 1.2}, "--shrinkage"),
        ({"aht": 0.0}, "--aht"),
        ({"patience": -5.0}, "--patience"),
        ({"max_occupancy": 0.0}, "--max-occupancy"),
    ],
)
def test_bad_arguments_exit_with_code_2(
    capsys: pytest.CaptureFixture[str], overrides: dict[str, object], expected: str
) -> None:
    args = _args()
    vars(args).update(overrides)
    assert cli_staffing(args) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and captured.out == ""


def test_targets_read_as_operators_write_them() -> None:
    assert ServiceTarget.parse("80/20") == ServiceTarget(0.8, 20.0)
    assert ServiceTarget.parse(" 90% / 30s ") == ServiceTarget(0.9, 30.0)
    assert str(ServiceTarget(0.8, 20)) == "80 % answered within 20 s"


def test_the_command_line_reaches_the_planner(capsys: pytest.CaptureFixture[str]) -> None:
    from ccroute.cli import main

    argv = ["staffing", "--forecast", str(EXAMPLE), "--aht", "240", "--target", "90/30"]
    assert main([*argv, "--patience", "120", "--shrinkage", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "Erlang A" in out and "90 % answered within 30 s" in out and "shrinkage 25 %" in out
