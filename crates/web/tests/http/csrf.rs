use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

on_both_backends! { spawn_app;

    async fn a_login_without_the_token_is_refused_and_opens_no_session(app: TestApp) {
        let admin = app.create_admin().await;
        app.get("/agent/login").await;
        let response = app.post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD)]).await;
        assert_eq!(response.status(), 403);
        let forged = app
            .post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &"0".repeat(64))])
            .await;
        assert_eq!(forged.status(), 403);
        assert_eq!(app.sessions_of(&admin).await, 0);
        assert_eq!(app.get("/agent").await.status(), 303);
    }

    async fn a_login_without_any_cookie_is_refused(app: TestApp) {
        let admin = app.create_admin().await;
        let token = app.csrf_token("/agent/login").await;
        let cookieless = crate::helpers::new_client()
            .post(app.url("/agent/login"))
            .form(&[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(cookieless.status(), 403);
        assert_eq!(app.sessions_of(&admin).await, 0);
    }

    async fn a_login_from_another_site_is_refused_even_with_the_token(app: TestApp) {
        let admin = app.create_admin().await;
        let token = app.csrf_token("/agent/login").await;
        let fields = [("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", token.as_str())];
        let foreign_origin = app
            .client
            .post(app.url("/agent/login"))
            .header("origin", "https://evil.example")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(foreign_origin.status(), 403);
        let cross_site = app
            .client
            .post(app.url("/agent/login"))
            .header("sec-fetch-site", "cross-site")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), 403);
        let null_origin = app.client.post(app.url("/agent/login")).header("origin", "null").form(&fields).send().await.unwrap();
        assert_eq!(null_origin.status(), 403);
        assert_eq!(app.sessions_of(&admin).await, 0);

        let same_origin = app
            .client
            .post(app.url("/agent/login"))
            .header("origin", app.address.as_str())
            .header("sec-fetch-site", "same-origin")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(same_origin.status(), 303);
        assert_eq!(app.sessions_of(&admin).await, 1);
    }

    async fn the_token_may_come_in_a_header(app: TestApp) {
        let agent = app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        let token = app.csrf_token("/agent").await;
        let response = app.client.post(app.url("/agent/logout")).header("x-csrf-token", token).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(app.sessions_of(&agent).await, 0);
    }

    async fn a_token_from_the_help_center_does_not_work_for_staff(app: TestApp) {
        let admin = app.create_admin().await;
        let portal_token = app.csrf_token("/login").await;
        app.get("/agent/login").await;
        let response = app
            .post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &portal_token)])
            .await;
        assert_eq!(response.status(), 403);
        assert_eq!(app.sessions_of(&admin).await, 0);
    }

    async fn the_token_changes_when_the_session_does(app: TestApp) {
        app.create_agent().await;
        let before = app.csrf_token("/agent/login").await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        let after = app.csrf_token("/agent").await;
        assert_ne!(before, after);
    }
}
