//! IP allow-listing (C7): addresses each agent has confirmed, and the
//! single-use links that confirm them.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, audited_statement};
use crate::backend::BeginWrite;
use crate::outbox::NewMail;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// How an address came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustSource {
    /// The agent opened the emailed link.
    Email,
    /// `ferrodesk admin trust-ip`.
    CommandLine,
    /// The address of the admin who turned the allow-list on.
    Settings,
}

impl TrustSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustSource::Email => "email",
            TrustSource::CommandLine => "command_line",
            TrustSource::Settings => "settings",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TrustedIp {
    pub ip: String,
    pub trusted_until: i64,
    pub created_at: i64,
    pub source: String,
}

/// An unused, unexpired verification link, with whom it is for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IpVerification {
    pub person_id: i64,
    pub ip: String,
    pub name: String,
    pub email: String,
    pub expires_at: i64,
}

pub struct NewIpVerification<'a> {
    pub token_hash: &'a str,
    pub person_id: i64,
    pub ip: &'a str,
    pub expires_at: Timestamp,
}

/// Trusts address $2 for person $1 until $3 (set at $4 by $5), extending an
/// earlier trust of the same address.
const UPSERT_TRUSTED_IP: &str = "INSERT INTO trusted_ips (person_id, ip, trusted_until, created_at, source) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id, ip) DO UPDATE SET \
     trusted_until = excluded.trusted_until, created_at = excluded.created_at, source = excluded.source";

impl TrustedIps<'_> {
    pub async fn is_ip_trusted(
        &self,
        person_id: i64,
        ip: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let found: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar(
                "SELECT trusted_until FROM trusted_ips WHERE person_id = $1 AND ip = $2 AND trusted_until > $3",
            )
            .bind(person_id)
            .bind(ip)
            .bind(now.millis())
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// Stores a verification link and the mail carrying it. Earlier unused
    /// links for the same person and address stop working.
    pub async fn create_ip_verification(
        &self,
        verification: &NewIpVerification<'_>,
        mail: &NewMail<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "UPDATE ip_verifications SET used_at = $1 \
                 WHERE person_id = $2 AND ip = $3 AND used_at IS NULL",
            )
            .bind(now.millis())
            .bind(verification.person_id)
            .bind(verification.ip)
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "INSERT INTO ip_verifications (token_hash, person_id, ip, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(verification.token_hash)
            .bind(verification.person_id)
            .bind(verification.ip)
            .bind(now.millis())
            .bind(verification.expires_at.millis())
            .execute(&mut *transaction)
            .await?;
            crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// The unused, unexpired link with this token hash.
    pub async fn find_ip_verification(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IpVerification>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, IpVerification>(
                "SELECT v.person_id, v.ip, p.name, p.email, v.expires_at \
                 FROM ip_verifications v JOIN people p ON p.id = v.person_id \
                 WHERE v.token_hash = $1 AND v.used_at IS NULL AND v.expires_at > $2 \
                   AND NOT p.is_disabled",
            )
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Spends a link and trusts its address until `trusted_until`, with the
    /// audit entry. False when the link was spent or expired meanwhile.
    pub async fn confirm_ip_verification(
        &self,
        token_hash: &str,
        trusted_until: Timestamp,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let spent: Option<(i64, String)> = sqlx::query_as(
                "UPDATE ip_verifications SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING person_id, ip",
            )
            .bind(now.millis())
            .bind(token_hash)
            .fetch_optional(&mut *transaction)
            .await?;
            let Some((person_id, ip)) = spent else {
                transaction.rollback().await?;
                return Ok(false);
            };
            sqlx::query(UPSERT_TRUSTED_IP)
                .bind(person_id)
                .bind(ip)
                .bind(trusted_until.millis())
                .bind(now.millis())
                .bind(TrustSource::Email.as_str())
                .execute(&mut *transaction)
                .await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(true)
    }

    /// Trusts an address for a person directly (the command-line way back in).
    pub async fn trust_ip(
        &self,
        person_id: i64,
        ip: &str,
        trusted_until: Timestamp,
        source: TrustSource,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(UPSERT_TRUSTED_IP)
                .bind(person_id)
                .bind(ip)
                .bind(trusted_until.millis())
                .bind(now.millis())
                .bind(source.as_str())
                .execute(&mut *transaction)
                .await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// A person's addresses still trusted at `now`, newest first.
    pub async fn trusted_ips_of(
        &self,
        person_id: i64,
        now: Timestamp,
    ) -> StoreResult<Vec<TrustedIp>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TrustedIp>(
                "SELECT ip, trusted_until, created_at, source FROM trusted_ips \
                 WHERE person_id = $1 AND trusted_until > $2 ORDER BY created_at DESC, ip",
            )
            .bind(person_id)
            .bind(now.millis())
            .fetch_all(pool)
            .await?
        }))
    }

    /// Stops trusting one address of a person; false when it was not trusted.
    pub async fn revoke_trusted_ip(
        &self,
        person_id: i64,
        ip: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => audited_statement!(
            pool,
            sqlx::query("DELETE FROM trusted_ips WHERE person_id = $1 AND ip = $2")
                .bind(person_id)
                .bind(ip),
            audit,
            now
        )))
    }

    /// Removes lapsed trust, spent or expired links and lapsed lock-out
    /// counters; the request path ignores them already.
    pub async fn delete_lapsed_security_rows(&self, now: Timestamp) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            let mut removed = 0;
            for statement in [
                "DELETE FROM trusted_ips WHERE trusted_until <= $1",
                "DELETE FROM ip_verifications WHERE expires_at <= $1",
                "DELETE FROM login_challenges WHERE expires_at <= $1",
                // Lock-out windows last at most a day.
                "DELETE FROM login_lockouts WHERE COALESCE(locked_until, 0) <= $1 \
                 AND window_start <= $1 - 86400000",
            ] {
                removed += sqlx::query(statement)
                    .bind(now.millis())
                    .execute(pool)
                    .await?
                    .rows_affected();
            }
            removed
        }))
    }
}

/// The store's operations on trusted addresses: `store.trusted_ips()`.
#[derive(Clone, Copy)]
pub struct TrustedIps<'a> {
    store: &'a Store,
}

impl Store {
    pub fn trusted_ips(&self) -> TrustedIps<'_> {
        TrustedIps { store: self }
    }
}

impl std::ops::Deref for TrustedIps<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
