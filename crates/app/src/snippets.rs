//! Snippets (canned replies): text an agent inserts into a reply or note
//! by typing `/shortcut` in the reply box or picking it from a list. Each
//! agent keeps their own; shared ones are written by agents with the
//! "shared.manage" permission (and audited). Placeholders are filled in
//! the sandboxed template engine from the ticket the agent has open, so a
//! snippet can show only what the agent could read on that page.

use ferrodesk_core::Permission;
use ferrodesk_store::{SnippetRecord, SnippetWrite};
use serde::Serialize;

use crate::audit::{Audit, Caller};
use crate::error::taken;
use crate::tickets::{AgentContext, TicketKey};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The longest snippet body, in characters.
pub const MAX_SNIPPET_CHARS: usize = 20_000;
/// The most snippets one agent keeps, and the most shared ones.
pub const MAX_SNIPPETS: usize = 1_000;
const MAX_TITLE_CHARS: usize = 100;
const MAX_CATEGORY_CHARS: usize = 60;
const MAX_SHORTCUT_CHARS: usize = 32;

/// The placeholders a snippet may use, for the editor's help text.
pub const SNIPPET_PLACEHOLDERS: [&str; 12] = [
    "{{ ticket.reference }}",
    "{{ ticket.subject }}",
    "{{ ticket.status }}",
    "{{ ticket.department }}",
    "{{ ticket.fields[\"Field name\"] }}",
    "{{ user.name }}",
    "{{ user.first_name }}",
    "{{ user.email }}",
    "{{ agent.name }}",
    "{{ agent.first_name }}",
    "{{ agent.email }}",
    "{{ helpdesk.name }}",
];

/// A snippet as a form or the API sends it.
#[derive(Debug, Clone, Default)]
pub struct SnippetInput {
    pub category: String,
    pub title: String,
    pub shortcut: String,
    pub body: String,
    /// Shared with every agent (only when creating; a snippet keeps its
    /// owner).
    pub shared: bool,
}

/// A snippet as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnippetView {
    pub record: SnippetRecord,
    pub shared: bool,
    /// Whether this agent may change or delete it.
    pub may_edit: bool,
}

/// The snippets an agent may use, and whether they may write shared ones.
#[derive(Debug, Clone, Default)]
pub struct SnippetLibrary {
    pub snippets: Vec<SnippetView>,
    pub may_manage_shared: bool,
}

/// A checked snippet, ready to store.
struct CheckedSnippet {
    category: String,
    title: String,
    shortcut: String,
    body: String,
}

/// One line of text: trimmed, without control characters, within `max`.
fn one_line(
    text: &str,
    field: &'static str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let text = text.trim();
    if text.chars().count() > max {
        errors.add(field, format!("At most {max} characters."));
        return None;
    }
    if text
        .chars()
        .any(|c| c.is_control() || ferrodesk_core::is_invisible_formatting(c))
    {
        errors.add(field, "Control and invisible characters cannot be used.");
        return None;
    }
    Some(text.to_owned())
}

/// A shortcut as typed after `/`: lower-case letters, digits, `-` and `_`.
fn checked_shortcut(text: &str, errors: &mut FieldErrors) -> Option<String> {
    let shortcut = text.trim().trim_start_matches('/').to_lowercase();
    let valid = !shortcut.is_empty()
        && shortcut.chars().count() <= MAX_SHORTCUT_CHARS
        && shortcut
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        errors.add(
            "shortcut",
            format!(
                "A shortcut is 1 to {MAX_SHORTCUT_CHARS} letters, digits, hyphens or underscores."
            ),
        );
        return None;
    }
    Some(shortcut)
}

