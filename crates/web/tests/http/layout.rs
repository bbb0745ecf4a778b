//! How the main pages fit a screen, in headless Chromium at a laptop's
//! 1366×900 and a phone's 390×844: nothing scrolls sideways, and the agent
//! list shows a screenful of tickets, and axe-core (the accessibility
//! engine) finds no serious or critical violation. Screenshots of each page land in
//! `target/screenshots/` for people to look at.

use ferrodesk_testkit::browser::Browser;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::tickets::{desk, open_ticket};

const DESKTOP: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);

/// Whether the page is wider than the window (it scrolls sideways).
pub(crate) async fn overflows(browser: &Browser) -> bool {
    browser
        .script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
        )
        .await
        .as_bool()
        .unwrap_or(true)
}

/// The innermost elements that stick out past the viewport's right edge,
/// to say what makes a page scroll sideways.
async fn sticking_out(browser: &Browser) -> String {
    browser
        .script(
            "const width = document.documentElement.clientWidth; \
             const clipped = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) { \
               const o = getComputedStyle(p).overflowX; if (o !== 'visible') return true; } return false; }; \
             const out = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1 \
               && !clipped(e) && (getComputedStyle(e).overflowX !== 'visible' \
                 || ![...e.children].some(c => c.getBoundingClientRect().right > width + 1))); \
             const spilling = [...document.querySelectorAll('body *')].filter(e => !clipped(e) \
               && getComputedStyle(e).overflowX === 'visible' && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0 \
               && ![...e.children].some(c => c.scrollWidth > c.clientWidth + 1)); \
             out.push(...spilling); \
             out.push(...[...document.querySelectorAll('body *')].filter(e => ['absolute', 'fixed'].includes(getComputedStyle(e).position) \
               && e.getBoundingClientRect().right > width + 1)); \
             return out.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') \
               + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') \
               + ' (' + Math.round(e.getBoundingClientRect().right) + ' px)').join(', ');",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub(crate) async fn shoot(browser: &Browser, backend: &str, name: &str) {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    browser
        .screenshot(&folder.join(format!("{name}-{backend}.png")))
        .await;
}

on_both_backends! { spawn_app;

    async fn the_agent_list_shows_a_screenful_and_nothing_scrolls_sideways(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = desk(&app).await;
        let mut sample = String::new();
        let mut other = String::new();
        for number in 0..40 {
            other = std::mem::take(&mut sample);
            sample = open_ticket(&app, &desk.admin, desk.support, &format!("Printer on floor {number} prints nothing at all")).await;
        }
        let admin = crate::tickets::actor_of(&desk.admin);
        let reply = crate::helpers::reply_with("Thanks for writing.\n\nCould you send a photo of the display?\n\nBest,\nAda");
        let caller = ferrodesk_app::Caller::new(&admin, "192.0.2.10");
        app.app.reply_to_ticket(&caller, &crate::helpers::ticket_key(&sample), &reply).await.unwrap();
        // A longer thread, one message quoting a whole earlier mail.
        for number in 1..=4 {
            let text = format!("Update {number}.\n\n> On Monday you wrote:\n> It does not work.\n> The display is blank.\n> I tried turning it off and on.\n> Nothing changed.");
            app.app.reply_to_ticket(&caller, &crate::helpers::ticket_key(&sample), &crate::helpers::reply_with(&text)).await.unwrap();
        }
        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "admin@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent")).await;
        let backend = format!("{:?}", app.database.backend).to_lowercase();

        browser.resize(DESKTOP.0, DESKTOP.1).await;
        browser.goto(&app.url("/agent/tickets?status=any")).await;
        shoot(&browser, &backend, "agent-list-desktop").await;
        let visible = browser
            .script("return [...document.querySelectorAll('#tickets tbody tr')].filter(row => { const box = row.getBoundingClientRect(); return box.top >= 0 && box.bottom <= window.innerHeight; }).length;")
            .await
            .as_u64()
            .unwrap_or(0);
        assert!(visible >= 15, "only {visible} tickets fit a 1366×900 screen");
        assert!(!overflows(&browser).await, "the agent list scrolls sideways at 1366 px");
        browser.resize(PHONE.0, PHONE.1).await;
        browser.goto(&app.url("/agent/tickets?status=any")).await;
        shoot(&browser, &backend, "agent-list-phone-first-screen").await;
        let on_phone = browser
            .script("return [...document.querySelectorAll('#tickets tbody tr')].filter(row => row.getBoundingClientRect().bottom <= window.innerHeight).length;")
            .await
            .as_u64()
            .unwrap_or(0);
        assert!(on_phone >= 2, "only {on_phone} tickets show in a phone's first screen");
        browser.resize(DESKTOP.0, DESKTOP.1).await;
        // The ticket page: the middle of a long thread folded, long quotes
        // folded, the way along the list, the requester's other tickets.
        browser.goto(&app.url(&format!("/agent/tickets/{sample}"))).await;
        let folded = browser.script("return [document.querySelector('#earlier-messages summary')?.textContent, document.querySelectorAll('details.quoted').length, document.querySelector('#older-ticket')?.getAttribute('href'), document.querySelectorAll('#requester-tickets li').length];").await;
        assert_eq!(folded[0].as_str(), Some("2 earlier messages"), "{folded}");
        assert_eq!(folded[1].as_u64(), Some(4), "{folded}");
        assert_eq!(folded[2].as_str(), Some(format!("/agent/tickets/{other}").as_str()), "{folded}");
        assert_eq!(folded[3].as_u64(), Some(5), "{folded}");
        let caller = ferrodesk_app::Caller::new(&admin, "");
        let category = app.app.create_article_category(&caller, "Printing", "Printers, scanners and paper", None, "0").await.unwrap();
        app.app.save_article(&caller, None, &ferrodesk_app::ArticleInput {
            title: "When the printer prints nothing".into(),
            category_id: category.to_string(),
            content: "Check the cable first.\n\n```\nlpstat -p\n```\n\nThen restart the print queue.".into(),
            status: "published".into(),
            ..ferrodesk_app::ArticleInput::default()
        }).await.unwrap();

        // A ticket that came by mail, with HTML, a quote and a remote image.
        let html_mail = "From: Ines <ines@example.net>\r\nTo: help@example.org\r\nSubject: Screen flickers\r\nMessage-ID: <layout-1@example.net>\r\n\
            MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>The screen <b>flickers</b> since the update.</div>\
            <img src=\"https://tracker.example.com/p.gif\"><div class=\"gmail_quote\">On Monday, Support wrote:<blockquote>Did you restart it?</blockquote></div>";
        let (_, outcome) = app.app.receive_mail(html_mail.as_bytes(), None).await.unwrap();
        let ferrodesk_app::InboundOutcome::NewTicket(mailed) = outcome else { panic!("{outcome:?}") };
        let mailed = format!("/agent/tickets/{mailed}");
        // A default signature, so the reply box shows the one it adds.
        app.app.set_default_signature(&caller, "Kind regards,\n{{ agent.first_name }} at {{ helpdesk.name }}").await.unwrap();
        // Snippets, so the reply box offers them and the library has some.
        for (title, shortcut, category, shared) in [("Refund on its way", "refund", "Billing", true), ("Ask for a screenshot", "screenshot", "", false)] {
            app.app.create_snippet(&caller, &ferrodesk_app::SnippetInput {
                title: title.into(), shortcut: shortcut.into(), category: category.into(), shared,
                body: "Hi {{ user.first_name }},\n\nthanks for writing about {{ ticket.reference }}.".into(),
            }).await.unwrap();
        }
        let refund_macro = app.app.create_macro(&caller, &ferrodesk_app::MacroInput {
            title: "Refund: wait for the bank".into(),
            shared: true,
            actions: ferrodesk_app::MacroActions {
                status: Some("pending".into()), add_labels: vec!["refund".into()], follow: true,
                snippet: app.app.snippet_library(&admin).await.unwrap().snippets.iter().find(|s| s.shared).map(|s| s.record.id),
                ..ferrodesk_app::MacroActions::default()
            },
        }).await.unwrap();
        let macro_preview = format!("/agent/tickets/{sample}/macro?macro={refund_macro}");
        app.app.set_own_zone(&admin, "Europe/Vienna").await.unwrap();
        let saved_view = app.app.create_view(&caller, &ferrodesk_app::ViewInput {
            title: "Open, urgent first".into(),
            filters: "view=all&status=&department=&label=&urgency=3".into(),
            columns: vec!["subject".into(), "requester".into(), "status".into(), "priority".into(), "team".into(), "updated".into()],
            team_ids: Vec::new(),
        }).await.unwrap();
        let view_edit = format!("/agent/views/{saved_view}");
        let view_list = format!("/agent/tickets?saved={saved_view}");
        let organization = app.app.create_organization(&caller, "Acme Printing").await.unwrap();
        let delete_organization = format!("/agent/organizations/{organization}/delete");
        let ticket = format!("/agent/tickets/{sample}");
        let calendar_id = app.app.create_business_calendar(&caller, &ferrodesk_app::CalendarInput {
            name: "Vienna office".into(),
            holidays: "2026-12-25 yearly\n2026-12-28".into(),
            ..ferrodesk_app::CalendarInput::office_hours("Europe/Vienna")
        }).await.unwrap();
        let calendar = format!("/admin/rules/business-hours/{calendar_id}");
        let webhook_id = app.app.create_webhook(&caller, &ferrodesk_app::webhooks::WebhookInput {
            name: "Team chat".into(), url: "https://hooks.example.com/ferrodesk".into(),
            events: vec!["ticket.created".into(), "webhook.test".into()], secret: "s3cret".into(), clear_secret: false, is_enabled: true,
        }).await.unwrap();
        let webhook = format!("/admin/rules/webhooks/{webhook_id}");
        let condition = |field: &str, operator: &str, value: &str| ferrodesk_app::rules::ConditionRow { field: field.into(), operator: operator.into(), value: value.into() };
        let action = |kind: &str, value: &str, subject: &str, body: &str| ferrodesk_app::rules::ActionRow { kind: kind.into(), value: value.into(), subject: subject.into(), body: body.into() };
        let trigger_id = app.app.create_trigger(&caller, &ferrodesk_app::rules::TriggerInput {
            name: "Printer trouble to Support".into(), is_enabled: true,
            events: vec!["new_ticket".into()], actors: vec![], channels: vec!["email".into(), "web".into()],
            all: vec![condition("subject", "contains", "printer"), condition("urgency", "greater", "2")],
            any: vec![],
            actions: vec![
                action("add_labels", "printers", "", ""),
                action("set_urgency", "6", "", ""),
                action("email_requester", "", "We are on {{ ticket.reference }}", "Hello {{ user.first_name }},\n\nwe have your request and will answer soon."),
            ],
        }).await.unwrap();
        let trigger = format!("/admin/rules/triggers/{trigger_id}?test={sample}");
        let escalation_id = app.app.create_escalation(&caller, &ferrodesk_app::rules::EscalationInput {
            name: "Close what waits on the user".into(), is_enabled: true,
            clock: "awaiting_user".into(), amount: "7".into(), unit: "days".into(), calendar: String::new(),
            all: vec![], any: vec![],
            actions: vec![
                action("set_status", "resolved", "", ""),
                action("email_requester", "", "We closed {{ ticket.reference }}", "Hello {{ user.first_name }},\n\nwe closed your request after a week without news. Reply to open it again."),
            ],
        }).await.unwrap();
        let escalation = format!("/admin/rules/escalations/{escalation_id}");
        let sla_id = app.app.create_sla(&caller, &ferrodesk_app::rules::SlaInput {
            name: "Standard support".into(), is_enabled: true, calendar: "Vienna office".into(),
            targets: vec![("first_response".into(), "4".into(), "3".into()), ("next_response".into(), "8".into(), "6".into()), ("resolution".into(), "40".into(), "32".into())],
            all: vec![condition("department", "is", "Support")], any: vec![],
            actions: vec![action("add_labels", "sla-missed", "", ""), action("email_team", "", "Missed: {{ ticket.reference }}", "{{ ticket.agent_link }}")],
        }).await.unwrap();
        let sla = format!("/admin/rules/slas/{sla_id}?test={other}");
        // Tickets take the SLA at their next change: the sample (waiting on
        // the user, so paused) and one awaiting an agent (running).
        let urgent = ferrodesk_app::TicketChange { urgency: Some(Ok(ferrodesk_core::Urgency::new(4).unwrap())), ..ferrodesk_app::TicketChange::default() };
        for reference in [&sample, &other] {
            app.app.change_ticket(&caller, &crate::helpers::ticket_key(reference), &urgent).await.unwrap();
            crate::helpers::wait_until("the ticket has its SLA", || async {
                let id = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(reference)).await.unwrap().unwrap().id;
                !app.app.store().slas().ticket_targets(id).await.unwrap().is_empty()
            }).await;
        }
        // A survey link: surveys on, a ticket resolved, the link from its mail.
        app.app.set_survey_settings(&caller, &ferrodesk_app::SurveySettings { enabled: true, ..Default::default() }).await.unwrap();
        let rated = open_ticket(&app, &desk.admin, desk.support, "Paper tray is stuck").await;
        let resolved = ferrodesk_app::TicketChange { status: Some(Ok(ferrodesk_core::TicketStatus::Resolved)), ..ferrodesk_app::TicketChange::default() };
        app.app.change_ticket(&caller, &crate::helpers::ticket_key(&rated), &resolved).await.unwrap();
        let survey = app.app.store().outbox().list_mail(None, 100).await.unwrap().into_iter()
            .filter(|mail| mail.template == "ticket_resolved")
            .find_map(|mail| mail.text_body.split_whitespace().find(|word| word.contains("/survey/") && word.ends_with("rating=bad")).map(str::to_owned))
            .expect("a survey link");
        let survey = survey[survey.find("/survey/").unwrap()..].to_owned();
        let sla_list = "/agent/tickets?status=any&sort=sla_due&order=asc".to_owned();
        let saved_report = app.app.create_saved_report(&caller, &ferrodesk_app::reports::SavedReportInput {
            name: "Tickets by week and department".into(),
            definition: ferrodesk_app::reports::ReportInput {
                dataset: "tickets".into(), period: "30d".into(), group: "week".into(), then: "department".into(), chart: "stacked".into(),
                ..Default::default()
            },
            team_ids: Vec::new(),
        }).await.unwrap();
        let saved_report = format!("/agent/reports/{saved_report}");
        // The security page's warning about a proxy nobody trusted.
        app.app.note_ignored_forwarding("203.0.113.9").await.unwrap();
        // An unlock link: Carol's address paused after one failure.
        app.app.set_login_limits(&ferrodesk_app::Caller::system(), ferrodesk_app::Audience::Agents, ferrodesk_app::LoginLimits { max_failures: 1, window_minutes: 15, lock_minutes: 15, per_ip_attempts: 100 }).await.unwrap();
        crate::security::Browser::new().log_in(&app, "carol@example.org", "not her password").await;
        let unlock = app.app.store().outbox().list_mail(None, 200).await.unwrap().into_iter()
            .find_map(|mail| mail.text_body.split_whitespace().find(|word| word.contains("/agent/unlock/")).map(str::to_owned))
            .expect("an unlock link");
        let unlock = unlock[unlock.find("/agent/unlock/").unwrap()..].to_owned();
        let merge = format!("/agent/tickets/{sample}/merge?into={other}");
        app.app.set_chat_settings(&caller, &ferrodesk_app::chat::ChatSettingsInput {
            enabled: true, department_ids: Vec::new(), wait_seconds: "120".into(),
            welcome: "Questions? Chat with us.".into(), allowed_origins: String::new(), chats_per_agent: "3".into(),
            ..ferrodesk_app::chat::ChatSettingsInput::from(&ferrodesk_app::chat::ChatSettings::default())
        }).await.unwrap();
        let pages = [
            ("/agent", "agent-home"), ("/agent/tickets", "agent-list"), (ticket.as_str(), "agent-ticket"),
            (merge.as_str(), "merge-confirm"), ("/agent/tickets/new", "agent-new-ticket"), ("/agent/people", "agent-people"),
            ("/agent/organizations", "agent-organizations"), ("/agent/kb", "agent-kb"),
            ("/", "help-center-home"), ("/kb", "help-center-kb"), ("/kb/articles/when-the-printer-prints-nothing", "help-center-article"),
            ("/news", "help-center-news"), ("/search?q=printer", "help-center-search"), ("/login", "help-center-login"),
            ("/register", "help-center-register"), ("/tickets", "help-center-requests"),
            ("/admin", "admin-home"), ("/admin/security", "admin-security"), ("/admin/departments", "admin-departments"),
            ("/admin/audit", "admin-audit"), ("/admin/help-center", "admin-help-center"), ("/admin/logins", "admin-logins"), ("/admin/tickets", "admin-tickets"),
            ("/admin/email/accounts", "admin-email-accounts"), ("/admin/email/accounts/new", "admin-email-account"), ("/admin/email/rejections", "admin-rejected-mail"),
            (mailed.as_str(), "agent-ticket-by-mail"), ("/agent/account", "agent-account"),
            (delete_organization.as_str(), "delete-organization"), ("/agent/search?q=printer", "agent-search"),
            ("/agent/snippets", "agent-snippets"), ("/agent/snippets/new", "agent-snippet-new"),
            ("/agent/macros", "agent-macros"), ("/agent/macros/new", "agent-macro-new"), (macro_preview.as_str(), "agent-macro-preview"),
            (view_edit.as_str(), "agent-view-edit"), (view_list.as_str(), "agent-saved-view"),
            ("/admin/rules/business-hours", "admin-business-hours"), (calendar.as_str(), "admin-business-calendar"),
            ("/admin/rules/webhooks", "admin-webhooks"), (webhook.as_str(), "admin-webhook"),
            ("/admin/rules/triggers", "admin-triggers"), (trigger.as_str(), "admin-trigger"),
            ("/admin/rules/escalations", "admin-escalations"), (escalation.as_str(), "admin-escalation"),
            ("/admin/rules/slas", "admin-slas"), (sla.as_str(), "admin-sla"), (sla_list.as_str(), "agent-list-by-sla"),
            ("/agent/tickets?status=any&sort=subject&order=asc&q=printer", "agent-list-sorted-search"),
            ("/agent/reports?period=30d&calendar=1", "agent-reports"),
            (survey.as_str(), "help-center-survey"),
            ("/agent/reports/hostnames?period=30d&networks=10.0.0.0%2F8&domains=corp.example.com", "agent-report-hostnames"),
            ("/agent/reports/builder?dataset=tickets&period=30d&group=department&chart=pie", "agent-report-builder"),
            (saved_report.as_str(), "agent-saved-report"),
            (unlock.as_str(), "unlock-link"),
            ("/chat", "help-center-chat"), ("/chat?embedded=1", "help-center-chat-embedded"), ("/agent/chats", "agent-chats"), ("/admin/chat", "admin-chat"),
        ];
        // The checker itself finds what it should: an image without a text.
        browser.goto("data:text/html,<html lang=en><title>t</title><main><img src=x.png></main></html>").await;
        if let Some(violations) = browser.accessibility_violations().await {
            assert!(violations.iter().any(|violation| violation.starts_with("image-alt")), "{violations:?}");
        }
        let mut problems = Vec::new();
        for (width, height, size) in [(DESKTOP.0, DESKTOP.1, "desktop"), (PHONE.0, PHONE.1, "phone")] {
            browser.resize(width, height).await;
            for (path, name) in pages {
                browser.goto(&app.url(path)).await;
                shoot(&browser, &backend, &format!("{name}-{size}")).await;
                // A long form is looked at further down too.
                for part in ["actions", "trigger-test", "sla-test", "report-volume", "report-by-channel", "report-heat", "survey", "sla", "save-report", "schedule", "saved-reports"] {
                    let shown = match name {
                        "admin-tickets" => part == "survey",
                        "agent-ticket" => part == "sla",
                        "admin-trigger" => part == "actions" || part == "trigger-test",
                        "admin-sla" => part == "sla-test",
                        "agent-reports" => part.starts_with("report-") || part == "saved-reports",
                        "agent-report-builder" => part == "save-report",
                        "agent-saved-report" => part == "schedule",
                        _ => false,
                    };
                    if shown {
                        browser.script(&format!("document.getElementById('{part}').scrollIntoView(); return true;")).await;
                        shoot(&browser, &backend, &format!("{name}-{part}-{size}")).await;
                    }
                }
                if overflows(&browser).await {
                    problems.push(format!("{path} scrolls sideways at {width} px: {}", sticking_out(&browser).await));
                }
                if let Some(violations) = browser.accessibility_violations().await {
                    problems.extend(violations.into_iter().map(|violation| format!("{path} at {width} px: axe-core: {violation}")));
                }
            }
        }
        assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
        // The dark theme, as a system set to dark shows it.
        browser.prefer_dark().await;
        for (path, name) in [("/agent/tickets", "agent-list"), ("/", "help-center-home"), ("/agent/reports?period=30d", "agent-reports"), (saved_report.as_str(), "agent-saved-report")] {
            browser.resize(DESKTOP.0, DESKTOP.1).await;
            browser.goto(&app.url(path)).await;
            shoot(&browser, &backend, &format!("{name}-dark")).await;
            if name == "agent-reports" {
                browser.script("document.getElementById('report-volume').scrollIntoView(); return true;").await;
                shoot(&browser, &backend, &format!("{name}-charts-dark")).await;
            }
            let background = browser.script("return getComputedStyle(document.documentElement).backgroundColor;").await;
            assert_eq!(background.as_str(), Some("rgb(18, 22, 28)"), "{path} follows the dark theme");
        }
        browser.close().await;
    }
}
