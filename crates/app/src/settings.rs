//! Runtime settings kept in the database. Each node keeps a copy in memory and
//! reloads it at most a few seconds after another node changed it, so every
//! node agrees without a query on each request.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferrodesk_core::{PasswordPolicy, Timestamp};
use ferrodesk_store::Store;
use serde::{Deserialize, Serialize};

use crate::audit::{Audit, Caller};
use crate::{App, AppError, AppResult, FieldErrors};

/// How stale a node's copy of the settings may get.
const RELOAD_AFTER: Duration = Duration::from_secs(5);

/// How long a session may sit unused, how long it may live at all, and
/// whether "remember me" may keep one across browser restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLimits {
    pub idle_timeout_seconds: u64,
    pub absolute_lifetime_seconds: u64,
    /// Whether the login form offers "remember me". Never honoured by the
    /// admin interface.
    #[serde(default)]
    pub remember_me_allowed: bool,
    /// How long a remembered session lasts, idle or not.
    #[serde(default = "default_remember_me_days")]
    pub remember_me_days: u32,
    /// When on, requests that pages make in the background (marked with
    /// `X-Ferrodesk-Background`) do not count as activity.
    #[serde(default = "default_true")]
    pub require_activity: bool,
}

fn default_remember_me_days() -> u32 {
    30
}

fn default_true() -> bool {
    true
}

/// Bounds the admin form enforces.
pub const MAX_SESSION_SECONDS: u64 = 90 * 24 * 60 * 60;
pub const MAX_REMEMBER_ME_DAYS: u32 = 365;

/// Failed logins before an account locks, per audience (C4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginLimits {
    /// Failures within the window, from one source, that lock that source
    /// out of the account.
    pub max_failures: u32,
    pub window_minutes: u32,
    pub lock_minutes: u32,
    /// Failures one source (address, IPv6 /64) may make within the
    /// window, whatever the accounts; beyond it the source is locked out.
    pub per_ip_attempts: u32,
}

impl LoginLimits {
    pub fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.window_minutes) * 60)
    }

    pub fn lock_period(&self) -> Duration {
        Duration::from_secs(u64::from(self.lock_minutes) * 60)
    }

    pub fn validate(&self) -> AppResult<()> {
        let mut errors = crate::FieldErrors::new();
        if !(1..=1000).contains(&self.max_failures) {
            errors.add("max_failures", "Allow between 1 and 1000 failures.");
        }
        if !(1..=1440).contains(&self.window_minutes) {
            errors.add(
                "window_minutes",
                "The window is between 1 and 1440 minutes.",
            );
        }
        if !(1..=10080).contains(&self.lock_minutes) {
            errors.add(
                "lock_minutes",
                "The lock lasts between 1 minute and 7 days (10080 minutes).",
            );
        }
        if !(1..=100_000).contains(&self.per_ip_attempts) {
            errors.add(
                "per_ip_attempts",
                "Allow between 1 and 100000 attempts per address.",
            );
        } else if self.per_ip_attempts < self.max_failures {
            errors.add(
                "per_ip_attempts",
                "The per-address limit cannot be below the failures that lock an account.",
            );
        }
        errors.into_result()
    }
}

/// Who hears about logins besides the person (C5), and whether the login
/// log looks up hostnames (C6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginMonitoring {
    /// Addresses told about every failed login of an admin account.
    pub failed_admin_login_recipients: Vec<String>,
    /// Reverse DNS for the login log, in the background.
    pub resolve_hostnames: bool,
}

/// Who must use two-factor login (C10). Optional unless required here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorPolicy {
    /// Every agent must turn it on.
    pub required_for_agents: bool,
    /// Days an agent has to comply, counted from when the requirement was
    /// switched on (or from when they joined, if later).
    pub grace_days: u32,
    /// When the requirement was switched on; kept while it stays on.
    pub required_since: Option<i64>,
}

pub const MAX_TWO_FACTOR_GRACE_DAYS: u32 = 90;

impl TwoFactorPolicy {
    /// When an agent created at `joined_at` without 2FA runs out of time,
    /// or `None` when nothing is required.
    pub fn deadline(&self, joined_at: i64) -> Option<Timestamp> {
        let since = self.required_since.filter(|_| self.required_for_agents)?;
        Some(
            Timestamp(since.max(joined_at))
                .plus(Duration::from_secs(u64::from(self.grace_days) * 86_400)),
        )
    }
}

/// IP allow-listing (C7): agents sign in only from addresses they have
/// confirmed by email, or from the listed ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAllowList {
    pub enabled: bool,
    /// Applies to admins only rather than to every agent.
    pub admins_only: bool,
    /// How long a confirmed address stays trusted.
    pub trust_days: u32,
    /// Ranges trusted for everyone, in CIDR notation.
    pub trusted_ranges: Vec<String>,
}

pub const MAX_TRUST_DAYS: u32 = 730;

impl IpAllowList {
    pub fn applies_to(&self, is_agent: bool, is_admin: bool) -> bool {
        self.enabled && is_agent && (is_admin || !self.admins_only)
    }

