//! One name rule everywhere, on both databases: every way to create or
//! rename a person, an organization, a department, a team, a custom field,
//! a label or an attachment refuses (or, for a file's name, drops) the
//! characters that make a name read as something else: bidirectional
//! overrides, zero-width characters, line breaks.

use ferrodesk_app::{Caller, FieldInput};
use ferrodesk_core::Labels;
use ferrodesk_testkit::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api::{call, key_for};
use crate::helpers::{TestApp, spawn_app};
use crate::tickets::{desk, open_ticket, post_on, signed_in};

/// A name that shows as "N abcexe.jpg" but is something else.
const DISGUISED: &str = "N abc\u{202e}gpj.exe";

/// Whether anyone is called something with `fragment` in it.
async fn anyone_named(app: &TestApp, fragment: &str) -> bool {
    app.app
        .store()
        .people()
        .list_agents()
        .await
        .unwrap()
        .iter()
        .any(|person| person.name.contains(fragment))
        || app
            .app
            .store()
            .people()
            .find_person_by_email("mallory@example.org")
            .await
            .unwrap()
            .is_some_and(|person| person.name.contains(fragment))
}

on_both_backends! { spawn_app;

    async fn every_entry_point_refuses_a_name_that_hides_something(app: TestApp) {
        let desk = desk(&app).await;
        let system = Caller::system();
        let key = key_for(&app, "admin@example.org", "*").await;

        // People: the API's ticket requester and people endpoint, the
        // agent's new-ticket form.
        let (status, _, body) = call(&app, &key, Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "Invoice", "message": "See attached.",
            "person": {"email": "mallory@example.org", "name": DISGUISED},
            "department": desk.support,
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _, body) = call(&app, &key, Method::POST, "/api/v2/people",
            Some(json!({"name": DISGUISED, "email": "mallory@example.org"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _, body) = call(&app, &key, Method::POST, "/api/v2/people",
            Some(json!({"name": "Mallory", "email": "mallory@example.org"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let mallory = body["data"]["id"].as_i64().unwrap();
        let (status, _, body) = call(&app, &key, Method::PATCH, &format!("/api/v2/people/{mallory}"),
            Some(json!({"name": "Mallory\u{200b}"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let admin = signed_in(&app, "admin@example.org").await;
        let support = desk.support.to_string();
        let refused = post_on(&app, &admin, "/agent/tickets/new", "/agent/tickets/new", &[
            ("requester_email", "trent@example.org"), ("requester_name", DISGUISED),
            ("subject", "Invoice"), ("message", "See attached."), ("department", &support),
        ]).await;
        assert_eq!(refused.status(), 422);
        assert!(!anyone_named(&app, "\u{202e}").await && !anyone_named(&app, "\u{200b}").await);
        assert!(app.app.store().people().find_person_by_email("trent@example.org").await.unwrap().is_none());

        // Things: departments, teams, organizations, custom fields, labels.
        assert!(app.app.create_department(&system, "Sales\u{202e}", None).await.is_err());
        assert!(app.app.update_department(&system, desk.sales, "Sales\u{200f}", None).await.is_err());
        assert!(app.app.create_team(&system, "Team\u{2066}A").await.is_err());
        assert!(app.app.create_organization(&system, DISGUISED).await.is_err());
        let field = FieldInput { name: DISGUISED.into(), kind: "text".into(), ..FieldInput::default() };
        assert!(app.app.create_ticket_field(&system, &field).await.is_err());
        let choice = FieldInput { name: "Plan".into(), kind: "choice".into(), choices: "Gold\nSilver\u{202e}".into(), ..FieldInput::default() };
        assert!(app.app.create_ticket_field(&system, &choice).await.is_err());
        assert!(Labels::parse_list("vip\u{202e}").is_err());
        let reference = open_ticket(&app, &desk.admin, desk.support, "Printer").await;
        let page = format!("/agent/tickets/{reference}");
        let refused = post_on(&app, &admin, &page, &format!("{page}/properties"), &[
            ("status", "awaiting_agent"), ("urgency", "1"), ("department", &support), ("labels", "vip\u{200b}"),
        ]).await;
        assert_eq!(refused.status(), 422, "a label that hides something");
        let labels = app.app.store().tickets().labels_of_tickets(&[app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().id]).await.unwrap();
        assert!(labels.values().all(|labels| labels.iter().all(|label| !label.as_str().contains('\u{200b}'))));
    }
}
