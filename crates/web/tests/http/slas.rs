//! SLAs on both databases: an admin sets up "first response within 4
//! working hours, warn at 3" in the browser, on a Tokyo office calendar
//! (no summer time, far from UTC) with a holiday on Monday. A ticket
//! opened on Friday at 15:00 there is due on Tuesday at 11:00; paused
//! while it waits on the user over the weekend and the holiday, it keeps
//! the working time it had left; it warns, then is missed, and the SLA's
//! actions run once; the list shows "SLA due", sorts by it and filters
//! `sla:warning` and `sla:failed`.

use std::time::Duration;

use ferrodesk_app::{Caller, TicketChange};
use ferrodesk_core::TicketStatus;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, spawn_app, ticket_key, ticket_ref, wait_until};
use crate::security::audit_actions;
use crate::tickets::{actor_of, desk, open_ticket, post_on, signed_in};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const NEW: &str = "/admin/rules/slas/new";

/// Moves the clock to the next Friday 06:00 UTC (15:00 in Tokyo) at
/// least a day ahead; answers that instant.
fn to_next_friday_morning(app: &TestApp) -> i64 {
    let now = app.app.now().millis();
    let day = now.div_euclid(DAY);
    // 1970-01-01 was a Thursday: (day + 4) % 7 is 0 on Sundays.
    let mut target_day = day + 1;
    while (target_day + 4).rem_euclid(7) != 5 {
        target_day += 1;
    }
    let friday = target_day * DAY + 6 * HOUR;
    app.advance_clock(Duration::from_millis(u64::try_from(friday - now).unwrap()));
    friday
}

fn to(app: &TestApp, at: i64) {
    let now = app.app.now().millis();
    assert!(at >= now);
    app.advance_clock(Duration::from_millis(u64::try_from(at - now).unwrap()));
}

async fn targets(app: &TestApp, reference: &str) -> Vec<ferrodesk_store::TargetRecord> {
    let id = app
        .app
        .store()
        .tickets()
        .find_ticket(&ticket_ref(reference))
        .await
        .unwrap()
        .unwrap()
        .id;
    app.app.store().slas().ticket_targets(id).await.unwrap()
}

fn target<'a>(
    all: &'a [ferrodesk_store::TargetRecord],
    kind: &str,
) -> &'a ferrodesk_store::TargetRecord {
    all.iter()
        .find(|target| target.target == kind)
        .unwrap_or_else(|| panic!("no {kind} in {all:?}"))
}

async fn settled(app: &TestApp) {
    wait_until("the rules and SLA jobs ran", || async {
        let jobs = app.app.store().jobs();
        jobs.count_jobs_of_kind(ferrodesk_store::TICKET_RULES_JOB_KIND)
            .await
            .unwrap()
            + jobs
                .count_jobs_of_kind(ferrodesk_store::SLA_BREACH_JOB_KIND)
                .await
                .unwrap()
            == 0
    })
    .await;
}

