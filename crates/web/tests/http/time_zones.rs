//! Time zones on both databases: each person reads times in the zone they
//! chose, else in the admin's default, else UTC; only real zones are
//! taken; the API keeps UTC.

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::tickets::{desk, open_ticket, post_on, signed_in};

on_both_backends! { spawn_app;

    async fn people_read_times_in_their_zone_or_the_default(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Clock check").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let ticket_path = format!("/agent/tickets/{reference}");

        // Nothing chosen: UTC, and the page offers the browser's zone.
        let page = alice.get(&app, &ticket_path).await.text().await.unwrap();
        assert!(page.contains(" UTC"), "{page}");
        assert!(page.contains("data-zone-path=\"/agent/account/time-zone\""));

        // Her own zone (one without summer time, so the test holds all year).
        let saved = post_on(&app, &alice, "/agent/account", "/agent/account/time-zone", &[("time_zone", "Asia/Tokyo")]).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(location(&saved), "/agent/account?notice=time-zone-saved#time-zone");
        let page = alice.get(&app, &ticket_path).await.text().await.unwrap();
        assert!(page.contains(" JST") && !page.contains("data-zone-path"), "{page}");
        let account = alice.get(&app, "/agent/account").await.text().await.unwrap();
        assert!(account.contains("<option selected>Asia/Tokyo</option>"), "{account}");

        // Only real zones.
        for bad in ["Mars/Olympus", "../etc/passwd", ""] {
            let refused = post_on(&app, &alice, "/agent/account", "/agent/account/time-zone", &[("time_zone", bad)]).await;
            assert_eq!(refused.status(), 422, "{bad}");
        }
        assert!(alice.get(&app, &ticket_path).await.text().await.unwrap().contains(" JST"), "unchanged");

        // The admin's default for everyone who chose none.
        let admin = signed_in(&app, "admin@example.org").await;
        let set = post_on(&app, &admin, "/admin/help-center", "/admin/help-center/time-zone", &[("default_time_zone", "Asia/Kolkata")]).await;
        assert_eq!(set.status(), 303);
        assert!(admin.get(&app, &ticket_path).await.text().await.unwrap().contains(" IST"));
        assert!(alice.get(&app, &ticket_path).await.text().await.unwrap().contains(" JST"), "her own choice wins");
        assert!(crate::security::audit_actions(&app).await.iter().any(|action| action == "settings.changed"), "the default is audited");

        // The API stays in UTC.
        let key = crate::api::key_for(&app, "admin@example.org", "").await;
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        let body: serde_json::Value = app.client.get(app.url(&format!("/api/v2/tickets/{}", ticket.id)))
            .header("authorization", format!("key {key}")).send().await.unwrap().json().await.unwrap();
        assert!(body["data"]["created_at"].as_str().unwrap().ends_with('Z'), "{body}");
    }
}
