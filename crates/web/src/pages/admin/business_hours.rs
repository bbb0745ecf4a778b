//! Business hours, for admins: the calendars of working time that SLAs,
//! escalations and rules measure on (Admin → Business rules → Business
//! hours).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{AppError, CalendarInput, CalendarView, DAY_FIELDS, FieldErrors};
use ferrodesk_core::Zone;
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{path_id, render, render_form};

const LIST: &str = "/admin/rules/business-hours";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(LIST, get(list))
        .route(
            "/admin/rules/business-hours/new",
            get(new_calendar).post(create),
        )
        .route("/admin/rules/business-hours/{id}", get(show).post(save))
        .route("/admin/rules/business-hours/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/business_hours.html")]
struct ListPage {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    calendars: Vec<CalendarView>,
    notice: Option<&'static str>,
}

impl ListPage {
    /// When a closed calendar opens next, in its own zone.
    fn opens(&self, view: &CalendarView) -> String {
        view.next_opening
            .map(|at| view.calendar.zone.time(at))
            .unwrap_or_else(|| "not within three years".to_owned())
    }

    fn hours(&self, minutes: &u32) -> String {
        let (hours, rest) = (minutes / 60, minutes % 60);
        if rest == 0 {
            format!("{hours} h")
        } else {
            format!("{hours} h {rest} min")
        }
    }
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("deleted", "The calendar is deleted.")]);
    render(&ListPage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: LIST },
        calendars: state.app.business_calendars(admin.actor()).await?,
        notice,
    })
}

/// The calendar form as sent.
#[derive(Debug, Default, Deserialize)]
struct CalendarForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    monday: String,
    #[serde(default)]
    tuesday: String,
    #[serde(default)]
    wednesday: String,
    #[serde(default)]
    thursday: String,
    #[serde(default)]
    friday: String,
    #[serde(default)]
    saturday: String,
    #[serde(default)]
    sunday: String,
    #[serde(default)]
    holidays: String,
}

impl CalendarForm {
    fn input(self) -> CalendarInput {
        CalendarInput {
            name: self.name,
            time_zone: self.time_zone,
            days: [
                self.monday,
                self.tuesday,
                self.wednesday,
                self.thursday,
                self.friday,
                self.saturday,
                self.sunday,
            ],
            holidays: self.holidays,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/business_calendar.html")]
struct CalendarPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    /// `None` for a new calendar.
    id: Option<i64>,
    input: CalendarInput,
    errors: FieldErrors,
    notice: Option<&'static str>,
    zones: Vec<String>,
    /// Whether it is working time now, and when it next opens (stored
    /// calendars).
    status: Option<String>,
    /// The "try it" form: its fields as sent, and its answer.
    check: CheckQuery,
    check_answer: Option<Result<String, Vec<String>>>,
}

impl CalendarPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/admin/rules/business-hours/{id}"),
            None => "/admin/rules/business-hours/new".to_owned(),
        }
    }

    /// The days with their form field and the hours typed.
    fn days(&self) -> Vec<(&'static str, &'static str, &str)> {
        ferrodesk_core::business_hours::WEEKDAYS
            .iter()
            .zip(DAY_FIELDS)
            .zip(&self.input.days)
            .map(|(((_, label), field), hours)| (field, *label, hours.as_str()))
            .collect()
    }

    fn is_invalid(&self, field: &str) -> bool {
        !self.errors.for_field(field).is_empty()
    }
}

struct Shown {
    id: Option<i64>,
    input: CalendarInput,
    errors: FieldErrors,
    notice: Option<&'static str>,
    status: Option<String>,
    check: CheckQuery,
    check_answer: Option<Result<String, Vec<String>>>,
}

/// "Try it" on a calendar's page: a start in the calendar's zone and a
/// number of working hours.
#[derive(Debug, Default, Deserialize)]
struct CheckQuery {
    notice: Option<String>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    hours: String,
}

fn calendar_page(admin: &AdminSession, shown: Shown) -> WebResult<Response> {
    let has_errors = !shown.errors.is_empty();
    render_form(
        &CalendarPage {
            chrome: admin.chrome(),
            menu: AdminMenu { current: LIST },
            csrf_token: admin.csrf_token(),
            id: shown.id,
            input: shown.input,
            errors: shown.errors,
            notice: shown.notice,
            zones: Zone::names(),
            status: shown.status,
            check: shown.check,
            check_answer: shown.check_answer,
        },
        has_errors,
    )
}

async fn new_calendar(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    admin.actor().require_admin()?;
    let zone = state.app.default_zone().await?;
    calendar_page(
        &admin,
        Shown {
            id: None,
            input: CalendarInput::office_hours(zone.name()),
            errors: FieldErrors::new(),
            notice: None,
            status: None,
            check: CheckQuery::default(),
            check_answer: None,
        },
    )
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<CalendarForm>,
) -> WebResult<Response> {
    let input = form.input();
    match state
        .app
        .create_business_calendar(&admin.caller(), &input)
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=created")).into_response()),
        Err(AppError::Invalid(errors)) => calendar_page(
            &admin,
            Shown {
                id: None,
                input,
                errors,
                notice: None,
                status: None,
                check: CheckQuery::default(),
                check_answer: None,
            },
        ),
        Err(other) => Err(other.into()),
    }
}

/// Now, in words: "Working time now" or "Closed; opens …".
fn status_of(view: &CalendarView) -> String {
    match (view.working_now, view.next_opening) {
        (true, _) => "Working time now.".to_owned(),
        (false, Some(at)) => format!("Closed now; opens {}.", view.calendar.zone.time(at)),
        (false, None) => "Closed, with no working time in the next three years.".to_owned(),
    }
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(check): Query<CheckQuery>,
) -> WebResult<Response> {
    let notice = NoticeQuery::from(check.notice.clone()).text(&[
        ("created", "The calendar is added."),
        ("saved", "The calendar is saved."),
    ]);
    let view = state
        .app
        .business_calendar(admin.actor(), path_id(&id)?)
        .await?;
    let check_answer = if check.from.is_empty() && check.hours.is_empty() {
        None
    } else {
        Some(match view.due_after(&check.from, &check.hours) {
            Ok(Some(due)) => Ok(format!(
                "{} working hours from {} end {}.",
                check.hours.trim(),
                check.from.trim().replace('T', " "),
                view.calendar.zone.time(due)
            )),
            Ok(None) => Ok("The calendar has no working time within three years.".to_owned()),
            Err(AppError::Invalid(errors)) => Err(errors
                .iter()
                .map(|(_, message)| message.to_owned())
                .collect()),
            Err(other) => return Err(other.into()),
        })
    };
    calendar_page(
        &admin,
        Shown {
            id: Some(view.record.id),
            status: Some(status_of(&view)),
            input: view.input,
            errors: FieldErrors::new(),
            notice,
            check,
            check_answer,
        },
    )
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<CalendarForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = form.input();
    match state
        .app
        .update_business_calendar(&admin.caller(), id, &input)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=saved")).into_response()),
        Err(AppError::Invalid(errors)) => calendar_page(
            &admin,
            Shown {
                id: Some(id),
                input,
                errors,
                notice: None,
                status: None,
                check: CheckQuery::default(),
                check_answer: None,
            },
        ),
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
        .delete_business_calendar(&admin.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to(&format!("{LIST}?notice=deleted")).into_response())
}
