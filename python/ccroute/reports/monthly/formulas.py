"""How the service level is counted: the month's figure under each common definition."""

from __future__ import annotations

from html import escape

from ccroute.metrics import SL_FORMULAS
from ccroute.reports.monthly.fmt import fmt_pct
from ccroute.reports.monthly.page import Page, section, table


def formulas_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not t.offered:
        return ""
    rows = []
    for name, info in SL_FORMULAS.items():
        chosen = (
            f" <span class='pill info'>{escape(tr('used above'))}</span>"
            if name == d.options.sl_formula
            else ""
        )
        rows.append(
            [
                f"{escape(tr(info.label))}{chosen}<br><code>{escape(name)}</code>",
                escape(tr(info.definition)),
                fmt_pct(t.service_levels_pct.get(name)),
            ]
        )
    return section(
        tr("How the service level is counted"),
        escape(
            tr(
                "Service level has several definitions in the industry; this month's figure "
                "under each of them. T is the queue's threshold; offered = answered + "
                "abandoned; a short abandon is one under {s} s.",
                s=f"{d.options.short_abandon_seconds:g}",
            )
        ),
        table([(tr("Formula"), False), (tr("Definition"), False), (tr("This month"), True)], rows),
    )
