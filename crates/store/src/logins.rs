//! Login attempts: the shared lock-out counters, the login log, the
//! reverse-DNS cache it shows hostnames from, and the writes that go with a
//! successful or failed login (one transaction each).

use std::time::Duration;

use ferrodesk_core::{Surface, Timestamp};

use crate::audit::{NewAuditEntry, like_pattern};
use crate::backend::BeginWrite;
use crate::outbox::NewMail;
use crate::sessions::NewSession;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// One login attempt for the log.
#[derive(Debug, Clone)]
pub struct NewLoginRecord<'a> {
    pub person_id: Option<i64>,
    pub email: &'a str,
    pub surface: Surface,
    pub succeeded: bool,
    pub reason: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginRecord {
    pub id: i64,
    pub occurred_at: i64,
    pub person_id: Option<i64>,
    pub email: String,
    pub surface: String,
    pub succeeded: bool,
    pub reason: String,
    pub ip: String,
    pub user_agent: String,
    /// From the reverse-DNS cache; `None` until looked up or when the
    /// address has no forward-confirmed name.
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LoginFilter {
    pub email_contains: Option<String>,
    pub ip: Option<String>,
    pub hostname_contains: Option<String>,
    pub surface: Option<Surface>,
    pub succeeded: Option<bool>,
    pub person_id: Option<i64>,
    pub before_id: Option<i64>,
}

/// How many failures lock an account, counted over what window, for how long.
#[derive(Debug, Clone, Copy)]
pub struct LockoutRule {
    pub max_failures: i64,
    pub window: Duration,
    pub lock_for: Duration,
}

/// What a failed login did to the account's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures from this source in its window.
    pub failures: i64,
    /// Failures of the account from everywhere in the window.
    pub account_failures: i64,
    /// True when this failure is the one that locked the account for
    /// this source.
    pub locked_now: bool,
    /// True when this failure locked the source out of every account.
    pub source_locked_now: bool,
}

/// A currently locked login key, for the admin pages.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LockedLogin {
    pub key: String,
    pub failures: i64,
    pub locked_until: i64,
}

/// The lock-out key of an email on a surface: it counts the account's
/// failures from everywhere (to slow an attack down), and never locks.
pub fn lockout_key(surface: Surface, email_normalized: &str) -> String {
    format!("{}:{email_normalized}", surface.as_str())
}

/// The key of an account's failures from one source (an address, or an
/// IPv6 /64): the one that locks, so an attacker locks only their own
/// attempts, never the owner signing in from elsewhere.
pub fn source_lockout_key(account_key: &str, source: &str) -> String {
    format!("{account_key}|{source}")
}

/// The key of every failure from one source, whatever the account: too
/// many lock that source out of signing in at all.
pub fn source_key(surface: Surface, source: &str) -> String {
    format!("source:{}:{source}", surface.as_str())
}

/// `key` and the per-source keys under it: a condition on
/// `login_lockouts.key`, `$1` being the account's key.
const KEY_AND_SOURCES: &str = "(key = $1 OR substr(key, 1, length($1) + 1) = $1 || '|')";

const INSERT_LOGIN: &str = "INSERT INTO login_log \
    (occurred_at, person_id, email, surface, succeeded, reason, ip, user_agent) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) async fn insert_login(
    connected: &mut impl crate::backend::Connected,
    record: &NewLoginRecord<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query(INSERT_LOGIN)
            .bind(now.millis())
            .bind(record.person_id)
            .bind(record.email)
            .bind(record.surface.as_str())
            .bind(record.succeeded)
            .bind(record.reason)
            .bind(record.ip)
            .bind(record.user_agent)
            .execute(&mut *connection)
            .await?;
    });
    Ok(())
}

/// Everything a successful login writes.
pub struct SuccessfulLogin<'a> {
    pub session: &'a NewSession<'a>,
    pub record: &'a NewLoginRecord<'a>,
    pub audit: &'a NewAuditEntry<'a>,
    pub lockout_key: &'a str,
    pub mail: Option<&'a NewMail<'a>>,
    /// The second factor that completed this login, spent in the same
    /// transaction, with the challenge it answered.
    pub second_factor: Option<SecondFactorProof<'a>>,
}

/// A second factor presented at login: a TOTP time step (accepted only if
/// newer than the last one accepted, so a code works once) or the hash of a
/// recovery code (accepted only if unused).
#[derive(Debug, Clone, Copy)]
pub enum SecondFactorProof<'a> {
    TotpStep {
        step: i64,
        challenge_hash: &'a str,
    },
    RecoveryCode {
        code_hash: &'a str,
        challenge_hash: &'a str,
    },
}

