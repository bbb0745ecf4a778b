use ferrodesk_core::{Surface, Timestamp};

use crate::{Store, StoreResult, on_backend, on_backend_write};

/// A signed-in session joined with the person it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub surface: String,
    pub person_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub email: String,
    pub name: String,
    pub is_agent: bool,
    pub is_admin: bool,
    pub is_disabled: bool,
    pub remembered: bool,
    pub must_change_password: bool,
    pub password_changed_at: Option<i64>,
    pub totp_enabled_at: Option<i64>,
    pub person_created_at: i64,
    /// The person's own time zone; empty for the default.
    pub time_zone: String,
}

pub struct NewSession<'a> {
    /// SHA-256 of the token, hex: the token itself is never stored.
    pub token_hash: &'a str,
    pub surface: Surface,
    pub person_id: i64,
    pub expires_at: Timestamp,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub remembered: bool,
}

/// Stores a new session inside a transaction the caller holds.
pub(crate) async fn insert_session(
    connected: &mut impl crate::backend::Connected,
    session: &crate::sessions::NewSession<'_>,
    now: ferrodesk_core::Timestamp,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, surface, person_id, created_at, last_seen_at, expires_at, ip, user_agent, remembered) \
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
        )
        .bind(session.token_hash)
        .bind(session.surface.as_str())
        .bind(session.person_id)
        .bind(now.millis())
        .bind(session.expires_at.millis())
        .bind(session.ip)
        .bind(session.user_agent)
        .bind(session.remembered)
        .execute(&mut *connection)
        .await?;
    });
    Ok(())
}

/// One of a person's sessions, for their list of where they are signed in.
/// `id` is the first 16 hex digits of the token's hash: enough to name the
/// session, worthless for taking it over.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OwnSession {
    pub id: String,
    pub surface: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
}

/// Length of the public id of a session, in hex digits.
pub const SESSION_ID_LENGTH: usize = 16;

impl Sessions<'_> {
    pub async fn create_session(
        &self,
        session: &NewSession<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut connection = pool.acquire().await?;
            crate::sessions::insert_session(&mut connection, session, now).await?;
        });
        Ok(())
    }

    /// Every session of a person, most recently used first.
    pub async fn sessions_of(&self, person_id: i64) -> StoreResult<Vec<OwnSession>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, OwnSession>(
                "SELECT substr(token_hash, 1, 16) AS id, surface, created_at, last_seen_at, expires_at, ip, user_agent \
                 FROM sessions WHERE person_id = $1 ORDER BY last_seen_at DESC, token_hash",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Ends one session of a person by its public id; false when the person
    /// has no such session.
    pub async fn delete_session_of(&self, person_id: i64, session_id: &str) -> StoreResult<bool> {
        if session_id.len() != SESSION_ID_LENGTH
            || !session_id.bytes().all(|byte| byte.is_ascii_hexdigit())
        {
            return Ok(false);
        }
        let removed = on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE person_id = $1 AND substr(token_hash, 1, 16) = $2")
                .bind(person_id)
                .bind(session_id.to_ascii_lowercase())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(removed > 0)
    }

    /// Ends every session of a person except the one whose hash is `keep`.
    pub async fn delete_other_sessions(&self, person_id: i64, keep: &str) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE person_id = $1 AND token_hash <> $2")
                .bind(person_id)
                .bind(keep)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    pub async fn find_session(
        &self,
        token_hash: &str,
        surface: Surface,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SessionRecord>(
                "SELECT s.surface, s.person_id, s.created_at, s.last_seen_at, s.expires_at, \
                        p.email, p.name, p.is_agent, p.is_admin, p.is_disabled, s.remembered, \
                        p.must_change_password, p.password_changed_at, p.totp_enabled_at, \
                        p.created_at AS person_created_at, p.time_zone \
                 FROM sessions s JOIN people p ON p.id = s.person_id \
                 WHERE s.token_hash = $1 AND s.surface = $2",
            )
            .bind(token_hash)
            .bind(surface.as_str())
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn touch_session(&self, token_hash: &str, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now.millis())
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_sessions_of(&self, person_id: i64) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(crate::people::END_SESSIONS)
                .bind(person_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Removes sessions past their absolute lifetime, ordinary ones idle
    /// since before `idle_before` and remembered ones idle since before
    /// `remembered_idle_before`. The request path enforces the limits
    /// itself; this only keeps the table small.
    pub async fn delete_stale_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
        remembered_idle_before: Timestamp,
    ) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "DELETE FROM sessions WHERE expires_at <= $1 \
                 OR (NOT remembered AND last_seen_at < $2) OR (remembered AND last_seen_at < $3)",
            )
            .bind(now.millis())
            .bind(idle_before.millis())
            .bind(remembered_idle_before.millis())
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    pub async fn count_sessions_of(&self, person_id: i64) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions WHERE person_id = $1")
                .bind(person_id)
                .fetch_one(pool)
                .await?
        }))
    }
}

/// The store's operations on sessions: `store.sessions()`.
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    store: &'a Store,
}

impl Store {
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { store: self }
    }
}

impl std::ops::Deref for Sessions<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
