//! Business hours (PRODUCT.md section 18): a weekly schedule in an IANA time zone, with closed
//! dates. Every local time is resolved through the time-zone database (`chrono-tz`), never a
//! fixed offset, so a week with a daylight-saving change keeps its local opening times.
//!
//! - An interval whose `closes` is at or before its `opens` runs past midnight into the next
//!   day (`22:00`–`02:00`); `00:00`–`00:00` is the whole day.
//! - A closed date closes the whole local day: an interval that starts on it does not open, one
//!   that runs into it from the evening before ends at its midnight.
//! - A local time that does not exist (the hour skipped in spring) is read as the first time
//!   after the gap; one that exists twice (the hour repeated in autumn) as the first of them.
//! - No weekly interval at all means always open.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub use chrono::Weekday;

/// How far ahead a schedule is searched for its next opening (past that: never opens).
const HORIZON_DAYS: i64 = 800;

/// The longest text of an away message.
pub const MAX_AWAY_MESSAGE: usize = 1024;

/// The most weekly intervals and closed dates of one schedule.
pub const MAX_ENTRIES: usize = 366;

/// One weekly opening: on `day`, from `opens` to `closes` (local times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    pub day: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

/// A workspace's business hours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessHours {
    pub time_zone: Tz,
    pub weekly: Vec<Opening>,
    pub closed_dates: Vec<NaiveDate>,
    /// What a customer writing while closed is told (none: no away reply).
    pub away_message: Option<String>,
}

/// Why a schedule was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("timeZone {0:?} is not an IANA time zone (for example \"Europe/Madrid\")")]
    TimeZone(String),
    #[error("{field} {value:?} is not a time of day as HH:MM (00:00 to 23:59)")]
    Time { field: &'static str, value: String },
    #[error("weekly and closedDates hold at most {MAX_ENTRIES} entries each")]
    TooMany,
    #[error("weekly has overlapping openings on {0:?}")]
    Overlap(Weekday),
    #[error("awayMessage must be 1 to {MAX_AWAY_MESSAGE} characters")]
    AwayMessage,
}

