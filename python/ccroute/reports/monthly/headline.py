"""The top of the report: title, the headline tiles and what the month's contacts became.

The tiles give each channel class its own service level first (a call answered in 60 s
and an e-mail in 24 h are different promises), then the blend; a tile without data says
"no answers" once; the contacts tile is broken down into parts that add up to it.
"""

from __future__ import annotations

from html import escape

from ccroute.metrics import SL_FORMULAS, Figures
from ccroute.reports.monthly.data import CHANNEL_CLASSES
from ccroute.reports.monthly.fmt import fmt_dur, fmt_int, fmt_nps, fmt_num, fmt_pct, threshold_text
from ccroute.reports.monthly.page import Page, kpi

_CLASS_TITLES = {"phone": "Phone", "chat": "Chat", "written": "E-mail and forms"}


def _sl_tile(p: Page, title: str, f: Figures, thresholds: str) -> str:
    tr = p.tr
    pill = ""
    if f.service_level_pct is not None and f.target_pct is not None:
        met = f.service_level_pct >= f.target_pct
        pill = (
            f"<span class='pill good'>{escape(tr('met'))}</span>"
            if met
            else f"<span class='pill bad'>{escape(tr('below'))}</span>"
        )
    sub = tr("target {target} · within {t}", target=fmt_pct(f.target_pct, 0), t=thresholds)
    return kpi(title, f"{fmt_pct(f.service_level_pct)}{pill}", escape(sub))


def _empty(label: str, p: Page) -> str:
    return (
        f"<div class='kpi empty'><div class='label'>{escape(label)}</div>"
        f"<div class='value'>{escape(p.tr('no answers'))}</div><div class='sub'></div></div>"
    )


def header(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    year, month = d.year_month
    title = f"{d.name} — {tr.month(year, month)}"
    tiles = [
        kpi(
            tr("Contacts"),
            fmt_int(d.arrived),
            escape(
                tr(
                    "{answered} answered · {abandoned} abandoned",
                    answered=fmt_int(d.parts["answered"]),
                    abandoned=fmt_int(d.parts["abandoned"]),
                )
            ),
        )
    ]
    # Service level: each channel class first, then the blend (only when there is more
    # than one class: with one, the blend is the same number).
    for name, members in CHANNEL_CLASSES.items():
        f = d.by_class.get(name)
        if f is None or not f.offered:
            continue
        queues = [q for q in d.queues if any(c in members for c in q.channels)]
        ts = ", ".join(dict.fromkeys(threshold_text(q, d.options) for q in queues))
        tiles.append(_sl_tile(p, tr("Service level: {what}", what=tr(_CLASS_TITLES[name])), f, ts))
    if sum(1 for f in d.by_class.values() if f.offered) != 1:
        tiles.append(_sl_tile(p, tr("Service level: all channels"), t, tr("each queue's own time")))
    tiles.append(
        kpi(
            tr("Average speed of answer"),
            escape(fmt_dur(p.live("asa_s"))),
            escape(", ".join(tr.channel(c) for c in p.live_channels)),
        )
        if p.live_channels
        else ""
    )
    tiles.append(
        kpi(
            tr("Average handle time"),
            escape(fmt_dur(t.aht_s)),
            escape(
                tr(
                    "talk {talk} + wrap-up {wrap}",
                    talk=fmt_dur(t.avg_talk_s),
                    wrap=fmt_dur(t.avg_wrap_s),
                )
            ),
        )
    )
    if t.csat_responses:
        tiles.append(
            kpi(
                tr("Customer satisfaction"),
                f"{fmt_num(t.csat_avg, 2)}<small> / 5</small>",
                escape(
                    tr(
                        "{n} ratings · solved {solved}",
                        n=fmt_int(t.csat_responses),
                        solved=fmt_pct(t.solved_pct, 0),
                    )
                ),
            )
        )
    else:
        tiles.append(_empty(tr("Customer satisfaction"), p))
    if t.nps_responses:
        tiles.append(
            kpi(
                tr("Net Promoter Score"),
                fmt_nps(t.nps),
                escape(tr("{n} answers", n=fmt_int(t.nps_responses))),
            )
        )
    if t.callbacks_requested:
        tiles.append(
            kpi(
                tr("Callback requests"),
                fmt_int(t.callbacks_requested),
                escape(
                    tr(
                        "{reached} reached · {unreached} not reached",
                        reached=fmt_int(t.callbacks_reached),
                        unreached=fmt_int(t.callbacks_unreached),
                    )
                ),
            )
        )
    if t.handled_by_partner:
        tiles.append(
            kpi(
                tr("Overflow partner"),
                fmt_pct(t.partner_share_pct),
                escape(tr("of answered contacts ({n})", n=fmt_int(t.handled_by_partner))),
            )
        )
    formula = tr(SL_FORMULAS[d.options.sl_formula].label)
    return f"""
<header class="top"><div class="wrap">
<div class="eyebrow">{escape(tr("Monthly service report"))}</div>
<h1>{escape(title)}</h1>
<div class="meta">{
        escape(
            tr(
                "Times in {tz} · records up to {when}",
                tz=d.tz,
                when=d.as_of.strftime("%Y-%m-%d %H:%M"),
            )
        )
    }</div>
</div></header>
<div class="wrap">
<div class="kpis">{"".join(tiles)}</div>
{parts(p)}
<p class="note">{
        escape(
            tr(
                "Service level: {formula}, each queue against its own time and "
                "target; the blend weights the queues by their contacts.",
                formula=formula,
            )
        )
    }</p>
"""


def parts(p: Page) -> str:
    """``Contacts 1,234 = 1,100 answered + 80 abandoned + ...``: every part named."""
    d, tr = p.d, p.tr
    if not d.arrived:
        return f"<div class='parts'>{escape(tr('No contacts this month.'))}</div>"
    terms: list[str] = [f"<b>{fmt_int(d.parts['answered'])}</b> {escape(tr('answered'))}"]
    if d.parts["abandoned"]:
        terms.append(f"<b>{fmt_int(d.parts['abandoned'])}</b> {escape(tr('abandoned'))}")
    for reason, n in sorted(d.closed_by_reason.items(), key=lambda kv: -kv[1]):
        terms.append(f"<b>{fmt_int(n)}</b> {escape(tr.closed(reason))}")
    if d.parts["callback_unreached"]:
        terms.append(
            f"<b>{fmt_int(d.parts['callback_unreached'])}</b> {escape(tr('callbacks not reached'))}"
        )
    if d.parts["waiting"]:
        terms.append(
            f"<b>{fmt_int(d.parts['waiting'])}</b> {escape(tr('still waiting at month end'))}"
        )
    return (
        f"<div class='parts'>{escape(tr('Contacts'))} <b>{fmt_int(d.arrived)}</b>"
        f"<span class='eq'>=</span>" + "<span class='eq'>+</span>".join(terms) + "</div>"
    )
