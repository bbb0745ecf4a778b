//! Live chat on both databases, over real WebSockets: a visitor starts a
//! chat, an agent of its department accepts and answers, the visitor
//! ends it and its transcript is a ticket of the department. Agents
//! without the department learn nothing; a visitor reaches no chat but
//! their own; foreign pages cannot open either socket.

use std::time::Duration;

use ferrodesk_app::Caller;
use ferrodesk_app::chat::{ChatSettings, ChatSettingsInput};
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

/// Frames until one of `kind` comes (within ten seconds: the whole suite
/// shares two cores, and two nodes wait on each other).
async fn heard_kind(socket: &mut Socket, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
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
                ..ChatSettingsInput::from(&ChatSettings::default())
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
        // Alice's page opened again lists it the same way.
        let mut reopened = open(&app, "/agent/chat/socket", &own, Some(&alice)).await.unwrap();
        let listed = heard_kind(&mut reopened, "chats").await;
        let again = &listed["chats"][0];
        assert_eq!((again["id"].as_i64(), &again["mine"], again["tickets"].as_array().map(Vec::len)), (Some(chat_id), &json!(true), Some(1)), "{listed}");
        assert_eq!(again["messages"][0]["body"], "My order <script>alert(1)</script> is late");
        drop(reopened);
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
            ("ack_seconds", "2"), ("button_label", "Talk"), ("button_colour", "yellow"), ("retention_days", "-1"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let text = refused.text().await.unwrap();
        assert!(text.contains("from 10 to 3600") && text.contains("not a site"), "{text}");
        assert!(text.contains("from 5 to 600") && text.contains("#rrggbb") && text.contains("0 (always)"), "{text}");
        assert!(text.contains("Hi &#60;b&#62;there&#60;/b&#62;"), "what was typed stays, escaped");
        assert!(!app.app.chat_settings().await.unwrap().enabled);
        let saved = crate::tickets::post_on(&app, &admin, "/admin/chat", "/admin/chat", &[
            ("enabled", "true"), ("department", &support), ("wait_seconds", "90"),
            ("welcome", "Hi"), ("allowed_origins", "https://OK.example.com/"), ("chats_per_agent", "2"),
            ("round_robin", &support), ("ack_seconds", "20"), ("button_label", "Talk to us"), ("button_colour", "#0B3D91"),
            ("retention_days", "30"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let settings = app.app.chat_settings().await.unwrap();
        assert!(settings.enabled);
        assert_eq!(settings.allowed_origins, vec!["https://ok.example.com".to_owned()]);
        assert_eq!(settings.round_robin_department_ids, vec![desk.support]);
        assert_eq!((settings.ack_seconds, settings.retention_days), (20, 30));
        // The embedded button takes the admin's words and colour, as data.
        let widget = app.get("/chat/widget.js").await;
        assert_eq!(widget.headers()["cross-origin-resource-policy"], "cross-origin");
        let widget = widget.text().await.unwrap();
        assert!(widget.starts_with("(function (look) {") && widget.contains(r##"({"colour":"#0b3d91","label":"Talk to us"});"##), "{}", &widget[widget.len() - 200..]);
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

/// Chat offered in `departments` with `round_robin` ones offering each
/// chat to one agent at a time (5 s to accept).
async fn offer_chat_routed(app: &TestApp, departments: &[i64], round_robin: &[i64]) {
    let ids = |ids: &[i64]| ids.iter().map(i64::to_string).collect();
    app.app
        .set_chat_settings(
            &Caller::system(),
            &ChatSettingsInput {
                enabled: true,
                department_ids: ids(departments),
                round_robin_department_ids: ids(round_robin),
                ack_seconds: "5".to_owned(),
                chats_per_agent: "3".to_owned(),
                ..ChatSettingsInput::from(&ChatSettings::default())
            },
        )
        .await
        .unwrap();
}

async fn go_online(app: &TestApp, agent: &ferrodesk_store::PersonRecord) {
    app.app
        .set_chat_availability(&crate::tickets::actor_of(agent), "online")
        .await
        .unwrap();
}

/// Frames until a `chat` frame about `chat_id` that `matches`.
async fn heard_chat(socket: &mut Socket, chat_id: i64, matches: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = heard_kind(socket, "chat").await;
        if frame["id"] == chat_id && matches(&frame) {
            return frame;
        }
    }
}

on_both_backends! { spawn_app;

    async fn round_robin_offers_a_chat_to_one_agent_at_a_time_then_to_all(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat_routed(&app, &[desk.support, desk.sales], &[desk.support]).await;
        go_online(&app, &desk.admin).await;
        go_online(&app, &desk.alice).await;
        let own = app.url("");
        let mut ada = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "admin@example.org").await)).await.unwrap();
        let mut alice = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "alice@example.org").await)).await.unwrap();
        heard_kind(&mut ada, "chats").await;
        heard_kind(&mut alice, "chats").await;
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut visitor, json!({"type": "start", "name": "Rob Round", "email": "rob@example.net",
            "message": "Who is there?", "department": desk.support})).await;
        heard_kind(&mut visitor, "chat").await;
        // Nobody was offered a chat before: the agent with the lowest id first.
        let chat_id = app.app.store().chats().open_chats(&[desk.support]).await.unwrap()[0].id;
        let to_ada = heard_chat(&mut ada, chat_id, |frame| frame["offered_to_me"] == true).await;
        assert!(to_ada["offer_ends"].is_string(), "{to_ada}");
        heard_chat(&mut alice, chat_id, |frame| frame["offered_to_other"] == true).await;
        say(&mut alice, json!({"type": "accept", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut alice, "error").await["message"], "This chat is offered to another agent for now.");
        // Ada passes: Alice is asked.
        say(&mut ada, json!({"type": "decline", "chat": chat_id})).await;
        heard_chat(&mut alice, chat_id, |frame| frame["offered_to_me"] == true).await;
        say(&mut ada, json!({"type": "decline", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut ada, "error").await["message"], "This chat is not offered to you now.");
        // Alice lets the time run out: everyone has been asked, so the chat is open to all.
        app.advance_clock(Duration::from_secs(6));
        assert_eq!(app.app.move_on_unanswered_offers().await.unwrap(), 1);
        heard_chat(&mut ada, chat_id, |frame| frame["offered_to_me"] == false && frame["offered_to_other"] == false).await;
        assert_eq!(app.app.move_on_unanswered_offers().await.unwrap(), 0, "nothing left to move on");
        say(&mut alice, json!({"type": "accept", "chat": chat_id})).await;
        heard_chat(&mut alice, chat_id, |frame| frame["state"] == "active" && frame["mine"] == true).await;
        assert_eq!(heard_kind(&mut visitor, "state").await["agent"], "Alice Agent");

        // The next chat goes to whoever was offered one longest ago: Ada
        // (asked first, before Alice).
        let mut second = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut second, json!({"type": "start", "name": "Sue Second", "email": "sue@example.net",
            "message": "Me too", "department": desk.support})).await;
        heard_kind(&mut second, "chat").await;
        let next = app.app.store().chats().open_chats(&[desk.support]).await.unwrap().into_iter()
            .find(|chat| chat.visitor_name == "Sue Second").unwrap();
        assert_eq!(next.offered_agent_id, Some(desk.admin.id));
        // A broadcast department (Sales) offers to nobody in particular.
        let mut third = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut third, json!({"type": "start", "name": "Tim Third", "email": "tim@example.net",
            "message": "Prices?", "department": desk.sales})).await;
        heard_kind(&mut third, "chat").await;
        let sales = app.app.store().chats().open_chats(&[desk.sales]).await.unwrap();
        assert_eq!(sales[0].offered_agent_id, None);
    }
}

