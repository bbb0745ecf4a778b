//! End-to-end stories in headless Chromium, through the real pages.

use ferrodesk_testkit::browser::Browser;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

on_both_backends! { spawn_app;

    async fn an_agent_logs_in_through_the_page_reaches_the_desk_and_logs_out(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let agent = app.create_agent().await;
        browser.goto(&app.url("/agent")).await;
        let url = browser.wait_for_url(|url| url.contains("/agent/login")).await;
        assert!(url.contains("/agent/login?return_to="), "{url}");

        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        assert!(browser.text_of("h1").await.contains("Alan Agent"));
        assert_eq!(app.sessions_of(&agent).await, 1);

        browser.click("form[action='/agent/logout'] button").await;
        let url = browser.wait_for_url(|url| url.contains("notice=logged-out")).await;
        assert!(url.contains("/agent/login?notice=logged-out"), "{url}");
        assert!(browser.text_of(".notice").await.contains("logged out"));
        assert_eq!(app.sessions_of(&agent).await, 0);
        browser.close().await;
    }

    async fn a_wrong_password_shows_an_error_in_the_browser(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        app.create_agent().await;
        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", "definitely not it").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent/login")).await;
        assert_eq!(browser.text_of("#login-error").await, "Invalid email or password.");
        browser.goto(&app.url("/agent")).await;
        let url = browser.wait_for_url(|url| url.contains("/agent/login")).await;
        assert!(url.contains("/agent/login"), "still signed out: {url}");
        browser.close().await;
    }
}

on_both_backends! { crate::mail::spawn_with_mail;

    async fn an_agent_who_forgot_the_password_resets_it_through_the_mailed_link(test: crate::mail::MailTest) {
        let Some(browser) = Browser::launch().await else { return };
        let app = &test.app;
        app.create_agent().await;
        browser.goto(&app.url("/agent/login")).await;
        browser.click("#forgot-password").await;
        browser.wait_for_url(|url| url.ends_with("/agent/forgot-password")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.click("button[type=submit]").await;
        assert!(browser.text_of("#reset-requested").await.contains("If an account uses that address"));

        let received = test.smtp.wait_for(1, std::time::Duration::from_secs(20)).await;
        let link = received[0].link_starting_with(&app.url("/agent/reset-password/")).expect("a reset link");
        browser.goto(&link).await;
        browser.type_into("#password", "purple elephant juggling teacups").await;
        browser.type_into("#password_confirmation", "purple elephant juggling teacups").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=password-set")).await;
        assert!(browser.text_of(".notice").await.contains("password has been set"));
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", "purple elephant juggling teacups").await;
        browser.click("button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn an_agent_sets_up_two_factor_and_logs_in_with_a_code(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        app.create_agent().await;
        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent")).await;

        browser.goto(&app.url("/agent/account")).await;
        browser.click("#manage-two-factor").await;
        browser.wait_for_url(|url| url.ends_with("/agent/account/two-factor")).await;
        browser.click("#start-two-factor").await;
        let secret = browser.text_of("#totp-secret").await;
        assert!(!secret.is_empty());
        let code = ferrodesk_testkit::totp::code_at(&secret, app.app.now().millis());
        browser.type_into("#code", &code).await;
        browser.click("form[action='/agent/account/two-factor/confirm'] button").await;
        let codes = browser.text_of("#recovery-codes").await;
        assert_eq!(codes.split_whitespace().count(), 10, "{codes}");

        browser.click("form[action='/agent/logout'] button").await;
        browser.wait_for_url(|url| url.contains("notice=logged-out")).await;
        app.advance_clock(std::time::Duration::from_secs(30));
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent/login/two-factor")).await;
        browser.type_into("#code", "000000").await;
        browser.click("form[action='/agent/login/two-factor'] button").await;
        assert!(browser.text_of("#code-error").await.contains("not right"));
        let code = ferrodesk_testkit::totp::code_at(&secret, app.app.now().millis());
        browser.type_into("#code", &code).await;
        browser.click("form[action='/agent/login/two-factor'] button").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        assert!(browser.text_of("h1").await.contains("Alan Agent"));
        browser.close().await;
    }

    async fn an_expired_password_must_be_changed_before_anything_else(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        app.create_agent().await;
        let mut policy = app.app.settings().await.unwrap().agent_password_policy.clone();
        policy.max_age_days = 30;
        app.app
            .set_password_policy(&ferrodesk_app::Caller::system(), ferrodesk_app::Audience::Agents, policy)
            .await
            .unwrap();
        app.advance_clock(std::time::Duration::from_secs(31 * 86_400));

        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with("/agent/account/password")).await;
        assert!(browser.text_of("#must-change").await.contains("expired"));
        browser.goto(&app.url("/agent/account")).await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent/account/password")).await;
        assert!(url.ends_with("/agent/account/password"), "nothing else first: {url}");

        browser.type_into("#current_password", PASSWORD).await;
        browser.type_into("#password", "purple elephant juggling teacups").await;
        browser.type_into("#password_confirmation", "purple elephant juggling teacups").await;
        browser.click("form[action='/agent/account/password'] button").await;
        let url = browser.wait_for_url(|url| url.contains("notice=password-changed")).await;
        assert!(url.ends_with("/agent/account?notice=password-changed"), "{url}");
        browser.goto(&app.url("/agent")).await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        browser.close().await;
    }
}

on_both_backends! { crate::mail::spawn_with_mail;

    async fn with_ip_allow_listing_an_agent_confirms_a_new_address_from_the_mailed_link(test: crate::mail::MailTest) {
        let Some(browser) = Browser::launch().await else { return };
        let app = &test.app;
        app.create_agent().await;
        app.app
            .set_ip_allow_list(&ferrodesk_app::Caller::system(), true, false, 30, "")
            .await
            .unwrap();

        browser.goto(&app.url("/agent/login")).await;
        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        assert!(browser.text_of("#login-error").await.contains("emailed you a link"));

        let received = test.smtp.wait_for(1, std::time::Duration::from_secs(20)).await;
        let link = received
            .iter()
            .find_map(|mail| mail.link_starting_with(&app.url("/agent/verify-ip/")))
            .expect("a verification link");
        browser.goto(&link).await;
        assert_eq!(browser.text_of("#verify-ip-address").await, "127.0.0.1");
        browser.click("#confirm-ip").await;
        browser.wait_for_url(|url| url.contains("notice=ip-trusted")).await;
        assert!(browser.text_of(".notice").await.contains("confirmed"));

        browser.type_into("#email", "agent@example.org").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
        assert!(url.ends_with("/agent"), "{url}");
        browser.close().await;
    }
}

/// Signs `email` in through the staff login page.
async fn staff_login(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&app.url("/agent/login")).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    let url = browser.wait_for_url(|url| url.ends_with("/agent")).await;
    assert!(url.ends_with("/agent"), "{url}");
}

