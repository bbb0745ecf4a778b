//! One conformance suite for the store, run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ferrodesk_core::{Surface, Timestamp};
use ferrodesk_store::{NewPerson, NewSession, Store, StoreError};
use ferrodesk_testkit::{Backend, TestDatabase, on_both_backends};

struct Subject {
    store: Store,
    database: TestDatabase,
}

impl std::ops::Deref for Subject {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

async fn open(backend: Backend) -> Option<Subject> {
    let database = TestDatabase::fresh(backend).await?;
    let store = Store::open(&database.url).await.expect("open the store");
    Some(Subject { store, database })
}

fn person<'a>(
    email: &'a str,
    normalized: &'a str,
    is_agent: bool,
    is_admin: bool,
) -> NewPerson<'a> {
    NewPerson {
        email,
        email_normalized: normalized,
        name: "Test Person",
        password_hash: Some("$argon2id$placeholder"),
        is_agent,
        is_admin,
        organization_id: None,
    }
}

const T0: Timestamp = Timestamp(1_800_000_000_000);

on_both_backends! { open;

    async fn emails_are_unique_whatever_their_case(store: Subject) {
        let created = store.create_person(&person("Ada@Example.org", "ada@example.org", false, false), T0).await.unwrap();
        assert_eq!(created.email, "Ada@Example.org");
        let again = store.create_person(&person("ADA@example.ORG", "ada@example.org", true, false), T0).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        let found = store.find_person_by_email("ada@example.org").await.unwrap().unwrap();
        assert_eq!(found.id, created.id);
        assert!(!found.is_agent);
    }

    async fn an_admin_must_be_an_agent(store: Subject) {
        let refused = store.create_person(&person("x@example.org", "x@example.org", false, true), T0).await;
        assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    }

    async fn only_one_first_admin_can_be_created_even_when_racing(store: Subject) {
        let mut attempts = Vec::new();
        for index in 0..4 {
            let store = store.store.clone();
            attempts.push(tokio::spawn(async move {
                let email = format!("admin{index}@example.org");
                store.create_first_admin(&person(&email, &email, true, true), T0).await.unwrap()
            }));
        }
        let mut created = 0;
        for attempt in attempts {
            if attempt.await.unwrap().is_some() {
                created += 1;
            }
        }
        assert_eq!(created, 1);
        assert_eq!(store.count_active_admins().await.unwrap(), 1);
        let later = store.create_first_admin(&person("late@example.org", "late@example.org", true, true), T0).await.unwrap();
        assert!(later.is_none());
    }

    async fn agents_are_listed_admins_first(store: Subject) {
        store.create_person(&NewPerson { name: "Zed", ..person("z@example.org", "z@example.org", true, false) }, T0).await.unwrap();
        store.create_person(&NewPerson { name: "Yan", ..person("y@example.org", "y@example.org", true, true) }, T0).await.unwrap();
        store.create_person(&NewPerson { name: "Uma", ..person("u@example.org", "u@example.org", false, false) }, T0).await.unwrap();
        let names: Vec<String> = store.list_agents().await.unwrap().into_iter().map(|agent| agent.name).collect();
        assert_eq!(names, ["Yan", "Zed"]);
    }

    async fn organizations_hold_members_and_have_unique_names(store: Subject) {
        let acme = store.create_organization("Acme", T0).await.unwrap();
        assert!(matches!(store.create_organization("ACME", T0).await, Err(StoreError::Conflict(_))));
        let member = NewPerson { organization_id: Some(acme.id), ..person("m@acme.test", "m@acme.test", false, false) };
        store.create_person(&member, T0).await.unwrap();
        let members = store.members_of_organization(acme.id).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].organization_id, Some(acme.id));
    }

    async fn sessions_are_found_by_hash_and_surface_and_end_with_a_password_change(store: Subject) {
        let agent = store.create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        let session = NewSession {
            token_hash: "hash-1",
            surface: Surface::Staff,
            person_id: agent.id,
            expires_at: T0.plus(Duration::from_secs(3600)),
            ip: "192.0.2.1",
            user_agent: "test",
        };
        store.create_session(&session, T0).await.unwrap();
        let found = store.find_session("hash-1", Surface::Staff).await.unwrap().unwrap();
        assert_eq!(found.person_id, agent.id);
        assert!(found.is_agent);
        assert!(store.find_session("hash-1", Surface::Portal).await.unwrap().is_none());
        store.touch_session("hash-1", T0.plus(Duration::from_secs(60))).await.unwrap();
        let touched = store.find_session("hash-1", Surface::Staff).await.unwrap().unwrap();
        assert_eq!(touched.last_seen_at, T0.millis() + 60_000);
        store.set_password(agent.id, "$argon2id$new", T0).await.unwrap();
        assert_eq!(store.count_sessions_of(agent.id).await.unwrap(), 0);
    }

    async fn foreign_keys_are_enforced(store: Subject) {
        let orphan = NewSession {
            token_hash: "orphan",
            surface: Surface::Portal,
            person_id: 999_999,
            expires_at: T0.plus(Duration::from_secs(60)),
            ip: "192.0.2.1",
            user_agent: "",
        };
        let refused = store.create_session(&orphan, T0).await;
        assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    }

    async fn stale_sessions_are_purged(store: Subject) {
        let agent = store.create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        for (hash, expires_in) in [("old", 10), ("young", 10_000)] {
            let session = NewSession {
                token_hash: hash,
                surface: Surface::Staff,
                person_id: agent.id,
                expires_at: T0.plus(Duration::from_secs(expires_in)),
                ip: "192.0.2.1",
                user_agent: "",
            };
            store.create_session(&session, T0).await.unwrap();
        }
        let now = T0.plus(Duration::from_secs(20));
        let removed = store.delete_stale_sessions(now, T0.minus(Duration::from_secs(1))).await.unwrap();
        assert_eq!(removed, 1);
        assert!(store.find_session("young", Surface::Staff).await.unwrap().is_some());
    }

    async fn reset_tokens_work_once_and_only_the_newest(store: Subject) {
        let user = store.create_person(&person("u@example.org", "u@example.org", false, false), T0).await.unwrap();
        let hour = Duration::from_secs(3600);
        store.create_password_reset("first", user.id, T0, T0.plus(hour), None).await.unwrap();
        store.create_password_reset("second", user.id, T0, T0.plus(hour), None).await.unwrap();
        assert_eq!(store.peek_password_reset("first", T0).await.unwrap(), None);
        assert_eq!(store.peek_password_reset("second", T0).await.unwrap(), Some(user.id));
        assert_eq!(store.peek_password_reset("second", T0.plus(hour)).await.unwrap(), None, "expired");
        assert_eq!(store.complete_password_reset("second", "$argon2id$x", T0).await.unwrap(), Some(user.id));
        assert_eq!(store.complete_password_reset("second", "$argon2id$y", T0).await.unwrap(), None, "used");
        let updated = store.get_person(user.id).await.unwrap().unwrap();
        assert_eq!(updated.password_hash.as_deref(), Some("$argon2id$x"));
    }

    async fn settings_are_upserted(store: Subject) {
        store.put_setting("sessions.staff", "{\"a\":1}", T0).await.unwrap();
        store.put_setting("sessions.staff", "{\"a\":2}", T0).await.unwrap();
        assert_eq!(store.load_settings().await.unwrap(), vec![("sessions.staff".to_owned(), "{\"a\":2}".to_owned())]);
    }

    async fn errors_are_logged_newest_first(store: Subject) {
        for (index, request_id) in ["r1", "r2"].iter().enumerate() {
            let entry = ferrodesk_store::NewErrorLogEntry {
                request_id,
                method: "GET",
                path: "/agent",
                status: 500,
                message: "boom",
            };
            store.record_error(&entry, T0.plus(Duration::from_secs(index as u64))).await.unwrap();
        }
        let errors = store.recent_errors(10).await.unwrap();
        assert_eq!(errors.iter().map(|e| e.request_id.as_str()).collect::<Vec<_>>(), ["r2", "r1"]);
        assert_eq!(errors[0].status, 500);
    }

    async fn migrations_can_run_again_and_from_two_nodes_at_once(store: Subject) {
        let url = store.database.url.clone();
        let (first, second) = tokio::join!(Store::open(&url), Store::open(&url));
        first.unwrap();
        second.unwrap();
        store.migrate().await.unwrap();
        assert!(store.ping(Duration::from_secs(1)).await);
    }

    async fn a_closed_database_does_not_answer(store: Subject) {
        assert!(store.ping(Duration::from_secs(1)).await);
        store.close().await;
        assert!(!store.ping(Duration::from_secs(1)).await);
    }
}

#[tokio::test]
async fn a_fresh_database_starts_migrations_from_scratch_on_each_backend_concurrently() {
    // Two nodes racing to migrate a brand-new PostgreSQL database.
    let Some(database) = TestDatabase::fresh(Backend::Postgres).await else {
        return;
    };
    let (first, second) = tokio::join!(Store::open(&database.url), Store::open(&database.url));
    first.unwrap();
    second.unwrap();
}

#[tokio::test]
async fn sqlite_writes_go_through_the_write_ahead_log() {
    let database = TestDatabase::fresh(Backend::Sqlite).await.unwrap();
    let store = Store::open(&database.url).await.unwrap();
    store.put_setting("probe", "1", T0).await.unwrap();
    let file = database.url.strip_prefix("sqlite:").unwrap();
    assert!(
        std::path::Path::new(&format!("{file}-wal")).exists(),
        "journal_mode=WAL leaves a -wal file"
    );
    store.close().await;
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let refused = Store::open("mysql://localhost/db").await;
    assert!(matches!(
        refused,
        Err(ferrodesk_store::ConnectError::UnsupportedScheme)
    ));
}
