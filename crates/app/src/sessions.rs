//! Signing in and out, and recognising a signed-in person on later requests.
//!
//! Sessions are our own rather than a crate's: we need two surfaces with
//! separate cookies, only hashes of tokens in the database (shared by every
//! node), server-enforced idle and absolute limits from runtime settings, and a
//! CSRF token bound to the session. The pieces are small; the rules are ours.

use std::time::Duration;

use ferrodesk_core::{Email, Secret, Surface, Timestamp};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{
    FailedLogin, LockoutRule, NewLoginRecord, NewSession, PersonRecord, SecondFactorProof,
    SessionRecord, SuccessfulLogin,
};

use crate::audit::Audit;
use crate::secrets::{random_token, same_secret, token_hash};
use crate::{App, AppError, AppResult, SessionLimits, Settings};

/// How the audit log names a person acting on their own account.
pub(crate) fn person_label(person: &PersonRecord) -> String {
    format!("{} <{}>", person.name, person.email)
}

/// An agent acting without a session of their own (answering by mail, or
/// checked for what a notification may tell them): their own permissions
/// apply, as on the web.
pub(crate) fn actor_of_agent(agent: &PersonRecord) -> Actor {
    Actor::Agent(SignedIn {
        person_id: agent.id,
        name: agent.name.clone(),
        email: agent.email.clone(),
        is_admin: agent.is_admin,
        remembered: false,
        must_change_password: false,
        must_set_up_two_factor: false,
        time_zone: String::new(),
    })
}

/// A session's last-seen time is written at most this often, so an agent
/// clicking around does not cause a database write per request. The idle
/// timeout is therefore enforced to within this much.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// A person recognised from their session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub person_id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    /// Opened with "remember me": the admin interface asks for a fresh login.
    pub remembered: bool,
    /// The password expired or an admin asked for a new one: nothing but
    /// choosing one (or logging out) is allowed until it is done.
    pub must_change_password: bool,
    /// Two-factor login is required and the grace period is over: nothing
    /// but setting it up (or logging out) is allowed until it is done.
    pub must_set_up_two_factor: bool,
    /// Their own time zone as the session read it (empty: none chosen, or
    /// not read on this path).
    pub time_zone: String,
}

/// Whether an agent without 2FA has run out of time to turn it on.
pub(crate) fn two_factor_overdue(
    settings: &Settings,
    is_agent: bool,
    totp_enabled_at: Option<i64>,
    joined_at: i64,
    now: Timestamp,
) -> bool {
    is_agent
        && totp_enabled_at.is_none()
        && settings
            .two_factor
            .deadline(joined_at)
            .is_some_and(|deadline| now >= deadline)
}

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Someone not signed in.
    Visitor,
    /// A help-center user.
    User(SignedIn),
    /// An agent; `is_admin` tells whether they are also an admin.
    Agent(SignedIn),
    /// The command line and background jobs: someone with shell access to
    /// the server, who could change the database anyway.
    System,
}

impl Actor {
    /// Admins and the system may manage agents and settings.
    pub fn may_administer(&self) -> bool {
        match self {
            Actor::Agent(agent) => agent.is_admin,
            Actor::System => true,
            Actor::Visitor | Actor::User(_) => false,
        }
    }

    /// `Forbidden` unless the actor may administer.
    pub fn require_admin(&self) -> crate::AppResult<()> {
        if self.may_administer() {
            Ok(())
        } else {
            Err(crate::AppError::Forbidden)
        }
    }

    pub fn signed_in(&self) -> Option<&SignedIn> {
        match self {
            Actor::User(person) | Actor::Agent(person) => Some(person),
            Actor::Visitor | Actor::System => None,
        }
    }
}

