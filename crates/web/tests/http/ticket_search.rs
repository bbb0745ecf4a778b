//! Ticket search on both databases: words in subjects, replies and notes,
//! phrases, negation and filters; the index follows every change in the
//! change's own transaction; and nothing outside an agent's departments
//! shows through results, counts, snippets or the reference jump.

use ferrodesk_app::Caller;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{actor_of, desk, open_ticket, post_on, signed_in};

/// The search page's text for `query`, as `browser` sees it.
async fn search(app: &TestApp, browser: &Browser, query: &str) -> String {
    let encoded = serde_urlencoded::to_string([("q", query)]).unwrap();
    let response = browser.get(app, &format!("/agent/search?{encoded}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.text().await.unwrap()
}

/// The references a results page lists.
fn found(page: &str) -> Vec<String> {
    page.split("<li id=\"r-")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

on_both_backends! { spawn_app;

    async fn agents_find_tickets_by_any_word_and_only_the_ones_they_may_see(app: TestApp) {
        let desk = desk(&app).await;
        let printer = open_ticket(&app, &desk.admin, desk.support, "Printer jams on floor three").await;
        let invoice = open_ticket(&app, &desk.admin, desk.sales, "Invoice for zebra stripes").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let path = format!("/agent/tickets/{printer}");
        let noted = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "note"), ("body", "The customer mentioned a <b>zebra</b> sticker on the tray.")]).await;
        assert_eq!(noted.status(), 303);

        // A word in a note, found at once, with the note quoted and escaped.
        let page = search(&app, &alice, "zebra").await;
        assert_eq!(found(&page), vec![printer.clone()], "the Sales ticket is not Alice's to see");
        assert!(page.contains("<mark>zebra</mark>") && page.contains("&lt;b&gt;"), "{page}");
        assert!(page.contains("1 ticket"), "counts only what she may see");
        let admin = signed_in(&app, "admin@example.org").await;
        let mut both = found(&search(&app, &admin, "zebra").await);
        both.sort();
        let mut expected = vec![printer.clone(), invoice.clone()];
        expected.sort();
        assert_eq!(both, expected);
        // Bob (assign-only in Sales) and Carol (no department) learn nothing.
        for agent in ["bob@example.org", "carol@example.org"] {
            let browser = signed_in(&app, agent).await;
            for query in ["zebra", "invoice", "status:open", &invoice, "department:Sales"] {
                let page = search(&app, &browser, query).await;
                assert!(found(&page).is_empty(), "{agent} {query}");
                assert!(!page.contains("stripes") && !page.contains("Printer"), "{agent} {query}");
                // The same search as a list (or a saved view): no row, no count.
                let list = browser.get(&app, &format!("/agent/tickets?status=any&q={}", percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC))).await.text().await.unwrap();
                assert!(!list.contains("stripes") && !list.contains("Printer") && !list.contains("id=\"t-"), "{agent} {query}");
                assert!(list.contains("All <span class=\"count\">0</span>"), "{agent} {query}");
            }
        }

        // Phrases, negation, notes only, prefixes.
        assert_eq!(found(&search(&app, &alice, "\"floor three\"").await), vec![printer.clone()]);
        assert!(found(&search(&app, &alice, "\"three floor\"").await).is_empty());
        assert!(found(&search(&app, &alice, "printer -sticker").await).is_empty());
        assert!(found(&search(&app, &alice, "print").await).is_empty(), "words match whole");
        assert_eq!(found(&search(&app, &alice, "print*").await), vec![printer.clone()], "a star makes a prefix");
        assert!(found(&search(&app, &alice, "is:note printer").await).is_empty(), "printer is in the subject only");
        assert_eq!(found(&search(&app, &alice, "is:note zebra").await), vec![printer.clone()]);
        // Requester, reference words and filters.
        assert_eq!(found(&search(&app, &alice, "uma").await), vec![printer.clone()]);
        for query in ["from:uma@example.org", "from:example.org printer", "status:open", "urgency:>=3 printer", "agent:none", "created:<1d", "department:support"] {
            assert_eq!(found(&search(&app, &alice, query).await), vec![printer.clone()], "{query}");
        }
        for query in ["status:resolved printer", "urgency:>5", "agent:me", "from:example.net", "has:attachment", "label:vip", "created:>2999-01-01"] {
            assert!(found(&search(&app, &alice, query).await).is_empty(), "{query}");
        }
        let page = search(&app, &alice, "department:Nowhere printer").await;
        assert!(page.contains("No department is called") && found(&page).is_empty());

        // The index follows a reply and a change of labels at once.
        let replied = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "Please try the kiwi tray.")]).await;
        assert_eq!(replied.status(), 303);
        assert_eq!(found(&search(&app, &alice, "kiwi").await), vec![printer.clone()]);
        // Snippets come from the message holding the word, whatever its
        // case, and from any message when the word is not plain ASCII.
        let replied = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "Die Größe passt: the MANGO tray.")]).await;
        assert_eq!(replied.status(), 303);
        assert!(search(&app, &alice, "kiwi").await.contains("<mark>kiwi</mark>"));
        assert!(search(&app, &alice, "mango").await.contains("<mark>MANGO</mark>"));
        assert!(search(&app, &alice, "größe").await.contains("<mark>Größe</mark>"));
        // A phrase's snippet comes from the message holding the phrase, not
        // from an earlier one holding one of its words.
        for body in ["Our tray is broken.", "Swapping it fixed the broken tray for now."] {
            let replied = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", body)]).await;
            assert_eq!(replied.status(), 303);
        }
        let page = search(&app, &alice, "\"broken tray\"").await;
        assert!(page.contains("fixed the <mark>broken</mark> <mark>tray</mark>") && !page.contains("Our <mark>tray</mark>"), "{page}");
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&printer)).await.unwrap().unwrap();
        let change = ferrodesk_app::TicketChange {
            labels: Some(Ok(ferrodesk_core::Labels::parse(["hardware"]).unwrap())),
            ..ferrodesk_app::TicketChange::default()
        };
        app.app.change_ticket(&Caller::new(&actor_of(&desk.alice), "192.0.2.10"), &ferrodesk_app::TicketKey::Id(ticket.id), &change).await.unwrap();
        assert_eq!(found(&search(&app, &alice, "label:hardware").await), vec![printer.clone()]);
        assert_eq!(found(&search(&app, &alice, "hardware").await), vec![printer.clone()], "labels are words too");

        // A reference alone opens its ticket, for those who may see it.
        let jump = alice.get(&app, &format!("/agent/search?q={printer}")).await;
        assert_eq!(jump.status(), 303);
        assert_eq!(location(&jump), format!("/agent/tickets/{printer}"));
        let carol = signed_in(&app, "carol@example.org").await;
        assert_eq!(carol.get(&app, &format!("/agent/search?q={printer}")).await.status(), 200, "no jump, no hint");

        // Anything typed is a query.
        for query in ["'; DROP TABLE tickets; --", "NEAR(a b", "{notes}:x", "\"", "-", "status:", "a\u{0}b", "\u{202e}x", "* OR *", "printer:* & !x"] {
            search(&app, &alice, query).await;
        }
        // Visitors and users never reach it.
        let visitor = Browser::new();
        assert_eq!(visitor.get(&app, "/agent/search?q=zebra").await.status(), 303);
    }
}

