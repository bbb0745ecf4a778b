//! The addresses mail arrives at: each with the department its new tickets
//! go to and how its mail comes in (fetched over IMAP, or piped in by the
//! mail server).

use ferrodesk_core::Timestamp;

use crate::{Store, StoreError, StoreResult, on_backend, on_backend_write};

/// An email account as stored; the IMAP password only sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EmailAccountRecord {
    pub id: i64,
    pub address: String,
    pub department_id: Option<i64>,
    /// `imap` or `pipe`.
    pub transport: String,
    pub imap_host: String,
    pub imap_port: i64,
    /// `tls`, `starttls` or `none`.
    pub imap_security: String,
    pub imap_user: String,
    pub imap_password_sealed: String,
    pub imap_folder: String,
    pub poll_seconds: i64,
    /// `seen`, `move` or `delete`.
    pub after_fetch: String,
    pub move_to_folder: String,
    pub is_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An account's settings to write.
#[derive(Debug, Clone)]
pub struct EmailAccountWrite<'a> {
    pub address: &'a str,
    pub address_normalized: &'a str,
    pub department_id: Option<i64>,
    pub transport: &'a str,
    pub imap_host: &'a str,
    pub imap_port: i64,
    pub imap_security: &'a str,
    pub imap_user: &'a str,
    /// `None` keeps the stored password.
    pub imap_password_sealed: Option<&'a str>,
    pub imap_folder: &'a str,
    pub poll_seconds: i64,
    pub after_fetch: &'a str,
    pub move_to_folder: &'a str,
    pub is_enabled: bool,
}

macro_rules! account_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, address, department_id, transport, imap_host, imap_port, imap_security, imap_user, \
             imap_password_sealed, imap_folder, poll_seconds, after_fetch, move_to_folder, is_enabled, \
             created_at, updated_at FROM email_accounts ",
            $tail
        )
    };
}

impl EmailAccounts<'_> {
    pub async fn list_email_accounts(&self) -> StoreResult<Vec<EmailAccountRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, EmailAccountRecord>(account_query!("ORDER BY address_normalized, id"))
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn get_email_account(&self, id: i64) -> StoreResult<Option<EmailAccountRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, EmailAccountRecord>(account_query!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The account with this address (normalized: lower case).
    pub async fn email_account_by_address(
        &self,
        address_normalized: &str,
    ) -> StoreResult<Option<EmailAccountRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, EmailAccountRecord>(account_query!("WHERE address_normalized = $1"))
                .bind(address_normalized)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Creates an account; an address another account has is a `Conflict`.
    pub async fn create_email_account(
        &self,
        account: &EmailAccountWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO email_accounts (address, address_normalized, department_id, transport, imap_host, \
                     imap_port, imap_security, imap_user, imap_password_sealed, imap_folder, poll_seconds, \
                     after_fetch, move_to_folder, is_enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id",
            )
            .bind(account.address)
            .bind(account.address_normalized)
            .bind(account.department_id)
            .bind(account.transport)
            .bind(account.imap_host)
            .bind(account.imap_port)
            .bind(account.imap_security)
            .bind(account.imap_user)
            .bind(account.imap_password_sealed.unwrap_or(""))
            .bind(account.imap_folder)
            .bind(account.poll_seconds)
            .bind(account.after_fetch)
            .bind(account.move_to_folder)
            .bind(account.is_enabled)
            .bind(now.millis())
            .fetch_one(pool)
            .await
            .map_err(|error| StoreError::from_insert(error, "an email account with this address"))
        })
    }

    /// Saves an account's settings; false when it does not exist.
    pub async fn update_email_account(
        &self,
        id: i64,
        account: &EmailAccountWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let changed = on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE email_accounts SET address = $2, address_normalized = $3, department_id = $4, \
                     transport = $5, imap_host = $6, imap_port = $7, imap_security = $8, imap_user = $9, \
                     imap_password_sealed = COALESCE($10, imap_password_sealed), imap_folder = $11, \
                     poll_seconds = $12, after_fetch = $13, move_to_folder = $14, is_enabled = $15, updated_at = $16 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(account.address)
            .bind(account.address_normalized)
            .bind(account.department_id)
            .bind(account.transport)
            .bind(account.imap_host)
            .bind(account.imap_port)
            .bind(account.imap_security)
            .bind(account.imap_user)
            .bind(account.imap_password_sealed)
            .bind(account.imap_folder)
            .bind(account.poll_seconds)
            .bind(account.after_fetch)
            .bind(account.move_to_folder)
            .bind(account.is_enabled)
            .bind(now.millis())
            .execute(pool)
            .await
            .map_err(|error| StoreError::from_insert(error, "an email account with this address"))?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    pub async fn delete_email_account(&self, id: i64) -> StoreResult<bool> {
        let deleted = on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM email_accounts WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }
}

/// The store's operations on email accounts: `store.email_accounts()`.
#[derive(Clone, Copy)]
pub struct EmailAccounts<'a> {
    store: &'a Store,
}

impl Store {
    pub fn email_accounts(&self) -> EmailAccounts<'_> {
        EmailAccounts { store: self }
    }
}

impl std::ops::Deref for EmailAccounts<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