/// The reference in a ticket page's URL.
fn reference_in(url: &str) -> String {
    url.split("/agent/tickets/")
        .nth(1)
        .unwrap()
        .split(['?', '/'])
        .next()
        .unwrap()
        .to_owned()
}

on_both_backends! { spawn_app;

    async fn a_ticket_is_worked_from_creation_to_resolution_in_the_browser(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        staff_login(&browser, &app, "admin@example.org").await;

        // A ticket for a user, opened by the agent.
        browser.goto(&app.url("/agent/tickets/new")).await;
        browser.type_into("#requester_email", "uma@example.org").await;
        browser.type_into("#requester_name", "Uma User").await;
        browser.type_into("#subject", "The printer jams").await;
        browser.type_into("#message", "Every second page jams.").await;
        browser.click(&format!("#department option[value='{}']", desk.support)).await;
        browser.click("button.primary").await;
        let url = browser.wait_for_url(|url| url.contains("notice=created")).await;
        let first = reference_in(&url);
        assert_eq!(browser.text_of("#ticket-status").await, "Awaiting agent");

        // A reply with an attachment, chosen through the file input.
        let file = ferrodesk_testkit::unique_temp_path("ferrodesk-upload").with_extension("txt");
        std::fs::write(&file, "printer settings").unwrap();
        browser.type_into("#body", "Please try these settings.").await;
        browser.type_into("#attachments", file.to_str().unwrap()).await;
        browser.click("#reply-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=sent")).await;
        assert_eq!(browser.text_of("#ticket-status").await, "Awaiting user");
        let file_name = file.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(browser.text_of("a.attachment").await, file_name);

        // An internal note.
        browser.click("#kind-note").await;
        browser.type_into("#body", "Uma is on the old firmware.").await;
        browser.click("#reply-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=noted")).await;
        assert!(browser.text_of(".message.note").await.contains("old firmware"));

        // Status and assignment from the properties panel.
        browser.click("#status option[value='pending']").await;
        browser.click(&format!("#agent option[value='{}']", desk.alice.id)).await;
        browser.click("#properties-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=saved")).await;
        assert_eq!(browser.text_of("#ticket-status").await, "Pending");
        assert_eq!(browser.text_of("#ticket-agent").await, "Alice Agent");
        assert!(browser.text_of("#ticket-log").await.contains("status"));

        // A second ticket from the same user is merged into the first.
        let second = crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Printer again").await;
        browser.goto(&app.url(&format!("/agent/tickets/{second}"))).await;
        browser.type_into("#merge-into", &first).await;
        browser.click("#merge-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("/merge?into=")).await;
        assert!(browser.text_of("#merge-confirmation").await.contains("Printer again"), "both subjects are shown before anything moves");
        browser.click("#confirm-merge button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.contains("notice=merged")).await;
        assert_eq!(reference_in(&url), first, "the merge lands on the target");
        assert!(browser.text_of("#ticket-log").await.contains(&second));

        // Resolved.
        browser.click("#status option[value='resolved']").await;
        browser.click("#properties-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=saved")).await;
        assert_eq!(browser.text_of("#ticket-status").await, "Resolved");
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&first)).await.unwrap().unwrap();
        assert!(ticket.resolved_at.is_some());
        let messages = app.app.store().tickets().ticket_messages(ticket.id, false).await.unwrap();
        assert_eq!(messages.len(), 3, "both requests and the reply; the note is not among what the user may see");
        let mails: Vec<_> = crate::helpers::customer_mail(&app, 10).await.into_iter().filter(|mail| mail.template == "ticket_reply").collect();
        assert_eq!(mails.len(), 1, "the reply was mailed, the note was not");
        assert!(!mails[0].text_body.contains("firmware"));
        let resolved = crate::helpers::customer_mail(&app, 10).await.into_iter().filter(|mail| mail.template == "ticket_resolved").count();
        assert_eq!(resolved, 1, "the requester hears that it is resolved");
        assert!(crate::helpers::customer_mail(&app, 20).await.iter().all(|mail| !mail.text_body.contains("firmware")), "no mail to a customer carries the note");
        let _ = std::fs::remove_file(&file);
        browser.close().await;
    }
}

