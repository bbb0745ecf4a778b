use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};

fn token_of(setup_url: &str) -> String {
    setup_url.split("token=").nth(1).unwrap().to_owned()
}

on_both_backends! { spawn_app;

    async fn the_first_admin_is_created_through_the_logged_setup_link_once(app: TestApp) {
        let setup_url = app.app.prepare_setup().await.unwrap().expect("no admin yet, so a setup link");
        assert!(setup_url.expose().starts_with(&format!("{}/setup?token=", app.address)));
        let token = token_of(setup_url.expose());

        assert_eq!(app.get("/setup").await.status(), 404);
        assert_eq!(app.get(&format!("/setup?token={}", "0".repeat(64))).await.status(), 404);
        let page = app.get(&format!("/setup?token={token}")).await;
        assert_eq!(page.status(), 200);
        let csrf = crate::helpers::csrf_token_in(&page.text().await.unwrap());

        let weak = app
            .post_form("/setup", &[("token", &token), ("name", "Ada"), ("email", "ada@example.org"), ("password", "password123"), ("password_confirmation", "password123"), ("csrf_token", &csrf)])
            .await;
        assert_eq!(weak.status(), 422);
        let html = weak.text().await.unwrap();
        assert!(html.contains("too easy to guess") || html.contains("at least 12"), "{html}");
        assert!(html.contains("value=\"ada@example.org\""), "what was typed is kept");
        assert_eq!(app.app.store().people().count_active_admins().await.unwrap(), 0);

        let mismatch = app
            .post_form("/setup", &[("token", &token), ("name", "Ada"), ("email", "ada@example.org"), ("password", PASSWORD), ("password_confirmation", "something else"), ("csrf_token", &csrf)])
            .await;
        assert_eq!(mismatch.status(), 422);

        let wrong_token = app
            .post_form("/setup", &[("token", &"1".repeat(64)), ("name", "Eve"), ("email", "eve@example.org"), ("password", PASSWORD), ("password_confirmation", PASSWORD), ("csrf_token", &csrf)])
            .await;
        assert_eq!(wrong_token.status(), 404);

        let created = app
            .post_form("/setup", &[("token", &token), ("name", "Ada"), ("email", "ada@example.org"), ("password", PASSWORD), ("password_confirmation", PASSWORD), ("csrf_token", &csrf)])
            .await;
        assert_eq!(created.status(), 303);
        assert_eq!(location(&created), "/agent/login?notice=setup-done");
        assert_eq!(app.app.store().people().count_active_admins().await.unwrap(), 1);

        assert_eq!(app.get(&format!("/setup?token={token}")).await.status(), 404);
        let again = app
            .post_form("/setup", &[("token", &token), ("name", "Eve"), ("email", "eve@example.org"), ("password", PASSWORD), ("password_confirmation", PASSWORD), ("csrf_token", &csrf)])
            .await;
        assert_eq!(again.status(), 404);
        assert_eq!(app.log_in_staff("ada@example.org", PASSWORD).await.status(), 303);
        assert_eq!(app.get("/admin").await.status(), 200);
    }

    async fn there_is_no_setup_once_an_admin_exists_even_a_disabled_one(app: TestApp) {
        let admin = app.create_admin().await;
        app.app.store().people().set_disabled(admin.id, true, app.app.now()).await.unwrap();
        assert!(app.app.prepare_setup().await.unwrap().is_none());
        assert_eq!(app.get("/setup?token=anything").await.status(), 404);
    }
}
