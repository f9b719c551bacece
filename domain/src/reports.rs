//! Report periods (PRODUCT.md section 19): the local days of a time range in a time zone, each
//! as the instants it covers (23 or 25 hours across a daylight-saving change).

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The most days a report groups by day (a bit over a year).
pub const MAX_DAYS: usize = 400;

/// Why a range cannot be reported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("to must be after from")]
    Empty,
    #[error("a report by day covers at most {MAX_DAYS} days")]
    TooLong,
}

/// Checks a report's range.
///
/// # Errors
/// [`RangeError::Empty`] when `to` is not after `from`.
pub fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), RangeError> {
    if to <= from {
        return Err(RangeError::Empty);
    }
    Ok(())
}

/// One local day of a range: its date and the instants `[start, end)` it covers.
pub type LocalDay = (NaiveDate, DateTime<Utc>, DateTime<Utc>);

/// The instant a local date starts in `tz` (its first existing minute when midnight is
/// skipped by a daylight-saving change).
fn start_of(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut at = date.and_time(chrono::NaiveTime::MIN);
    for _ in 0..180 {
        if let Some(found) = tz.from_local_datetime(&at).earliest() {
            return found.with_timezone(&Utc);
        }
        at += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN))
}

/// The local days of `[from, to)` in `tz`, oldest first: each date with the instants it
/// covers within the range (the first and last may be partial).
///
/// # Errors
/// [`RangeError`] for an empty range or more than [`MAX_DAYS`] days.
pub fn local_days(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<LocalDay>, RangeError> {
    check_range(from, to)?;
    let mut date = from.with_timezone(&tz).date_naive();
    let mut days = Vec::new();
    loop {
        let next = date.checked_add_days(Days::new(1)).ok_or(RangeError::TooLong)?;
        let (start, end) = (start_of(tz, date).max(from), start_of(tz, next).min(to));
        if start < end {
            days.push((date, start, end));
        }
        if end >= to {
            return Ok(days);
        }
        if days.len() >= MAX_DAYS {
            return Err(RangeError::TooLong);
        }
        date = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_follow_the_time_zone_across_a_daylight_saving_change() {
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // Madrid leaves summer time on 2026-10-25: that day lasts 25 hours.
        let days = local_days(madrid, at("2026-10-23T22:00:00Z"), at("2026-10-26T23:00:00Z")).unwrap();
        let dates: Vec<String> = days.iter().map(|(d, _, _)| d.to_string()).collect();
        assert_eq!(dates, ["2026-10-24", "2026-10-25", "2026-10-26"]);
        assert_eq!(days[1].1, at("2026-10-24T22:00:00Z"));
        assert_eq!(days[1].2 - days[1].1, chrono::Duration::hours(25));
        assert_eq!(days[2].2 - days[2].1, chrono::Duration::hours(24));
    }

    #[test]
    fn a_partial_range_keeps_partial_days_and_refuses_empty_or_long_ones() {
        let utc: Tz = "UTC".parse().unwrap();
        let days = local_days(utc, at("2026-12-01T12:00:00Z"), at("2026-12-02T06:00:00Z")).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!((days[0].1, days[0].2), (at("2026-12-01T12:00:00Z"), at("2026-12-02T00:00:00Z")));
        assert_eq!((days[1].1, days[1].2), (at("2026-12-02T00:00:00Z"), at("2026-12-02T06:00:00Z")));
        assert_eq!(
            local_days(utc, at("2026-12-02T00:00:00Z"), at("2026-12-01T00:00:00Z")),
            Err(RangeError::Empty)
        );
        assert_eq!(
            local_days(utc, at("2025-01-01T00:00:00Z"), at("2026-12-01T00:00:00Z")),
            Err(RangeError::TooLong)
        );
        let sao_paulo: Tz = "America/Sao_Paulo".parse().unwrap();
        let one = local_days(sao_paulo, at("2026-12-01T03:00:00Z"), at("2026-12-02T03:00:00Z")).unwrap();
        assert_eq!(one.len(), 1, "one whole local day");
    }
}
