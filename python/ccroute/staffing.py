"""Erlang C and Erlang A staffing: how many agents a forecast needs.

Two queueing models, both with Poisson arrivals, exponential handle times and one
first-come-first-served queue in front of ``agents`` identical agents:

- **Erlang C** (M/M/N): nobody hangs up. Only stable when ``agents > traffic``.
- **Erlang A** (M/M/N+M, "Palm"): each waiting contact abandons after an exponential
  patience with mean ``patience`` seconds. Stable for every number of agents; closer to a
  real phone queue, where callers do hang up.

``traffic`` is the offered load in Erlangs, ``offered contacts x AHT / interval length``
(see :func:`traffic_intensity`). Times (AHT, threshold, patience, ASA) are in seconds.

Figures
    - **P(wait)**: share of contacts that find every agent busy and queue.
    - **Service level**: share of *offered* contacts answered within ``threshold``
      seconds (an abandoned contact counts as not answered in time).
    - **ASA**: average speed of answer, the mean wait of *answered* contacts (those
      answered at once count with zero wait).
    - **Occupancy**: busy time / logged-in time, ``carried traffic / agents``.
    - **P(abandon)** (Erlang A only): share of offered contacts that hang up in the queue.

Staffing
    :func:`agents_needed` gives the smallest number of agents on the phones that meets a
    :class:`ServiceTarget` such as 80 % answered within 20 s, optionally also keeping
    occupancy at or below a cap. Agents to *schedule* add shrinkage (breaks, training,
    sickness, the share of paid time not on the phones):
    ``scheduled = ceil(agents / (1 - shrinkage))``.

Numerical method
    Erlang B comes from its recursion run on the reciprocal in log space,
    ``log(1/B(n)) = log(1 + (n / A) / B(n-1))``, so thousands of agents neither overflow
    nor lose precision; Erlang C follows from B. Nothing computes a factorial or a large
    power.

    Erlang A is computed exactly from the birth-death chain, without truncating the
    chain. With ``x = agents x patience / AHT`` and ``y = traffic x patience / AHT``, the
    stationary probabilities of ``agents + j`` contacts in the system are proportional
    to ``t_j = y^j / ((x+1)(x+2)...(x+j))`` (relative to the state "all agents busy, nobody
    waiting"); ``S(x, y) = sum t_j`` is the confluent series behind the incomplete-gamma
    ("Palm") formulas. The tagged-contact view gives closed forms: a contact finding
    ``j`` others waiting is answered with probability ``x / (x + j + 1)`` and its
    answered-wait moment is a sum of ``1 / (x + i + 1)``. The share answered within
    ``T`` is ``x/(x+1) [S(x+1, y) - g(T) S(x+1, y e^(-T/patience))]`` times the
    probability of the all-busy state, with ``g(T) = exp(-(x+1) T/patience +
    y (1 - e^(-T/patience)))``. Every series has positive terms only; they are summed with
    running rescaling (log offset) and stopped once the terms decrease and the remaining
    tail, bounded by a geometric series, is below 1e-17 of the sum. So the figures are
    exact to double precision, not a simulation or an approximation.

Forecast CSV (``ccroute staffing --forecast FILE``)
    A header row, then one row per interval. Columns, in any order, names not case
    sensitive:

    - ``interval_start`` (required): an ISO timestamp (``2025-01-13T09:15``) or ``HH:MM``.
    - ``offered`` (required): contacts offered in the interval (may be fractional).
    - ``aht`` (optional): average handle time in seconds for that row; an empty cell
      falls back to ``--aht``.

    Other columns are ignored. The delimiter is ``,`` or ``;`` (as spreadsheet programs
    with a Finnish or Swedish locale write it; then a decimal comma is accepted too).
    Example: ``examples/forecast.csv``; documentation: ``docs/staffing.md``.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

__all__ = [
    "ErlangA",
    "ErlangC",
    "ForecastError",
    "ForecastRow",
    "IntervalPlan",
    "ServiceTarget",
    "StaffingResult",
    "agents_needed",
    "asa",
    "cli_staffing",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "format_plan",
    "occupancy",
    "plan_forecast",
    "read_forecast",
    "scheduled_agents",
    "service_level",
    "traffic_intensity",
]

_TAIL_EPS = 1e-17  # series truncation: remaining tail below this share of the sum
_RESCALE = 1e200  # series terms are rescaled (log offset) above this size
_LOG_RESCALE = math.log(_RESCALE)
_MAX_TERMS = 5_000_000  # Erlang A series length guard (about a second of work)
_MAX_AGENTS = 1_000_000  # agents_needed search guard


# --------------------------------------------------------------------------- checks


def _check_traffic(traffic: float) -> None:
    if not (math.isfinite(traffic) and traffic >= 0.0):
        raise ValueError(f"traffic must be a finite number of Erlangs >= 0, got {traffic!r}")


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise ValueError(f"agents must be an int >= 0, got {agents!r}")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")


def _check_threshold(threshold: float) -> None:
    if not (math.isfinite(threshold) and threshold >= 0.0):
        raise ValueError(f"threshold must be a finite number of seconds >= 0, got {threshold!r}")


def _check_patience(patience: float) -> None:
    if not (patience > 0.0):  # also rejects NaN; math.inf means "never abandons"
        raise ValueError(f"patience must be seconds > 0 (or math.inf), got {patience!r}")


# --------------------------------------------------------------------------- Erlang B/C


def _log_inv_erlang_b(traffic: float, agents: int) -> float:
    """``log(1 / B(agents, traffic))`` by the Erlang B recursion in log space."""
    log_inv = 0.0  # 1/B(0) = 1
    log_a = math.log(traffic)
    for n in range(1, agents + 1):
        # 1/B(n) = 1 + (n / A) / B(n-1)
        u = math.log(n) - log_a + log_inv
        log_inv = u + math.log1p(math.exp(-u)) if u > 0.0 else math.log1p(math.exp(u))
    return log_inv


def erlang_b(traffic: float, agents: int) -> float:
    """Erlang B: share of contacts *blocked* when ``agents`` serve ``traffic`` Erlangs
    with no queue at all. The building block of Erlang C and Erlang A."""
    _check_traffic(traffic)
    _check_agents(agents)
    if traffic == 0.0:
        return 1.0 if agents == 0 else 0.0
    return math.exp(-_log_inv_erlang_b(traffic, agents))


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C probability of wait: the share of contacts that find all ``agents`` busy
    and queue, for ``traffic`` Erlangs offered. 1.0 when ``agents <= traffic`` (the queue
    grows without limit). Independent of the AHT."""
    _check_traffic(traffic)
    _check_agents(agents)
    if traffic == 0.0:
        return 0.0
    if agents <= traffic:
        return 1.0
    log_inv_b = _log_inv_erlang_b(traffic, agents)
    rho = traffic / agents
    # 1/C = rho + (1 - rho) / B
    if log_inv_b > 700.0:
        return math.exp(-log_inv_b - math.log1p(-rho))
    return 1.0 / (rho + (1.0 - rho) * math.exp(log_inv_b))


