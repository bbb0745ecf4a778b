//! Live chat on both databases, over real WebSockets: a visitor starts a
//! chat, an agent of its department accepts and answers, the visitor
//! ends it and its transcript is a ticket of the department. Agents
//! without the department learn nothing; a visitor reaches no chat but
//! their own; foreign pages cannot open either socket.

use std::time::Duration;

use ferrodesk_app::Caller;
use ferrodesk_app::chat::ChatSettingsInput;
use ferrodesk_testkit::on_both_backends;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::security::Browser;
use crate::tickets::desk;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A signed-in agent's staff cookie, as their browser would send it.
async fn staff_cookie(app: &TestApp, email: &str) -> String {
    let browser = Browser::new();
    let response = browser.log_in(app, email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.contains("ferrodesk-staff"))
        .and_then(|value| value.split(';').next())
        .expect("a staff session cookie")
        .to_owned()
}

/// Opens a socket at `path` as a page at `origin` would, with `cookie`.
async fn open(
    app: &TestApp,
    path: &str,
    origin: &str,
    cookie: Option<&str>,
) -> Result<Socket, u16> {
    open_at(&app.url(""), path, origin, cookie).await
}

/// The same on the node at `address`.
async fn open_at(
    address: &str,
    path: &str,
    origin: &str,
    cookie: Option<&str>,
) -> Result<Socket, u16> {
    let mut request = format!("{address}{path}")
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("cannot open {path}: {other}"),
    }
}

