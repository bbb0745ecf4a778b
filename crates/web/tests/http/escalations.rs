//! Escalations on both databases: an admin sets up "waiting on the user
//! for 7 days → resolved, with a mail" in the browser; it fires once when
//! due, even when the clock ran out while the helpdesk was down, never
//! for a ticket the user answered in time, and never twice when two nodes
//! run the scheduler side by side.

use std::time::Duration;

use ferrodesk_app::Caller;
use ferrodesk_core::TicketStatus;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{
    TestApp, location, reply_with, spawn_app, ticket_key, ticket_ref, wait_until,
};
use crate::security::audit_actions;
use crate::tickets::{actor_of, desk, open_ticket, post_on, signed_in};

const NEW: &str = "/admin/rules/escalations/new";
const DAY: Duration = Duration::from_secs(24 * 3600);

async fn ticket(app: &TestApp, reference: &str) -> ferrodesk_store::TicketRecord {
    app.app
        .store()
        .tickets()
        .find_ticket(&ticket_ref(reference))
        .await
        .unwrap()
        .unwrap()
}

async fn rule_lines(app: &TestApp, reference: &str, rule: &str) -> usize {
    let id = ticket(app, reference).await.id;
    let actor = format!("rule {rule}");
    app.app
        .store()
        .tickets()
        .ticket_log(id)
        .await
        .unwrap()
        .iter()
        .filter(|line| line.actor == actor)
        .count()
}

/// Waits until no job of the rules, the escalations or their backfill
/// is left.
async fn settled(app: &TestApp) {
    wait_until("the rules and escalation jobs ran", || async {
        let jobs = app.app.store().jobs();
        let mut left = 0;
        for kind in [
            ferrodesk_store::TICKET_RULES_JOB_KIND,
            ferrodesk_store::ESCALATION_JOB_KIND,
            ferrodesk_store::ESCALATION_BACKFILL_JOB_KIND,
        ] {
            left += jobs.count_jobs_of_kind(kind).await.unwrap();
        }
        left == 0
    })
    .await;
}

