//! Security settings (C2-C6, C9): password policies, login lock-out,
//! sessions, login notifications and hostnames, per audience. Each form
//! saves on its own; a form with a bad value is shown again with what was
//! typed and a message per field, and nothing is saved.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, AppResult, Audience, FieldErrors, LoginLimits, SessionLimits, Settings,
};
use ferrodesk_core::PasswordPolicy;
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/security", get(show))
        .route("/admin/security/passwords/{audience}", post(save_policy))
        .route("/admin/security/logins/{audience}", post(save_limits))
        .route("/admin/security/sessions/{audience}", post(save_sessions))
        .route("/admin/security/monitoring", post(save_monitoring))
        .route("/admin/security/two-factor", post(save_two_factor))
        .route("/admin/security/ip-allow-list", post(save_ip_allow_list))
}

fn audience_title(audience: Audience) -> &'static str {
    match audience {
        Audience::Agents => "Agents",
        Audience::Users => "Help-center users",
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct PolicyForm {
    #[serde(default)]
    audience: String,
    min_length: String,
    max_length: String,
    require_lowercase: Option<String>,
    require_uppercase: Option<String>,
    require_digit: Option<String>,
    require_symbol: Option<String>,
    min_strength: String,
    max_age_days: String,
    reuse_history: String,
    #[serde(skip)]
    errors: FieldErrors,
}

impl PolicyForm {
    fn from_policy(audience: Audience, policy: &PasswordPolicy) -> PolicyForm {
        let tick = |on: bool| on.then(|| "1".to_owned());
        PolicyForm {
            audience: audience.key().to_owned(),
            min_length: policy.min_length.to_string(),
            max_length: policy.max_length.to_string(),
            require_lowercase: tick(policy.require_lowercase),
            require_uppercase: tick(policy.require_uppercase),
            require_digit: tick(policy.require_digit),
            require_symbol: tick(policy.require_symbol),
            min_strength: policy.min_strength.to_string(),
            max_age_days: policy.max_age_days.to_string(),
            reuse_history: policy.reuse_history.to_string(),
            errors: FieldErrors::new(),
        }
    }

    fn title(&self) -> &'static str {
        Audience::from_key(&self.audience).map_or("", audience_title)
    }

    fn parse(&self) -> Result<PasswordPolicy, FieldErrors> {
        let mut errors = FieldErrors::new();
        let policy = PasswordPolicy {
            min_length: number(&self.min_length, "min_length", &mut errors),
            max_length: number(&self.max_length, "max_length", &mut errors),
            require_lowercase: self.require_lowercase.is_some(),
            require_uppercase: self.require_uppercase.is_some(),
            require_digit: self.require_digit.is_some(),
            require_symbol: self.require_symbol.is_some(),
            min_strength: number(&self.min_strength, "min_strength", &mut errors),
            max_age_days: number(&self.max_age_days, "max_age_days", &mut errors),
            reuse_history: number(&self.reuse_history, "reuse_history", &mut errors),
        };
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct LimitsForm {
    #[serde(default)]
    audience: String,
    max_failures: String,
    window_minutes: String,
    lock_minutes: String,
    per_ip_attempts: String,
    #[serde(skip)]
    errors: FieldErrors,
}

impl LimitsForm {
    fn from_limits(audience: Audience, limits: &LoginLimits) -> LimitsForm {
        LimitsForm {
            audience: audience.key().to_owned(),
            max_failures: limits.max_failures.to_string(),
            window_minutes: limits.window_minutes.to_string(),
            lock_minutes: limits.lock_minutes.to_string(),
            per_ip_attempts: limits.per_ip_attempts.to_string(),
            errors: FieldErrors::new(),
        }
    }

    fn title(&self) -> &'static str {
        Audience::from_key(&self.audience).map_or("", audience_title)
    }

    fn parse(&self) -> Result<LoginLimits, FieldErrors> {
        let mut errors = FieldErrors::new();
        let limits = LoginLimits {
            max_failures: number(&self.max_failures, "max_failures", &mut errors),
            window_minutes: number(&self.window_minutes, "window_minutes", &mut errors),
            lock_minutes: number(&self.lock_minutes, "lock_minutes", &mut errors),
            per_ip_attempts: number(&self.per_ip_attempts, "per_ip_attempts", &mut errors),
        };
        if errors.is_empty() {
            Ok(limits)
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct SessionsForm {
    #[serde(default)]
    audience: String,
    idle_minutes: String,
    lifetime_hours: String,
    remember_me_allowed: Option<String>,
    remember_me_days: String,
    require_activity: Option<String>,
    #[serde(skip)]
    errors: FieldErrors,
}

impl SessionsForm {
    fn from_limits(audience: Audience, limits: &SessionLimits) -> SessionsForm {
        SessionsForm {
            audience: audience.key().to_owned(),
            idle_minutes: (limits.idle_timeout_seconds / 60).to_string(),
            lifetime_hours: format_hours(limits.absolute_lifetime_seconds),
            remember_me_allowed: limits.remember_me_allowed.then(|| "1".to_owned()),
            remember_me_days: limits.remember_me_days.to_string(),
            require_activity: limits.require_activity.then(|| "1".to_owned()),
            errors: FieldErrors::new(),
        }
    }

    fn title(&self) -> &'static str {
        Audience::from_key(&self.audience).map_or("", audience_title)
    }

    fn is_staff(&self) -> bool {
        self.audience == Audience::Agents.key()
    }

    fn parse(&self) -> Result<SessionLimits, FieldErrors> {
        let mut errors = FieldErrors::new();
        let idle_minutes: u64 = number(&self.idle_minutes, "idle_timeout", &mut errors);
        let lifetime_hours: f64 = match self.lifetime_hours.trim().parse::<f64>() {
            Ok(hours) if hours.is_finite() && hours > 0.0 => hours,
            _ => {
                errors.add(
                    "absolute_lifetime",
                    "Give the lifetime in hours, such as 12 or 0.5.",
                );
                0.0
            }
        };
        let limits = SessionLimits {
            idle_timeout_seconds: idle_minutes.saturating_mul(60),
            // Bounded by the check above and the use case's own maximum.
            absolute_lifetime_seconds: (lifetime_hours.min(1.0e6) * 3600.0).round() as u64,
            remember_me_allowed: self.remember_me_allowed.is_some(),
            remember_me_days: number(&self.remember_me_days, "remember_me_days", &mut errors),
            require_activity: self.require_activity.is_some(),
        };
        if errors.is_empty() {
            Ok(limits)
        } else {
            Err(errors)
        }
    }
}

fn format_hours(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) {
        (seconds / 3600).to_string()
    } else {
        format!("{:.2}", seconds as f64 / 3600.0)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct MonitoringForm {
    recipients: String,
    resolve_hostnames: Option<String>,
    #[serde(skip)]
    errors: FieldErrors,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct TwoFactorForm {
    required_for_agents: Option<String>,
    grace_days: String,
    #[serde(skip)]
    errors: FieldErrors,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct IpAllowListForm {
    enabled: Option<String>,
    /// "agents" or "admins".
    scope: String,
    trust_days: String,
    trusted_ranges: String,
    #[serde(skip)]
    errors: FieldErrors,
}

impl IpAllowListForm {
    fn admins_only(&self) -> bool {
        self.scope == "admins"
    }
}

/// Parses a whole number from a form field, noting a message when it is not one.
fn number<T: std::str::FromStr + Default>(
    text: &str,
    field: &'static str,
    errors: &mut FieldErrors,
) -> T {
    match text.trim().parse() {
        Ok(value) => value,
        Err(_) => {
            errors.add(
                field,
                format!("\u{201c}{}\u{201d} is not a whole number.", text.trim()),
            );
            T::default()
        }
    }
}

#[derive(Template)]
#[template(path = "admin/security.html")]
struct SecurityPage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    policies: [PolicyForm; 2],
    limits: [LimitsForm; 2],
    sessions: [SessionsForm; 2],
    monitoring: MonitoringForm,
    two_factor: TwoFactorForm,
    ip_allow_list: IpAllowListForm,
    notice: Option<&'static str>,
    proxy_warning: Option<ferrodesk_app::ProxyWarning>,
}

impl SecurityPage<'_> {
    fn time(&self, at: &i64) -> String {
        crate::pages::time(at)
    }
}

/// One form shown again with what was typed and its errors.
enum Retyped {
    Policy(PolicyForm),
    Limits(LimitsForm),
    Sessions(SessionsForm),
    Monitoring(MonitoringForm),
    TwoFactor(TwoFactorForm),
    IpAllowList(IpAllowListForm),
}

fn page(
    admin: &AdminSession,
    settings: &Settings,
    retyped: Option<Retyped>,
    (notice, proxy_warning): (Option<&'static str>, Option<ferrodesk_app::ProxyWarning>),
) -> WebResult<Response> {
    let mut policies = [
        PolicyForm::from_policy(Audience::Agents, &settings.agent_password_policy),
        PolicyForm::from_policy(Audience::Users, &settings.user_password_policy),
    ];
    let mut limits = [
        LimitsForm::from_limits(Audience::Agents, &settings.agent_login_limits),
        LimitsForm::from_limits(Audience::Users, &settings.user_login_limits),
    ];
    let mut sessions = [
        SessionsForm::from_limits(Audience::Agents, &settings.staff_sessions),
        SessionsForm::from_limits(Audience::Users, &settings.portal_sessions),
    ];
    let mut monitoring = MonitoringForm {
        recipients: settings
            .login_monitoring
            .failed_admin_login_recipients
            .join("\n"),
        resolve_hostnames: settings
            .login_monitoring
            .resolve_hostnames
            .then(|| "1".to_owned()),
        errors: FieldErrors::new(),
    };
    let mut two_factor = TwoFactorForm {
        required_for_agents: settings
            .two_factor
            .required_for_agents
            .then(|| "1".to_owned()),
        grace_days: settings.two_factor.grace_days.to_string(),
        errors: FieldErrors::new(),
    };
    let list = &settings.ip_allow_list;
    let mut ip_allow_list = IpAllowListForm {
        enabled: list.enabled.then(|| "1".to_owned()),
        scope: if list.admins_only { "admins" } else { "agents" }.to_owned(),
        trust_days: list.trust_days.to_string(),
        trusted_ranges: list.trusted_ranges.join("\n"),
        errors: FieldErrors::new(),
    };
    let has_errors = retyped.is_some();
    match retyped {
        Some(Retyped::Policy(form)) => {
            replace_by_audience(&mut policies, form, |form| &form.audience)
        }
        Some(Retyped::Limits(form)) => {
            replace_by_audience(&mut limits, form, |form| &form.audience)
        }
        Some(Retyped::Sessions(form)) => {
            replace_by_audience(&mut sessions, form, |form| &form.audience)
        }
        Some(Retyped::Monitoring(form)) => monitoring = form,
        Some(Retyped::TwoFactor(form)) => two_factor = form,
        Some(Retyped::IpAllowList(form)) => ip_allow_list = form,
        None => {}
    }
    let mut response = render(&SecurityPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/security",
        },
        csrf_token: admin.csrf_token(),
        policies,
        limits,
        sessions,
        monitoring,
        two_factor,
        ip_allow_list,
        notice,
        proxy_warning,
    })?;
    if has_errors {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn replace_by_audience<T>(forms: &mut [T; 2], form: T, audience: impl Fn(&T) -> &String) {
    let index = usize::from(audience(&form) == Audience::Users.key());
    forms[index] = form;
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let settings = state.app.settings().await?;
    let warning = state.app.proxy_warning(&admin.0.actor).await?;
    page(
        &admin,
        &settings,
        None,
        (
            query.text(&[(
                "saved",
                "Saved. Every node uses the new settings within a few seconds.",
            )]),
            warning,
        ),
    )
}

fn parse_audience(key: &str) -> WebResult<Audience> {
    Audience::from_key(key).ok_or_else(|| AppError::NotFound.into())
}

fn saved() -> Response {
    Redirect::to("/admin/security?notice=saved").into_response()
}

/// Goes back to the page after a save; when the use case refused the
/// values, shows the form again with what was typed and why.
async fn answer(
    state: &AppState,
    admin: &AdminSession,
    result: AppResult<()>,
    retype: impl FnOnce(FieldErrors) -> Retyped,
) -> WebResult<Response> {
    match result {
        Ok(()) => Ok(saved()),
        Err(AppError::Invalid(errors)) => {
            let settings = state.app.settings().await?;
            let warning = state.app.proxy_warning(&admin.0.actor).await?;
            page(admin, &settings, Some(retype(errors)), (None, warning))
        }
        Err(other) => Err(other.into()),
    }
}

async fn save_policy(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(audience): Path<String>,
    HtmlForm(mut form): HtmlForm<PolicyForm>,
) -> WebResult<Response> {
    let audience = parse_audience(&audience)?;
    form.audience = audience.key().to_owned();
    let result = match form.parse() {
        Ok(policy) => {
            state
                .app
                .set_password_policy(&admin.caller(), audience, policy)
                .await
        }
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    answer(&state, &admin, result, |errors| {
        Retyped::Policy(PolicyForm { errors, ..form })
    })
    .await
}

async fn save_limits(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(audience): Path<String>,
    HtmlForm(mut form): HtmlForm<LimitsForm>,
) -> WebResult<Response> {
    let audience = parse_audience(&audience)?;
    form.audience = audience.key().to_owned();
    let result = match form.parse() {
        Ok(limits) => {
            state
                .app
                .set_login_limits(&admin.caller(), audience, limits)
                .await
        }
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    answer(&state, &admin, result, |errors| {
        Retyped::Limits(LimitsForm { errors, ..form })
    })
    .await
}

async fn save_sessions(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(audience): Path<String>,
    HtmlForm(mut form): HtmlForm<SessionsForm>,
) -> WebResult<Response> {
    let audience = parse_audience(&audience)?;
    form.audience = audience.key().to_owned();
    let result = match form.parse() {
        Ok(limits) => {
            state
                .app
                .set_session_limits(&admin.caller(), audience, limits)
                .await
        }
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    answer(&state, &admin, result, |errors| {
        Retyped::Sessions(SessionsForm { errors, ..form })
    })
    .await
}

async fn save_monitoring(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<MonitoringForm>,
) -> WebResult<Response> {
    let result = state
        .app
        .set_login_monitoring(
            &admin.caller(),
            &form.recipients,
            form.resolve_hostnames.is_some(),
        )
        .await;
    answer(&state, &admin, result, |errors| {
        Retyped::Monitoring(MonitoringForm { errors, ..form })
    })
    .await
}

async fn save_two_factor(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<TwoFactorForm>,
) -> WebResult<Response> {
    let mut errors = FieldErrors::new();
    let grace_days: u32 = number(&form.grace_days, "grace_days", &mut errors);
    let result = if errors.is_empty() {
        state
            .app
            .set_two_factor_policy(
                &admin.caller(),
                form.required_for_agents.is_some(),
                grace_days,
            )
            .await
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &admin, result, |errors| {
        Retyped::TwoFactor(TwoFactorForm { errors, ..form })
    })
    .await
}

async fn save_ip_allow_list(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<IpAllowListForm>,
) -> WebResult<Response> {
    let mut errors = FieldErrors::new();
    let trust_days: u32 = number(&form.trust_days, "trust_days", &mut errors);
    let result = if errors.is_empty() {
        state
            .app
            .set_ip_allow_list(
                &admin.caller(),
                form.enabled.is_some(),
                form.admins_only(),
                trust_days,
                &form.trusted_ranges,
            )
            .await
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &admin, result, |errors| {
        Retyped::IpAllowList(IpAllowListForm { errors, ..form })
    })
    .await
}
