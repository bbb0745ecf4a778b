//! Merging, manual locks and custom fields, on both databases.

use ferrodesk_app::Caller;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::tickets::{desk, open_ticket, post_on, signed_in};

async fn reply(app: &TestApp, reference: &str, email: &str, kind: &str, body: &str) {
    let browser = signed_in(app, email).await;
    let path = format!("/agent/tickets/{reference}");
    let response = post_on(
        app,
        &browser,
        &path,
        &format!("{path}/reply"),
        &[("kind", kind), ("body", body)],
    )
    .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

on_both_backends! { spawn_app;

    async fn a_reply_is_mailed_to_the_requester_and_a_note_never_is(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Printer <jams>").await;
        reply(&app, &reference, "alice@example.org", "note", "Internal: the user is on the old plan").await;
        assert!(crate::helpers::customer_mail(&app, 10).await.is_empty(), "a note sends nothing");
        reply(&app, &reference, "alice@example.org", "reply", "Switch it **off** and on.\n\n<script>alert(1)</script>").await;
        let mails = crate::helpers::customer_mail(&app, 10).await;
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.template, "ticket_reply");
        assert!(mail.recipients.contains("uma@example.org"), "{}", mail.recipients);
        assert_eq!(mail.subject, format!("[{reference}] Printer <jams>"));
        assert!(mail.text_body.contains("Alice Agent replied") && mail.text_body.contains("Switch it **off** and on."));
        assert!(!mail.text_body.contains("old plan") && !mail.html_body.as_deref().unwrap().contains("old plan"), "notes stay inside");
        let html = mail.html_body.as_deref().unwrap();
        assert!(html.contains("<strong>off</strong>") && !html.contains("<script>"), "{html}");
    }

    async fn merging_moves_the_thread_and_the_old_reference_leads_on(app: TestApp) {
        let desk = desk(&app).await;
        let first = open_ticket(&app, &desk.admin, desk.support, "Printer broken").await;
        let second = open_ticket(&app, &desk.admin, desk.support, "Printer still broken").await;
        reply(&app, &first, "alice@example.org", "note", "Note on the first").await;
        let admin = signed_in(&app, "admin@example.org").await;
        let first_path = format!("/agent/tickets/{first}");
        let labels = post_on(&app, &admin, &first_path, &format!("{first_path}/properties"), &[
            ("status", "awaiting_agent"), ("urgency", "5"), ("department", &desk.support.to_string()),
            ("agent", ""), ("team", ""), ("labels", "printer"),
        ]).await;
        assert_eq!(labels.status(), 303);

        // Alice may not merge; the form is not even shown to her.
        let alice = signed_in(&app, "alice@example.org").await;
        assert!(!alice.get(&app, &first_path).await.text().await.unwrap().contains("merge-form"));
        let refused = post_on(&app, &alice, &first_path, &format!("{first_path}/merge"), &[("into", &second)]).await;
        assert_eq!(refused.status(), 403);

        // The form asks first, showing both tickets; nothing moves until the POST.
        let asked = admin.get(&app, &format!("{first_path}/merge?into={second}")).await;
        assert_eq!(asked.status(), 200);
        let asked = asked.text().await.unwrap();
        assert!(asked.contains(&second) && asked.contains("id=\"confirm-merge\""), "{asked}");
        assert_eq!(admin.get(&app, &format!("{first_path}/merge?into={first}")).await.status(), 422, "not into itself");
        assert!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&first)).await.unwrap().unwrap().merged_into_id.is_none(), "asking merges nothing");
        let into_itself = post_on(&app, &admin, &first_path, &format!("{first_path}/merge"), &[("into", &first)]).await;
        assert_eq!(into_itself.status(), 422);
        let unknown = post_on(&app, &admin, &first_path, &format!("{first_path}/merge"), &[("into", "ZZZZ-ZZZZ")]).await;
        assert_eq!(unknown.status(), 422);
        assert!(unknown.text().await.unwrap().contains("No ticket you can see"));

        let merged = post_on(&app, &admin, &first_path, &format!("{first_path}/merge"), &[("into", &second.to_lowercase())]).await;
        assert_eq!(location(&merged), format!("/agent/tickets/{second}?notice=merged"));
        let source = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&first)).await.unwrap().unwrap();
        let target = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&second)).await.unwrap().unwrap();
        assert_eq!(source.status.key(), "deleted", "the merged ticket leaves the lists");
        assert_eq!(source.merged_into_id, Some(target.id));
        assert!(app.app.store().tickets().ticket_messages(source.id, true).await.unwrap().is_empty());
        let thread = app.app.store().tickets().ticket_messages(target.id, true).await.unwrap();
        assert_eq!(thread.len(), 3, "both first messages and the note");
        assert_eq!(app.app.store().tickets().ticket_labels(target.id).await.unwrap().to_strings(), ["printer"]);
        let log = app.app.store().tickets().ticket_log(target.id).await.unwrap();
        assert!(log.iter().any(|entry| entry.field == "merged" && entry.before_value.as_deref().is_some_and(|text| text.starts_with(&first))));
        assert!(log.iter().any(|entry| entry.field == "labels"), "the merged ticket's log came along");

        let old = admin.get(&app, &first_path).await;
        assert_eq!(old.status(), 303);
        assert_eq!(location(&old), format!("/agent/tickets/{second}"));
        let list = admin.get(&app, "/agent/tickets?status=any").await.text().await.unwrap();
        assert!(list.contains(&second) && !list.contains(&first));
        // Bob cannot see the target, so the old reference tells him nothing.
        let bob = signed_in(&app, "bob@example.org").await;
        assert_eq!(bob.get(&app, &first_path).await.status(), 404);
    }

    async fn a_lock_tells_others_and_makes_their_reply_a_note(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Locked").await;
        let second_support_agent = app.create_account("dave@example.org", "Dave Agent", ferrodesk_app::AccountKind::Agent).await;
        let groups = app.app.agent_access(&ferrodesk_app::Actor::System, desk.alice.id).await.unwrap();
        let alice_groups: Vec<i64> = groups.groups.iter().filter(|(_, member)| *member).map(|(group, _)| group.id).collect();
        app.app.set_agent_access(&Caller::system(), second_support_agent.id, &alice_groups, &[]).await.unwrap();

        let path = format!("/agent/tickets/{reference}");
        let alice = signed_in(&app, "alice@example.org").await;
        let locked = post_on(&app, &alice, &path, &format!("{path}/lock"), &[("lock", "1")]).await;
        assert_eq!(location(&locked), format!("{path}?notice=locked"));
        assert!(alice.get(&app, &path).await.text().await.unwrap().contains("Release the lock"));

        let dave = signed_in(&app, "dave@example.org").await;
        let page = dave.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("Alice Agent is working on this ticket"), "others see who holds it");
        assert!(page.contains("id=\"kind-note\" checked"), "their reply box starts as a note");
        let taken = post_on(&app, &dave, &path, &format!("{path}/lock"), &[("lock", "1")]).await;
        assert_eq!(taken.status(), 409);
        let released_by_other = post_on(&app, &dave, &path, &format!("{path}/lock"), &[("lock", "0")]).await;
        assert_eq!(released_by_other.status(), 409, "only the holder or an admin releases it");

        // The lock lapses by itself.
        app.advance_clock(std::time::Duration::from_secs(31 * 60));
        let page = dave.get(&app, &path).await.text().await.unwrap();
        assert!(!page.contains("is working on this ticket"));
        assert!(page.contains("id=\"kind-reply\" checked"));

        let relocked = post_on(&app, &alice, &path, &format!("{path}/lock"), &[("lock", "1")]).await;
        assert_eq!(relocked.status(), 303);
        let admin = signed_in(&app, "admin@example.org").await;
        let broken = post_on(&app, &admin, &path, &format!("{path}/lock"), &[("lock", "0")]).await;
        assert_eq!(broken.status(), 303, "an admin breaks a lock");
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(ticket.locked_by_id, None);
        // Carol sees no ticket, so she cannot lock one.
        let carol = signed_in(&app, "carol@example.org").await;
        assert_eq!(post_on(&app, &carol, "/agent/tickets", &format!("{path}/lock"), &[("lock", "1")]).await.status(), 404);
    }

    async fn custom_fields_are_defined_by_admins_and_checked_by_kind(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Fields").await;
        let admin = signed_in(&app, "admin@example.org").await;
        let make = |name: &'static str, kind: &'static str, choices: &'static str, required: bool| {
            let admin = &admin;
            let app = &app;
            async move {
                let mut fields = vec![("name", name), ("kind", kind), ("choices", choices), ("position", "")];
                if required {
                    fields.push(("required", "1"));
                }
                post_on(app, admin, "/admin/tickets", "/admin/tickets/fields", &fields).await
            }
        };
        assert_eq!(location(&make("Order number", "number", "", true).await), "/admin/tickets?notice=created");
        assert_eq!(make("Plan", "choice", "Free\nPro\nPro\n", false).await.status(), 303);
        assert_eq!(make("Due", "date", "", false).await.status(), 303);
        let no_choices = make("Colour", "multiple_choice", "", false).await;
        assert_eq!(no_choices.status(), 422);
        assert!(no_choices.text().await.unwrap().contains("List the choices"));
        let bad_name = make("<script>x</script>", "sorcery", "", false).await;
        assert_eq!(bad_name.status(), 422);
        assert!(!bad_name.text().await.unwrap().contains("<script>x"));
        let fields = app.app.store().ticket_fields().list_ticket_fields().await.unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1].choices, "Free\nPro", "choices trimmed and unique");
        let (number, plan, due) = (fields[0].id, fields[1].id, fields[2].id);

        let path = format!("/agent/tickets/{reference}");
        let alice = signed_in(&app, "alice@example.org").await;
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains(&format!("name=\"field_{number}\"")) && page.contains("<option>Pro</option>"));
        let properties = |values: [(&'static str, String); 3]| {
            let alice = &alice;
            let app = &app;
            let path = path.clone();
            let support = desk.support.to_string();
            async move {
                let names: Vec<String> = [number, plan, due].iter().map(|id| format!("field_{id}")).collect();
                let mut form: Vec<(&str, &str)> = vec![("status", "awaiting_agent"), ("urgency", "3"), ("department", &support), ("agent", ""), ("team", ""), ("labels", "")];
                for (index, (_, value)) in values.iter().enumerate() {
                    form.push((&names[index], value));
                }
                post_on(app, alice, &path, &format!("{path}/properties"), &form).await
            }
        };
        let wrong = properties([("number", "12abc".into()), ("plan", "Enterprise".into()), ("due", "2024-02-30".into())]).await;
        assert_eq!(wrong.status(), 422);
        let text = wrong.text().await.unwrap();
        assert!(text.contains("Order number: A number") && text.contains("Plan: Choose from the list") && text.contains("Due: A date"));
        let missing = properties([("number", String::new()), ("plan", String::new()), ("due", String::new())]).await;
        assert_eq!(missing.status(), 422);
        assert!(missing.text().await.unwrap().contains("Order number is required"));
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert!(app.app.store().ticket_fields().ticket_field_values(ticket.id).await.unwrap().is_empty(), "nothing saved");

        let saved = properties([("number", " 1042 ".into()), ("plan", "Pro".into()), ("due", "2024-02-29".into())]).await;
        assert_eq!(saved.status(), 303);
        let values: Vec<(i64, String)> = app.app.store().ticket_fields().ticket_field_values(ticket.id).await.unwrap().into_iter().map(|value| (value.field_id, value.value)).collect();
        assert_eq!(values, [(number, "1042".to_owned()), (plan, "Pro".to_owned()), (due, "2024-02-29".to_owned())]);
        let log = app.app.store().tickets().ticket_log(ticket.id).await.unwrap();
        assert!(log.iter().any(|entry| entry.field == "field" && entry.after_value.as_deref() == Some("Plan: Pro")));
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("value=\"1042\"") && page.contains("<option selected>Pro</option>"));

        // Admin edits and deletes, each audited.
        let edit = format!("/admin/tickets/fields/{plan}");
        assert_eq!(admin.get(&app, &edit).await.status(), 200);
        let renamed = post_on(&app, &admin, &edit, &edit, &[("name", "Subscription"), ("kind", "text"), ("choices", "Free\nPro\nTeam"), ("position", "2")]).await;
        assert_eq!(location(&renamed), format!("{edit}?notice=saved"));
        let field = app.app.store().ticket_fields().get_ticket_field(plan).await.unwrap().unwrap();
        assert_eq!((field.name.as_str(), field.kind.as_str(), field.choices.as_str()), ("Subscription", "choice", "Free\nPro\nTeam"), "the kind stays");
        let deleted = post_on(&app, &admin, &edit, &format!("{edit}/delete"), &[]).await;
        assert_eq!(location(&deleted), "/admin/tickets?notice=deleted");
        assert_eq!(admin.get(&app, &edit).await.status(), 404);
        assert_eq!(app.app.store().ticket_fields().ticket_field_values(ticket.id).await.unwrap().len(), 2);
        let actions = crate::security::audit_actions(&app).await;
        for action in ["ticket_field.created", "ticket_field.changed", "ticket_field.deleted"] {
            assert!(actions.contains(&action.to_owned()), "{action}");
        }
        // Agents who are not admins cannot define fields.
        let refused = post_on(&app, &alice, &path, "/admin/tickets/fields", &[("name", "Sneaky"), ("kind", "text")]).await;
        assert_eq!(refused.status(), 403);
    }

    async fn a_ticket_opened_for_a_user_takes_its_field_values(app: TestApp) {
        let desk = desk(&app).await;
        let field = app.app.create_ticket_field(&Caller::system(), &ferrodesk_app::FieldInput {
            name: "Topics".into(), kind: "multiple_choice".into(), choices: "Billing\nLogin\nOther".into(),
            is_required: true, visible_to_users: true, position: String::new(),
        }).await.unwrap();
        let alice = signed_in(&app, "alice@example.org").await;
        let support = desk.support.to_string();
        let name = format!("field_{field}");
        let base = [("requester_email", "una@example.org"), ("requester_name", "Una"), ("subject", "Two topics"), ("message", "Hello"), ("department", support.as_str()), ("urgency", "2"), ("labels", "")];
        let missing = post_on(&app, &alice, "/agent/tickets/new", "/agent/tickets/new", &base).await;
        assert_eq!(missing.status(), 422);
        assert!(missing.text().await.unwrap().contains("Topics is required"));
        let mut with_topics = base.to_vec();
        with_topics.push((&name, "Other"));
        with_topics.push((&name, "Billing"));
        let made = post_on(&app, &alice, "/agent/tickets/new", "/agent/tickets/new", &with_topics).await;
        assert_eq!(made.status(), 303);
        let reference = location(&made).split('?').next().unwrap().rsplit('/').next().unwrap().to_owned();
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        let values = app.app.store().ticket_fields().ticket_field_values(ticket.id).await.unwrap();
        assert_eq!(values[0].value, "Billing\nOther", "in the field's order");
    }

    async fn admins_keep_a_priority_list_and_agents_pick_from_it(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Server down").await;
        let path = format!("/agent/tickets/{reference}");
        let admin = signed_in(&app, "admin@example.org").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(!page.contains("id=\"priority\""), "no list, no select");
        assert!(!page.contains("value=\"spam\"") && !page.contains("value=\"deleted\""), "Alice may neither mark spam nor delete");
        let page = admin.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("value=\"spam\"") && page.contains("value=\"deleted\""));

        for (name, position) in [("Low", "5"), ("P1 <urgent>", "1")] {
            let added = post_on(&app, &admin, "/admin/tickets", "/admin/tickets/priorities", &[("priority", name), ("priority_position", position)]).await;
            assert_eq!(location(&added), "/admin/tickets?notice=priority_added");
        }
        let duplicate = post_on(&app, &admin, "/admin/tickets", "/admin/tickets/priorities", &[("priority", "low"), ("priority_position", "2")]).await;
        assert_eq!(duplicate.status(), 422);
        let refused = post_on(&app, &alice, "/agent", "/admin/tickets/priorities", &[("priority", "Mine"), ("priority_position", "2")]).await;
        assert_eq!(refused.status(), 403);
        let priorities = app.app.store().ticket_fields().list_ticket_priorities().await.unwrap();
        assert_eq!(priorities.iter().map(|priority| priority.name.as_str()).collect::<Vec<_>>(), ["P1 <urgent>", "Low"], "in position order");

        let properties = |priority: String| {
            let support = desk.support.to_string();
            vec![("status".to_owned(), "awaiting_agent".to_owned()), ("urgency".to_owned(), "3".to_owned()), ("department".to_owned(), support),
                 ("agent".to_owned(), String::new()), ("team".to_owned(), String::new()), ("labels".to_owned(), String::new()), ("priority".to_owned(), priority)]
        };
        let send = |fields: Vec<(String, String)>| {
            let alice = &alice;
            let app = &app;
            let path = path.clone();
            async move {
                let borrowed: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
                post_on(app, alice, &path, &format!("{path}/properties"), &borrowed).await
            }
        };
        let unknown = send(properties("999999".to_owned())).await;
        assert_eq!(unknown.status(), 422);
        let set = send(properties(priorities[0].id.to_string())).await;
        assert_eq!(set.status(), 303);
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("id=\"ticket-priority\">P1 &#60;urgent&#62;<"), "shown, escaped");
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(ticket.priority_id, Some(priorities[0].id));
        let log = app.app.store().tickets().ticket_log(ticket.id).await.unwrap();
        let entry = log.iter().find(|entry| entry.field == "priority").unwrap();
        assert_eq!((entry.before_value.as_deref(), entry.after_value.as_deref()), (None, Some("P1 <urgent>")));

        let deleted = post_on(&app, &admin, "/admin/tickets", &format!("/admin/tickets/priorities/{}/delete", priorities[0].id), &[]).await;
        assert_eq!(location(&deleted), "/admin/tickets?notice=priority_deleted");
        assert_eq!(app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap().priority_id, None, "the ticket keeps no priority");
        let audit = app.app.store().audit_log().search_audit(&ferrodesk_store::AuditFilter {
            action_prefix: Some("ticket_priority.".to_owned()),
            ..ferrodesk_store::AuditFilter::default()
        }, 10).await.unwrap();
        assert_eq!(audit.len(), 3);
    }
}