/// The first link in the outbox to `address` that starts with `prefix`.
async fn outbox_link(app: &TestApp, address: &str, prefix: &str) -> String {
    crate::helpers::rules_settled(app).await;
    let mails = app.app.store().outbox().list_mail(None, 50).await.unwrap();
    mails
        .iter()
        .filter(|mail| mail.recipients.contains(address))
        .find_map(|mail| {
            let start = mail.text_body.find(prefix)?;
            Some(
                mail.text_body[start..]
                    .chars()
                    .take_while(|character| !character.is_whitespace())
                    .collect::<String>(),
            )
        })
        .expect("a mailed link")
}

on_both_backends! { spawn_app;

    async fn a_newcomer_registers_asks_for_help_and_reads_the_answer(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;

        // Registration with a confirmed address.
        browser.goto(&app.url("/")).await;
        browser.click("#register-link").await;
        browser.wait_for_url(|url| url.ends_with("/register")).await;
        browser.type_into("#name", "Nora Newcomer").await;
        browser.type_into("#email", "nora@example.org").await;
        browser.type_into("#password", "a long and new passphrase 42").await;
        browser.type_into("#password_confirmation", "a long and new passphrase 42").await;
        browser.click("#register-form button[type=submit]").await;
        assert!(browser.text_of("#registered").await.contains("we sent a link"));
        let link = outbox_link(&app, "nora@example.org", &app.url("/verify-email/")).await;
        browser.goto(&link).await;
        browser.click("#confirm-email").await;
        assert!(browser.text_of("#email-confirmed").await.contains("confirmed"));

        browser.goto(&app.url("/login")).await;
        browser.type_into("#email", "nora@example.org").await;
        browser.type_into("#password", "a long and new passphrase 42").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|url| url.ends_with(':') || url.ends_with('/')).await;

        // A request with an attachment.
        browser.goto(&app.url("/tickets/new")).await;
        browser.click(&format!("#department option[value='{}']", desk.support)).await;
        browser.type_into("#subject", "Cannot print invoices").await;
        browser.type_into("#message", "The print button does nothing.").await;
        let file = ferrodesk_testkit::unique_temp_path("ferrodesk-upload").with_extension("txt");
        std::fs::write(&file, "browser console output").unwrap();
        browser.type_into("#attachments", file.to_str().unwrap()).await;
        browser.click("#portal-ticket-form button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.contains("notice=created")).await;
        let reference = url.split("/tickets/").nth(1).unwrap().split('?').next().unwrap().to_owned();
        assert_eq!(browser.text_of("#ticket-status").await, "Awaiting agent");
        let file_name = file.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(browser.text_of("a.attachment").await, file_name);

        // An agent answers and writes a note.
        let alice = crate::tickets::signed_in(&app, "alice@example.org").await;
        let agent_path = format!("/agent/tickets/{reference}");
        for (kind, body) in [("reply", "Please update the app."), ("note", "Known bug 1234, do not promise a date.")] {
            let sent = crate::tickets::post_on(&app, &alice, &agent_path, &format!("{agent_path}/reply"), &[("kind", kind), ("body", body)]).await;
            assert_eq!(sent.status(), 303);
        }

        // The user sees the answer and never the note.
        browser.goto(&app.url(&format!("/tickets/{reference}"))).await;
        let thread = browser.text_of(".thread").await;
        assert!(thread.contains("Please update the app."), "{thread}");
        assert!(!thread.contains("Known bug"), "{thread}");
        assert_eq!(browser.text_of("#ticket-status").await, "Awaiting user");
        browser.type_into("#body", "Updated, it works now.").await;
        browser.click("#portal-reply-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=sent")).await;
        browser.click("#resolve").await;
        browser.wait_for_url(|url| url.contains("notice=resolved")).await;
        assert_eq!(browser.text_of("#ticket-status").await, "Resolved");
        let _ = std::fs::remove_file(&file);
        browser.close().await;
    }

    async fn a_guest_sends_a_request_and_follows_the_mailed_link(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        app.app.set_help_center(&ferrodesk_app::Caller::system(), "verify", true, None).await.unwrap();
        browser.goto(&app.url("/")).await;
        browser.click("a[href='/tickets/new']").await;
        browser.wait_for_url(|url| url.ends_with("/tickets/new")).await;
        browser.type_into("#name", "Gina Guest").await;
        browser.type_into("#email", "gina@example.org").await;
        browser.click(&format!("#department option[value='{}']", desk.sales)).await;
        browser.type_into("#subject", "Price for 50 seats?").await;
        browser.type_into("#message", "We are a school.").await;
        browser.click("#portal-ticket-form button[type=submit]").await;
        assert!(browser.text_of("#ticket-sent").await.contains("Look in your mailbox"));
        let link = outbox_link(&app, "gina@example.org", &app.url("/tickets/")).await;
        browser.goto(&link).await;
        assert!(browser.text_of("h1").await.contains("Price for 50 seats?"));
        browser.type_into("#body", "Also: do you have an education discount?").await;
        browser.click("#portal-reply-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=sent")).await;
        assert!(browser.text_of(".thread").await.contains("education discount"));
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn a_visitor_reads_an_article_and_votes(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        let admin = crate::tickets::actor_of(&desk.admin);
        let caller = ferrodesk_app::Caller::new(&admin, "");
        let category = app.app.create_article_category(&caller, "Getting started", "First steps", None, "0").await.unwrap();
        app.app.save_article(&caller, None, &ferrodesk_app::ArticleInput {
            title: "Installing the app".into(),
            category_id: category.to_string(),
            content: "1. Download it.\n2. **Run** it.".into(),
            status: "published".into(),
            ..ferrodesk_app::ArticleInput::default()
        }).await.unwrap();

        browser.goto(&app.url("/")).await;
        browser.click("a[href='/kb']").await;
        browser.wait_for_url(|url| url.ends_with("/kb")).await;
        browser.click(&format!("a[href='/kb/categories/{category}']")).await;
        browser.wait_for_url(|url| url.contains("/kb/categories/")).await;
        browser.click("a[href='/kb/articles/installing-the-app']").await;
        browser.wait_for_url(|url| url.ends_with("/kb/articles/installing-the-app")).await;
        assert_eq!(browser.text_of("#article-title").await, "Installing the app");
        assert!(browser.text_of("#article-body strong").await.contains("Run"));
        browser.click("#vote-yes").await;
        browser.wait_for_url(|url| url.contains("notice=voted")).await;
        assert_eq!(browser.text_of("#helpful-yes").await, "1");
        assert!(browser.text_of(".notice").await.contains("Thank you"));
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn an_agent_inserts_a_snippet_by_typing_its_shortcut(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        let admin = crate::tickets::actor_of(&desk.admin);
        app.app.create_snippet(&ferrodesk_app::Caller::new(&admin, ""), &ferrodesk_app::SnippetInput {
            title: "Refund on its way".into(),
            shortcut: "refund".into(),
            body: "Hi {{ user.first_name }}, your refund for {{ ticket.reference }} is on its way.".into(),
            shared: true,
            ..ferrodesk_app::SnippetInput::default()
        }).await.unwrap();
        let reference = crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Where is my refund?").await;
        staff_login(&browser, &app, "alice@example.org").await;
        browser.goto(&app.url(&format!("/agent/tickets/{reference}"))).await;

        // "/ref" offers the snippet; Tab puts it in place of what was typed.
        browser.type_into("#body", "Thanks for waiting.\n/ref").await;
        let offered = browser.script("return document.querySelector('#snippet-suggestions').hidden ? '' : document.querySelector('#snippet-suggestions').textContent;").await;
        assert!(offered.as_str().unwrap_or_default().contains("Refund on its way"), "{offered}");
        let backend = format!("{:?}", app.database.backend).to_lowercase();
        crate::layout::shoot(&browser, &backend, "snippet-suggestions").await;
        browser.type_into("#body", "\u{E004}").await;
        let mut text = String::new();
        for _ in 0..50 {
            text = browser.script("return document.getElementById('body').value;").await.as_str().unwrap_or_default().to_owned();
            if text.contains("refund for") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(text, format!("Thanks for waiting.\nHi Uma, your refund for {reference} is on its way."));
        assert_eq!(browser.script("return document.activeElement.id;").await.as_str(), Some("body"), "the cursor stays in the reply box");

        // Sent as written; the snippet's use is counted.
        browser.click("#reply-form button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("notice=sent")).await;
        assert!(browser.text_of(".message.from-agent").await.contains("your refund for"));
        let used = app.app.snippet_library(&crate::tickets::actor_of(&desk.alice)).await.unwrap().snippets[0].record.usage_count;
        assert_eq!(used, 1);
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn an_agent_ticks_tickets_with_the_keyboard_and_changes_them_then_applies_a_macro_to_three(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        let mut references = Vec::new();
        for subject in ["Toner low", "Paper jam", "Scanner offline", "Unrelated question"] {
            references.push(crate::tickets::open_ticket(&app, &desk.admin, desk.support, subject).await);
        }
        app.app.create_macro(&ferrodesk_app::Caller::new(&crate::tickets::actor_of(&desk.admin), ""), &ferrodesk_app::MacroInput {
            title: "Printer fixed".into(),
            shared: true,
            actions: ferrodesk_app::MacroActions {
                status: Some("resolved".into()),
                add_labels: vec!["printer-fixed".into()],
                ..ferrodesk_app::MacroActions::default()
            },
        }).await.unwrap();
        staff_login(&browser, &app, "alice@example.org").await;
        browser.goto(&app.url("/agent/tickets")).await;

        // Newest first: j moves down, x ticks; Shift-click ticks a range.
        browser.script("document.activeElement.blur();").await;
        for key in ["j", "j", "x"] {
            browser.script(&format!("document.dispatchEvent(new KeyboardEvent('keydown', {{key: '{key}', bubbles: true}}));")).await;
        }
        browser.script("const boxes = document.querySelectorAll('tbody input[name=ticket]'); boxes[3].dispatchEvent(new MouseEvent('click', {bubbles: true, shiftKey: true}));").await;
        let ticked = browser.script("return [...document.querySelectorAll('tbody input[name=ticket]')].map(box => box.checked);").await;
        assert_eq!(ticked, serde_json::json!([false, true, true, true]), "the second row by keys, then the range to the fourth");
        assert_eq!(browser.text_of("#bulk-count").await, "3 selected: choose what to do");

        browser.click("#bulk-bar summary").await;
        let backend = format!("{:?}", app.database.backend).to_lowercase();
        crate::layout::shoot(&browser, &backend, "bulk-bar-desktop").await;
        browser.click("#bulk-status option[value='pending']").await;
        browser.type_into("#bulk-add-labels", "printer").await;
        browser.click("#bulk-apply").await;
        browser.wait_for_url(|url| url.ends_with("/agent/tickets/bulk")).await;
        assert_eq!(browser.text_of("h1").await, "3 tickets changed");
        crate::layout::shoot(&browser, &backend, "bulk-result-desktop").await;
        browser.resize(390, 844).await;
        crate::layout::shoot(&browser, &backend, "bulk-result-phone").await;
        let sideways = browser.script("return document.documentElement.scrollWidth > document.documentElement.clientWidth;").await;
        assert_eq!(sideways, false, "the result page fits a phone");
        browser.resize(1366, 900).await;
        for reference in &references[..3] {
            let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(reference)).await.unwrap().unwrap();
            assert_eq!(ticket.status.key(), "pending", "{reference}");
        }
        let untouched = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&references[3])).await.unwrap().unwrap();
        assert_eq!(untouched.status.key(), "awaiting_agent");
        browser.click("#back-to-list").await;
        browser.wait_for_url(|url| url.contains("/agent/tickets?")).await;

        // A macro on three tickets from the list: tick the page, untick one.
        browser.goto(&app.url("/agent/tickets?status=any")).await;
        browser.click("#pick-all").await;
        browser.click(&format!("#t-{} input[name=ticket]", references[3])).await;
        browser.click("#bulk-bar summary").await;
        browser.click("#bulk-apply-macro").await;
        browser.wait_for_url(|url| url.ends_with("/agent/tickets/bulk")).await;
        assert_eq!(browser.text_of("h1").await, "3 tickets changed by the macro");
        for reference in &references[..3] {
            let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(reference)).await.unwrap().unwrap();
            assert_eq!(ticket.status.key(), "resolved", "{reference}");
            assert!(app.app.store().tickets().ticket_labels(ticket.id).await.unwrap().joined().contains("printer-fixed"));
        }
        browser.close().await;
    }
}

