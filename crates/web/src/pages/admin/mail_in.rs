//! Mail in, for admins: the email accounts mail arrives at (with "Test
//! connection" showing the server's answer) and the rejection log of
//! messages that became nothing, with their source and "process again".

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, DepartmentNode, EmailAccountInput, EmailAccountRecord, EmailAccountView, FieldErrors,
    RejectionPage,
};
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{path_id, render, render_form, time, url_encoded};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/email/accounts", get(list))
        .route("/admin/email/limits", post(save_limits))
        .route("/admin/email/accounts/new", get(new_account).post(create))
        .route("/admin/email/accounts/{id}", get(show).post(save))
        .route("/admin/email/accounts/{id}/test", post(test))
        .route("/admin/email/accounts/{id}/delete", post(delete))
        .route("/admin/email/rejections", get(rejections))
        .route("/admin/email/rejections/{id}/source", get(source))
        .route("/admin/email/rejections/{id}/retry", post(retry))
}

#[derive(Template)]
#[template(path = "admin/email_accounts.html")]
struct AccountsPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    /// The settings as saved, or as typed when refused.
    limits: LimitsForm,
    errors: FieldErrors,
    accounts: Vec<EmailAccountView>,
    notice: Option<&'static str>,
    /// The pipe command an admin puts in the mail server.
    pipe_command: String,
}

impl AccountsPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("created", "The account is added."),
        ("deleted", "The account is deleted."),
        ("limits", "The limits are saved."),
    ]);
    accounts_page(&state, &admin, None, FieldErrors::new(), notice).await
}

async fn accounts_page(
    state: &AppState,
    admin: &AdminSession,
    typed: Option<LimitsForm>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let saved = state.app.settings().await?.mail_in.clone();
    let limits = typed.unwrap_or_else(|| LimitsForm {
        auto_replies: saved.auto_replies_per_address_per_hour.to_string(),
        per_sender: saved.mails_per_sender_per_hour.to_string(),
        per_account: saved.mails_per_account_per_hour.to_string(),
        kept_days: saved.rejections_kept_days.to_string(),
        reply_to_plus_address: saved.reply_to_plus_address.then(|| "1".to_owned()),
    });
    let has_errors = !errors.is_empty();
    render_form(
        &AccountsPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/email/accounts",
            },
            csrf_token: admin.csrf_token(),
            limits,
            errors,
            accounts: state.app.email_accounts(admin.actor()).await?,
            notice,
            pipe_command: "ferrodesk mail receive --account ADDRESS".to_owned(),
        },
        has_errors,
    )
}

/// The mail-in settings as sent.
#[derive(Debug, Default, Deserialize)]
struct LimitsForm {
    #[serde(default)]
    auto_replies: String,
    #[serde(default)]
    per_sender: String,
    #[serde(default)]
    per_account: String,
    #[serde(default)]
    kept_days: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    reply_to_plus_address: Option<String>,
}

impl LimitsForm {
    fn input(&self) -> ferrodesk_app::MailInInput<'_> {
        ferrodesk_app::MailInInput {
            auto_replies_per_address_per_hour: &self.auto_replies,
            mails_per_sender_per_hour: &self.per_sender,
            mails_per_account_per_hour: &self.per_account,
            rejections_kept_days: &self.kept_days,
            reply_to_plus_address: self.reply_to_plus_address.is_some(),
        }
    }
}

