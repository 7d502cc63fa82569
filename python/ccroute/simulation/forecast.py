"""The client's forecast: contacts expected and agents needed, per tenant and 15 minutes.

The expected volume is the plan the traffic streams are drawn around (before the day's
noise), so the monthly report can set forecast against actual. Agents needed come from
:mod:`ccroute.staffing`: Erlang C (or A) for live work against each queue's own
service-level target, workload over a target occupancy for deferred work, each queue
staffed on its own (a blended centre needs fewer: that is the point of blending).

The table is ``forecast(tenant VARCHAR, interval_start TIMESTAMP, offered_forecast
DOUBLE, agents_forecast DOUBLE)`` with ``interval_start`` in UTC, as the report reads it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ccroute.config import Queue
from ccroute.events import LIVE_CHANNELS
from ccroute.simulation.scenario import LoadedScenario, StaffingSettings
from ccroute.simulation.timeline import SLOT_MS, Period
from ccroute.simulation.traffic import Stream
from ccroute.staffing import ServiceTarget, agents_needed


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One row of the forecast table."""

    tenant: str
    interval_start: dt.datetime
    """UTC, without a zone (DuckDB TIMESTAMP)."""
    offered_forecast: float
    agents_forecast: float


def _work_seconds(st: Stream) -> float:
    """Mean handle time of a contact: talk plus the wrap-up the queue allows."""
    wrap = 0.0
    if st.queue.wrap_up_seconds > 0:
        wrap = min(st.behaviour.wrap_up.mean, float(st.queue.wrap_up_seconds))
    return st.behaviour.handle_time.mean + wrap


def _target(q: Queue) -> ServiceTarget:
    level = min(max(q.service_level.target_percent / 100.0, 0.01), 0.999)
    return ServiceTarget(level=level, threshold=float(q.service_level.threshold_seconds))


class _Staffer:
    """Agents needed for one queue and channel, remembered by rounded load."""

    def __init__(self, q: Queue, channel: str, settings: StaffingSettings) -> None:
        self.live = channel in LIVE_CHANNELS
        self.target = _target(q)
        self.settings = settings
        self.concurrency = settings.chat_concurrency if channel == "chat" else 1.0
        self.cache: dict[tuple[float, float, float | None], float] = {}

    def agents(self, offered: float, aht: float, patience: float | None) -> float:
        s = self.settings
        if offered <= 0.0:
            return 0.0
        load = offered * aht / (SLOT_MS / 1000.0) / self.concurrency
        if not self.live:
            return load / s.max_occupancy / (1.0 - s.shrinkage)
        key = (round(load, 2), round(aht), None if patience is None else round(patience))
        got = self.cache.get(key)
        if got is None:
            res = agents_needed(
                key[0],
                aht,
                self.target,
                patience=patience if s.erlang == "A" else None,
                max_occupancy=s.max_occupancy,
            )
            got = res.agents / (1.0 - s.shrinkage)
            self.cache[key] = got
        return got


def forecast_rows(ld: LoadedScenario, streams: list[Stream], period: Period) -> list[ForecastRow]:
    """The forecast table of a run: every tenant, every slot with something expected."""
    settings = ld.scenario.staffing
    # Streams into the same queue and channel share their agents (Finnish and Swedish
    # callers of one voice queue): staff the sum, with the volume-weighted handle time.
    groups: dict[tuple[str, str], list[Stream]] = defaultdict(list)
    for st in streams:
        groups[(st.queue.id, st.channel)].append(st)
    offered: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(period.slots))
    agents: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(period.slots))
    for (_, channel), members in sorted(groups.items()):
        q = members[0].queue
        staffer = _Staffer(q, channel, settings)
        tenant = q.tenant
        for k in range(len(period.slots)):
            n = sum(st.expected[k] for st in members)
            if n <= 0.0:
                continue
            aht = sum(st.expected[k] * _work_seconds(st) for st in members) / n
            pats = [st.behaviour.patience.mean for st in members if st.behaviour.patience]
            patience = sum(pats) / len(pats) if pats else None
            offered[tenant][k] += n
            agents[tenant][k] += staffer.agents(n, aht, patience)
    rows: list[ForecastRow] = []
    for tenant in sorted(offered):
        for k, slot in enumerate(period.slots):
            if offered[tenant][k] > 0.0:
                start = dt.datetime.fromtimestamp(slot.start_ms / 1000, tz=dt.UTC)
                rows.append(
                    ForecastRow(
                        tenant,
                        start.replace(tzinfo=None),
                        round(offered[tenant][k], 3),
                        round(agents[tenant][k], 2),
                    )
                )
    return rows


def write_forecast_table(db_path: str | Path, rows: list[ForecastRow]) -> None:
    """Create (or replace) the ``forecast`` table in the contact database."""
    import duckdb
    import pyarrow as pa

    # One Arrow table in, rather than a row at a time: a month is ~10,000 rows.
    table = pa.table(
        {
            "tenant": pa.array([r.tenant for r in rows], pa.string()),
            "interval_start": pa.array([r.interval_start for r in rows], pa.timestamp("us")),
            "offered_forecast": pa.array([r.offered_forecast for r in rows], pa.float64()),
            "agents_forecast": pa.array([r.agents_forecast for r in rows], pa.float64()),
        }
    )
    con = duckdb.connect(str(db_path))
    try:
        con.register("forecast_rows", table)
        con.execute(
            "CREATE OR REPLACE TABLE forecast (tenant VARCHAR, interval_start TIMESTAMP, "
            "offered_forecast DOUBLE, agents_forecast DOUBLE)"
        )
        con.execute("INSERT INTO forecast SELECT * FROM forecast_rows")
        con.unregister("forecast_rows")
    finally:
        con.close()
