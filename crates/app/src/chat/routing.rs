//! Who is asked to take a chat, and passing a chat on.
//!
//! A department the admin routes by round robin offers each new chat to
//! one available agent at a time: the one who was offered a chat longest
//! ago. An agent who does not accept within the acknowledge time (or
//! declines) is passed over for the next; once every available agent has
//! been asked, the chat is open to all of them, as in the departments
//! that broadcast. Any node may move an offer on: the store changes an
//! offer only if it is still the one the node read.
//!
//! The agent holding a chat may give it to another available agent, put
//! it back in the queue of another chat department, or invite a
//! colleague in beside them.

use std::collections::{BTreeSet, HashMap};

use ferrodesk_core::{DepartmentAccess, Timestamp};
use serde::Serialize;

use super::ChatRecord;
use crate::{Actor, App, AppError, AppResult};

/// Where the agent holding a chat sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferTarget {
    Agent(i64),
    Department(i64),
}

/// An agent who can take chats now, and the chat departments they serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatColleague {
    pub id: i64,
    pub name: String,
    pub departments: Vec<i64>,
    /// Holds as many chats as an agent may.
    pub full: bool,
}

impl App {
    /// The agents online for chat, each with the offered departments
    /// they have full access to (none listed: they serve none), and
    /// whether they hold as many chats as they may.
    pub(crate) async fn online_chat_agents(&self) -> AppResult<Vec<ChatColleague>> {
        let departments: Vec<i64> = self
            .chat_departments()
            .await?
            .into_iter()
            .map(|department| department.id)
            .collect();
        let online: BTreeSet<i64> = self
            .store()
            .chats()
            .online_agents()
            .await?
            .into_iter()
            .collect();
        if departments.is_empty() || online.is_empty() {
            return Ok(Vec::new());
        }
        let agents: Vec<_> = self
            .store()
            .people()
            .list_agents()
            .await?
            .into_iter()
            .filter(|agent| online.contains(&agent.id) && !agent.is_disabled)
            .collect();
        let effective = self.effective_permissions_of(&agents).await?;
        let limit = i64::from(self.chat_settings().await?.chats_per_agent);
        let held: HashMap<i64, i64> = self
            .store()
            .chats()
            .active_chat_counts()
            .await?
            .into_iter()
            .collect();
        let mut colleagues = Vec::new();
        for agent in agents {
            let Some(permissions) = effective.get(&agent.id) else {
                continue;
            };
            let served: Vec<i64> = departments
                .iter()
                .copied()
                .filter(|id| permissions.department_access(*id) == Some(DepartmentAccess::Full))
                .collect();
            if served.is_empty() {
                continue;
            }
            colleagues.push(ChatColleague {
                full: held.get(&agent.id).copied().unwrap_or(0) >= limit,
                id: agent.id,
                name: agent.name,
                departments: served,
            });
        }
        Ok(colleagues)
    }

    /// Offers a waiting chat of a round-robin department to the next
    /// agent: available, not yet asked, offered a chat longest ago. When
    /// nobody is left, the chat is open to the whole department.
    pub(crate) async fn route_chat(&self, chat: &ChatRecord) -> AppResult<()> {
        if chat.state != "waiting"
            || !self
                .chat_settings()
                .await?
                .round_robin_department_ids
                .contains(&chat.department_id)
        {
            return Ok(());
        }
        let asked: BTreeSet<i64> = self
            .store()
            .chats()
            .offered_agents(chat.id)
            .await?
            .into_iter()
            .collect();
        let candidates: Vec<i64> = self
            .online_chat_agents()
            .await?
            .into_iter()
            .filter(|agent| {
                !agent.full
                    && agent.departments.contains(&chat.department_id)
                    && !asked.contains(&agent.id)
            })
            .map(|agent| agent.id)
            .collect();
        let last_offered: HashMap<i64, i64> = self
            .store()
            .chats()
            .last_offered(&candidates)
            .await?
            .into_iter()
            .collect();
        let next = candidates
            .iter()
            .copied()
            .min_by_key(|id| (last_offered.get(id).copied().unwrap_or(0), *id));
        if next.is_none() && chat.offered_agent_id.is_none() {
            return Ok(());
        }
        let offered = self
            .store()
            .chats()
            .offer_chat(
                chat.id,
                (chat.offered_agent_id, chat.offered_at),
                next,
                self.now(),
            )
            .await?;
        if offered {
            tracing::info!(chat_id = chat.id, agent_id = ?next, "chat offered");
        }
        Ok(())
    }

