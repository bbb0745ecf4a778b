//! Mail in, on both databases: a message becomes a ticket with a receipt
//! threaded under it; replies find their ticket by the signed token in
//! their headers, or by the subject when the sender is on the ticket; a
//! forged agent reply, a loop, a flood, an auto-reply and a bounce are
//! each refused or kept harmlessly; and processing a message twice adds
//! nothing.

use ferrodesk_app::{Caller, InboundOutcome};
use ferrodesk_core::TicketStatus;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, spawn_app};
use crate::tickets::desk;

/// A plain message from `from` with extra header lines.
pub(crate) fn message(from: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    let id = format!(
        "<{}@mail.example.net>",
        subject.len() * 7919 + body.len() * 104_729 + headers.len()
    );
    format!(
        "From: {from}\r\nTo: help@example.org\r\nSubject: {subject}\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: {id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The account mail arrives at in these stories, piped in.
pub(crate) async fn help_account(app: &TestApp) -> i64 {
    app.app
        .store()
        .email_accounts()
        .create_email_account(
            &ferrodesk_app::EmailAccountWrite {
                address: "help@example.org",
                address_normalized: "help@example.org",
                department_id: None,
                transport: "pipe",
                imap_host: "",
                imap_port: 993,
                imap_security: "tls",
                imap_user: "",
                imap_password_sealed: None,
                imap_folder: "INBOX",
                poll_seconds: 60,
                after_fetch: "seen",
                move_to_folder: "",
                is_enabled: true,
            },
            ferrodesk_core::Timestamp(0),
        )
        .await
        .unwrap()
}

/// The newest queued mail to `address` with `template`: its Message-ID and
/// threading headers.
/// The newest mail of a template to an address, once the rules (which
/// send receipts) have run.
async fn newest_mail(app: &TestApp, address: &str, template: &str) -> ferrodesk_app::MailRecord {
    crate::helpers::rules_settled(app).await;
    app.app
        .store()
        .outbox()
        .list_mail(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|mail| mail.recipients.contains(address) && mail.template == template)
        .max_by_key(|mail| mail.id)
        .unwrap_or_else(|| panic!("a {template} mail to {address}"))
}

async fn ticket_of(
    app: &TestApp,
    reference: &ferrodesk_core::TicketRef,
) -> ferrodesk_app::TicketRecord {
    app.app
        .store()
        .tickets()
        .find_ticket(reference)
        .await
        .unwrap()
        .unwrap()
}

fn reference_of(outcome: &InboundOutcome) -> ferrodesk_core::TicketRef {
    match outcome {
        InboundOutcome::NewTicket(reference)
        | InboundOutcome::Reply(reference)
        | InboundOutcome::AgentReply(reference)
        | InboundOutcome::Note(reference) => reference.clone(),
        other => panic!("no ticket: {other:?}"),
    }
}

on_both_backends! { spawn_app;

    async fn a_mail_opens_a_ticket_and_replies_thread_by_token_or_by_subject(app: TestApp) {
        let desk = desk(&app).await;
        help_account(&app).await;
        let first = message(
            "Ines Inbox <ines@example.net>",
            "Printer jams on page two",
            "Cc: Olaf Office <olaf@example.net>, help@example.org\r\n",
            "Hello,\n\nthe printer jams.\n\nBest,\nInes",
        );
        let (_, outcome) = app.app.receive_mail(&first, None).await.unwrap();
        let reference = reference_of(&outcome);
        assert!(matches!(outcome, InboundOutcome::NewTicket(_)), "{outcome:?}");
        let ticket = ticket_of(&app, &reference).await;
        assert_eq!(ticket.department_id, desk.support, "the default department");
        assert_eq!(ticket.subject, "Printer jams on page two");
        assert_eq!(ticket.requester_email, "ines@example.net");
        let thread = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert_eq!(thread.len(), 1);
        assert_eq!(thread[0].channel, "email");
        assert!(thread[0].body_html.contains("Best,<br>\nInes"), "{}", thread[0].body_html);
        let ccs = app.app.store().tickets().ticket_ccs(ticket.id).await.unwrap();
        assert_eq!(ccs.iter().map(|cc| cc.email.as_str()).collect::<Vec<_>>(), ["olaf@example.net"], "Cc becomes CC, never our own address");

        // The receipt is threaded under Ines's message and carries a token.
        let receipt = newest_mail(&app, "ines@example.net", "ticket_received").await;
        assert!(receipt.message_id.starts_with(&format!("<fd.{reference}.")), "{}", receipt.message_id);
        assert!(receipt.headers.contains("@mail.example.net>"), "{}", receipt.headers);

        // Her reply to the receipt, quoting it, lands on the ticket.
        app.app.change_ticket(&Caller::system(), &ferrodesk_app::TicketKey::Id(ticket.id), &ferrodesk_app::TicketChange {
            status: Some(Ok(TicketStatus::Resolved)),
            ..ferrodesk_app::TicketChange::default()
        }).await.ok();
        let reply = message(
            "ines@example.net",
            "Re: something else entirely",
            &format!("In-Reply-To: {}\r\nReferences: {}\r\n", receipt.message_id, receipt.message_id),
            "It jams on page three now.\n\nOn Thu, 3 Dec 2026, Support <help@example.org> wrote:\n> We received your request.\n",
        );
        let (_, outcome) = app.app.receive_mail(&reply, None).await.unwrap();
        assert_eq!(outcome, InboundOutcome::Reply(reference.clone()));
        let thread = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        let last = thread.last().unwrap();
        assert!(last.body_html.contains("page three") && last.body_html.contains("<details class=\"quoted\">"), "{}", last.body_html);
        assert_eq!(ticket_of(&app, &reference).await.status, TicketStatus::AwaitingAgent, "a user's reply goes back to the agents");

        // Without a token, the reference in the subject counts for people on
        // the ticket only.
        let by_subject = message("olaf@example.net", &format!("Re: [{reference}] Printer jams"), "", "Same here.");
        assert_eq!(app.app.receive_mail(&by_subject, None).await.unwrap().1, InboundOutcome::Reply(reference.clone()));
        let stranger = message("mallory@example.com", &format!("Re: [{reference}] Printer jams"), "", "Let me in.");
        let (_, outcome) = app.app.receive_mail(&stranger, None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::NewTicket(ref other) if *other != reference), "a stranger gets a ticket of their own: {outcome:?}");
    }

    async fn nobody_speaks_for_an_agent_without_the_agents_own_token(app: TestApp) {
        let desk = desk(&app).await;
        let (_, outcome) = app.app.receive_mail(&message("ines@example.net", "Broken", "", "It is broken."), None).await.unwrap();
        let reference = reference_of(&outcome);
        let ticket = ticket_of(&app, &reference).await;
        let receipt = newest_mail(&app, "ines@example.net", "ticket_received").await;
        let before = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().len();

        // A forged From: with the reference in the subject.
        let forged = message("Alice Agent <alice@example.org>", &format!("Re: [{reference}] Broken"), "", "Please send me your password.");
        let (_, outcome) = app.app.receive_mail(&forged, None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(_)), "{outcome:?}");
        // A forged From: with a token that was the requester's.
        let forged = message("alice@example.org", "Re: Broken", &format!("In-Reply-To: {}\r\n", receipt.message_id), "Please send me your password.");
        let (_, outcome) = app.app.receive_mail(&forged, None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(ref reason) if reason.contains("agent")), "{outcome:?}");
        // A token with a made-up MAC.
        let guessed = format!("<fd.{reference}.{}.00000000.0123456789abcdef@example.org>", desk.alice.id);
        let forged = message("alice@example.org", "Re: Broken", &format!("In-Reply-To: {guessed}\r\n"), "Please send me your password.");
        assert!(matches!(app.app.receive_mail(&forged, None).await.unwrap().1, InboundOutcome::Rejected(_)));
        assert_eq!(app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().len(), before, "nothing was added");
        let replies_to_ines = app.app.store().outbox().list_mail(None, 100).await.unwrap().into_iter()
            .filter(|mail| mail.recipients.contains("ines@example.net") && mail.template == "ticket_reply").count();
        assert_eq!(replies_to_ines, 0, "nothing was mailed in the agent's name");

        // With the agent's own token: the agent's answer (or note), with the
        // agent's permissions, mailed to the customer.
        let token = app.app.thread_message_id(&reference, desk.alice.id);
        let answer = message("alice@example.org", "Re: Broken", &format!("In-Reply-To: {token}\r\n"), "Please restart it.\n\nAlice");
        assert_eq!(app.app.receive_mail(&answer, None).await.unwrap().1, InboundOutcome::AgentReply(reference.clone()));
        let reply = newest_mail(&app, "ines@example.net", "ticket_reply").await;
        assert!(reply.text_body.contains("Please restart it."), "{}", reply.text_body);
        let note = message("alice@example.org", "Re: Broken", &format!("In-Reply-To: {token}\r\n"), "#note\nCalled her; it works.");
        assert_eq!(app.app.receive_mail(&note, None).await.unwrap().1, InboundOutcome::AgentReply(reference.clone()));
        let thread = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert!(thread.last().unwrap().is_note && thread.last().unwrap().body_html.contains("Called her"));
        // Bob may not see Support's tickets: his token gets him nothing.
        let token = app.app.thread_message_id(&reference, desk.bob.id);
        let answer = message("bob@example.org", "Re: Broken", &format!("In-Reply-To: {token}\r\n"), "Hi from sales.");
        assert!(matches!(app.app.receive_mail(&answer, None).await.unwrap().1, InboundOutcome::Rejected(_)));
    }

    async fn loops_floods_auto_replies_and_bounces_are_handled(app: TestApp) {
        let desk = desk(&app).await;
        let _ = desk;
        let (_, outcome) = app.app.receive_mail(&message("ines@example.net", "Broken", "", "It is broken."), None).await.unwrap();
        let reference = reference_of(&outcome);
        let ticket = ticket_of(&app, &reference).await;
        let receipts = || async { crate::helpers::rules_settled(&app).await; app.app.store().outbox().list_mail(None, 200).await.unwrap().into_iter().filter(|mail| mail.template == "ticket_received").count() };
        assert_eq!(receipts().await, 1);

        // An out-of-office answer to the receipt: a note, no status change,
        // no mail back.
        let receipt = newest_mail(&app, "ines@example.net", "ticket_received").await;
        let away = message("ines@example.net", "Out of office", &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: {}\r\n", receipt.message_id), "I am away until Monday.");
        assert_eq!(app.app.receive_mail(&away, None).await.unwrap().1, InboundOutcome::Note(reference.clone()));
        let thread = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert!(thread.last().unwrap().is_note);
        // Automatic mail that starts a ticket gets no receipt.
        let bulk = message("news@example.com", "Our newsletter", "Precedence: bulk\r\n", "Deals!");
        assert!(matches!(app.app.receive_mail(&bulk, None).await.unwrap().1, InboundOutcome::NewTicket(_)));
        assert_eq!(receipts().await, 1, "no receipt for automatic mail");

        // A bounce of the receipt goes to the ticket as a note.
        let bounce = format!(
            "From: MAILER-DAEMON@mail.example.net\r\nTo: help@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\
             Message-ID: <bounce-1@mail.example.net>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.net\r\n\r\nFinal-Recipient: rfc822; ines@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\
             --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {}\r\nSubject: received\r\n\
             --b--\r\n",
            receipt.message_id
        );
        assert_eq!(app.app.receive_mail(bounce.as_bytes(), None).await.unwrap().1, InboundOutcome::Note(reference.clone()));
        let stray = bounce.replace(&receipt.message_id, "<something-else@example.com>").replace("bounce-1", "bounce-2");
        assert!(matches!(app.app.receive_mail(stray.as_bytes(), None).await.unwrap().1, InboundOutcome::Rejected(_)), "a bounce of nothing we sent");

        // Our own mail coming back is a loop.
        let echo = String::from_utf8(message("someone@example.com", "Echo", "", "x")).unwrap()
            .replace("Message-ID: <", &format!("Message-ID: {}\r\nX-Old-ID: <", receipt.message_id));
        assert!(matches!(app.app.receive_mail(echo.as_bytes(), None).await.unwrap().1, InboundOutcome::Rejected(ref reason) if reason.contains("loop")));

        // A flood from one sender: beyond the hourly limit, refused.
        let mut refused = 0;
        for number in 0..32 {
            let (_, outcome) = app.app.receive_mail(&message("robot@example.com", &format!("Alert {number}"), "", "Disk full."), None).await.unwrap();
            if matches!(outcome, InboundOutcome::Rejected(_)) {
                refused += 1;
            }
        }
        assert_eq!(refused, 2, "30 an hour from one sender");
    }

    async fn nothing_is_added_twice_and_closed_registration_refuses_strangers(app: TestApp) {
        let _desk = desk(&app).await;
        let mail = message("ines@example.net", "Broken", "", "It is broken.");
        let (id, outcome) = app.app.receive_mail(&mail, None).await.unwrap();
        let reference = reference_of(&outcome);
        // Processing again (a retried job) and the same message delivered
        // again both add nothing.
        assert!(matches!(app.app.process_inbound_mail(id).await.unwrap(), InboundOutcome::Duplicate(_)));
        let (_, again) = app.app.receive_mail(&mail, None).await.unwrap();
        assert!(matches!(again, InboundOutcome::Duplicate(_)), "{again:?}");
        let ticket = ticket_of(&app, &reference).await;
        let thread = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert_eq!(thread.len(), 1);
        // "View original" for agents who may see the ticket, no one else.
        let original = format!("/agent/tickets/{reference}/messages/{}/original", thread[0].id);
        let alice = crate::tickets::signed_in(&app, "alice@example.org").await;
        let page = alice.get(&app, &format!("/agent/tickets/{reference}")).await.text().await.unwrap();
        assert!(page.contains(&original), "the ticket page links to it");
        let source = alice.get(&app, &original).await;
        assert_eq!(source.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(source.text().await.unwrap().contains("Subject: Broken"));
        let bob = crate::tickets::signed_in(&app, "bob@example.org").await;
        assert_eq!(bob.get(&app, &original).await.status(), 404, "Bob may not see Support's tickets");

        app.app.set_help_center(&Caller::system(), "closed", false, None).await.unwrap();
        let (_, outcome) = app.app.receive_mail(&message("new@example.com", "Hi", "", "Hello"), None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(ref reason) if reason.contains("registration")), "{outcome:?}");
        let (_, outcome) = app.app.receive_mail(&message("ines@example.net", "Another", "", "Hello again"), None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::NewTicket(_)), "known people still may write: {outcome:?}");
        let (_, outcome) = app.app.receive_mail(b"\0\0 nothing like a mail", None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(_)), "{outcome:?}");
    }
}

