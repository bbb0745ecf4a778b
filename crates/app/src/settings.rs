//! Runtime settings kept in the database. Each node keeps a copy in memory and
//! reloads it at most a few seconds after another node changed it, so every
//! node agrees without a query on each request.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferrodesk_core::{PasswordPolicy, Timestamp};
use ferrodesk_store::Store;
use serde::{Deserialize, Serialize};

use crate::{App, AppError, AppResult};

/// How stale a node's copy of the settings may get.
const RELOAD_AFTER: Duration = Duration::from_secs(5);

/// How long a session may sit unused, and how long it may live at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLimits {
    pub idle_timeout_seconds: u64,
    pub absolute_lifetime_seconds: u64,
}

impl SessionLimits {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_seconds)
    }

    pub fn absolute_lifetime(&self) -> Duration {
        Duration::from_secs(self.absolute_lifetime_seconds)
    }
}

/// Every runtime setting, with its secure default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub staff_sessions: SessionLimits,
    pub portal_sessions: SessionLimits,
    pub agent_password_policy: PasswordPolicy,
    pub user_password_policy: PasswordPolicy,
}

impl Default for Settings {
    fn default() -> Settings {
        let one_hour_idle_twelve_hours_total = SessionLimits {
            idle_timeout_seconds: 60 * 60,
            absolute_lifetime_seconds: 12 * 60 * 60,
        };
        Settings {
            staff_sessions: one_hour_idle_twelve_hours_total,
            portal_sessions: one_hour_idle_twelve_hours_total,
            agent_password_policy: PasswordPolicy::agent_default(),
            user_password_policy: PasswordPolicy::user_default(),
        }
    }
}

const STAFF_SESSIONS: &str = "sessions.staff";
const PORTAL_SESSIONS: &str = "sessions.portal";
const AGENT_PASSWORD_POLICY: &str = "password_policy.agent";
const USER_PASSWORD_POLICY: &str = "password_policy.user";

impl Settings {
    /// Every setting as (key, JSON value).
    fn to_rows(&self) -> AppResult<Vec<(&'static str, String)>> {
        Ok(vec![
            (STAFF_SESSIONS, to_json(&self.staff_sessions)?),
            (PORTAL_SESSIONS, to_json(&self.portal_sessions)?),
            (AGENT_PASSWORD_POLICY, to_json(&self.agent_password_policy)?),
            (USER_PASSWORD_POLICY, to_json(&self.user_password_policy)?),
        ])
    }

    /// Builds settings from stored (key, JSON) pairs. A stored value that no
    /// longer parses is reported and its default used, so one bad row cannot
    /// stop the helpdesk from starting.
    fn from_rows(rows: &[(String, String)]) -> Settings {
        let mut settings = Settings::default();
        for (key, value) in rows {
            let applied = match key.as_str() {
                STAFF_SESSIONS => parse_into(value, &mut settings.staff_sessions),
                PORTAL_SESSIONS => parse_into(value, &mut settings.portal_sessions),
                AGENT_PASSWORD_POLICY => parse_into(value, &mut settings.agent_password_policy),
                USER_PASSWORD_POLICY => parse_into(value, &mut settings.user_password_policy),
                _ => true,
            };
            if !applied {
                tracing::warn!(setting = %key, "stored setting does not parse; using its default");
            }
        }
        settings
    }
}

fn to_json<T: Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(|error| AppError::Internal(error.to_string()))
}

fn parse_into<T: serde::de::DeserializeOwned>(json: &str, target: &mut T) -> bool {
    match serde_json::from_str(json) {
        Ok(value) => {
            *target = value;
            true
        }
        Err(_) => false,
    }
}

#[derive(Debug)]
pub(crate) struct SettingsCache {
    current: RwLock<(Timestamp, Arc<Settings>)>,
}

impl SettingsCache {
    /// Loads the settings, first writing the default of every setting that
    /// has no stored value yet, so the database holds the whole configuration.
    pub(crate) async fn load(store: &Store, now: Timestamp) -> AppResult<SettingsCache> {
        for (key, value) in Settings::default().to_rows()? {
            store.put_setting_if_missing(key, &value, now).await?;
        }
        let settings = Settings::from_rows(&store.load_settings().await?);
        Ok(SettingsCache {
            current: RwLock::new((now, Arc::new(settings))),
        })
    }

    fn snapshot(&self) -> (Timestamp, Arc<Settings>) {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, loaded_at: Timestamp, settings: Settings) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = (loaded_at, Arc::new(settings));
    }
}

impl App {
    /// The current settings, reloaded from the database when this node's copy
    /// is older than a few seconds.
    pub async fn settings(&self) -> AppResult<Arc<Settings>> {
        let now = self.now();
        let (loaded_at, settings) = self.inner.settings.snapshot();
        if now < loaded_at.plus(RELOAD_AFTER) && now >= loaded_at {
            return Ok(settings);
        }
        self.reload_settings().await
    }

    pub async fn reload_settings(&self) -> AppResult<Arc<Settings>> {
        let now = self.now();
        let rows = self.inner.store.load_settings().await?;
        self.inner.settings.replace(now, Settings::from_rows(&rows));
        Ok(self.inner.settings.snapshot().1)
    }

    /// Changes the session limits for one surface. The admin pages for this
    /// come with the security-controls issue; the rule that the idle timeout
    /// may not exceed the absolute lifetime holds from now on.
    pub async fn set_session_limits(&self, staff: bool, limits: SessionLimits) -> AppResult<()> {
        if limits.idle_timeout_seconds == 0
            || limits.absolute_lifetime_seconds < limits.idle_timeout_seconds
        {
            return Err(AppError::invalid(
                "idle_timeout_seconds",
                "The idle timeout must be positive and no longer than the absolute lifetime.",
            ));
        }
        let key = if staff {
            STAFF_SESSIONS
        } else {
            PORTAL_SESSIONS
        };
        let json = to_json(&limits)?;
        self.inner.store.put_setting(key, &json, self.now()).await?;
        self.reload_settings().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_security_brief() {
        let settings = Settings::default();
        assert_eq!(settings.staff_sessions.idle_timeout_seconds, 3600);
        assert_eq!(settings.staff_sessions.absolute_lifetime_seconds, 43200);
        assert_eq!(settings.agent_password_policy.min_length, 12);
        assert_eq!(settings.user_password_policy.min_length, 10);
    }

    #[test]
    fn every_setting_round_trips_through_its_stored_form() {
        let settings = Settings::default();
        let rows: Vec<(String, String)> = settings
            .to_rows()
            .unwrap()
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(Settings::from_rows(&rows), settings);
    }

    #[test]
    fn a_broken_stored_value_falls_back_to_its_default() {
        let rows = vec![
            (STAFF_SESSIONS.to_owned(), "not json".to_owned()),
            (
                PORTAL_SESSIONS.to_owned(),
                r#"{"idle_timeout_seconds":60,"absolute_lifetime_seconds":120}"#.to_owned(),
            ),
        ];
        let settings = Settings::from_rows(&rows);
        assert_eq!(settings.staff_sessions, Settings::default().staff_sessions);
        assert_eq!(settings.portal_sessions.idle_timeout_seconds, 60);
    }
}