fn checked_snippet(input: &SnippetInput) -> AppResult<CheckedSnippet> {
    let mut errors = FieldErrors::new();
    let title = one_line(&input.title, "title", MAX_TITLE_CHARS, &mut errors);
    if title.as_deref() == Some("") {
        errors.add("title", "Give the snippet a title.");
    }
    let category = one_line(&input.category, "category", MAX_CATEGORY_CHARS, &mut errors);
    let shortcut = checked_shortcut(&input.shortcut, &mut errors);
    let body = input.body.replace("\r\n", "\n").trim_end().to_owned();
    if body.trim().is_empty() {
        errors.add("body", "Write the snippet's text.");
    } else if body.chars().count() > MAX_SNIPPET_CHARS {
        errors.add(
            "body",
            format!("A snippet has at most {MAX_SNIPPET_CHARS} characters."),
        );
    } else if body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        errors.add("body", "A snippet cannot hold control characters.");
    } else if let Err(problem) = ferrodesk_mail::templates::render_text(&body, &sample_context()) {
        errors.add("body", format!("The placeholders do not work: {problem}"));
    }
    errors.into_result()?;
    Ok(CheckedSnippet {
        category: category.unwrap_or_default(),
        title: title.unwrap_or_default(),
        shortcut: shortcut.unwrap_or_default(),
        body,
    })
}

/// What a snippet's placeholders read: the ticket the agent has open, its
/// requester, the agent and the helpdesk.
#[derive(Debug, Clone, Serialize)]
struct SnippetContext {
    ticket: TicketValues,
    user: PersonValues,
    agent: PersonValues,
    helpdesk: HelpdeskValues,
}

#[derive(Debug, Clone, Default, Serialize)]
struct TicketValues {
    reference: String,
    subject: String,
    status: String,
    department: String,
    urgency: i64,
    priority: String,
    labels: Vec<String>,
    /// Custom field values by field name, as the ticket page shows them.
    fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
struct PersonValues {
    name: String,
    first_name: String,
    email: String,
}

#[derive(Debug, Clone, Serialize)]
struct HelpdeskValues {
    name: String,
}

impl PersonValues {
    fn new(name: &str, email: &str) -> PersonValues {
        PersonValues {
            name: name.to_owned(),
            first_name: name.split_whitespace().next().unwrap_or(name).to_owned(),
            email: email.to_owned(),
        }
    }
}

/// Values to try a snippet's placeholders with when it is saved.
fn sample_context() -> serde_json::Value {
    let context = SnippetContext {
        ticket: TicketValues {
            reference: "ABCD-EFGH".into(),
            subject: "Sample".into(),
            status: "Open".into(),
            department: "Support".into(),
            urgency: 3,
            priority: String::new(),
            labels: Vec::new(),
            fields: Default::default(),
        },
        user: PersonValues::new("Sam Sample", "sam@example.org"),
        agent: PersonValues::new("Alex Agent", "alex@example.org"),
        helpdesk: HelpdeskValues {
            name: "Ferrodesk".into(),
        },
    };
    serde_json::to_value(context).unwrap_or_default()
}

impl App {
    /// The snippets the agent may use, by category and title.
    pub async fn snippet_library(&self, actor: &Actor) -> AppResult<SnippetLibrary> {
        let context = self.agent_context(actor).await?;
        let may_manage_shared = context.effective.has(Permission::SharedManage);
        let snippets = self
            .store()
            .snippets()
            .usable_snippets(context.agent_id)
            .await?
            .into_iter()
            .map(|record| view_of(&context, record))
            .collect();
        Ok(SnippetLibrary {
            snippets,
            may_manage_shared,
        })
    }

    /// One snippet the agent may use (for its edit form).
    pub async fn snippet(&self, actor: &Actor, id: i64) -> AppResult<SnippetView> {
        let context = self.agent_context(actor).await?;
        let record = self.usable_snippet(&context, id).await?;
        Ok(view_of(&context, record))
    }

