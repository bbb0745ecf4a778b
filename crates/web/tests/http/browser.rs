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
