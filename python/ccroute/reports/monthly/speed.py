"""Average speed of answer (live channels) and handle time per day."""

from __future__ import annotations

from html import escape

from ccroute.reports.monthly.fmt import axis_dur, fmt_dur
from ccroute.reports.monthly.page import CHANNEL_COLORS, TARGET, Page, legend, section
from ccroute.reports.svg import RefLine, Series, line_chart


def speed_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not t.handled and not t.answered:
        return ""
    days = p.day_keys
    live = p.live_channels
    body = ""
    if live:
        asa_series = [
            Series(
                tr.channel(c),
                [f.asa_s if (f := d.daily_channel.get((k, c))) is not None else None for k in days],
                CHANNEL_COLORS[c],
            )
            for c in live
        ]
        asa_month = p.live("asa_s")
        body += (
            f"<h3>{escape(tr('Average speed of answer: calls and chats'))}</h3>"
            + legend([(tr.channel(c), CHANNEL_COLORS[c], "line") for c in live])
            + line_chart(
                p.labels,
                asa_series,
                label=tr("Average speed of answer per day"),
                y_format=axis_dur,
                lines=[RefLine(asa_month, tr("month {v}", v=fmt_dur(asa_month)), TARGET)]
                if asa_month
                else [],
                shade=p.weekend,
                hover=p.hover,
            )
        )
    aht_series = [
        Series(
            tr.channel(c),
            [
                (f.aht_s / 60 if f.aht_s is not None else None)
                if (f := d.daily_channel.get((k, c))) is not None
                else None
                for k in days
            ],
            CHANNEL_COLORS[c],
        )
        for c in d.channels
    ]
    body += (
        f"<h3>{escape(tr('Average handle time'))}</h3>"
        + legend([(tr.channel(c), CHANNEL_COLORS[c], "line") for c in d.channels])
        + line_chart(
            p.labels,
            aht_series,
            label=tr("Average handle time per day"),
            y_format=lambda v: f"{v:.0f} min" if v >= 10 or v.is_integer() else f"{v:.1f} min",
            lines=[RefLine(t.aht_s / 60, tr("month {v}", v=fmt_dur(t.aht_s)), TARGET)]
            if t.aht_s
            else [],
            shade=p.weekend,
            hover=p.hover,
        )
    )
    return section(
        tr("Speed of answer and handle time"),
        escape(
            tr(
                "Average speed of answer (ASA): the wait from arrival until an agent took the "
                "contact. Average handle time (AHT): talk or writing time plus wrap-up."
            )
        ),
        body,
    )
