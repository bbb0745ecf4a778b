use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

on_both_backends! { spawn_app;

    async fn an_oversized_body_is_refused_and_nothing_is_written(app: TestApp) {
        let admin = app.create_admin().await;
        let token = app.csrf_token("/agent/login").await;
        let huge = "x".repeat(200 * 1024);
        let response = app
            .post_form("/agent/login", &[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", &token), ("padding", &huge)])
            .await;
        assert_eq!(response.status(), 413);
        assert!(response.headers().contains_key("content-security-policy"));
        assert_eq!(app.sessions_of(&admin).await, 0);
    }

    async fn a_form_that_is_not_utf8_is_refused(app: TestApp) {
        let admin = app.create_admin().await;
        let token = app.csrf_token("/agent/login").await;
        let body = format!("email=admin%40example.org&password=%FF%FE&csrf_token={token}");
        let response = app
            .client
            .post(app.url("/agent/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains("UTF-8"));
        assert_eq!(app.sessions_of(&admin).await, 0);
    }

    async fn a_form_missing_fields_or_in_another_encoding_gets_400(app: TestApp) {
        let token = app.csrf_token("/agent/login").await;
        let missing = app.post_form("/agent/login", &[("csrf_token", &token)]).await;
        assert_eq!(missing.status(), 400);
        let json = app
            .client
            .post(app.url("/agent/login"))
            .header("x-csrf-token", token.as_str())
            .json(&serde_json::json!({"email": "a@b.c", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(json.status(), 400);
    }

    async fn absurdly_long_emails_and_passwords_are_an_ordinary_failure(app: TestApp) {
        app.create_admin().await;
        let long_email = format!("{}@example.org", "a".repeat(5000));
        let response = app.log_in_staff(&long_email, PASSWORD).await;
        assert_eq!(response.status(), 401);
        let long_password = "p".repeat(20_000);
        let response = app.log_in_staff("admin@example.org", &long_password).await;
        assert_eq!(response.status(), 401);
    }

    async fn a_client_that_trickles_its_headers_is_cut_off(app: TestApp) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = app.address.trim_start_matches("http://").to_owned();
        let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        // The server allows one second for the headers here; then it answers
        // 408 or just closes, and either way the connection ends.
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection was still open after 10 s");
        assert_eq!(app.get("/healthz").await.status(), 200, "others are served meanwhile");
    }

    async fn unknown_methods_and_paths_get_clear_answers(app: TestApp) {
        let delete = app.client.delete(app.url("/agent/login")).send().await.unwrap();
        assert_eq!(delete.status(), 403, "an unsafe method without a token is refused first");
        let put = app.client.put(app.url("/healthz")).send().await.unwrap();
        assert_eq!(put.status(), 405);
        let custom = app
            .client
            .request(reqwest::Method::from_bytes(b"BREW").unwrap(), app.url("/"))
            .send()
            .await
            .unwrap();
        assert!(custom.status().is_client_error(), "{}", custom.status());
        for path in ["/data/ferrodesk.db", "/ferrodesk-data/secret.key", "/static/../Cargo.toml", "/nope", "/agent/nope"] {
            assert_eq!(app.get(path).await.status(), 404, "{path}");
        }
    }
}
