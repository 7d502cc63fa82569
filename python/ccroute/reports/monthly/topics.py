"""Topics (tags, with the client's display names) and outcomes (wrap-up codes)."""

from __future__ import annotations

from html import escape

from ccroute.reports.monthly.fmt import fmt_pct, share
from ccroute.reports.monthly.page import Page, note, section
from ccroute.reports.svg import hbar_chart

TOPIC_ROWS = 14
OUTCOME_ROWS = 10


def topics_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not t.tag_shares_pct and not t.wrap_up_codes:
        return ""
    names = d.tenant.report.tags
    body = ""
    tags = list(t.tag_shares_pct.items())[:TOPIC_ROWS]
    if tags:
        body += hbar_chart(
            [names.get(k, k) for k, _ in tags],
            [v for _, v in tags],
            label=tr("Topics (tags), share of contacts"),
            value_format=lambda v: fmt_pct(v),
            color="#4f46e5",
        )
        more = len(t.tag_shares_pct) - len(tags)
        if more > 0:
            body += note(escape(tr("{n} more topics in the data export.", n=more)))
    codes = list(t.wrap_up_codes.items())[:OUTCOME_ROWS]
    if codes:
        body += f"<h3>{escape(tr('Outcomes (wrap-up codes)'))}</h3>" + hbar_chart(
            [names.get(k, k) for k, _ in codes],
            [float(v) for _, v in codes],
            label=tr("Outcomes (wrap-up codes)"),
            value_format=lambda v: f"{v:,.0f}  ({fmt_pct(share(v, t.handled), 0)})",
            color="#0891b2",
        )
    return section(
        tr("Topics and outcomes"),
        escape(
            tr(
                "Share of the month's closed contacts carrying each topic (a contact can "
                "carry several, so shares can add up to more than 100 %), and how agents "
                "closed them."
            )
        ),
        body,
    )
