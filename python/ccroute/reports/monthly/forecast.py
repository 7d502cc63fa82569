"""The client's volume forecast against what arrived, per day and per hour of the day."""

from __future__ import annotations

import datetime as dt
from html import escape

from ccroute.reports.monthly.data import FORECAST_DEVIATION_PCT
from ccroute.reports.monthly.fmt import fmt_int, signed
from ccroute.reports.monthly.page import Page, legend, note, section, table
from ccroute.reports.svg import Series, bar_chart


def forecast_section(p: Page) -> str:
    d, tr = p.d, p.tr
    title = tr("Forecast and actual volume")
    fc = d.forecast
    if fc is None:
        return section(
            title,
            escape(
                tr(
                    "No volume forecast was stored for this month, so staffing cannot be "
                    "compared with it. Send the forecast (contacts per interval) and it will "
                    "appear here."
                )
            ),
            "",
        )
    days = p.day_keys
    actual = [float(d.daily[k].arrived) if k in d.daily else 0.0 for k in days]
    planned = [fc.offered_by_day.get(k) for k in days]
    chart = bar_chart(
        p.labels,
        [Series(tr("Actual contacts"), actual, "#1d4ed8")],
        overlay=[Series(tr("Forecast"), planned, "#f59e0b")],
        label=tr("Contacts per day: actual and forecast"),
        shade=p.weekend,
        hover=p.hover,
        y_title=tr("contacts"),
    )
    rows = []
    for k, a, pl in zip(days, actual, planned, strict=True):
        if not pl:
            continue
        dev = 100 * (a - pl) / pl
        if abs(dev) >= FORECAST_DEVIATION_PCT:
            rows.append(
                [
                    escape(tr.day(dt.date.fromisoformat(k))),
                    fmt_int(pl),
                    fmt_int(a),
                    f"<span class='flag'>{signed(dev, 0, '%')}</span>",
                ]
            )
    total_p = sum(x or 0 for x in planned)
    total_a = sum(actual)
    dev_month = 100 * (total_a - total_p) / total_p if total_p else None
    limit = f"{FORECAST_DEVIATION_PCT:.0f} %"
    flagged = (
        f"<h3>{escape(tr('Days more than {limit} off the forecast', limit=limit))}</h3>"
        + table(
            [
                (tr("Day"), False),
                (tr("Forecast"), True),
                (tr("Actual"), True),
                (tr("Deviation"), True),
            ],
            rows,
        )
        if rows
        else note(escape(tr("Every day was within {limit} of the forecast.", limit=limit)))
    )
    hours = list(range(24))
    ndays = len(days)
    agents_fc = [fc.agents_by_hour.get(h) for h in hours]
    busy = [
        (f.busy_s or 0) / 3600 / ndays if (f := d.hourly.get(h)) is not None else None
        for h in hours
    ]
    staff = bar_chart(
        [f"{h:02d}" for h in hours],
        [Series(tr("Agents busy with your contacts"), busy, "#0d9488")],
        overlay=[Series(tr("Agents planned (forecast)"), agents_fc, "#f59e0b")],
        label=tr("Agents per hour of day: planned and busy with your contacts"),
        hover=[f"{h:02d}:00–{h:02d}:59" for h in hours],
        y_title=tr("agents"),
        height=240,
    )
    return section(
        title,
        escape(
            tr(
                "Contacts forecast for the month: {planned}; arrived: {actual} ({dev}). A day "
                "far from the forecast is flagged: a change in volume should be told in "
                "advance so staffing can follow.",
                planned=fmt_int(total_p),
                actual=fmt_int(total_a),
                dev="—" if dev_month is None else signed(dev_month, 1, "%"),
            )
        ),
        legend([(tr("actual"), "#1d4ed8", "box"), (tr("forecast"), "#f59e0b", "line")])
        + chart
        + flagged
        + f"<h3>{escape(tr('Agents per hour of day (average day)'))}</h3>"
        + legend(
            [
                (tr("agents busy with your contacts"), "#0d9488", "box"),
                (tr("agents planned in the forecast"), "#f59e0b", "line"),
            ]
        )
        + staff
        + note(
            escape(
                tr(
                    "Planned agents include the headroom needed to answer quickly; busy "
                    "agents count the time spent on your contacts only (agents also serve "
                    "other work), so busy is expected to stay below planned."
                )
            )
        ),
    )
