//! The email template editor: change a notification's subject, text and
//! HTML, preview it with sample values, or go back to the built-in version.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, FieldErrors, TemplateKind, TemplateOverview, TemplatePreview, TemplateText,
};
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/email/templates", get(list))
        .route(
            "/admin/email/templates/{key}",
            get(edit).post(save_or_preview),
        )
        .route("/admin/email/templates/{key}/reset", post(reset))
}

fn kind_of(key: &str) -> WebResult<TemplateKind> {
    TemplateKind::from_key(key).ok_or(WebError::App(AppError::NotFound))
}

#[derive(Template)]
#[template(path = "admin/templates.html")]
struct TemplatesPage {
    chrome: Chrome,
    menu: AdminMenu,
    templates: Vec<TemplateOverview>,
}

async fn list(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    let templates = state.app.mail_templates(admin.actor()).await?;
    render(&TemplatesPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email/templates",
        },
        templates,
    })
}

#[derive(Template)]
#[template(path = "admin/template_edit.html")]
struct EditorPage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    kind: TemplateKind,
    template: TemplateText,
    customized: bool,
    last_failure: Option<String>,
    preview: Option<TemplatePreview>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
struct TemplateForm {
    subject: String,
    text: String,
    html: String,
    /// Which button: `save` or `preview`.
    action: String,
}

async fn edit(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(key): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let kind = kind_of(&key)?;
    let editor = state.app.mail_template(admin.actor(), kind).await?;
    render(&EditorPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email/templates",
        },
        csrf_token: admin.csrf_token(),
        kind,
        template: editor.template,
        customized: editor.customized,
        last_failure: editor.last_failure,
        preview: None,
        errors: FieldErrors::new(),
        notice: query.text(&[
            (
                "saved",
                "The template is saved and used for the next mails.",
            ),
            ("reset", "The built-in template is in use again."),
        ]),
    })
}

async fn save_or_preview(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(key): Path<String>,
    HtmlForm(form): HtmlForm<TemplateForm>,
) -> WebResult<Response> {
    let kind = kind_of(&key)?;
    let template = TemplateText {
        subject: form.subject,
        text: form.text,
        html: form.html,
    };
    let (preview, errors) = match form.action.as_str() {
        "save" => match state
            .app
            .save_mail_template(&admin.caller(), kind, &template)
            .await
        {
            Ok(()) => {
                return Ok(Redirect::to(&format!(
                    "/admin/email/templates/{}?notice=saved",
                    kind.key()
                ))
                .into_response());
            }
            Err(AppError::Invalid(errors)) => (None, errors),
            Err(other) => return Err(other.into()),
        },
        "preview" => (
            Some(
                state
                    .app
                    .preview_mail_template(admin.actor(), kind, &template)
                    .await?,
            ),
            FieldErrors::new(),
        ),
        _ => return Err(WebError::BadRequest("Choose save or preview.".into())),
    };
    let editor = state.app.mail_template(admin.actor(), kind).await?;
    let refused = !errors.is_empty();
    let mut response = render(&EditorPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email/templates",
        },
        csrf_token: admin.csrf_token(),
        kind,
        template,
        customized: editor.customized,
        last_failure: editor.last_failure,
        preview,
        errors,
        notice: None,
    })?;
    if refused {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

async fn reset(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(key): Path<String>,
) -> WebResult<Response> {
    let kind = kind_of(&key)?;
    state.app.reset_mail_template(&admin.caller(), kind).await?;
    Ok(Redirect::to(&format!(
        "/admin/email/templates/{}?notice=reset",
        kind.key()
    ))
    .into_response())
}
