//! What the load harness (`scripts/bench`) relies on, on both databases:
//! the baseline page and the agent list's counts at more than a thousand
//! tickets, with data from `ferrodesk seed`.

use ferrodesk_app::SeedPlan;
use ferrodesk_testkit::{Backend, on_both_backends};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};
use crate::tickets::{desk, signed_in};

/// The harness sets the size to the home page's, read at run time.
const BASELINE_BYTES: usize = 2_000;

async fn with_baseline(backend: Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Options {
            baseline_bytes: Some(BASELINE_BYTES),
            ..Options::default()
        },
    )
    .await
}

on_both_backends! { with_baseline;
    async fn the_baseline_page_has_the_size_and_headers_of_a_real_page(app: TestApp) {
        let home = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(home.status(), 200);
        let home_headers = home.headers().clone();
        let baseline = app.client.get(app.url("/bench/baseline")).send().await.unwrap();
        assert_eq!(baseline.status(), 200);
        let headers = baseline.headers().clone();
        let body = baseline.bytes().await.unwrap();
        assert_eq!(body.len(), BASELINE_BYTES);
        assert!(body.starts_with(b"<!doctype html>"));
        // Served through the same stack: the same security headers.
        for name in ["content-security-policy", "x-content-type-options", "referrer-policy", "cache-control"] {
            assert_eq!(headers.get(name), home_headers.get(name), "{name}");
        }
    }
}

on_both_backends! { spawn_app;
    async fn without_the_setting_there_is_no_baseline_page(app: TestApp) {
        let response = app.client.get(app.url("/bench/baseline")).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }

    async fn the_agent_list_counts_no_further_than_a_thousand(app: TestApp) {
        desk(&app).await;
        let summary = app.app.seed(
            &SeedPlan { tickets: 1_100, users: 30, agents: 1, articles: 0 },
            &mut |_, _, _| {},
        ).await.unwrap();
        assert_eq!(summary.tickets, 1_100);
        let admin = signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, "/agent/tickets?view=all&status=any").await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("<p class=\"muted\" id=\"ticket-total\">1000+ tickets</p>"), "{html}");
        // Below the cap the count is exact: nothing is assigned to the admin.
        let mine = admin.get(&app, "/agent/tickets?view=mine&status=any").await.text().await.unwrap();
        assert!(mine.contains("<p class=\"muted\" id=\"ticket-total\">0 tickets</p>"), "{mine}");
        // The API's total is exact at any size.
        let key = crate::api::key_for(&app, "admin@example.org", "").await;
        let body: serde_json::Value = app.client.get(app.url("/api/v2/tickets?status=any&count=1"))
            .header("authorization", format!("key {key}")).send().await.unwrap().json().await.unwrap();
        let visible = app.app.store().tickets().count_tickets(
            &ferrodesk_store::Visibility::Everything,
            &ferrodesk_store::TicketFilter {
                statuses: ferrodesk_core::TicketStatus::VISIBLE.to_vec(),
                ..Default::default()
            },
        ).await.unwrap();
        assert!(visible > 1_000, "{visible}");
        assert_eq!(body["meta"]["total"], visible);
    }
}
