//! Surface network restriction (C8): outside the configured ranges the admin
//! and staff interfaces answer 404; the help center stays open.

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{Options, PASSWORD, TestApp, spawn_app_with};

/// Behind a trusted proxy on loopback, so a test can pose as any client
/// address with `X-Forwarded-For`; admins only from 10.0.0.0/8, staff from
/// there and 192.168.0.0/16.
async fn restricted(backend: ferrodesk_testkit::Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Options {
            trusted_proxies: vec!["127.0.0.0/8"],
            admin_allow: vec!["10.0.0.0/8"],
            agent_allow: vec!["10.0.0.0/8", "192.168.0.0/16"],
            ..Options::default()
        },
    )
    .await
}

async fn status_from(app: &TestApp, client: &str, path: &str) -> u16 {
    app.client
        .get(app.url(path))
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_backends! { restricted;

    async fn each_interface_answers_only_its_ranges(app: TestApp) {
        app.create_admin().await;
        assert_eq!(status_from(&app, "203.0.113.7", "/admin").await, 404);
        assert_eq!(status_from(&app, "203.0.113.7", "/admin/security").await, 404);
        assert_eq!(status_from(&app, "203.0.113.7", "/agent/login").await, 404);
        assert_eq!(status_from(&app, "203.0.113.7", "/").await, 200, "the help center is open");
        assert_eq!(status_from(&app, "192.168.1.5", "/agent/login").await, 200);
        assert_eq!(status_from(&app, "192.168.1.5", "/admin").await, 404, "staff range, not admin range");
        assert_eq!(status_from(&app, "10.2.3.4", "/admin").await, 303, "inside: on to the login");
        // Signed in from inside, the session still does not open the admin
        // interface from outside.
        let token = crate::helpers::csrf_token_in(&app.client.get(app.url("/agent/login")).header("x-forwarded-for", "10.2.3.4").send().await.unwrap().text().await.unwrap());
        let login = app.client.post(app.url("/agent/login")).header("x-forwarded-for", "10.2.3.4")
            .form(&[("email", "admin@example.org"), ("password", PASSWORD), ("csrf_token", token.as_str())]).send().await.unwrap();
        assert_eq!(login.status(), 303);
        assert_eq!(status_from(&app, "10.2.3.4", "/admin").await, 200);
        assert_eq!(status_from(&app, "203.0.113.7", "/admin").await, 404);
    }
}
