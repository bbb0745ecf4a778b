//! Branding: the product name, the help center's colour and its logo.

use askama::Template;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{AppError, Branding, FieldErrors};

use super::{AdminMenu, AdminSession, NoticeQuery};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::{HtmlForm, MessageForm};
use crate::pages::render_form;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/branding", get(show).post(save))
        .route("/admin/branding/logo", post(upload_logo))
        .route("/admin/branding/logo/delete", post(remove_logo))
}

#[derive(Template)]
#[template(path = "admin/branding.html")]
struct BrandingPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    branding: Branding,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn page(
    state: &AppState,
    admin: &AdminSession,
    typed: Option<(String, String)>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let mut branding = state.app.settings().await?.branding.clone();
    if let Some((name, accent)) = typed {
        branding.product_name = name;
        branding.accent = accent;
    }
    let has_errors = !errors.is_empty();
    render_form(
        &BrandingPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/branding",
            },
            csrf_token: admin.csrf_token(),
            branding,
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
    let notice = query.text(&[
        ("saved", "The branding is saved."),
        ("logo", "The logo is saved."),
        ("logo_removed", "The logo is removed."),
    ]);
    page(&state, &admin, None, FieldErrors::new(), notice).await
}

#[derive(Debug, Default, Deserialize)]
struct SaveForm {
    #[serde(default)]
    accent: String,
    #[serde(default)]
    product_name: String,
}
async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<SaveForm>,
) -> WebResult<Response> {
    let typed = (
        fields.product_name.as_str().to_owned(),
        fields.accent.as_str().to_owned(),
    );
    match state
        .app
        .set_branding(&admin.caller(), &typed.0, &typed.1)
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/branding?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => page(&state, &admin, Some(typed), errors, None).await,
        Err(other) => Err(other.into()),
    }
}

async fn upload_logo(
    State(state): State<AppState>,
    admin: AdminSession,
    request: Request,
) -> WebResult<Response> {
    let form = MessageForm::read(&state.app, admin.actor(), request).await?;
    let mut errors = form.file_errors;
    let outcome = match form.files.first() {
        Some(file) if errors.is_empty() => {
            state.app.set_brand_logo(&admin.caller(), Some(file)).await
        }
        _ => {
            errors.add("logo", "Choose an image file.");
            Err(AppError::Invalid(errors))
        }
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/admin/branding?notice=logo").into_response()),
        Err(AppError::Invalid(errors)) => page(&state, &admin, None, errors, None).await,
        Err(other) => Err(other.into()),
    }
}

async fn remove_logo(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    state.app.set_brand_logo(&admin.caller(), None).await?;
    Ok(Redirect::to("/admin/branding?notice=logo_removed").into_response())
}
