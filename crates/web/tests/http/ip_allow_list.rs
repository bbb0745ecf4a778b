//! IP allow-listing (C7) through HTTP: a right password from a new address
//! is refused until the mailed link is opened (read from a real SMTP server),
//! ranges the admin lists, the admins-only scope, expiry and revocation, and
//! a bad range named in the form's error with nothing saved.

use std::time::Duration;

use ferrodesk_testkit::on_both_backends;
use ferrodesk_testkit::smtp::SmtpServer;

use crate::helpers::{Options, PASSWORD, TestApp, csrf_token_in, location, spawn_app_with};
use crate::security::{Browser, audit_actions};

const MAIL_WAIT: Duration = Duration::from_secs(20);
const HOME: &str = "203.0.113.7";
const PHONE: &str = "198.51.100.9";

pub(crate) struct AllowListTest {
    app: TestApp,
    smtp: Option<SmtpServer>,
}

/// A server behind a trusted proxy on loopback, so each test browser can
/// come from an address of its choosing.
async fn spawn_behind_proxy(
    backend: ferrodesk_testkit::Backend,
    with_mail: bool,
) -> Option<AllowListTest> {
    let smtp = if with_mail {
        Some(SmtpServer::start().await?)
    } else {
        None
    };
    let app = spawn_app_with(
        backend,
        Options {
            trusted_proxies: vec!["127.0.0.0/8"],
            smtp_url: smtp.as_ref().map(SmtpServer::url),
            ..Options::default()
        },
    )
    .await?;
    Some(AllowListTest { app, smtp })
}

async fn spawn_with_mail(backend: ferrodesk_testkit::Backend) -> Option<AllowListTest> {
    spawn_behind_proxy(backend, true).await
}

async fn spawn_without_mail(backend: ferrodesk_testkit::Backend) -> Option<AllowListTest> {
    spawn_behind_proxy(backend, false).await
}

/// A browser whose requests come from `ip` (through the trusted proxy).
pub(crate) fn browser_at(ip: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap(),
    }
}

/// Saves the allow-list form as the admin signed in on `admin`.
async fn save_allow_list(
    app: &TestApp,
    admin: &Browser,
    enabled: bool,
    scope: &str,
    trust_days: &str,
    ranges: &str,
) -> reqwest::Response {
    let token = admin.csrf(app, "/admin/security").await;
    let mut fields = vec![
        ("csrf_token", token.as_str()),
        ("scope", scope),
        ("trust_days", trust_days),
        ("trusted_ranges", ranges),
    ];
    if enabled {
        fields.push(("enabled", "1"));
    }
    admin
        .post(app, "/admin/security/ip-allow-list", &fields)
        .await
}

/// The verification links among mails, as (path, text), oldest first.
fn verification_paths(
    app: &TestApp,
    received: &[ferrodesk_testkit::smtp::ReceivedMail],
) -> Vec<(String, String)> {
    received
        .iter()
        .filter_map(|mail| {
            let link = mail.link_starting_with(&app.url("/agent/verify-ip/"))?;
            Some((
                link.strip_prefix(&app.address).unwrap().to_owned(),
                mail.text.clone(),
            ))
        })
        .collect()
}

async fn signed_in_admin(app: &TestApp) -> Browser {
    app.create_admin().await;
    let admin = browser_at("192.0.2.1");
    // Turning the list on does not end the admin's own session.
    assert_eq!(
        admin
            .log_in(app, "admin@example.org", PASSWORD)
            .await
            .status(),
        303
    );
    admin
}

on_both_backends! { spawn_with_mail;

    async fn a_new_address_is_refused_until_the_mailed_link_is_opened(test: AllowListTest) {
        let app = &test.app;
        let smtp = test.smtp.as_ref().unwrap();
        let admin = signed_in_admin(app).await;
        let agent = app.create_agent().await;
        assert_eq!(save_allow_list(app, &admin, true, "agents", "30", "").await.status(), 303);

        let home = browser_at(HOME);
        assert_eq!(home.log_in(app, "agent@example.org", "wrong password").await.status(), 401);
        let refused = home.log_in(app, "agent@example.org", PASSWORD).await;
        assert_eq!(refused.status(), 403);
        assert!(refused.text().await.unwrap().contains("We have emailed you a link"));
        assert_eq!(app.sessions_of(&agent).await, 0);

        // The wrong password brings the usual failed-login mail, no link.
        let received = smtp.wait_for(2, MAIL_WAIT).await;
        let links = verification_paths(app, &received);
        assert_eq!(links.len(), 1, "one link, for the right password only");
        let (path, text) = links[0].clone();
        assert!(text.contains(HOME), "{text}");

        // Opening the link (from the phone, say) only shows what it does.
        let phone = browser_at(PHONE);
        let page = phone.get(app, &path).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains(HOME), "{page}");
        assert_eq!(phone.get(app, &path).await.status(), 200, "looking twice spends nothing");
        assert_eq!(home.log_in(app, "agent@example.org", PASSWORD).await.status(), 403, "not trusted before confirming");
        // That second refusal sent a new link; the first one no longer works.
        let received = smtp.wait_for(3, MAIL_WAIT).await;
        assert_eq!(phone.get(app, &path).await.status(), 404, "an earlier link stops working");
        let (path, _) = verification_paths(app, &received).pop().unwrap();
        let page = phone.get(app, &path).await.text().await.unwrap();
        let confirmed = phone.post(app, &path, &[("csrf_token", &csrf_token_in(&page))]).await;
        assert_eq!(confirmed.status(), 303);
        assert_eq!(location(&confirmed), "/agent/login?notice=ip-trusted");
        let token = phone.csrf(app, "/agent/login").await;
        assert_eq!(phone.post(app, &path, &[("csrf_token", &token)]).await.status(), 404, "single use");

        let login = home.log_in(app, "agent@example.org", PASSWORD).await;
        assert_eq!(login.status(), 303);
        assert_eq!(location(&login), "/agent");
        assert_eq!(phone.log_in(app, "agent@example.org", PASSWORD).await.status(), 403, "only the confirmed address");

        // The admin sees the trusted address and can stop trusting it.
        let page = admin.get(app, &format!("/admin/agents/{}", agent.id)).await.text().await.unwrap();
        assert!(page.contains(HOME), "{page}");
        let revoked = admin.post(app, &format!("/admin/agents/{}/trusted-ips/revoke", agent.id), &[("csrf_token", &csrf_token_in(&page)), ("ip", HOME)]).await;
        assert_eq!(revoked.status(), 303);
        assert_eq!(browser_at(HOME).log_in(app, "agent@example.org", PASSWORD).await.status(), 403);

        let actions = audit_actions(app).await;
        for expected in ["login.untrusted_ip", "ip.trusted", "ip.trust_revoked", "settings.changed"] {
            assert!(actions.contains(&expected.to_owned()), "{expected} in {actions:?}");
        }
    }
}

