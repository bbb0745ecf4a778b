//! Snippets on both databases: personal and shared ones and who may write
//! them, placeholders filled from the open ticket (and nothing else), the
//! insert with and without the page's script, usage counts, and no way to
//! reach a ticket or a snippet outside the agent's reach.

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::{Browser, audit_actions};
use crate::tickets::{desk, open_ticket, post_on, signed_in};

/// The id a snippet got, from the list's row for its title.
async fn snippet_id(app: &TestApp, browser: &Browser, title: &str) -> String {
    let page = browser
        .get(app, "/agent/snippets")
        .await
        .text()
        .await
        .unwrap();
    let row = page
        .split("<tr id=\"snippet-")
        .skip(1)
        .find(|row| row.contains(title))
        .unwrap_or_else(|| panic!("{title} is listed: {page}"));
    row.split('"').next().unwrap().to_owned()
}

/// Inserts a snippet as the reply box's script does: JSON, the token in a
/// header.
async fn insert(app: &TestApp, browser: &Browser, reference: &str, id: &str) -> reqwest::Response {
    let token = browser.csrf(app, "/agent/snippets/new").await;
    browser
        .client
        .post(app.url(&format!("/agent/tickets/{reference}/snippets/{id}")))
        .header("accept", "application/json")
        .header("x-csrf-token", token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap()
}

fn snippet_form<'a>(title: &'a str, shortcut: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("shortcut", shortcut),
        ("category", "Billing"),
        ("body", body),
    ]
}

