//! What the help center lets visitors do: who may register, whether guests
//! may open tickets, and which departments its form offers.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{AppError, DepartmentNode, FieldErrors, HelpCenterSettings, RegistrationMode};

use super::{AdminMenu, AdminSession, NoticeQuery};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::render_form;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/help-center", get(show).post(save))
        .route("/admin/help-center/welcome", post(save_welcome))
        .route("/admin/help-center/time-zone", post(save_time_zone))
}

#[derive(Template)]
#[template(path = "admin/help_center.html")]
struct HelpCenterPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    settings: HelpCenterSettings,
    modes: [RegistrationMode; 4],
    departments: Vec<DepartmentNode>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    /// The front page's heading and introduction, as saved or as typed.
    welcome: (String, String),
    /// Every time zone, for the default's list.
    zones: Vec<String>,
}

impl HelpCenterPage<'_> {
    /// The errors of the settings form (the front page's show by its fields).
    fn general_errors(&self) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|(field, _)| !field.starts_with("welcome_"))
            .map(|(_, message)| message)
            .collect()
    }

    fn is_mode(&self, mode: &RegistrationMode) -> bool {
        self.settings.registration == *mode
    }

    fn all_departments(&self) -> bool {
        self.settings.form_departments.is_none()
    }

    fn offers(&self, id: &i64) -> bool {
        self.settings
            .form_departments
            .as_ref()
            .is_none_or(|chosen| chosen.contains(id))
    }
}

async fn page(
    state: &AppState,
    admin: &AdminSession,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    page_with_welcome(state, admin, errors, notice, None).await
}

async fn page_with_welcome(
    state: &AppState,
    admin: &AdminSession,
    errors: FieldErrors,
    notice: Option<&'static str>,
    typed_welcome: Option<WelcomeForm>,
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    let settings = state.app.settings().await?.help_center.clone();
    let welcome = match typed_welcome {
        Some(typed) => (typed.welcome_title, typed.welcome_text),
        None => (
            settings.welcome_title.clone(),
            settings.welcome_text.clone(),
        ),
    };
    render_form(
        &HelpCenterPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/help-center",
            },
            csrf_token: admin.csrf_token(),
            settings,
            welcome,
            zones: ferrodesk_core::Zone::names(),
            modes: RegistrationMode::ALL,
            departments: state.app.departments(admin.actor()).await?,
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
        ("saved", "The help-center settings are saved."),
        ("welcome", "The front page is saved."),
        ("time-zone", "The default time zone is saved."),
    ]);
    page(&state, &admin, FieldErrors::new(), notice).await
}

/// The help-center settings as sent.
#[derive(Debug, Default, Deserialize)]
struct HelpCenterForm {
    #[serde(default)]
    registration: String,
    #[serde(default)]
    guest_tickets: bool,
    /// Every department offered, whatever `department` says.
    #[serde(default)]
    all_departments: bool,
    #[serde(default)]
    department: Vec<i64>,
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<HelpCenterForm>,
) -> WebResult<Response> {
    let departments = (!form.all_departments).then_some(form.department);
    match state
        .app
        .set_help_center(
            &admin.caller(),
            &form.registration,
            form.guest_tickets,
            departments,
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/help-center?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => page(&state, &admin, errors, None).await,
        Err(other) => Err(other.into()),
    }
}

/// The front page's heading and introduction as sent.
#[derive(Debug, Default, Deserialize)]
struct WelcomeForm {
    #[serde(default)]
    welcome_title: String,
    #[serde(default)]
    welcome_text: String,
}

async fn save_welcome(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<WelcomeForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_help_center_welcome(&admin.caller(), &form.welcome_title, &form.welcome_text)
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/help-center?notice=welcome").into_response()),
        Err(AppError::Invalid(errors)) => {
            page_with_welcome(&state, &admin, errors, None, Some(form)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The default time zone as sent.
#[derive(Debug, Default, Deserialize)]
struct TimeZoneForm {
    #[serde(default)]
    default_time_zone: String,
}

async fn save_time_zone(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<TimeZoneForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_default_zone(&admin.caller(), &form.default_time_zone)
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/help-center?notice=time-zone").into_response()),
        Err(AppError::Invalid(errors)) => page(&state, &admin, errors, None).await,
        Err(other) => Err(other.into()),
    }
}
