"""Client reports from contact records: the monthly HTML + CSV report and the data export.

- :func:`write_monthly_report` (``ccroute report``): one tenant's month as a self-contained
  HTML page (inline SVG charts) and a CSV of the figures per day and channel.
- :func:`export_tenant` (``ccroute export``): one tenant's records as CSV and Parquet.

Both read a database written by :meth:`ccroute.records.ContactRecorder.write_duckdb` and
only ever that tenant's rows.
"""

from ccroute.reports._db import ReportError
from ccroute.reports.export import export_tenant
from ccroute.reports.monthly import CSV_COLUMNS, write_monthly_report

__all__ = ["CSV_COLUMNS", "ReportError", "export_tenant", "write_monthly_report"]
