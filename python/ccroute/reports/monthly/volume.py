"""Contacts per day and per hour of the day, by channel; the channel mix."""

from __future__ import annotations

import datetime as dt
from html import escape

from ccroute.reports.monthly.fmt import fmt_dur, fmt_int, fmt_num, fmt_pct
from ccroute.reports.monthly.page import CHANNEL_COLORS, Page, legend, section, table
from ccroute.reports.svg import Series, bar_chart, share_bar


def volume_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not d.arrived:
        return ""
    ch_series = [
        Series(
            tr.channel(c),
            [
                float(d.daily_channel[(k, c)].arrived) if (k, c) in d.daily_channel else None
                for k in p.day_keys
            ],
            CHANNEL_COLORS[c],
        )
        for c in d.channels
    ]
    keys = legend([(tr.channel(c), CHANNEL_COLORS[c], "box") for c in d.channels])
    per_day = bar_chart(
        p.labels,
        ch_series,
        label=tr("Contacts per day by channel"),
        shade=p.weekend,
        hover=p.hover,
        y_title=tr("contacts"),
    )
    hours = list(range(24))
    h_series = [
        Series(
            tr.channel(c),
            [
                float(d.hourly_channel[(h, c)].arrived) if (h, c) in d.hourly_channel else None
                for h in hours
            ],
            CHANNEL_COLORS[c],
        )
        for c in d.channels
    ]
    per_hour = bar_chart(
        [f"{h:02d}" for h in hours],
        h_series,
        label=tr("Contacts per hour of day by channel"),
        hover=[f"{h:02d}:00–{h:02d}:59" for h in hours],
        y_title=tr("contacts"),
        height=240,
    )
    lead = tr("{n} contacts arrived this month.", n=fmt_int(t.arrived))
    busiest = max(d.daily.items(), key=lambda kv: kv[1].arrived, default=None)
    if busiest is not None and busiest[1].arrived:
        lead += " " + tr(
            "The busiest day was {day} with {n} contacts.",
            day=tr.day(dt.date.fromisoformat(busiest[0])),
            n=fmt_int(busiest[1].arrived),
        )
    return section(
        tr("Contacts"),
        escape(lead),
        f"<h3>{escape(tr('Per day of the month'))}</h3>"
        + keys
        + per_day
        + f"<h3>{escape(tr('Per hour of the day (whole month)'))}</h3>"
        + keys
        + per_hour,
    )


def channel_mix_section(p: Page) -> str:
    """How the month's contacts spread over the channels; left out for one channel."""
    d, tr, t = p.d, p.tr, p.d.total
    if len(d.channels) < 2:
        return ""
    mix = share_bar(
        [(tr.channel(c), float(d.by_channel[c].arrived), CHANNEL_COLORS[c]) for c in d.channels],
        label=tr("Channel mix"),
        height=38,
    )
    rows = []
    for c in d.channels:
        f = d.by_channel[c]
        rows.append(
            [
                f"<span class='legend'><span><i style='background:{CHANNEL_COLORS[c]}'></i>"
                f"{escape(tr.channel(c))}</span></span>",
                fmt_int(f.arrived),
                fmt_pct(100 * f.arrived / t.arrived if t.arrived else None),
                fmt_int(f.answered),
                fmt_int(f.abandoned),
                fmt_pct(f.service_level_pct),
                fmt_pct(f.target_pct, 0),
                escape(fmt_dur(f.asa_s)),
                escape(fmt_dur(f.aht_s)),
                fmt_num(f.csat_avg, 2),
            ]
        )
    return section(
        tr("Channel mix"),
        escape(
            tr(
                "Every channel reaches the same agents through one queue; here is how the "
                "month's contacts were spread and served."
            )
        ),
        mix
        + table(
            [
                (tr("Channel"), False),
                (tr("Contacts"), True),
                (tr("Share"), True),
                (tr("Answered"), True),
                (tr("Abandoned"), True),
                (tr("Service level"), True),
                (tr("Target"), True),
                (tr("ASA"), True),
                (tr("AHT"), True),
                (tr("CSAT"), True),
            ],
            rows,
        ),
    )
