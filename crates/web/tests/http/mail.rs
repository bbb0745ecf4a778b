//! Outbound mail against a real SMTP server on loopback: password reset by
//! mail, invitations, the outbox surviving a mail server outage and a
//! restart, template fallback, header injection, and the admin pages.

use std::collections::HashSet;
use std::time::Duration;

use ferrodesk_store::{MailRecord, NewMail};
use ferrodesk_testkit::on_both_backends;
use ferrodesk_testkit::smtp::{ReceivedMail, SmtpServer};

use crate::helpers::{
    Options, PASSWORD, TestApp, csrf_token_in, location, new_client, spawn_app, spawn_app_with,
    wait_until,
};

const NEW_PASSWORD: &str = "purple elephant juggling teacups";
const MAIL_WAIT: Duration = Duration::from_secs(20);

pub(crate) struct MailTest {
    pub app: TestApp,
    pub smtp: SmtpServer,
}

pub(crate) async fn spawn_with_mail(backend: ferrodesk_testkit::Backend) -> Option<MailTest> {
    let smtp = SmtpServer::start().await?;
    let app = spawn_app_with(
        backend,
        Options {
            smtp_url: Some(smtp.url()),
            ..Options::default()
        },
    )
    .await?;
    Some(MailTest { app, smtp })
}

async fn request_reset(app: &TestApp, page: &str, email: &str) -> reqwest::Response {
    let token = app.csrf_token(page).await;
    app.post_form(page, &[("email", email), ("csrf_token", &token)])
        .await
}

/// (action, target) of every audit entry, newest first.
async fn audit_of(app: &TestApp) -> Vec<(String, String)> {
    app.app
        .store()
        .audit_log()
        .search_audit(&ferrodesk_app::AuditFilter::default(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.action, entry.target))
        .collect()
}

async fn all_mail(app: &TestApp) -> Vec<MailRecord> {
    app.app
        .store()
        .outbox()
        .list_mail(None, 1000)
        .await
        .unwrap()
}

/// The path of the link in a mail, without the server address.
fn link_path(app: &TestApp, mail: &ReceivedMail, path_prefix: &str) -> String {
    let link = mail
        .link_starting_with(&format!("{}{path_prefix}", app.address))
        .unwrap_or_else(|| panic!("a {path_prefix} link in {:?}", mail.text));
    link.strip_prefix(&app.address).unwrap().to_owned()
}

