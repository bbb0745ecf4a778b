//! Help-center accounts people open themselves: the account, its
//! address-confirmation link and the mail carrying it in one transaction;
//! confirming the address; an agent letting a pending account in. A pending
//! account is disabled until nothing is pending, so every sign-in check
//! already refuses it.

use ferrodesk_core::Timestamp;

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::{NewMail, Store, StoreError, StoreResult, on_backend};

/// A self-registered account to store.
#[derive(Debug, Clone)]
pub struct NewRegistration<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub password_hash: &'a str,
    /// Still to confirm the address through the link.
    pub verification_pending: bool,
    /// Still to be let in by an agent.
    pub approval_pending: bool,
    /// The confirmation link's token hash and when it lapses.
    pub link: Option<(&'a str, Timestamp)>,
    pub mail: Option<&'a NewMail<'a>>,
}

/// What confirming an address led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmedAddress {
    pub person_id: i64,
    /// An agent still has to let the account in.
    pub awaiting_approval: bool,
}

impl Registrations<'_> {
    /// Stores a registration; an address someone has already is a
    /// `Conflict` (the caller checks first, this catches a race).
    pub async fn register_user(
        &self,
        registration: &NewRegistration<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO people (email, email_normalized, name, password_hash, password_changed_at, \
                     is_disabled, verification_pending, approval_pending, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $5, $5) RETURNING id",
            )
            .bind(registration.email)
            .bind(registration.email_normalized)
            .bind(registration.name)
            .bind(registration.password_hash)
            .bind(now.millis())
            .bind(registration.verification_pending || registration.approval_pending)
            .bind(registration.verification_pending)
            .bind(registration.approval_pending)
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "a person with this email"))?;
            if let Some((token_hash, expires_at)) = registration.link {
                sqlx::query(
                    "INSERT INTO email_verifications (token_hash, person_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(id)
                .bind(now.millis())
                .bind(expires_at.millis())
                .execute(&mut *transaction)
                .await?;
            }
            if let Some(mail) = registration.mail {
                crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            }
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// A new confirmation link for an account still waiting for one, with
    /// its mail; the account's earlier links stop working. False (and
    /// nothing stored) when the account no longer waits.
    pub async fn renew_email_verification(
        &self,
        person_id: i64,
        (token_hash, expires_at): (&str, Timestamp),
        mail: &NewMail<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let waiting: Option<bool> = sqlx::query_scalar(
                "SELECT verification_pending FROM people WHERE id = $1",
            )
            .bind(person_id)
            .fetch_optional(&mut *transaction)
            .await?;
            if waiting != Some(true) {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE email_verifications SET used_at = $2 WHERE person_id = $1 AND used_at IS NULL",
            )
            .bind(person_id)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "INSERT INTO email_verifications (token_hash, person_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(person_id)
            .bind(now.millis())
            .bind(expires_at.millis())
            .execute(&mut *transaction)
            .await?;
            crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            transaction.commit().await?;
            Ok(true)
        })
    }

    /// The account an unused, unexpired confirmation link belongs to.
    pub async fn peek_email_verification(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT person_id FROM email_verifications \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Uses up a confirmation link and marks the address confirmed; the
    /// account works from now on unless an agent still has to approve it.
    pub async fn confirm_email(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<ConfirmedAddress>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let person_id: Option<i64> = sqlx::query_scalar(
                "UPDATE email_verifications SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING person_id",
            )
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(person_id) = person_id else {
                return Ok(None);
            };
            let awaiting_approval: bool = sqlx::query_scalar(
                "UPDATE people SET verification_pending = FALSE, is_disabled = approval_pending, updated_at = $2 \
                 WHERE id = $1 AND verification_pending RETURNING approval_pending",
            )
            .bind(person_id)
            .bind(now.millis())
            .fetch_optional(&mut *transaction)
            .await?
            .unwrap_or(false);
            transaction.commit().await?;
            Ok(Some(ConfirmedAddress { person_id, awaiting_approval }))
        })
    }

    /// Lets a pending account in (it still needs its address confirmed if
    /// that is pending too). False when nothing awaited approval.
    pub async fn approve_user(
        &self,
        person_id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE people SET approval_pending = FALSE, is_disabled = verification_pending, updated_at = $2 \
                 WHERE id = $1 AND approval_pending AND NOT is_agent",
            )
            .bind(person_id)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await?
            .rows_affected() > 0;
            if changed {
                crate::audit::insert_audit(&mut transaction, audit, now).await?;
                transaction.commit().await?;
            }
            Ok(changed)
        })
    }
}

/// The store's operations on help-center registrations: `store.registrations()`.
#[derive(Clone, Copy)]
pub struct Registrations<'a> {
    store: &'a Store,
}

impl Store {
    pub fn registrations(&self) -> Registrations<'_> {
        Registrations { store: self }
    }
}

impl std::ops::Deref for Registrations<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
