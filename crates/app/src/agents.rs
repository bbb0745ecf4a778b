//! Managing agents (C1) and one's own account: the admin actions on an
//! agent, and the password, notification and session controls every person
//! has over their own account. Each change is written with its audit entry.

use ferrodesk_core::{Email, Secret, Surface, Timestamp};
use ferrodesk_store::{
    ChangeOutcome, LoginFilter, LoginRecord, OwnSession, PasswordChange, PersonChange,
    PersonRecord, lockout_key,
};

use crate::accounts::parse_identity;
use crate::audit::{Audit, Caller};
use crate::secrets::token_hash;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// What an admin can do to an agent with one button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction {
    Disable,
    Enable,
    Promote,
    Demote,
    ForcePasswordChange,
    EndSessions,
    Unlock,
    /// For an agent who lost their device: 2FA is off until set up again.
    ResetTwoFactor,
}

impl AgentAction {
    pub fn from_key(key: &str) -> Option<AgentAction> {
        Some(match key {
            "disable" => AgentAction::Disable,
            "enable" => AgentAction::Enable,
            "promote" => AgentAction::Promote,
            "demote" => AgentAction::Demote,
            "force-password-change" => AgentAction::ForcePasswordChange,
            "end-sessions" => AgentAction::EndSessions,
            "unlock" => AgentAction::Unlock,
            "reset-2fa" => AgentAction::ResetTwoFactor,
            _ => return None,
        })
    }

    fn audit_action(self) -> &'static str {
        match self {
            AgentAction::Disable => "agent.disabled",
            AgentAction::Enable => "agent.enabled",
            AgentAction::Promote => "agent.promoted",
            AgentAction::Demote => "agent.demoted",
            AgentAction::ForcePasswordChange => "agent.password_change_required",
            AgentAction::EndSessions => "agent.sessions_ended",
            AgentAction::Unlock => "agent.unlocked",
            AgentAction::ResetTwoFactor => "agent.two_factor_reset",
        }
    }
}

/// One agent as the admin's agent page shows it.
#[derive(Debug, Clone)]
pub struct AgentDetail {
    pub person: PersonRecord,
    pub locked_until: Option<Timestamp>,
    pub sessions: Vec<OwnSession>,
    pub recent_logins: Vec<LoginRecord>,
    pub trusted_ips: Vec<ferrodesk_store::TrustedIp>,
}

/// The form of a stored address that lock-out keys use.
pub(crate) fn normalized_email(person: &PersonRecord) -> String {
    Email::parse(&person.email)
        .map_or_else(|_| person.email.to_lowercase(), |email| email.normalized())
}

/// How many login-log lines the agent page shows.
const RECENT_LOGINS: i64 = 10;
/// How many lines one page of the login log shows.
pub const LOGIN_LOG_PAGE_SIZE: i64 = 50;