/// Sets a new password through a link's page with a fresh browser.
async fn set_password_through(app: &TestApp, path: &str) -> reqwest::Response {
    let browser = new_client();
    let page = browser.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200, "{path}");
    let csrf = csrf_token_in(&page.text().await.unwrap());
    browser
        .post(app.url(path))
        .form(&[
            ("password", NEW_PASSWORD),
            ("password_confirmation", NEW_PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

on_both_backends! { spawn_with_mail;

    async fn forgot_password_mails_a_link_that_works_once_and_ends_other_sessions(test: MailTest) {
        let app = &test.app;
        let agent = app.create_agent().await;
        let elsewhere = new_client();
        let token = csrf_token_in(&elsewhere.get(app.url("/agent/login")).send().await.unwrap().text().await.unwrap());
        elsewhere.post(app.url("/agent/login")).form(&[("email", "agent@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).send().await.unwrap();
        assert_eq!(app.sessions_of(&agent).await, 1);

        let login_page = app.get("/agent/login").await.text().await.unwrap();
        assert!(login_page.contains("href=\"/agent/forgot-password\""), "the login page links to it");
        let answer = request_reset(app, "/agent/forgot-password", "Agent@Example.org").await;
        assert_eq!(answer.status(), 200);
        assert!(answer.text().await.unwrap().contains("If an account uses that address"));

        let received = test.smtp.wait_for(1, MAIL_WAIT).await;
        let mail = &received[0];
        assert_eq!(mail.subject, "Reset your Ferrodesk password");
        assert!(mail.envelope_to.contains("agent@example.org"), "{}", mail.envelope_to);
        assert!(mail.raw.contains("Auto-Submitted: auto-generated"));
        assert!(!mail.html.is_empty() && !mail.text.is_empty(), "text and HTML parts");
        let path = link_path(app, mail, "/agent/reset-password/");

        let done = set_password_through(app, &path).await;
        assert_eq!(done.status(), 303);
        assert_eq!(location(&done), "/agent/login?notice=password-set");
        assert_eq!(app.sessions_of(&agent).await, 0, "every other session ended");
        assert_eq!(app.get(&path).await.status(), 404, "the link works once");
        assert_eq!(app.log_in_staff("agent@example.org", NEW_PASSWORD).await.status(), 303);
        let outbox = all_mail(app).await;
        assert_eq!((outbox.len(), outbox[0].status.as_str()), (1, "sent"));
    }

    async fn help_center_users_reset_through_their_own_pages(test: MailTest) {
        let app = &test.app;
        app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        assert!(app.get("/login").await.text().await.unwrap().contains("href=\"/forgot-password\""));
        assert_eq!(request_reset(app, "/forgot-password", "user@example.org").await.status(), 200);
        let received = test.smtp.wait_for(1, MAIL_WAIT).await;
        let path = link_path(app, &received[0], "/reset-password/");
        assert!(path.starts_with("/reset-password/"));
        assert_eq!(set_password_through(app, &path).await.status(), 303);
        assert_eq!(app.log_in_portal("user@example.org", NEW_PASSWORD).await.status(), 303);
    }

    async fn an_unknown_email_gets_the_same_answer_and_the_same_work(test: MailTest) {
        let app = &test.app;
        app.create_agent().await;
        let known = request_reset(app, "/agent/forgot-password", "agent@example.org").await;
        let (known_status, known_body) = (known.status(), known.text().await.unwrap());
        let unknown = request_reset(app, "/agent/forgot-password", "nobody@example.org").await;
        let (unknown_status, unknown_body) = (unknown.status(), unknown.text().await.unwrap());
        assert_eq!(known_status, unknown_status);
        assert_eq!(known_body, unknown_body, "same page, byte for byte");
        test.smtp.wait_for(1, MAIL_WAIT).await;
        // Both requests were answered by a job; only the known one made a mail.
        wait_until("both requests are handled", || async { app.app.store().jobs().count_jobs().await.unwrap() == 0 }).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(test.smtp.received().len(), 1);
        assert_eq!(all_mail(app).await.len(), 1);
    }

    async fn reset_requests_are_limited_per_address_and_per_ip(test: MailTest) {
        let app = &test.app;
        app.create_agent().await;
        for _ in 0..4 {
            assert_eq!(request_reset(app, "/agent/forgot-password", "agent@example.org").await.status(), 200, "the answer never changes");
        }
        test.smtp.wait_for(3, MAIL_WAIT).await;
        wait_until("the requests are handled", || async { app.app.store().jobs().count_jobs().await.unwrap() == 0 }).await;
        assert_eq!(test.smtp.received().len(), 3, "the fourth request for one address sent nothing");
        for number in 0..16 {
            let email = format!("someone{number}@example.org");
            assert_eq!(request_reset(app, "/agent/forgot-password", &email).await.status(), 200);
        }
        let refused = request_reset(app, "/agent/forgot-password", "one-more@example.org").await;
        assert_eq!(refused.status(), 429, "the 21st request from one IP within the hour");
        app.advance_clock(Duration::from_secs(3601));
        assert_eq!(request_reset(app, "/agent/forgot-password", "later@example.org").await.status(), 200);
    }

    async fn mail_waits_while_the_server_is_down_and_arrives_once_after_a_restart(test: MailTest) {
        let MailTest { app, mut smtp } = test;
        app.create_agent().await;
        smtp.stop().await;
        assert_eq!(request_reset(&app, "/agent/forgot-password", "agent@example.org").await.status(), 200, "a down mail server never fails the request");
        wait_until("the first delivery attempt failed", || async {
            all_mail(&app).await.first().is_some_and(|mail| mail.attempts == 1 && mail.last_error.is_some())
        }).await;
        let waiting = all_mail(&app).await.remove(0);
        assert_eq!(waiting.status, "queued");

        let app = app.restart().await;
        smtp.start_again().await;
        app.advance_clock(Duration::from_secs(16));
        let received = smtp.wait_for(1, MAIL_WAIT).await;
        assert_eq!(received[0].message_id, waiting.message_id.trim_matches(['<', '>']));
        // Later retries and a second restart change nothing: it came once.
        let mut app = app.restart().await;
        app.advance_clock(Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(smtp.received().len(), 1, "delivered exactly once");
        let sent = all_mail(&app).await.remove(0);
        assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 2));
        assert_eq!(app.app.store().jobs().count_jobs().await.unwrap(), 0);
        app.stop().await;
    }

    async fn invited_agents_choose_their_password_through_the_mailed_link(test: MailTest) {
        let app = &test.app;
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/admin/agents/invite").await;
        let invited = app.post_form("/admin/agents/invite", &[("name", "Nina New"), ("email", "nina@example.org"), ("csrf_token", &csrf)]).await;
        assert_eq!(invited.status(), 303);
        assert_eq!(location(&invited), "/admin?notice=invited");
        let admin_page = app.get("/admin?notice=invited").await.text().await.unwrap();
        assert!(admin_page.contains("nina@example.org") && admin_page.contains("invitation is on its way"));

        let again = app.post_form("/admin/agents/invite", &[("name", "Nina Again"), ("email", "NINA@example.org"), ("csrf_token", &csrf)]).await;
        assert_eq!(again.status(), 422);
        assert!(again.text().await.unwrap().contains("already exists"));

        let received = test.smtp.wait_for(1, MAIL_WAIT).await;
        assert_eq!(received[0].subject, "You have been invited to Ferrodesk");
        assert!(received[0].text.contains("Ada Admin has invited you"));
        let path = link_path(app, &received[0], "/agent/reset-password/");
        let nina = new_client();
        let token = csrf_token_in(&nina.get(app.url("/agent/login")).send().await.unwrap().text().await.unwrap());
        let guess = nina.post(app.url("/agent/login")).form(&[("email", "nina@example.org"), ("password", ""), ("csrf_token", &token)]).send().await.unwrap();
        assert_eq!(guess.status(), 401, "an invited account has no password to guess");
        let page = new_client().get(app.url(&path)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Welcome! Choose your password"));
        assert_eq!(set_password_through(app, &path).await.status(), 303);
        assert_eq!(app.get(&path).await.status(), 404, "single use");
        let login = nina.post(app.url("/agent/login")).form(&[("email", "nina@example.org"), ("password", NEW_PASSWORD), ("csrf_token", &token)]).send().await.unwrap();
        assert_eq!(login.status(), 303);
        assert_eq!(nina.get(app.url("/agent")).send().await.unwrap().status(), 200);
        assert_eq!(nina.get(app.url("/admin")).send().await.unwrap().status(), 403, "invited as an agent, not an admin");
    }

    async fn header_injection_through_names_and_addresses_is_refused(test: MailTest) {
        let app = &test.app;
        // No hostname lookups, so the job queue holds only what the forms queue.
        app.app.set_login_monitoring(&ferrodesk_app::Caller::system(), "", false).await.unwrap();
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/admin/agents/invite").await;
        for (name, email) in [
            ("Eve\r\nBcc: victim@example.org", "eve@example.org"),
            ("Eve", "eve@example.org\r\nBcc: victim@example.org"),
            ("Eve", "eve@example.org, victim@example.org"),
        ] {
            let refused = app.post_form("/admin/agents/invite", &[("name", name), ("email", email), ("csrf_token", &csrf)]).await;
            assert_eq!(refused.status(), 422, "{name:?} {email:?}");
        }
        let forgot = request_reset(app, "/agent/forgot-password", "a@example.org\r\nBcc: victim@example.org").await;
        assert_eq!(forgot.status(), 422);
        assert!(all_mail(app).await.is_empty(), "nothing was queued");
        assert_eq!(app.app.store().jobs().count_jobs().await.unwrap(), 0);
        // A template whose subject has a line break still makes one header.
        let csrf = app.csrf_token("/admin/email/templates/agent_password_reset").await;
        let saved = app.post_form("/admin/email/templates/agent_password_reset", &[
            ("subject", "Reset {{ name }}\r\nBcc: victim@example.org"), ("text", "{{ link }}"), ("html", ""), ("action", "save"), ("csrf_token", &csrf),
        ]).await;
        assert_eq!(saved.status(), 303);
        let actions = audit_of(app).await;
        assert!(actions.iter().any(|(action, target)| action == "mail_template.changed" && target.contains("agent_password_reset")), "{actions:?}");
        request_reset(app, "/agent/forgot-password", "admin@example.org").await;
        let received = test.smtp.wait_for(1, MAIL_WAIT).await;
        assert!(!received[0].envelope_to.contains("victim"), "{}", received[0].envelope_to);
        assert!(!received[0].raw.contains("\nBcc:"));
        assert_eq!(received[0].subject, "Reset Ada Admin Bcc: victim@example.org");
    }

    async fn a_broken_template_falls_back_to_the_builtin_and_is_reported(test: MailTest) {
        let app = &test.app;
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let editor = "/admin/email/templates/agent_password_reset";
        let csrf = app.csrf_token(editor).await;
        let refused = app.post_form(editor, &[("subject", "Hi"), ("text", "line one\n{{ name }\n"), ("html", ""), ("action", "save"), ("csrf_token", &csrf)]).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains("line 2"), "the line is reported");
        assert!(page.contains("line one\n{{ name }\n"), "what was typed is kept");

        let preview = app.post_form(editor, &[("subject", "Hello {{ name }}"), ("text", "Go: {{ link }}"), ("html", "<p>{{ name }}</p>"), ("action", "preview"), ("csrf_token", &csrf)]).await;
        assert_eq!(preview.status(), 200);
        let page = preview.text().await.unwrap();
        assert!(page.contains("Hello Ada Lovelace"), "sample values");
        assert_eq!(app.app.store().settings().get_setting("mail.template.agent_password_reset").await.unwrap(), None, "a preview saves nothing");

        // A stored template that fails when real mail is rendered (say, an
        // older version that no longer fits): the built-in one goes out.
        app.app.store().settings().put_setting("mail.template.agent_password_reset",
            r#"{"subject":"Broken","text":"{% for x in %}","html":""}"#, app.app.now()).await.unwrap();
        request_reset(app, "/agent/forgot-password", "admin@example.org").await;
        let received = test.smtp.wait_for(1, MAIL_WAIT).await;
        assert_eq!(received[0].subject, "Reset your Ferrodesk password");
        assert!(received[0].text.contains("/agent/reset-password/"));
        let list = app.get("/admin/email/templates").await.text().await.unwrap();
        assert!(list.contains("failed") && list.contains("line 1"), "reported to the admin");
        assert!(app.get(editor).await.text().await.unwrap().contains("id=\"template-failure\""));

        let reset = app.post_form(&format!("{editor}/reset"), &[("csrf_token", &csrf)]).await;
        assert_eq!(reset.status(), 303);
        let list = app.get("/admin/email/templates").await.text().await.unwrap();
        assert!(!list.contains("badge failed"));
        let actions = audit_of(app).await;
        assert!(actions.iter().any(|(action, target)| action == "mail_template.reset" && target.contains("agent_password_reset")), "{actions:?}");
    }

    async fn an_admin_sees_failed_mail_and_dead_jobs_and_retries_them(test: MailTest) {
        let MailTest { app, mut smtp } = test;
        app.create_admin().await;
        app.create_agent().await;
        smtp.stop().await;
        request_reset(&app, "/agent/forgot-password", "agent@example.org").await;
        request_reset(&app, "/agent/forgot-password", "admin@example.org").await;
        wait_until("both mails failed once", || async {
            let mails = all_mail(&app).await;
            mails.len() == 2 && mails.iter().all(|mail| mail.attempts == 1)
        }).await;
        // Let the second attempt be the last one.
        app.execute_sql("UPDATE jobs SET max_attempts = 2").await;
        app.advance_clock(Duration::from_secs(16));
        wait_until("both mails gave up", || async {
            all_mail(&app).await.iter().all(|mail| mail.status == "failed")
        }).await;

        app.log_in_staff("admin@example.org", PASSWORD).await;
        let jobs_page = app.get("/admin/jobs").await.text().await.unwrap();
        assert!(jobs_page.contains("<dd id=\"jobs-dead\">2</dd>"), "{jobs_page}");
        assert!(jobs_page.contains("mail.send"));
        let outbox = app.get("/admin/email/outbox?status=failed").await.text().await.unwrap();
        assert!(outbox.contains("Failed (2)"));
        let mails = all_mail(&app).await;
        let shown = app.get(&format!("/admin/email/outbox/{}", mails[0].id)).await.text().await.unwrap();
        assert!(shown.contains("id=\"mail-error\""));
        assert!(shown.contains("[one-time token hidden]") && !shown.contains("reset-password/0") , "tokens are hidden from the admin");
        let bad_filter = app.get("/admin/email/outbox?status=lost").await;
        assert_eq!(bad_filter.status(), 400);

        smtp.start_again().await;
        // One through the outbox page, the other through the dead jobs.
        let csrf = app.csrf_token("/admin/jobs").await;
        let retried = app.post_form(&format!("/admin/email/outbox/{}/retry", mails[0].id), &[("csrf_token", &csrf)]).await;
        assert_eq!(retried.status(), 303);
        let dead = app.app.store().jobs().jobs_with_status("dead", 10).await.unwrap();
        assert_eq!(dead.len(), 1, "the retried mail's dead job made way");
        let retried = app.post_form(&format!("/admin/jobs/{}/retry", dead[0].id), &[("csrf_token", &csrf)]).await;
        assert_eq!(retried.status(), 303);
        assert_eq!(location(&retried), "/admin/jobs?notice=retried");
        let received = smtp.wait_for(2, MAIL_WAIT).await;
        let ids: HashSet<_> = received.iter().map(|mail| mail.message_id.clone()).collect();
        assert_eq!(ids.len(), 2);
        wait_until("both are marked sent", || async { all_mail(&app).await.iter().all(|mail| mail.status == "sent") }).await;
        assert_eq!(app.post_form(&format!("/admin/email/outbox/{}/retry", mails[0].id), &[("csrf_token", &csrf)]).await.status(), 409, "a sent mail is not sent again");
        let actions = audit_of(&app).await;
        assert_eq!(actions.iter().filter(|(action, _)| action == "mail.retried").count(), 1, "{actions:?}");
        assert_eq!(actions.iter().filter(|(action, _)| action == "job.retried").count(), 1, "{actions:?}");
    }

    async fn two_nodes_send_a_thousand_queued_mails_without_doubles_or_losses(test: MailTest) {
        let app = &test.app;
        let now = app.app.now();
        for number in 0..1000 {
            let message_id = format!("<bulk-{number}@example.org>");
            let recipients = format!(r#"["person{number}@example.org"]"#);
            app.app.store().outbox().queue_mail(&NewMail {
                message_id: &message_id,
                recipients: &recipients,
                subject: "Bulk",
                text_body: "hello",
                html_body: None,
                headers: "{}",
                template: "test",
            }, now).await.unwrap();
        }
        // The second node sends to a server of its own, so each node's share
        // can be counted.
        let second_server = SmtpServer::start().await.unwrap();
        let (second_node, second_workers) = app.another_node(&second_server.url()).await;
        app.app.wake_workers();
        second_node.wake_workers();
        wait_until("every mail is marked sent", || async {
            app.app.store().outbox().count_mail_by_status().await.unwrap() == vec![("sent".to_owned(), 1000)]
        }).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (first_share, second_share) = (test.smtp.received(), second_server.received());
        eprintln!("mails sent by the first node: {}, by the second: {}", first_share.len(), second_share.len());
        assert!(!first_share.is_empty() && !second_share.is_empty(), "both nodes sent: {} and {}", first_share.len(), second_share.len());
        assert_eq!(first_share.len() + second_share.len(), 1000, "no mail sent twice");
        let ids: HashSet<_> = first_share.iter().chain(&second_share).map(|mail| mail.message_id.clone()).collect();
        assert_eq!(ids.len(), 1000, "every mail arrived, once");
        assert!(all_mail(app).await.iter().all(|mail| mail.attempts == 1), "each sent by exactly one attempt");
        assert_eq!(app.app.store().jobs().count_jobs().await.unwrap(), 0);
        second_workers.shut_down().await;
    }

    async fn the_smtp_page_is_read_only_when_the_environment_sets_it(test: MailTest) {
        let app = &test.app;
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        let page = app.get("/admin/email").await.text().await.unwrap();
        assert!(page.contains("id=\"smtp-from-environment\""));
        assert!(!page.contains("name=\"host\""), "no form to edit");
        let csrf = csrf_token_in(&page);
        let refused = app.post_form("/admin/email", &[
            ("host", "evil.example.org"), ("port", "25"), ("security", "none"), ("username", ""), ("password", ""), ("from_address", "x@example.org"), ("from_name", ""), ("csrf_token", &csrf),
        ]).await;
        assert_eq!(refused.status(), 409);
        let tested = app.post_form("/admin/email/test", &[("to", "admin@example.org"), ("csrf_token", &csrf)]).await;
        assert!(tested.text().await.unwrap().contains("accepted a test email"));
        let received = test.smtp.wait_for(1, MAIL_WAIT).await;
        assert_eq!(received[0].subject, "Ferrodesk test email");
    }
}

async fn spawn_with_mail_server_only(backend: ferrodesk_testkit::Backend) -> Option<MailTest> {
    let smtp = SmtpServer::start().await?;
    let app = spawn_app(backend).await?;
    Some(MailTest { app, smtp })
}

on_both_backends! { spawn_with_mail_server_only;

    async fn an_admin_configures_smtp_with_a_sealed_password_and_sends_a_test_mail(test: MailTest) {
        let app = &test.app;
        app.create_admin().await;
        app.create_agent().await;
        // Mail queued before any server is configured waits for one.
        request_reset(app, "/agent/forgot-password", "agent@example.org").await;
        wait_until("the mail waits for a server", || async {
            all_mail(app).await.first().is_some_and(|mail| mail.last_error.as_deref() == Some("SMTP is not configured yet"))
        }).await;

        app.log_in_staff("admin@example.org", PASSWORD).await;
        let page = app.get("/admin/email").await.text().await.unwrap();
        assert!(page.contains("No mail server is set yet"));
        let csrf = csrf_token_in(&page);
        let port = test.smtp.port.to_string();
        let form = |username: &'static str, password: &'static str, from_name: &'static str| {
            vec![
                ("host", "127.0.0.1".to_owned()), ("port", port.clone()), ("security", "none".to_owned()),
                ("username", username.to_owned()), ("password", password.to_owned()),
                ("from_address", "help@example.org".to_owned()), ("from_name", from_name.to_owned()), ("csrf_token", csrf.clone()),
            ]
        };
        let post = |fields: Vec<(&'static str, String)>| async move {
            app.client.post(app.url("/admin/email")).form(&fields).send().await.unwrap()
        };
        let refused = post(form("", "", "Help\r\nBcc: victim@example.org")).await;
        assert_eq!(refused.status(), 422, "no line breaks in the sender name");
        assert!(refused.text().await.unwrap().contains("value=\"127.0.0.1\""), "what was typed is kept");

        let saved = post(form("mailer", "s3cret-smtp-pass", "Help Desk")).await;
        assert_eq!(saved.status(), 303);
        let stored = app.app.store().settings().get_setting("mail.smtp").await.unwrap().unwrap();
        assert!(!stored.contains("s3cret-smtp-pass"), "the password is sealed at rest");
        let page = app.get("/admin/email").await.text().await.unwrap();
        assert!(!page.contains("s3cret-smtp-pass"), "and never shown again");
        assert!(page.contains("A password is set"));
        // This server offers no authentication: the test mail reports it.
        let failed = app.post_form("/admin/email/test", &[("to", "admin@example.org"), ("csrf_token", &csrf)]).await;
        let failed = failed.text().await.unwrap();
        assert!(failed.contains("could not be sent"), "{failed}");

        // Saving again with an empty password field keeps the stored one.
        assert_eq!(post(form("mailer", "", "Help Desk")).await.status(), 303);
        assert!(app.app.store().settings().get_setting("mail.smtp").await.unwrap().unwrap().contains("password_sealed\":\""));
        let entries = app.app.store().audit_log().search_audit(&ferrodesk_app::AuditFilter { action_prefix: Some("settings.changed".into()), ..Default::default() }, 10).await.unwrap();
        assert_eq!(entries.len(), 2, "each save is audited");
        for entry in &entries {
            let values = format!("{:?} {:?}", entry.before_value, entry.after_value);
            assert!(values.contains("mailer") && !values.contains("s3cret") && !values.contains("password_sealed"), "{values}");
        }
        assert_eq!(post(form("", "", "Help Desk")).await.status(), 303);
        let worked = app.post_form("/admin/email/test", &[("to", "admin@example.org"), ("csrf_token", &csrf)]).await;
        assert!(worked.text().await.unwrap().contains("accepted a test email"));
        // The waiting reset mail goes out too, now that there is a server.
        app.advance_clock(Duration::from_secs(16));
        let received = test.smtp.wait_for(2, MAIL_WAIT).await;
        let subjects: HashSet<_> = received.iter().map(|mail| mail.subject.as_str()).collect();
        assert!(subjects.contains("Ferrodesk test email") && subjects.contains("Reset your Ferrodesk password"), "{subjects:?}");
        let reset = received.iter().find(|mail| mail.subject.starts_with("Reset")).unwrap();
        assert!(reset.raw.contains("From: Help Desk <help@example.org>") || reset.raw.contains("From: \"Help Desk\" <help@example.org>"), "{}", reset.raw);
    }
}

/// An app whose mail server accepts connections and then never answers, so
/// a sending job hangs until it is stopped.
pub(crate) struct SilentServerTest {
    app: TestApp,
    _silent: tokio::task::JoinHandle<()>,
}

async fn spawn_with_silent_mail_server(
    backend: ferrodesk_testkit::Backend,
) -> Option<SilentServerTest> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let app = spawn_app_with(
        backend,
        Options {
            smtp_url: Some(format!(
                "smtp://127.0.0.1:{port}?security=none&from=help@example.org"
            )),
            ..Options::default()
        },
    )
    .await?;
    Some(SilentServerTest {
        app,
        _silent: silent,
    })
}

on_both_backends! { spawn_with_silent_mail_server;

    async fn jobs_running_or_claimed_ahead_at_shutdown_are_released_without_using_an_attempt(test: SilentServerTest) {
        let mut app = test.app;
        // Two workers hang on the silent server; two more jobs wait,
        // claimed ahead by the pool. All four fall due at once, for one
        // claim.
        let now = app.app.now().plus(Duration::from_secs(60));
        for number in 0..4 {
            let message_id = format!("<hanging-{number}@example.org>");
            app.app.store().outbox().queue_mail(&NewMail {
                message_id: &message_id, recipients: r#"["ada@example.org"]"#, subject: "Hello",
                text_body: "text", html_body: None, headers: "{}", template: "test",
            }, now).await.unwrap();
        }
        app.clock.advance(Duration::from_secs(60));
        app.app.wake_workers();
        wait_until("the jobs are taken", || async {
            app.app.store().jobs().count_jobs_by_status().await.unwrap() == vec![("running".to_owned(), 4)]
        }).await;
        let started = std::time::Instant::now();
        app.stop().await;
        assert!(started.elapsed() < Duration::from_secs(5), "shutdown waited only the grace period");
        let store = ferrodesk_store::Store::open(&app.database.url).await.unwrap();
        let jobs = store.jobs().jobs_with_status("queued", 10).await.unwrap();
        assert_eq!(jobs.len(), 4, "released, not left running or dead");
        assert!(jobs.iter().all(|job| job.attempts == 0), "the interrupted attempts do not count: {jobs:?}");
        let mails = store.outbox().list_mail(None, 10).await.unwrap();
        assert!(mails.iter().all(|mail| (mail.status.as_str(), mail.attempts) == ("queued", 0)), "{mails:?}");
        store.close().await;
    }
}
