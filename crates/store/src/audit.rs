//! The audit log: who changed what, from where, with the values before and
//! after. Entries are only ever appended (the database refuses updates and
//! deletes), and a change and its entry are written in one transaction.

use ferrodesk_core::Timestamp;

use crate::backend::{Connected, on_connection};
use crate::{Store, StoreResult, on_backend};

/// One entry to append. `before` and `after` are JSON texts of the values
/// that changed (never secrets); `target` is a label that stays readable even
/// after the target is gone.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub ip: &'a str,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<i64>,
    pub target: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub target: String,
    pub before_value: Option<String>,
    pub after_value: Option<String>,
}

/// What to look for in the audit log; every field narrows the search.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actions starting with this, e.g. `login.` or `agent.disabled`.
    pub action_prefix: Option<String>,
    /// A piece of the actor's label (name or email), any case.
    pub actor_contains: Option<String>,
    /// A piece of the target's label, any case.
    pub target_contains: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<i64>,
    pub ip: Option<String>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only entries older than this id (the next page, newest first).
    pub before_id: Option<i64>,
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log \
    (occurred_at, actor_id, actor, ip, action, target_kind, target_id, target, before_value, after_value) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Appends an audit entry on a transaction the caller holds.
pub(crate) async fn insert_audit(
    connected: &mut impl Connected,
    entry: &NewAuditEntry<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        sqlx::query(INSERT_AUDIT)
            .bind(now.millis())
            .bind(entry.actor_id)
            .bind(entry.actor)
            .bind(entry.ip)
            .bind(entry.action)
            .bind(entry.target_kind)
            .bind(entry.target_id)
            .bind(entry.target)
            .bind(entry.before)
            .bind(entry.after)
            .execute(connection)
            .await?;
    });
    Ok(())
}

/// Runs one statement with its audit entry in a transaction of its own, on
/// a pool bound by `on_backend!`. The entry is written, and the change kept,
/// only when the statement changed a row; evaluates to whether it did.
macro_rules! audited_statement {
    ($pool:expr, $query:expr, $entry:expr, $now:expr) => {{
        let mut transaction = crate::backend::BeginWrite::begin_write($pool).await?;
        let changed = $query.execute(&mut *transaction).await?.rows_affected() > 0;
        if changed {
            crate::audit::insert_audit(&mut transaction, $entry, $now).await?;
            transaction.commit().await?;
        } else {
            transaction.rollback().await?;
        }
        changed
    }};
}
pub(crate) use audited_statement;

/// Escapes `%`, `_` and `\` so user text matches literally inside LIKE.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.to_lowercase().chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

impl AuditLog<'_> {
    /// Appends an entry on its own, for events that change nothing else.
    pub async fn append_audit(&self, entry: &NewAuditEntry<'_>, now: Timestamp) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut connection = pool.acquire().await?;
            crate::audit::insert_audit(&mut connection, entry, now).await?;
        });
        Ok(())
    }

    /// Entries matching `filter`, newest first, at most `limit`.
    pub async fn search_audit(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        // Every condition is always present and switched off by a NULL
        // parameter, so the SQL text is fixed and everything is bound.
        const QUERY: &str = "SELECT id, occurred_at, actor_id, actor, ip, action, target_kind, \
                target_id, target, before_value, after_value FROM audit_log \
             WHERE ($1 IS NULL OR substr(action, 1, length($1)) = $1) \
               AND ($2 IS NULL OR lower(actor) LIKE $2 ESCAPE '\\') \
               AND ($3 IS NULL OR lower(target) LIKE $3 ESCAPE '\\') \
               AND ($4 IS NULL OR target_kind = $4) \
               AND ($5 IS NULL OR target_id = $5) \
               AND ($6 IS NULL OR ip = $6) \
               AND ($7 IS NULL OR occurred_at >= $7) \
               AND ($8 IS NULL OR occurred_at < $8) \
               AND ($9 IS NULL OR id < $9) \
             ORDER BY id DESC LIMIT +$10";
        let actor = filter.actor_contains.as_deref().map(like_pattern);
        let target = filter.target_contains.as_deref().map(like_pattern);
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, AuditRecord>(QUERY)
                .bind(filter.action_prefix.as_deref())
                .bind(actor.as_deref())
                .bind(target.as_deref())
                .bind(filter.target_kind.as_deref())
                .bind(filter.target_id)
                .bind(filter.ip.as_deref())
                .bind(filter.from.map(Timestamp::millis))
                .bind(filter.until.map(Timestamp::millis))
                .bind(filter.before_id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }
}

/// The store's operations on the audit log: `store.audit_log()`.
#[derive(Clone, Copy)]
pub struct AuditLog<'a> {
    store: &'a Store,
}

impl Store {
    pub fn audit_log(&self) -> AuditLog<'_> {
        AuditLog { store: self }
    }
}

impl std::ops::Deref for AuditLog<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
