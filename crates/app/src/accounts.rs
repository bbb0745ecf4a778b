//! Creating accounts and setting passwords.

use std::time::Duration;

use ferrodesk_core::{Email, PasswordPolicy, PersonName, Secret, Timestamp};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{LinkPurpose, NewPasswordLink, NewPerson, PasswordChange, PersonRecord};
use serde::{Deserialize, Serialize};

use crate::audit::{Audit, Caller};
use crate::jobs::{JobFailure, JobResult};
use crate::secrets::{random_token, token_hash};
use crate::sessions::person_label;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The job that answers a "forgot password" request.
pub(crate) const PASSWORD_RESET_REQUEST_JOB: &str = "password_reset.request";
/// How long a link from "forgot password" works.
pub const RESET_LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How long an invited agent has to choose a password.
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Reset requests for one address: more within the window are dropped
/// silently (the answer stays the same), so nobody can flood a mailbox.
const RESET_REQUESTS_PER_EMAIL: i64 = 3;
/// Reset requests from one IP address before it is told to wait.
const RESET_REQUESTS_PER_IP: i64 = 20;
const RESET_REQUEST_WINDOW: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Serialize, Deserialize)]
struct ResetRequest {
    email: String,
}

/// Who a one-time password link is for, and why.
#[derive(Debug, Clone)]
pub struct PasswordLinkTarget {
    pub person: PersonRecord,
    pub purpose: LinkPurpose,
}

/// What someone typed to create an account.
#[derive(Debug)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a Secret,
    /// The password typed a second time, where a form asks for it.
    pub password_confirmation: Option<&'a Secret>,
}

/// One line of `ferrodesk admin list`.
#[derive(Debug, Clone)]
pub struct AgentSummary {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub is_disabled: bool,
    pub last_login_at: Option<Timestamp>,
    /// Whether the account has a password yet (false while invited).
    pub has_password: bool,
    pub must_change_password: bool,
}

/// A one-time link to set a new password.
#[derive(Debug)]
pub struct ResetLink {
    pub url: Secret,
    pub expires_at: Timestamp,
}

/// The kind of account to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    User,
    Agent,
    Admin,
}

/// Parses an email address and a name, adding a message per field that
/// does not pass.
pub(crate) fn parse_identity(
    email: &str,
    name: &str,
    errors: &mut FieldErrors,
) -> Option<(Email, PersonName)> {
    let email = Email::parse(email)
        .map_err(|error| errors.add("email", error.to_string()))
        .ok();
    let name = PersonName::parse(name)
        .map_err(|error| errors.add("name", error.to_string()))
        .ok();
    email.zip(name)
}

/// A store error on creating a person, as the form shows it: a taken email
/// address is a field error, anything else stays what it was.
fn email_taken(error: ferrodesk_store::StoreError) -> AppError {
    match AppError::from(error) {
        AppError::Conflict(_) => {
            AppError::invalid("email", "An account with this email already exists.")
        }
        other => other,
    }
}

/// A validated new account, ready to store.
pub(crate) struct CheckedAccount {
    pub email: Email,
    pub name: PersonName,
    pub password_hash: String,
}

impl App {
    /// Validates and hashes a new account's details against the policy for
    /// its kind, collecting every problem so the form can show them at once.
    pub(crate) async fn check_new_account(
        &self,
        account: &NewAccount<'_>,
        kind: AccountKind,
    ) -> AppResult<CheckedAccount> {
        let mut errors = FieldErrors::new();
        let identity = parse_identity(account.email, account.name, &mut errors);
        let policy = self.password_policy(kind).await?;
        let personal_words = [account.email, account.name];
        if let Err(problems) = policy.check(account.password.expose(), &personal_words) {
            for problem in problems {
                errors.add("password", problem.to_string());
            }
        }
        if account
            .password_confirmation
            .is_some_and(|confirmation| confirmation.expose() != account.password.expose())
        {
            errors.add("password_confirmation", "The two passwords do not match.");
        }
        errors.into_result()?;
        match identity {
            Some((email, name)) => Ok(CheckedAccount {
                email,
                name,
                password_hash: self.inner.passwords.hash(account.password.expose()).await?,
            }),
            _ => Err(AppError::Internal(
                "validated account lost a field".to_owned(),
            )),
        }
    }

