//! Live updates on both databases: `/agent/events` streams the ticket
//! events each agent may see and nothing else, resumes after a
//! `Last-Event-ID`, refuses foreign pages, and reaches the streams of
//! another node on the same database.

use std::time::Duration;

use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{desk, open_ticket, post_on, signed_in};

/// One server-sent event: its id, type and data.
#[derive(Debug, Clone)]
struct Sent {
    id: Option<String>,
    event: String,
    data: serde_json::Value,
}

/// An open event stream and what it has sent so far.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, browser: &Browser, last_event_id: Option<&str>) -> Stream {
        Stream::open_at(app, browser, "/agent/events", last_event_id).await
    }

    async fn open_at(
        app: &TestApp,
        browser: &Browser,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Stream {
        let mut request = browser.client.get(app.url(path));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The events sent within `within`, stopping early once `wanted` came.
    async fn read(&mut self, wanted: usize, within: Duration) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + within;
        let mut sent = Vec::new();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("event:") {
                        event = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if !event.is_empty() {
                    sent.push(Sent {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
            }
            if sent.len() >= wanted {
                return sent;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return sent,
            }
        }
    }
}

/// The names in the last presence event sent, with "(typing)" for those typing.
fn present(sent: &[Sent]) -> Vec<String> {
    let last = sent
        .iter()
        .rev()
        .find(|event| event.event == "presence")
        .expect("a presence event");
    last.data["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|agent| {
            let name = agent["name"].as_str().unwrap().to_owned();
            if agent["typing"] == true {
                format!("{name} (typing)")
            } else {
                name
            }
        })
        .collect()
}

fn subjects(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|event| {
            format!(
                "{} {}",
                event.data["kind"].as_str().unwrap(),
                event.data["subject"].as_str().unwrap()
            )
        })
        .collect()
}

on_both_backends! { spawn_app;

    async fn each_agent_hears_of_the_tickets_they_may_see_and_no_others(app: TestApp) {
        let desk = desk(&app).await;
        let alice = signed_in(&app, "alice@example.org").await;
        let bob = signed_in(&app, "bob@example.org").await;
        let carol = signed_in(&app, "carol@example.org").await;
        let mut alice_stream = Stream::open(&app, &alice, None).await;
        let mut bob_stream = Stream::open(&app, &bob, None).await;
        let mut carol_stream = Stream::open(&app, &carol, None).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let mut admin_stream = Stream::open(&app, &admin, None).await;

        // A Support ticket, then a Sales one assigned to Bob. An event
        // carries its ticket as it is when the node reads it, so the deal
        // is given to Bob once its creation was read (the admin heard it):
        // read later, the creation too would be Bob's to hear.
        let printer = open_ticket(&app, &desk.admin, desk.support, "Printer on fire").await;
        let deal = open_ticket(&app, &desk.admin, desk.sales, "Secret deal").await;
        let created = admin_stream.read(2, Duration::from_secs(5)).await;
        assert_eq!(subjects(&created), vec!["created Printer on fire", "created Secret deal"]);
        app.app.change_ticket(
            &ferrodesk_app::Caller::new(&crate::tickets::actor_of(&desk.admin), ""),
            &crate::helpers::ticket_key(&deal),
            &crate::helpers::assignment(desk.sales, desk.bob.id),
        ).await.unwrap();

        let heard = alice_stream.read(1, Duration::from_secs(5)).await;
        assert_eq!(subjects(&heard), vec!["created Printer on fire"]);
        assert_eq!(heard[0].event, "ticket");
        assert_eq!(heard[0].data["reference"], printer.as_str());
        assert_eq!(heard[0].data["actor"], "Uma User", "who wrote the first message");
        let first_id = heard[0].id.clone().unwrap();
        // Bob hears of the deal once it is his, and never of the printer.
        let heard = bob_stream.read(1, Duration::from_secs(5)).await;
        assert_eq!(subjects(&heard), vec!["changed Secret deal"], "not its creation, before it was his");
        assert!(carol_stream.read(1, Duration::from_millis(1500)).await.is_empty(), "Carol sees no department");
        assert!(alice_stream.read(1, Duration::from_millis(300)).await.is_empty(), "Alice never hears of Sales");

        // A reply and a note, with who wrote them.
        let path = format!("/agent/tickets/{printer}");
        post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "note"), ("body", "On it.")]).await;
        let heard = alice_stream.read(1, Duration::from_secs(5)).await;
        assert_eq!(subjects(&heard), vec!["noted Printer on fire"]);
        assert_eq!(heard[0].data["actor_id"], desk.alice.id);

        // A browser that reconnects gets what it missed, in order.
        let mut again = Stream::open(&app, &alice, Some(&first_id)).await;
        let heard = again.read(1, Duration::from_secs(5)).await;
        assert_eq!(subjects(&heard), vec!["noted Printer on fire"]);

        // Events no longer kept: the page is told to reload.
        let everything = ferrodesk_core::Timestamp(app.app.now().millis() + 1);
        app.app.store().tickets().prune_ticket_events(everything).await.unwrap();
        app.advance_clock(Duration::from_secs(1));
        open_ticket(&app, &desk.admin, desk.support, "Scanner").await;
        let mut late = Stream::open(&app, &alice, Some(&first_id)).await;
        let heard = late.read(2, Duration::from_secs(5)).await;
        assert_eq!(heard[0].event, "reset", "{heard:?}");
        assert_eq!(subjects(&heard[1..]), vec!["created Scanner"]);

        // Only the staff session, only from the helpdesk's pages.
        let visitor = Browser::new();
        let refused = visitor.get(&app, "/agent/events").await;
        assert_eq!(refused.status(), 303);
        assert!(location(&refused).starts_with("/agent/login"));
        for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
            let foreign = alice.client.get(app.url("/agent/events")).header(header, value).send().await.unwrap();
            assert_eq!(foreign.status(), 403, "{header}");
        }
        let own = alice.client.get(app.url("/agent/events")).header("origin", app.url("")).header("sec-fetch-site", "same-origin").send().await.unwrap();
        assert_eq!(own.status(), 200);
    }
}

