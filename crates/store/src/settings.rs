use ferrodesk_core::Timestamp;

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

impl SettingRows<'_> {
    /// All runtime settings as (key, JSON value) pairs.
    pub async fn load_settings(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (String, String)>("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(pool)
                .await?
        }))
    }

    /// One setting's stored JSON, read directly (for values that are not
    /// part of the cached settings, such as mail templates).
    pub async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn delete_setting(&self, key: &str) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?
                .rows_affected()
                == 1
        }))
    }

    /// Deletes settings (a value and what goes with it) with the audit
    /// entry, in one transaction.
    pub async fn delete_settings_audited(
        &self,
        keys: &[&str],
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for key in keys {
                sqlx::query("DELETE FROM settings WHERE key = $1")
                    .bind(key)
                    .execute(&mut *transaction)
                    .await?;
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Stores a setting and its audit entry in one transaction.
    pub async fn put_setting_audited(
        &self,
        key: &str,
        value: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3",
            )
            .bind(key)
            .bind(value)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    pub async fn put_setting(&self, key: &str, value: &str, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Stores `value` under `key` unless the key already has a value; returns
    /// whether it was stored. Nodes starting at once cannot overwrite each
    /// other or an admin's choice.
    pub async fn put_setting_if_missing(
        &self,
        key: &str,
        value: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .bind(now.millis())
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        }))
    }
}

/// The store's operations on runtime settings: `store.settings()`.
#[derive(Clone, Copy)]
pub struct SettingRows<'a> {
    store: &'a Store,
}

impl Store {
    pub fn settings(&self) -> SettingRows<'_> {
        SettingRows { store: self }
    }
}

impl std::ops::Deref for SettingRows<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
