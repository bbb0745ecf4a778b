//! Users and organizations through the agent pages on both databases:
//! several addresses per user, organizations with members and managers, a
//! user's tickets as far as the agent may see them, merging two users, CCs
//! on tickets, and who may do which.

use ferrodesk_app::Caller;
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{Desk, desk, group, open_ticket, post_on, signed_in};

/// The desk, with Alice also allowed to see and edit people and Bob only to
/// see them.
async fn directory_desk(app: &TestApp) -> Desk {
    let desk = desk(app).await;
    let system = Caller::system();
    let alice_group = app
        .app
        .create_permission_group(
            &system,
            &group(
                "Support and people",
                &[
                    "tickets.reply",
                    "tickets.note",
                    "tickets.edit",
                    "people.view",
                    "people.edit",
                ],
                desk.support,
                "full",
            ),
        )
        .await
        .unwrap();
    let bob_group = app
        .app
        .create_permission_group(
            &system,
            &group(
                "Sales and people",
                &["tickets.reply", "people.view"],
                desk.sales,
                "assign",
            ),
        )
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, desk.alice.id, &[alice_group], &[])
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, desk.bob.id, &[bob_group], &[])
        .await
        .unwrap();
    desk
}

/// Creates a user through the page and returns their page's path.
async fn new_user(app: &TestApp, browser: &Browser, name: &str, email: &str) -> String {
    let made = post_on(
        app,
        browser,
        "/agent/people/new",
        "/agent/people/new",
        &[("name", name), ("email", email), ("organization", "")],
    )
    .await;
    assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
    location(&made).split('?').next().unwrap().to_owned()
}