    /// Whether one of the listed ranges holds `ip`.
    pub fn range_admits(&self, ip: &str) -> bool {
        let Ok(address) = ip.parse::<std::net::IpAddr>() else {
            return false;
        };
        let address = address.to_canonical();
        self.trusted_ranges.iter().any(|range| {
            parse_range(range).is_ok_and(|range: ipnet::IpNet| range.contains(&address))
        })
    }

    pub fn trust_period(&self) -> Duration {
        Duration::from_secs(u64::from(self.trust_days) * 86_400)
    }
}

/// A CIDR range, or a single address as its own range.
pub fn parse_range(text: &str) -> Result<ipnet::IpNet, ipnet::AddrParseError> {
    let text = text.trim();
    match text.parse::<std::net::IpAddr>() {
        Ok(address) => Ok(ipnet::IpNet::from(address)),
        Err(_) => text.parse::<ipnet::IpNet>(),
    }
}

impl SessionLimits {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_seconds)
    }

    pub fn absolute_lifetime(&self) -> Duration {
        Duration::from_secs(self.absolute_lifetime_seconds)
    }
}

/// What may be attached to ticket messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentLimits {
    /// The largest file, in MiB.
    pub max_file_mib: u32,
    /// At most this many files on one message.
    pub max_files_per_message: u32,
    /// File name extensions refused, lower case without the dot.
    pub blocked_extensions: Vec<String>,
}

pub const MAX_ATTACHMENT_MIB: u32 = 100;
pub const MAX_FILES_PER_MESSAGE: u32 = 20;

impl AttachmentLimits {
    pub fn max_file_bytes(&self) -> u64 {
        u64::from(self.max_file_mib) * 1024 * 1024
    }

    /// The largest request body a message with attachments may need: every
    /// file at its largest plus room for the text fields.
    pub fn max_request_bytes(&self) -> u64 {
        self.max_file_bytes() * u64::from(self.max_files_per_message.max(1)) + 1024 * 1024
    }

    /// Whether a file name ends in an extension the admin blocked.
    pub fn blocks(&self, file_name: &str) -> bool {
        let Some((_, extension)) = file_name.rsplit_once('.') else {
            return false;
        };
        let extension = extension.trim().to_ascii_lowercase();
        self.blocked_extensions.contains(&extension)
    }
}

/// Who may open a help-center account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Anyone; the account works at once.
    Open,
    /// Anyone, once they confirm their address through a mailed link.
    Verify,
    /// Anyone may ask, with a confirmed address; an agent lets them in.
    Approval,
    /// Nobody: only agents create users.
    Closed,
}

impl RegistrationMode {
    pub const ALL: [RegistrationMode; 4] = [
        RegistrationMode::Open,
        RegistrationMode::Verify,
        RegistrationMode::Approval,
        RegistrationMode::Closed,
    ];

    pub fn key(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::Verify => "verify",
            RegistrationMode::Approval => "approval",
            RegistrationMode::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RegistrationMode::Open => "Open: accounts work at once",
            RegistrationMode::Verify => "Open, once the address is confirmed by mail",
            RegistrationMode::Approval => "On request: an agent approves each account",
            RegistrationMode::Closed => "Closed: only agents create users",
        }
    }

    pub fn from_key(key: &str) -> Option<RegistrationMode> {
        RegistrationMode::ALL
            .into_iter()
            .find(|mode| mode.key() == key)
    }
}

/// What the help center lets visitors do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpCenterSettings {
    pub registration: RegistrationMode,
    /// Whether visitors without an account may open tickets (by mail
    /// address, without attachments).
    pub guest_tickets: bool,
    /// The departments the new-ticket form offers; `None` for all.
    pub form_departments: Option<Vec<i64>>,
    /// The front page's heading; empty for the catalogue's own.
    #[serde(default)]
    pub welcome_title: String,
    /// The front page's introduction, markdown; empty for the catalogue's.
    #[serde(default)]
    pub welcome_text: String,
    /// The time zone of people who have not chosen one (an IANA name);
    /// empty for UTC.
    #[serde(default)]
    pub default_time_zone: String,
}

/// The longest welcome heading and introduction the admin may set.
pub const MAX_WELCOME_TITLE_CHARS: usize = 100;
pub const MAX_WELCOME_TEXT_CHARS: usize = 2_000;

fn default_help_center() -> HelpCenterSettings {
    HelpCenterSettings {
        registration: RegistrationMode::Verify,
        guest_tickets: false,
        form_departments: None,
        welcome_title: String::new(),
        welcome_text: String::new(),
        default_time_zone: String::new(),
    }
}

/// How the help center presents itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// Shown in page titles, the top bar and mails.
    pub product_name: String,
    /// The help center's main colour, `#rrggbb`.
    pub accent: String,
    /// The logo's stored body (an image), if one was uploaded.
    #[serde(default)]
    pub logo_sha256: Option<String>,
    #[serde(default)]
    pub logo_content_type: Option<String>,
}

