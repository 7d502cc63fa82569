"""The report's figures: one tenant's month read from the contact-record database.

Only that tenant's rows are read (every query filters on it) and the figures come from a
cube that refuses other tenants' records.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ccroute.config import Config, Queue, Tenant
from ccroute.events import CHANNELS
from ccroute.metrics import Dimension, Figures, MetricOptions, Period, PeriodKey, cube_from_records
from ccroute.records import ContactRecord, load_meta, load_records
from ccroute.reports._db import ReportError, months_with_records, open_db, unknown_tenant

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: A day's arrivals this far from the forecast is flagged (the client must tell changes).
FORECAST_DEVIATION_PCT = 15.0
#: How many low-rated contacts the report lists (all are in the export).
FOLLOW_UP_ROWS = 15
#: Ratings that put a contact on the follow-up list.
LOW_CSAT, LOW_NPS = 2, 3

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
#: Callback requests made because the line was closed: dialled when it opens.
OUT_OF_HOURS_REASONS = frozenset({"outside_hours", "at_closing", "emergency"})

#: Channel classes: each makes its own promise (a call in 60 s, an e-mail in a day), so
#: the report gives each its service level before the blend.
CHANNEL_CLASSES: dict[str, tuple[str, ...]] = {
    "phone": ("voice", "callback"),
    "chat": ("chat", "social"),
    "written": ("email", "web_form"),
}

#: The parts every contact of the month falls into, exactly one each, in headline order.
OUTCOME_PARTS: tuple[str, ...] = (
    "answered",
    "abandoned",
    "closed",
    "callback_unreached",
    "waiting",
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


@dataclass(frozen=True)
class FollowUp:
    """A contact rated low, with the ratings that put it on the list."""

    record: ContactRecord
    low: tuple[str, ...]
    """``("CSAT 2/5",)``, ``("NPS 1",)`` or both: what triggered the flag."""
    other: tuple[str, ...]
    """The customer's other ratings of the same contact, for context."""


@dataclass(frozen=True)
class CallbackWaits:
    """Time from a callback request to its first dial, by when the request was made."""

    in_hours_s: float | None
    in_hours: int
    out_of_hours_s: float | None
    out_of_hours: int


@dataclass
class MonthlyData:
    """Everything the report shows, computed from one tenant's records."""

    tenant: Tenant
    queues: list[Queue]
    agent_names: dict[str, tuple[str, str, str | None]]
    month: str
    year_month: tuple[int, int]
    days: list[dt.date]
    tz: str
    options: MetricOptions
    total: Figures
    daily: dict[str, Figures]
    daily_channel: dict[tuple[str, str], Figures]
    hourly: dict[int, Figures]
    hourly_channel: dict[tuple[int, str], Figures]
    by_channel: dict[str, Figures]
    by_class: dict[str, Figures]
    """Figures per channel class (:data:`CHANNEL_CLASSES`) the client uses."""
    by_queue: dict[str, Figures]
    by_agent_channel: dict[tuple[str, str], Figures]
    by_agent: dict[str, Figures]
    channels: list[str]
    forecast: Forecast | None
    follow_up: list[FollowUp]
    """Contacts rated low (CSAT 1-2 or NPS 0-3) in the month, in the order they came."""
    parts: dict[str, int]
    """The month's contacts by what became of them (:data:`OUTCOME_PARTS`); they add
    up to the contacts that arrived."""
    closed_by_reason: dict[str, int]
    callback_waits: CallbackWaits
    as_of: dt.datetime

    @property
    def name(self) -> str:
        return self.tenant.name or self.tenant.id

    @property
    def arrived(self) -> int:
        return sum(self.parts.values())