fn user_id(path: &str) -> i64 {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

on_both_backends! { spawn_app;

    async fn an_agent_keeps_a_user_with_several_addresses(app: TestApp) {
        let _desk = directory_desk(&app).await;
        let alice = signed_in(&app, "alice@example.org").await;
        let path = new_user(&app, &alice, "Wanda <i>Web</i>", "wanda@example.org").await;
        let id = user_id(&path);
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("Wanda &#60;i&#62;Web&#60;/i&#62;"), "the name is escaped");

        let added = post_on(&app, &alice, &path, &format!("{path}/emails"), &[("email", "Wanda@Work.example")]).await;
        assert_eq!(location(&added), format!("{path}?notice=email_added"));
        let emails = app.app.store().directory().person_emails(id).await.unwrap();
        assert_eq!(emails.iter().map(|email| email.email.as_str()).collect::<Vec<_>>(), ["wanda@example.org", "Wanda@Work.example"]);

        // An address belongs to one person, whichever of theirs it is.
        let taken = post_on(&app, &alice, &path, &format!("{path}/emails"), &[("email", "alice@example.org")]).await;
        assert_eq!(taken.status(), 422);
        let other = new_user(&app, &alice, "Walter", "walter@example.org").await;
        let clash = post_on(&app, &alice, &other, &format!("{other}/emails"), &[("email", "wanda@work.example")]).await;
        assert_eq!(clash.status(), 422);
        assert!(clash.text().await.unwrap().contains("merge the two users"));
        let duplicate = post_on(&app, &alice, "/agent/people/new", "/agent/people/new", &[("name", "Copy"), ("email", "WANDA@work.example")]).await;
        assert_eq!(duplicate.status(), 422, "a new user cannot take someone's other address");
        let bad = post_on(&app, &alice, &path, &format!("{path}/emails"), &[("email", "not an address")]).await;
        assert_eq!(bad.status(), 422);

        // The primary address cannot be removed; another one can be made primary.
        let primary_id = emails[0].id;
        let work_id = emails[1].id;
        let refused = post_on(&app, &alice, &path, &format!("{path}/emails/{primary_id}/remove"), &[]).await;
        assert_eq!(refused.status(), 409);
        let switched = post_on(&app, &alice, &path, &format!("{path}/emails/{work_id}/primary"), &[]).await;
        assert_eq!(location(&switched), format!("{path}?notice=primary"));
        let user = app.app.store().directory().get_user(id).await.unwrap().unwrap();
        assert_eq!(user.email, "Wanda@Work.example");
        let removed = post_on(&app, &alice, &path, &format!("{path}/emails/{primary_id}/remove"), &[]).await;
        assert_eq!(removed.status(), 303);
        assert_eq!(app.app.store().directory().person_emails(id).await.unwrap().len(), 1);
        // Another user's address id through this user's path is not found.
        let walter_email = app.app.store().directory().person_emails(user_id(&other)).await.unwrap()[0].id;
        let foreign = post_on(&app, &alice, &path, &format!("{path}/emails/{walter_email}/remove"), &[]).await;
        assert_eq!(foreign.status(), 404);
        assert_eq!(app.app.store().directory().person_emails(user_id(&other)).await.unwrap().len(), 1);

        // A ticket for any of a user's addresses goes to that user.
        let support = _desk.support.to_string();
        let made = post_on(&app, &alice, "/agent/tickets/new", "/agent/tickets/new", &[
            ("requester_email", "wanda@work.example"), ("requester_name", ""), ("subject", "Login trouble"),
            ("message", "Cannot sign in."), ("department", &support), ("urgency", "2"), ("labels", ""),
        ]).await;
        assert_eq!(made.status(), 303);
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("Login trouble"), "the user's page lists the ticket");

        // The list finds users by name or any address; wildcards are literal.
        let found = alice.get(&app, "/agent/people?q=WORK.example").await.text().await.unwrap();
        assert!(found.contains(&path) && !found.contains(&other), "{found}");
        let none = alice.get(&app, "/agent/people?q=%25").await.text().await.unwrap();
        assert!(none.contains("0 users"), "a % matches only a %");
        let agents_hidden = alice.get(&app, "/agent/people?q=alice").await.text().await.unwrap();
        assert!(agents_hidden.contains("0 users"), "agents are not in the user directory");

        // Profile changes and disabling, each in the audit log.
        let saved = post_on(&app, &alice, &path, &path, &[("name", "Wanda Web"), ("organization", ""), ("disabled", "1")]).await;
        assert_eq!(location(&saved), format!("{path}?notice=saved"));
        let user = app.app.store().directory().get_user(id).await.unwrap().unwrap();
        assert!(user.is_disabled && user.name == "Wanda Web");
        let blank = post_on(&app, &alice, &path, &path, &[("name", "  "), ("organization", "")]).await;
        assert_eq!(blank.status(), 422);
        let actions: Vec<i64> = audit_counts(&app, &[
            "user.created", "user.email_added", "user.primary_email_changed", "user.email_removed", "user.changed",
        ]).await;
        assert!(actions.iter().all(|count| *count >= 1), "{actions:?}");
    }

    async fn the_directory_is_only_for_agents_with_the_permission(app: TestApp) {
        let desk = directory_desk(&app).await;
        let support_ticket = open_ticket(&app, &desk.admin, desk.support, "Support question").await;
        let sales_ticket = open_ticket(&app, &desk.admin, desk.sales, "Sales question").await;
        let uma = app.app.store().people().find_person_by_email("uma@example.org").await.unwrap().unwrap();
        let uma_path = format!("/agent/people/{}", uma.id);

        // Carol has no people permission at all.
        let carol = signed_in(&app, "carol@example.org").await;
        for path in ["/agent/people", "/agent/people/new", &uma_path, "/agent/organizations"] {
            assert_eq!(carol.get(&app, path).await.status(), 403, "{path}");
        }
        // Bob may look but not change, and sees only the tickets he may see.
        let bob = signed_in(&app, "bob@example.org").await;
        let page = bob.get(&app, &uma_path).await.text().await.unwrap();
        assert!(!page.contains(&support_ticket) && !page.contains(&sales_ticket), "Bob is assign-only: neither ticket is his");
        assert!(!page.contains("user-form") && !page.contains("add-email-form") && !page.contains("merge-user-form"));
        let refused = post_on(&app, &bob, &uma_path, &uma_path, &[("name", "Renamed")]).await;
        assert_eq!(refused.status(), 403);
        let refused = post_on(&app, &bob, &uma_path, &format!("{uma_path}/emails"), &[("email", "x@example.org")]).await;
        assert_eq!(refused.status(), 403);
        // Alice sees the Support ticket only.
        let alice = signed_in(&app, "alice@example.org").await;
        let page = alice.get(&app, &uma_path).await.text().await.unwrap();
        assert!(page.contains(&support_ticket) && !page.contains(&sales_ticket));
        assert!(!page.contains("merge-user-form"), "merging needs people.merge");
        let merge = post_on(&app, &alice, &uma_path, &format!("{uma_path}/merge"), &[("into", "someone@example.org")]).await;
        assert_eq!(merge.status(), 403);
        // Agents are not users: their ids lead nowhere here; junk ids neither.
        for path in [format!("/agent/people/{}", desk.bob.id), "/agent/people/999999".to_owned(), "/agent/people/abc".to_owned()] {
            assert_eq!(alice.get(&app, &path).await.status(), 404, "{path}");
        }
        // The ticket page links the requester for those who may see people.
        let ticket_path = format!("/agent/tickets/{support_ticket}");
        assert!(alice.get(&app, &ticket_path).await.text().await.unwrap().contains("requester-link"));
        let admin = signed_in(&app, "admin@example.org").await;
        assert_eq!(admin.get(&app, &uma_path).await.status(), 200);
    }

    async fn organizations_have_members_and_managers(app: TestApp) {
        let desk = directory_desk(&app).await;
        let alice = signed_in(&app, "alice@example.org").await;
        let made = post_on(&app, &alice, "/agent/organizations", "/agent/organizations", &[("name", "Acme <Corp>")]).await;
        assert_eq!(made.status(), 303);
        let org_path = location(&made).split('?').next().unwrap().to_owned();
        let org_id: i64 = org_path.rsplit('/').next().unwrap().parse().unwrap();
        let again = post_on(&app, &alice, "/agent/organizations", "/agent/organizations", &[("name", "ACME <corp>")]).await;
        assert_eq!(again.status(), 422, "names are unique whatever the case");

        let ticket = open_ticket(&app, &desk.admin, desk.support, "Before joining").await;
        let uma = app.app.store().people().find_person_by_email("uma@example.org").await.unwrap().unwrap();
        let member_path = format!("/agent/people/{}", uma.id);
        post_on(&app, &alice, &member_path, &format!("{member_path}/emails"), &[("email", "uma@acme.example")]).await;
        let added = post_on(&app, &alice, &org_path, &format!("{org_path}/members"), &[("email", "UMA@acme.example"), ("manager", "1")]).await;
        assert_eq!(location(&added), format!("{org_path}?notice=member_added"));
        let user = app.app.store().directory().get_user(uma.id).await.unwrap().unwrap();
        assert_eq!(user.organization_id, Some(org_id));
        assert!(user.is_organization_manager);
        let unknown = post_on(&app, &alice, &org_path, &format!("{org_path}/members"), &[("email", "nobody@acme.example")]).await;
        assert_eq!(unknown.status(), 422);
        let agent = post_on(&app, &alice, &org_path, &format!("{org_path}/members"), &[("email", "bob@example.org")]).await;
        assert_eq!(agent.status(), 422, "agents are not members");

        let page = alice.get(&app, &org_path).await.text().await.unwrap();
        assert!(page.contains("Acme &#60;Corp&#62;") && page.contains("Uma User") && page.contains("manager"));
        assert!(!page.contains(&ticket), "a ticket keeps the organization it was filed under");
        let after = open_ticket(&app, &desk.admin, desk.support, "After joining").await;
        let page = alice.get(&app, &org_path).await.text().await.unwrap();
        assert!(page.contains(&after), "a new ticket is the organization's");

        // The user's form names the organization; an unknown one is refused.
        let wrong = post_on(&app, &alice, &member_path, &member_path, &[("name", "Uma User"), ("organization", "Globex")]).await;
        assert_eq!(wrong.status(), 422);
        assert_eq!(app.app.store().directory().get_user(uma.id).await.unwrap().unwrap().organization_id, Some(org_id), "nothing changed");

        let renamed = post_on(&app, &alice, &org_path, &org_path, &[("name", "Acme Ltd")]).await;
        assert_eq!(renamed.status(), 303);
        let listed = alice.get(&app, "/agent/organizations?q=acme").await.text().await.unwrap();
        assert!(listed.contains("Acme Ltd") && listed.contains("1 organizations"));

        let removed = post_on(&app, &alice, &org_path, &format!("{org_path}/members/{}/remove", uma.id), &[]).await;
        assert_eq!(removed.status(), 303);
        let user = app.app.store().directory().get_user(uma.id).await.unwrap().unwrap();
        assert!(user.organization_id.is_none() && !user.is_organization_manager);
        let question = alice.get(&app, &format!("{org_path}/delete")).await;
        assert_eq!(question.status(), 200, "deleting asks first");
        assert!(question.text().await.unwrap().contains("This cannot be undone."));
        let deleted = post_on(&app, &alice, &org_path, &format!("{org_path}/delete"), &[]).await;
        assert_eq!(location(&deleted), "/agent/organizations");
        assert_eq!(alice.get(&app, &org_path).await.status(), 404);
        let counts = audit_counts(&app, &["organization.created", "organization.renamed", "organization.deleted"]).await;
        assert_eq!(counts, [1, 1, 1]);
    }

    async fn merging_two_users_keeps_every_ticket_and_address(app: TestApp) {
        let desk = directory_desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let first = open_ticket(&app, &desk.admin, desk.support, "From Uma").await;
        let kept_path = new_user(&app, &admin, "Uma Again", "uma.private@example.org").await;
        let kept = user_id(&kept_path);
        let support = desk.support.to_string();
        let second = post_on(&app, &admin, "/agent/tickets/new", "/agent/tickets/new", &[
            ("requester_email", "uma.private@example.org"), ("subject", "From the other Uma"),
            ("message", "Hello"), ("department", &support), ("urgency", "2"), ("labels", ""),
        ]).await;
        assert_eq!(second.status(), 303);
        let uma = app.app.store().people().find_person_by_email("uma@example.org").await.unwrap().unwrap();
        let source_path = format!("/agent/people/{}", uma.id);

        for (into, why) in [("bob@example.org", "an agent"), ("uma@example.org", "the user themselves"), ("nobody@example.org", "nobody")] {
            let refused = post_on(&app, &admin, &source_path, &format!("{source_path}/merge"), &[("into", into)]).await;
            assert_eq!(refused.status(), 422, "merging into {why}");
        }
        let merged = post_on(&app, &admin, &source_path, &format!("{source_path}/merge"), &[("into", "UMA.private@example.org")]).await;
        assert_eq!(location(&merged), format!("{kept_path}?notice=merged"));
        assert_eq!(admin.get(&app, &source_path).await.status(), 404, "the merged user is gone");
        let page = admin.get(&app, &kept_path).await.text().await.unwrap();
        assert!(page.contains(&first) && page.contains("From the other Uma"), "both tickets are the kept user's");
        let addresses: Vec<String> = app.app.store().directory().person_emails(kept).await.unwrap().into_iter().map(|email| email.email).collect();
        assert_eq!(addresses, ["uma@example.org", "uma.private@example.org"], "oldest first");
        assert_eq!(app.app.store().directory().get_user(kept).await.unwrap().unwrap().email, "uma.private@example.org", "the kept user's primary stays");
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&first)).await.unwrap().unwrap();
        assert_eq!(ticket.requester_id, kept);
        let messages = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert_eq!(messages[0].author_id, Some(kept), "the messages are theirs too");
        // The old address now finds the kept user.
        assert_eq!(app.app.store().directory().find_person_by_any_email("uma@example.org").await.unwrap(), Some(kept));
        assert_eq!(audit_counts(&app, &["user.merged"]).await, [1]);
    }

    async fn copied_users_get_every_reply_and_never_a_note(app: TestApp) {
        let desk = directory_desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Shared printer").await;
        let path = format!("/agent/tickets/{reference}");
        let alice = signed_in(&app, "alice@example.org").await;
        let added = post_on(&app, &alice, &path, &format!("{path}/ccs"), &[("cc", "Boss@Example.org")]).await;
        assert_eq!(location(&added), format!("{path}?notice=cc_added"));
        for (address, why) in [("uma@example.org", "the requester"), ("bob@example.org", "an agent"), ("nonsense", "junk")] {
            let refused = post_on(&app, &alice, &path, &format!("{path}/ccs"), &[("cc", address)]).await;
            assert_eq!(refused.status(), 422, "copying {why}");
        }
        let page = alice.get(&app, &path).await.text().await.unwrap();
        assert!(page.contains("Boss@Example.org"));

        post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "note"), ("body", "Internal only")]).await;
        assert!(crate::helpers::customer_mail(&app, 10).await.is_empty(), "a note goes to nobody");
        let replied = post_on(&app, &alice, &path, &format!("{path}/reply"), &[("kind", "reply"), ("body", "Fixed it.")]).await;
        assert_eq!(replied.status(), 303);
        let mails = crate::helpers::customer_mail(&app, 10).await;
        let mut recipients: Vec<&str> = mails.iter().map(|mail| mail.recipients.as_str()).collect();
        recipients.sort_unstable();
        assert_eq!(mails.len(), 2, "{recipients:?}");
        assert!(recipients[0].contains("Boss@Example.org") && recipients[1].contains("uma@example.org"), "{recipients:?}");

        // Bob cannot see the ticket, so he cannot copy anyone on it; Carol neither.
        let bob = signed_in(&app, "bob@example.org").await;
        let hidden = post_on(&app, &bob, "/agent", &format!("{path}/ccs"), &[("cc", "spy@example.org")]).await;
        assert_eq!(hidden.status(), 404);

        let boss = app.app.store().people().find_person_by_email("boss@example.org").await.unwrap().unwrap();
        let removed = post_on(&app, &alice, &path, &format!("{path}/ccs/{}/remove", boss.id), &[]).await;
        assert_eq!(location(&removed), format!("{path}?notice=cc_removed"));
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert!(app.app.store().tickets().ticket_ccs(ticket.id).await.unwrap().is_empty());
        let again = post_on(&app, &alice, &path, &format!("{path}/ccs/{}/remove", boss.id), &[]).await;
        assert_eq!(again.status(), 404);
        let fields: Vec<String> = app.app.store().tickets().ticket_log(ticket.id).await.unwrap().into_iter().map(|entry| entry.field).collect();
        assert_eq!(fields.iter().filter(|field| *field == "cc").count(), 2, "{fields:?}");
    }

    async fn the_user_list_pages_by_name_without_gaps(app: TestApp) {
        let _desk = directory_desk(&app).await;
        let system = Caller::system();
        let admin_actor = crate::tickets::actor_of(&_desk.admin);
        let caller = Caller::new(&admin_actor, "");
        let _ = system;
        for index in 0..120 {
            // Names that sort the same whatever the case, and with dots.
            let name = if index % 2 == 0 { format!("j.r. user {index:03}") } else { format!("J.R. User {index:03}") };
            app.app.create_user(&caller, &ferrodesk_app::UserInput {
                name,
                email: format!("user{index}@example.org"),
                ..ferrodesk_app::UserInput::default()
            }).await.unwrap();
        }
        let alice = signed_in(&app, "alice@example.org").await;
        let mut path = "/agent/people?q=user".to_owned();
        let mut seen = std::collections::BTreeSet::new();
        let mut pages = 0;
        loop {
            let page = alice.get(&app, &path).await.text().await.unwrap();
            assert!(page.contains("120 users"));
            for part in page.split("<a href=\"/agent/people/").skip(1) {
                let id = part.split('"').next().unwrap();
                if id.chars().all(|character| character.is_ascii_digit()) {
                    assert!(seen.insert(id.to_owned()), "user {id} shown twice");
                }
            }
            pages += 1;
            let Some(link) = page.split("<a href=\"").find(|part| part.contains("id=\"next-page\"")) else { break };
            path = link.split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 120);
        let bad = alice.get(&app, "/agent/people?after=garbage").await;
        assert_eq!(bad.status(), 400);
    }
}

/// How many audit entries each action has.
async fn audit_counts(app: &TestApp, actions: &[&str]) -> Vec<i64> {
    let mut counts = Vec::new();
    for action in actions {
        let entries = app
            .app
            .store()
            .audit_log()
            .search_audit(
                &ferrodesk_store::AuditFilter {
                    action_prefix: Some((*action).to_owned()),
                    ..ferrodesk_store::AuditFilter::default()
                },
                100,
            )
            .await
            .unwrap();
        counts.push(entries.len() as i64);
    }
    counts
}
