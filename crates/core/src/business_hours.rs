//! Business hours: a named calendar of working time in one time zone
//! (weekly hours, several ranges a day, and holidays, once or every year),
//! and the arithmetic SLAs and rules need on it: whether an instant is
//! within working time, the instant a given amount of working time after
//! another, and the working time between two instants.
//!
//! Ranges are wall-clock times in the calendar's zone, so "09:00–17:00"
//! stays 09:00–17:00 across daylight-saving changes; a range that starts
//! or ends in a skipped hour is moved as `jiff` moves such times (forward
//! across the gap).

use std::fmt;

use jiff::civil::{Date, Time, Weekday};

use crate::{Timestamp, Zone};

/// Minutes since midnight, 0 to 1440 (the end of the day).
type Minute = u16;

const DAY_MINUTES: Minute = 24 * 60;
/// How far ahead the arithmetic looks for working time before it gives up:
/// a calendar with hours finds some within a week, holidays aside.
const SEARCH_DAYS: i32 = 3 * 366;

/// The weekdays in the order forms and pages show them.
pub const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Monday, "Monday"),
    (Weekday::Tuesday, "Tuesday"),
    (Weekday::Wednesday, "Wednesday"),
    (Weekday::Thursday, "Thursday"),
    (Weekday::Friday, "Friday"),
    (Weekday::Saturday, "Saturday"),
    (Weekday::Sunday, "Sunday"),
];

/// What is wrong with a calendar as typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "Write hours as 09:00-17:00, several separated by commas, with each ending after it starts."
    )]
    Hours,
    #[error("Ranges of one day must not overlap.")]
    Overlap,
    #[error(
        "Write each holiday on its own line as 2026-12-25, adding \"yearly\" for one that comes back every year."
    )]
    Holiday,
    #[error("A calendar has at most 366 holidays.")]
    TooManyHolidays,
}

/// One day's working time: ranges of minutes, sorted, not overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayHours(Vec<(Minute, Minute)>);

impl DayHours {
    /// `09:00-12:00, 13:00-17:30`; empty for a day off. `24:00` ends the
    /// day.
    pub fn parse(text: &str) -> Result<DayHours, CalendarError> {
        let mut ranges = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (start, end) = part.split_once(['-', '–']).ok_or(CalendarError::Hours)?;
            let start = parse_minute(start.trim())?;
            let end = parse_minute(end.trim())?;
            if end <= start {
                return Err(CalendarError::Hours);
            }
            ranges.push((start, end));
        }
        if ranges.len() > 12 {
            return Err(CalendarError::Hours);
        }
        ranges.sort_unstable();
        if ranges.windows(2).any(|pair| pair[1].0 < pair[0].1) {
            return Err(CalendarError::Overlap);
        }
        Ok(DayHours(ranges))
    }

    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }

    /// Minutes of working time in the day.
    pub fn minutes(&self) -> u32 {
        self.0
            .iter()
            .map(|(start, end)| u32::from(end - start))
            .sum()
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self
            .0
            .iter()
            .map(|(start, end)| format!("{}-{}", clock(*start), clock(*end)))
            .collect();
        formatter.write_str(&ranges.join(", "))
    }
}

/// `9:00`, `09:00` or `24:00` as minutes since midnight.
fn parse_minute(text: &str) -> Result<Minute, CalendarError> {
    let (hours, minutes) = text.split_once(':').ok_or(CalendarError::Hours)?;
    let digits = |part: &str| {
        (!part.is_empty() && part.len() <= 2 && part.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| part.parse::<Minute>().ok())
            .flatten()
    };
    let (hours, minutes) = digits(hours)
        .zip(digits(minutes))
        .ok_or(CalendarError::Hours)?;
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes > 0) {
        return Err(CalendarError::Hours);
    }
    Ok(hours * 60 + minutes)
}

/// Minutes since midnight as `09:30`.
fn clock(minute: Minute) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A day off: on one date, or on that day and month every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub yearly: bool,
}

impl Holiday {
    fn falls_on(&self, date: Date) -> bool {
        if self.yearly {
            self.date.month() == date.month() && self.date.day() == date.day()
        } else {
            self.date == date
        }
    }
}

/// Holidays as typed: one a line, `2026-12-25` or `2026-12-25 yearly`,
/// anything after that a name for the reader (`2026-12-25 yearly
/// Christmas`). Blank lines are skipped.
pub fn parse_holidays(text: &str) -> Result<Vec<Holiday>, CalendarError> {
    let mut holidays = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let mut words = line.split_whitespace();
        let date: Date = words
            .next()
            .and_then(|word| word.parse().ok())
            .ok_or(CalendarError::Holiday)?;
        let yearly = words
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("yearly"));
        holidays.push(Holiday { date, yearly });
    }
    holidays.sort_by_key(|holiday| (holiday.date, holiday.yearly));
    holidays.dedup();
    if holidays.len() > 366 {
        return Err(CalendarError::TooManyHolidays);
    }
    Ok(holidays)
}

