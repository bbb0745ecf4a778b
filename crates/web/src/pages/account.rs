//! One's own account, for agents (`/agent/account`) and help-center users
//! (`/account`): change the password (the current one is required), choose
//! login mails (agents), see and end one's sessions.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{AppError, FieldErrors, TwoFactorOverview};
use ferrodesk_core::{Secret, Surface};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::admin::agents::SessionRow;
use crate::pages::{Chrome, SignedInSession, render};
use crate::session::{Session, two_factor_setup_path};
use crate::text::t;

pub(crate) fn staff_routes() -> Router<AppState> {
    routes_under("/agent/account")
}

pub(crate) fn portal_routes() -> Router<AppState> {
    routes_under("/account")
}

fn routes_under(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(overview))
        .route(
            &format!("{base}/password"),
            get(password_form).post(change_password),
        )
        .route(&format!("{base}/notifications"), post(save_notifications))
        .route(&format!("{base}/work-mail"), post(save_work_mail))
        .route(&format!("{base}/signature"), post(save_signature))
        .route(&format!("{base}/time-zone"), post(save_time_zone))
        .route(&format!("{base}/profile"), post(save_profile))
        .route(
            &format!("{base}/sessions/end-others"),
            post(end_other_sessions),
        )
        .route(
            &format!("{base}/sessions/{{id}}/revoke"),
            post(revoke_session),
        )
        .route(&format!("{base}/two-factor"), get(two_factor))
        .route(&format!("{base}/two-factor/start"), post(start_two_factor))
        .route(
            &format!("{base}/two-factor/confirm"),
            post(confirm_two_factor),
        )
        .route(
            &format!("{base}/two-factor/recovery-codes"),
            post(replace_recovery_codes),
        )
        .route(
            &format!("{base}/two-factor/disable"),
            post(disable_two_factor),
        )
}

fn base_path(surface: Surface) -> &'static str {
    match surface {
        Surface::Staff => "/agent/account",
        Surface::Portal => "/account",
    }
}

#[derive(Template)]
#[template(path = "account/overview.html")]
struct AccountPage<'a> {
    chrome: Chrome,
    base: &'static str,
    csrf_token: &'a str,
    name: String,
    email: String,
    is_agent: bool,
    notify_success: bool,
    notify_failure: bool,
    /// An agent's choice of work mail (new tickets, assignments, replies).
    work_mail: Option<ferrodesk_app::NotificationPreferences>,
    sessions: Vec<(SessionRow, bool)>,
    two_factor_on: bool,
    notice: Option<String>,
    /// Why the name typed was refused.
    name_error: Option<String>,
    /// An agent's signature (their own, or as typed when refused) and the
    /// default.
    signature: Option<ferrodesk_app::SignatureView>,
    signature_error: Option<String>,
    placeholders: String,
    /// The zone times are shown in, whether it was chosen, and every zone.
    zone: String,
    zone_chosen: bool,
    zones: Vec<String>,
    zone_error: Option<String>,
}

impl AccountPage<'_> {
    /// Which interface a session is in, as the list of sessions names it.
    fn surface_name(&self, surface: &str) -> String {
        match Surface::parse(surface) {
            Some(Surface::Portal) => t("account-surface-portal"),
            Some(Surface::Staff) => t("account-surface-staff"),
            None => surface.to_owned(),
        }
    }
}

async fn overview(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    account_page(&state, &session, query, Refused::default()).await
}

/// What the account page sends back refused, with why.
#[derive(Debug, Default)]
struct Refused {
    /// Why the name typed was refused.
    name_error: Option<String>,
    /// The signature as typed and why it was refused.
    signature: Option<(String, String)>,
    /// Why the time zone sent was refused.
    zone_error: Option<String>,
}

