//! One conformance suite for the store, run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ferrodesk_core::{Surface, Timestamp};
use ferrodesk_store::{
    AuditFilter, ChangeOutcome, FailedLogin, FailureCount, JobPriority, LinkPurpose, LockoutRule,
    LoginFilter, MAIL_JOB_KIND, NewAuditEntry, NewIpVerification, NewJob, NewLoginChallenge,
    NewLoginRecord, NewMail, NewPasswordLink, NewPerson, NewSession, PasswordChange, PersonChange,
    SecondFactorProof, Store, StoreError, SuccessfulLogin, TrustSource,
};
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

impl Subject {
    /// Runs SQL straight on the database, past the store, as someone with a
    /// database client would.
    async fn raw_execute(&self, sql: &'static str) -> Result<u64, sqlx::Error> {
        if self.database.url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&self.database.url).await?;
            Ok(sqlx::query(sql).execute(&pool).await?.rows_affected())
        } else {
            let pool = sqlx::PgPool::connect(&self.database.url).await?;
            Ok(sqlx::query(sql).execute(&pool).await?.rows_affected())
        }
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
const MINUTE: Duration = Duration::from_secs(60);

fn reset_link(token_hash: &str, expires_at: Timestamp) -> NewPasswordLink<'_> {
    NewPasswordLink {
        token_hash,
        purpose: LinkPurpose::Reset,
        expires_at,
    }
}

fn audit(action: &'static str) -> NewAuditEntry<'static> {
    NewAuditEntry {
        actor_id: None,
        actor: "Admin <admin@example.org>",
        ip: "192.0.2.1",
        action,
        target_kind: "setting",
        target_id: None,
        target: "test",
        before: None,
        after: Some("{}"),
    }
}

fn mail(message_id: &str) -> NewMail<'_> {
    NewMail {
        message_id,
        recipients: r#"["ada@example.org"]"#,
        subject: "Hello",
        text_body: "text",
        html_body: Some("<p>html</p>"),
        headers: "{}",
        template: "user_password_reset",
    }
}

fn job(kind: &str) -> NewJob<'_> {
    NewJob {
        kind,
        payload: "{}",
        run_at: T0,
        max_attempts: 3,
        priority: JobPriority::Normal,
    }
}