on_both_backends! { spawn_app;

    async fn an_agent_transfers_a_chat_invites_a_colleague_and_sends_it_to_another_queue(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat_routed(&app, &[desk.support, desk.sales], &[]).await;
        for agent in [&desk.admin, &desk.alice, &desk.bob, &desk.carol] {
            go_online(&app, agent).await;
        }
        let own = app.url("");
        let mut ada = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "admin@example.org").await)).await.unwrap();
        let mut alice = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "alice@example.org").await)).await.unwrap();
        let mut bob = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "bob@example.org").await)).await.unwrap();
        for socket in [&mut ada, &mut alice, &mut bob] {
            heard_kind(socket, "chats").await;
        }
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut visitor, json!({"type": "start", "name": "Tess Transfer", "email": "tess@example.net",
            "message": "Help please", "department": desk.support})).await;
        heard_kind(&mut visitor, "chat").await;
        let chat_id = heard_kind(&mut alice, "message").await["chat"].as_i64().unwrap();
        say(&mut alice, json!({"type": "accept", "chat": chat_id})).await;
        heard_chat(&mut alice, chat_id, |frame| frame["mine"] == true).await;
        assert_eq!(heard_kind(&mut visitor, "state").await["agent"], "Alice Agent");

        // Who Alice could pass it to: online colleagues of her departments (not Carol, who has none).
        say(&mut alice, json!({"type": "colleagues"})).await;
        let colleagues = heard_kind(&mut alice, "colleagues").await;
        let names: Vec<&str> = colleagues["agents"].as_array().unwrap().iter().map(|agent| agent["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["Ada Admin"], "{colleagues}");
        // Only the holder passes a chat on, and only to someone who may take it.
        say(&mut ada, json!({"type": "transfer", "chat": chat_id, "agent": desk.admin.id})).await;
        assert_eq!(heard_kind(&mut ada, "error").await["message"], "Only the agent holding a chat can pass it on.");
        say(&mut alice, json!({"type": "transfer", "chat": chat_id, "agent": desk.carol.id})).await;
        assert_eq!(heard_kind(&mut alice, "error").await["message"], "That agent is not available for this department's chats now.");
        say(&mut alice, json!({"type": "transfer", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut alice, "error").await["message"], "Choose an agent or a department.");

        // To Ada: she holds it at once, with the conversation; Alice lets go.
        say(&mut alice, json!({"type": "transfer", "chat": chat_id, "agent": desk.admin.id})).await;
        let with_ada = heard_chat(&mut ada, chat_id, |frame| frame["mine"] == true).await;
        assert_eq!(with_ada["messages"][0]["body"], "Help please");
        heard_chat(&mut alice, chat_id, |frame| frame["mine"] == false && frame["state"] == "active").await;
        assert_eq!(heard_kind(&mut visitor, "state").await["agent"], "Ada Admin");
        // Alice no longer hears the conversation.
        say(&mut visitor, json!({"type": "message", "body": "Hello Ada"})).await;
        assert_eq!(heard_kind(&mut visitor, "message").await["body"], "Hello Ada", "the visitor's own, back");
        assert_eq!(heard_kind(&mut ada, "message").await["body"], "Hello Ada");
        hears_nothing(&mut alice, Duration::from_millis(500)).await;

        // Ada invites Alice back in as a guest: she reads and writes, and cannot end it.
        say(&mut ada, json!({"type": "invite", "chat": chat_id, "agent": desk.carol.id})).await;
        assert_eq!(heard_kind(&mut ada, "error").await["message"], "That agent is not available for this department's chats now.");
        say(&mut ada, json!({"type": "invite", "chat": chat_id, "agent": desk.alice.id})).await;
        let guest = heard_chat(&mut alice, chat_id, |frame| frame["guest"] == true).await;
        assert_eq!(guest["messages"].as_array().unwrap().len(), 2, "{guest}");
        say(&mut alice, json!({"type": "message", "chat": chat_id, "body": "Alice here too"})).await;
        let from_alice = heard_kind(&mut visitor, "message").await;
        assert_eq!((from_alice["name"].as_str(), from_alice["from"].as_str()), (Some("Alice Agent"), Some("agent")));
        // A page opened again lists the chat she is a guest in, whole.
        let mut reopened = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "alice@example.org").await)).await.unwrap();
        let listed = heard_kind(&mut reopened, "chats").await;
        let shown = listed["chats"].as_array().unwrap().iter().find(|chat| chat["id"] == chat_id).expect("the chat").clone();
        assert_eq!((&shown["guest"], &shown["guests"], shown["messages"].as_array().map(Vec::len)),
            (&json!(true), &json!(["Alice Agent"]), Some(3)), "{shown}");
        drop(reopened);
        say(&mut alice, json!({"type": "end", "chat": chat_id})).await;
        assert_eq!(heard_kind(&mut alice, "error").await["message"], "Only the agent holding this chat can end it.");
        // Bob (Sales only) heard none of it.
        hears_nothing(&mut bob, Duration::from_millis(300)).await;
        say(&mut alice, json!({"type": "leave", "chat": chat_id})).await;
        heard_chat(&mut alice, chat_id, |frame| frame["guest"] == false).await;
        say(&mut alice, json!({"type": "message", "chat": chat_id, "body": "Still here?"})).await;
        assert_eq!(heard_kind(&mut alice, "error").await["message"], "Accept the chat before writing in it.");

        // Ada sends it to the Sales queue: it waits there; Alice, her guest
        // again but not serving Sales, is told it is gone.
        say(&mut ada, json!({"type": "invite", "chat": chat_id, "agent": desk.alice.id})).await;
        heard_chat(&mut alice, chat_id, |frame| frame["guest"] == true).await;
        say(&mut ada, json!({"type": "transfer", "chat": chat_id, "department": desk.sales})).await;
        let gone = heard_kind(&mut alice, "gone").await;
        assert_eq!(gone["chat"], chat_id);
        heard_chat(&mut ada, chat_id, |frame| frame["state"] == "waiting" && frame["department"] == "Sales").await;
        assert_eq!(heard_kind(&mut visitor, "state").await["state"], "waiting");
        let moved = app.app.store().chats().chat(chat_id).await.unwrap().unwrap();
        assert_eq!((moved.department_id, moved.agent_id), (desk.sales, None));
        assert!(app.app.store().chats().chat_guests(chat_id).await.unwrap().is_empty(), "a queue starts without guests");
    }
}