async fn account_page(
    state: &AppState,
    session: &Session,
    query: NoticeQuery,
    refused: Refused,
) -> WebResult<Response> {
    let base = base_path(session.surface);
    let person = state.app.own_person(&session.actor).await?;
    let current = state.app.session_id(session.token.expose());
    let sessions = state
        .app
        .own_sessions(&session.actor)
        .await?
        .into_iter()
        .map(|own| {
            let is_current = own.id == current;
            (SessionRow::from_session(own), is_current)
        })
        .collect();
    let has_error =
        refused.name_error.is_some() || refused.signature.is_some() || refused.zone_error.is_some();
    let signature = if person.is_agent {
        let saved = state.app.signature_view(&session.actor).await?;
        Some(match &refused.signature {
            Some((typed, _)) => ferrodesk_app::SignatureView {
                own: typed.clone(),
                ..saved
            },
            None => saved,
        })
    } else {
        None
    };
    let (zone, zone_chosen) = state.app.zone_of(&session.actor).await?;
    crate::pages::render_form(
        &AccountPage {
            zone: zone.name().to_owned(),
            zone_chosen,
            zones: ferrodesk_core::Zone::names(),
            chrome: Chrome::for_session(session),
            base,
            csrf_token: &session.csrf_token,
            name: person.name,
            email: person.email,
            is_agent: person.is_agent,
            notify_success: person.notify_login_success,
            notify_failure: person.notify_login_failure,
            work_mail: if person.is_agent {
                Some(state.app.notification_preferences(&session.actor).await?)
            } else {
                None
            },
            sessions,
            two_factor_on: person.totp_enabled_at.is_some(),
            notice: query.text(&[
                ("password-changed", t("account-notice-password-changed")),
                (
                    "notifications-saved",
                    t("account-notice-notifications-saved"),
                ),
                ("session-ended", t("account-notice-session-ended")),
                ("work-mail-saved", t("account-notice-work-mail-saved")),
                ("others-ended", t("account-notice-others-ended")),
                ("name-saved", t("account-notice-name-saved")),
                ("signature-saved", t("account-notice-signature-saved")),
                ("time-zone-saved", t("account-notice-time-zone-saved")),
            ]),
            name_error: refused.name_error,
            zone_error: refused.zone_error,
            signature_error: refused.signature.map(|(_, error)| error),
            signature,
            placeholders: ferrodesk_app::SIGNATURE_PLACEHOLDERS.join(" "),
        },
        has_error,
    )
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage<'a> {
    chrome: Chrome,
    base: &'static str,
    csrf_token: &'a str,
    must_change: bool,
    errors: FieldErrors,
}

fn password_page(session: &Session, errors: FieldErrors) -> WebResult<Response> {
    let must_change = session
        .actor
        .signed_in()
        .is_some_and(|person| person.must_change_password);
    render(&PasswordPage {
        chrome: Chrome::for_session(session),
        base: base_path(session.surface),
        csrf_token: &session.csrf_token,
        must_change,
        errors,
    })
}

async fn password_form(SignedInSession(session): SignedInSession) -> WebResult<Response> {
    password_page(&session, FieldErrors::new())
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current_password: Secret,
    password: Secret,
    password_confirmation: Secret,
}

async fn change_password(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<PasswordForm>,
) -> WebResult<Response> {
    match state
        .app
        .change_own_password(
            &session.caller(),
            session.token.expose(),
            &form.current_password,
            &form.password,
            &form.password_confirmation,
        )
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "{}?notice=password-changed",
            base_path(session.surface)
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let mut response = password_page(&session, errors)?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
struct NotificationsForm {
    on_success: Option<String>,
    on_failure: Option<String>,
}

async fn save_notifications(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<NotificationsForm>,
) -> WebResult<Response> {
    state
        .app
        .set_login_notifications(
            &session.caller(),
            form.on_success.is_some(),
            form.on_failure.is_some(),
        )
        .await?;
    Ok(Redirect::to(&format!(
        "{}?notice=notifications-saved",
        base_path(session.surface)
    ))
    .into_response())
}

/// An agent's work-mail choices as the form sends them.
#[derive(Debug, Default, Deserialize)]
struct WorkMailForm {
    #[serde(default)]
    new_ticket: Option<String>,
    #[serde(default)]
    assigned: Option<String>,
    #[serde(default)]
    user_reply: Option<String>,
    #[serde(default)]
    mention: Option<String>,
}

async fn save_work_mail(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<WorkMailForm>,
) -> WebResult<Response> {
    state
        .app
        .set_notification_preferences(
            &session.actor,
            ferrodesk_app::NotificationPreferences {
                new_ticket: form.new_ticket.is_some(),
                assigned: form.assigned.is_some(),
                user_reply: form.user_reply.is_some(),
                mention: form.mention.is_some(),
            },
        )
        .await?;
    Ok(Redirect::to(&format!(
        "{}?notice=work-mail-saved",
        base_path(session.surface)
    ))
    .into_response())
}

/// A time zone, as the account page (or the browser's own, sent by the
/// page's script at first sign-in) sends it.
#[derive(Debug, Default, Deserialize)]
struct TimeZoneForm {
    #[serde(default)]
    time_zone: String,
}

async fn save_time_zone(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<TimeZoneForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_own_zone(&session.actor, &form.time_zone)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}?notice=time-zone-saved#time-zone",
            base_path(session.surface)
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let refused = Refused {
                zone_error: errors.iter().next().map(|(_, message)| message.to_owned()),
                ..Refused::default()
            };
            account_page(&state, &session, NoticeQuery::from(None), refused).await
        }
        Err(other) => Err(other.into()),
    }
}

/// An agent's signature, as the account page sends it.
#[derive(Debug, Default, Deserialize)]
struct SignatureForm {
    #[serde(default)]
    signature: String,
}

async fn save_signature(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<SignatureForm>,
) -> WebResult<Response> {
    match state
        .app
        .set_own_signature(&session.actor, &form.signature)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "{}?notice=signature-saved#signature",
            base_path(session.surface)
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let message = errors
                .iter()
                .next()
                .map(|(_, message)| message.to_owned())
                .unwrap_or_default();
            let refused = Refused {
                signature: Some((form.signature, message)),
                ..Refused::default()
            };
            account_page(&state, &session, NoticeQuery::from(None), refused).await
        }
        Err(other) => Err(other.into()),
    }
}

