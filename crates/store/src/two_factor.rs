//! Two-factor state (C10): sealed TOTP secrets, recovery codes, and the
//! challenges that hold a login between its password and its code. Spending
//! a code at login is part of `record_successful_login`, so a code and the
//! session it opens are written together.

use ferrodesk_core::{Surface, Timestamp};

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// A person's two-factor state. The secrets are sealed with the instance
/// key; this struct never leaves the application layer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TwoFactorState {
    pub totp_secret: Option<String>,
    pub totp_pending_secret: Option<String>,
    pub totp_enabled_at: Option<i64>,
    pub totp_last_step: i64,
    pub recovery_codes_left: i64,
}

/// A login waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginChallenge {
    pub person_id: i64,
    pub remembered: bool,
    pub failures: i64,
    pub expires_at: i64,
}

pub struct NewLoginChallenge<'a> {
    pub token_hash: &'a str,
    pub person_id: i64,
    pub surface: Surface,
    pub remembered: bool,
    pub expires_at: Timestamp,
}

/// Replaces a person's recovery codes inside a transaction the caller holds.
pub(crate) async fn replace_recovery_codes_in(
    connected: &mut impl crate::backend::Connected,
    person_id: i64,
    hashes: &[String],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(person_id)
            .execute(&mut *connection)
            .await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (person_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(person_id)
            .bind(hash.as_str())
            .bind(now.millis())
            .execute(&mut *connection)
            .await?;
        }
    });
    Ok(())
}

impl TwoFactor<'_> {
    pub async fn two_factor_state(&self, person_id: i64) -> StoreResult<Option<TwoFactorState>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TwoFactorState>(
                "SELECT totp_secret, totp_pending_secret, totp_enabled_at, totp_last_step, \
                        (SELECT COUNT(*) FROM recovery_codes r \
                         WHERE r.person_id = people.id AND r.used_at IS NULL) AS recovery_codes_left \
                 FROM people WHERE id = $1",
            )
            .bind(person_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Keeps a freshly generated secret until the person proves their app
    /// has it; a later setup replaces it.
    pub async fn set_pending_totp_secret(
        &self,
        person_id: i64,
        sealed_secret: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE people SET totp_pending_secret = $1, updated_at = $2 WHERE id = $3")
                .bind(sealed_secret)
                .bind(now.millis())
                .bind(person_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Turns TOTP on with the pending secret the code was checked against
    /// (unless another setup replaced it meanwhile: then false and nothing
    /// changes), spends the code's step, and stores new recovery codes.
    pub async fn enable_totp(
        &self,
        person_id: i64,
        checked_secret: &str,
        step: i64,
        recovery_code_hashes: &[String],
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE people SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, \
                     totp_enabled_at = $1, totp_last_step = $2, updated_at = $1 \
                 WHERE id = $3 AND totp_pending_secret = $4",
            )
            .bind(now.millis())
            .bind(step)
            .bind(person_id)
            .bind(checked_secret)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            crate::two_factor::replace_recovery_codes_in(&mut transaction, person_id, recovery_code_hashes, now).await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(true)
    }

    /// New recovery codes for a person with 2FA on; the old ones stop working.
    pub async fn replace_recovery_codes(
        &self,
        person_id: i64,
        recovery_code_hashes: &[String],
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            crate::two_factor::replace_recovery_codes_in(&mut transaction, person_id, recovery_code_hashes, now).await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Turns two-factor login off (the person's own choice, or an admin's
    /// reset for someone who lost their device, which also ends their
    /// sessions): secrets, codes and pending challenges go. False when it
    /// was not on.
    pub async fn disable_two_factor(
        &self,
        person_id: i64,
        end_sessions: bool,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE people SET totp_secret = NULL, totp_pending_secret = NULL, \
                     totp_enabled_at = NULL, updated_at = $1 \
                 WHERE id = $2 AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL)",
            )
            .bind(now.millis())
            .bind(person_id)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM login_challenges WHERE person_id = $1")
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            if end_sessions {
                sqlx::query(crate::people::END_SESSIONS)
                    .bind(person_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(true)
    }

    pub async fn create_login_challenge(
        &self,
        challenge: &NewLoginChallenge<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO login_challenges (token_hash, person_id, surface, remembered, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(challenge.token_hash)
            .bind(challenge.person_id)
            .bind(challenge.surface.as_str())
            .bind(challenge.remembered)
            .bind(now.millis())
            .bind(challenge.expires_at.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The unexpired challenge with this token hash on this surface.
    pub async fn find_login_challenge(
        &self,
        token_hash: &str,
        surface: Surface,
        now: Timestamp,
    ) -> StoreResult<Option<LoginChallenge>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, LoginChallenge>(
                "SELECT person_id, remembered, failures, expires_at FROM login_challenges \
                 WHERE token_hash = $1 AND surface = $2 AND expires_at > $3",
            )
            .bind(token_hash)
            .bind(surface.as_str())
            .bind(now.millis())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Counts a wrong code against a challenge; at `max_failures` the
    /// challenge is gone and the password must be given again. Returns the
    /// failures so far.
    pub async fn count_challenge_failure(
        &self,
        token_hash: &str,
        max_failures: i64,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let failures: Option<i64> = sqlx::query_scalar(
                "UPDATE login_challenges SET failures = failures + 1 WHERE token_hash = $1 RETURNING failures",
            )
            .bind(token_hash)
            .fetch_optional(&mut *transaction)
            .await?;
            let failures = failures.unwrap_or(max_failures);
            if failures >= max_failures {
                sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
            Ok(failures)
        })
    }

    pub async fn delete_login_challenge(&self, token_hash: &str) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

/// The store's operations on two-factor secrets and login challenges: `store.two_factor()`.
#[derive(Clone, Copy)]
pub struct TwoFactor<'a> {
    store: &'a Store,
}

impl Store {
    pub fn two_factor(&self) -> TwoFactor<'_> {
        TwoFactor { store: self }
    }
}

impl std::ops::Deref for TwoFactor<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