    /// Creates an account on behalf of the system: the command line, the
    /// first-run setup and tests. Pages that let agents create accounts
    /// check the acting agent first and then call this.
    pub async fn create_account(
        &self,
        account: &NewAccount<'_>,
        kind: AccountKind,
    ) -> AppResult<PersonRecord> {
        let checked = self.check_new_account(account, kind).await?;
        let person = self
            .store()
            .people()
            .create_person(
                &NewPerson {
                    email: checked.email.as_str(),
                    email_normalized: &checked.email.normalized(),
                    name: checked.name.as_str(),
                    password_hash: Some(&checked.password_hash),
                    is_agent: kind != AccountKind::User,
                    is_admin: kind == AccountKind::Admin,
                    organization_id: None,
                },
                self.now(),
            )
            .await
            .map_err(email_taken)?;
        tracing::info!(person_id = person.id, ?kind, "account created");
        if kind != AccountKind::User {
            let audit = Audit::new(&Caller::system(), "account.created")
                .on_person(person.id, &person.name, &person.email)
                .after(&serde_json::json!({ "admin": person.is_admin }));
            self.audit(&audit).await?;
        }
        Ok(person)
    }

    /// Every agent, for admins.
    /// The agents any agent may see (names to assign tickets to), for the
    /// API's agent list; admins get the same through `list_agents`.
    pub async fn agent_roster(&self, actor: &Actor) -> AppResult<Vec<AgentSummary>> {
        let Actor::Agent(_) = actor else {
            return Err(AppError::Forbidden);
        };
        self.list_agents(&Actor::System).await
    }

