//! Opening help-center accounts on both databases, in each registration
//! mode: confirming the address, an agent's approval, closed registration,
//! and answers that never tell whether an address has an account.

use ferrodesk_app::{AccountKind, Caller};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::security::Browser;
use crate::tickets::{post_on, signed_in};

const NEW_PASSWORD: &str = "a long and new passphrase 42";

pub(crate) async fn register(
    app: &TestApp,
    browser: &Browser,
    name: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    post_on(
        app,
        browser,
        "/register",
        "/register",
        &[
            ("name", name),
            ("email", email),
            ("password", password),
            ("password_confirmation", password),
            ("website", ""),
        ],
    )
    .await
}

async fn log_in(app: &TestApp, email: &str, password: &str) -> u16 {
    let browser = Browser::new();
    let token = browser.csrf(app, "/login").await;
    browser
        .post(
            app,
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
        .await
        .status()
        .as_u16()
}

/// The confirmation link in the newest mail to `address`, as a path.
pub(crate) async fn confirmation_link(app: &TestApp, address: &str) -> String {
    let mails = app.app.store().outbox().list_mail(None, 50).await.unwrap();
    let mail = mails
        .iter()
        .find(|mail| {
            mail.recipients.contains(address) && mail.template == "user_email_verification"
        })
        .expect("a confirmation mail");
    let start = mail.text_body.find("/verify-email/").unwrap();
    mail.text_body[start..]
        .chars()
        .take_while(|character| !character.is_whitespace())
        .collect()
}

on_both_backends! { spawn_app;

    async fn a_new_user_confirms_the_address_before_signing_in(app: TestApp) {
        let visitor = Browser::new();
        let form = visitor.get(&app, "/register").await.text().await.unwrap();
        assert!(form.contains("register-form"));
        let sent = register(&app, &visitor, "Nina <New>", "nina@example.org", NEW_PASSWORD).await;
        assert_eq!(sent.status(), 200);
        assert!(sent.text().await.unwrap().contains("id=\"registered\""));
        assert_eq!(log_in(&app, "nina@example.org", NEW_PASSWORD).await, 403, "not before the address is confirmed");
        assert_eq!(log_in(&app, "nina@example.org", "a wrong passphrase 42").await, 401, "a wrong password learns nothing");

        let link = confirmation_link(&app, "nina@example.org").await;
        let page = visitor.get(&app, &link).await;
        assert_eq!(page.status(), 200);
        assert_eq!(log_in(&app, "nina@example.org", NEW_PASSWORD).await, 403, "opening the link alone confirms nothing");
        let confirmed = post_on(&app, &visitor, &link, &link, &[]).await;
        assert!(confirmed.text().await.unwrap().contains("email-confirmed"));
        assert_eq!(log_in(&app, "nina@example.org", NEW_PASSWORD).await, 303);
        assert_eq!(visitor.get(&app, &link).await.status(), 404, "a link works once");
        assert_eq!(visitor.get(&app, "/verify-email/nothex").await.status(), 404);

        let weak = register(&app, &Browser::new(), "Wes Weak", "wes@example.org", "short").await;
        assert_eq!(weak.status(), 422, "the user password policy applies");
        let bot = post_on(&app, &Browser::new(), "/register", "/register", &[
            ("name", "Bot"), ("email", "bot@example.org"), ("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD), ("website", "http://spam"),
        ]).await;
        assert_eq!(bot.status(), 200);
        for address in ["wes@example.org", "bot@example.org"] {
            assert!(app.app.store().people().find_person_by_email(address).await.unwrap().is_none(), "{address}");
        }
    }

    async fn an_unconfirmed_user_is_told_at_login_and_gets_the_link_again(app: TestApp) {
        let visitor = Browser::new();
        assert_eq!(register(&app, &visitor, "Nina New", "nina@example.org", NEW_PASSWORD).await.status(), 200);
        let first_link = confirmation_link(&app, "nina@example.org").await;

        let token = visitor.csrf(&app, "/login").await;
        let told = visitor.post(&app, "/login", &[("email", "nina@example.org"), ("password", NEW_PASSWORD), ("csrf_token", &token)]).await;
        assert_eq!(told.status(), 403);
        let page = told.text().await.unwrap();
        assert!(page.contains("id=\"resend-confirmation\"") && page.contains("nina@example.org"), "{page}");

        let verifications = |app: &TestApp| {
            let store = app.app.store().clone();
            async move {
                store.outbox().list_mail(None, 50).await.unwrap().iter()
                    .filter(|mail| mail.template == "user_email_verification").count()
            }
        };
        let resent = post_on(&app, &visitor, "/login", "/login/resend-confirmation", &[("email", "nina@example.org")]).await;
        assert_eq!(resent.status(), 303);
        assert_eq!(crate::helpers::location(&resent), "/login?notice=confirmation-sent");
        assert_eq!(verifications(&app).await, 2, "a new link is mailed");
        let second_link = confirmation_link(&app, "nina@example.org").await;
        assert_ne!(first_link, second_link);
        assert_eq!(visitor.get(&app, &first_link).await.status(), 404, "the earlier link stops working");
        assert_eq!(visitor.get(&app, &second_link).await.status(), 200);

        // Unknown and confirmed addresses get the same answer and no mail.
        app.create_account("uma@example.org", "Uma User", AccountKind::User).await;
        for address in ["nobody@example.org", "uma@example.org", "not an address"] {
            let same = post_on(&app, &Browser::new(), "/login", "/login/resend-confirmation", &[("email", address)]).await;
            assert_eq!(crate::helpers::location(&same), "/login?notice=confirmation-sent", "{address}");
        }
        assert_eq!(verifications(&app).await, 2);
        // A few links an hour for one address, whoever asks.
        for _ in 0..4 {
            post_on(&app, &Browser::new(), "/login", "/login/resend-confirmation", &[("email", "nina@example.org")]).await;
        }
        assert_eq!(verifications(&app).await, 4, "three an hour for one address");
    }

    async fn registering_a_known_address_tells_nothing_and_changes_nothing(app: TestApp) {
        let existing = app.create_account("uma@example.org", "Uma User", AccountKind::User).await;
        let agent = app.create_agent().await;
        let fresh = register(&app, &Browser::new(), "Someone", "fresh@example.org", NEW_PASSWORD).await;
        let fresh_status = fresh.status();
        let fresh_page = fresh.text().await.unwrap().replace("fresh@example.org", "ADDRESS");
        for address in ["uma@example.org", "UMA@example.org", &agent.email] {
            let known = register(&app, &Browser::new(), "Someone", address, NEW_PASSWORD).await;
            assert_eq!(known.status(), fresh_status);
            let known_page = known.text().await.unwrap().replace(address, "ADDRESS");
            let strip = |page: &str| page.lines().filter(|line| !line.contains("csrf_token")).collect::<Vec<_>>().join("\n");
            assert_eq!(strip(&known_page), strip(&fresh_page), "the same page for {address}");
        }
        assert_eq!(log_in(&app, "uma@example.org", PASSWORD).await, 303, "the password is unchanged");
        assert_eq!(log_in(&app, "uma@example.org", NEW_PASSWORD).await, 401);
        let mails = app.app.store().outbox().list_mail(None, 50).await.unwrap();
        assert_eq!(mails.iter().filter(|mail| mail.template == "account_exists").count(), 3, "the owners are told");
        assert!(mails.iter().any(|mail| mail.template == "account_exists" && mail.text_body.contains("/agent/forgot-password")), "an agent is sent to the staff reset");
        let _ = existing;
    }

    async fn on_approval_an_agent_lets_the_account_in(app: TestApp) {
        let desk = crate::tickets::desk(&app).await;
        app.app.set_help_center(&Caller::system(), "approval", false, None).await.unwrap();
        let visitor = Browser::new();
        assert!(visitor.get(&app, "/register").await.text().await.unwrap().contains("approves new accounts"));
        register(&app, &visitor, "Pat Pending", "pat@example.org", NEW_PASSWORD).await;
        let link = confirmation_link(&app, "pat@example.org").await;
        let confirmed = post_on(&app, &visitor, &link, &link, &[]).await.text().await.unwrap();
        assert!(confirmed.contains("lets you in soon"));
        assert_eq!(log_in(&app, "pat@example.org", NEW_PASSWORD).await, 401, "not before the approval");

        let pat = app.app.store().people().find_person_by_email("pat@example.org").await.unwrap().unwrap();
        let path = format!("/agent/people/{}", pat.id);
        let admin = signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("awaiting approval") && page.contains("approve-form"));
        let alice = signed_in(&app, "alice@example.org").await;
        let refused = post_on(&app, &alice, "/agent", &format!("{path}/approve"), &[]).await;
        assert_eq!(refused.status(), 403, "approving needs people.edit");
        let approved = post_on(&app, &admin, &path, &format!("{path}/approve"), &[]).await;
        assert_eq!(approved.status(), 303);
        assert_eq!(log_in(&app, "pat@example.org", NEW_PASSWORD).await, 303);
        let twice = post_on(&app, &admin, &path, &format!("{path}/approve"), &[]).await;
        assert_eq!(twice.status(), 409);
        let audit = crate::security::audit_actions(&app).await;
        assert!(audit.iter().any(|action| action == "user.approved"));
        let _ = desk;
    }

    async fn open_and_closed_registration(app: TestApp) {
        app.app.set_help_center(&Caller::system(), "open", false, None).await.unwrap();
        let ready = register(&app, &Browser::new(), "Olga Open", "olga@example.org", NEW_PASSWORD).await;
        assert!(ready.text().await.unwrap().contains("Your account is ready"));
        assert_eq!(log_in(&app, "olga@example.org", NEW_PASSWORD).await, 303, "open: at once");
        assert!(app.app.store().outbox().list_mail(None, 10).await.unwrap().is_empty(), "no link needed");

        app.app.set_help_center(&Caller::system(), "closed", false, None).await.unwrap();
        let visitor = Browser::new();
        let page = visitor.get(&app, "/register").await.text().await.unwrap();
        assert!(page.contains("registration-closed") && !page.contains("register-form"));
        assert!(!visitor.get(&app, "/").await.text().await.unwrap().contains("register-link"));
        let token = visitor.csrf(&app, "/login").await;
        let refused = visitor.post(&app, "/register", &[
            ("csrf_token", &token), ("name", "Carl Closed"), ("email", "carl@example.org"), ("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD),
        ]).await;
        assert_eq!(refused.status(), 403);
        assert!(app.app.store().people().find_person_by_email("carl@example.org").await.unwrap().is_none());
        let without_token = visitor.post(&app, "/register", &[("name", "X"), ("email", "x@example.org")]).await;
        assert_eq!(without_token.status(), 403, "CSRF");
    }

    async fn people_change_their_own_name(app: TestApp) {
        app.create_account("uma@example.org", "Uma User", AccountKind::User).await;
        let uma = Browser::new();
        let token = uma.csrf(&app, "/login").await;
        uma.post(&app, "/login", &[("email", "uma@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        let saved = post_on(&app, &uma, "/account", "/account/profile", &[("name", "Uma <Renamed>")]).await;
        assert_eq!(crate::helpers::location(&saved), "/account?notice=name-saved");
        let page = uma.get(&app, "/account").await.text().await.unwrap();
        assert!(page.contains("Uma &#60;Renamed&#62;"));
        let blank = post_on(&app, &uma, "/account", "/account/profile", &[("name", "   ")]).await;
        assert_eq!(blank.status(), 422);
        assert!(blank.text().await.unwrap().contains("name-error"));
        let person = app.app.store().people().find_person_by_email("uma@example.org").await.unwrap().unwrap();
        assert_eq!(person.name, "Uma <Renamed>");
        assert!(crate::security::audit_actions(&app).await.iter().any(|action| action == "account.name_changed"));
        let visitor = Browser::new();
        let token = visitor.csrf(&app, "/login").await;
        let anonymous = visitor.post(&app, "/account/profile", &[("csrf_token", &token), ("name", "Nobody")]).await;
        assert!(crate::helpers::location(&anonymous).starts_with("/login"));
    }
}