/// Counts the received mails and the tickets that came by mail.
async fn mail_counts(app: &TestApp) -> (i64, i64) {
    let received = app
        .app
        .store()
        .inbound_mail()
        .count_recent_inbound("", None, ferrodesk_core::Timestamp(0))
        .await
        .unwrap();
    let account_mail = app
        .app
        .store()
        .email_accounts()
        .list_email_accounts()
        .await
        .unwrap();
    let mut total = received;
    for account in account_mail {
        total += app
            .app
            .store()
            .inbound_mail()
            .count_recent_inbound("", Some(account.id), ferrodesk_core::Timestamp(0))
            .await
            .unwrap();
    }
    let tickets = app
        .app
        .store()
        .tickets()
        .count_tickets(
            &ferrodesk_store::Visibility::Everything,
            &ferrodesk_store::TicketFilter {
                statuses: TicketStatus::ALL.to_vec(),
                ..ferrodesk_store::TicketFilter::default()
            },
        )
        .await
        .unwrap();
    (total, tickets)
}

on_both_backends! { spawn_app;

    async fn mail_fetched_over_imap_becomes_tickets_once_whatever_the_nodes_do(app: TestApp) {
        use ferrodesk_testkit::imap::{IMAP_PASSWORD, IMAP_USER, ImapServer};
        let Some(server) = ImapServer::start() else { return };
        let _desk = desk(&app).await;
        let input = ferrodesk_app::EmailAccountInput {
            address: "help@example.org".into(),
            transport: "imap".into(),
            imap_host: "127.0.0.1".into(),
            imap_port: server.port.to_string(),
            imap_security: "none".into(),
            imap_user: IMAP_USER.into(),
            imap_password: IMAP_PASSWORD.into(),
            imap_folder: "INBOX".into(),
            poll_seconds: "30".into(),
            after_fetch: "seen".into(),
            is_enabled: true,
            ..ferrodesk_app::EmailAccountInput::default()
        };
        let id = app.app.save_email_account(&Caller::system(), None, &input).await.unwrap();
        let answer = app.app.test_email_account(&ferrodesk_app::Actor::System, id).await.unwrap();
        assert!(answer.as_ref().is_ok_and(|summary| summary.contains("UIDVALIDITY")), "{answer:?}");
        let stored = app.app.store().email_accounts().get_email_account(id).await.unwrap().unwrap();
        assert!(!stored.imap_password_sealed.contains(IMAP_PASSWORD), "the password is sealed");

        for number in 0..5 {
            server.deliver(&message(&format!("customer{number}@example.net"), &format!("By IMAP {number}"), "", "Hello over IMAP."));
        }
        // Two nodes (and the test app's own fetcher) at once.
        let (other, other_workers) = app.another_node("smtp://127.0.0.1:1?from=help@example.org").await;
        let account = app.app.store().email_accounts().get_email_account(id).await.unwrap().unwrap();
        let (first, second) = tokio::join!(
            app.app.fetch_account_mail(&account, "node-a"),
            other.fetch_account_mail(&account, "node-b"),
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.error.is_none() && second.error.is_none(), "{first:?} {second:?}");
        crate::helpers::wait_until("five tickets from five mails", || async { mail_counts(&app).await == (5, 5) }).await;
        assert_eq!(server.count(""), (5, 5), "each message marked seen once stored");

        // Stored but not processed when its node stops: another processes it.
        server.deliver(&message("late@example.net", "Late", "", "Fetched just before a crash."));
        other_workers.shut_down().await;
        let report = other.fetch_account_mail(&account, "node-b").await.unwrap();
        drop(other);
        assert!(report.stored == 1 || report.skipped, "{report:?}");
        crate::helpers::wait_until("the late mail's ticket", || async { mail_counts(&app).await == (6, 6) }).await;

        // Nothing new: nothing fetched; a wrong password is noted, not fatal.
        let report = app.app.fetch_account_mail(&account, "node-a").await.unwrap();
        assert_eq!(report.stored, 0);
        let wrong = ferrodesk_app::EmailAccountInput { imap_password: "wrong".into(), ..input };
        app.app.save_email_account(&Caller::system(), Some(id), &wrong).await.unwrap();
        let account = app.app.store().email_accounts().get_email_account(id).await.unwrap().unwrap();
        let report = app.app.fetch_account_mail(&account, "node-a").await.unwrap();
        assert!(report.error.as_deref().is_some_and(|error| error.contains("login")), "{report:?}");
        assert_eq!(mail_counts(&app).await, (6, 6));
    }
}

