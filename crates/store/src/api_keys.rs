//! API keys (C13): created for an agent, found by their public id on each
//! request, revoked by an admin. Only a hash of the secret is stored.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, audited_statement};
use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// A key as the admin list and the request check see it; never the secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: String,
    pub agent_id: i64,
    pub agent_name: String,
    pub agent_email: String,
    pub name: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key with what authenticating a request needs, its agent included, so
/// a request costs one lookup.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyCredentials {
    pub id: String,
    pub agent_id: i64,
    pub agent_name: String,
    pub agent_email: String,
    /// False once the person is no longer an agent or is disabled.
    pub agent_active: bool,
    pub agent_is_admin: bool,
    pub secret_hash: String,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub agent_id: i64,
    pub name: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub created_by_id: Option<i64>,
    pub expires_at: Option<Timestamp>,
}

macro_rules! key_query {
    ($tail:literal) => {
        concat!(
            "SELECT k.id, k.agent_id, p.name AS agent_name, p.email AS agent_email, \
             k.name, k.scopes, k.created_at, k.expires_at, k.last_used_at, k.revoked_at \
             FROM api_keys k JOIN people p ON p.id = k.agent_id ",
            $tail
        )
    };
}

impl ApiKeys<'_> {
    /// Stores a new key with its audit entry.
    pub async fn create_api_key(
        &self,
        key: &NewApiKey<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO api_keys (id, agent_id, name, secret_hash, scopes, created_by_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(key.id)
            .bind(key.agent_id)
            .bind(key.name)
            .bind(key.secret_hash)
            .bind(key.scopes)
            .bind(key.created_by_id)
            .bind(now.millis())
            .bind(key.expires_at.map(Timestamp::millis))
            .execute(&mut *transaction)
            .await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Every key, newest first (a handful per agent at most).
    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ApiKeyRecord>(key_query!("ORDER BY k.created_at DESC, k.id"))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ApiKeyRecord>(key_query!("WHERE k.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// What checking a request's key needs, by the key's public id.
    pub async fn api_key_credentials(&self, id: &str) -> StoreResult<Option<ApiKeyCredentials>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ApiKeyCredentials>(
                "SELECT k.id, k.agent_id, p.name AS agent_name, p.email AS agent_email, \
                        (p.is_agent AND NOT p.is_disabled) AS agent_active, p.is_admin AS agent_is_admin, \
                        k.secret_hash, k.scopes, k.expires_at, k.last_used_at, k.revoked_at \
                 FROM api_keys k JOIN people p ON p.id = k.agent_id WHERE k.id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records that a key was used.
    pub async fn touch_api_key(&self, id: &str, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now.millis())
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Revokes a key with its audit entry; false when it was revoked already
    /// or does not exist.
    pub async fn revoke_api_key(
        &self,
        id: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            audited_statement!(
                pool,
                sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now.millis())
                    .bind(id),
                audit,
                now
            )
        }))
    }
}

/// The store's operations on API keys: `store.api_keys()`.
#[derive(Clone, Copy)]
pub struct ApiKeys<'a> {
    store: &'a Store,
}

impl Store {
    pub fn api_keys(&self) -> ApiKeys<'_> {
        ApiKeys { store: self }
    }
}

impl std::ops::Deref for ApiKeys<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