    pub async fn create_snippet(
        &self,
        caller: &Caller<'_>,
        input: &SnippetInput,
    ) -> AppResult<i64> {
        let context = self.agent_context(caller.actor).await?;
        if input.shared {
            context.require(Permission::SharedManage)?;
        }
        let snippet = checked_snippet(input)?;
        let owner_id = (!input.shared).then_some(context.agent_id);
        let existing = self
            .store()
            .snippets()
            .usable_snippets(context.agent_id)
            .await?
            .iter()
            .filter(|record| record.owner_id == owner_id)
            .count();
        if existing >= MAX_SNIPPETS {
            return Err(AppError::invalid(
                "title",
                format!("There are {MAX_SNIPPETS} snippets already; delete some first."),
            ));
        }
        let write = SnippetWrite {
            owner_id,
            category: &snippet.category,
            title: &snippet.title,
            shortcut: &snippet.shortcut,
            body: &snippet.body,
        };
        let audit = input.shared.then(|| {
            Audit::new(caller, "snippet.created")
                .on("snippet", None, &snippet.title)
                .after(&audited(&snippet))
        });
        self.store()
            .snippets()
            .create_snippet(
                &write,
                audit.as_ref().map(Audit::entry).as_ref(),
                self.now(),
            )
            .await
            .map_err(taken(
                "shortcut",
                "Another snippet has this shortcut already.",
            ))
    }

    pub async fn update_snippet(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &SnippetInput,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_snippet(&context, id).await?;
        let snippet = checked_snippet(input)?;
        let write = SnippetWrite {
            owner_id: current.owner_id,
            category: &snippet.category,
            title: &snippet.title,
            shortcut: &snippet.shortcut,
            body: &snippet.body,
        };
        let audit = current.owner_id.is_none().then(|| {
            let before = CheckedSnippet {
                category: current.category.clone(),
                title: current.title.clone(),
                shortcut: current.shortcut.clone(),
                body: current.body.clone(),
            };
            Audit::new(caller, "snippet.updated")
                .on("snippet", Some(id), &snippet.title)
                .change(&audited(&before), &audited(&snippet))
        });
        let found = self
            .store()
            .snippets()
            .update_snippet(
                id,
                &write,
                audit.as_ref().map(Audit::entry).as_ref(),
                self.now(),
            )
            .await
            .map_err(taken(
                "shortcut",
                "Another snippet has this shortcut already.",
            ))?;
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn delete_snippet(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_snippet(&context, id).await?;
        let audit = current
            .owner_id
            .is_none()
            .then(|| Audit::new(caller, "snippet.deleted").on("snippet", Some(id), &current.title));
        self.store()
            .snippets()
            .delete_snippet(id, audit.as_ref().map(Audit::entry).as_ref(), self.now())
            .await?;
        Ok(())
    }

    /// Snippet `id` filled in for the ticket `key` the agent has open, and
    /// counted as used. The ticket must be one the agent may see.
    pub async fn fill_snippet(&self, actor: &Actor, key: &TicketKey, id: i64) -> AppResult<String> {
        let text = self.fill_snippet_quietly(actor, key, id).await?;
        self.store()
            .snippets()
            .count_snippet_use(id, self.now())
            .await?;
        Ok(text)
    }

    /// `fill_snippet` without counting a use (a macro's preview).
    pub(crate) async fn fill_snippet_quietly(
        &self,
        actor: &Actor,
        key: &TicketKey,
        id: i64,
    ) -> AppResult<String> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        let context = self.agent_context(actor).await?;
        let record = self.usable_snippet(&context, id).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let state = self.state_of(ticket).await?;
        let ticket = &state.ticket;
        let values = SnippetContext {
            ticket: TicketValues {
                reference: ticket.reference.to_string(),
                subject: ticket.subject.clone(),
                status: ticket.status.label().to_owned(),
                department: ticket.department_name.clone(),
                urgency: ticket.urgency.get(),
                priority: ticket.priority_name.clone().unwrap_or_default(),
                labels: state.labels.to_strings(),
                fields: state
                    .fields
                    .iter()
                    .map(|field| (field.field.name.clone(), field.display()))
                    .collect(),
            },
            user: PersonValues::new(&ticket.requester_name, &ticket.requester_email),
            agent: PersonValues::new(&agent.name, &agent.email),
            helpdesk: HelpdeskValues {
                name: self.settings().await?.branding.product_name.clone(),
            },
        };
        render_snippet(&record, &values)
    }

