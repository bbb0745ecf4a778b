use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::outbox::insert_mail;
use crate::people::{END_SESSIONS, SET_PASSWORD};
use crate::{NewMail, Store, StoreResult, on_backend};

impl Store {
    /// Stores a password-reset token (its hash) for a person, and the mail
    /// that carries the link, in one transaction. Earlier unused tokens of
    /// that person stop working: only the newest link is valid.
    pub async fn create_password_reset(
        &self,
        token_hash: &str,
        person_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
        mail: Option<&NewMail<'_>>,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query("UPDATE password_resets SET used_at = $1 WHERE person_id = $2 AND used_at IS NULL")
                .bind(now.millis())
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query(
                "INSERT INTO password_resets (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(person_id)
            .bind(now.millis())
            .bind(expires_at.millis())
            .execute(&mut *transaction)
            .await?;
            if let Some(mail) = mail {
                insert_mail!(transaction, mail, now);
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// The person a still-valid reset token belongs to, without using it up.
    pub async fn peek_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT person_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Uses up a reset token and sets the new password hash in one
    /// transaction, ending all sessions of the person. Returns the person's id,
    /// or `None` when the token is unknown, used or expired.
    pub async fn complete_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let person_id: Option<i64> = sqlx::query_scalar(
                "UPDATE password_resets SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING person_id",
            )
            .bind(now.millis())
            .bind(token_hash)
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(person_id) = person_id else {
                return Ok(None);
            };
            sqlx::query(SET_PASSWORD)
            .bind(password_hash)
            .bind(now.millis())
            .bind(person_id)
            .execute(&mut *transaction)
            .await?;
            sqlx::query(END_SESSIONS)
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            Ok(Some(person_id))
        })
    }
}
