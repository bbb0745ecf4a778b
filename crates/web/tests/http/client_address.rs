use ferrodesk_testkit::on_both_backends;

use crate::helpers::{Options, PASSWORD, TestApp, spawn_app, spawn_app_with};

async fn behind_proxy(backend: ferrodesk_testkit::Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Options {
            trusted_proxies: vec!["127.0.0.0/8"],
            ..Options::default()
        },
    )
    .await
}

/// The address recorded with the one open session, read straight from the
/// table so the test does not depend on how the session list shows it.
async fn session_ip(app: &TestApp) -> String {
    let query = "SELECT ip FROM sessions";
    match app.database.backend {
        ferrodesk_testkit::Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database.url).await.unwrap();
            sqlx::query_scalar::<_, String>(query)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
        ferrodesk_testkit::Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database.url).await.unwrap();
            sqlx::query_scalar::<_, String>(query)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    }
}

async fn log_in_forwarded(app: &TestApp, forwarded_for: &str) {
    let token = app.csrf_token("/agent/login").await;
    let response = app
        .client
        .post(app.url("/agent/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("email", "agent@example.org"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

on_both_backends! { behind_proxy;

    async fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_hop(app: TestApp) {
        app.create_agent().await;
        log_in_forwarded(&app, "6.6.6.6, 203.0.113.5").await;
        assert_eq!(session_ip(&app).await, "203.0.113.5");
    }
}

on_both_backends! { spawn_app;

    async fn without_trusted_proxies_x_forwarded_for_is_ignored(app: TestApp) {
        app.create_agent().await;
        log_in_forwarded(&app, "203.0.113.5").await;
        assert_eq!(session_ip(&app).await, "127.0.0.1");
    }
}