async fn say(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON frame within `within`, if one comes.
async fn heard(socket: &mut Socket, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(serde_json::from_str(text.as_str()).unwrap());
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Frames until one of `kind` comes (within five seconds).
async fn heard_kind(socket: &mut Socket, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = heard(socket, left)
            .await
            .unwrap_or_else(|| panic!("no {kind} frame"));
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// Nothing but pings within `within`.
async fn hears_nothing(socket: &mut Socket, within: Duration) {
    if let Some(frame) = heard(socket, within).await {
        panic!("expected silence, heard {frame}");
    }
}

async fn offer_chat(app: &TestApp, departments: &[i64]) {
    app.app
        .set_chat_settings(
            &Caller::system(),
            &ChatSettingsInput {
                enabled: true,
                department_ids: departments.iter().map(i64::to_string).collect(),
                wait_seconds: "60".to_owned(),
                welcome: "Hello".to_owned(),
                allowed_origins: "https://shop.example.com".to_owned(),
                chats_per_agent: "1".to_owned(),
            },
        )
        .await
        .unwrap();
}

on_both_backends! { spawn_app;

    async fn a_visitor_and_an_agent_chat_and_the_transcript_is_a_ticket(app: TestApp) {
        let desk = desk(&app).await;
        let own = app.url("");
        // Chat is off on a fresh install: the page says so, the socket starts nothing.
        let page = app.get("/chat").await.text().await.unwrap();
        assert!(page.contains("Chat is not offered right now"), "{page}");
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut visitor, json!({"type": "start", "name": "Vera Visitor", "email": "vera@example.net", "message": "Hi"})).await;
        assert_eq!(heard_kind(&mut visitor, "error").await["message"], "Chat is not offered right now; send a request instead.");

        offer_chat(&app, &[desk.support]).await;
        let alice = staff_cookie(&app, "alice@example.org").await;
        let bob = staff_cookie(&app, "bob@example.org").await;
        // Alice has Support, Bob only Sales.
        let mut alice_socket = open(&app, "/agent/chat/socket", &own, Some(&alice)).await.unwrap();
        let mut bob_socket = open(&app, "/agent/chat/socket", &own, Some(&bob)).await.unwrap();
        assert_eq!(heard_kind(&mut alice_socket, "chats").await["chats"], json!([]));
        assert_eq!(heard_kind(&mut bob_socket, "chats").await["chats"], json!([]));

        // Bad input is refused with what to mend, and starts nothing.
        say(&mut visitor, json!({"type": "start", "name": "", "email": "not an address", "message": " "})).await;
        let refused = heard_kind(&mut visitor, "error").await;
        assert_eq!(refused["fields"], json!(["name", "email", "message"]), "{refused}");

        // Vera wrote before: once to Support, once to Sales.
        for (department, subject) in [(desk.support, "Parcel never came"), (desk.sales, "Discount for schools")] {
            let admin = crate::tickets::actor_of(&desk.admin);
            app.app.create_ticket_for_user(&Caller::new(&admin, "192.0.2.10"),
                &crate::helpers::new_ticket("vera@example.net", "Vera Visitor", subject, department, 3)).await.unwrap();
        }
        say(&mut visitor, json!({"type": "start", "name": "Vera <b>Visitor</b>", "email": "vera@example.net",
            "message": "My order <script>alert(1)</script> is late", "page": "https://shop.example.com/orders"})).await;
        let started = heard_kind(&mut visitor, "started").await;
        let key = started["key"].as_str().unwrap().to_owned();
        assert_eq!(key.len(), 64);
        let chat = heard_kind(&mut visitor, "chat").await;
        assert_eq!(chat["state"], "waiting");
        assert_eq!(chat["messages"][0]["body"], "My order <script>alert(1)</script> is late", "text is sent as text");

        // Alice's queue has it, with what the visitor wrote; Bob hears nothing.
        let queued = heard_kind(&mut alice_socket, "message").await;
        assert_eq!(queued["body"], "My order <script>alert(1)</script> is late");
        let chat_id = queued["chat"].as_i64().unwrap();
        hears_nothing(&mut bob_socket, Duration::from_millis(700)).await;
        // Bob cannot act on it by naming its id.
        say(&mut bob_socket, json!({"type": "accept", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut bob_socket, "error").await["message"], "That chat does not exist.");
        say(&mut bob_socket, json!({"type": "message", "chat": chat_id, "body": "Hello from Bob"})).await;
        assert_eq!(heard_kind(&mut bob_socket, "error").await["message"], "That chat does not exist.");
        // Writing before accepting is refused.
        say(&mut alice_socket, json!({"type": "message", "chat": chat_id, "body": "Too soon"})).await;
        assert_eq!(heard_kind(&mut alice_socket, "error").await["message"], "Accept the chat before writing in it.");

        say(&mut alice_socket, json!({"type": "accept", "chat": chat_id})).await;
        let taken = heard_kind(&mut alice_socket, "chat").await;
        assert_eq!(taken["state"], "active");
        assert_eq!(taken["mine"], true);
        assert_eq!(taken["messages"].as_array().unwrap().len(), 1);
        // Beside it, Vera's earlier requests that Alice may see (the Sales one is not hers to see).
        let subjects: Vec<&str> = taken["tickets"].as_array().unwrap().iter().map(|ticket| ticket["subject"].as_str().unwrap()).collect();
        assert_eq!(subjects, vec!["Parcel never came"], "{taken}");
        let state = heard_kind(&mut visitor, "state").await;
        assert_eq!(state["state"], "active");
        assert_eq!(state["agent"], "Alice Agent");

        // Each side sees the other typing; nobody else does.
        say(&mut visitor, json!({"type": "typing"})).await;
        let typing = heard_kind(&mut alice_socket, "typing").await;
        assert_eq!((typing["chat"].as_i64(), typing["name"].as_str()), (Some(chat_id), Some("Vera <b>Visitor</b>")));
        say(&mut alice_socket, json!({"type": "typing", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut visitor, "typing").await["name"], "Alice Agent");
        hears_nothing(&mut bob_socket, Duration::from_millis(300)).await;
        say(&mut alice_socket, json!({"type": "message", "chat": chat_id, "body": "Let me look **now**."})).await;
        let answer = heard_kind(&mut visitor, "message").await;
        assert_eq!(answer["from"], "agent");
        assert_eq!(answer["name"], "Alice Agent");
        assert_eq!(answer["body"], "Let me look **now**.");
        // The agent's page shows their own message as stored.
        assert_eq!(heard_kind(&mut alice_socket, "message").await["body"], "Let me look **now**.");
        say(&mut visitor, json!({"type": "message", "body": "Thanks"})).await;
        assert_eq!(heard_kind(&mut alice_socket, "message").await["body"], "Thanks");

        // Alice may hold one chat at once here: a second waits for another agent.
        let mut second = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut second, json!({"type": "start", "name": "Sam Second", "email": "sam@example.net", "message": "Me too"})).await;
        let second_id = heard_kind(&mut alice_socket, "chat").await["id"].as_i64().unwrap();
        say(&mut alice_socket, json!({"type": "accept", "chat": second_id})).await;
        let full = heard_kind(&mut alice_socket, "error").await;
        assert!(full["message"].as_str().unwrap().contains("1 chats already"), "{full}");
        // A second visitor socket with a made-up key gets nothing; the right
        // key resumes the chat whole (a reload, or another node).
        let mut stranger = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut stranger, json!({"type": "resume", "key": "0".repeat(64)})).await;
        assert_eq!(heard_kind(&mut stranger, "error").await["message"], "That chat does not exist.");
        say(&mut stranger, json!({"type": "message", "body": "let me in"})).await;
        assert_eq!(heard_kind(&mut stranger, "error").await["message"], "That chat does not exist.");
        let mut again = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut again, json!({"type": "resume", "key": key})).await;
        let resumed = heard_kind(&mut again, "chat").await;
        assert_eq!(resumed["messages"].as_array().unwrap().len(), 3, "{resumed}");

        // The visitor ends it: the transcript is a resolved ticket in Support,
        // requested by Vera as a user, assigned to Alice, channel chat.
        say(&mut visitor, json!({"type": "end"})).await;
        assert_eq!(heard_kind(&mut visitor, "state").await["state"], "ended");
        let ended = heard_kind(&mut alice_socket, "chat").await;
        assert_eq!(ended["state"], "ended");
        hears_nothing(&mut bob_socket, Duration::from_millis(300)).await;
        hears_nothing(&mut stranger, Duration::from_millis(100)).await;
        let record = app.app.store().chats().chat(chat_id).await.unwrap().unwrap();
        let ticket_id = record.ticket_id.expect("a transcript ticket");
        let ticket = app.app.store().tickets().get_ticket(ticket_id).await.unwrap().unwrap();
        assert_eq!(ticket.department_id, desk.support);
        assert_eq!(ticket.agent_id, Some(desk.alice.id));
        assert_eq!(ticket.status.key(), "resolved");
        assert_eq!(ticket.subject, "Chat with Vera <b>Visitor</b>");
        let requester = app.app.store().people().get_person(ticket.requester_id).await.unwrap().unwrap();
        assert_eq!(requester.email, "vera@example.net");
        assert!(!requester.is_agent);
        let messages = app.app.store().tickets().ticket_messages(ticket_id, true).await.unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].channel, "chat");
        let html = &messages[0].body_html;
        assert!(html.contains("Let me look **now**."), "agents' words stay literal: {html}");
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("Alice Agent") && html.contains("Vera"), "{html}");
        // The transcript is found by search, and a finished chat takes no more words.
        say(&mut again, json!({"type": "message", "body": "one more"})).await;
        assert_eq!(heard_kind(&mut again, "error").await["message"], "This chat has ended.");
        let found = app.app.search_tickets(&crate::tickets::actor_of(&desk.alice), &ferrodesk_app::TicketSearchInput {
            query: "channel:chat late".to_owned(), ..Default::default()
        }).await.unwrap();
        assert_eq!(found.hits.len(), 1);
    }
}

