//! Ticket departments (nested) and teams of agents, managed by admins.

use std::collections::HashMap;

use ferrodesk_store::{DeleteOutcome, DepartmentRecord, MemberRecord, TeamRecord};

use crate::audit::{Audit, Caller};
use crate::{Actor, App, AppError, AppResult};

const MAX_NAME_CHARS: usize = 100;
/// Deeper trees are a sign of a mistake, and every page shows the path.
const MAX_DEPARTMENT_DEPTH: usize = 5;

/// A department in the tree, in display order (each parent before its
/// children).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentNode {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    /// 0 for a top-level department.
    pub depth: usize,
    /// Names from the top, joined with " › ".
    pub path: String,
    pub has_children: bool,
    /// Where tickets go when nobody chose a department.
    pub is_default: bool,
}

/// Orders stored departments into a tree, parents first.
pub fn department_tree(records: &[DepartmentRecord]) -> Vec<DepartmentNode> {
    let mut children: HashMap<Option<i64>, Vec<&DepartmentRecord>> = HashMap::new();
    for record in records {
        children.entry(record.parent_id).or_default().push(record);
    }
    let mut nodes = Vec::with_capacity(records.len());
    // (record, depth, parent path); a stack in reverse for depth-first order.
    let mut pending: Vec<(&DepartmentRecord, usize, String)> = children
        .get(&None)
        .map(|top| {
            top.iter()
                .rev()
                .map(|record| (*record, 0, String::new()))
                .collect()
        })
        .unwrap_or_default();
    while let Some((record, depth, parent_path)) = pending.pop() {
        let path = if parent_path.is_empty() {
            record.name.clone()
        } else {
            format!("{parent_path} \u{203a} {}", record.name)
        };
        let kids = children.get(&Some(record.id));
        nodes.push(DepartmentNode {
            id: record.id,
            parent_id: record.parent_id,
            name: record.name.clone(),
            depth,
            path: path.clone(),
            has_children: kids.is_some_and(|kids| !kids.is_empty()),
            is_default: record.is_default,
        });
        if let Some(kids) = kids {
            for kid in kids.iter().rev() {
                pending.push((kid, depth + 1, path.clone()));
            }
        }
    }
    nodes
}

/// `id` and every department below it.
pub fn with_descendants(nodes: &[DepartmentNode], id: i64) -> Vec<i64> {
    let mut found = vec![id];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            nodes
                .iter()
                .filter(|node| node.parent_id == Some(parent))
                .map(|node| node.id),
        );
        index += 1;
    }
    found
}

/// A checked name for a department, team or group.
pub(crate) fn checked_name(text: &str, field: &'static str) -> AppResult<String> {
    ferrodesk_core::ItemName::parse(text, MAX_NAME_CHARS)
        .map(ferrodesk_core::ItemName::into_string)
        .map_err(|error| AppError::invalid(field, error.to_string()))
}

impl App {
    /// Every department as a tree. Agents see the list (they file tickets
    /// into departments); what they may do there is a separate question.
    pub async fn departments(&self, actor: &Actor) -> AppResult<Vec<DepartmentNode>> {
        match actor {
            Actor::Agent(_) | Actor::System => {}
            Actor::Visitor | Actor::User(_) => return Err(AppError::Forbidden),
        }
        Ok(department_tree(&self.shared_directory().await?.departments))
    }

    /// The parent a department may have: none, or an existing department
    /// that is not `moving` itself or below it, and not too deep.
    fn checked_parent(
        nodes: &[DepartmentNode],
        parent_id: Option<i64>,
        moving: Option<i64>,
    ) -> AppResult<()> {
        let Some(parent_id) = parent_id else {
            return Ok(());
        };
        let Some(parent) = nodes.iter().find(|node| node.id == parent_id) else {
            return Err(AppError::unresolved(
                "parent",
                "That parent department does not exist.",
            ));
        };
        if let Some(moving) = moving
            && with_descendants(nodes, moving).contains(&parent_id)
        {
            return Err(AppError::invalid(
                "parent",
                "A department cannot be placed inside itself or one of its own sub-departments.",
            ));
        }
        let subtree_depth = moving.map_or(0, |moving| {
            let base = nodes
                .iter()
                .find(|node| node.id == moving)
                .map_or(0, |node| node.depth);
            with_descendants(nodes, moving)
                .iter()
                .filter_map(|id| nodes.iter().find(|node| node.id == *id))
                .map(|node| node.depth - base)
                .max()
                .unwrap_or(0)
        });
        if parent.depth + 1 + subtree_depth >= MAX_DEPARTMENT_DEPTH {
            return Err(AppError::invalid(
                "parent",
                format!("Departments nest at most {MAX_DEPARTMENT_DEPTH} levels deep."),
            ));
        }
        Ok(())
    }

    pub async fn create_department(
        &self,
        caller: &Caller<'_>,
        name: &str,
        parent_id: Option<i64>,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let name = checked_name(name, "name")?;
        let nodes = department_tree(&self.store().departments().list_departments().await?);
        Self::checked_parent(&nodes, parent_id, None)?;
        let audit = Audit::new(caller, "department.created")
            .on("department", None, &name)
            .after(&serde_json::json!({ "name": name, "parent_id": parent_id }));
        Ok(self
            .store()
            .departments()
            .create_department(parent_id, &name, &audit.entry(), self.now())
            .await?)
    }