/// The REST API's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSettings {
    /// Requests each key may make per minute, on each node.
    pub requests_per_minute: u32,
}

/// Requests per minute a key may be allowed at most.
pub const MAX_API_REQUESTS_PER_MINUTE: u32 = 1_000_000;

fn default_api_settings() -> ApiSettings {
    ApiSettings {
        requests_per_minute: 600,
    }
}

fn default_branding() -> Branding {
    Branding {
        product_name: "Ferrodesk".to_owned(),
        accent: "#1f5fbf".to_owned(),
        logo_sha256: None,
        logo_content_type: None,
    }
}

/// Every runtime setting, with its secure default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub staff_sessions: SessionLimits,
    pub portal_sessions: SessionLimits,
    pub agent_password_policy: PasswordPolicy,
    pub user_password_policy: PasswordPolicy,
    pub agent_login_limits: LoginLimits,
    pub user_login_limits: LoginLimits,
    pub login_monitoring: LoginMonitoring,
    pub two_factor: TwoFactorPolicy,
    pub ip_allow_list: IpAllowList,
    #[serde(default = "default_attachment_limits")]
    pub attachments: AttachmentLimits,
    #[serde(default = "default_help_center")]
    pub help_center: HelpCenterSettings,
    #[serde(default = "default_branding")]
    pub branding: Branding,
    #[serde(default = "default_api_settings")]
    pub api: ApiSettings,
    #[serde(default)]
    pub mail_in: MailInSettings,
    #[serde(default)]
    pub replies: ReplySettings,
    #[serde(default)]
    pub surveys: SurveySettings,
    #[serde(default)]
    pub chat: crate::chat::ChatSettings,
}

/// The satisfaction survey in the "resolved" mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SurveySettings {
    pub enabled: bool,
    pub question: String,
    pub good_words: String,
    pub bad_words: String,
}

impl Default for SurveySettings {
    fn default() -> SurveySettings {
        SurveySettings {
            enabled: false,
            question: "How did we do?".to_owned(),
            good_words: "Good, I'm satisfied".to_owned(),
            bad_words: "Bad, I'm not satisfied".to_owned(),
        }
    }
}

/// How agents' replies are written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplySettings {
    /// The signature of agents without their own (markdown, with
    /// placeholders); empty for none.
    pub default_signature: String,
}

/// How mail coming in is handled: the limits that stop loops and floods,
/// and how long refused mail is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailInSettings {
    /// Automatic mails (receipts) one address gets in an hour at most.
    pub auto_replies_per_address_per_hour: u32,
    /// Messages one sender may send in an hour before the rest are refused.
    pub mails_per_sender_per_hour: u32,
    /// Messages one account takes in an hour before the rest are refused.
    pub mails_per_account_per_hour: u32,
    /// Days the rejection log keeps a refused message.
    pub rejections_kept_days: u32,
    /// Whether ticket mails carry a `Reply-To` plus-address of the sender
    /// with the reply token (`help+fd.…@example.org`), for mail programs
    /// that drop `In-Reply-To`; the mail server must deliver plus-addresses
    /// to the account.
    #[serde(default)]
    pub reply_to_plus_address: bool,
}

/// The mail-in settings as an admin typed them.
#[derive(Debug, Clone, Copy)]
pub struct MailInInput<'a> {
    pub auto_replies_per_address_per_hour: &'a str,
    pub mails_per_sender_per_hour: &'a str,
    pub mails_per_account_per_hour: &'a str,
    pub rejections_kept_days: &'a str,
    pub reply_to_plus_address: bool,
}

impl Default for MailInSettings {
    fn default() -> MailInSettings {
        MailInSettings {
            auto_replies_per_address_per_hour: 5,
            mails_per_sender_per_hour: 30,
            mails_per_account_per_hour: 2_000,
            rejections_kept_days: 30,
            reply_to_plus_address: false,
        }
    }
}

fn default_attachment_limits() -> AttachmentLimits {
    AttachmentLimits {
        max_file_mib: 10,
        max_files_per_message: 10,
        // Programs and scripts that run with a double click on common
        // desktops; a helpdesk has no use for them and mail filters drop
        // them anyway.
        blocked_extensions: [
            "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "cpl", "hta", "jar", "js",
            "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "lnk", "reg", "dll", "sys",
        ]
        .iter()
        .map(|extension| (*extension).to_owned())
        .collect(),
    }
}

