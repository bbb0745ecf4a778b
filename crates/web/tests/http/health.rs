use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, spawn_app};

on_both_backends! { spawn_app;

    async fn the_process_and_the_database_report_ready(app: TestApp) {
        let health = app.get("/healthz").await;
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok\n");
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 200);
    }

    async fn readiness_fails_when_the_database_is_gone(app: TestApp) {
        app.app.store().close().await;
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 503);
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}
