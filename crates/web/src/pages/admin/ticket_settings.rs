//! Ticket settings in the admin interface: custom fields and what may be
//! attached to messages.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, AttachmentLimits, DepartmentNode, FieldErrors, FieldInput, TicketFieldRecord,
    TicketPriorityRecord,
};
use ferrodesk_core::FieldKind;

use super::{AdminMenu, AdminSession, NoticeQuery};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::render_form;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tickets", get(overview))
        .route("/admin/tickets/attachments", post(save_attachments))
        .route("/admin/tickets/signature", post(save_signature))
        .route("/admin/tickets/survey", post(save_survey))
        .route(
            "/admin/tickets/default-department",
            post(save_default_department),
        )
        .route("/admin/tickets/fields", post(create_field))
        .route("/admin/tickets/fields/{id}", get(field).post(update_field))
        .route("/admin/tickets/fields/{id}/delete", post(delete_field))
        .route("/admin/tickets/priorities", post(create_priority))
        .route(
            "/admin/tickets/priorities/{id}/delete",
            post(delete_priority),
        )
}

/// A custom field's form as sent.
#[derive(Debug, Default, Deserialize)]
struct FieldForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    choices: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    visible_to_users: bool,
    #[serde(default)]
    position: String,
}

impl From<FieldForm> for FieldInput {
    fn from(form: FieldForm) -> FieldInput {
        FieldInput {
            name: form.name,
            kind: form.kind,
            choices: form.choices,
            is_required: form.required,
            visible_to_users: form.visible_to_users,
            position: form.position,
        }
    }
}

/// Which form of the page had errors.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failed {
    Nothing,
    NewField,
    Attachments,
    Priority,
    DefaultDepartment,
    /// The default signature, as typed.
    Signature(String),
    /// The survey's settings, as typed.
    Survey(ferrodesk_app::SurveySettings),
}

#[derive(Template)]
#[template(path = "admin/tickets.html")]
struct OverviewPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    fields: Vec<TicketFieldRecord>,
    priorities: Vec<TicketPriorityRecord>,
    kinds: [FieldKind; 7],
    limits: AttachmentLimits,
    /// The default reply signature, as saved or as typed when refused.
    signature: String,
    /// The satisfaction survey, as saved or as typed when refused.
    survey: ferrodesk_app::SurveySettings,
    placeholders: String,
    departments: Vec<DepartmentNode>,
    typed: FieldInput,
    failed: Failed,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl OverviewPage<'_> {
    fn kind_label(&self, key: &str) -> &'static str {
        FieldKind::from_key(key).map_or("Unknown", FieldKind::label)
    }

    fn blocked_text(&self) -> String {
        self.limits.blocked_extensions.join(", ")
    }

    fn failed_signature(&self) -> bool {
        matches!(self.failed, Failed::Signature(_))
    }

    fn failed_survey(&self) -> bool {
        matches!(self.failed, Failed::Survey(_))
    }

    fn failed_new_field(&self) -> bool {
        self.failed == Failed::NewField
    }

    fn failed_attachments(&self) -> bool {
        self.failed == Failed::Attachments
    }

    fn failed_priority(&self) -> bool {
        self.failed == Failed::Priority
    }

    fn failed_default_department(&self) -> bool {
        self.failed == Failed::DefaultDepartment
    }
}

async fn overview_page(
    state: &AppState,
    admin: &AdminSession,
    typed: FieldInput,
    failed: Failed,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    let signature = match &failed {
        Failed::Signature(typed) => typed.clone(),
        _ => state
            .app
            .settings()
            .await?
            .replies
            .default_signature
            .clone(),
    };
    let survey = match &failed {
        Failed::Survey(typed) => typed.clone(),
        _ => state.app.settings().await?.surveys.clone(),
    };
    render_form(
        &OverviewPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/tickets",
            },
            csrf_token: admin.csrf_token(),
            fields: state.app.ticket_fields(admin.actor()).await?,
            priorities: state.app.ticket_priorities(admin.actor()).await?,
            kinds: FieldKind::ALL,
            limits: state.app.settings().await?.attachments.clone(),
            signature,
            survey,
            placeholders: ferrodesk_app::SIGNATURE_PLACEHOLDERS.join(" "),
            departments: state.app.departments(admin.actor()).await?,
            typed,
            failed,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn overview(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("created", "The field is added."),
        ("deleted", "The field is deleted."),
        ("saved", "The attachment limits are saved."),
        ("signature", "The default signature is saved."),
        ("survey", "The satisfaction survey is saved."),
        ("priority_added", "The priority is added."),
        ("priority_deleted", "The priority is deleted."),
        ("default_saved", "The default department is saved."),
    ]);
    overview_page(
        &state,
        &admin,
        FieldInput::default(),
        Failed::Nothing,
        FieldErrors::new(),
        notice,
    )
    .await
}