on_both_backends! { spawn_app;

    async fn agents_on_one_ticket_see_each_other_and_who_is_typing(app: TestApp) {
        let desk = desk(&app).await;
        let printer = open_ticket(&app, &desk.admin, desk.support, "Printer on fire").await;
        let path = format!("/agent/events?ticket={printer}");
        let alice = signed_in(&app, "alice@example.org").await;
        let admin = signed_in(&app, "admin@example.org").await;
        let mut alice_stream = Stream::open_at(&app, &alice, &path, None).await;
        let first = alice_stream.read(1, Duration::from_secs(5)).await;
        assert!(present(&first).is_empty(), "nobody else yet: {first:?}");

        let mut admin_stream = Stream::open_at(&app, &admin, &path, None).await;
        let heard = alice_stream.read(1, Duration::from_secs(5)).await;
        assert_eq!(present(&heard), vec!["Ada Admin"]);
        assert_eq!(present(&admin_stream.read(1, Duration::from_secs(5)).await), vec!["Alice Agent"]);

        // Typing is passed on; only for those who may write on the ticket.
        let typed = post_on(&app, &admin, &format!("/agent/tickets/{printer}"), &format!("/agent/tickets/{printer}/typing"), &[]).await;
        assert_eq!(typed.status(), 204);
        assert_eq!(present(&alice_stream.read(1, Duration::from_secs(5)).await), vec!["Ada Admin (typing)"]);
        let carol = signed_in(&app, "carol@example.org").await;
        assert_eq!(post_on(&app, &carol, "/agent", &format!("/agent/tickets/{printer}/typing"), &[]).await.status(), 404);
        assert_eq!(carol.get(&app, &path).await.status(), 404, "no stream on a ticket Carol may not see");
        assert_eq!(alice.post(&app, &format!("/agent/tickets/{printer}/typing"), &[]).await.status(), 403, "no token, no typing");

        // Leaving is passed on too.
        drop(admin_stream);
        let heard = alice_stream.read(1, Duration::from_secs(5)).await;
        assert!(present(&heard).is_empty(), "{heard:?}");
    }

    async fn an_event_whose_write_commits_late_still_comes_first(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let mut stream = Stream::open(&app, &admin, None).await;
        let slowly = open_ticket(&app, &desk.admin, desk.support, "Written slowly").await;
        assert_eq!(subjects(&stream.read(1, Duration::from_secs(5)).await), vec!["created Written slowly"]);
        let last_heard;
        if app.database.backend == ferrodesk_testkit::Backend::Postgres {
            use sqlx::Connection;
            // A write that took its event id and has not committed yet (ids
            // come in the order transactions ask, not the order they commit).
            let mut slow = sqlx::PgConnection::connect(&app.database.url).await.unwrap();
            let take_an_id = "INSERT INTO ticket_events (ticket_id, kind, actor_id, occurred_at) \
                 SELECT id, 'changed', NULL, updated_at FROM tickets WHERE reference = $1 RETURNING id";
            sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
            let held: i64 = sqlx::query_scalar(take_an_id).bind(&slowly).fetch_one(&mut slow).await.unwrap();
            open_ticket(&app, &desk.admin, desk.support, "Written quickly").await;
            assert!(stream.read(1, Duration::from_millis(800)).await.is_empty(), "nothing passes the write still open");
            assert!(app.app.ticket_events_handed_out() < held);
            sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
            let heard = stream.read(2, Duration::from_secs(5)).await;
            assert_eq!(subjects(&heard), vec!["changed Written slowly", "created Written quickly"]);
            assert_eq!(heard[0].id.as_deref(), Some(held.to_string().as_str()));

            // A write that rolled back leaves a hole for good: the reader
            // waits a moment for it, then steps over.
            sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
            sqlx::query_scalar::<_, i64>(take_an_id).bind(&slowly).fetch_one(&mut slow).await.unwrap();
            sqlx::query("ROLLBACK").execute(&mut slow).await.unwrap();
            open_ticket(&app, &desk.admin, desk.support, "After a rollback").await;
            let heard = stream.read(1, Duration::from_secs(8)).await;
            assert_eq!(subjects(&heard), vec!["created After a rollback"]);
            last_heard = heard[0].id.clone();
        } else {
            // One writer at a time: ids come in commit order.
            open_ticket(&app, &desk.admin, desk.support, "Written quickly").await;
            let heard = stream.read(1, Duration::from_secs(5)).await;
            assert_eq!(subjects(&heard), vec!["created Written quickly"]);
            last_heard = heard[0].id.clone();
        }
        // What was handed out is where a page's updates start.
        let last_heard = last_heard.expect("an event id");
        assert_eq!(app.app.ticket_events_handed_out().to_string(), last_heard);
        let list = admin.get(&app, "/agent/tickets").await.text().await.unwrap();
        assert!(list.contains(&format!("/agent/events?after={last_heard}\"")), "the list starts its updates there");
    }

    async fn tickets_written_at_once_each_reach_a_stream_once_in_id_order(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let mut stream = Stream::open(&app, &admin, None).await;
        // Sixteen writers at once: on PostgreSQL their ids and commits
        // interleave in any order. All write for one new address: the
        // first makes the user, the others (racing it) find them.
        let writers: Vec<_> = (0..16)
            .map(|writer| {
                let app = app.app.clone();
                let actor = crate::tickets::actor_of(&desk.admin);
                let support = desk.support;
                tokio::spawn(async move {
                    let caller = ferrodesk_app::Caller::new(&actor, "192.0.2.7");
                    for number in 0..8 {
                        let subject = format!("Batch {writer}-{number}");
                        let ticket = crate::helpers::new_ticket("nina@example.net", "Nina New", &subject, support, 3);
                        app.create_ticket_for_user(&caller, &ticket).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let heard = stream.read(128, Duration::from_secs(15)).await;
        let ids: Vec<i64> = heard.iter().map(|event| event.id.as_deref().unwrap().parse().unwrap()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "in id order: {ids:?}");
        let mut subjects = subjects(&heard);
        subjects.sort_unstable();
        subjects.dedup();
        assert_eq!(subjects.len(), 128, "each ticket once: {subjects:?}");
        assert!(stream.read(1, Duration::from_millis(500)).await.is_empty(), "and nothing more");
    }

    async fn another_node_hears_of_a_ticket_opened_here(app: TestApp) {
        let desk = desk(&app).await;
        let (other, workers) = app.another_node("smtp://127.0.0.1:9?from=help@example.org").await;
        let mut heard = other.subscribe_ticket_events();
        let started = std::time::Instant::now();
        let reference = open_ticket(&app, &desk.admin, desk.support, "Across nodes").await;
        let event = tokio::time::timeout(Duration::from_secs(5), heard.recv()).await.expect("heard in time").unwrap();
        assert_eq!(event.reference.to_string(), reference);
        assert_eq!(event.kind, "created");
        let took = started.elapsed();
        if app.database.backend == ferrodesk_testkit::Backend::Postgres {
            assert!(took < Duration::from_millis(900), "NOTIFY wakes the other node before its poll: {took:?}");
            // Presence crosses nodes too (on SQLite there is one process).
            let key = crate::helpers::ticket_key(&reference);
            let here = app.app.watch_ticket(&crate::tickets::actor_of(&desk.alice), &key).await.unwrap();
            let mut changes = app.app.subscribe_presence();
            let there = other.watch_ticket(&crate::tickets::actor_of(&desk.admin), &key).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), changes.recv()).await.expect("news from the other node").unwrap();
            let names: Vec<String> = app.app.present_on(&here).into_iter().map(|agent| agent.name).collect();
            assert_eq!(names, vec!["Ada Admin"]);
            drop(there);
            tokio::time::timeout(Duration::from_secs(5), changes.recv()).await.expect("the leaving too").unwrap();
            assert!(app.app.present_on(&here).is_empty());
        }
        workers.shut_down().await;
    }
}
