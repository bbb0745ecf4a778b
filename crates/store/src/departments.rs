//! Ticket departments (a tree) and teams of agents.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, audited_statement};
use crate::backend::BeginWrite;
use crate::{Store, StoreError, StoreResult, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DepartmentRecord {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub position: i64,
    pub created_at: i64,
    /// Where tickets go when nobody chose a department (one at most).
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TeamRecord {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub member_count: i64,
}

/// An agent as lists of members show them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRecord {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// What deleting something did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    /// Something still depends on it (sub-departments, say).
    InUse,
}

const TEAM_COLUMNS: &str = "t.id, t.name, t.created_at, \
    (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS member_count";

impl Departments<'_> {
    /// Every department, parents before their children's siblings by
    /// position then name; the tree is put together by the caller.
    pub async fn list_departments(&self) -> StoreResult<Vec<DepartmentRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, DepartmentRecord>(
                "SELECT id, parent_id, name, position, created_at, is_default FROM departments \
                 ORDER BY position, lower(name), id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn create_department(
        &self,
        parent_id: Option<i64>,
        name: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO departments (parent_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(parent_id)
            .bind(name)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "A department with this name here"))?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(id)
        })
    }

    /// Renames or moves a department. The caller has checked that the new
    /// parent is not the department itself or one of its descendants.
    pub async fn update_department(
        &self,
        id: i64,
        parent_id: Option<i64>,
        name: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query("UPDATE departments SET parent_id = $1, name = $2 WHERE id = $3")
                .bind(parent_id)
                .bind(name)
                .bind(id)
                .execute(&mut *transaction)
                .await
                .map_err(|error| StoreError::from_insert(error, "A department with this name here"))?
                .rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(true)
        })
    }

    /// Deletes a department that has no sub-departments and no tickets.
    pub async fn delete_department(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<DeleteOutcome> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let dependants: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM departments WHERE parent_id = $1) \
                      + (SELECT COUNT(*) FROM departments WHERE id = $1 AND is_default) \
                      + (SELECT COUNT(*) FROM tickets WHERE department_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
            if dependants > 0 {
                transaction.rollback().await?;
                return Ok(DeleteOutcome::InUse);
            }
            let removed = sqlx::query("DELETE FROM departments WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if removed == 0 {
                transaction.rollback().await?;
                return Ok(DeleteOutcome::NotFound);
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(DeleteOutcome::Deleted)
        })
    }

    /// Makes a department the default, and no other; false when it does
    /// not exist.
    pub async fn set_default_department(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *transaction)
                .await?;
            if exists.is_none() {
                transaction.rollback().await?;
                return Ok(false);
            }
            // Cleared first: the index allows one default at a time.
            sqlx::query("UPDATE departments SET is_default = FALSE WHERE is_default AND id <> $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("UPDATE departments SET is_default = TRUE WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(true)
        })
    }

    pub async fn list_teams(&self) -> StoreResult<Vec<TeamRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TeamRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TEAM_COLUMNS} FROM teams t ORDER BY lower(t.name), t.id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_team(&self, id: i64) -> StoreResult<Option<TeamRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TeamRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TEAM_COLUMNS} FROM teams t WHERE t.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The teams an agent belongs to.
    pub async fn teams_of(&self, person_id: i64) -> StoreResult<Vec<TeamRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TeamRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TEAM_COLUMNS} FROM teams t JOIN team_members tm ON tm.team_id = t.id \
                 WHERE tm.person_id = $1 ORDER BY lower(t.name), t.id"
            )))
            .bind(person_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn create_team(
        &self,
        name: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO teams (name, created_at) VALUES ($1, $2) RETURNING id",
            )
            .bind(name)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "A team with this name"))?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(id)
        })
    }

    /// Renames a team and replaces its members (agents only).
    pub async fn update_team(
        &self,
        id: i64,
        name: &str,
        member_ids: &[i64],
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query("UPDATE teams SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(&mut *transaction)
                .await
                .map_err(|error| StoreError::from_insert(error, "A team with this name"))?
                .rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            sqlx::query("DELETE FROM team_members WHERE team_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            for person_id in member_ids {
                sqlx::query(
                    "INSERT INTO team_members (team_id, person_id) \
                     SELECT $1, id FROM people WHERE id = $2 AND is_agent",
                )
                .bind(id)
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(true)
        })
    }

    pub async fn delete_team(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let deleted = on_backend!(self, pool => audited_statement!(
            pool,
            sqlx::query("DELETE FROM teams WHERE id = $1").bind(id),
            audit,
            now
        ));
        // The team's tickets are left without one.
        self.note_ticket_write();
        Ok(deleted)
    }

    pub async fn team_members(&self, team_id: i64) -> StoreResult<Vec<MemberRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MemberRecord>(
                "SELECT p.id, p.name, p.email FROM team_members tm JOIN people p ON p.id = tm.person_id \
                 WHERE tm.team_id = $1 ORDER BY lower(p.name), p.id",
            )
            .bind(team_id)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// The store's operations on departments and teams: `store.departments()`.
#[derive(Clone, Copy)]
pub struct Departments<'a> {
    store: &'a Store,
}

impl Store {
    pub fn departments(&self) -> Departments<'_> {
        Departments { store: self }
    }
}

impl std::ops::Deref for Departments<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
