use std::time::Duration;

use ferrodesk_app::{Audience, Caller, SessionLimits, Settings};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

on_both_backends! { spawn_app;

    async fn an_idle_session_is_refused_by_the_server_though_the_browser_still_sends_it(app: TestApp) {
        let agent = app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        app.clock.advance(Duration::from_secs(59 * 60));
        assert_eq!(app.get("/agent").await.status(), 200, "still within the hour");
        app.clock.advance(Duration::from_secs(61 * 60));
        let response = app.get("/agent").await;
        assert_eq!(response.status(), 303, "idle for more than an hour");
        assert_eq!(app.sessions_of(&agent).await, 0, "the expired session is deleted");
    }

    async fn activity_keeps_a_session_alive_until_its_absolute_lifetime(app: TestApp) {
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        for _ in 0..14 {
            app.clock.advance(Duration::from_secs(50 * 60));
            assert_eq!(app.get("/agent").await.status(), 200);
        }
        // 14 × 50 min = 11 h 40 min; 25 minutes more passes 12 hours.
        app.clock.advance(Duration::from_secs(25 * 60));
        assert_eq!(app.get("/agent").await.status(), 303);
    }

    async fn the_default_limits_are_stored_as_settings_in_the_database(app: TestApp) {
        let stored = app.app.store().settings().load_settings().await.unwrap();
        let staff = stored.iter().find(|(key, _)| key == "sessions.staff").expect("stored staff limits");
        let limits: SessionLimits = serde_json::from_str(&staff.1).unwrap();
        assert_eq!(limits.idle_timeout_seconds, 3600);
        assert_eq!(limits.absolute_lifetime_seconds, 12 * 3600);
        assert!(!limits.remember_me_allowed, "remember me is off for staff by default");
    }

    async fn session_limits_come_from_the_settings(app: TestApp) {
        app.app
            .set_session_limits(&Caller::system(), Audience::Agents, SessionLimits { idle_timeout_seconds: 300, absolute_lifetime_seconds: 600, ..Settings::default().staff_sessions })
            .await
            .unwrap();
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        app.clock.advance(Duration::from_secs(301));
        assert_eq!(app.get("/agent").await.status(), 303);
        let refused = app
            .app
            .set_session_limits(&Caller::system(), Audience::Agents, SessionLimits { idle_timeout_seconds: 700, absolute_lifetime_seconds: 600, ..Settings::default().staff_sessions })
            .await;
        assert!(refused.is_err());
    }

    async fn staff_and_help_center_sessions_are_separate(app: TestApp) {
        app.create_agent().await;
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        assert_eq!(app.log_in_portal("user@example.org", PASSWORD).await.status(), 303);
        assert_eq!(app.get("/agent").await.status(), 303, "a help-center session opens nothing for staff");
        assert!(app.get("/").await.text().await.unwrap().contains("Uma User"));
        assert_eq!(app.log_in_staff("agent@example.org", PASSWORD).await.status(), 303);
        assert_eq!(app.get("/agent").await.status(), 200);
        assert!(app.get("/").await.text().await.unwrap().contains("Uma User"), "each surface keeps its own person");
    }

    async fn a_forged_or_garbled_cookie_is_just_a_visitor(app: TestApp) {
        for cookie in [
            format!("ferrodesk-staff=s.{}", "a".repeat(64)),
            "ferrodesk-staff=s.zz".to_owned(),
            "ferrodesk-staff=garbage".to_owned(),
        ] {
            let response = crate::helpers::new_client()
                .get(app.url("/agent"))
                .header("cookie", cookie.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 303, "{cookie}");
        }
    }

    async fn stale_sessions_are_purged_in_the_background(app: TestApp) {
        let agent = app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        app.clock.advance(Duration::from_secs(2 * 60 * 60));
        assert_eq!(app.app.purge_stale_sessions().await.unwrap(), 1);
        assert_eq!(app.sessions_of(&agent).await, 0);
    }
}
