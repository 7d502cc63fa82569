"""Historical figures: a cube built from contact records (in memory or DuckDB)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ccroute.config import Config
from ccroute.metrics.cube import MetricsCube
from ccroute.metrics.definitions import MetricOptions
from ccroute.records import (
    AgentActivity,
    ContactRecord,
    busy_spans,
    load_agent_activity,
    load_meta,
    load_records,
)

# --------------------------------------------------------------------------- historical


def cube_from_records(
    config: Config,
    records: Iterable[ContactRecord],
    *,
    options: MetricOptions | None = None,
    tenant: str | None = None,
    agent_activity: Iterable[AgentActivity] = (),
    as_of_ms: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> MetricsCube:
    """A cube of contact records (and, provider-wide, agent presence), for history.

    Busy time comes from the records' agents; presence from ``agent_activity``. A
    tenant-scoped cube takes no presence (agents serve many tenants): its agents' busy
    time is the time on that tenant's contacts. Intervals open at ``as_of_ms`` (default:
    the latest time in the records) end there.
    """
    cube = MetricsCube(config, options, tenant=tenant)
    recs = list(records)
    acts = list(agent_activity)
    if tenant is not None and acts:
        raise ValueError("agent presence is provider-internal: not in a tenant's cube")
    for r in recs:
        cube.add_record(r, start_ms, end_ms)
    hi = as_of_ms if as_of_ms is not None else _latest(recs, acts)
    if end_ms is not None:
        hi = min(hi, end_ms)
    lo = start_ms if start_ms is not None else 0
    items: dict[str, list[tuple[int, int | None]]] = {}
    for r in recs:
        for ag, start, _, end in busy_spans(r):
            items.setdefault(ag, []).append((start, end))
    states: dict[str, list[AgentActivity]] = {}
    for a in acts:
        states.setdefault(a.agent, []).append(a)
    for ag in sorted(set(items) | set(states)):
        cube.add_agent(ag, states.get(ag, []), items.get(ag, []), lo, hi)
    return cube


def _latest(recs: Sequence[ContactRecord], acts: Sequence[AgentActivity]) -> int:
    latest = 0
    for r in recs:
        for ts in (r.arrived_ms, r.answered_ms, r.closed_ms, r.survey_ms):
            if ts is not None and ts > latest:
                latest = ts
    for a in acts:
        latest = max(latest, a.start_ms, a.end_ms or 0)
    return latest


def cube_from_duckdb(
    path: str | Path,
    *,
    tenant: str | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    options: MetricOptions | None = None,
) -> tuple[MetricsCube, Config]:
    """A cube from a database written by :meth:`ContactRecorder.write_duckdb`.

    With ``tenant``, only that tenant's rows are read (the query filters them), and no
    agent presence. Returns the cube and the stored configuration.
    """
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        config, as_of = load_meta(con)
        records = load_records(con, tenant, start_ms, end_ms)
        acts = load_agent_activity(con) if tenant is None else []
    finally:
        con.close()
    cube = cube_from_records(
        config,
        records,
        options=options,
        tenant=tenant,
        agent_activity=acts,
        as_of_ms=as_of,
        start_ms=start_ms,
        end_ms=end_ms,
    )
    return cube, config
