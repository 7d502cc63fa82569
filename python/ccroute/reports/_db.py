"""Opening a contact-record database for reading, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


class ReportError(Exception):
    """A report or export cannot be made; the message says why (file, tenant, month)."""


def open_db(
    path: str | Path, required: tuple[str, ...] = ("contacts", "meta")
) -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    """Open a contact-record database read-only; returns it and its table names.

    Raises :class:`ReportError` if the file is missing, not DuckDB, or lacks a table.
    """
    import duckdb

    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such database (run a simulation or the service first)")
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"{p}: not a DuckDB database: {exc}") from None
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    missing = set(required) - tables
    if missing:
        con.close()
        raise ReportError(f"{p}: not a contact-record database (no table {sorted(missing)})")
    return con, tables
