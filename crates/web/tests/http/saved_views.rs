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
        assert!(page.contains(">Priority</a></th>") && page.contains(">Created</a></th>") && !page.contains(">Requester</a></th>"), "the chosen columns");
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
        assert!(first.contains("<option value=\"updated\" selected>") && first.contains("<option value=\"asc\" selected>"));
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

/// A ticket's value in a sort column, as the list orders it: numbers, or
/// texts lower-cased (the test's texts are ASCII).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Sorted {
    Number(i64),
    Text(String),
}

fn sort_value(key: ferrodesk_app::TicketSortKey, ticket: &ferrodesk_app::TicketRecord) -> Sorted {
    use ferrodesk_app::TicketSortKey as Key;
    let text = |value: Option<&str>| Sorted::Text(value.unwrap_or("").to_lowercase());
    match key {
        Key::Updated => Sorted::Number(ticket.updated_at),
        Key::Created => Sorted::Number(ticket.created_at),
        Key::Reference => Sorted::Text(ticket.reference.to_string()),
        Key::Subject => text(Some(&ticket.subject)),
        Key::Requester => text(Some(&ticket.requester_name)),
        Key::Organization => text(ticket.organization_name.as_deref()),
        Key::Status => Sorted::Number(
            ferrodesk_core::TicketStatus::ALL
                .iter()
                .position(|status| *status == ticket.status)
                .unwrap() as i64,
        ),
        Key::Urgency => Sorted::Number(ticket.urgency.get()),
        Key::Priority => Sorted::Number(-1),
        Key::Assignee => text(ticket.agent_name.as_deref()),
        Key::Team => text(ticket.team_name.as_deref()),
        Key::Department => text(Some(&ticket.department_name)),
        Key::SlaDue => Sorted::Number(ticket.sla_due_at),
    }
}

/// The list read page after page of `size` in `order`, then back from the
/// last page to the first: the rows in turn, and the pages both ways.
async fn walk(
    app: &TestApp,
    actor: &ferrodesk_app::Actor,
    order: ferrodesk_app::TicketOrder,
    size: i64,
) -> (
    Vec<ferrodesk_app::TicketRecord>,
    Vec<Vec<i64>>,
    Vec<Vec<i64>>,
) {
    let query = |after: Option<String>, before: Option<String>| ferrodesk_app::TicketListQuery {
        status: ferrodesk_app::StatusFilter::Any,
        order,
        after,
        before,
        ..Default::default()
    };
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    let mut after = None;
    let last = loop {
        let page = app
            .app
            .ticket_window(actor, &query(after.clone(), None), size, 0)
            .await
            .unwrap();
        pages.push(
            page.tickets
                .iter()
                .map(|ticket| ticket.id)
                .collect::<Vec<_>>(),
        );
        rows.extend(page.tickets.clone());
        match page.next {
            Some(next) => after = Some(next),
            None => break page,
        }
    };
    let mut back = vec![
        last.tickets
            .iter()
            .map(|ticket| ticket.id)
            .collect::<Vec<_>>(),
    ];
    let mut previous = last.previous;
    while let Some(before) = previous {
        let page = app
            .app
            .ticket_window(actor, &query(None, Some(before)), size, 0)
            .await
            .unwrap();
        back.push(page.tickets.iter().map(|ticket| ticket.id).collect());
        previous = page.previous;
    }
    back.reverse();
    (rows, pages, back)
}

