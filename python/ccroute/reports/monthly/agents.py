"""The agents' table: only when the client's configuration asks for it
(``[tenants.report] agents = true``: agent names are personal data), and short: the
agents with the most and the fewest contacts; every agent is in the agents CSV."""

from __future__ import annotations

import re
from html import escape

from ccroute.reports.monthly.fmt import fmt_int, fmt_num, mmss
from ccroute.reports.monthly.page import Page, section, table

_DIGITS = re.compile(r"(\d+)")


def natural(text: str) -> tuple[object, ...]:
    """A sort key that puts "Agent 2" before "Agent 10"."""
    return tuple(int(x) if x.isdigit() else x.casefold() for x in _DIGITS.split(text))


def shown_agents(p: Page) -> tuple[list[str], list[str], int]:
    """(top, bottom, left out): agents by contacts handled, most first; all of them in
    ``top`` when they fit."""
    d = p.d
    rank = sorted(
        d.by_agent,
        key=lambda a: (-d.by_agent[a].handled, natural(d.agent_names.get(a, (a, "", None))[0])),
    )
    limit = d.tenant.report.agent_rows
    if len(rank) <= limit:
        return sorted(rank, key=lambda a: natural(d.agent_names.get(a, (a, "", None))[0])), [], 0
    half = limit // 2
    return rank[:half], rank[-(limit - half) :], len(rank) - limit


def agents_section(p: Page) -> str:
    d, tr = p.d, p.tr
    if not d.tenant.report.agents or not d.by_agent:
        return ""
    chans = [c for c in d.channels if any((a, c) in d.by_agent_channel for a in d.by_agent)]
    avg = {c: d.by_channel[c].aht_s for c in chans}
    head: list[tuple[str, bool]] = [(tr("Agent"), False), (tr("Team"), False)]
    head += [(tr.channel(c), True) for c in chans]
    head += [(tr("Contacts"), True), (tr("CSAT"), True)]

    def row(agent: str) -> list[str]:
        name, team, partner = d.agent_names.get(agent, (agent, "", None))
        who = escape(name) + (
            f" <span class='pill info'>{escape(tr('partner'))}</span>" if partner else ""
        )
        cells = [who, escape(partner or team or "—")]
        for c in chans:
            f = d.by_agent_channel.get((agent, c))
            if f is None or not f.handled:
                cells.append("")
                continue
            a = avg[c]
            hi = a is not None and f.aht_s is not None and f.aht_s > 1.25 * a and f.handled >= 5
            aht = escape(mmss(f.aht_s))
            cells.append(
                (f"<span class='flag'>{aht}</span>" if hi else aht)
                + f" <span class='n'>{fmt_int(f.handled)}</span>"
            )
        fa = d.by_agent[agent]
        return [*cells, fmt_int(fa.handled), fmt_num(fa.csat_avg, 2)]

    top, bottom, left_out = shown_agents(p)
    rows = [row(a) for a in top]
    cls = [""] * len(rows)
    width = len(head)
    if bottom:
        gap = tr("{n} agents between, in the agents CSV", n=left_out)
        rows.append([escape(gap), *[""] * (width - 1)])
        cls.append("gap")
        rows += [row(a) for a in bottom]
        cls += [""] * len(bottom)
    total = [f"<b>{escape(tr('All agents'))}</b>", ""]
    for c in chans:
        f = d.by_channel[c]
        total.append(f"<b>{escape(mmss(avg[c]))}</b> <span class='n'>{fmt_int(f.handled)}</span>")
    total += [f"<b>{fmt_int(d.total.handled)}</b>", f"<b>{fmt_num(d.total.csat_avg, 2)}</b>"]
    rows.append(total)
    cls.append("total")
    lead = tr(
        "Average handle time (min:s) per agent and channel, with the number of contacts in "
        "grey. Handle times more than 25 % above the channel's average (5 or more contacts) "
        "are highlighted: a pointer to coaching, not a verdict."
    )
    if bottom:
        lead += " " + tr(
            "The {top} agents with the most contacts and the {bottom} with the fewest.",
            top=len(top),
            bottom=len(bottom),
        )
    return section(
        tr("Agents: handle time per channel"),
        escape(lead),
        "<div class='agents'>" + _gap_table(head, rows, cls, width) + "</div>",
    )


def _gap_table(
    head: list[tuple[str, bool]], rows: list[list[str]], cls: list[str], width: int
) -> str:
    html = table(head, rows, cls)
    # The gap row is one cell across the table.
    return re.sub(
        r"<tr class='gap'><td>(.*?)</td>(?:<td[^>]*></td>)*</tr>",
        lambda m: f"<tr class='gap'><td colspan='{width}'>{m.group(1)}</td></tr>",
        html,
    )
