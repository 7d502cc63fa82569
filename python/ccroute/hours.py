"""Service hours: public-holiday calendars and whether a queue's schedule is open.

This is docs/routing.md section 4b written for reading: the engine's Rust core follows the
same rules, and the tests hold the two together. The holiday calendars themselves are not
repeated here: they are the core's, read through the binding. Times are UTC milliseconds;
the schedule is written in the tenant's local time (an IANA zone), so every question first
converts the instant to a local date and a local time of day. That direction is always
unique, also on the days the clocks change, which is why the rules are stated that way
round.
"""

from __future__ import annotations

import datetime
import heapq
import zoneinfo
from collections.abc import Iterator
from functools import cache

from ccroute import _core
from ccroute.config import Calendar, Config, Hours

DAY_MS = 86_400_000
MINUTE_MS = 60_000
#: The schedule timer looks this far ahead; a schedule that does not change within it
#: sets no timer.
HORIZON_MS = 366 * DAY_MS
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# Local offsets stay within a day, so a local date's instants lie within this of its
# midnight read as UTC.
_SLACK_MS = 26 * 3_600_000


def easter(year: int) -> datetime.date:
    """Easter Sunday of ``year`` (1-9999): the core's Gregorian computus."""
    return next(day for day, name in holidays("SE", year).items() if name == "Easter Sunday")


@cache
def holidays(calendar: Calendar, year: int) -> dict[datetime.date, str]:
    """The public holidays of ``calendar`` in ``year``, date -> English name, in date order.

    The days a contact centre closes, as listed in docs/routing.md 4b; ``"none"`` has none.
    The rules are the core's (router_core/src/calendar.rs), the one definition the
    engine's schedule also follows.
    """
    return {datetime.date(y, m, d): name for y, m, d, name in _core.holidays(calendar, year)}