fn refused(error: AppError) -> WebResult<FieldErrors> {
    match error {
        AppError::Invalid(errors) => Ok(errors),
        other => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SaveAttachmentsForm {
    #[serde(default)]
    blocked_extensions: String,
    #[serde(default)]
    max_file_mib: String,
    #[serde(default)]
    max_files_per_message: String,
}
#[derive(Debug, Default, Deserialize)]
struct SignatureForm {
    #[serde(default)]
    default_signature: String,
}

async fn save_signature(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<SignatureForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_default_signature(&admin.caller(), &form.default_signature)
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/tickets?notice=signature#signature").into_response()),
        Err(error) => {
            let errors = refused(error)?;
            overview_page(
                &state,
                &admin,
                FieldInput::default(),
                Failed::Signature(form.default_signature),
                errors,
                None,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct SurveyForm {
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    good_words: String,
    #[serde(default)]
    bad_words: String,
}

async fn save_survey(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<SurveyForm>,
) -> WebResult<Response> {
    let typed = ferrodesk_app::SurveySettings {
        enabled: form.enabled == "1",
        question: form.question,
        good_words: form.good_words,
        bad_words: form.bad_words,
    };
    match state.app.set_survey_settings(&admin.caller(), &typed).await {
        Ok(()) => Ok(Redirect::to("/admin/tickets?notice=survey#survey").into_response()),
        Err(error) => {
            let errors = refused(error)?;
            overview_page(
                &state,
                &admin,
                FieldInput::default(),
                Failed::Survey(typed),
                errors,
                None,
            )
            .await
        }
    }
}

async fn save_attachments(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<SaveAttachmentsForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_attachment_limits(
            &admin.caller(),
            fields.max_file_mib.as_str(),
            fields.max_files_per_message.as_str(),
            fields.blocked_extensions.as_str(),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/tickets?notice=saved").into_response()),
        Err(error) => {
            let errors = refused(error)?;
            overview_page(
                &state,
                &admin,
                FieldInput::default(),
                Failed::Attachments,
                errors,
                None,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct SaveDefaultDepartmentForm {
    #[serde(default)]
    default_department: String,
}
async fn save_default_department(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<SaveDefaultDepartmentForm>,
) -> WebResult<Response> {
    let outcome = match fields.default_department.as_str().trim().parse::<i64>() {
        Ok(id) => state.app.set_default_department(&admin.caller(), id).await,
        Err(_) => Err(AppError::invalid(
            "default_department",
            "Choose a department.",
        )),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/admin/tickets?notice=default_saved").into_response()),
        Err(error) => {
            let errors = refused(error)?;
            overview_page(
                &state,
                &admin,
                FieldInput::default(),
                Failed::DefaultDepartment,
                errors,
                None,
            )
            .await
        }
    }
}

async fn create_field(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<FieldForm>,
) -> WebResult<Response> {
    let input = FieldInput::from(form);
    match state.app.create_ticket_field(&admin.caller(), &input).await {
        Ok(_) => Ok(Redirect::to("/admin/tickets?notice=created").into_response()),
        Err(error) => {
            let errors = refused(error)?;
            overview_page(&state, &admin, input, Failed::NewField, errors, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/ticket_field.html")]
struct FieldPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    field: TicketFieldRecord,
    kind_label: &'static str,
    has_choices: bool,
    typed: FieldInput,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn field_page(
    state: &AppState,
    admin: &AdminSession,
    id: i64,
    typed: Option<FieldInput>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let field = state.app.ticket_field(admin.actor(), id).await?;
    let kind = FieldKind::from_key(&field.kind);
    let typed = typed.unwrap_or_else(|| FieldInput {
        name: field.name.clone(),
        kind: field.kind.clone(),
        choices: field.choices.clone(),
        is_required: field.is_required,
        visible_to_users: field.visible_to_users,
        position: field.position.to_string(),
    });
    let has_errors = !errors.is_empty();
    render_form(
        &FieldPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/tickets",
            },
            csrf_token: admin.csrf_token(),
            kind_label: kind.map_or("Unknown", FieldKind::label),
            has_choices: kind.is_some_and(FieldKind::has_choices),
            field,
            typed,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn field(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("saved", "The field is saved.")]);
    field_page(&state, &admin, id, None, FieldErrors::new(), notice).await
}

async fn update_field(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<FieldForm>,
) -> WebResult<Response> {
    let input = FieldInput::from(form);
    match state
        .app
        .update_ticket_field(&admin.caller(), id, &input)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/tickets/fields/{id}?notice=saved")).into_response())
        }
        Err(error) => {
            let errors = refused(error)?;
            field_page(&state, &admin, id, Some(input), errors, None).await
        }
    }
}

async fn delete_field(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    state.app.delete_ticket_field(&admin.caller(), id).await?;
    Ok(Redirect::to("/admin/tickets?notice=deleted").into_response())
}

#[derive(Debug, Default, Deserialize)]
struct CreatePriorityForm {
    #[serde(default)]
    priority: String,
    #[serde(default)]
    priority_position: String,
}
async fn create_priority(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<CreatePriorityForm>,
) -> WebResult<Response> {
    match state
        .app
        .create_ticket_priority(
            &admin.caller(),
            fields.priority.as_str(),
            fields.priority_position.as_str(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/admin/tickets?notice=priority_added").into_response()),
        Err(error) => {
            let errors = refused(error)?;
            overview_page(
                &state,
                &admin,
                FieldInput::default(),
                Failed::Priority,
                errors,
                None,
            )
            .await
        }
    }
}

async fn delete_priority(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = crate::pages::path_id(&id)?;
    state
        .app
        .delete_ticket_priority(&admin.caller(), id)
        .await?;
    Ok(Redirect::to("/admin/tickets?notice=priority_deleted").into_response())
}
