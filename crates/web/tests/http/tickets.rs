//! Tickets through the agent pages on both databases: opening one for a
//! user, replies and notes, properties and the log, who reaches which
//! ticket, keyset paging, and the warning about a reply written meanwhile.

use ferrodesk_app::{AccountKind, Actor, Caller, GroupInput, SignedIn};
use ferrodesk_store::PersonRecord;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, csrf_token_in, location, spawn_app};
use crate::security::Browser;

pub(crate) fn actor_of(person: &PersonRecord) -> Actor {
    Actor::Agent(SignedIn {
        person_id: person.id,
        name: person.name.clone(),
        email: person.email.clone(),
        is_admin: person.is_admin,
        remembered: false,
        must_change_password: false,
        must_set_up_two_factor: false,
        time_zone: String::new(),
    })
}

/// An installation with two departments, a group for each and agents:
/// Alice (Support, full, may reply, note and edit), Bob (Sales, assign
/// only, may reply), Carol (no group).
pub(crate) struct Desk {
    pub admin: PersonRecord,
    pub alice: PersonRecord,
    pub bob: PersonRecord,
    pub carol: PersonRecord,
    pub support: i64,
    pub sales: i64,
}

/// A permission group granting `permissions` with `access` ("full" or
/// "assign") to one department.
pub(crate) fn group(name: &str, permissions: &[&str], department: i64, access: &str) -> GroupInput {
    GroupInput {
        name: name.to_owned(),
        description: String::new(),
        permissions: permissions.iter().map(|key| (*key).to_owned()).collect(),
        departments: vec![(department, access.to_owned())],
    }
}

pub(crate) async fn desk(app: &TestApp) -> Desk {
    let admin = app.create_admin().await;
    let alice = app
        .create_account("alice@example.org", "Alice Agent", AccountKind::Agent)
        .await;
    let bob = app
        .create_account("bob@example.org", "Bob Agent", AccountKind::Agent)
        .await;
    let carol = app
        .create_account("carol@example.org", "Carol Agent", AccountKind::Agent)
        .await;
    let system = Caller::system();
    // A fresh install has its default department, Support, already.
    let support = app
        .app
        .store()
        .departments()
        .list_departments()
        .await
        .unwrap()
        .iter()
        .find(|department| department.is_default && department.name == "Support")
        .unwrap()
        .id;
    let sales = app
        .app
        .create_department(&system, "Sales", None)
        .await
        .unwrap();
    let support_group = app
        .app
        .create_permission_group(
            &system,
            &group(
                "Support",
                &["tickets.reply", "tickets.note", "tickets.edit"],
                support,
                "full",
            ),
        )
        .await
        .unwrap();
    let sales_group = app
        .app
        .create_permission_group(
            &system,
            &group("Sales", &["tickets.reply"], sales, "assign"),
        )
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, alice.id, &[support_group], &[])
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, bob.id, &[sales_group], &[])
        .await
        .unwrap();
    Desk {
        admin,
        alice,
        bob,
        carol,
        support,
        sales,
    }
}

/// Opens a ticket as `agent` (through the use case) and returns its reference.
pub(crate) async fn open_ticket(
    app: &TestApp,
    agent: &PersonRecord,
    department: i64,
    subject: &str,
) -> String {
    let actor = actor_of(agent);
    app.app
        .create_ticket_for_user(
            &Caller::new(&actor, "192.0.2.10"),
            &crate::helpers::new_ticket("uma@example.org", "Uma User", subject, department, 3),
        )
        .await
        .unwrap()
        .ticket
        .reference
        .to_string()
}

pub(crate) async fn signed_in(app: &TestApp, email: &str) -> Browser {
    let browser = Browser::new();
    assert_eq!(browser.log_in(app, email, PASSWORD).await.status(), 303);
    browser
}

pub(crate) async fn post_on(
    app: &TestApp,
    browser: &Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = browser.csrf(app, page).await;
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    browser.post(app, action, &all).await
}

