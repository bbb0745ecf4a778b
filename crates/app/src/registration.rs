//! Help-center accounts people open themselves, in the mode the admin
//! chose: open, open once the address is confirmed, on an agent's
//! approval, or closed. The answer never tells whether an address already
//! has an account: the same page follows, the same password hashing is
//! done, and the owner of a known address gets a mail instead.

use std::time::Duration;

use ferrodesk_core::{Permission, Secret};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{NewRegistration, StoreError};

use crate::accounts::{AccountKind, NewAccount};
use crate::audit::{Audit, Caller};
use crate::secrets::{random_token, token_hash};
use crate::settings::RegistrationMode;
use crate::{Actor, App, AppError, AppResult};

/// How long a confirmation link works.
pub const EMAIL_VERIFICATION_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Registrations one address (IP) may send in an hour.
const REGISTRATIONS_PER_IP_PER_HOUR: i64 = 10;
const REGISTRATION_WINDOW: Duration = Duration::from_secs(60 * 60);
/// New confirmation links one address may ask for in that hour, and one
/// client address for any accounts.
const RESENDS_PER_ADDRESS_PER_HOUR: i64 = 3;
const RESENDS_PER_IP_PER_HOUR: i64 = 10;

/// The registration form as sent.
#[derive(Debug, Clone)]
pub struct RegistrationInput {
    pub name: String,
    pub email: String,
    pub password: Secret,
    pub password_confirmation: Secret,
    /// A field people never see; bots fill it in.
    pub honeypot: String,
}

/// What the page says after a registration, the same whoever the address
/// belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// Open mode: the account works now (or the address had one already).
    Ready,
    /// A confirmation link is on its way.
    CheckMail,
}

/// What confirming an address led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationOutcome {
    SignInNow,
    AwaitingApproval,
}