    pub async fn update_department(
        &self,
        caller: &Caller<'_>,
        id: i64,
        name: &str,
        parent_id: Option<i64>,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let name = checked_name(name, "name")?;
        let nodes = department_tree(&self.store().departments().list_departments().await?);
        let Some(current) = nodes.iter().find(|node| node.id == id) else {
            return Err(AppError::NotFound);
        };
        Self::checked_parent(&nodes, parent_id, Some(id))?;
        let audit = Audit::new(caller, "department.changed")
            .on("department", Some(id), &current.path)
            .change(
                &serde_json::json!({ "name": current.name, "parent_id": current.parent_id }),
                &serde_json::json!({ "name": name, "parent_id": parent_id }),
            );
        if !self
            .store()
            .departments()
            .update_department(id, parent_id, &name, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_department(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let nodes = department_tree(&self.store().departments().list_departments().await?);
        let Some(current) = nodes.iter().find(|node| node.id == id) else {
            return Err(AppError::NotFound);
        };
        if current.is_default {
            return Err(AppError::Conflict(
                "This is the default department: choose another default under Admin → Ticket settings first."
                    .to_owned(),
            ));
        }
        let audit =
            Audit::new(caller, "department.deleted").on("department", Some(id), &current.path);
        match self
            .store()
            .departments()
            .delete_department(id, &audit.entry(), self.now())
            .await?
        {
            DeleteOutcome::Deleted => Ok(()),
            DeleteOutcome::NotFound => Err(AppError::NotFound),
            DeleteOutcome::InUse => Err(AppError::Conflict(
                "Move its sub-departments and tickets elsewhere first.".to_owned(),
            )),
        }
    }

    /// Makes a department the one tickets go to when nobody chose one.
    pub async fn set_default_department(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let nodes = department_tree(&self.store().departments().list_departments().await?);
        let Some(chosen) = nodes.iter().find(|node| node.id == id) else {
            return Err(AppError::invalid(
                "default_department",
                "Choose a department.",
            ));
        };
        let before = nodes.iter().find(|node| node.is_default);
        let audit = Audit::new(caller, "department.default_changed")
            .on("department", Some(id), &chosen.path)
            .change(
                &serde_json::json!({ "default_department": before.map(|node| node.id) }),
                &serde_json::json!({ "default_department": id }),
            );
        if !self
            .store()
            .departments()
            .set_default_department(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::invalid(
                "default_department",
                "Choose a department.",
            ));
        }
        Ok(())
    }

    /// The department tickets go to when nobody chose one.
    pub(crate) async fn default_department(&self) -> AppResult<Option<i64>> {
        Ok(self
            .store()
            .departments()
            .list_departments()
            .await?
            .iter()
            .find(|department| department.is_default)
            .map(|department| department.id))
    }

    pub async fn teams(&self, actor: &Actor) -> AppResult<Vec<TeamRecord>> {
        match actor {
            Actor::Agent(_) | Actor::System => Ok(self.store().departments().list_teams().await?),
            Actor::Visitor | Actor::User(_) => Err(AppError::Forbidden),
        }
    }

    pub async fn team(&self, actor: &Actor, id: i64) -> AppResult<(TeamRecord, Vec<MemberRecord>)> {
        actor.require_admin()?;
        let team = self
            .store()
            .departments()
            .get_team(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let members = self.store().departments().team_members(id).await?;
        Ok((team, members))
    }

    pub async fn create_team(&self, caller: &Caller<'_>, name: &str) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let name = checked_name(name, "name")?;
        let audit = Audit::new(caller, "team.created")
            .on("team", None, &name)
            .after(&serde_json::json!({ "name": name }));
        Ok(self
            .store()
            .departments()
            .create_team(&name, &audit.entry(), self.now())
            .await?)
    }

    /// Renames a team and sets its members (agents; other ids are ignored).
    pub async fn update_team(
        &self,
        caller: &Caller<'_>,
        id: i64,
        name: &str,
        member_ids: &[i64],
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let name = checked_name(name, "name")?;
        let (team, members) = self.team(caller.actor, id).await?;
        let before_ids: Vec<i64> = members.iter().map(|member| member.id).collect();
        let mut after_ids = member_ids.to_vec();
        after_ids.sort_unstable();
        after_ids.dedup();
        let audit = Audit::new(caller, "team.changed")
            .on("team", Some(id), &team.name)
            .change(
                &serde_json::json!({ "name": team.name, "members": before_ids }),
                &serde_json::json!({ "name": name, "members": after_ids }),
            );
        if !self
            .store()
            .departments()
            .update_team(id, &name, &after_ids, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_team(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let (team, _) = self.team(caller.actor, id).await?;
        let audit = Audit::new(caller, "team.deleted").on("team", Some(id), &team.name);
        if !self
            .store()
            .departments()
            .delete_team(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, parent_id: Option<i64>, name: &str) -> DepartmentRecord {
        DepartmentRecord {
            id,
            parent_id,
            name: name.to_owned(),
            position: 0,
            created_at: 0,
            is_default: false,
        }
    }

    #[test]
    fn the_tree_lists_parents_before_children_with_paths() {
        let records = [
            record(1, None, "Sales"),
            record(2, None, "Support"),
            record(3, Some(2), "Hardware"),
            record(4, Some(1), "Europe"),
            record(5, Some(3), "Printers"),
        ];
        let tree = department_tree(&records);
        let paths: Vec<_> = tree.iter().map(|node| node.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "Sales",
                "Sales \u{203a} Europe",
                "Support",
                "Support \u{203a} Hardware",
                "Support \u{203a} Hardware \u{203a} Printers"
            ]
        );
        assert_eq!(tree[4].depth, 2);
        assert!(tree[2].has_children && !tree[1].has_children);
        let mut below = with_descendants(&tree, 2);
        below.sort_unstable();
        assert_eq!(below, [2, 3, 5]);
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(checked_name("  Support ", "name").unwrap(), "Support");
        assert!(checked_name("   ", "name").is_err());
        assert!(checked_name("a\nb", "name").is_err());
        assert!(checked_name(&"x".repeat(101), "name").is_err());
    }
}