/// One's own name, as the account page sends it.
#[derive(Debug, Default, Deserialize)]
struct ProfileForm {
    #[serde(default)]
    name: String,
}

async fn save_profile(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<ProfileForm>,
) -> WebResult<Response> {
    let base = base_path(session.surface);
    match state
        .app
        .change_own_name(&session.caller(), &form.name)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("{base}?notice=name-saved")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let message = errors
                .iter()
                .map(|(_, message)| message.to_owned())
                .next()
                .unwrap_or_default();
            let refused = Refused {
                name_error: Some(message),
                ..Refused::default()
            };
            account_page(&state, &session, NoticeQuery::from(None), refused).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn revoke_session(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.app.revoke_own_session(&session.caller(), &id).await?;
    Ok(Redirect::to(&format!(
        "{}?notice=session-ended",
        base_path(session.surface)
    ))
    .into_response())
}

async fn end_other_sessions(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
) -> WebResult<Response> {
    state
        .app
        .end_other_sessions(&session.caller(), session.token.expose())
        .await?;
    Ok(Redirect::to(&format!(
        "{}?notice=others-ended",
        base_path(session.surface)
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "account/two_factor.html")]
struct TwoFactorPage<'a> {
    chrome: Chrome,
    base: &'static str,
    csrf_token: &'a str,
    overview: TwoFactorOverview,
    enabled_since: Option<String>,
    deadline: Option<String>,
    /// The QR code of a pending set-up, as inline SVG.
    qr_svg: Option<String>,
    /// Recovery codes just made: shown this once.
    new_codes: Vec<String>,
    errors: FieldErrors,
    notice: Option<String>,
}

/// The QR code an authenticator app scans. Our own markup from our own
/// data (the `otpauth://` address), so it is placed in the page as is.
fn qr_svg(uri: &str) -> WebResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|error| AppError::Internal(format!("QR code: {error}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration means nothing inside HTML.
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    })
}

async fn two_factor_page(
    state: &AppState,
    session: &Session,
    new_codes: Vec<String>,
    errors: FieldErrors,
    notice: Option<String>,
) -> WebResult<Response> {
    let overview = state.app.two_factor_overview(&session.actor).await?;
    let qr_svg = match &overview.setup {
        Some(setup) => Some(qr_svg(&setup.uri)?),
        None => None,
    };
    render(&TwoFactorPage {
        chrome: Chrome::for_session(session),
        base: base_path(session.surface),
        csrf_token: &session.csrf_token,
        enabled_since: overview.enabled_at.map(|at| at.to_string()),
        deadline: overview.deadline.map(|at| at.to_string()),
        overview,
        qr_svg,
        new_codes,
        errors,
        notice,
    })
}

async fn two_factor(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("disabled", t("account-notice-two-factor-off")),
        ("required", t("account-notice-two-factor-needed")),
    ]);
    two_factor_page(&state, &session, Vec::new(), FieldErrors::new(), notice).await
}

async fn start_two_factor(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
) -> WebResult<Response> {
    let back = two_factor_setup_path(session.surface);
    state.app.start_two_factor_setup(&session.caller()).await?;
    Ok(Redirect::to(back).into_response())
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    code: Secret,
}

/// Shows fresh recovery codes, or the page again with the form's errors.
async fn after_code_change(
    state: &AppState,
    session: &Session,
    result: Result<Vec<String>, AppError>,
    notice: String,
) -> WebResult<Response> {
    match result {
        Ok(codes) => two_factor_page(state, session, codes, FieldErrors::new(), Some(notice)).await,
        Err(AppError::Invalid(errors)) => {
            let mut response = two_factor_page(state, session, Vec::new(), errors, None).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

async fn confirm_two_factor(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<CodeForm>,
) -> WebResult<Response> {
    let result = state
        .app
        .confirm_two_factor_setup(&session.caller(), form.code.expose())
        .await;
    after_code_change(&state, &session, result, t("account-notice-two-factor-on")).await
}

#[derive(Debug, Deserialize)]
struct CurrentPasswordForm {
    current_password: Secret,
}

async fn replace_recovery_codes(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<CurrentPasswordForm>,
) -> WebResult<Response> {
    let result = state
        .app
        .new_recovery_codes(&session.caller(), &form.current_password)
        .await;
    after_code_change(
        &state,
        &session,
        result,
        t("account-notice-new-recovery-codes"),
    )
    .await
}

async fn disable_two_factor(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    HtmlForm(form): HtmlForm<CurrentPasswordForm>,
) -> WebResult<Response> {
    let back = two_factor_setup_path(session.surface);
    match state
        .app
        .turn_off_two_factor(&session.caller(), &form.current_password)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("{back}?notice=disabled")).into_response()),
        Err(error) => after_code_change(&state, &session, Err(error), String::new()).await,
    }
}