/// A multipart form with `fields` and a file `name` holding `bytes`.
fn upload_form(fields: &[(&str, String)], name: &str, bytes: &[u8]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (field, value) in fields {
        form = form.text((*field).to_owned(), value.clone());
    }
    form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    )
}

on_both_backends! { spawn_app;

    async fn files_snippets_and_the_transcript_by_mail_in_a_chat(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let own = app.url("");
        let alice_cookie = staff_cookie(&app, "alice@example.org").await;
        let mut alice = open(&app, "/agent/chat/socket", &own, Some(&alice_cookie)).await.unwrap();
        heard_kind(&mut alice, "chats").await;
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut visitor, json!({"type": "start", "name": "Fay Files", "email": "fay@example.net", "message": "See attached"})).await;
        let key = heard_kind(&mut visitor, "started").await["key"].as_str().unwrap().to_owned();
        let snapshot = heard_kind(&mut visitor, "chat").await;
        assert_eq!((&snapshot["transcript_by_mail"], &snapshot["transcript_wanted"]), (&json!(true), &json!(false)), "{snapshot}");
        let chat_id = heard_kind(&mut alice, "message").await["chat"].as_i64().unwrap();
        say(&mut alice, json!({"type": "accept", "chat": chat_id})).await;
        heard_kind(&mut visitor, "state").await;

        // The visitor sends a file: the key is what proves who sends it.
        let client = crate::helpers::new_client();
        let send = |fields: Vec<(&'static str, String)>, name: &'static str, bytes: &'static [u8], origin: &'static str| {
            let request = client.post(app.url("/chat/files")).header("origin", if origin.is_empty() { own.clone() } else { origin.to_owned() })
                .multipart(upload_form(&fields, name, bytes));
            async move { request.send().await.unwrap() }
        };
        let sent = send(vec![("key", key.clone())], "receipt.txt", b"order 1234", "").await;
        assert_eq!(sent.status(), 204, "{:?}", sent.text().await);
        let file_message = heard_kind(&mut visitor, "message").await;
        assert_eq!(file_message["file"]["name"], "receipt.txt");
        let visitor_link = file_message["file"]["url"].as_str().unwrap().to_owned();
        let at_alice = heard_kind(&mut alice, "message").await;
        let agent_link = at_alice["file"]["url"].as_str().unwrap().to_owned();
        assert!(agent_link.starts_with("/agent/chat/files/"), "{agent_link}");
        let download = app.get(&visitor_link).await;
        assert_eq!(download.status(), 200);
        assert_eq!(download.headers()["content-type"], "application/octet-stream");
        assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(download.bytes().await.unwrap().as_ref(), b"order 1234");
        // A link with another token, or another message's id, finds nothing.
        let forged = format!("{}{}", &visitor_link[..visitor_link.len() - 4], "0000");
        assert_eq!(app.get(&forged).await.status(), 404);
        assert_eq!(app.get(&agent_link).await.status().as_u16() / 100, 3, "agents' links need a staff session");
        let alice_browser = crate::tickets::signed_in(&app, "alice@example.org").await;
        assert_eq!(alice_browser.get(&app, &agent_link).await.status(), 200);
        let bob_browser = crate::tickets::signed_in(&app, "bob@example.org").await;
        assert_eq!(bob_browser.get(&app, &agent_link).await.status(), 404, "Bob does not serve Support");
        // Refused: no key, a wrong key, a blocked kind of file, a foreign site.
        assert_eq!(send(vec![], "a.txt", b"x", "").await.status(), 404);
        assert_eq!(send(vec![("key", "0".repeat(64))], "a.txt", b"x", "").await.status(), 404);
        let blocked = send(vec![("key", key.clone())], "setup.exe", b"MZ", "").await;
        assert_eq!(blocked.status(), 422);
        assert!(blocked.text().await.unwrap().contains("setup.exe"));
        assert_eq!(send(vec![("key", key.clone())], "a.txt", b"x", "https://evil.example").await.status(), 403);

        // Alice sends an image from her desk, with the page's CSRF token.
        let token = alice_browser.csrf(&app, "/agent/chats").await;
        let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let without = alice_browser.client.post(app.url("/agent/chat/files"))
            .multipart(upload_form(&[("chat", chat_id.to_string())], "shot.png", png)).send().await.unwrap();
        assert_eq!(without.status(), 403, "no CSRF token");
        let posted = alice_browser.client.post(app.url("/agent/chat/files"))
            .multipart(upload_form(&[("csrf_token", token.clone()), ("chat", chat_id.to_string())], "shot.png", png)).send().await.unwrap();
        assert_eq!(posted.status(), 204);
        let image = heard_kind(&mut visitor, "message").await;
        assert_eq!((image["file"]["image"].as_bool(), image["from"].as_str()), (Some(true), Some("agent")));
        let inline = app.get(image["file"]["url"].as_str().unwrap()).await;
        assert_eq!(inline.headers()["content-type"], "image/png");
        let bob_token = bob_browser.csrf(&app, "/agent/chats").await;
        let not_bobs = bob_browser.client.post(app.url("/agent/chat/files"))
            .multipart(upload_form(&[("csrf_token", bob_token), ("chat", chat_id.to_string())], "x.txt", b"x")).send().await.unwrap();
        assert_eq!(not_bobs.status(), 404);

        // A snippet, filled in for the visitor.
        let snippet = app.app.create_snippet(&Caller::new(&crate::tickets::actor_of(&desk.alice), "192.0.2.1"), &ferrodesk_app::SnippetInput {
            category: "Chat".into(), title: "Greeting".into(), shortcut: "hi".into(),
            body: "Hello {{ user.first_name }}, {{ agent.name }} here.".into(), shared: false,
        }).await.unwrap();
        say(&mut alice, json!({"type": "snippets"})).await;
        assert_eq!(heard_kind(&mut alice, "snippets").await["snippets"][0]["shortcut"], "hi");
        say(&mut alice, json!({"type": "snippet", "chat": chat_id, "snippet": snippet})).await;
        assert_eq!(heard_kind(&mut alice, "snippet").await["text"], "Hello Fay, Alice Agent here.");
        let mut bob_socket = open(&app, "/agent/chat/socket", &own, Some(&staff_cookie(&app, "bob@example.org").await)).await.unwrap();
        heard_kind(&mut bob_socket, "chats").await;
        say(&mut bob_socket, json!({"type": "snippet", "chat": chat_id, "snippet": snippet})).await;
        assert_eq!(heard_kind(&mut bob_socket, "error").await["message"], "That chat does not exist.");

        // The visitor asks for the transcript and ends the chat: the ticket
        // carries both files, and the mail the conversation.
        say(&mut visitor, json!({"type": "transcript"})).await;
        for _ in 0..100 {
            if app.app.store().chats().chat(chat_id).await.unwrap().unwrap().transcript_wanted {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // A reload shows it asked for already.
        let mut reloaded = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut reloaded, json!({"type": "resume", "key": key})).await;
        assert_eq!(heard_kind(&mut reloaded, "chat").await["transcript_wanted"], true);
        drop(reloaded);
        say(&mut visitor, json!({"type": "end"})).await;
        assert_eq!(heard_kind(&mut visitor, "state").await["state"], "ended");
        let ticket_id = app.app.store().chats().chat(chat_id).await.unwrap().unwrap().ticket_id.expect("a transcript ticket");
        let files = app.app.store().tickets().ticket_attachments(ticket_id, false).await.unwrap();
        let mut names: Vec<&str> = files.iter().map(|file| file.file_name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, vec!["receipt.txt", "shot.png"]);
        let mails = crate::helpers::customer_mail(&app, 5).await;
        let transcript = mails.iter().find(|mail| mail.template == "chat_transcript").expect("a transcript mail");
        assert!(transcript.recipients.contains("fay@example.net"));
        assert!(transcript.text_body.contains("See attached") && transcript.text_body.contains("(sent the file receipt.txt)"), "{}", transcript.text_body);
        // The chat has ended: no more files.
        assert_eq!(send(vec![("key", key.clone())], "late.txt", b"x", "").await.status(), 409);
    }
}

on_both_backends! { spawn_app;

    async fn a_signed_in_user_adds_a_chat_to_one_of_their_open_requests(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let uma = app.create_account("uma@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let reference = crate::tickets::open_ticket(&app, &desk.alice, desk.support, "Broken kettle").await;
        let other = crate::tickets::open_ticket(&app, &desk.alice, desk.support, "Not hers").await;
        app.execute_sql(Box::leak(format!(
            "UPDATE tickets SET requester_id = {} WHERE reference = '{other}'", desk.carol.id).into_boxed_str())).await;
        let user = ferrodesk_app::Actor::User(ferrodesk_app::SignedIn {
            person_id: uma.id, name: uma.name.clone(), email: uma.email.clone(), is_admin: false,
            remembered: false, must_change_password: false, must_set_up_two_factor: false, time_zone: String::new(),
        });
        let caller = Caller::new(&user, "192.0.2.44");
        let open = app.app.chat_open_tickets(&user).await.unwrap();
        assert_eq!(open.iter().map(|(_, subject)| subject.as_str()).collect::<Vec<_>>(), vec!["Broken kettle"]);
        let start = |ticket: &str| ferrodesk_app::chat::NewChatInput {
            message: "About my kettle".into(), ticket: Some(ticket.to_owned()), ..Default::default()
        };
        // Someone else's request cannot be chosen.
        let refused = app.app.start_chat(&caller, &start(&other)).await.unwrap_err();
        assert!(matches!(refused, ferrodesk_app::AppError::Invalid(_)), "{refused:?}");
        let started = app.app.start_chat(&caller, &start(&reference)).await.unwrap();
        app.app.visitor_ends_chat(&started.chat).await.unwrap();
        let ticket = app.app.store().tickets().find_ticket(&ferrodesk_core::TicketRef::parse(&reference).unwrap()).await.unwrap().unwrap();
        let messages = app.app.store().tickets().ticket_messages(ticket.id, false).await.unwrap();
        let last = messages.last().unwrap();
        assert_eq!(last.channel, "chat");
        assert!(last.body_html.contains("About my kettle"), "{}", last.body_html);
        assert_eq!(app.app.store().chats().chat(started.chat.id).await.unwrap().unwrap().ticket_id, Some(ticket.id));
    }
}

on_both_backends! { spawn_app;

    async fn a_visitor_may_chat_without_an_address_when_the_admin_allows_it(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let own = app.url("");
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        // Required unless the admin says otherwise.
        say(&mut visitor, json!({"type": "start", "name": "Nia Nameonly", "email": "", "message": "Quick question"})).await;
        assert_eq!(heard_kind(&mut visitor, "error").await["fields"], json!(["email"]));
        let mut settings = ChatSettingsInput::from(&app.app.chat_settings().await.unwrap());
        settings.require_email = false;
        app.app.set_chat_settings(&Caller::system(), &settings).await.unwrap();
        assert!(app.get("/chat").await.text().await.unwrap().contains("Your email (optional"));
        say(&mut visitor, json!({"type": "start", "name": "Nia Nameonly", "email": "", "message": "Quick question"})).await;
        let snapshot = heard_kind(&mut visitor, "chat").await;
        // No address, no transcript by mail: the panel does not offer it.
        assert_eq!(snapshot["transcript_by_mail"], false, "{snapshot}");
        say(&mut visitor, json!({"type": "transcript"})).await;
        assert_eq!(heard_kind(&mut visitor, "error").await["message"], "There is no address to send it to.");
        say(&mut visitor, json!({"type": "end"})).await;
        heard_kind(&mut visitor, "state").await;
        let chat = app.app.store().chats().open_chats(&[desk.support]).await.unwrap();
        assert!(chat.is_empty());
        let found = app.app.search_tickets(&crate::tickets::actor_of(&desk.alice), &ferrodesk_app::TicketSearchInput {
            query: "channel:chat quick".to_owned(), ..Default::default()
        }).await.unwrap();
        assert_eq!(found.hits.len(), 1, "the transcript is a request all the same");
        let requester = app.app.store().people().get_person(found.hits[0].ticket.requester_id).await.unwrap().unwrap();
        assert!(requester.email.ends_with("@visitors.invalid"), "{}", requester.email);
        assert_eq!(requester.name, "Nia Nameonly");
    }
}

on_both_backends! { spawn_app;

    async fn ended_chats_are_forgotten_after_the_retention_and_their_tickets_stay(app: TestApp) {
        let desk = desk(&app).await;
        offer_chat(&app, &[desk.support]).await;
        let own = app.url("");
        let mut visitor = open(&app, "/chat/socket", &own, None).await.unwrap();
        say(&mut visitor, json!({"type": "start", "name": "Ola Old", "email": "ola@example.net", "message": "Long ago"})).await;
        heard_kind(&mut visitor, "chat").await;
        let chat_id = app.app.store().chats().open_chats(&[desk.support]).await.unwrap()[0].id;
        say(&mut visitor, json!({"type": "end"})).await;
        heard_kind(&mut visitor, "state").await;
        let ticket_id = app.app.store().chats().chat(chat_id).await.unwrap().unwrap().ticket_id.expect("a transcript");
        // Within the 90 days nothing goes; kept for ever when the admin says 0.
        app.advance_clock(Duration::from_secs(89 * 86_400));
        assert_eq!(app.app.forget_old_chats().await.unwrap(), 0);
        let mut settings = ChatSettingsInput::from(&app.app.chat_settings().await.unwrap());
        settings.retention_days = "0".to_owned();
        app.app.set_chat_settings(&Caller::system(), &settings).await.unwrap();
        app.advance_clock(Duration::from_secs(2 * 86_400));
        assert_eq!(app.app.forget_old_chats().await.unwrap(), 0);
        settings.retention_days = "90".to_owned();
        app.app.set_chat_settings(&Caller::system(), &settings).await.unwrap();
        assert_eq!(app.app.forget_old_chats().await.unwrap(), 1);
        assert!(app.app.store().chats().chat(chat_id).await.unwrap().is_none(), "the chat is gone");
        assert!(app.app.store().chats().chat_messages(chat_id).await.unwrap().is_empty());
        assert!(app.app.store().tickets().get_ticket(ticket_id).await.unwrap().is_some(), "its transcript stays");
    }
}
