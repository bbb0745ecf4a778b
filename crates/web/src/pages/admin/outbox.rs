//! The outbox: every mail, filtered by status, one mail's content, and
//! sending a failed mail again.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::MailRecord;
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery, count_of};
use crate::AppState;
use crate::error::WebResult;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/email/outbox", get(list))
        .route("/admin/email/outbox/{id}", get(show))
        .route("/admin/email/outbox/{id}/retry", post(retry))
}

/// A mail as a line of the list or a page.
struct MailView {
    mail: MailRecord,
    recipients: String,
    created: String,
    sent: Option<String>,
}

impl MailView {
    fn new(mail: MailRecord) -> MailView {
        let recipients = serde_json::from_str::<Vec<String>>(&mail.recipients)
            .map(|list| list.join(", "))
            .unwrap_or_else(|_| mail.recipients.clone());
        MailView {
            recipients,
            created: crate::pages::time(&mail.created_at),
            sent: mail.sent_at.map(|at| crate::pages::time(&at)),
            mail,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    menu: AdminMenu,
    mails: Vec<MailView>,
    /// (status, label, count, chosen)
    filters: Vec<(&'static str, &'static str, i64, bool)>,
    total: i64,
    all_chosen: bool,
}

#[derive(Debug, Deserialize)]
struct OutboxQuery {
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<OutboxQuery>,
) -> WebResult<Response> {
    let status = query.status.as_deref().filter(|status| !status.is_empty());
    let (mails, counts) = state.app.outbox(admin.actor(), status).await?;
    let filters = [
        ("queued", "Waiting"),
        ("failed", "Failed"),
        ("sent", "Sent"),
    ]
    .into_iter()
    .map(|(value, label)| {
        (
            value,
            label,
            count_of(&counts, value),
            status == Some(value),
        )
    })
    .collect();
    render(&OutboxPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email/outbox",
        },
        mails: mails.into_iter().map(MailView::new).collect(),
        filters,
        total: counts.iter().map(|(_, count)| count).sum(),
        all_chosen: status.is_none(),
    })
}

#[derive(Template)]
#[template(path = "admin/outbox_mail.html")]
struct MailPage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    view: MailView,
    notice: Option<&'static str>,
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let mail = state.app.outbox_mail(admin.actor(), id).await?;
    render(&MailPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email/outbox",
        },
        csrf_token: admin.csrf_token(),
        view: MailView::new(mail),
        notice: query.text(&[("retried", "The mail is queued again and goes out shortly.")]),
    })
}

async fn retry(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    state.app.retry_mail(&admin.caller(), id).await?;
    Ok(Redirect::to(&format!("/admin/email/outbox/{id}?notice=retried")).into_response())
}
