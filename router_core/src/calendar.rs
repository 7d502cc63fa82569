//! Public-holiday calendars a contact centre closes on: Finland's and Sweden's, Easter
//! included. The one definition in ccroute: the schedule (hours.rs) asks it whether a date
//! is a holiday, and the Python package reads the names from it through the binding
//! (`ccroute._core.holidays`).
//!
//! This module depends on nothing else in the crate: the configuration (config.rs) names a
//! calendar, the schedule (hours.rs) reads the configuration, and neither is needed here.

use chrono::{Datelike, Days, NaiveDate, TimeDelta, Weekday};
use serde::Deserialize;

/// Public-holiday calendars a contact centre closes on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Calendar {
    #[serde(rename = "FI")]
    Fi,
    #[serde(rename = "SE")]
    Se,
    #[default]
    #[serde(rename = "none")]
    None,
}

impl Calendar {
    /// The calendar a configuration names: `FI`, `SE` or `none`.
    pub fn from_name(name: &str) -> Option<Calendar> {
        match name {
            "FI" => Some(Calendar::Fi),
            "SE" => Some(Calendar::Se),
            "none" => Some(Calendar::None),
            _ => None,
        }
    }
}

/// Easter Sunday by the anonymous Gregorian computus.
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("computus gives a date")
}

/// The date with weekday `wd` in the 7 days starting at (month, day).
fn weekday_from(year: i32, month: u32, day: u32, wd: Weekday) -> Option<NaiveDate> {
    let start = NaiveDate::from_ymd_opt(year, month, day)?;
    (0..7)
        .filter_map(|i| start.checked_add_days(Days::new(i)))
        .find(|d| d.weekday() == wd)
}

/// The public holidays of `cal` in `year`, by date, with their English names (the days
/// docs/routing.md 4b lists). `Calendar::None` has none.
pub fn holidays(cal: Calendar, year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed: &[(u32, u32, &'static str)] = match cal {
        Calendar::None => return Vec::new(),
        Calendar::Fi => &[(12, 6, "Independence Day")],
        Calendar::Se => &[(6, 6, "National Day"), (12, 31, "New Year's Eve")],
    };
    let common: [(u32, u32, &'static str); 6] = [
        (1, 1, "New Year's Day"),
        (1, 6, "Epiphany"),
        (5, 1, "May Day"),
        (12, 24, "Christmas Eve"),
        (12, 25, "Christmas Day"),
        (12, 26, "Boxing Day"),
    ];
    let e = easter(year);
    let from_easter = [
        (-2, "Good Friday"),
        (0, "Easter Sunday"),
        (1, "Easter Monday"),
        (39, "Ascension Day"),
        (49, "Whitsun"),
    ];
    let by_weekday = [
        (weekday_from(year, 6, 19, Weekday::Fri), "Midsummer Eve"),
        (weekday_from(year, 6, 20, Weekday::Sat), "Midsummer Day"),
        (weekday_from(year, 10, 31, Weekday::Sat), "All Saints' Day"),
    ];
    let mut days: Vec<(NaiveDate, &'static str)> = common
        .iter()
        .chain(fixed)
        .filter_map(|&(m, d, name)| Some((NaiveDate::from_ymd_opt(year, m, d)?, name)))
        .chain(
            from_easter
                .iter()
                .filter_map(|&(n, name)| Some((e.checked_add_signed(TimeDelta::days(n))?, name))),
        )
        .chain(by_weekday.iter().filter_map(|&(d, name)| Some((d?, name))))
        .collect();
    days.sort_unstable();
    days
}

/// The name of the public holiday `d` is in calendar `cal`, if it is one.
pub fn holiday_name(cal: Calendar, d: NaiveDate) -> Option<&'static str> {
    holidays(cal, d.year())
        .into_iter()
        .find(|(day, _)| *day == d)
        .map(|(_, name)| name)
}

pub fn is_public_holiday(cal: Calendar, d: NaiveDate) -> bool {
    holiday_name(cal, d).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_and_nordic_holidays() {
        assert_eq!(easter(2026), ymd(2026, 4, 5));
        assert_eq!(easter(2027), ymd(2027, 3, 28));
        assert!(is_public_holiday(Calendar::Fi, ymd(2026, 6, 19))); // Midsummer Eve
        assert!(is_public_holiday(Calendar::Se, ymd(2026, 6, 6))); // National Day
        assert!(!is_public_holiday(Calendar::Fi, ymd(2026, 6, 6)));
        assert!(is_public_holiday(Calendar::Fi, ymd(2026, 10, 31))); // All Saints' (Sat)
        assert!(is_public_holiday(Calendar::Fi, ymd(2026, 5, 14))); // Ascension
        assert!(is_public_holiday(Calendar::Se, ymd(2026, 12, 31)));
        assert!(!is_public_holiday(Calendar::Fi, ymd(2026, 12, 31)));
        assert!(!is_public_holiday(Calendar::None, ymd(2026, 12, 25)));
    }

    #[test]
    fn finland_has_fifteen_holidays_sweden_sixteen_in_date_order() {
        let fi = holidays(Calendar::Fi, 2026);
        assert_eq!(fi.len(), 15);
        assert_eq!(holidays(Calendar::Se, 2026).len(), 16);
        assert!(fi.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(fi[2], (ymd(2026, 4, 3), "Good Friday"));
        assert_eq!(
            holiday_name(Calendar::Se, ymd(2026, 6, 20)),
            Some("Midsummer Day")
        );
    }
}
