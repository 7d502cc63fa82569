//! Service hours: whether a queue's schedule is open at an instant, and when that answer
//! next changes (docs/routing.md, section 4b). Time zones come from the IANA database
//! compiled into chrono-tz, so the answer depends on nothing but the configuration and
//! the instant. The holiday calendars are calendar.rs's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

use crate::calendar::{is_public_holiday, Calendar};
use crate::config::HoursCfg;
use crate::error::CoreError;

const DAY_MS: i64 = 86_400_000;
/// Without a change within this long, a schedule sets no timer.
const HORIZON_MS: i64 = 366 * DAY_MS;

/// Which rule decided an answer: reported in `queue_status.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Holiday,
    ClosedDate,
    Schedule,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Holiday => "holiday",
            Why::ClosedDate => "closed_date",
            Why::Schedule => "schedule",
        }
    }
}

/// Local opening ranges of one day, in minutes since local midnight: `[start, end)`.
type Ranges = Vec<(u32, u32)>;

pub struct Schedule {
    tz: Tz,
    /// Monday first.
    weekly: [Ranges; 7],
    calendar: Calendar,
    holidays: BTreeMap<NaiveDate, Ranges>,
    closed: BTreeSet<NaiveDate>,
}

fn parse_ranges(list: &[String], key: &str) -> Result<Ranges, CoreError> {
    let minute = |s: &str| -> Option<u32> {
        let (h, m) = s.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    list.iter()
        .map(|r| {
            let parsed = r
                .split_once('-')
                .and_then(|(a, b)| Some((minute(a)?, minute(b)?)));
            match parsed {
                Some((a, b)) if a < b => Ok((a, b)),
                _ => Err(CoreError::Config(format!(
                    "{key}: {r:?} is not a range HH:MM-HH:MM"
                ))),
            }
        })
        .collect()
}

fn parse_date(s: &str, key: &str) -> Result<NaiveDate, CoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| CoreError::Config(format!("{key}: {s:?} is not a date YYYY-MM-DD")))
}

impl Schedule {
    pub fn new(
        cfg: &HoursCfg,
        timezone: &str,
        tenant_calendar: Calendar,
    ) -> Result<Self, CoreError> {
        let tz: Tz = timezone
            .parse()
            .map_err(|_| CoreError::Config(format!("unknown time zone {timezone:?}")))?;
        let days = [
            &cfg.mon, &cfg.tue, &cfg.wed, &cfg.thu, &cfg.fri, &cfg.sat, &cfg.sun,
        ];
        let mut weekly: [Ranges; 7] = Default::default();
        for (i, d) in days.iter().enumerate() {
            weekly[i] = parse_ranges(d, "hours")?;
        }
        let mut holidays = BTreeMap::new();
        for h in &cfg.holidays {
            holidays.insert(
                parse_date(&h.date, "hours.holidays")?,
                parse_ranges(&h.hours, "hours.holidays")?,
            );
        }
        let closed = cfg
            .closed
            .iter()
            .map(|d| parse_date(d, "hours.closed"))
            .collect::<Result<_, _>>()?;
        Ok(Schedule {
            tz,
            weekly,
            calendar: cfg.calendar.unwrap_or(tenant_calendar),
            holidays,
            closed,
        })
    }

    fn offset_ms(&self, t: i64) -> i64 {
        let utc = chrono::DateTime::from_timestamp_millis(t)
            .unwrap_or_default()
            .naive_utc();
        self.tz
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc() as i64
            * 1000
    }

    /// The local date and the milliseconds since local midnight of instant `t`.
    fn local(&self, t: i64) -> (NaiveDate, i64) {
        let local = t + self.offset_ms(t);
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let days = local.div_euclid(DAY_MS);
        let date = if days >= 0 {
            epoch.checked_add_days(Days::new(days as u64))
        } else {
            epoch.checked_sub_days(Days::new(days.unsigned_abs()))
        };
        (date.unwrap_or(epoch), local.rem_euclid(DAY_MS))
    }

    fn ranges_for(&self, d: NaiveDate) -> (&[(u32, u32)], Why) {
        if let Some(r) = self.holidays.get(&d) {
            return (r, Why::Holiday);
        }
        if is_public_holiday(self.calendar, d) {
            return (&[], Why::Holiday);
        }
        if self.closed.contains(&d) {
            return (&[], Why::ClosedDate);
        }
        (
            &self.weekly[d.weekday().num_days_from_monday() as usize],
            Why::Schedule,
        )
    }

    /// Whether the schedule is open at `t`, and the rule that says so.
    pub fn open_at(&self, t: i64) -> (bool, Why) {
        let (d, ms) = self.local(t);
        let (ranges, why) = self.ranges_for(d);
        let open = ranges
            .iter()
            .any(|&(a, b)| a as i64 * 60_000 <= ms && ms < b as i64 * 60_000);
        (open, why)
    }

    /// The first instant after `t` at which `open_at` gives the other answer, if there is
    /// one within 366 days. Answers change only where local time crosses a range boundary or
    /// midnight, or where the offset changes (DST), so those instants are visited in order.
    pub fn next_change(&self, t: i64) -> Option<i64> {
        let state = self.open_at(t).0;
        let mut cur = t;
        while cur < t + HORIZON_MS {
            let off = self.offset_ms(cur);
            let (d, ms) = self.local(cur);
            let (ranges, _) = self.ranges_for(d);
            let mut next = DAY_MS;
            for &(a, b) in ranges {
                for x in [a as i64 * 60_000, b as i64 * 60_000] {
                    if x > ms && x < next {
                        next = x;
                    }
                }
            }
            let mut cand = cur + (next - ms);
            if self.offset_ms(cand) != off {
                // The offset changes before the boundary: stop at the change itself.
                let (mut lo, mut hi) = (cur, cand);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.offset_ms(mid) == off {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                cand = hi;
            }
            if cand > t + HORIZON_MS {
                return None;
            }
            if self.open_at(cand).0 != state {
                return Some(cand);
            }
            cur = cand;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekday_schedule() -> Schedule {
        let cfg = HoursCfg {
            mon: vec!["08:00-18:00".into()],
            tue: vec!["08:00-18:00".into()],
            wed: vec!["08:00-18:00".into()],
            thu: vec!["08:00-18:00".into()],
            fri: vec!["08:00-16:00".into()],
            calendar: Some(Calendar::Fi),
            ..HoursCfg::default()
        };
        Schedule::new(&cfg, "Europe/Helsinki", Calendar::None).unwrap()
    }

    #[test]
    fn friday_closing_and_monday_opening_in_helsinki() {
        let s = weekday_schedule();
        // Fri 2026-11-27 15:59 local (UTC+2) = 13:59 UTC
        let fri_1359 = 1_795_787_940_000;
        assert_eq!(s.open_at(fri_1359), (true, Why::Schedule));
        let close = s.next_change(fri_1359).unwrap();
        assert_eq!(close, fri_1359 + 60_000);
        let open = s.next_change(close).unwrap();
        // Mon 2026-11-30 08:00 local = 06:00 UTC
        assert_eq!(open, 1_796_018_400_000);
    }

    #[test]
    fn dst_day_keeps_local_opening_time() {
        let s = weekday_schedule();
        // Sun 2026-03-29 is the EU switch to summer time; Mon 08:00 EEST = 05:00 UTC.
        let sat = 1_774_692_000_000; // Sat 2026-03-28 10:00 UTC
        let open = s.next_change(sat).unwrap();
        assert_eq!(open, 1_774_846_800_000);
    }
}
