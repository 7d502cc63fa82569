"""The client's monthly service report: one self-contained HTML file and CSVs beside it.

The flow, top to bottom:

1. :func:`~ccroute.reports.monthly.data.build_monthly` reads one tenant's month from the
   contact-record database (only that tenant's rows) into :class:`MonthlyData`;
2. :func:`render_html` writes the page from it, section by section, in the tenant's
   language (:mod:`.labels`): the headline (:mod:`.headline`), then each section module
   in report order; a section the client does not use (no callbacks, no chats, no
   ratings, no agent table asked for) returns nothing and is left out;
3. :func:`~ccroute.reports.monthly.csv_file.write_csv` writes the figures per day and
   channel; with the agent table, every agent's month goes to a second CSV.

Charts are inline SVG, styles inline CSS; the page fetches nothing and opens offline.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from ccroute.metrics import MetricOptions
from ccroute.reports.monthly.agents import agents_section
from ccroute.reports.monthly.callbacks import callbacks_section, partner_section, policies_section
from ccroute.reports.monthly.csv_file import (
    AGENT_CSV_COLUMNS,
    CSV_COLUMNS,
    write_agents_csv,
    write_csv,
)
from ccroute.reports.monthly.data import MonthlyData, build_monthly, parse_month
from ccroute.reports.monthly.experience import experience_section, follow_up_section
from ccroute.reports.monthly.forecast import forecast_section
from ccroute.reports.monthly.formulas import formulas_section
from ccroute.reports.monthly.headline import header
from ccroute.reports.monthly.labels import LANGUAGES, Labels
from ccroute.reports.monthly.page import Page, document, today
from ccroute.reports.monthly.pages import pages_section
from ccroute.reports.monthly.service_level import service_level_section
from ccroute.reports.monthly.speed import speed_section
from ccroute.reports.monthly.topics import topics_section
from ccroute.reports.monthly.volume import channel_mix_section, volume_section

__all__ = [
    "AGENT_CSV_COLUMNS",
    "CSV_COLUMNS",
    "LANGUAGES",
    "MonthlyData",
    "build_monthly",
    "parse_month",
    "render_html",
    "write_csv",
    "write_monthly_report",
]

#: The sections in report order; each returns "" when the client does not use it.
SECTIONS = (
    service_level_section,
    volume_section,
    speed_section,
    channel_mix_section,
    topics_section,
    experience_section,
    follow_up_section,
    pages_section,
    callbacks_section,
    partner_section,
    policies_section,
    agents_section,
    forecast_section,
    formulas_section,
)


def render_html(d: MonthlyData, lang: str | None = None) -> str:
    """The report as one HTML document (inline CSS and SVG, no scripts, no fetches), in
    ``lang`` (default: the tenant's ``report.language``)."""
    tr = Labels(lang or d.tenant.report.language)
    p = Page(d, tr)
    year, month = d.year_month
    footer = (
        "<footer>"
        + escape(
            tr(
                "Generated on {date} for {name}. The figures per day and channel are in the "
                "CSV file beside this report. This report contains only this client's "
                "contacts.",
                date=today(),
                name=d.name,
            )
        )
        + "</footer>"
    )
    return document(
        tr("{name} — service report {month}", name=d.name, month=tr.month(year, month)),
        tr.lang,
        header(p),
        [s(p) for s in SECTIONS],
        footer,
    )


def write_monthly_report(
    db_path: str | Path,
    tenant: str,
    month: str,
    out_dir: str | Path,
    *,
    options: MetricOptions | None = None,
    lang: str | None = None,
    allow_empty: bool = False,
) -> tuple[Path, Path]:
    """Write ``<tenant>-<month>.html`` and ``<tenant>-<month>.csv`` into ``out_dir`` (and
    ``<tenant>-<month>-agents.csv`` when the tenant's report shows agents).

    Raises :class:`~ccroute.reports.ReportError` for a missing database, an unknown
    tenant, a bad month or (unless ``allow_empty``) a month without a contact. Returns the
    paths of the HTML and CSV files.
    """
    data = build_monthly(db_path, tenant, month, options=options, allow_empty=allow_empty)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tenant)
    html_path = out / f"{safe}-{month}.html"
    csv_path = out / f"{safe}-{month}.csv"
    html_path.write_text(render_html(data, lang), encoding="utf-8")
    write_csv(data, csv_path)
    if data.tenant.report.agents:
        write_agents_csv(data, out / f"{safe}-{month}-agents.csv")
    return html_path, csv_path