on_both_backends! { spawn_app;

    async fn replies_end_with_the_agents_signature_and_notes_do_not(app: TestApp) {
        let desk = crate::tickets::desk(&app).await;
        let reference = crate::tickets::open_ticket(&app, &desk.admin, desk.support, "Signed replies").await;
        let path = format!("/agent/tickets/{reference}");
        let admin = crate::tickets::signed_in(&app, "admin@example.org").await;
        // The admin's default, with placeholders, for agents without their own.
        let saved = crate::tickets::post_on(&app, &admin, "/admin/tickets", "/admin/tickets/signature", &[
            ("default_signature", "Kind regards,\n{{ agent.first_name }} at {{ helpdesk.name }}"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let refused = crate::tickets::post_on(&app, &admin, "/admin/tickets", "/admin/tickets/signature", &[
            ("default_signature", &"x".repeat(2_001)),
        ]).await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("at most 2000 characters"));

        let alice = crate::tickets::signed_in(&app, "alice@example.org").await;
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("Replies end with your signature") && page.contains("Alice at Ferrodesk"), "the reply box shows what will be added");
        let replied = crate::tickets::post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "Please restart it.")]).await;
        assert_eq!(replied.status(), 303);
        let noted = crate::tickets::post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "note"), ("body", "Internal only.")]).await;
        assert_eq!(noted.status(), 303);
        // Her own signature, from the account page, replaces the default.
        let account = alice.get(&app, "/agent/account").await.text().await.unwrap();
        assert!(account.contains("Kind regards,") && account.contains("{{ agent.name }}"), "the default and the placeholders are shown");
        let own = crate::tickets::post_on(&app, &alice, "/agent/account", "/agent/account/signature", &[("signature", "— Alice <b>A.</b>")]).await;
        assert_eq!(own.status(), 303);
        let replied = crate::tickets::post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "Fixed now.")]).await;
        assert_eq!(replied.status(), 303);
        let too_long = crate::tickets::post_on(&app, &alice, "/agent/account", "/agent/account/signature", &[("signature", &"y".repeat(2_001))]).await;
        assert_eq!(too_long.status(), 422);
        assert!(too_long.text().await.unwrap().contains(&"y".repeat(2_001)), "what was typed is kept");

        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        let messages = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        let bodies: Vec<(bool, String)> = messages.iter().map(|message| (message.is_note, message.body_html.clone())).collect();
        assert!(bodies[1].1.contains("Please restart it.") && bodies[1].1.contains("Alice at Ferrodesk"), "{bodies:?}");
        assert!(bodies[2].0 && !bodies[2].1.contains("Kind regards"), "notes carry no signature: {bodies:?}");
        assert!(!bodies[3].1.contains("<b>A.</b>"), "a signature's markup is made safe like any message: {bodies:?}");
        assert!(bodies[3].1.contains("— Alice") && !bodies[3].1.contains("Kind regards"), "{bodies:?}");
        let mail = app.app.store().outbox().list_mail(None, 20).await.unwrap().into_iter().find(|mail| mail.template == "ticket_reply" && mail.text_body.contains("Fixed now.")).unwrap();
        assert!(mail.text_body.contains("— Alice"), "the customer's mail has it too");
    }
}
