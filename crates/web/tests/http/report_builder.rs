//! The report builder and saved reports on both databases: counts and
//! measures against values worked out by hand (first response across a
//! weekend in working and in wall-clock time), never a ticket of a
//! department the reader cannot see (on the page, in the CSV, through the
//! API, in the scheduled mail), labels escaped in the SVG, formulas
//! neutralised in the CSV, sharing and favourites, and schedules mailed
//! once as the agent who scheduled them sees the report.

use std::time::Duration;

use ferrodesk_app::reports::{ReportInput, ReportScheduleInput, SavedReportInput};
use ferrodesk_app::{AccountKind, Caller, TicketChange};
use ferrodesk_core::Labels;
use ferrodesk_testkit::on_both_backends;
use reqwest::Method;

use crate::api::{call, key_for};
use crate::helpers::{
    TestApp, location, reply_with, rules_settled, spawn_app, ticket_key, wait_until,
};
use crate::reports::{to, to_next_friday};
use crate::tickets::{actor_of, desk, group, open_ticket, post_on, signed_in};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The figure of the row headed `group` in a report's table.
fn figure(page: &str, group: &str) -> String {
    let table = &page[page
        .find("id=\"report-table\"")
        .unwrap_or_else(|| panic!("no table: {page}"))..];
    let row = table
        .split("<tr>")
        .find(|row| {
            row.contains(&format!(">{group}</a></th>")) || row.contains(&format!(">{group}</th>"))
        })
        .unwrap_or_else(|| panic!("no row {group}: {table}"));
    let cell = &row[row.rfind("<td class=\"number\">").unwrap() + "<td class=\"number\">".len()..];
    cell[..cell.find("</td>").unwrap()].to_owned()
}

/// Rita reads reports for Support only; answers her id.
async fn rita(app: &TestApp, support: i64) -> i64 {
    let system = Caller::system();
    let rita = app
        .create_account("rita@example.org", "Rita Reports", AccountKind::Agent)
        .await;
    let readers = app
        .app
        .create_permission_group(
            &system,
            &group(
                "Support reports",
                &["reports.view", "tickets.edit"],
                support,
                "full",
            ),
        )
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, rita.id, &[readers], &[])
        .await
        .unwrap();
    rita.id
}

