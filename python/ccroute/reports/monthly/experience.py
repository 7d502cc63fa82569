"""What customers said: ratings per day and channel, NPS, effort; and the contacts rated
low, to follow up."""

from __future__ import annotations

import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

from ccroute.reports.monthly.data import FOLLOW_UP_ROWS, LOW_CSAT, LOW_NPS
from ccroute.reports.monthly.fmt import fmt_dur, fmt_int, fmt_nps, fmt_num, fmt_pct
from ccroute.reports.monthly.page import TARGET, Page, legend, note, section, stat, table
from ccroute.reports.svg import RefLine, Series, line_chart, share_bar


def _answers(p: Page) -> int:
    t = p.d.total
    return t.csat_responses + t.nps_responses + t.ces_responses


def experience_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not _answers(p):
        return ""
    stats = [
        stat(
            fmt_num(t.csat_avg, 2),
            escape(tr("CSAT average (1–5), {n} ratings", n=fmt_int(t.csat_responses))),
        )
        if t.csat_responses
        else "",
        stat(fmt_pct(t.solved_pct, 0), escape(tr("customers: “my issue was solved”")))
        if t.solved_pct is not None
        else "",
        stat(fmt_nps(t.nps), escape(tr("NPS, {n} answers", n=fmt_int(t.nps_responses))))
        if t.nps_responses
        else "",
        stat(
            fmt_num(t.ces_avg),
            escape(
                tr("CES average (1–7, higher is easier), {n} answers", n=fmt_int(t.ces_responses))
            ),
        )
        if t.ces_responses
        else "",
    ]
    body = "<div class='stats'>" + "".join(stats) + "</div>"
    rated = [c for c in d.channels if d.by_channel[c].csat_responses]
    if t.csat_responses:
        csat_days = [d.daily[k].csat_avg if k in d.daily else None for k in p.day_keys]
        body += f"<h3>{escape(tr('CSAT per day'))}</h3>" + line_chart(
            p.labels,
            [Series("CSAT", csat_days, "#0d9488")],
            label=tr("CSAT per day"),
            y_max=5,
            y_format=lambda v: f"{v:.0f}" if v.is_integer() else f"{v:.1f}",
            lines=[RefLine(t.csat_avg, tr("month {v}", v=f"{t.csat_avg:.2f}"), TARGET)]
            if t.csat_avg
            else [],
            shade=p.weekend,
            hover=p.hover,
            height=220,
        )
        if len(d.channels) > 1:
            rows = [
                [
                    escape(tr.channel(c)),
                    fmt_int(d.by_channel[c].csat_responses),
                    fmt_num(d.by_channel[c].csat_avg, 2),
                ]
                for c in rated
            ]
            body += table([(tr("Channel"), False), (tr("Ratings"), True), (tr("CSAT"), True)], rows)
    if t.nps_responses:
        prom = t.promoters_pct or 0.0
        det = t.detractors_pct or 0.0
        passive = max(0.0, 100 - prom - det)
        body += (
            f"<h3>{escape(tr('Net Promoter Score'))}</h3>"
            + share_bar(
                [
                    (tr("Promoters (9–10)"), prom, "#16a34a"),
                    (tr("Passives (7–8)"), passive, "#94a3b8"),
                    (tr("Detractors (0–6)"), det, "#dc2626"),
                ],
                label=tr("NPS answers"),
                value_format=lambda v: f"{v:.1f} %",
            )
            + legend(
                [
                    (tr("promoters {v}", v=f"{prom:.0f} %"), "#16a34a", "box"),
                    (tr("passives {v}", v=f"{passive:.0f} %"), "#94a3b8", "box"),
                    (tr("detractors {v}", v=f"{det:.0f} %"), "#dc2626", "box"),
                ]
            )
        )
    asked = ", ".join(tr.channel(c) for c in rated) or tr("no channel")
    return section(
        tr("Customer experience"),
        escape(
            tr(
                "Ratings customers gave after their contact. Rated this month: {channels}.",
                channels=asked,
            )
        ),
        body,
    )


def follow_up_section(p: Page) -> str:
    d, tr = p.d, p.tr
    if not _answers(p):
        return ""
    zone = ZoneInfo(d.tz)
    rows = []
    shown = d.follow_up[:FOLLOW_UP_ROWS]
    for f in shown:
        r = f.record
        when = dt.datetime.fromtimestamp(r.arrived_ms / 1000, tz=zone)
        solved = {True: tr("yes"), False: tr("no"), None: "—"}[r.solved]
        name, team, partner = d.agent_names.get(r.agent or "", (r.agent or "—", "", None))
        # Without the agent table, no agent names: the team (or the partner) instead.
        agent = name if d.tenant.report.agents else (partner or team or "—")
        rating = " ".join(f"<span class='flag'>{escape(x)}</span>" for x in f.low)
        if f.other:
            rating += f" <span class='muted'>{escape(', '.join(f.other))}</span>"
        rows.append(
            [
                escape(tr.day(when.date()) + when.strftime(" %H:%M")),
                escape(tr.channel(r.channel)),
                f"<code>{escape(r.contact)}</code>",
                escape(agent),
                escape(", ".join(d.tenant.report.tags.get(x, x) for x in r.tags) or "—"),
                escape(r.wrap_up_code or "—"),
                escape(fmt_dur(r.wait_ms / 1000 if r.wait_ms is not None else None)),
                rating,
                escape(solved),
            ]
        )
    n = len(d.follow_up)
    if not rows:
        body = note(escape(tr("No contact was rated that low this month.")))
    else:
        body = table(
            [
                (tr("Arrived"), False),
                (tr("Channel"), False),
                (tr("Contact"), False),
                (tr("Agent") if d.tenant.report.agents else tr("Team"), False),
                (tr("Topics"), False),
                (tr("Outcome"), False),
                (tr("Wait"), True),
                (tr("Rating"), True),
                (tr("Solved"), True),
            ],
            rows,
        )
        if n > len(rows):
            body += note(
                escape(
                    tr(
                        "The first {shown} of {n}; all of them are in the data export "
                        "(columns csat, nps).",
                        shown=len(rows),
                        n=n,
                    )
                )
            )
    return section(
        tr("Contacts to follow up"),
        escape(
            tr(
                "Contacts the customer rated low (CSAT 1–{csat} or NPS 0–{nps}) this month, "
                "in the order they came, with the rating that put them here: listen to the "
                "call or read the chat, and coach.",
                csat=LOW_CSAT,
                nps=LOW_NPS,
            )
        ),
        f"<div class='agents'>{body}</div>",
    )