impl App {
    async fn agent_for_admin(&self, actor: &Actor, agent_id: i64) -> AppResult<PersonRecord> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        match self.store().people().get_person(agent_id).await? {
            Some(person) if person.is_agent => Ok(person),
            _ => Err(AppError::NotFound),
        }
    }

    /// Everything the admin page of one agent shows.
    pub async fn agent_detail(&self, actor: &Actor, agent_id: i64) -> AppResult<AgentDetail> {
        let person = self.agent_for_admin(actor, agent_id).await?;
        let locked_until = self
            .store()
            .logins()
            .account_locked_until(
                &lockout_key(Surface::Staff, &normalized_email(&person)),
                self.now(),
            )
            .await?;
        let sessions = self.store().sessions().sessions_of(person.id).await?;
        let recent_logins = self
            .store()
            .logins()
            .search_logins(
                &LoginFilter {
                    person_id: Some(person.id),
                    ..LoginFilter::default()
                },
                RECENT_LOGINS,
            )
            .await?;
        let trusted_ips = self
            .store()
            .trusted_ips()
            .trusted_ips_of(person.id, self.now())
            .await?;
        Ok(AgentDetail {
            person,
            locked_until,
            sessions,
            recent_logins,
            trusted_ips,
        })
    }

    /// Applies one admin action to an agent. Only admins act; the last
    /// active admin cannot be demoted or disabled (not even by themselves).
    pub async fn act_on_agent(
        &self,
        caller: &Caller<'_>,
        agent_id: i64,
        action: AgentAction,
    ) -> AppResult<()> {
        let person = self.agent_for_admin(caller.actor, agent_id).await?;
        let audit = Audit::new(caller, action.audit_action()).on_person(
            person.id,
            &person.name,
            &person.email,
        );
        if action == AgentAction::Unlock {
            let email = normalized_email(&person);
            let keys = [
                lockout_key(Surface::Staff, &email),
                lockout_key(Surface::Portal, &email),
            ];
            self.store()
                .logins()
                .clear_lockouts(&keys, &audit.entry(), self.now())
                .await?;
            return Ok(());
        }
        if action == AgentAction::ResetTwoFactor {
            let reset = self
                .store()
                .two_factor()
                .disable_two_factor(person.id, true, &audit.entry(), self.now())
                .await?;
            if !reset {
                return Err(AppError::Conflict(
                    "Two-factor login is not on for this agent.".to_owned(),
                ));
            }
            return Ok(());
        }
        let (change, audit) = match action {
            AgentAction::Disable => (
                PersonChange::Disabled(true),
                audit.change(&person.is_disabled, &true),
            ),
            AgentAction::Enable => (
                PersonChange::Disabled(false),
                audit.change(&person.is_disabled, &false),
            ),
            AgentAction::Promote => (
                PersonChange::Admin(true),
                audit.change(&person.is_admin, &true),
            ),
            AgentAction::Demote => (
                PersonChange::Admin(false),
                audit.change(&person.is_admin, &false),
            ),
            AgentAction::ForcePasswordChange => (
                PersonChange::MustChangePassword(true),
                audit.change(&person.must_change_password, &true),
            ),
            AgentAction::EndSessions | AgentAction::Unlock | AgentAction::ResetTwoFactor => {
                (PersonChange::EndSessions, audit)
            }
        };
        self.apply_person_change(person.id, &change, &audit).await
    }

    /// Changes an agent's name and email address.
    pub async fn update_agent_profile(
        &self,
        caller: &Caller<'_>,
        agent_id: i64,
        name: &str,
        email: &str,
    ) -> AppResult<()> {
        let person = self.agent_for_admin(caller.actor, agent_id).await?;
        let mut errors = FieldErrors::new();
        let identity = parse_identity(email, name, &mut errors);
        errors.into_result()?;
        let Some((email, name)) = identity else {
            return Err(AppError::Internal("validated profile lost a field".into()));
        };
        let audit = Audit::new(caller, "agent.profile_changed")
            .on_person(person.id, &person.name, &person.email)
            .change(
                &serde_json::json!({ "name": person.name, "email": person.email }),
                &serde_json::json!({ "name": name.as_str(), "email": email.as_str() }),
            );
        let change = PersonChange::Profile {
            name: name.as_str(),
            email: email.as_str(),
            email_normalized: &email.normalized(),
        };
        match self.apply_person_change(person.id, &change, &audit).await {
            Err(AppError::Conflict(_)) => Err(AppError::invalid(
                "email",
                "An account with this email already exists.",
            )),
            other => other,
        }
    }

    async fn apply_person_change(
        &self,
        person_id: i64,
        change: &PersonChange<'_>,
        audit: &Audit,
    ) -> AppResult<()> {
        match self
            .store()
            .people()
            .change_person(person_id, change, &audit.entry(), self.now())
            .await?
        {
            ChangeOutcome::Done => Ok(()),
            ChangeOutcome::NotFound => Err(AppError::NotFound),
            ChangeOutcome::LastAdmin => Err(AppError::Conflict(
                "This is the last active admin: make another agent an admin first.".into(),
            )),
        }
    }

    /// The login log, newest first; admins only.
    pub async fn search_logins(
        &self,
        actor: &Actor,
        filter: &LoginFilter,
    ) -> AppResult<(Vec<LoginRecord>, Option<i64>)> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        let mut records = self
            .store()
            .logins()
            .search_logins(filter, LOGIN_LOG_PAGE_SIZE + 1)
            .await?;
        let next = if records.len() as i64 > LOGIN_LOG_PAGE_SIZE {
            records.truncate(LOGIN_LOG_PAGE_SIZE as usize);
            records.last().map(|record| record.id)
        } else {
            None
        };
        Ok((records, next))
    }

    /// Recent server errors; admins only.
    pub async fn recent_server_errors(
        &self,
        actor: &Actor,
    ) -> AppResult<Vec<ferrodesk_store::ErrorLogEntry>> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        Ok(self.store().error_log().recent_errors(200).await?)
    }

    /// The signed-in person's own record.
    pub async fn own_person(&self, actor: &Actor) -> AppResult<PersonRecord> {
        let id = actor
            .signed_in()
            .map(|person| person.person_id)
            .ok_or(AppError::Unauthenticated)?;
        self.store()
            .people()
            .get_person(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Changes one's own password: the current one is required, the new one
    /// must pass the policy and not be a recent one. Every other session
    /// ends; the one making the change stays.
    pub async fn change_own_password(
        &self,
        caller: &Caller<'_>,
        session_token: &str,
        current: &Secret,
        password: &Secret,
        confirmation: &Secret,
    ) -> AppResult<()> {
        let person = self.own_person(caller.actor).await?;
        let current_matches = self
            .inner
            .passwords
            .verify(current.expose(), person.password_hash.as_deref())
            .await?;
        if !current_matches {
            return Err(AppError::invalid(
                "current_password",
                "This is not your current password.",
            ));
        }
        let (hash, history) = self
            .check_new_password(&person, password, confirmation)
            .await?;
        let audit = Audit::new(caller, "password.changed").on_person(
            person.id,
            &person.name,
            &person.email,
        );
        self.store()
            .people()
            .change_password(
                &PasswordChange {
                    person_id: person.id,
                    new_hash: &hash,
                    history,
                    keep_session: Some(&token_hash(session_token)),
                    audit: &audit.entry(),
                },
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// An agent's choice of login mails (C5).
    pub async fn set_login_notifications(
        &self,
        caller: &Caller<'_>,
        on_success: bool,
        on_failure: bool,
    ) -> AppResult<()> {
        let person = self.own_person(caller.actor).await?;
        if !person.is_agent {
            return Err(AppError::Forbidden);
        }
        let audit = Audit::new(caller, "account.login_notifications_changed")
            .on_person(person.id, &person.name, &person.email)
            .change(
                &serde_json::json!({ "success": person.notify_login_success, "failure": person.notify_login_failure }),
                &serde_json::json!({ "success": on_success, "failure": on_failure }),
            );
        self.apply_person_change(
            person.id,
            &PersonChange::LoginNotifications {
                on_success,
                on_failure,
            },
            &audit,
        )
        .await
    }

    /// Changes one's own display name (agents and users alike).
    pub async fn change_own_name(&self, caller: &Caller<'_>, name: &str) -> AppResult<()> {
        let person = self.own_person(caller.actor).await?;
        let name = ferrodesk_core::PersonName::parse(name)
            .map_err(|error| AppError::invalid("name", error.to_string()))?;
        if name.as_str() == person.name {
            return Ok(());
        }
        let audit = Audit::new(caller, "account.name_changed")
            .on_person(person.id, &person.name, &person.email)
            .change(
                &serde_json::json!({ "name": person.name }),
                &serde_json::json!({ "name": name.as_str() }),
            );
        let email_normalized = person.email.to_lowercase();
        self.apply_person_change(
            person.id,
            &PersonChange::Profile {
                name: name.as_str(),
                email: &person.email,
                email_normalized: &email_normalized,
            },
            &audit,
        )
        .await
    }

    /// One's own sessions, on every surface.
    pub async fn own_sessions(&self, actor: &Actor) -> AppResult<Vec<OwnSession>> {
        let person = self.own_person(actor).await?;
        Ok(self.store().sessions().sessions_of(person.id).await?)
    }

    /// Ends one of one's own sessions by its public id.
    pub async fn revoke_own_session(&self, caller: &Caller<'_>, session_id: &str) -> AppResult<()> {
        let person = self.own_person(caller.actor).await?;
        if !self
            .store()
            .sessions()
            .delete_session_of(person.id, session_id)
            .await?
        {
            return Err(AppError::NotFound);
        }
        self.audit(
            &Audit::new(caller, "session.revoked")
                .on_person(person.id, &person.name, &person.email)
                .after(&serde_json::json!({ "session": session_id })),
        )
        .await
    }

    /// "Log out everywhere else": every session but this one ends.
    pub async fn end_other_sessions(
        &self,
        caller: &Caller<'_>,
        session_token: &str,
    ) -> AppResult<u64> {
        let person = self.own_person(caller.actor).await?;
        let ended = self
            .store()
            .sessions()
            .delete_other_sessions(person.id, &token_hash(session_token))
            .await?;
        self.audit(
            &Audit::new(caller, "session.others_ended")
                .on_person(person.id, &person.name, &person.email)
                .after(&serde_json::json!({ "ended": ended })),
        )
        .await?;
        Ok(ended)
    }
}
