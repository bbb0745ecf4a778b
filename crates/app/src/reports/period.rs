//! A report's period in the reader's time zone: whole local days, the
//! same length of time before it to compare with, and the buckets its
//! charts are drawn in (days, or weeks for long periods).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{ToSpan, Zoned};

use crate::{AppError, AppResult};

/// The periods the dashboard offers: (key, words).
pub const PERIODS: [(&str, &str); 7] = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("365d", "Last 12 months"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("custom", "From – to"),
];

/// Longest period a report reads, in days.
pub const MAX_DAYS: i64 = 731;
/// Periods up to this many days are drawn day by day; longer ones by week.
const DAILY_UP_TO: i64 = 92;

/// A period of whole local days, `[first, last]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub first: Date,
    pub last: Date,
    zone: TimeZone,
}

/// How the builder groups time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Day,
    Week,
    Month,
}

/// One bar or point of a chart: from its start to the next one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: i64,
    pub end: i64,
    /// `Dec 4` or, by week, `Dec 4–10`.
    pub label: String,
}

fn midnight(date: Date, zone: &TimeZone) -> AppResult<i64> {
    date.to_zoned(zone.clone())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .map_err(|error| AppError::Internal(error.to_string()))
}

fn parse_date(text: &str, field: &'static str) -> AppResult<Date> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| AppError::invalid(field, "Write the date as 2026-11-30."))
}

impl Period {
    /// The period a form asks for, on the local calendar of `zone`,
    /// `today` being the reader's date now.
    pub fn parse(key: &str, from: &str, to: &str, today: &Zoned) -> AppResult<Period> {
        let zone = today.time_zone().clone();
        let today = today.date();
        let days_back = |days: i64| -> AppResult<(Date, Date)> {
            let first = today
                .checked_sub((days - 1).days())
                .map_err(|error| AppError::Internal(error.to_string()))?;
            Ok((first, today))
        };
        let (key, (first, last)) = match key {
            "" | "30d" => ("30d", days_back(30)?),
            "7d" => ("7d", days_back(7)?),
            "90d" => ("90d", days_back(90)?),
            "365d" => ("365d", days_back(365)?),
            "this_month" => ("this_month", (today.first_of_month(), today)),
            "last_month" => {
                let first = today
                    .first_of_month()
                    .checked_sub(1.month())
                    .map_err(|error| AppError::Internal(error.to_string()))?;
                ("last_month", (first, first.last_of_month()))
            }
            "custom" => {
                let first = parse_date(from, "from")?;
                let last = parse_date(to, "to")?;
                if last < first {
                    return Err(AppError::invalid("to", "The end comes before the start."));
                }
                if (last - first).get_days() >= i32::try_from(MAX_DAYS).unwrap_or(i32::MAX) {
                    return Err(AppError::invalid(
                        "to",
                        "Choose two years at most; the builder counts longer periods by month.",
                    ));
                }
                ("custom", (first, last))
            }
            _ => return Err(AppError::invalid("period", "Choose one of the periods.")),
        };
        Ok(Period {
            key: key.to_owned(),
            first,
            last,
            zone,
        })
    }

    /// `[from, until)` in milliseconds.
    pub fn bounds(&self) -> AppResult<(i64, i64)> {
        let after = self
            .last
            .tomorrow()
            .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok((
            midnight(self.first, &self.zone)?,
            midnight(after, &self.zone)?,
        ))
    }

    /// How many days it spans.
    pub fn days(&self) -> i64 {
        i64::from((self.last - self.first).get_days()) + 1
    }

    /// The period just before, of the same number of days.
    pub fn previous(&self) -> AppResult<Period> {
        let last = self
            .first
            .yesterday()
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let first = last
            .checked_sub((self.days() - 1).days())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok(Period {
            key: "previous".to_owned(),
            first,
            last,
            zone: self.zone.clone(),
        })
    }

