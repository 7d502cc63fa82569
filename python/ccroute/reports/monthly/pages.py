"""Web pages where chats and forms started: only for a client with such contacts."""

from __future__ import annotations

from html import escape

from ccroute.reports.monthly.page import Page, section
from ccroute.reports.svg import hbar_chart

PAGE_ROWS = 12


def pages_section(p: Page) -> str:
    tr, t = p.tr, p.d.total
    pages = list(t.pages.items())[:PAGE_ROWS]
    if not pages:
        return ""
    total = sum(t.pages.values())
    return section(
        tr("Where chats started"),
        escape(
            tr("The web page each chat or form was opened from: where customers look for help.")
        ),
        hbar_chart(
            [k for k, _ in pages],
            [float(v) for _, v in pages],
            label=tr("Where chats started"),
            value_format=lambda v: f"{v:,.0f}  ({100 * v / total:.0f} %)",
            color="#0d9488",
            label_width=260,
        ),
    )
