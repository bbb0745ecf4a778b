//! API keys (C13): the list with each key's agent, scopes, expiry and last
//! use; creating one (its secret is shown on the answer page only);
//! revoking; and the per-key request limit.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AgentSummary, ApiKeyInput, ApiKeyRecord, AppError, CreatedApiKey, FieldErrors,
};

use super::{AdminMenu, AdminSession, NoticeQuery};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{render_form, time};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api-keys", get(show).post(create))
        .route("/admin/api-keys/{id}/revoke", post(revoke))
        .route("/admin/api-keys/limits", post(save_limits))
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct ApiKeysPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    keys: Vec<ApiKeyRecord>,
    agents: Vec<AgentSummary>,
    requests_per_minute: u32,
    /// The key just made, shown this once.
    created: Option<CreatedApiKey>,
    typed: ApiKeyInput,
    errors: FieldErrors,
    notice: Option<&'static str>,
    now: i64,
}

impl ApiKeysPage<'_> {
    fn state_of(&self, key: &ApiKeyRecord) -> &'static str {
        if key.revoked_at.is_some() {
            "revoked"
        } else if key.expires_at.is_some_and(|expires| expires <= self.now) {
            "expired"
        } else {
            "active"
        }
    }

    fn when(&self, millis: &Option<i64>) -> String {
        millis.as_ref().map_or_else(|| "never".to_owned(), time)
    }

    fn is_chosen(&self, agent: &AgentSummary) -> bool {
        agent
            .email
            .eq_ignore_ascii_case(self.typed.agent_email.trim())
    }

    fn typed_expiry(&self) -> String {
        self.typed
            .expires_in_days
            .map(|days| days.to_string())
            .unwrap_or_default()
    }
}

async fn page(
    state: &AppState,
    admin: &AdminSession,
    created: Option<CreatedApiKey>,
    typed: ApiKeyInput,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    let agents = state
        .app
        .list_agents(admin.actor())
        .await?
        .into_iter()
        .filter(|agent| !agent.is_disabled)
        .collect();
    render_form(
        &ApiKeysPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/api-keys",
            },
            csrf_token: admin.csrf_token(),
            keys: state.app.api_keys(admin.actor()).await?,
            agents,
            requests_per_minute: state.app.settings().await?.api.requests_per_minute,
            created,
            typed,
            errors,
            notice,
            now: state.app.now().millis(),
        },
        has_errors,
    )
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        (
            "revoked",
            "The key is revoked; requests with it are refused.",
        ),
        ("limits", "The request limit is saved."),
    ]);
    page(
        &state,
        &admin,
        None,
        ApiKeyInput::default(),
        FieldErrors::new(),
        notice,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct CreateForm {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: String,
}
async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<CreateForm>,
) -> WebResult<Response> {
    let mut errors = FieldErrors::new();
    let expires = fields.expires.as_str().trim();
    let expires_in_days = if expires.is_empty() {
        None
    } else {
        match expires.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => {
                errors.add("expires", "A key expires after 1 to 3650 days, or never.");
                None
            }
        }
    };
    let input = ApiKeyInput {
        agent_email: fields.agent.as_str().to_owned(),
        name: fields.name.as_str().to_owned(),
        scopes: fields.scopes.as_str().to_owned(),
        expires_in_days,
    };
    if !errors.is_empty() {
        return page(&state, &admin, None, input, errors, None).await;
    }
    match state.app.create_api_key(&admin.caller(), &input).await {
        Ok(created) => {
            page(
                &state,
                &admin,
                Some(created),
                ApiKeyInput::default(),
                FieldErrors::new(),
                None,
            )
            .await
        }
        Err(AppError::Invalid(errors)) => page(&state, &admin, None, input, errors, None).await,
        Err(other) => Err(other.into()),
    }
}

async fn revoke(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.app.revoke_api_key(&admin.caller(), &id).await?;
    Ok(Redirect::to("/admin/api-keys?notice=revoked").into_response())
}

#[derive(Debug, Default, Deserialize)]
struct SaveLimitsForm {
    #[serde(default)]
    requests_per_minute: String,
}
async fn save_limits(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<SaveLimitsForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_api_settings(&admin.caller(), fields.requests_per_minute.as_str())
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/api-keys?notice=limits").into_response()),
        Err(AppError::Invalid(errors)) => {
            page(&state, &admin, None, ApiKeyInput::default(), errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}
