//! Permission groups: their grants, and which agents belong to them.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, audited_statement};
use crate::backend::BeginWrite;
use crate::departments::MemberRecord;
use crate::{Store, StoreError, StoreResult, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PermissionGroupRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `all` or `non_destructive` for the built-in groups.
    pub built_in: Option<String>,
    pub created_at: i64,
    pub member_count: i64,
}

/// What a group grants, as stored: permission keys and (department id,
/// access key) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupGrants {
    pub permissions: Vec<String>,
    pub departments: Vec<(i64, String)>,
}

/// Everything an agent's groups grant, before it is interpreted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentGrants {
    pub built_in: Vec<String>,
    pub permissions: Vec<String>,
    pub departments: Vec<(i64, String)>,
}

impl AgentGrants {
    /// One row of a group's grants: its built-in role and one permission.
    fn add(&mut self, built_in: Option<String>, permission: Option<String>) {
        if let Some(built_in) = built_in
            && !self.built_in.contains(&built_in)
        {
            self.built_in.push(built_in);
        }
        if let Some(permission) = permission {
            self.permissions.push(permission);
        }
    }
}

pub struct GroupDefinition<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub grants: &'a GroupGrants,
}

const GROUP_COLUMNS: &str = "g.id, g.name, g.description, g.built_in, g.created_at, \
    (SELECT COUNT(*) FROM agent_permission_groups a WHERE a.group_id = g.id) AS member_count";

/// Replaces a group's grants inside a transaction the caller holds.
pub(crate) async fn write_grants(
    connected: &mut impl crate::backend::Connected,
    group_id: i64,
    grants: &GroupGrants,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query("DELETE FROM permission_group_grants WHERE group_id = $1")
            .bind(group_id)
            .execute(&mut *connection)
            .await?;
        sqlx::query("DELETE FROM permission_group_departments WHERE group_id = $1")
            .bind(group_id)
            .execute(&mut *connection)
            .await?;
        for permission in &grants.permissions {
            sqlx::query(
                "INSERT INTO permission_group_grants (group_id, permission) VALUES ($1, $2)",
            )
            .bind(group_id)
            .bind(permission)
            .execute(&mut *connection)
            .await?;
        }
        for (department_id, access) in &grants.departments {
            sqlx::query(
                "INSERT INTO permission_group_departments (group_id, department_id, access) \
                 SELECT $1, id, $3 FROM departments WHERE id = $2",
            )
            .bind(group_id)
            .bind(department_id)
            .bind(access)
            .execute(&mut *connection)
            .await?;
        }
    });
    Ok(())
}

