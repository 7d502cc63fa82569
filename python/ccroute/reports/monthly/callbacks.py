"""Callbacks, the overflow partner, and what service hours, limits and overflow rules
did with the contacts. Each part only for a client that has it."""

from __future__ import annotations

from html import escape

from ccroute.reports.monthly.data import POLICY_REASONS
from ccroute.reports.monthly.fmt import fmt_dur, fmt_int, fmt_pct, share
from ccroute.reports.monthly.page import Page, legend, section, stat, table
from ccroute.reports.svg import Series, bar_chart


def _reason_table(p: Page, head: str, counts: dict[str, int], what: str) -> str:
    if not counts:
        return ""
    total = sum(counts.values())
    rows = [
        [escape(p.tr.reason(k)), fmt_int(v), fmt_pct(share(v, total), 0)] for k, v in counts.items()
    ]
    return table([(head, False), (what, True), (p.tr("Share"), True)], rows)


def callbacks_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not t.callbacks_requested:
        return ""
    w = d.callback_waits
    stats = (
        "<div class='stats'>"
        + stat(fmt_int(t.callbacks_requested), escape(tr("callback requests")))
        + stat(
            fmt_int(t.callbacks_reached),
            escape(
                tr(
                    "customers reached ({v})",
                    v=fmt_pct(share(t.callbacks_reached, t.callbacks_requested), 0),
                )
            ),
        )
        + stat(fmt_int(t.callbacks_unreached), escape(tr("not reached after every dial")))
        + stat(fmt_int(t.callbacks_made), escape(tr("dials made (retries included)")))
        + (
            stat(
                escape(fmt_dur(w.in_hours_s)),
                escape(
                    tr(
                        "to call back, asked in service hours ({n} requests)",
                        n=fmt_int(w.in_hours),
                    )
                ),
            )
            if w.in_hours
            else ""
        )
        + (
            stat(
                escape(fmt_dur(w.out_of_hours_s)),
                escape(
                    tr(
                        "to call back, asked while closed ({n} requests; dialled when the "
                        "line opens)",
                        n=fmt_int(w.out_of_hours),
                    )
                ),
            )
            if w.out_of_hours
            else ""
        )
        + "</div>"
    )
    why = _reason_table(p, tr("Why a callback"), t.callbacks_by_reason, tr("Callback requests"))
    return section(
        tr("Callbacks"),
        escape(
            tr(
                "Callback requests, asked for by customers or made for them when the line was "
                "closed or full, and how many customers were reached. Time to call back runs "
                "from the request to the first dial."
            )
        ),
        stats + why,
    )


def partner_section(p: Page) -> str:
    d, tr, t = p.d, p.tr, p.d.total
    if not t.handled_by_partner:
        return ""
    own = [
        float(f.answered - f.handled_by_partner) if (f := d.daily.get(k)) else None
        for k in p.day_keys
    ]
    partner = [float(f.handled_by_partner) if (f := d.daily.get(k)) else None for k in p.day_keys]
    chart = bar_chart(
        p.labels,
        [
            Series(tr("Own team"), own, "#1d4ed8"),
            Series(tr("Overflow partner"), partner, "#f59e0b"),
        ],
        label=tr("Answered contacts per day: own team and overflow partner"),
        shade=p.weekend,
        hover=p.hover,
        height=220,
    )
    return section(
        tr("The overflow partner"),
        escape(
            tr(
                "{share} of answered contacts ({n}) were handled by the overflow partner: a "
                "steady stream in calm times keeps the partner practised, peaks send more.",
                share=fmt_pct(t.partner_share_pct),
                n=fmt_int(t.handled_by_partner),
            )
        ),
        legend([(tr("own team"), "#1d4ed8", "box"), (tr("overflow partner"), "#f59e0b", "box")])
        + chart,
    )


def policies_section(p: Page) -> str:
    """Service hours, caps and overflow triggers: what they did to this client's contacts."""
    d, tr, t = p.d, p.tr, p.d.total
    if not (t.closed_by_policy or t.moved or t.overflowed or t.callbacks_by_reason):
        return ""
    closed = t.closed_by_policy_reason
    moved = t.moved_by_reason
    cbs = t.callbacks_by_reason
    rows = []
    for r in POLICY_REASONS:
        n_closed, n_moved, n_cb = closed.get(r, 0), moved.get(r, 0), cbs.get(r, 0)
        if n_closed or n_moved or n_cb:
            rows.append([escape(tr.reason(r)), fmt_int(n_closed), fmt_int(n_moved), fmt_int(n_cb)])
    by_reason = (
        table(
            [
                (tr("Why"), False),
                (tr("Closed with an announcement"), True),
                (tr("Moved (ticket or reroute)"), True),
                (tr("Made a callback"), True),
            ],
            rows,
        )
        if rows
        else ""
    )
    overflow = _reason_table(
        p, tr("Opened to the partner by"), t.overflow_by_reason, tr("Contacts")
    )
    qrows = []
    for q in d.queues:
        f = d.by_queue.get(q.id)
        if f is None or not (
            f.callbacks_requested or f.closed_by_policy or f.moved or f.overflowed
        ):
            continue
        qrows.append(
            [
                escape(q.id),
                fmt_int(f.callbacks_requested),
                fmt_int(f.closed_by_policy),
                tr("{n} ({tickets} tickets)", n=fmt_int(f.moved), tickets=fmt_int(f.ticketed)),
                fmt_int(f.overflowed),
            ]
        )
    per_queue = (
        table(
            [
                (tr("Queue"), False),
                (tr("Callback requests"), True),
                (tr("Closed by the rules"), True),
                (tr("Moved"), True),
                (tr("To the partner"), True),
            ],
            qrows,
        )
        if qrows
        else ""
    )
    stats = (
        "<div class='stats'>"
        + stat(fmt_int(t.closed_by_policy), escape(tr("contacts closed with an announcement")))
        + stat(
            fmt_int(t.moved),
            escape(
                tr("moved to another queue, {n} of them as e-mail tasks", n=fmt_int(t.ticketed))
            ),
        )
        + stat(fmt_int(t.overflowed), escape(tr("opened to the overflow partner")))
        + "</div>"
    )
    return section(
        tr("Service hours, limits and overflow"),
        escape(
            tr(
                "What the service hours (and any emergency closure), the limits on the line "
                "and the overflow rules did with the contacts: closed with an announcement, "
                "made an e-mail task or a callback, or opened to the partner. Contacts closed "
                "or moved away are not in the service level of the queue they left: no agent "
                "there was offered them."
            )
        ),
        stats + by_reason + overflow + per_queue,
    )
