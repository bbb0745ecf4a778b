//! Triggers, for admins: the list in running order (with moving one up or
//! down), the form with its criteria and actions as rows of words, and
//! "test against a ticket" on a trigger's page (Admin → Business rules →
//! Triggers).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::rules::{
    ACTION_KINDS, ActionRow, ActorKind, CHANNELS, CONDITION_FIELDS, ConditionRow, Operator,
    TriggerEvent, TriggerInput, TriggerSummary, TriggerTest,
};
use ferrodesk_app::{AppError, FieldErrors};
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{path_id, render, render_form};

const LIST: &str = "/admin/rules/triggers";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(LIST, get(list))
        .route("/admin/rules/triggers/new", get(new_trigger).post(create))
        .route("/admin/rules/triggers/{id}", get(show).post(save))
        .route("/admin/rules/triggers/{id}/move", post(move_trigger))
        .route("/admin/rules/triggers/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/triggers.html")]
struct ListPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    triggers: Vec<TriggerSummary>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("deleted", "The trigger is deleted.")]);
    render(&ListPage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: LIST },
        csrf_token: admin.csrf_token(),
        triggers: state.app.triggers(admin.actor()).await?,
        notice,
    })
}

/// The trigger form as sent: each row's inputs as parallel lists.
#[derive(Debug, Default, Deserialize)]
struct TriggerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_enabled: bool,
    #[serde(default)]
    event: Vec<String>,
    #[serde(default)]
    actor: Vec<String>,
    #[serde(default)]
    channel: Vec<String>,
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

/// A rule's conditions and actions as the form's rows, with empty ones
/// to fill in (shared by triggers and escalations).
pub(super) struct RuleRows {
    all: Vec<ConditionRow>,
    any: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
    /// Every field a condition may look at: (key, words).
    pub condition_fields: Vec<(String, String)>,
}

/// Empty rows a form offers beyond those in use.
const SPARE_CONDITIONS: usize = 2;
const SPARE_ACTIONS: usize = 2;

impl RuleRows {
    pub(super) fn new(
        all: &[ConditionRow],
        any: &[ConditionRow],
        actions: &[ActionRow],
        fields: &[(i64, String)],
    ) -> RuleRows {
        let spare = |rows: &[ConditionRow]| {
            let mut rows = rows.to_vec();
            rows.extend(std::iter::repeat_n(
                ConditionRow::default(),
                SPARE_CONDITIONS,
            ));
            rows
        };
        let mut actions = actions.to_vec();
        actions.extend(std::iter::repeat_n(ActionRow::default(), SPARE_ACTIONS));
        RuleRows {
            all: spare(all),
            any: spare(any),
            actions,
            condition_fields: CONDITION_FIELDS
                .iter()
                .map(|(key, words)| ((*key).to_owned(), (*words).to_owned()))
                .chain(
                    fields
                        .iter()
                        .map(|(id, name)| (format!("field:{id}"), format!("Field: {name}"))),
                )
                .collect(),
        }
    }

    pub(super) fn groups(&self) -> [(&'static str, &[ConditionRow], &'static str); 2] {
        [
            ("all", &self.all, "All of these hold"),
            (
                "any",
                &self.any,
                "And at least one of these (leave empty for none)",
            ),
        ]
    }

    pub(super) fn operators(&self) -> Vec<(&'static str, &'static str)> {
        Operator::ALL
            .iter()
            .map(|operator| (operator.key(), operator.label()))
            .collect()
    }

    pub(super) fn action_kinds(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        ACTION_KINDS
            .iter()
            .filter(|(key, _, _)| !key.is_empty())
            .copied()
            .collect()
    }

    /// The inputs an action takes, for the page's script.
    pub(super) fn takes_inputs(&self, kind: &str) -> &'static str {
        match kind {
            "email_address" => "value subject body",
            kind if kind.starts_with("email_") => "subject body",
            "add_note" => "body",
            "assign_nobody" | "stop" | "send_receipt" => "",
            kind if kind.starts_with("notify_") => "",
            _ => "value",
        }
    }
}

/// The condition and action rows of a rule form, as parallel lists.
#[derive(Debug, Default)]
pub(super) struct RowFields {
    pub all_field: Vec<String>,
    pub all_operator: Vec<String>,
    pub all_value: Vec<String>,
    pub any_field: Vec<String>,
    pub any_operator: Vec<String>,
    pub any_value: Vec<String>,
    pub action_kind: Vec<String>,
    pub action_value: Vec<String>,
    pub action_subject: Vec<String>,
    pub action_body: Vec<String>,
}

impl RowFields {
    pub(super) fn all(&self) -> Vec<ConditionRow> {
        condition_rows(&self.all_field, &self.all_operator, &self.all_value)
    }

    pub(super) fn any(&self) -> Vec<ConditionRow> {
        condition_rows(&self.any_field, &self.any_operator, &self.any_value)
    }

    pub(super) fn actions(&self) -> Vec<ActionRow> {
        (0..self.action_kind.len())
            .map(|index| ActionRow {
                kind: nth(&self.action_kind, index),
                value: nth(&self.action_value, index),
                subject: nth(&self.action_subject, index),
                body: nth(&self.action_body, index),
            })
            .collect()
    }
}

fn nth(list: &[String], index: usize) -> String {
    list.get(index).cloned().unwrap_or_default()
}

fn condition_rows(fields: &[String], operators: &[String], values: &[String]) -> Vec<ConditionRow> {
    (0..fields.len())
        .map(|index| ConditionRow {
            field: nth(fields, index),
            operator: nth(operators, index),
            value: nth(values, index),
        })
        .collect()
}