on_both_backends! { spawn_app;

    async fn sockets_open_only_from_pages_allowed_to_open_them(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let own = app.url("");
        let alice = staff_cookie(&app, "alice@example.org").await;
        // The agent's socket: the staff session, from the helpdesk's pages only.
        assert_eq!(open(&app, "/agent/chat/socket", "https://evil.example", Some(&alice)).await.err(), Some(403));
        assert!(matches!(open(&app, "/agent/chat/socket", &own, None).await.err(), Some(303 | 401 | 403)));
        assert!(open(&app, "/agent/chat/socket", &own, Some(&alice)).await.is_ok());
        // The visitor's: the help center, and the sites the admin lists.
        assert_eq!(open(&app, "/chat/socket", "https://evil.example", None).await.err(), Some(403));
        assert!(open(&app, "/chat/socket", "https://shop.example.com", None).await.is_ok());
        assert!(open(&app, "/chat/socket", &own, None).await.is_ok());
        // Other sites load the widget's script; only the listed ones may
        // frame the chat page it opens, and nobody frames the ordinary page.
        let widget = app.get("/chat/widget.js").await;
        assert_eq!(widget.status(), 200);
        assert!(widget.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
        assert_eq!(widget.headers()["cross-origin-resource-policy"], "cross-origin");
        assert!(widget.text().await.unwrap().contains("/chat?embedded=1"));
        let framed = app.get("/chat?embedded=1").await;
        let policy = framed.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("frame-ancestors 'self' https://shop.example.com;") || policy.ends_with("frame-ancestors 'self' https://shop.example.com"), "{policy}");
        assert!(policy.contains("script-src 'self'"), "the rest of the policy stays: {policy}");
        assert!(framed.headers().get("x-frame-options").is_none());
        assert_eq!(framed.headers()["cross-origin-resource-policy"], "same-origin");
        let page = framed.text().await.unwrap();
        assert!(page.contains("id=\"chat-start\"") && !page.contains("class=\"topbar\""), "the panel without the top bar");
        let plain = app.get("/chat").await;
        assert_eq!(plain.headers()["x-frame-options"], "DENY");
        assert!(plain.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        // Not a WebSocket at all.
        assert_eq!(app.get("/chat/socket").await.status().as_u16() / 100, 4);
        // A frame too large closes the socket; nonsense is answered, not obeyed.
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut visitor, json!({"type": "shout"})).await;
        assert_eq!(heard_kind(&mut visitor, "error").await["message"], "Unknown command.");
        let _ = visitor.send(Message::Text("x".repeat(40_000).into())).await;
        assert!(heard(&mut visitor, Duration::from_secs(3)).await.is_none());
    }
}