async fn save_limits(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<LimitsForm>,
) -> WebResult<Response> {
    let saved = state
        .app
        .set_mail_in_settings(&admin.caller(), &form.input())
        .await;
    match saved {
        Ok(()) => Ok(Redirect::to("/admin/email/accounts?notice=limits").into_response()),
        Err(AppError::Invalid(errors)) => {
            accounts_page(&state, &admin, Some(form), errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The account form as sent.
#[derive(Default, Deserialize)]
struct AccountForm {
    #[serde(default)]
    address: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    transport: String,
    #[serde(default)]
    imap_host: String,
    #[serde(default)]
    imap_port: String,
    #[serde(default)]
    imap_security: String,
    #[serde(default)]
    imap_user: String,
    #[serde(default)]
    imap_password: String,
    #[serde(default)]
    imap_folder: String,
    #[serde(default)]
    poll_seconds: String,
    #[serde(default)]
    after_fetch: String,
    #[serde(default)]
    move_to_folder: String,
    #[serde(default)]
    is_enabled: bool,
}

impl std::fmt::Debug for AccountForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AccountForm")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl AccountForm {
    fn input(self) -> EmailAccountInput {
        EmailAccountInput {
            address: self.address,
            department: self.department,
            transport: self.transport,
            imap_host: self.imap_host,
            imap_port: self.imap_port,
            imap_security: self.imap_security,
            imap_user: self.imap_user,
            imap_password: self.imap_password,
            imap_folder: self.imap_folder,
            poll_seconds: self.poll_seconds,
            after_fetch: self.after_fetch,
            move_to_folder: self.move_to_folder,
            is_enabled: self.is_enabled,
        }
    }

    /// The form filled from a stored account (never its password).
    fn from_account(account: &EmailAccountRecord) -> AccountForm {
        AccountForm {
            address: account.address.clone(),
            department: account
                .department_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            transport: account.transport.clone(),
            imap_host: account.imap_host.clone(),
            imap_port: account.imap_port.to_string(),
            imap_security: account.imap_security.clone(),
            imap_user: account.imap_user.clone(),
            imap_password: String::new(),
            imap_folder: account.imap_folder.clone(),
            poll_seconds: account.poll_seconds.to_string(),
            after_fetch: account.after_fetch.clone(),
            move_to_folder: account.move_to_folder.clone(),
            is_enabled: account.is_enabled,
        }
    }

    fn blank() -> AccountForm {
        AccountForm {
            transport: "imap".into(),
            imap_port: "993".into(),
            imap_security: "tls".into(),
            imap_folder: "INBOX".into(),
            poll_seconds: "60".into(),
            after_fetch: "seen".into(),
            is_enabled: true,
            ..AccountForm::default()
        }
    }
}

#[derive(Template)]
#[template(path = "admin/email_account.html")]
struct AccountPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    /// `None` for a new account.
    id: Option<i64>,
    form: AccountForm,
    password_set: bool,
    departments: Vec<DepartmentNode>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    /// What "Test connection" answered: the server's words, or why not.
    test_answer: Option<Result<String, String>>,
}

impl AccountPage<'_> {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/admin/email/accounts/{id}"),
            None => "/admin/email/accounts/new".to_owned(),
        }
    }

    fn errors_for(&self, field: &str) -> Vec<&str> {
        self.errors.for_field(field)
    }

    fn is_department(&self, id: &i64) -> bool {
        self.form.department == id.to_string()
    }
}

struct AccountPageState {
    id: Option<i64>,
    form: AccountForm,
    password_set: bool,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test_answer: Option<Result<String, String>>,
}

async fn account_page(
    state: &AppState,
    admin: &AdminSession,
    page: AccountPageState,
) -> WebResult<Response> {
    let has_errors = !page.errors.is_empty();
    render_form(
        &AccountPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/email/accounts",
            },
            csrf_token: admin.csrf_token(),
            id: page.id,
            form: page.form,
            password_set: page.password_set,
            departments: state.app.departments(admin.actor()).await?,
            errors: page.errors,
            notice: page.notice,
            test_answer: page.test_answer,
        },
        has_errors,
    )
}