on_both_backends! { spawn_app;

    async fn admins_set_up_accounts_and_work_the_rejection_log_through_the_pages(app: TestApp) {
        let _desk = desk(&app).await;
        let admin = crate::tickets::signed_in(&app, "admin@example.org").await;
        // A bad account is refused next to its fields, with what was typed.
        let refused = crate::tickets::post_on(&app, &admin, "/admin/email/accounts/new", "/admin/email/accounts/new", &[
            ("address", "not an address"), ("transport", "imap"), ("imap_host", "imap.example.org"), ("imap_port", "993"),
            ("imap_security", "tls"), ("imap_user", "help"), ("imap_password", "secret"), ("imap_folder", "INBOX"),
            ("poll_seconds", "5"), ("after_fetch", "seen"), ("is_enabled", "true"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains("imap.example.org") && !page.contains("secret"), "typed values back, never the password");
        assert!(page.contains("Fetch every 30 seconds"), "{page}");
        let made = crate::tickets::post_on(&app, &admin, "/admin/email/accounts/new", "/admin/email/accounts/new", &[
            ("address", "Help@Example.org"), ("transport", "pipe"), ("is_enabled", "true"),
        ]).await;
        assert_eq!(made.status(), 303);
        let path = crate::helpers::location(&made);
        let id: i64 = path.trim_start_matches("/admin/email/accounts/").split('?').next().unwrap().parse().unwrap();
        let list = admin.get(&app, "/admin/email/accounts").await.text().await.unwrap();
        assert!(list.contains("Help@Example.org") && list.contains("pipe"));
        let test = crate::tickets::post_on(&app, &admin, &format!("/admin/email/accounts/{id}"), &format!("/admin/email/accounts/{id}/test"), &[]).await;
        assert!(test.text().await.unwrap().contains("through a pipe"));
        let audit = app.app.store().audit_log().search_audit(&ferrodesk_store::AuditFilter { action_prefix: Some("email_account.".into()), ..ferrodesk_store::AuditFilter::default() }, 10).await.unwrap();
        assert_eq!(audit.len(), 1, "the account's creation is audited");
        // The limits: refused with the typed values kept, then saved.
        let refused = crate::tickets::post_on(&app, &admin, "/admin/email/accounts", "/admin/email/limits", &[
            ("auto_replies", "5"), ("per_sender", "0"), ("per_account", "2000"), ("kept_days", "30"),
        ]).await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("Messages per sender and hour: 1 to 10,000."));
        let saved = crate::tickets::post_on(&app, &admin, "/admin/email/accounts", "/admin/email/limits", &[
            ("auto_replies", "2"), ("per_sender", "50"), ("per_account", "2000"), ("kept_days", "7"), ("reply_to_plus_address", "1"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let limits = app.app.settings().await.unwrap().mail_in.clone();
        assert_eq!((limits.auto_replies_per_address_per_hour, limits.mails_per_sender_per_hour, limits.rejections_kept_days), (2, 50, 7));
        assert!(limits.reply_to_plus_address);
        let page = admin.get(&app, "/admin/email/accounts").await.text().await.unwrap();
        assert!(page.contains(r#"name="reply_to_plus_address" value="1" checked"#), "the box shows what is saved");

        // A refused message is listed, its source downloadable by admins
        // only, and it can go through again once the cause is fixed.
        app.app.set_help_center(&Caller::system(), "closed", false, None).await.unwrap();
        let (id, outcome) = app.app.receive_mail(&message("stranger@example.com", "Let me <script>in</script>", "", "Hello"), Some("help@example.org")).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(_)), "{outcome:?}");
        let log = admin.get(&app, "/admin/email/rejections").await.text().await.unwrap();
        assert!(log.contains(&format!("rejection-{id}")) && log.contains("registration is closed"), "{log}");
        assert!(!log.contains("<script>in"), "subjects are escaped");
        let source = admin.get(&app, &format!("/admin/email/rejections/{id}/source")).await;
        assert_eq!(source.headers()["content-type"], "message/rfc822");
        assert!(source.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let agent = crate::tickets::signed_in(&app, "alice@example.org").await;
        assert_eq!(agent.get(&app, &format!("/admin/email/rejections/{id}/source")).await.status(), 403);
        app.app.set_help_center(&Caller::system(), "verify", false, None).await.unwrap();
        let retried = crate::tickets::post_on(&app, &admin, "/admin/email/rejections", &format!("/admin/email/rejections/{id}/retry"), &[]).await;
        assert_eq!(retried.status(), 303);
        crate::helpers::wait_until("the message processed again", || async {
            app.app.store().inbound_mail().get_inbound_mail(id).await.unwrap().unwrap().state != "pending"
        }).await;
        let record = app.app.store().inbound_mail().get_inbound_mail(id).await.unwrap().unwrap();
        assert_eq!(record.state, "done", "{}", record.reason);
        assert!(record.ticket_id.is_some(), "it became a ticket");
    }
}

on_both_backends! { spawn_app;

    async fn rejected_mail_is_kept_for_the_admins_retention_only(app: TestApp) {
        let _desk = desk(&app).await;
        app.app.set_help_center(&Caller::system(), "closed", false, None).await.unwrap();
        let (id, outcome) = app.app.receive_mail(&message("stranger@example.com", "Hi", "", "Hello"), None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(_)));
        assert_eq!(app.app.forget_old_rejected_mail().await.unwrap(), 0, "kept within the 30 days");
        app.advance_clock(std::time::Duration::from_secs(31 * 24 * 60 * 60));
        assert_eq!(app.app.forget_old_rejected_mail().await.unwrap(), 1);
        assert!(app.app.store().inbound_mail().get_inbound_mail(id).await.unwrap().is_none());
    }
}

/// How many mails of `template` went to `address`.
pub(crate) async fn mails_to(app: &TestApp, address: &str, template: &str) -> usize {
    app.app
        .store()
        .outbox()
        .list_mail(None, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|mail| mail.recipients.contains(address) && mail.template == template)
        .count()
}

on_both_backends! { spawn_app;

    async fn agents_hear_of_their_work_by_mail_and_answer_it_from_their_mailbox(app: TestApp) {
        let desk = desk(&app).await;
        let (_, outcome) = app.app.receive_mail(&message("ines@example.net", "Printer jams", "", "It jams."), None).await.unwrap();
        let reference = reference_of(&outcome);
        crate::helpers::wait_until("Alice hears of the new ticket", || async { mails_to(&app, "alice@example.org", "agent_notification").await == 1 }).await;
        crate::helpers::wait_until("the admin too", || async { mails_to(&app, "admin@example.org", "agent_notification").await == 1 }).await;
        assert_eq!(mails_to(&app, "bob@example.org", "agent_notification").await, 0, "Bob may not see Support's tickets");
        assert_eq!(mails_to(&app, "carol@example.org", "agent_notification").await, 0);

        // Alice turns new-ticket mail off on her account page.
        let alice = crate::tickets::signed_in(&app, "alice@example.org").await;
        let saved = crate::tickets::post_on(&app, &alice, "/agent/account", "/agent/account/work-mail", &[("assigned", "1"), ("user_reply", "1")]).await;
        assert_eq!(saved.status(), 303);
        assert!(alice.get(&app, "/agent/account").await.text().await.unwrap().contains("id=\"work-mail\""));
        app.app.receive_mail(&message("olaf@example.net", "Scanner", "", "Scanner broken."), None).await.unwrap();
        crate::helpers::wait_until("the admin hears of the second", || async { mails_to(&app, "admin@example.org", "agent_notification").await == 2 }).await;
        assert_eq!(mails_to(&app, "alice@example.org", "agent_notification").await, 1, "she switched it off");

        // Assigned to Alice: she hears of it.
        let admin = crate::tickets::actor_of(&desk.admin);
        let ticket = ticket_of(&app, &reference).await;
        app.app.change_ticket(&Caller::new(&admin, ""), &ferrodesk_app::TicketKey::Id(ticket.id), &crate::helpers::assignment(desk.support, desk.alice.id)).await.unwrap();
        crate::helpers::wait_until("Alice hears of the assignment", || async { mails_to(&app, "alice@example.org", "agent_notification").await == 2 }).await;

        // Ines replies to her receipt: Alice hears of it, and answers by
        // replying to that notification from her mailbox.
        let receipt = newest_mail(&app, "ines@example.net", "ticket_received").await;
        let reply = message("ines@example.net", "Re: Printer jams", &format!("In-Reply-To: {}\r\n", receipt.message_id), "Now it smokes.");
        assert_eq!(app.app.receive_mail(&reply, None).await.unwrap().1, InboundOutcome::Reply(reference.clone()));
        crate::helpers::wait_until("Alice hears of the reply", || async { mails_to(&app, "alice@example.org", "agent_notification").await == 3 }).await;
        let notification = newest_mail(&app, "alice@example.org", "agent_notification").await;
        assert!(notification.subject.contains("New reply") && notification.text_body.contains("Now it smokes."), "{}\n{}", notification.subject, notification.text_body);
        let answer = message("alice@example.org", "Re: New reply", &format!("In-Reply-To: {}\r\n", notification.message_id), "Unplug it right away.");
        assert_eq!(app.app.receive_mail(&answer, None).await.unwrap().1, InboundOutcome::AgentReply(reference.clone()));
        let to_ines = newest_mail(&app, "ines@example.net", "ticket_reply").await;
        assert!(to_ines.text_body.contains("Unplug it right away."));

        // A note naming the admin tells the admin (quoting it); naming Bob,
        // who may not see the ticket, tells nobody.
        let alice_actor = crate::tickets::actor_of(&desk.alice);
        let mut note = crate::helpers::reply_with("@admin could you check the warranty? @bob FYI");
        note.is_note = true;
        let before = mails_to(&app, "admin@example.org", "agent_notification").await;
        app.app.reply_to_ticket(&Caller::new(&alice_actor, ""), &ferrodesk_app::TicketKey::Id(ticket.id), &note).await.unwrap();
        crate::helpers::wait_until("the admin hears of the mention", || async { mails_to(&app, "admin@example.org", "agent_notification").await == before + 1 }).await;
        let mention = newest_mail(&app, "admin@example.org", "agent_notification").await;
        assert!(mention.subject.contains("mentioned") && mention.text_body.contains("warranty"), "{}", mention.subject);
        assert_eq!(mails_to(&app, "bob@example.org", "agent_notification").await, 0);

        // Resolved: Ines is told, and her answer to that opens it again.
        app.app.change_ticket(&Caller::new(&alice_actor, ""), &ferrodesk_app::TicketKey::Id(ticket.id), &ferrodesk_app::TicketChange {
            status: Some(Ok(TicketStatus::Resolved)),
            ..ferrodesk_app::TicketChange::default()
        }).await.unwrap();
        let resolved = newest_mail(&app, "ines@example.net", "ticket_resolved").await;
        let reopen = message("ines@example.net", "Re: Resolved", &format!("In-Reply-To: {}\r\n", resolved.message_id), "It smokes again.");
        assert_eq!(app.app.receive_mail(&reopen, None).await.unwrap().1, InboundOutcome::Reply(reference.clone()));
        assert_eq!(ticket_of(&app, &reference).await.status, TicketStatus::AwaitingAgent);
    }
}

on_both_backends! { spawn_app;

    async fn a_ticket_opened_on_a_users_behalf_mails_them_a_receipt_unless_asked_not_to(app: TestApp) {
        let desk = desk(&app).await;
        let support = desk.support.to_string();
        let alice = crate::tickets::signed_in(&app, "alice@example.org").await;
        let form = alice.get(&app, "/agent/tickets/new").await.text().await.unwrap();
        assert!(form.contains(r#"name="send_receipt" value="1" checked"#), "on by default");
        let fields = |email: &'static str, receipt: bool| {
            let mut fields = vec![("requester_email", email), ("requester_name", "New User"), ("subject", "Printer jams"), ("message", "It jams."), ("department", support.as_str()), ("urgency", "1")];
            if receipt {
                fields.push(("send_receipt", "1"));
            }
            fields
        };
        let made = crate::tickets::post_on(&app, &alice, "/agent/tickets/new", "/agent/tickets/new", &fields("uma@example.net", true)).await;
        assert_eq!(made.status(), 303, "{:?}", made.text().await.unwrap().split("role=\"alert\"").nth(1).map(|rest| &rest[..300.min(rest.len())]));
        let receipt = newest_mail(&app, "uma@example.net", "ticket_received").await;
        let reference = crate::helpers::location(&made).split('?').next().unwrap().rsplit('/').next().unwrap().to_owned();
        assert!(receipt.subject.contains(&reference), "{}", receipt.subject);
        assert!(receipt.message_id.starts_with(&format!("<fd.{reference}.")), "threaded like every ticket mail: {}", receipt.message_id);
        let quiet = crate::tickets::post_on(&app, &alice, "/agent/tickets/new", "/agent/tickets/new", &fields("vera@example.net", false)).await;
        assert_eq!(quiet.status(), 303);
        assert_eq!(mails_to(&app, "vera@example.net", "ticket_received").await, 0, "unticked: no receipt");

        let key = crate::api::key_for(&app, "alice@example.org", "tickets.*").await;
        for (email, send_receipt, expected) in [("walt@example.net", None, 1), ("xena@example.net", Some(false), 0), ("yuri@example.net", Some(true), 1)] {
            let mut body = serde_json::json!({"subject": "Sync fails", "message": "Since Monday.", "person": {"email": email, "name": "New User"}});
            if let Some(send_receipt) = send_receipt {
                body["send_receipt"] = serde_json::json!(send_receipt);
            }
            let (status, _, _) = crate::api::call(&app, &key, reqwest::Method::POST, "/api/v2/tickets", Some(body)).await;
            assert_eq!(status, reqwest::StatusCode::CREATED);
            assert_eq!(mails_to(&app, email, "ticket_received").await, expected, "{email} {send_receipt:?}");
        }
    }
}

on_both_backends! { crate::mail::spawn_with_mail;

    async fn a_reply_to_the_signed_plus_address_finds_its_ticket_without_thread_headers(test: crate::mail::MailTest) {
        let app = &test.app;
        let reply_to = |raw: &str| raw.lines().find_map(|line| line.strip_prefix("Reply-To: ")).map(str::to_owned);
        let (_, first) = app.app.receive_mail(&message("ines@example.net", "Printer jams", "", "It jams."), None).await.unwrap();
        let received = test.smtp.wait_for(1, std::time::Duration::from_secs(20)).await;
        assert_eq!(reply_to(&received[0].raw), None, "off by default");

        let settings = ferrodesk_app::MailInInput {
            auto_replies_per_address_per_hour: "5",
            mails_per_sender_per_hour: "30",
            mails_per_account_per_hour: "2000",
            rejections_kept_days: "30",
            reply_to_plus_address: true,
        };
        app.app.set_mail_in_settings(&Caller::system(), &settings).await.unwrap();
        let (_, second) = app.app.receive_mail(&message("ines@example.net", "Scanner smokes", "", "Smoke."), None).await.unwrap();
        let received = test.smtp.wait_for(2, std::time::Duration::from_secs(20)).await;
        let receipt = received.iter().find(|mail| mail.subject.contains(reference_of(&second).as_str())).unwrap();
        let address = reply_to(&receipt.raw).expect("a Reply-To");
        let address = address.rsplit_once('<').map_or(address.as_str(), |(_, rest)| rest.trim_end_matches('>')).to_owned();
        assert!(address.contains(&format!("+fd.{}.", reference_of(&second))), "{address}");

        // A mail program that keeps no thread headers and rewrites the subject.
        let answer = format!(
            "From: ines@example.net\r\nTo: {address}\r\nSubject: thanks\r\nMessage-ID: <plus-1@mail.example.net>\r\n\r\nIt works now.\r\n"
        );
        let (_, outcome) = app.app.receive_mail(answer.as_bytes(), None).await.unwrap();
        assert_eq!(outcome, InboundOutcome::Reply(reference_of(&second)));
        // The token is signed: an altered one names nothing.
        let forged = address.replacen("+fd.", "+fd.X", 1);
        let answer = format!("From: ines@example.net\r\nTo: {forged}\r\nSubject: thanks again\r\nMessage-ID: <plus-2@mail.example.net>\r\n\r\nHello.\r\n");
        let (_, outcome) = app.app.receive_mail(answer.as_bytes(), None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::NewTicket(reference) if reference != reference_of(&first) && reference != reference_of(&second)));
    }
}

on_both_backends! { spawn_app;

    async fn a_large_message_keeps_its_source_as_a_file_that_the_sweep_leaves(app: TestApp) {
        let body = "A long log line that repeats.\r\n".repeat(100_000);
        let raw = message("Ines Inbox <ines@example.net>", "Three megabytes of logs", "", &body);
        assert!(raw.len() > 3_000_000);
        let (id, outcome) = app.app.receive_mail(&raw, None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::NewTicket(_)), "{outcome:?}");
        let kept = app.app.store().inbound_mail().inbound_mail_source(id).await.unwrap().unwrap();
        let ferrodesk_store::StoredSource::File(sha256) = kept else { panic!("kept in its row") };
        let record = app.app.store().inbound_mail().get_inbound_mail(id).await.unwrap().unwrap();
        assert_eq!(record.size as usize, raw.len(), "the size is the source's, not the row's");
        // The sweep of unused files leaves it, and the admin reads it whole.
        app.advance_clock(std::time::Duration::from_secs(3 * 86_400));
        app.app.sweep_unreferenced_blobs().await.unwrap();
        let (_, source) = app.app.received_mail_source(&Caller::system(), id).await.unwrap();
        assert!(source == raw, "the source read back is the one received");
        // A small one stays in its row.
        let (small, _) = app.app.receive_mail(&message("ines@example.net", "Short", "", "Hello."), None).await.unwrap();
        let kept = app.app.store().inbound_mail().inbound_mail_source(small).await.unwrap().unwrap();
        assert!(matches!(kept, ferrodesk_store::StoredSource::Row(bytes) if bytes.ends_with(b"Hello.\r\n")));
        assert!(!sha256.is_empty());
    }

    async fn a_message_too_large_to_take_is_logged_and_its_sender_told(app: TestApp) {
        let padding = "x".repeat(ferrodesk_app::MAX_INBOUND_MAIL_BYTES + 1024);
        let (id, outcome) = app.app.receive_mail(&message("Ines Inbox <ines@example.net>", "Our logs", "", &padding), None).await.unwrap();
        assert!(matches!(&outcome, InboundOutcome::Rejected(reason) if reason.contains("MiB")), "{outcome:?}");
        let record = app.app.store().inbound_mail().get_inbound_mail(id).await.unwrap().unwrap();
        assert_eq!(record.state, "rejected");
        assert_eq!(record.sender, "ines@example.net");
        let notice = newest_mail(&app, "ines@example.net", "mail_refused").await;
        assert!(notice.subject.contains("Our logs"), "{}", notice.subject);
        assert!(notice.text_body.contains("MiB") && notice.text_body.contains("Hello Ines Inbox"), "{}", notice.text_body);
        assert!(notice.headers.contains("In-Reply-To"), "threaded under their message: {}", notice.headers);

        // No notice answers an automatic message.
        let (_, outcome) = app.app.receive_mail(&message("robot@example.net", "Nightly dump", "Auto-Submitted: auto-generated\r\n", &padding), None).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Rejected(_)));
        assert_eq!(mails_to(&app, "robot@example.net", "mail_refused").await, 0);
    }
}