pub struct LoginAttempt<'a> {
    pub surface: Surface,
    pub email: &'a str,
    pub password: &'a Secret,
    pub ip: &'a str,
    pub user_agent: &'a str,
    /// The "remember me" box; honoured only where the settings allow it.
    pub remember_me: bool,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in.
    Opened(OpenedSession),
    /// The account uses two-factor login: the code is asked for next. The
    /// challenge token goes into a short-lived cookie.
    SecondFactorNeeded { challenge: Secret },
}

/// How a session is about to be opened: by a password alone or by a
/// password and a second factor.
pub(crate) struct SessionOpening<'a> {
    pub surface: Surface,
    pub ip: &'a str,
    pub remember_me: bool,
    pub person: &'a PersonRecord,
    pub record: &'a NewLoginRecord<'a>,
    pub lock_key: &'a str,
    pub second_factor: Option<SecondFactorProof<'a>>,
}

/// A new session: the token goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct OpenedSession {
    pub token: Secret,
    pub person: SignedIn,
    /// Set for a remembered session: how long the cookie should outlive
    /// the browser.
    pub keep_cookie_for: Option<Duration>,
}

const MAX_USER_AGENT_LENGTH: usize = 512;
const MAX_LOGGED_EMAIL_LENGTH: usize = 254;
/// Failed-login mails to one person at most this often, however many
/// attempts an attacker makes.
const FAILED_LOGIN_MAILS_PER_HOUR: i64 = 5;

fn clip(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

/// Why a login was refused, as the login log records it.
fn refusal(
    person: Option<&PersonRecord>,
    password_matches: bool,
    surface: Surface,
) -> Option<&'static str> {
    match person {
        None => Some("unknown_account"),
        Some(_) if !password_matches => Some("wrong_password"),
        Some(person) if person.is_disabled => Some("disabled"),
        Some(person) if !may_sign_in(person, surface) => Some("wrong_surface"),
        Some(_) => None,
    }
}

impl App {
    /// Checks an email and password and opens a session. Every refusal of a
    /// password (unknown email, wrong password, disabled account, wrong
    /// surface) costs the same password check and gives the same
    /// `InvalidCredentials`; a locked email gives `LoginLocked` whether or
    /// not the password is right, and whether or not the account exists.
    /// Every attempt goes into the login log.
    pub async fn log_in(&self, attempt: &LoginAttempt<'_>) -> AppResult<LoginOutcome> {
        let settings = self.settings().await?;
        let session_limits = match attempt.surface {
            Surface::Staff => settings.staff_sessions,
            Surface::Portal => settings.portal_sessions,
        };
        let now = self.now();
        let email_key = match Email::parse(attempt.email) {
            Ok(email) => email.normalized(),
            Err(_) => attempt.email.trim().to_lowercase(),
        };
        let logged_email = clip(attempt.email.trim(), MAX_LOGGED_EMAIL_LENGTH);
        let user_agent = clip(attempt.user_agent, MAX_USER_AGENT_LENGTH);
        let record =
            |person_id: Option<i64>, succeeded: bool, reason: &'static str| NewLoginRecord {
                person_id,
                email: &logged_email,
                surface: attempt.surface,
                succeeded,
                reason,
                ip: attempt.ip,
                user_agent: &user_agent,
            };

