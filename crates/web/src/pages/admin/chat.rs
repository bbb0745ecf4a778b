//! Admin → Chat: whether visitors are offered chat, in which departments
//! and how each routes new chats, how long they wait before being offered
//! to leave a request, the greeting, the embedded button, the other sites
//! whose pages may open the chat socket, and how long ended chats are
//! kept.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ferrodesk_app::chat::{ChatSettings, ChatSettingsInput};
use ferrodesk_app::{AppError, FieldErrors};
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::render_form;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/chat", get(show).post(save))
}

#[derive(Template)]
#[template(path = "admin/chat.html")]
struct ChatPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    enabled: bool,
    /// Every department: (id, name, offered, round robin).
    departments: Vec<(i64, String, bool, bool)>,
    wait_seconds: String,
    welcome: String,
    allowed_origins: String,
    chats_per_agent: String,
    ack_seconds: String,
    require_email: bool,
    button_label: String,
    button_colour: String,
    retention_days: String,
    public_url: &'a str,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn page(
    state: &AppState,
    admin: &AdminSession,
    typed: Option<&ChatSettingsInput>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let saved: ChatSettings = state.app.chat_settings().await?;
    let input = match typed {
        Some(input) => input.clone(),
        None => ChatSettingsInput::from(&saved),
    };
    let departments = state
        .app
        .store()
        .departments()
        .list_departments()
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|department| {
            let id = department.id.to_string();
            let offered = input.department_ids.contains(&id);
            let round_robin = input.round_robin_department_ids.contains(&id);
            (department.id, department.name, offered, round_robin)
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &ChatPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/chat",
            },
            csrf_token: admin.csrf_token(),
            enabled: input.enabled,
            departments,
            wait_seconds: input.wait_seconds,
            welcome: input.welcome,
            allowed_origins: input.allowed_origins,
            chats_per_agent: input.chats_per_agent,
            ack_seconds: input.ack_seconds,
            require_email: input.require_email,
            button_label: input.button_label,
            button_colour: input.button_colour,
            retention_days: input.retention_days,
            public_url: state.app.public_url(),
            errors,
            notice,
        },
        has_errors,
    )
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("saved", "The chat settings are saved.")]);
    page(&state, &admin, None, FieldErrors::new(), notice).await
}

#[derive(Debug, Default, Deserialize)]
struct ChatForm {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    department: Vec<String>,
    #[serde(default)]
    wait_seconds: String,
    #[serde(default)]
    welcome: String,
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    chats_per_agent: String,
    #[serde(default)]
    round_robin: Vec<String>,
    #[serde(default)]
    ack_seconds: String,
    #[serde(default)]
    require_email: bool,
    #[serde(default)]
    button_label: String,
    #[serde(default)]
    button_colour: String,
    #[serde(default)]
    retention_days: String,
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<ChatForm>,
) -> WebResult<Response> {
    let input = ChatSettingsInput {
        enabled: form.enabled,
        department_ids: form.department,
        wait_seconds: form.wait_seconds,
        welcome: form.welcome,
        allowed_origins: form.allowed_origins,
        chats_per_agent: form.chats_per_agent,
        round_robin_department_ids: form.round_robin,
        ack_seconds: form.ack_seconds,
        require_email: form.require_email,
        button_label: form.button_label,
        button_colour: form.button_colour,
        retention_days: form.retention_days,
    };
    match state.app.set_chat_settings(&admin.caller(), &input).await {
        Ok(()) => Ok(Redirect::to("/admin/chat?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => page(&state, &admin, Some(&input), errors, None).await,
        Err(other) => Err(other.into()),
    }
}