    pub async fn list_agents(&self, actor: &Actor) -> AppResult<Vec<AgentSummary>> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store()
            .people()
            .list_agents()
            .await?
            .into_iter()
            .map(|agent| AgentSummary {
                id: agent.id,
                email: agent.email,
                name: agent.name,
                is_admin: agent.is_admin,
                is_disabled: agent.is_disabled,
                last_login_at: agent.last_login_at.map(Timestamp),
                has_password: agent.password_hash.is_some(),
                must_change_password: agent.must_change_password,
            })
            .collect())
    }

    /// Makes a one-time password-reset link for the account with `email`,
    /// valid for `valid_for`. Any earlier unused link of that account stops
    /// working. For the command line: the link is returned, not mailed.
    pub async fn issue_password_reset(
        &self,
        email: &str,
        valid_for: Duration,
    ) -> AppResult<ResetLink> {
        let email =
            Email::parse(email).map_err(|error| AppError::invalid("email", error.to_string()))?;
        let person = self
            .store()
            .people()
            .find_person_by_email(&email.normalized())
            .await?
            .ok_or(AppError::NotFound)?;
        let token = random_token()?;
        let now = self.now();
        let expires_at = now.plus(valid_for);
        self.store()
            .password_links()
            .create_password_reset(
                &NewPasswordLink {
                    token_hash: &token_hash(&token),
                    purpose: LinkPurpose::Reset,
                    expires_at,
                },
                person.id,
                now,
                None,
            )
            .await?;
        let audit = Audit::new(&Caller::system(), "password.reset_link_issued")
            .on_person(person.id, &person.name, &person.email)
            .after(&serde_json::json!({ "expires_at": expires_at.to_string() }));
        self.audit(&audit).await?;
        Ok(ResetLink {
            url: Secret::new(self.password_link_url(person.is_agent, &token)),
            expires_at,
        })
    }

    /// Where a one-time password link points: the staff or the help-center
    /// page, by the kind of account.
    fn password_link_url(&self, is_agent: bool, token: &str) -> String {
        let path = if is_agent {
            "/agent/reset-password/"
        } else {
            "/reset-password/"
        };
        format!("{}{path}{token}", self.public_url())
    }

    /// "Forgot password": queues a job that mails a reset link if `email`
    /// belongs to an active account. The request itself does the same work
    /// whether or not the account exists, so neither its answer nor its
    /// timing tells. Too many requests from one IP address are refused;
    /// too many for one address are dropped without a word.
    pub async fn request_password_reset(&self, email: &str, ip: &str) -> AppResult<()> {
        let email =
            Email::parse(email).map_err(|error| AppError::invalid("email", error.to_string()))?;
        let now = self.now();
        let ip_key = format!("reset-ip:{ip}");
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(&ip_key, RESET_REQUEST_WINDOW, RESET_REQUESTS_PER_IP, now)
            .await?
        {
            return Err(AppError::TooManyRequests);
        }
        let normalized = email.normalized();
        // Keyed by a hash so the table does not collect addresses.
        let email_key = format!("reset-email:{}", token_hash(&normalized));
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &email_key,
                RESET_REQUEST_WINDOW,
                RESET_REQUESTS_PER_EMAIL,
                now,
            )
            .await?
        {
            tracing::info!("password reset requests for one address over the limit; dropped");
            return Ok(());
        }
        let request = serde_json::to_value(ResetRequest { email: normalized })
            .map_err(|error| AppError::Internal(error.to_string()))?;
        self.enqueue_job(PASSWORD_RESET_REQUEST_JOB, &request, 5)
            .await?;
        Ok(())
    }

    /// The job behind "forgot password": mails a link to an active account
    /// with that address, and does nothing for any other address.
    pub(crate) async fn answer_password_reset_request(&self, payload: &str) -> JobResult {
        let request: ResetRequest = serde_json::from_str(payload)
            .map_err(|_| JobFailure::Permanent("password reset request does not parse".into()))?;
        let Some(person) = self
            .store()
            .people()
            .find_person_by_email(&request.email)
            .await?
        else {
            return Ok(());
        };
        if person.is_disabled {
            tracing::info!(
                person_id = person.id,
                "password reset requested for a disabled account; not sent"
            );
            return Ok(());
        }
        self.mail_password_link(&person, RESET_LINK_LIFETIME)
            .await?;
        Ok(())
    }

    /// Stores a reset link for `person` and queues the mail carrying it, in
    /// one transaction.
    async fn mail_password_link(
        &self,
        person: &PersonRecord,
        valid_for: Duration,
    ) -> AppResult<()> {
        let token = random_token()?;
        let now = self.now();
        let kind = if person.is_agent {
            TemplateKind::AgentPasswordReset
        } else {
            TemplateKind::UserPasswordReset
        };
        let mail = self
            .compose_mail(
                kind,
                &person.name,
                &person.email,
                serde_json::json!({
                    "name": person.name,
                    "link": self.password_link_url(person.is_agent, &token),
                    "expires_minutes": valid_for.as_secs() / 60,
                }),
            )
            .await?;
        self.store()
            .password_links()
            .create_password_reset(
                &NewPasswordLink {
                    token_hash: &token_hash(&token),
                    purpose: LinkPurpose::Reset,
                    expires_at: now.plus(valid_for),
                },
                person.id,
                now,
                Some(&mail.as_new()),
            )
            .await?;
        self.wake_workers();
        tracing::info!(person_id = person.id, "password reset link mailed");
        Ok(())
    }

    /// Creates an agent (or admin) without a password and mails them an
    /// invitation link to choose one. Only admins invite.
    pub async fn invite_agent(
        &self,
        caller: &Caller<'_>,
        name: &str,
        email: &str,
        make_admin: bool,
    ) -> AppResult<PersonRecord> {
        let Actor::Agent(inviter) = caller.actor else {
            return Err(AppError::Forbidden);
        };
        if !inviter.is_admin {
            return Err(AppError::Forbidden);
        }
        let mut errors = FieldErrors::new();
        let identity = parse_identity(email, name, &mut errors);
        errors.into_result()?;
        let Some((email, name)) = identity else {
            return Err(AppError::Internal(
                "validated invitation lost a field".into(),
            ));
        };
        let token = random_token()?;
        let now = self.now();
        let link = self.password_link_url(true, &token);
        let mail = self
            .compose_mail(
                TemplateKind::AgentInvitation,
                name.as_str(),
                email.as_str(),
                serde_json::json!({
                    "name": name.as_str(),
                    "link": link,
                    "expires_minutes": INVITATION_LIFETIME.as_secs() / 60,
                    "inviter": inviter.name,
                }),
            )
            .await?;
        let person = self
            .store()
            .password_links()
            .create_invited_person(
                &NewPerson {
                    email: email.as_str(),
                    email_normalized: &email.normalized(),
                    name: name.as_str(),
                    password_hash: None,
                    is_agent: true,
                    is_admin: make_admin,
                    organization_id: None,
                },
                &NewPasswordLink {
                    token_hash: &token_hash(&token),
                    purpose: LinkPurpose::Invitation,
                    expires_at: now.plus(INVITATION_LIFETIME),
                },
                &mail.as_new(),
                &Audit::new(caller, "agent.invited")
                    .on(
                        "person",
                        None,
                        &format!("{} <{}>", name.as_str(), email.as_str()),
                    )
                    .after(&serde_json::json!({ "admin": make_admin }))
                    .entry(),
                now,
            )
            .await
            .map_err(email_taken)?;
        self.wake_workers();
        tracing::info!(
            person_id = person.id,
            invited_by = inviter.person_id,
            make_admin,
            "agent invited"
        );
        Ok(person)
    }

    /// Who a one-time link belongs to and what it is for, if still valid.
    pub async fn password_reset_target(&self, token: &str) -> AppResult<PasswordLinkTarget> {
        let (person_id, purpose) = self
            .store()
            .password_links()
            .peek_password_reset(&token_hash(token), self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        let person = self
            .store()
            .people()
            .get_person(person_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(PasswordLinkTarget { person, purpose })
    }

    /// Sets a new password through a reset token, which is then used up;
    /// every session of the account ends.
    pub async fn complete_password_reset(
        &self,
        token: &str,
        password: &Secret,
        confirmation: &Secret,
        ip: &str,
    ) -> AppResult<PersonRecord> {
        let PasswordLinkTarget { person, purpose } = self.password_reset_target(token).await?;
        let (hash, history) = self
            .check_new_password(&person, password, confirmation)
            .await?;
        let action = match purpose {
            LinkPurpose::Invitation => "password.set_from_invitation",
            LinkPurpose::Reset => "password.reset",
        };
        let audit = Audit::by_person(Some(person.id), person_label(&person), ip, action).on_person(
            person.id,
            &person.name,
            &person.email,
        );
        let used = self
            .store()
            .password_links()
            .complete_password_reset(
                &token_hash(token),
                &PasswordChange {
                    person_id: person.id,
                    new_hash: &hash,
                    history,
                    keep_session: None,
                    audit: &audit.entry(),
                },
                self.now(),
            )
            .await?;
        if !used {
            return Err(AppError::NotFound);
        }
        tracing::info!(person_id = person.id, "password reset completed");
        Ok(person)
    }

    /// Checks a new password for `person` against their policy, the
    /// confirmation and their recent passwords; answers its hash and how
    /// many earlier hashes the policy keeps.
    pub(crate) async fn check_new_password(
        &self,
        person: &PersonRecord,
        password: &Secret,
        confirmation: &Secret,
    ) -> AppResult<(String, u32)> {
        let kind = if person.is_agent {
            AccountKind::Agent
        } else {
            AccountKind::User
        };
        let policy = self.password_policy(kind).await?;
        let mut errors = FieldErrors::new();
        if let Err(problems) = policy.check(password.expose(), &[&person.email, &person.name]) {
            for problem in problems {
                errors.add("password", problem.to_string());
            }
        }
        if password.expose() != confirmation.expose() {
            errors.add("password_confirmation", "The two passwords do not match.");
        }
        errors.into_result()?;
        if policy.reuse_history > 0 {
            let recent = self
                .store()
                .people()
                .recent_password_hashes(person.id, policy.reuse_history)
                .await?;
            for earlier in &recent {
                if self
                    .inner
                    .passwords
                    .verify(password.expose(), Some(earlier))
                    .await?
                {
                    return Err(AppError::invalid(
                        "password",
                        ferrodesk_core::password_policy::PasswordProblem::Reused.to_string(),
                    ));
                }
            }
        }
        let hash = self.inner.passwords.hash(password.expose()).await?;
        Ok((hash, policy.reuse_history))
    }

    pub(crate) async fn password_policy(&self, kind: AccountKind) -> AppResult<PasswordPolicy> {
        let settings = self.settings().await?;
        Ok(match kind {
            AccountKind::User => settings.user_password_policy.clone(),
            AccountKind::Agent | AccountKind::Admin => settings.agent_password_policy.clone(),
        })
    }
}