/// Holidays as the form shows them again.
pub fn holidays_text(holidays: &[Holiday]) -> String {
    holidays
        .iter()
        .map(|holiday| {
            if holiday.yearly {
                format!("{} yearly", holiday.date)
            } else {
                holiday.date.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The working time of one calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    pub zone: Zone,
    /// Monday first.
    pub week: [DayHours; 7],
    pub holidays: Vec<Holiday>,
}

/// One stretch of working time, in Unix milliseconds: `[start, end)`.
type Stretch = (i64, i64);

impl BusinessCalendar {
    /// Whether the calendar has any working time at all.
    pub fn has_hours(&self) -> bool {
        self.week.iter().any(|day| !day.is_closed())
    }

    fn hours_on(&self, date: Date) -> &DayHours {
        let index = date.weekday().to_monday_zero_offset();
        &self.week[usize::try_from(index).unwrap_or(0)]
    }

    fn is_holiday(&self, date: Date) -> bool {
        self.holidays.iter().any(|holiday| holiday.falls_on(date))
    }

    /// The instant a wall-clock minute of `date` is in the calendar's zone.
    fn instant(&self, date: Date, minute: Minute) -> Option<i64> {
        let (date, minute) = if minute >= DAY_MINUTES {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, minute)
        };
        let time = Time::new(
            i8::try_from(minute / 60).ok()?,
            i8::try_from(minute % 60).ok()?,
            0,
            0,
        )
        .ok()?;
        let zoned = date
            .to_datetime(time)
            .to_zoned(self.zone.time_zone())
            .ok()?;
        Some(zoned.timestamp().as_millisecond())
    }

    /// The stretches of working time of one date, in order.
    fn stretches_on(&self, date: Date) -> Vec<Stretch> {
        if self.is_holiday(date) {
            return Vec::new();
        }
        self.hours_on(date)
            .0
            .iter()
            .filter_map(|(start, end)| {
                let start = self.instant(date, *start)?;
                let end = self.instant(date, *end)?;
                (end > start).then_some((start, end))
            })
            .collect()
    }

    /// The calendar date an instant falls on in the calendar's zone.
    fn local_date(&self, at: i64) -> Option<Date> {
        jiff::Timestamp::from_millisecond(at)
            .ok()
            .map(|instant| instant.to_zoned(self.zone.time_zone()).date())
    }

    /// Each stretch of working time that ends after `from`, in order,
    /// cut to start no earlier than `from`; for at most `SEARCH_DAYS`.
    fn stretches_from(&self, from: i64) -> impl Iterator<Item = Stretch> + '_ {
        let first = self.local_date(from);
        (0..SEARCH_DAYS)
            .map_while(move |offset| first?.checked_add(jiff::Span::new().days(offset)).ok())
            .flat_map(move |date| self.stretches_on(date))
            .filter(move |(_, end)| *end > from)
            .map(move |(start, end)| (start.max(from), end))
    }

    /// Whether `at` is within working time.
    pub fn is_working(&self, at: Timestamp) -> bool {
        self.stretches_from(at.0)
            .next()
            .is_some_and(|(start, _)| start <= at.0)
    }

    /// The instant `working_millis` of working time after `from` (a due
    /// time); `None` when the calendar has no working time within the
    /// next three years.
    pub fn add_working_time(&self, from: Timestamp, working_millis: i64) -> Option<Timestamp> {
        let mut left = working_millis.max(0);
        for (start, end) in self.stretches_from(from.0) {
            let length = end - start;
            if left <= length {
                // Zero working time from outside hours is the next opening.
                return Some(Timestamp(start + left));
            }
            left -= length;
        }
        None
    }

    /// The working time between two instants, in milliseconds (0 when `to`
    /// is not after `from`).
    pub fn working_time_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        let mut total = 0;
        for (start, end) in self.stretches_from(from.0) {
            if start >= to.0 {
                break;
            }
            total += end.min(to.0) - start;
        }
        total
    }

    /// When working time next begins at or after `at` (`at` itself during
    /// working time).
    pub fn next_opening(&self, at: Timestamp) -> Option<Timestamp> {
        self.stretches_from(at.0)
            .next()
            .map(|(start, _)| Timestamp(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, zone: &str) -> Timestamp {
        let zoned: jiff::Zoned = format!("{text}[{zone}]").parse().unwrap();
        Timestamp(zoned.timestamp().as_millisecond())
    }

    fn shown(at: Timestamp, zone: &str) -> String {
        jiff::Timestamp::from_millisecond(at.0)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get(zone).unwrap())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// Monday to Friday 09:00–12:00 and 13:00–17:00 in Vienna, Christmas
    /// every year and one bridge day.
    fn vienna() -> BusinessCalendar {
        let working = DayHours::parse("09:00-12:00, 13:00-17:00").unwrap();
        BusinessCalendar {
            zone: Zone::parse("Europe/Vienna").unwrap(),
            week: [
                working.clone(),
                working.clone(),
                working.clone(),
                working.clone(),
                working,
                DayHours::default(),
                DayHours::default(),
            ],
            holidays: parse_holidays("2025-12-25 yearly Christmas\n\n2026-12-28\n").unwrap(),
        }
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn hours_and_holidays_parse_and_show_again() {
        let day = DayHours::parse(" 13:00-17:30,9:00 - 12:00 ").unwrap();
        assert_eq!(day.to_string(), "09:00-12:00, 13:00-17:30");
        assert_eq!(day.minutes(), 7 * 60 + 30);
        assert_eq!(DayHours::parse("").unwrap(), DayHours::default());
        assert_eq!(DayHours::parse("00:00-24:00").unwrap().minutes(), 1440);
        for bad in [
            "9-17",
            "17:00-09:00",
            "09:00-09:00",
            "25:00-26:00",
            "09:60-10:00",
            "24:30-24:45",
            "x",
            "09:00-12:00, 11:00-13:00",
            "009:00-10:00",
        ] {
            assert!(DayHours::parse(bad).is_err(), "{bad}");
        }
        let holidays =
            parse_holidays("2026-12-25 yearly Christmas\n2026-01-06\n2026-01-06").unwrap();
        assert_eq!(holidays_text(&holidays), "2026-01-06\n2026-12-25 yearly");
        assert!(parse_holidays("25.12.2026").is_err());
        assert!(
            parse_holidays(&"2026-01-01\n".repeat(400)).is_ok(),
            "duplicates fold"
        );
        let many: String = (0..400)
            .map(|day| {
                format!(
                    "{}\n",
                    Date::new(2026, 1, 1)
                        .unwrap()
                        .checked_add(jiff::Span::new().days(day))
                        .unwrap()
                )
            })
            .collect();
        assert_eq!(parse_holidays(&many), Err(CalendarError::TooManyHolidays));
    }

    #[test]
    fn working_time_skips_nights_weekends_lunch_and_holidays() {
        let calendar = vienna();
        let zone = "Europe/Vienna";
        // Friday 2026-12-04 16:00: one hour left that day, then Monday.
        let friday = at("2026-12-04T16:00", zone);
        assert!(calendar.is_working(friday));
        assert_eq!(
            shown(calendar.add_working_time(friday, 4 * HOUR).unwrap(), zone),
            "2026-12-07 12:00"
        );
        assert_eq!(
            shown(calendar.add_working_time(friday, 5 * HOUR).unwrap(), zone),
            "2026-12-07 14:00",
            "lunch does not count"
        );
        // Saturday: nothing counts until Monday 09:00.
        let saturday = at("2026-12-05T10:00", zone);
        assert!(!calendar.is_working(saturday));
        assert_eq!(
            shown(calendar.next_opening(saturday).unwrap(), zone),
            "2026-12-07 09:00"
        );
        assert_eq!(
            calendar.working_time_between(saturday, at("2026-12-07T10:30", zone)),
            90 * 60_000
        );
        // Christmas (yearly, from a 2025 entry) and the bridge day are off:
        // Thursday 24th 16:00 + 2 h is Tuesday 29th 10:00.
        let christmas_eve = at("2026-12-24T16:00", zone);
        assert_eq!(
            shown(
                calendar.add_working_time(christmas_eve, 2 * HOUR).unwrap(),
                zone
            ),
            "2026-12-29 10:00"
        );
        assert_eq!(
            calendar.working_time_between(christmas_eve, at("2026-12-29T10:00", zone)),
            2 * HOUR
        );
        // Backwards or equal instants hold no working time.
        assert_eq!(calendar.working_time_between(saturday, friday), 0);
    }

    #[test]
    fn wall_clock_hours_hold_across_daylight_saving_and_midnight() {
        let calendar = vienna();
        let zone = "Europe/Vienna";
        // Clocks go forward on Sunday 2026-03-29: Friday 16:00 + 2 h is
        // still Monday 10:00 local time (UTC+2 now).
        let friday = at("2026-03-27T16:00", zone);
        let due = calendar.add_working_time(friday, 2 * HOUR).unwrap();
        assert_eq!(shown(due, zone), "2026-03-30 10:00");
        assert_eq!(shown(due, "UTC"), "2026-03-30 08:00");
        // A night shift over midnight, in New York.
        let mut nights = BusinessCalendar {
            zone: Zone::parse("America/New_York").unwrap(),
            week: Default::default(),
            holidays: Vec::new(),
        };
        nights.week[0] = DayHours::parse("22:00-24:00").unwrap();
        nights.week[1] = DayHours::parse("00:00-06:00").unwrap();
        let monday_late = at("2026-12-07T23:00", "America/New_York");
        assert!(nights.is_working(monday_late));
        assert_eq!(
            shown(
                nights.add_working_time(monday_late, 3 * HOUR).unwrap(),
                "America/New_York"
            ),
            "2026-12-08 02:00"
        );
        // No hours at all: no due time, never working.
        let closed = BusinessCalendar {
            week: Default::default(),
            ..vienna()
        };
        assert!(!closed.has_hours());
        assert_eq!(closed.add_working_time(friday, HOUR), None);
        assert!(!closed.is_working(friday));
    }
}
