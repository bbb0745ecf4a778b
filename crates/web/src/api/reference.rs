//! What the key is and the lists other requests refer to: the key's agent,
//! departments and ticket fields.

use axum::extract::State;
use ferrodesk_app::{AppError, DepartmentNode, TicketFieldRecord};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiRequest, ApiResult, ListMeta, ObjectMeta};
use crate::AppState;

/// The key's agent and what the key may do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Me {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    /// The key's public id.
    pub key: String,
    /// The scopes among `API_SCOPES` that this key's patterns allow; the
    /// agent's own permissions apply on top.
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MeEnvelope {
    pub data: Me,
    pub meta: ObjectMeta,
}

/// The agent the key acts as.
#[utoipa::path(get, path = "/api/v2/me", tag = "reference",
    responses(
        (status = 200, body = MeEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn me(request: ApiRequest) -> ApiResult<axum::Json<MeEnvelope>> {
    request.scope("me.view")?;
    let Some(agent) = request.caller.actor.signed_in() else {
        return Err(AppError::Unauthenticated.into());
    };
    Ok(axum::Json(MeEnvelope {
        data: Me {
            id: agent.person_id,
            name: agent.name.clone(),
            email: agent.email.clone(),
            is_admin: agent.is_admin,
            key: request.caller.key_id.clone(),
            scopes: ferrodesk_app::API_SCOPES
                .iter()
                .filter(|scope| request.caller.scopes.allows(scope))
                .map(|scope| (*scope).to_owned())
                .collect(),
        },
        meta: ObjectMeta::default(),
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Department {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    /// Names from the top, joined with " › ".
    pub path: String,
}

impl Department {
    fn from_node(node: DepartmentNode) -> Department {
        Department {
            id: node.id,
            parent_id: node.parent_id,
            name: node.name,
            path: node.path,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DepartmentListEnvelope {
    pub data: Vec<Department>,
    pub meta: ListMeta,
}

/// The meta of a short list sent whole.
pub(crate) fn whole_list(total: usize) -> ListMeta {
    let total = total as i64;
    ListMeta {
        page: Some(1),
        count: total,
        total,
        total_pages: i64::from(total > 0),
        next_cursor: None,
    }
}

/// Every department, parents before children.
#[utoipa::path(get, path = "/api/v2/departments", tag = "reference",
    responses(
        (status = 200, body = DepartmentListEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn departments(
    State(state): State<AppState>,
    request: ApiRequest,
) -> ApiResult<axum::Json<DepartmentListEnvelope>> {
    request.scope("departments.list")?;
    let departments = state.app.departments(&request.caller.actor).await?;
    let meta = whole_list(departments.len());
    Ok(axum::Json(DepartmentListEnvelope {
        data: departments.into_iter().map(Department::from_node).collect(),
        meta,
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TicketField {
    pub id: i64,
    pub name: String,
    /// `text`, `multiline`, `number`, `date`, `checkbox`, `choice` or
    /// `multiple_choice`.
    pub kind: String,
    /// The choices of a choice field.
    pub choices: Vec<String>,
    pub is_required: bool,
    pub visible_to_users: bool,
}

impl TicketField {
    fn from_record(field: TicketFieldRecord) -> TicketField {
        TicketField {
            id: field.id,
            choices: field
                .choices
                .lines()
                .map(str::trim)
                .filter(|choice| !choice.is_empty())
                .map(str::to_owned)
                .collect(),
            name: field.name,
            kind: field.kind,
            is_required: field.is_required,
            visible_to_users: field.visible_to_users,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TicketFieldListEnvelope {
    pub data: Vec<TicketField>,
    pub meta: ListMeta,
}

/// The custom ticket fields, in their order.
#[utoipa::path(get, path = "/api/v2/ticket_fields", tag = "reference",
    responses(
        (status = 200, body = TicketFieldListEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn ticket_fields(
    State(state): State<AppState>,
    request: ApiRequest,
) -> ApiResult<axum::Json<TicketFieldListEnvelope>> {
    request.scope("ticket_fields.list")?;
    let fields = state.app.ticket_fields(&request.caller.actor).await?;
    let meta = whole_list(fields.len());
    Ok(axum::Json(TicketFieldListEnvelope {
        data: fields.into_iter().map(TicketField::from_record).collect(),
        meta,
    }))
}
