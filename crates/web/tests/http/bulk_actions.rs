//! Bulk actions from the ticket list on both databases: one change to many
//! tickets (labels added and removed per ticket), following, merging,
//! "every ticket this list holds"; each ticket checked on its own, the
//! ones the agent may not change reported without revealing anything, and
//! one audit entry for the lot.

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, spawn_app};
use crate::security::{Browser, audit_actions};
use crate::tickets::{desk, open_ticket, post_on, signed_in};

/// The id of the ticket with this reference.
async fn id_of(app: &TestApp, reference: &str) -> String {
    app.app
        .store()
        .tickets()
        .find_ticket(&crate::helpers::ticket_ref(reference))
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

/// Sends the list's bulk form as `browser` with these tickets ticked.
async fn bulk(
    app: &TestApp,
    browser: &Browser,
    tickets: &[&str],
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut all: Vec<(&str, &str)> = tickets.iter().map(|id| ("ticket", *id)).collect();
    all.extend_from_slice(fields);
    let response = post_on(app, browser, "/agent/tickets", "/agent/tickets/bulk", &all).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn labels_of(app: &TestApp, reference: &str) -> String {
    let id: i64 = id_of(app, reference).await.parse().unwrap();
    app.app
        .store()
        .tickets()
        .ticket_labels(id)
        .await
        .unwrap()
        .joined()
}

on_both_backends! { spawn_app;

    async fn an_agent_changes_many_tickets_at_once_and_only_those_they_may(app: TestApp) {
        let desk = desk(&app).await;
        let mut support = Vec::new();
        for subject in ["Printer one", "Printer two", "Printer three"] {
            support.push(open_ticket(&app, &desk.admin, desk.support, subject).await);
        }
        let secret = open_ticket(&app, &desk.admin, desk.sales, "Secret sales deal").await;
        let ids = [id_of(&app, &support[0]).await, id_of(&app, &support[1]).await, id_of(&app, &support[2]).await, id_of(&app, &secret).await];
        let alice = signed_in(&app, "alice@example.org").await;

        // The list offers the controls and a box per ticket.
        let list = alice.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(list.contains("id=\"bulk-form\"") && list.contains(&format!("name=\"ticket\" value=\"{}\"", ids[0])), "{list}");
        let choices = list.split("id=\"bulk-status\"").nth(1).unwrap().split("</select>").next().unwrap();
        assert!(choices.contains("value=\"pending\"") && !choices.contains("value=\"spam\""), "Alice may not mark spam, so it is not offered");

        // One change to four tickets: the three Support ones change, the
        // Sales one is left alone without a word about it.
        let alice_id = desk.alice.id.to_string();
        let (status, page) = bulk(&app, &alice, &[&ids[0], &ids[1], &ids[2], &ids[3]], &[
            ("action", "change"), ("status", "pending"), ("agent", &alice_id), ("add_labels", "vip, printer"), ("urgency", ""),
        ]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("3 tickets changed"), "{page}");
        assert!(page.contains(&format!("#{}: It is not a ticket you can see.", ids[3])), "{page}");
        assert!(!page.contains("Secret"), "{page}");
        for reference in &support {
            let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(reference)).await.unwrap().unwrap();
            assert_eq!(ticket.status.key(), "pending");
            assert_eq!(ticket.agent_id, Some(desk.alice.id));
            assert_eq!(labels_of(&app, reference).await, "printer, vip");
        }
        let untouched = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&secret)).await.unwrap().unwrap();
        assert_eq!(untouched.status.key(), "awaiting_agent");
        let bulk_entries = audit_actions(&app).await.iter().filter(|action| *action == "tickets.bulk_action").count();
        assert_eq!(bulk_entries, 1, "one audit entry for the lot");

        // Labels are added and removed per ticket; the same again changes nothing.
        let (_, page) = bulk(&app, &alice, &[&ids[0], &ids[1]], &[("action", "change"), ("remove_labels", "VIP"), ("add_labels", "urgent")]).await;
        assert!(page.contains("2 tickets changed"), "{page}");
        assert_eq!(labels_of(&app, &support[0]).await, "printer, urgent");
        assert_eq!(labels_of(&app, &support[2]).await, "printer, vip", "an unticked ticket keeps its labels");
        let (_, page) = bulk(&app, &alice, &[&ids[0]], &[("action", "change"), ("status", "pending")]).await;
        assert!(page.contains("0 tickets changed") && page.contains("1 already as asked"), "{page}");

        // Nothing chosen, nothing ticked, a status she may not set.
        let (status, page) = bulk(&app, &alice, &[&ids[0]], &[("action", "change")]).await;
        assert_eq!(status, 422);
        assert!(page.contains("Choose what to change."));
        let (status, _) = bulk(&app, &alice, &[], &[("action", "change"), ("status", "pending")]).await;
        assert_eq!(status, 422);
        let (_, page) = bulk(&app, &alice, &[&ids[0]], &[("action", "change"), ("status", "spam")]).await;
        assert!(page.contains("You may not put tickets there."), "{page}");

        // Bob sees his Sales ticket once it is his, but may not edit it;
        // Carol sees nothing and learns nothing.
        app.app.change_ticket(&ferrodesk_app::Caller::new(&crate::tickets::actor_of(&desk.admin), ""), &crate::helpers::ticket_key(&secret), &crate::helpers::assignment(desk.sales, desk.bob.id)).await.unwrap();
        let bob = signed_in(&app, "bob@example.org").await;
        let (_, page) = bulk(&app, &bob, &[&ids[0], &ids[3]], &[("action", "change"), ("status", "resolved")]).await;
        assert!(page.contains("0 tickets changed"), "{page}");
        assert!(page.contains(&format!("{secret}</a> Secret sales deal: You may not change it.")), "{page}");
        assert!(page.contains(&format!("#{}: It is not a ticket you can see.", ids[0])) && !page.contains("Printer"), "{page}");
        let carol = signed_in(&app, "carol@example.org").await;
        for action in ["follow", "merge"] {
            let (_, page) = bulk(&app, &carol, &[&ids[0], &ids[3]], &[("action", action)]).await;
            assert!(!page.contains("Printer") && !page.contains("Secret"), "{action}: {page}");
        }
        let (_, page) = bulk(&app, &carol, &[], &[("action", "change"), ("status", "resolved"), ("all_matching", "1"), ("list", "view=all&status=any")]).await;
        assert!(!page.contains("Printer") && !page.contains("Secret"), "{page}");
        let list = carol.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        assert!(!list.contains("Printer"));

        // Following many at once.
        let (_, page) = bulk(&app, &alice, &[&ids[1], &ids[2]], &[("action", "follow")]).await;
        assert!(page.contains("2 tickets followed"), "{page}");
        let followed = alice.get(&app, "/agent/tickets?view=followed&status=any").await.text().await.unwrap();
        assert!(followed.contains("Printer two") && followed.contains("Printer three") && !followed.contains("Printer one"));

        // Every ticket the list holds: here the Support tickets assigned to Alice.
        let (_, page) = bulk(&app, &alice, &[], &[("action", "change"), ("status", "resolved"), ("all_matching", "1"), ("list", "view=mine&status=pending")]).await;
        assert!(page.contains("3 tickets changed"), "{page}");
        assert!(!page.contains("Secret"));

        // Merging needs the permission and asks which ticket stays.
        let (_, page) = bulk(&app, &alice, &[&ids[0], &ids[1]], &[("action", "merge"), ("into", &ids[0])]).await;
        assert!(page.contains("You may not change it."), "Alice may not merge: {page}");
        let admin = signed_in(&app, "admin@example.org").await;
        let (status, page) = bulk(&app, &admin, &[&ids[0], &ids[1], &ids[2]], &[("action", "merge")]).await;
        assert_eq!(status, 200);
        assert!(page.contains("Merge 3 tickets into one") && page.contains("name=\"into\""), "{page}");
        let (_, page) = bulk(&app, &admin, &[&ids[0], &ids[1], &ids[2]], &[("action", "merge"), ("into", &ids[0])]).await;
        assert!(page.contains("2 tickets merged"), "{page}");
        for reference in &support[1..] {
            let merged = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(reference)).await.unwrap().unwrap();
            assert_eq!(merged.merged_into_id, Some(ids[0].parse().unwrap()));
        }

        // No token, no change.
        let forged = alice.post(&app, "/agent/tickets/bulk", &[("ticket", ids[0].as_str()), ("action", "follow")]).await;
        assert_eq!(forged.status(), 403);
    }
}