impl Default for Settings {
    fn default() -> Settings {
        let one_hour_idle_twelve_hours_total = SessionLimits {
            idle_timeout_seconds: 60 * 60,
            absolute_lifetime_seconds: 12 * 60 * 60,
            remember_me_allowed: false,
            remember_me_days: default_remember_me_days(),
            require_activity: true,
        };
        let ten_failures_in_fifteen_minutes = LoginLimits {
            max_failures: 10,
            window_minutes: 15,
            lock_minutes: 15,
            per_ip_attempts: 100,
        };
        Settings {
            staff_sessions: one_hour_idle_twelve_hours_total,
            portal_sessions: SessionLimits {
                remember_me_allowed: true,
                ..one_hour_idle_twelve_hours_total
            },
            agent_password_policy: PasswordPolicy::agent_default(),
            user_password_policy: PasswordPolicy::user_default(),
            agent_login_limits: ten_failures_in_fifteen_minutes,
            user_login_limits: ten_failures_in_fifteen_minutes,
            login_monitoring: LoginMonitoring {
                failed_admin_login_recipients: Vec::new(),
                resolve_hostnames: true,
            },
            two_factor: TwoFactorPolicy {
                required_for_agents: false,
                grace_days: 7,
                required_since: None,
            },
            ip_allow_list: IpAllowList {
                enabled: false,
                admins_only: false,
                trust_days: 90,
                trusted_ranges: Vec::new(),
            },
            attachments: default_attachment_limits(),
            help_center: default_help_center(),
            branding: default_branding(),
            api: default_api_settings(),
            mail_in: MailInSettings::default(),
            replies: ReplySettings::default(),
            surveys: SurveySettings::default(),
            chat: crate::chat::ChatSettings::default(),
        }
    }
}

const STAFF_SESSIONS: &str = "sessions.staff";
const PORTAL_SESSIONS: &str = "sessions.portal";
const AGENT_PASSWORD_POLICY: &str = "password_policy.agent";
const USER_PASSWORD_POLICY: &str = "password_policy.user";
const AGENT_LOGIN_LIMITS: &str = "login_limits.agent";
const USER_LOGIN_LIMITS: &str = "login_limits.user";
const LOGIN_MONITORING: &str = "login_monitoring";
const TWO_FACTOR: &str = "two_factor";
const IP_ALLOW_LIST: &str = "ip_allow_list";
const ATTACHMENTS: &str = "attachments";
pub(crate) const HELP_CENTER: &str = "help_center";
const BRANDING: &str = "branding";
const API: &str = "api";
const MAIL_IN: &str = "mail_in";
pub(crate) const REPLIES: &str = "replies";
pub(crate) const SURVEYS: &str = "surveys";
pub(crate) const CHAT: &str = "chat";

impl Settings {
    /// Every setting as (key, JSON value).
    fn to_rows(&self) -> AppResult<Vec<(&'static str, String)>> {
        Ok(vec![
            (STAFF_SESSIONS, to_json(&self.staff_sessions)?),
            (PORTAL_SESSIONS, to_json(&self.portal_sessions)?),
            (AGENT_PASSWORD_POLICY, to_json(&self.agent_password_policy)?),
            (USER_PASSWORD_POLICY, to_json(&self.user_password_policy)?),
            (AGENT_LOGIN_LIMITS, to_json(&self.agent_login_limits)?),
            (USER_LOGIN_LIMITS, to_json(&self.user_login_limits)?),
            (LOGIN_MONITORING, to_json(&self.login_monitoring)?),
            (TWO_FACTOR, to_json(&self.two_factor)?),
            (IP_ALLOW_LIST, to_json(&self.ip_allow_list)?),
            (ATTACHMENTS, to_json(&self.attachments)?),
            (HELP_CENTER, to_json(&self.help_center)?),
            (BRANDING, to_json(&self.branding)?),
            (API, to_json(&self.api)?),
            (MAIL_IN, to_json(&self.mail_in)?),
            (REPLIES, to_json(&self.replies)?),
            (SURVEYS, to_json(&self.surveys)?),
            (CHAT, to_json(&self.chat)?),
        ])
    }

    /// Builds settings from stored (key, JSON) pairs. A stored value that no
    /// longer parses is reported and its default used, so one bad row cannot
    /// stop the helpdesk from starting.
    fn from_rows(rows: &[(String, String)]) -> Settings {
        let mut settings = Settings::default();
        for (key, value) in rows {
            let applied = match key.as_str() {
                STAFF_SESSIONS => parse_into(value, &mut settings.staff_sessions),
                PORTAL_SESSIONS => parse_into(value, &mut settings.portal_sessions),
                AGENT_PASSWORD_POLICY => parse_into(value, &mut settings.agent_password_policy),
                USER_PASSWORD_POLICY => parse_into(value, &mut settings.user_password_policy),
                AGENT_LOGIN_LIMITS => parse_into(value, &mut settings.agent_login_limits),
                USER_LOGIN_LIMITS => parse_into(value, &mut settings.user_login_limits),
                LOGIN_MONITORING => parse_into(value, &mut settings.login_monitoring),
                TWO_FACTOR => parse_into(value, &mut settings.two_factor),
                IP_ALLOW_LIST => parse_into(value, &mut settings.ip_allow_list),
                ATTACHMENTS => parse_into(value, &mut settings.attachments),
                HELP_CENTER => parse_into(value, &mut settings.help_center),
                BRANDING => parse_into(value, &mut settings.branding),
                API => parse_into(value, &mut settings.api),
                MAIL_IN => parse_into(value, &mut settings.mail_in),
                REPLIES => parse_into(value, &mut settings.replies),
                SURVEYS => parse_into(value, &mut settings.surveys),
                CHAT => parse_into(value, &mut settings.chat),
                _ => true,
            };
            if !applied {
                tracing::warn!(setting = %key, "stored setting does not parse; using its default");
            }
        }
        settings
    }
}

