//! Lock-out that an attacker cannot turn against the people they attack,
//! on both databases, through a trusted proxy on loopback so each browser
//! comes from an address of its choosing: failures from one address lock
//! that address out of the account (and, past the per-address limit, out
//! of signing in at all), never the owner signing in from another; every
//! 429 says when to come back; the admin sees the lock and lifts it; a
//! proxy nobody listed is pointed out on the security page.

use ferrodesk_app::{AccountKind, Audience, Caller, LoginLimits};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{Options, PASSWORD, TestApp, spawn_app_with};
use crate::ip_allow_list::browser_at;
use crate::security::{Browser, audit_actions};

const ATTACKER: &str = "203.0.113.66";
const OWNER: &str = "198.51.100.9";

async fn spawn_behind_proxy(backend: ferrodesk_testkit::Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Options {
            trusted_proxies: vec!["127.0.0.0/8"],
            ..Options::default()
        },
    )
    .await
}

/// The `Retry-After` of a response, in seconds.
fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("a 429 without Retry-After"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

on_both_backends! { spawn_behind_proxy;

    async fn an_attackers_failures_never_stop_the_owner_signing_in_from_elsewhere(app: TestApp) {
        app.create_admin().await;
        app.create_account("alice@example.org", "Alice Agent", AccountKind::Agent).await;
        let system = Caller::system();
        app.app.set_login_limits(&system, Audience::Agents, LoginLimits { max_failures: 3, window_minutes: 15, lock_minutes: 15, per_ip_attempts: 6 }).await.unwrap();

        // The attacker guesses Alice's password from one address.
        let attacker = browser_at(ATTACKER);
        for _ in 0..2 {
            assert_eq!(attacker.log_in(&app, "alice@example.org", "wrong-guess").await.status(), 401);
        }
        let locked = attacker.log_in(&app, "alice@example.org", "wrong-guess").await;
        assert_eq!(locked.status(), 429, "the third failure locks this address out of the account");
        let seconds = retry_after(&locked);
        assert!((60..=15 * 60).contains(&seconds), "{seconds}");
        let again = attacker.log_in(&app, "alice@example.org", PASSWORD).await;
        assert_eq!(again.status(), 429, "even the right password, from there");
        assert!(retry_after(&again) <= 15 * 60);

        // Alice, from home, signs in at once.
        let owner = browser_at(OWNER);
        assert_eq!(owner.log_in(&app, "alice@example.org", PASSWORD).await.status(), 303);

        // She is mailed a link that lifts the pause for that address (had
        // the failures been hers): opening it changes nothing, the button
        // lifts it, once.
        let mail = app.app.store().outbox().list_mail(None, 50).await.unwrap().into_iter()
            .find(|mail| mail.subject == "Signing in from one address is paused" && mail.recipients.contains("alice@example.org"))
            .expect("the unlock mail");
        assert!(mail.text_body.contains(ATTACKER) && !mail.text_body.contains("wrong-guess"), "{}", mail.text_body);
        let link = mail.text_body.split_whitespace().find(|word| word.contains("/agent/unlock/")).unwrap().to_owned();
        let path = link[link.find("/agent/unlock/").unwrap()..].to_owned();
        let from_attacker_address = browser_at(ATTACKER);
        let page = from_attacker_address.get(&app, &path).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("id=\"unlock-source\"") && page.contains(ATTACKER), "{page}");
        assert_eq!(from_attacker_address.log_in(&app, "alice@example.org", PASSWORD).await.status(), 429, "opening the link lifts nothing");
        let token = from_attacker_address.csrf(&app, &path).await;
        let lifted = from_attacker_address.post(&app, &path, &[("csrf_token", &token)]).await;
        assert_eq!(lifted.status(), 303);
        assert_eq!(crate::helpers::location(&lifted), "/agent/login?notice=unlocked");
        assert_eq!(from_attacker_address.get(&app, &path).await.status(), 404, "once");
        let token = owner.csrf(&app, "/agent").await;
        assert_eq!(owner.post(&app, &path, &[("csrf_token", &token)]).await.status(), 404);
        assert_eq!(from_attacker_address.log_in(&app, "alice@example.org", PASSWORD).await.status(), 303, "the pause is lifted");
        assert_eq!(app.app.store().outbox().list_mail(None, 50).await.unwrap().iter()
            .filter(|mail| mail.subject == "Signing in from one address is paused").count(), 1);

        // More guessing, on other accounts: past six failures the address
        // is locked out of every account, and the admin is told it may
        // be a proxy.
        for email in ["bob@example.org", "carol@example.org", "dave@example.org"] {
            attacker.log_in(&app, email, "wrong-guess").await;
        }
        let everyone = attacker.log_in(&app, "admin@example.org", PASSWORD).await;
        assert_eq!(everyone.status(), 429, "the address itself is locked now");
        assert!(retry_after(&everyone) > 0);
        assert_eq!(browser_at(OWNER).log_in(&app, "admin@example.org", PASSWORD).await.status(), 303, "the admin, elsewhere, is not");

        // The admin sees the lock on Alice's page, and the warning.
        let admin = browser_at(OWNER);
        assert_eq!(admin.log_in(&app, "admin@example.org", PASSWORD).await.status(), 303);
        let alice = app.app.store().people().find_person_by_email("alice@example.org").await.unwrap().unwrap();
        let page = admin.get(&app, &format!("/admin/agents/{}", alice.id)).await.text().await.unwrap();
        assert!(!page.contains("id=\"locked\""), "the pause she lifted is gone");
        let second_attacker = browser_at("2001:db8:7:7::1");
        for _ in 0..3 {
            second_attacker.log_in(&app, "alice@example.org", "wrong-guess").await;
        }
        assert_eq!(browser_at("2001:db8:7:7:ffff::2").log_in(&app, "alice@example.org", PASSWORD).await.status(), 429, "the whole /64 is one source");
        let page = admin.get(&app, &format!("/admin/agents/{}", alice.id)).await.text().await.unwrap();
        assert!(page.contains("id=\"locked\""), "{page}");
        let security = admin.get(&app, "/admin/security").await.text().await.unwrap();
        assert!(security.contains("id=\"proxy-warning\"") && security.contains(ATTACKER), "{security}");
        let actions = audit_actions(&app).await;
        assert!(actions.iter().filter(|action| *action == "login.locked").count() >= 2, "{actions:?}");

        // Unlocked by the admin, the attacker's address may try Alice again
        // (and is refused for the password, not the lock).
        let token = admin.csrf(&app, &format!("/admin/agents/{}", alice.id)).await;
        let unlocked = admin.post(&app, &format!("/admin/agents/{}/unlock", alice.id), &[("csrf_token", &token)]).await;
        assert!(unlocked.status().is_redirection(), "{}", unlocked.status());
        let page = admin.get(&app, &format!("/admin/agents/{}", alice.id)).await.text().await.unwrap();
        assert!(!page.contains("id=\"locked\""));
        assert_eq!(second_attacker.log_in(&app, "alice@example.org", "wrong-again").await.status(), 401, "refused for the password, not the lock");
    }
}

on_both_backends! { crate::helpers::spawn_app;

    async fn a_proxy_that_is_not_trusted_is_pointed_out(app: TestApp) {
        app.create_admin().await;
        // No proxy is trusted here: a request carrying X-Forwarded-For is
        // answered as from its own address, and the admin is told.
        let admin = Browser::new();
        assert_eq!(admin.log_in(&app, "admin@example.org", PASSWORD).await.status(), 303);
        let security = admin.get(&app, "/admin/security").await.text().await.unwrap();
        assert!(!security.contains("id=\"proxy-warning\""), "nothing yet");
        let forwarded = browser_at("192.0.2.80");
        forwarded.get(&app, "/").await;
        crate::helpers::wait_until("the ignored header is noted", || async {
            app.app.store().settings().get_setting("security.proxy_warning").await.unwrap().is_some()
        }).await;
        let security = admin.get(&app, "/admin/security").await.text().await.unwrap();
        assert!(security.contains("id=\"proxy-warning\"") && security.contains("127.0.0.1") && security.contains("X-Forwarded-For"), "{security}");
    }
}
