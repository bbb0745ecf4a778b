//! SLAs, for admins: response and resolution targets with warnings, in a
//! calendar's working time, applied by criteria, with actions for a missed
//! target (Admin → Business rules → SLAs).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::rules::{SlaInput, SlaSummary, SlaTest, TARGETS};
use ferrodesk_app::{AppError, FieldErrors};
use serde::Deserialize;

use super::triggers::{RowFields, RuleRows};
use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{path_id, render, render_form};

const LIST: &str = "/admin/rules/slas";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(LIST, get(list))
        .route("/admin/rules/slas/new", get(new_sla).post(create))
        .route("/admin/rules/slas/{id}", get(show).post(save))
        .route("/admin/rules/slas/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/slas.html")]
struct ListPage {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    slas: Vec<SlaSummary>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("deleted", "The SLA is deleted.")]);
    render(&ListPage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: LIST },
        slas: state.app.slas(admin.actor()).await?,
        notice,
    })
}

/// The SLA form as sent (rows as parallel lists, not flattened: a
/// flattened list of one value reads as a string).
#[derive(Debug, Default, Deserialize)]
struct SlaForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_enabled: bool,
    #[serde(default)]
    calendar: String,
    #[serde(default)]
    first_response_hours: String,
    #[serde(default)]
    first_response_warn: String,
    #[serde(default)]
    next_response_hours: String,
    #[serde(default)]
    next_response_warn: String,
    #[serde(default)]
    resolution_hours: String,
    #[serde(default)]
    resolution_warn: String,
    #[serde(default)]
    all_field: Vec<String>,
    #[serde(default)]
    all_operator: Vec<String>,
    #[serde(default)]
    all_value: Vec<String>,
    #[serde(default)]
    any_field: Vec<String>,
    #[serde(default)]
    any_operator: Vec<String>,
    #[serde(default)]
    any_value: Vec<String>,
    #[serde(default)]
    action_kind: Vec<String>,
    #[serde(default)]
    action_value: Vec<String>,
    #[serde(default)]
    action_subject: Vec<String>,
    #[serde(default)]
    action_body: Vec<String>,
}

impl SlaForm {
    fn input(self) -> SlaInput {
        let rows = RowFields {
            all_field: self.all_field,
            all_operator: self.all_operator,
            all_value: self.all_value,
            any_field: self.any_field,
            any_operator: self.any_operator,
            any_value: self.any_value,
            action_kind: self.action_kind,
            action_value: self.action_value,
            action_subject: self.action_subject,
            action_body: self.action_body,
        };
        SlaInput {
            all: rows.all(),
            any: rows.any(),
            actions: rows.actions(),
            name: self.name,
            is_enabled: self.is_enabled,
            calendar: self.calendar,
            targets: vec![
                (
                    "first_response".into(),
                    self.first_response_hours,
                    self.first_response_warn,
                ),
                (
                    "next_response".into(),
                    self.next_response_hours,
                    self.next_response_warn,
                ),
                (
                    "resolution".into(),
                    self.resolution_hours,
                    self.resolution_warn,
                ),
            ],
        }
    }
}

#[derive(Template)]
#[template(path = "admin/sla.html")]
struct SlaPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    id: Option<i64>,
    input: SlaInput,
    rows: RuleRows,
    calendars: Vec<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test: Option<SlaTest>,
    test_reference: String,
}

impl SlaPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("{LIST}/{id}"),
            None => format!("{LIST}/new"),
        }
    }

    /// Each target: (key, words, hours, warn after).
    fn targets(&self) -> Vec<(&'static str, &'static str, String, String)> {
        TARGETS
            .iter()
            .map(|(key, words)| {
                let (hours, warn) = self
                    .input
                    .targets
                    .iter()
                    .find(|(kind, _, _)| kind == key)
                    .map(|(_, hours, warn)| (hours.clone(), warn.clone()))
                    .unwrap_or_default();
                (*key, *words, hours, warn)
            })
            .collect()
    }

    fn is_invalid(&self, field: &str) -> bool {
        !self.errors.for_field(field).is_empty()
    }
}