fn to_json<T: Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(|error| AppError::Internal(error.to_string()))
}

fn parse_into<T: serde::de::DeserializeOwned>(json: &str, target: &mut T) -> bool {
    match serde_json::from_str(json) {
        Ok(value) => {
            *target = value;
            true
        }
        Err(_) => false,
    }
}

#[derive(Debug)]
pub(crate) struct SettingsCache {
    current: RwLock<(Timestamp, Arc<Settings>)>,
}

impl SettingsCache {
    /// Loads the settings, first writing the default of every setting that
    /// has no stored value yet, so the database holds the whole configuration.
    pub(crate) async fn load(store: &Store, now: Timestamp) -> AppResult<SettingsCache> {
        for (key, value) in Settings::default().to_rows()? {
            store
                .settings()
                .put_setting_if_missing(key, &value, now)
                .await?;
        }
        let settings = Settings::from_rows(&store.settings().load_settings().await?);
        Ok(SettingsCache {
            current: RwLock::new((now, Arc::new(settings))),
        })
    }

    fn snapshot(&self) -> (Timestamp, Arc<Settings>) {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, loaded_at: Timestamp, settings: Settings) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = (loaded_at, Arc::new(settings));
    }
}

impl App {
    /// The current settings, reloaded from the database when this node's copy
    /// is older than a few seconds.
    pub async fn settings(&self) -> AppResult<Arc<Settings>> {
        let now = self.now();
        let (loaded_at, settings) = self.inner.settings.snapshot();
        if now < loaded_at.plus(RELOAD_AFTER) && now >= loaded_at {
            return Ok(settings);
        }
        self.reload_settings().await
    }

    pub async fn reload_settings(&self) -> AppResult<Arc<Settings>> {
        let now = self.now();
        let rows = self.inner.store.settings().load_settings().await?;
        self.inner.settings.replace(now, Settings::from_rows(&rows));
        Ok(self.inner.settings.snapshot().1)
    }

    /// Changes one audience's session settings (C9).
    pub async fn set_session_limits(
        &self,
        caller: &Caller<'_>,
        audience: Audience,
        limits: SessionLimits,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        if limits.idle_timeout_seconds < 60 || limits.idle_timeout_seconds > MAX_SESSION_SECONDS {
            errors.add(
                "idle_timeout",
                "The inactivity timeout is between 1 minute and 90 days.",
            );
        }
        if limits.absolute_lifetime_seconds > MAX_SESSION_SECONDS {
            errors.add("absolute_lifetime", "The lifetime is at most 90 days.");
        } else if limits.absolute_lifetime_seconds < limits.idle_timeout_seconds {
            errors.add(
                "absolute_lifetime",
                "The lifetime cannot be shorter than the inactivity timeout.",
            );
        }
        if !(1..=MAX_REMEMBER_ME_DAYS).contains(&limits.remember_me_days) {
            errors.add("remember_me_days", "Remember people for 1 to 365 days.");
        }
        errors.into_result()?;
        let (key, before) = match audience {
            Audience::Agents => (STAFF_SESSIONS, self.settings().await?.staff_sessions),
            Audience::Users => (PORTAL_SESSIONS, self.settings().await?.portal_sessions),
        };
        self.put_audited_setting(caller, key, &before, &limits)
            .await
    }

    /// Changes one audience's password policy (C2, C3).
    pub async fn set_password_policy(
        &self,
        caller: &Caller<'_>,
        audience: Audience,
        policy: PasswordPolicy,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        for (field, message) in policy.problems() {
            errors.add(field, message);
        }
        errors.into_result()?;
        let (key, before) = match audience {
            Audience::Agents => (
                AGENT_PASSWORD_POLICY,
                self.settings().await?.agent_password_policy.clone(),
            ),
            Audience::Users => (
                USER_PASSWORD_POLICY,
                self.settings().await?.user_password_policy.clone(),
            ),
        };
        self.put_audited_setting(caller, key, &before, &policy)
            .await
    }

    /// Changes one audience's login lock-out limits (C4).
    pub async fn set_login_limits(
        &self,
        caller: &Caller<'_>,
        audience: Audience,
        limits: LoginLimits,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        limits.validate()?;
        let (key, before) = match audience {
            Audience::Agents => (
                AGENT_LOGIN_LIMITS,
                self.settings().await?.agent_login_limits,
            ),
            Audience::Users => (USER_LOGIN_LIMITS, self.settings().await?.user_login_limits),
        };
        self.put_audited_setting(caller, key, &before, &limits)
            .await
    }

