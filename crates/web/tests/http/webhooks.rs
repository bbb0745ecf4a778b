//! Webhooks on both databases: an admin adds one in the browser, internal
//! addresses are refused (the operator's allow-list lets only the test's
//! IPv4 loopback through), and a real receiver on loopback gets a signed
//! POST, answered 500 and then 202: the delivery is tried again with the
//! same delivery id, logged with each answer, and "send again" makes a new
//! one. The secret is never shown again; every change is audited.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrodesk_testkit::on_both_backends;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::audit_actions;
use crate::tickets::{desk, post_on, signed_in};

const NEW: &str = "/admin/rules/webhooks/new";

/// One request the receiver got: its head (lower-cased header names) and body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> String {
        self.head
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    }
}

/// A receiver on loopback answering each request with the next status of
/// `answers` (the last one from then on).
pub(crate) async fn receiver(answers: Vec<u16>) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut chunk = [0_u8; 4096];
            let (head, body) = loop {
                let read = stream.read(&mut chunk).await.unwrap_or(0);
                if read == 0 {
                    break (String::new(), Vec::new());
                }
                request.extend_from_slice(&chunk[..read]);
                let Some(end) = request.windows(4).position(|window| window == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&request[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break (head, request[end + 4..end + 4 + length].to_vec());
                }
            };
            let status = {
                let mut log = log.lock().unwrap();
                log.push(Received { head, body });
                answers[(log.len() - 1).min(answers.len() - 1)]
            };
            let answer = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Length: 9\r\nConnection: close\r\n\r\nanswer {status}"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (port, received)
}

