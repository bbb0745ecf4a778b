use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, set_cookies, spawn_app};

on_both_backends! { spawn_app;

    async fn the_help_center_home_is_open_to_visitors(app: TestApp) {
        let home = app.get("/").await;
        assert_eq!(home.status(), 200);
        assert!(home.text().await.unwrap().contains("How can we help?"));
    }

    async fn a_user_logs_in_to_the_help_center_and_out_again(app: TestApp) {
        let user = app.create_account("user@example.org", "Uma <User>", ferrodesk_app::AccountKind::User).await;
        let response = app.log_in_portal("user@example.org", PASSWORD).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
        let cookie = set_cookies(response.headers()).into_iter().find(|c| c.starts_with("ferrodesk=s.")).unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("Uma &#60;User&#62;") || home.contains("Uma &lt;User&gt;"), "names are escaped");
        assert!(!home.contains("Uma <User>"));
        let token = crate::helpers::csrf_token_in(&home);
        let out = app.post_form("/logout", &[("csrf_token", &token)]).await;
        assert_eq!(out.status(), 303);
        assert_eq!(app.sessions_of(&user).await, 0);
    }

    async fn agents_do_not_log_in_through_the_help_center(app: TestApp) {
        app.create_agent().await;
        let response = app.log_in_portal("agent@example.org", PASSWORD).await;
        assert_eq!(response.status(), 401);
        assert!(response.text().await.unwrap().contains("Invalid email or password."));
    }
}
