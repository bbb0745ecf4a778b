//! The newcomer's path on both databases: right after the first admin is
//! created, with nothing else set up, a request comes in through the API
//! and through the help center, and an agent answers it.

use ferrodesk_testkit::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};
use crate::registration::{confirmation_link, register};
use crate::security::Browser;
use crate::tickets::post_on;

const USER_PASSWORD: &str = "a long and new passphrase 42";

on_both_backends! { spawn_app;

    async fn a_fresh_install_takes_requests_and_an_agent_answers_them(app: TestApp) {
        let admin = app.create_admin().await;
        let key = crate::api::key_for(&app, &admin.email, "*").await;

        // The API needs no department: the default one takes the ticket.
        let response = app.client.post(app.url("/api/v2/tickets"))
            .header("authorization", format!("key {key}"))
            .json(&json!({"subject": "First request", "message": "Hello", "person": {"email": "pat@example.org", "name": "Pat"}}))
            .send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["data"]["department"]["name"], "Support", "{created}");

        // A visitor registers, confirms the address and sends a request.
        let visitor = Browser::new();
        let sent = register(&app, &visitor, "Nina New", "nina@example.org", USER_PASSWORD).await;
        assert_eq!(sent.status(), 200);
        let link = confirmation_link(&app, "nina@example.org").await;
        post_on(&app, &visitor, &link, &link, &[]).await;
        let token = visitor.csrf(&app, "/login").await;
        let signed_in = visitor.post(&app, "/login", &[("email", "nina@example.org"), ("password", USER_PASSWORD), ("csrf_token", &token)]).await;
        assert_eq!(signed_in.status(), 303);
        let form = visitor.get(&app, "/tickets/new").await.text().await.unwrap();
        assert!(form.contains("name=\"department\""), "the form offers the default department");
        let opened = post_on(&app, &visitor, "/tickets/new", "/tickets/new", &[("subject", "My printer"), ("message", "It jams."), ("website", "")]).await;
        assert_eq!(opened.status(), 303, "no department chosen: the only one offered takes it");
        let request_path = location(&opened);
        let reference = request_path.trim_start_matches("/tickets/").split('?').next().unwrap().to_owned();

        // The admin answers it from the agent interface.
        let agent = Browser::new();
        assert_eq!(agent.log_in(&app, &admin.email, PASSWORD).await.status(), 303);
        let list = agent.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(list.contains("My printer") && list.contains("First request"));
        let answered = post_on(&app, &agent, &format!("/agent/tickets/{reference}"), &format!("/agent/tickets/{reference}/reply"),
            &[("kind", "reply"), ("body", "Try turning it off and on.")]).await;
        assert_eq!(answered.status(), 303);
        let thread = visitor.get(&app, &format!("/tickets/{reference}")).await.text().await.unwrap();
        assert!(thread.contains("Try turning it off and on."));

        // The knowledge base has somewhere to put the first article.
        let categories = app.app.store().knowledge_base().list_article_categories().await.unwrap();
        assert_eq!(categories.iter().map(|category| category.name.as_str()).collect::<Vec<_>>(), ["General"]);
    }
}
