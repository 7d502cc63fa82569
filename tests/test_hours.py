"""Service hours (``ccroute.hours``): holiday calendars, open or not, the next change.

Holiday dates (the core's calendar, read through the binding) are checked against the
published Finnish and Swedish calendars; the next
change is checked against a plain minute-by-minute scan, including the nights the clocks
change.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute import _core
from ccroute.config import Hours, config_from_dict
from ccroute.hours import easter, holidays, is_open, local_time, next_change, open_periods
from policy_day import HELSINKI, STOCKHOLM, local

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
OFFICE = {d: ["08:00-16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def hours(**fields: Any) -> Hours:
    """Hours as the configuration reads them (so the ranges are validated too)."""
    raw = {"tenants": [{"id": "t"}], "queues": [{"id": "q", "tenant": "t", "channels": ["voice"]}]}
    raw["queues"][0]["hours"] = fields  # type: ignore[index]
    h = config_from_dict(raw).queues[0].hours
    assert h is not None
    return h


def dates(*text: str) -> list[datetime.date]:
    return [datetime.date.fromisoformat(t) for t in text]


@pytest.mark.parametrize(
    ("year", "sunday"),
    [
        (2024, "2024-03-31"),
        (2025, "2025-04-20"),
        (2026, "2026-04-05"),
        (2027, "2027-03-28"),
        (2038, "2038-04-25"),
        (2285, "2285-03-22"),  # the earliest possible date
        (1943, "1943-04-25"),  # the latest possible date
    ],
)
def test_easter_follows_the_gregorian_computus(year: int, sunday: str) -> None:
    assert easter(year) == datetime.date.fromisoformat(sunday)


def test_finnish_holidays_2026() -> None:
    assert list(holidays("FI", 2026)) == dates(
        "2026-01-01",
        "2026-01-06",
        "2026-04-03",  # Good Friday
        "2026-04-05",
        "2026-04-06",
        "2026-05-01",
        "2026-05-14",  # Ascension Day
        "2026-05-24",  # Whitsun
        "2026-06-19",  # Midsummer Eve
        "2026-06-20",
        "2026-10-31",  # All Saints' Day
        "2026-12-06",  # Independence Day
        "2026-12-24",
        "2026-12-25",
        "2026-12-26",
    )


def test_finnish_holidays_2027() -> None:
    fi = holidays("FI", 2027)
    assert list(fi) == dates(
        "2027-01-01",
        "2027-01-06",
        "2027-03-26",
        "2027-03-28",
        "2027-03-29",
        "2027-05-01",
        "2027-05-06",
        "2027-05-16",
        "2027-06-25",
        "2027-06-26",
        "2027-11-06",
        "2027-12-06",
        "2027-12-24",
        "2027-12-25",
        "2027-12-26",
    )
    assert fi[datetime.date(2027, 6, 25)] == "Midsummer Eve"


def test_swedish_holidays_2026_and_2027() -> None:
    assert list(holidays("SE", 2026)) == dates(
        "2026-01-01",
        "2026-01-06",
        "2026-04-03",
        "2026-04-05",
        "2026-04-06",
        "2026-05-01",
        "2026-05-14",
        "2026-05-24",
        "2026-06-06",  # National Day, on a Saturday
        "2026-06-19",
        "2026-06-20",
        "2026-10-31",
        "2026-12-24",
        "2026-12-25",
        "2026-12-26",
        "2026-12-31",
    )
    se = holidays("SE", 2027)
    assert datetime.date(2027, 12, 6) not in se  # Finland's Independence Day only
    assert {"2027-06-06", "2027-06-25", "2027-11-06", "2027-12-31"} <= {d.isoformat() for d in se}
    assert holidays("none", 2027) == {}


def test_the_holiday_calendar_is_the_cores_and_refuses_what_it_does_not_know() -> None:
    # One definition: the Python names come from the core the engine's schedule follows.
    assert _core.holidays("FI", 2026)[2] == (2026, 4, 3, "Good Friday")
    assert holidays("SE", 2026)[datetime.date(2026, 6, 6)] == "National Day"
    with pytest.raises(ValueError, match='unknown holiday calendar "DK"'):
        _core.holidays("DK", 2026)
    with pytest.raises(ValueError, match="outside 1-9999"):
        _core.holidays("FI", 10_000)


def test_local_time_is_unique_on_both_nights_the_clocks_change() -> None:
    # 2026-03-29 01:00 UTC: Helsinki goes from 03:00 to 04:00.
    spring = datetime.datetime(2026, 3, 29, 1, tzinfo=datetime.UTC)
    t = int(spring.timestamp()) * 1000
    assert local_time(HELSINKI, t - 1) == (datetime.date(2026, 3, 29), 3 * HOUR - 1)
    assert local_time(HELSINKI, t) == (datetime.date(2026, 3, 29), 4 * HOUR)
    # 2026-10-25 01:00 UTC: Helsinki goes from 04:00 back to 03:00.
    autumn = datetime.datetime(2026, 10, 25, 1, tzinfo=datetime.UTC)
    t = int(autumn.timestamp()) * 1000
    assert local_time(HELSINKI, t - 1) == (datetime.date(2026, 10, 25), 4 * HOUR - 1)
    assert local_time(HELSINKI, t) == (datetime.date(2026, 10, 25), 3 * HOUR)


def test_the_first_rule_that_applies_decides() -> None:
    h = hours(
        **OFFICE,
        calendar="FI",
        holidays=[{"date": "2026-12-24", "hours": ["09:00-12:00"]}],
        closed=["2026-11-24"],
    )
    at = local  # Helsinki time
    assert is_open(h, HELSINKI, "none", at("2026-11-23 09:00")) == (True, "schedule")
    assert is_open(h, HELSINKI, "none", at("2026-11-23 16:00")) == (False, "schedule")
    assert is_open(h, HELSINKI, "none", at("2026-11-24 09:00")) == (False, "closed_date")
    # A dated entry overrides the calendar's Christmas Eve; Christmas Day stays closed.
    assert is_open(h, HELSINKI, "none", at("2026-12-24 09:00")) == (True, "holiday")
    assert is_open(h, HELSINKI, "none", at("2026-12-24 12:00")) == (False, "holiday")
    assert is_open(h, HELSINKI, "none", at("2026-12-25 10:00")) == (False, "holiday")


def test_the_queue_calendar_wins_over_the_tenant_one() -> None:
    midsummer = local("2026-06-19 10:00")
    assert is_open(hours(**OFFICE), HELSINKI, "FI", midsummer) == (False, "holiday")
    assert is_open(hours(**OFFICE, calendar="none"), HELSINKI, "FI", midsummer) == (
        True,
        "schedule",
    )
    # Swedish National Day is a Finnish working day.
    national_day = local("2027-06-07 10:00", STOCKHOLM)  # a Monday, not a holiday
    assert is_open(hours(**OFFICE), STOCKHOLM, "SE", national_day)[0]
    assert not is_open(hours(**OFFICE), STOCKHOLM, "SE", local("2027-12-31 10:00", STOCKHOLM))[0]


def test_a_range_ending_at_midnight_runs_into_the_next_day_without_a_change() -> None:
    h = hours(fri=["20:00-24:00"], sat=["00:00-02:00"])
    start = local("2026-11-20 21:00")
    assert next_change(h, HELSINKI, "none", start) == local("2026-11-21 02:00")
    assert is_open(h, HELSINKI, "none", local("2026-11-20 23:59:59"))[0]


def test_on_the_night_summer_time_starts_a_skipped_hour_never_opens() -> None:
    h = hours(sun=["03:15-03:45", "06:00-07:00"])
    saturday = local("2026-03-28 12:00")
    assert next_change(h, HELSINKI, "none", saturday) == local("2026-03-29 06:00")
    # A range across the skipped hour opens at the change itself (local 04:00).
    h = hours(sun=["03:30-05:00"])
    change = int(datetime.datetime(2026, 3, 29, 1, tzinfo=datetime.UTC).timestamp()) * 1000
    assert next_change(h, HELSINKI, "none", saturday) == change


def test_on_the_night_summer_time_ends_the_repeated_hour_is_open_twice() -> None:
    h = hours(sun=["03:00-04:00"])
    utc = datetime.datetime(2026, 10, 25, tzinfo=datetime.UTC)
    midnight = int(utc.timestamp()) * 1000  # 03:00 EEST
    assert open_periods(h, HELSINKI, "none", midnight - DAY, midnight + DAY) == [
        (midnight, midnight + 2 * HOUR)  # 03:00 EEST up to 04:00 EET
    ]


def test_a_schedule_that_never_changes_sets_no_timer() -> None:
    always = hours(
        **{d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    never = hours()
    t = local("2026-01-01 00:00")
    assert next_change(always, HELSINKI, "none", t) is None
    assert next_change(never, HELSINKI, "none", t) is None
    # With a calendar the always-open line closes on the next holiday.
    assert next_change(always, HELSINKI, "FI", local("2026-01-02 00:00")) == local(
        "2026-01-06 00:00"
    )


def test_open_periods_of_a_week_in_stockholm() -> None:
    start = local("2026-06-15 00:00", STOCKHOLM)
    week = open_periods(hours(**OFFICE), STOCKHOLM, "SE", start, start + 7 * DAY)
    # Monday to Thursday; Friday the 19th is Midsummer Eve.
    assert [(b - a) // HOUR for a, b in week] == [8, 8, 8, 8]
    assert week[0][0] == local("2026-06-15 08:00", STOCKHOLM)


ranges = st.lists(
    st.tuples(st.integers(0, 47), st.integers(1, 8)).map(
        lambda p: (
            f"{p[0] // 2:02d}:{p[0] % 2 * 30:02d}-"
            + (
                "24:00"
                if p[0] + p[1] >= 48
                else f"{(p[0] + p[1]) // 2:02d}:{(p[0] + p[1]) % 2 * 30:02d}"
            )
        )
    ),
    max_size=2,
)


def _disjoint(rs: list[str]) -> list[str]:
    """Keep ranges that do not overlap an earlier one (the configuration refuses overlaps)."""
    kept: list[tuple[str, str]] = []
    for r in rs:
        a, b = r.split("-")
        if all(b <= x or a >= y for x, y in kept):
            kept.append((a, b))
    return [f"{a}-{b}" for a, b in kept]


@settings(max_examples=60, deadline=None)
@given(
    week=st.fixed_dictionaries({d: ranges for d in ("fri", "sat", "sun", "mon")}),
    tz=st.sampled_from([HELSINKI, STOCKHOLM]),
    start=st.sampled_from(
        ["2026-03-27 10:00", "2026-10-23 10:00", "2026-06-18 12:00", "2026-12-23 17:10"]
    ),
    offset_min=st.integers(0, 36 * 60),
)
def test_next_change_is_the_first_minute_the_answer_differs(
    week: dict[str, list[str]], tz: str, start: str, offset_min: int
) -> None:
    h = hours(**{d: _disjoint(r) for d, r in week.items()})
    t = local(start, tz) + offset_min * MINUTE + 17_345  # not on a whole minute
    was, _ = is_open(h, tz, "FI", t)
    expected = None
    m = t - t % MINUTE + MINUTE
    while m <= t + 4 * DAY:
        if is_open(h, tz, "FI", m)[0] != was:
            expected = m
            break
        m += MINUTE
    got = next_change(h, tz, "FI", t)
    if expected is None:
        assert got is None or got > t + 4 * DAY
    else:
        assert got == expected
