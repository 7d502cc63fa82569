"""The client's monthly service report: one self-contained HTML file and a CSV beside it.

The report reads a contact-record database (:meth:`ccroute.records.ContactRecorder.
write_duckdb`) and only ever the one tenant's rows: every query filters on the tenant and
the figures come from a cube that refuses other tenants' records. Charts are inline SVG,
styles inline CSS; the page fetches nothing and opens offline.

Sections: key figures against targets; service level per day against the month and the
target (days below target highlighted); contacts per day and per hour by channel; speed
of answer and handle time per day; channel mix; topics (tags); customer experience (CSAT
per day, NPS, CES); pages where chats started; callbacks and the overflow partner; agents'
handle time per channel; forecast against actual; the service-level formulas.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from ccroute.config import Config, Queue, Tenant
from ccroute.events import CHANNELS, LIVE_CHANNELS
from ccroute.metrics import (
    SL_FORMULAS,
    Dimension,
    Figures,
    MetricOptions,
    Period,
    PeriodKey,
    cube_from_records,
)
from ccroute.records import ContactRecord, load_meta, load_records
from ccroute.reports._db import ReportError, open_db
from ccroute.reports.svg import RefLine, Series, bar_chart, hbar_chart, line_chart, share_bar

CHANNEL_LABELS = {
    "voice": "Phone",
    "chat": "Chat",
    "email": "E-mail",
    "web_form": "Web form",
    "social": "Social",
    "callback": "Callback",
}
CHANNEL_COLORS = {
    "voice": "#2563eb",
    "chat": "#0d9488",
    "email": "#7c3aed",
    "web_form": "#d97706",
    "social": "#db2777",
    "callback": "#475569",
}
GOOD, BAD, TARGET, MONTH_LINE = "#16a34a", "#dc2626", "#0f172a", "#2563eb"
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: A day's arrivals this far from the forecast is flagged (the client must tell changes).
FORECAST_DEVIATION_PCT = 15.0
#: How many low-rated contacts the report lists (all are in the export).
FOLLOW_UP_ROWS = 15

#: Why a policy turned a contact away (``contact_closed.reason``), in report order.
POLICY_REASONS: tuple[str, ...] = (
    "outside_hours",
    "at_closing",
    "emergency",
    "queue_full",
    "max_wait",
)
#: What opened a contact to the overflow partner, other than a policy's ``partner`` action.
OVERFLOW_TRIGGERS: tuple[str, ...] = ("step", "long_line", "expected_wait", "service_level")
_REASON_LABELS = {
    "requested": "asked for by the customer",
    "outside_hours": "outside the service hours",
    "at_closing": "still waiting at closing time",
    "emergency": "emergency closure",
    "queue_full": "line full",
    "max_wait": "waited too long",
    "step": "routing step (waited long enough)",
    "long_line": "long line on arrival",
    "expected_wait": "expected wait too long",
    "service_level": "service level under target",
}

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


def parse_month(month: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month); :class:`ReportError` otherwise."""
    m = _MONTH_RE.match(month)
    if not m:
        raise ReportError(f"month must be YYYY-MM (e.g. 2025-03), not {month!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass
class Forecast:
    """The client's forecast for the month, grouped as the report shows it."""

    offered_by_day: dict[str, float]
    offered_by_hour: dict[int, float]
    """Average contacts per day in each local hour."""
    agents_by_hour: dict[int, float]
    """Average agents planned in each local hour."""


@dataclass
class MonthlyData:
    """Everything the report shows, computed from one tenant's records."""

    tenant: Tenant
    queues: list[Queue]
    agent_names: dict[str, tuple[str, str, str | None]]
    month: str
    month_label: str
    days: list[dt.date]
    tz: str
    options: MetricOptions
    total: Figures
    daily: dict[str, Figures]
    daily_channel: dict[tuple[str, str], Figures]
    hourly: dict[int, Figures]
    hourly_channel: dict[tuple[int, str], Figures]
    by_channel: dict[str, Figures]
    by_queue: dict[str, Figures]
    by_agent_channel: dict[tuple[str, str], Figures]
    by_agent: dict[str, Figures]
    channels: list[str]
    forecast: Forecast | None
    follow_up: list[ContactRecord]
    """Contacts rated low (CSAT 1-2 or NPS 0-3) in the month, the latest first."""
    as_of: dt.datetime

    @property
    def name(self) -> str:
        return self.tenant.name or self.tenant.id


def _month_range(year: int, month: int, zone: ZoneInfo) -> tuple[int, int]:
    start = dt.datetime(year, month, 1, tzinfo=zone)
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    end = dt.datetime(ny, nm, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _one(got: dict[tuple[PeriodKey, tuple[str, ...]], Figures]) -> dict[PeriodKey, Figures]:
    return {p: f for (p, _), f in got.items()}


def build_monthly(
    db_path: str | Path, tenant: str, month: str, *, options: MetricOptions | None = None
) -> MonthlyData:
    """Read one tenant's month from the database and compute the report's figures."""
    year, mon = parse_month(month)
    con, tables = open_db(db_path)
    try:
        config, as_of = load_meta(con)
        ten = next((t for t in config.tenants if t.id == tenant), None)
        if ten is None:
            raise ReportError(f"{db_path}: unknown tenant {tenant!r}")
        zone = ZoneInfo(ten.timezone)
        start, end = _month_range(year, mon, zone)
        records = load_records(con, tenant, start, end)
        forecast = _forecast(con, tenant, start, end, zone) if "forecast" in tables else None
    finally:
        con.close()
    opts = options or MetricOptions()
    cube = cube_from_records(
        config, records, options=opts, tenant=tenant, as_of_ms=as_of, start_ms=start, end_ms=end
    )

    def grouped(
        period: Period = "all", by: Sequence[Dimension] = ()
    ) -> dict[tuple[PeriodKey, tuple[str, ...]], Figures]:
        return cube.collect(start, end, period=period, by=by, tz=ten.timezone, tenant=tenant)

    daily = {str(k): f for k, f in _one(grouped(period="day")).items()}
    daily_channel = {
        (str(p), g[0]): f for (p, g), f in grouped(period="day", by=("channel",)).items()
    }
    hourly = {int(k): f for k, f in _one(grouped(period="hour_of_day")).items()}
    hourly_channel = {
        (int(p), g[0]): f for (p, g), f in grouped(period="hour_of_day", by=("channel",)).items()
    }
    by_channel = {g[0]: f for (_, g), f in grouped(by=("channel",)).items()}
    by_queue = {g[0]: f for (_, g), f in grouped(by=("queue",)).items()}
    by_agent_channel = {
        (g[0], g[1]): f for (_, g), f in grouped(by=("agent", "channel")).items() if g[0]
    }
    by_agent = {g[0]: f for (_, g), f in grouped(by=("agent",)).items() if g[0]}
    channels: list[str] = [
        c for c in CHANNELS if c in by_channel and (by_channel[c].arrived or by_channel[c].offered)
    ]
    ndays = calendar.monthrange(year, mon)[1]
    return MonthlyData(
        tenant=ten,
        queues=[q for q in config.queues if q.tenant == tenant],
        agent_names=_agent_names(config),
        month=month,
        month_label=f"{calendar.month_name[mon]} {year}",
        days=[dt.date(year, mon, d) for d in range(1, ndays + 1)],
        tz=ten.timezone,
        options=opts,
        total=cube.figures(start, end, tenant=tenant),
        daily=daily,
        daily_channel=daily_channel,
        hourly=hourly,
        hourly_channel=hourly_channel,
        by_channel=by_channel,
        by_queue=by_queue,
        by_agent_channel=by_agent_channel,
        by_agent=by_agent,
        channels=channels,
        forecast=forecast,
        follow_up=sorted(
            (
                r
                for r in records
                if r.survey_ms is not None
                and start <= r.survey_ms < end
                and ((r.csat is not None and r.csat <= 2) or (r.nps is not None and r.nps <= 3))
            ),
            key=lambda r: (-(r.survey_ms or 0), r.contact),
        ),
        as_of=dt.datetime.fromtimestamp(as_of / 1000, tz=zone),
    )


def _agent_names(config: Config) -> dict[str, tuple[str, str, str | None]]:
    return {a.id: (a.name or a.id, a.team, a.partner) for a in config.agents}


def _forecast(con: object, tenant: str, start: int, end: int, zone: ZoneInfo) -> Forecast | None:
    rows: list[tuple[int, float | None, float | None]] = con.execute(  # type: ignore[attr-defined]
        "SELECT epoch_ms(interval_start), offered_forecast, agents_forecast FROM forecast "
        "WHERE tenant = ? AND epoch_ms(interval_start) >= ? AND epoch_ms(interval_start) < ? "
        "ORDER BY interval_start",
        [tenant, start, end],
    ).fetchall()
    if not rows:
        return None
    starts = sorted({r[0] for r in rows})
    steps = [b - a for a, b in itertools.pairwise(starts) if b > a]
    length_h = (min(steps) if steps else 900_000) / 3_600_000
    ndays = round((end - start) / 86_400_000)
    by_day: dict[str, float] = {}
    by_hour: dict[int, float] = {}
    agents: dict[int, float] = {}
    for ms, offered, ag in rows:
        local = dt.datetime.fromtimestamp(ms / 1000, tz=zone)
        day = local.date().isoformat()
        by_day[day] = by_day.get(day, 0.0) + (offered or 0.0)
        by_hour[local.hour] = by_hour.get(local.hour, 0.0) + (offered or 0.0) / ndays
        # Agent-hours planned in this hour of the day, averaged over the month's days.
        agents[local.hour] = agents.get(local.hour, 0.0) + (ag or 0.0) * length_h / ndays
    return Forecast(by_day, by_hour, agents)


# ----------------------------------------------------------------------------- format


def fmt_int(v: int | float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def fmt_pct(v: float | None, digits: int = 1) -> str:
    # A no-break space keeps "85 %" on one line.
    return "—" if v is None else f"{v:.{digits}f}\u00a0%"


def fmt_dur(s: float | None) -> str:
    """Seconds as ``42 s``, ``4:05 min`` or ``3 h 20 min``."""
    if s is None:
        return "—"
    if s < 90:
        return f"{s:.0f}\u00a0s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{m}:{sec:02d}\u00a0min"
    h, rem = divmod(round(s), 3600)
    if rem < 60:
        return f"{h}\u00a0h"
    return f"{h}\u00a0h {rem // 60:02d}\u00a0min"


def signed(v: float, digits: int = 1, unit: str = "") -> str:
    """``+3.5`` or ``−3.5`` (a true minus sign), with an optional unit."""
    text = f"{v:+.{digits}f}".replace("-", "\u2212")
    return f"{text}\u00a0{unit}" if unit else text


def _axis_dur(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min" if s % 60 == 0 else f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def fmt_nps(v: float | None) -> str:
    return "—" if v is None else signed(v, 0)


def _threshold_text(q: Queue, options: MetricOptions) -> str:
    t = options.threshold_seconds
    return fmt_dur(q.service_level.threshold_seconds if t is None else t)


# ----------------------------------------------------------------------------- HTML

_CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f1f5f9;--bg:#f6f7fb;
--accent:#1d4ed8;--good:#15803d;--bad:#b91c1c;--warn:#b45309}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.55 "Segoe UI","Helvetica Neue",Helvetica,Arial,"Noto Sans","DejaVu Sans",sans-serif;
font-variant-numeric:tabular-nums}
.wrap{max-width:1080px;margin:0 auto;padding:0 28px}
header.top{background:linear-gradient(135deg,#0b1f3a 0%,#173e7a 60%,#1d4ed8 100%);color:#fff;
padding:34px 0 54px}
header.top .eyebrow{text-transform:uppercase;letter-spacing:.14em;font-size:12px;opacity:.75}
header.top h1{font-size:32px;line-height:1.2;margin:6px 0 4px;font-weight:650;letter-spacing:-.01em}
header.top .meta{opacity:.85;font-size:14px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-top:-34px}
.kpi{background:#fff;border:1px solid var(--line);border-radius:12px;padding:14px 16px 13px;
box-shadow:0 1px 3px rgba(15,23,42,.06)}
.kpi .label{font-size:11.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.07em;
font-weight:600}
.kpi .value{font-size:28px;font-weight:650;line-height:1.2;margin:4px 0 2px;letter-spacing:-.01em}
.kpi .value small{font-size:15px;font-weight:500;color:var(--muted)}
.kpi .sub{font-size:13px;color:var(--muted)}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;
margin-left:4px;vertical-align:2px}
.pill.good{background:#dcfce7;color:var(--good)}
.pill.bad{background:#fee2e2;color:var(--bad)}
.pill.info{background:#e0e7ff;color:#3730a3}
.note{margin:18px 0 0;font-size:13.5px;color:var(--muted)}
section.card{background:#fff;border:1px solid var(--line);border-radius:14px;padding:24px 28px;
margin:22px 0;box-shadow:0 1px 2px rgba(15,23,42,.04)}
h2{font-size:19px;margin:0 0 4px;letter-spacing:-.005em}
h3{font-size:15px;margin:18px 0 6px}
p.lead{color:var(--muted);margin:0 0 14px;font-size:14px;max-width:820px}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin-top:8px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:11.5px;text-transform:uppercase;
letter-spacing:.05em;border-bottom:1px solid var(--line);padding:7px 8px;white-space:nowrap}
td{padding:6px 8px;border-bottom:1px solid var(--soft)}
td.num,th.num{text-align:right}
tr.bad td{background:#fef2f2}
.flag{background:#fee2e2;color:var(--bad);font-weight:600;padding:1px 7px;border-radius:6px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px;color:#334155;margin:2px 0 6px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px;
vertical-align:-1px}
.legend i.line{height:3px;border-radius:2px;vertical-align:3px;width:16px}
.legend i.dash{height:0;border-top:3px dashed;border-radius:0;vertical-align:3px;width:16px;
background:none!important}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:26px}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:6px 0 12px}
.stat{background:var(--soft);border-radius:10px;padding:10px 14px}
.stat b{display:block;font-size:22px;font-weight:650}
.stat span{font-size:12.5px;color:var(--muted)}
svg.chart{display:block;overflow:visible}
.muted{color:var(--muted)}
.agents td{white-space:nowrap}
.n{color:#94a3b8;font-size:12px;display:inline-block;min-width:2.6em;
text-align:right}
footer{color:var(--muted);font-size:12.5px;padding:10px 0 40px}
code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px;
background:var(--soft);padding:1px 5px;border-radius:4px}
@media (max-width:860px){.kpis,.stats{grid-template-columns:repeat(2,1fr)}
.grid2{grid-template-columns:1fr}}
@media print{body{background:#fff}
header.top{-webkit-print-color-adjust:exact;print-color-adjust:exact}
section.card{break-inside:avoid;box-shadow:none}.kpi{box-shadow:none}}
"""


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """Legend entries (label, colour, kind: box | line | dash)."""
    parts = []
    for label, color, kind in items:
        cls = "" if kind == "box" else f" class='{kind}'"
        style = f"border-color:{color}" if kind == "dash" else f"background:{color}"
        parts.append(f"<span><i{cls} style='{style}'></i>{escape(label)}</span>")
    return "<div class='legend'>" + "".join(parts) + "</div>"


def _kpi(label: str, value: str, sub: str) -> str:
    return (
        f"<div class='kpi'><div class='label'>{escape(label)}</div>"
        f"<div class='value'>{value}</div><div class='sub'>{sub}</div></div>"
    )


def _table(
    head: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], cls: Sequence[str] = ()
) -> str:
    """A table; ``head`` is (title, numeric); cells are HTML already escaped."""
    th = "".join(
        f"<th class='num'>{escape(h)}</th>" if n else f"<th>{escape(h)}</th>" for h, n in head
    )
    body = []
    for i, row in enumerate(rows):
        rc = f" class='{cls[i]}'" if i < len(cls) and cls[i] else ""
        tds = "".join(
            f"<td class='num'>{c}</td>" if head[j][1] else f"<td>{c}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr{rc}>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _day_label(d: dt.date) -> str:
    return f"{d.strftime('%a')} {d.day} {d.strftime('%b')}"


def _below(f: Figures | None) -> bool:
    return (
        f is not None
        and f.offered > 0
        and f.service_level_pct is not None
        and f.target_pct is not None
        and f.service_level_pct < f.target_pct
    )


def render_html(d: MonthlyData) -> str:
    """The report as one HTML document (inline CSS and SVG, no scripts, no fetches)."""
    t = d.total
    days = [x.isoformat() for x in d.days]
    labels = [str(x.day) for x in d.days]
    hover = [_day_label(x) for x in d.days]
    weekend = [x.weekday() >= 5 for x in d.days]
    bad_days = [k for k in days if _below(d.daily.get(k))]
    days_with = [k for k in days if (f := d.daily.get(k)) is not None and f.offered > 0]
    formula = SL_FORMULAS[d.options.sl_formula].label
    esc = escape

    # ------------------------------------------------------------------ header + KPIs
    met = (
        t.service_level_pct is not None
        and t.target_pct is not None
        and t.service_level_pct >= t.target_pct
    )
    sl_pill = ""
    if t.service_level_pct is not None and t.target_pct is not None:
        sl_pill = (
            "<span class='pill good'>Target met</span>"
            if met
            else "<span class='pill bad'>Below target</span>"
        )
    days_note = (
        f"{len(bad_days)} of {len(days_with)} days below target"
        if days_with
        else "no contacts this month"
    )
    kpis = [
        _kpi(
            "Contacts",
            fmt_int(t.arrived),
            f"{fmt_int(t.answered)} answered · {fmt_int(t.abandoned)} abandoned"
            f" ({fmt_int(t.short_abandoned)} within {d.options.short_abandon_seconds:g} s)",
        ),
        _kpi(
            "Service level",
            f"{fmt_pct(t.service_level_pct)}{sl_pill}",
            f"target {fmt_pct(t.target_pct, 0)} · {days_note}",
        ),
        _kpi(
            "Answer rate",
            fmt_pct(t.service_levels_pct["answered_over_offered"]),
            f"answered ÷ offered · abandon rate {fmt_pct(t.abandon_rate_pct)}",
        ),
        _kpi(
            "Average speed of answer",
            esc(fmt_dur(_live(d, "asa_s"))),
            esc(_asa_note(d)),
        ),
        _kpi(
            "Average handle time",
            esc(fmt_dur(t.aht_s)),
            f"talk {esc(fmt_dur(t.avg_talk_s))} + wrap-up {esc(fmt_dur(t.avg_wrap_s))}",
        ),
        _kpi(
            "Customer satisfaction",
            f"{fmt_num(t.csat_avg, 2)}<small> / 5</small>",
            f"{fmt_int(t.csat_responses)} ratings · solved {fmt_pct(t.solved_pct, 0)}",
        ),
        _kpi(
            "Net Promoter Score",
            fmt_nps(t.nps),
            f"{fmt_int(t.nps_responses)} answers · "
            + (f"effort (CES) {fmt_num(t.ces_avg)} / 7" if t.ces_responses else "no CES answers"),
        ),
        _kpi(
            "Callback requests",
            f"{fmt_int(t.callbacks_requested)}<small> forwarded</small>",
            f"{fmt_int(t.callbacks_reached)} reached · {fmt_int(t.callbacks_unreached)} not reached"
            f" · {fmt_int(t.callbacks_made)} dials · partner handled "
            f"{fmt_pct(t.partner_share_pct)}",
        )
        if t.callbacks_requested
        else _kpi(
            "Overflow partner",
            fmt_pct(t.partner_share_pct),
            f"of answered contacts ({fmt_int(t.handled_by_partner)}) · no callback requests",
        ),
    ]
    thresholds = ", ".join(f"{esc(q.id)} {esc(_threshold_text(q, d.options))}" for q in d.queues)
    header = f"""
<header class="top"><div class="wrap">
<div class="eyebrow">Monthly service report</div>
<h1>{esc(d.name)} — {esc(d.month_label)}</h1>
<div class="meta">All channels · times in {esc(d.tz)} · records up to
{esc(d.as_of.strftime("%d %b %Y %H:%M"))}</div>
</div></header>
<div class="wrap">
<div class="kpis">{"".join(kpis)}</div>
<p class="note">Service level: <b>{esc(formula)}</b>, each queue with its own threshold T
({thresholds}). The target is each queue's target, weighted by its contacts.
Short abandons (under {d.options.short_abandon_seconds:g} s) are shown apart.</p>
"""

    sections: list[str] = []

    # ------------------------------------------------------------------ SL per day
    sl_vals = [d.daily[k].service_level_pct if k in days_with else None for k in days]
    day_targets = [d.daily[k].target_pct if k in days_with else None for k in days]
    colors: list[str | None] = [BAD if k in bad_days else GOOD for k in days]
    lines = []
    if t.service_level_pct is not None:
        lines.append(
            RefLine(t.service_level_pct, f"month {t.service_level_pct:.1f} %", MONTH_LINE, True)
        )
    chart = bar_chart(
        labels,
        [Series("Service level", sl_vals, GOOD)],
        label="Service level per day",
        y_max=100,
        y_format=lambda v: f"{v:.0f} %",
        lines=lines,
        bar_colors=colors,
        markers=day_targets,
        marker_label="target",
        shade=weekend,
        hover=hover,
        height=260,
    )
    rows = []
    for k in bad_days:
        f = d.daily[k]
        day = dt.date.fromisoformat(k)
        gap = (f.service_level_pct or 0) - (f.target_pct or 0)
        rows.append(
            [
                esc(_day_label(day)),
                fmt_int(f.offered),
                fmt_pct(f.service_level_pct),
                fmt_pct(f.target_pct, 0),
                signed(gap, 1, "pp"),
                esc(fmt_dur(_live_day(d, k))),
                fmt_int(f.abandoned),
            ]
        )
    bad_html = (
        "<h3>Days below target</h3>"
        + _table(
            [
                ("Day", False),
                ("Offered", True),
                ("Service level", True),
                ("Target", True),
                ("Gap", True),
                ("ASA (live)", True),
                ("Abandoned", True),
            ],
            rows,
        )
        if rows
        else "<p class='note'>Every day with contacts met its target.</p>"
    )
    qrows = []
    for q in d.queues:
        f = d.by_queue.get(q.id)
        if f is None:
            continue
        qrows.append(
            [
                esc(q.id),
                esc(", ".join(CHANNEL_LABELS.get(c, c) for c in q.channels)),
                esc(_threshold_text(q, d.options)),
                fmt_pct(q.service_level.target_percent, 0),
                fmt_int(f.offered),
                fmt_pct(f.service_level_pct),
                "<span class='pill good'>met</span>"
                if not _below(f)
                else "<span class='pill bad'>below</span>",
            ]
        )
    queue_html = "<h3>Queues</h3>" + _table(
        [
            ("Queue", False),
            ("Channels", False),
            ("T", True),
            ("Target", True),
            ("Offered", True),
            ("Service level", True),
            ("", True),
        ],
        qrows,
    )
    sections.append(
        _section(
            "Service level per day",
            "A month that meets its target can hide days far below it. Bars in red are days "
            "below that day's target (the black mark: it depends on the day's mix of queues, "
            f"each with its own target); weekends are shaded. The month's target: "
            f"{fmt_pct(t.target_pct, 1)}.",
            _legend(
                [
                    ("met target", GOOD, "box"),
                    ("below target", BAD, "box"),
                    ("the day's target", TARGET, "line"),
                    ("the month's service level", MONTH_LINE, "dash"),
                ]
            )
            + chart
            + bad_html
            + queue_html,
        )
    )

    # ------------------------------------------------------------------ volume
    ch_series = [
        Series(
            CHANNEL_LABELS[c],
            [
                float(d.daily_channel[(k, c)].arrived) if (k, c) in d.daily_channel else None
                for k in days
            ],
            CHANNEL_COLORS[c],
        )
        for c in d.channels
    ]
    legend = _legend([(CHANNEL_LABELS[c], CHANNEL_COLORS[c], "box") for c in d.channels])
    per_day = bar_chart(
        labels,
        ch_series,
        label="Contacts per day by channel",
        shade=weekend,
        hover=hover,
        y_title="contacts",
    )
    hours = list(range(24))
    h_series = [
        Series(
            CHANNEL_LABELS[c],
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
        label="Contacts per hour of day by channel",
        hover=[f"{h:02d}:00–{h:02d}:59" for h in hours],
        y_title="contacts",
        height=240,
    )
    busiest = max(d.daily.items(), key=lambda kv: kv[1].arrived, default=None)
    busy_txt = ""
    if busiest is not None and busiest[1].arrived:
        busy_txt = (
            f" The busiest day was {esc(_day_label(dt.date.fromisoformat(busiest[0])))}"
            f" with {fmt_int(busiest[1].arrived)} contacts."
        )
    sections.append(
        _section(
            "Contacts",
            f"{fmt_int(t.arrived)} contacts arrived this month.{busy_txt}",
            "<h3>Per day of the month</h3>"
            + legend
            + per_day
            + "<h3>Per hour of the day (whole month)</h3>"
            + legend
            + per_hour,
        )
    )

    # ------------------------------------------------------------------ ASA + AHT
    live = [c for c in d.channels if c in _LIVE]
    asa_series = [
        Series(
            CHANNEL_LABELS[c],
            [f.asa_s if (f := d.daily_channel.get((k, c))) is not None else None for k in days],
            CHANNEL_COLORS[c],
        )
        for c in live
    ]
    aht_series = [
        Series(
            CHANNEL_LABELS[c],
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
    asa_month = _live(d, "asa_s")
    asa_chart = line_chart(
        labels,
        asa_series,
        label="Average speed of answer per day",
        y_format=_axis_dur,
        lines=[RefLine(asa_month, f"month {fmt_dur(asa_month)}", TARGET)] if asa_month else [],
        shade=weekend,
        hover=hover,
    )
    aht_chart = line_chart(
        labels,
        aht_series,
        label="Average handle time per day",
        y_format=lambda v: f"{v:.0f} min" if v >= 10 or v.is_integer() else f"{v:.1f} min",
        lines=[RefLine(t.aht_s / 60, f"month {fmt_dur(t.aht_s)}", TARGET)] if t.aht_s else [],
        shade=weekend,
        hover=hover,
    )
    sections.append(
        _section(
            "Speed of answer and handle time",
            "Average speed of answer (ASA): the wait from arrival until an agent took the "
            "contact. Average handle time (AHT): talk or writing time plus wrap-up.",
            "<h3>Average speed of answer — live channels</h3>"
            + _legend([(CHANNEL_LABELS[c], CHANNEL_COLORS[c], "line") for c in live])
            + asa_chart
            + "<h3>Average handle time</h3>"
            + _legend([(CHANNEL_LABELS[c], CHANNEL_COLORS[c], "line") for c in d.channels])
            + aht_chart,
        )
    )

    # ------------------------------------------------------------------ channel mix
    mix = share_bar(
        [
            (CHANNEL_LABELS[c], float(d.by_channel[c].arrived), CHANNEL_COLORS[c])
            for c in d.channels
        ],
        label="Channel mix",
        height=38,
    )
    crow = []
    for c in d.channels:
        f = d.by_channel[c]
        crow.append(
            [
                f"<span class='legend'><span><i style='background:{CHANNEL_COLORS[c]}'></i>"
                f"{esc(CHANNEL_LABELS[c])}</span></span>",
                fmt_int(f.arrived),
                fmt_pct(100 * f.arrived / t.arrived if t.arrived else None),
                fmt_int(f.answered),
                fmt_int(f.abandoned),
                fmt_pct(f.service_level_pct),
                fmt_pct(f.target_pct, 0),
                esc(fmt_dur(f.asa_s)),
                esc(fmt_dur(f.aht_s)),
                fmt_num(f.csat_avg, 2),
            ]
        )
    sections.append(
        _section(
            "Channel mix",
            "Every channel reaches the same agents through one queue; here is how the "
            "month's contacts were spread and served.",
            mix
            + _table(
                [
                    ("Channel", False),
                    ("Contacts", True),
                    ("Share", True),
                    ("Answered", True),
                    ("Abandoned", True),
                    ("Service level", True),
                    ("Target", True),
                    ("ASA", True),
                    ("AHT", True),
                    ("CSAT", True),
                ],
                crow,
            ),
        )
    )

    # ------------------------------------------------------------------ topics
    tags = list(t.tag_shares_pct.items())[:14]
    if tags:
        topics = hbar_chart(
            [k for k, _ in tags],
            [v for _, v in tags],
            label="Topics (tags), share of contacts",
            value_format=lambda v: fmt_pct(v),
            color="#4f46e5",
        )
        more = len(t.tag_shares_pct) - len(tags)
        if more > 0:
            topics += f"<p class='note'>{more} more tags in the data export.</p>"
    else:
        topics = "<p class='note'>No contacts were tagged this month.</p>"
    codes = list(t.wrap_up_codes.items())[:10]
    if codes:
        topics += "<h3>Outcomes (wrap-up codes)</h3>" + hbar_chart(
            [k for k, _ in codes],
            [float(v) for _, v in codes],
            label="Outcomes (wrap-up codes)",
            value_format=lambda v: f"{v:,.0f}  ({fmt_pct(_share(v, t.handled), 0)})",
            color="#0891b2",
        )
    sections.append(
        _section(
            "Topics and outcomes",
            "Share of the month's closed contacts carrying each tag (a contact can carry "
            "several tags, so shares can add up to more than 100\u00a0%), and how agents "
            "closed them: answered, forwarded, a ticket or a lead for your own systems.",
            topics,
        )
    )
    # ------------------------------------------------------------------ CX
    csat_days = [d.daily[k].csat_avg if k in d.daily else None for k in days]
    csat_chart = line_chart(
        labels,
        [Series("CSAT", csat_days, "#0d9488")],
        label="CSAT per day",
        y_max=5,
        y_format=lambda v: f"{v:.0f}" if v.is_integer() else f"{v:.1f}",
        lines=[RefLine(t.csat_avg, f"month {t.csat_avg:.2f}", TARGET)] if t.csat_avg else [],
        shade=weekend,
        hover=hover,
        height=220,
    )
    nps_html = "<p class='note'>No NPS answers this month.</p>"
    if t.nps_responses:
        prom = t.promoters_pct or 0.0
        det = t.detractors_pct or 0.0
        nps_html = share_bar(
            [
                ("Promoters (9–10)", prom, "#16a34a"),
                ("Passives (7–8)", max(0.0, 100 - prom - det), "#94a3b8"),
                ("Detractors (0–6)", det, "#dc2626"),
            ],
            label="NPS answers",
            value_format=lambda v: f"{v:.1f} %",
        ) + _legend(
            [
                (f"promoters {prom:.0f} %", "#16a34a", "box"),
                (f"passives {max(0.0, 100 - prom - det):.0f} %", "#94a3b8", "box"),
                (f"detractors {det:.0f} %", "#dc2626", "box"),
            ]
        )
    stats = (
        "<div class='stats'>"
        f"<div class='stat'><b>{fmt_num(t.csat_avg, 2)}</b><span>CSAT average (1–5), "
        f"{fmt_int(t.csat_responses)} ratings</span></div>"
        f"<div class='stat'><b>{fmt_pct(t.solved_pct, 0)}</b><span>customers: "
        f"“my issue was solved”</span></div>"
        f"<div class='stat'><b>{fmt_nps(t.nps)}</b><span>NPS, {fmt_int(t.nps_responses)} "
        f"answers</span></div>"
        f"<div class='stat'><b>{fmt_num(t.ces_avg)}</b><span>CES average (1–7, higher is "
        f"easier), {fmt_int(t.ces_responses)} answers</span></div></div>"
    )
    sections.append(
        _section(
            "Customer experience",
            "Ratings customers gave after their contact: CSAT after each chat (“how did we "
            "do?” and “was your issue solved?”), NPS and effort (CES) after calls.",
            stats + "<h3>CSAT per day</h3>" + csat_chart + "<h3>Net Promoter Score</h3>" + nps_html,
        )
    )

    sections.append(_follow_up_section(d))

    # ------------------------------------------------------------------ pages
    pages = list(t.pages.items())[:12]
    total_pages = sum(t.pages.values())
    if pages:
        pages_html = hbar_chart(
            [k for k, _ in pages],
            [float(v) for _, v in pages],
            label="Pages where chats started",
            value_format=lambda v: f"{v:,.0f}  ({100 * v / total_pages:.0f} %)",
            color="#0d9488",
            label_width=260,
        )
    else:
        pages_html = "<p class='note'>No contact carried a start page this month.</p>"
    sections.append(
        _section(
            "Where chats started",
            "The web page each chat was opened from: where customers look for help.",
            pages_html,
        )
    )

    # ------------------------------------------------------------------ callbacks + partner
    own = [
        float(f.answered - f.handled_by_partner) if (f := d.daily.get(k)) else None for k in days
    ]
    partner = [float(f.handled_by_partner) if (f := d.daily.get(k)) else None for k in days]
    partner_chart = bar_chart(
        labels,
        [Series("Own team", own, "#1d4ed8"), Series("Overflow partner", partner, "#f59e0b")],
        label="Answered contacts per day: own team and overflow partner",
        shade=weekend,
        hover=hover,
        height=220,
    )
    cb_note = "" if t.callbacks_requested else "No callback requests this month. "
    cb_stats = (
        "<div class='stats'>"
        f"<div class='stat'><b>{fmt_int(t.callbacks_requested)}</b><span>callback requests "
        "forwarded</span></div>"
        f"<div class='stat'><b>{fmt_int(t.callbacks_reached)}</b><span>customers reached "
        f"({fmt_pct(_share(t.callbacks_reached, t.callbacks_requested), 0)})"
        "</span></div>"
        f"<div class='stat'><b>{fmt_int(t.callbacks_unreached)}</b><span>not reached after "
        "every dial</span></div>"
        f"<div class='stat'><b>{fmt_int(t.callbacks_made)}</b><span>dials made "
        "(retries included)</span></div>"
        f"<div class='stat'><b>{esc(fmt_dur(t.avg_callback_wait_s))}</b><span>average time "
        "to call back (request to first dial)</span></div>"
        f"<div class='stat'><b>{fmt_pct(t.partner_share_pct)}</b><span>of answered contacts "
        f"handled by the overflow partner ({fmt_int(t.handled_by_partner)})</span></div></div>"
    )
    why = _reason_table("Why a callback", t.callbacks_by_reason, "Callback requests")
    sections.append(
        _section(
            "Callbacks and the overflow partner",
            cb_note
            + "Callback requests forwarded to the agents — asked for by customers or made for "
            "them when the line was closed or full — and how many customers were reached; the "
            "share of contacts the overflow partner answered — a steady stream in calm times "
            "keeps the partner practised, peaks send more.",
            cb_stats
            + why
            + _legend([("own team", "#1d4ed8", "box"), ("overflow partner", "#f59e0b", "box")])
            + partner_chart,
        )
    )
    sections.append(_policies_section(d))

    # ------------------------------------------------------------------ agents
    sections.append(_agents_section(d))

    # ------------------------------------------------------------------ forecast
    sections.append(_forecast_section(d, days, labels, hover, weekend))

    # ------------------------------------------------------------------ formulas
    frows = []
    for name, info in SL_FORMULAS.items():
        chosen = (
            " <span class='pill info'>used above</span>" if name == d.options.sl_formula else ""
        )
        frows.append(
            [
                f"{esc(info.label)}{chosen}<br><code>{esc(name)}</code>",
                esc(info.definition),
                fmt_pct(t.service_levels_pct.get(name)),
            ]
        )
    sections.append(
        _section(
            "How the service level is counted",
            "Service level has several definitions in the industry; this month's figure under "
            "each of them. T is the queue's threshold; offered = answered + abandoned; a "
            f"short abandon is one under {d.options.short_abandon_seconds:g} s.",
            _table([("Formula", False), ("Definition", False), ("This month", True)], frows),
        )
    )

    footer = (
        f"<footer>Generated by ccroute on {esc(dt.datetime.now(dt.UTC).strftime('%d %b %Y'))} "
        f"for {esc(d.name)}. The figures per day and channel are in the CSV file beside this "
        "report. This report contains only this client's contacts.</footer>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(d.name)} — service report {esc(d.month_label)}</title>"
        f"<style>{_CSS}</style></head><body>"
        + header
        + "".join(sections)
        + footer
        + "</div></body></html>"
    )


def _asa_note(d: MonthlyData) -> str:
    live = [CHANNEL_LABELS[c].lower() for c in d.channels if c in _LIVE]
    deferred = [CHANNEL_LABELS[c].lower() for c in d.channels if c not in _LIVE]
    text = "over " + (", ".join(live) if live else "no live channel")
    if deferred:
        text += f" · {', '.join(deferred)}: see Channel mix"
    return text


# Channels where the customer waits on the line; deferred work has its own response times.
_LIVE = tuple(c for c in CHANNELS if c in LIVE_CHANNELS)


def _live(d: MonthlyData, attr: str) -> float | None:
    """A wait figure over the live channels (phone, callback, chat)."""
    num = 0.0
    n = 0
    for c in _LIVE:
        f = d.by_channel.get(c)
        v = getattr(f, attr) if f is not None else None
        if f is not None and v is not None and f.answered:
            num += v * f.answered
            n += f.answered
    return num / n if n else None


def _live_day(d: MonthlyData, day: str) -> float | None:
    """Average speed of answer of one day over the live channels."""
    num = 0.0
    n = 0
    for c in _LIVE:
        f = d.daily_channel.get((day, c))
        if f is not None and f.asa_s is not None and f.answered:
            num += f.asa_s * f.answered
            n += f.answered
    return num / n if n else None


def _reason_table(head: str, counts: dict[str, int], what: str) -> str:
    if not counts:
        return ""
    total = sum(counts.values())
    rows = [
        [escape(_REASON_LABELS.get(k, k or "—")), fmt_int(v), fmt_pct(_share(v, total), 0)]
        for k, v in counts.items()
    ]
    return _table([(head, False), (what, True), ("Share", True)], rows)


def _policies_section(d: MonthlyData) -> str:
    """Service hours, caps and overflow triggers: what they did to this client's contacts."""
    t = d.total
    closed = t.closed_by_policy_reason
    moved = t.moved_by_reason
    cbs = t.callbacks_by_reason
    rows = []
    for r in POLICY_REASONS:
        n_closed, n_moved, n_cb = closed.get(r, 0), moved.get(r, 0), cbs.get(r, 0)
        if n_closed or n_moved or n_cb:
            rows.append(
                [escape(_REASON_LABELS[r]), fmt_int(n_closed), fmt_int(n_moved), fmt_int(n_cb)]
            )
    by_reason = (
        _table(
            [
                ("Why", False),
                ("Closed with an announcement", True),
                ("Moved (ticket or reroute)", True),
                ("Made a callback", True),
            ],
            rows,
        )
        if rows
        else "<p class='note'>No contact was turned away, moved or made a callback by the "
        "service hours or the queue limits this month.</p>"
    )
    overflow = _reason_table("Opened to the partner by", t.overflow_by_reason, "Contacts")
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
                fmt_int(f.callbacks_made),
                fmt_int(f.callbacks_reached),
                fmt_int(f.callbacks_unreached),
                fmt_int(f.closed_by_policy),
                f"{fmt_int(f.moved)} ({fmt_int(f.ticketed)} tickets)",
                fmt_int(f.overflowed),
            ]
        )
    per_queue = (
        _table(
            [
                ("Queue", False),
                ("Callback requests", True),
                ("Dials", True),
                ("Reached", True),
                ("Not reached", True),
                ("Closed by policy", True),
                ("Moved", True),
                ("To the partner", True),
            ],
            qrows,
        )
        if qrows
        else ""
    )
    stats = (
        "<div class='stats'>"
        f"<div class='stat'><b>{fmt_int(t.closed_by_policy)}</b><span>contacts closed with an "
        "announcement</span></div>"
        f"<div class='stat'><b>{fmt_int(t.moved)}</b><span>moved to another queue, "
        f"{fmt_int(t.ticketed)} of them as e-mail tasks</span></div>"
        f"<div class='stat'><b>{fmt_int(t.overflowed)}</b><span>opened to the overflow "
        "partner</span></div></div>"
    )
    return _section(
        "Service hours, limits and overflow",
        "What the service hours (and any emergency closure), the limits on the line and the "
        "overflow rules did with the contacts: closed with an announcement, made an e-mail "
        "task or a callback, or opened to the partner. Contacts closed or moved away are "
        "not in the service level of the queue they left: no agent there was offered them.",
        stats + by_reason + overflow + per_queue,
    )


def _share(part: float, whole: float) -> float | None:
    return 100 * part / whole if whole else None


def _section(title: str, lead: str, body: str) -> str:
    return (
        f"<section class='card'><h2>{escape(title)}</h2><p class='lead'>{lead}</p>{body}</section>"
    )


def _mmss(s: float | None) -> str:
    if s is None:
        return "—"
    m, sec = divmod(round(s), 60)
    return f"{m}:{sec:02d}"


def _follow_up_section(d: MonthlyData) -> str:
    zone = ZoneInfo(d.tz)
    rows = []
    for r in d.follow_up[:FOLLOW_UP_ROWS]:
        when = dt.datetime.fromtimestamp(r.arrived_ms / 1000, tz=zone)
        if r.csat is not None:
            rating = f"CSAT {r.csat}/5"
        else:
            rating = f"NPS {r.nps}" if r.nps is not None else "—"
        solved = {True: "yes", False: "no", None: "—"}[r.solved]
        agent = d.agent_names.get(r.agent or "", (r.agent or "—", "", None))[0]
        rows.append(
            [
                escape(when.strftime("%a %d %b %H:%M")),
                escape(CHANNEL_LABELS.get(r.channel, r.channel)),
                f"<code>{escape(r.contact)}</code>",
                escape(agent),
                escape(", ".join(r.tags) or "—"),
                escape(r.wrap_up_code or "—"),
                escape(fmt_dur(r.wait_ms / 1000 if r.wait_ms is not None else None)),
                f"<span class='flag'>{escape(rating)}</span>",
                solved,
            ]
        )
    n = len(d.follow_up)
    if not rows:
        body = "<p class='note'>No contact was rated that low this month.</p>"
    else:
        body = _table(
            [
                ("Arrived", False),
                ("Channel", False),
                ("Contact", False),
                ("Agent", False),
                ("Topics", False),
                ("Outcome", False),
                ("Wait", True),
                ("Rating", True),
                ("Solved", True),
            ],
            rows,
        )
        if n > len(rows):
            body += (
                f"<p class='note'>The latest {len(rows)} of {n}; all of them are in the data "
                "export (<code>csat</code>, <code>nps</code> columns).</p>"
            )
    return _section(
        "Contacts to follow up",
        "Contacts the customer rated low (CSAT 1–2 or NPS 0–3) this month, for quality "
        "follow-up: listen to the call or read the chat, and coach.",
        f"<div class='agents'>{body}</div>",
    )


def _agents_section(d: MonthlyData) -> str:
    chans = [c for c in d.channels if any((a, c) in d.by_agent_channel for a in d.by_agent)]
    avg = {c: d.by_channel[c].aht_s for c in chans}
    head: list[tuple[str, bool]] = [("Agent", False), ("Team", False)]
    head += [(CHANNEL_LABELS[c], True) for c in chans]
    head += [("Contacts", True), ("CSAT", True)]
    rows = []

    def order(agent: str) -> tuple[bool, str, str]:
        name, team, partner = d.agent_names.get(agent, (agent, "", None))
        return (partner is not None, team, name)

    for agent in sorted(d.by_agent, key=order):
        name, team, partner = d.agent_names.get(agent, (agent, "", None))
        who = escape(name) + (" <span class='pill info'>partner</span>" if partner else "")
        row = [who, escape(partner or team or "—")]
        for c in chans:
            f = d.by_agent_channel.get((agent, c))
            if f is None or not f.handled:
                row.append("")
                continue
            a = avg[c]
            hi = a is not None and f.aht_s is not None and f.aht_s > 1.25 * a and f.handled >= 5
            aht = escape(_mmss(f.aht_s))
            row.append(
                (f"<span class='flag'>{aht}</span>" if hi else aht)
                + f" <span class='n'>{fmt_int(f.handled)}</span>"
            )
        fa = d.by_agent[agent]
        row += [fmt_int(fa.handled), fmt_num(fa.csat_avg, 2)]
        rows.append(row)
    avg_row = ["<b>All agents</b>", ""]
    for c in chans:
        f = d.by_channel[c]
        avg_row.append(
            f"<b>{escape(_mmss(avg[c]))}</b> <span class='n'>{fmt_int(f.handled)}</span>"
        )
    avg_row += [f"<b>{fmt_int(d.total.handled)}</b>", f"<b>{fmt_num(d.total.csat_avg, 2)}</b>"]
    rows.append(avg_row)
    return _section(
        "Agents: handle time per channel",
        "Average handle time (min:s) per agent and channel, with the number of contacts in "
        "grey. Handle times more than 25 % above the channel's average (5 or more contacts) "
        "are highlighted: a pointer to coaching, not a verdict.",
        "<div class='agents'>" + _table(head, rows) + "</div>",
    )


def _forecast_section(
    d: MonthlyData, days: list[str], labels: list[str], hover: list[str], weekend: list[bool]
) -> str:
    title = "Forecast and actual volume"
    fc = d.forecast
    if fc is None:
        return _section(
            title,
            "No volume forecast was stored for this month, so staffing cannot be compared "
            "with it. Send the forecast (contacts per interval) and it will appear here.",
            "",
        )
    actual = [float(d.daily[k].arrived) if k in d.daily else 0.0 for k in days]
    planned = [fc.offered_by_day.get(k) for k in days]
    chart = bar_chart(
        labels,
        [Series("Actual contacts", actual, "#1d4ed8")],
        overlay=[Series("Forecast", planned, "#f59e0b")],
        label="Contacts per day: actual and forecast",
        shade=weekend,
        hover=hover,
        y_title="contacts",
    )
    rows = []
    for k, a, p in zip(days, actual, planned, strict=True):
        if not p:
            continue
        dev = 100 * (a - p) / p
        if abs(dev) >= FORECAST_DEVIATION_PCT:
            rows.append(
                [
                    escape(_day_label(dt.date.fromisoformat(k))),
                    fmt_int(p),
                    fmt_int(a),
                    f"<span class='flag'>{signed(dev, 0, '%')}</span>",
                ]
            )
    total_p = sum(p or 0 for p in planned)
    total_a = sum(actual)
    dev_month = 100 * (total_a - total_p) / total_p if total_p else None
    flagged = (
        f"<h3>Days more than {FORECAST_DEVIATION_PCT:.0f} % off the forecast</h3>"
        + _table([("Day", False), ("Forecast", True), ("Actual", True), ("Deviation", True)], rows)
        if rows
        else f"<p class='note'>Every day was within {FORECAST_DEVIATION_PCT:.0f} % of the "
        "forecast.</p>"
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
        [Series("Agents busy with your contacts", busy, "#0d9488")],
        overlay=[Series("Agents planned (forecast)", agents_fc, "#f59e0b")],
        label="Agents per hour of day: planned and busy with your contacts",
        hover=[f"{h:02d}:00–{h:02d}:59" for h in hours],
        y_title="agents",
        height=240,
    )
    return _section(
        title,
        f"Contacts forecast for the month: {fmt_int(total_p)}; arrived: {fmt_int(total_a)} "
        f"({'—' if dev_month is None else signed(dev_month, 1, '%')}). A day far from the "
        "forecast is flagged: a change in volume should be told in advance so staffing can "
        "follow.",
        _legend([("actual", "#1d4ed8", "box"), ("forecast", "#f59e0b", "line")])
        + chart
        + flagged
        + "<h3>Agents per hour of day (average day)</h3>"
        + _legend(
            [
                ("agents busy with your contacts", "#0d9488", "box"),
                ("agents planned in the forecast", "#f59e0b", "line"),
            ]
        )
        + staff
        + "<p class='note'>Planned agents include the headroom needed to answer quickly; "
        "busy agents count the time spent on your contacts only (agents also serve other "
        "work), so busy is expected to stay below planned.</p>",
    )


# ----------------------------------------------------------------------------- CSV


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


def write_monthly_report(
    db_path: str | Path,
    tenant: str,
    month: str,
    out_dir: str | Path,
    *,
    options: MetricOptions | None = None,
) -> tuple[Path, Path]:
    """Write ``<tenant>-<month>.html`` and ``<tenant>-<month>.csv`` into ``out_dir``.

    Raises :class:`ReportError` for a missing database, an unknown tenant or a bad month.
    Returns the paths of the HTML and CSV files.
    """
    data = build_monthly(db_path, tenant, month, options=options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tenant)
    html_path = out / f"{safe}-{month}.html"
    csv_path = out / f"{safe}-{month}.csv"
    html_path.write_text(render_html(data), encoding="utf-8")
    write_csv(data, csv_path)
    return html_path, csv_path