    /// Changes who is told of failed admin logins and whether hostnames are
    /// looked up (C5, C6). Recipients are one address per line or comma.
    pub async fn set_login_monitoring(
        &self,
        caller: &Caller<'_>,
        recipients: &str,
        resolve_hostnames: bool,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut addresses = Vec::new();
        let mut errors = FieldErrors::new();
        for piece in recipients
            .split([',', '\n', ';'])
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
        {
            match ferrodesk_core::Email::parse(piece) {
                Ok(email) => addresses.push(email.as_str().to_owned()),
                Err(_) => errors.add(
                    "recipients",
                    format!("\u{201c}{piece}\u{201d} is not an email address."),
                ),
            }
        }
        if addresses.len() > 20 {
            errors.add("recipients", "List at most 20 addresses.");
        }
        errors.into_result()?;
        let after = LoginMonitoring {
            failed_admin_login_recipients: addresses,
            resolve_hostnames,
        };
        let before = self.settings().await?.login_monitoring.clone();
        self.put_audited_setting(caller, LOGIN_MONITORING, &before, &after)
            .await
    }

    /// Requires (or stops requiring) 2FA of every agent, with the days they
    /// have to comply (C10).
    pub async fn set_two_factor_policy(
        &self,
        caller: &Caller<'_>,
        required_for_agents: bool,
        grace_days: u32,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        if grace_days > MAX_TWO_FACTOR_GRACE_DAYS {
            return Err(AppError::invalid(
                "grace_days",
                format!("Allow at most {MAX_TWO_FACTOR_GRACE_DAYS} days."),
            ));
        }
        let before = self.settings().await?.two_factor;
        let required_since = match (required_for_agents, before.required_since) {
            (false, _) => None,
            (true, Some(since)) if before.required_for_agents => Some(since),
            (true, _) => Some(self.now().millis()),
        };
        let after = TwoFactorPolicy {
            required_for_agents,
            grace_days,
            required_since,
        };
        self.put_audited_setting(caller, TWO_FACTOR, &before, &after)
            .await
    }

    /// Turns IP allow-listing on or off and sets its scope, how long a
    /// confirmed address stays trusted, and the ranges trusted for all (C7).
    /// Ranges are one per line or comma; a bad one is named in the error.
    pub async fn set_ip_allow_list(
        &self,
        caller: &Caller<'_>,
        enabled: bool,
        admins_only: bool,
        trust_days: u32,
        ranges: &str,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        if !(1..=MAX_TRUST_DAYS).contains(&trust_days) {
            errors.add(
                "trust_days",
                "Trust an address for 1 day to 2 years (730 days).",
            );
        }
        let mut trusted_ranges = Vec::new();
        for piece in ranges
            .split([',', '\n', ';'])
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
        {
            match parse_range(piece) {
                Ok(range) => {
                    let range = range.trunc().to_string();
                    if !trusted_ranges.contains(&range) {
                        trusted_ranges.push(range);
                    }
                }
                Err(_) => errors.add(
                    "trusted_ranges",
                    format!(
                        "\u{201c}{}\u{201d} is not an address or a range such as 192.0.2.0/24.",
                        piece.chars().take(60).collect::<String>()
                    ),
                ),
            }
        }
        if trusted_ranges.len() > 200 {
            errors.add("trusted_ranges", "List at most 200 ranges.");
        }
        errors.into_result()?;
        let after = IpAllowList {
            enabled,
            admins_only,
            trust_days,
            trusted_ranges,
        };
        let before = self.settings().await?.ip_allow_list.clone();
        let turned_on = after.enabled && !before.enabled;
        let trust_period = after.trust_period();
        self.put_audited_setting(caller, IP_ALLOW_LIST, &before, &after)
            .await?;
        if turned_on {
            // The admin turning it on should not be the first one locked out.
            self.trust_callers_address(caller, trust_period).await?;
        }
        Ok(())
    }

    /// Sets what may be attached to ticket messages. Extensions are listed
    /// with or without dots, separated by commas, spaces or lines.
    pub async fn set_attachment_limits(
        &self,
        caller: &Caller<'_>,
        max_file_mib: &str,
        max_files_per_message: &str,
        blocked_extensions: &str,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let max_file_mib = match max_file_mib.trim().parse::<u32>() {
            Ok(value) if (1..=MAX_ATTACHMENT_MIB).contains(&value) => value,
            _ => {
                errors.add(
                    "max_file_mib",
                    format!("A file may be 1 to {MAX_ATTACHMENT_MIB} MiB."),
                );
                0
            }
        };
        let max_files_per_message = match max_files_per_message.trim().parse::<u32>() {
            Ok(value) if value <= MAX_FILES_PER_MESSAGE => value,
            _ => {
                errors.add(
                    "max_files_per_message",
                    format!("Allow 0 to {MAX_FILES_PER_MESSAGE} files per message."),
                );
                0
            }
        };
        let mut extensions: Vec<String> = Vec::new();
        for piece in blocked_extensions
            .split([',', ' ', '\n', ';', '\r', '\t'])
            .map(|piece| piece.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|piece| !piece.is_empty())
        {
            if piece.len() > 20 || !piece.chars().all(|c| c.is_ascii_alphanumeric()) {
                errors.add(
                    "blocked_extensions",
                    format!(
                        "\u{201c}{}\u{201d} is not a file extension.",
                        piece.chars().take(30).collect::<String>()
                    ),
                );
            } else if !extensions.contains(&piece) {
                extensions.push(piece);
            }
        }
        errors.into_result()?;
        extensions.sort();
        let after = AttachmentLimits {
            max_file_mib,
            max_files_per_message,
            blocked_extensions: extensions,
        };
        let before = self.settings().await?.attachments.clone();
        self.put_audited_setting(caller, ATTACHMENTS, &before, &after)
            .await
    }