on_both_backends! { spawn_app;

    async fn waiting_on_the_user_for_seven_days_resolves_once_even_across_a_restart(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, "/admin/rules/escalations").await.status(), 403);
        let bad = post_on(&app, &admin, NEW, NEW, &[("name", "Bad"), ("clock", "awaiting_user"), ("amount", "0"), ("unit", "days"), ("action_kind", "stop")]).await;
        assert_eq!(bad.status(), 422);
        assert!(bad.text().await.unwrap().contains("Give a whole number of minutes, hours or days"));

        // One ticket waits on the user from the start; the escalation's
        // backfill gives it a clock.
        let early = open_ticket(&app, &desk.alice, desk.support, "Waiting since before the rule").await;
        let agent = actor_of(&desk.alice);
        let caller = Caller::new(&agent, "192.0.2.1");
        app.app.reply_to_ticket(&caller, &ticket_key(&early), &reply_with("Could you send the log?")).await.unwrap();
        let created = post_on(&app, &admin, NEW, NEW, &[
            ("name", "Auto-close"), ("clock", "awaiting_user"), ("amount", "7"), ("unit", "days"), ("calendar", ""), ("is_enabled", "1"),
            ("all_field", ""), ("all_operator", "is"), ("all_value", ""),
            ("action_kind", "set_status"), ("action_value", "resolved"), ("action_subject", ""), ("action_body", ""),
            ("action_kind", "email_requester"), ("action_value", ""), ("action_subject", "Closed: {{ ticket.reference }}"), ("action_body", "We closed it after a week without news."),
        ]).await;
        assert_eq!(created.status(), 303, "{}", created.text().await.unwrap());
        assert!(location(&created).starts_with("/admin/rules/escalations/"));
        settled(&app).await;
        // Tickets that come to wait on the user afterwards get theirs from
        // the write that made them wait.
        let late = open_ticket(&app, &desk.alice, desk.support, "Waiting after the rule").await;
        let answered = open_ticket(&app, &desk.alice, desk.support, "Answered in time").await;
        for reference in [&late, &answered] {
            app.app.reply_to_ticket(&caller, &ticket_key(reference), &reply_with("Does it work now?")).await.unwrap();
        }
        settled(&app).await;
        let early_id = ticket(&app, &early).await.id;
        let timers = app.app.store().escalations().ticket_timers(early_id).await.unwrap();
        assert_eq!(timers.len(), 1, "{timers:?}");

        // Six days on, nothing; the user answers one ticket.
        app.advance_clock(6 * DAY);
        tokio::time::sleep(Duration::from_millis(400)).await;
        settled(&app).await;
        assert_eq!(ticket(&app, &early).await.status, TicketStatus::AwaitingUser);
        let answered_id = ticket(&app, &answered).await.id;
        let requester = app.app.store().people().get_person(ticket(&app, &answered).await.requester_id).await.unwrap().unwrap();
        let user = ferrodesk_app::Actor::User(ferrodesk_app::SignedIn {
            person_id: requester.id, name: requester.name.clone(), email: requester.email.clone(), is_admin: false,
            remembered: false, must_change_password: false, must_set_up_two_factor: false, time_zone: String::new(),
        });
        let input = ferrodesk_app::PortalReplyInput { body: "Yes, it works, thanks!".into(), attachments: Vec::new() };
        app.app.portal_reply(&Caller::new(&user, "192.0.2.9"), &answered, None, &input).await.unwrap();
        settled(&app).await;
        assert!(app.app.store().escalations().ticket_timers(answered_id).await.unwrap().is_empty(), "the clock stopped");

        // The helpdesk is down when the week runs out; it fires after the
        // restart, once.
        let app = app.restart_after(2 * DAY).await;
        wait_until("the escalation resolved both waiting tickets", || async {
            ticket(&app, &early).await.status == TicketStatus::Resolved && ticket(&app, &late).await.status == TicketStatus::Resolved
        })
        .await;
        settled(&app).await;
        app.advance_clock(30 * DAY);
        app.app.scheduler_pass().await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        settled(&app).await;
        for reference in [&early, &late] {
            assert_eq!(rule_lines(&app, reference, "Auto-close").await, 1, "{reference}: once");
        }
        assert_eq!(ticket(&app, &answered).await.status, TicketStatus::AwaitingAgent, "answered in time");
        let mails = app.app.store().outbox().list_mail(None, 100).await.unwrap();
        let closing = mails.iter().filter(|mail| mail.subject.starts_with("Closed: ")).count();
        assert_eq!(closing, 2, "one mail per ticket");
        let actions = audit_actions(&app).await;
        assert!(actions.iter().any(|action| action == "escalation.created"), "{actions:?}");
    }

    async fn two_nodes_never_fire_the_same_escalation_twice(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let created = post_on(&app, &admin, NEW, NEW, &[
            ("name", "Late"), ("clock", "awaiting_agent"), ("amount", "1"), ("unit", "hours"), ("is_enabled", "1"),
            ("action_kind", "add_labels"), ("action_value", "late"), ("action_subject", ""), ("action_body", ""),
            ("action_kind", "add_note"), ("action_value", ""), ("action_subject", ""), ("action_body", "Waiting over an hour."),
        ]).await;
        assert_eq!(created.status(), 303);
        let mut references = Vec::new();
        for number in 0..24 {
            references.push(open_ticket(&app, &desk.alice, desk.support, &format!("Queue {number}")).await);
        }
        settled(&app).await;
        let (other, workers) = app.another_node("smtp://127.0.0.1:9?from=help@example.org").await;
        app.advance_clock(2 * 3600 * Duration::from_secs(1));
        other.wake_workers();
        for reference in &references {
            let wanted = reference.clone();
            wait_until("every ticket is labelled late", || {
                let app = &app;
                let wanted = wanted.clone();
                async move { app.app.store().tickets().ticket_labels(ticket(app, &wanted).await.id).await.unwrap().to_strings() == ["late"] }
            })
            .await;
        }
        settled(&app).await;
        workers.shut_down().await;
        for reference in &references {
            let id = ticket(&app, reference).await.id;
            let notes = app.app.store().tickets().ticket_messages(id, true).await.unwrap().into_iter().filter(|message| message.is_note).count();
            assert_eq!(notes, 1, "{reference}: one note");
        }
    }
}
