//! Tickets in the help center on both databases: a user opens one with an
//! attachment and custom fields, follows the agents' replies (never their
//! notes), answers, resolves and reopens; mailed links with access codes,
//! and revoking them; guests; organization managers; and nobody reaching
//! someone else's ticket.

use ferrodesk_app::{AccountKind, Caller, FieldInput};
use ferrodesk_testkit::on_both_backends;
use reqwest::multipart::{Form, Part};

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{desk, post_on, signed_in};

/// A help-center user signed in.
async fn user(app: &TestApp, email: &str, name: &str) -> Browser {
    app.create_account(email, name, AccountKind::User).await;
    let browser = Browser::new();
    let token = browser.csrf(app, "/login").await;
    let response = browser
        .post(
            app,
            "/login",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "{email} signs in");
    browser
}

/// Sends the new-request form as multipart, with one file when given.
async fn open_request(
    app: &TestApp,
    browser: &Browser,
    fields: &[(&str, String)],
    file: Option<(&str, &[u8])>,
) -> reqwest::Response {
    let token = browser.csrf(app, "/tickets/new").await;
    let mut form = Form::new().text("csrf_token", token);
    for (name, value) in fields {
        form = form.text((*name).to_owned(), value.clone());
    }
    if let Some((name, bytes)) = file {
        form = form.part(
            "attachments",
            Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
        );
    }
    browser
        .client
        .post(app.url("/tickets/new"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn reference_in(path: &str) -> String {
    path.trim_start_matches("/tickets/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// The `?code=…` link in the newest mail to `address`.
async fn mailed_link(app: &TestApp, address: &str) -> String {
    let mails = crate::helpers::customer_mail(app, 50).await;
    let mail = mails
        .iter()
        .find(|mail| mail.recipients.contains(address))
        .expect("a mail to the address");
    let start = mail.text_body.find("/tickets/").expect("a ticket link");
    let link: String = mail.text_body[start..]
        .chars()
        .take_while(|character| !character.is_whitespace())
        .collect();
    assert!(link.contains("?code="), "{link}");
    link
}

on_both_backends! { spawn_app;

    async fn a_user_follows_their_request_and_never_sees_a_note(app: TestApp) {
        let desk = desk(&app).await;
        let system = Caller::system();
        let visible = app.app.create_ticket_field(&system, &FieldInput {
            name: "Order number".into(), kind: "text".into(), visible_to_users: true, ..FieldInput::default()
        }).await.unwrap();
        let hidden = app.app.create_ticket_field(&system, &FieldInput {
            name: "Churn risk".into(), kind: "text".into(), ..FieldInput::default()
        }).await.unwrap();
        let uma = user(&app, "uma@example.org", "Uma User").await;
        let made = open_request(&app, &uma, &[
            ("department", desk.support.to_string()), ("subject", "Invoice <b>wrong</b>".into()),
            ("message", "The total is **off**.".into()), (&format!("field_{visible}"), "A-1001".into()),
            (&format!("field_{hidden}"), "high".into()), ("website", String::new()),
        ], Some(("invoice.pdf", b"%PDF-1.4 fake"))).await;
        assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
        let path = location(&made).split('?').next().unwrap().to_owned();
        let reference = reference_in(&path);
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(ticket.status.key(), "awaiting_agent");
        let values = app.app.store().ticket_fields().ticket_field_values(ticket.id).await.unwrap();
        assert_eq!(values.len(), 1, "an agent-only field cannot be filled in from the help center");
        let list = uma.get(&app, "/tickets").await.text().await.unwrap();
        assert!(list.contains(&reference) && list.contains("Invoice &#60;b&#62;wrong&#60;/b&#62;"));

        // The agent answers and writes a note with a file.
        let alice = signed_in(&app, "alice@example.org").await;
        let agent_path = format!("/agent/tickets/{reference}");
        post_on(&app, &alice, &agent_path, &format!("{agent_path}/reply"), &[("kind", "reply"), ("body", "We are looking into it.")]).await;
        let token = alice.csrf(&app, &agent_path).await;
        let form = Form::new().text("csrf_token", token).text("kind", "note").text("body", "Secret: refund limit reached")
            .part("attachments", Part::bytes(b"internal numbers".to_vec()).file_name("internal.txt"));
        let noted = alice.client.post(app.url(&format!("{agent_path}/reply"))).multipart(form).send().await.unwrap();
        assert_eq!(noted.status(), 303);
        post_on(&app, &alice, &agent_path, &format!("{agent_path}/properties"), &[
            ("status", "awaiting_user"), ("urgency", "1"), ("department", &desk.support.to_string()),
            ("agent", ""), ("team", ""), ("labels", ""), (&format!("field_{visible}"), "A-1001"), (&format!("field_{hidden}"), "very high"),
        ]).await;

        let page = uma.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("We are looking into it.") && page.contains("<strong>off</strong>"));
        assert!(!page.contains("Secret") && !page.contains("internal.txt"), "notes and their files stay inside");
        assert!(page.contains("A-1001") && !page.contains("Churn risk") && !page.contains("very high"), "only user fields");
        assert!(!page.contains("127.0.0.1"), "no addresses shown to users");
        let attachments = app.app.store().tickets().ticket_attachments(ticket.id, true).await.unwrap();
        let own_file = attachments.iter().find(|file| file.file_name == "invoice.pdf").unwrap().id;
        let note_file = attachments.iter().find(|file| file.file_name == "internal.txt").unwrap().id;
        let download = uma.get(&app, &format!("{path}/attachments/{own_file}")).await;
        assert_eq!(download.status(), 200);
        assert_eq!(download.headers()["content-type"], "application/octet-stream");
        assert_eq!(uma.get(&app, &format!("{path}/attachments/{note_file}")).await.status(), 404, "a note's file is not found");

        // Answer, resolve, reopen.
        let answered = post_on(&app, &uma, &path, &format!("{path}/reply"), &[("code", ""), ("body", "Thanks, here is more.")]).await;
        assert_eq!(location(&answered), format!("{path}?notice=sent"));
        assert_eq!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().status.key(), "awaiting_agent");
        let empty = post_on(&app, &uma, &path, &format!("{path}/reply"), &[("code", ""), ("body", " ")]).await;
        assert_eq!(empty.status(), 422);
        post_on(&app, &uma, &path, &format!("{path}/resolve"), &[("code", ""), ("resolved", "1")]).await;
        assert_eq!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().status.key(), "resolved");
        assert!(uma.get(&app, &path).await.text().await.unwrap().contains("id=\"reopen\""));
        post_on(&app, &uma, &path, &format!("{path}/resolve"), &[("code", ""), ("resolved", "0")]).await;
        assert_eq!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().status.key(), "awaiting_agent");
        let log = app.app.store().tickets().ticket_log(ticket.id).await.unwrap();
        assert!(log.iter().any(|entry| entry.actor == "Uma User <uma@example.org>" && entry.after_value.as_deref() == Some("resolved")));
    }

    async fn a_signed_in_user_gets_a_receipt_and_sees_only_fields_with_values(app: TestApp) {
        let desk = desk(&app).await;
        let field = app.app.create_ticket_field(&Caller::system(), &FieldInput {
            name: "Order number".into(), kind: "text".into(), visible_to_users: true, ..FieldInput::default()
        }).await.unwrap();
        let uma = user(&app, "uma@example.org", "Uma User").await;
        let made = open_request(&app, &uma, &[
            ("department", desk.support.to_string()), ("subject", "No order number".into()),
            ("message", "Hello".into()), (&format!("field_{field}"), String::new()), ("website", String::new()),
        ], None).await;
        assert_eq!(made.status(), 303);
        let reference = reference_in(&location(&made));
        let receipt = mailed_link(&app, "uma@example.org").await;
        assert!(receipt.contains(&reference), "the receipt links to the request: {receipt}");
        let page = uma.get(&app, &format!("/tickets/{reference}")).await.text().await.unwrap();
        assert!(!page.contains("Order number"), "an empty field is not shown");

        // The help center's login offers registration while it is open.
        let login = Browser::new().get(&app, "/login").await.text().await.unwrap();
        assert!(login.contains("id=\"register-link\""));
        app.app.set_help_center(&Caller::system(), "closed", false, None).await.unwrap();
        let login = Browser::new().get(&app, "/login").await.text().await.unwrap();
        assert!(!login.contains("id=\"register-link\""), "not when it is closed");
        let staff = Browser::new().get(&app, "/agent/login").await.text().await.unwrap();
        assert!(!staff.contains("id=\"register-link\""), "never on the staff login");
    }

    async fn nobody_reaches_someone_elses_request(app: TestApp) {
        let desk = desk(&app).await;
        let uma = user(&app, "uma@example.org", "Uma User").await;
        let made = open_request(&app, &uma, &[("department", desk.support.to_string()), ("subject", "Mine".into()), ("message", "Private".into())], Some(("a.txt", b"private file"))).await;
        let path = location(&made).split('?').next().unwrap().to_owned();
        let reference = reference_in(&path);
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        let file = app.app.store().tickets().ticket_attachments(ticket.id, false).await.unwrap()[0].id;

        let eve = user(&app, "eve@example.org", "Eve Other").await;
        assert!(!eve.get(&app, "/tickets").await.text().await.unwrap().contains(&reference));
        for probe in [path.clone(), format!("{path}/attachments/{file}"), format!("{path}?code={}", "0".repeat(64)), "/tickets/ZZZZ-ZZZZ".to_owned()] {
            let status = eve.get(&app, &probe).await.status();
            assert!(status == 404, "{probe}: {status}");
        }
        let reply = post_on(&app, &eve, "/tickets", &format!("{path}/reply"), &[("code", ""), ("body", "hijack")]).await;
        assert_eq!(reply.status(), 404);
        let resolve = post_on(&app, &eve, "/tickets", &format!("{path}/resolve"), &[("code", ""), ("resolved", "1")]).await;
        assert_eq!(resolve.status(), 404);
        assert_eq!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().status.key(), "awaiting_agent");
        // A visitor without a code is asked to log in; agents have no
        // help-center session at all.
        let visitor = Browser::new();
        assert!(location(&visitor.get(&app, &path).await).starts_with("/login?return_to="));
        assert!(location(&visitor.get(&app, "/tickets").await).starts_with("/login"));
        // A spam or deleted ticket disappears from the help center.
        app.execute_sql("UPDATE tickets SET status = 'spam'").await;
        assert_eq!(uma.get(&app, &path).await.status(), 404);
        assert!(!uma.get(&app, "/tickets").await.text().await.unwrap().contains(&reference));
    }

    async fn mailed_links_open_the_request_until_revoked(app: TestApp) {
        let desk = desk(&app).await;
        let uma = user(&app, "uma@example.org", "Uma User").await;
        let made = open_request(&app, &uma, &[("department", desk.support.to_string()), ("subject", "Linked".into()), ("message", "Hello".into())], None).await;
        let reference = reference_in(&location(&made));
        let alice = signed_in(&app, "alice@example.org").await;
        let agent_path = format!("/agent/tickets/{reference}");
        post_on(&app, &alice, &agent_path, &format!("{agent_path}/reply"), &[("kind", "reply"), ("body", "First answer")]).await;
        let link = mailed_link(&app, "uma@example.org").await;
        assert!(link.starts_with(&format!("/tickets/{reference}?code=")), "{link}");
        let code = link.split("code=").nth(1).unwrap().to_owned();
        assert_eq!(code.len(), 64);

        // Anyone holding the link reads and answers, as the requester.
        let stranger = Browser::new();
        let page = stranger.get(&app, &link).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("First answer"));
        let answered = post_on(&app, &stranger, &link, &format!("/tickets/{reference}/reply"), &[("code", &code), ("body", "Answer by link")]).await;
        assert_eq!(answered.status(), 303, "{}", answered.text().await.unwrap());
        assert!(location(&answered).contains("code="));
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        let messages = app.app.store().tickets().ticket_messages(ticket.id, false).await.unwrap();
        assert_eq!(messages.last().unwrap().author_name.as_deref(), Some("Uma User"));
        // A code fits one ticket only, and a tampered one fits none.
        let other = open_request(&app, &uma, &[("department", desk.support.to_string()), ("subject", "Other".into()), ("message", "Hi".into())], None).await;
        let other_reference = reference_in(&location(&other));
        assert_eq!(stranger.get(&app, &format!("/tickets/{other_reference}?code={code}")).await.status(), 404);
        let mut tampered = code.clone();
        tampered.replace_range(0..1, if code.starts_with('a') { "b" } else { "a" });
        assert_eq!(stranger.get(&app, &format!("/tickets/{reference}?code={tampered}")).await.status(), 404);

        // Revoked: the old link fails, the next mail carries a new one.
        let bob = signed_in(&app, "bob@example.org").await;
        let refused = post_on(&app, &bob, "/agent", &format!("{agent_path}/access-links/revoke"), &[]).await;
        assert_eq!(refused.status(), 404, "Bob cannot see the ticket");
        let revoked = post_on(&app, &alice, &agent_path, &format!("{agent_path}/access-links/revoke"), &[]).await;
        assert_eq!(location(&revoked), format!("{agent_path}?notice=links_revoked"));
        assert_eq!(stranger.get(&app, &link).await.status(), 404);
        let answer = post_on(&app, &stranger, "/login", &format!("/tickets/{reference}/reply"), &[("code", &code), ("body", "Again")]).await;
        assert_eq!(answer.status(), 404);
        post_on(&app, &alice, &agent_path, &format!("{agent_path}/reply"), &[("kind", "reply"), ("body", "Second answer")]).await;
        let mails = crate::helpers::customer_mail(&app, 50).await;
        let newest = mails.iter().filter(|mail| mail.text_body.contains("Second answer")).map(|mail| mail.text_body.clone()).next().unwrap();
        assert!(!newest.contains(&code), "the new mail carries a new code");
        let start = newest.find("/tickets/").unwrap();
        let new_link: String = newest[start..].chars().take_while(|character| !character.is_whitespace()).collect();
        assert_eq!(stranger.get(&app, &new_link).await.status(), 200);
        let page = alice.get(&app, &agent_path).await.text().await.unwrap();
        assert!(!page.contains(&new_link["/tickets/XXXX-XXXX?code=".len()..]), "agents are not shown the code");
    }

    async fn guests_send_requests_only_when_allowed(app: TestApp) {
        let desk = desk(&app).await;
        let guest = Browser::new();
        assert!(location(&guest.get(&app, "/tickets/new").await).starts_with("/login"), "off by default");
        let fields = |subject: &str, email: &str, website: &str| vec![
            ("department".to_owned(), desk.support.to_string()), ("subject".to_owned(), subject.to_owned()),
            ("message".to_owned(), "Please call me".to_owned()), ("name".to_owned(), "Gus Guest".to_owned()),
            ("email".to_owned(), email.to_owned()), ("website".to_owned(), website.to_owned()),
        ];
        let send = |fields: Vec<(String, String)>| {
            let guest = &guest;
            let app = &app;
            async move {
                let borrowed: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
                post_on(app, guest, "/login", "/tickets/new", &borrowed).await
            }
        };
        let refused = send(fields("Off", "gus@example.org", "")).await;
        assert!(location(&refused).starts_with("/login"));
        assert!(app.app.store().people().find_person_by_email("gus@example.org").await.unwrap().is_none());

        app.app.set_help_center(&Caller::system(), "verify", true, Some(vec![desk.support])).await.unwrap();
        let page = guest.get(&app, "/tickets/new").await.text().await.unwrap();
        assert!(page.contains(&format!("name=\"department\" value=\"{}\"", desk.support)) && !page.contains(">Sales<"), "only the chosen department, chosen already");
        assert!(!page.contains("type=\"file\""), "guests attach nothing");
        let sent = send(fields("Guest question", "Gus@Example.org", "")).await;
        assert_eq!(sent.status(), 200);
        assert!(sent.text().await.unwrap().contains("ticket-sent"));
        let link = mailed_link(&app, "Gus@Example.org").await;
        let opened = guest.get(&app, &link).await.text().await.unwrap();
        assert!(opened.contains("Guest question") && opened.contains("Please call me"));

        // Bots, floods, agents' addresses and hidden departments.
        let before = crate::helpers::customer_mail(&app, 50).await.len();
        let bot = send(fields("Buy now", "bot@example.org", "http://spam.example")).await;
        assert_eq!(bot.status(), 200, "the honeypot answers like success");
        assert!(app.app.store().people().find_person_by_email("bot@example.org").await.unwrap().is_none());
        for index in 0..4 {
            assert_eq!(send(fields(&format!("Again {index}"), "gus@example.org", "")).await.status(), 200);
        }
        let agent = send(fields("Pretend", "alice@example.org", "")).await;
        assert_eq!(agent.status(), 200);
        let mails = crate::helpers::customer_mail(&app, 50).await.len();
        assert_eq!(mails - before, 2, "three requests an hour per address; the rest and the others are dropped");
        let mut hidden = fields("Sales question", "gus@example.org", "");
        hidden[0].1 = desk.sales.to_string();
        assert_eq!(send(hidden).await.status(), 422);
        let mut bad = fields("", "not an address", "");
        bad[4].1 = "not an address".to_owned();
        assert_eq!(send(bad).await.status(), 422);
        // A guest cannot send files: multipart needs a signed-in session.
        let token = guest.csrf(&app, "/tickets/new").await;
        let form = Form::new().text("csrf_token", token).text("subject", "x")
            .part("attachments", Part::bytes(b"x".to_vec()).file_name("x.txt"));
        let upload = guest.client.post(app.url("/tickets/new")).multipart(form).send().await.unwrap();
        assert_eq!(upload.status(), 403);
    }

    async fn organization_managers_see_their_organizations_requests(app: TestApp) {
        let desk = desk(&app).await;
        let admin_actor = crate::tickets::actor_of(&desk.admin);
        let caller = Caller::new(&admin_actor, "");
        let organization = app.app.create_organization(&caller, "Acme").await.unwrap();
        let worker = user(&app, "worker@acme.example", "Wendy Worker").await;
        let boss = user(&app, "boss@acme.example", "Bea Boss").await;
        let colleague = user(&app, "colleague@acme.example", "Carl Colleague").await;
        app.app.add_organization_member(&caller, organization, "worker@acme.example", false).await.unwrap();
        app.app.add_organization_member(&caller, organization, "boss@acme.example", true).await.unwrap();
        app.app.add_organization_member(&caller, organization, "colleague@acme.example", false).await.unwrap();
        let made = open_request(&app, &worker, &[("department", desk.support.to_string()), ("subject", "Broken laptop".into()), ("message", "It beeps".into())], None).await;
        let path = location(&made).split('?').next().unwrap().to_owned();

        let list = boss.get(&app, "/tickets?scope=organization").await.text().await.unwrap();
        assert!(list.contains("Broken laptop") && list.contains("Wendy Worker"));
        assert_eq!(boss.get(&app, &path).await.status(), 200);
        let answered = post_on(&app, &boss, &path, &format!("{path}/reply"), &[("code", ""), ("body", "I approve the repair.")]).await;
        assert_eq!(answered.status(), 303);
        assert_eq!(colleague.get(&app, "/tickets?scope=organization").await.status(), 403, "members are not managers");
        assert_eq!(colleague.get(&app, &path).await.status(), 404);
        assert!(!worker.get(&app, "/tickets").await.text().await.unwrap().contains("scope=organization"));
    }

    async fn admins_set_the_help_center_through_its_page(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let support = desk.support.to_string();
        let saved = post_on(&app, &admin, "/admin/help-center", "/admin/help-center", &[
            ("registration", "approval"), ("guest_tickets", "1"), ("department", &support),
        ]).await;
        assert_eq!(location(&saved), "/admin/help-center?notice=saved");
        let settings = app.app.settings().await.unwrap().help_center.clone();
        assert_eq!(settings.registration, ferrodesk_app::RegistrationMode::Approval);
        assert!(settings.guest_tickets);
        assert_eq!(settings.form_departments, Some(vec![desk.support]));
        let bad = post_on(&app, &admin, "/admin/help-center", "/admin/help-center", &[("registration", "everyone")]).await;
        assert_eq!(bad.status(), 422);
        let all = post_on(&app, &admin, "/admin/help-center", "/admin/help-center", &[
            ("registration", "closed"), ("all_departments", "1"),
        ]).await;
        assert_eq!(all.status(), 303);
        let settings = app.app.settings().await.unwrap().help_center.clone();
        assert!(!settings.guest_tickets && settings.form_departments.is_none());
        let alice = signed_in(&app, "alice@example.org").await;
        let refused = post_on(&app, &alice, "/agent", "/admin/help-center", &[("registration", "open")]).await;
        assert_eq!(refused.status(), 403);
        assert!(crate::security::audit_actions(&app).await.iter().filter(|action| *action == "settings.changed").count() >= 2);
    }

    async fn a_link_to_a_merged_request_opens_the_one_it_went_into(app: TestApp) {
        let desk = desk(&app).await;
        let uma = user(&app, "uma@example.org", "Uma User").await;
        let first = reference_in(&location(&open_request(&app, &uma, &[("department", desk.support.to_string()), ("subject", "First".into()), ("message", "One".into())], None).await));
        let second = reference_in(&location(&open_request(&app, &uma, &[("department", desk.support.to_string()), ("subject", "Second".into()), ("message", "Two".into())], None).await));
        // The receipts (sent by the rules job) come before the answer, whose
        // link is the one followed below.
        crate::helpers::rules_settled(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let first_path = format!("/agent/tickets/{first}");
        post_on(&app, &admin, &first_path, &format!("{first_path}/reply"), &[("kind", "reply"), ("body", "Answer to the first")]).await;
        let link = mailed_link(&app, "uma@example.org").await;
        let merged = post_on(&app, &admin, &first_path, &format!("{first_path}/merge"), &[("into", &second)]).await;
        assert_eq!(merged.status(), 303);
        let stranger = Browser::new();
        let page = stranger.get(&app, &link).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains(&second) && page.contains("Answer to the first"), "the link leads to the merged thread");
        let code = link.split("code=").nth(1).unwrap();
        assert_eq!(stranger.get(&app, &format!("/tickets/{second}?code={code}")).await.status(), 404, "the code is still the merged ticket's, not the target's");
        let target_path = format!("/agent/tickets/{second}");
        post_on(&app, &admin, &target_path, &format!("{target_path}/access-links/revoke"), &[]).await;
        assert_eq!(stranger.get(&app, &link).await.status(), 404, "revoking the target's links revokes the merged ticket's too");
    }
}