    /// Snippet `id` filled in for a chat the agent takes part in (the
    /// visitor is `user`; a chat has no ticket yet, so `ticket` values are
    /// empty), and counted as used.
    pub async fn fill_snippet_for_chat(
        &self,
        actor: &Actor,
        chat_id: i64,
        id: i64,
    ) -> AppResult<String> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        let context = self.agent_context(actor).await?;
        let record = self.usable_snippet(&context, id).await?;
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if !self.takes_part(agent_id, &chat).await? {
            return Err(AppError::NotFound);
        }
        let values = SnippetContext {
            ticket: TicketValues {
                department: chat.department_name.clone(),
                ..TicketValues::default()
            },
            user: PersonValues::new(&chat.visitor_name, &chat.visitor_email),
            agent: PersonValues::new(&agent.name, &agent.email),
            helpdesk: HelpdeskValues {
                name: self.settings().await?.branding.product_name.clone(),
            },
        };
        let text = render_snippet(&record, &values)?;
        self.store()
            .snippets()
            .count_snippet_use(id, self.now())
            .await?;
        Ok(text)
    }

    /// A snippet the agent may use: shared, or their own.
    async fn usable_snippet(&self, context: &AgentContext, id: i64) -> AppResult<SnippetRecord> {
        self.store()
            .snippets()
            .get_snippet(id)
            .await?
            .filter(|record| {
                record
                    .owner_id
                    .is_none_or(|owner| owner == context.agent_id)
            })
            .ok_or(AppError::NotFound)
    }

    /// A snippet the agent may change: their own, or a shared one with the
    /// permission.
    async fn editable_snippet(&self, context: &AgentContext, id: i64) -> AppResult<SnippetRecord> {
        let record = self.usable_snippet(context, id).await?;
        if record.owner_id.is_none() {
            context.require(Permission::SharedManage)?;
        }
        Ok(record)
    }
}

/// A snippet's body with its placeholders filled from `values`.
fn render_snippet(record: &SnippetRecord, values: &SnippetContext) -> AppResult<String> {
    let values =
        serde_json::to_value(values).map_err(|error| AppError::Internal(error.to_string()))?;
    ferrodesk_mail::templates::render_text(&record.body, &values).map_err(|problem| {
        AppError::invalid(
            "snippet",
            format!("This snippet's placeholders do not work: {problem}"),
        )
    })
}

fn view_of(context: &AgentContext, record: SnippetRecord) -> SnippetView {
    let shared = record.owner_id.is_none();
    SnippetView {
        may_edit: !shared || context.effective.has(Permission::SharedManage),
        shared,
        record,
    }
}

/// A shared snippet as the audit log records it.
fn audited(snippet: &CheckedSnippet) -> serde_json::Value {
    serde_json::json!({
        "category": snippet.category,
        "title": snippet.title,
        "shortcut": snippet.shortcut,
        "body": snippet.body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(shortcut: &str, body: &str) -> SnippetInput {
        SnippetInput {
            title: "Refund".into(),
            shortcut: shortcut.into(),
            body: body.into(),
            ..SnippetInput::default()
        }
    }

    #[test]
    fn shortcuts_and_placeholders_are_checked_when_saved() {
        let snippet = checked_snippet(&input("/Refund", "Hi {{ user.first_name }},\r\n")).unwrap();
        assert_eq!(snippet.shortcut, "refund");
        assert_eq!(snippet.body, "Hi {{ user.first_name }},");
        for shortcut in ["", "two words", "é", &"x".repeat(33)] {
            assert!(
                checked_snippet(&input(shortcut, "Hi")).is_err(),
                "{shortcut}"
            );
        }
        assert!(checked_snippet(&input("ok", "{{ user.name }")).is_err());
        assert!(
            checked_snippet(&input("ok", "{% for x in range(100000000) %}{% endfor %}")).is_err()
        );
        assert!(checked_snippet(&input("ok", "a\u{0}b")).is_err());
        assert!(checked_snippet(&input("ok", "  ")).is_err());
    }
}
