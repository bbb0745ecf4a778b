//! The REST API on both databases: keys and what they may see, scopes,
//! conventions (envelope, paging, errors, Location), the rate limit, the
//! audit trail, and that no answer carries a secret.

use std::collections::BTreeSet;
use std::time::Duration;

use ferrodesk_app::{ApiKeyInput, Caller};
use ferrodesk_testkit::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::security::audit_actions;
use crate::tickets::{desk, open_ticket, signed_in};

/// Creates a key through the use case, as `ferrodesk apikey create` does.
pub(crate) async fn key_for(app: &TestApp, email: &str, scopes: &str) -> String {
    app.app
        .create_api_key(
            &Caller::system(),
            &ApiKeyInput {
                agent_email: email.to_owned(),
                name: "test".to_owned(),
                scopes: scopes.to_owned(),
                expires_in_days: None,
            },
        )
        .await
        .unwrap()
        .token
}

pub(crate) async fn call(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("authorization", format!("key {key}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON from {path}: {text}"))
    };
    (status, headers, value)
}

async fn get(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(app, key, reqwest::Method::GET, path, None).await;
    (status, body)
}

fn references(body: &Value) -> BTreeSet<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["reference"].as_str().unwrap().to_owned())
        .collect()
}

/// References linked from an agent list page.
fn references_on_page(html: &str) -> BTreeSet<String> {
    html.split("href=\"/agent/tickets/")
        .skip(1)
        .filter_map(|rest| rest.split(['"', '?']).next())
        .filter(|reference| reference.len() == 9 && reference.as_bytes()[4] == b'-')
        .map(str::to_owned)
        .collect()
}