def _month_range(year: int, month: int, zone: ZoneInfo) -> tuple[int, int]:
    start = dt.datetime(year, month, 1, tzinfo=zone)
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    end = dt.datetime(ny, nm, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _one(got: dict[tuple[PeriodKey, tuple[str, ...]], Figures]) -> dict[PeriodKey, Figures]:
    return {p: f for (p, _), f in got.items()}


def build_monthly(
    db_path: str | Path,
    tenant: str,
    month: str,
    *,
    options: MetricOptions | None = None,
    allow_empty: bool = False,
) -> MonthlyData:
    """Read one tenant's month from the database and compute the report's figures.

    A month in which the tenant has no contact is a :class:`ReportError` naming the months
    that have some, unless ``allow_empty`` (a month closed all through still gets its page).
    """
    year, mon = parse_month(month)
    con, tables = open_db(db_path)
    try:
        config, as_of = load_meta(con)
        ten = next((t for t in config.tenants if t.id == tenant), None)
        if ten is None:
            raise unknown_tenant(db_path, tenant, [t.id for t in config.tenants])
        zone = ZoneInfo(ten.timezone)
        start, end = _month_range(year, mon, zone)
        records = load_records(con, tenant, start, end)
        if not allow_empty and not any(start <= r.arrived_ms < end for r in records):
            months = months_with_records(con, tenant, ten.timezone)
            raise ReportError(
                f"{db_path}: no contact of {tenant!r} in {month}; months with contacts: "
                + (", ".join(months) or "none")
            )
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

    by_channel = {g[0]: f for (_, g), f in grouped(by=("channel",)).items()}
    channels: list[str] = [
        c for c in CHANNELS if c in by_channel and (by_channel[c].arrived or by_channel[c].offered)
    ]
    month_records = [r for r in records if start <= r.arrived_ms < end]
    ndays = calendar.monthrange(year, mon)[1]
    return MonthlyData(
        tenant=ten,
        queues=[q for q in config.queues if q.tenant == tenant],
        agent_names={a.id: (a.name or a.id, a.team, a.partner) for a in config.agents},
        month=month,
        year_month=(year, mon),
        days=[dt.date(year, mon, d) for d in range(1, ndays + 1)],
        tz=ten.timezone,
        options=opts,
        total=cube.figures(start, end, tenant=tenant),
        daily={str(k): f for k, f in _one(grouped(period="day")).items()},
        daily_channel={
            (str(p), g[0]): f for (p, g), f in grouped(period="day", by=("channel",)).items()
        },
        hourly={int(k): f for k, f in _one(grouped(period="hour_of_day")).items()},
        hourly_channel={
            (int(p), g[0]): f
            for (p, g), f in grouped(period="hour_of_day", by=("channel",)).items()
        },
        by_channel=by_channel,
        by_class=_class_figures(config, records, opts, tenant, as_of, start, end, channels),
        by_queue={g[0]: f for (_, g), f in grouped(by=("queue",)).items()},
        by_agent_channel={
            (g[0], g[1]): f for (_, g), f in grouped(by=("agent", "channel")).items() if g[0]
        },
        by_agent={g[0]: f for (_, g), f in grouped(by=("agent",)).items() if g[0]},
        channels=channels,
        forecast=forecast,
        follow_up=_follow_up(records, start, end),
        parts=_parts(month_records),
        closed_by_reason=_closed_by_reason(month_records),
        callback_waits=_callback_waits(records, start, end),
        as_of=dt.datetime.fromtimestamp(as_of / 1000, tz=zone),
    )


def _class_figures(
    config: Config,
    records: list[ContactRecord],
    options: MetricOptions,
    tenant: str,
    as_of: int,
    start: int,
    end: int,
    channels: list[str],
) -> dict[str, Figures]:
    """Each channel class's figures from its own records (exact for every SL formula)."""
    out: dict[str, Figures] = {}
    for name, members in CHANNEL_CLASSES.items():
        if not any(c in channels for c in members):
            continue
        subset = [r for r in records if r.channel in members]
        cube = cube_from_records(
            config, subset, options=options, tenant=tenant, as_of_ms=as_of, start_ms=start,
            end_ms=end,
        )  # fmt: skip
        out[name] = cube.figures(start, end, tenant=tenant)
    return out


def _parts(records: list[ContactRecord]) -> dict[str, int]:
    """What became of each contact that arrived in the month, one part each."""
    parts = dict.fromkeys(OUTCOME_PARTS, 0)
    for r in records:
        if r.answered_ms is not None:
            parts["answered"] += 1
        elif r.outcome == "abandoned":
            parts["abandoned"] += 1
        elif r.outcome == "closed":
            parts["closed"] += 1
        elif r.outcome == "callback_unreached":
            parts["callback_unreached"] += 1
        else:
            # Still waiting when the records end (a callback for the next morning, an
            # e-mail in line), or handed on before anyone answered.
            parts["waiting"] += 1
    return parts


def _closed_by_reason(records: list[ContactRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        if r.answered_ms is None and r.outcome == "closed":
            key = r.closed_reason or "other"
            out[key] = out.get(key, 0) + 1
    return out


def _follow_up(records: list[ContactRecord], start: int, end: int) -> list[FollowUp]:
    out: list[FollowUp] = []
    for r in records:
        if r.survey_ms is None or not start <= r.survey_ms < end:
            continue
        low: list[str] = []
        other: list[str] = []
        if r.csat is not None:
            (low if r.csat <= LOW_CSAT else other).append(f"CSAT {r.csat}/5")
        if r.nps is not None:
            (low if r.nps <= LOW_NPS else other).append(f"NPS {r.nps}")
        if low:
            out.append(FollowUp(r, tuple(low), tuple(other)))
    out.sort(key=lambda f: (f.record.arrived_ms, f.record.contact))
    return out


def _callback_waits(records: list[ContactRecord], start: int, end: int) -> CallbackWaits:
    """Request to first dial, for requests made in the month: in hours and out of hours
    (made because the line was closed: they wait for the morning by design)."""
    sums = {True: 0, False: 0}
    counts = {True: 0, False: 0}
    for r in records:
        t0 = r.callback_requested_ms
        if t0 is None or not start <= t0 < end or not r.callback_dials:
            continue
        out_of_hours = r.callback_reason in OUT_OF_HOURS_REASONS
        sums[out_of_hours] += r.callback_dials[0].accepted_ms - t0
        counts[out_of_hours] += 1

    def avg(flag: bool) -> float | None:
        return sums[flag] / counts[flag] / 1000 if counts[flag] else None

    return CallbackWaits(avg(False), counts[False], avg(True), counts[True])


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