impl App {
    /// Opens a help-center account as the admin's registration mode allows.
    pub async fn register(
        &self,
        caller: &Caller<'_>,
        input: &RegistrationInput,
    ) -> AppResult<RegistrationOutcome> {
        let mode = self.settings().await?.help_center.registration;
        if mode == RegistrationMode::Closed {
            return Err(AppError::Forbidden);
        }
        if !matches!(caller.actor, Actor::Visitor) {
            return Err(AppError::Conflict(
                "You are signed in already; log out to open another account.".to_owned(),
            ));
        }
        let outcome = if mode == RegistrationMode::Open {
            RegistrationOutcome::Ready
        } else {
            RegistrationOutcome::CheckMail
        };
        // Checked (and the password hashed) whoever has the address.
        let checked = self
            .check_new_account(
                &NewAccount {
                    email: &input.email,
                    name: &input.name,
                    password: &input.password,
                    password_confirmation: Some(&input.password_confirmation),
                },
                AccountKind::User,
            )
            .await?;
        if !input.honeypot.trim().is_empty() {
            tracing::info!(ip = caller.ip, "registration: honeypot filled; dropped");
            return Ok(outcome);
        }
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("register-ip:{}", caller.ip),
                REGISTRATION_WINDOW,
                REGISTRATIONS_PER_IP_PER_HOUR,
                self.now(),
            )
            .await?
        {
            return Err(AppError::TooManyRequests);
        }
        if let Some(existing) = self.person_with_address(&checked.email).await? {
            let mail = self
                .compose_mail(
                    TemplateKind::AccountExists,
                    &existing.name,
                    &existing.email,
                    serde_json::json!({
                        "name": existing.name,
                        "link": format!("{}{}", self.public_url(), if existing.is_agent { "/agent/forgot-password" } else { "/forgot-password" }),
                    }),
                )
                .await?;
            self.store()
                .outbox()
                .queue_mail(&mail.as_new(), self.now())
                .await?;
            self.wake_workers();
            return Ok(outcome);
        }
        let needs_link = mode != RegistrationMode::Open;
        let token = if needs_link {
            Some(random_token()?)
        } else {
            None
        };
        let hash = token.as_deref().map(token_hash);
        let now = self.now();
        let mail = match &token {
            Some(token) => Some(
                self.compose_mail(
                    TemplateKind::UserEmailVerification,
                    checked.name.as_str(),
                    checked.email.as_str(),
                    serde_json::json!({
                        "name": checked.name.as_str(),
                        "link": format!("{}/verify-email/{token}", self.public_url()),
                        "expires_minutes": EMAIL_VERIFICATION_LIFETIME.as_secs() / 60,
                    }),
                )
                .await?,
            ),
            None => None,
        };
        let new_mail = mail.as_ref().map(|mail| mail.as_new());
        let stored = self
            .store()
            .registrations()
            .register_user(
                &NewRegistration {
                    name: checked.name.as_str(),
                    email: checked.email.as_str(),
                    email_normalized: &checked.email.normalized(),
                    password_hash: &checked.password_hash,
                    verification_pending: needs_link,
                    approval_pending: mode == RegistrationMode::Approval,
                    link: hash
                        .as_deref()
                        .map(|hash| (hash, now.plus(EMAIL_VERIFICATION_LIFETIME))),
                    mail: new_mail.as_ref(),
                },
                now,
            )
            .await;
        match stored {
            Ok(person_id) => {
                tracing::info!(
                    person_id,
                    mode = mode.key(),
                    "help-center account registered"
                );
                if new_mail.is_some() {
                    self.wake_workers();
                }
                Ok(outcome)
            }
            // Someone registered the address a moment ago: same answer.
            Err(StoreError::Conflict(_)) => Ok(outcome),
            Err(other) => Err(other.into()),
        }
    }

    /// Whether an account still waits for its address to be confirmed.
    pub(crate) async fn awaits_confirmation(&self, person_id: i64) -> AppResult<bool> {
        Ok(self
            .store()
            .directory()
            .get_user(person_id)
            .await?
            .is_some_and(|user| user.verification_pending))
    }

    /// Mails a new confirmation link to an account that waits for one. The
    /// answer is the same whether or not such an account exists (only a
    /// client asking too often hears otherwise), and one address gets a
    /// few links an hour at most.
    pub async fn resend_confirmation(&self, caller: &Caller<'_>, email: &str) -> AppResult<()> {
        let now = self.now();
        let limits = self.store().rate_limits();
        let ip_key = format!("confirm-resend-ip:{}", caller.ip);
        if !limits
            .hit_rate_limit(&ip_key, REGISTRATION_WINDOW, RESENDS_PER_IP_PER_HOUR, now)
            .await?
        {
            return Err(AppError::TooManyRequests);
        }
        let Ok(email) = ferrodesk_core::Email::parse(email) else {
            return Ok(());
        };
        let address_key = format!("confirm-resend:{}", email.normalized());
        if !limits
            .hit_rate_limit(
                &address_key,
                REGISTRATION_WINDOW,
                RESENDS_PER_ADDRESS_PER_HOUR,
                now,
            )
            .await?
        {
            tracing::info!(
                ip = caller.ip,
                "confirmation link: too many for one address"
            );
            return Ok(());
        }
        let Some(person) = self.person_with_address(&email).await? else {
            return Ok(());
        };
        if person.is_agent || !self.awaits_confirmation(person.id).await? {
            return Ok(());
        }
        let token = random_token()?;
        let mail = self
            .compose_mail(
                TemplateKind::UserEmailVerification,
                &person.name,
                &person.email,
                serde_json::json!({
                    "name": person.name,
                    "link": format!("{}/verify-email/{token}", self.public_url()),
                    "expires_minutes": EMAIL_VERIFICATION_LIFETIME.as_secs() / 60,
                }),
            )
            .await?;
        let renewed = self
            .store()
            .registrations()
            .renew_email_verification(
                person.id,
                (&token_hash(&token), now.plus(EMAIL_VERIFICATION_LIFETIME)),
                &mail.as_new(),
                now,
            )
            .await?;
        if renewed {
            self.wake_workers();
        }
        Ok(())
    }

    /// Whether a confirmation link still works (for the page that asks to
    /// press the button, so that mail scanners opening links confirm
    /// nothing).
    pub async fn email_verification_is_valid(&self, token: &str) -> AppResult<bool> {
        Ok(self
            .store()
            .registrations()
            .peek_email_verification(&token_hash(token), self.now())
            .await?
            .is_some())
    }

    /// Confirms an address through its one-time link.
    pub async fn confirm_email(&self, token: &str) -> AppResult<ConfirmationOutcome> {
        let confirmed = self
            .store()
            .registrations()
            .confirm_email(&token_hash(token), self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        tracing::info!(person_id = confirmed.person_id, "address confirmed");
        Ok(if confirmed.awaiting_approval {
            ConfirmationOutcome::AwaitingApproval
        } else {
            ConfirmationOutcome::SignInNow
        })
    }

    /// Lets in an account that registered on approval (`people.edit`).
    pub async fn approve_user(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        if !context.effective.has(Permission::PeopleEdit) {
            return Err(AppError::Forbidden);
        }
        let user = self
            .store()
            .directory()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let audit = Audit::new(caller, "user.approved").on_person(user.id, &user.name, &user.email);
        if !self
            .store()
            .registrations()
            .approve_user(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::Conflict(
                "This account is not waiting for approval.".to_owned(),
            ));
        }
        Ok(())
    }
}
