use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time as unix milliseconds (UTC). Both databases store it as a
/// plain integer, so SQLite and PostgreSQL agree on every comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    pub fn minus(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }
}

impl Timestamp {
    /// `2026-11-22 09:30`, in UTC, for places that say "UTC" once (a
    /// column heading) rather than on every value.
    pub fn date_time(self) -> String {
        let seconds = self.0.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let minutes_of_day = seconds.rem_euclid(86_400) / 60;
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02} {:02}:{:02}",
            minutes_of_day / 60,
            minutes_of_day % 60
        )
    }
}

impl Timestamp {
    /// `2026-11-22T09:30:05Z`: RFC 3339, for feeds and machines.
    pub fn rfc3339(self) -> String {
        let seconds = self.0.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let second_of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        )
    }
}

/// `2026-11-22 09:30 UTC`: a time where no reader's zone applies (logs, the
/// command line); pages and mails use the reader's `Zone`.
impl std::fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} UTC", self.date_time())
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Where "now" comes from. Production uses the system clock; tests use a
/// `ManualClock` they can move forward, so timeouts are tested without sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn starting_now() -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(Timestamp::now().millis()))
    }

    pub fn advance(&self, duration: Duration) {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.0
            .fetch_add(millis, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_show_as_utc_dates() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01 00:00 UTC");
        assert_eq!(
            Timestamp(951_782_400_000).to_string(),
            "2000-02-29 00:00 UTC"
        );
        assert_eq!(
            Timestamp(1_795_339_800_000).to_string(),
            "2026-11-22 09:30 UTC"
        );
        assert_eq!(Timestamp(-1000).to_string(), "1969-12-31 23:59 UTC");
        assert_eq!(Timestamp(0).date_time(), "1970-01-01 00:00");
        assert_eq!(
            Timestamp(1_795_339_805_999).rfc3339(),
            "2026-11-22T09:30:05Z"
        );
        assert_eq!(Timestamp(-1000).rfc3339(), "1969-12-31T23:59:59Z");
        assert_eq!(Timestamp(1_795_305_600_000).date_time(), "2026-11-22 00:00");
        assert_eq!(
            Timestamp(951_782_400_000 + 61_000).date_time(),
            "2000-02-29 00:01"
        );
    }
}
