//! Two-factor login (C10) through HTTP: setting it up from the own-account
//! page, the second step of a login, replayed and wrong codes, recovery
//! codes, an admin's reset, and the requirement with its grace period.

use std::time::Duration;

use ferrodesk_testkit::on_both_backends;
use ferrodesk_testkit::totp;

use crate::helpers::{PASSWORD, TestApp, csrf_token_in, location, spawn_app};
use crate::security::{Browser, audit_actions};

const STEP: Duration = Duration::from_secs(30);

/// The text between `start` (searched after `anchor`) and the next `<`.
fn text_after(html: &str, anchor: &str) -> String {
    let start = html
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} in {html}"))
        + anchor.len();
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    rest[open..].split('<').next().unwrap().trim().to_owned()
}

fn recovery_codes_in(html: &str) -> Vec<String> {
    let start = html
        .find("id=\"recovery-codes\"")
        .expect("recovery codes shown");
    let list = &html[start..html[start..].find("</ul>").unwrap() + start];
    list.split("<code>")
        .skip(1)
        .map(|piece| piece.split('<').next().unwrap().to_owned())
        .collect()
}

struct Enrolled {
    secret: String,
    recovery_codes: Vec<String>,
}

/// Turns 2FA on for whoever `browser` is signed in as, as a person would:
/// start, read the key off the page, type the app's code.
async fn enrol(app: &TestApp, browser: &Browser) -> Enrolled {
    let token = browser.csrf(app, "/agent/account/two-factor").await;
    let started = browser
        .post(
            app,
            "/agent/account/two-factor/start",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(started.status(), 303);
    let page = browser
        .get(app, "/agent/account/two-factor")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg"), "a QR code: {page}");
    let secret = text_after(&page, "id=\"totp-secret\"");
    let code = totp::code_at(&secret, app.app.now().millis());
    let confirmed = browser
        .post(
            app,
            "/agent/account/two-factor/confirm",
            &[("csrf_token", &csrf_token_in(&page)), ("code", &code)],
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let page = confirmed.text().await.unwrap();
    let recovery_codes = recovery_codes_in(&page);
    assert_eq!(recovery_codes.len(), 10);
    Enrolled {
        secret,
        recovery_codes,
    }
}

async fn send_code(app: &TestApp, browser: &Browser, code: &str) -> reqwest::Response {
    let token = browser.csrf(app, "/agent/login/two-factor").await;
    browser
        .post(
            app,
            "/agent/login/two-factor",
            &[("csrf_token", &token), ("code", code)],
        )
        .await
}

async fn is_signed_in(app: &TestApp, browser: &Browser) -> bool {
    browser.get(app, "/agent").await.status() == 200
}

async fn require_two_factor(app: &TestApp, token: &str, grace_days: &str) -> reqwest::Response {
    app.post_form(
        "/admin/security/two-factor",
        &[
            ("csrf_token", token),
            ("required_for_agents", "1"),
            ("grace_days", grace_days),
        ],
    )
    .await
}

on_both_backends! { spawn_app;

    async fn an_agent_turns_on_two_factor_and_then_needs_a_code_to_log_in(app: TestApp) {
        let agent = app.create_agent().await;
        let own = Browser::new();
        own.log_in(&app, "agent@example.org", PASSWORD).await;
        let enrolled = enrol(&app, &own).await;
        let overview = own.get(&app, "/agent/account").await.text().await.unwrap();
        assert!(overview.contains("id=\"two-factor-state\">on<"), "{overview}");

        // The secret is stored sealed, never as the key the page showed.
        let state = app.app.store().two_factor().two_factor_state(agent.id).await.unwrap().unwrap();
        let stored = state.totp_secret.unwrap();
        assert!(!stored.contains(&enrolled.secret.replace(' ', "")));

        app.advance_clock(STEP);
        let other = Browser::new();
        let password_step = other.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(password_step.status(), 303);
        assert_eq!(location(&password_step), "/agent/login/two-factor");
        assert!(!is_signed_in(&app, &other).await, "the password alone opens nothing");
        assert_eq!(app.sessions_of(&agent).await, 1);

        let wrong = send_code(&app, &other, "000000").await;
        assert_eq!(wrong.status(), 401);
        assert!(wrong.text().await.unwrap().contains("That code is not right"));

        let code = totp::code_at(&enrolled.secret, app.app.now().millis());
        let right = send_code(&app, &other, &code).await;
        assert_eq!(right.status(), 303);
        assert_eq!(location(&right), "/agent");
        assert!(is_signed_in(&app, &other).await);

        // The same code a second time, even with the right password, is refused.
        let thief = Browser::new();
        thief.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(send_code(&app, &thief, &code).await.status(), 401);
        assert!(!is_signed_in(&app, &thief).await);
        app.advance_clock(STEP);
        let next = totp::code_at(&enrolled.secret, app.app.now().millis());
        assert_eq!(send_code(&app, &thief, &next).await.status(), 303);

        let actions = audit_actions(&app).await;
        assert!(actions.contains(&"two_factor.enabled".to_owned()), "{actions:?}");
        let logins = app.app.store().logins().search_logins(&ferrodesk_app::LoginFilter::default(), 50).await.unwrap();
        assert!(logins.iter().any(|login| login.reason == "wrong_code" && !login.succeeded));
    }

    async fn a_recovery_code_logs_in_once(app: TestApp) {
        app.create_agent().await;
        let own = Browser::new();
        own.log_in(&app, "agent@example.org", PASSWORD).await;
        let enrolled = enrol(&app, &own).await;
        let code = enrolled.recovery_codes[3].clone();

        let lost_phone = Browser::new();
        lost_phone.log_in(&app, "agent@example.org", PASSWORD).await;
        let typed = format!(" {} ", code.to_uppercase());
        assert_eq!(send_code(&app, &lost_phone, &typed).await.status(), 303);
        assert!(is_signed_in(&app, &lost_phone).await);

        let again = Browser::new();
        again.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(send_code(&app, &again, &code).await.status(), 401);
        let page = own.get(&app, "/agent/account/two-factor").await.text().await.unwrap();
        assert!(page.contains("9 unused recovery codes left"), "{page}");

        // New codes need the password, and replace the old ones.
        let token = csrf_token_in(&page);
        let refused = own.post(&app, "/agent/account/two-factor/recovery-codes", &[("csrf_token", &token), ("current_password", "wrong")]).await;
        assert_eq!(refused.status(), 422);
        let fresh = own.post(&app, "/agent/account/two-factor/recovery-codes", &[("csrf_token", &token), ("current_password", PASSWORD)]).await;
        assert_eq!(fresh.status(), 200);
        let fresh_codes = recovery_codes_in(&fresh.text().await.unwrap());
        let old = Browser::new();
        old.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(send_code(&app, &old, &enrolled.recovery_codes[5]).await.status(), 401);
        assert_eq!(send_code(&app, &old, &fresh_codes[0]).await.status(), 303);
    }

    async fn five_wrong_codes_send_the_login_back_to_the_password(app: TestApp) {
        app.create_agent().await;
        let own = Browser::new();
        own.log_in(&app, "agent@example.org", PASSWORD).await;
        let enrolled = enrol(&app, &own).await;
        app.advance_clock(STEP);

        let guesser = Browser::new();
        guesser.log_in(&app, "agent@example.org", PASSWORD).await;
        for guess in 1..=4 {
            assert_eq!(send_code(&app, &guesser, "123456").await.status(), 401, "guess {guess}");
        }
        let fifth = send_code(&app, &guesser, "123456").await;
        assert_eq!(fifth.status(), 303);
        assert_eq!(location(&fifth), "/agent/login?notice=code-expired");
        let code = totp::code_at(&enrolled.secret, app.app.now().millis());
        let late = guesser.post(&app, "/agent/login/two-factor", &[("csrf_token", &guesser.csrf(&app, "/agent/login").await), ("code", &code)]).await;
        assert_eq!(late.status(), 303);
        assert_eq!(location(&late), "/agent/login?notice=code-expired");
        assert!(!is_signed_in(&app, &guesser).await);

        // The challenge also ends after five minutes.
        let slow = Browser::new();
        slow.log_in(&app, "agent@example.org", PASSWORD).await;
        app.advance_clock(Duration::from_secs(6 * 60));
        let code = totp::code_at(&enrolled.secret, app.app.now().millis());
        let expired = slow.post(&app, "/agent/login/two-factor", &[("csrf_token", &slow.csrf(&app, "/agent/login").await), ("code", &code)]).await;
        assert_eq!(location(&expired), "/agent/login?notice=code-expired");
    }

    async fn wrong_codes_count_towards_the_account_lock(app: TestApp) {
        app.create_agent().await;
        let own = Browser::new();
        own.log_in(&app, "agent@example.org", PASSWORD).await;
        enrol(&app, &own).await;
        // Two challenges of five wrong codes each reach the limit of ten.
        for _ in 0..2 {
            let guesser = Browser::new();
            guesser.log_in(&app, "agent@example.org", PASSWORD).await;
            for _ in 0..5 {
                send_code(&app, &guesser, "654321").await;
            }
        }
        let locked = Browser::new().log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(locked.status(), 429);
    }

    async fn an_admin_resets_two_factor_for_an_agent_who_lost_the_device(app: TestApp) {
        app.create_admin().await;
        let agent = app.create_agent().await;
        let own = Browser::new();
        own.log_in(&app, "agent@example.org", PASSWORD).await;
        enrol(&app, &own).await;

        app.log_in_staff("admin@example.org", PASSWORD).await;
        let page = app.get(&format!("/admin/agents/{}", agent.id)).await.text().await.unwrap();
        assert!(page.contains("Two-factor login: on since"), "{page}");
        let reset = app.post_form(&format!("/admin/agents/{}/reset-2fa", agent.id), &[("csrf_token", &csrf_token_in(&page))]).await;
        assert_eq!(reset.status(), 303);
        assert!(!is_signed_in(&app, &own).await, "the reset ends the agent's sessions");
        let again = app.post_form(&format!("/admin/agents/{}/reset-2fa", agent.id), &[("csrf_token", &csrf_token_in(&page))]).await;
        assert_eq!(again.status(), 409);

        let back = Browser::new();
        let login = back.log_in(&app, "agent@example.org", PASSWORD).await;
        assert_eq!(location(&login), "/agent");
        let entries = app.app.store().audit_log().search_audit(&ferrodesk_app::AuditFilter { action_prefix: Some("agent.two_factor_reset".into()), ..Default::default() }, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].actor, "Ada Admin <admin@example.org>");
        assert_eq!(entries[0].target_id, Some(agent.id));
        assert!(audit_actions(&app).await.contains(&"account.created".to_owned()), "accounts made outside the pages are audited too");

        // Only admins reset: the agent cannot do it to anyone.
        let token = back.csrf(&app, "/agent/account").await;
        let forbidden = back.post(&app, &format!("/admin/agents/{}/reset-2fa", agent.id), &[("csrf_token", &token)]).await;
        assert_eq!(forbidden.status(), 403);
    }

    async fn required_two_factor_sends_agents_to_set_it_up_once_the_grace_period_ends(app: TestApp) {
        app.create_admin().await;
        app.create_agent().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let token = app.csrf_token("/admin/security").await;
        assert_eq!(require_two_factor(&app, &token, "91").await.status(), 400);
        assert!(!app.app.settings().await.unwrap().two_factor.required_for_agents, "nothing saved");
        assert_eq!(require_two_factor(&app, &token, "3").await.status(), 303);

        let agent = Browser::new();
        agent.log_in(&app, "agent@example.org", PASSWORD).await;
        assert!(is_signed_in(&app, &agent).await, "within the grace period");
        let page = agent.get(&app, "/agent/account/two-factor").await.text().await.unwrap();
        assert!(page.contains("id=\"two-factor-required\""), "{page}");

        app.advance_clock(Duration::from_secs(3 * 86_400 + 60));
        let late = Browser::new();
        late.log_in(&app, "agent@example.org", PASSWORD).await;
        let home = late.get(&app, "/agent").await;
        assert_eq!(home.status(), 303);
        assert_eq!(location(&home), "/agent/account/two-factor");
        enrol(&app, &late).await;
        assert!(is_signed_in(&app, &late).await);

        // While it is required, agents cannot turn it off.
        let token = late.csrf(&app, "/agent/account/two-factor").await;
        let off = late.post(&app, "/agent/account/two-factor/disable", &[("csrf_token", &token), ("current_password", PASSWORD)]).await;
        assert_eq!(off.status(), 409);
        let actions = audit_actions(&app).await;
        assert!(actions.contains(&"settings.changed".to_owned()));
    }

    async fn a_help_center_user_may_use_two_factor_too(app: TestApp) {
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let user = Browser::new();
        let token = user.csrf(&app, "/login").await;
        user.post(&app, "/login", &[("email", "user@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        let token = user.csrf(&app, "/account/two-factor").await;
        user.post(&app, "/account/two-factor/start", &[("csrf_token", &token)]).await;
        let page = user.get(&app, "/account/two-factor").await.text().await.unwrap();
        let secret = text_after(&page, "id=\"totp-secret\"");
        let code = totp::code_at(&secret, app.app.now().millis());
        let on = user.post(&app, "/account/two-factor/confirm", &[("csrf_token", &csrf_token_in(&page)), ("code", &code)]).await;
        assert_eq!(on.status(), 200);

        app.advance_clock(STEP);
        let again = Browser::new();
        let token = again.csrf(&app, "/login").await;
        let login = again.post(&app, "/login", &[("email", "user@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        assert_eq!(location(&login), "/login/two-factor");
        let code = totp::code_at(&secret, app.app.now().millis());
        let token = again.csrf(&app, "/login/two-factor").await;
        let done = again.post(&app, "/login/two-factor", &[("csrf_token", &token), ("code", &code)]).await;
        assert_eq!(location(&done), "/");

        // Turning it off takes the password and leaves an audit entry.
        let token = again.csrf(&app, "/account/two-factor").await;
        let off = again.post(&app, "/account/two-factor/disable", &[("csrf_token", &token), ("current_password", PASSWORD)]).await;
        assert_eq!(location(&off), "/account/two-factor?notice=disabled");
        assert!(audit_actions(&app).await.contains(&"two_factor.disabled".to_owned()));
    }

    async fn the_two_factor_pages_are_for_the_signed_in_person_only(app: TestApp) {
        let visitor = Browser::new();
        for base in ["/agent/account", "/account"] {
            let page = visitor.get(&app, &format!("{base}/two-factor")).await;
            assert_eq!(page.status(), 303, "{base}");
            let login = location(&page);
            assert!(login.starts_with("/agent/login") || login.starts_with("/login"), "{login}");
            let token = visitor.csrf(&app, if base == "/account" { "/login" } else { "/agent/login" }).await;
            for action in ["start", "confirm", "recovery-codes", "disable"] {
                let response = visitor.post(&app, &format!("{base}/two-factor/{action}"), &[("csrf_token", &token), ("code", "123456"), ("current_password", PASSWORD)]).await;
                assert_eq!(response.status(), 303, "visitor POST {base}/two-factor/{action}");
            }
            // Without the token, nothing at all.
            let forged = visitor.post(&app, &format!("{base}/two-factor/start"), &[("code", "1")]).await;
            assert_eq!(forged.status(), 403);
        }
        // A code form with no login behind it goes back to the password.
        let stray = visitor.get(&app, "/agent/login/two-factor").await;
        assert_eq!(location(&stray), "/agent/login?notice=code-expired");
        let token = visitor.csrf(&app, "/agent/login").await;
        let guessed = visitor.post(&app, "/agent/login/two-factor", &[("csrf_token", &token), ("code", "123456")]).await;
        assert_eq!(location(&guessed), "/agent/login?notice=code-expired");
    }
}