on_both_backends! { spawn_app;

    async fn every_column_sorts_both_ways_and_pages_without_gaps_or_repeats(app: TestApp) {
        let desk = desk(&app).await;
        let admin = actor_of(&desk.admin);
        let caller = Caller::new(&admin, "192.0.2.10");
        let subjects = ["beta. & gamma", "Alpha", "alpha", "Zulu", "a.b&c=d", "10 printers", "2 printers"];
        let requesters = [("uma@example.org", "Uma User"), ("bo@example.org", "bo lower"), ("zed@example.org", "Zed Last")];
        for number in 0..23_usize {
            let (email, name) = requesters[number % 3];
            let department = if number % 2 == 0 { desk.support } else { desk.sales };
            let subject = format!("{} {}", subjects[number % subjects.len()], number % 4);
            let made = app.app.create_ticket_for_user(&caller, &crate::helpers::new_ticket(email, name, &subject, department, (number % 10 + 1) as i64)).await.unwrap();
            let reference = made.ticket.reference.to_string();
            let mut change = ferrodesk_app::TicketChange::default();
            if number % 4 == 0 {
                change.agent_id = Some(Ok(Some(if number % 8 == 0 { desk.alice.id } else { desk.admin.id })));
            }
            if number % 5 == 0 {
                change.status = Some(Ok(ferrodesk_core::TicketStatus::Pending));
            }
            app.app.change_ticket(&caller, &crate::helpers::ticket_key(&reference), &change).await.unwrap();
            if number % 3 == 0 {
                app.advance_clock(std::time::Duration::from_secs(1));
            }
        }
        for key in ferrodesk_app::TicketSortKey::ALL {
            for descending in [false, true] {
                let order = ferrodesk_app::TicketOrder { key, descending };
                let (rows, pages, back) = walk(&app, &admin, order, 4).await;
                let mut ids: Vec<i64> = rows.iter().map(|ticket| ticket.id).collect();
                assert_eq!(ids.len(), 23, "{order:?}: every ticket once");
                let mut expected = rows.clone();
                expected.sort_by_key(|ticket| (sort_value(key, ticket), ticket.id));
                if descending {
                    expected.reverse();
                }
                let expected: Vec<i64> = expected.iter().map(|ticket| ticket.id).collect();
                assert_eq!(ids, expected, "{order:?}: in order");
                assert_eq!(back, pages, "{order:?}: going back shows the same pages");
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), 23, "{order:?}: no repeats");
            }
        }

        // In the browser: the headings sort, the pages of a text column
        // page on (its cursor holds "&" and "."), and a ticket's
        // neighbours follow the list's order.
        let browser = signed_in(&app, "admin@example.org").await;
        let page = browser.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        assert!(page.contains("aria-sort=\"descending\"><a class=\"sort\" href=\"/agent/tickets?view=&#38;status=any&#38;department=&#38;label=&#38;urgency=&#38;q=&#38;sort=updated&#38;order=asc\""), "{page}");
        let subject_link = page.split("class=\"subject\" aria-sort=\"none\"><a class=\"sort\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
        assert!(subject_link.ends_with("sort=subject&order=asc"), "{subject_link}");
        let (expected, _, _) = walk(&app, &admin, ferrodesk_app::TicketOrder { key: ferrodesk_app::TicketSortKey::Subject, descending: false }, 50).await;
        let expected: Vec<String> = expected.iter().map(|ticket| ticket.reference.to_string()).collect();
        let sorted = browser.get(&app, &subject_link).await.text().await.unwrap();
        assert!(sorted.contains("<option value=\"subject\" selected>") && sorted.contains("<option value=\"asc\" selected>"));
        assert_eq!(listed(&sorted), expected);
        let first = &expected[0];
        let second = &expected[1];
        let list = serde_urlencoded::to_string([("list", subject_link.trim_start_matches("/agent/tickets?"))]).unwrap();
        let opened = browser.get(&app, &format!("/agent/tickets/{second}?{list}")).await.text().await.unwrap();
        let newer = opened.split("id=\"newer-ticket\"").next().unwrap().rsplit("href=\"").next().unwrap();
        assert!(newer.starts_with(&format!("/agent/tickets/{first}?")), "{newer}");
        let older = opened.split("id=\"older-ticket\"").next().unwrap().rsplit("href=\"").next().unwrap();
        assert!(older.starts_with(&format!("/agent/tickets/{}?", expected[2])), "{older}");
        assert_eq!(browser.get(&app, "/agent/tickets?sort=password").await.status(), 400);
        assert_eq!(browser.get(&app, "/agent/tickets?sort=subject&order=sideways").await.status(), 400);
        assert!(browser.get(&app, "/agent/tickets?sort=subject&after=x").await.status().is_client_error());
    }
}