        let person = self
            .store()
            .people()
            .find_person_by_email(&email_key)
            .await?;
        let locks = self
            .login_locks(
                &settings,
                (attempt.surface, &email_key),
                person.as_ref(),
                attempt.ip,
            )
            .await?;
        let person_id = person.as_ref().map(|person| person.id);
        // A locked source is refused before the password is looked at, and
        // whether or not the account exists.
        if let Some(seconds) = self.check_login_locks(&locks).await? {
            self.store()
                .logins()
                .record_login_attempt(&record(person_id, false, "locked"), now)
                .await?;
            return Err(App::locked(seconds));
        }
        let stored_hash = person
            .as_ref()
            .and_then(|person| person.password_hash.as_deref());
        let password_matches = self
            .inner
            .passwords
            .verify(attempt.password.expose(), stored_hash)
            .await?;
        // The right password to an account that waits for its address to
        // be confirmed: saying so reveals nothing to whoever knows it.
        if let Some(person) = person.as_ref().filter(|person| {
            password_matches && person.is_disabled && attempt.surface == Surface::Portal
        }) && self.awaits_confirmation(person.id).await?
        {
            self.store()
                .logins()
                .record_login_attempt(&record(Some(person.id), false, "unconfirmed"), now)
                .await?;
            return Err(AppError::AddressUnconfirmed);
        }
        if let Some(reason) = refusal(person.as_ref(), password_matches, attempt.surface) {
            return self
                .refuse_login(person.as_ref(), &record(person_id, false, reason), &locks)
                .await;
        }
        let Some(person) = person else {
            return Err(AppError::InvalidCredentials);
        };
        if self
            .ip_needs_verification(&settings, &person, attempt.ip)
            .await?
        {
            self.refuse_untrusted_ip(&person, &record(Some(person.id), false, "untrusted_ip"))
                .await?;
            return Err(AppError::IpNotTrusted);
        }
        if person.totp_enabled_at.is_some() {
            let remembered = attempt.remember_me && session_limits.remember_me_allowed;
            return self
                .challenge_second_factor(attempt.surface, &person, remembered)
                .await;
        }
        let opened = self
            .open_session(
                &SessionOpening {
                    surface: attempt.surface,
                    ip: attempt.ip,
                    remember_me: attempt.remember_me,
                    person: &person,
                    record: &record(Some(person.id), true, "ok"),
                    lock_key: locks.cleared_on_success(),
                    second_factor: None,
                },
                &settings,
            )
            .await?;
        opened
            .map(LoginOutcome::Opened)
            .ok_or(AppError::InvalidCredentials)
    }

    /// Writes a refused login (log line, audit entry, lock-out count,
    /// notification mails) and gives the error to answer with.
    pub(crate) async fn refuse_login<T>(
        &self,
        person: Option<&PersonRecord>,
        record: &NewLoginRecord<'_>,
        locks: &crate::login_locks::LoginLocks,
    ) -> AppResult<T> {
        let limits = locks.limits;
        let now = self.now();
        let audit = person.map(|person| {
            Audit::by_person(
                Some(person.id),
                person_label(person),
                record.ip,
                "login.failed",
            )
            .on_person(person.id, &person.name, &person.email)
            .after(&serde_json::json!({
                "surface": record.surface.as_str(),
                "reason": record.reason,
                "user_agent": record.user_agent,
            }))
        });
        let mails = match person {
            Some(person) => self.failed_login_mails(person, record.ip).await?,
            None => Vec::new(),
        };
        let new_mails: Vec<_> = mails.iter().map(|mail| mail.as_new()).collect();
        let count = self
            .store()
            .logins()
            .record_failed_login(
                &FailedLogin {
                    record,
                    audit: audit.as_ref().map(Audit::entry).as_ref(),
                    account_key: &locks.account_key,
                    source_keys: locks.counted(),
                    rule: LockoutRule {
                        max_failures: i64::from(limits.max_failures),
                        window: limits.window(),
                        lock_for: limits.lock_period(),
                    },
                    mails: &new_mails,
                },
                now,
            )
            .await?;
        if !new_mails.is_empty() {
            self.wake_workers();
        }
        if count.source_locked_now {
            self.note_failing_source(record).await?;
        }
        if count.locked_now
            && let Some(person) = person
        {
            self.mail_unlock_link(person, locks, record.ip).await?;
        }
        if count.locked_now || count.source_locked_now {
            let locked = Audit::by_person(
                person.map(|person| person.id),
                person.map_or_else(|| record.email.to_owned(), person_label),
                record.ip,
                "login.locked",
            )
            .on("login", person.map(|person| person.id), record.email)
            .after(&serde_json::json!({
                "surface": record.surface.as_str(),
                "source": crate::login_locks::login_source(record.ip),
                "failures": count.failures,
                "account_failures": count.account_failures,
                "whole_source": count.source_locked_now,
                "minutes": limits.lock_minutes,
            }));
            self.audit(&locked).await?;
            tracing::warn!(
                surface = record.surface.as_str(),
                "login locked for one source after repeated failures"
            );
            let seconds = limits.lock_period().as_secs();
            return Err(App::locked(seconds));
        }
        Err(AppError::InvalidCredentials)
    }

    /// The mails a failed login of `person` sends: to the agent if they
    /// want them (at most a few an hour), and to the admin's list when the
    /// account is an admin's.
    async fn failed_login_mails(
        &self,
        person: &PersonRecord,
        ip: &str,
    ) -> AppResult<Vec<crate::mail::ComposedMail>> {
        if !person.is_agent {
            return Ok(Vec::new());
        }
        let mut recipients: Vec<(String, String)> = Vec::new();
        if person.notify_login_failure {
            recipients.push((person.name.clone(), person.email.clone()));
        }
        if person.is_admin {
            let settings = self.settings().await?;
            for address in &settings.login_monitoring.failed_admin_login_recipients {
                if !address.eq_ignore_ascii_case(&person.email) {
                    recipients.push((String::new(), address.clone()));
                }
            }
        }
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        let key = format!("notify.failed_login:{}", person.id);
        let within_limit = self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &key,
                Duration::from_secs(3600),
                FAILED_LOGIN_MAILS_PER_HOUR,
                self.now(),
            )
            .await?;
        if !within_limit {
            return Ok(Vec::new());
        }
        let hostname = self.store().logins().cached_hostname(ip).await?;
        let when = self.zone_of_person(person.id).await?.time(self.now());
        let mut mails = Vec::with_capacity(recipients.len());
        for (name, address) in recipients {
            mails.push(
                self.compose_mail(
                    TemplateKind::FailedLoginNotification,
                    &name,
                    &address,
                    serde_json::json!({
                        "name": person.name,
                        "time": when,
                        "ip": ip,
                        "hostname": hostname.as_deref().unwrap_or("not known yet"),
                    }),
                )
                .await?,
            );
        }
        Ok(mails)
    }

    /// Opens a session with everything a successful login writes. `None`
    /// when the second factor it carries was spent meanwhile (a replay).
    pub(crate) async fn open_session(
        &self,
        opening: &SessionOpening<'_>,
        settings: &Settings,
    ) -> AppResult<Option<OpenedSession>> {
        let now = self.now();
        let person = opening.person;
        let record = opening.record;
        let (session_limits, policy) = match opening.surface {
            Surface::Staff => (settings.staff_sessions, &settings.agent_password_policy),
            Surface::Portal => (settings.portal_sessions, &settings.user_password_policy),
        };
        let remembered = opening.remember_me && session_limits.remember_me_allowed;
        let lifetime = if remembered {
            Duration::from_secs(u64::from(session_limits.remember_me_days) * 86_400)
        } else {
            session_limits.absolute_lifetime()
        };
        let token = random_token()?;
        let hash = token_hash(&token);
        let mail = if person.is_agent && person.notify_login_success {
            let hostname = self.store().logins().cached_hostname(opening.ip).await?;
            let when = self.zone_of_person(person.id).await?.time(now);
            Some(
                self.compose_mail(
                    TemplateKind::LoginNotification,
                    &person.name,
                    &person.email,
                    serde_json::json!({
                        "name": person.name,
                        "time": when,
                        "ip": opening.ip,
                        "hostname": hostname.as_deref().unwrap_or("not known yet"),
                        "user_agent": record.user_agent,
                    }),
                )
                .await?,
            )
        } else {
            None
        };
        let audit = Audit::by_person(
            Some(person.id),
            person_label(person),
            opening.ip,
            "login.succeeded",
        )
        .on_person(person.id, &person.name, &person.email)
        .after(&serde_json::json!({
            "surface": opening.surface.as_str(),
            "remembered": remembered,
            "second_factor": match opening.second_factor {
                None => "none",
                Some(SecondFactorProof::TotpStep { .. }) => "totp",
                Some(SecondFactorProof::RecoveryCode { .. }) => "recovery_code",
            },
            "user_agent": record.user_agent,
        }));
        let recorded = self
            .store()
            .logins()
            .record_successful_login(
                &SuccessfulLogin {
                    session: &NewSession {
                        token_hash: &hash,
                        surface: opening.surface,
                        person_id: person.id,
                        expires_at: now.plus(lifetime),
                        ip: opening.ip,
                        user_agent: record.user_agent,
                        remembered,
                    },
                    record,
                    audit: &audit.entry(),
                    lockout_key: opening.lock_key,
                    mail: mail.as_ref().map(|mail| mail.as_new()).as_ref(),
                    second_factor: opening.second_factor,
                },
                now,
            )
            .await?;
        if !recorded {
            return Ok(None);
        }
        if mail.is_some() {
            self.wake_workers();
        }
        if settings.login_monitoring.resolve_hostnames {
            self.look_up_hostname_later(opening.ip).await?;
        }
        Ok(Some(OpenedSession {
            token: Secret::new(token),
            person: SignedIn {
                person_id: person.id,
                name: person.name.clone(),
                email: person.email.clone(),
                is_admin: person.is_admin,
                remembered,
                must_change_password: person.must_change_password
                    || policy.is_expired(person.password_changed_at, now.millis()),
                must_set_up_two_factor: two_factor_overdue(
                    settings,
                    person.is_agent,
                    person.totp_enabled_at,
                    person.created_at,
                    now,
                ),
                time_zone: String::new(),
            },
            keep_cookie_for: remembered.then_some(lifetime),
        }))
    }

    /// The actor behind a session token, or `Visitor` when the token is
    /// unknown, idle too long, past its lifetime, or its person may no longer
    /// use this surface. Expired sessions are deleted on sight.
    /// `background` marks a request a page made on its own (polling); when
    /// the settings require activity, it does not keep the session alive.
    pub async fn resume_session(
        &self,
        surface: Surface,
        token: &str,
        background: bool,
    ) -> AppResult<Actor> {
        let hash = token_hash(token);
        let Some(session) = self.store().sessions().find_session(&hash, surface).await? else {
            return Ok(Actor::Visitor);
        };
        let now = self.now();
        let settings = self.settings().await?;
        let (limits, policy) = match surface {
            Surface::Staff => (settings.staff_sessions, &settings.agent_password_policy),
            Surface::Portal => (settings.portal_sessions, &settings.user_password_policy),
        };
        let idle_timeout = if session.remembered {
            Duration::from_secs(u64::from(limits.remember_me_days) * 86_400)
        } else {
            limits.idle_timeout()
        };
        let idle_since = Timestamp(session.last_seen_at);
        let expired = now >= Timestamp(session.expires_at) || now > idle_since.plus(idle_timeout);
        if expired || !session_person_may_continue(&session, surface) {
            self.store().sessions().delete_session(&hash).await?;
            return Ok(Actor::Visitor);
        }
        let counts_as_activity = !(background && limits.require_activity);
        if counts_as_activity && now >= idle_since.plus(TOUCH_INTERVAL) {
            self.store().sessions().touch_session(&hash, now).await?;
        }
        let person = SignedIn {
            person_id: session.person_id,
            name: session.name,
            email: session.email,
            is_admin: session.is_admin,
            remembered: session.remembered,
            must_change_password: session.must_change_password
                || policy.is_expired(session.password_changed_at, now.millis()),
            must_set_up_two_factor: two_factor_overdue(
                &settings,
                session.is_agent,
                session.totp_enabled_at,
                session.person_created_at,
                now,
            ),
            time_zone: session.time_zone,
        };
        Ok(if session.is_agent {
            Actor::Agent(person)
        } else {
            Actor::User(person)
        })
    }

    /// The public id of the session a token opens (see `OwnSession`).
    pub fn session_id(&self, token: &str) -> String {
        token_hash(token)
            .chars()
            .take(ferrodesk_store::SESSION_ID_LENGTH)
            .collect()
    }

    /// Ends a session on the server; the cookie alone is worth nothing after.
    pub async fn log_out(&self, token: &str) -> AppResult<()> {
        self.store()
            .sessions()
            .delete_session(&token_hash(token))
            .await?;
        Ok(())
    }

    /// A random token for a visitor who is not signed in: it keys the CSRF
    /// token of the login form and is never stored.
    pub fn new_visitor_token(&self) -> AppResult<Secret> {
        Ok(Secret::new(random_token()?))
    }

    /// The synchronizer token for forms in a session (or a visitor's
    /// pre-login session): an HMAC of the session token, so it needs no
    /// storage, differs per session and changes when the session does.
    pub fn csrf_token(&self, surface: Surface, session_token: &str) -> String {
        let mut message = Vec::with_capacity(session_token.len() + 8);
        message.extend_from_slice(surface.as_str().as_bytes());
        message.push(0);
        message.extend_from_slice(session_token.as_bytes());
        hex::encode(self.inner.key.sign("csrf", &message))
    }

    pub fn csrf_token_matches(
        &self,
        surface: Surface,
        session_token: &str,
        presented: &str,
    ) -> bool {
        same_secret(&self.csrf_token(surface, session_token), presented)
    }

    /// Deletes sessions that can no longer be used; run now and then.
    pub async fn purge_stale_sessions(&self) -> AppResult<u64> {
        let settings = self.settings().await?;
        let limits = [settings.staff_sessions, settings.portal_sessions];
        let longest_idle = limits
            .iter()
            .map(SessionLimits::idle_timeout)
            .max()
            .unwrap_or_default();
        // Remembered sessions may sit unused for their whole lifetime.
        let longest_remembered = limits
            .iter()
            .map(|limits| Duration::from_secs(u64::from(limits.remember_me_days) * 86_400))
            .max()
            .unwrap_or_default()
            .max(longest_idle);
        let now = self.now();
        let removed = self
            .store()
            .sessions()
            .delete_stale_sessions(now, now.minus(longest_idle), now.minus(longest_remembered))
            .await?;
        // Rate-limit windows are at most a day long; older counters are spent.
        self.store()
            .rate_limits()
            .delete_rate_limits_before(now.minus(Duration::from_secs(24 * 60 * 60)))
            .await?;
        self.store()
            .trusted_ips()
            .delete_lapsed_security_rows(now)
            .await?;
        self.store()
            .webhooks()
            .delete_deliveries_finished_before(now.minus(crate::webhooks::DELIVERIES_KEPT))
            .await?;
        self.sweep_unreferenced_blobs().await?;
        Ok(removed)
    }
}

/// Agents sign in to the staff surface, users to the help center. Agents are
/// kept off the help-center login so that the staff controls (lock-out, IP
/// allow-list, 2FA) cannot be sidestepped through it.
pub(crate) fn may_sign_in(person: &ferrodesk_store::PersonRecord, surface: Surface) -> bool {
    !person.is_disabled
        && match surface {
            Surface::Staff => person.is_agent,
            Surface::Portal => !person.is_agent,
        }
}

fn session_person_may_continue(session: &SessionRecord, surface: Surface) -> bool {
    !session.is_disabled
        && session.surface == surface.as_str()
        && match surface {
            Surface::Staff => session.is_agent,
            Surface::Portal => !session.is_agent,
        }
}