    /// Sets who may register, whether guests may open tickets and which
    /// departments the help center's form offers (`None`: all).
    pub async fn set_help_center(
        &self,
        caller: &Caller<'_>,
        registration: &str,
        guest_tickets: bool,
        form_departments: Option<Vec<i64>>,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let registration = RegistrationMode::from_key(registration)
            .ok_or_else(|| AppError::invalid("registration", "Choose a registration mode."))?;
        let known: Vec<i64> = self
            .store()
            .departments()
            .list_departments()
            .await?
            .iter()
            .map(|department| department.id)
            .collect();
        let form_departments = form_departments.map(|mut chosen| {
            chosen.retain(|id| known.contains(id));
            chosen.sort_unstable();
            chosen.dedup();
            chosen
        });
        let before = self.settings().await?.help_center.clone();
        let after = HelpCenterSettings {
            registration,
            guest_tickets,
            form_departments,
            ..before.clone()
        };
        self.put_audited_setting(caller, HELP_CENTER, &before, &after)
            .await
    }

    /// Sets the help center's front-page heading and introduction
    /// (markdown); empty values bring back the built-in text.
    pub async fn set_help_center_welcome(
        &self,
        caller: &Caller<'_>,
        title: &str,
        text: &str,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let title = title.trim();
        if title.chars().count() > MAX_WELCOME_TITLE_CHARS || title.chars().any(char::is_control) {
            errors.add(
                "welcome_title",
                format!("A heading has at most {MAX_WELCOME_TITLE_CHARS} characters on one line."),
            );
        }
        let text = text.trim();
        if text.chars().count() > MAX_WELCOME_TEXT_CHARS {
            errors.add(
                "welcome_text",
                format!("The introduction has at most {MAX_WELCOME_TEXT_CHARS} characters."),
            );
        }
        errors.into_result()?;
        let before = self.settings().await?.help_center.clone();
        let after = HelpCenterSettings {
            welcome_title: title.to_owned(),
            welcome_text: text.replace("\r\n", "\n"),
            ..before.clone()
        };
        self.put_audited_setting(caller, HELP_CENTER, &before, &after)
            .await
    }