    /// `Nov 5 – Dec 4, 2026`.
    pub fn words(&self) -> String {
        if self.first.year() == self.last.year() {
            format!(
                "{} – {}",
                self.first.strftime("%b %-d"),
                self.last.strftime("%b %-d, %Y")
            )
        } else {
            format!(
                "{} – {}",
                self.first.strftime("%b %-d, %Y"),
                self.last.strftime("%b %-d, %Y")
            )
        }
    }

    /// The chart buckets: each day, or each week for long periods.
    pub fn buckets(&self) -> AppResult<Vec<Bucket>> {
        let step: i64 = if self.days() <= DAILY_UP_TO { 1 } else { 7 };
        let mut buckets = Vec::new();
        let mut day = self.first;
        while day <= self.last {
            let next = day
                .checked_add(step.days())
                .map_err(|error| AppError::Internal(error.to_string()))?;
            let last_day = next
                .yesterday()
                .map_err(|error| AppError::Internal(error.to_string()))?
                .min(self.last);
            let label = if step == 1 {
                day.strftime("%b %-d").to_string()
            } else if last_day.month() == day.month() {
                format!("{}–{}", day.strftime("%b %-d"), last_day.day())
            } else {
                format!("{}–{}", day.strftime("%b %-d"), last_day.strftime("%b %-d"))
            };
            let end_day = last_day
                .tomorrow()
                .map_err(|error| AppError::Internal(error.to_string()))?;
            buckets.push(Bucket {
                start: midnight(day, &self.zone)?,
                end: midnight(end_day, &self.zone)?,
                label,
            });
            day = next;
        }
        Ok(buckets)
    }

    /// The builder's buckets: each day, each week (from Monday; the
    /// first and last may be short) or each month (the same).
    pub fn buckets_by(&self, unit: TimeUnit) -> AppResult<Vec<Bucket>> {
        let internal = |error: jiff::Error| AppError::Internal(error.to_string());
        let mut buckets = Vec::new();
        let mut day = self.first;
        while day <= self.last {
            let next = match unit {
                TimeUnit::Day => day.tomorrow().map_err(internal)?,
                TimeUnit::Week => {
                    let into_week = i64::from(day.weekday().to_monday_zero_offset());
                    day.checked_add((7 - into_week).days()).map_err(internal)?
                }
                TimeUnit::Month => day
                    .first_of_month()
                    .checked_add(1.month())
                    .map_err(internal)?,
            };
            let last_day = next.yesterday().map_err(internal)?.min(self.last);
            let label = match unit {
                TimeUnit::Day => day.strftime("%b %-d, %Y").to_string(),
                TimeUnit::Week if last_day.month() == day.month() => {
                    format!(
                        "{}–{}, {}",
                        day.strftime("%b %-d"),
                        last_day.day(),
                        day.year()
                    )
                }
                TimeUnit::Week => format!(
                    "{} – {}",
                    day.strftime("%b %-d"),
                    last_day.strftime("%b %-d, %Y")
                ),
                TimeUnit::Month => day.strftime("%B %Y").to_string(),
            };
            buckets.push(Bucket {
                start: midnight(day, &self.zone)?,
                end: midnight(last_day.tomorrow().map_err(internal)?, &self.zone)?,
                label,
            });
            day = next;
        }
        Ok(buckets)
    }

    /// The part of an hour in the zone's offset at the period's start, in
    /// milliseconds: hours counted from the epoch after adding it begin on
    /// local hours (offsets change by whole hours), so hour groups fall
    /// whole into local days.
    pub fn hour_shift(&self) -> i64 {
        let start = midnight(self.first, &self.zone).unwrap_or(0);
        let offset = jiff::Timestamp::from_millisecond(start)
            .map(|at| i64::from(self.zone.to_offset(at).seconds()))
            .unwrap_or(0);
        offset.rem_euclid(3_600) * 1_000
    }