on_both_backends! { spawn_app;

    async fn agents_write_snippets_and_insert_them_filled_in_for_the_ticket(app: TestApp) {
        let desk = desk(&app).await;
        let printer = open_ticket(&app, &desk.admin, desk.support, "Printer jams").await;
        let alice = signed_in(&app, "alice@example.org").await;

        // Alice's own snippet, with placeholders; a broken one is refused
        // with its reason and what she typed kept.
        let broken = post_on(&app, &alice, "/agent/snippets/new", "/agent/snippets/new",
            &snippet_form("Refund", "refund", "Hi {{ user.first_name }")).await;
        assert_eq!(broken.status(), 422);
        let page = broken.text().await.unwrap();
        assert!(page.contains("placeholders do not work") && page.contains("Hi {{ user.first_name }"), "{page}");
        let body = "Hi {{ user.first_name }},\n\nYour refund for {{ ticket.reference }} is on its way.\n{{ ticket.requester.password }}{{ agent.name }}";
        let made = post_on(&app, &alice, "/agent/snippets/new", "/agent/snippets/new", &snippet_form("Refund <b>sent</b>", "/Refund", body)).await;
        assert_eq!(made.status(), 303);
        assert_eq!(location(&made), "/agent/snippets?notice=saved");
        let list = alice.get(&app, "/agent/snippets").await.text().await.unwrap();
        assert!(list.contains("Refund &#60;b&#62;sent") && !list.contains("<b>sent") && list.contains("/refund"), "{list}");
        let taken = post_on(&app, &alice, "/agent/snippets/new", "/agent/snippets/new", &snippet_form("Again", "refund", "x")).await;
        assert_eq!(taken.status(), 422, "one shortcut per agent");
        let id = snippet_id(&app, &alice, "Refund").await;

        // Shared snippets need the permission; the admin has it, and it is audited.
        let mut shared = snippet_form("Welcome", "hello", "Welcome to {{ helpdesk.name }}.");
        shared.push(("shared", "1"));
        assert_eq!(post_on(&app, &alice, "/agent/snippets/new", "/agent/snippets/new", &shared).await.status(), 403);
        let admin = signed_in(&app, "admin@example.org").await;
        assert_eq!(post_on(&app, &admin, "/agent/snippets/new", "/agent/snippets/new", &shared).await.status(), 303);
        assert!(audit_actions(&app).await.contains(&"snippet.created".to_owned()));
        let welcome = snippet_id(&app, &admin, "Welcome").await;

        // The ticket page offers both; filled in for the ticket as JSON.
        let ticket_page = alice.get(&app, &format!("/agent/tickets/{printer}")).await.text().await.unwrap();
        assert!(ticket_page.contains("data-shortcut=\"refund\"") && ticket_page.contains("data-shortcut=\"hello\""));
        let filled = insert(&app, &alice, &printer, &id).await;
        assert_eq!(filled.status(), 200);
        let text = filled.json::<serde_json::Value>().await.unwrap()["text"].as_str().unwrap().to_owned();
        assert_eq!(text, format!("Hi Uma,\n\nYour refund for {printer} is on its way.\nAlice Agent"), "unknown names stay empty");
        let text = insert(&app, &alice, &printer, &welcome).await.json::<serde_json::Value>().await.unwrap();
        assert!(text["text"].as_str().unwrap().starts_with("Welcome to "), "{text}");
        let list = alice.get(&app, "/agent/snippets").await.text().await.unwrap();
        let row = list.split(&format!("<tr id=\"snippet-{id}\"")).nth(1).unwrap();
        assert!(row.split("</tr>").next().unwrap().contains("<td class=\"number\">1</td>"), "usage is counted: {row}");

        // Without the script: the reply box comes back with the snippet added.
        let path = format!("/agent/tickets/{printer}");
        let page = post_on(&app, &alice, &path, &format!("{path}/snippets/{id}"), &[("body", "Hello <there>"), ("kind", "note")]).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains(&format!("Hello &#60;there&#62;\n\nHi Uma,\n\nYour refund for {printer}")), "{page}");
        assert!(page.contains("value=\"note\" id=\"kind-note\" checked"), "a note stays a note");

        // Others: Bob sees the shared one but not Alice's, changes neither;
        // Carol reaches no ticket through a snippet; Alice cannot change the shared one.
        let bob = signed_in(&app, "bob@example.org").await;
        let list = bob.get(&app, "/agent/snippets").await.text().await.unwrap();
        assert!(list.contains("Welcome") && !list.contains("Refund"), "{list}");
        assert_eq!(bob.get(&app, &format!("/agent/snippets/{id}")).await.status(), 404);
        assert_eq!(post_on(&app, &bob, "/agent/snippets", &format!("/agent/snippets/{id}/delete"), &[]).await.status(), 404);
        assert_eq!(bob.get(&app, &format!("/agent/snippets/{welcome}")).await.status(), 403);
        assert_eq!(insert(&app, &bob, &printer, &welcome).await.status(), 404, "Bob cannot see the Support ticket");
        assert_eq!(insert(&app, &bob, &printer, &id).await.status(), 404);
        let carol = signed_in(&app, "carol@example.org").await;
        let refused = insert(&app, &carol, &printer, &welcome).await;
        assert_eq!(refused.status(), 404);
        assert!(!refused.text().await.unwrap().contains("Printer"));
        assert_eq!(post_on(&app, &alice, "/agent/snippets", &format!("/agent/snippets/{welcome}/delete"), &[]).await.status(), 403);
        assert_eq!(post_on(&app, &alice, "/agent/snippets", &format!("/agent/snippets/{welcome}"), &snippet_form("Mine now", "hello", "x")).await.status(), 403);

        // Alice changes and deletes her own.
        let saved = post_on(&app, &alice, &format!("/agent/snippets/{id}"), &format!("/agent/snippets/{id}"), &snippet_form("Refund done", "refund", "Done.")).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(insert(&app, &alice, &printer, &id).await.json::<serde_json::Value>().await.unwrap()["text"], "Done.");
        assert_eq!(post_on(&app, &alice, "/agent/snippets", &format!("/agent/snippets/{id}/delete"), &[]).await.status(), 303);
        assert_eq!(insert(&app, &alice, &printer, &id).await.status(), 404);
        // Without a session or a token nothing happens.
        let visitor = Browser::new();
        assert_eq!(visitor.get(&app, "/agent/snippets").await.status(), 303);
        let no_token = alice.client.post(app.url(&format!("/agent/tickets/{printer}/snippets/{welcome}")))
            .header("accept", "application/json").form(&[("body", "")]).send().await.unwrap();
        assert_eq!(no_token.status(), 403);
    }
}
