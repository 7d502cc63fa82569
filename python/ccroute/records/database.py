"""The record database (DuckDB): writing whole tables, and reading records back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ccroute.config import Config
from ccroute.records.columns import CONTACT_SPEC, DDL, Column
from ccroute.records.rows import AgentActivity, ContactRecord

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Version of the DuckDB layout written by :meth:`ContactRecorder.write_duckdb`.
#: 2: step, overflow_ms; 3: transfers, handoff; 4: callbacks, policy closes, moves,
#: overflow reasons, accepted_at.
DB_FORMAT_VERSION = 4


def write_tables(
    path: str | Path,
    tables: dict[str, pa.Table],
    config: Config,
    clock_ms: int,
    *,
    replace: bool,
) -> None:
    """Store the record tables and ``meta`` (configuration, as-of time) in one transaction."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.begin()
        for name, table in tables.items():
            _store(con, name, table, DDL[name], replace=replace)
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        meta = {
            "format_version": str(DB_FORMAT_VERSION),
            "as_of_ms": str(clock_ms),
            "config": msgspec.json.encode(config).decode(),
        }
        for k, v in meta.items():
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
        con.commit()
    finally:
        con.close()


def _store(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: pa.Table,
    columns: list[Column],
    *,
    replace: bool,
) -> None:
    if replace:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    cols = ", ".join(f"{n} {ddl}" for n, _, ddl, _ in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    con.register("_ccroute_src", table)
    try:
        # Arrow's timestamp[ms] arrives as TIMESTAMP_MS; the insert casts to TIMESTAMP.
        con.execute(f"INSERT INTO {name} SELECT * FROM _ccroute_src")
    finally:
        con.unregister("_ccroute_src")


# ---------------------------------------------------------------------- loading


def _ms(col: str) -> str:
    return f"epoch_ms({col})"


def load_records(
    con: duckdb.DuckDBPyConnection,
    tenant: str | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[ContactRecord]:
    """Contact records of one tenant (``None``: all) from a database written by
    :meth:`ContactRecorder.write_duckdb`.

    With a time window, only records with some event in ``[start_ms, end_ms)`` are read
    (arrived before the end, and not closed with no later survey before the start).
    """
    where = ["TRUE"]
    params: list[object] = []
    if tenant is not None:
        where.append("tenant = ?")
        params.append(tenant)
    if end_ms is not None:
        where.append("epoch_ms(arrived_at) < ?")
        params.append(end_ms)
    if start_ms is not None:
        where.append(
            "(closed_at IS NULL OR epoch_ms(greatest(closed_at, coalesce(survey_at, closed_at)))"
            " >= ?)"
        )
        params.append(start_ms)
    # A database of an older format lacks the newer columns: their defaults stand.
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'"
        ).fetchall()
    }
    columns = [
        (name, kind)
        for name, kind, _, _ in CONTACT_SPEC
        if name not in _DERIVED and name in present
    ]
    select = [_ms(name) if kind == "ts" else name for name, kind in columns]
    sql = (
        f"SELECT {', '.join(select)} FROM contacts WHERE {' AND '.join(where)} "
        "ORDER BY arrived_at, tenant, contact"
    )
    fields = [_FIELD_OF.get(name, name) for name, _ in columns]
    out = []
    for row in con.execute(sql, params).fetchall():
        values = dict(zip(fields, row, strict=True))
        values["attributes"] = json.loads(values["attributes"] or "{}")
        values["tags"] = list(values["tags"] or [])
        values["callback_dials"] = json.loads(values.get("callback_dials") or "[]")
        out.append(msgspec.convert(values, ContactRecord))
    return out


#: Columns computed from others when written, not read back.
_DERIVED = frozenset({"handled_by_partner", "callback_attempts"})


_FIELD_OF = {
    "arrived_at": "arrived_ms",
    "first_offer_at": "first_offer_ms",
    "answered_at": "answered_ms",
    "accepted_at": "accepted_ms",
    "callback_requested_at": "callback_requested_ms",
    "moved_at": "moved_ms",
    "completed_at": "completed_ms",
    "wrap_up_end_at": "wrap_end_ms",
    "closed_at": "closed_ms",
    "abandoned_at": "abandoned_ms",
    "survey_at": "survey_ms",
}


def load_agent_activity(con: duckdb.DuckDBPyConnection) -> list[AgentActivity]:
    """All agent presence intervals from the database (provider-internal: not per tenant)."""
    rows = con.execute(
        "SELECT agent, team, partner, state, reason, set_by, epoch_ms(start_at), "
        "epoch_ms(end_at) FROM agent_states ORDER BY agent, start_at"
    ).fetchall()
    return [
        AgentActivity(
            agent=a, team=t or "", partner=p, state=s, reason=r, by=b, start_ms=st, end_ms=en
        )
        for a, t, p, s, r, b, st, en in rows
    ]


def load_meta(con: duckdb.DuckDBPyConnection) -> tuple[Config, int]:
    """The configuration snapshot and the as-of time (ms) stored with the records."""
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    config = msgspec.json.decode(meta["config"], type=Config)
    return config, int(meta.get("as_of_ms", "0"))
