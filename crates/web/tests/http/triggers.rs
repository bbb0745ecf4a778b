//! Triggers on both databases: an admin sets them up in the browser, in
//! words; they run in order on the events they watch, stop when told to,
//! act (labels, urgency, round-robin assignment, mail, notes, follow,
//! webhook), write each change to the ticket log under the rule's name,
//! let their own changes fire "ticket updated" once per chain, and stop a
//! chain that keeps going. "Test against a ticket" changes nothing. Only
//! admins reach the pages; every change is audited.

use std::time::Duration;

use ferrodesk_app::{Caller, TicketChange};
use ferrodesk_core::Urgency;
use ferrodesk_testkit::on_both_backends;

use ferrodesk_app::AccountKind;

use crate::helpers::{TestApp, location, rules_settled, spawn_app, ticket_key, wait_until};
use crate::security::audit_actions;
use crate::tickets::{Desk, desk, group, open_ticket, post_on, signed_in};
use crate::webhooks::{receiver, wait_for};

const NEW: &str = "/admin/rules/triggers/new";

/// One trigger as the form sends it: (field, operator, value) conditions
/// of "all", and (kind, value, subject, body) actions.
struct Rule<'a> {
    name: &'a str,
    events: &'a [&'a str],
    actors: &'a [&'a str],
    all: &'a [(&'a str, &'a str, &'a str)],
    actions: &'a [(&'a str, &'a str, &'a str, &'a str)],
}

