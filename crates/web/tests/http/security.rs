//! The account security controls through HTTP: lock-out, admin actions on
//! agents, security settings, password rules, own sessions, the audit and
//! login logs.

use std::time::Duration;

use ferrodesk_app::{AuditFilter, Caller, LoginFilter};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{
    PASSWORD, TestApp, csrf_token_in, location, new_client, spawn_app, wait_until,
};

/// A browser of its own (own cookies) logging in on the staff login form.
pub(crate) struct Browser {
    pub client: reqwest::Client,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            client: new_client(),
        }
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client.get(app.url(path)).send().await.unwrap()
    }

    pub async fn post(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(app.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn csrf(&self, app: &TestApp, page: &str) -> String {
        csrf_token_in(&self.get(app, page).await.text().await.unwrap())
    }

    pub async fn log_in(&self, app: &TestApp, email: &str, password: &str) -> reqwest::Response {
        let token = self.csrf(app, "/agent/login").await;
        self.post(
            app,
            "/agent/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
        .await
    }
}

pub(crate) async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.app
        .store()
        .audit_log()
        .search_audit(&AuditFilter::default(), 500)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect()
}

on_both_backends! { spawn_app;

    async fn ten_wrong_passwords_lock_an_account_until_the_lock_ends(app: TestApp) {
        app.create_agent().await;
        let attacker = Browser::new();
        for attempt in 1..=9 {
            assert_eq!(attacker.log_in(&app, "agent@example.org", "not the password").await.status(), 401, "attempt {attempt}");
        }
        let tenth = attacker.log_in(&app, "agent@example.org", "not the password").await;
        assert_eq!(tenth.status(), 429);
        let wrong_page = attacker.log_in(&app, "agent@example.org", "still wrong").await.text().await.unwrap();
        let right = attacker.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(right.status(), 429, "the right password is refused while locked");
        assert_eq!(right.text().await.unwrap().replace(char::is_alphanumeric, ""), wrong_page.replace(char::is_alphanumeric, ""),
            "the locked answer does not depend on the password");
        // An address nobody has locks the same way: the lock reveals no account.
        for _ in 1..=9 {
            attacker.log_in(&app, "nobody@example.org", "whatever it is").await;
        }
        assert_eq!(attacker.log_in(&app, "nobody@example.org", "whatever it is").await.status(), 429);

        app.clock.advance(Duration::from_secs(16 * 60));
        let after = attacker.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(after.status(), 303, "the lock has ended");
        let actions = audit_actions(&app).await;
        assert!(actions.iter().any(|action| action == "login.locked"), "{actions:?}");
        assert!(actions.iter().any(|action| action == "login.succeeded"));
        let failed = LoginFilter { succeeded: Some(false), ..LoginFilter::default() };
        let log = app.app.store().logins().search_logins(&failed, 100).await.unwrap();
        assert_eq!(log.len(), 22);
        assert_eq!(log.iter().filter(|record| record.reason == "locked").count(), 2);
        assert!(log.iter().all(|record| record.ip == "127.0.0.1"));
    }

    async fn an_admin_sees_and_lifts_a_lock(app: TestApp) {
        app.create_admin().await;
        let agent = app.create_agent().await;
        let attacker = Browser::new();
        for _ in 1..=10 {
            attacker.log_in(&app, "agent@example.org", "not the password").await;
        }
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let page = app.get(&format!("/admin/agents/{}", agent.id)).await.text().await.unwrap();
        assert!(page.contains("id=\"locked\""), "the agent page shows the lock");
        let csrf = csrf_token_in(&page);
        let unlocked = app.post_form(&format!("/admin/agents/{}/unlock", agent.id), &[("csrf_token", &csrf)]).await;
        assert_eq!(unlocked.status(), 303);
        assert_eq!(attacker.log_in(&app, "agent@example.org", PASSWORD).await.status(), 303);
        assert!(audit_actions(&app).await.contains(&"agent.unlocked".to_owned()));
    }

    async fn admins_promote_demote_and_disable_but_never_the_last_admin(app: TestApp) {
        let admin = app.create_admin().await;
        let agent = app.create_agent().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token(&format!("/admin/agents/{}", admin.id)).await;
        let demote_self = app.post_form(&format!("/admin/agents/{}/demote", admin.id), &[("csrf_token", &csrf)]).await;
        assert_eq!(demote_self.status(), 409, "the last admin stays an admin");
        let disable_self = app.post_form(&format!("/admin/agents/{}/disable", admin.id), &[("csrf_token", &csrf)]).await;
        assert_eq!(disable_self.status(), 409);

        let agent_browser = Browser::new();
        assert_eq!(agent_browser.log_in(&app, "agent@example.org", PASSWORD).await.status(), 303);
        let promoted = app.post_form(&format!("/admin/agents/{}/promote", agent.id), &[("csrf_token", &csrf)]).await;
        assert_eq!(promoted.status(), 303);
        assert_eq!(agent_browser.get(&app, "/agent").await.status(), 303, "a change of rights ends the agent's sessions");
        agent_browser.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(agent_browser.get(&app, "/admin").await.status(), 200, "the new admin gets in");

        let demoted = app.post_form(&format!("/admin/agents/{}/demote", admin.id), &[("csrf_token", &csrf)]).await;
        assert_eq!(demoted.status(), 303, "with two admins one may step down");
        assert_eq!(app.get("/admin").await.status(), 303, "and is logged out at once");

        let entries = app.app.store().audit_log().search_audit(&AuditFilter { action_prefix: Some("agent.".into()), ..AuditFilter::default() }, 10).await.unwrap();
        let actions: Vec<_> = entries.iter().map(|entry| entry.action.as_str()).collect();
        assert_eq!(actions, ["agent.demoted", "agent.promoted"], "refused changes leave no entry");
        assert_eq!(entries[0].before_value.as_deref(), Some("true"));
        assert_eq!(entries[0].after_value.as_deref(), Some("false"));
        assert_eq!(entries[0].actor, "Ada Admin <admin@example.org>");
        assert_eq!(entries[0].ip, "127.0.0.1");
    }

    async fn a_disabled_agent_is_logged_out_and_cannot_log_in(app: TestApp) {
        app.create_admin().await;
        let agent = app.create_agent().await;
        let agent_browser = Browser::new();
        agent_browser.log_in(&app, "agent@example.org", PASSWORD).await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/admin").await;
        assert_eq!(app.post_form(&format!("/admin/agents/{}/disable", agent.id), &[("csrf_token", &csrf)]).await.status(), 303);
        assert_eq!(agent_browser.get(&app, "/agent").await.status(), 303);
        assert_eq!(agent_browser.log_in(&app, "agent@example.org", PASSWORD).await.status(), 401);
        assert_eq!(app.post_form(&format!("/admin/agents/{}/enable", agent.id), &[("csrf_token", &csrf)]).await.status(), 303);
        assert_eq!(agent_browser.log_in(&app, "agent@example.org", PASSWORD).await.status(), 303);
    }

    async fn bad_security_settings_are_refused_whole_and_good_ones_apply_at_once(app: TestApp) {
        app.create_admin().await;
        app.create_agent().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/admin/security").await;
        let before = app.app.store().settings().load_settings().await.unwrap();
        let backwards = app.post_form("/admin/security/passwords/agents", &[
            ("csrf_token", &csrf), ("min_length", "200"), ("max_length", "150"), ("min_strength", "3"), ("max_age_days", "0"), ("reuse_history", "5"),
        ]).await;
        assert_eq!(backwards.status(), 400);
        let page = backwards.text().await.unwrap();
        assert!(page.contains("cannot be above the maximum"), "{page}");
        assert!(page.contains("value=\"200\""), "what was typed is shown again");
        let not_a_number = app.post_form("/admin/security/logins/agents", &[
            ("csrf_token", &csrf), ("max_failures", "ten"), ("window_minutes", "15"), ("lock_minutes", "15"), ("per_ip_attempts", "100"),
        ]).await;
        assert_eq!(not_a_number.status(), 400);
        assert!(not_a_number.text().await.unwrap().contains("\u{201c}ten\u{201d} is not a whole number"));
        let bad_address = app.post_form("/admin/security/monitoring", &[("csrf_token", &csrf), ("recipients", "ops@example.org\nnot-an-address")]).await;
        assert_eq!(bad_address.status(), 400);
        assert!(bad_address.text().await.unwrap().contains("\u{201c}not-an-address\u{201d} is not an email address"));
        let idle_over_lifetime = app.post_form("/admin/security/sessions/users", &[
            ("csrf_token", &csrf), ("idle_minutes", "600"), ("lifetime_hours", "2"), ("remember_me_days", "30"),
        ]).await;
        assert_eq!(idle_over_lifetime.status(), 400);
        assert_eq!(app.app.store().settings().load_settings().await.unwrap(), before, "nothing was saved");
        assert!(audit_actions(&app).await.iter().all(|action| !action.starts_with("settings.")));

        let three_strikes = app.post_form("/admin/security/logins/agents", &[
            ("csrf_token", &csrf), ("max_failures", "3"), ("window_minutes", "10"), ("lock_minutes", "5"), ("per_ip_attempts", "50"),
        ]).await;
        assert_eq!(three_strikes.status(), 303);
        let attacker = Browser::new();
        attacker.log_in(&app, "agent@example.org", "nope nope nope").await;
        attacker.log_in(&app, "agent@example.org", "nope nope nope").await;
        assert_eq!(attacker.log_in(&app, "agent@example.org", "nope nope nope").await.status(), 429, "the new limit holds without a restart");
        let entry = &app.app.store().audit_log().search_audit(&AuditFilter { action_prefix: Some("settings.".into()), ..AuditFilter::default() }, 1).await.unwrap()[0];
        assert_eq!(entry.target, "login_limits.agent");
        assert!(entry.before_value.as_deref().unwrap().contains("\"max_failures\":10"));
        assert!(entry.after_value.as_deref().unwrap().contains("\"max_failures\":3"));
    }

    async fn changing_ones_password_needs_the_current_one_and_refuses_a_recent_one(app: TestApp) {
        app.create_agent().await;
        let other_device = Browser::new();
        other_device.log_in(&app, "agent@example.org", PASSWORD).await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/agent/account/password").await;
        let new_password = "a quite different passphrase 42";
        let wrong_current = app.post_form("/agent/account/password", &[
            ("csrf_token", &csrf), ("current_password", "guess"), ("password", new_password), ("password_confirmation", new_password),
        ]).await;
        assert_eq!(wrong_current.status(), 422);
        assert!(wrong_current.text().await.unwrap().contains("not your current password"));
        let same_again = app.post_form("/agent/account/password", &[
            ("csrf_token", &csrf), ("current_password", PASSWORD), ("password", PASSWORD), ("password_confirmation", PASSWORD),
        ]).await;
        assert_eq!(same_again.status(), 422);
        assert!(same_again.text().await.unwrap().contains("used this password before"));
        let changed = app.post_form("/agent/account/password", &[
            ("csrf_token", &csrf), ("current_password", PASSWORD), ("password", new_password), ("password_confirmation", new_password),
        ]).await;
        assert_eq!(changed.status(), 303);
        assert_eq!(app.get("/agent").await.status(), 200, "this session stays");
        assert_eq!(other_device.get(&app, "/agent").await.status(), 303, "the other session ended");
        // The old password is now in the history and cannot come back.
        let csrf = app.csrf_token("/agent/account/password").await;
        let back = app.post_form("/agent/account/password", &[
            ("csrf_token", &csrf), ("current_password", new_password), ("password", PASSWORD), ("password_confirmation", PASSWORD),
        ]).await;
        assert_eq!(back.status(), 422);
        assert!(audit_actions(&app).await.contains(&"password.changed".to_owned()));
    }

    async fn an_expired_password_must_be_changed_before_anything_else(app: TestApp) {
        let mut policy = app.app.settings().await.unwrap().agent_password_policy.clone();
        policy.max_age_days = 30;
        app.app.set_password_policy(&Caller::system(), ferrodesk_app::Audience::Agents, policy).await.unwrap();
        app.create_agent().await;
        app.clock.advance(Duration::from_secs(31 * 24 * 3600));
        assert_eq!(app.log_in_staff("agent@example.org", PASSWORD).await.status(), 303);
        let blocked = app.get("/agent").await;
        assert_eq!(blocked.status(), 303);
        assert_eq!(location(&blocked), "/agent/account/password");
        let form = app.get("/agent/account/password").await.text().await.unwrap();
        assert!(form.contains("id=\"must-change\""));
        let csrf = csrf_token_in(&form);
        let new_password = "a quite different passphrase 42";
        let changed = app.post_form("/agent/account/password", &[
            ("csrf_token", &csrf), ("current_password", PASSWORD), ("password", new_password), ("password_confirmation", new_password),
        ]).await;
        assert_eq!(changed.status(), 303);
        assert_eq!(app.get("/agent").await.status(), 200);
    }

    async fn an_admin_can_require_a_new_password(app: TestApp) {
        app.create_admin().await;
        let agent = app.create_agent().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/admin").await;
        assert_eq!(app.post_form(&format!("/admin/agents/{}/force-password-change", agent.id), &[("csrf_token", &csrf)]).await.status(), 303);
        let agent_browser = Browser::new();
        agent_browser.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(location(&agent_browser.get(&app, "/agent").await), "/agent/account/password");
    }

    async fn people_see_and_end_their_own_sessions(app: TestApp) {
        app.create_agent().await;
        let other_device = Browser::new();
        other_device.log_in(&app, "agent@example.org", PASSWORD).await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        let page = app.get("/agent/account").await.text().await.unwrap();
        assert!(page.contains("this browser"));
        let marker = "/agent/account/sessions/";
        let start = page.find(marker).unwrap() + marker.len();
        let other_id = page[start..].split('/').next().unwrap().to_owned();
        let csrf = csrf_token_in(&page);
        assert_eq!(app.post_form("/agent/account/sessions/0000000000000000/revoke", &[("csrf_token", &csrf)]).await.status(), 404);
        assert_eq!(app.post_form(&format!("/agent/account/sessions/{other_id}/revoke"), &[("csrf_token", &csrf)]).await.status(), 303);
        assert_eq!(other_device.get(&app, "/agent").await.status(), 303);
        other_device.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(app.post_form("/agent/account/sessions/end-others", &[("csrf_token", &csrf)]).await.status(), 303);
        assert_eq!(other_device.get(&app, "/agent").await.status(), 303);
        assert_eq!(app.get("/agent").await.status(), 200);
        // Another person's session id is not ours to end.
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let user = Browser::new();
        let token = user.csrf(&app, "/login").await;
        user.post(&app, "/login", &[("email", "user@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        let user_page = user.get(&app, "/account").await.text().await.unwrap();
        assert!(user_page.contains("Uma User"));
        let agent_session = app.app.session_id("0");
        assert_eq!(user.post(&app, &format!("/account/sessions/{agent_session}/revoke"), &[("csrf_token", &csrf_token_in(&user_page))]).await.status(), 404);
    }

    async fn the_audit_log_is_searchable_and_exports_defused_csv(app: TestApp) {
        let admin = app.create_admin().await;
        let agent = app.create_agent().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token(&format!("/admin/agents/{}", agent.id)).await;
        let renamed = app.post_form(&format!("/admin/agents/{}", agent.id), &[("csrf_token", &csrf), ("name", "=HYPERLINK(\"http://evil.example\")"), ("email", "agent@example.org")]).await;
        assert_eq!(renamed.status(), 303);
        // Renamed back: this entry's target label starts with the formula.
        let back = app.post_form(&format!("/admin/agents/{}", agent.id), &[("csrf_token", &csrf), ("name", "Alan Agent"), ("email", "agent@example.org")]).await;
        assert_eq!(back.status(), 303);
        let page = app.get("/admin/audit?action=agent.").await.text().await.unwrap();
        assert!(page.contains("agent.profile_changed"));
        assert!(!page.contains("login.succeeded"), "the action filter applies");
        assert!(page.contains("=HYPERLINK(") && !page.contains("HYPERLINK(\"http"), "shown escaped in the page");
        let csv = app.get("/admin/audit.csv?action=agent.").await;
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(csv.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let body = csv.text().await.unwrap();
        assert!(body.contains("\"'=HYPERLINK(\"\"http://evil.example\"\") <agent@example.org>\""), "{body}");
        assert!(!body.contains(",\"=HYPERLINK"));
        let by_actor = app.app.store().audit_log().search_audit(&AuditFilter { actor_contains: Some("admin@".into()), ..AuditFilter::default() }, 50).await.unwrap();
        assert!(by_actor.iter().any(|entry| entry.action == "audit.exported" && entry.actor_id == Some(admin.id)), "the export is itself audited");
    }

    async fn the_login_log_records_attempts_and_learns_hostnames_in_the_background(app: TestApp) {
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        Browser::new().log_in(&app, "admin@example.org", "wrong wrong wrong").await;
        let store = app.app.store().clone();
        wait_until("the hostname of 127.0.0.1 is looked up", || {
            let store = store.clone();
            async move { store.logins().hostname_resolved_at("127.0.0.1").await.unwrap().is_some() }
        }).await;
        assert_eq!(store.logins().cached_hostname("127.0.0.1").await.unwrap().as_deref(), Some("localhost"));
        let page = app.get("/admin/logins?result=failed").await.text().await.unwrap();
        assert!(page.contains("wrong_password") && page.contains("localhost"), "{page}");
        assert!(!page.contains("<span class=\"badge ok\">ok</span>"), "only failed attempts");
        let by_hostname = app.get("/admin/logins?hostname=localhost").await.text().await.unwrap();
        assert!(by_hostname.contains("admin@example.org"));
        assert!(app.get("/admin/logins?hostname=elsewhere.example").await.text().await.unwrap().contains("No logins."));
    }

    async fn remember_me_is_offered_where_allowed_and_never_opens_the_admin_interface(app: TestApp) {
        app.create_admin().await;
        assert!(!app.get("/agent/login").await.text().await.unwrap().contains("remember_me"), "off for staff by default");
        assert!(app.get("/login").await.text().await.unwrap().contains("remember_me"), "on for the help center");
        let mut limits = app.app.settings().await.unwrap().staff_sessions;
        limits.remember_me_allowed = true;
        app.app.set_session_limits(&Caller::system(), ferrodesk_app::Audience::Agents, limits).await.unwrap();
        let token = app.csrf_token("/agent/login").await;
        let remembered = app.post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD), ("remember_me", "1"), ("csrf_token", &token)]).await;
        assert_eq!(remembered.status(), 303);
        let cookie = remembered.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("Max-Age=2592000"), "{cookie}");
        assert_eq!(app.get("/agent").await.status(), 200);
        let admin = app.get("/admin").await;
        assert_eq!(location(&admin), "/agent/login?notice=fresh-login");
    }
}
