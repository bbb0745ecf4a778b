//! The access-control matrix: every route of the agent and admin surfaces,
//! requested by each role (anonymous, help-center user, agent without the
//! department, agent with assign-only access, agent with full access,
//! admin), with the status each must get. A second test reads the route
//! table from the source, so a new route without a row here fails.

use ferrodesk_app::{AccountKind, Caller};
use ferrodesk_testkit::on_both_backends;
use reqwest::multipart::{Form, Part};

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{actor_of, group};

#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Login, password reset and the like: open to everyone.
    Public,
    /// Any agent; anonymous visitors and users are sent to the staff login.
    Agent(u16),
    /// The signed-in agent's own account: any agent, each for themselves.
    Own(u16),
    /// Admins only; other agents get 403.
    Admin,
    /// A route on a ticket of the Billing department: `full` is what agents
    /// with full access and admins get on an unassigned ticket, `own` what
    /// the assign-only agent gets on the ticket assigned to them. Everyone
    /// else: 404 (agents) or the login page.
    Ticket { full: u16, own: u16 },
    /// Behind a permission the full agent holds (people.*, content.manage):
    /// she and admins get this status, other agents 403.
    Permitted(u16),
}

/// (method, route as written in the router, rule).
const MATRIX: &[(&str, &str, Rule)] = &[
    ("GET", "/agent/login", Rule::Public),
    ("POST", "/agent/login", Rule::Public),
    ("GET", "/agent/login/two-factor", Rule::Public),
    ("POST", "/agent/login/two-factor", Rule::Public),
    ("GET", "/agent/verify-ip/{token}", Rule::Public),
    ("POST", "/agent/verify-ip/{token}", Rule::Public),
    ("GET", "/agent/unlock/{token}", Rule::Public),
    ("POST", "/agent/unlock/{token}", Rule::Public),
    ("GET", "/agent/forgot-password", Rule::Public),
    ("POST", "/agent/forgot-password", Rule::Public),
    ("GET", "/agent/reset-password/{token}", Rule::Public),
    ("POST", "/agent/reset-password/{token}", Rule::Public),
    ("POST", "/agent/logout", Rule::Public),
    ("GET", "/agent", Rule::Agent(200)),
    ("GET", "/agent/search", Rule::Agent(200)),
    // The live-update stream: each agent gets their own (and only the
    // events they may see, which `live_updates` checks).
    ("GET", "/agent/events", Rule::Agent(200)),
    // The chat desk; its socket wants a WebSocket handshake (400 without
    // one) from the helpdesk's pages (`chat` checks what each agent hears).
    ("GET", "/agent/chats", Rule::Agent(200)),
    ("GET", "/agent/chat/socket", Rule::Agent(400)),
    // No availability named: refused, nothing changes.
    ("POST", "/agent/chat/availability", Rule::Own(400)),
    // A file for a chat (multipart; a plain form is 400) and a chat's file
    // by id (`chat` checks the department on both).
    ("POST", "/agent/chat/files", Rule::Own(400)),
    ("GET", "/agent/chat/files/{message_id}", Rule::Agent(404)),
    ("GET", "/agent/", Rule::Public),
    ("GET", "/agent/account", Rule::Own(200)),
    ("GET", "/agent/account/password", Rule::Own(200)),
    ("POST", "/agent/account/password", Rule::Own(422)),
    ("POST", "/agent/account/notifications", Rule::Own(303)),
    ("POST", "/agent/account/work-mail", Rule::Own(303)),
    ("POST", "/agent/account/signature", Rule::Own(303)),
    // No zone named: refused, nothing changes.
    ("POST", "/agent/account/time-zone", Rule::Own(422)),
    ("POST", "/agent/account/profile", Rule::Own(422)),
    ("POST", "/agent/account/sessions/end-others", Rule::Own(303)),
    (
        "POST",
        "/agent/account/sessions/{id}/revoke",
        Rule::Own(404),
    ),
    ("GET", "/agent/account/two-factor", Rule::Own(200)),
    ("POST", "/agent/account/two-factor/start", Rule::Own(303)),
    ("POST", "/agent/account/two-factor/confirm", Rule::Own(422)),
    (
        "POST",
        "/agent/account/two-factor/recovery-codes",
        Rule::Own(422),
    ),
    ("POST", "/agent/account/two-factor/disable", Rule::Own(422)),
    ("GET", "/agent/tickets", Rule::Agent(200)),
    ("GET", "/agent/tickets/new", Rule::Agent(200)),
    // Nothing ticked: refused with the reason, whoever asks.
    ("POST", "/agent/tickets/bulk", Rule::Agent(422)),
    ("POST", "/agent/tickets/new", Rule::Agent(422)),
    (
        "GET",
        "/agent/tickets/{reference}",
        Rule::Ticket {
            full: 200,
            own: 200,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/reply",
        Rule::Ticket {
            full: 303,
            own: 303,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/properties",
        Rule::Ticket {
            full: 303,
            own: 403,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/follow",
        Rule::Ticket {
            full: 303,
            own: 303,
        },
    ),
    // "By the SLAs' conditions": choosing takes the edit permission.
    (
        "POST",
        "/agent/tickets/{reference}/sla",
        Rule::Ticket {
            full: 303,
            own: 403,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/lock",
        Rule::Ticket {
            full: 303,
            own: 303,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/merge",
        Rule::Ticket {
            full: 422,
            own: 403,
        },
    ),
    (
        "GET",
        "/agent/tickets/{reference}/merge",
        Rule::Ticket {
            full: 422,
            own: 403,
        },
    ),
    // The matrix's tickets came by no mail: nobody finds an original.
    (
        "GET",
        "/agent/tickets/{reference}/messages/{message_id}/original",
        Rule::Ticket {
            full: 404,
            own: 404,
        },
    ),
    (
        "GET",
        "/agent/tickets/{reference}/attachments/{attachment_id}",
        Rule::Ticket {
            full: 200,
            own: 200,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/ccs",
        Rule::Ticket {
            full: 422,
            own: 403,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/ccs/{person_id}/remove",
        Rule::Ticket {
            full: 404,
            own: 403,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/typing",
        Rule::Ticket {
            full: 204,
            own: 204,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/snippets/{snippet_id}",
        Rule::Ticket {
            full: 200,
            own: 200,
        },
    ),
    // A shared macro that sets the status: previewing it takes the edit
    // permission. The apply form names no macro here (the macro tests
    // apply them).
    (
        "GET",
        "/agent/tickets/{reference}/macro",
        Rule::Ticket {
            full: 200,
            own: 403,
        },
    ),
    (
        "POST",
        "/agent/tickets/{reference}/macro",
        Rule::Ticket {
            full: 404,
            own: 404,
        },
    ),
    ("GET", "/agent/macros", Rule::Agent(200)),
    ("GET", "/agent/macros/new", Rule::Agent(200)),
    ("POST", "/agent/macros/new", Rule::Agent(422)),
    ("GET", "/agent/macros/{id}", Rule::Permitted(200)),
    ("POST", "/agent/macros/{id}", Rule::Permitted(422)),
    ("POST", "/agent/macros/{id}/delete", Rule::Agent(404)),
    // Saved views: a view that does not exist is nobody's.
    ("POST", "/agent/views", Rule::Agent(422)),
    ("GET", "/agent/views/{id}", Rule::Agent(404)),
    ("POST", "/agent/views/{id}", Rule::Agent(404)),
    ("POST", "/agent/views/{id}/delete", Rule::Agent(404)),
    // Reports take "reports.view"; they count only what the reader sees.
    ("GET", "/agent/reports", Rule::Permitted(200)),
    ("GET", "/agent/reports/hostnames", Rule::Permitted(200)),
    ("GET", "/agent/reports/hostnames.csv", Rule::Permitted(200)),
    (
        "GET",
        "/agent/reports/hostnames/export.csv",
        Rule::Permitted(200),
    ),
    ("GET", "/agent/reports/builder", Rule::Permitted(200)),
    (
        "GET",
        "/agent/reports/builder/export.csv",
        Rule::Permitted(200),
    ),
    ("POST", "/agent/reports/saved", Rule::Permitted(422)),
    // A report nobody shared: not found for those who may read reports.
    ("GET", "/agent/reports/{id}", Rule::Permitted(404)),
    ("POST", "/agent/reports/{id}", Rule::Permitted(404)),
    (
        "GET",
        "/agent/reports/{id}/export.csv",
        Rule::Permitted(404),
    ),
    ("POST", "/agent/reports/{id}/delete", Rule::Permitted(404)),
    (
        "POST",
        "/agent/reports/{id}/favourite",
        Rule::Permitted(404),
    ),
    ("POST", "/agent/reports/{id}/schedule", Rule::Permitted(404)),
    ("GET", "/agent/tickets.csv", Rule::Permitted(200)),
    ("GET", "/agent/snippets", Rule::Agent(200)),
    ("GET", "/agent/snippets/new", Rule::Agent(200)),
    ("POST", "/agent/snippets/new", Rule::Agent(422)),
    // A shared snippet: changing it takes "shared.manage".
    ("GET", "/agent/snippets/{id}", Rule::Permitted(200)),
    ("POST", "/agent/snippets/{id}", Rule::Permitted(422)),
    // Tried on a snippet that does not exist, so that nobody deletes the
    // shared one before the others have asked.
    ("POST", "/agent/snippets/{id}/delete", Rule::Agent(404)),
    (
        "POST",
        "/agent/tickets/{reference}/access-links/revoke",
        Rule::Ticket {
            full: 303,
            own: 403,
        },
    ),
    ("GET", "/agent/people", Rule::Permitted(200)),
    ("GET", "/agent/people/new", Rule::Permitted(200)),
    ("POST", "/agent/people/new", Rule::Permitted(422)),
    ("GET", "/agent/people/{id}", Rule::Permitted(200)),
    ("POST", "/agent/people/{id}", Rule::Permitted(422)),
    ("POST", "/agent/people/{id}/emails", Rule::Permitted(422)),
    (
        "POST",
        "/agent/people/{id}/emails/{email_id}/remove",
        Rule::Permitted(404),
    ),
    (
        "POST",
        "/agent/people/{id}/emails/{email_id}/primary",
        Rule::Permitted(404),
    ),
    ("POST", "/agent/people/{id}/merge", Rule::Permitted(422)),
    ("POST", "/agent/people/{id}/approve", Rule::Permitted(409)),
    ("GET", "/agent/organizations", Rule::Permitted(200)),
    ("POST", "/agent/organizations", Rule::Permitted(422)),
    ("GET", "/agent/organizations/{id}", Rule::Permitted(200)),
    ("POST", "/agent/organizations/{id}", Rule::Permitted(422)),
    // Tried on an organization that does not exist, so that no role
    // deletes it before the others have asked.
    (
        "GET",
        "/agent/organizations/{id}/delete",
        Rule::Permitted(404),
    ),
    (
        "POST",
        "/agent/organizations/{id}/delete",
        Rule::Permitted(404),
    ),
    (
        "POST",
        "/agent/organizations/{id}/members",
        Rule::Permitted(422),
    ),
    (
        "POST",
        "/agent/organizations/{id}/members/{person_id}/remove",
        Rule::Permitted(404),
    ),
    ("GET", "/agent/kb", Rule::Permitted(200)),
    ("GET", "/agent/kb/articles/new", Rule::Permitted(200)),
    ("POST", "/agent/kb/articles/new", Rule::Permitted(422)),
    ("GET", "/agent/kb/articles/{id}", Rule::Permitted(200)),
    ("POST", "/agent/kb/articles/{id}", Rule::Permitted(422)),
    ("POST", "/agent/kb/categories", Rule::Permitted(422)),
    ("POST", "/agent/kb/categories/{id}", Rule::Permitted(422)),
    // The category holds an article, so nobody deletes it.
    (
        "POST",
        "/agent/kb/categories/{id}/delete",
        Rule::Permitted(409),
    ),
    ("GET", "/agent/kb/comments", Rule::Permitted(200)),
    (
        "POST",
        "/agent/kb/comments/{id}/{decision}",
        Rule::Permitted(404),
    ),
    ("GET", "/agent/news", Rule::Permitted(200)),
    ("GET", "/agent/news/new", Rule::Permitted(200)),
    ("POST", "/agent/news/new", Rule::Permitted(422)),
    ("GET", "/agent/news/{id}", Rule::Permitted(404)),
    ("POST", "/agent/news/{id}", Rule::Permitted(404)),
    ("POST", "/agent/news/categories", Rule::Permitted(422)),
    (
        "POST",
        "/agent/news/categories/{id}/delete",
        Rule::Permitted(404),
    ),
    ("GET", "/admin", Rule::Admin),
    ("GET", "/admin/agents/invite", Rule::Admin),
    ("POST", "/admin/agents/invite", Rule::Admin),
    ("GET", "/admin/agents/{id}", Rule::Admin),
    ("POST", "/admin/agents/{id}", Rule::Admin),
    ("POST", "/admin/agents/{id}/access", Rule::Admin),
    ("POST", "/admin/agents/{id}/{action}", Rule::Admin),
    ("POST", "/admin/agents/{id}/trusted-ips/revoke", Rule::Admin),
    ("GET", "/admin/audit", Rule::Admin),
    ("GET", "/admin/audit.csv", Rule::Admin),
    ("POST", "/admin/tickets/survey", Rule::Admin),
    ("GET", "/admin/logins", Rule::Admin),
    ("GET", "/admin/errors", Rule::Admin),
    ("GET", "/admin/security", Rule::Admin),
    ("POST", "/admin/security/passwords/{audience}", Rule::Admin),
    ("POST", "/admin/security/logins/{audience}", Rule::Admin),
    ("POST", "/admin/security/sessions/{audience}", Rule::Admin),
    ("POST", "/admin/security/monitoring", Rule::Admin),
    ("POST", "/admin/security/two-factor", Rule::Admin),
    ("POST", "/admin/security/ip-allow-list", Rule::Admin),
    ("GET", "/admin/email", Rule::Admin),
    ("POST", "/admin/email", Rule::Admin),
    ("POST", "/admin/email/test", Rule::Admin),
    ("GET", "/admin/rules/webhooks", Rule::Admin),
    ("GET", "/admin/rules/webhooks/new", Rule::Admin),
    ("POST", "/admin/rules/webhooks/new", Rule::Admin),
    ("GET", "/admin/rules/webhooks/{id}", Rule::Admin),
    ("POST", "/admin/rules/webhooks/{id}", Rule::Admin),
    ("POST", "/admin/rules/webhooks/{id}/test", Rule::Admin),
    (
        "POST",
        "/admin/rules/webhooks/{id}/deliveries/{delivery_id}/again",
        Rule::Admin,
    ),
    ("POST", "/admin/rules/webhooks/{id}/delete", Rule::Admin),
    ("GET", "/admin/rules/triggers", Rule::Admin),
    ("GET", "/admin/rules/triggers/new", Rule::Admin),
    ("POST", "/admin/rules/triggers/new", Rule::Admin),
    ("GET", "/admin/rules/triggers/{id}", Rule::Admin),
    ("POST", "/admin/rules/triggers/{id}", Rule::Admin),
    ("POST", "/admin/rules/triggers/{id}/move", Rule::Admin),
    ("POST", "/admin/rules/triggers/{id}/delete", Rule::Admin),
    ("GET", "/admin/rules/escalations", Rule::Admin),
    ("GET", "/admin/rules/escalations/new", Rule::Admin),
    ("POST", "/admin/rules/escalations/new", Rule::Admin),
    ("GET", "/admin/rules/escalations/{id}", Rule::Admin),
    ("POST", "/admin/rules/escalations/{id}", Rule::Admin),
    ("POST", "/admin/rules/escalations/{id}/delete", Rule::Admin),
    ("GET", "/admin/rules/slas", Rule::Admin),
    ("GET", "/admin/rules/slas/new", Rule::Admin),
    ("POST", "/admin/rules/slas/new", Rule::Admin),
    ("GET", "/admin/rules/slas/{id}", Rule::Admin),
    ("POST", "/admin/rules/slas/{id}", Rule::Admin),
    ("POST", "/admin/rules/slas/{id}/delete", Rule::Admin),
    ("GET", "/admin/rules/business-hours", Rule::Admin),
    ("GET", "/admin/rules/business-hours/new", Rule::Admin),
    ("POST", "/admin/rules/business-hours/new", Rule::Admin),
    ("GET", "/admin/rules/business-hours/{id}", Rule::Admin),
    ("POST", "/admin/rules/business-hours/{id}", Rule::Admin),
    (
        "POST",
        "/admin/rules/business-hours/{id}/delete",
        Rule::Admin,
    ),
    ("GET", "/admin/email/accounts", Rule::Admin),
    ("POST", "/admin/email/limits", Rule::Admin),
    ("POST", "/admin/tickets/signature", Rule::Admin),
    ("GET", "/admin/email/accounts/new", Rule::Admin),
    ("POST", "/admin/email/accounts/new", Rule::Admin),
    ("GET", "/admin/email/accounts/{id}", Rule::Admin),
    ("POST", "/admin/email/accounts/{id}", Rule::Admin),
    ("POST", "/admin/email/accounts/{id}/test", Rule::Admin),
    ("POST", "/admin/email/accounts/{id}/delete", Rule::Admin),
    ("GET", "/admin/email/rejections", Rule::Admin),
    ("GET", "/admin/email/rejections/{id}/source", Rule::Admin),
    ("POST", "/admin/email/rejections/{id}/retry", Rule::Admin),
    ("GET", "/admin/email/outbox", Rule::Admin),
    ("GET", "/admin/email/outbox/{id}", Rule::Admin),
    ("POST", "/admin/email/outbox/{id}/retry", Rule::Admin),
    ("GET", "/admin/email/templates", Rule::Admin),
    ("GET", "/admin/email/templates/{key}", Rule::Admin),
    ("POST", "/admin/email/templates/{key}", Rule::Admin),
    ("POST", "/admin/email/templates/{key}/reset", Rule::Admin),
    ("GET", "/admin/jobs", Rule::Admin),
    ("POST", "/admin/jobs/{id}/retry", Rule::Admin),
    ("GET", "/admin/departments", Rule::Admin),
    ("POST", "/admin/departments", Rule::Admin),
    ("POST", "/admin/departments/{id}", Rule::Admin),
    ("POST", "/admin/departments/{id}/delete", Rule::Admin),
    ("GET", "/admin/teams", Rule::Admin),
    ("POST", "/admin/teams", Rule::Admin),
    ("GET", "/admin/teams/{id}", Rule::Admin),
    ("POST", "/admin/teams/{id}", Rule::Admin),
    ("POST", "/admin/teams/{id}/delete", Rule::Admin),
    ("GET", "/admin/permission-groups", Rule::Admin),
    ("POST", "/admin/permission-groups", Rule::Admin),
    ("GET", "/admin/permission-groups/new", Rule::Admin),
    ("GET", "/admin/permission-groups/{id}", Rule::Admin),
    ("POST", "/admin/permission-groups/{id}", Rule::Admin),
    ("POST", "/admin/permission-groups/{id}/delete", Rule::Admin),
    ("GET", "/admin/tickets", Rule::Admin),
    ("POST", "/admin/tickets/attachments", Rule::Admin),
    ("POST", "/admin/tickets/default-department", Rule::Admin),
    ("POST", "/admin/tickets/fields", Rule::Admin),
    ("GET", "/admin/tickets/fields/{id}", Rule::Admin),
    ("POST", "/admin/tickets/fields/{id}", Rule::Admin),
    ("POST", "/admin/tickets/fields/{id}/delete", Rule::Admin),
    ("POST", "/admin/tickets/priorities", Rule::Admin),
    ("GET", "/admin/help-center", Rule::Admin),
    ("GET", "/admin/chat", Rule::Admin),
    ("POST", "/admin/chat", Rule::Admin),
    ("GET", "/admin/branding", Rule::Admin),
    ("POST", "/admin/branding", Rule::Admin),
    ("POST", "/admin/branding/logo", Rule::Admin),
    ("POST", "/admin/branding/logo/delete", Rule::Admin),
    ("POST", "/admin/help-center", Rule::Admin),
    ("POST", "/admin/help-center/welcome", Rule::Admin),
    ("POST", "/admin/help-center/time-zone", Rule::Admin),
    ("GET", "/admin/api-keys", Rule::Admin),
    ("POST", "/admin/api-keys", Rule::Admin),
    ("POST", "/admin/api-keys/limits", Rule::Admin),
    ("POST", "/admin/api-keys/{id}/revoke", Rule::Admin),
    ("POST", "/admin/tickets/priorities/{id}/delete", Rule::Admin),
];

/// Who asks, in the order the matrix tries them.
struct Roles {
    anonymous: Browser,
    user: Browser,
    no_department: Browser,
    assign_only: Browser,
    full: Browser,
    admin: Browser,
}

/// The Billing department with one unassigned ticket and one assigned to
/// the assign-only agent, each with an attachment.
struct Setup {
    open: String,
    own: String,
    open_file: i64,
    own_file: i64,
    field: i64,
    team: i64,
    group: i64,
    department: i64,
    user: i64,
    organization: i64,
    article: i64,
    article_category: i64,
    /// A shared snippet.
    snippet: i64,
    /// A shared macro that sets the status.
    shared_macro: i64,
}

async fn staff(app: &TestApp, email: &str) -> Browser {
    let browser = Browser::new();
    assert_eq!(
        browser.log_in(app, email, PASSWORD).await.status(),
        303,
        "{email}"
    );
    browser
}

async fn attach(app: &TestApp, admin: &Browser, reference: &str) -> i64 {
    let path = format!("/agent/tickets/{reference}");
    let token = admin.csrf(app, &path).await;
    let form = Form::new()
        .text("csrf_token", token)
        .text("kind", "reply")
        .text("body", "A file")
        .part(
            "attachments",
            Part::bytes(b"hello".to_vec()).file_name("hello.txt"),
        );
    let response = admin
        .client
        .post(app.url(&format!("{path}/reply")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let ticket = app
        .app
        .store()
        .tickets()
        .find_ticket(&crate::helpers::ticket_ref(reference))
        .await
        .unwrap()
        .unwrap();
    app.app
        .store()
        .tickets()
        .ticket_attachments(ticket.id, true)
        .await
        .unwrap()[0]
        .id
}

async fn set_up(app: &TestApp) -> (Roles, Setup) {
    let admin = app.create_admin().await;
    let user = app
        .create_account("uma@example.org", "Uma User", AccountKind::User)
        .await;
    app.create_account(
        "carol@example.org",
        "Carol NoDepartment",
        AccountKind::Agent,
    )
    .await;
    let gus = app
        .create_account("gus@example.org", "Gus AssignOnly", AccountKind::Agent)
        .await;
    let fiona = app
        .create_account("fiona@example.org", "Fiona Full", AccountKind::Agent)
        .await;
    let system = Caller::system();
    let billing = app
        .app
        .create_department(&system, "Billing", None)
        .await
        .unwrap();
    let other = app
        .app
        .create_department(&system, "Other", None)
        .await
        .unwrap();
    let everything = [
        "tickets.reply",
        "tickets.note",
        "tickets.edit",
        "tickets.merge",
        "tickets.spam",
        "tickets.delete",
    ];
    let with_people: Vec<&str> = everything
        .iter()
        .copied()
        .chain([
            "people.view",
            "people.edit",
            "people.merge",
            "content.manage",
            "shared.manage",
            "reports.view",
        ])
        .collect();
    let full_group = app
        .app
        .create_permission_group(
            &system,
            &group("Billing full", &with_people, billing, "full"),
        )
        .await
        .unwrap();
    let assign_group = app
        .app
        .create_permission_group(
            &system,
            &group(
                "Billing assign",
                &["tickets.reply", "tickets.note"],
                billing,
                "assign",
            ),
        )
        .await
        .unwrap();
    let other_group = app
        .app
        .create_permission_group(&system, &group("Other full", &everything, other, "full"))
        .await
        .unwrap();
    let carol = app
        .app
        .store()
        .people()
        .find_person_by_email("carol@example.org")
        .await
        .unwrap()
        .unwrap();
    app.app
        .set_agent_access(&system, carol.id, &[other_group], &[])
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, gus.id, &[assign_group], &[])
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, fiona.id, &[full_group], &[])
        .await
        .unwrap();
    let team = app.app.create_team(&system, "Billing team").await.unwrap();
    let field = app
        .app
        .create_ticket_field(
            &system,
            &ferrodesk_app::FieldInput {
                name: "Invoice".into(),
                kind: "text".into(),
                ..ferrodesk_app::FieldInput::default()
            },
        )
        .await
        .unwrap();

    let admin_actor = actor_of(&admin);
    let open_ticket = |subject: &'static str| {
        let admin_actor = admin_actor.clone();
        async move {
            app.app
                .create_ticket_for_user(
                    &Caller::new(&admin_actor, "192.0.2.1"),
                    &crate::helpers::new_ticket("uma@example.org", "Uma", subject, billing, 2),
                )
                .await
                .unwrap()
                .ticket
                .reference
                .to_string()
        }
    };
    let open = open_ticket("Unassigned invoice question").await;
    let own = open_ticket("Gus's invoice question").await;
    app.app
        .change_ticket(
            &Caller::new(&admin_actor, ""),
            &crate::helpers::ticket_key(&own),
            &crate::helpers::assignment(billing, gus.id),
        )
        .await
        .unwrap();

    let user_browser = Browser::new();
    let token = user_browser.csrf(app, "/login").await;
    let logged_in = user_browser
        .post(
            app,
            "/login",
            &[
                ("email", "uma@example.org"),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(
        logged_in.status(),
        303,
        "the user signs in to the help center"
    );
    let admin_browser = staff(app, "admin@example.org").await;
    let open_file = attach(app, &admin_browser, &open).await;
    let own_file = attach(app, &admin_browser, &own).await;
    let article_category = app
        .app
        .create_article_category(
            &Caller::new(&admin_actor, ""),
            "Billing help",
            "",
            None,
            "0",
        )
        .await
        .unwrap();
    let article = app
        .app
        .save_article(
            &Caller::new(&admin_actor, ""),
            None,
            &ferrodesk_app::ArticleInput {
                title: "Paying an invoice".into(),
                category_id: article_category.to_string(),
                content: "Use the link in the invoice.".into(),
                status: "published".into(),
                ..ferrodesk_app::ArticleInput::default()
            },
        )
        .await
        .unwrap();
    let roles = Roles {
        anonymous: Browser::new(),
        user: user_browser,
        no_department: staff(app, "carol@example.org").await,
        assign_only: staff(app, "gus@example.org").await,
        full: staff(app, "fiona@example.org").await,
        admin: admin_browser,
    };
    (
        roles,
        Setup {
            open,
            own,
            open_file,
            own_file,
            field,
            team,
            group: full_group,
            department: billing,
            user: user.id,
            organization: app
                .app
                .create_organization(&Caller::new(&admin_actor, ""), "Matrix Inc")
                .await
                .unwrap(),
            article,
            article_category,
            snippet: app
                .app
                .create_snippet(
                    &Caller::new(&admin_actor, ""),
                    &ferrodesk_app::SnippetInput {
                        title: "Thanks".into(),
                        shortcut: "thanks".into(),
                        body: "Thanks, {{ user.first_name }}.".into(),
                        shared: true,
                        ..ferrodesk_app::SnippetInput::default()
                    },
                )
                .await
                .unwrap(),
            shared_macro: app
                .app
                .create_macro(
                    &Caller::new(&admin_actor, ""),
                    &ferrodesk_app::MacroInput {
                        title: "Wait for the customer".into(),
                        shared: true,
                        actions: ferrodesk_app::MacroActions {
                            status: Some("pending".into()),
                            ..ferrodesk_app::MacroActions::default()
                        },
                    },
                )
                .await
                .unwrap(),
        },
    )
}

/// The route with its placeholders filled for one ticket.
fn concrete(route: &str, setup: &Setup, own: bool) -> String {
    let (reference, file) = if own {
        (&setup.own, setup.own_file)
    } else {
        (&setup.open, setup.open_file)
    };
    let path = route
        .replace("{reference}", reference)
        .replace("{attachment_id}", &file.to_string())
        .replace("{token}", &"0".repeat(64))
        .replace("{audience}", "agents")
        .replace("{key}", "agent_invitation")
        .replace("{action}", "unlock")
        .replace("{email_id}", "999999")
        .replace("{person_id}", "999999")
        .replace("{message_id}", "1")
        .replace("{decision}", "approve")
        .replace("{delivery_id}", "999999")
        .replace("{snippet_id}", &setup.snippet.to_string());
    let id = if route.starts_with("/admin/tickets/fields") {
        setup.field
    } else if route.starts_with("/admin/teams") {
        setup.team
    } else if route.starts_with("/admin/permission-groups") {
        setup.group
    } else if route.starts_with("/admin/departments") {
        setup.department
    } else if route.starts_with("/agent/kb/articles") {
        setup.article
    } else if route.starts_with("/agent/kb/categories") {
        setup.article_category
    } else if route.starts_with("/agent/people") {
        setup.user
    } else if route.starts_with("/agent/snippets") && !route.ends_with("/delete") {
        setup.snippet
    } else if route.starts_with("/agent/macros") && !route.ends_with("/delete") {
        setup.shared_macro
    } else if route.starts_with("/agent/organizations") && !route.ends_with("/delete") {
        setup.organization
    } else {
        999_999
    };
    let path = path.replace("{id}", &id.to_string());
    if route.ends_with("/macro") {
        return format!("{path}?macro={}", setup.shared_macro);
    }
    path
}

async fn request(
    app: &TestApp,
    browser: &Browser,
    method: &str,
    path: &str,
    token: &str,
) -> reqwest::Response {
    if method == "GET" {
        return browser.get(app, path).await;
    }
    let fields = [
        ("csrf_token", token),
        ("kind", "note"),
        ("body", "Matrix note"),
        ("into", "ZZZZ-ZZZZ"),
        ("lock", "1"),
        ("following", "1"),
        ("status", "awaiting_agent"),
        ("urgency", "2"),
        ("labels", ""),
        ("agent", ""),
        ("team", ""),
        ("current_password", ""),
        ("password", ""),
        ("password_confirmation", ""),
        ("code", ""),
    ];
    // A reply keeps the status (changing it with a note needs the edit
    // permission, which is checked apart).
    let fields: Vec<(&str, &str)> = fields
        .into_iter()
        .filter(|(name, _)| !(path.ends_with("/reply") && *name == "status"))
        .collect();
    browser.post(app, path, &fields).await
}

fn is_login_redirect(response: &reqwest::Response) -> bool {
    response.status() == 303 && location(response).starts_with("/agent/login")
}

on_both_backends! { spawn_app;

    async fn every_agent_and_admin_route_answers_each_role_as_expected(app: TestApp) {
        let (roles, setup) = set_up(&app).await;
        let outsider_token = roles.anonymous.csrf(&app, "/agent/login").await;
        let user_token = roles.user.csrf(&app, "/agent/login").await;
        let mut agent_tokens = Vec::new();
        for browser in [&roles.no_department, &roles.assign_only, &roles.full, &roles.admin] {
            agent_tokens.push(browser.csrf(&app, "/agent").await);
        }
        let mut checked = 0;
        let mut failures: Vec<String> = Vec::new();
        let mut expect = |holds: bool, what: String| {
            if !holds {
                failures.push(what);
            }
        };
        for (method, route, rule) in MATRIX {
            let path = concrete(route, &setup, false);
            let label = format!("{method} {path}");
            match rule {
                Rule::Public => {
                    // A browser of its own: logging out changes the visitor's cookie.
                    let visitor = Browser::new();
                    let token = visitor.csrf(&app, "/agent/login").await;
                    let response = request(&app, &visitor, method, &path, &token).await;
                    expect(response.status().as_u16() < 500, format!("{label}: {}", response.status()));
                }
                Rule::Agent(expected) | Rule::Own(expected) | Rule::Ticket { full: expected, .. } | Rule::Permitted(expected) => {
                    for (who, browser, token) in [("anonymous", &roles.anonymous, &outsider_token), ("user", &roles.user, &user_token)] {
                        let response = request(&app, browser, method, &path, token).await;
                        expect(is_login_redirect(&response), format!("{who} {label}: {}", response.status()));
                    }
                    let agents = [("no department", &roles.no_department), ("assign only", &roles.assign_only), ("full", &roles.full), ("admin", &roles.admin)];
                    for (index, (who, browser)) in agents.into_iter().enumerate() {
                        let response = request(&app, browser, method, &path, &agent_tokens[index]).await;
                        let wanted = match rule {
                            Rule::Ticket { .. } if index < 2 => 404,
                            Rule::Permitted(_) if index < 2 => 403,
                            _ => *expected,
                        };
                        expect(response.status().as_u16() == wanted, format!("{who} {label}") + &format!(": {}", response.status()));
                    }
                    if let Rule::Ticket { own, .. } = rule {
                        let own_path = concrete(route, &setup, true);
                        let response = request(&app, &roles.assign_only, method, &own_path, &agent_tokens[1]).await;
                        expect(response.status().as_u16() == *own, format!("assign only, own ticket: {method} {own_path}") + &format!(": {}", response.status()));
                        let response = request(&app, &roles.no_department, method, &own_path, &agent_tokens[0]).await;
                        expect(response.status().as_u16() == 404, format!("no department, own ticket: {method} {own_path}") + &format!(": {}", response.status()));
                    }
                }
                Rule::Admin => {
                    for (who, browser, token) in [("anonymous", &roles.anonymous, &outsider_token), ("user", &roles.user, &user_token)] {
                        let response = request(&app, browser, method, &path, token).await;
                        expect(is_login_redirect(&response), format!("{who} {label}: {}", response.status()));
                    }
                    let agents = [("no department", &roles.no_department), ("assign only", &roles.assign_only), ("full", &roles.full)];
                    for (index, (who, browser)) in agents.into_iter().enumerate() {
                        let response = request(&app, browser, method, &path, &agent_tokens[index]).await;
                        expect(response.status() == 403, format!("{who} {label}") + &format!(": {}", response.status()));
                    }
                }
            }
            checked += 1;
        }
        // Admins last, since their requests change things.
        for (method, route, rule) in MATRIX {
            if let Rule::Admin = rule {
                let path = concrete(route, &setup, false);
                let response = request(&app, &roles.admin, method, &path, &agent_tokens[3]).await;
                let status = response.status().as_u16();
                expect(![401, 403].contains(&status) && !is_login_redirect(&response) && status < 500, format!("admin {method} {path}: {status}"));
                if *method == "GET" && !path.contains("999999") {
                    expect(status == 200, format!("admin {method} {path}: {status}"));
                }
            }
        }
        assert!(failures.is_empty(), "{} unexpected answers:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(checked, MATRIX.len());
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&setup.open)).await.unwrap().unwrap();
        let notes = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().iter().filter(|message| message.is_note).count();
        assert_eq!(notes, 2, "only the full agent and the admin wrote on the unassigned ticket");
    }
}

/// Every `.route(…)` of the agent and admin surfaces in the source, as the
/// router spells it, paired with the methods it answers.
fn routes_in_source() -> Vec<(String, String)> {
    let source_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pages");
    let mut found = Vec::new();
    let mut files = vec![source_dir];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split(".route(").skip(1) {
            let piece = piece.trim_start();
            let (route, rest) = if let Some(rest) = piece.strip_prefix('"') {
                let end = rest.find('"').unwrap();
                (rest[..end].to_owned(), &rest[end..])
            } else if let Some(rest) = piece.strip_prefix("&format!(\"{base}") {
                let end = rest.find('"').unwrap();
                (
                    format!(
                        "/agent/account{}",
                        rest[..end].replace("{{", "{").replace("}}", "}")
                    ),
                    &rest[end..],
                )
            } else if let Some(rest) = piece.strip_prefix("base,") {
                ("/agent/account".to_owned(), rest)
            } else {
                continue;
            };
            if !route.starts_with("/agent") && !route.starts_with("/admin") {
                continue;
            }
            // This route's handlers: up to the end of the builder chain.
            let end = [rest.find("\n}"), rest.find(";\n")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            let call = &rest[..end];
            for (marker, method) in [("get(", "GET"), ("post(", "POST")] {
                if call.contains(marker) {
                    found.push((method.to_owned(), route.clone()));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_matrix_lists_every_agent_and_admin_route() {
    let listed: Vec<(String, String)> = MATRIX
        .iter()
        .map(|(method, route, _)| ((*method).to_owned(), (*route).to_owned()))
        .collect();
    let in_source = routes_in_source();
    assert!(
        in_source.len() > 60,
        "the route table was read: {in_source:?}"
    );
    let missing: Vec<_> = in_source
        .iter()
        .filter(|route| !listed.contains(route))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the matrix: {missing:?}"
    );
}