async fn add_rule(app: &TestApp, admin: &crate::security::Browser, rule: &Rule<'_>) -> i64 {
    let mut fields: Vec<(&str, &str)> = vec![("name", rule.name), ("is_enabled", "1")];
    for event in rule.events {
        fields.push(("event", event));
    }
    for actor in rule.actors {
        fields.push(("actor", actor));
    }
    for (field, operator, value) in rule.all {
        fields.extend([
            ("all_field", *field),
            ("all_operator", *operator),
            ("all_value", *value),
        ]);
    }
    // An empty row, as the form always sends some.
    fields.extend([("all_field", ""), ("all_operator", "is"), ("all_value", "")]);
    for (kind, value, subject, body) in rule.actions {
        fields.extend([
            ("action_kind", *kind),
            ("action_value", *value),
            ("action_subject", *subject),
            ("action_body", *body),
        ]);
    }
    fields.extend([
        ("action_kind", ""),
        ("action_value", ""),
        ("action_subject", ""),
        ("action_body", ""),
    ]);
    let created = post_on(app, admin, NEW, NEW, &fields).await;
    assert_eq!(created.status(), 303, "{}", created.text().await.unwrap());
    location(&created)
        .trim_start_matches("/admin/rules/triggers/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A second Support agent, so a round robin has somewhere to go.
async fn dave(app: &TestApp, desk: &Desk) -> ferrodesk_store::PersonRecord {
    let dave = app
        .create_account("dave@example.org", "Dave Agent", AccountKind::Agent)
        .await;
    let system = Caller::system();
    let group_id = app
        .app
        .create_permission_group(
            &system,
            &group(
                "Support too",
                &["tickets.reply", "tickets.edit"],
                desk.support,
                "full",
            ),
        )
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, dave.id, &[group_id], &[])
        .await
        .unwrap();
    dave
}

/// A ticket with its labels, thread and log, read from the store.
struct TicketNow {
    ticket: ferrodesk_store::TicketRecord,
    labels: ferrodesk_core::Labels,
    messages: Vec<ferrodesk_store::MessageRecord>,
    log: Vec<ferrodesk_store::TicketLogRecord>,
}

async fn state_of(app: &TestApp, reference: &str) -> TicketNow {
    let ticket = app
        .app
        .store()
        .tickets()
        .find_ticket(&crate::helpers::ticket_ref(reference))
        .await
        .unwrap()
        .unwrap();
    let labels = app
        .app
        .store()
        .tickets()
        .ticket_labels(ticket.id)
        .await
        .unwrap();
    let log = app
        .app
        .store()
        .tickets()
        .ticket_log(ticket.id)
        .await
        .unwrap();
    let messages = app
        .app
        .store()
        .tickets()
        .ticket_messages(ticket.id, true)
        .await
        .unwrap();
    TicketNow {
        ticket,
        labels,
        messages,
        log,
    }
}

on_both_backends! { spawn_app;

    async fn triggers_run_in_order_act_and_stop_and_their_changes_fire_ticket_updated_once(app: TestApp) {
        let desk = desk(&app).await;
        let dave = dave(&app, &desk).await;
        let system = Caller::system();
        let team = app.app.create_team(&system, "Desk team").await.unwrap();
        app.app.update_team(&system, team, "Desk team", &[desk.alice.id, dave.id, desk.carol.id]).await.unwrap();
        let admin = signed_in(&app, "admin@example.org").await;

        add_rule(&app, &admin, &Rule {
            name: "Invoices", events: &["new_ticket"], actors: &[],
            all: &[("subject", "contains", "invoice")],
            actions: &[
                ("add_labels", "billing", "", ""),
                ("set_urgency", "8", "", ""),
                ("assign_round_robin", "Desk team", "", ""),
                ("email_requester", "", "We got {{ ticket.reference }}", "Hello {{ user.first_name }}, we are on it."),
            ],
        }).await;
        add_rule(&app, &admin, &Rule {
            name: "Urgent follow-up", events: &["ticket_updated"], actors: &["rule"],
            all: &[("urgency", "changed_to", "8")],
            actions: &[("add_note", "", "", "Watch {{ ticket.reference }} closely."), ("follow", "alice@example.org", "", "")],
        }).await;
        add_rule(&app, &admin, &Rule {
            name: "Stopper", events: &["new_ticket"], actors: &[],
            all: &[("subject", "matches", r"^vip\b")],
            actions: &[("stop", "", "", "")],
        }).await;
        add_rule(&app, &admin, &Rule {
            name: "After the stop", events: &["new_ticket"], actors: &[],
            all: &[("subject", "contains", "vip")],
            actions: &[("add_labels", "after-stop", "", "")],
        }).await;

        let first = open_ticket(&app, &desk.alice, desk.support, "Invoice 42 is wrong").await;
        // In turn means in the order the rules ran: one event's rules at a time.
        rules_settled(&app).await;
        let second = open_ticket(&app, &desk.alice, desk.support, "Another invoice").await;
        let vip = open_ticket(&app, &desk.alice, desk.support, "VIP question").await;
        rules_settled(&app).await;

        let one = state_of(&app, &first).await;
        assert_eq!(one.labels.to_strings(), ["billing"]);
        assert_eq!(one.ticket.urgency, Urgency::new(8).unwrap());
        assert_eq!(one.ticket.team_id, Some(team));
        assert_eq!(one.ticket.agent_id, Some(desk.alice.id), "round robin starts with the first member who may take it (Carol has no access)");
        let two = state_of(&app, &second).await;
        assert_eq!(two.ticket.agent_id, Some(dave.id), "and goes on in turn");
        // The chain: the rule's urgency change fired "ticket updated" by a rule.
        let note = one.messages.iter().find(|message| message.is_note).expect("the follow-up note");
        assert!(note.body_html.contains(&format!("Watch {first} closely.")), "{}", note.body_html);
        assert!(app.app.store().tickets().is_following(one.ticket.id, desk.alice.id).await.unwrap());
        // Each change is logged under the rule's name.
        let by_rule: Vec<(&str, &str)> = one.log.iter().map(|line| (line.actor.as_str(), line.field.as_str())).collect();
        for expected in [("rule Invoices", "labels"), ("rule Invoices", "urgency"), ("rule Invoices", "agent"), ("rule Invoices", "team"), ("rule Urgent follow-up", "rule")] {
            assert!(by_rule.contains(&expected), "{expected:?} in {by_rule:?}");
        }
        // The mail to the requester, rendered in the sandbox.
        let mails = app.app.store().outbox().list_mail(None, 50).await.unwrap();
        let receipt = mails.iter().find(|mail| mail.subject == format!("We got {first}")).expect("the rule's mail");
        assert!(receipt.recipients.contains("uma@example.org") && receipt.text_body.contains("Hello Uma, we are on it."), "{receipt:?}");
        // Stop: the trigger after it did not run for the VIP ticket.
        let three = state_of(&app, &vip).await;
        assert!(three.labels.to_strings().is_empty(), "{:?}", three.labels);

        // An agent's own change is "ticket updated" by an agent: the rule
        // waiting for a rule's change does not run.
        let alice = crate::tickets::actor_of(&desk.alice);
        let change = TicketChange { urgency: Some(Ok(Urgency::new(8).unwrap())), ..TicketChange::default() };
        app.app.change_ticket(&Caller::new(&alice, "192.0.2.1"), &ticket_key(&vip), &change).await.unwrap();
        rules_settled(&app).await;
        assert!(state_of(&app, &vip).await.messages.iter().all(|message| !message.is_note));
        let actions = audit_actions(&app).await;
        assert!(actions.iter().any(|action| action == "trigger.created"), "{actions:?}");
    }

    async fn a_chain_of_rules_stops_after_its_rounds_and_no_rule_runs_twice(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        // Each step answers the one before: 1 → 2 → … → 7.
        for step in 1..=6 {
            let from = step.to_string();
            let to = (step + 1).to_string();
            add_rule(&app, &admin, &Rule {
                name: &format!("Step {step}"), events: &["ticket_updated"], actors: &[],
                all: &[("urgency", "changed_to", &from)],
                actions: &[("set_urgency", &to, "", "")],
            }).await;
        }
        // Two rules that undo each other run once each.
        add_rule(&app, &admin, &Rule { name: "Ping", events: &["ticket_updated"], actors: &[], all: &[("status", "changed_to", "pending")], actions: &[("add_labels", "ping", "", "")] }).await;
        add_rule(&app, &admin, &Rule { name: "Pong", events: &["ticket_updated"], actors: &["rule"], all: &[("labels", "changed", "")], actions: &[("remove_labels", "ping", "", "")] }).await;
        let reference = open_ticket(&app, &desk.alice, desk.support, "Chains").await;
        rules_settled(&app).await;
        let alice = crate::tickets::actor_of(&desk.alice);
        let change = TicketChange { urgency: Some(Ok(Urgency::new(1).unwrap())), status: Some(Ok(ferrodesk_core::TicketStatus::Pending)), ..TicketChange::default() };
        app.app.change_ticket(&Caller::new(&alice, "192.0.2.1"), &ticket_key(&reference), &change).await.unwrap();
        rules_settled(&app).await;
        let view = state_of(&app, &reference).await;
        let rounds = ferrodesk_app::rules::MAX_CHAIN_ROUNDS;
        assert_eq!(view.ticket.urgency.get(), i64::try_from(rounds).unwrap() + 1, "the chain stopped after {rounds} rounds");
        let steps = view.log.iter().filter(|line| line.actor.starts_with("rule Step")).count();
        assert_eq!(steps, rounds);
        let pings = view.log.iter().filter(|line| line.actor == "rule Ping").count();
        let pongs = view.log.iter().filter(|line| line.actor == "rule Pong").count();
        assert_eq!((pings, pongs), (1, 1), "each rule once per chain");
        assert!(view.labels.to_strings().is_empty());
    }

    async fn ticket_events_reach_webhooks_with_the_ticket_as_rules_left_it(app: TestApp) {
        let desk = desk(&app).await;
        let (port, received) = receiver(vec![200]).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let url = format!("http://127.0.0.1:{port}/in");
        let hooks = "/admin/rules/webhooks/new";
        let created = post_on(&app, &admin, hooks, hooks, &[("name", "Chat tool"), ("url", &url), ("event", "ticket.created"), ("secret", "shh-secret"), ("is_enabled", "1")]).await;
        assert_eq!(created.status(), 303);
        let called = post_on(&app, &admin, hooks, hooks, &[("name", "Escalations"), ("url", &url), ("event", "webhook.test"), ("is_enabled", "1")]).await;
        assert_eq!(called.status(), 303);
        add_rule(&app, &admin, &Rule {
            name: "Label and call", events: &["new_ticket"], actors: &[],
            all: &[],
            actions: &[("add_labels", "seen", "", ""), ("call_webhook", "Escalations", "", "")],
        }).await;
        let reference = open_ticket(&app, &desk.alice, desk.support, "Hello hooks").await;
        let got = wait_for(&received, 2).await;
        let bodies: Vec<serde_json::Value> = got.iter().map(|request| serde_json::from_slice(&request.body).unwrap()).collect();
        for body in &bodies {
            assert_eq!(body["event"], "ticket.created");
            assert_eq!(body["ticket"]["reference"], reference.as_str());
            assert_eq!(body["ticket"]["labels"], serde_json::json!(["seen"]), "after the rules ran");
            assert_eq!(body["actor"]["kind"], "agent");
        }
        assert!(bodies.iter().any(|body| body["trigger"] == "Label and call"));
        let signed = got.iter().find(|request| !request.header("x-ferrodesk-signature").is_empty()).expect("the signed one");
        let header = signed.header("x-ferrodesk-signature");
        let t: i64 = header.trim_start_matches("t=").split(',').next().unwrap().parse().unwrap();
        assert_eq!(header, ferrodesk_app::webhooks::signature(b"shh-secret", t, &signed.body));
        // Exactly once: no further deliveries come.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(received.lock().unwrap().len(), 2);
    }

    async fn only_admins_reach_triggers_a_test_changes_nothing_and_bad_rules_are_refused(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.alice, desk.support, "Refund for order 7").await;
        let admin = signed_in(&app, "admin@example.org").await;
        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, "/admin/rules/triggers").await.status(), 403);
        let forged = admin.post(&app, NEW, &[("name", "Forged"), ("event", "new_ticket"), ("action_kind", "stop")]).await;
        assert_eq!(forged.status(), 403, "no form without its CSRF token");
        for (fields, problem) in [
            (vec![("name", "No events"), ("action_kind", "stop"), ("action_value", ""), ("action_subject", ""), ("action_body", "")], "Choose at least one event"),
            (vec![("name", "Bad pattern"), ("event", "new_ticket"), ("all_field", "subject"), ("all_operator", "matches"), ("all_value", "(unclosed"), ("action_kind", "stop"), ("action_value", ""), ("action_subject", ""), ("action_body", "")], "The pattern does not work"),
            (vec![("name", "Unknown team"), ("event", "new_ticket"), ("action_kind", "assign_round_robin"), ("action_value", "Nobody's team"), ("action_subject", ""), ("action_body", "")], "No team is called"),
            (vec![("name", "Bad template"), ("event", "new_ticket"), ("action_kind", "add_note"), ("action_value", ""), ("action_subject", ""), ("action_body", "{{ ticket.reference ")], "placeholders do not work"),
            (vec![("name", "No actions"), ("event", "new_ticket")], "Choose at least one action"),
        ] {
            let refused = post_on(&app, &admin, NEW, NEW, &fields).await;
            assert_eq!(refused.status(), 422);
            let page = refused.text().await.unwrap();
            assert!(page.contains("id=\"trigger-errors\"") && page.contains(problem), "{problem}: {page}");
        }
        let id = add_rule(&app, &admin, &Rule {
            name: "Refunds", events: &["new_ticket"], actors: &[],
            all: &[("subject", "contains", "refund"), ("department", "is", "Support")],
            actions: &[("set_status", "pending", "", ""), ("add_labels", "refund", "", ""), ("email_address", "finance@example.com", "Refund {{ ticket.reference }}", "See {{ ticket.agent_link }}")],
        }).await;
        let page = admin.get(&app, &format!("/admin/rules/triggers/{id}?test={reference}&event=new_ticket")).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("would run") && page.contains("✓ holds"), "{page}");
        assert!(page.contains("change the status from"), "{page}");
        assert!(page.contains("✓ runs on &quot;New ticket&quot;") || page.contains("✓ runs on &#34;New ticket&#34;") || page.contains("✓ runs on \"New ticket\""), "{page}");
        assert!(page.contains("finance@example.com"), "{page}");
        assert!(page.contains("value=\"Support\""), "names, not ids, in the form: {page}");
        let view = state_of(&app, &reference).await;
        assert_eq!(view.ticket.status, ferrodesk_core::TicketStatus::AwaitingAgent, "a test changes nothing");
        assert!(view.labels.to_strings().is_empty());
        let missing = admin.get(&app, &format!("/admin/rules/triggers/{id}?test=NOPE-0000-XXX")).await.text().await.unwrap();
        assert!(missing.contains("No ticket has that reference."));
        let deleted = post_on(&app, &admin, &format!("/admin/rules/triggers/{id}"), &format!("/admin/rules/triggers/{id}/delete"), &[]).await;
        assert_eq!(deleted.status(), 303);
        let actions = audit_actions(&app).await;
        for action in ["trigger.created", "trigger.deleted"] {
            assert!(actions.iter().any(|logged| logged == action), "{action}: {actions:?}");
        }
    }
}

