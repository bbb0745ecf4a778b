//! Permission groups and what they add up to for each agent. Deny by
//! default: an agent in no group may do nothing with tickets. Admins, who
//! run the installation, may do everything.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ferrodesk_core::{BuiltInGroup, DepartmentAccess, EffectivePermissions, Permission};
use ferrodesk_store::{
    AgentGrants, GroupDefinition, GroupGrants, MemberRecord, PermissionGroupRecord, PersonRecord,
    TeamRecord,
};

use crate::audit::{Audit, Caller};
use crate::departments::{DepartmentNode, checked_name, department_tree, with_descendants};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

const MAX_DESCRIPTION_CHARS: usize = 500;

/// A group as its admin page shows it.
#[derive(Debug, Clone)]
pub struct PermissionGroupDetail {
    pub group: PermissionGroupRecord,
    pub built_in: Option<BuiltInGroup>,
    pub permissions: BTreeSet<Permission>,
    pub departments: BTreeMap<i64, DepartmentAccess>,
    pub members: Vec<MemberRecord>,
}

/// What the group form sends: permission keys and (department id, access
/// key) pairs, checked by `save`.
#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub departments: Vec<(i64, String)>,
}

/// An agent's groups and teams, for their admin page.
#[derive(Debug, Clone)]
pub struct AgentAccess {
    /// Every group, with whether the agent is in it.
    pub groups: Vec<(PermissionGroupRecord, bool)>,
    /// Every team, with whether the agent is in it.
    pub teams: Vec<(TeamRecord, bool)>,
    pub effective: EffectivePermissions,
}

impl App {
    pub async fn permission_groups(&self, actor: &Actor) -> AppResult<Vec<PermissionGroupRecord>> {
        actor.require_admin()?;
        Ok(self
            .store()
            .permission_groups()
            .list_permission_groups()
            .await?)
    }