    /// Sets the limits of mail in (automatic mails per address and hour,
    /// messages per sender and per account and hour, the days refused mail
    /// is kept) and whether replies get a plus-address.
    pub async fn set_mail_in_settings(
        &self,
        caller: &Caller<'_>,
        input: &MailInInput<'_>,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let mut number = |field: &'static str,
                          text: &str,
                          range: std::ops::RangeInclusive<u32>,
                          message: &str| {
            let parsed = text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|value| range.contains(value));
            if parsed.is_none() {
                errors.add(field, message);
            }
            parsed.unwrap_or(*range.start())
        };
        let after = MailInSettings {
            auto_replies_per_address_per_hour: number(
                "auto_replies",
                input.auto_replies_per_address_per_hour,
                0..=100,
                "Automatic mails per address and hour: 0 to 100.",
            ),
            mails_per_sender_per_hour: number(
                "per_sender",
                input.mails_per_sender_per_hour,
                1..=10_000,
                "Messages per sender and hour: 1 to 10,000.",
            ),
            mails_per_account_per_hour: number(
                "per_account",
                input.mails_per_account_per_hour,
                1..=1_000_000,
                "Messages per account and hour: 1 to 1,000,000.",
            ),
            rejections_kept_days: number(
                "kept_days",
                input.rejections_kept_days,
                1..=3_650,
                "Keep refused mail 1 to 3,650 days.",
            ),
            reply_to_plus_address: input.reply_to_plus_address,
        };
        errors.into_result()?;
        let before = self.settings().await?.mail_in.clone();
        self.put_audited_setting(caller, MAIL_IN, &before, &after)
            .await
    }

    /// Sets how many requests each API key may make per minute.
    pub async fn set_api_settings(
        &self,
        caller: &Caller<'_>,
        requests_per_minute: &str,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let requests_per_minute = requests_per_minute
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_API_REQUESTS_PER_MINUTE).contains(limit))
            .ok_or_else(|| {
                AppError::invalid(
                    "requests_per_minute",
                    "Requests per minute is a number from 1 to 1,000,000.",
                )
            })?;
        let after = ApiSettings {
            requests_per_minute,
        };
        let before = self.settings().await?.api.clone();
        self.put_audited_setting(caller, API, &before, &after).await
    }

    /// Sets the product name and the main colour (`#rrggbb`).
    pub async fn set_branding(
        &self,
        caller: &Caller<'_>,
        product_name: &str,
        accent: &str,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let name = product_name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            errors.add("product_name", "A name has 1 to 60 characters on one line.");
        }
        let accent = accent.trim().to_ascii_lowercase();
        match ferrodesk_core::colour::Rgb::parse(&accent).map(|colour| colour.text_colour()) {
            None => errors.add("accent", "A colour is written #rrggbb."),
            Some((_, contrast)) if contrast < ferrodesk_core::colour::AA_TEXT_CONTRAST => {
                errors.add(
                    "accent",
                    format!(
                        "Text on this colour would be hard to read: at best {contrast:.1}:1, where at least 4.5:1 is needed. Choose a darker or a lighter colour."
                    ),
                );
            }
            Some(_) => {}
        }
        errors.into_result()?;
        let before = self.settings().await?.branding.clone();
        let after = Branding {
            product_name: name.to_owned(),
            accent,
            ..before.clone()
        };
        self.put_audited_setting(caller, BRANDING, &before, &after)
            .await
    }

    /// Sets (an uploaded image) or removes (`None`) the logo.
    pub async fn set_brand_logo(
        &self,
        caller: &Caller<'_>,
        logo: Option<&crate::UploadedFile>,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        if let Some(file) = logo
            && !file.content_type.starts_with("image/")
        {
            return Err(AppError::invalid(
                "logo",
                "A logo is a PNG, JPEG, GIF or WebP image.",
            ));
        }
        let before = self.settings().await?.branding.clone();
        let after = Branding {
            logo_sha256: logo.map(|file| file.sha256.clone()),
            logo_content_type: logo.map(|file| file.content_type.clone()),
            ..before.clone()
        };
        if let Some(file) = logo {
            // Keep the body out of the sweep of unreferenced blobs.
            self.store()
                .tickets()
                .record_blob(&file.sha256, file.size, self.now())
                .await?;
        }
        self.put_audited_setting(caller, BRANDING, &before, &after)
            .await
    }

    /// Stores a setting with its audit entry in one transaction, then
    /// reloads this node's copy; other nodes see it within seconds.
    pub(crate) async fn put_audited_setting<T: Serialize>(
        &self,
        caller: &Caller<'_>,
        key: &'static str,
        before: &T,
        after: &T,
    ) -> AppResult<()> {
        if !caller.actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        let json = to_json(after)?;
        let audit = Audit::new(caller, "settings.changed")
            .on_setting(key)
            .change(before, after);
        self.inner
            .store
            .settings()
            .put_setting_audited(key, &json, &audit.entry(), self.now())
            .await?;
        self.reload_settings().await?;
        Ok(())
    }
}

/// Whose settings: the staff's or the help center's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Agents,
    Users,
}

impl Audience {
    pub fn from_key(key: &str) -> Option<Audience> {
        match key {
            "agents" => Some(Audience::Agents),
            "users" => Some(Audience::Users),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Audience::Agents => "agents",
            Audience::Users => "users",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_security_brief() {
        let settings = Settings::default();
        assert_eq!(settings.staff_sessions.idle_timeout_seconds, 3600);
        assert_eq!(settings.staff_sessions.absolute_lifetime_seconds, 43200);
        assert_eq!(settings.agent_password_policy.min_length, 12);
        assert_eq!(settings.user_password_policy.min_length, 10);
    }

    #[test]
    fn every_setting_round_trips_through_its_stored_form() {
        let mut settings = Settings::default();
        settings.api.requests_per_minute = 42;
        settings.mail_in.mails_per_sender_per_hour = 7;
        settings.replies.default_signature = "Best,\n{{ agent.name }}".to_owned();
        settings.surveys.enabled = true;
        settings.surveys.question = "Happy?".to_owned();
        settings.chat.enabled = true;
        settings.chat.allowed_origins = vec!["https://shop.example.com".to_owned()];
        let rows: Vec<(String, String)> = settings
            .to_rows()
            .unwrap()
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        assert_eq!(rows.len(), 17);
        assert_eq!(Settings::from_rows(&rows), settings);
    }

    #[test]
    fn a_broken_stored_value_falls_back_to_its_default() {
        let rows = vec![
            (STAFF_SESSIONS.to_owned(), "not json".to_owned()),
            (
                PORTAL_SESSIONS.to_owned(),
                r#"{"idle_timeout_seconds":60,"absolute_lifetime_seconds":120}"#.to_owned(),
            ),
        ];
        let settings = Settings::from_rows(&rows);
        assert_eq!(settings.staff_sessions, Settings::default().staff_sessions);
        assert_eq!(settings.portal_sessions.idle_timeout_seconds, 60);
    }
}
