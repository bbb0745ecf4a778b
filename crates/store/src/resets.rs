use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::people::INSERT_PERSON;
use crate::{NewMail, NewPerson, PersonRecord, Store, StoreError, StoreResult, on_backend};

/// What a one-time password link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// "Forgot password" or `ferrodesk admin reset-password`.
    Reset,
    /// A new agent choosing their first password.
    Invitation,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Reset => "reset",
            LinkPurpose::Invitation => "invitation",
        }
    }

    fn from_stored(text: &str) -> LinkPurpose {
        if text == "invitation" {
            LinkPurpose::Invitation
        } else {
            LinkPurpose::Reset
        }
    }
}

/// A one-time link to store: only the hash of its token is kept.
#[derive(Debug, Clone, Copy)]
pub struct NewPasswordLink<'a> {
    pub token_hash: &'a str,
    pub purpose: LinkPurpose,
    pub expires_at: Timestamp,
}

/// Ends earlier unused links of person $2 at time $1: only the newest works.
const SUPERSEDE_LINKS: &str =
    "UPDATE password_resets SET used_at = $1 WHERE person_id = $2 AND used_at IS NULL";
const INSERT_LINK: &str = "INSERT INTO password_resets (token_hash, person_id, purpose, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";

impl PasswordLinks<'_> {
    /// Stores a one-time link (its token's hash) for a person, and the mail
    /// that carries it, in one transaction. Earlier unused links of that
    /// person stop working: only the newest is valid.
    pub async fn create_password_reset(
        &self,
        link: &NewPasswordLink<'_>,
        person_id: i64,
        now: Timestamp,
        mail: Option<&NewMail<'_>>,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(SUPERSEDE_LINKS)
                .bind(now.millis())
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query(INSERT_LINK)
                .bind(link.token_hash)
                .bind(person_id)
                .bind(link.purpose.as_str())
                .bind(now.millis())
                .bind(link.expires_at.millis())
                .execute(&mut *transaction)
                .await?;
            if let Some(mail) = mail {
                crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Creates an account without a password together with the invitation
    /// link and its mail, all in one transaction: either the new agent exists
    /// and the invitation is on its way, or nothing happened.
    pub async fn create_invited_person(
        &self,
        person: &NewPerson<'_>,
        link: &NewPasswordLink<'_>,
        mail: &NewMail<'_>,
        audit: &crate::audit::NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<PersonRecord> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let created = sqlx::query_as::<_, PersonRecord>(INSERT_PERSON)
                .bind(person.email)
                .bind(person.email_normalized)
                .bind(person.name)
                .bind(None::<&str>)
                .bind(person.is_agent)
                .bind(person.is_admin)
                .bind(person.organization_id)
                .bind(None::<i64>)
                .bind(now.millis())
                .fetch_one(&mut *transaction)
                .await
                .map_err(|error| StoreError::from_insert(error, "a person with this email"))?;
            sqlx::query(INSERT_LINK)
                .bind(link.token_hash)
                .bind(created.id)
                .bind(link.purpose.as_str())
                .bind(now.millis())
                .bind(link.expires_at.millis())
                .execute(&mut *transaction)
                .await?;
            crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            let audit = crate::audit::NewAuditEntry {
                target_id: Some(created.id),
                ..audit.clone()
            };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(created)
        })
    }

    /// The person a still-valid link belongs to and what it is for, without
    /// using it up.
    pub async fn peek_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(i64, LinkPurpose)>> {
        let found = on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT person_id, purpose FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(pool)
            .await?
        });
        Ok(found.map(|(person_id, purpose)| (person_id, LinkPurpose::from_stored(&purpose))))
    }

    /// Uses up a reset token of `change.person_id` and sets the new password
    /// in one transaction (history, sessions and audit as for any password
    /// change). False when the token is unknown, used, expired or another's.
    pub async fn complete_password_reset(
        &self,
        token_hash: &str,
        change: &crate::people::PasswordChange<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let used = sqlx::query(
                "UPDATE password_resets SET used_at = $1 \
                 WHERE token_hash = $2 AND person_id = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now.millis())
            .bind(token_hash)
            .bind(change.person_id)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if used == 0 {
                return Ok(false);
            }
            crate::people::change_password_in(&mut transaction, change, now).await?;
            transaction.commit().await?;
            Ok(true)
        })
    }
}

/// The store's operations on password-reset and invitation links: `store.password_links()`.
#[derive(Clone, Copy)]
pub struct PasswordLinks<'a> {
    store: &'a Store,
}

impl Store {
    pub fn password_links(&self) -> PasswordLinks<'_> {
        PasswordLinks { store: self }
    }
}

impl std::ops::Deref for PasswordLinks<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
