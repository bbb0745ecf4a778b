//! Reports on both databases: the dashboard's figures against values
//! worked out by hand on a few tickets (first response across a weekend
//! in working time and in wall time, resolution, reopening, the backlog,
//! the breakdowns), only for agents with the reports permission, and
//! never counting a ticket of a department the reader cannot see.

use std::time::Duration;

use ferrodesk_app::{AccountKind, Caller, TicketChange};
use ferrodesk_core::TicketStatus;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, reply_with, rules_settled, spawn_app, ticket_key};
use crate::tickets::{actor_of, desk, group, open_ticket, signed_in};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Moves the clock to the next Friday at `hour`:00 UTC, at least a day
/// ahead; answers that instant.
pub(crate) fn to_next_friday(app: &TestApp, hour: i64) -> i64 {
    let now = app.app.now().millis();
    let mut day = now.div_euclid(DAY) + 1;
    // 1970-01-01 was a Thursday: (day + 4) % 7 is 5 on Fridays.
    while (day + 4).rem_euclid(7) != 5 {
        day += 1;
    }
    let friday = day * DAY + hour * HOUR;
    to(app, friday);
    friday
}

pub(crate) fn to(app: &TestApp, at: i64) {
    let now = app.app.now().millis();
    app.advance_clock(Duration::from_millis(u64::try_from(at - now).unwrap()));
}

/// The text of the headline figure `key` on a dashboard page.
fn tile(page: &str, key: &str) -> String {
    let start = page
        .find(&format!("id=\"tile-{key}\""))
        .unwrap_or_else(|| panic!("no tile {key}"));
    let rest = &page[start..];
    let value = rest.find("class=\"tile-value\">").unwrap() + "class=\"tile-value\">".len();
    let text = &rest[value..value + rest[value..].find("</span>").unwrap()];
    // Without the link around it, if any.
    let text = text.rsplit_once("\">").map_or(text, |(_, inner)| inner);
    text.trim_end_matches("</a>").to_owned()
}

