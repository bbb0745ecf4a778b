//! Creating accounts and setting passwords.

use std::time::Duration;

use ferrodesk_core::{Email, PasswordPolicy, PersonName, Secret, Timestamp};
use ferrodesk_store::{NewPerson, PersonRecord};

use crate::secrets::{random_token, token_hash};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

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
        let email = Email::parse(account.email)
            .map_err(|error| errors.add("email", error.to_string()))
            .ok();
        let name = PersonName::parse(account.name)
            .map_err(|error| errors.add("name", error.to_string()))
            .ok();
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
        match (email, name) {
            (Some(email), Some(name)) => Ok(CheckedAccount {
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
            .map_err(|error| match AppError::from(error) {
                AppError::Conflict(_) => {
                    AppError::invalid("email", "An account with this email already exists.")
                }
                other => other,
            })?;
        tracing::info!(person_id = person.id, ?kind, "account created");
        Ok(person)
    }

    /// Every agent, for admins.
    pub async fn list_agents(&self, actor: &Actor) -> AppResult<Vec<AgentSummary>> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store()
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
            .find_person_by_email(&email.normalized())
            .await?
            .ok_or(AppError::NotFound)?;
        let token = random_token()?;
        let now = self.now();
        let expires_at = now.plus(valid_for);
        self.store()
            .create_password_reset(&token_hash(&token), person.id, now, expires_at, None)
            .await?;
        let path = if person.is_agent {
            "/agent/reset-password/"
        } else {
            "/reset-password/"
        };
        Ok(ResetLink {
            url: Secret::new(format!("{}{path}{token}", self.public_url())),
            expires_at,
        })
    }

    /// Who a reset token belongs to, if it is still valid.
    pub async fn password_reset_target(&self, token: &str) -> AppResult<PersonRecord> {
        let person_id = self
            .store()
            .peek_password_reset(&token_hash(token), self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        self.store()
            .get_person(person_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Sets a new password through a reset token, which is then used up; every
    /// session of the account ends.
    pub async fn complete_password_reset(
        &self,
        token: &str,
        password: &Secret,
        confirmation: &Secret,
    ) -> AppResult<PersonRecord> {
        let person = self.password_reset_target(token).await?;
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
        let hash = self.inner.passwords.hash(password.expose()).await?;
        self.store()
            .complete_password_reset(&token_hash(token), &hash, self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        tracing::info!(person_id = person.id, "password reset completed");
        Ok(person)
    }

    pub(crate) async fn password_policy(&self, kind: AccountKind) -> AppResult<PasswordPolicy> {
        let settings = self.settings().await?;
        Ok(match kind {
            AccountKind::User => settings.user_password_policy.clone(),
            AccountKind::Agent | AccountKind::Admin => settings.agent_password_policy.clone(),
        })
    }
}
