"""Service level per day against the target, the days below it, and each queue's month."""

from __future__ import annotations

import datetime as dt
from html import escape

from ccroute.reports.monthly.fmt import fmt_dur, fmt_int, fmt_pct, signed, threshold_text
from ccroute.reports.monthly.page import (
    BAD,
    GOOD,
    MONTH_LINE,
    TARGET,
    Page,
    below,
    legend,
    note,
    section,
    table,
)
from ccroute.reports.svg import RefLine, Series, bar_chart


def service_level_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not p.days_with:
        return ""
    days = p.day_keys
    sl_vals = [d.daily[k].service_level_pct if k in p.days_with else None for k in days]
    day_targets = [d.daily[k].target_pct if k in p.days_with else None for k in days]
    colors: list[str | None] = [BAD if k in p.bad_days else GOOD for k in days]
    lines = []
    if t.service_level_pct is not None:
        lines.append(
            RefLine(
                t.service_level_pct,
                tr("month {v}", v=f"{t.service_level_pct:.1f} %"),
                MONTH_LINE,
                True,
            )
        )
    chart = bar_chart(
        p.labels,
        [Series(tr("Service level"), sl_vals, GOOD)],
        label=tr("Service level per day"),
        y_max=100,
        y_format=lambda v: f"{v:.0f} %",
        lines=lines,
        bar_colors=colors,
        markers=day_targets,
        marker_label=tr("target"),
        shade=p.weekend,
        hover=p.hover,
        height=260,
    )
    rows = []
    for k in p.bad_days:
        f = d.daily[k]
        gap = (f.service_level_pct or 0) - (f.target_pct or 0)
        rows.append(
            [
                escape(tr.day(dt.date.fromisoformat(k))),
                fmt_int(f.offered),
                fmt_pct(f.service_level_pct),
                fmt_pct(f.target_pct, 0),
                signed(gap, 1, "pp"),
                escape(fmt_dur(p.live_day(k))),
                fmt_int(f.abandoned),
            ]
        )
    bad_html = (
        f"<h3>{escape(tr('Days below target'))}</h3>"
        + table(
            [
                (tr("Day"), False),
                (tr("Offered"), True),
                (tr("Service level"), True),
                (tr("Target"), True),
                (tr("Gap"), True),
                (tr("ASA (calls, chats)"), True),
                (tr("Abandoned"), True),
            ],
            rows,
        )
        if rows
        else note(escape(tr("Every day with contacts met its target.")))
    )
    qrows = []
    for q in d.queues:
        qf = d.by_queue.get(q.id)
        if qf is None or not qf.offered:
            continue
        qrows.append(
            [
                escape(q.id),
                escape(", ".join(tr.channel(c) for c in q.channels)),
                escape(threshold_text(q, d.options)),
                fmt_pct(q.service_level.target_percent, 0),
                fmt_int(qf.offered),
                fmt_pct(qf.service_level_pct),
                f"<span class='pill good'>{escape(tr('met'))}</span>"
                if not below(qf)
                else f"<span class='pill bad'>{escape(tr('below'))}</span>",
            ]
        )
    queue_html = f"<h3>{escape(tr('Queues'))}</h3>" + table(
        [
            (tr("Queue"), False),
            (tr("Channels"), False),
            (tr("Time"), True),
            (tr("Target"), True),
            (tr("Offered"), True),
            (tr("Service level"), True),
            ("", True),
        ],
        qrows,
    )
    return section(
        tr("Service level per day"),
        escape(
            tr(
                "A month that meets its target can hide days far below it. Red bars are days "
                "below that day's target (the black mark: it depends on the day's mix of "
                "queues, each with its own target); weekends are shaded. The month's target: "
                "{target}.",
                target=fmt_pct(t.target_pct, 1),
            )
        ),
        legend(
            [
                (tr("met target"), GOOD, "box"),
                (tr("below target"), BAD, "box"),
                (tr("the day's target"), TARGET, "line"),
                (tr("the month's service level"), MONTH_LINE, "dash"),
            ]
        )
        + chart
        + bad_html
        + queue_html,
    )
