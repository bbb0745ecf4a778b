//! Webhooks, for admins: addresses outside the helpdesk that get a signed
//! POST for the events they take, with the log of each delivery, "send a
//! test" and "send again" (Admin → Business rules → Webhooks).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::webhooks::{WEBHOOK_EVENTS, WebhookInput};
use ferrodesk_app::{AppError, DeliveryRecord, FieldErrors, WebhookRecord};
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{path_id, render, render_form, time};

const LIST: &str = "/admin/rules/webhooks";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(LIST, get(list))
        .route("/admin/rules/webhooks/new", get(new_webhook).post(create))
        .route("/admin/rules/webhooks/{id}", get(show).post(save))
        .route("/admin/rules/webhooks/{id}/test", post(send_test))
        .route(
            "/admin/rules/webhooks/{id}/deliveries/{delivery_id}/again",
            post(send_again),
        )
        .route("/admin/rules/webhooks/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct ListPage {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    webhooks: Vec<WebhookRecord>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("deleted", "The webhook is deleted.")]);
    render(&ListPage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: LIST },
        webhooks: state.app.webhooks(admin.actor()).await?,
        notice,
    })
}

/// The webhook form as sent.
#[derive(Debug, Default, Deserialize)]
struct WebhookForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    event: Vec<String>,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    clear_secret: bool,
    #[serde(default)]
    is_enabled: bool,
}

impl WebhookForm {
    fn input(self) -> WebhookInput {
        WebhookInput {
            name: self.name,
            url: self.url,
            events: self.event,
            secret: self.secret,
            clear_secret: self.clear_secret,
            is_enabled: self.is_enabled,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct WebhookPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    /// `None` for a new webhook.
    id: Option<i64>,
    /// What the form shows (the secret never).
    input: WebhookInput,
    has_secret: bool,
    deliveries: Vec<DeliveryRecord>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    all_events: &'static [(&'static str, &'static str)],
}

impl WebhookPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("{LIST}/{id}"),
            None => format!("{LIST}/new"),
        }
    }

    fn takes(&self, event: &str) -> bool {
        self.input.events.iter().any(|taken| taken == event)
    }

    fn is_invalid(&self, field: &str) -> bool {
        !self.errors.for_field(field).is_empty()
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

struct Shown {
    id: Option<i64>,
    input: WebhookInput,
    has_secret: bool,
    deliveries: Vec<DeliveryRecord>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

fn webhook_page(admin: &AdminSession, shown: Shown) -> WebResult<Response> {
    let has_errors = !shown.errors.is_empty();
    render_form(
        &WebhookPage {
            chrome: admin.chrome(),
            menu: AdminMenu { current: LIST },
            csrf_token: admin.csrf_token(),
            id: shown.id,
            input: shown.input,
            has_secret: shown.has_secret,
            deliveries: shown.deliveries,
            errors: shown.errors,
            notice: shown.notice,
            all_events: &WEBHOOK_EVENTS,
        },
        has_errors,
    )
}

async fn new_webhook(admin: AdminSession) -> WebResult<Response> {
    admin.actor().require_admin()?;
    webhook_page(
        &admin,
        Shown {
            id: None,
            input: WebhookInput {
                events: vec!["webhook.test".to_owned()],
                is_enabled: true,
                ..WebhookInput::default()
            },
            has_secret: false,
            deliveries: Vec::new(),
            errors: FieldErrors::new(),
            notice: None,
        },
    )
}

/// The form sent back with its errors; a secret typed is never shown again.
fn refused(
    admin: &AdminSession,
    id: Option<i64>,
    input: WebhookInput,
    errors: FieldErrors,
) -> WebResult<Response> {
    webhook_page(
        admin,
        Shown {
            id,
            input: WebhookInput {
                secret: String::new(),
                ..input
            },
            has_secret: false,
            deliveries: Vec::new(),
            errors,
            notice: None,
        },
    )
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<WebhookForm>,
) -> WebResult<Response> {
    let input = form.input();
    match state.app.create_webhook(&admin.caller(), &input).await {
        Ok(id) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=created")).into_response()),
        Err(AppError::Invalid(errors)) => refused(&admin, None, input, errors),
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
        ("created", "The webhook is added."),
        ("saved", "The webhook is saved."),
        (
            "queued",
            "A delivery is on its way; reload to see its answer.",
        ),
    ]);
    let view = state.app.webhook(admin.actor(), path_id(&id)?).await?;
    webhook_page(
        &admin,
        Shown {
            id: Some(view.webhook.id),
            input: WebhookInput {
                name: view.webhook.name.clone(),
                url: view.webhook.url.clone(),
                events: view.events,
                secret: String::new(),
                clear_secret: false,
                is_enabled: view.webhook.is_enabled,
            },
            has_secret: view.has_secret,
            deliveries: view.deliveries,
            errors: FieldErrors::new(),
            notice,
        },
    )
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<WebhookForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = form.input();
    match state.app.update_webhook(&admin.caller(), id, &input).await {
        Ok(()) => Ok(Redirect::to(&format!("{LIST}/{id}?notice=saved")).into_response()),
        Err(AppError::Invalid(errors)) => refused(&admin, Some(id), input, errors),
        Err(other) => Err(other.into()),
    }
}

async fn send_test(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state.app.send_test_delivery(&admin.caller(), id).await?;
    Ok(Redirect::to(&format!("{LIST}/{id}?notice=queued")).into_response())
}

async fn send_again(
    State(state): State<AppState>,
    admin: AdminSession,
    Path((id, delivery_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state
        .app
        .send_delivery_again(&admin.caller(), id, path_id(&delivery_id)?)
        .await?;
    Ok(Redirect::to(&format!("{LIST}/{id}?notice=queued")).into_response())
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .app
        .delete_webhook(&admin.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to(&format!("{LIST}?notice=deleted")).into_response())
}
