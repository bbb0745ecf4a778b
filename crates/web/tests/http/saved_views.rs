//! Saved views on both databases: a list's filters and columns saved under
//! a name, counted in the sidebar, shared with teams only with the
//! permission, and never showing anyone more than their own permissions.

use ferrodesk_app::Caller;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::tickets::{actor_of, desk, open_ticket, post_on, signed_in};

async fn label(
    app: &TestApp,
    admin: &ferrodesk_store::PersonRecord,
    reference: &str,
    labels: &[&str],
) {
    let change = ferrodesk_app::TicketChange {
        labels: Some(Ok(
            ferrodesk_core::Labels::parse(labels.iter().copied()).unwrap()
        )),
        ..ferrodesk_app::TicketChange::default()
    };
    app.app
        .change_ticket(
            &Caller::new(&actor_of(admin), ""),
            &crate::helpers::ticket_key(reference),
            &change,
        )
        .await
        .unwrap();
}

on_both_backends! { spawn_app;

    async fn a_list_is_saved_as_a_view_with_its_columns_and_shared_only_with_permission(app: TestApp) {
        let desk = desk(&app).await;
        let vip = open_ticket(&app, &desk.admin, desk.support, "VIP printer").await;
        open_ticket(&app, &desk.admin, desk.support, "Ordinary printer").await;
        let secret = open_ticket(&app, &desk.admin, desk.sales, "VIP sales deal").await;
        label(&app, &desk.admin, &vip, &["vip"]).await;
        label(&app, &desk.admin, &secret, &["vip"]).await;
        let alice = signed_in(&app, "alice@example.org").await;

        let filters = "view=all&status=&department=&label=vip&urgency=";
        let fields = [("title", "VIP <open>"), ("filters", filters), ("column", "subject"), ("column", "status"), ("column", "priority"), ("column", "created")];
        let saved = post_on(&app, &alice, "/agent/tickets", "/agent/views", &fields).await;
        assert_eq!(saved.status(), 303);
        let path = location(&saved);
        assert!(path.starts_with("/agent/tickets?saved="), "{path}");
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("<h1>VIP &#60;open&#62;</h1>"), "{page}");
        assert!(page.contains("VIP printer") && !page.contains("Ordinary printer") && !page.contains("VIP sales deal"), "{page}");
        assert!(page.contains(">Priority</th>") && page.contains(">Created</th>") && !page.contains(">Requester</th>"), "the chosen columns");
        let sidebar = page.split("id=\"saved-views\"").nth(1).unwrap().split("</ul>").next().unwrap();
        assert!(sidebar.contains("VIP &#60;open&#62; <span class=\"count\">1</span>"), "only what Alice may see is counted: {sidebar}");
        // Paging keeps the view.
        assert!(page.contains("?list=saved%3D"), "a ticket's way back leads to the view");

        // Bad filters or no column: refused with the reason.
        let refused = post_on(&app, &alice, "/agent/tickets", "/agent/views", &[("title", "x"), ("filters", "<script>"), ("column", "subject")]).await;
        assert_eq!(refused.status(), 422);
        let refused = post_on(&app, &alice, "/agent/tickets", "/agent/views", &[("title", "x"), ("filters", filters)]).await;
        assert_eq!(refused.status(), 422);

        // Nobody else sees Alice's view; sharing takes the permission.
        let id = path.rsplit('=').next().unwrap().to_owned();
        let carol = signed_in(&app, "carol@example.org").await;
        assert_eq!(carol.get(&app, &path).await.status(), 404);
        assert_eq!(carol.get(&app, &format!("/agent/views/{id}")).await.status(), 404);
        let system = Caller::system();
        let team = app.app.create_team(&system, "Printers").await.unwrap();
        app.app.set_agent_access(&system, desk.carol.id, &[], &[team]).await.unwrap();
        let team_text = team.to_string();
        let mut shared = fields.to_vec();
        shared.push(("team", &team_text));
        assert_eq!(post_on(&app, &alice, "/agent/tickets", "/agent/views", &shared).await.status(), 403);
        let admin = signed_in(&app, "admin@example.org").await;
        shared[0] = ("title", "Team VIP");
        let saved = post_on(&app, &admin, "/agent/tickets", "/agent/views", &shared).await;
        assert_eq!(saved.status(), 303);
        let team_view = location(&saved);
        // Carol (in the team, no department) sees the view and nothing in it.
        let page = carol.get(&app, &team_view).await.text().await.unwrap();
        assert!(page.contains("Team VIP") && !page.contains("VIP printer") && !page.contains("VIP sales deal"), "{page}");
        let team_id = team_view.rsplit('=').next().unwrap();
        assert_eq!(carol.get(&app, &format!("/agent/views/{team_id}")).await.status(), 403, "she may not change it");

        // Alice renames and deletes her own.
        let renamed = post_on(&app, &alice, &format!("/agent/views/{id}"), &format!("/agent/views/{id}"), &[("title", "VIP"), ("filters", filters), ("column", "subject")]).await;
        assert_eq!(renamed.status(), 303);
        assert!(alice.get(&app, &path).await.text().await.unwrap().contains("<h1>VIP</h1>"));
        assert_eq!(post_on(&app, &alice, &format!("/agent/views/{id}"), &format!("/agent/views/{id}/delete"), &[]).await.status(), 303);
        assert_eq!(alice.get(&app, &path).await.status(), 404);
    }
}

/// The references a list page shows, in order.
fn listed(page: &str) -> Vec<String> {
    page.split("<tr id=\"t-")
        .skip(1)
        .map(|row| row.split('"').next().unwrap().to_owned())
        .collect()
}

on_both_backends! { spawn_app;

    async fn the_longest_waiting_come_first_when_asked_page_after_page(app: TestApp) {
        let desk = desk(&app).await;
        let mut opened = Vec::new();
        for number in 0..55 {
            opened.push(open_ticket(&app, &desk.admin, desk.support, &format!("Waiting {number}")).await);
            app.advance_clock(std::time::Duration::from_secs(1));
        }
        let alice = signed_in(&app, "alice@example.org").await;
        let first = alice.get(&app, "/agent/tickets?order=oldest").await.text().await.unwrap();
        assert_eq!(listed(&first), opened[..50].to_vec());
        assert!(first.contains("<option value=\"oldest\" selected>"));
        let next = first.split("id=\"next-page\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&").replace("&#38;", "&");
        let second = alice.get(&app, &next).await.text().await.unwrap();
        assert_eq!(listed(&second), opened[50..].to_vec(), "{next}");
        let back = second.split("id=\"previous-page\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&").replace("&#38;", "&");
        assert_eq!(listed(&alice.get(&app, &back).await.text().await.unwrap()), opened[..50].to_vec(), "{back}");
        let newest = alice.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert_eq!(listed(&newest)[0], opened[54], "newest first by default");

        // A view keeps the order.
        let saved = post_on(&app, &alice, "/agent/tickets", "/agent/views", &[
            ("title", "Longest waiting"), ("filters", "view=all&status=&department=&label=&urgency=&order=oldest"), ("column", "subject"),
        ]).await;
        let page = alice.get(&app, &location(&saved)).await.text().await.unwrap();
        assert_eq!(listed(&page)[0], opened[0]);
    }
}