on_both_backends! { spawn_app;

    /// The list keeps agents, teams, departments and macros in a per-node
    /// copy; a change made on this node shows on the next page at once.
    async fn the_list_shows_new_teams_departments_macros_and_disabled_agents_at_once(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, &desk.admin.email).await;
        let before = admin.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(before.contains(&desk.bob.name), "Bob is offered before");
        assert!(!before.contains("Night shift") && !before.contains("Warranty claims") && !before.contains("Close as duplicate"));

        let system = ferrodesk_app::Caller::system();
        app.app.create_team(&system, "Night shift").await.unwrap();
        app.app.create_department(&system, "Warranty claims", None).await.unwrap();
        app.app.create_macro(&ferrodesk_app::Caller::new(&crate::tickets::actor_of(&desk.admin), ""), &ferrodesk_app::MacroInput {
            title: "Close as duplicate".into(),
            shared: true,
            actions: ferrodesk_app::MacroActions { status: Some("resolved".into()), ..ferrodesk_app::MacroActions::default() },
        }).await.unwrap();
        app.app.act_on_agent(&system, desk.bob.id, ferrodesk_app::AgentAction::Disable).await.unwrap();

        let after = admin.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(after.contains("Night shift"), "the new team");
        assert!(after.contains("Warranty claims"), "the new department");
        assert!(after.contains("Close as duplicate"), "the new macro");
        assert!(!after.contains(&desk.bob.name), "a disabled agent is no longer offered");
    }
}
