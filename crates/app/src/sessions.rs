//! Signing in and out, and recognising a signed-in person on later requests.
//!
//! Sessions are our own rather than a crate's: we need two surfaces with
//! separate cookies, only hashes of tokens in the database (shared by every
//! node), server-enforced idle and absolute limits from runtime settings, and a
//! CSRF token bound to the session. The pieces are small; the rules are ours.

use std::time::Duration;

use ferrodesk_core::{Email, Secret, Surface, Timestamp};
use ferrodesk_store::{NewSession, SessionRecord};

use crate::secrets::{random_token, same_secret, token_hash};
use crate::{App, AppError, AppResult};

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
}

pub struct LoginAttempt<'a> {
    pub surface: Surface,
    pub email: &'a str,
    pub password: &'a Secret,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// A new session: the token goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct OpenedSession {
    pub token: Secret,
    pub person: SignedIn,
}

const MAX_USER_AGENT_LENGTH: usize = 512;

impl App {
    /// Checks an email and password and opens a session. Every failure —
    /// unknown email, wrong password, disabled account, wrong surface — costs
    /// the same password check and gives the same `InvalidCredentials`.
    pub async fn log_in(&self, attempt: &LoginAttempt<'_>) -> AppResult<OpenedSession> {
        let person = match Email::parse(attempt.email) {
            Ok(email) => {
                self.store()
                    .find_person_by_email(&email.normalized())
                    .await?
            }
            Err(_) => None,
        };
        let stored_hash = person
            .as_ref()
            .and_then(|person| person.password_hash.as_deref());
        let password_matches = self
            .inner
            .passwords
            .verify(attempt.password.expose(), stored_hash)
            .await?;
        let person = match person {
            Some(person) if password_matches && may_sign_in(&person, attempt.surface) => person,
            _ => return Err(AppError::InvalidCredentials),
        };

        let now = self.now();
        let limits = self.session_limits(attempt.surface).await?;
        let token = random_token()?;
        let user_agent: String = attempt
            .user_agent
            .chars()
            .take(MAX_USER_AGENT_LENGTH)
            .collect();
        self.store()
            .create_session(
                &NewSession {
                    token_hash: &token_hash(&token),
                    surface: attempt.surface,
                    person_id: person.id,
                    expires_at: now.plus(limits.absolute_lifetime()),
                    ip: attempt.ip,
                    user_agent: &user_agent,
                },
                now,
            )
            .await?;
        self.store().record_login(person.id, now).await?;
        Ok(OpenedSession {
            token: Secret::new(token),
            person: SignedIn {
                person_id: person.id,
                name: person.name,
                email: person.email,
                is_admin: person.is_admin,
            },
        })
    }

    /// The actor behind a session token, or `Visitor` when the token is
    /// unknown, idle too long, past its lifetime, or its person may no longer
    /// use this surface. Expired sessions are deleted on sight.
    pub async fn resume_session(&self, surface: Surface, token: &str) -> AppResult<Actor> {
        let hash = token_hash(token);
        let Some(session) = self.store().find_session(&hash, surface).await? else {
            return Ok(Actor::Visitor);
        };
        let now = self.now();
        let limits = self.session_limits(surface).await?;
        let idle_since = Timestamp(session.last_seen_at);
        let expired =
            now >= Timestamp(session.expires_at) || now > idle_since.plus(limits.idle_timeout());
        if expired || !session_person_may_continue(&session, surface) {
            self.store().delete_session(&hash).await?;
            return Ok(Actor::Visitor);
        }
        if now >= idle_since.plus(TOUCH_INTERVAL) {
            self.store().touch_session(&hash, now).await?;
        }
        let person = SignedIn {
            person_id: session.person_id,
            name: session.name,
            email: session.email,
            is_admin: session.is_admin,
        };
        Ok(if session.is_agent {
            Actor::Agent(person)
        } else {
            Actor::User(person)
        })
    }

    /// Ends a session on the server; the cookie alone is worth nothing after.
    pub async fn log_out(&self, token: &str) -> AppResult<()> {
        self.store().delete_session(&token_hash(token)).await?;
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
        let longest_idle = settings
            .staff_sessions
            .idle_timeout()
            .max(settings.portal_sessions.idle_timeout());
        let now = self.now();
        let removed = self
            .store()
            .delete_stale_sessions(now, now.minus(longest_idle))
            .await?;
        // Rate-limit windows are at most a day long; older counters are spent.
        self.store()
            .delete_rate_limits_before(now.minus(Duration::from_secs(24 * 60 * 60)))
            .await?;
        Ok(removed)
    }

    async fn session_limits(&self, surface: Surface) -> AppResult<crate::SessionLimits> {
        let settings = self.settings().await?;
        Ok(match surface {
            Surface::Staff => settings.staff_sessions,
            Surface::Portal => settings.portal_sessions,
        })
    }
}

/// Agents sign in to the staff surface, users to the help center. Agents are
/// kept off the help-center login so that the staff controls (lock-out, IP
/// allow-list, 2FA) cannot be sidestepped through it.
fn may_sign_in(person: &ferrodesk_store::PersonRecord, surface: Surface) -> bool {
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
