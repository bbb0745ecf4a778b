//! Mail that tells agents about their work: a new ticket in a department
//! they have full access to, a ticket assigned to them or their team, a
//! user's reply on a ticket they are assigned to or follow, a note that
//! names them (`@alice`, their address's local part, or the whole
//! address). Each is a job
//! queued in the same transaction as its cause and composed when it runs,
//! so every recipient's access to the ticket is checked then, with the
//! agent's own permissions; nobody hears of a ticket they may not see, of
//! their own doing, or of what they switched off on their account page.
//! The mail carries a reply token for its recipient, so an agent can
//! answer by replying to it.

use std::collections::BTreeSet;

use ferrodesk_core::{DepartmentAccess, TicketStatus};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{AgentNotice, NotificationPreferences, PersonRecord, TicketRecord};

use crate::jobs::{JobFailure, JobResult};
use crate::{Actor, App, AppError, AppResult, TicketKey};

/// The events, as the job's payload names them.
pub(crate) const NEW_TICKET: &str = "new_ticket";
pub(crate) const ASSIGNED: &str = "assigned";
pub(crate) const USER_REPLY: &str = "user_reply";
pub(crate) const MENTION: &str = "mention";

/// A notice for a write to carry.
pub(crate) fn notice(event: &'static str, actor_id: Option<i64>) -> AgentNotice<'static> {
    AgentNotice { event, actor_id }
}

/// How many agents one notice reaches at most.
const MAX_RECIPIENTS: usize = 200;

impl App {
    /// The job of one notice: its mails, composed for each agent who
    /// should hear and may see the ticket.
    pub(crate) async fn notify_agents_job(&self, payload: &str) -> JobResult {
        let value: serde_json::Value = serde_json::from_str(payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {payload}")))?;
        let ticket_id = value["ticket_id"]
            .as_i64()
            .ok_or_else(|| JobFailure::Permanent(format!("bad payload {payload}")))?;
        let event = value["event"].as_str().unwrap_or_default().to_owned();
        let actor_id = value["actor_id"].as_i64();
        let message_id = value["message_id"].as_i64();
        match self
            .notify_agents(ticket_id, &event, actor_id, message_id)
            .await
        {
            Ok(_) | Err(AppError::NotFound) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Queues the notification mails of one event; answers how many.
    pub(crate) async fn notify_agents(
        &self,
        ticket_id: i64,
        event: &str,
        actor_id: Option<i64>,
        message_id: Option<i64>,
    ) -> AppResult<usize> {
        let ticket = self
            .store()
            .tickets()
            .get_ticket(ticket_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if matches!(ticket.status, TicketStatus::Spam | TicketStatus::Deleted) {
            return Ok(0);
        }
        // Notes go only to agents named in them, and only then are they
        // quoted.
        let message = match message_id {
            Some(id) => self
                .store()
                .tickets()
                .ticket_messages(ticket.id, true)
                .await?
                .into_iter()
                .find(|message| message.id == id && (!message.is_note || event == MENTION)),
            None => None,
        };
        let mentioned = message
            .as_ref()
            .filter(|_| event == MENTION)
            .map(|message| ferrodesk_mail::inbound::sanitize_html(&message.body_html).reply_text())
            .unwrap_or_default();
        let candidates = self.notice_candidates(&ticket, event, &mentioned).await?;
        let actor = match actor_id {
            Some(id) => self
                .store()
                .people()
                .get_person(id)
                .await?
                .map(|person| person.name),
            None => None,
        }
        .unwrap_or_else(|| "the helpdesk".to_owned());
        // What every recipient's mail shares, worked out once.
        let message_text = message
            .as_ref()
            .map(|message| ferrodesk_mail::inbound::sanitize_html(&message.body_html).reply_text())
            .unwrap_or_default();
        let message_html = message
            .as_ref()
            .map(|message| message.body_html.clone())
            .unwrap_or_default();
        let link = format!("{}/agent/tickets/{}", self.public_url(), ticket.reference);
        let root = self.thread_root(ticket.id, &ticket.reference).await?;
        let mut mails = Vec::new();
        for agent in candidates.into_iter().take(MAX_RECIPIENTS) {
            if Some(agent.id) == actor_id || agent.is_disabled || !agent.is_agent {
                continue;
            }
            let preferences = self
                .store()
                .notification_preferences()
                .notification_preferences(agent.id)
                .await?;
            if !wants(preferences, event) || !self.may_see(&agent, &ticket).await? {
                continue;
            }
            let mail = self
                .compose_mail(
                    TemplateKind::AgentNotification,
                    &agent.name,
                    &agent.email,
                    serde_json::json!({
                        "name": agent.name,
                        "event": event_words(event),
                        "reference": ticket.reference.as_str(),
                        "subject": ticket.subject,
                        "department": ticket.department_name,
                        "actor": actor,
                        "message_text": message_text,
                        "message_html": message_html,
                        "link": link,
                        "reply_by_mail": true,
                    }),
                )
                .await?;
            mails.push(mail.in_thread(
                self.thread_message_id(&ticket.reference, agent.id),
                &root,
                None,
            ));
        }
        // One transaction for all of them: one write, not one per agent.
        let new: Vec<_> = mails.iter().map(|mail| mail.as_new()).collect();
        self.store().outbox().queue_mails(&new, self.now()).await?;
        let queued = mails.len();
        if queued > 0 {
            self.wake_workers();
        }
        Ok(queued)
    }

    /// Who might hear of an event, before preferences and access.
    async fn notice_candidates(
        &self,
        ticket: &TicketRecord,
        event: &str,
        note_text: &str,
    ) -> AppResult<Vec<PersonRecord>> {
        let people = self.store().people();
        let agents = people.list_agents().await?;
        let mut ids: BTreeSet<i64> = BTreeSet::new();
        match event {
            NEW_TICKET => {
                let effective = self.effective_permissions_of(&agents).await?;
                for agent in &agents {
                    let full = effective.get(&agent.id).and_then(|permissions| {
                        permissions.department_access(ticket.department_id)
                    }) == Some(DepartmentAccess::Full);
                    if full {
                        ids.insert(agent.id);
                    }
                }
            }
            ASSIGNED => {
                ids.extend(ticket.agent_id);
                if let Some(team_id) = ticket.team_id {
                    let members = self.store().departments().team_members(team_id).await?;
                    ids.extend(members.into_iter().map(|member| member.id));
                }
            }
            USER_REPLY => {
                ids.extend(ticket.agent_id);
                ids.extend(self.store().tickets().ticket_followers(ticket.id).await?);
            }
            MENTION => {
                let names = mentions(note_text);
                for agent in &agents {
                    let address = agent.email.to_lowercase();
                    let local = address.split('@').next().unwrap_or_default().to_owned();
                    if names.contains(&address) || names.contains(&local) {
                        ids.insert(agent.id);
                    }
                }
            }
            _ => {}
        }
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            match agents.iter().find(|agent| agent.id == id) {
                Some(agent) => found.push(agent.clone()),
                // Not an agent (any more): looked up, then left out by
                // the caller.
                None => found.extend(people.get_person(id).await?),
            }
        }
        Ok(found)
    }

    /// Whether an agent may see a ticket, by the same rules as the pages.
    pub(crate) async fn may_see(
        &self,
        agent: &PersonRecord,
        ticket: &TicketRecord,
    ) -> AppResult<bool> {
        let context = self
            .agent_context(&crate::sessions::actor_of_agent(agent))
            .await?;
        match self
            .visible_ticket(&context, &TicketKey::Id(ticket.id))
            .await
        {
            Ok(_) => Ok(true),
            Err(AppError::NotFound | AppError::Forbidden) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// An agent's notification choices.
    pub async fn notification_preferences(
        &self,
        actor: &Actor,
    ) -> AppResult<NotificationPreferences> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        Ok(self
            .store()
            .notification_preferences()
            .notification_preferences(agent.person_id)
            .await?)
    }

    /// Saves an agent's notification choices.
    pub async fn set_notification_preferences(
        &self,
        actor: &Actor,
        preferences: NotificationPreferences,
    ) -> AppResult<()> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        self.store()
            .notification_preferences()
            .set_notification_preferences(agent.person_id, preferences, self.now())
            .await?;
        Ok(())
    }
}

fn wants(preferences: NotificationPreferences, event: &str) -> bool {
    match event {
        NEW_TICKET => preferences.new_ticket,
        ASSIGNED => preferences.assigned,
        USER_REPLY => preferences.user_reply,
        MENTION => preferences.mention,
        _ => false,
    }
}

/// The names a note mentions: what follows each `@` that starts a word,
/// lower case (`@alice`, `@alice@example.org`).
pub(crate) fn mentions(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut previous = ' ';
    let characters: Vec<char> = text.chars().collect();
    for (at, character) in characters.iter().enumerate() {
        if *character == '@' && !(previous.is_alphanumeric() || previous == '.') {
            let name: String = characters[at + 1..]
                .iter()
                .take_while(|next| {
                    next.is_alphanumeric() || matches!(next, '.' | '_' | '-' | '+' | '@')
                })
                .collect::<String>()
                .trim_end_matches(['.', '-'])
                .to_lowercase();
            if !name.is_empty() && found.len() < 20 {
                found.insert(name);
            }
        }
        previous = *character;
    }
    found
}

/// Whether a note may name someone, so that its job is worth queueing.
pub(crate) fn may_mention(text: &str) -> bool {
    !mentions(text).is_empty()
}

/// An event as the mail says it.
fn event_words(event: &str) -> &'static str {
    match event {
        NEW_TICKET => "New ticket",
        ASSIGNED => "Assigned to you",
        USER_REPLY => "New reply",
        MENTION => "You are mentioned in a note",
        _ => "Ticket changed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_words_after_an_at_sign() {
        let found = mentions("Hi @Alice, ask @bob@example.org. Mail ines@example.net; (@carol-x.)");
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["alice", "bob@example.org", "carol-x"]
        );
        assert!(mentions("no one here").is_empty());
        assert!(!may_mention("write to help@example.org"));
    }
}
