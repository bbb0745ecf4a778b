//! Business hours on both databases: admins keep calendars of working time
//! in the browser (bad input refused with its reason and nothing typed
//! lost), every change audited, other agents turned away, and working time
//! counted on a stored calendar across a weekend, a holiday and a change of
//! daylight-saving time in a zone other than UTC.

use ferrodesk_core::Timestamp;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::audit_actions;
use crate::tickets::{desk, post_on, signed_in};

const NEW: &str = "/admin/rules/business-hours/new";

fn at(text: &str) -> Timestamp {
    let zoned: jiff::Zoned = text.parse().unwrap();
    Timestamp(zoned.timestamp().as_millisecond())
}

on_both_backends! { spawn_app;

    async fn admins_keep_calendars_and_working_time_is_counted_on_them(app: TestApp) {
        desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let form = admin.get(&app, NEW).await.text().await.unwrap();
        assert!(form.contains("value=\"09:00-17:00\"") && form.contains("id=\"saturday\" name=\"saturday\" type=\"text\" maxlength=\"200\" value=\"\""), "office hours to start from");

        // Bad hours and a bad holiday: refused with the reasons, what was typed kept.
        let typed = [
            ("name", "Vienna office"), ("time_zone", "Europe/Vienna"),
            ("monday", "9-5"), ("tuesday", "09:00-12:00, 13:00-17:00"), ("wednesday", "09:00-12:00, 13:00-17:00"),
            ("thursday", "09:00-12:00, 13:00-17:00"), ("friday", "09:00-12:00, 13:00-17:00"), ("saturday", ""), ("sunday", ""),
            ("holidays", "25.12."),
        ];
        let refused = post_on(&app, &admin, NEW, NEW, &typed).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains("Write hours as 09:00-17:00") && page.contains("Write each holiday on its own line"), "{page}");
        assert!(page.contains("value=\"9-5\"") && page.contains(">25.12.</textarea>") && page.contains("<option selected>Europe/Vienna</option>"), "nothing typed is lost");
        let mut good = typed;
        good[2] = ("monday", "13:00-17:00, 9:00-12:00");
        good[9] = ("holidays", "2025-12-25 yearly Christmas\n2026-12-28");
        let created = post_on(&app, &admin, NEW, NEW, &good).await;
        assert_eq!(created.status(), 303);
        let path = location(&created);
        let id: i64 = path.trim_start_matches("/admin/rules/business-hours/").split('?').next().unwrap().parse().unwrap();
        let page = admin.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("value=\"09:00-12:00, 13:00-17:00\"") && page.contains("2025-12-25 yearly\n2026-12-28</textarea>"), "stored as typed, tidied: {page}");
        let list = admin.get(&app, "/admin/rules/business-hours").await.text().await.unwrap();
        assert!(list.contains("Vienna office") && list.contains("35 h") && list.contains("2 holidays"), "{list}");
        let again = post_on(&app, &admin, NEW, NEW, &[("name", "VIENNA OFFICE "), ("time_zone", "UTC"), ("monday", "09:00-17:00")]).await;
        assert_eq!(again.status(), 422, "names are unique whatever their case");
        let nowhere = post_on(&app, &admin, NEW, NEW, &[("name", "Mars"), ("time_zone", "Mars/Olympus"), ("monday", "09:00-17:00")]).await;
        assert!(nowhere.text().await.unwrap().contains("Choose a time zone"));
        let closed = post_on(&app, &admin, NEW, NEW, &[("name", "Never"), ("time_zone", "UTC")]).await;
        assert!(closed.text().await.unwrap().contains("Give at least one day some hours."));

        // Working time on the stored calendar: Friday 16:00 + 4 h is Monday
        // noon; Christmas Eve 16:00 + 2 h skips Christmas (yearly), the
        // weekend and the bridge day; clocks going forward keep 10:00 local.
        let calendar = app.app.working_calendar(id).await.unwrap().unwrap();
        let hour = 3_600_000;
        assert_eq!(calendar.add_working_time(at("2026-12-04T16:00[Europe/Vienna]"), 4 * hour), Some(at("2026-12-07T12:00[Europe/Vienna]")));
        assert_eq!(calendar.add_working_time(at("2026-12-24T16:00[Europe/Vienna]"), 2 * hour), Some(at("2026-12-29T10:00[Europe/Vienna]")));
        assert_eq!(calendar.add_working_time(at("2026-03-27T16:00[Europe/Vienna]"), 2 * hour), Some(at("2026-03-30T08:00[UTC]")));
        assert_eq!(calendar.working_time_between(at("2026-12-05T10:00[Europe/Vienna]"), at("2026-12-07T10:30[Europe/Vienna]")), 90 * 60_000);
        // The same on the calendar's page, for an admin to try.
        let page_path = path.split('?').next().unwrap();
        let tried = admin.get(&app, &format!("{page_path}?from=2026-12-04T16%3A00&hours=4")).await.text().await.unwrap();
        assert!(tried.contains("4 working hours from 2026-12-04 16:00 end 2026-12-07 12:00 CET."), "{tried}");
        let nonsense = admin.get(&app, &format!("{page_path}?from=friday&hours=-1")).await.text().await.unwrap();
        assert!(nonsense.contains("Give a start as 2026-12-04T16:00.") && nonsense.contains("Give a number of hours"), "{nonsense}");

        // Changing and deleting, each audited; other agents are turned away.
        let mut changed = good;
        changed[8] = ("sunday", "10:00-14:00");
        let saved = post_on(&app, &admin, &path, &format!("/admin/rules/business-hours/{id}"), &changed).await;
        assert_eq!(saved.status(), 303);
        assert!(app.app.working_calendar(id).await.unwrap().unwrap().is_working(at("2026-12-06T11:00[Europe/Vienna]")));
        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, &path).await.status(), 403);
        let deleted = post_on(&app, &admin, &path, &format!("/admin/rules/business-hours/{id}/delete"), &[]).await;
        assert_eq!(deleted.status(), 303);
        assert!(app.app.working_calendar(id).await.unwrap().is_none());
        assert_eq!(admin.get(&app, &path).await.status(), 404);
        let actions = audit_actions(&app).await;
        for action in ["business_calendar.created", "business_calendar.changed", "business_calendar.deleted"] {
            assert!(actions.iter().any(|logged| logged == action), "{action}: {actions:?}");
        }
    }
}
