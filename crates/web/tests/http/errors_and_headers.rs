use ferrodesk_testkit::on_both_backends;

use crate::helpers::{Options, PASSWORD, TestApp, set_cookies, spawn_app, spawn_app_with};

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert!(headers.contains_key("referrer-policy"), "{what}");
    assert!(headers.contains_key("permissions-policy"), "{what}");
    assert!(headers.contains_key("x-request-id"), "{what}");
    assert!(!headers.contains_key("server"), "{what}: no version banner");
}

async fn https_app(backend: ferrodesk_testkit::Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Options {
            public_url: Some("https://help.example.com".into()),
            ..Options::default()
        },
    )
    .await
}

on_both_backends! { spawn_app;

    async fn every_response_carries_the_security_headers(app: TestApp) {
        app.create_agent().await;
        for path in ["/", "/login", "/agent/login", "/agent", "/admin", "/healthz", "/readyz", "/static/ferrodesk.css", "/nope", "/data/x", "/setup"] {
            let response = app.get(path).await;
            assert_security_headers(&response, path);
            assert!(!response.headers().contains_key("strict-transport-security"), "no HSTS over plain http");
        }
        let forbidden = app.post_form("/agent/login", &[]).await;
        assert_eq!(forbidden.status(), 403);
        assert_security_headers(&forbidden, "403");
        let method = app.client.put(app.url("/healthz")).send().await.unwrap();
        assert_security_headers(&method, "405");
        app.log_in_staff("agent@example.org", PASSWORD).await;
        let refused = app.get("/admin").await;
        assert_eq!(refused.status(), 403);
        assert_security_headers(&refused, "admin 403");
        assert_eq!(refused.headers()["cache-control"], "no-store");
    }

    async fn a_server_error_shows_a_request_id_and_no_internals_and_is_logged(app: TestApp) {
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        app.execute_sql("DROP TABLE sessions").await;
        let response = app.get("/agent").await;
        assert_eq!(response.status(), 500);
        assert_security_headers(&response, "500");
        let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        let html = response.text().await.unwrap();
        assert!(html.contains(&request_id), "the page shows the request id");
        assert!(!html.to_lowercase().contains("sessions"), "no SQL or table names: {html}");
        assert!(!html.contains("database"), "no internals: {html}");
        let logged = app.app.store().error_log().recent_errors(10).await.unwrap();
        let entry = logged.iter().find(|entry| entry.request_id == request_id).expect("the error is in the error log");
        assert_eq!(entry.status, 500);
        assert_eq!(entry.path, "/agent");
        assert!(!entry.message.is_empty());
    }

    async fn a_404_is_a_page_with_the_layout(app: TestApp) {
        let response = app.get("/no/such/page").await;
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        let html = response.text().await.unwrap();
        assert!(html.contains("There is no page at this address."));
        assert!(html.contains("/static/ferrodesk.css"));
    }

    async fn pages_load_no_inline_script(app: TestApp) {
        for path in ["/", "/login", "/agent/login"] {
            let html = app.get(path).await.text().await.unwrap();
            // Scripts only as same-origin files, never inline code.
            for (at, _) in html.match_indices("<script") {
                let tag = &html[at..];
                assert!(tag.starts_with("<script src=\"/static/") && tag.contains("></script>"), "{path}: {}", &tag[..tag.len().min(80)]);
                let end = tag.find('>').unwrap();
                assert!(tag[end..].starts_with("></script>"), "{path}: a script with a body");
            }
            assert!(!html.contains(" style=\""), "{path}");
        }
    }
}

on_both_backends! { https_app;

    async fn behind_https_cookies_are_secure_with_the_host_prefix_and_hsts_is_sent(app: TestApp) {
        let response = app.get("/agent/login").await;
        assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
        let cookies = set_cookies(response.headers());
        let visitor = cookies.iter().find(|c| c.starts_with("__Host-ferrodesk-staff=v.")).expect("prefixed cookie");
        assert!(visitor.contains("; Secure") && visitor.contains("Path=/") && visitor.contains("HttpOnly"));
        assert!(!visitor.contains("Domain="));
        let portal = app.get("/").await;
        assert!(set_cookies(portal.headers()).iter().any(|c| c.starts_with("__Host-ferrodesk=v.") && c.contains("Secure")));
        let not_found = app.get("/nope").await;
        assert!(not_found.headers().contains_key("strict-transport-security"));
    }
}