on_both_backends! { spawn_app;

    async fn a_search_becomes_a_sorted_list_and_a_view_showing_only_what_the_agent_may_see(app: TestApp) {
        let desk = desk(&app).await;
        let admin = actor_of(&desk.admin);
        let caller = Caller::new(&admin, "192.0.2.10");
        let noted = open_ticket(&app, &desk.admin, desk.support, "Printer on fire").await;
        let mut note = crate::helpers::reply_with("The quasar module overheats.");
        note.is_note = true;
        app.app.reply_to_ticket(&caller, &crate::helpers::ticket_key(&noted), &note).await.unwrap();
        let named = open_ticket(&app, &desk.admin, desk.support, "Quasar licence renewal").await;
        let hidden = open_ticket(&app, &desk.admin, desk.sales, "Quasar deal").await;
        let other = open_ticket(&app, &desk.admin, desk.support, "Toner").await;
        let alice = signed_in(&app, "alice@example.org").await;

        let found = alice.get(&app, "/agent/search?q=quasar").await.text().await.unwrap();
        let as_list = found.split("id=\"as-list\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&");
        assert_eq!(as_list, "/agent/tickets?status=any&q=quasar");
        let list = alice.get(&app, "/agent/tickets?status=any&q=quasar&sort=subject&order=asc").await.text().await.unwrap();
        assert_eq!(listed(&list), [noted.clone(), named.clone()], "words in a note and in a subject, sorted by subject; never the sales ticket");
        assert!(!list.contains(&hidden) && !list.contains(&other));
        assert!(list.contains("id=\"list-search\" name=\"q\" type=\"search\" value=\"quasar\""), "the list shows its search");
        let views = list.split("aria-label=\"Views\"").nth(1).unwrap();
        assert!(views.contains("All <span class=\"count\">2</span>"), "counts under the search: {views}");
        // Filters of the query language work too, and say what they cannot use.
        let filtered = alice.get(&app, "/agent/tickets?status=any&q=quasar+-is%3Anote+department%3ANowhere").await.text().await.unwrap();
        assert!(listed(&filtered).is_empty() && filtered.contains("No department is called"), "{filtered}");
        let hostile = alice.get(&app, "/agent/tickets?status=any&q=%22%29+OR+1%3D1+--+*%3A%2A").await;
        assert_eq!(hostile.status(), 200, "any input is a safe query");

        // Saved as a view: its count is what each agent may see.
        let filters = "view=all&status=any&department=&label=&urgency=&q=quasar&sort=subject&order=asc";
        let saved = post_on(&app, &alice, "/agent/tickets", "/agent/views", &[("title", "Quasar"), ("filters", filters), ("column", "subject"), ("column", "status")]).await;
        assert_eq!(saved.status(), 303);
        let page = alice.get(&app, &location(&saved)).await.text().await.unwrap();
        assert_eq!(listed(&page), [noted.clone(), named.clone()]);
        let sidebar = page.split("id=\"saved-views\"").nth(1).unwrap().split("</ul>").next().unwrap();
        assert!(sidebar.contains("Quasar <span class=\"count\">2</span>"), "{sidebar}");
        // "Every ticket this list holds" acts on the search's tickets only.
        let ids = app.app.matching_ticket_ids(&actor_of(&desk.alice), &ferrodesk_app::TicketListQuery {
            status: ferrodesk_app::StatusFilter::Any,
            search: "quasar".into(),
            ..Default::default()
        }).await.unwrap();
        assert_eq!(ids.len(), 2);
    }
}

on_both_backends! { spawn_app;

    async fn a_list_too_long_for_an_unindexed_sort_is_shown_by_last_activity_and_says_so(app: TestApp) {
        let desk = desk(&app).await;
        for number in 0..7 {
            open_ticket(&app, &desk.admin, desk.support, &format!("Long list {number}")).await;
            app.advance_clock(std::time::Duration::from_secs(1));
        }
        // A node whose limit is five tickets.
        let store = ferrodesk_store::Store::open(&app.database.url).await.unwrap();
        let key = ferrodesk_app::InstanceKey::from_text("test-instance-key-0123456789abcdef").unwrap();
        let mut options = ferrodesk_app::AppOptions::new(app.app.public_url());
        options.clock = app.clock.clone();
        options.sort_without_index_limit = 5;
        let node = ferrodesk_app::App::with_options(store, key, options).await.unwrap();
        let admin = actor_of(&desk.admin);
        let by_requester = ferrodesk_app::TicketOrder { key: ferrodesk_app::TicketSortKey::Requester, descending: false };
        let long = node.list_tickets(&admin, &ferrodesk_app::TicketListQuery { order: by_requester, ..Default::default() }).await.unwrap();
        assert_eq!(long.order, ferrodesk_app::TicketOrder::default(), "shown by last activity");
        assert!(long.notices.iter().any(|notice| notice.contains("Sorting by requester takes a list of at most 5 tickets")), "{:?}", long.notices);
        let mut updated: Vec<i64> = long.tickets.iter().map(|ticket| ticket.updated_at).collect();
        let shown = updated.clone();
        updated.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(shown, updated);
        // Indexed sorts keep their order however long the list.
        let by_subject = ferrodesk_app::TicketOrder { key: ferrodesk_app::TicketSortKey::Subject, descending: false };
        let subject = node.list_tickets(&admin, &ferrodesk_app::TicketListQuery { order: by_subject, ..Default::default() }).await.unwrap();
        assert_eq!(subject.order, by_subject);
        assert!(subject.notices.is_empty());
        // A list narrowed below the limit keeps the order asked for.
        let short = node.list_tickets(&admin, &ferrodesk_app::TicketListQuery { order: by_requester, search: "\"long list 3\"".into(), ..Default::default() }).await.unwrap();
        assert_eq!(short.order, by_requester);
        assert_eq!(short.tickets.len(), 1);
    }
}