on_both_backends! { spawn_app;

    async fn many_matches_come_newest_first_a_page_at_a_time(app: TestApp) {
        let desk = desk(&app).await;
        let mut opened = Vec::new();
        for number in 0..30 {
            opened.push(open_ticket(&app, &desk.admin, desk.support, &format!("Login trouble {number}")).await);
        }
        let alice = signed_in(&app, "alice@example.org").await;
        let first = search(&app, &alice, "login").await;
        assert!(first.contains("30 tickets"), "{first}");
        let shown = found(&first);
        assert_eq!(shown.len(), 25);
        let next = first.split("id=\"next-page\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&");
        let second = found(&alice.get(&app, &next).await.text().await.unwrap());
        assert_eq!(second.len(), 5, "{next}");
        let mut all: Vec<String> = shown.into_iter().chain(second).collect();
        all.sort();
        opened.sort();
        assert_eq!(all, opened, "every ticket once across the pages");
    }
}

on_both_backends! { spawn_app;

    async fn a_searchs_count_is_kept_only_while_no_ticket_changes(app: TestApp) {
        let desk = desk(&app).await;
        let mut opened = Vec::new();
        for number in 0..3 {
            opened.push(open_ticket(&app, &desk.admin, desk.support, &format!("Kiosk screen {number}")).await);
        }
        let sold = open_ticket(&app, &desk.admin, desk.sales, "Kiosk order").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let admin = signed_in(&app, "admin@example.org").await;
        // Filters alone are counted (up to 200) and the count is kept per
        // visibility: the admin's count is never Alice's.
        assert!(search(&app, &admin, "status:open").await.contains("4 tickets"));
        assert!(search(&app, &alice, "status:open").await.contains("3 tickets"), "only Support is hers");
        assert!(search(&app, &admin, "status:open").await.contains("4 tickets"));
        // A new ticket and a status change each show in the next count.
        opened.push(open_ticket(&app, &desk.admin, desk.support, "Kiosk screen 3").await);
        assert!(search(&app, &alice, "status:open").await.contains("4 tickets"));
        assert!(search(&app, &admin, "status:open").await.contains("5 tickets"));
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&opened[0])).await.unwrap().unwrap();
        let change = ferrodesk_app::TicketChange {
            status: Some(Ok(ferrodesk_core::TicketStatus::Resolved)),
            ..ferrodesk_app::TicketChange::default()
        };
        app.app.change_ticket(&Caller::new(&actor_of(&desk.alice), "192.0.2.10"), &ferrodesk_app::TicketKey::Id(ticket.id), &change).await.unwrap();
        let page = search(&app, &alice, "status:open").await;
        assert!(page.contains("3 tickets"), "{page}");
        assert!(!found(&page).contains(&opened[0]) && !found(&page).contains(&sold));
    }

    async fn the_api_searches_with_the_keys_agent_and_scopes(app: TestApp) {
        let desk = desk(&app).await;
        let printer = open_ticket(&app, &desk.admin, desk.support, "Printer jams on floor three").await;
        let _invoice = open_ticket(&app, &desk.admin, desk.sales, "Invoice for zebra printer").await;
        let alice = crate::api::key_for(&app, "alice@example.org", "tickets.*").await;
        let get = |key: String, query: &'static str| {
            let app = &app;
            async move {
                let (status, _, body) = crate::api::call(app, &key, reqwest::Method::GET, &format!("/api/v2/search?{query}"), None).await;
                (status, body)
            }
        };
        let (status, body) = get(alice.clone(), "q=printer").await;
        assert_eq!(status, 200, "{body}");
        let tickets = body["tickets"].as_array().unwrap();
        assert_eq!(tickets.len(), 1, "{body}");
        assert_eq!(tickets[0]["ticket"]["reference"], printer.as_str());
        assert_eq!(body["meta"]["total"], 1);
        assert_eq!(body["meta"]["ranked"], true);
        let (_, body) = get(alice.clone(), "q=department:Nowhere").await;
        assert!(body["meta"]["notices"][0].as_str().unwrap().contains("No department"));
        // A reference alone answers that ticket.
        let (status, _, body) = crate::api::call(&app, &alice, reqwest::Method::GET, &format!("/api/v2/search?q={printer}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(body["tickets"][0]["ticket"]["reference"], printer.as_str());
        // Scopes: a tickets key cannot search people; input the document
        // rules out is a 400.
        let (status, _) = get(alice.clone(), "q=uma&type=people").await;
        assert_eq!(status, 403);
        let (status, body) = get(alice.clone(), "q=x&type=widgets").await;
        assert_eq!(status, 400, "{body}");
        // A cursor is opaque: one that names no page is well formed, 422.
        let (status, _) = get(alice.clone(), "q=x&cursor=zzz").await;
        assert_eq!(status, 422);
        let admin = crate::api::key_for(&app, "admin@example.org", "*").await;
        let (status, body) = get(admin, "q=uma&type=people").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["people"][0]["email"], "uma@example.org");
        // Bob's key sees nothing of Support, nor Sales tickets not his.
        let bob = crate::api::key_for(&app, "bob@example.org", "tickets.*").await;
        let (status, body) = get(bob, "q=printer").await;
        assert_eq!(status, 200);
        assert_eq!(body["tickets"].as_array().unwrap().len(), 0);
        assert_eq!(body["meta"]["total"], 0);
    }
}