struct Shown {
    id: Option<i64>,
    input: SlaInput,
    fields: Vec<(i64, String)>,
    calendars: Vec<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test: Option<SlaTest>,
    test_reference: String,
}

fn sla_page(admin: &AdminSession, shown: Shown) -> WebResult<Response> {
    let has_errors = !shown.errors.is_empty();
    let rows = RuleRows::new(
        &shown.input.all,
        &shown.input.any,
        &shown.input.actions,
        &shown.fields,
    );
    render_form(
        &SlaPage {
            chrome: admin.chrome(),
            menu: AdminMenu { current: LIST },
            csrf_token: admin.csrf_token(),
            id: shown.id,
            input: shown.input,
            rows,
            calendars: shown.calendars,
            errors: shown.errors,
            notice: shown.notice,
            test: shown.test,
            test_reference: shown.test_reference,
        },
        has_errors,
    )
}

async fn new_sla(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    let (fields, calendars) = state.app.sla_form_choices(admin.actor()).await?;
    sla_page(
        &admin,
        Shown {
            id: None,
            input: SlaInput {
                is_enabled: true,
                calendar: calendars.first().cloned().unwrap_or_default(),
                targets: vec![
                    ("first_response".into(), "4".into(), "3".into()),
                    ("next_response".into(), "8".into(), "6".into()),
                    ("resolution".into(), "40".into(), "32".into()),
                ],
                ..SlaInput::default()
            },
            fields,
            calendars,
            errors: FieldErrors::new(),
            notice: None,
            test: None,
            test_reference: String::new(),
        },
    )
}

async fn refused(
    state: &AppState,
    admin: &AdminSession,
    id: Option<i64>,
    input: SlaInput,
    errors: FieldErrors,
) -> WebResult<Response> {
    let (fields, calendars) = state.app.sla_form_choices(admin.actor()).await?;
    sla_page(
        admin,
        Shown {
            id,
            input,
            fields,
            calendars,
            errors,
            notice: None,
            test: None,
            test_reference: String::new(),
        },
    )
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<SlaForm>,
) -> WebResult<Response> {
    let input = form.input();
    match state.app.create_sla(&admin.caller(), &input).await {
        Ok(id) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=created")).into_response()),
        Err(AppError::Invalid(errors)) => refused(&state, &admin, None, input, errors).await,
        Err(other) => Err(other.into()),
    }
}

/// "Test against a ticket", sent by GET: it changes nothing.
#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    notice: Option<String>,
    #[serde(default)]
    test: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let reference = query.test.clone().unwrap_or_default().trim().to_owned();
    let query = NoticeQuery::from(query.notice);
    let notice = query.text(&[
        (
            "created",
            "The SLA is added. It applies to each ticket from its next change.",
        ),
        (
            "saved",
            "The SLA is saved. Tickets take the change at their next change.",
        ),
    ]);
    let view = state.app.sla(admin.actor(), id).await?;
    let mut errors = FieldErrors::new();
    let test = if reference.is_empty() {
        None
    } else {
        match state.app.test_sla(admin.actor(), id, &reference).await {
            Ok(test) => Some(test),
            Err(AppError::Invalid(found)) => {
                errors = found;
                None
            }
            Err(other) => return Err(other.into()),
        }
    };
    sla_page(
        &admin,
        Shown {
            id: Some(view.id),
            input: view.input,
            fields: view.fields,
            calendars: view.calendars,
            errors,
            notice,
            test,
            test_reference: reference,
        },
    )
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<SlaForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = form.input();
    match state.app.update_sla(&admin.caller(), id, &input).await {
        Ok(()) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=saved")).into_response()),
        Err(AppError::Invalid(errors)) => refused(&state, &admin, Some(id), input, errors).await,
        Err(other) => Err(other.into()),
    }
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.app.delete_sla(&admin.caller(), path_id(&id)?).await?;
    Ok(Redirect::to(&format!("{LIST}?notice=deleted")).into_response())
}
