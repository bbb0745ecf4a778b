use ferrodesk_core::{Surface, Timestamp};

use crate::{Store, StoreResult, on_backend};

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
}

pub struct NewSession<'a> {
    /// SHA-256 of the token, hex: the token itself is never stored.
    pub token_hash: &'a str,
    pub surface: Surface,
    pub person_id: i64,
    pub expires_at: Timestamp,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

impl Store {
    pub async fn create_session(
        &self,
        session: &NewSession<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            sqlx::query(
                "INSERT INTO sessions (token_hash, surface, person_id, created_at, last_seen_at, expires_at, ip, user_agent) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
            )
            .bind(session.token_hash)
            .bind(session.surface.as_str())
            .bind(session.person_id)
            .bind(now.millis())
            .bind(session.expires_at.millis())
            .bind(session.ip)
            .bind(session.user_agent)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn find_session(
        &self,
        token_hash: &str,
        surface: Surface,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SessionRecord>(
                "SELECT s.surface, s.person_id, s.created_at, s.last_seen_at, s.expires_at, \
                        p.email, p.name, p.is_agent, p.is_admin, p.is_disabled \
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
        on_backend!(self, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now.millis())
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        on_backend!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_sessions_of(&self, person_id: i64) -> StoreResult<u64> {
        Ok(on_backend!(self, pool => {
            sqlx::query(crate::people::END_SESSIONS)
                .bind(person_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Removes sessions past their absolute lifetime or idle for longer than
    /// `idle_before` allows. The request path enforces both limits itself; this
    /// only keeps the table small.
    pub async fn delete_stale_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
    ) -> StoreResult<u64> {
        Ok(on_backend!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
                .bind(now.millis())
                .bind(idle_before.millis())
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
