use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, set_cookies, spawn_app};

on_both_backends! { spawn_app;

    async fn an_admin_logs_in_and_reaches_the_agent_and_admin_pages(app: TestApp) {
        let admin = app.create_admin().await;
        let login_page = app.get("/agent/login").await;
        assert_eq!(login_page.status(), 200);
        let visitor_cookie = set_cookies(login_page.headers()).join(";");
        let html = login_page.text().await.unwrap();
        assert!(html.contains("name=\"email\"") && html.contains("name=\"password\""));
        let token = crate::helpers::csrf_token_in(&html);

        let response = app
            .post_form("/agent/login", &[("email", "ADMIN@example.org"), ("password", PASSWORD), ("csrf_token", &token)])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/agent");
        let cookies = set_cookies(response.headers());
        let session_cookie = cookies.iter().find(|c| c.starts_with("ferrodesk-staff=s.")).expect("a session cookie");
        assert!(session_cookie.contains("HttpOnly"));
        assert!(session_cookie.contains("SameSite=Lax"));
        assert!(session_cookie.contains("Path=/"));
        assert!(!session_cookie.contains("Secure"), "plain http here");
        // A new id on login: the pre-login token is not the session token.
        let session_value = session_cookie.split(';').next().unwrap().trim_start_matches("ferrodesk-staff=s.");
        assert!(!visitor_cookie.contains(session_value));

        let agent_page = app.get("/agent").await;
        assert_eq!(agent_page.status(), 200);
        assert_eq!(agent_page.headers()["cache-control"], "no-store");
        assert!(agent_page.text().await.unwrap().contains("Ada Admin"));
        let admin_page = app.get("/admin").await;
        assert_eq!(admin_page.status(), 200);
        let admin_html = admin_page.text().await.unwrap();
        assert!(admin_html.contains("admin@example.org") && admin_html.contains("Admin"));
        assert_eq!(app.sessions_of(&admin).await, 1);
        let listed = app.app.list_agents(&ferrodesk_app::Actor::System).await.unwrap();
        assert!(listed[0].last_login_at.is_some());
    }

    async fn unknown_email_and_wrong_password_look_the_same(app: TestApp) {
        app.create_admin().await;
        let wrong_password = app.log_in_staff("admin@example.org", "not the password at all").await;
        let unknown_email = app.log_in_staff("nobody@example.org", "not the password at all").await;
        let malformed_email = app.log_in_staff("not-an-email", "not the password at all").await;
        assert_eq!(wrong_password.status(), 401);
        assert_eq!(unknown_email.status(), 401);
        assert_eq!(malformed_email.status(), 401);
        let first = wrong_password.text().await.unwrap();
        let second = unknown_email.text().await.unwrap();
        let third = malformed_email.text().await.unwrap();
        assert!(first.contains("Invalid email or password."));
        assert_eq!(first, second);
        assert_eq!(first, third);
        assert_eq!(app.get("/agent").await.status(), 303);
    }

    async fn a_help_center_user_cannot_log_in_as_staff(app: TestApp) {
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let response = app.log_in_staff("user@example.org", PASSWORD).await;
        assert_eq!(response.status(), 401);
    }

    async fn a_disabled_agent_cannot_log_in_and_loses_open_sessions(app: TestApp) {
        let agent = app.create_agent().await;
        assert_eq!(app.log_in_staff("agent@example.org", PASSWORD).await.status(), 303);
        app.app.store().people().set_disabled(agent.id, true, app.app.now()).await.unwrap();
        assert_eq!(app.get("/agent").await.status(), 303);
        assert_eq!(app.log_in_staff("agent@example.org", PASSWORD).await.status(), 401);
    }

    async fn after_login_the_agent_returns_to_the_page_they_asked_for_but_never_off_site(app: TestApp) {
        app.create_admin().await;
        let redirect = app.get("/admin").await;
        assert_eq!(redirect.status(), 303);
        assert_eq!(location(&redirect), "/agent/login?return_to=%2Fadmin");
        let page = app.get("/agent/login?return_to=%2Fadmin").await.text().await.unwrap();
        assert!(page.contains("name=\"return_to\" value=\"/admin\""));
        let token = crate::helpers::csrf_token_in(&page);
        let response = app
            .post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &token), ("return_to", "/admin")])
            .await;
        assert_eq!(location(&response), "/admin");

        for evil in ["//evil.example/agent", "https://evil.example/", "/\\evil.example", "/", "/agent/../..//evil.example", "/agent/..%2F..%2Fevil.example", "/agent/../tickets"] {
            let other = crate::helpers::new_client();
            let page = other.get(app.url("/agent/login")).send().await.unwrap().text().await.unwrap();
            let token = crate::helpers::csrf_token_in(&page);
            let response = other
                .post(app.url("/agent/login"))
                .form(&[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &token), ("return_to", evil)])
                .send()
                .await
                .unwrap();
            assert_eq!(location(&response), "/agent", "return_to {evil:?}");
        }
    }

    async fn logging_out_ends_the_session_on_the_server(app: TestApp) {
        let agent = app.create_agent().await;
        let login = app.log_in_staff("agent@example.org", PASSWORD).await;
        let cookie = set_cookies(login.headers()).into_iter().find(|c| c.starts_with("ferrodesk-staff=s.")).unwrap();
        let cookie_pair = cookie.split(';').next().unwrap().to_owned();
        let token = app.csrf_token("/agent").await;

        let without_token = app.post_form("/agent/logout", &[]).await;
        assert_eq!(without_token.status(), 403);
        assert_eq!(app.sessions_of(&agent).await, 1);

        let response = app.post_form("/agent/logout", &[("csrf_token", &token)]).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/agent/login?notice=logged-out");
        assert!(set_cookies(response.headers()).iter().any(|c| c.starts_with("ferrodesk-staff=;") && c.contains("Max-Age=0")));
        assert_eq!(app.sessions_of(&agent).await, 0);

        // The old cookie, replayed by hand, opens nothing.
        let replay = crate::helpers::new_client()
            .get(app.url("/agent"))
            .header("cookie", cookie_pair)
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 303);
        let notice = app.get("/agent/login?notice=logged-out").await.text().await.unwrap();
        assert!(notice.contains("You have been logged out."));
    }

    async fn logging_in_as_someone_else_ends_the_earlier_session(app: TestApp) {
        let agent = app.create_agent().await;
        let admin = app.create_admin().await;
        assert_eq!(app.log_in_staff("agent@example.org", PASSWORD).await.status(), 303);
        assert_eq!(app.sessions_of(&agent).await, 1);
        // The login page sends a signed-in agent on; a second login is posted directly.
        let token = app.csrf_token("/agent").await;
        let response = app
            .post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &token)])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(app.sessions_of(&agent).await, 0);
        assert_eq!(app.sessions_of(&admin).await, 1);
    }

    async fn logout_is_post_only(app: TestApp) {
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        assert_eq!(app.get("/agent/logout").await.status(), 405);
        assert_eq!(app.get("/agent").await.status(), 200);
    }
}
