//! The places where SQLite and PostgreSQL genuinely differ, each under a
//! name. Everything else in the store is one SQL text that both accept
//! (`$1` placeholders, `RETURNING`, `ON CONFLICT`, integer times); the
//! migrations are the other place the two are written apart
//! (`migrations/sqlite`, `migrations/postgres`, with the same file names).

use crate::Backend;
use crate::backend::{Connected, Connection};

/// Claiming due jobs: PostgreSQL skips rows another node is claiming
/// (`FOR UPDATE SKIP LOCKED`); SQLite has a single writer and no such
/// clause.
pub(crate) fn claim_jobs(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite(_) => CLAIM_SQLITE,
        Backend::Postgres(_) => CLAIM_POSTGRES,
    }
}

/// The due queued jobs of each priority and the running ones whose lease
/// ran out are read apart, each in the order of an index (`jobs_due_by_priority`,
/// `jobs_due`), and merged by priority, then due time: one scan for all
/// (an `OR`) read and sorted every queued job, 3 ms a claim with 10,000
/// waiting, while holding the write lock. The two priorities are those of
/// `JobPriority`.
const CLAIM_SQLITE: &str = "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
         attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT id FROM ( \
         SELECT id, priority, run_at FROM (SELECT id, priority, run_at FROM jobs \
             WHERE status = 'queued' AND priority = 0 AND run_at <= $3 ORDER BY run_at, id LIMIT +$4) \
         UNION ALL \
         SELECT id, priority, run_at FROM (SELECT id, priority, run_at FROM jobs \
             WHERE status = 'queued' AND priority = 1 AND run_at <= $3 ORDER BY run_at, id LIMIT +$4) \
         UNION ALL \
         SELECT id, priority, run_at FROM (SELECT id, priority, run_at FROM jobs \
             WHERE status = 'running' AND lease_expires_at <= $3 ORDER BY run_at, id LIMIT +$4) \
         ORDER BY priority, run_at, id LIMIT +$4)) \
     RETURNING id, kind, payload, attempts, max_attempts";

/// As on SQLite, in index-ordered parts (the single `OR` scan sorted
/// every queued job: 4.8 ms with 10,000 waiting, 0.12 ms in parts); each
/// part skips rows another node is claiming.
const CLAIM_POSTGRES: &str = "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
         attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT id FROM ( \
         SELECT id, priority, run_at FROM (SELECT id, priority, run_at FROM jobs \
             WHERE status = 'queued' AND priority = 0 AND run_at <= $3 \
             ORDER BY run_at, id LIMIT +$4 FOR UPDATE SKIP LOCKED) AS first \
         UNION ALL \
         SELECT id, priority, run_at FROM (SELECT id, priority, run_at FROM jobs \
             WHERE status = 'queued' AND priority = 1 AND run_at <= $3 \
             ORDER BY run_at, id LIMIT +$4 FOR UPDATE SKIP LOCKED) AS normal \
         UNION ALL \
         SELECT id, priority, run_at FROM (SELECT id, priority, run_at FROM jobs \
             WHERE status = 'running' AND lease_expires_at <= $3 \
             ORDER BY run_at, id LIMIT +$4 FOR UPDATE SKIP LOCKED) AS expired \
         ORDER BY priority, run_at, id LIMIT +$4) AS due) \
     RETURNING id, kind, payload, attempts, max_attempts";

/// Serializing the changes that must leave one admin: PostgreSQL takes a
/// transaction-scoped advisory lock; SQLite's `BEGIN IMMEDIATE` already
/// lets one writer in at a time.
pub(crate) async fn serialize_admin_changes(
    connected: &mut impl Connected,
) -> Result<(), sqlx::Error> {
    if let Connection::Postgres(connection) = connected.connection() {
        sqlx::query("SELECT pg_advisory_xact_lock(7301001)")
            .execute(connection)
            .await?;
    }
    Ok(())
}