/// Reads `HH:MM`.
///
/// # Errors
/// [`HoursError::Time`] naming `field`.
pub fn parse_time(field: &'static str, value: &str) -> Result<NaiveTime, HoursError> {
    let bad = || HoursError::Time { field, value: value.to_owned() };
    let (h, m) = value.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// Reads an IANA time zone name.
///
/// # Errors
/// [`HoursError::TimeZone`].
pub fn parse_time_zone(name: &str) -> Result<Tz, HoursError> {
    name.trim().parse::<Tz>().map_err(|_| HoursError::TimeZone(name.to_owned()))
}

impl BusinessHours {
    /// A schedule, checked: at most [`MAX_ENTRIES`] of each list, no two openings of one
    /// weekday overlapping, an away message of 1 to [`MAX_AWAY_MESSAGE`] characters.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn new(
        time_zone: Tz,
        weekly: Vec<Opening>,
        mut closed_dates: Vec<NaiveDate>,
        away_message: Option<String>,
    ) -> Result<Self, HoursError> {
        if weekly.len() > MAX_ENTRIES || closed_dates.len() > MAX_ENTRIES {
            return Err(HoursError::TooMany);
        }
        let away_message = away_message.map(|m| m.trim().to_owned());
        if away_message.as_ref().is_some_and(|m| m.is_empty() || m.chars().count() > MAX_AWAY_MESSAGE) {
            return Err(HoursError::AwayMessage);
        }
        for (i, a) in weekly.iter().enumerate() {
            for b in &weekly[i + 1..] {
                if a.day == b.day && overlaps(a, b) {
                    return Err(HoursError::Overlap(a.day));
                }
            }
        }
        closed_dates.sort_unstable();
        closed_dates.dedup();
        Ok(Self { time_zone, weekly, closed_dates, away_message })
    }

    /// Open all the time (no weekly opening).
    #[must_use]
    pub fn always_open(&self) -> bool {
        self.weekly.is_empty()
    }

    /// Whether the business is open at `at`.
    #[must_use]
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.always_open()
            || self
                .intervals(at - Duration::days(2), at + Duration::days(2))
                .iter()
                .any(|(s, e)| *s <= at && at < *e)
    }

    /// When the business next opens after `at` (`None`: open now, always open, or not within
    /// the next two years).
    #[must_use]
    pub fn next_opens_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return None;
        }
        self.next_start(at)
    }

    fn next_start(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = at;
        while from < at + Duration::days(HORIZON_DAYS) {
            let to = from + Duration::days(14);
            if let Some((start, _)) = self.intervals(from, to).into_iter().find(|(s, _)| *s > at) {
                return Some(start);
            }
            from = to;
        }
        None
    }

    /// The open time between `from` and `to` (zero when `to` is not after `from`).
    #[must_use]
    pub fn open_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.always_open() {
            return to - from;
        }
        self.intervals(from, to).into_iter().map(|(s, e)| e - s).fold(Duration::zero(), |a, b| a + b)
    }

    /// The instant at which `open` time has passed since `from`, counting only open hours
    /// (`None`: the schedule does not open that long within two years).
    #[must_use]
    pub fn after_open_time(&self, from: DateTime<Utc>, open: Duration) -> Option<DateTime<Utc>> {
        if self.always_open() {
            return Some(from + open);
        }
        let mut left = open;
        let mut cursor = from;
        while cursor < from + Duration::days(HORIZON_DAYS) {
            let to = cursor + Duration::days(14);
            for (s, e) in self.intervals(cursor, to) {
                if e - s >= left {
                    return Some(s + left);
                }
                left -= e - s;
            }
            cursor = to;
        }
        None
    }

    /// The open intervals overlapping `[from, to)`, clipped to it, in order, merged.
    #[must_use]
    pub fn intervals(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let tz = self.time_zone;
        let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
        let last = to.with_timezone(&tz).date_naive();
        let mut found = Vec::new();
        let mut date = first;
        while date <= last {
            if !self.is_closed_date(date) {
                for opening in self.weekly.iter().filter(|o| o.day == date.weekday()) {
                    let start = resolve(tz, date.and_time(opening.opens));
                    let end_date =
                        if opening.closes <= opening.opens { date + Duration::days(1) } else { date };
                    let end = if end_date != date && self.is_closed_date(end_date) {
                        resolve(tz, end_date.and_time(NaiveTime::MIN))
                    } else {
                        resolve(tz, end_date.and_time(opening.closes))
                    };
                    let (s, e) = (start.max(from), end.min(to));
                    if s < e {
                        found.push((s, e));
                    }
                }
            }
            date += Duration::days(1);
        }
        found.sort_unstable();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(found.len());
        for (s, e) in found {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    fn is_closed_date(&self, date: NaiveDate) -> bool {
        self.closed_dates.binary_search(&date).is_ok()
    }
}

/// Whether two openings of one weekday overlap (within that day's span).
fn overlaps(a: &Opening, b: &Opening) -> bool {
    let span = |o: &Opening| {
        let start = o.opens.signed_duration_since(NaiveTime::MIN);
        let mut end = o.closes.signed_duration_since(NaiveTime::MIN);
        if o.closes <= o.opens {
            end += Duration::days(1);
        }
        (start, end)
    };
    let ((a0, a1), (b0, b1)) = (span(a), span(b));
    a0 < b1 && b0 < a1
}

/// A local time as an instant: in a gap, the first time after it; when repeated, the first.
fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..6 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => return at.with_timezone(&Utc),
            LocalResult::None => probe += Duration::minutes(30),
        }
    }
    // No zone skips more than a few hours: read it as UTC rather than fail.
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn t(s: &str) -> NaiveTime {
        parse_time("opens", s).unwrap()
    }

    fn weekdays(tz: &str, opens: &str, closes: &str) -> BusinessHours {
        let weekly = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
            .into_iter()
            .map(|day| Opening { day, opens: t(opens), closes: t(closes) })
            .collect();
        BusinessHours::new(parse_time_zone(tz).unwrap(), weekly, Vec::new(), None).unwrap()
    }

    #[test]
    fn madrid_keeps_nine_local_across_the_october_change() {
        let hours = weekdays("Europe/Madrid", "09:00", "17:30");
        // Friday 23 October 2026: CEST (UTC+2); Monday 26 October: CET (UTC+1).
        assert!(hours.is_open(at("2026-10-23T07:00:00Z")));
        assert!(!hours.is_open(at("2026-10-23T06:59:00Z")));
        assert!(!hours.is_open(at("2026-10-24T10:00:00Z")), "Saturday");
        assert_eq!(hours.next_opens_at(at("2026-10-24T10:00:00Z")), Some(at("2026-10-26T08:00:00Z")));
        assert!(hours.is_open(at("2026-10-26T16:29:00Z")));
        assert!(!hours.is_open(at("2026-10-26T16:30:00Z")));
    }

    #[test]
    fn new_york_keeps_nine_local_across_the_march_change() {
        let hours = weekdays("America/New_York", "09:00", "17:00");
        // Friday 6 March 2026: EST (UTC−5); Monday 9 March: EDT (UTC−4).
        assert_eq!(hours.next_opens_at(at("2026-03-06T22:00:00Z")), Some(at("2026-03-09T13:00:00Z")));
        assert!(hours.is_open(at("2026-03-06T14:00:00Z")));
        assert!(!hours.is_open(at("2026-03-09T12:30:00Z")));
        // The open time of that week: five days of eight hours, whatever the offsets.
        let week = hours.open_time_between(at("2026-03-02T00:00:00Z"), at("2026-03-09T00:00:00Z"));
        assert_eq!(week, Duration::hours(40));
        let next = hours.open_time_between(at("2026-03-08T00:00:00Z"), at("2026-03-15T00:00:00Z"));
        assert_eq!(next, Duration::hours(40));
    }

    #[test]
    fn an_opening_in_the_skipped_hour_starts_after_the_gap() {
        let weekly = vec![Opening { day: Weekday::Sun, opens: t("02:30"), closes: t("04:00") }];
        let hours =
            BusinessHours::new(parse_time_zone("America/New_York").unwrap(), weekly, vec![], None).unwrap();
        // 8 March 2026, 02:00 EST jumps to 03:00 EDT: it opens at 03:00 EDT (07:00Z), 1 hour.
        let day = hours.intervals(at("2026-03-08T00:00:00Z"), at("2026-03-09T00:00:00Z"));
        assert_eq!(day, vec![(at("2026-03-08T07:00:00Z"), at("2026-03-08T08:00:00Z"))]);
    }

    #[test]
    fn a_closed_date_closes_the_day_and_cuts_the_night_before() {
        let weekly = vec![
            Opening { day: Weekday::Thu, opens: t("22:00"), closes: t("02:00") },
            Opening { day: Weekday::Fri, opens: t("09:00"), closes: t("17:00") },
        ];
        let closed = vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()];
        let hours = BusinessHours::new(Tz::Europe__Madrid, weekly, closed, Some("Closed".into())).unwrap();
        // Thursday 24 December 22:00 CET opens; it would run to 02:00 on the 25th: cut at midnight.
        assert!(hours.is_open(at("2026-12-24T22:30:00Z")));
        assert!(!hours.is_open(at("2026-12-25T00:30:00Z")));
        assert!(!hours.is_open(at("2026-12-25T10:00:00Z")), "Friday the 25th is closed");
        // The next opening is Thursday 31 December at 22:00 CET.
        assert_eq!(hours.next_opens_at(at("2026-12-25T10:00:00Z")), Some(at("2026-12-31T21:00:00Z")));
    }

    #[test]
    fn a_schedule_that_closes_after_midnight_is_open_past_it() {
        let weekly = vec![Opening { day: Weekday::Sat, opens: t("20:00"), closes: t("03:00") }];
        let hours = BusinessHours::new(Tz::UTC, weekly, vec![], None).unwrap();
        assert!(hours.is_open(at("2026-12-06T02:59:00Z")), "Sunday 02:59 belongs to Saturday night");
        assert!(!hours.is_open(at("2026-12-06T03:00:00Z")));
        assert_eq!(hours.next_opens_at(at("2026-12-06T03:00:00Z")), Some(at("2026-12-12T20:00:00Z")));
    }

    #[test]
    fn open_time_runs_only_inside_the_hours() {
        let hours = weekdays("UTC", "09:00", "17:00");
        // Friday 16:00 plus two open hours: Monday 10:00.
        let due = hours.after_open_time(at("2026-12-04T16:00:00Z"), Duration::hours(2));
        assert_eq!(due, Some(at("2026-12-07T10:00:00Z")));
        assert_eq!(
            hours.open_time_between(at("2026-12-04T16:00:00Z"), at("2026-12-07T10:00:00Z")),
            Duration::hours(2)
        );
        let always = BusinessHours::new(Tz::UTC, vec![], vec![], None).unwrap();
        assert!(always.is_open(at("2026-12-05T03:00:00Z")));
        assert_eq!(always.next_opens_at(at("2026-12-05T03:00:00Z")), None);
    }

    #[test]
    fn bad_schedules_are_refused_by_rule() {
        assert!(matches!(parse_time("opens", "9:00"), Err(HoursError::Time { .. })));
        assert!(matches!(parse_time("closes", "24:00"), Err(HoursError::Time { .. })));
        assert!(matches!(parse_time_zone("Europe/Atlantis"), Err(HoursError::TimeZone(_))));
        let weekly = vec![
            Opening { day: Weekday::Mon, opens: t("09:00"), closes: t("13:00") },
            Opening { day: Weekday::Mon, opens: t("12:00"), closes: t("17:00") },
        ];
        assert_eq!(BusinessHours::new(Tz::UTC, weekly, vec![], None), Err(HoursError::Overlap(Weekday::Mon)));
        assert_eq!(
            BusinessHours::new(Tz::UTC, vec![], vec![], Some("  ".into())),
            Err(HoursError::AwayMessage)
        );
    }
}