on_both_backends! { open;

    async fn emails_are_unique_whatever_their_case(store: Subject) {
        let created = store.people().create_person(&person("Ada@Example.org", "ada@example.org", false, false), T0).await.unwrap();
        assert_eq!(created.email, "Ada@Example.org");
        let again = store.people().create_person(&person("ADA@example.ORG", "ada@example.org", true, false), T0).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        let found = store.people().find_person_by_email("ada@example.org").await.unwrap().unwrap();
        assert_eq!(found.id, created.id);
        assert!(!found.is_agent);
    }

    async fn an_admin_must_be_an_agent(store: Subject) {
        let refused = store.people().create_person(&person("x@example.org", "x@example.org", false, true), T0).await;
        assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    }

    async fn only_one_first_admin_can_be_created_even_when_racing(store: Subject) {
        let mut attempts = Vec::new();
        for index in 0..4 {
            let store = store.store.clone();
            attempts.push(tokio::spawn(async move {
                let email = format!("admin{index}@example.org");
                store.people().create_first_admin(&person(&email, &email, true, true), T0).await.unwrap()
            }));
        }
        let mut created = 0;
        for attempt in attempts {
            if attempt.await.unwrap().is_some() {
                created += 1;
            }
        }
        assert_eq!(created, 1);
        assert_eq!(store.people().count_active_admins().await.unwrap(), 1);
        let later = store.people().create_first_admin(&person("late@example.org", "late@example.org", true, true), T0).await.unwrap();
        assert!(later.is_none());
    }

    async fn agents_are_listed_admins_first(store: Subject) {
        store.people().create_person(&NewPerson { name: "Zed", ..person("z@example.org", "z@example.org", true, false) }, T0).await.unwrap();
        store.people().create_person(&NewPerson { name: "Yan", ..person("y@example.org", "y@example.org", true, true) }, T0).await.unwrap();
        store.people().create_person(&NewPerson { name: "Uma", ..person("u@example.org", "u@example.org", false, false) }, T0).await.unwrap();
        let names: Vec<String> = store.people().list_agents().await.unwrap().into_iter().map(|agent| agent.name).collect();
        assert_eq!(names, ["Yan", "Zed"]);
    }

    async fn organizations_hold_members_and_have_unique_names(store: Subject) {
        let acme = store.people().create_organization("Acme", T0).await.unwrap();
        assert!(matches!(store.people().create_organization("ACME", T0).await, Err(StoreError::Conflict(_))));
        let member = NewPerson { organization_id: Some(acme.id), ..person("m@acme.test", "m@acme.test", false, false) };
        store.people().create_person(&member, T0).await.unwrap();
        let members = store.people().members_of_organization(acme.id).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].organization_id, Some(acme.id));
    }

    async fn sessions_are_found_by_hash_and_surface_and_end_with_a_password_change(store: Subject) {
        let agent = store.people().create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        let session = NewSession {
            token_hash: "hash-1",
            surface: Surface::Staff,
            person_id: agent.id,
            expires_at: T0.plus(Duration::from_secs(3600)),
            ip: "192.0.2.1",
            user_agent: "test",
            remembered: false,
        };
        store.sessions().create_session(&session, T0).await.unwrap();
        let found = store.sessions().find_session("hash-1", Surface::Staff).await.unwrap().unwrap();
        assert_eq!(found.person_id, agent.id);
        assert!(found.is_agent);
        assert!(store.sessions().find_session("hash-1", Surface::Portal).await.unwrap().is_none());
        store.sessions().touch_session("hash-1", T0.plus(Duration::from_secs(60))).await.unwrap();
        let touched = store.sessions().find_session("hash-1", Surface::Staff).await.unwrap().unwrap();
        assert_eq!(touched.last_seen_at, T0.millis() + 60_000);
        store.people().set_password(agent.id, "$argon2id$new", T0).await.unwrap();
        assert_eq!(store.sessions().count_sessions_of(agent.id).await.unwrap(), 0);
    }

    async fn foreign_keys_are_enforced(store: Subject) {
        let orphan = NewSession {
            token_hash: "orphan",
            surface: Surface::Portal,
            person_id: 999_999,
            expires_at: T0.plus(Duration::from_secs(60)),
            ip: "192.0.2.1",
            user_agent: "",
            remembered: false,
        };
        let refused = store.sessions().create_session(&orphan, T0).await;
        assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    }

    async fn stale_sessions_are_purged(store: Subject) {
        let agent = store.people().create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        for (hash, expires_in) in [("old", 10), ("young", 10_000)] {
            let session = NewSession {
                token_hash: hash,
                surface: Surface::Staff,
                person_id: agent.id,
                expires_at: T0.plus(Duration::from_secs(expires_in)),
                ip: "192.0.2.1",
                user_agent: "",
                remembered: false,
            };
            store.sessions().create_session(&session, T0).await.unwrap();
        }
        let now = T0.plus(Duration::from_secs(20));
        let removed = store.sessions().delete_stale_sessions(now, T0.minus(Duration::from_secs(1)), T0.minus(Duration::from_secs(1))).await.unwrap();
        assert_eq!(removed, 1);
        assert!(store.sessions().find_session("young", Surface::Staff).await.unwrap().is_some());
    }

    async fn reset_tokens_work_once_and_only_the_newest(store: Subject) {
        let user = store.people().create_person(&person("u@example.org", "u@example.org", false, false), T0).await.unwrap();
        let hour = Duration::from_secs(3600);
        store.password_links().create_password_reset(&reset_link("first", T0.plus(hour)), user.id, T0, None).await.unwrap();
        store.password_links().create_password_reset(&reset_link("second", T0.plus(hour)), user.id, T0, None).await.unwrap();
        assert_eq!(store.password_links().peek_password_reset("first", T0).await.unwrap(), None);
        assert_eq!(store.password_links().peek_password_reset("second", T0).await.unwrap(), Some((user.id, LinkPurpose::Reset)));
        assert_eq!(store.password_links().peek_password_reset("second", T0.plus(hour)).await.unwrap(), None, "expired");
        let entry = audit("password.reset");
        let change = |hash| PasswordChange { person_id: user.id, new_hash: hash, history: 5, keep_session: None, audit: &entry };
        assert!(store.password_links().complete_password_reset("second", &change("$argon2id$x"), T0).await.unwrap());
        assert!(!store.password_links().complete_password_reset("second", &change("$argon2id$y"), T0).await.unwrap(), "used");
        let updated = store.people().get_person(user.id).await.unwrap().unwrap();
        assert_eq!(updated.password_hash.as_deref(), Some("$argon2id$x"));
    }

    async fn a_reset_link_and_its_mail_are_stored_together(store: Subject) {
        let user = store.people().create_person(&person("u@example.org", "u@example.org", false, false), T0).await.unwrap();
        store.password_links().create_password_reset(&reset_link("token", T0.plus(MINUTE)), user.id, T0, Some(&mail("<m1@example.org>"))).await.unwrap();
        let queued = store.outbox().list_mail(Some("queued"), 10).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].message_id, "<m1@example.org>");
        let jobs = store.jobs().claim_jobs("node", T0.plus(MINUTE), T0, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, MAIL_JOB_KIND);
        assert_eq!(jobs[0].payload, format!("{{\"outbox_id\":{}}}", queued[0].id));
        // A failing mail insert (duplicate Message-ID) takes the link with it.
        let failed = store.password_links().create_password_reset(&reset_link("other", T0.plus(MINUTE)), user.id, T0, Some(&mail("<m1@example.org>"))).await;
        assert!(failed.is_err());
        assert_eq!(store.password_links().peek_password_reset("other", T0).await.unwrap(), None);
        assert!(store.password_links().peek_password_reset("token", T0).await.unwrap().is_some(), "the earlier link was not ended either");
    }

    async fn an_invited_person_arrives_with_link_and_mail_or_not_at_all(store: Subject) {
        let invited = NewPerson { password_hash: None, ..person("new@example.org", "new@example.org", true, false) };
        let link = NewPasswordLink { token_hash: "invite", purpose: LinkPurpose::Invitation, expires_at: T0.plus(MINUTE) };
        let created = store.password_links().create_invited_person(&invited, &link, &mail("<i1@example.org>"), &audit("agent.invited"), T0).await.unwrap();
        assert_eq!(created.password_hash, None);
        assert_eq!(store.password_links().peek_password_reset("invite", T0).await.unwrap(), Some((created.id, LinkPurpose::Invitation)));
        let again = store.password_links().create_invited_person(&invited, &NewPasswordLink { token_hash: "invite2", ..link }, &mail("<i2@example.org>"), &audit("agent.invited"), T0).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert_eq!(store.outbox().list_mail(None, 10).await.unwrap().len(), 1, "no mail for the refused invitation");
    }

    async fn the_audit_log_refuses_updates_and_deletes(store: Subject) {
        store.audit_log().append_audit(&audit("settings.changed"), T0).await.unwrap();
        let entries = store.audit_log().search_audit(&AuditFilter::default(), 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].action, "settings.changed");
        let update = store.raw_execute("UPDATE audit_log SET action = 'nothing'").await;
        assert!(update.is_err(), "an update went through");
        let delete = store.raw_execute("DELETE FROM audit_log").await;
        assert!(delete.is_err(), "a delete went through");
        assert_eq!(store.audit_log().search_audit(&AuditFilter::default(), 10).await.unwrap().len(), 1);
        let filtered = AuditFilter { action_prefix: Some("login.".into()), ..AuditFilter::default() };
        assert!(store.audit_log().search_audit(&filtered, 10).await.unwrap().is_empty());
        let by_actor = AuditFilter { actor_contains: Some("ADMIN%".into()), ..AuditFilter::default() };
        assert!(store.audit_log().search_audit(&by_actor, 10).await.unwrap().is_empty(), "% is matched literally");
    }

    async fn failed_logins_lock_a_source_at_the_limit_never_the_account_and_a_new_window_starts_over(store: Subject) {
        let rule = LockoutRule { max_failures: 3, window: Duration::from_secs(900), lock_for: Duration::from_secs(900) };
        let record = NewLoginRecord { person_id: None, email: "x@example.org", surface: Surface::Staff, succeeded: false, reason: "unknown_account", ip: "192.0.2.9", user_agent: "" };
        let (account, pair, source) = ("staff:x@example.org", "staff:x@example.org|192.0.2.9", "source:staff:192.0.2.9");
        let failed = FailedLogin { record: &record, audit: None, account_key: account, source_keys: Some((pair, source, 5)), rule, mails: &[] };
        let first = store.logins().record_failed_login(&failed, T0).await.unwrap();
        assert_eq!(first, FailureCount { failures: 1, account_failures: 1, locked_now: false, source_locked_now: false });
        store.logins().record_failed_login(&failed, T0).await.unwrap();
        let third = store.logins().record_failed_login(&failed, T0).await.unwrap();
        assert!(third.locked_now && !third.source_locked_now);
        assert_eq!(store.logins().locked_until(pair, T0).await.unwrap(), Some(T0.plus(Duration::from_secs(900))));
        assert_eq!(store.logins().locked_until(account, T0).await.unwrap(), None, "the account itself is never locked");
        assert_eq!(store.logins().account_locked_until(account, T0).await.unwrap(), Some(T0.plus(Duration::from_secs(900))));
        let fourth = store.logins().record_failed_login(&failed, T0.plus(MINUTE)).await.unwrap();
        assert!(!fourth.locked_now, "a lock is not renewed while it holds");
        let fifth = store.logins().record_failed_login(&failed, T0.plus(MINUTE)).await.unwrap();
        assert!(fifth.source_locked_now, "five failures from one source lock it out of every account");
        assert_eq!(fifth.account_failures, 5);
        assert_eq!(store.logins().recent_failures(account, T0.minus(MINUTE)).await.unwrap(), 5);
        // Another source is counted apart.
        let elsewhere = NewLoginRecord { ip: "198.51.100.4", ..record };
        let other = FailedLogin { record: &elsewhere, source_keys: Some(("staff:x@example.org|198.51.100.4", "source:staff:198.51.100.4", 5)), ..failed };
        let counted = store.logins().record_failed_login(&other, T0.plus(MINUTE)).await.unwrap();
        assert_eq!((counted.failures, counted.account_failures, counted.locked_now), (1, 6, false));
        let after_lock = T0.plus(Duration::from_secs(961));
        assert_eq!(store.logins().locked_until(pair, after_lock).await.unwrap(), None);
        let fresh = store.logins().record_failed_login(&failed, after_lock).await.unwrap();
        assert_eq!(fresh.failures, 1, "a new window starts counting again");
        // An admin's unlock clears the account from every source.
        store.logins().record_failed_login(&failed, after_lock).await.unwrap();
        store.logins().record_failed_login(&failed, after_lock).await.unwrap();
        assert!(store.logins().locked_until(pair, after_lock).await.unwrap().is_some());
        let cleared = store.logins().clear_lockouts(&[account.to_owned()], &audit("agent.unlocked"), after_lock).await.unwrap();
        assert_eq!(cleared, 3, "the account, and its two sources");
        assert_eq!(store.logins().account_locked_until(account, after_lock).await.unwrap(), None);
        assert_eq!(store.logins().recent_failures(source, T0.plus(MINUTE)).await.unwrap(), 3, "the source's own count is not the account's");
        assert_eq!(store.logins().search_logins(&LoginFilter::default(), 20).await.unwrap().len(), 9);
    }

    async fn lapsed_trust_links_challenges_and_lockouts_are_purged(store: Subject) {
        let agent = store.people().create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        let day = Duration::from_secs(86_400);
        store.trusted_ips().trust_ip(agent.id, "192.0.2.1", T0.plus(day), TrustSource::CommandLine, &audit("ip.trusted"), T0).await.unwrap();
        store.trusted_ips().trust_ip(agent.id, "192.0.2.2", T0.plus(day * 10), TrustSource::Email, &audit("ip.trusted"), T0).await.unwrap();
        store.trusted_ips().create_ip_verification(&NewIpVerification { token_hash: "v1", person_id: agent.id, ip: "192.0.2.3", expires_at: T0.plus(MINUTE) }, &mail("<v@example.org>"), T0).await.unwrap();
        store.two_factor().create_login_challenge(&NewLoginChallenge { token_hash: "c1", person_id: agent.id, surface: Surface::Staff, remembered: false, expires_at: T0.plus(MINUTE) }, T0).await.unwrap();
        let rule = LockoutRule { max_failures: 10, window: Duration::from_secs(900), lock_for: Duration::from_secs(900) };
        let record = NewLoginRecord { person_id: None, email: "x@example.org", surface: Surface::Staff, succeeded: false, reason: "unknown_account", ip: "192.0.2.9", user_agent: "" };
        store.logins().record_failed_login(&FailedLogin { record: &record, audit: None, account_key: "staff:x@example.org", source_keys: None, rule, mails: &[] }, T0).await.unwrap();

        assert_eq!(store.trusted_ips().delete_lapsed_security_rows(T0.plus(MINUTE)).await.unwrap(), 2, "the link and the challenge");
        assert!(store.trusted_ips().find_ip_verification("v1", T0).await.unwrap().is_none());
        let later = T0.plus(day * 2);
        assert_eq!(store.trusted_ips().delete_lapsed_security_rows(later).await.unwrap(), 2, "one trusted address and the day-old counter");
        let left = store.trusted_ips().trusted_ips_of(agent.id, T0).await.unwrap();
        assert_eq!(left.iter().map(|trusted| trusted.ip.as_str()).collect::<Vec<_>>(), ["192.0.2.2"]);
        assert!(store.trusted_ips().is_ip_trusted(agent.id, "192.0.2.2", later).await.unwrap());
        assert!(!store.trusted_ips().is_ip_trusted(agent.id, "192.0.2.2", T0.plus(day * 10)).await.unwrap(), "trust ends at its time");
    }

    async fn a_totp_step_or_recovery_code_opens_one_session_only(store: Subject) {
        let agent = store.people().create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        store.two_factor().set_pending_totp_secret(agent.id, "sealed-secret", T0).await.unwrap();
        assert!(!store.two_factor().enable_totp(agent.id, "another-secret", 5, &[], &audit("two_factor.enabled"), T0).await.unwrap(), "only the secret the code was checked against");
        assert!(store.two_factor().enable_totp(agent.id, "sealed-secret", 5, &["code-hash".to_owned()], &audit("two_factor.enabled"), T0).await.unwrap());
        let state = store.two_factor().two_factor_state(agent.id).await.unwrap().unwrap();
        assert_eq!((state.totp_secret.as_deref(), state.totp_last_step, state.recovery_codes_left), (Some("sealed-secret"), 5, 1));

        let login = |token: &'static str, proof: SecondFactorProof<'static>| {
            let session = NewSession { token_hash: token, surface: Surface::Staff, person_id: agent.id, expires_at: T0.plus(MINUTE), ip: "192.0.2.1", user_agent: "", remembered: false };
            (session, proof)
        };
        let record = NewLoginRecord { person_id: Some(agent.id), email: "a@example.org", surface: Surface::Staff, succeeded: true, reason: "ok", ip: "192.0.2.1", user_agent: "" };
        let entry = audit("login.succeeded");
        for (token, proof, expected) in [
            ("s1", SecondFactorProof::TotpStep { step: 5, challenge_hash: "c" }, false),
            ("s2", SecondFactorProof::TotpStep { step: 6, challenge_hash: "c" }, true),
            ("s3", SecondFactorProof::TotpStep { step: 6, challenge_hash: "c" }, false),
            ("s4", SecondFactorProof::RecoveryCode { code_hash: "code-hash", challenge_hash: "c" }, true),
            ("s5", SecondFactorProof::RecoveryCode { code_hash: "code-hash", challenge_hash: "c" }, false),
        ] {
            let (session, proof) = login(token, proof);
            let opened = store.logins().record_successful_login(&SuccessfulLogin { session: &session, record: &record, audit: &entry, lockout_key: "staff:a@example.org", mail: None, second_factor: Some(proof) }, T0).await.unwrap();
            assert_eq!(opened, expected, "{token}");
        }
        assert_eq!(store.sessions().count_sessions_of(agent.id).await.unwrap(), 2, "nothing is written for a spent factor");
        assert!(store.two_factor().disable_two_factor(agent.id, true, &audit("agent.two_factor_reset"), T0).await.unwrap());
        assert_eq!(store.sessions().count_sessions_of(agent.id).await.unwrap(), 0);
        assert_eq!(store.two_factor().two_factor_state(agent.id).await.unwrap().unwrap().recovery_codes_left, 0);
    }

    async fn the_last_active_admin_cannot_be_demoted_or_disabled(store: Subject) {
        let admin = store.people().create_person(&person("a@example.org", "a@example.org", true, true), T0).await.unwrap();
        let entry = audit("agent.demoted");
        assert_eq!(store.people().change_person(admin.id, &PersonChange::Admin(false), &entry, T0).await.unwrap(), ChangeOutcome::LastAdmin);
        assert_eq!(store.people().change_person(admin.id, &PersonChange::Disabled(true), &entry, T0).await.unwrap(), ChangeOutcome::LastAdmin);
        let second = store.people().create_person(&person("b@example.org", "b@example.org", true, true), T0).await.unwrap();
        assert_eq!(store.people().change_person(admin.id, &PersonChange::Admin(false), &entry, T0).await.unwrap(), ChangeOutcome::Done);
        assert_eq!(store.people().change_person(second.id, &PersonChange::Disabled(true), &entry, T0).await.unwrap(), ChangeOutcome::LastAdmin);
        assert_eq!(store.audit_log().search_audit(&AuditFilter::default(), 10).await.unwrap().len(), 1, "only the change that happened is audited");
    }

    async fn password_history_keeps_the_newest_hashes(store: Subject) {
        let agent = store.people().create_person(&person("a@example.org", "a@example.org", true, false), T0).await.unwrap();
        let entry = audit("password.changed");
        for hash in ["h1", "h2", "h3", "h4"] {
            store.people().change_password(&PasswordChange { person_id: agent.id, new_hash: hash, history: 2, keep_session: None, audit: &entry }, T0).await.unwrap();
        }
        let recent = store.people().recent_password_hashes(agent.id, 2).await.unwrap();
        assert_eq!(recent, ["h4", "h3", "h2"], "the current hash first, then the two kept");
    }

    async fn jobs_are_claimed_once_and_retried_until_dead(store: Subject) {
        let id = store.jobs().enqueue_job(&job("test.kind"), T0).await.unwrap();
        let later = store.jobs().enqueue_job(&NewJob { run_at: T0.plus(MINUTE), ..job("test.kind") }, T0).await.unwrap();
        let claimed = store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 10).await.unwrap();
        assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [id], "only due jobs");
        assert_eq!(claimed[0].attempts, 1);
        assert!(store.jobs().claim_jobs("b", T0.plus(MINUTE), T0, 10).await.unwrap().is_empty(), "a leased job is not handed out twice");
        // Attempts 1 and 2 fail and are retried; the third makes it dead.
        store.jobs().fail_job(id, "a", "boom 1", T0, false, T0).await.unwrap();
        let second = store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 1).await.unwrap();
        assert_eq!((second[0].id, second[0].attempts), (id, 2));
        store.jobs().fail_job(id, "a", "boom 2", T0, false, T0).await.unwrap();
        store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 1).await.unwrap();
        store.jobs().fail_job(id, "a", "boom 3", T0, false, T0).await.unwrap();
        let dead = store.jobs().jobs_with_status("dead", 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("boom 3"));
        assert!(store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 10).await.unwrap().is_empty(), "dead jobs stay put");
        assert!(store.jobs().retry_dead_job(id, &audit("job.retried"), T0).await.unwrap());
        let retried = store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 1).await.unwrap();
        assert_eq!((retried[0].id, retried[0].attempts), (id, 1), "fresh attempts");
        // A permanent failure is dead at once.
        store.jobs().fail_job(id, "a", "never", T0, true, T0).await.unwrap();
        assert_eq!(store.jobs().get_job(id).await.unwrap().unwrap().status, "dead");
        assert_eq!(store.jobs().next_job_due().await.unwrap(), Some(T0.plus(MINUTE)));
        assert_eq!(store.jobs().get_job(later).await.unwrap().unwrap().status, "queued");
    }

    async fn a_lease_that_runs_out_lets_another_worker_take_the_job(store: Subject) {
        let id = store.jobs().enqueue_job(&job("test.kind"), T0).await.unwrap();
        store.jobs().claim_jobs("dead-node", T0.plus(MINUTE), T0, 1).await.unwrap();
        assert!(store.jobs().claim_jobs("b", T0.plus(MINUTE * 2), T0.plus(Duration::from_secs(59)), 1).await.unwrap().is_empty());
        let taken = store.jobs().claim_jobs("b", T0.plus(MINUTE * 3), T0.plus(MINUTE), 1).await.unwrap();
        assert_eq!(taken[0].id, id);
        assert!(!store.jobs().complete_job(id, "dead-node").await.unwrap(), "the old owner lost its lease");
        assert!(store.jobs().complete_job(id, "b").await.unwrap());
        assert_eq!(store.jobs().count_jobs().await.unwrap(), 0);
    }

    async fn finished_jobs_go_with_the_next_claim_and_in_order_of_due_time(store: Subject) {
        let first = store.jobs().enqueue_job(&job("test.kind"), T0).await.unwrap();
        let second = store.jobs().enqueue_job(&NewJob { run_at: T0.minus(MINUTE), ..job("test.kind") }, T0).await.unwrap();
        let third = store.jobs().enqueue_job(&job("test.kind"), T0).await.unwrap();
        let claimed = store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 2).await.unwrap();
        assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [first, second], "earliest due first");
        // A lease that ran out is taken before a job due later.
        let expired = store.jobs().claim_jobs("b", T0.plus(MINUTE * 3), T0.plus(MINUTE * 2), 1).await.unwrap();
        assert_eq!(expired[0].id, second, "due a minute earlier than the others");
        // Finishing removes only what the owner still holds, in the claim's transaction.
        let next = store.jobs().finish_and_claim_jobs("a", &[first, second], T0.plus(MINUTE * 4), T0.plus(MINUTE * 2), 1).await.unwrap();
        assert_eq!(next.iter().map(|job| job.id).collect::<Vec<_>>(), [third]);
        assert!(store.jobs().get_job(first).await.unwrap().is_none(), "done and removed");
        assert!(store.jobs().get_job(second).await.unwrap().is_some(), "another worker holds it now");
        assert!(store.jobs().finish_and_claim_jobs("b", &[second], T0, T0, 0).await.unwrap().is_empty());
        assert_eq!(store.jobs().count_jobs().await.unwrap(), 1);
    }

    async fn jobs_of_the_first_priority_are_claimed_before_older_normal_ones(store: Subject) {
        let old = store.jobs().enqueue_job(&NewJob { run_at: T0.minus(MINUTE * 10), ..job("test.kind") }, T0).await.unwrap();
        let first = store.jobs().enqueue_job(&NewJob { priority: JobPriority::First, ..job("test.kind") }, T0).await.unwrap();
        let later_first = store.jobs().enqueue_job(&NewJob { run_at: T0.plus(MINUTE), priority: JobPriority::First, ..job("test.kind") }, T0).await.unwrap();
        let claimed = store.jobs().claim_jobs("a", T0.plus(MINUTE * 10), T0, 1).await.unwrap();
        assert_eq!(claimed[0].id, first, "the first priority goes ahead of a job due earlier");
        let claimed = store.jobs().claim_jobs("a", T0.plus(MINUTE * 10), T0, 5).await.unwrap();
        assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [old], "a first-priority job not yet due waits");
        let claimed = store.jobs().claim_jobs("a", T0.plus(MINUTE * 3), T0.plus(MINUTE * 2), 5).await.unwrap();
        assert_eq!(claimed[0].id, later_first, "then it is due, and first again");
    }

    async fn a_released_job_does_not_count_the_attempt(store: Subject) {
        let id = store.jobs().enqueue_job(&job("test.kind"), T0).await.unwrap();
        store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 1).await.unwrap();
        store.jobs().release_job(id, "a", T0).await.unwrap();
        let again = store.jobs().claim_jobs("b", T0.plus(MINUTE), T0, 1).await.unwrap();
        assert_eq!((again[0].id, again[0].attempts), (id, 1));
    }

    async fn two_nodes_claiming_at_once_never_share_a_job(store: Subject) {
        for _ in 0..300 {
            store.jobs().enqueue_job(&job("test.kind"), T0).await.unwrap();
        }
        let second = Store::open(&store.database.url).await.unwrap();
        let claim_all = |store: Store, owner: &'static str| async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.jobs().claim_jobs(owner, T0.plus(MINUTE), T0, 7).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for job in batch {
                    assert!(store.jobs().complete_job(job.id, owner).await.unwrap());
                    mine.push(job.id);
                }
            }
        };
        let (first_ids, second_ids) = tokio::join!(claim_all(store.store.clone(), "a"), claim_all(second, "b"));
        let mut all: Vec<i64> = first_ids.iter().chain(&second_ids).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), first_ids.len() + second_ids.len(), "no job went to both nodes");
        assert_eq!(all.len(), 300, "none was lost");
    }

    async fn the_outbox_records_attempts_and_retries_failed_mail(store: Subject) {
        let id = store.outbox().queue_mail(&mail("<o1@example.org>"), T0).await.unwrap();
        store.outbox().mark_mail_attempt_failed(id, "connection refused", false).await.unwrap();
        let waiting = store.outbox().get_mail(id).await.unwrap().unwrap();
        assert_eq!((waiting.status.as_str(), waiting.attempts), ("queued", 1));
        assert_eq!(waiting.last_error.as_deref(), Some("connection refused"));
        assert!(!store.outbox().retry_mail(id, &audit("mail.retried"), T0).await.unwrap(), "only failed mail is retried");
        // Its job gives up: the mail is failed and the job dead.
        let claimed = store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 1).await.unwrap();
        store.jobs().fail_job(claimed[0].id, "a", "gave up", T0, true, T0).await.unwrap();
        store.outbox().mark_mail_attempt_failed(id, "gave up", true).await.unwrap();
        assert_eq!(store.outbox().list_mail(Some("failed"), 10).await.unwrap().len(), 1);
        assert!(store.outbox().retry_mail(id, &audit("mail.retried"), T0).await.unwrap());
        assert!(store.jobs().jobs_with_status("dead", 10).await.unwrap().is_empty(), "the dead job made way");
        let resent = store.jobs().claim_jobs("a", T0.plus(MINUTE), T0, 10).await.unwrap();
        assert_eq!(resent.len(), 1);
        store.outbox().mark_mail_sent(id, T0).await.unwrap();
        let sent = store.outbox().get_mail(id).await.unwrap().unwrap();
        assert_eq!((sent.status.as_str(), sent.sent_at), ("sent", Some(T0.millis())));
        assert_eq!(store.outbox().count_mail_by_status().await.unwrap(), vec![("sent".to_owned(), 1)]);
    }

    async fn rate_limits_count_within_a_window_per_key(store: Subject) {
        for _ in 0..3 {
            assert!(store.rate_limits().hit_rate_limit("k", MINUTE, 3, T0).await.unwrap());
        }
        assert!(!store.rate_limits().hit_rate_limit("k", MINUTE, 3, T0).await.unwrap());
        assert!(store.rate_limits().hit_rate_limit("other", MINUTE, 3, T0).await.unwrap(), "keys are separate");
        assert!(store.rate_limits().hit_rate_limit("k", MINUTE, 3, T0.plus(MINUTE)).await.unwrap(), "a new window");
        assert_eq!(store.rate_limits().delete_rate_limits_before(T0.plus(MINUTE)).await.unwrap(), 1, "only the spent counter");
    }

    async fn single_settings_are_read_and_deleted(store: Subject) {
        assert_eq!(store.settings().get_setting("mail.smtp").await.unwrap(), None);
        store.settings().put_setting("mail.smtp", "{}", T0).await.unwrap();
        assert_eq!(store.settings().get_setting("mail.smtp").await.unwrap().as_deref(), Some("{}"));
        assert!(store.settings().delete_setting("mail.smtp").await.unwrap());
        assert!(!store.settings().delete_setting("mail.smtp").await.unwrap());
    }

    async fn settings_are_upserted(store: Subject) {
        store.settings().put_setting("sessions.staff", "{\"a\":1}", T0).await.unwrap();
        store.settings().put_setting("sessions.staff", "{\"a\":2}", T0).await.unwrap();
        assert_eq!(store.settings().load_settings().await.unwrap(), vec![("sessions.staff".to_owned(), "{\"a\":2}".to_owned())]);
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
            store.error_log().record_error(&entry, T0.plus(Duration::from_secs(index as u64))).await.unwrap();
        }
        let errors = store.error_log().recent_errors(10).await.unwrap();
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
    store
        .settings()
        .put_setting("probe", "1", T0)
        .await
        .unwrap();
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
