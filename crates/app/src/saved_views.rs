//! Saved views: a ticket list's filters and chosen columns under a name,
//! kept by the agent who saved it and optionally shared with teams
//! (sharing takes "shared.manage"). A view only names filters: what it
//! lists is always what the agent looking at it may see.

use ferrodesk_core::Permission;
use ferrodesk_store::{TicketViewRecord, TicketViewWrite};

use crate::tickets::AgentContext;
use crate::{Actor, App, AppError, AppResult, Caller, FieldErrors};

/// The columns a view may show, by key, with their headings.
pub const VIEW_COLUMNS: [(&str, &str); 14] = [
    ("reference", "Reference"),
    ("requester", "Requester"),
    ("organization", "Organization"),
    ("subject", "Subject"),
    ("status", "Status"),
    ("urgency", "Urgency"),
    ("priority", "Priority"),
    ("labels", "Labels"),
    ("assignee", "Assignee"),
    ("team", "Team"),
    ("department", "Department"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("sla_due", "SLA due"),
];

/// What the plain list shows.
pub const DEFAULT_COLUMNS: [&str; 8] = [
    "requester",
    "subject",
    "status",
    "urgency",
    "labels",
    "assignee",
    "department",
    "updated",
];

/// The most views one agent keeps.
const MAX_VIEWS: usize = 100;

/// A view as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedView {
    pub id: i64,
    pub title: String,
    /// The list's own query string.
    pub filters: String,
    pub columns: Vec<String>,
    pub team_ids: Vec<i64>,
    /// Whether this agent may change or delete it.
    pub may_edit: bool,
}

/// A view as a form sends it.
#[derive(Debug, Clone, Default)]
pub struct ViewInput {
    pub title: String,
    pub filters: String,
    pub columns: Vec<String>,
    pub team_ids: Vec<i64>,
}

/// Whether a text looks like the ticket list's own query string: only the
/// characters its links use.
pub fn is_list_filters(text: &str) -> bool {
    text.len() <= 4000
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"=&%._-+".contains(&byte))
}

fn view_of(context: &AgentContext, record: &TicketViewRecord) -> Option<SavedView> {
    let team_ids: Vec<i64> = serde_json::from_str(&record.team_ids).unwrap_or_default();
    let own = record.owner_id == context.agent_id;
    if !own && !team_ids.iter().any(|team| context.team_ids.contains(team)) {
        return None;
    }
    Some(SavedView {
        id: record.id,
        title: record.title.clone(),
        filters: record.filters.clone(),
        columns: record.columns.split(',').map(str::to_owned).collect(),
        may_edit: own || context.effective.has(Permission::SharedManage),
        team_ids,
    })
}

/// A view's fields checked; answers the stored columns and teams.
fn checked(input: &ViewInput) -> AppResult<(String, String, String)> {
    let mut errors = FieldErrors::new();
    let title = input.title.trim();
    if let Err(error) = ferrodesk_core::ItemName::parse(title, 100) {
        errors.add("title", error.to_string());
    }
    if !is_list_filters(&input.filters) {
        errors.add("filters", "These are not the ticket list's filters.");
    }
    let columns: Vec<&str> = VIEW_COLUMNS
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| input.columns.iter().any(|chosen| chosen == key))
        .collect();
    if columns.is_empty() {
        errors.add("columns", "Choose at least one column.");
    }
    errors.into_result()?;
    let mut teams = input.team_ids.clone();
    teams.sort_unstable();
    teams.dedup();
    let teams =
        serde_json::to_string(&teams).map_err(|error| AppError::Internal(error.to_string()))?;
    Ok((title.to_owned(), columns.join(","), teams))
}

impl App {
    /// The views the agent may open: their own and those shared with one
    /// of their teams.
    pub async fn saved_views(&self, actor: &Actor) -> AppResult<Vec<SavedView>> {
        let context = self.agent_context(actor).await?;
        self.saved_views_for(&context).await
    }

    pub(crate) async fn saved_views_for(
        &self,
        context: &AgentContext,
    ) -> AppResult<Vec<SavedView>> {
        Ok(self
            .agent_library(context.agent_id)
            .await?
            .views
            .iter()
            .filter_map(|record| view_of(context, record))
            .collect())
    }

    /// One view the agent may open.
    pub async fn saved_view(&self, actor: &Actor, id: i64) -> AppResult<SavedView> {
        let context = self.agent_context(actor).await?;
        self.store()
            .ticket_views()
            .get_view(id)
            .await?
            .and_then(|record| view_of(&context, &record))
            .ok_or(AppError::NotFound)
    }

    pub async fn create_view(&self, caller: &Caller<'_>, input: &ViewInput) -> AppResult<i64> {
        let context = self.agent_context(caller.actor).await?;
        let (title, columns, teams) = checked(input)?;
        self.check_share_teams(&context, &input.team_ids).await?;
        let own = self
            .store()
            .ticket_views()
            .views_for(context.agent_id)
            .await?
            .iter()
            .filter(|record| record.owner_id == context.agent_id)
            .count();
        if own >= MAX_VIEWS {
            return Err(AppError::invalid(
                "title",
                format!("You have {MAX_VIEWS} views already; delete some first."),
            ));
        }
        let write = TicketViewWrite {
            title: &title,
            filters: &input.filters,
            columns: &columns,
            team_ids: &teams,
        };
        Ok(self
            .store()
            .ticket_views()
            .create_view(context.agent_id, &write, self.now())
            .await?)
    }

    pub async fn update_view(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &ViewInput,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_view(&context, id).await?;
        let (title, columns, teams) = checked(input)?;
        if current.team_ids != input.team_ids {
            self.check_share_teams(&context, &input.team_ids).await?;
        }
        let write = TicketViewWrite {
            title: &title,
            filters: &input.filters,
            columns: &columns,
            team_ids: &teams,
        };
        self.store()
            .ticket_views()
            .update_view(id, &write, self.now())
            .await?;
        Ok(())
    }

    pub async fn delete_view(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        self.editable_view(&context, id).await?;
        self.store().ticket_views().delete_view(id).await?;
        Ok(())
    }

    async fn editable_view(&self, context: &AgentContext, id: i64) -> AppResult<SavedView> {
        let view = self
            .store()
            .ticket_views()
            .get_view(id)
            .await?
            .and_then(|record| view_of(context, &record))
            .ok_or(AppError::NotFound)?;
        if !view.may_edit {
            return Err(AppError::Forbidden);
        }
        Ok(view)
    }

    /// Sharing a view or a report with teams takes the permission, and
    /// the teams must exist.
    pub(crate) async fn check_share_teams(
        &self,
        context: &AgentContext,
        team_ids: &[i64],
    ) -> AppResult<()> {
        if team_ids.is_empty() {
            return Ok(());
        }
        context.require(Permission::SharedManage)?;
        let teams = self.store().departments().list_teams().await?;
        if team_ids
            .iter()
            .any(|id| !teams.iter().any(|team| team.id == *id))
        {
            return Err(AppError::unresolved("teams", "That team does not exist."));
        }
        Ok(())
    }
}