    /// (weekday from Monday = 0, hour) of a moment, in the period's zone.
    pub fn weekday_and_hour(&self, at: i64) -> Option<(usize, usize)> {
        let zoned = jiff::Timestamp::from_millisecond(at)
            .ok()?
            .to_zoned(self.zone.clone());
        let weekday = usize::try_from(zoned.weekday().to_monday_zero_offset()).ok()?;
        let hour = usize::try_from(zoned.hour()).ok()?;
        Some((weekday, hour))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today(text: &str) -> Zoned {
        format!("{text}T15:00[Europe/Berlin]").parse().unwrap()
    }

    #[test]
    fn periods_are_whole_local_days_ending_today() {
        let period = Period::parse("7d", "", "", &today("2026-12-04")).unwrap();
        assert_eq!(
            (period.first.to_string(), period.last.to_string()),
            ("2026-11-28".into(), "2026-12-04".into())
        );
        let (from, until) = period.bounds().unwrap();
        // Berlin is UTC+1 in winter.
        assert_eq!(
            jiff::Timestamp::from_millisecond(from).unwrap().to_string(),
            "2026-11-27T23:00:00Z"
        );
        assert_eq!(until - from, 7 * 24 * 3_600_000);
        let previous = period.previous().unwrap();
        assert_eq!(
            (previous.first.to_string(), previous.last.to_string()),
            ("2026-11-21".into(), "2026-11-27".into())
        );
        assert_eq!(period.buckets().unwrap().len(), 7);
        assert_eq!(period.buckets().unwrap()[0].label, "Nov 28");
    }

    #[test]
    fn last_month_and_long_periods_by_week() {
        let period = Period::parse("last_month", "", "", &today("2026-03-15")).unwrap();
        assert_eq!(
            (period.first.to_string(), period.last.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        let year = Period::parse("365d", "", "", &today("2026-12-04")).unwrap();
        let buckets = year.buckets().unwrap();
        assert_eq!(buckets.len(), 53);
        assert_eq!(
            buckets.last().unwrap().end,
            year.bounds().unwrap().1,
            "the last week stops at the period's end"
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_are_whole() {
        let period =
            Period::parse("custom", "2026-11-04", "2026-12-02", &today("2026-12-04")).unwrap();
        let weeks = period.buckets_by(TimeUnit::Week).unwrap();
        // Wed Nov 4 – Sun Nov 8, then Mondays.
        assert_eq!(weeks[0].label, "Nov 4–8, 2026");
        assert_eq!(weeks[1].label, "Nov 9–15, 2026");
        assert_eq!(weeks.last().unwrap().label, "Nov 30 – Dec 2, 2026");
        let months = period.buckets_by(TimeUnit::Month).unwrap();
        assert_eq!(
            months.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(),
            ["November 2026", "December 2026"]
        );
        assert_eq!(months[1].end, period.bounds().unwrap().1);
        assert_eq!(period.buckets_by(TimeUnit::Day).unwrap().len(), 29);
        assert_eq!(period.hour_shift(), 0, "Berlin's offset is whole hours");
        let kolkata: Zoned = "2026-12-04T15:00[Asia/Kolkata]".parse().unwrap();
        let india = Period::parse("7d", "", "", &kolkata).unwrap();
        assert_eq!(india.hour_shift(), 30 * 60_000);
        let (from, _) = india.bounds().unwrap();
        assert_eq!((from + india.hour_shift()) % 3_600_000, 0);
    }

    #[test]
    fn custom_periods_are_checked() {
        let now = today("2026-12-04");
        assert!(Period::parse("custom", "2026-11-30", "2026-11-01", &now).is_err());
        assert!(Period::parse("custom", "2020-01-01", "2026-11-01", &now).is_err());
        assert!(Period::parse("custom", "yesterday", "2026-11-01", &now).is_err());
        assert!(Period::parse("weekly", "", "", &now).is_err());
        let period = Period::parse("custom", "2026-11-01", "2026-11-30", &now).unwrap();
        assert_eq!(period.days(), 30);
        assert_eq!(period.words(), "Nov 1 – Nov 30, 2026");
    }
}
