//! Who is acting on tickets and which tickets they reach: the agent's
//! permissions and teams, and a ticket found by id or reference that
//! they may see (anything else is "not found", never "forbidden", so ids
//! and references tell nothing).

use ferrodesk_core::{DepartmentAccess, EffectivePermissions, Permission, TicketRef};
use ferrodesk_store::{TicketActor, TicketRecord, Visibility};

use crate::{Actor, App, AppError, AppResult};

/// The acting agent with what they may do.
#[derive(Debug, Clone)]
pub struct AgentContext {
    pub agent_id: i64,
    pub label: String,
    pub effective: EffectivePermissions,
    pub team_ids: Vec<i64>,
}

impl AgentContext {
    pub(crate) fn visibility(&self) -> Visibility {
        if self.effective.all_departments {
            return Visibility::Everything;
        }
        let mut full_departments = Vec::new();
        let mut assign_departments = Vec::new();
        for (department, access) in &self.effective.departments {
            match access {
                DepartmentAccess::Full => full_departments.push(*department),
                DepartmentAccess::AssignOnly => assign_departments.push(*department),
            }
        }
        Visibility::Limited {
            agent_id: self.agent_id,
            full_departments,
            assign_departments,
            team_ids: self.team_ids.clone(),
        }
    }

    pub(crate) fn may_see(&self, ticket: &TicketRecord, following: bool) -> bool {
        match self.effective.department_access(ticket.department_id) {
            Some(DepartmentAccess::Full) => true,
            Some(DepartmentAccess::AssignOnly) => {
                ticket.agent_id == Some(self.agent_id)
                    || ticket
                        .team_id
                        .is_some_and(|team| self.team_ids.contains(&team))
                    || following
            }
            None => false,
        }
    }

    pub(crate) fn actor(&self) -> TicketActor<'_> {
        TicketActor {
            id: Some(self.agent_id),
            label: &self.label,
        }
    }

    /// `Forbidden` unless the agent has `permission`.
    pub(crate) fn require(&self, permission: Permission) -> AppResult<()> {
        if self.effective.has(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// A ticket as a request names it: by its numeric id (the API) or its
/// reference (pages, mail, the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketKey {
    Id(i64),
    Reference(TicketRef),
}

impl TicketKey {
    /// An id or a reference; anything else names no ticket.
    pub fn parse(text: &str) -> AppResult<TicketKey> {
        if let Ok(reference) = TicketRef::parse(text) {
            return Ok(TicketKey::Reference(reference));
        }
        text.trim()
            .parse::<i64>()
            .map(TicketKey::Id)
            .map_err(|_| AppError::NotFound)
    }
}

impl From<TicketRef> for TicketKey {
    fn from(reference: TicketRef) -> TicketKey {
        TicketKey::Reference(reference)
    }
}

impl App {
    /// The acting agent and what they may do; anyone else is refused.
    pub async fn agent_context(&self, actor: &Actor) -> AppResult<AgentContext> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        // The session is checked already; admins need no grants looked up.
        let effective = if agent.is_admin {
            EffectivePermissions::everything()
        } else {
            self.effective_permissions(agent.person_id).await?
        };
        let (_, team_ids) = self
            .store()
            .permission_groups()
            .agent_memberships(agent.person_id)
            .await?;
        Ok(AgentContext {
            agent_id: agent.person_id,
            label: format!("{} <{}>", agent.name, agent.email),
            effective,
            team_ids,
        })
    }

    /// A ticket by id or reference, following a merge to the ticket it
    /// went into; `NotFound` when there is none.
    pub(crate) async fn ticket_by_key(&self, key: &TicketKey) -> AppResult<TicketRecord> {
        let found = match key {
            TicketKey::Id(id) => self.store().tickets().get_ticket(*id).await?,
            TicketKey::Reference(reference) => {
                self.store().tickets().find_ticket(reference).await?
            }
        };
        let ticket = found.ok_or(AppError::NotFound)?;
        match ticket.merged_into_id {
            Some(target) => self
                .store()
                .tickets()
                .get_ticket(target)
                .await?
                .ok_or(AppError::NotFound),
            None => Ok(ticket),
        }
    }

    /// A ticket the agent may see, with whether they follow it; otherwise
    /// `NotFound`.
    pub(crate) async fn visible_ticket(
        &self,
        context: &AgentContext,
        key: &TicketKey,
    ) -> AppResult<(TicketRecord, bool)> {
        let ticket = self.ticket_by_key(key).await?;
        let following = self
            .store()
            .tickets()
            .is_following(ticket.id, context.agent_id)
            .await?;
        if !context.may_see(&ticket, following) {
            return Err(AppError::NotFound);
        }
        Ok((ticket, following))
    }

    /// A ticket the agent may see and change the properties of.
    pub(crate) async fn ticket_to_edit(
        &self,
        actor: &Actor,
        key: &TicketKey,
    ) -> AppResult<(AgentContext, TicketRecord)> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        context.require(Permission::TicketEdit)?;
        Ok((context, ticket))
    }
}
