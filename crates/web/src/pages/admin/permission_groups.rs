//! Permission groups in the admin interface: the list, a form to make or
//! change one (a checkbox per permission, a choice per department), and the
//! read-only built-in groups.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, DepartmentNode, FieldErrors, GroupInput, MemberRecord, PermissionGroupRecord,
};
use ferrodesk_core::{DepartmentAccess, Permission};

use super::{AdminMenu, AdminSession, NoticeQuery};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::{render, render_form};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/permission-groups", get(list).post(create))
        .route("/admin/permission-groups/new", get(new_form))
        .route("/admin/permission-groups/{id}", get(show).post(update))
        .route("/admin/permission-groups/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/permission_groups.html")]
struct ListPage {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    groups: Vec<PermissionGroupRecord>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    render(&ListPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/permission-groups",
        },
        groups: state.app.permission_groups(admin.actor()).await?,
        notice: query.text(&[("deleted", "The group is deleted.")]),
    })
}

/// One line of the department part of the form.
struct DepartmentChoice {
    node: DepartmentNode,
    /// "", "assign" or "full".
    access: &'static str,
}

#[derive(Template)]
#[template(path = "admin/permission_group.html")]
struct GroupPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    /// `None` for a new group.
    id: Option<i64>,
    built_in: bool,
    name: String,
    description: String,
    permissions: Vec<(Permission, bool)>,
    departments: Vec<DepartmentChoice>,
    members: Vec<MemberRecord>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl GroupPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/admin/permission-groups/{id}"),
            None => "/admin/permission-groups".to_owned(),
        }
    }
}

/// What the form shows: stored values, or what was typed.
struct GroupValues {
    id: Option<i64>,
    built_in: bool,
    name: String,
    description: String,
    permissions: BTreeSet<Permission>,
    departments: BTreeMap<i64, DepartmentAccess>,
    members: Vec<MemberRecord>,
}

async fn group_page(
    state: &AppState,
    admin: &AdminSession,
    values: GroupValues,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let departments = state
        .app
        .departments(admin.actor())
        .await?
        .into_iter()
        .map(|node| DepartmentChoice {
            access: values
                .departments
                .get(&node.id)
                .map_or("", |access| access.key()),
            node,
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &GroupPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/permission-groups",
            },
            csrf_token: admin.csrf_token(),
            id: values.id,
            built_in: values.built_in,
            name: values.name,
            description: values.description,
            permissions: Permission::ALL
                .into_iter()
                .map(|permission| (permission, values.permissions.contains(&permission)))
                .collect(),
            departments,
            members: values.members,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn new_form(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    let values = GroupValues {
        id: None,
        built_in: false,
        name: String::new(),
        description: String::new(),
        permissions: BTreeSet::new(),
        departments: BTreeMap::new(),
        members: Vec::new(),
    };
    group_page(&state, &admin, values, FieldErrors::new(), None).await
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let detail = state.app.permission_group(admin.actor(), id).await?;
    let values = GroupValues {
        id: Some(id),
        built_in: detail.built_in.is_some(),
        name: detail.group.name,
        description: detail.group.description,
        permissions: detail.permissions,
        departments: detail.departments,
        members: detail.members,
    };
    let notice = query.text(&[
        (
            "created",
            "The group is made. Add agents to it on their pages.",
        ),
        (
            "saved",
            "The group is saved; its agents have the new permissions at once.",
        ),
    ]);
    group_page(&state, &admin, values, FieldErrors::new(), notice).await
}

/// The group form: `permission` checkboxes and a `department-{id}` choice
/// per department ("" for no access).
#[derive(Debug, Default, Deserialize)]
struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    permission: Vec<String>,
    /// The `department-{id}` choices (and the CSRF token).
    #[serde(flatten)]
    others: BTreeMap<String, String>,
}

impl GroupForm {
    fn input(self) -> WebResult<GroupInput> {
        let mut departments = Vec::new();
        for (field, access) in &self.others {
            let Some(suffix) = field.strip_prefix("department-") else {
                continue;
            };
            let id = suffix
                .parse::<i64>()
                .map_err(|_| WebError::BadRequest("A department field is malformed.".into()))?;
            if !access.is_empty() {
                departments.push((id, access.clone()));
            }
        }
        Ok(GroupInput {
            name: self.name,
            description: self.description,
            permissions: self.permission,
            departments,
        })
    }
}

/// The form again with what was typed and the errors.
async fn refused(
    state: &AppState,
    admin: &AdminSession,
    id: Option<i64>,
    input: &GroupInput,
    error: AppError,
) -> WebResult<Response> {
    let errors = match error {
        AppError::Invalid(errors) => errors,
        AppError::Conflict(message) => {
            let mut errors = FieldErrors::new();
            errors.add("name", message);
            errors
        }
        other => return Err(other.into()),
    };
    let members = match id {
        Some(id) => state.app.permission_group(admin.actor(), id).await?.members,
        None => Vec::new(),
    };
    let values = GroupValues {
        id,
        built_in: false,
        name: input.name.clone(),
        description: input.description.clone(),
        permissions: input
            .permissions
            .iter()
            .filter_map(|key| Permission::from_key(key))
            .collect(),
        departments: input
            .departments
            .iter()
            .filter_map(|(department, access)| {
                DepartmentAccess::from_key(access).map(|access| (*department, access))
            })
            .collect(),
        members,
    };
    group_page(state, admin, values, errors, None).await
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<GroupForm>,
) -> WebResult<Response> {
    let input = form.input()?;
    match state
        .app
        .create_permission_group(&admin.caller(), &input)
        .await
    {
        Ok(id) => Ok(
            Redirect::to(&format!("/admin/permission-groups/{id}?notice=created")).into_response(),
        ),
        Err(error) => refused(&state, &admin, None, &input, error).await,
    }
}

async fn update(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<GroupForm>,
) -> WebResult<Response> {
    let input = form.input()?;
    if state
        .app
        .permission_group(admin.actor(), id)
        .await?
        .built_in
        .is_some()
    {
        // Not a form mistake: there is no form for a built-in group.
        return Err(AppError::Conflict("The built-in groups cannot be changed.".to_owned()).into());
    }
    match state
        .app
        .update_permission_group(&admin.caller(), id, &input)
        .await
    {
        Ok(()) => Ok(
            Redirect::to(&format!("/admin/permission-groups/{id}?notice=saved")).into_response(),
        ),
        Err(error) => refused(&state, &admin, Some(id), &input, error).await,
    }
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    state
        .app
        .delete_permission_group(&admin.caller(), id)
        .await?;
    Ok(Redirect::to("/admin/permission-groups?notice=deleted").into_response())
}
