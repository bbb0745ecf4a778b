//! Which notification mails each agent wants.

use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend, on_backend_write};

/// An agent's choices; every kind is on until they say otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationPreferences {
    pub new_ticket: bool,
    pub assigned: bool,
    pub user_reply: bool,
    /// A note that names them (`@alice`).
    pub mention: bool,
}

impl Default for NotificationPreferences {
    fn default() -> NotificationPreferences {
        NotificationPreferences {
            new_ticket: true,
            assigned: true,
            user_reply: true,
            mention: true,
        }
    }
}

impl NotificationPrefs<'_> {
    pub async fn notification_preferences(
        &self,
        person_id: i64,
    ) -> StoreResult<NotificationPreferences> {
        let found = on_backend!(self, pool => {
            sqlx::query_as::<_, NotificationPreferences>(
                "SELECT new_ticket, assigned, user_reply, mention FROM agent_notification_preferences WHERE person_id = $1",
            )
            .bind(person_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.unwrap_or_default())
    }

    pub async fn set_notification_preferences(
        &self,
        person_id: i64,
        preferences: NotificationPreferences,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO agent_notification_preferences (person_id, new_ticket, assigned, user_reply, mention, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (person_id) DO UPDATE SET new_ticket = $2, assigned = $3, user_reply = $4, mention = $5, updated_at = $6",
            )
            .bind(person_id)
            .bind(preferences.new_ticket)
            .bind(preferences.assigned)
            .bind(preferences.user_reply)
            .bind(preferences.mention)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// The store's operations on notification choices:
/// `store.notification_preferences()`.
#[derive(Clone, Copy)]
pub struct NotificationPrefs<'a> {
    store: &'a Store,
}

impl Store {
    pub fn notification_preferences(&self) -> NotificationPrefs<'_> {
        NotificationPrefs { store: self }
    }
}

impl std::ops::Deref for NotificationPrefs<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