pub(crate) async fn wait_for(received: &Arc<Mutex<Vec<Received>>>, count: usize) -> Vec<Received> {
    for _ in 0..200 {
        let now = received.lock().unwrap().clone();
        if now.len() >= count {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the receiver got {} requests, not {count}",
        received.lock().unwrap().len()
    );
}

async fn delivery_states(app: &TestApp, webhook: i64) -> Vec<(String, Option<i64>, i64)> {
    app.app
        .store()
        .webhooks()
        .recent_deliveries(webhook, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|delivery| (delivery.state, delivery.response_status, delivery.attempts))
        .collect()
}

on_both_backends! { spawn_app;

    async fn a_webhook_gets_signed_deliveries_retried_until_answered_and_never_an_internal_address(app: TestApp) {
        desk(&app).await;
        let (port, received) = receiver(vec![500, 202]).await;
        let admin = signed_in(&app, "admin@example.org").await;

        let forged = admin.post(&app, NEW, &[("name", "Forged"), ("url", "https://hooks.example.com/"), ("event", "webhook.test")]).await;
        assert_eq!(forged.status(), 403, "no form without its CSRF token");
        // Internal addresses, in any notation, and other schemes are refused.
        for address in ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", &format!("http://[::1]:{port}/"), "http://0x7f000002/", "ftp://example.com/", "http://user:pw@example.com/", "http://100.64.0.9/"] {
            let refused = post_on(&app, &admin, NEW, NEW, &[("name", "Bad"), ("url", address), ("event", "webhook.test"), ("is_enabled", "1")]).await;
            assert_eq!(refused.status(), 422, "{address}");
            let page = refused.text().await.unwrap();
            assert!(page.contains("id=\"webhook-errors\""), "{address}: {page}");
        }
        // An event nothing sends is not taken.
        let unknown = post_on(&app, &admin, NEW, NEW, &[("name", "Chat"), ("url", "https://hooks.example.com/x"), ("event", "ticket.exploded")]).await;
        assert!(unknown.text().await.unwrap().contains("Choose at least one event."));
        let url = format!("http://127.0.0.1:{port}/hook?team=4");
        let created = post_on(&app, &admin, NEW, NEW, &[
            ("name", "Team chat"), ("url", &url), ("event", "ticket.created"), ("event", "webhook.test"),
            ("secret", "s3cret-value"), ("is_enabled", "1"),
        ]).await;
        assert_eq!(created.status(), 303);
        let path = location(&created);
        let id: i64 = path.trim_start_matches("/admin/rules/webhooks/").split('?').next().unwrap().parse().unwrap();
        let page = admin.get(&app, &path).await.text().await.unwrap();
        assert!(!page.contains("s3cret-value") && page.contains("A secret is set"), "the secret is never shown");

        // A test delivery: answered 500, tried again with the same id, then 202.
        let sent = post_on(&app, &admin, &path, &format!("/admin/rules/webhooks/{id}/test"), &[]).await;
        assert_eq!(sent.status(), 303);
        let first = wait_for(&received, 1).await;
        for _ in 0..100 {
            if delivery_states(&app, id).await.first().is_some_and(|state| state.2 == 1) { break }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(delivery_states(&app, id).await, [("pending".to_owned(), Some(500), 1)]);
        app.advance_clock(Duration::from_secs(3600));
        let both = wait_for(&received, 2).await;
        for _ in 0..100 {
            if delivery_states(&app, id).await.first().is_some_and(|state| state.0 == "delivered") { break }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(delivery_states(&app, id).await, [("delivered".to_owned(), Some(202), 2)]);
        let request = &first[0];
        assert!(request.head.starts_with("POST /hook?team=4 HTTP/1.1"), "{}", request.head);
        assert_eq!(request.header("x-ferrodesk-event"), "webhook.test");
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(both[1].header("x-ferrodesk-delivery"), request.header("x-ferrodesk-delivery"), "a retry is the same delivery");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["event"], "webhook.test");
        // The signature, checked as a receiver would.
        let signed = request.header("x-ferrodesk-signature");
        let t: i64 = signed.trim_start_matches("t=").split(',').next().unwrap().parse().unwrap();
        assert_eq!(signed, ferrodesk_app::webhooks::signature(b"s3cret-value", t, &request.body));
        assert_ne!(signed, ferrodesk_app::webhooks::signature(b"another secret", t, &request.body));
        let page = admin.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("<span class=\"badge ok\">delivered</span>") && page.contains("<strong>202</strong>") && page.contains("answer 202"), "{page}");

        // Send again: a new delivery of the same payload, with a new id.
        let delivery = app.app.store().webhooks().recent_deliveries(id, 1).await.unwrap().remove(0);
        let again = post_on(&app, &admin, &path, &format!("/admin/rules/webhooks/{id}/deliveries/{}/again", delivery.id), &[]).await;
        assert_eq!(again.status(), 303);
        let three = wait_for(&received, 3).await;
        assert_eq!(three[2].body, request.body);
        assert_ne!(three[2].header("x-ferrodesk-delivery"), request.header("x-ferrodesk-delivery"));

        // Switched off, nothing goes out; deleted, it is gone with its log.
        let saved = post_on(&app, &admin, &path, &path, &[("name", "Team chat"), ("url", &url), ("event", "webhook.test"), ("clear_secret", "1")]).await;
        assert_eq!(saved.status(), 303);
        let hook = app.app.store().webhooks().get_webhook(id).await.unwrap().unwrap();
        assert!(!hook.is_enabled && hook.secret_sealed.is_empty());
        post_on(&app, &admin, &path, &format!("/admin/rules/webhooks/{id}/test"), &[]).await;
        for _ in 0..100 {
            if delivery_states(&app, id).await.first().is_some_and(|state| state.0 == "failed") { break }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(delivery_states(&app, id).await[0], ("failed".to_owned(), None, 1), "a switched-off webhook is not tried again");
        assert_eq!(received.lock().unwrap().len(), 3, "and nothing went out");
        let deleted = post_on(&app, &admin, &path, &format!("/admin/rules/webhooks/{id}/delete"), &[]).await;
        assert_eq!(deleted.status(), 303);
        assert_eq!(admin.get(&app, &path).await.status(), 404);
        let actions = audit_actions(&app).await;
        for action in ["webhook.created", "webhook.changed", "webhook.deleted"] {
            assert!(actions.iter().any(|logged| logged == action), "{action}: {actions:?}");
        }
    }
}

on_both_backends! { spawn_app;

    async fn finished_deliveries_are_forgotten_after_thirty_days(app: TestApp) {
        desk(&app).await;
        let admin = ferrodesk_app::Actor::System;
        let caller = ferrodesk_app::Caller::new(&admin, "");
        let id = app.app.create_webhook(&caller, &ferrodesk_app::webhooks::WebhookInput {
            name: "Chat".into(), url: "https://hooks.example.com/in".into(), events: vec!["webhook.test".into()], is_enabled: true, ..Default::default()
        }).await.unwrap();
        let webhooks = app.app.store().webhooks();
        let finished = |state| ferrodesk_store::DeliveryAttempt { state, response_status: Some(200), latency_ms: Some(3), response_excerpt: "", error: "" };
        let old = webhooks.create_delivery(id, "old-one", "webhook.test", "{}", app.app.now()).await.unwrap();
        webhooks.record_attempt(old, &finished("delivered"), app.app.now()).await.unwrap();
        let waiting = webhooks.create_delivery(id, "still-trying", "webhook.test", "{}", app.app.now()).await.unwrap();
        app.advance_clock(Duration::from_secs(29 * 24 * 3600));
        let recent = webhooks.create_delivery(id, "recent", "webhook.test", "{}", app.app.now()).await.unwrap();
        webhooks.record_attempt(recent, &finished("failed"), app.app.now()).await.unwrap();
        app.advance_clock(Duration::from_secs(2 * 24 * 3600));
        app.app.purge_stale_sessions().await.unwrap();
        let kept: Vec<i64> = webhooks.recent_deliveries(id, 10).await.unwrap().iter().map(|delivery| delivery.id).collect();
        assert_eq!(kept, [recent, waiting], "the old finished one is gone; one still trying stays");
    }
}
