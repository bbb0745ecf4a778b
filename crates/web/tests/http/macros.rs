//! Macros on both databases: written as an agent's own or shared, previewed
//! on a ticket (every action checked as if done by hand), applied with the
//! log naming the macro, applied to many tickets from the list, and out of
//! reach of agents who may not see the ticket or the macro.

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::tickets::{desk, open_ticket, post_on, signed_in};

async fn macro_id(app: &TestApp, browser: &crate::security::Browser, title: &str) -> String {
    let page = browser
        .get(app, "/agent/macros")
        .await
        .text()
        .await
        .unwrap();
    page.split("<tr id=\"macro-")
        .skip(1)
        .find(|row| row.contains(title))
        .unwrap_or_else(|| panic!("{title} is listed: {page}"))
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

on_both_backends! { spawn_app;

    async fn a_macro_is_previewed_then_applied_and_the_log_names_it(app: TestApp) {
        let desk = desk(&app).await;
        let printer = open_ticket(&app, &desk.admin, desk.support, "Refund please").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let made = post_on(&app, &alice, "/agent/snippets/new", "/agent/snippets/new", &[
            ("title", "Refund sent"), ("shortcut", "refund"), ("body", "Hi {{ user.first_name }}, your refund for {{ ticket.reference }} is on its way."),
        ]).await;
        assert_eq!(made.status(), 303);
        let snippet = app.app.snippet_library(&crate::tickets::actor_of(&desk.alice)).await.unwrap().snippets[0].record.id.to_string();

        // Her own macro; nothing chosen is refused.
        let empty = post_on(&app, &alice, "/agent/macros/new", "/agent/macros/new", &[("title", "Nothing")]).await;
        assert_eq!(empty.status(), 422);
        let made = post_on(&app, &alice, "/agent/macros/new", "/agent/macros/new", &[
            ("title", "Refund"), ("status", "pending"), ("agent", "me"), ("add_labels", "refund, billing"),
            ("snippet", &snippet), ("message_kind", "reply"),
        ]).await;
        assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
        let refund = macro_id(&app, &alice, "Refund").await;

        // The ticket page offers it; the preview says what it will do.
        let page = alice.get(&app, &format!("/agent/tickets/{printer}")).await.text().await.unwrap();
        assert!(page.contains("id=\"macro-picker\"") && page.contains(">Refund</option>"), "{page}");
        let preview = alice.get(&app, &format!("/agent/tickets/{printer}/macro?macro={refund}")).await;
        assert_eq!(preview.status(), 200);
        let preview = preview.text().await.unwrap();
        for line in ["Change the status from Awaiting agent to Pending", "Assign the ticket to Alice Agent", "refund", "Send a reply", &format!("your refund for {printer} is on its way")] {
            assert!(preview.contains(line), "{line}: {preview}");
        }
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&printer)).await.unwrap().unwrap();
        assert_eq!(ticket.status.key(), "awaiting_agent", "a preview changes nothing");

        // Applied: the properties, the reply, and the log naming the macro.
        let path = format!("/agent/tickets/{printer}");
        let applied = post_on(&app, &alice, &path, &format!("{path}/macro"), &[("macro", &refund)]).await;
        assert_eq!(applied.status(), 303);
        assert_eq!(location(&applied), format!("{path}?notice=macro"));
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&printer)).await.unwrap().unwrap();
        assert_eq!(ticket.status.key(), "pending", "the macro's status stays after its reply");
        assert_eq!(ticket.agent_id, Some(desk.alice.id));
        assert_eq!(app.app.store().tickets().ticket_labels(ticket.id).await.unwrap().joined(), "billing, refund");
        let messages = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert!(messages.last().unwrap().body_html.contains("your refund for"), "{:?}", messages.last());
        let log = app.app.store().tickets().ticket_log(ticket.id).await.unwrap();
        assert!(log.iter().any(|entry| entry.field == "status" && entry.actor.contains("(macro \u{201c}Refund\u{201d})")), "{log:?}");
        let list = alice.get(&app, "/agent/macros").await.text().await.unwrap();
        assert!(list.split("<tr id=\"macro-").nth(1).unwrap().contains("<td class=\"number\">1</td>"), "applications are counted");

        // Shared macros need the permission; others reach neither the
        // macros nor the tickets they may not.
        let shared = [("title", "Close as spam"), ("status", "resolved"), ("shared", "1")];
        assert_eq!(post_on(&app, &alice, "/agent/macros/new", "/agent/macros/new", &shared).await.status(), 403);
        let admin = signed_in(&app, "admin@example.org").await;
        assert_eq!(post_on(&app, &admin, "/agent/macros/new", "/agent/macros/new", &shared).await.status(), 303);
        let resolve = macro_id(&app, &admin, "Close as spam").await;
        let bob = signed_in(&app, "bob@example.org").await;
        assert_eq!(bob.get(&app, &format!("/agent/macros/{refund}")).await.status(), 404, "Alice's own");
        assert_eq!(bob.get(&app, &format!("/agent/tickets/{printer}/macro?macro={resolve}")).await.status(), 404, "not his ticket");
        let carol = signed_in(&app, "carol@example.org").await;
        let refused = post_on(&app, &carol, "/agent", &format!("{path}/macro"), &[("macro", &resolve)]).await;
        assert_eq!(refused.status(), 404);
        assert_eq!(post_on(&app, &alice, "/agent/macros", &format!("/agent/macros/{resolve}/delete"), &[]).await.status(), 403);

        // An action the ticket cannot take is shown, and nothing happens.
        let bob_id = desk.bob.id.to_string();
        let made = post_on(&app, &alice, "/agent/macros/new", "/agent/macros/new", &[("title", "To Bob"), ("agent", &bob_id), ("status", "awaiting_agent")]).await;
        assert_eq!(made.status(), 303);
        let to_bob = macro_id(&app, &alice, "To Bob").await;
        let preview = alice.get(&app, &format!("/agent/tickets/{printer}/macro?macro={to_bob}")).await;
        assert_eq!(preview.status(), 422);
        assert!(preview.text().await.unwrap().contains("cannot be assigned tickets of this department"));
        let applied = post_on(&app, &alice, &path, &format!("{path}/macro"), &[("macro", &to_bob)]).await;
        assert_eq!(applied.status(), 422);
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&printer)).await.unwrap().unwrap();
        assert_eq!(ticket.status.key(), "pending", "nothing of a refused macro is applied");

        // Many tickets at once from the list.
        let mut ids = Vec::new();
        for subject in ["One", "Two", "Three"] {
            let reference = open_ticket(&app, &desk.admin, desk.support, subject).await;
            ids.push(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().id.to_string());
        }
        let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ticket", id.as_str())).collect();
        fields.extend([("action", "macro"), ("macro", resolve.as_str())]);
        let done = post_on(&app, &admin, "/agent/tickets", "/agent/tickets/bulk", &fields).await;
        let page = done.text().await.unwrap();
        assert!(page.contains("3 tickets changed by the macro"), "{page}");
        for id in &ids {
            let ticket = app.app.store().tickets().get_ticket(id.parse().unwrap()).await.unwrap().unwrap();
            assert_eq!(ticket.status.key(), "resolved");
        }
    }
}
