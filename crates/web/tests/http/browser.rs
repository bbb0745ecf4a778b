//! End-to-end stories in headless Chromium, through the real pages.

use ferrodesk_testkit::browser::Browser;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

on_both_backends! { spawn_app;

    async fn an_agent_logs_in_through_the_page_reaches_the_desk_and_logs_out(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let agent = app.create_agent().await;
        browser.goto(&app.url("/agent")).await;
        let url = browser.wait_for_url(|url| url.contains("/agent/login")).await;
        assert!(url.contains("/agent/login?return_to="), "{url}");

        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        assert!(browser.text_of("h1").await.contains("Alan Agent"));
        assert_eq!(app.sessions_of(&agent).await, 1);

        browser.click("form[action='/agent/logout'] button").await;
        let url = browser.wait_for_url(|url| url.contains("notice=logged-out")).await;
        assert!(url.contains("/agent/login?notice=logged-out"), "{url}");
        assert!(browser.text_of(".notice").await.contains("logged out"));
        assert_eq!(app.sessions_of(&agent).await, 0);
        browser.close().await;
    }

    async fn a_wrong_password_shows_an_error_in_the_browser(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        app.create_agent().await;
        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", "definitely not it").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent/login")).await;
        assert_eq!(browser.text_of("#login-error").await, "Invalid email or password.");
        browser.goto(&app.url("/agent")).await;
        let url = browser.wait_for_url(|url| url.contains("/agent/login")).await;
        assert!(url.contains("/agent/login"), "still signed out: {url}");
        browser.close().await;
    }
}

on_both_backends! { crate::mail::spawn_with_mail;

    async fn an_agent_who_forgot_the_password_resets_it_through_the_mailed_link(test: crate::mail::MailTest) {
        let Some(browser) = Browser::launch().await else { return };
        let app = &test.app;
        app.create_agent().await;
        browser.goto(&app.url("/agent/login")).await;
        browser.click("#forgot-password").await;
        browser.wait_for_url(|url| url.ends_with("/agent/forgot-password")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.click("button[type=submit]").await;
        assert!(browser.text_of("#reset-requested").await.contains("If an account uses that address"));

        let received = test.smtp.wait_for(1, std::time::Duration::from_secs(20)).await;
        let link = received[0].link_starting_with(&app.url("/agent/reset-password/")).expect("a reset link");
        browser.goto(&link).await;
        browser.type_into("#password", "purple elephant juggling teacups").await;
        browser.type_into("#password_confirmation", "purple elephant juggling teacups").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=password-set")).await;
        assert!(browser.text_of(".notice").await.contains("password has been set"));
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", "purple elephant juggling teacups").await;
        browser.click("button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn an_agent_sets_up_two_factor_and_logs_in_with_a_code(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        app.create_agent().await;
        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent")).await;

        browser.goto(&app.url("/agent/account")).await;
        browser.click("#manage-two-factor").await;
        browser.wait_for_url(|url| url.ends_with("/agent/account/two-factor")).await;
        browser.click("#start-two-factor").await;
        let secret = browser.text_of("#totp-secret").await;
        assert!(!secret.is_empty());
        let code = ferrodesk_testkit::totp::code_at(&secret, app.app.now().millis());
        browser.type_into("#code", &code).await;
        browser.click("form[action='/agent/account/two-factor/confirm'] button").await;
        let codes = browser.text_of("#recovery-codes").await;
        assert_eq!(codes.split_whitespace().count(), 10, "{codes}");

        browser.click("form[action='/agent/logout'] button").await;
        browser.wait_for_url(|url| url.contains("notice=logged-out")).await;
        app.advance_clock(std::time::Duration::from_secs(30));
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent/login/two-factor")).await;
        browser.type_into("#code", "000000").await;
        browser.click("form[action='/agent/login/two-factor'] button").await;
        assert!(browser.text_of("#code-error").await.contains("not right"));
        let code = ferrodesk_testkit::totp::code_at(&secret, app.app.now().millis());
        browser.type_into("#code", &code).await;
        browser.click("form[action='/agent/login/two-factor'] button").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        assert!(browser.text_of("h1").await.contains("Alan Agent"));
        browser.close().await;
    }

    async fn an_expired_password_must_be_changed_before_anything_else(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        app.create_agent().await;
        let mut policy = app.app.settings().await.unwrap().agent_password_policy.clone();
        policy.max_age_days = 30;
        app.app
            .set_password_policy(&ferrodesk_app::Caller::system(), ferrodesk_app::Audience::Agents, policy)
            .await
            .unwrap();
        app.advance_clock(std::time::Duration::from_secs(31 * 86_400));

        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent/account/password")).await;
        assert!(browser.text_of("#must-change").await.contains("expired"));
        browser.goto(&app.url("/agent/account")).await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent/account/password")).await;
        assert!(url.ends_with("/agent/account/password"), "nothing else first: {url}");

        browser.type_into("#current_password", PASSWORD).await;
        browser.type_into("#password", "purple elephant juggling teacups").await;
        browser.type_into("#password_confirmation", "purple elephant juggling teacups").await;
        browser.click("form[action='/agent/account/password'] button").await;
        let url = browser.wait_for_url(|url| url.contains("notice=password-changed")).await;
        assert!(url.ends_with("/agent/account?notice=password-changed"), "{url}");
        browser.goto(&app.url("/agent")).await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        browser.close().await;
    }
}

on_both_backends! { crate::mail::spawn_with_mail;

    async fn with_ip_allow_listing_an_agent_confirms_a_new_address_from_the_mailed_link(test: crate::mail::MailTest) {
        let Some(browser) = Browser::launch().await else { return };
        let app = &test.app;
        app.create_agent().await;
        app.app
            .set_ip_allow_list(&ferrodesk_app::Caller::system(), true, false, 30, "")
            .await
            .unwrap();

        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        assert!(browser.text_of("#login-error").await.contains("emailed you a link"));

        let received = test.smtp.wait_for(1, std::time::Duration::from_secs(20)).await;
        let link = received
            .iter()
            .find_map(|mail| mail.link_starting_with(&app.url("/agent/verify-ip/")))
            .expect("a verification link");
        browser.goto(&link).await;
        assert_eq!(browser.text_of("#verify-ip-address").await, "127.0.0.1");
        browser.click("#confirm-ip").await;
        browser.wait_for_url(|url| url.contains("notice=ip-trusted")).await;
        assert!(browser.text_of(".notice").await.contains("confirmed"));

        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        browser.close().await;
    }
}