on_both_backends! { spawn_app;
    async fn a_key_sees_exactly_the_tickets_its_agent_sees_in_the_browser(app: TestApp) {
        let desk = desk(&app).await;
        let mut support = Vec::new();
        for subject in ["Printer on fire", "VPN down"] {
            support.push(open_ticket(&app, &desk.admin, desk.support, subject).await);
        }
        let mut sales = Vec::new();
        for subject in ["Quote please", "Invoice copy", "Discount?"] {
            sales.push(open_ticket(&app, &desk.admin, desk.sales, subject).await);
        }
        let admin_key = key_for(&app, "admin@example.org", "").await;
        // Bob has assign-only access to Sales: he sees what is his.
        let (status, _, _) = call(&app, &admin_key, reqwest::Method::PATCH,
            &format!("/api/v2/tickets/{}", sales[0]), Some(json!({"agent": desk.bob.id}))).await;
        assert_eq!(status, StatusCode::OK);

        for (email, expected) in [
            ("alice@example.org", support.iter().cloned().collect::<BTreeSet<_>>()),
            ("bob@example.org", BTreeSet::from([sales[0].clone()])),
            ("carol@example.org", BTreeSet::new()),
            ("admin@example.org", support.iter().chain(sales.iter()).cloned().collect()),
        ] {
            let key = key_for(&app, email, "").await;
            let (status, body) = get(&app, &key, "/api/v2/tickets?view=all&count=200").await;
            assert_eq!(status, StatusCode::OK, "{email}: {body}");
            let through_api = references(&body);
            assert_eq!(through_api, expected, "{email}");
            assert_eq!(body["meta"]["total"], json!(expected.len()), "{email}");

            let browser = signed_in(&app, email).await;
            let page = browser.get(&app, "/agent/tickets?view=all").await.text().await.unwrap();
            assert_eq!(references_on_page(&page), through_api, "{email}: browser and API differ");
        }
    }

    async fn a_key_of_an_agent_without_the_department_gets_404_for_its_tickets(app: TestApp) {
        let desk = desk(&app).await;
        // Sales plays the Billing department: Alice has no access to it.
        let billing = open_ticket(&app, &desk.admin, desk.sales, "Refund my invoice").await;
        let alice = key_for(&app, "alice@example.org", "").await;
        let admin = key_for(&app, "admin@example.org", "").await;
        let (_, body) = get(&app, &admin, &format!("/api/v2/tickets/{billing}")).await;
        let id = body["data"]["id"].as_i64().unwrap();

        let (status, missing) = get(&app, &alice, "/api/v2/tickets/ZZZZ-ZZZZ").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for path in [
            format!("/api/v2/tickets/{billing}"),
            format!("/api/v2/tickets/{id}"),
            format!("/api/v2/tickets/{billing}/messages"),
        ] {
            let (status, body) = get(&app, &alice, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body, missing, "{path} must look like a ticket that does not exist");
        }
        for (method, body) in [
            (reqwest::Method::PATCH, Some(json!({"urgency": 9}))),
            (reqwest::Method::DELETE, None),
        ] {
            let (status, _, _) = call(&app, &alice, method.clone(), &format!("/api/v2/tickets/{id}"), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        }
        let (status, _, _) = call(&app, &alice, reqwest::Method::POST,
            &format!("/api/v2/tickets/{billing}/messages"), Some(json!({"message": "hi"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, body) = get(&app, &admin, &format!("/api/v2/tickets/{billing}")).await;
        assert_eq!(body["data"]["urgency"], json!(3), "nothing changed");
    }

    async fn a_key_scoped_to_tickets_cannot_touch_people(app: TestApp) {
        let desk = desk(&app).await;
        let key = key_for(&app, "admin@example.org", "tickets.*").await;
        let (status, _) = get(&app, &key, "/api/v2/tickets").await;
        assert_eq!(status, StatusCode::OK);
        for path in ["/api/v2/people", "/api/v2/people/1", "/api/v2/organizations", "/api/v2/agents", "/api/v2/me"] {
            let (status, body) = get(&app, &key, path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(body["code"], "forbidden");
        }
        let (status, _, _) = call(&app, &key, reqwest::Method::POST, "/api/v2/people",
            Some(json!({"name": "Eve", "email": "eve@example.org"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = call(&app, &key, reqwest::Method::PATCH, "/api/v2/people/1",
            Some(json!({"name": "Eve"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // "*, -*.delete": everything but deleting.
        let no_delete = key_for(&app, "admin@example.org", "*, -*.delete").await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Delete me").await;
        let (status, _, _) = call(&app, &no_delete, reqwest::Method::DELETE,
            &format!("/api/v2/tickets/{reference}"), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = get(&app, &no_delete, "/api/v2/me").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body["data"]["scopes"].as_array().unwrap().contains(&json!("tickets.delete")));
    }

    async fn anything_but_a_valid_key_is_401_in_json(app: TestApp) {
        let desk = desk(&app).await;
        let key = key_for(&app, "alice@example.org", "").await;
        let (id, secret) = key.split_once(':').unwrap();
        let response = app.client.get(app.url("/api/v2/tickets")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "key");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 401);
        assert_eq!(body["code"], "unauthenticated");
        assert!(body["errors"].is_object());
        for header in [
            format!("Bearer {key}"),
            format!("key {id}"),
            format!("key {id}:{}", "0".repeat(64)),
            format!("key 0000000000000000:{secret}"),
            format!("key ../../etc:{secret}"),
            "key ".to_owned(),
        ] {
            let response = app.client.get(app.url("/api/v2/tickets")).header("authorization", &header).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "unauthenticated", "{header}");
        }
        // A session cookie is no key: the API ignores browser sessions.
        let browser = signed_in(&app, "alice@example.org").await;
        assert_eq!(browser.get(&app, "/api/v2/tickets").await.status(), StatusCode::UNAUTHORIZED);

        let (status, _) = get(&app, &key, "/api/v2/tickets").await;
        assert_eq!(status, StatusCode::OK);
        // Disabled agent: refused while disabled.
        app.app.act_on_agent(&Caller::system(), desk.alice.id, ferrodesk_app::AgentAction::Disable).await.unwrap();
        assert_eq!(get(&app, &key, "/api/v2/tickets").await.0, StatusCode::UNAUTHORIZED);
        app.app.act_on_agent(&Caller::system(), desk.alice.id, ferrodesk_app::AgentAction::Enable).await.unwrap();
        assert_eq!(get(&app, &key, "/api/v2/tickets").await.0, StatusCode::OK);
        // Revoked.
        app.app.revoke_api_key(&Caller::system(), id).await.unwrap();
        assert_eq!(get(&app, &key, "/api/v2/tickets").await.0, StatusCode::UNAUTHORIZED);
        // Expired.
        let expiring = app.app.create_api_key(&Caller::system(), &ApiKeyInput {
            agent_email: "bob@example.org".into(), name: "short".into(), scopes: String::new(), expires_in_days: Some(1),
        }).await.unwrap().token;
        assert_eq!(get(&app, &expiring, "/api/v2/me").await.0, StatusCode::OK);
        app.clock.advance(Duration::from_secs(24 * 60 * 60 + 1));
        assert_eq!(get(&app, &expiring, "/api/v2/me").await.0, StatusCode::UNAUTHORIZED);
    }

    async fn tickets_follow_the_conventions(app: TestApp) {
        let desk = desk(&app).await;
        let admin = key_for(&app, "admin@example.org", "").await;
        let alice = key_for(&app, "alice@example.org", "").await;
        let (status, headers, body) = call(&app, &alice, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "Cannot print",
            "message": "The printer says **PC LOAD LETTER**.",
            "person": {"email": "uma@example.org", "name": "Uma User"},
            "department": desk.support,
            "urgency": 4,
            "labels": ["printer", "hardware"],
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let ticket = &body["data"];
        let id = ticket["id"].as_i64().unwrap();
        assert_eq!(headers["location"], format!("/api/v2/tickets/{id}").as_str());
        assert_eq!(ticket["subject"], "Cannot print");
        assert_eq!(ticket["urgency"], 4);
        assert_eq!(ticket["person"]["email"], "uma@example.org");
        assert_eq!(ticket["department"]["id"], desk.support);
        assert_eq!(ticket["labels"], json!(["hardware", "printer"]));
        assert!(body["meta"].is_object());
        let person_id = ticket["person"]["id"].as_i64().unwrap();

        // By id, the same user again.
        let (status, _, body) = call(&app, &alice, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "Again", "message": "Still broken", "person": person_id, "department": desk.support,
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["data"]["person"]["id"], person_id);
        assert_eq!(body["data"]["urgency"], 1);

        // Validation: every problem by field, nothing stored.
        let (status, _, body) = call(&app, &alice, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "", "message": "", "person": {"email": "not an address"}, "department": desk.sales, "urgency": 11,
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "invalid");
        for field in ["subject", "message", "person", "department", "urgency"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
        let (status, _, body) = call(&app, &alice, reqwest::Method::POST, "/api/v2/tickets", Some(json!({"subject": 5}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // NUL, which PostgreSQL refuses to store, is refused at the door.
        let (status, _, body) = call(&app, &alice, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "Nul", "message": "a\u{0}b", "person": person_id, "department": desk.support,
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = get(&app, &alice, "/api/v2/people?search=a%00b").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let response = app.client.post(app.url("/api/v2/tickets")).header("authorization", format!("key {alice}"))
            .header("content-type", "text/plain").body("subject=x").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], 415);
        let (_, body) = get(&app, &admin, "/api/v2/tickets?status=any").await;
        assert_eq!(body["meta"]["total"], 2);

        // Properties: only what is sent changes.
        let (status, _, body) = call(&app, &alice, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"status": "pending", "labels": ["printer"], "agent": desk.alice.id}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["status"], "pending");
        assert_eq!(body["data"]["labels"], json!(["printer"]));
        assert_eq!(body["data"]["urgency"], 4);
        assert_eq!(body["data"]["agent"]["id"], desk.alice.id);
        // JSON Schema counts 5.0 as an integer: so does the server.
        let (status, _, body) = call(&app, &alice, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"urgency": 5.0}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["urgency"], 5);
        let (status, _, body) = call(&app, &alice, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"urgency": 4.5}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a fraction is no integer: {body}");
        let (status, _, _) = call(&app, &alice, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"urgency": 4}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, body) = call(&app, &alice, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"agent": null}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["data"]["agent"].is_null());
        let (status, _, body) = call(&app, &alice, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"status": "no such status"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["errors"]["status"].is_array());

        // The thread: a reply and a note.
        let (status, headers, body) = call(&app, &alice, reqwest::Method::POST, &format!("/api/v2/tickets/{id}/messages"),
            Some(json!({"message": "Try <script>alert(1)</script> turning it off and on."}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(headers["location"], format!("/api/v2/tickets/{id}/messages").as_str());
        assert_eq!(body["data"]["is_note"], false);
        assert!(!body["data"]["body_html"].as_str().unwrap().contains("<script>"));
        let (status, _, _) = call(&app, &alice, reqwest::Method::POST, &format!("/api/v2/tickets/{id}/messages"),
            Some(json!({"message": "Customer is grumpy", "is_note": true}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, body) = get(&app, &alice, &format!("/api/v2/tickets/{id}/messages")).await;
        let thread = body["data"].as_array().unwrap();
        assert_eq!(thread.len(), 3);
        assert_eq!(thread.iter().filter(|message| message["is_note"] == true).count(), 1);
        assert_eq!(thread[0]["channel"], "api");
        let mails = app.app.store().outbox().list_mail(None, 50).await.unwrap();
        assert_eq!(mails.iter().filter(|mail| mail.recipients.contains("uma@example.org") && mail.template == "ticket_reply").count(), 1, "the reply is mailed, the note is not");
        assert!(mails.iter().any(|mail| mail.recipients.contains("uma@example.org") && mail.template == "ticket_received"), "a receipt for the ticket opened through the API");

        // Deleting: Alice lacks the permission; the admin may.
        let (status, _, _) = call(&app, &alice, reqwest::Method::DELETE, &format!("/api/v2/tickets/{id}"), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, body) = call(&app, &admin, reqwest::Method::DELETE, &format!("/api/v2/tickets/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (_, body) = get(&app, &admin, &format!("/api/v2/tickets/{id}")).await;
        assert_eq!(body["data"]["status"], "deleted");

        // Unknown routes and methods answer in JSON too.
        let (status, body) = get(&app, &admin, "/api/v2/nothing-here").await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (status, _, body) = call(&app, &admin, reqwest::Method::DELETE, "/api/v2/departments", None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["status"], 405);
        let actions = audit_actions(&app).await;
        assert!(actions.iter().filter(|action| *action == "api.request").count() >= 6, "{actions:?}");
    }

    async fn files_are_uploaded_then_attached_and_downloaded(app: TestApp) {
        let desk = desk(&app).await;
        let alice = key_for(&app, "alice@example.org", "").await;
        let bob = key_for(&app, "bob@example.org", "").await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "With files").await;
        let upload = |key: String, name: &'static str, bytes: Vec<u8>| {
            let app = &app;
            async move {
                let form = reqwest::multipart::Form::new()
                    .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name).mime_str("text/html").unwrap());
                let response = app.client.post(app.url("/api/v2/attachments"))
                    .header("authorization", format!("key {key}")).multipart(form).send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            }
        };
        let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
        let (status, picture) = upload(alice.clone(), "shot.png", png.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{picture}");
        assert_eq!(picture["data"]["content_type"], "image/png");
        let (_, page) = upload(alice.clone(), "../../evil.html", b"<script>alert(1)</script>".to_vec()).await;
        assert_eq!(page["data"]["content_type"], "application/octet-stream", "declared types are not trusted");
        assert_eq!(page["data"]["file_name"], "evil.html");
        let (status, blocked) = upload(alice.clone(), "setup.exe", b"MZ".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{blocked}");
        // The form is one part, as the document says: a second is refused.
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(png.clone()).file_name("shot.png"))
            .text("extra", "42");
        let response = app.client.post(app.url("/api/v2/attachments"))
            .header("authorization", format!("key {alice}")).multipart(form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        // Another agent's token is refused; nothing is written.
        let (status, _, body) = call(&app, &bob, reqwest::Method::POST, &format!("/api/v2/tickets/{reference}/messages"),
            Some(json!({"message": "mine now", "attachments": [picture["data"]["token"]]}))).await;
        assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::NOT_FOUND, "{status} {body}");
        let (status, _, body) = call(&app, &alice, reqwest::Method::POST, &format!("/api/v2/tickets/{reference}/messages"),
            Some(json!({"message": "x", "attachments": ["00ff"]}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an upload token that names nothing: {body}");
        assert!(body["errors"]["attachments"].is_array());

        let (status, _, body) = call(&app, &alice, reqwest::Method::POST, &format!("/api/v2/tickets/{reference}/messages"),
            Some(json!({"message": "Two files", "attachments": [picture["data"]["token"], page["data"]["token"]]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let files = body["data"]["attachments"].as_array().unwrap().clone();
        assert_eq!(files.len(), 2);
        let picture_id = files.iter().find(|file| file["file_name"] == "shot.png").unwrap()["id"].as_i64().unwrap();
        let page_id = files.iter().find(|file| file["file_name"] == "evil.html").unwrap()["id"].as_i64().unwrap();

        let fetch = |key: String, path: String| {
            let app = &app;
            async move {
                app.client.get(app.url(&path)).header("authorization", format!("key {key}")).send().await.unwrap()
            }
        };
        let response = fetch(alice.clone(), format!("/api/v2/tickets/{reference}/attachments/{picture_id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/png");
        assert_eq!(response.bytes().await.unwrap().to_vec(), png);
        let response = fetch(alice.clone(), format!("/api/v2/tickets/{reference}/attachments/{page_id}")).await;
        assert_eq!(response.headers()["content-type"], "application/octet-stream");
        assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        // Bob cannot see the ticket, so not its files either.
        let response = fetch(bob.clone(), format!("/api/v2/tickets/{reference}/attachments/{picture_id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        // An attachment of another ticket is not reachable through this one.
        let other = open_ticket(&app, &desk.admin, desk.support, "Other").await;
        let response = fetch(alice.clone(), format!("/api/v2/tickets/{other}/attachments/{picture_id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    async fn admins_create_list_and_revoke_keys_in_the_admin_interface(app: TestApp) {
        desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let token = admin.csrf(&app, "/admin/api-keys").await;
        // Bad input comes back with every field named and nothing made.
        let response = admin.post(&app, "/admin/api-keys", &[
            ("csrf_token", &token), ("agent", "nobody@example.org"), ("name", "x"), ("scopes", "tickets.lst"), ("expires", "0"),
        ]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(page.contains("tickets.lst") && page.contains("active agent") && page.contains("3650"), "{page}");
        assert!(app.app.api_keys(&crate::tickets::actor_of(&app.app.store().people().find_person_by_email("admin@example.org").await.unwrap().unwrap())).await.unwrap().is_empty());

        let response = admin.post(&app, "/admin/api-keys", &[
            ("csrf_token", &token), ("agent", "alice@example.org"), ("name", "<b>CRM</b>"), ("scopes", "tickets.*"), ("expires", "30"),
        ]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page = response.text().await.unwrap();
        let start = page.find("id=\"api-key-token\">").unwrap() + "id=\"api-key-token\">".len();
        let key = page[start..start + page[start..].find('<').unwrap()].to_owned();
        assert!(page.contains("&#60;b&#62;CRM&#60;/b&#62;"), "names are escaped");
        let (status, body) = get(&app, &key, "/api/v2/tickets").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let listing = admin.get(&app, "/admin/api-keys").await.text().await.unwrap();
        let (id, secret) = key.split_once(':').unwrap();
        assert!(listing.contains(id) && !listing.contains(secret), "the list shows the id, never the secret");
        assert!(listing.contains("tickets.*") && listing.contains("alice@example.org"));

        // Without the form's token nothing happens.
        let response = admin.post(&app, &format!("/admin/api-keys/{id}/revoke"), &[]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(get(&app, &key, "/api/v2/tickets").await.0, StatusCode::OK);
        let response = admin.post(&app, &format!("/admin/api-keys/{id}/revoke"), &[("csrf_token", &token)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(get(&app, &key, "/api/v2/tickets").await.0, StatusCode::UNAUTHORIZED);

        let response = admin.post(&app, "/admin/api-keys/limits", &[("csrf_token", &token), ("requests_per_minute", "0")]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let response = admin.post(&app, "/admin/api-keys/limits", &[("csrf_token", &token), ("requests_per_minute", "120")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.app.reload_settings().await.unwrap().api.requests_per_minute, 120);
        let actions = audit_actions(&app).await;
        for action in ["api_key.created", "api_key.revoked"] {
            assert!(actions.iter().any(|logged| logged == action), "{action}: {actions:?}");
        }
    }

    async fn lists_page_by_number_and_by_cursor(app: TestApp) {
        let desk = desk(&app).await;
        let admin = key_for(&app, "admin@example.org", "").await;
        let mut made = BTreeSet::new();
        for number in 0..7 {
            made.insert(open_ticket(&app, &desk.admin, desk.support, &format!("Ticket {number}")).await);
            app.clock.advance(Duration::from_secs(1));
        }
        let (_, first) = get(&app, &admin, "/api/v2/tickets?count=3").await;
        assert_eq!(first["meta"]["total"], 7);
        assert_eq!(first["meta"]["total_pages"], 3);
        assert_eq!(first["meta"]["page"], 1);
        let (_, third) = get(&app, &admin, "/api/v2/tickets?count=3&page=3").await;
        assert_eq!(third["data"].as_array().unwrap().len(), 1);

        let mut seen = BTreeSet::new();
        let mut path = "/api/v2/tickets?count=3".to_owned();
        loop {
            let (status, page) = get(&app, &admin, &path).await;
            assert_eq!(status, StatusCode::OK);
            seen.extend(references(&page));
            match page["meta"]["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v2/tickets?count=3&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, made);
        // Sorted by subject, Z to A, cursors holding text; and narrowed by a search.
        let mut subjects = Vec::new();
        let mut path = "/api/v2/tickets?count=3&sort=subject&order=desc".to_owned();
        loop {
            let (status, page) = get(&app, &admin, &path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            subjects.extend(page["data"].as_array().unwrap().iter().map(|ticket| ticket["subject"].as_str().unwrap().to_owned()));
            match page["meta"]["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v2/tickets?count=3&sort=subject&order=desc&cursor={}", percent_encoding::utf8_percent_encode(cursor, percent_encoding::NON_ALPHANUMERIC)),
                None => break,
            }
        }
        assert_eq!(subjects, (0..7).rev().map(|number| format!("Ticket {number}")).collect::<Vec<_>>());
        let (_, found) = get(&app, &admin, "/api/v2/tickets?q=%22ticket%203%22&sort=created").await;
        assert_eq!(found["meta"]["total"], 1, "{found}");
        for bad in ["count=0", "count=201", "page=0", "page=-4", "count=abc", "urgency=11", "status=nope", "label=a%00b", "sort=password", "order=up"] {
            let (status, body) = get(&app, &admin, &format!("/api/v2/tickets?{bad}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        // A cursor is opaque: one that names no page is well formed, 422.
        for unknown in ["cursor=garbage", "sort=subject&cursor=nodot"] {
            let (status, body) = get(&app, &admin, &format!("/api/v2/tickets?{unknown}")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unknown}: {body}");
        }
        let (_, people) = get(&app, &admin, "/api/v2/people?count=1").await;
        assert_eq!(people["meta"]["total"], 1, "Uma, the requester");
    }

    async fn each_key_is_held_to_its_request_limit(app: TestApp) {
        desk(&app).await;
        app.app.set_api_settings(&Caller::system(), "3").await.unwrap();
        app.app.reload_settings().await.unwrap();
        let key = key_for(&app, "alice@example.org", "").await;
        let other = key_for(&app, "bob@example.org", "").await;
        for remaining in [2, 1, 0] {
            let (status, headers, _) = call(&app, &key, reqwest::Method::GET, "/api/v2/me", None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers["x-ratelimit-limit"], "3");
            assert_eq!(headers["x-ratelimit-remaining"], remaining.to_string().as_str());
            assert!(headers.contains_key("x-ratelimit-reset"));
        }
        let (status, headers, body) = call(&app, &key, reqwest::Method::GET, "/api/v2/me", None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["code"], "rate_limited");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry));
        assert_eq!(get(&app, &other, "/api/v2/me").await.0, StatusCode::OK, "keys are counted apart");
    }

    async fn the_request_limit_holds_across_nodes(app: TestApp) {
        desk(&app).await;
        app.app.set_api_settings(&Caller::system(), "20").await.unwrap();
        app.app.reload_settings().await.unwrap();
        let key = key_for(&app, "alice@example.org", "").await;
        let key_id = key.split_once(':').unwrap().0.to_owned();
        // A second node on the same database, with its own memory.
        let (second, workers) = app.another_node("smtp://127.0.0.1:9?from=help@example.org").await;
        second.reload_settings().await.unwrap();
        let mut allowed = 0;
        for turn in 0..40 {
            let node = if turn % 2 == 0 { &app.app } else { &second };
            if node.hit_api_limit(&key_id, 20).await.unwrap().allowed {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 20, "two nodes together let the key through its limit once, not twice");
        let (status, headers, _) = call(&app, &key, reqwest::Method::GET, "/api/v2/me", None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "over HTTP too");
        assert!(headers.contains_key("retry-after"));
        // The next minute starts over, on both.
        app.advance_clock(Duration::from_secs(60));
        assert!(second.hit_api_limit(&key_id, 20).await.unwrap().allowed);
        assert_eq!(call(&app, &key, reqwest::Method::GET, "/api/v2/me", None).await.0, StatusCode::OK);
        workers.shut_down().await;
    }

    async fn no_answer_carries_a_secret(app: TestApp) {
        let desk = desk(&app).await;
        let key = key_for(&app, "admin@example.org", "").await;
        let secret = key.split_once(':').unwrap().1.to_owned();
        let reference = open_ticket(&app, &desk.admin, desk.support, "Secrets").await;
        // Sessions, a reset link and a user to list.
        signed_in(&app, "alice@example.org").await;
        let (_, _, _) = call(&app, &key, reqwest::Method::POST, "/api/v2/people",
            Some(json!({"name": "Vera Visitor", "email": "vera@example.org"}))).await;
        let admin_actor = crate::tickets::actor_of(&desk.admin);
        let category = app.app.create_article_category(&Caller::new(&admin_actor, "192.0.2.1"), "Help", "", None, "0").await.unwrap();
        let (_, _, _) = call(&app, &key, reqwest::Method::POST, "/api/v2/articles",
            Some(json!({"title": "How", "content": "Like this", "status": "published", "category": category}))).await;

        let mut secrets = vec![secret, PASSWORD.to_owned()];
        secrets.extend(stored_secrets(&app).await);
        let document: Value = app.client.get(app.url("/api/v2/openapi.json")).send().await.unwrap().json().await.unwrap();
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            if item.get("get").is_none() {
                continue;
            }
            let path = path.replace("{ticket}", &reference).replace("{id}", "1");
            let (status, body) = get(&app, &key, &path).await;
            assert!(status == StatusCode::OK || status == StatusCode::NOT_FOUND, "{path}: {status}");
            let text = body.to_string();
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{path} shows a secret");
            }
            assert!(!text.contains("$argon2"), "{path} shows a password hash");
            assert!(!has_long_hex(&text), "{path} shows something like a token or hash: {text}");
            for name in ["password", "secret", "token", "hash", "totp", "access_code"] {
                assert!(!text.contains(&format!("\"{name}")), "{path} has a field named like {name}");
            }
            checked += 1;
        }
        assert!(checked >= 15, "only {checked} endpoints checked");
    }
}

/// Whether the text has a run of 32 or more hex digits (a token, a hash, a
/// sealed secret).
fn has_long_hex(text: &str) -> bool {
    let mut run = 0;
    for byte in text.bytes() {
        if byte.is_ascii_hexdigit() {
            run += 1;
            if run >= 32 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Every secret the database holds, in the form it holds it.
async fn stored_secrets(app: &TestApp) -> Vec<String> {
    let queries = [
        "SELECT password_hash FROM people WHERE password_hash IS NOT NULL",
        "SELECT token_hash FROM sessions",
        "SELECT secret_hash FROM api_keys",
        "SELECT totp_secret FROM people WHERE totp_secret IS NOT NULL",
    ];
    let mut found = Vec::new();
    for query in queries {
        let values: Vec<String> = match app.database.backend {
            ferrodesk_testkit::Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&app.database.url).await.unwrap();
                sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
            }
            ferrodesk_testkit::Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&app.database.url).await.unwrap();
                sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
            }
        };
        found.extend(values);
    }
    assert!(
        found.len() >= 3,
        "the desk has passwords, a session and a key"
    );
    found
}

on_both_backends! { spawn_app;
    async fn requests_at_once_from_one_new_address_all_make_tickets_for_one_user(app: TestApp) {
        let desk = desk(&app).await;
        let admin = key_for(&app, "admin@example.org", "").await;
        let calls = (0..8).map(|number| {
            let (app, admin) = (&app, admin.clone());
            async move {
                call(app, &admin, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
                    "subject": format!("At once {number}"), "message": "Hello",
                    "person": {"email": "newcomer@example.net", "name": "Nell Newcomer"},
                    "department": desk.support,
                }))).await
            }
        });
        let answers = futures_util::future::join_all(calls).await;
        for (status, _, body) in &answers {
            assert_eq!(*status, StatusCode::CREATED, "none is refused for the user another made meanwhile: {body}");
        }
        let requesters: BTreeSet<i64> = answers.iter().map(|(_, _, body)| body["data"]["person"]["id"].as_i64().unwrap()).collect();
        assert_eq!(requesters.len(), 1, "one user: {answers:?}");
    }

    async fn a_ticket_made_through_the_api_is_answered_as_stored_and_audited_once(app: TestApp) {
        let desk = desk(&app).await;
        let admin = key_for(&app, "admin@example.org", "").await;
        let order = app.app.create_ticket_field(&Caller::system(), &ferrodesk_app::FieldInput {
            name: "Order number".into(), kind: "text".into(), ..ferrodesk_app::FieldInput::default()
        }).await.unwrap();
        // Totals are counted once and kept while no ticket changes.
        let total = |path: &'static str| {
            let app = &app;
            let admin = admin.clone();
            async move { get(app, &admin, path).await.1["meta"]["total"].as_i64().unwrap() }
        };
        let all_before = total("/api/v2/tickets?status=any").await;
        let resolved_before = total("/api/v2/tickets?status=resolved").await;
        assert_eq!(total("/api/v2/tickets?status=any").await, all_before);
        let before = audit_actions(&app).await.len();
        let (status, _, created) = call(&app, &admin, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "Refund <please>",
            "message": "Order A-1001 arrived broken.",
            "person": {"email": "Uma@Example.org", "name": "Uma User"},
            "department": desk.sales,
            "urgency": 7,
            "labels": ["refund", "Billing", "apple"],
            "fields": {order.to_string(): "A-1001"},
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        // The answer is built from what was written; it matches a fresh read.
        let id = created["data"]["id"].as_i64().unwrap();
        let (status, shown) = get(&app, &admin, &format!("/api/v2/tickets/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        for (key, value) in created["data"].as_object().unwrap() {
            assert_eq!(&shown["data"][key], value, "{key}");
        }
        assert_eq!(created["data"]["department"]["name"], "Sales");
        assert_eq!(created["data"]["labels"], json!(["apple", "Billing", "refund"]));
        let fields = created["data"]["fields"].as_array().unwrap();
        assert!(fields.iter().any(|field| field["field"] == order && field["values"] == json!(["A-1001"])), "{fields:?}");

        // One audit entry for the request, written with the ticket.
        let entries = app.app.store().audit_log().search_audit(&ferrodesk_store::AuditFilter::default(), 500).await.unwrap();
        assert_eq!(entries.len(), before + 1, "{entries:?}");
        let entry = &entries[0];
        assert_eq!(entry.action, "api.request");
        let after = entry.after_value.as_deref().unwrap();
        assert!(after.contains("POST /api/v2/tickets") && after.contains("201"), "{after}");

        // A new ticket, and a change of status, show in the next totals.
        assert_eq!(total("/api/v2/tickets?status=any").await, all_before + 1);
        assert_eq!(total("/api/v2/tickets?status=resolved").await, resolved_before);
        let (status, _, body) = call(&app, &admin, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"status": "resolved", "agent": desk.admin.id, "labels": ["Zebra", "apple"],
                        "fields": {order.to_string(): "A-1002"}}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The change's answer is the ticket as stored, names included.
        let (_, shown) = get(&app, &admin, &format!("/api/v2/tickets/{id}")).await;
        assert_eq!(body["data"], shown["data"]);
        assert_eq!(body["data"]["agent"]["id"], desk.admin.id);
        assert!(body["data"]["agent"]["name"].is_string(), "{body}");
        assert_eq!(body["data"]["labels"], json!(["apple", "Zebra"]));
        // Sending what is already there changes nothing and answers the same.
        let (status, _, again) = call(&app, &admin, reqwest::Method::PATCH, &format!("/api/v2/tickets/{id}"),
            Some(json!({"status": "resolved"}))).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["data"], shown["data"]);
        assert_eq!(total("/api/v2/tickets?status=resolved").await, resolved_before + 1);
        let before = before + 2; // the two changes' api.request entries

        // A department that does not exist is the department's error, and
        // nothing is written: no ticket, no new user, no audit entry.
        let tickets_before = get(&app, &admin, "/api/v2/tickets?status=any").await.1["meta"]["total"].clone();
        let (status, _, body) = call(&app, &admin, reqwest::Method::POST, "/api/v2/tickets", Some(json!({
            "subject": "Lost", "message": "Where does this go?",
            "person": {"email": "nobody-yet@example.org", "name": "Nobody Yet"},
            "department": 987654,
        }))).await;
        // Well formed but naming nothing: 422, apart from the 400 of what
        // the OpenAPI document rules out.
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "unresolved", "{body}");
        assert!(body["errors"]["department"].is_array(), "{body}");
        assert_eq!(get(&app, &admin, "/api/v2/tickets?status=any").await.1["meta"]["total"], tickets_before);
        assert_eq!(audit_actions(&app).await.len(), before + 1);
    }
}