def _span(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` as [start, end) in ms since local midnight."""
    start, end = text.split("-")
    return (
        (int(start[:2]) * 60 + int(start[3:])) * MINUTE_MS,
        (int(end[:2]) * 60 + int(end[3:])) * MINUTE_MS,
    )


def day_rule(
    hours: Hours, tenant_calendar: Calendar, day: datetime.date
) -> tuple[list[tuple[int, int]], str]:
    """The open ranges of a local date (ms since local midnight) and the rule that gave
    them: ``holiday``, ``closed_date`` or ``schedule``, the first that applies."""
    iso = day.isoformat()
    for h in hours.holidays:
        if h.date == iso:
            return [_span(r) for r in h.hours], "holiday"
    calendar = hours.calendar if hours.calendar is not None else tenant_calendar
    if day in holidays(calendar, day.year):
        return [], "holiday"
    if iso in hours.closed:
        return [], "closed_date"
    ranges: list[str] = getattr(hours, WEEKDAYS[day.weekday()])
    return [_span(r) for r in ranges], "schedule"


@cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_time(tz: str, t_ms: int) -> tuple[datetime.date, int]:
    """The local date and ms since local midnight of the UTC instant ``t_ms``."""
    local = (_EPOCH + datetime.timedelta(milliseconds=t_ms)).astimezone(_zone(tz))
    ms = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000
    return local.date(), ms + local.microsecond // 1000


def is_open(hours: Hours, tenant_tz: str, tenant_calendar: Calendar, t_ms: int) -> tuple[bool, str]:
    """Whether the schedule is open at ``t_ms`` (UTC ms), and the rule that decided:
    ``holiday``, ``closed_date`` or ``schedule`` (docs/routing.md 4b).

    ``tenant_calendar`` is the tenant's ``holidays``, used unless ``hours.calendar`` names
    one. Emergencies are not considered here: they are engine state, not schedule.
    """
    day, ms = local_time(tenant_tz, t_ms)
    ranges, reason = day_rule(hours, tenant_calendar, day)
    return any(start <= ms < end for start, end in ranges), reason


def _to_ms(moment: datetime.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _offset_ms(zone: zoneinfo.ZoneInfo, t_ms: int) -> int:
    offset = (_EPOCH + datetime.timedelta(milliseconds=t_ms)).astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() * 1000)


def _candidates(hours: Hours, tz: str, calendar: Calendar, day: datetime.date) -> list[int]:
    """Every instant at which the answer may change because of local date ``day``: its
    midnight and range ends read in both folds (a repeated hour has two), and any clock
    change during it (a skipped hour moves a boundary inside it to the change)."""
    zone = _zone(tz)
    ranges, _ = day_rule(hours, calendar, day)
    marks = {0, *(s for s, _ in ranges), *(e for _, e in ranges)}
    midnight = datetime.datetime.combine(day, datetime.time())
    found: set[int] = set()
    for mark in marks:
        wall = midnight + datetime.timedelta(milliseconds=mark)
        for fold in (0, 1):
            found.add(_to_ms(wall.replace(tzinfo=zone, fold=fold).astimezone(datetime.UTC)))
    # A clock change: the offset differs between the day's two midnights; find the first
    # instant with the later offset by bisection (exact to the millisecond).
    lo = _to_ms(midnight.replace(tzinfo=zone).astimezone(datetime.UTC))
    tomorrow = midnight + datetime.timedelta(days=1)
    hi = _to_ms(tomorrow.replace(tzinfo=zone).astimezone(datetime.UTC))
    if _offset_ms(zone, lo) != _offset_ms(zone, hi):
        after = _offset_ms(zone, hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_ms(zone, mid) == after:
                hi = mid
            else:
                lo = mid
        found.add(hi)
    return sorted(found)


def _boundaries(hours: Hours, tz: str, calendar: Calendar, t_ms: int) -> Iterator[int]:
    """Candidate instants after ``t_ms`` in increasing order (a superset of the changes).

    Local dates are taken in order; an instant is handed out only once no later date can
    produce an earlier one (a local date's instants lie within a day of its midnight).
    """
    day, _ = local_time(tz, t_ms)
    day -= datetime.timedelta(days=1)
    heap: list[int] = []
    while True:
        next_floor = _to_ms(datetime.datetime.combine(day, datetime.time(), datetime.UTC))
        next_floor -= _SLACK_MS
        while heap and heap[0] < next_floor:
            c = heapq.heappop(heap)
            if c > t_ms:
                yield c
        if next_floor > t_ms + HORIZON_MS:
            return  # what is left lies beyond the horizon
        for c in _candidates(hours, tz, calendar, day):
            heapq.heappush(heap, c)
        day += datetime.timedelta(days=1)


def next_change(hours: Hours, tz: str, calendar: Calendar, t_ms: int) -> int | None:
    """The first instant after ``t_ms`` at which :func:`is_open` gives the other answer, or
    None when the answer stays the same for :data:`HORIZON_MS` (366 days) after ``t_ms``.

    This is when the engine's schedule timer for the queue is due. The answer is constant
    between consecutive candidate instants, so the first candidate with the other answer is
    the change.
    """
    now, _ = is_open(hours, tz, calendar, t_ms)
    for c in _boundaries(hours, tz, calendar, t_ms):
        if c > t_ms + HORIZON_MS:
            return None
        if is_open(hours, tz, calendar, c)[0] != now:
            return c
    return None


def open_periods(
    hours: Hours, tz: str, calendar: Calendar, start_ms: int, end_ms: int
) -> list[tuple[int, int]]:
    """The intervals [open, close) within [start_ms, end_ms) when the schedule is open,
    clipped to that window; for documentation, reports and tests."""
    periods: list[tuple[int, int]] = []
    t = start_ms
    is_up, _ = is_open(hours, tz, calendar, t)
    while t < end_ms:
        change = next_change(hours, tz, calendar, t)
        until = end_ms if change is None else min(change, end_ms)
        if is_up:
            periods.append((t, until))
        if change is None:
            break
        t, is_up = change, not is_up
    return periods


def _clock(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // MINUTE_MS % 60:02d}"


def describe(cfg: Config, start: datetime.date, days: int, queue: str | None = None) -> str:
    """The service hours of each queue with ``hours`` (or just ``queue``) for ``days`` local
    days from ``start``: what `ccroute hours` prints, so an operator can check a schedule
    (holidays, closed dates, special hours) before it goes live."""
    queues = [q for q in cfg.queues if q.hours is not None and queue in (None, q.id)]
    if queue is not None and not any(q.id == queue for q in cfg.queues):
        raise KeyError(queue)
    tenants = {t.id: t for t in cfg.tenants}
    out: list[str] = []
    for q in queues:
        assert q.hours is not None
        t = tenants[q.tenant]
        calendar = q.hours.calendar if q.hours.calendar is not None else t.holidays
        out.append(
            f"{q.id} ({q.tenant}, {t.timezone}, holidays {calendar}); "
            f"outside hours: {q.hours.outside}; at closing: {q.hours.at_closing}"
        )
        for n in range(days):
            day = start + datetime.timedelta(days=n)
            ranges, rule = day_rule(q.hours, t.holidays, day)
            spans = ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in ranges) or "closed"
            note = ""
            if rule == "holiday":
                listed = {h.date: h.name for h in q.hours.holidays}
                name = listed.get(day.isoformat()) or holidays(calendar, day.year).get(day, "")
                note = f"  holiday{': ' + name if name else ''}"
            elif rule == "closed_date":
                note = "  closed date"
            out.append(f"  {day:%a %Y-%m-%d}  {spans}{note}")
    if not queues and queue is not None:
        out.append(f"{queue} has no service hours: it is always open")
    elif not queues:
        out.append("no queue has service hours: every queue is always open")
    return "\n".join(out)