    pub async fn permission_group(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<PermissionGroupDetail> {
        actor.require_admin()?;
        let group = self
            .store()
            .permission_groups()
            .get_permission_group(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let built_in = group.built_in.as_deref().and_then(BuiltInGroup::from_key);
        let (permissions, departments) = match built_in {
            Some(built_in) => (built_in.permissions(), BTreeMap::new()),
            None => {
                let grants = self.store().permission_groups().group_grants(id).await?;
                (
                    grants
                        .permissions
                        .iter()
                        .filter_map(|key| Permission::from_key(key))
                        .collect(),
                    grants
                        .departments
                        .iter()
                        .filter_map(|(department, access)| {
                            DepartmentAccess::from_key(access).map(|access| (*department, access))
                        })
                        .collect(),
                )
            }
        };
        let members = self
            .store()
            .permission_groups()
            .permission_group_members(id)
            .await?;
        Ok(PermissionGroupDetail {
            group,
            built_in,
            permissions,
            departments,
            members,
        })
    }

    /// Checks a group form: a name, a short description, known permissions,
    /// existing departments with a known access.
    async fn checked_group(&self, input: &GroupInput) -> AppResult<(String, GroupGrants)> {
        let mut errors = FieldErrors::new();
        let name = match checked_name(&input.name, "name") {
            Ok(name) => name,
            Err(AppError::Invalid(problems)) => {
                for (field, message) in problems.iter() {
                    errors.add(field, message);
                }
                String::new()
            }
            Err(other) => return Err(other),
        };
        if input.description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.add(
                "description",
                format!("A description has at most {MAX_DESCRIPTION_CHARS} characters."),
            );
        }
        let mut grants = GroupGrants::default();
        for key in &input.permissions {
            match Permission::from_key(key) {
                Some(permission) => grants.permissions.push(permission.key().to_owned()),
                None => errors.add(
                    "permissions",
                    format!("Unknown permission \u{201c}{key}\u{201d}."),
                ),
            }
        }
        grants.permissions.sort();
        grants.permissions.dedup();
        let existing: BTreeSet<i64> = self
            .store()
            .departments()
            .list_departments()
            .await?
            .into_iter()
            .map(|department| department.id)
            .collect();
        let mut seen = BTreeSet::new();
        for (department, access) in &input.departments {
            match DepartmentAccess::from_key(access) {
                _ if !existing.contains(department) => {
                    errors.add_unresolved("departments", "A chosen department does not exist.");
                }
                Some(access) if seen.insert(*department) => {
                    grants
                        .departments
                        .push((*department, access.key().to_owned()));
                }
                Some(_) => errors.add("departments", "A department is listed twice."),
                None => errors.add("departments", "Choose full access or assign only."),
            }
        }
        errors.into_result()?;
        Ok((name, grants))
    }

    pub async fn create_permission_group(
        &self,
        caller: &Caller<'_>,
        input: &GroupInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let (name, grants) = self.checked_group(input).await?;
        let description = input.description.trim();
        let audit = Audit::new(caller, "permission_group.created")
            .on("permission_group", None, &name)
            .after(&grants_json(&name, description, &grants));
        Ok(self
            .store()
            .permission_groups()
            .create_permission_group(
                &GroupDefinition {
                    name: &name,
                    description,
                    grants: &grants,
                },
                &audit.entry(),
                self.now(),
            )
            .await?)
    }

    /// Changes a group; the built-in ones cannot be changed.
    pub async fn update_permission_group(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &GroupInput,
    ) -> AppResult<()> {
        let current = self.permission_group(caller.actor, id).await?;
        if current.built_in.is_some() {
            return Err(AppError::Conflict(
                "The built-in groups cannot be changed; make a group of your own.".to_owned(),
            ));
        }
        let (name, grants) = self.checked_group(input).await?;
        let description = input.description.trim();
        let before = GroupGrants {
            permissions: current
                .permissions
                .iter()
                .map(|p| p.key().to_owned())
                .collect(),
            departments: current
                .departments
                .iter()
                .map(|(department, access)| (*department, access.key().to_owned()))
                .collect(),
        };
        let audit = Audit::new(caller, "permission_group.changed")
            .on("permission_group", Some(id), &current.group.name)
            .change(
                &grants_json(&current.group.name, &current.group.description, &before),
                &grants_json(&name, description, &grants),
            );
        if !self
            .store()
            .permission_groups()
            .update_permission_group(
                id,
                &GroupDefinition {
                    name: &name,
                    description,
                    grants: &grants,
                },
                &audit.entry(),
                self.now(),
            )
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_permission_group(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let current = self.permission_group(caller.actor, id).await?;
        if current.built_in.is_some() {
            return Err(AppError::Conflict(
                "The built-in groups cannot be deleted.".to_owned(),
            ));
        }
        let audit = Audit::new(caller, "permission_group.deleted")
            .on("permission_group", Some(id), &current.group.name)
            .after(&serde_json::json!({
                "members": current.members.iter().map(|member| member.id).collect::<Vec<_>>(),
            }));
        if !self
            .store()
            .permission_groups()
            .delete_permission_group(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// What an agent may do, from all their groups; admins may do
    /// everything. A grant on a department covers its sub-departments.
    pub async fn effective_permissions(&self, person_id: i64) -> AppResult<EffectivePermissions> {
        let person = self
            .store()
            .people()
            .get_person(person_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(settled) = settled_by_account(&person) {
            return Ok(settled);
        }
        let grants = self
            .store()
            .permission_groups()
            .agent_grants(person_id)
            .await?;
        let tree = if grants.departments.is_empty() {
            Vec::new()
        } else {
            department_tree(&self.store().departments().list_departments().await?)
        };
        Ok(effective_from(Some(&grants), &tree))
    }

    /// `effective_permissions` of several agents at once, by id, in three
    /// queries however many there are.
    pub(crate) async fn effective_permissions_of(
        &self,
        agents: &[PersonRecord],
    ) -> AppResult<HashMap<i64, EffectivePermissions>> {
        let grants = self
            .store()
            .permission_groups()
            .grants_of_all_agents()
            .await?;
        let tree = department_tree(&self.store().departments().list_departments().await?);
        Ok(agents
            .iter()
            .map(|agent| {
                let effective = settled_by_account(agent)
                    .unwrap_or_else(|| effective_from(grants.get(&agent.id), &tree));
                (agent.id, effective)
            })
            .collect())
    }

    /// An agent's groups and teams and what they add up to, for admins.
    pub async fn agent_access(&self, actor: &Actor, agent_id: i64) -> AppResult<AgentAccess> {
        actor.require_admin()?;
        let (group_ids, team_ids) = self
            .store()
            .permission_groups()
            .agent_memberships(agent_id)
            .await?;
        let groups = self
            .store()
            .permission_groups()
            .list_permission_groups()
            .await?
            .into_iter()
            .map(|group| {
                let member = group_ids.contains(&group.id);
                (group, member)
            })
            .collect();
        let teams = self
            .store()
            .departments()
            .list_teams()
            .await?
            .into_iter()
            .map(|team| {
                let member = team_ids.contains(&team.id);
                (team, member)
            })
            .collect();
        Ok(AgentAccess {
            groups,
            teams,
            effective: self.effective_permissions(agent_id).await?,
        })
    }

    /// Puts an agent in exactly these permission groups and teams.
    pub async fn set_agent_access(
        &self,
        caller: &Caller<'_>,
        agent_id: i64,
        group_ids: &[i64],
        team_ids: &[i64],
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let person = self
            .store()
            .people()
            .get_person(agent_id)
            .await?
            .filter(|person| person.is_agent)
            .ok_or(AppError::NotFound)?;
        let (before_groups, before_teams) = self
            .store()
            .permission_groups()
            .agent_memberships(agent_id)
            .await?;
        let normalized = |ids: &[i64]| {
            let mut ids = ids.to_vec();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let (groups, teams) = (normalized(group_ids), normalized(team_ids));
        let audit = Audit::new(caller, "agent.access_changed")
            .on_person(person.id, &person.name, &person.email)
            .change(
                &serde_json::json!({ "groups": before_groups, "teams": before_teams }),
                &serde_json::json!({ "groups": groups, "teams": teams }),
            );
        self.store()
            .permission_groups()
            .set_agent_memberships(agent_id, &groups, &teams, &audit.entry(), self.now())
            .await?;
        Ok(())
    }
}

fn grants_json(name: &str, description: &str, grants: &GroupGrants) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "description": description,
        "permissions": grants.permissions,
        "departments": grants.departments,
    })
}

/// What the account alone decides, without groups: nothing for someone
/// who is not an agent or is disabled, everything for an admin.
fn settled_by_account(person: &PersonRecord) -> Option<EffectivePermissions> {
    if !person.is_agent || person.is_disabled {
        Some(EffectivePermissions::default())
    } else if person.is_admin {
        Some(EffectivePermissions::everything())
    } else {
        None
    }
}

/// What a non-admin agent's grants add up to; `tree` holds the departments
/// (it may be empty when the grants name none).
fn effective_from(grants: Option<&AgentGrants>, tree: &[DepartmentNode]) -> EffectivePermissions {
    let mut effective = EffectivePermissions::default();
    let Some(grants) = grants else {
        return effective;
    };
    for built_in in grants
        .built_in
        .iter()
        .filter_map(|key| BuiltInGroup::from_key(key))
    {
        effective.add_built_in(built_in);
    }
    for permission in grants
        .permissions
        .iter()
        .filter_map(|key| Permission::from_key(key))
    {
        effective.add_permission(permission);
    }
    if !effective.all_departments {
        for (department, access) in &grants.departments {
            let Some(access) = DepartmentAccess::from_key(access) else {
                continue;
            };
            for covered in with_descendants(tree, *department) {
                effective.add_department(covered, access);
            }
        }
    }
    effective
}
