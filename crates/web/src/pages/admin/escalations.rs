//! Escalations, for admins: time-based rules ("waiting on the user for 7
//! days → resolved") with the triggers' conditions and actions (Admin →
//! Business rules → Escalations).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::rules::{Clock, EscalationInput, EscalationSummary};
use ferrodesk_app::{AppError, FieldErrors};
use serde::Deserialize;

use super::triggers::{RowFields, RuleRows};
use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{path_id, render, render_form};

const LIST: &str = "/admin/rules/escalations";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(LIST, get(list))
        .route(
            "/admin/rules/escalations/new",
            get(new_escalation).post(create),
        )
        .route("/admin/rules/escalations/{id}", get(show).post(save))
        .route("/admin/rules/escalations/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/escalations.html")]
struct ListPage {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    escalations: Vec<EscalationSummary>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("deleted", "The escalation is deleted.")]);
    render(&ListPage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: LIST },
        escalations: state.app.escalations(admin.actor()).await?,
        notice,
    })
}

/// The escalation form as sent.
#[derive(Debug, Default, Deserialize)]
struct EscalationForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_enabled: bool,
    #[serde(default)]
    clock: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    calendar: String,
    // Not flattened: a flattened list of one value reads as a string.
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

impl EscalationForm {
    fn input(self) -> EscalationInput {
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
        EscalationInput {
            all: rows.all(),
            any: rows.any(),
            actions: rows.actions(),
            name: self.name,
            is_enabled: self.is_enabled,
            clock: self.clock,
            amount: self.amount,
            unit: self.unit,
            calendar: self.calendar,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/escalation.html")]
struct EscalationPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    id: Option<i64>,
    input: EscalationInput,
    rows: RuleRows,
    calendars: Vec<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl EscalationPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("{LIST}/{id}"),
            None => format!("{LIST}/new"),
        }
    }

    fn clocks(&self) -> Vec<(&'static str, &'static str)> {
        Clock::ALL
            .iter()
            .map(|clock| (clock.key(), clock.label()))
            .collect()
    }

    fn units(&self) -> [(&'static str, &'static str); 3] {
        [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
    }

    fn is_invalid(&self, field: &str) -> bool {
        !self.errors.for_field(field).is_empty()
    }
}

struct Shown {
    id: Option<i64>,
    input: EscalationInput,
    fields: Vec<(i64, String)>,
    calendars: Vec<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

fn escalation_page(admin: &AdminSession, shown: Shown) -> WebResult<Response> {
    let has_errors = !shown.errors.is_empty();
    let rows = RuleRows::new(
        &shown.input.all,
        &shown.input.any,
        &shown.input.actions,
        &shown.fields,
    );
    render_form(
        &EscalationPage {
            chrome: admin.chrome(),
            menu: AdminMenu { current: LIST },
            csrf_token: admin.csrf_token(),
            id: shown.id,
            input: shown.input,
            rows,
            calendars: shown.calendars,
            errors: shown.errors,
            notice: shown.notice,
        },
        has_errors,
    )
}

async fn new_escalation(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    let (fields, calendars) = state.app.escalation_form_choices(admin.actor()).await?;
    escalation_page(
        &admin,
        Shown {
            id: None,
            input: EscalationInput {
                is_enabled: true,
                clock: Clock::AwaitingUser.key().to_owned(),
                amount: "7".to_owned(),
                unit: "days".to_owned(),
                ..EscalationInput::default()
            },
            fields,
            calendars,
            errors: FieldErrors::new(),
            notice: None,
        },
    )
}

async fn refused(
    state: &AppState,
    admin: &AdminSession,
    id: Option<i64>,
    input: EscalationInput,
    errors: FieldErrors,
) -> WebResult<Response> {
    let (fields, calendars) = state.app.escalation_form_choices(admin.actor()).await?;
    escalation_page(
        admin,
        Shown {
            id,
            input,
            fields,
            calendars,
            errors,
            notice: None,
        },
    )
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<EscalationForm>,
) -> WebResult<Response> {
    let input = form.input();
    match state.app.create_escalation(&admin.caller(), &input).await {
        Ok(id) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=created")).into_response()),
        Err(AppError::Invalid(errors)) => refused(&state, &admin, None, input, errors).await,
        Err(other) => Err(other.into()),
    }
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        (
            "created",
            "The escalation is added. Tickets already in its state get their clocks now.",
        ),
        (
            "saved",
            "The escalation is saved; its clocks are worked out again.",
        ),
    ]);
    let view = state.app.escalation(admin.actor(), path_id(&id)?).await?;
    escalation_page(
        &admin,
        Shown {
            id: Some(view.id),
            input: view.input,
            fields: view.fields,
            calendars: view.calendars,
            errors: FieldErrors::new(),
            notice,
        },
    )
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<EscalationForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = form.input();
    match state
        .app
        .update_escalation(&admin.caller(), id, &input)
        .await
    {
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
    state
        .app
        .delete_escalation(&admin.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to(&format!("{LIST}?notice=deleted")).into_response())
}
