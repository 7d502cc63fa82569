"""The CSV files beside the report: the figures per day and channel, and (when the
report shows agents) every agent's month."""

from __future__ import annotations

import csv
from pathlib import Path

from ccroute.metrics import SL_FORMULAS, Figures
from ccroute.reports.monthly.data import OVERFLOW_TRIGGERS, POLICY_REASONS, MonthlyData

#: Columns of the CSV written beside the HTML: one row per day and channel (``all`` for
#: every channel) and rows with ``period`` = the month for the whole month.
CSV_COLUMNS: tuple[str, ...] = (
    "tenant",
    "period",
    "channel",
    "arrived",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_t",
    "service_level_pct",
    "sl_formula",
    "target_pct",
    *(f"sl_{name}_pct" for name in SL_FORMULAS),
    "abandon_rate_pct",
    "asa_s",
    "avg_wait_s",
    "max_wait_s",
    "handled",
    "aht_s",
    "avg_talk_s",
    "avg_wrap_s",
    "callbacks_requested",
    "callbacks_made",
    "callbacks_reached",
    "callbacks_unreached",
    "avg_callback_wait_s",
    "closed_by_policy",
    *(f"closed_{r}" for r in POLICY_REASONS),
    "moved",
    "ticketed",
    "overflowed",
    *(f"overflow_{r}" for r in OVERFLOW_TRIGGERS),
    "overflow_policy",
    "handled_by_partner",
    "partner_share_pct",
    "csat_avg",
    "csat_responses",
    "nps",
    "nps_responses",
    "ces_avg",
    "ces_responses",
    "solved_pct",
)


def _csv_row(tenant: str, period: str, channel: str, f: Figures) -> list[object]:
    def r(v: float | None, nd: int = 2) -> object:
        return "" if v is None else round(v, nd)

    return [
        tenant,
        period,
        channel,
        f.arrived,
        f.offered,
        f.answered,
        f.abandoned,
        f.short_abandoned,
        f.answered_within_t,
        r(f.service_level_pct),
        f.sl_formula,
        r(f.target_pct),
        *(r(f.service_levels_pct.get(n)) for n in SL_FORMULAS),
        r(f.abandon_rate_pct),
        r(f.asa_s, 1),
        r(f.avg_wait_s, 1),
        r(f.max_wait_s, 1),
        f.handled,
        r(f.aht_s, 1),
        r(f.avg_talk_s, 1),
        r(f.avg_wrap_s, 1),
        f.callbacks_requested,
        f.callbacks_made,
        f.callbacks_reached,
        f.callbacks_unreached,
        r(f.avg_callback_wait_s, 1),
        f.closed_by_policy,
        *(f.closed_by_policy_reason.get(r, 0) for r in POLICY_REASONS),
        f.moved,
        f.ticketed,
        f.overflowed,
        *(f.overflow_by_reason.get(r, 0) for r in OVERFLOW_TRIGGERS),
        sum(v for k, v in f.overflow_by_reason.items() if k not in OVERFLOW_TRIGGERS),
        f.handled_by_partner,
        r(f.partner_share_pct),
        r(f.csat_avg, 3),
        f.csat_responses,
        r(f.nps, 1),
        f.nps_responses,
        r(f.ces_avg, 3),
        f.ces_responses,
        r(f.solved_pct),
    ]


def write_csv(d: MonthlyData, path: Path) -> None:
    """The month's figures per day and channel (and the month's totals) as CSV."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        tid = d.tenant.id
        w.writerow(_csv_row(tid, d.month, "all", d.total))
        for c in d.channels:
            w.writerow(_csv_row(tid, d.month, c, d.by_channel[c]))
        for day in d.days:
            k = day.isoformat()
            if k in d.daily:
                w.writerow(_csv_row(tid, k, "all", d.daily[k]))
            for c in d.channels:
                if (k, c) in d.daily_channel:
                    w.writerow(_csv_row(tid, k, c, d.daily_channel[(k, c)]))


#: Columns of ``<tenant>-<month>-agents.csv``: one row per agent and channel (``all``: every
#: channel), written when the tenant's report shows agents.
AGENT_CSV_COLUMNS: tuple[str, ...] = (
    "tenant",
    "period",
    "agent",
    "name",
    "team",
    "partner",
    "channel",
    "handled",
    "aht_s",
    "avg_talk_s",
    "avg_wrap_s",
    "csat_avg",
    "csat_responses",
)


def write_agents_csv(d: MonthlyData, path: Path) -> None:
    """Every agent's month, per channel and in all, sorted by agent id."""

    def r(v: float | None, nd: int = 1) -> object:
        return "" if v is None else round(v, nd)

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(AGENT_CSV_COLUMNS)
        for agent in sorted(d.by_agent):
            name, team, partner = d.agent_names.get(agent, (agent, "", None))
            rows = [("all", d.by_agent[agent])] + [
                (c, f) for c in d.channels if (f := d.by_agent_channel.get((agent, c)))
            ]
            for channel, f in rows:
                w.writerow(
                    [d.tenant.id, d.month, agent, name, team, partner or "", channel, f.handled,
                     r(f.aht_s), r(f.avg_talk_s), r(f.avg_wrap_s), r(f.csat_avg, 3),
                     f.csat_responses]
                )  # fmt: skip
