"""``ccroute report`` and ``ccroute export``: argument handling and exit codes.

Both exit with code 2 and one clear line on standard error when the database is missing,
the tenant unknown (the line lists the tenants there) or the month malformed or without a
contact of the tenant (the line lists the months with contacts).
"""

from __future__ import annotations

import argparse
import sys

from ccroute.reports._db import ReportError


def cli_report(args: argparse.Namespace) -> int:
    """Write the monthly report of ``args.tenant`` for ``args.month`` from ``args.db``."""
    from ccroute.reports.monthly import write_monthly_report

    try:
        html, csv = write_monthly_report(
            args.db,
            args.tenant,
            args.month,
            args.out,
            lang=getattr(args, "lang", None),
            allow_empty=getattr(args, "allow_empty", False),
        )
    except ReportError as exc:
        print(f"ccroute report: {exc}", file=sys.stderr)
        return 2
    print(html)
    print(csv)
    return 0


def cli_export(args: argparse.Namespace) -> int:
    """Export ``args.tenant``'s records from ``args.db`` as CSV and Parquet into ``args.out``."""
    from ccroute.reports.export import export_tenant

    try:
        paths = export_tenant(args.db, args.tenant, args.out)
    except ReportError as exc:
        print(f"ccroute export: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0