impl TriggerForm {
    fn input(self) -> TriggerInput {
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
        TriggerInput {
            all: rows.all(),
            any: rows.any(),
            actions: rows.actions(),
            name: self.name,
            is_enabled: self.is_enabled,
            events: self.event,
            actors: self.actor,
            channels: self.channel,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/trigger.html")]
struct TriggerPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    /// `None` for a new trigger.
    id: Option<i64>,
    input: TriggerInput,
    rows: RuleRows,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test: Option<TriggerTest>,
    test_reference: String,
    test_event: String,
}

impl TriggerPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("{LIST}/{id}"),
            None => format!("{LIST}/new"),
        }
    }

    fn events(&self) -> Vec<(&'static str, &'static str)> {
        TriggerEvent::ALL
            .iter()
            .map(|event| (event.key(), event.label()))
            .collect()
    }

    fn actors(&self) -> Vec<(&'static str, &'static str)> {
        ActorKind::ALL
            .iter()
            .map(|kind| (kind.key(), kind.label()))
            .collect()
    }

    fn channels(&self) -> &'static [(&'static str, &'static str)] {
        &CHANNELS
    }

    fn takes(list: &[String], key: &str) -> bool {
        list.iter().any(|taken| taken == key)
    }

    fn has_event(&self, key: &str) -> bool {
        Self::takes(&self.input.events, key)
    }

    fn has_actor(&self, key: &str) -> bool {
        Self::takes(&self.input.actors, key)
    }

    fn has_channel(&self, key: &str) -> bool {
        Self::takes(&self.input.channels, key)
    }

    fn is_invalid(&self, field: &str) -> bool {
        !self.errors.for_field(field).is_empty()
    }
}

struct Shown {
    id: Option<i64>,
    input: TriggerInput,
    fields: Vec<(i64, String)>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test: Option<TriggerTest>,
    test_reference: String,
    test_event: String,
}

fn trigger_page(admin: &AdminSession, shown: Shown) -> WebResult<Response> {
    let has_errors = !shown.errors.is_empty();
    let rows = RuleRows::new(
        &shown.input.all,
        &shown.input.any,
        &shown.input.actions,
        &shown.fields,
    );
    render_form(
        &TriggerPage {
            chrome: admin.chrome(),
            menu: AdminMenu { current: LIST },
            csrf_token: admin.csrf_token(),
            id: shown.id,
            input: shown.input,
            rows,
            errors: shown.errors,
            notice: shown.notice,
            test: shown.test,
            test_reference: shown.test_reference,
            test_event: shown.test_event,
        },
        has_errors,
    )
}

async fn new_trigger(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    let fields = state.app.trigger_form_fields(admin.actor()).await?;
    trigger_page(
        &admin,
        Shown {
            id: None,
            input: TriggerInput {
                is_enabled: true,
                events: vec![TriggerEvent::NewTicket.key().to_owned()],
                ..TriggerInput::default()
            },
            fields,
            errors: FieldErrors::new(),
            notice: None,
            test: None,
            test_reference: String::new(),
            test_event: String::new(),
        },
    )
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<TriggerForm>,
) -> WebResult<Response> {
    let input = form.input();
    match state.app.create_trigger(&admin.caller(), &input).await {
        Ok(id) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=created")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let fields = state.app.trigger_form_fields(admin.actor()).await?;
            trigger_page(&admin, refused(None, input, fields, errors))
        }
        Err(other) => Err(other.into()),
    }
}

fn refused(
    id: Option<i64>,
    input: TriggerInput,
    fields: Vec<(i64, String)>,
    errors: FieldErrors,
) -> Shown {
    Shown {
        id,
        input,
        fields,
        errors,
        notice: None,
        test: None,
        test_reference: String::new(),
        test_event: String::new(),
    }
}

/// "Test against a ticket", sent by GET: it changes nothing.
#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    notice: Option<String>,
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    event: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let notice = NoticeQuery::from(query.notice.clone()).text(&[
        (
            "created",
            "The trigger is added. It runs on the next event it watches.",
        ),
        ("saved", "The trigger is saved."),
        ("moved", "The order is changed."),
    ]);
    let view = state.app.trigger(admin.actor(), id).await?;
    let mut errors = FieldErrors::new();
    let event = query
        .event
        .as_deref()
        .and_then(TriggerEvent::from_key)
        .unwrap_or(TriggerEvent::NewTicket);
    let reference = query.test.unwrap_or_default().trim().to_owned();
    let test = if reference.is_empty() {
        None
    } else {
        match state
            .app
            .test_trigger(admin.actor(), id, &reference, event)
            .await
        {
            Ok(test) => Some(test),
            Err(AppError::Invalid(found)) => {
                errors = found;
                None
            }
            Err(other) => return Err(other.into()),
        }
    };
    trigger_page(
        &admin,
        Shown {
            id: Some(view.id),
            input: view.input,
            fields: view.fields,
            errors,
            notice,
            test,
            test_reference: reference,
            test_event: event.key().to_owned(),
        },
    )
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<TriggerForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = form.input();
    match state.app.update_trigger(&admin.caller(), id, &input).await {
        Ok(()) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=saved")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let fields = state.app.trigger_form_fields(admin.actor()).await?;
            trigger_page(&admin, refused(Some(id), input, fields, errors))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct MoveForm {
    #[serde(default)]
    direction: String,
}

async fn move_trigger(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<MoveForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state
        .app
        .move_trigger(&admin.caller(), id, form.direction == "up")
        .await?;
    Ok(Redirect::to(&format!("{LIST}#trigger-{id}")).into_response())
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .app
        .delete_trigger(&admin.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to(&format!("{LIST}?notice=deleted")).into_response())
}
