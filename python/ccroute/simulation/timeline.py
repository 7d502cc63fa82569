"""Local calendar -> engine time: days, 15-minute slots and service hours.

The engine speaks UTC milliseconds; people plan in local wall-clock time. Slots are laid
on a UTC grid from local midnight of the first day: Nordic zones are whole hours from
UTC, so every slot is also a local quarter hour, and daylight-saving days simply have 92
or 100 slots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ccroute.simulation.scenario import WEEKDAYS, Hours, Weekday, parse_ranges

SLOT_MS = 15 * 60 * 1000
"""The planning interval: traffic, forecasts and reports use 15 minutes."""
DAY_MS = 24 * 3600 * 1000


def local_to_ms(day: dt.date, minutes: int, zone: ZoneInfo) -> int:
    """UTC ms of ``minutes`` after local midnight of ``day`` (wall clock, may pass 24 h)."""
    wall = dt.datetime(day.year, day.month, day.day, tzinfo=zone) + dt.timedelta(minutes=minutes)
    # Adding a timedelta to an aware datetime moves the wall clock; re-attach the zone so
    # the UTC offset of the new wall time applies (matters on daylight-saving days).
    wall = wall.replace(tzinfo=None).replace(tzinfo=zone)
    return int(wall.timestamp() * 1000)


def weekday_of(day: dt.date) -> Weekday:
    return WEEKDAYS[day.weekday()]


@dataclass(frozen=True, slots=True)
class Slot:
    """One 15-minute interval: UTC start and where it falls in local time."""

    start_ms: int
    day: dt.date
    """Local date."""
    minute: int
    """Local minute of the day at the start (0-1425)."""
    day_index: int
    """Days since the first simulated day."""

    @property
    def weekday(self) -> Weekday:
        return weekday_of(self.day)


@dataclass(frozen=True, slots=True)
class Period:
    """The simulated days, as UTC bounds and 15-minute slots."""

    first_day: dt.date
    days: int
    zone: ZoneInfo
    start_ms: int
    end_ms: int
    slots: tuple[Slot, ...]

    def day(self, i: int) -> dt.date:
        return self.first_day + dt.timedelta(days=i)


def make_period(first_day: dt.date, days: int, zone: ZoneInfo) -> Period:
    """The period from local midnight of ``first_day`` to local midnight ``days`` later."""
    start = local_to_ms(first_day, 0, zone)
    end = local_to_ms(first_day + dt.timedelta(days=days), 0, zone)
    slots: list[Slot] = []
    for ms in range(start, end, SLOT_MS):
        local = dt.datetime.fromtimestamp(ms / 1000, tz=zone)
        day = local.date()
        slots.append(Slot(ms, day, local.hour * 60 + local.minute, (day - first_day).days))
    return Period(first_day, days, zone, start, end, tuple(slots))


class OpenHours:
    """Answers "is the service open in this slot?" for one ``[hours.NAME]``."""

    __slots__ = ("_closed", "_ranges")

    def __init__(self, hours: Hours | None) -> None:
        self._ranges: dict[str, list[tuple[int, int]]] | None = None
        self._closed: frozenset[dt.date] = frozenset()
        if hours is not None:
            self._ranges = {
                d: parse_ranges(text) if (text := getattr(hours, d)) is not None else []
                for d in WEEKDAYS
            }
            self._closed = frozenset(hours.closed)

    def is_open(self, day: dt.date, minute: int) -> bool:
        """Open at the local ``minute`` of ``day`` (a slot is open when its start is)."""
        if self._ranges is None:
            return True
        if day in self._closed:
            return False
        return any(lo <= minute < hi for lo, hi in self._ranges[weekday_of(day)])
