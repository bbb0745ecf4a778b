use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};

/// Every admin page, and every admin form action.
const ADMIN_PAGES: [&str; 24] = [
    "/admin",
    "/admin/agents/1",
    "/admin/security",
    "/admin/audit",
    "/admin/audit.csv",
    "/admin/logins",
    "/admin/errors",
    "/admin/agents/invite",
    "/admin/email",
    "/admin/email/outbox",
    "/admin/email/outbox/1",
    "/admin/email/accounts",
    "/admin/email/accounts/new",
    "/admin/email/accounts/1",
    "/admin/email/rejections",
    "/admin/email/templates",
    "/admin/email/templates/agent_invitation",
    "/admin/jobs",
    "/admin/departments",
    "/admin/teams",
    "/admin/teams/1",
    "/admin/permission-groups",
    "/admin/permission-groups/new",
    "/admin/permission-groups/1",
];
const ADMIN_ACTIONS: [&str; 36] = [
    "/admin/agents/invite",
    "/admin/agents/1",
    "/admin/agents/1/demote",
    "/admin/agents/1/disable",
    "/admin/agents/1/unlock",
    "/admin/agents/1/reset-2fa",
    "/admin/agents/1/trusted-ips/revoke",
    "/admin/security/passwords/agents",
    "/admin/security/logins/users",
    "/admin/security/sessions/agents",
    "/admin/security/monitoring",
    "/admin/security/two-factor",
    "/admin/security/ip-allow-list",
    "/admin/email",
    "/admin/email/test",
    "/admin/email/outbox/1/retry",
    "/admin/email/accounts/new",
    "/admin/email/accounts/1",
    "/admin/email/accounts/1/test",
    "/admin/email/accounts/1/delete",
    "/admin/email/limits",
    "/admin/tickets/signature",
    "/admin/email/rejections/1/retry",
    "/admin/email/templates/agent_invitation",
    "/admin/email/templates/agent_invitation/reset",
    "/admin/jobs/1/retry",
    "/admin/agents/1/access",
    "/admin/departments",
    "/admin/departments/1",
    "/admin/departments/1/delete",
    "/admin/teams",
    "/admin/teams/1",
    "/admin/teams/1/delete",
    "/admin/permission-groups",
    "/admin/permission-groups/3",
    "/admin/permission-groups/3/delete",
];

on_both_backends! { spawn_app;

    async fn every_admin_page_and_action_is_for_admins_only(app: TestApp) {
        for path in ADMIN_PAGES {
            let response = app.get(path).await;
            assert_eq!(response.status(), 303, "visitor GET {path}");
            assert!(location(&response).starts_with("/agent/login?return_to="), "{path}");
        }
        let visitor_csrf = app.csrf_token("/agent/login").await;
        for path in ADMIN_ACTIONS {
            let response = app.post_form(path, &[("csrf_token", &visitor_csrf), ("name", "X"), ("email", "x@example.org")]).await;
            assert_eq!(response.status(), 303, "visitor POST {path}");
        }
        app.create_admin().await;
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        let csrf = app.csrf_token("/agent").await;
        for path in ADMIN_PAGES {
            assert_eq!(app.get(path).await.status(), 403, "agent GET {path}");
        }
        for path in ADMIN_ACTIONS {
            let fields = [("csrf_token", csrf.as_str()), ("name", "Mallory"), ("email", "mallory@example.org"), ("to", "x@example.org")];
            assert_eq!(app.post_form(path, &fields).await.status(), 403, "agent POST {path}");
        }
        assert!(app.app.store().people().find_person_by_email("mallory@example.org").await.unwrap().is_none(), "nothing was created");
        assert!(app.app.store().outbox().list_mail(None, 10).await.unwrap().is_empty(), "nothing was sent");
    }

    async fn admin_forms_need_the_csrf_token(app: TestApp) {
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        for path in ADMIN_ACTIONS {
            let response = app.post_form(path, &[("name", "Mallory"), ("email", "mallory@example.org")]).await;
            assert_eq!(response.status(), 403, "POST {path} without a token");
        }
        assert!(app.app.store().people().find_person_by_email("mallory@example.org").await.unwrap().is_none());
    }

    async fn an_admin_opens_every_admin_page(app: TestApp) {
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        app.app.create_team(&ferrodesk_app::Caller::system(), "First line").await.unwrap();
        for path in ADMIN_PAGES {
            let expected = if path == "/admin/email/outbox/1" || path == "/admin/email/accounts/1" { 404 } else { 200 };
            assert_eq!(app.get(path).await.status(), expected, "{path}");
        }
        assert_eq!(app.get("/admin/email/templates/no_such_template").await.status(), 404);
        assert_eq!(app.get("/admin/email/outbox/not-a-number").await.status(), 400);
    }

    async fn visitors_are_sent_to_the_staff_login(app: TestApp) {
        for (path, target) in [("/agent", "/agent/login?return_to=%2Fagent"), ("/admin", "/agent/login?return_to=%2Fadmin")] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 303, "{path}");
            assert_eq!(location(&response), target);
        }
    }

    async fn an_agent_who_is_not_an_admin_gets_403_from_the_admin_interface(app: TestApp) {
        app.create_admin().await;
        app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        assert_eq!(app.get("/agent").await.status(), 200);
        let admin = app.get("/admin").await;
        assert_eq!(admin.status(), 403);
        let html = admin.text().await.unwrap();
        assert!(html.contains("permission"));
        assert!(!html.contains("admin@example.org"), "no admin data on the refusal");
        assert!(!app.get("/agent").await.text().await.unwrap().contains("href=\"/admin\""), "no admin link for agents");
    }

    async fn admins_see_the_admin_link(app: TestApp) {
        app.create_admin().await;
        app.log_in_staff("admin@example.org", PASSWORD).await;
        assert!(app.get("/agent").await.text().await.unwrap().contains("href=\"/admin\""));
    }

    async fn a_demoted_agent_loses_access_at_once(app: TestApp) {
        let agent = app.create_agent().await;
        app.log_in_staff("agent@example.org", PASSWORD).await;
        assert_eq!(app.get("/agent").await.status(), 200);
        app.execute_sql("UPDATE people SET is_agent = FALSE").await;
        assert_eq!(app.get("/agent").await.status(), 303);
        assert_eq!(app.sessions_of(&agent).await, 0);
    }
}