impl PermissionGroups<'_> {
    pub async fn list_permission_groups(&self) -> StoreResult<Vec<PermissionGroupRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PermissionGroupRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {GROUP_COLUMNS} FROM permission_groups g \
                 ORDER BY g.built_in IS NULL, lower(g.name), g.id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_permission_group(
        &self,
        id: i64,
    ) -> StoreResult<Option<PermissionGroupRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PermissionGroupRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {GROUP_COLUMNS} FROM permission_groups g WHERE g.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn group_grants(&self, group_id: i64) -> StoreResult<GroupGrants> {
        on_backend!(self, pool => {
            let permissions: Vec<String> = sqlx::query_scalar(
                "SELECT permission FROM permission_group_grants WHERE group_id = $1 ORDER BY permission",
            )
            .bind(group_id)
            .fetch_all(pool)
            .await?;
            let departments: Vec<(i64, String)> = sqlx::query_as(
                "SELECT department_id, access FROM permission_group_departments WHERE group_id = $1 ORDER BY department_id",
            )
            .bind(group_id)
            .fetch_all(pool)
            .await?;
            Ok(GroupGrants { permissions, departments })
        })
    }

    pub async fn create_permission_group(
        &self,
        group: &GroupDefinition<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO permission_groups (name, description, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(group.name)
            .bind(group.description)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "A permission group with this name"))?;
            crate::permission_groups::write_grants(&mut transaction, id, group.grants).await?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Changes a group that is not built in; false when there is no such
    /// group (or it is built in).
    pub async fn update_permission_group(
        &self,
        id: i64,
        group: &GroupDefinition<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE permission_groups SET name = $1, description = $2 WHERE id = $3 AND built_in IS NULL",
            )
            .bind(group.name)
            .bind(group.description)
            .bind(id)
            .execute(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "A permission group with this name"))?
            .rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            crate::permission_groups::write_grants(&mut transaction, id, group.grants).await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            Ok(true)
        })
    }

    pub async fn delete_permission_group(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => audited_statement!(
            pool,
            sqlx::query("DELETE FROM permission_groups WHERE id = $1 AND built_in IS NULL").bind(id),
            audit,
            now
        )))
    }

    pub async fn permission_group_members(&self, group_id: i64) -> StoreResult<Vec<MemberRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MemberRecord>(
                "SELECT p.id, p.name, p.email FROM agent_permission_groups a JOIN people p ON p.id = a.person_id \
                 WHERE a.group_id = $1 ORDER BY lower(p.name), p.id",
            )
            .bind(group_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The ids of an agent's groups and teams.
    pub async fn agent_memberships(&self, person_id: i64) -> StoreResult<(Vec<i64>, Vec<i64>)> {
        // Both lists in one query: every agent request asks for them.
        let rows: Vec<(bool, i64)> = on_backend!(self, pool => {
            sqlx::query_as(
                "SELECT FALSE AS is_team, group_id AS id FROM agent_permission_groups WHERE person_id = $1 \
                 UNION ALL SELECT TRUE, team_id FROM team_members WHERE person_id = $1 \
                 ORDER BY 1, 2",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?
        });
        let mut groups = Vec::new();
        let mut teams = Vec::new();
        for (is_team, id) in rows {
            if is_team {
                teams.push(id);
            } else {
                groups.push(id);
            }
        }
        Ok((groups, teams))
    }

    /// Replaces an agent's permission groups and teams. Ids that name no
    /// group or team are skipped.
    pub async fn set_agent_memberships(
        &self,
        person_id: i64,
        group_ids: &[i64],
        team_ids: &[i64],
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query("DELETE FROM agent_permission_groups WHERE person_id = $1")
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM team_members WHERE person_id = $1")
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            for group_id in group_ids {
                sqlx::query(
                    "INSERT INTO agent_permission_groups (person_id, group_id) \
                     SELECT $1, id FROM permission_groups WHERE id = $2",
                )
                .bind(person_id)
                .bind(group_id)
                .execute(&mut *transaction)
                .await?;
            }
            for team_id in team_ids {
                sqlx::query(
                    "INSERT INTO team_members (team_id, person_id) SELECT id, $1 FROM teams WHERE id = $2",
                )
                .bind(person_id)
                .bind(team_id)
                .execute(&mut *transaction)
                .await?;
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
        });
        Ok(())
    }

    /// What every agent's groups grant, by agent, in two queries (agents
    /// in no group are absent).
    pub async fn grants_of_all_agents(
        &self,
    ) -> StoreResult<std::collections::HashMap<i64, AgentGrants>> {
        let mut all: std::collections::HashMap<i64, AgentGrants> = Default::default();
        on_backend!(self, pool => {
            let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT a.person_id, g.built_in, pg.permission FROM agent_permission_groups a \
                 JOIN permission_groups g ON g.id = a.group_id \
                 LEFT JOIN permission_group_grants pg ON pg.group_id = g.id",
            )
            .fetch_all(pool)
            .await?;
            let departments: Vec<(i64, i64, String)> = sqlx::query_as(
                "SELECT a.person_id, d.department_id, d.access FROM agent_permission_groups a \
                 JOIN permission_group_departments d ON d.group_id = a.group_id",
            )
            .fetch_all(pool)
            .await?;
            for (person_id, built_in, permission) in rows {
                all.entry(person_id).or_default().add(built_in, permission);
            }
            for (person_id, department_id, access) in departments {
                all.entry(person_id).or_default().departments.push((department_id, access));
            }
        });
        Ok(all)
    }

    /// Everything an agent's groups grant, in two queries.
    pub async fn agent_grants(&self, person_id: i64) -> StoreResult<AgentGrants> {
        on_backend!(self, pool => {
            let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT g.built_in, pg.permission FROM agent_permission_groups a \
                 JOIN permission_groups g ON g.id = a.group_id \
                 LEFT JOIN permission_group_grants pg ON pg.group_id = g.id \
                 WHERE a.person_id = $1",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?;
            let departments: Vec<(i64, String)> = sqlx::query_as(
                "SELECT d.department_id, d.access FROM agent_permission_groups a \
                 JOIN permission_group_departments d ON d.group_id = a.group_id \
                 WHERE a.person_id = $1",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?;
            let mut grants = AgentGrants { departments, ..AgentGrants::default() };
            for (built_in, permission) in rows {
                grants.add(built_in, permission);
            }
            Ok(grants)
        })
    }
}

/// The store's operations on permission groups: `store.permission_groups()`.
#[derive(Clone, Copy)]
pub struct PermissionGroups<'a> {
    store: &'a Store,
}

impl Store {
    pub fn permission_groups(&self) -> PermissionGroups<'_> {
        PermissionGroups { store: self }
    }
}

impl std::ops::Deref for PermissionGroups<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
