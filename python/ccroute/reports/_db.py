"""Opening a contact-record database for reading, with errors a person can act on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


class ReportError(Exception):
    """A report or export cannot be made; the message says why (file, tenant, month)."""


def open_db(
    path: str | Path,
    required: tuple[str, ...] = ("contacts", "meta"),
    *,
    lock_wait_seconds: float = 30.0,
) -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    """Open a contact-record database read-only; returns it and its table names.

    A live database is written by a recorder between reads: while it commits, the file
    is locked and the open is retried (up to ``lock_wait_seconds``). Raises
    :class:`ReportError` if the file is missing, not DuckDB, or lacks a table.
    """
    import duckdb

    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such database (run a simulation or the service first)")
    deadline = time.monotonic() + lock_wait_seconds
    while True:
        try:
            con = duckdb.connect(str(p), read_only=True)
            break
        except duckdb.IOException as exc:
            # A recorder holds the file for the moment of a commit (ccroute.record_store):
            # wait for it to let go.
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise ReportError(f"{p}: cannot open it now: {exc}") from None
            time.sleep(0.05)
        except duckdb.Error as exc:
            raise ReportError(f"{p}: not a DuckDB database: {exc}") from None
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    missing = set(required) - tables
    if missing:
        con.close()
        raise ReportError(f"{p}: not a contact-record database (no table {sorted(missing)})")
    return con, tables


def unknown_tenant(db_path: str | Path, tenant: str, known: list[str]) -> ReportError:
    """The error for a tenant the database does not know, listing the ones it does."""
    listed = ", ".join(sorted(known)) or "none"
    return ReportError(f"{db_path}: unknown tenant {tenant!r}; tenants here: {listed}")


def months_with_records(con: duckdb.DuckDBPyConnection, tenant: str, timezone: str) -> list[str]:
    """The months (``YYYY-MM``, in the tenant's time zone) in which the tenant has a contact."""
    rows = con.execute(
        "SELECT DISTINCT strftime(timezone(?, arrived_at::TIMESTAMPTZ), '%Y-%m') AS m "
        "FROM contacts WHERE tenant = ? ORDER BY m",
        [timezone, tenant],
    ).fetchall()
    return [str(r[0]) for r in rows]