/// Everything a failed login writes.
pub struct FailedLogin<'a> {
    pub record: &'a NewLoginRecord<'a>,
    /// Failures of known accounts are security events; unknown emails only
    /// go to the login log.
    pub audit: Option<&'a NewAuditEntry<'a>>,
    /// The account's key (counted, never locked).
    pub account_key: &'a str,
    /// The account's key for this source, and the source's own key, with
    /// the source's limit; `None` for a source that is never locked (on
    /// the IP allow-list, or trusted for this person).
    pub source_keys: Option<(&'a str, &'a str, i64)>,
    pub rule: LockoutRule,
    pub mails: &'a [NewMail<'a>],
}

/// Counts one failure against `key` in one statement (so nodes counting
/// at once cannot lose one): a failure after the window starts a new
/// count; the one that reaches `max_failures` locks the key until
/// `lock_until`. Answers the count and the lock.
async fn count_failure(
    connected: &mut impl crate::backend::Connected,
    key: &str,
    (now, window_opened_before): (i64, i64),
    max_failures: i64,
    lock_until: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        Ok(sqlx::query_as(
            "INSERT INTO login_lockouts (key, failures, window_start, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN $4 <= 1 THEN $5 ELSE NULL END) \
             ON CONFLICT (key) DO UPDATE SET \
                 failures = CASE WHEN login_lockouts.window_start <= $3 \
                     THEN 1 ELSE login_lockouts.failures + 1 END, \
                 window_start = CASE WHEN login_lockouts.window_start <= $3 \
                     THEN $2 ELSE login_lockouts.window_start END, \
                 locked_until = CASE \
                     WHEN login_lockouts.locked_until IS NOT NULL AND login_lockouts.locked_until > $2 \
                         THEN login_lockouts.locked_until \
                     WHEN (CASE WHEN login_lockouts.window_start <= $3 \
                         THEN 1 ELSE login_lockouts.failures + 1 END) >= $4 THEN $5 \
                     ELSE NULL END \
             RETURNING failures, locked_until",
        )
        .bind(key)
        .bind(now)
        .bind(window_opened_before)
        .bind(max_failures)
        .bind(lock_until)
        .fetch_one(connection)
        .await?)
    })
}

