//! Time zones people read times in, by their IANA names
//! (`Europe/Vienna`). Times are stored and exchanged in UTC; a zone only
//! changes how a time is shown.

use std::fmt;

use crate::Timestamp;

/// A time zone by its IANA name.
#[derive(Clone)]
pub struct Zone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl fmt::Debug for Zone {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Zone({})", self.name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Choose a time zone from the list.")]
pub struct ZoneError;

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// A zone by its IANA name, as a browser or a form sends it.
    pub fn parse(text: &str) -> Result<Zone, ZoneError> {
        let name = text.trim();
        let plausible = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"/_-+".contains(&byte));
        if !plausible {
            return Err(ZoneError);
        }
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| ZoneError)?;
        Ok(Zone {
            name: name.to_owned(),
            zone,
        })
    }

    /// The zone itself, for arithmetic in local time.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.zone.clone()
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every zone the database knows, by name.
    pub fn names() -> Vec<String> {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name.contains('/') || name == "UTC")
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn zoned(&self, at: Timestamp) -> Option<jiff::Zoned> {
        jiff::Timestamp::from_millisecond(at.0)
            .ok()
            .map(|instant| instant.to_zoned(self.zone.clone()))
    }

    /// `2026-12-06 10:30 CET`: a time as pages show it.
    pub fn time(&self, at: Timestamp) -> String {
        self.zoned(at).map_or_else(
            || at.to_string(),
            |zoned| zoned.strftime("%Y-%m-%d %H:%M %Z").to_string(),
        )
    }

    /// `2026-12-06`: the date in this zone.
    pub fn date(&self, at: Timestamp) -> String {
        self.zoned(at).map_or_else(
            || at.rfc3339().chars().take(10).collect(),
            |zoned| zoned.strftime("%Y-%m-%d").to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_the_zone_and_only_real_zones_parse() {
        // 2026-12-06 09:30 UTC.
        let at = Timestamp(1_796_549_400_000);
        assert_eq!(Zone::utc().time(at), "2026-12-06 09:30 UTC");
        let vienna = Zone::parse(" Europe/Vienna ").unwrap();
        assert_eq!(vienna.name(), "Europe/Vienna");
        assert_eq!(vienna.time(at), "2026-12-06 10:30 CET");
        let auckland = Zone::parse("Pacific/Auckland").unwrap();
        assert_eq!(auckland.date(at), "2026-12-06");
        assert_eq!(
            Zone::parse("Asia/Tokyo")
                .unwrap()
                .time(Timestamp(1_796_594_400_000)),
            "2026-12-07 07:00 JST"
        );
        for bad in [
            "",
            "Mars/Olympus",
            "../../etc/passwd",
            "Europe/Vi enna",
            "europe/vienna/x",
            &"A/".repeat(40),
        ] {
            assert!(Zone::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Zone::names().iter().any(|name| name == "America/New_York"));
    }
}