on_both_backends! { spawn_app;

    async fn an_agent_opens_a_ticket_for_a_user_and_replies_and_notes(app: TestApp) {
        let desk = desk(&app).await;
        let alice = signed_in(&app, "alice@example.org").await;
        let support = desk.support.to_string();
        let made = post_on(&app, &alice, "/agent/tickets/new", "/agent/tickets/new", &[
            ("requester_email", "Uma@Example.org"), ("requester_name", "Uma <b>User</b>"),
            ("subject", "Printer <script>alert(1)</script> jammed"), ("message", "It **jams**.\n\n<img src=x onerror=alert(1)>"),
            ("department", &support), ("urgency", "4"), ("labels", "printer, Hardware, printer"),
        ]).await;
        assert_eq!(made.status(), 303);
        let path = location(&made).split('?').next().unwrap().to_owned();
        let reference = path.rsplit('/').next().unwrap().to_owned();
        assert!(ferrodesk_core::TicketRef::parse(&reference).is_ok(), "{reference}");

        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("<strong>jams</strong>"), "markdown rendered");
        assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "no active content");
        assert!(page.contains("Uma &#60;b&#62;User&#60;/b&#62;") || page.contains("Uma &lt;b&gt;User&lt;/b&gt;"), "names escaped");
        assert!(page.contains("Awaiting agent"));
        assert!(page.contains(">Hardware<") && page.contains(">printer<"));

        let replied = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "Please switch it off and on.")]).await;
        assert_eq!(location(&replied), format!("{path}?notice=sent"));
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(ticket.status.key(), "awaiting_user", "a reply hands the ticket to the user");
        assert!(ticket.first_agent_reply_at.is_some());
        let noted = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "note"), ("body", "User sounded annoyed.")]).await;
        assert_eq!(location(&noted), format!("{path}?notice=noted"));
        assert_eq!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().status.key(), "awaiting_user", "a note leaves the status");
        let messages = app.app.store().tickets().ticket_messages(ticket.id, false).await.unwrap();
        assert_eq!(messages.len(), 2, "without notes: the request and the reply");
        assert!(messages.iter().all(|message| !message.is_note));
        let with_notes = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert_eq!(with_notes.len(), 3);
        assert_eq!(with_notes[1].ip, "127.0.0.1", "the author's address is kept");

        let empty = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "   ")]).await;
        assert_eq!(empty.status(), 422);

        let list = alice.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        assert!(list.contains(&reference), "{list}");
        // What the agent did (the default triggers' mails are logged under their names).
        let log: Vec<_> = app.app.store().tickets().ticket_log(ticket.id).await.unwrap().into_iter().filter(|entry| !entry.actor.starts_with("rule ")).collect();
        assert_eq!(log.iter().map(|entry| entry.field.as_str()).collect::<Vec<_>>(), ["status"]);
        assert_eq!(log[0].actor, "Alice Agent <alice@example.org>");
        let _ = desk.admin;
    }

    async fn agents_reach_only_the_tickets_their_groups_allow(app: TestApp) {
        let desk = desk(&app).await;
        let in_support = open_ticket(&app, &desk.admin, desk.support, "Support question").await;
        let in_sales = open_ticket(&app, &desk.admin, desk.sales, "Unassigned sales question").await;
        let for_bob = open_ticket(&app, &desk.admin, desk.sales, "Bob's sales question").await;
        let admin_actor = actor_of(&desk.admin);
        let sales = desk.sales.to_string();
        app.app.change_ticket(&Caller::new(&admin_actor, ""), &crate::helpers::ticket_key(&for_bob), &crate::helpers::assignment(desk.sales, desk.bob.id)).await.unwrap();

        let carol = signed_in(&app, "carol@example.org").await;
        let list = carol.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(list.contains("0 tickets"), "deny by default");
        for reference in [&in_support, &in_sales, &for_bob] {
            assert_eq!(carol.get(&app, &format!("/agent/tickets/{reference}")).await.status(), 404);
            let token = carol.csrf(&app, "/agent/tickets").await;
            assert_eq!(carol.post(&app, &format!("/agent/tickets/{reference}/reply"), &[("csrf_token", &token), ("kind", "reply"), ("body", "hi")]).await.status(), 404);
            assert_eq!(carol.post(&app, &format!("/agent/tickets/{reference}/follow"), &[("csrf_token", &token), ("following", "1")]).await.status(), 404);
        }
        assert_eq!(carol.get(&app, "/agent/tickets/ZZZZ-ZZZZ").await.status(), 404, "an unknown reference looks the same");
        assert_eq!(carol.get(&app, "/agent/tickets/not-a-ref").await.status(), 404);

        let bob = signed_in(&app, "bob@example.org").await;
        let list = bob.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(list.contains(&for_bob) && !list.contains(&in_sales) && !list.contains(&in_support), "assign only: {list}");
        let filtered = bob.get(&app, &format!("/agent/tickets?department={}", desk.support)).await.text().await.unwrap();
        assert!(!filtered.contains(&in_support), "a filter value reaches nothing more");
        assert_eq!(bob.get(&app, &format!("/agent/tickets/{in_sales}")).await.status(), 404);
        let page = format!("/agent/tickets/{for_bob}");
        assert_eq!(bob.get(&app, &page).await.status(), 200);
        let reply = post_on(&app, &bob, &page, &format!("{page}/reply"), &[("kind", "reply"), ("body", "On it.")]).await;
        assert_eq!(reply.status(), 303);
        let note = post_on(&app, &bob, &page, &format!("{page}/reply"), &[("kind", "note"), ("body", "secret")]).await;
        assert_eq!(note.status(), 403, "no note permission");
        let change = post_on(&app, &bob, &page, &format!("{page}/properties"), &[("status", "resolved"), ("urgency", "3"), ("department", &sales)]).await;
        assert_eq!(change.status(), 403, "no edit permission");

        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, &format!("/agent/tickets/{in_sales}")).await.status(), 404);
        let page = format!("/agent/tickets/{in_support}");
        let support = desk.support.to_string();
        let moved = post_on(&app, &alice, &page, &format!("{page}/properties"), &[("status", "awaiting_agent"), ("urgency", "3"), ("department", &sales)]).await;
        assert_eq!(moved.status(), 422, "no access to the target department");
        let to_bob = post_on(&app, &alice, &page, &format!("{page}/properties"), &[("status", "awaiting_agent"), ("urgency", "3"), ("department", &support), ("agent", &desk.bob.id.to_string())]).await;
        assert_eq!(to_bob.status(), 422, "Bob has no access to Support");
        let spam = post_on(&app, &alice, &page, &format!("{page}/properties"), &[("status", "spam"), ("urgency", "3"), ("department", &support)]).await;
        assert_eq!(spam.status(), 422, "no spam permission");
        let carol_id = desk.carol.id.to_string();
        let to_carol = post_on(&app, &alice, &page, &format!("{page}/properties"), &[("status", "awaiting_agent"), ("urgency", "3"), ("department", &support), ("agent", &carol_id)]).await;
        assert_eq!(to_carol.status(), 422);
        let saved = post_on(&app, &alice, &page, &format!("{page}/properties"), &[("status", "pending"), ("urgency", "8"), ("department", &support), ("agent", &desk.alice.id.to_string()), ("labels", "vip")]).await;
        assert_eq!(saved.status(), 303);
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&in_support)).await.unwrap().unwrap();
        let fields: Vec<_> = app.app.store().tickets().ticket_log(ticket.id).await.unwrap().into_iter().filter(|entry| !entry.actor.starts_with("rule ")).map(|entry| entry.field).collect();
        assert_eq!(fields, ["status", "urgency", "agent", "labels"]);
        let shown = alice.get(&app, &page).await.text().await.unwrap();
        let log = shown.split("id=\"ticket-log\"").nth(1).unwrap().split("</ul>").next().unwrap();
        for words in ["changed the status from Awaiting agent to Pending", "changed the urgency from 3 to 8", "assigned the ticket to Alice Agent", "changed the labels from none to vip"] {
            assert!(log.contains(words), "the log in words: {log}");
        }
        assert!(!log.contains("awaiting_agent") && !log.contains(&format!("to {}", desk.alice.id)), "no codes or ids: {log}");
        let mine = alice.get(&app, "/agent/tickets?view=mine&status=pending").await.text().await.unwrap();
        assert!(mine.contains(&in_support));
        assert!(!alice.get(&app, "/agent/tickets?view=followed&status=any").await.text().await.unwrap().contains(&in_support));
        let followed = post_on(&app, &alice, &page, &format!("{page}/follow"), &[("following", "1")]).await;
        assert_eq!(location(&followed), page);
        assert!(alice.get(&app, "/agent/tickets?view=followed&status=any").await.text().await.unwrap().contains(&in_support));
        post_on(&app, &alice, &page, &format!("{page}/follow"), &[("following", "0")]).await;
        assert!(!app.app.store().tickets().is_following(ticket.id, desk.alice.id).await.unwrap());

        // The admin reaches everything.
        let admin = signed_in(&app, "admin@example.org").await;
        let all = admin.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        for reference in [&in_support, &in_sales, &for_bob] {
            assert!(all.contains(reference.as_str()));
        }

        // Following an assign-only department's ticket makes it visible to Bob... only if he can follow it, which he cannot reach.
        let token = bob.csrf(&app, "/agent/tickets").await;
        assert_eq!(bob.post(&app, &format!("/agent/tickets/{in_sales}/follow"), &[("csrf_token", &token), ("following", "1")]).await.status(), 404);
    }

    async fn paging_walks_every_ticket_once_newest_first(app: TestApp) {
        let desk = desk(&app).await;
        let mut made = Vec::new();
        for number in 0..57 {
            made.push(open_ticket(&app, &desk.admin, desk.support, &format!("Question {number}")).await);
            if number % 10 == 0 {
                app.advance_clock(std::time::Duration::from_millis(5));
            }
        }
        let admin = actor_of(&desk.admin);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = app.app.list_tickets(&admin, &ferrodesk_app::TicketListQuery { after: after.clone(), ..Default::default() }).await.unwrap();
            assert_eq!(page.total, 57);
            seen.extend(page.tickets.iter().map(|ticket| (ticket.updated_at, ticket.id, ticket.reference.clone())));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 57);
        let mut sorted = seen.clone();
        sorted.sort_by_key(|ticket| std::cmp::Reverse((ticket.0, ticket.1)));
        assert_eq!(seen, sorted, "newest first, no repeats");
        // From the oldest page back to the newest, the same pages in turn.
        let mut pages = Vec::new();
        let mut cursor = ferrodesk_app::TicketListQuery::default();
        loop {
            let page = app.app.list_tickets(&admin, &cursor).await.unwrap();
            pages.push(page.tickets.iter().map(|ticket| ticket.id).collect::<Vec<_>>());
            match page.next {
                Some(next) => cursor = ferrodesk_app::TicketListQuery { after: Some(next), ..Default::default() },
                None => break,
            }
        }
        let mut back = app.app.list_tickets(&admin, &cursor).await.unwrap();
        let mut walked_back = vec![back.tickets.iter().map(|ticket| ticket.id).collect::<Vec<_>>()];
        while let Some(previous) = back.previous {
            back = app.app.list_tickets(&admin, &ferrodesk_app::TicketListQuery { before: Some(previous), ..Default::default() }).await.unwrap();
            walked_back.push(back.tickets.iter().map(|ticket| ticket.id).collect());
        }
        walked_back.reverse();
        assert_eq!(walked_back, pages, "newer pages lead back the way older ones came");

        // A ticket opened from a filtered list leads back to that list, at its row.
        let browser = signed_in(&app, "admin@example.org").await;
        let list = browser.get(&app, "/agent/tickets?status=any&urgency=2").await.text().await.unwrap();
        let link = list.split("class=\"row-link\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
        let reference = link.trim_start_matches("/agent/tickets/").split('?').next().unwrap().to_owned();
        let ticket = browser.get(&app, &link).await.text().await.unwrap();
        let back = ticket.split("id=\"back-to-list\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&#38;", "&");
        assert!(back.starts_with("/agent/tickets?view=&status=any") && back.contains("urgency=2"), "{back}");
        assert!(back.ends_with(&format!("#t-{reference}")), "{back}");
        let crafted = browser.get(&app, &format!("/agent/tickets/{reference}?list=%22%3E%3Cscript%3E")).await.text().await.unwrap();
        assert!(crafted.contains(&format!("href=\"/agent/tickets#t-{reference}\"")), "anything but a list's own query goes back to the plain list");
        let bad = app.app.list_tickets(&admin, &ferrodesk_app::TicketListQuery { after: Some("yesterday".into()), ..Default::default() }).await;
        assert!(matches!(bad, Err(ferrodesk_app::AppError::Invalid(_))));

        let browser = signed_in(&app, "admin@example.org").await;
        let first = browser.get(&app, "/agent/tickets").await.text().await.unwrap();
        let next = first.split("id=\"next-page\"").next().unwrap();
        let link = next.rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&").replace("&#38;", "&");
        let second = browser.get(&app, &link).await;
        assert_eq!(second.status(), 200, "{link}");
        let second = second.text().await.unwrap();
        assert!(second.contains(&made[0]), "the oldest is on the second page: {link}");
        assert_eq!(browser.get(&app, "/agent/tickets?urgency=lots").await.status(), 400);
        assert_eq!(browser.get(&app, "/agent/tickets?status=open").await.status(), 400);
        let _ = (desk.bob, desk.carol, desk.sales);
    }

    async fn a_reply_written_meanwhile_is_not_overwritten(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.alice, desk.support, "Race").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let page = format!("/agent/tickets/{reference}");
        let opened = alice.get(&app, &page).await.text().await.unwrap();
        let seen = opened.split("name=\"seen_message_id\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let admin = actor_of(&desk.admin);
        app.app.reply_to_ticket(&Caller::new(&admin, ""), &crate::helpers::ticket_key(&reference), &crate::helpers::reply_with("Already answered.")).await.unwrap();
        let late = alice.post(&app, &format!("{page}/reply"), &[("csrf_token", &csrf_token_in(&opened)), ("kind", "reply"), ("seen_message_id", &seen), ("body", "My answer")]).await;
        assert_eq!(late.status(), 409);
        let shown = late.text().await.unwrap();
        assert!(shown.contains("Someone added to this ticket") && shown.contains("My answer"), "the draft is kept");
        assert!(shown.contains("Already answered."), "and the new message shown");
    }

    async fn visitors_and_users_never_reach_the_ticket_pages(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.alice, desk.support, "Private").await;
        let visitor = Browser::new();
        for path in ["/agent/tickets", "/agent/tickets/new", &format!("/agent/tickets/{reference}")] {
            let response = visitor.get(&app, path).await;
            assert_eq!(response.status(), 303, "{path}");
            assert!(location(&response).starts_with("/agent/login"));
        }
        app.create_account("user@example.org", "Uma User", AccountKind::User).await;
        let user = Browser::new();
        assert_eq!(user.log_in(&app, "user@example.org", PASSWORD).await.status(), 401, "users cannot use the staff login");
        let token = visitor.csrf(&app, "/agent/login").await;
        for action in ["reply", "properties", "follow"] {
            let response = visitor.post(&app, &format!("/agent/tickets/{reference}/{action}"), &[("csrf_token", &token), ("body", "x"), ("kind", "reply")]).await;
            assert_eq!(response.status(), 303, "{action}");
        }
        let made = visitor.post(&app, "/agent/tickets/new", &[("csrf_token", &token), ("subject", "x")]).await;
        assert_eq!(made.status(), 303);
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().len(), 1, "nothing was written");
    }
}
