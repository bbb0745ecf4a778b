//! Small sums the reports share: percentiles by nearest rank, durations
//! in words, and a change from one period to the next in words.

/// The value at the `percent`th percentile by nearest rank (the smallest
/// value that at least that share of the values do not exceed); `None`
/// for no values. `values` must be sorted.
pub fn percentile(values: &[i64], percent: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let count = values.len();
    // ceil(percent / 100 × count), at least 1.
    let rank = (count * percent as usize).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// A filter value for the search language, quoted.
pub(super) fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('"', ""))
}

/// The median and the 90th percentile of some durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    pub count: usize,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

impl Spread {
    pub fn of(mut values: Vec<i64>) -> Spread {
        values.sort_unstable();
        Spread {
            count: values.len(),
            median: percentile(&values, 50),
            p90: percentile(&values, 90),
        }
    }
}

/// `45 min`, `3 h 20 min`, `2 d 4 h`: a duration as the dashboard says it.
pub fn duration_words(millis: i64) -> String {
    let minutes = millis.max(0) / 60_000;
    let (days, hours, minutes) = (minutes / 1_440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) if minutes == 0 => format!("{hours} h"),
        (0, _) => format!("{hours} h {minutes} min"),
        (_, 0) => format!("{days} d"),
        _ => format!("{days} d {hours} h"),
    }
}

/// How a figure moved from the period before: words and whether that is
/// good news (`None` when it cannot be said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub words: String,
    pub good: Option<bool>,
}

/// The change from `before` to `now`; `lower_is_better` for times.
pub fn change(now: Option<i64>, before: Option<i64>, lower_is_better: bool) -> Change {
    match (now, before) {
        (Some(now), Some(before)) if before != 0 => {
            let percent = (now - before) * 100 / before.abs();
            let good = match percent {
                0 => None,
                _ => Some((percent < 0) == lower_is_better),
            };
            Change {
                words: match percent {
                    0 => "no change".to_owned(),
                    p if p > 0 => format!("+{p}%"),
                    p => format!("{p}%"),
                },
                good,
            }
        }
        (Some(now), Some(_)) if now != 0 => Change {
            words: "new".to_owned(),
            good: None,
        },
        (Some(_), Some(_)) => Change {
            words: "no change".to_owned(),
            good: None,
        },
        _ => Change {
            words: "—".to_owned(),
            good: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&values, 50), Some(5));
        assert_eq!(percentile(&values, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        let spread = Spread::of(vec![30, 10, 20]);
        assert_eq!(
            (spread.count, spread.median, spread.p90),
            (3, Some(20), Some(30))
        );
    }

    #[test]
    fn durations_and_changes_in_words() {
        assert_eq!(duration_words(45 * 60_000), "45 min");
        assert_eq!(duration_words(200 * 60_000), "3 h 20 min");
        assert_eq!(duration_words(3 * 3_600_000), "3 h");
        assert_eq!(duration_words(52 * 3_600_000), "2 d 4 h");
        assert_eq!(
            change(Some(120), Some(100), false),
            Change {
                words: "+20%".into(),
                good: Some(true)
            }
        );
        assert_eq!(change(Some(120), Some(100), true).good, Some(false));
        assert_eq!(change(Some(5), Some(0), false).words, "new");
        assert_eq!(change(None, Some(3), true).words, "—");
    }
}