def service_level(traffic: float, agents: int, aht: float, threshold: float) -> float:
    """Erlang C service level: share of contacts answered within ``threshold`` seconds,
    ``1 - P(wait) exp(-(agents - traffic) threshold / aht)``. 0.0 when unstable."""
    _check_positive("aht", aht)
    _check_threshold(threshold)
    p_wait = erlang_c(traffic, agents)
    if p_wait == 0.0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return 1.0 - p_wait * math.exp(-(agents - traffic) * threshold / aht)


def asa(traffic: float, agents: int, aht: float) -> float:
    """Erlang C average speed of answer in seconds, ``P(wait) aht / (agents - traffic)``;
    ``math.inf`` when ``agents <= traffic``."""
    _check_positive("aht", aht)
    p_wait = erlang_c(traffic, agents)
    if p_wait == 0.0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return p_wait * aht / (agents - traffic)


def occupancy(traffic: float, agents: int) -> float:
    """Erlang C occupancy, ``traffic / agents`` capped at 1.0 (0.0 with no agents and no
    traffic)."""
    _check_traffic(traffic)
    _check_agents(agents)
    if traffic == 0.0:
        return 0.0
    if agents == 0:
        return 1.0
    return min(1.0, traffic / agents)


def traffic_intensity(offered: float, aht: float, interval: float = 900.0) -> float:
    """Offered load in Erlangs: ``offered`` contacts of ``aht`` seconds each arriving in
    an interval of ``interval`` seconds (default 15 minutes)."""
    if not (math.isfinite(offered) and offered >= 0.0):
        raise ValueError(f"offered must be a finite number >= 0, got {offered!r}")
    _check_positive("aht", aht)
    _check_positive("interval", interval)
    return offered * aht / interval


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are on the phones after ``shrinkage`` (share
    of paid time lost to breaks, meetings, training, absence; 0 <= shrinkage < 1):
    ``ceil(agents / (1 - shrinkage))``."""
    _check_agents(agents)
    if not (0.0 <= shrinkage < 1.0):
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage!r}")
    exact = agents / (1.0 - shrinkage)
    # 14 / 0.7 is 20.000000000000004 in floating point; that is 20 agents, not 21.
    return max(agents, math.ceil(exact - 1e-9 * max(1.0, exact)))


@dataclass(frozen=True)
class ErlangC:
    """The Erlang C queue: ``traffic`` Erlangs on ``agents`` agents, handle time ``aht``
    seconds, nobody abandons. Same interface as :class:`ErlangA`."""

    traffic: float
    agents: int
    aht: float

    def __post_init__(self) -> None:
        _check_traffic(self.traffic)
        _check_agents(self.agents)
        _check_positive("aht", self.aht)

    @property
    def p_wait(self) -> float:
        """Share of contacts that queue."""
        return erlang_c(self.traffic, self.agents)

    @property
    def p_abandon(self) -> float:
        """Always 0.0: Erlang C has no abandonment."""
        return 0.0

    def service_level(self, threshold: float) -> float:
        """Share of contacts answered within ``threshold`` seconds."""
        return service_level(self.traffic, self.agents, self.aht, threshold)

    @property
    def asa(self) -> float:
        """Average speed of answer, seconds."""
        return asa(self.traffic, self.agents, self.aht)

    @property
    def occupancy(self) -> float:
        """Busy time / logged-in time."""
        return occupancy(self.traffic, self.agents)


# --------------------------------------------------------------------------- Erlang A


@dataclass(frozen=True)
class _Series:
    """Sums over ``j >= 0`` of ``t_j = y^j / ((x+1)...(x+j))`` times weights, all scaled
    by ``exp(-log_scale)``."""

    log_scale: float
    total: float  # sum t_j
    answered: float  # sum t_j x/(x+j+1)
    abandoned: float  # sum t_j (j+1)/(x+j+1)
    wait: float  # sum t_j x/(x+j+1) * sum_{i<=j} 1/(x+i+1)

    @property
    def log_total(self) -> float:
        return math.log(self.total) + self.log_scale


def _series(x: float, y: float) -> _Series:
    if y > 1e100:
        raise ValueError("Erlang A: traffic x patience is too large to evaluate")
    term = 1.0
    log_scale = 0.0
    total = answered = abandoned = wait = 0.0
    harmonic = 0.0
    j = 0
    while True:
        d = x + j + 1.0
        harmonic += 1.0 / d
        w_answer = x / d
        total += term
        answered += term * w_answer
        abandoned += term * ((j + 1.0) / d)
        wait += term * w_answer * harmonic
        term *= y / d  # t_{j+1}
        j += 1
        if term > _RESCALE:
            term /= _RESCALE
            total /= _RESCALE
            answered /= _RESCALE
            abandoned /= _RESCALE
            wait /= _RESCALE
            log_scale += _LOG_RESCALE
        ratio = y / (x + j + 1.0)  # every later term shrinks at least by this factor
        if ratio < 1.0:
            geo = 1.0 / (1.0 - ratio)
            tail = term * geo
            tail_wait = term * (harmonic * geo + geo * geo / (x + j + 1.0))
            if tail <= _TAIL_EPS * total and (x == 0.0 or tail_wait <= _TAIL_EPS * wait):
                break
        if j > _MAX_TERMS:
            raise ValueError(
                "Erlang A: the queue is so overloaded and patience so long that the "
                "series needs more than 5 million terms; use a shorter patience"
            )
    return _Series(log_scale, total, answered, abandoned, wait)


def _logistic_neg(log_ratio: float) -> float:
    """``1 / (1 + exp(log_ratio))`` without overflow."""
    if log_ratio > 0.0:
        e = math.exp(-log_ratio)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(log_ratio))


@dataclass(frozen=True)
class ErlangA:
    """The Erlang A (M/M/N+M, Palm) queue: ``traffic`` Erlangs on ``agents`` agents,
    handle time ``aht`` seconds, and waiting contacts abandon after an exponentially
    distributed patience with mean ``patience`` seconds. ``patience=math.inf`` is Erlang
    C. Figures are exact (see the module docstring) and computed once per instance."""

    traffic: float
    agents: int
    aht: float
    patience: float

    def __post_init__(self) -> None:
        _check_traffic(self.traffic)
        _check_agents(self.agents)
        _check_positive("aht", self.aht)
        _check_patience(self.patience)

    @property
    def _is_erlang_c(self) -> bool:
        return math.isinf(self.patience)

    @property
    def _x(self) -> float:
        return self.agents * self.patience / self.aht

    @property
    def _y(self) -> float:
        return self.traffic * self.patience / self.aht

    @cached_property
    def _sums(self) -> _Series:
        return _series(self._x, self._y)

    @cached_property
    def p_wait(self) -> float:
        """Share of contacts that find all agents busy and queue."""
        if self._is_erlang_c:
            return erlang_c(self.traffic, self.agents)
        if self.traffic == 0.0:
            return 0.0
        if self.agents == 0:
            return 1.0
        # P(wait) = S / (1/B - 1 + S), S the queue series, B Erlang B.
        log_inv_b = _log_inv_erlang_b(self.traffic, self.agents)
        log_inv_b_minus_1 = log_inv_b + math.log(-math.expm1(-log_inv_b))
        return _logistic_neg(log_inv_b_minus_1 - self._sums.log_total)

    @cached_property
    def p_abandon(self) -> float:
        """Share of offered contacts that abandon while waiting."""
        if self._is_erlang_c:
            return 0.0
        if self.traffic == 0.0:
            return 0.0
        s = self._sums
        return self.p_wait * (s.abandoned / s.total)

    @property
    def p_answered(self) -> float:
        """Share of offered contacts that are answered (``1 - p_abandon``)."""
        return 1.0 - self.p_abandon

    def service_level(self, threshold: float) -> float:
        """Share of *offered* contacts answered within ``threshold`` seconds; abandoned
        contacts count as not answered in time."""
        _check_threshold(threshold)
        if self._is_erlang_c:
            return service_level(self.traffic, self.agents, self.aht, threshold)
        p_wait = self.p_wait
        if p_wait == 0.0:
            return 1.0
        if self.agents == 0:
            return 0.0
        x, y = self._x, self._y
        s = self._sums
        theta_t = threshold / self.patience
        z = y * math.exp(-theta_t)
        later = _series(x + 1.0, z)
        log_g = -(x + 1.0) * theta_t - y * math.expm1(-theta_t)
        # answered after waiting, ever: p_wait * x/(x+1) S(x+1,y) / S(x,y) = p_wait * answered/total
        ever = s.answered / s.total
        late = (x / (x + 1.0)) * math.exp(log_g + later.log_total - s.log_total)
        within = max(0.0, ever - late)
        return min(1.0, (1.0 - p_wait) + p_wait * within)

    @cached_property
    def asa(self) -> float:
        """Average speed of answer: mean wait of answered contacts, seconds
        (``math.inf`` when nobody is answered)."""
        if self._is_erlang_c:
            return asa(self.traffic, self.agents, self.aht)
        if self.traffic == 0.0:
            return 0.0
        if self.agents == 0:
            return math.inf
        s = self._sums
        return self.p_wait * self.patience * (s.wait / s.total) / self.p_answered

    @cached_property
    def occupancy(self) -> float:
        """Busy time / logged-in time: answered traffic per agent."""
        if self._is_erlang_c:
            return occupancy(self.traffic, self.agents)
        if self.agents == 0 or self.traffic == 0.0:
            return 0.0
        return min(1.0, self.traffic * self.p_answered / self.agents)


# --------------------------------------------------------------------------- staffing


@dataclass(frozen=True)
class ServiceTarget:
    """A service-level target: ``level`` (0-1, below 1) of contacts answered within
    ``threshold`` seconds. ``ServiceTarget.parse("80/20")`` is 80 % in 20 s."""

    level: float
    threshold: float

    def __post_init__(self) -> None:
        if not (0.0 < self.level < 1.0):
            raise ValueError(
                f"target level must be above 0 % and below 100 %, got {self.level * 100:g} %"
            )
        _check_threshold(self.threshold)

    @classmethod
    def parse(cls, text: str) -> ServiceTarget:
        """Parse ``PCT/SECONDS`` such as ``80/20`` (``80%/20s`` is accepted too)."""
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*", text)
        if m is None:
            raise ValueError(
                f"target {text!r} is not PCT/SECONDS (for example 80/20: 80 % within 20 s)"
            )
        return cls(level=float(m.group(1)) / 100.0, threshold=float(m.group(2)))

    def __str__(self) -> str:
        return f"{self.level * 100:g} % answered within {self.threshold:g} s"


@dataclass(frozen=True)
class StaffingResult:
    """What ``agents`` agents achieve on ``traffic`` Erlangs. ``scheduled`` adds
    shrinkage; ``patience`` is None for Erlang C (then ``p_abandon`` is 0.0)."""

    traffic: float
    agents: int
    scheduled: int
    aht: float
    threshold: float
    p_wait: float
    service_level: float
    asa: float
    occupancy: float
    p_abandon: float
    patience: float | None = None
    shrinkage: float = 0.0

    @property
    def model(self) -> str:
        """``"Erlang C"`` or ``"Erlang A"``."""
        return "Erlang C" if self.patience is None else "Erlang A"


def _model(traffic: float, agents: int, aht: float, patience: float | None) -> ErlangA | ErlangC:
    if patience is None or math.isinf(patience):
        return ErlangC(traffic, agents, aht)
    return ErlangA(traffic, agents, aht, patience)


def evaluate(
    traffic: float,
    agents: int,
    aht: float,
    threshold: float,
    *,
    patience: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """All figures for ``agents`` agents on ``traffic`` Erlangs: Erlang C, or Erlang A
    when ``patience`` (mean seconds before a waiting contact hangs up) is given."""
    _check_threshold(threshold)
    q = _model(traffic, agents, aht, patience)
    return StaffingResult(
        traffic=traffic,
        agents=agents,
        scheduled=scheduled_agents(agents, shrinkage),
        aht=aht,
        threshold=threshold,
        p_wait=q.p_wait,
        service_level=q.service_level(threshold),
        asa=q.asa,
        occupancy=q.occupancy,
        p_abandon=q.p_abandon,
        patience=None if isinstance(q, ErlangC) else patience,
        shrinkage=shrinkage,
    )


def agents_needed(
    traffic: float,
    aht: float,
    target: ServiceTarget,
    *,
    patience: float | None = None,
    max_occupancy: float | None = None,
    max_abandon: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """The smallest number of agents that answers ``target.level`` of contacts within
    ``target.threshold`` seconds and, when given, keeps occupancy at or below
    ``max_occupancy`` (0-1) and the abandon rate at or below ``max_abandon`` (0-1, Erlang
    A). Erlang C, or Erlang A when ``patience`` is given. No traffic needs no agents. The
    result carries the figures that number achieves and the agents to schedule after
    ``shrinkage``.

    With abandonment a large, overloaded queue can meet a service level by letting many
    callers hang up (they are the ones who would have waited long); ``max_abandon``
    rules that out."""
    _check_traffic(traffic)
    _check_positive("aht", aht)
    if max_occupancy is not None and not (0.0 < max_occupancy <= 1.0):
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    if max_abandon is not None and not (0.0 < max_abandon <= 1.0):
        raise ValueError(f"max_abandon must be in (0, 1], got {max_abandon!r}")
    if not (0.0 <= shrinkage < 1.0):
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage!r}")

    def meets(n: int) -> bool:
        q = _model(traffic, n, aht, patience)
        if q.service_level(target.threshold) < target.level:
            return False
        if max_abandon is not None and q.p_abandon > max_abandon:
            return False
        return max_occupancy is None or q.occupancy <= max_occupancy

    if traffic == 0.0:
        best = 0
    else:
        # Both the service level and the occupancy are monotone in the agents: gallop up
        # from a number known to fail, then bisect. Erlang C fails at or below the traffic.
        erlang_c_model = patience is None or math.isinf(patience)
        lo = math.floor(traffic) if erlang_c_model else 0
        step = 1
        hi = lo + step
        while not meets(hi):
            lo = hi
            step *= 2
            hi = lo + step
            if hi > _MAX_AGENTS:
                raise ValueError("agents_needed: target not reachable with a million agents")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if meets(mid):
                hi = mid
            else:
                lo = mid
        best = hi
    return evaluate(traffic, best, aht, target.threshold, patience=patience, shrinkage=shrinkage)


# --------------------------------------------------------------------------- forecasts


class ForecastError(ValueError):
    """A forecast file that cannot be used; the message names the file, row and column."""


@dataclass(frozen=True)
class ForecastRow:
    """One interval of a forecast. ``line`` is the line number in the file."""

    interval_start: str
    offered: float
    aht: float | None = None
    line: int = 0


@dataclass(frozen=True)
class IntervalPlan:
    """The staffing for one forecast interval."""

    interval_start: str
    offered: float
    aht: float
    result: StaffingResult


_HHMM = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")


def _valid_start(text: str) -> bool:
    if _HHMM.fullmatch(text):
        return True
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _number(text: str, decimal_comma: bool) -> float:
    t = text.strip()
    if decimal_comma:
        t = t.replace(",", ".")
    value = float(t)  # ValueError for non-numbers
    if not math.isfinite(value):
        raise ValueError(t)
    return value


def _cell(record: list[str], columns: dict[str, int], name: str) -> str:
    i = columns[name]
    return record[i].strip() if i < len(record) else ""


def read_forecast(path: str | Path) -> list[ForecastRow]:
    """Read a forecast CSV (format in the module docstring). Raises :class:`ForecastError`
    naming the file, line and column of the first problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ForecastError(f"{p}: no such forecast file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForecastError(f"{p}: cannot read the forecast: {exc}") from None
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise ForecastError(f"{p}: the forecast is empty (expected a header row)")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header: list[str] | None = None
    rows: list[ForecastRow] = []
    columns: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            for name in ("interval_start", "offered"):
                if name not in header:
                    raise ForecastError(
                        f"{p}: line {line}: missing column {name!r} "
                        f"(the header has {', '.join(repr(h) for h in header)})"
                    )
            columns = {
                name: header.index(name)
                for name in ("interval_start", "offered", "aht")
                if name in header
            }
            continue

        start = _cell(record, columns, "interval_start")
        if not _valid_start(start):
            raise ForecastError(
                f"{p}: line {line}, column 'interval_start': {start!r} is not an ISO "
                "timestamp or HH:MM"
            )
        raw = _cell(record, columns, "offered")
        try:
            offered = _number(raw, delimiter == ";")
        except ValueError:
            raise ForecastError(
                f"{p}: line {line}, column 'offered': {raw!r} is not a number"
            ) from None
        if offered < 0:
            raise ForecastError(f"{p}: line {line}, column 'offered': {raw!r} is negative")
        aht: float | None = None
        if "aht" in columns and _cell(record, columns, "aht"):
            raw = _cell(record, columns, "aht")
            try:
                aht = _number(raw, delimiter == ";")
            except ValueError:
                raise ForecastError(
                    f"{p}: line {line}, column 'aht': {raw!r} is not a number"
                ) from None
            if aht <= 0:
                raise ForecastError(f"{p}: line {line}, column 'aht': {raw!r} must be seconds > 0")
        rows.append(ForecastRow(start, offered, aht, line))
    if not rows:
        raise ForecastError(f"{p}: the forecast has a header but no intervals")
    return rows


def plan_forecast(
    rows: Iterable[ForecastRow],
    aht: float,
    target: ServiceTarget,
    *,
    interval: float = 900.0,
    shrinkage: float = 0.0,
    patience: float | None = None,
    max_occupancy: float | None = None,
    max_abandon: float | None = None,
) -> list[IntervalPlan]:
    """Agents needed for every interval of a forecast (a row's own AHT wins over
    ``aht``)."""
    plans = []
    for row in rows:
        row_aht = row.aht if row.aht is not None else aht
        traffic = traffic_intensity(row.offered, row_aht, interval)
        result = agents_needed(
            traffic,
            row_aht,
            target,
            patience=patience,
            max_occupancy=max_occupancy,
            max_abandon=max_abandon,
            shrinkage=shrinkage,
        )
        plans.append(IntervalPlan(row.interval_start, row.offered, row_aht, result))
    return plans


def _fmt_count(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def format_plan(
    plans: Sequence[IntervalPlan],
    target: ServiceTarget,
    *,
    interval: float = 900.0,
    max_occupancy: float | None = None,
    max_abandon: float | None = None,
) -> str:
    """An aligned text table, one line per interval and a total line. The total gives
    agent-hours (needed and scheduled); its SL and abandon share are weighted by the
    contacts offered, ASA by the contacts answered, occupancy by the agent time."""
    if not plans:
        return "no intervals\n"
    erlang_a = any(pl.result.patience is not None for pl in plans)
    first = plans[0].result
    model = first.model
    ahts = {pl.aht for pl in plans}
    aht_text = f"AHT {plans[0].aht:g} s" if len(ahts) == 1 else "AHT per interval"
    parts = [model, aht_text, f"target {target}", f"intervals of {interval:g} s"]
    if first.patience is not None:
        parts.append(f"mean patience {first.patience:g} s")
    if max_occupancy is not None:
        parts.append(f"occupancy at most {max_occupancy * 100:g} %")
    if max_abandon is not None:
        parts.append(f"abandon at most {max_abandon * 100:g} %")
    parts.append(f"shrinkage {first.shrinkage * 100:g} %")

    headers = ["interval", "offered", "Erlangs", "agents", "scheduled", "SL", "ASA", "occupancy"]
    if erlang_a:
        headers.append("abandon")
    body: list[list[str]] = []
    for pl in plans:
        r = pl.result
        staffed = r.agents > 0
        cells = [
            pl.interval_start,
            _fmt_count(pl.offered),
            f"{r.traffic:.2f}",
            str(r.agents),
            str(r.scheduled),
            _pct(r.service_level) if staffed else "-",
            f"{r.asa:.1f} s" if staffed else "-",
            _pct(r.occupancy) if staffed else "-",
        ]
        if erlang_a:
            cells.append(_pct(r.p_abandon) if staffed else "-")
        body.append(cells)

    hours = interval / 3600.0
    offered = sum(pl.offered for pl in plans)
    answered = sum(pl.offered * (1.0 - pl.result.p_abandon) for pl in plans)
    needed_h = sum(pl.result.agents for pl in plans) * hours
    scheduled_h = sum(pl.result.scheduled for pl in plans) * hours
    busy_h = sum(pl.result.occupancy * pl.result.agents for pl in plans) * hours
    erlang_h = sum(pl.result.traffic for pl in plans) * hours
    if offered > 0:
        sl = sum(pl.offered * pl.result.service_level for pl in plans) / offered
        ab = sum(pl.offered * pl.result.p_abandon for pl in plans) / offered
    else:
        sl, ab = 1.0, 0.0
    wait = sum(
        pl.offered * (1.0 - pl.result.p_abandon) * pl.result.asa
        for pl in plans
        if pl.result.agents > 0
    )
    total = [
        "total",
        _fmt_count(offered),
        f"{erlang_h:.1f} h",
        f"{needed_h:.1f} h",
        f"{scheduled_h:.1f} h",
        _pct(sl),
        f"{wait / answered:.1f} s" if answered > 0 else "-",
        _pct(busy_h / needed_h) if needed_h > 0 else "-",
    ]
    if erlang_a:
        total.append(_pct(ab))

    table = [headers, *body, total]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first_cell = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first_cell, *rest]).rstrip()

    rule = "-" * len(line(headers))
    out = [", ".join(parts), "", line(headers), rule, *(line(c) for c in body), rule, line(total)]
    out.append(
        "total: contacts, Erlang-hours of work, agent-hours needed and scheduled; "
        "SL over offered, ASA over answered"
    )
    return "\n".join(out) + "\n"