impl Logins<'_> {
    /// The time until which `key` is locked, if it is locked at `now`.
    pub async fn locked_until(&self, key: &str, now: Timestamp) -> StoreResult<Option<Timestamp>> {
        let until: Option<Option<i64>> = on_backend!(self, pool => {
            sqlx::query_scalar("SELECT locked_until FROM login_lockouts WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        Ok(until.flatten().map(Timestamp).filter(|until| *until > now))
    }

    /// The latest lock of an account from any source, if one holds at
    /// `now` (for the admin's page).
    pub async fn account_locked_until(
        &self,
        account_key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        let statement =
            format!("SELECT MAX(locked_until) FROM login_lockouts WHERE {KEY_AND_SOURCES}");
        let until: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
                .bind(account_key)
                .fetch_one(pool)
                .await?
        });
        Ok(until.map(Timestamp).filter(|until| *until > now))
    }

    /// When the count of `key` began, if it has one.
    pub async fn lockout_window_start(&self, key: &str) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar("SELECT window_start FROM login_lockouts WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Ends `key`'s lock (and count) if its count began at
    /// `window_start`, with an audit entry; false when it did not (used
    /// already, or a later lock).
    pub async fn clear_lockout_if(
        &self,
        key: &str,
        window_start: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let cleared = sqlx::query("DELETE FROM login_lockouts WHERE key = $1 AND window_start = $2")
                .bind(key)
                .bind(window_start)
                .execute(&mut *transaction)
                .await?
                .rows_affected()
                > 0;
            if cleared {
                crate::audit::insert_audit(&mut transaction, audit, now).await?;
            }
            transaction.commit().await?;
            Ok(cleared)
        })
    }

    /// How many failures `key` holds in a window that opened after
    /// `window_opened_before`.
    pub async fn recent_failures(
        &self,
        key: &str,
        window_opened_before: Timestamp,
    ) -> StoreResult<i64> {
        let count: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar(
                "SELECT failures FROM login_lockouts WHERE key = $1 AND window_start > $2",
            )
            .bind(key)
            .bind(window_opened_before.millis())
            .fetch_optional(pool)
            .await?
        });
        Ok(count.unwrap_or(0))
    }

    /// Records a successful login: the spent second factor, the session,
    /// the last-login time, the log line, the audit entry, a cleared
    /// lock-out counter and an optional notification, all or nothing. False
    /// (and nothing written) when the second factor was already spent: a
    /// replayed code or a used recovery code.
    pub async fn record_successful_login(
        &self,
        login: &SuccessfulLogin<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            if let Some(proof) = login.second_factor {
                let (spent, challenge_hash) = match proof {
                    SecondFactorProof::TotpStep { step, challenge_hash } => (
                        sqlx::query(
                            "UPDATE people SET totp_last_step = $1 \
                             WHERE id = $2 AND totp_last_step < $1 AND totp_secret IS NOT NULL",
                        )
                        .bind(step)
                        .bind(login.session.person_id)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected(),
                        challenge_hash,
                    ),
                    SecondFactorProof::RecoveryCode { code_hash, challenge_hash } => (
                        sqlx::query(
                            "UPDATE recovery_codes SET used_at = $1 \
                             WHERE person_id = $2 AND code_hash = $3 AND used_at IS NULL",
                        )
                        .bind(now.millis())
                        .bind(login.session.person_id)
                        .bind(code_hash)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected(),
                        challenge_hash,
                    ),
                };
                if spent == 0 {
                    transaction.rollback().await?;
                    return Ok(false);
                }
                sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
                    .bind(challenge_hash)
                    .execute(&mut *transaction)
                    .await?;
            }
            crate::sessions::insert_session(&mut transaction, login.session, now).await?;
            sqlx::query("UPDATE people SET last_login_at = $1 WHERE id = $2")
                .bind(now.millis())
                .bind(login.session.person_id)
                .execute(&mut *transaction)
                .await?;
            crate::logins::insert_login(&mut transaction, login.record, now).await?;
            crate::audit::insert_audit(&mut transaction, login.audit, now).await?;
            sqlx::query("DELETE FROM login_lockouts WHERE key = $1")
                .bind(login.lockout_key)
                .execute(&mut *transaction)
                .await?;
            if let Some(mail) = login.mail {
                crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            }
            transaction.commit().await?;
        });
        Ok(true)
    }

    /// Records a failed login and counts it against the account (from
    /// everywhere, never locking), the account from this source, and the
    /// source (each locking at its own limit), all or nothing.
    pub async fn record_failed_login(
        &self,
        login: &FailedLogin<'_>,
        now: Timestamp,
    ) -> StoreResult<FailureCount> {
        let window_opened_before = now.minus(login.rule.window).millis();
        let lock_until = now.plus(login.rule.lock_for).millis();
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            crate::logins::insert_login(&mut transaction, login.record, now).await?;
            if let Some(audit) = login.audit {
                crate::audit::insert_audit(&mut transaction, audit, now).await?;
            }
            let times = (now.millis(), window_opened_before);
            let (account_failures, _) =
                count_failure(&mut transaction, login.account_key, times, i64::MAX, lock_until).await?;
            let (mut failures, mut locked_now, mut source_locked_now) = (0, false, false);
            if let Some((key, source, source_limit)) = login.source_keys {
                let (count, until) =
                    count_failure(&mut transaction, key, times, login.rule.max_failures, lock_until).await?;
                failures = count;
                locked_now = until == Some(lock_until);
                let (_, until) =
                    count_failure(&mut transaction, source, times, source_limit, lock_until).await?;
                source_locked_now = until == Some(lock_until);
            }
            for mail in login.mails {
                crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            }
            transaction.commit().await?;
            Ok(FailureCount {
                failures,
                account_failures,
                locked_now,
                source_locked_now,
            })
        })
    }

    /// Ends the lock-outs (and counts) of the accounts given, from every
    /// source, with an audit entry.
    pub async fn clear_lockouts(
        &self,
        keys: &[String],
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<u64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let mut cleared = 0;
            let statement = format!("DELETE FROM login_lockouts WHERE {KEY_AND_SOURCES}");
            for key in keys {
                cleared += sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
                    .bind(key)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            Ok(cleared)
        })
    }

    /// Keys locked at `now`, whichever accounts they belong to.
    pub async fn current_lockouts(&self, now: Timestamp) -> StoreResult<Vec<LockedLogin>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, LockedLogin>(
                "SELECT key, failures, locked_until FROM login_lockouts \
                 WHERE locked_until > $1 ORDER BY locked_until DESC LIMIT 500",
            )
            .bind(now.millis())
            .fetch_all(pool)
            .await?
        }))
    }

    /// Appends a login attempt that has no other effect (refused before the
    /// password was looked at, say by the per-address limit).
    pub async fn record_login_attempt(
        &self,
        record: &NewLoginRecord<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut connection = pool.acquire().await?;
            crate::logins::insert_login(&mut connection, record, now).await?;
        });
        Ok(())
    }

    /// Login attempts matching `filter`, newest first.
    pub async fn search_logins(
        &self,
        filter: &LoginFilter,
        limit: i64,
    ) -> StoreResult<Vec<LoginRecord>> {
        const QUERY: &str = "SELECT l.id, l.occurred_at, l.person_id, l.email, l.surface, \
                l.succeeded, l.reason, l.ip, l.user_agent, h.hostname \
             FROM login_log l LEFT JOIN ip_hostnames h ON h.ip = l.ip \
             WHERE ($1 IS NULL OR lower(l.email) LIKE $1 ESCAPE '\\') \
               AND ($2 IS NULL OR l.ip = $2) \
               AND ($3 IS NULL OR lower(h.hostname) LIKE $3 ESCAPE '\\') \
               AND ($4 IS NULL OR l.surface = $4) \
               AND ($5 IS NULL OR l.succeeded = $5) \
               AND ($6 IS NULL OR l.person_id = $6) \
               AND ($7 IS NULL OR l.id < $7) \
             ORDER BY l.id DESC LIMIT +$8";
        let email = filter.email_contains.as_deref().map(like_pattern);
        let hostname = filter.hostname_contains.as_deref().map(like_pattern);
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, LoginRecord>(QUERY)
                .bind(email.as_deref())
                .bind(filter.ip.as_deref())
                .bind(hostname.as_deref())
                .bind(filter.surface.map(Surface::as_str))
                .bind(filter.succeeded)
                .bind(filter.person_id)
                .bind(filter.before_id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Agents' successful sign-ins in `[from, until)`, by person and
    /// address (the hostname report).
    pub async fn staff_login_addresses(
        &self,
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Vec<crate::AddressUse>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, crate::AddressUse>(
                "SELECT person_id, ip, COUNT(*) AS count, MAX(occurred_at) AS last_at FROM login_log \
                 WHERE surface = 'staff' AND succeeded AND person_id IS NOT NULL \
                   AND occurred_at >= $1 AND occurred_at < $2 \
                 GROUP BY person_id, ip",
            )
            .bind(from.millis())
            .bind(until.millis())
            .fetch_all(pool)
            .await?
        }))
    }

    /// The confirmed names of some addresses (those that have one).
    pub async fn hostnames_of(
        &self,
        ips: &[String],
    ) -> StoreResult<std::collections::HashMap<String, String>> {
        let mut names = std::collections::HashMap::new();
        for chunk in ips.chunks(500) {
            let rows: Vec<(String, String)> = on_backend!(self, pool => {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT ip, hostname FROM ip_hostnames WHERE hostname IS NOT NULL AND ip IN (",
                );
                let mut separated = query.separated(", ");
                for ip in chunk {
                    separated.push_bind(ip.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await?
            });
            names.extend(rows);
        }
        Ok(names)
    }

    /// When the cached name of `ip` was looked up, if it is cached.
    pub async fn hostname_resolved_at(&self, ip: &str) -> StoreResult<Option<Timestamp>> {
        let resolved: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar("SELECT resolved_at FROM ip_hostnames WHERE ip = $1")
                .bind(ip)
                .fetch_optional(pool)
                .await?
        });
        Ok(resolved.map(Timestamp))
    }

    pub async fn cached_hostname(&self, ip: &str) -> StoreResult<Option<String>> {
        let hostname: Option<Option<String>> = on_backend!(self, pool => {
            sqlx::query_scalar("SELECT hostname FROM ip_hostnames WHERE ip = $1")
                .bind(ip)
                .fetch_optional(pool)
                .await?
        });
        Ok(hostname.flatten())
    }

    /// Stores the answer of a reverse lookup (`None`: no confirmed name).
    pub async fn put_hostname(
        &self,
        ip: &str,
        hostname: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO ip_hostnames (ip, hostname, resolved_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (ip) DO UPDATE SET hostname = $2, resolved_at = $3",
            )
            .bind(ip)
            .bind(hostname)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// The store's operations on the login log and lock-outs: `store.logins()`.
#[derive(Clone, Copy)]
pub struct Logins<'a> {
    store: &'a Store,
}

impl Store {
    pub fn logins(&self) -> Logins<'_> {
        Logins { store: self }
    }
}

impl std::ops::Deref for Logins<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