/// Where a dashboard tile links to, unescaped.
fn tile_link(page: &str, key: &str) -> String {
    let start = page
        .find(&format!("id=\"tile-{key}\""))
        .unwrap_or_else(|| panic!("no tile {key}"));
    let rest = &page[start..];
    let rest = &rest[rest.find("href=\"").unwrap() + "href=\"".len()..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

on_both_backends! { spawn_app;

    async fn the_dashboard_counts_what_the_reader_may_see_in_working_or_wall_time(app: TestApp) {
        let desk = desk(&app).await;
        let system = Caller::system();
        // Rita reads reports for Support only.
        let rita = app.create_account("rita@example.org", "Rita Reports", AccountKind::Agent).await;
        let readers = app.app.create_permission_group(&system, &group("Support reports", &["reports.view"], desk.support, "full")).await.unwrap();
        app.app.set_agent_access(&system, rita.id, &[readers], &[]).await.unwrap();
        app.app.create_business_calendar(&system, &ferrodesk_app::CalendarInput {
            name: "Office".into(),
            ..ferrodesk_app::CalendarInput::office_hours("UTC")
        }).await.unwrap();

        // Friday 16:00: three Support tickets and a Sales one.
        let friday = to_next_friday(&app, 16);
        let first = open_ticket(&app, &desk.alice, desk.support, "Printer jams").await;
        let second = open_ticket(&app, &desk.alice, desk.support, "Screen flickers").await;
        let third = open_ticket(&app, &desk.alice, desk.support, "Mouse lost").await;
        let _deal = open_ticket(&app, &desk.admin, desk.sales, "Secret deal").await;
        rules_settled(&app).await;
        let alice_actor = actor_of(&desk.alice);
        let alice = Caller::new(&alice_actor, "192.0.2.1");
        // Friday 18:00 (after hours) Alice answers the first: 2 h of wall
        // time, 1 h of working time.
        to(&app, friday + 2 * HOUR);
        app.app.reply_to_ticket(&alice, &ticket_key(&first), &reply_with("Try the other tray.")).await.unwrap();
        // Monday 10:00 she answers the second: 66 h of wall time, 2 h of
        // working time (16–17 on Friday, 9–10 on Monday).
        to(&app, friday + 3 * DAY - 6 * HOUR);
        app.app.reply_to_ticket(&alice, &ticket_key(&second), &reply_with("A new cable is on its way.")).await.unwrap();
        // Monday 11:00 the first is resolved; 12:00 reopened; 13:00
        // resolved again (resolution: 69 h wall from Friday 16:00).
        let resolve = TicketChange { status: Some(Ok(TicketStatus::Resolved)), ..TicketChange::default() };
        let reopen = TicketChange { status: Some(Ok(TicketStatus::AwaitingAgent)), ..TicketChange::default() };
        to(&app, friday + 3 * DAY - 5 * HOUR);
        app.app.change_ticket(&alice, &ticket_key(&first), &resolve).await.unwrap();
        to(&app, friday + 3 * DAY - 4 * HOUR);
        app.app.change_ticket(&alice, &ticket_key(&first), &reopen).await.unwrap();
        to(&app, friday + 3 * DAY - 3 * HOUR);
        app.app.change_ticket(&alice, &ticket_key(&first), &resolve).await.unwrap();
        rules_settled(&app).await;

        // Rita, in wall time: three opened (not the Sales one), one
        // resolved, reopened once, two open; first response median 2 h,
        // 90th percentile 66 h = 2 d 18 h; resolution 69 h = 2 d 21 h.
        let reader = signed_in(&app, "rita@example.org").await;
        let page = reader.get(&app, "/agent/reports?period=7d").await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert_eq!(tile(&page, "created"), "3", "{page}");
        assert_eq!(tile(&page, "resolved"), "1");
        assert_eq!(tile(&page, "reopened"), "1");
        assert_eq!(tile(&page, "backlog"), "2");
        assert_eq!(tile(&page, "first_response_median"), "2 h");
        assert_eq!(tile(&page, "first_response_p90"), "2 d 18 h");
        assert_eq!(tile(&page, "resolution_median"), "2 d 21 h");
        assert!(!page.contains("Secret deal") && !page.contains(">Sales<"), "nothing of Sales");
        assert!(page.contains("wall-clock time"));
        // The resolved tile leads to the resolved ticket (`resolved:` in the search).
        let href = tile_link(&page, "resolved");
        assert!(href.contains("resolved%3A%3E%3D"), "{href}");
        let found = reader.get(&app, &href).await.text().await.unwrap();
        assert!(found.contains(&first) && !found.contains(&second), "{found}");
        // The reopened tile leads to the reopened ticket (`reopened:`).
        let href = tile_link(&page, "reopened");
        assert!(href.contains("reopened%3A%3E%3D"), "{href}");
        let found = reader.get(&app, &href).await.text().await.unwrap();
        assert!(found.contains(&first) && !found.contains(&second) && !found.contains(&third), "{found}");
        let none = reader.get(&app, "/agent/search?q=reopened%3A%3C2001-01-01").await.text().await.unwrap();
        assert!(!none.contains(&first), "reopened before 2001: none");
        // The breakdowns: all three unassigned, through the agent interface.
        assert!(page.contains("id=\"report-by-agent\""), "{page}");
        assert!(page.contains("Agent interface"), "{page}");
        let start = page.find("id=\"report-by-channel\"").unwrap();
        let section = &page[start..];
        let href = &section[section.find("href=\"").unwrap() + 6..];
        let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
        assert!(href.contains("channel%3Aagent"), "{href}");
        let found = reader.get(&app, &href).await.text().await.unwrap();
        assert!(found.contains(&first) && found.contains(&second) && found.contains(&third), "{found}");
        // The backlog's last point is what is open now: 2.
        assert!(page.contains("<td class=\"number\">2</td></tr></tbody>"), "{page}");

        // In the office's working time: 1 h and 2 h; resolution Friday
        // 16:00 → Monday 13:00 is 1 h + 4 h = 5 h.
        let office = app.app.store().business_calendars().list_calendars().await.unwrap()[0].id;
        let page = reader.get(&app, &format!("/agent/reports?period=7d&calendar={office}")).await.text().await.unwrap();
        assert_eq!(tile(&page, "first_response_median"), "1 h");
        assert_eq!(tile(&page, "first_response_p90"), "2 h");
        assert_eq!(tile(&page, "resolution_median"), "5 h");
        assert!(page.contains("working time (Office)"));
        // Per team (none here): two answered, 1 h and 2 h of working time.
        let start = page.find("id=\"report-team-response\"").expect("first response by team");
        let section = &page[start..start + page[start..].find("</section>").unwrap()];
        assert!(section.contains("No team</th><td class=\"number\">2</td><td class=\"number\">1 h</td><td class=\"number\">2 h</td>"), "{section}");

        // The admin sees Sales too.
        let admin = signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, "/agent/reports?period=7d").await.text().await.unwrap();
        assert_eq!(tile(&page, "created"), "4");
        assert_eq!(tile(&page, "backlog"), "3");
        // A department filter narrows; one Rita may not see is ignored.
        let page = admin.get(&app, &format!("/agent/reports?period=7d&department={}", desk.sales)).await.text().await.unwrap();
        assert_eq!(tile(&page, "created"), "1");
        let page = reader.get(&app, &format!("/agent/reports?period=7d&department={}", desk.sales)).await.text().await.unwrap();
        assert_eq!(tile(&page, "created"), "3", "not a department she may see: all of hers");

        // The period before had none; a bad date is said, not a crash.
        let page = reader.get(&app, "/agent/reports?period=custom&from=2026-13-01&to=2026-12-01").await.text().await.unwrap();
        assert!(page.contains("id=\"report-problem\"") && page.contains("Write the date as"), "{page}");

        // Without the permission: refused.
        let alice_browser = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice_browser.get(&app, "/agent/reports").await.status(), 403);
    }

    async fn a_ticket_list_exports_as_csv_with_its_filters_neutralised_and_audited(app: TestApp) {
        let desk = desk(&app).await;
        let system = Caller::system();
        let rita = app.create_account("rita@example.org", "Rita Reports", AccountKind::Agent).await;
        let readers = app.app.create_permission_group(&system, &group("Support reports", &["reports.view"], desk.support, "full")).await.unwrap();
        app.app.set_agent_access(&system, rita.id, &[readers], &[]).await.unwrap();
        let printer = open_ticket(&app, &desk.alice, desk.support, "Printer jams, again").await;
        let formula = open_ticket(&app, &desk.alice, desk.support, "=HYPERLINK(\"http://evil.example\",\"Click\")").await;
        let deal = open_ticket(&app, &desk.admin, desk.sales, "Secret deal").await;

        let reader = signed_in(&app, "rita@example.org").await;
        let list = reader.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        assert!(list.contains("id=\"export-csv\""), "offered with the permission");
        let exported = reader.get(&app, "/agent/tickets.csv?status=any").await;
        assert_eq!(exported.status(), 200);
        assert_eq!(exported.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(exported.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"tickets-"));
        let body = exported.bytes().await.unwrap();
        assert!(body.starts_with("\u{feff}".as_bytes()), "a byte-order mark first");
        let text = String::from_utf8(body.to_vec()).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").filter(|line| !line.is_empty()).collect();
        assert!(lines[0].starts_with("Reference,Subject,Status"), "{}", lines[0]);
        assert_eq!(lines.len(), 3, "a header and her two tickets: {text}");
        assert!(text.contains(&printer) && text.contains("\"Printer jams, again\""), "{text}");
        assert!(text.contains(&formula) && text.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\""), "the formula is neutralised: {text}");
        assert!(!text.contains(&deal) && !text.contains("Secret deal"), "nothing of Sales");
        // The list's own filters apply.
        let searched = reader.get(&app, "/agent/tickets.csv?status=any&q=printer").await.text().await.unwrap();
        assert!(searched.contains(&printer) && !searched.contains(&formula), "{searched}");
        let actions = crate::security::audit_actions(&app).await;
        assert_eq!(actions.iter().filter(|action| *action == "tickets.exported").count(), 2, "{actions:?}");

        // Without the reports permission: no link, and refused.
        let alice = signed_in(&app, "alice@example.org").await;
        let list = alice.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        assert!(!list.contains("id=\"export-csv\""));
        assert_eq!(alice.get(&app, "/agent/tickets.csv?status=any").await.status(), 403);
    }

    async fn the_hostname_report_finds_replies_and_sign_ins_from_outside_the_network(app: TestApp) {
        let desk = desk(&app).await;
        let system = Caller::system();
        let rita = app.create_account("rita@example.org", "Rita Reports", AccountKind::Agent).await;
        let readers = app.app.create_permission_group(&system, &group("Support reports", &["reports.view"], desk.support, "full")).await.unwrap();
        app.app.set_agent_access(&system, rita.id, &[readers], &[]).await.unwrap();
        let printer = open_ticket(&app, &desk.alice, desk.support, "Printer jams").await;
        let deal = open_ticket(&app, &desk.admin, desk.sales, "Secret deal").await;
        let now = app.app.now();
        let logins = app.app.store().logins();
        logins.put_hostname("203.0.113.9", Some("home.isp.example"), now).await.unwrap();
        logins.put_hostname("198.51.100.4", Some("vpn1.corp.example.com."), now).await.unwrap();
        let alice = actor_of(&desk.alice);
        for ip in ["10.1.2.3", "203.0.113.9", "198.51.100.4", "203.0.113.9"] {
            app.app.reply_to_ticket(&Caller::new(&alice, ip), &ticket_key(&printer), &reply_with(&format!("From {ip}"))).await.unwrap();
        }
        let ada = actor_of(&desk.admin);
        app.app.reply_to_ticket(&Caller::new(&ada, "203.0.113.50"), &ticket_key(&deal), &reply_with("From home")).await.unwrap();
        let newest_from_home = app.app.store().tickets().ticket_messages(
            app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&printer)).await.unwrap().unwrap().id, true,
        ).await.unwrap().into_iter().filter(|message| message.ip == "203.0.113.9").map(|message| message.id).max().unwrap();

        let query = "period=7d&networks=10.0.0.0%2F8&domains=corp.example.com";
        let reader = signed_in(&app, "rita@example.org").await;
        let page = reader.get(&app, &format!("/agent/reports/hostnames?{query}")).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("Alice Agent") && page.contains("203.0.113.9") && page.contains("home.isp.example"), "{page}");
        assert!(page.contains(&format!("/agent/tickets/{printer}#message-{newest_from_home}")), "a link to the message: {page}");
        assert!(page.contains("<td class=\"number\">2</td>"), "two messages from home: {page}");
        assert!(!page.contains("10.1.2.3") && !page.contains("198.51.100.4"), "inside by network and by name");
        assert!(!page.contains("203.0.113.50") && !page.contains("Ada Admin <span class=\"muted small\">"), "nothing from a ticket she may not see");
        assert!(page.contains("Sign-ins are shown to admins.") && !page.contains("<th scope=\"col\" class=\"number\">Sign-ins</th>"));

        // The admin sees Sales too, and sign-ins (the test's own, from loopback).
        let admin = signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, &format!("/agent/reports/hostnames?{query}")).await.text().await.unwrap();
        assert!(page.contains("Ada Admin <span class=\"muted small\">") && page.contains("203.0.113.50"), "{page}");
        assert!(page.contains("127.0.0.1") && page.contains("Sign-ins</th>"), "{page}");
        // With the loopback counted as ours, sign-ins from it are gone.
        let page = admin.get(&app, "/agent/reports/hostnames?period=7d&networks=10.0.0.0%2F8,127.0.0.0%2F8").await.text().await.unwrap();
        assert!(!page.contains("127.0.0.1") && page.contains("198.51.100.4"), "no names given: the VPN counts as outside {page}");

        // Exported as CSV, audited.
        let exported = reader.get(&app, &format!("/agent/reports/hostnames.csv?{query}")).await;
        assert_eq!(exported.status(), 200);
        let text = exported.text().await.unwrap();
        assert!(text.starts_with('\u{feff}') && text.contains("Alice Agent,203.0.113.9,home.isp.example,2,0,"), "{text}");
        assert!(!text.contains("203.0.113.50"));
        let actions = crate::security::audit_actions(&app).await;
        assert!(actions.iter().any(|action| action == "report.exported"), "{actions:?}");

        // Bad networks are said; without the permission, refused.
        let refused = reader.get(&app, "/agent/reports/hostnames?period=7d&networks=10.0.0.0%2F33").await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("is not a network"));
        let alice_browser = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice_browser.get(&app, "/agent/reports/hostnames").await.status(), 403);
        assert_eq!(alice_browser.get(&app, "/agent/reports/hostnames.csv").await.status(), 403);
    }
}