/// Waits up to ten seconds for `script` to return true in the page.
async fn eventually(browser: &Browser, script: &str) -> bool {
    for _ in 0..100 {
        if browser.script(script).await.as_bool() == Some(true) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

on_both_backends! { spawn_app;

    async fn a_new_ticket_appears_in_the_list_and_a_reply_on_the_open_ticket_without_a_reload(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        let first = crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Already there").await;
        staff_login(&browser, &app, "alice@example.org").await;
        browser.goto(&app.url("/agent/tickets")).await;
        browser.script("window.notReloaded = true; document.querySelector('tbody input[name=ticket]').checked = true;").await;

        // Another session opens a ticket: its row comes in, the tick stays.
        let second = crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Arrived while watching").await;
        assert!(eventually(&browser, &format!("return document.getElementById('t-{second}') !== null;")).await, "the new ticket shows up");
        let state = browser.script(&format!("return [window.notReloaded === true, document.querySelector('#t-{first} input').checked, document.getElementById('ticket-total').textContent, document.getElementById('live-notice').textContent];")).await;
        assert_eq!(state[0], true, "without a reload");
        assert_eq!(state[1], true, "what was ticked stays ticked");
        assert_eq!(state[2], "2 tickets");
        assert!(state[3].as_str().unwrap().contains("1 ticket is new or changed"), "{state}");
        let backend = format!("{:?}", app.database.backend).to_lowercase();
        crate::layout::shoot(&browser, &backend, "live-list").await;

        // On the ticket page, someone else's reply shows a banner.
        browser.goto(&app.url(&format!("/agent/tickets/{first}"))).await;
        browser.type_into("#body", "Half-written answer").await;
        // The admin has it open too, and starts typing.
        let admin_session = crate::tickets::signed_in(&app, "admin@example.org").await;
        let _admin_stream = admin_session.client.get(app.url(&format!("/agent/events?ticket={first}"))).send().await.unwrap();
        assert!(eventually(&browser, "return document.getElementById('viewers').textContent.includes('Ada Admin');").await, "who else is here");
        let typed = crate::tickets::post_on(&app, &admin_session, "/agent", &format!("/agent/tickets/{first}/typing"), &[]).await;
        assert_eq!(typed.status(), 204);
        assert!(eventually(&browser, "return document.getElementById('viewers').textContent.includes('is typing');").await, "and that they type");
        let admin = crate::tickets::actor_of(&desk.admin);
        app.app.reply_to_ticket(&ferrodesk_app::Caller::new(&admin, ""), &crate::helpers::ticket_key(&first), &ferrodesk_app::ReplyInput {
            body: Ok(ferrodesk_core::MessageText::parse("I answered already.").unwrap()),
            is_note: false,
            status: None,
            seen_message_id: None,
            attachments: Vec::new(),
            channel: ferrodesk_app::Channel::Agent,
            inbound_mail: None,
        }).await.unwrap();
        assert!(eventually(&browser, "return !document.getElementById('live-banner').hidden;").await, "the banner shows");
        assert!(browser.text_of("#live-banner").await.contains("Ada Admin replied to"));
        assert_eq!(browser.script("return document.getElementById('body').value;").await, "Half-written answer", "nothing typed is lost");
        crate::layout::shoot(&browser, &backend, "live-ticket-banner").await;
        // Showing the ticket as it is now keeps the draft.
        browser.click("#live-reload").await;
        assert!(eventually(&browser, "return document.querySelectorAll('.message.from-agent').length === 1;").await, "the reply is shown");
        assert_eq!(browser.script("return document.getElementById('body').value;").await, "Half-written answer");
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn an_agent_finds_a_ticket_by_a_word_in_a_note_and_works_it_with_keys(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        let reference = crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Scanner streaks").await;
        crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Something else").await;
        let admin = crate::tickets::actor_of(&desk.admin);
        app.app.reply_to_ticket(&ferrodesk_app::Caller::new(&admin, ""), &crate::helpers::ticket_key(&reference), &ferrodesk_app::ReplyInput {
            body: Ok(ferrodesk_core::MessageText::parse("The customer uses a flatbed model called Okapi.").unwrap()),
            is_note: true,
            status: None,
            seen_message_id: None,
            attachments: Vec::new(),
            channel: ferrodesk_app::Channel::Agent,
            inbound_mail: None,
        }).await.unwrap();
        staff_login(&browser, &app, "alice@example.org").await;

        // "/" puts the cursor in the header's search; the note's word finds it.
        browser.script("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', {key: '/', bubbles: true}));").await;
        assert_eq!(browser.script("return document.activeElement.id;").await, "nav-search");
        browser.type_into("#nav-search", "okapi\u{E007}").await;
        browser.wait_for_url(|url| url.contains("/agent/search?q=okapi")).await;
        assert!(browser.text_of("#search-results").await.contains("Scanner streaks"));
        assert!(!browser.text_of("#search-results").await.contains("Something else"));
        browser.click(&format!("#r-{reference} a")).await;
        browser.wait_for_url(|url| url.contains(&format!("/agent/tickets/{reference}"))).await;

        // n starts a note, r a reply; ? lists the keys.
        browser.script("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', {key: 'n', bubbles: true}));").await;
        let state = browser.script("return [document.activeElement.id, document.getElementById('kind-note').checked];").await;
        assert_eq!(state, serde_json::json!(["body", true]));
        browser.script("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', {key: 'r', bubbles: true}));").await;
        assert_eq!(browser.script("return document.getElementById('kind-reply').checked;").await, true);
        browser.script("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', {key: '?', bubbles: true}));").await;
        assert_eq!(browser.script("return document.getElementById('shortcuts').open;").await, true);
        assert!(browser.text_of("#shortcuts").await.contains("Write an internal note on a ticket"));
        let backend = format!("{:?}", app.database.backend).to_lowercase();
        crate::layout::shoot(&browser, &backend, "shortcuts").await;
        if let Some(violations) = browser.accessibility_violations().await {
            assert!(violations.is_empty(), "{violations:?}");
        }
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn a_manager_builds_saves_and_exports_a_report_in_the_browser(app: TestApp) {
        let Some(browser) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        crate::tickets::open_ticket(&app, &desk.alice, desk.support, "Printer jams").await;
        crate::tickets::open_ticket(&app, &desk.admin, desk.sales, "A new order").await;
        staff_login(&browser, &app, "admin@example.org").await;

        // From the dashboard to the builder: tickets by department.
        browser.goto(&app.url("/agent/reports")).await;
        browser.click("#build-report").await;
        browser.wait_for_url(|url| url.contains("/agent/reports/builder")).await;
        browser.click("#group option[value='department']").await;
        browser.click("#chart option[value='bar']").await;
        browser.click("#report-builder button[type=submit]").await;
        browser.wait_for_url(|url| url.contains("group=department")).await;
        assert!(browser.text_of("#report-table").await.contains("Sales"));
        assert!(browser.text_of("#report-result-heading").await.contains("by department"));

        // Saved under a name, it opens on its own page.
        browser.type_into("#report-name", "Tickets per department").await;
        browser.click("#save-report button[type=submit]").await;
        let url = browser.wait_for_url(|url| url.rsplit('/').next().is_some_and(|last| last.parse::<i64>().is_ok())).await;
        assert_eq!(browser.text_of("h1").await, "Tickets per department");

        // Its CSV, fetched as the page's link would.
        let exported = browser.script("return fetch(document.getElementById('export-csv').href).then(answer => answer.text());").await;
        let text = exported.as_str().unwrap_or_default().trim_start_matches('\u{feff}').to_owned();
        assert!(text.starts_with("Department,Number of tickets\r\n"), "{text}");
        assert!(text.contains("Support,1\r\n") && text.contains("Sales,1\r\n"), "{text}");

        // Listed on the dashboard.
        browser.goto(&app.url("/agent/reports")).await;
        assert!(browser.text_of("#saved-reports").await.contains("Tickets per department"), "{url}");
        browser.close().await;
    }
}

on_both_backends! { spawn_app;

    async fn a_visitor_and_an_agent_chat_in_two_browsers_and_the_transcript_is_a_ticket(app: TestApp) {
        let Some(agent) = Browser::launch().await else { return };
        let Some(visitor) = Browser::launch().await else { return };
        let desk = crate::tickets::desk(&app).await;
        app.app.set_chat_settings(&ferrodesk_app::Caller::system(), &ferrodesk_app::chat::ChatSettingsInput {
            enabled: true, department_ids: vec![desk.support.to_string()], wait_seconds: "60".into(),
            welcome: "Questions? Chat with us.".into(), allowed_origins: String::new(), chats_per_agent: "3".into(),
            ..ferrodesk_app::chat::ChatSettingsInput::from(&ferrodesk_app::chat::ChatSettings::default())
        }).await.unwrap();
        let backend = format!("{:?}", app.database.backend).to_lowercase();

        // Alice goes online on her chat desk.
        staff_login(&agent, &app, "alice@example.org").await;
        agent.goto(&app.url("/agent/chats")).await;
        agent.script("const pick = document.getElementById('availability'); pick.value = 'online'; pick.dispatchEvent(new Event('change'));").await;
        assert!(eventually(&agent, "return document.getElementById('availability').value === 'online' && document.getElementById('chat-connection').textContent === '';").await, "online and connected");

        // A visitor starts a chat from the help center's link.
        visitor.goto(&app.url("/")).await;
        visitor.click("a[href='/chat']").await;
        assert!(eventually(&visitor, "return !document.getElementById('chat-start').hidden;").await);
        assert!(!visitor.text_of("#chat").await.contains("Nobody is free"), "Alice is online");
        visitor.type_into("#chat-name", "Vera Visitor").await;
        visitor.type_into("#chat-email", "vera@example.net").await;
        visitor.type_into("#chat-first", "Where is my <b>order</b>?").await;
        visitor.click("#chat-start button[type=submit]").await;
        assert!(eventually(&visitor, "return document.getElementById('chat-status').textContent.includes('Waiting');").await, "waiting");

        // It appears in Alice's queue without a reload; she accepts it.
        agent.script("window.notReloaded = true;").await;
        assert!(eventually(&agent, "return document.querySelectorAll('#chat-queue li').length === 1;").await, "the chat is queued");
        assert!(agent.text_of("#chat-queue").await.contains("Where is my <b>order</b>?"), "as text");
        crate::layout::shoot(&agent, &backend, "agent-chat-queue").await;
        agent.click("#chat-queue button").await;
        assert!(eventually(&agent, "return document.querySelectorAll('#chat-panes .chat-pane').length === 1;").await, "the chat opens");
        assert!(eventually(&visitor, "return document.getElementById('chat-status').textContent.includes('Alice Agent');").await, "the visitor sees who answers");

        // They write to each other.
        agent.type_into("#chat-panes textarea", "It ships today.").await;
        agent.click("#chat-panes .chat-send button").await;
        assert!(eventually(&visitor, "return document.getElementById('chat-log').textContent.includes('It ships today.');").await);
        visitor.type_into("#chat-text", "Great, thanks!").await;
        visitor.click("#chat-send button").await;
        assert!(eventually(&agent, "return document.querySelector('#chat-panes .chat-log').textContent.includes('Great, thanks!');").await);
        assert_eq!(agent.script("return window.notReloaded === true;").await, true, "without a reload");
        // The visitor sends a file; both sides see it as a link.
        let file = std::env::temp_dir().join(format!("ferrodesk-chat-{}-{backend}.txt", std::process::id()));
        std::fs::write(&file, "order number 1234").unwrap();
        visitor.type_into("#chat-file", file.to_str().unwrap()).await;
        let file_name = file.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(eventually(&agent, &format!("return Array.from(document.querySelectorAll('#chat-panes .chat-log a')).some(link => link.textContent === '{file_name}');")).await, "the file reaches the agent");
        assert!(eventually(&visitor, &format!("return Array.from(document.querySelectorAll('#chat-log a')).some(link => link.textContent === '{file_name}');")).await, "and shows for the visitor");
        let _ = std::fs::remove_file(&file);
        agent.click("#chat-panes .chat-pass summary").await;
        assert!(eventually(&agent, "return document.querySelector('#chat-panes .chat-pass-target').options.length > 0;").await, "the transfer choices fill");
        crate::layout::shoot(&agent, &backend, "agent-chat-desk").await;
        agent.resize(1366, 900).await;
        crate::layout::shoot(&agent, &backend, "agent-chat-desk-desktop").await;
        agent.script("document.querySelector('#chat-panes .chat-pass').scrollIntoView({block: 'end'});").await;
        crate::layout::shoot(&agent, &backend, "agent-chat-desk-pass-on").await;
        // On a phone, the desk and the visitor's chat fit the width.
        agent.resize(390, 844).await;
        assert!(!crate::layout::overflows(&agent).await, "the chat desk scrolls sideways on a phone");
        agent.script("document.querySelector('#chat-panes .chat-log').scrollIntoView();").await;
        crate::layout::shoot(&agent, &backend, "agent-chat-desk-phone").await;
        agent.resize(1366, 900).await;
        visitor.resize(390, 844).await;
        assert!(!crate::layout::overflows(&visitor).await, "the visitor's chat scrolls sideways on a phone");
        crate::layout::shoot(&visitor, &backend, "help-center-chat-under-way-phone").await;
        visitor.resize(1366, 900).await;
        crate::layout::shoot(&visitor, &backend, "help-center-chat-under-way").await;
        // Vera gave her address, so the transcript by mail is offered; a
        // chat without one hides the box (the socket says which).
        assert_eq!(visitor.script("return getComputedStyle(document.getElementById('chat-transcript').parentNode).display !== 'none';").await, true);
        assert_eq!(visitor.script("const box = document.getElementById('chat-transcript').parentNode; box.hidden = true; \
            const gone = getComputedStyle(box).display === 'none'; box.hidden = false; return gone;").await, true, "hidden means hidden");

        // The visitor ends it; the transcript is a ticket in Support.
        visitor.click("#chat-end").await;
        assert!(eventually(&visitor, "return document.getElementById('chat-status').textContent.includes('ended');").await);
        assert!(eventually(&agent, "return document.querySelectorAll('#chat-panes .chat-pane').length === 0;").await, "the pane closes");
        let mut transcript = None;
        for _ in 0..50 {
            let found = app.app.search_tickets(&crate::tickets::actor_of(&desk.alice), &ferrodesk_app::TicketSearchInput {
                query: "channel:chat ships".into(), ..Default::default()
            }).await.unwrap();
            if let Some(hit) = found.hits.first() {
                transcript = Some(hit.ticket.reference.to_string());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let transcript = transcript.expect("the transcript ticket");
        agent.goto(&app.url(&format!("/agent/tickets/{transcript}"))).await;
        let page = agent.text_of("main").await;
        assert!(page.contains("Chat with Vera Visitor") && page.contains("It ships today.") && page.contains("Great, thanks!"), "{page}");
        assert!(page.contains(&file_name), "the file is attached to the transcript: {page}");
        agent.close().await;
        visitor.close().await;
    }
}