on_both_backends! { spawn_app;

    async fn the_admin_sets_chat_up_and_bad_settings_are_refused_keeping_what_was_typed(app: TestApp) {
        let desk = desk(&app).await;
        let admin = crate::tickets::signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, "/admin/chat").await;
        assert_eq!(page.status(), 200);
        let support = desk.support.to_string();
        let refused = crate::tickets::post_on(&app, &admin, "/admin/chat", "/admin/chat", &[
            ("enabled", "true"), ("department", &support), ("wait_seconds", "5"),
            ("welcome", "Hi <b>there</b>"), ("allowed_origins", "https://ok.example.com\nnot a site"), ("chats_per_agent", "3"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let text = refused.text().await.unwrap();
        assert!(text.contains("from 10 to 3600") && text.contains("not a site"), "{text}");
        assert!(text.contains("Hi &#60;b&#62;there&#60;/b&#62;"), "what was typed stays, escaped");
        assert!(!app.app.chat_settings().await.unwrap().enabled);
        let saved = crate::tickets::post_on(&app, &admin, "/admin/chat", "/admin/chat", &[
            ("enabled", "true"), ("department", &support), ("wait_seconds", "90"),
            ("welcome", "Hi"), ("allowed_origins", "https://OK.example.com/"), ("chats_per_agent", "2"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let settings = app.app.chat_settings().await.unwrap();
        assert!(settings.enabled);
        assert_eq!(settings.allowed_origins, vec!["https://ok.example.com".to_owned()]);
        assert!(crate::security::audit_actions(&app).await.iter().any(|action| action == "settings.changed"));
        // The help center now links to the chat; agents set their availability.
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("href=\"/chat\""));
        let alice = crate::tickets::signed_in(&app, "alice@example.org").await;
        let set = crate::tickets::post_on(&app, &alice, "/agent/chats", "/agent/chat/availability", &[("availability", "online")]).await;
        assert_eq!(set.status(), 303);
        let chat_page = app.get("/chat").await.text().await.unwrap();
        assert!(!chat_page.contains("Nobody is free"), "Alice is online");
        let wrong = crate::tickets::post_on(&app, &alice, "/agent/chats", "/agent/chat/availability", &[("availability", "asleep")]).await;
        assert_eq!(wrong.status(), 400);
        // Only admins reach the settings.
        assert_eq!(alice.get(&app, "/admin/chat").await.status(), 403);
    }
}

on_both_backends! { spawn_app;

    async fn a_visitor_on_one_node_and_an_agent_on_another_talk_in_real_time(app: TestApp) {
        // On SQLite there is one process: the two-node story is PostgreSQL's.
        if app.database.backend != ferrodesk_testkit::Backend::Postgres {
            return;
        }
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let (other, workers) = app.another_node_serving().await;
        let own = app.url("");
        let alice = staff_cookie(&app, "alice@example.org").await;
        // Alice on the other node, the visitor on this one.
        let mut alice_socket = open_at(&other, "/agent/chat/socket", &own, Some(&alice)).await.unwrap();
        heard_kind(&mut alice_socket, "chats").await;
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        let started = std::time::Instant::now();
        say(&mut visitor, json!({"type": "start", "name": "Vera Visitor", "email": "vera@example.net", "message": "Across nodes"})).await;
        let key = heard_kind(&mut visitor, "started").await["key"].as_str().unwrap().to_owned();
        let queued = heard_kind(&mut alice_socket, "message").await;
        assert!(started.elapsed() < Duration::from_millis(900), "NOTIFY, not the poll: {:?}", started.elapsed());
        let chat_id = queued["chat"].as_i64().unwrap();
        say(&mut alice_socket, json!({"type": "accept", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut visitor, "state").await["agent"], "Alice Agent");
        say(&mut visitor, json!({"type": "typing"})).await;
        assert_eq!(heard_kind(&mut alice_socket, "typing").await["name"], "Vera Visitor", "typing crosses nodes");
        say(&mut alice_socket, json!({"type": "message", "chat": chat_id, "body": "Hello from the other node"})).await;
        assert_eq!(heard_kind(&mut visitor, "message").await["body"], "Hello from the other node");
        // The visitor's node goes away; they reconnect to the other and
        // resume with nothing lost.
        drop(visitor);
        let mut moved = open_at(&other, "/chat/socket", &own, None).await.unwrap();
        say(&mut moved, json!({"type": "resume", "key": key})).await;
        let resumed = heard_kind(&mut moved, "chat").await;
        let bodies: Vec<&str> = resumed["messages"].as_array().unwrap().iter().map(|message| message["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, vec!["Across nodes", "Hello from the other node"]);
        say(&mut moved, json!({"type": "message", "body": "Still here"})).await;
        let mut seen = Vec::new();
        while seen.last().map(String::as_str) != Some("Still here") {
            seen.push(heard_kind(&mut alice_socket, "message").await["body"].as_str().unwrap().to_owned());
        }
        workers.shut_down().await;
    }
}

on_both_backends! { spawn_app;

    async fn a_chat_whose_visitor_went_away_is_ended_and_saved_as_a_request(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let own = app.url("");
        let mut gone = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut gone, json!({"type": "start", "name": "Gina Gone", "email": "gina@example.net", "message": "Anyone there?"})).await;
        heard_kind(&mut gone, "chat").await;
        drop(gone);
        app.advance_clock(ferrodesk_app::chat::ABANDONED_AFTER + Duration::from_secs(60));
        // A visitor who is still there is left alone.
        let mut here = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut here, json!({"type": "start", "name": "Hal Here", "email": "hal@example.net", "message": "Hello"})).await;
        heard_kind(&mut here, "chat").await;
        assert_eq!(app.app.end_abandoned_chats().await.unwrap(), 1);
        assert_eq!(app.app.end_abandoned_chats().await.unwrap(), 0, "once");
        let chats = app.app.store().chats().open_chats(&[desk.support]).await.unwrap();
        assert_eq!(chats.iter().map(|chat| chat.visitor_name.as_str()).collect::<Vec<_>>(), vec!["Hal Here"]);
        // Gina's words became a request waiting for an agent.
        let found = app.app.search_tickets(&crate::tickets::actor_of(&desk.alice), &ferrodesk_app::TicketSearchInput {
            query: "channel:chat anyone".to_owned(), ..Default::default()
        }).await.unwrap();
        assert_eq!(found.hits.len(), 1);
        assert_eq!(found.hits[0].ticket.status.key(), "awaiting_agent");
        assert_eq!(found.hits[0].ticket.agent_id, None);
    }
}
