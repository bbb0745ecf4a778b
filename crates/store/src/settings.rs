use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend};

impl Store {
    /// All runtime settings as (key, JSON value) pairs.
    pub async fn load_settings(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (String, String)>("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn put_setting(&self, key: &str, value: &str, now: Timestamp) -> StoreResult<()> {
        on_backend!(self, pool => {
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
        Ok(on_backend!(self, pool => {
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