on_both_backends! { spawn_app;

    async fn first_response_within_four_working_hours_across_a_weekend_and_a_holiday(app: TestApp) {
        let desk = desk(&app).await;
        let friday = to_next_friday_morning(&app);
        let monday = ferrodesk_core::Timestamp(friday + 3 * DAY).to_string()[..10].to_owned();
        let system = Caller::system();
        app.app.create_business_calendar(&system, &ferrodesk_app::CalendarInput {
            name: "Tokyo office".into(),
            holidays: monday.clone(),
            ..ferrodesk_app::CalendarInput::office_hours("Asia/Tokyo")
        }).await.unwrap();
        let admin = signed_in(&app, "admin@example.org").await;
        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, "/admin/rules/slas").await.status(), 403);
        let bad = post_on(&app, &admin, NEW, NEW, &[("name", "Bad"), ("first_response_hours", "4"), ("first_response_warn", "5")]).await;
        assert_eq!(bad.status(), 422);
        let created = post_on(&app, &admin, NEW, NEW, &[
            ("name", "Standard"), ("calendar", "Tokyo office"), ("is_enabled", "1"),
            ("first_response_hours", "4"), ("first_response_warn", "3"),
            ("next_response_hours", ""), ("next_response_warn", ""),
            ("resolution_hours", "16"), ("resolution_warn", "12"),
            ("all_field", "department"), ("all_operator", "is"), ("all_value", "Support"),
            ("action_kind", "add_labels"), ("action_value", "sla-missed"), ("action_subject", ""), ("action_body", ""),
            ("action_kind", "set_urgency"), ("action_value", "9"), ("action_subject", ""), ("action_body", ""),
        ]).await;
        assert_eq!(created.status(), 303, "{}", created.text().await.unwrap());
        let sla_page = crate::helpers::location(&created).split('?').next().unwrap().to_owned();

        // Friday 15:00 in Tokyo: 2 working hours today, Monday is a
        // holiday, so 4 hours end on Tuesday at 11:00 (02:00 UTC).
        let reference = open_ticket(&app, &desk.alice, desk.support, "Printer on fire").await;
        let other = open_ticket(&app, &desk.bob, desk.sales, "Not under the SLA").await;
        settled(&app).await;
        let first = targets(&app, &reference).await;
        let tuesday_11 = friday + 4 * DAY - 4 * HOUR;
        assert_eq!(target(&first, "first_response").due_at, tuesday_11);
        assert_eq!(target(&first, "first_response").warn_at, tuesday_11 - HOUR);
        assert_eq!(target(&first, "resolution").due_at, friday + 5 * DAY, "16 h: Friday 2, Tuesday 8, Wednesday 6");
        assert!(targets(&app, &other).await.is_empty(), "the SLA's condition holds only in Support");
        // "Test against a ticket" says so, and changes nothing.
        let tested = admin.get(&app, &format!("{sla_page}?test={reference}")).await.text().await.unwrap();
        assert!(tested.contains("would apply") && tested.contains("✓ holds") && tested.contains("First response"), "{tested}");
        let tested = admin.get(&app, &format!("{sla_page}?test={other}")).await.text().await.unwrap();
        assert!(tested.contains("would not apply") && tested.contains("✗ does not hold"), "{tested}");
        assert!(targets(&app, &other).await.is_empty());

        // Friday 16:00: the ticket waits on the user; the clock pauses
        // with 3 working hours left, over the weekend and the holiday.
        to(&app, friday + HOUR);
        let agent = actor_of(&desk.alice);
        let caller = Caller::new(&agent, "192.0.2.1");
        let pending = TicketChange { status: Some(Ok(TicketStatus::Pending)), ..TicketChange::default() };
        app.app.change_ticket(&caller, &ticket_key(&reference), &pending).await.unwrap();
        settled(&app).await;
        let paused = targets(&app, &reference).await;
        assert_eq!(target(&paused, "first_response").state, "paused");
        assert_eq!(target(&paused, "first_response").left_to_due, Some(3 * HOUR));
        let page = alice.get(&app, &format!("/agent/tickets/{reference}")).await.text().await.unwrap();
        assert!(page.contains("id=\"sla\"") && page.contains("paused, 3 h left of working time"), "{page}");

        // Tuesday 10:00 in Tokyo the user answers: 3 hours from then.
        let tuesday_10 = tuesday_11 - HOUR;
        to(&app, tuesday_10);
        let back = TicketChange { status: Some(Ok(TicketStatus::AwaitingAgent)), ..TicketChange::default() };
        app.app.change_ticket(&caller, &ticket_key(&reference), &back).await.unwrap();
        settled(&app).await;
        let resumed = targets(&app, &reference).await;
        assert_eq!(target(&resumed, "first_response").state, "running");
        assert_eq!(target(&resumed, "first_response").due_at, tuesday_10 + 3 * HOUR);
        assert_eq!(target(&resumed, "first_response").warn_at, tuesday_10 + 2 * HOUR);

        // 12:00: a warning, in the list's filter and column (signed in
        // again: the weekend was longer than a session).
        to(&app, tuesday_10 + 2 * HOUR);
        let alice = signed_in(&app, "alice@example.org").await;
        let warning = alice.get(&app, "/agent/tickets?status=any&q=sla:warning&sort=sla_due&order=asc").await;
        assert_eq!(warning.status(), 200);
        let warning = warning.text().await.unwrap();
        assert!(warning.contains(&reference) && !warning.contains(&other), "{warning}");
        let failed = alice.get(&app, "/agent/tickets?status=any&q=sla:failed").await.text().await.unwrap();
        assert!(!failed.contains(&reference));

        // 13:30: missed. The SLA's actions run once, by the scheduler.
        to(&app, tuesday_10 + 3 * HOUR + HOUR / 2);
        wait_until("the missed target's actions ran", || async {
            let id = app.app.store().tickets().find_ticket(&ticket_ref(&reference)).await.unwrap().unwrap().id;
            app.app.store().tickets().ticket_labels(id).await.unwrap().to_strings() == ["sla-missed"]
        })
        .await;
        settled(&app).await;
        let missed = targets(&app, &reference).await;
        assert_eq!(target(&missed, "first_response").state, "failed");
        let ticket = app.app.store().tickets().find_ticket(&ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(ticket.urgency.get(), 9);
        let log = app.app.store().tickets().ticket_log(ticket.id).await.unwrap();
        assert_eq!(log.iter().filter(|line| line.actor == "rule Standard (SLA missed)" && line.field == "labels").count(), 1);
        let failed = signed_in(&app, "alice@example.org").await.get(&app, "/agent/tickets?status=any&q=sla:failed").await.text().await.unwrap();
        assert!(failed.contains(&reference), "a missed first response stays late until answered: {failed}");
        app.app.scheduler_pass().await.unwrap();
        settled(&app).await;
        assert_eq!(app.app.store().tickets().ticket_log(ticket.id).await.unwrap().len(), log.len(), "once");

        // The agent's reply meets it late; the list no longer counts it.
        app.app.reply_to_ticket(&caller, &ticket_key(&reference), &crate::helpers::reply_with("On our way.")).await.unwrap();
        settled(&app).await;
        let answered = targets(&app, &reference).await;
        assert_eq!(target(&answered, "first_response").state, "failed");
        assert!(target(&answered, "first_response").met_at.is_some());
        let page = signed_in(&app, "alice@example.org").await.get(&app, &format!("/agent/tickets/{reference}")).await.text().await.unwrap();
        assert!(page.contains("missed, met 30 min late"), "{page}");
        let failed = signed_in(&app, "alice@example.org").await.get(&app, "/agent/tickets?status=any&q=sla:failed").await.text().await.unwrap();
        assert!(!failed.contains(&reference));
        let actions = audit_actions(&app).await;
        assert!(actions.iter().any(|action| action == "sla.created"), "{actions:?}");
    }

    async fn an_sla_added_reaches_the_open_tickets_already_there(app: TestApp) {
        let desk = desk(&app).await;
        let open = open_ticket(&app, &desk.alice, desk.support, "Open before the SLA").await;
        let done = open_ticket(&app, &desk.alice, desk.support, "Resolved before the SLA").await;
        let agent = actor_of(&desk.alice);
        let caller = Caller::new(&agent, "192.0.2.1");
        let resolved = TicketChange { status: Some(Ok(TicketStatus::Resolved)), ..TicketChange::default() };
        app.app.change_ticket(&caller, &ticket_key(&done), &resolved).await.unwrap();
        settled(&app).await;
        assert!(targets(&app, &open).await.is_empty());
        let system = Caller::system();
        app.app.create_sla(&system, &ferrodesk_app::rules::SlaInput {
            name: "Everyone".into(), is_enabled: true, calendar: String::new(),
            targets: vec![("first_response".into(), "2".into(), "1".into()), ("resolution".into(), "24".into(), String::new())],
            ..Default::default()
        }).await.unwrap();
        wait_until("the open ticket has its targets", || async { !targets(&app, &open).await.is_empty() }).await;
        let created_at = app.app.store().tickets().find_ticket(&ticket_ref(&open)).await.unwrap().unwrap().created_at;
        assert_eq!(target(&targets(&app, &open).await, "first_response").due_at, created_at + 2 * HOUR, "wall time from the opening");
        assert!(targets(&app, &done).await.is_empty(), "a resolved ticket is left alone");
        let list = signed_in(&app, "alice@example.org").await.get(&app, "/agent/tickets?sort=sla_due&order=asc").await.text().await.unwrap();
        assert!(list.contains("SLA due") && list.contains("in 2 h"), "{list}");
    }

    async fn an_agent_chooses_a_tickets_sla_over_the_one_its_conditions_pick(app: TestApp) {
        let desk = desk(&app).await;
        let system = Caller::system();
        let sla = |name: &str, hours: &str| ferrodesk_app::rules::SlaInput {
            name: name.into(), is_enabled: true, calendar: String::new(),
            targets: vec![("first_response".into(), hours.into(), String::new())],
            ..Default::default()
        };
        let everyone = app.app.create_sla(&system, &sla("Everyone", "8")).await.unwrap();
        let vip = app.app.create_sla(&system, &sla("VIP", "1")).await.unwrap();
        let reference = open_ticket(&app, &desk.alice, desk.support, "Important customer").await;
        settled(&app).await;
        let created_at = app.app.store().tickets().find_ticket(&ticket_ref(&reference)).await.unwrap().unwrap().created_at;
        let first = target(&targets(&app, &reference).await, "first_response").clone();
        assert_eq!((first.sla_id, first.due_at), (everyone, created_at + 8 * HOUR), "the first SLA whose conditions hold");

        let alice = signed_in(&app, "alice@example.org").await;
        let page = format!("/agent/tickets/{reference}");
        let shown = alice.get(&app, &page).await.text().await.unwrap();
        assert!(shown.contains("id=\"sla-choice\"") && shown.contains("By the SLAs' conditions"), "{shown}");
        let vip_id = vip.to_string();
        let chosen = post_on(&app, &alice, &page, &format!("{page}/sla"), &[("sla", &vip_id)]).await;
        assert_eq!(chosen.status(), 303);
        settled(&app).await;
        let now = target(&targets(&app, &reference).await, "first_response").clone();
        assert_eq!((now.sla_id, now.due_at), (vip, created_at + HOUR), "the chosen SLA's target, from the opening");
        let shown = alice.get(&app, &page).await.text().await.unwrap();
        assert!(shown.contains("chose the SLA VIP"), "in the log");
        assert!(shown.contains(&format!("<option value=\"{vip}\" selected>VIP</option>")), "{shown}");

        // Refused: an SLA that is not there, an agent who may not see the ticket.
        let unknown = post_on(&app, &alice, &page, &format!("{page}/sla"), &[("sla", "999999")]).await;
        assert_eq!(unknown.status(), 400);
        assert!(unknown.text().await.unwrap().contains("That SLA does not exist or is switched off."));
        let bob = signed_in(&app, "bob@example.org").await;
        let hidden = post_on(&app, &bob, "/agent/tickets", &format!("{page}/sla"), &[("sla", "")]).await;
        assert_eq!(hidden.status(), 404);
        assert_eq!(target(&targets(&app, &reference).await, "first_response").sla_id, vip);

        // Back to the conditions.
        let back = post_on(&app, &alice, &page, &format!("{page}/sla"), &[("sla", "")]).await;
        assert_eq!(back.status(), 303);
        settled(&app).await;
        assert_eq!(target(&targets(&app, &reference).await, "first_response").sla_id, everyone);
        assert!(alice.get(&app, &page).await.text().await.unwrap().contains("left the SLA to the SLAs&#39; conditions"));
    }
}
