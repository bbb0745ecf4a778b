//! Departments, teams and permission groups through the admin pages: the
//! department tree and its rules, team members, groups that add up, deny by
//! default, the built-in groups, and an audit entry for every change.

use ferrodesk_app::AuditFilter;
use ferrodesk_core::{DepartmentAccess, Permission};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, csrf_token_in, location, spawn_app};

async fn signed_in_admin(app: &TestApp) -> String {
    app.create_admin().await;
    app.log_in_staff("admin@example.org", PASSWORD).await;
    app.csrf_token("/admin/departments").await
}

async fn add_department(
    app: &TestApp,
    token: &str,
    name: &str,
    parent: Option<i64>,
) -> reqwest::Response {
    let parent = parent.map(|id| id.to_string()).unwrap_or_default();
    app.post_form(
        "/admin/departments",
        &[("csrf_token", token), ("name", name), ("parent", &parent)],
    )
    .await
}

/// The id of the department with this path, from the app.
async fn department_id(app: &TestApp, path: &str) -> i64 {
    app.app
        .departments(&ferrodesk_app::Actor::System)
        .await
        .unwrap()
        .into_iter()
        .find(|node| node.path == path)
        .unwrap_or_else(|| panic!("no department {path}"))
        .id
}

async fn actions(app: &TestApp, prefix: &str) -> Vec<String> {
    app.app
        .store()
        .audit_log()
        .search_audit(
            &AuditFilter {
                action_prefix: Some(prefix.to_owned()),
                ..AuditFilter::default()
            },
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect()
}

on_both_backends! { spawn_app;

    async fn admins_build_a_department_tree_and_bad_changes_are_refused(app: TestApp) {
        let token = signed_in_admin(&app).await;
        assert_eq!(location(&add_department(&app, &token, "Service", None).await), "/admin/departments?notice=created");
        let service = department_id(&app, "Service").await;
        add_department(&app, &token, "Hardware", Some(service)).await;
        let hardware = department_id(&app, "Service \u{203a} Hardware").await;
        add_department(&app, &token, "Printers", Some(hardware)).await;
        let printers = department_id(&app, "Service \u{203a} Hardware \u{203a} Printers").await;
        add_department(&app, &token, "Sales", None).await;

        let page = app.get("/admin/departments").await.text().await.unwrap();
        let order: Vec<_> = ["Sales", "Service", "Hardware", "Printers"].iter().map(|name| page.find(&format!("<span class=\"department-name\">{name}</span>")).unwrap()).collect();
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "parents before children: {order:?}");

        let twin = add_department(&app, &token, "  service ", None).await;
        assert_eq!(twin.status(), 422);
        assert!(twin.text().await.unwrap().contains("already exists"));
        assert_eq!(add_department(&app, &token, "Service", Some(department_id(&app, "Sales").await)).await.status(), 303, "the same name elsewhere is fine");
        assert_eq!(add_department(&app, &token, "", None).await.status(), 422);
        assert_eq!(add_department(&app, &token, "Ghost child", Some(99_999)).await.status(), 422);
        let bad_parent = app.post_form("/admin/departments", &[("csrf_token", &token), ("name", "X"), ("parent", "not-a-number")]).await;
        assert_eq!(bad_parent.status(), 400);

        let cycle = app.post_form(&format!("/admin/departments/{service}"), &[("csrf_token", &token), ("name", "Service"), ("parent", &printers.to_string())]).await;
        assert_eq!(cycle.status(), 422);
        assert!(cycle.text().await.unwrap().contains("inside itself"));
        let has_children = app.post_form(&format!("/admin/departments/{service}/delete"), &[("csrf_token", &token)]).await;
        assert_eq!(has_children.status(), 409);

        let renamed = app.post_form(&format!("/admin/departments/{hardware}"), &[("csrf_token", &token), ("name", "Devices"), ("parent", &service.to_string())]).await;
        assert_eq!(renamed.status(), 303);
        department_id(&app, "Service \u{203a} Devices \u{203a} Printers").await;
        let moved = app.post_form(&format!("/admin/departments/{printers}"), &[("csrf_token", &token), ("name", "Printers"), ("parent", "")]).await;
        assert_eq!(moved.status(), 303);
        assert_eq!(app.post_form(&format!("/admin/departments/{printers}/delete"), &[("csrf_token", &token)]).await.status(), 303);
        assert_eq!(app.post_form(&format!("/admin/departments/{printers}/delete"), &[("csrf_token", &token)]).await.status(), 404);

        let logged = actions(&app, "department.").await;
        assert_eq!(logged.iter().filter(|action| *action == "department.created").count(), 5, "{logged:?}");
        assert_eq!(logged.iter().filter(|action| *action == "department.changed").count(), 2);
        assert_eq!(logged.iter().filter(|action| *action == "department.deleted").count(), 1);
    }

    async fn the_default_department_takes_requests_and_cannot_be_deleted_while_it_is_the_default(app: TestApp) {
        let token = signed_in_admin(&app).await;
        let support = department_id(&app, "Support").await;
        let page = app.get("/admin/departments").await.text().await.unwrap();
        assert!(page.contains("<span class=\"department-name\">Support</span> <span class=\"badge\">default</span>"), "a fresh install has its default department");
        assert!(!page.contains(&format!("/admin/departments/{support}/delete")), "no delete button for the default");
        let refused = app.post_form(&format!("/admin/departments/{support}/delete"), &[("csrf_token", &token)]).await;
        assert_eq!(refused.status(), 409);
        let renamed = app.post_form(&format!("/admin/departments/{support}"), &[("csrf_token", &token), ("name", "Help"), ("parent", "")]).await;
        assert_eq!(renamed.status(), 303, "renaming is fine");

        // Another default is chosen under Admin → Ticket settings; then the old one may go.
        add_department(&app, &token, "Service", None).await;
        let service = department_id(&app, "Service").await;
        let tickets = app.get("/admin/tickets").await.text().await.unwrap();
        assert!(tickets.contains(&format!("<option value=\"{support}\" selected>Help</option>")), "{tickets}");
        let bad = app.post_form("/admin/tickets/default-department", &[("csrf_token", &token), ("default_department", "99999")]).await;
        assert_eq!(bad.status(), 422);
        let chosen = app.post_form("/admin/tickets/default-department", &[("csrf_token", &token), ("default_department", &service.to_string())]).await;
        assert_eq!(location(&chosen), "/admin/tickets?notice=default_saved");
        let defaults: Vec<_> = app.app.store().departments().list_departments().await.unwrap().into_iter().filter(|department| department.is_default).map(|department| department.id).collect();
        assert_eq!(defaults, [service], "one default at a time");
        assert_eq!(app.post_form(&format!("/admin/departments/{support}/delete"), &[("csrf_token", &token)]).await.status(), 303);
        let missing_token = app.post_form("/admin/tickets/default-department", &[("default_department", &service.to_string())]).await;
        assert_eq!(missing_token.status(), 403, "the form needs its CSRF token");
        assert_eq!(actions(&app, "department.default_changed").await.len(), 1);
    }

    async fn teams_are_made_and_given_agents_as_members(app: TestApp) {
        let token = signed_in_admin(&app).await;
        let agent = app.create_agent().await;
        let user = app.create_account("user@example.org", "Uma User", ferrodesk_app::AccountKind::User).await;
        let made = app.post_form("/admin/teams", &[("csrf_token", &token), ("name", "First line")]).await;
        let team_path = location(&made);
        assert!(team_path.starts_with("/admin/teams/"), "{team_path}");
        let team_path = team_path.split('?').next().unwrap().to_owned();
        assert_eq!(app.post_form("/admin/teams", &[("csrf_token", &token), ("name", "FIRST LINE")]).await.status(), 422);

        let agent_id = agent.id.to_string();
        let user_id = user.id.to_string();
        let saved = app.post_form(&team_path, &[("csrf_token", &token), ("name", "First line <b>"), ("member", &agent_id), ("member", &user_id)]).await;
        assert_eq!(saved.status(), 303);
        let page = app.get(&team_path).await.text().await.unwrap();
        assert!(page.contains("First line &#60;b&#62;") || page.contains("First line &lt;b&gt;"), "escaped");
        let (_, members) = app.app.team(&ferrodesk_app::Actor::System, team_path.rsplit('/').next().unwrap().parse().unwrap()).await.unwrap();
        assert_eq!(members.iter().map(|member| member.id).collect::<Vec<_>>(), [agent.id], "users are never team members");
        let bad_member = app.post_form(&team_path, &[("csrf_token", &token), ("name", "X"), ("member", "me")]).await;
        assert_eq!(bad_member.status(), 400);

        assert_eq!(app.post_form(&format!("{team_path}/delete"), &[("csrf_token", &token)]).await.status(), 303);
        assert_eq!(app.get(&team_path).await.status(), 404);
        let logged = actions(&app, "team.").await;
        assert_eq!(logged, ["team.deleted", "team.changed", "team.created"]);
    }

    async fn permission_groups_add_up_and_nothing_is_granted_by_default(app: TestApp) {
        let token = signed_in_admin(&app).await;
        let agent = app.create_agent().await;
        add_department(&app, &token, "Support", None).await;
        let support = department_id(&app, "Support").await;
        add_department(&app, &token, "Hardware", Some(support)).await;
        let hardware = department_id(&app, "Support \u{203a} Hardware").await;
        add_department(&app, &token, "Sales", None).await;
        let sales = department_id(&app, "Sales").await;

        let nothing = app.app.effective_permissions(agent.id).await.unwrap();
        assert!(nothing.permissions.is_empty() && nothing.departments.is_empty() && !nothing.all_departments, "deny by default");

        let support_field = format!("department-{support}");
        let sales_field = format!("department-{sales}");
        let made = app.post_form("/admin/permission-groups", &[
            ("csrf_token", &token), ("name", "Support agents"), ("description", "First line"),
            ("permission", "tickets.reply"), ("permission", "tickets.note"), (&support_field, "full"), (&sales_field, "assign"),
        ]).await;
        assert_eq!(made.status(), 303);
        let support_group = location(&made).split('?').next().unwrap().rsplit('/').next().unwrap().parse::<i64>().unwrap();
        let made = app.post_form("/admin/permission-groups", &[
            ("csrf_token", &token), ("name", "Sales desk"), ("permission", "people.view"), (&sales_field, "full"),
        ]).await;
        let sales_group = location(&made).split('?').next().unwrap().rsplit('/').next().unwrap().parse::<i64>().unwrap();

        let page = app.get(&format!("/admin/agents/{}", agent.id)).await.text().await.unwrap();
        let csrf = csrf_token_in(&page);
        let saved = app.post_form(&format!("/admin/agents/{}/access", agent.id), &[("csrf_token", &csrf), ("group", &support_group.to_string()), ("group", &sales_group.to_string())]).await;
        assert_eq!(location(&saved), format!("/admin/agents/{}?notice=access", agent.id));

        let effective = app.app.effective_permissions(agent.id).await.unwrap();
        assert!(effective.has(Permission::TicketReply) && effective.has(Permission::TicketNote) && effective.has(Permission::PeopleView));
        assert!(!effective.has(Permission::TicketDelete));
        assert_eq!(effective.department_access(support), Some(DepartmentAccess::Full));
        assert_eq!(effective.department_access(hardware), Some(DepartmentAccess::Full), "sub-departments are covered");
        assert_eq!(effective.department_access(sales), Some(DepartmentAccess::Full), "the stronger grant wins");
        let page = app.get(&format!("/admin/agents/{}", agent.id)).await.text().await.unwrap();
        assert!(page.contains("Support \u{203a} Hardware: full access"), "{page}");
        assert!(page.contains("Reply to tickets"));

        // Bad forms are refused whole.
        let unknown = app.post_form("/admin/permission-groups", &[("csrf_token", &token), ("name", "Odd"), ("permission", "tickets.everything")]).await;
        assert_eq!(unknown.status(), 422);
        assert!(unknown.text().await.unwrap().contains("tickets.everything"));
        let ghost = app.post_form("/admin/permission-groups", &[("csrf_token", &token), ("name", "Odd"), ("department-99999", "full")]).await;
        assert_eq!(ghost.status(), 422);
        let level = app.post_form("/admin/permission-groups", &[("csrf_token", &token), ("name", "Odd"), (&support_field, "owner")]).await;
        assert_eq!(level.status(), 422);
        assert_eq!(app.post_form("/admin/permission-groups", &[("csrf_token", &token), ("name", "support AGENTS")]).await.status(), 422);
        assert_eq!(app.app.permission_groups(&ferrodesk_app::Actor::System).await.unwrap().len(), 4, "nothing half-made");

        // The built-in groups stay as they are.
        let builtin = app.app.permission_groups(&ferrodesk_app::Actor::System).await.unwrap().into_iter().find(|group| group.built_in.as_deref() == Some("non_destructive")).unwrap();
        assert_eq!(app.post_form(&format!("/admin/permission-groups/{}", builtin.id), &[("csrf_token", &token), ("name", "Mine now")]).await.status(), 409);
        assert_eq!(app.post_form(&format!("/admin/permission-groups/{}/delete", builtin.id), &[("csrf_token", &token)]).await.status(), 409);
        let page = app.get(&format!("/admin/permission-groups/{}", builtin.id)).await.text().await.unwrap();
        assert!(page.contains("Full access to every department") && !page.contains("Delete tickets"), "{page}");
        app.post_form(&format!("/admin/agents/{}/access", agent.id), &[("csrf_token", &csrf), ("group", &builtin.id.to_string())]).await;
        let effective = app.app.effective_permissions(agent.id).await.unwrap();
        assert!(effective.all_departments && effective.has(Permission::TicketReply) && !effective.has(Permission::TicketDelete));

        // Deleting a group takes its grants away from its agents.
        app.post_form(&format!("/admin/agents/{}/access", agent.id), &[("csrf_token", &csrf), ("group", &support_group.to_string())]).await;
        assert_eq!(app.post_form(&format!("/admin/permission-groups/{support_group}/delete"), &[("csrf_token", &token)]).await.status(), 303);
        assert!(app.app.effective_permissions(agent.id).await.unwrap().permissions.is_empty());

        let logged = actions(&app, "permission_group.").await;
        assert_eq!(logged.iter().filter(|action| *action == "permission_group.created").count(), 2, "{logged:?}");
        assert_eq!(logged.iter().filter(|action| *action == "permission_group.deleted").count(), 1);
        assert_eq!(actions(&app, "agent.access_changed").await.len(), 3);
    }
}
