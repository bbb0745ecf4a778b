//! Satisfaction surveys on both databases: switched on by an admin, the
//! "resolved" mail carries two signed links; following one rates nothing
//! until the requester confirms (with a comment), a ticket is rated once,
//! a forged code finds nothing, the rating shows on the ticket and in the
//! reports, and a trigger answers a bad one.

use ferrodesk_app::{Caller, TicketChange};
use ferrodesk_core::TicketStatus;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, rules_settled, spawn_app, ticket_key};
use crate::security::Browser;
use crate::tickets::{actor_of, desk, open_ticket, post_on, signed_in};

/// The survey link of the newest "resolved" mail to Uma for `answer`.
async fn survey_link(app: &TestApp, answer: &str) -> Option<String> {
    rules_settled(app).await;
    let mails = app.app.store().outbox().list_mail(None, 50).await.unwrap();
    let mail = mails
        .iter()
        .filter(|mail| {
            mail.template == "ticket_resolved" && mail.recipients.contains("uma@example.org")
        })
        .max_by_key(|mail| mail.id)?;
    mail.text_body
        .split_whitespace()
        .find(|word| word.contains("/survey/") && word.ends_with(&format!("rating={answer}")))
        .map(str::to_owned)
}

async fn resolve(app: &TestApp, agent: &ferrodesk_store::PersonRecord, reference: &str) {
    let actor = actor_of(agent);
    let resolved = TicketChange {
        status: Some(Ok(TicketStatus::Resolved)),
        ..TicketChange::default()
    };
    app.app
        .change_ticket(
            &Caller::new(&actor, "192.0.2.1"),
            &ticket_key(reference),
            &resolved,
        )
        .await
        .unwrap();
}

on_both_backends! { spawn_app;

    async fn a_requester_rates_a_resolved_ticket_once_through_the_mailed_link(app: TestApp) {
        let desk = desk(&app).await;
        // Off by default: the mail asks nothing.
        let quiet = open_ticket(&app, &desk.alice, desk.support, "Quiet one").await;
        resolve(&app, &desk.alice, &quiet).await;
        assert!(survey_link(&app, "bad").await.is_none(), "no survey while it is off");

        let admin = signed_in(&app, "admin@example.org").await;
        let saved = post_on(&app, &admin, "/admin/tickets", "/admin/tickets/survey", &[
            ("enabled", "1"), ("question", "Were we helpful?"), ("good_words", "Yes, thanks"), ("bad_words", "Not really"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let refused = post_on(&app, &admin, "/admin/tickets", "/admin/tickets/survey", &[("enabled", "1"), ("question", ""), ("good_words", "Yes"), ("bad_words", "No")]).await;
        assert_eq!(refused.status(), 422);
        // A trigger answers bad ratings with a note.
        let ada = actor_of(&desk.admin);
        let caller = Caller::new(&ada, "192.0.2.1");
        let row = |field: &str, operator: &str, value: &str| ferrodesk_app::rules::ConditionRow { field: field.into(), operator: operator.into(), value: value.into() };
        app.app.create_trigger(&caller, &ferrodesk_app::rules::TriggerInput {
            name: "Unhappy customer".into(), is_enabled: true,
            events: vec!["ticket_updated".into()], actors: vec![], channels: vec![],
            all: vec![row("satisfaction", "changed_to", "bad")], any: vec![],
            actions: vec![ferrodesk_app::rules::ActionRow { kind: "add_note".into(), value: String::new(), subject: String::new(), body: "Call {{ user.first_name }} about this.".into() }],
        }).await.unwrap();

        let reference = open_ticket(&app, &desk.alice, desk.support, "Printer jams").await;
        resolve(&app, &desk.alice, &reference).await;
        let bad = survey_link(&app, "bad").await.expect("the mail carries the survey");
        assert!(bad.contains(&format!("/survey/{reference}/")), "{bad}");
        let path = bad.split_once("://").map_or(bad.as_str(), |(_, rest)| &rest[rest.find('/').unwrap()..]).to_owned();

        // Following the link rates nothing yet.
        let visitor = Browser::new();
        let page = visitor.get(&app, &path).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("Were we helpful?") && page.contains("value=\"bad\" checked"), "{page}");
        let ticket_id = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().id;
        assert!(app.app.store().tickets().ticket_rating(ticket_id).await.unwrap().is_none());
        // A forged or another ticket's code finds nothing.
        let (base, code_and_query) = path.rsplit_once('/').unwrap();
        let forged = format!("{base}/{}{}", "0".repeat(64), &code_and_query[code_and_query.find('?').unwrap()..]);
        assert_eq!(visitor.get(&app, &forged).await.status(), 404);
        let elsewhere = path.replace(&reference, &quiet);
        assert_eq!(visitor.get(&app, &elsewhere).await.status(), 404);

        // Confirmed with a comment: recorded once, answered by the trigger.
        let action = path.split('?').next().unwrap().to_owned();
        let sent = post_on(&app, &visitor, &path, &action, &[("rating", "bad"), ("comment", "It took <b>days</b>.")]).await;
        assert_eq!(sent.status(), 200);
        assert!(sent.text().await.unwrap().contains("id=\"survey-thanks\""));
        // (The page has no form any more: the session's token is the one it had.)
        let token = crate::helpers::csrf_token_in(&page);
        let again = visitor.post(&app, &action, &[("csrf_token", token.as_str()), ("rating", "good"), ("comment", "")]).await;
        let again = again.text().await.unwrap();
        assert!(again.contains("you answered “Not really”"), "the first answer stays: {again}");
        let rating = app.app.store().tickets().ticket_rating(ticket_id).await.unwrap().unwrap();
        assert_eq!((rating.rating.as_str(), rating.comment.as_str()), ("bad", "It took <b>days</b>."));
        rules_settled(&app).await;
        let thread = app.app.store().tickets().ticket_messages(ticket_id, true).await.unwrap();
        assert!(thread.iter().any(|message| message.is_note && message.body_html.contains("Call Uma about this.")), "the trigger answered");

        // On the ticket (escaped) and in the reports.
        let alice = signed_in(&app, "alice@example.org").await;
        let shown = alice.get(&app, &format!("/agent/tickets/{reference}")).await.text().await.unwrap();
        assert!(shown.contains("id=\"satisfaction\"") && shown.contains("It took &#60;b&#62;days&#60;/b&#62;."), "{shown}");
        assert!(shown.contains("rated the ticket bad in the satisfaction survey"));
        let report = admin.get(&app, "/agent/reports?period=7d").await.text().await.unwrap();
        assert!(report.contains("id=\"tile-satisfaction\"") && report.contains("0% good"), "{report}");
    }
}