/// Full-text search of published content: SQLite's FTS5 (`MATCH`, `bm25`,
/// `snippet`, terms written `"term"*`) and PostgreSQL's text search
/// (`to_tsquery`, `ts_rank`, `ts_headline`, terms written `term:*`). Their
/// parameters differ too; `Search::search_content` binds each.
pub(crate) const SQLITE_SEARCH: &str = "SELECT content_search.kind AS kind, CAST(content_search.ref_id AS INTEGER) AS ref_id, \
        content_search.title AS title, \
        snippet(content_search, 1, $3, $4, '\u{2026}', 24) AS snippet, \
        COALESCE(a.slug, n.slug, '') AS slug \
     FROM content_search \
     LEFT JOIN articles a ON content_search.kind = 'article' AND a.id = content_search.ref_id \
     LEFT JOIN news_posts n ON content_search.kind = 'news' AND n.id = content_search.ref_id \
     WHERE content_search MATCH $1 AND ($5 = '' OR content_search.kind = $5) \
     ORDER BY bm25(content_search, 10.0, 1.0), content_search.ref_id DESC LIMIT +$2";

pub(crate) const POSTGRES_SEARCH: &str = "SELECT s.kind, s.ref_id, s.title, ts_headline('simple', s.body, q, $3) AS snippet, \
        COALESCE(a.slug, n.slug, '') AS slug \
     FROM content_search s CROSS JOIN to_tsquery('simple', $1) q \
     LEFT JOIN articles a ON s.kind = 'article' AND a.id = s.ref_id \
     LEFT JOIN news_posts n ON s.kind = 'news' AND n.id = s.ref_id \
     WHERE s.document @@ q AND ($4 = '' OR s.kind = $4) \
     ORDER BY ts_rank(s.document, q) DESC, s.ref_id DESC LIMIT +$2";

/// After the seed wrote rows with ids of its own choosing: PostgreSQL's
/// identity sequences must move past them and both databases refresh their
/// planner statistics; SQLite also folds its write-ahead log into the
/// database file, so the first readers do not wade through gigabytes of it.
/// SQLite keeps only the row counts of `ANALYZE` (`sqlite_stat1`): with the
/// value samples of `sqlite_stat4` it plans a statement again for every
/// new value bound to an indexed comparison, which costs more than the
/// better guesses save.
pub(crate) fn after_seeding(backend: &Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite(_) => &[
            "ANALYZE",
            "DELETE FROM sqlite_stat4",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ],
        Backend::Postgres(_) => &[
            "SELECT setval(pg_get_serial_sequence('people', 'id'), (SELECT COALESCE(MAX(id), 1) FROM people))",
            "SELECT setval(pg_get_serial_sequence('organizations', 'id'), (SELECT COALESCE(MAX(id), 1) FROM organizations))",
            "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT COALESCE(MAX(id), 1) FROM tickets))",
            "SELECT setval(pg_get_serial_sequence('ticket_messages', 'id'), (SELECT COALESCE(MAX(id), 1) FROM ticket_messages))",
            // VACUUM also fills the visibility map, so counts can read
            // indexes alone.
            "VACUUM ANALYZE",
        ],
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `.rs` file under `dir`, with its text.
    fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }

    /// See the crate's notes: a bare bound limit makes SQLite parse the
    /// statement again on every run.
    #[test]
    fn bound_row_limits_are_written_with_a_unary_plus() {
        let mut found = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.len() > 20);
        let bare: Vec<String> = ["LIMIT", "OFFSET"]
            .iter()
            .flat_map(|word| ["$", "\")", "\");", "\","].map(|next| format!("{word} {next}")))
            .collect();
        let offenders: Vec<String> = found
            .iter()
            .flat_map(|(path, text)| {
                text.lines()
                    .enumerate()
                    .filter(|(_, line)| !line.trim_start().starts_with("//"))
                    .filter(|(_, line)| bare.iter().any(|pattern| line.contains(pattern.as_str())))
                    .map(move |(number, line)| format!("{path}:{}: {}", number + 1, line.trim()))
            })
            .collect();
        assert!(
            offenders.is_empty(),
            "bare bound limits:\n{}",
            offenders.join("\n")
        );
    }
}