on_both_backends! { spawn_app;

    async fn words_with_many_matches_list_the_newest_opened_first_within_visibility(app: TestApp) {
        use ferrodesk_store::{SearchCounting, SearchOrder, SearchPosition, TextQuery, TextTerm, TicketFilter, TicketSearch, Visibility};
        let desk = desk(&app).await;
        let mut support = Vec::new();
        for number in 0..12 {
            support.push(open_ticket(&app, &desk.admin, desk.support, &format!("Login trouble {number}")).await);
            open_ticket(&app, &desk.admin, desk.sales, &format!("Login trouble in sales {number}")).await;
        }
        let search = TicketSearch {
            base: TicketFilter { statuses: ferrodesk_core::TicketStatus::VISIBLE.to_vec(), ..TicketFilter::default() },
            filters: Vec::new(),
            text: TextQuery { all_of: vec![TextTerm { words: vec!["login".into()], prefix: false }], ..TextQuery::default() },
        };
        // Alice sees Support only.
        let alice = Visibility::Limited { agent_id: desk.alice.id, full_departments: vec![desk.support], assign_departments: Vec::new(), team_ids: Vec::new() };
        let tickets = app.app.store().tickets();
        let mut seen = Vec::new();
        let mut position = SearchPosition { limit: 5, ..SearchPosition::default() };
        loop {
            // A ranking cap of 3 makes 24 matches "many".
            let page = tickets.search_tickets(&alice, &search, position, SearchCounting::caps(3, 1000)).await.unwrap();
            assert_eq!(page.order, SearchOrder::Opened);
            assert_eq!(page.total, 12, "only hers are counted");
            let ids: Vec<i64> = page.tickets.iter().map(|ticket| ticket.id).collect();
            assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "newest opened first: {ids:?}");
            seen.extend(page.tickets.iter().map(|ticket| ticket.reference.to_string()));
            match page.tickets.last() {
                Some(last) if page.tickets.len() == 5 => position.after_id = Some(last.id),
                _ => break,
            }
        }
        support.reverse();
        assert_eq!(seen, support, "every one of hers once, none of Sales");
        let everything = tickets.search_tickets(&Visibility::Everything, &search, SearchPosition { limit: 50, ..SearchPosition::default() }, SearchCounting::caps(3, 1000)).await.unwrap();
        assert_eq!((everything.tickets.len(), everything.total), (24, 24));
        // Few matches: ranked.
        let ranked = tickets.search_tickets(&alice, &search, SearchPosition { limit: 50, ..SearchPosition::default() }, SearchCounting::caps(1000, 1000)).await.unwrap();
        assert_eq!((ranked.order, ranked.total), (SearchOrder::Ranked, 12));
        // A count already known (kept from an earlier page) is not made
        // again; a ranked count always is (it costs nothing more).
        let known = SearchCounting { known_total: Some(99), ..SearchCounting::caps(3, 1000) };
        let kept = tickets.search_tickets(&alice, &search, SearchPosition { limit: 5, ..SearchPosition::default() }, known).await.unwrap();
        assert_eq!((kept.order, kept.total, kept.tickets.len()), (SearchOrder::Opened, 99, 5));
        let known = SearchCounting { known_total: Some(99), ..SearchCounting::caps(1000, 1000) };
        let ranked = tickets.search_tickets(&alice, &search, SearchPosition { limit: 5, ..SearchPosition::default() }, known).await.unwrap();
        assert_eq!((ranked.order, ranked.total), (SearchOrder::Ranked, 12));
        // Words common in a large database are read by a kept statement
        // with one plan (PostgreSQL); it finds what the planned one finds,
        // also once PostgreSQL has settled on its generic plan (after five).
        if matches!(app.app.store().backend_name(), "postgres") {
            let planned = tickets.search_tickets(&Visibility::Everything, &search, SearchPosition { limit: 5, ..SearchPosition::default() }, SearchCounting::caps(3, 1000)).await.unwrap();
            for _ in 0..8 {
                let kept = tickets.search_as_kept_walk(&search, SearchPosition { limit: 5, ..SearchPosition::default() }, 1000).await.unwrap();
                let ids = |results: &ferrodesk_store::SearchResults| results.tickets.iter().map(|ticket| ticket.id).collect::<Vec<_>>();
                assert_eq!((ids(&kept), kept.total, kept.order), (ids(&planned), 24, SearchOrder::Opened));
                let last = kept.tickets.last().unwrap().id;
                let next = tickets.search_as_kept_walk(&search, SearchPosition { limit: 5, after_id: Some(last), ..SearchPosition::default() }, 1000).await.unwrap();
                assert!(next.tickets.iter().all(|ticket| ticket.id < last) && next.tickets.len() == 5);
            }
        }
    }
}