/// The form's fields for one of the default triggers, with its actions
/// and events as they are, and the given conditions ("all").
fn default_trigger_fields<'a>(
    name: &'a str,
    event: &'a str,
    actor: Option<&'a str>,
    enabled: bool,
    all: &[(&'a str, &'a str, &'a str)],
    action: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("name", name), ("event", event)];
    if enabled {
        fields.push(("is_enabled", "1"));
    }
    fields.extend(actor.map(|actor| ("actor", actor)));
    for (field, operator, value) in all {
        fields.extend([
            ("all_field", *field),
            ("all_operator", *operator),
            ("all_value", *value),
        ]);
    }
    fields.extend([
        ("action_kind", action),
        ("action_value", ""),
        ("action_subject", ""),
        ("action_body", ""),
    ]);
    fields
}

on_both_backends! { spawn_app;

    async fn the_built_in_mails_are_default_triggers_an_admin_can_narrow_or_switch_off(app: TestApp) {
        use crate::mail_in::{help_account, mails_to, message};
        let _desk = desk(&app).await;
        help_account(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let triggers = app.app.store().triggers().list_triggers().await.unwrap();
        let id_of = |name: &str| triggers.iter().find(|trigger| trigger.name == name).unwrap_or_else(|| panic!("the default trigger {name}")).id;
        let receipt = id_of("Receipt to users who open a ticket");
        let new_tickets = id_of("Notify agents of new tickets");
        id_of("Notify agents of customers' replies");
        id_of("Notify agents of assignments");
        let list = admin.get(&app, "/admin/rules/triggers").await.text().await.unwrap();
        assert!(list.contains("Receipt to users who open a ticket") && list.contains("Notify agents of assignments"), "{list}");

        // As they come: Ines's mail gets its receipt, Alice (Support) hears of it.
        let (_, first) = app.app.receive_mail(&message("Ines Inbox <ines@example.net>", "Printer jams", "", "It jams."), None).await.unwrap();
        wait_until("the receipt", || async { mails_to(&app, "ines@example.net", "ticket_received").await == 1 }).await;
        wait_until("Alice's notification", || async { mails_to(&app, "alice@example.org", "agent_notification").await == 1 }).await;
        let reference = match first { ferrodesk_app::InboundOutcome::NewTicket(reference) => reference.to_string(), other => panic!("{other:?}") };
        let log = state_of(&app, &reference).await.log;
        assert!(log.iter().any(|line| line.actor == "rule Receipt to users who open a ticket"), "what a rule did is in the log: {log:?}");
        // A test shows what they would do, and does nothing.
        let tested = admin.get(&app, &format!("/admin/rules/triggers/{new_tickets}?test={reference}&event=new_ticket")).await.text().await.unwrap();
        assert!(tested.contains("notify the department&#39;s agents of the new ticket"), "{tested}");
        let tested = admin.get(&app, &format!("/admin/rules/triggers/{receipt}?test={reference}&event=new_ticket")).await.text().await.unwrap();
        assert!(tested.contains("send mail") && tested.contains("ines@example.net"), "{tested}");
        rules_settled(&app).await;
        assert_eq!(mails_to(&app, "ines@example.net", "ticket_received").await, 1);

        // Switched off and narrowed, in the browser.
        let page = format!("/admin/rules/triggers/{receipt}");
        let off = post_on(&app, &admin, &page, &page, &default_trigger_fields("Receipt to users who open a ticket", "new_ticket", Some("user"), false, &[], "send_receipt")).await;
        assert_eq!(off.status(), 303, "{}", off.text().await.unwrap());
        let page = format!("/admin/rules/triggers/{new_tickets}");
        let narrowed = post_on(&app, &admin, &page, &page, &default_trigger_fields("Notify agents of new tickets", "new_ticket", None, true, &[("subject", "contains", "urgent")], "notify_new_ticket")).await;
        assert_eq!(narrowed.status(), 303, "{}", narrowed.text().await.unwrap());
        app.app.receive_mail(&message("Ines Inbox <ines@example.net>", "Another question", "", "When?"), None).await.unwrap();
        app.app.receive_mail(&message("Ines Inbox <ines@example.net>", "Urgent: all printers down", "", "All of them."), None).await.unwrap();
        wait_until("Alice hears of the urgent one", || async { mails_to(&app, "alice@example.org", "agent_notification").await == 2 }).await;
        rules_settled(&app).await;
        assert_eq!(mails_to(&app, "ines@example.net", "ticket_received").await, 1, "no receipts while it is off");
        // The notice job is deleted just after its mails are queued: wait
        // for it rather than catch it in between.
        wait_until("no notice is left to send", || async {
            app.app.store().jobs().count_jobs_of_kind(ferrodesk_store::AGENT_NOTICE_JOB_KIND).await.unwrap() == 0
        }).await;
        assert_eq!(mails_to(&app, "alice@example.org", "agent_notification").await, 2, "only the urgent one");
        let actions = audit_actions(&app).await;
        assert!(actions.iter().filter(|action| *action == "trigger.changed").count() >= 2, "{actions:?}");
    }

    async fn no_trigger_mails_back_to_an_automatic_mail(app: TestApp) {
        use crate::mail_in::{help_account, message};
        let _desk = desk(&app).await;
        help_account(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        add_rule(&app, &admin, &Rule {
            name: "Hello back", events: &["new_ticket"], actors: &[],
            all: &[],
            actions: &[("email_requester", "", "About {{ ticket.reference }}", "We read it.")],
        }).await;
        app.app.receive_mail(&message("Ines Inbox <ines@example.net>", "A person writes", "", "Hello."), None).await.unwrap();
        app.app.receive_mail(&message("Robot <robot@example.net>", "Out of office", "Auto-Submitted: auto-replied\r\n", "I am away."), None).await.unwrap();
        rules_settled(&app).await;
        let to_person = app.app.store().outbox().list_mail(None, 50).await.unwrap().into_iter().filter(|mail| mail.recipients.contains("ines@example.net") && mail.subject.starts_with("About ")).count();
        assert_eq!(to_person, 1, "a person's mail is answered");
        let to_robot = app.app.store().outbox().list_mail(None, 50).await.unwrap().into_iter().filter(|mail| mail.recipients.contains("robot@example.net")).count();
        assert_eq!(to_robot, 0, "neither the receipt nor the trigger's mail goes back to an automatic one");
        let robot_ticket = app.app.store().tickets().list_tickets(&ferrodesk_store::Visibility::Everything, &ferrodesk_store::TicketFilter::default(), ferrodesk_store::TicketPage { limit: 50, ..Default::default() }).await.unwrap().into_iter().any(|ticket| ticket.requester_email == "robot@example.net");
        assert!(robot_ticket, "the automatic mail still opened a ticket");
    }
}
