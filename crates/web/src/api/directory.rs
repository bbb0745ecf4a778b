//! People through the API: help-center users (`people`), agents and
//! organizations, with the permissions of the agent interface's directory.

use axum::extract::{Path, State};
use axum::response::Response;
use ferrodesk_app::{
    AgentSummary, AppError, DirectoryQuery, OrganizationRecord, UserInput, UserRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiJson, ApiQuery, ApiRequest, ApiResult, ListMeta, ObjectMeta, Paging, created, page_of,
    path_id, time,
};
use crate::AppState;

/// A help-center user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Person {
    pub id: i64,
    pub name: String,
    /// The primary address, where mail goes.
    pub email: String,
    /// Every address of the user, the primary one included (single user only;
    /// null in lists).
    pub emails: Option<Vec<String>>,
    pub organization_id: Option<i64>,
    pub organization_name: Option<String>,
    pub is_organization_manager: bool,
    pub is_disabled: bool,
    pub approval_pending: bool,
    pub verification_pending: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

impl Person {
    pub(crate) fn from_record(user: UserRecord) -> Person {
        Person {
            id: user.id,
            name: user.name,
            email: user.email,
            emails: None,
            organization_id: user.organization_id,
            organization_name: user.organization_name,
            is_organization_manager: user.is_organization_manager,
            is_disabled: user.is_disabled,
            approval_pending: user.approval_pending,
            verification_pending: user.verification_pending,
            created_at: time(user.created_at),
            last_login_at: user.last_login_at.map(time),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PersonEnvelope {
    pub data: Person,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PersonListEnvelope {
    pub data: Vec<Person>,
    pub meta: ListMeta,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DirectoryParams {
    /// Part of a name or of any address (at most 100 characters).
    #[param(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub search: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub count: Option<i64>,
    pub cursor: Option<String>,
}

impl DirectoryParams {
    fn query(&self, paging: &Paging) -> DirectoryQuery {
        DirectoryQuery {
            search: self.search.clone().unwrap_or_default(),
            after: self.cursor.clone().filter(|cursor| !cursor.is_empty()),
            limit: Some(paging.count),
            offset: paging.offset(),
        }
    }
}

/// Help-center users by name.
#[utoipa::path(get, path = "/api/v2/people", tag = "people",
    params(DirectoryParams),
    responses(
        (status = 200, body = PersonListEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn people(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<DirectoryParams>,
) -> ApiResult<axum::Json<PersonListEnvelope>> {
    request.scope("people.list")?;
    let paging = Paging::new(params.page, params.count, params.cursor.as_deref())?;
    let list = state
        .app
        .list_users(&request.caller.actor, &params.query(&paging))
        .await?;
    Ok(axum::Json(PersonListEnvelope {
        data: list.rows.into_iter().map(Person::from_record).collect(),
        meta: paging.meta(list.total, list.next),
    }))
}

async fn person_by_id(state: &AppState, request: &ApiRequest, id: i64) -> ApiResult<Person> {
    let detail = state.app.user_detail(&request.caller.actor, id).await?;
    let mut person = Person::from_record(detail.user);
    person.emails = Some(detail.emails.into_iter().map(|email| email.email).collect());
    Ok(person)
}

/// One user.
#[utoipa::path(get, path = "/api/v2/people/{id}", tag = "people",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    responses(
        (status = 200, body = PersonEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn person(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PersonEnvelope>> {
    request.scope("people.view")?;
    let id = path_id(&id)?;
    Ok(axum::Json(PersonEnvelope {
        data: person_by_id(&state, &request, id).await?,
        meta: ObjectMeta::default(),
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct NewPersonBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
    )]
    pub name: String,
    #[schema(max_length = 254, format = "email")]
    pub email: String,
    /// An organization's id.
    pub organization: Option<i64>,
    #[serde(default)]
    pub is_organization_manager: bool,
}

/// The name of an organization the agent can see, for the use cases that
/// take names.
async fn organization_name(
    state: &AppState,
    request: &ApiRequest,
    id: Option<i64>,
) -> ApiResult<String> {
    match id {
        None => Ok(String::new()),
        Some(id) => match state
            .app
            .organization_detail(&request.caller.actor, id)
            .await
        {
            Ok(detail) => Ok(detail.organization.name),
            Err(AppError::NotFound) => {
                Err(AppError::unresolved("organization", "No organization has that id.").into())
            }
            Err(other) => Err(other.into()),
        },
    }
}

/// Creates a help-center user.
#[utoipa::path(post, path = "/api/v2/people", tag = "people",
    request_body = NewPersonBody,
    responses(
        (status = 201, body = PersonEnvelope, headers(("Location" = String))),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn create_person(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiJson(body): ApiJson<NewPersonBody>,
) -> ApiResult<Response> {
    request.scope("people.create")?;
    let input = UserInput {
        name: body.name,
        email: body.email,
        organization: organization_name(&state, &request, body.organization).await?,
        is_organization_manager: body.is_organization_manager,
        is_disabled: false,
    };
    let id = state
        .app
        .create_user(&request.actor_caller(), &input)
        .await?;
    Ok(created(
        format!("/api/v2/people/{id}"),
        PersonEnvelope {
            data: person_by_id(&state, &request, id).await?,
            meta: ObjectMeta::default(),
        },
    ))
}

/// What to change; anything left out stays.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct PersonChangeBody {
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
    )]
    pub name: Option<String>,
    /// An organization's id; 0 for none.
    pub organization: Option<i64>,
    pub is_organization_manager: Option<bool>,
    pub is_disabled: Option<bool>,
}

/// Changes a user's name, organization and whether they may sign in.
#[utoipa::path(patch, path = "/api/v2/people/{id}", tag = "people",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    request_body = PersonChangeBody,
    responses(
        (status = 200, body = PersonEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn update_person(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PersonChangeBody>,
) -> ApiResult<axum::Json<PersonEnvelope>> {
    request.scope("people.update")?;
    let id = path_id(&id)?;
    let current = state.app.user_detail(&request.caller.actor, id).await?.user;
    let organization = match body.organization {
        None => current.organization_name.clone().unwrap_or_default(),
        Some(0) => String::new(),
        Some(organization) => organization_name(&state, &request, Some(organization)).await?,
    };
    let input = UserInput {
        name: body.name.unwrap_or(current.name),
        email: String::new(),
        organization,
        is_organization_manager: body
            .is_organization_manager
            .unwrap_or(current.is_organization_manager),
        is_disabled: body.is_disabled.unwrap_or(current.is_disabled),
    };
    state
        .app
        .update_user(&request.actor_caller(), id, &input)
        .await?;
    Ok(axum::Json(PersonEnvelope {
        data: person_by_id(&state, &request, id).await?,
        meta: ObjectMeta::default(),
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Agent {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub is_disabled: bool,
}

impl Agent {
    fn from_summary(agent: AgentSummary) -> Agent {
        Agent {
            id: agent.id,
            name: agent.name,
            email: agent.email,
            is_admin: agent.is_admin,
            is_disabled: agent.is_disabled,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct AgentEnvelope {
    pub data: Agent,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct AgentListEnvelope {
    pub data: Vec<Agent>,
    pub meta: ListMeta,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub count: Option<i64>,
}

impl PageParams {
    pub fn paging(&self) -> ApiResult<Paging> {
        Paging::new(self.page, self.count, None)
    }
}

/// Every agent.
#[utoipa::path(get, path = "/api/v2/agents", tag = "people",
    params(PageParams),
    responses(
        (status = 200, body = AgentListEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn agents(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<AgentListEnvelope>> {
    request.scope("agents.list")?;
    let paging = params.paging()?;
    let agents = state.app.agent_roster(&request.caller.actor).await?;
    let (rows, meta) = page_of(agents, &paging);
    Ok(axum::Json(AgentListEnvelope {
        data: rows.into_iter().map(Agent::from_summary).collect(),
        meta,
    }))
}

/// One agent.
#[utoipa::path(get, path = "/api/v2/agents/{id}", tag = "people",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    responses(
        (status = 200, body = AgentEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn agent(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AgentEnvelope>> {
    request.scope("agents.view")?;
    let id = path_id(&id)?;
    let agent = state
        .app
        .agent_roster(&request.caller.actor)
        .await?
        .into_iter()
        .find(|agent| agent.id == id)
        .ok_or(AppError::NotFound)?;
    Ok(axum::Json(AgentEnvelope {
        data: Agent::from_summary(agent),
        meta: ObjectMeta::default(),
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Organization {
    pub id: i64,
    pub name: String,
    pub member_count: i64,
    pub created_at: String,
}

impl Organization {
    pub(crate) fn from_record(organization: OrganizationRecord) -> Organization {
        Organization {
            id: organization.id,
            name: organization.name,
            member_count: organization.member_count,
            created_at: time(organization.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OrganizationEnvelope {
    pub data: Organization,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OrganizationListEnvelope {
    pub data: Vec<Organization>,
    pub meta: ListMeta,
}

/// Organizations by name.
#[utoipa::path(get, path = "/api/v2/organizations", tag = "people",
    params(DirectoryParams),
    responses(
        (status = 200, body = OrganizationListEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn organizations(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<DirectoryParams>,
) -> ApiResult<axum::Json<OrganizationListEnvelope>> {
    request.scope("organizations.list")?;
    let paging = Paging::new(params.page, params.count, params.cursor.as_deref())?;
    let list = state
        .app
        .list_organizations(&request.caller.actor, &params.query(&paging))
        .await?;
    Ok(axum::Json(OrganizationListEnvelope {
        data: list
            .rows
            .into_iter()
            .map(Organization::from_record)
            .collect(),
        meta: paging.meta(list.total, list.next),
    }))
}

/// One organization.
#[utoipa::path(get, path = "/api/v2/organizations/{id}", tag = "people",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    responses(
        (status = 200, body = OrganizationEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn organization(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrganizationEnvelope>> {
    request.scope("organizations.view")?;
    let id = path_id(&id)?;
    let detail = state
        .app
        .organization_detail(&request.caller.actor, id)
        .await?;
    Ok(axum::Json(OrganizationEnvelope {
        data: Organization::from_record(detail.organization),
        meta: ObjectMeta::default(),
    }))
}

/// The same as PATCH: fields left out stay as they are.
#[utoipa::path(put, path = "/api/v2/people/{id}", tag = "people",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    request_body = PersonChangeBody,
    responses(
        (status = 200, body = PersonEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn replace_person(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PersonChangeBody>,
) -> ApiResult<axum::Json<PersonEnvelope>> {
    update_person(State(state), request, Path(id), ApiJson(body)).await
}
