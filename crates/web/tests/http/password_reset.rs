use std::time::Duration;

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};

const NEW_PASSWORD: &str = "purple elephant juggling teacups";

on_both_backends! { spawn_app;

    async fn a_reset_link_sets_a_new_password_once_and_ends_every_session(app: TestApp) {
        let agent = app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        assert_eq!(app.sessions_of(&agent).await, 1);

        let link = app.app.issue_password_reset("Agent@Example.org", Duration::from_secs(3600)).await.unwrap();
        let path = link.url.expose().strip_prefix(&app.address).unwrap().to_owned();
        assert!(path.starts_with("/agent/reset-password/"));

        let reader = crate::helpers::new_client();
        let page = reader.get(app.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let csrf = crate::helpers::csrf_token_in(&page.text().await.unwrap());

        let weak = reader
            .post(app.url(&path))
            .form(&[("password", "short"), ("password_confirmation", "short"), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(weak.status(), 422);
        assert_eq!(app.sessions_of(&agent).await, 1, "nothing changed: the old session is still open");

        let done = reader
            .post(app.url(&path))
            .form(&[("password", NEW_PASSWORD), ("password_confirmation", NEW_PASSWORD), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 303);
        assert_eq!(location(&done), "/agent/login?notice=password-set");
        assert_eq!(app.sessions_of(&agent).await, 0, "every session ended");
        assert_eq!(app.get("/agent").await.status(), 303);

        assert_eq!(app.log_in_staff("agent@example.org", PASSWORD).await.status(), 401);
        assert_eq!(app.log_in_staff("agent@example.org", NEW_PASSWORD).await.status(), 303);
        assert_eq!(reader.get(app.url(&path)).send().await.unwrap().status(), 404, "used up");
    }

    async fn a_reset_link_expires(app: TestApp) {
        app.create_agent().await;
        let link = app.app.issue_password_reset("agent@example.org", Duration::from_secs(3600)).await.unwrap();
        let path = link.url.expose().strip_prefix(&app.address).unwrap().to_owned();
        app.clock.advance(Duration::from_secs(3601));
        assert_eq!(app.get(&path).await.status(), 404);
    }

    async fn reset_links_belong_to_their_surface(app: TestApp) {
        app.create_agent().await;
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let agent_link = app.app.issue_password_reset("agent@example.org", Duration::from_secs(3600)).await.unwrap();
        let agent_token = agent_link.url.expose().rsplit('/').next().unwrap().to_owned();
        assert_eq!(app.get(&format!("/reset-password/{agent_token}")).await.status(), 404);
        let user_link = app.app.issue_password_reset("user@example.org", Duration::from_secs(3600)).await.unwrap();
        let user_path = user_link.url.expose().strip_prefix(&app.address).unwrap().to_owned();
        assert!(user_path.starts_with("/reset-password/"));
        assert_eq!(app.get(&user_path).await.status(), 200);
        let user_token = user_path.rsplit('/').next().unwrap();
        assert_eq!(app.get(&format!("/agent/reset-password/{user_token}")).await.status(), 404);
        assert_eq!(app.get("/agent/reset-password/not-a-token").await.status(), 404);
    }
}