    /// Moves on the offers nobody accepted in time; answers how many.
    pub async fn move_on_unanswered_offers(&self) -> AppResult<usize> {
        let ack =
            std::time::Duration::from_secs(u64::from(self.chat_settings().await?.ack_seconds));
        let due = self
            .store()
            .chats()
            .offers_due(Timestamp::minus(self.now(), ack))
            .await?;
        for chat in &due {
            self.route_chat(chat).await?;
        }
        Ok(due.len())
    }

    /// The agent a chat is offered to passes; the next is asked.
    pub async fn decline_chat(&self, actor: &Actor, chat_id: i64) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state != "waiting" || chat.offered_agent_id != Some(agent_id) {
            return Err(AppError::Conflict(
                "This chat is not offered to you now.".to_owned(),
            ));
        }
        self.route_chat(&chat).await
    }

    /// The agent holding a chat passes it on: to a colleague, who holds
    /// it at once, or to the queue of another chat department.
    pub async fn transfer_chat(
        &self,
        actor: &Actor,
        chat_id: i64,
        target: TransferTarget,
    ) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state != "active" || chat.agent_id != Some(agent_id) {
            return Err(AppError::Conflict(
                "Only the agent holding a chat can pass it on.".to_owned(),
            ));
        }
        let done = match target {
            TransferTarget::Agent(to) => {
                let available = self.online_chat_agents().await?.into_iter().any(|agent| {
                    agent.id == to
                        && agent.id != agent_id
                        && !agent.full
                        && agent.departments.contains(&chat.department_id)
                });
                if !available {
                    return Err(AppError::invalid(
                        "agent",
                        "That agent is not available for this department's chats now.",
                    ));
                }
                self.store()
                    .chats()
                    .transfer_to_agent(chat.id, agent_id, to, self.now())
                    .await?
            }
            TransferTarget::Department(department_id) => {
                if department_id == chat.department_id
                    || !self
                        .chat_departments()
                        .await?
                        .iter()
                        .any(|department| department.id == department_id)
                {
                    return Err(AppError::invalid(
                        "department",
                        "Choose another department that takes chats.",
                    ));
                }
                let moved = self
                    .store()
                    .chats()
                    .transfer_to_department(chat.id, agent_id, department_id, self.now())
                    .await?;
                if moved && let Some(chat) = self.store().chats().chat(chat.id).await? {
                    self.route_chat(&chat).await?;
                }
                moved
            }
        };
        if !done {
            return Err(AppError::Conflict(
                "The chat changed meanwhile; look again.".to_owned(),
            ));
        }
        tracing::info!(chat_id, agent_id, ?target, "chat transferred");
        Ok(())
    }

    /// The agent holding a chat invites a colleague of its department in.
    pub async fn invite_to_chat(&self, actor: &Actor, chat_id: i64, guest: i64) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state != "active" || chat.agent_id != Some(agent_id) {
            return Err(AppError::Conflict(
                "Only the agent holding a chat can invite someone in.".to_owned(),
            ));
        }
        let available = self
            .online_chat_agents()
            .await?
            .into_iter()
            .any(|agent| agent.id == guest && agent.departments.contains(&chat.department_id));
        if guest == agent_id || !available {
            return Err(AppError::invalid(
                "agent",
                "That agent is not available for this department's chats now.",
            ));
        }
        if !self
            .store()
            .chats()
            .add_guest(chat.id, guest, self.now())
            .await?
        {
            return Err(AppError::Conflict(
                "That agent is in this chat already.".to_owned(),
            ));
        }
        Ok(())
    }

    /// An invited agent leaves a chat.
    pub async fn leave_chat(&self, actor: &Actor, chat_id: i64) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if !self
            .store()
            .chats()
            .remove_guest(chat.id, agent_id, self.now())
            .await?
        {
            return Err(AppError::Conflict(
                "You are not a guest of this chat.".to_owned(),
            ));
        }
        Ok(())
    }

    /// The colleagues the agent could pass a chat to or invite: online,
    /// serving at least one of the agent's chat departments.
    pub async fn chat_colleagues(&self, actor: &Actor) -> AppResult<Vec<ChatColleague>> {
        let mine = self.agent_chat_departments(actor).await?;
        let me = self.agent_context(actor).await?.agent_id;
        Ok(self
            .online_chat_agents()
            .await?
            .into_iter()
            .filter(|agent| agent.id != me && agent.departments.iter().any(|id| mine.contains(id)))
            .collect())
    }
}
