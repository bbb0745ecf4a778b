use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};

on_both_backends! { spawn_app;

    async fn visitors_are_sent_to_the_staff_login(app: TestApp) {
        for (path, target) in [("/agent", "/agent/login?return_to=%2Fagent"), ("/admin", "/agent/login?return_to=%2Fadmin")] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 303, "{path}");
            assert_eq!(location(&response), target);
        }
    }

    async fn an_agent_who_is_not_an_admin_gets_403_from_the_admin_interface(app: TestApp) {
        app.create_admin().await;
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        assert_eq!(app.get("/agent").await.status(), 200);
        let admin = app.get("/admin").await;
        assert_eq!(admin.status(), 403);
        let html = admin.text().await.unwrap();
        assert!(html.contains("permission"));
        assert!(!html.contains("admin@example.org"), "no admin data on the refusal");
        assert!(!app.get("/agent").await.text().await.unwrap().contains("href=\"/admin\""), "no admin link for agents");
    }

    async fn admins_see_the_admin_link(app: TestApp) {
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        assert!(app.get("/agent").await.text().await.unwrap().contains("href=\"/admin\""));
    }

    async fn a_demoted_agent_loses_access_at_once(app: TestApp) {
        let agent = app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        assert_eq!(app.get("/agent").await.status(), 200);
        app.execute_sql("UPDATE people SET is_agent = FALSE").await;
        assert_eq!(app.get("/agent").await.status(), 303);
        assert_eq!(app.sessions_of(&agent).await, 0);
    }
}