def cli_staffing(args: argparse.Namespace) -> int:
    """``ccroute staffing``: print agents needed per forecast interval. Returns 0, or 2
    with a one-line error on bad input."""

    def fail(message: str) -> int:
        print(f"ccroute staffing: error: {message}", file=sys.stderr)
        return 2

    aht = float(args.aht)
    interval = float(getattr(args, "interval", 900))
    shrinkage = float(getattr(args, "shrinkage", 0.0) or 0.0)
    patience = getattr(args, "patience", None)
    max_occupancy = getattr(args, "max_occupancy", None)
    max_abandon = getattr(args, "max_abandon", None)  # no flag yet; API has it
    if not (math.isfinite(aht) and aht > 0):
        return fail(f"--aht must be seconds > 0, got {args.aht}")
    if not (math.isfinite(interval) and interval > 0):
        return fail(f"--interval must be seconds > 0, got {args.interval}")
    if not (0.0 <= shrinkage < 1.0):
        return fail(f"--shrinkage must be a share in [0, 1), for example 0.3, got {shrinkage}")
    if patience is not None and not (math.isfinite(patience) and patience > 0):
        return fail(f"--patience must be seconds > 0, got {patience}")
    if max_occupancy is not None and not (0.0 < max_occupancy <= 1.0):
        return fail(
            f"--max-occupancy must be a share in (0, 1], for example 0.9, got {max_occupancy}"
        )
    if max_abandon is not None and not (0.0 < max_abandon <= 1.0):
        return fail(f"--max-abandon must be a share in (0, 1], got {max_abandon}")
    try:
        target = ServiceTarget.parse(str(getattr(args, "target", "80/20")))
    except ValueError as exc:
        return fail(f"--target: {exc}")
    try:
        rows = read_forecast(args.forecast)
        plans = plan_forecast(
            rows,
            aht,
            target,
            interval=interval,
            shrinkage=shrinkage,
            patience=patience,
            max_occupancy=max_occupancy,
            max_abandon=max_abandon,
        )
    except ValueError as exc:  # ForecastError, or an unreachable target
        return fail(str(exc))
    sys.stdout.write(
        format_plan(
            plans,
            target,
            interval=interval,
            max_occupancy=max_occupancy,
            max_abandon=max_abandon,
        )
    )
    return 0