async fn new_account(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    admin.actor().require_admin()?;
    account_page(
        &state,
        &admin,
        AccountPageState {
            id: None,
            form: AccountForm::blank(),
            password_set: false,
            errors: FieldErrors::new(),
            notice: None,
            test_answer: None,
        },
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<AccountForm>,
) -> WebResult<Response> {
    let input = form.input();
    match state
        .app
        .save_email_account(&admin.caller(), None, &input)
        .await
    {
        Ok(id) => {
            Ok(Redirect::to(&format!("/admin/email/accounts/{id}?notice=created")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let form = AccountForm {
                imap_password: String::new(),
                ..typed_back(input)
            };
            account_page(
                &state,
                &admin,
                AccountPageState {
                    id: None,
                    form,
                    password_set: false,
                    errors,
                    notice: None,
                    test_answer: None,
                },
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// The form again from what was sent (the password is never sent back).
fn typed_back(input: EmailAccountInput) -> AccountForm {
    AccountForm {
        address: input.address,
        department: input.department,
        transport: input.transport,
        imap_host: input.imap_host,
        imap_port: input.imap_port,
        imap_security: input.imap_security,
        imap_user: input.imap_user,
        imap_password: String::new(),
        imap_folder: input.imap_folder,
        poll_seconds: input.poll_seconds,
        after_fetch: input.after_fetch,
        move_to_folder: input.move_to_folder,
        is_enabled: input.is_enabled,
    }
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("created", "The account is added."),
        ("saved", "The account is saved."),
    ]);
    stored_account_page(&state, &admin, path_id(&id)?, notice, None).await
}

/// An account's page with its settings as stored.
async fn stored_account_page(
    state: &AppState,
    admin: &AdminSession,
    id: i64,
    notice: Option<&'static str>,
    test_answer: Option<Result<String, String>>,
) -> WebResult<Response> {
    let account = state.app.email_account(admin.actor(), id).await?;
    account_page(
        state,
        admin,
        AccountPageState {
            id: Some(id),
            form: AccountForm::from_account(&account),
            password_set: !account.imap_password_sealed.is_empty(),
            errors: FieldErrors::new(),
            notice,
            test_answer,
        },
    )
    .await
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<AccountForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = form.input();
    match state
        .app
        .save_email_account(&admin.caller(), Some(id), &input)
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/email/accounts/{id}?notice=saved")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let account = state.app.email_account(admin.actor(), id).await?;
            account_page(
                &state,
                &admin,
                AccountPageState {
                    id: Some(id),
                    form: typed_back(input),
                    password_set: !account.imap_password_sealed.is_empty(),
                    errors,
                    notice: None,
                    test_answer: None,
                },
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn test(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let answer = state.app.test_email_account(admin.actor(), id).await?;
    stored_account_page(&state, &admin, id, None, Some(answer)).await
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state.app.delete_email_account(&admin.caller(), id).await?;
    Ok(Redirect::to("/admin/email/accounts?notice=deleted").into_response())
}

#[derive(Template)]
#[template(path = "admin/email_rejections.html")]
struct RejectionsPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    page: RejectionPage,
    notice: Option<&'static str>,
}

impl RejectionsPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn next_link(&self) -> Option<String> {
        self.page
            .next
            .as_deref()
            .map(|next| format!("/admin/email/rejections?before={}", url_encoded(next)))
    }
}

#[derive(Debug, Default, Deserialize)]
struct RejectionsQuery {
    notice: Option<String>,
    before: Option<String>,
}

async fn rejections(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<RejectionsQuery>,
) -> WebResult<Response> {
    let page = state
        .app
        .rejected_mail(admin.actor(), query.before.as_deref())
        .await?;
    render(&RejectionsPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email/rejections",
        },
        csrf_token: admin.csrf_token(),
        page,
        notice: NoticeQuery::from(query.notice).text(&[(
            "retried",
            "The message is being processed again; if it is refused again it comes back here.",
        )]),
    })
}

/// A received message's source, as a download (never shown in a page).
async fn source(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let (_, raw) = state.app.received_mail_source(&admin.caller(), id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"received-{id}.eml\""),
            ),
        ],
        raw,
    )
        .into_response())
}

async fn retry(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state
        .app
        .process_rejected_mail_again(&admin.caller(), id)
        .await?;
    Ok(Redirect::to("/admin/email/rejections?notice=retried").into_response())
}
