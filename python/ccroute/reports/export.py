"""A tenant's data as open files: the client's exit plan.

:func:`export_tenant` writes one tenant's contact records and the agent work on its
contacts as CSV and Parquet, with the tenant's queue configuration (service-level
targets) as JSON. Only that tenant's rows are read: every query filters on the tenant.
Agent presence (pauses, logins) is the provider's own data and is not exported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ccroute.records import load_meta
from ccroute.reports._db import open_db, unknown_tenant

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pa.Table:
    rel: Any = con.sql(sql, params=params)
    # duckdb 2 names it to_arrow_table; 1.x fetch_arrow_table.
    fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
    table: pa.Table = fetch()
    return table


def _for_parquet(table: pa.Table) -> pa.Table:
    """Times as UTC-aware millisecond timestamps (the stored ones are UTC, naive)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, pc.cast(table[f.name], pa.timestamp("ms", "UTC")))
    return table


def _for_csv(table: pa.Table) -> pa.Table:
    """Times as ISO 8601 UTC text, lists as JSON arrays: plain for any spreadsheet."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _for_parquet(table)
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            text = pc.strftime(table[f.name], format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(i, f.name, text)
        elif pa.types.is_list(f.type):
            values = [None if v is None else json.dumps(v) for v in table[f.name].to_pylist()]
            table = table.set_column(i, f.name, pa.array(values, type=pa.string()))
    return table


def export_tenant(db_path: str | Path, tenant: str, out_dir: str | Path) -> list[Path]:
    """Write ``<tenant>-contacts``, ``<tenant>-agent-work`` (.csv, .parquet) and
    ``<tenant>-config.json`` into ``out_dir``; returns the paths written."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    con, _ = open_db(db_path, ("contacts", "agent_work", "meta"))
    try:
        config, as_of = load_meta(con)
        ten = next((t for t in config.tenants if t.id == tenant), None)
        if ten is None:
            raise unknown_tenant(db_path, tenant, [t.id for t in config.tenants])
        contacts = _arrow(
            con, "SELECT * FROM contacts WHERE tenant = ? ORDER BY arrived_at, contact", [tenant]
        )
        work = _arrow(
            con, "SELECT * FROM agent_work WHERE tenant = ? ORDER BY start_at, contact", [tenant]
        )
    finally:
        con.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tenant)
    written: list[Path] = []
    for name, table in (("contacts", contacts), ("agent-work", work)):
        csv_path = out / f"{safe}-{name}.csv"
        pq_path = out / f"{safe}-{name}.parquet"
        pcsv.write_csv(_for_csv(table), csv_path)
        pq.write_table(_for_parquet(table), pq_path)
        written += [csv_path, pq_path]
    cfg_path = out / f"{safe}-config.json"
    snapshot = {
        "tenant": msgspec.to_builtins(ten),
        "queues": [msgspec.to_builtins(q) for q in config.queues if q.tenant == tenant],
        "records_as_of_ms": as_of,
        "times": "UTC",
    }
    cfg_path.write_text(json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n", "utf-8")
    written.append(cfg_path)
    return written