on_both_backends! { spawn_app;

    async fn the_builder_groups_and_measures_only_what_the_reader_may_see(app: TestApp) {
        let desk = desk(&app).await;
        rita(&app, desk.support).await;
        let system = Caller::system();
        app.app.create_business_calendar(&system, &ferrodesk_app::CalendarInput {
            name: "Office".into(),
            ..ferrodesk_app::CalendarInput::office_hours("UTC")
        }).await.unwrap();
        let office = app.app.store().business_calendars().list_calendars().await.unwrap()[0].id;

        // Friday 16:00: three Support tickets and a Sales one.
        let friday = to_next_friday(&app, 16);
        let first = open_ticket(&app, &desk.alice, desk.support, "Printer jams").await;
        let second = open_ticket(&app, &desk.alice, desk.support, "Screen flickers").await;
        let _third = open_ticket(&app, &desk.alice, desk.support, "Mouse lost").await;
        let _deal = open_ticket(&app, &desk.admin, desk.sales, "Secret deal").await;
        let alice_actor = actor_of(&desk.alice);
        let alice = Caller::new(&alice_actor, "192.0.2.1");
        let labelled = TicketChange {
            labels: Some(Labels::parse_list("<script>alert(1)</script>, =cmd").map_err(|_| ferrodesk_app::FieldErrors::new())),
            ..TicketChange::default()
        };
        app.app.change_ticket(&alice, &ticket_key(&first), &labelled).await.unwrap();
        // Friday 18:00 the first is answered (2 h wall, 1 h working);
        // Monday 10:00 the second (66 h wall, 2 h working).
        to(&app, friday + 2 * HOUR);
        app.app.reply_to_ticket(&alice, &ticket_key(&first), &reply_with("Try the other tray.")).await.unwrap();
        to(&app, friday + 3 * DAY - 6 * HOUR);
        app.app.reply_to_ticket(&alice, &ticket_key(&second), &reply_with("A new cable is on its way.")).await.unwrap();
        rules_settled(&app).await;

        let reader = signed_in(&app, "rita@example.org").await;
        // Tickets by department: hers only.
        let page = reader.get(&app, "/agent/reports/builder?dataset=tickets&period=7d&group=department&measure=count&chart=bar").await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert_eq!(figure(&page, "Support"), "3", "{page}");
        assert!(!page.contains("Sales") && !page.contains("Secret deal"), "nothing of Sales: {page}");
        assert!(page.contains("<svg class=\"chart-svg\""), "a chart: {page}");
        let admin = signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, "/agent/reports/builder?dataset=tickets&period=7d&group=department").await.text().await.unwrap();
        assert_eq!((figure(&page, "Support"), figure(&page, "Sales")), ("3".into(), "1".into()));

        // First response per team, in working hours and in wall-clock time.
        let measure = |what: &str, calendar: &str| format!("/agent/reports/builder?dataset=tickets&period=7d&group=team&measure={what}&of=first_response&calendar={calendar}");
        let page = reader.get(&app, &measure("median", &office.to_string())).await.text().await.unwrap();
        assert_eq!(figure(&page, "No team"), "1 h", "{page}");
        assert!(page.contains("working time (Office)"));
        let page = reader.get(&app, &measure("p90", &office.to_string())).await.text().await.unwrap();
        assert_eq!(figure(&page, "No team"), "2 h");
        let page = reader.get(&app, &measure("p90", "")).await.text().await.unwrap();
        assert_eq!(figure(&page, "No team"), "2 d 18 h");
        let page = reader.get(&app, &measure("max", "")).await.text().await.unwrap();
        assert_eq!(figure(&page, "No team"), "2 d 18 h");

        // By day: every day of the period, the Friday with three.
        let page = reader.get(&app, "/agent/reports/builder?dataset=tickets&period=7d&group=day&chart=line").await.text().await.unwrap();
        let table = &page[page.find("id=\"report-table\"").unwrap()..];
        assert_eq!(table.matches("<th scope=\"row\">").count(), 7, "{table}");
        assert!(table.contains("<td class=\"number\">3</td>") && page.contains("<polyline"), "{table}");

        // By label as a pie: the label is text, in the SVG and the table.
        let page = reader.get(&app, "/agent/reports/builder?dataset=tickets&period=7d&group=label&chart=pie").await.text().await.unwrap();
        assert!(!page.contains("<script>alert(1)"), "escaped: {page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;: 1") || page.contains("&#60;script&#62;alert(1)&#60;/script&#62;: 1"), "{page}");
        assert_eq!(figure(&page, "No label"), "2");
        // The row leads to its tickets.
        let row = &page[page.find("id=\"report-table\"").unwrap()..];
        let href = &row[row.find("href=\"").unwrap() + 6..];
        let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
        let found = reader.get(&app, &href).await.text().await.unwrap();
        assert!(found.contains(&first) || found.contains(&second), "{href}: {found}");

        // The search language narrows.
        let page = reader.get(&app, "/agent/reports/builder?dataset=tickets&period=7d&q=printer").await.text().await.unwrap();
        assert!(page.contains(">1</a></td>"), "{page}");

        // Sign-ins are for admins; a grouping a dataset cannot have is said.
        let refused = reader.get(&app, "/agent/reports/builder?dataset=logins&period=7d&group=hostname").await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("Sign-ins are for admins only."));
        let refused = admin.get(&app, "/agent/reports/builder?dataset=logins&period=7d&group=department").await;
        assert_eq!(refused.status(), 422);
        let signed = admin.get(&app, "/agent/reports/builder?dataset=logins&period=7d&group=agent&then=outcome").await.text().await.unwrap();
        assert!(signed.contains("Rita Reports") && signed.contains("Signed in"), "{signed}");

        // Rita saves the labels report and opens it.
        let builder = "/agent/reports/builder?dataset=tickets&period=7d&group=label&chart=bar";
        let saved = post_on(&app, &reader, builder, "/agent/reports/saved", &[
            ("dataset", "tickets"), ("period", "7d"), ("group", "label"), ("chart", "bar"),
            ("name", "Labels this week"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let path = location(&saved);
        let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
        let page = reader.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("Labels this week") && page.contains("id=\"report-table\""), "{page}");
        // A favourite, first in her list.
        let made = post_on(&app, &reader, &path, &format!("{path}/favourite"), &[("favourite", "1")]).await;
        assert_eq!(made.status(), 303);
        let list = reader.get(&app, "/agent/reports").await.text().await.unwrap();
        assert!(list.contains(&format!("★</span> <a href=\"/agent/reports/{id}\">Labels this week</a>")), "{list}");

        // Its CSV: a byte-order mark, the formula neutralised, no Sales.
        let exported = reader.get(&app, &format!("{path}/export.csv")).await;
        assert_eq!(exported.status(), 200);
        assert_eq!(exported.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(exported.headers()["content-disposition"].to_str().unwrap().contains("labels-this-week.csv"));
        let text = exported.text().await.unwrap();
        assert!(text.starts_with("\u{feff}Label,Number of tickets\r\n"), "{text}");
        assert!(text.contains("'=cmd,1\r\n") && text.contains("No label,2\r\n"), "{text}");
        assert!(!text.contains("Secret") && !text.contains("Sales"));
        let actions = crate::security::audit_actions(&app).await;
        assert!(actions.iter().any(|action| action == "report.exported") && actions.iter().any(|action| action == "report.saved"), "{actions:?}");

        // Through the API, as her key's agent sees it.
        let key = key_for(&app, "rita@example.org", "reports.view").await;
        let (status, _, body) = call(&app, &key, Method::GET, &format!("/api/v2/reports/{id}"), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["name"], "Labels this week");
        assert_eq!(body["data"]["group_by"][0], "Label");
        let rows = body["data"]["rows"].as_array().unwrap();
        assert!(rows.iter().any(|row| row["group"] == "=cmd" && row["value"] == 1), "{body}");
        assert_eq!(rows.iter().map(|row| row["value"].as_i64().unwrap()).sum::<i64>(), 4, "two labels on one ticket, two without");
        let narrow = key_for(&app, "rita@example.org", "tickets.list").await;
        assert_eq!(call(&app, &narrow, Method::GET, &format!("/api/v2/reports/{id}"), None).await.0, 403);
        let admin_key = key_for(&app, "admin@example.org", "*").await;
        assert_eq!(call(&app, &admin_key, Method::GET, &format!("/api/v2/reports/{id}"), None).await.0, 404, "not shared with the admin");

        // Others: without the permission refused, not shared not found.
        let alice_browser = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice_browser.get(&app, &path).await.status(), 403);
        assert_eq!(alice_browser.get(&app, builder).await.status(), 403);
        assert_eq!(alice_browser.get(&app, &format!("{path}/export.csv")).await.status(), 403);
        assert_eq!(admin.get(&app, &path).await.status(), 404);
        let refused = post_on(&app, &admin, "/agent/reports", &format!("{path}/delete"), &[]).await;
        assert_eq!(refused.status(), 404);

        // She deletes it.
        let deleted = post_on(&app, &reader, &path, &format!("{path}/delete"), &[]).await;
        assert_eq!(deleted.status(), 303);
        assert_eq!(reader.get(&app, &path).await.status(), 404);
    }

    async fn a_shared_report_counts_for_each_reader_and_schedules_mail_once(app: TestApp) {
        let desk = desk(&app).await;
        let rita_id = rita(&app, desk.support).await;
        let system = Caller::system();
        let team = app.app.create_team(&system, "Managers").await.unwrap();
        app.app.update_team(&system, team, "Managers", &[rita_id, desk.admin.id]).await.unwrap();
        open_ticket(&app, &desk.alice, desk.support, "Printer jams").await;
        open_ticket(&app, &desk.admin, desk.sales, "Secret deal").await;
        rules_settled(&app).await;

        // The admin saves a report by department and shares it with the
        // managers; Rita reads it through her own visibility.
        let admin_actor = actor_of(&desk.admin);
        let admin = Caller::new(&admin_actor, "192.0.2.1");
        let definition = ReportInput {
            dataset: "tickets".into(),
            period: "30d".into(),
            group: "department".into(),
            ..ReportInput::default()
        };
        let id = app.app.create_saved_report(&admin, &SavedReportInput {
            name: "By department".into(),
            definition: definition.clone(),
            team_ids: vec![team],
        }).await.unwrap();
        let reader = signed_in(&app, "rita@example.org").await;
        let page = reader.get(&app, &format!("/agent/reports/{id}")).await.text().await.unwrap();
        assert_eq!(figure(&page, "Support"), "1");
        assert!(!page.contains("Sales"), "{page}");
        assert!(!page.contains("id=\"schedule-form\""), "only its owner (or shared.manage) schedules it");
        let csv = reader.get(&app, &format!("/agent/reports/{id}/export.csv")).await.text().await.unwrap();
        assert!(csv.contains("Support,1") && !csv.contains("Sales"), "{csv}");

        // Rita keeps her own copy and mails it weekly to herself and the admin.
        let rita_actor = actor_of(&app.app.store().people().get_person(rita_id).await.unwrap().unwrap());
        let rita = Caller::new(&rita_actor, "192.0.2.2");
        let own = app.app.create_saved_report(&rita, &SavedReportInput {
            name: "Support <weekly>".into(),
            definition,
            team_ids: Vec::new(),
        }).await.unwrap();
        let refused = app.app.schedule_report(&rita, own, &ReportScheduleInput {
            schedule: "weekly".into(),
            recipient_ids: Vec::new(),
        }).await;
        assert!(refused.is_err(), "someone to mail it to");
        app.app.schedule_report(&rita, own, &ReportScheduleInput {
            schedule: "weekly".into(),
            recipient_ids: vec![rita_id, desk.admin.id],
        }).await.unwrap();
        let page = reader.get(&app, &format!("/agent/reports/{own}")).await.text().await.unwrap();
        assert!(page.contains("id=\"next-run\""), "{page}");
        assert_eq!(app.app.scheduler_pass().await.unwrap(), 0, "not due yet");

        // A week on: queued once however often the scheduler looks (this
        // pass, another right after, and the workers' own every 100 ms).
        app.advance_clock(Duration::from_secs(8 * 24 * 3600));
        let first = app.app.scheduler_pass().await.unwrap();
        assert!(first <= 1);
        assert_eq!(app.app.scheduler_pass().await.unwrap(), 0, "claimed");
        let mails = || async {
            app.app.store().outbox().list_mail(None, 50).await.unwrap()
                .into_iter()
                .filter(|mail| mail.subject.starts_with("Report: Support <weekly>"))
                .collect::<Vec<_>>()
        };
        wait_until("the report is mailed", || async { mails().await.len() == 2 }).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(mails().await.len(), 2, "one mail to each of the two, once");
        for mail in mails().await {
            assert!(mail.text_body.contains("Support | 1"), "{}", mail.text_body);
            assert!(!mail.text_body.contains("Sales"), "as Rita sees it, to the admin too");
            let html = mail.html_body.unwrap();
            assert!(html.contains("Support &lt;weekly&gt;") && !html.contains("<weekly>"), "{html}");
        }
        // Stopped, it is not mailed again.
        app.app.schedule_report(&rita, own, &ReportScheduleInput::default()).await.unwrap();
        app.advance_clock(Duration::from_secs(8 * 24 * 3600));
        assert_eq!(app.app.scheduler_pass().await.unwrap(), 0);
    }
}