on_both_backends! { spawn_without_mail;

    async fn trust_lapses_after_the_configured_days(test: AllowListTest) {
        let app = &test.app;
        let admin = signed_in_admin(app).await;
        app.create_agent().await;
        assert_eq!(save_allow_list(app, &admin, true, "agents", "2", "").await.status(), 303);
        app.app.trust_ip_from_command_line("agent@example.org", HOME, None).await.unwrap();
        assert_eq!(browser_at(HOME).log_in(app, "agent@example.org", PASSWORD).await.status(), 303);
        app.advance_clock(Duration::from_secs(2 * 86_400 + 60));
        assert_eq!(browser_at(HOME).log_in(app, "agent@example.org", PASSWORD).await.status(), 403);
    }

    async fn listed_ranges_need_no_confirmation_and_the_scope_can_be_admins_only(test: AllowListTest) {
        let app = &test.app;
        let admin = signed_in_admin(app).await;
        app.create_agent().await;
        assert_eq!(save_allow_list(app, &admin, true, "agents", "30", "198.51.100.0/24\n2001:db8::/32").await.status(), 303);
        assert_eq!(browser_at("198.51.100.20").log_in(app, "agent@example.org", PASSWORD).await.status(), 303);
        assert_eq!(browser_at("2001:db8::5").log_in(app, "agent@example.org", PASSWORD).await.status(), 303);
        assert_eq!(browser_at("203.0.113.1").log_in(app, "agent@example.org", PASSWORD).await.status(), 403);
        // Help-center users are never subject to it.
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let user = browser_at("203.0.113.1");
        let token = user.csrf(app, "/login").await;
        let login = user.post(app, "/login", &[("email", "user@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        assert_eq!(login.status(), 303);

        assert_eq!(save_allow_list(app, &admin, true, "admins", "30", "").await.status(), 303);
        assert_eq!(browser_at("203.0.113.1").log_in(app, "agent@example.org", PASSWORD).await.status(), 303, "agents are free");
        assert_eq!(browser_at("203.0.113.1").log_in(app, "admin@example.org", PASSWORD).await.status(), 403, "admins are not");
        assert_eq!(browser_at("192.0.2.1").log_in(app, "admin@example.org", PASSWORD).await.status(), 303, "the address that turned it on is trusted");

        assert_eq!(save_allow_list(app, &admin, false, "admins", "30", "").await.status(), 303);
        assert_eq!(browser_at("203.0.113.1").log_in(app, "admin@example.org", PASSWORD).await.status(), 303, "off means off");
    }

    async fn a_bad_range_is_named_and_nothing_is_saved(test: AllowListTest) {
        let app = &test.app;
        let admin = signed_in_admin(app).await;
        let before = app.app.settings().await.unwrap().ip_allow_list.clone();
        let bad = save_allow_list(app, &admin, true, "agents", "30", "10.0.0.0/8\n10.0.0.0/33\n<b>nope</b>").await;
        assert_eq!(bad.status(), 400);
        let page = bad.text().await.unwrap();
        assert!(page.contains("10.0.0.0/33"), "the bad value is named");
        assert!(page.contains("&lt;b&gt;nope&lt;/b&gt;") || page.contains("&#60;b&#62;nope&#60;/b&#62;"), "and escaped: {page}");
        assert!(!page.contains("<b>nope</b>"));
        for days in ["0", "731", "many"] {
            assert_eq!(save_allow_list(app, &admin, true, "agents", days, "").await.status(), 400, "{days} days");
        }
        assert_eq!(app.app.settings().await.unwrap().ip_allow_list, before, "nothing half-saved");

        // Single addresses are ranges of one; ranges are stored normalized.
        assert_eq!(save_allow_list(app, &admin, true, "agents", "30", "192.0.2.77, 10.1.2.3/8").await.status(), 303);
        assert_eq!(app.app.settings().await.unwrap().ip_allow_list.trusted_ranges, vec!["192.0.2.77/32".to_owned(), "10.0.0.0/8".to_owned()]);
    }
}
