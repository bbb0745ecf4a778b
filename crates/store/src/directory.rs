//! The directory agents work with: help-center users with their addresses,
//! organizations with members and managers, and merging two users into one.
//! Agents and their accounts live in `people.rs`; who may look or change is
//! decided by the caller.

use ferrodesk_core::Timestamp;

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::people::END_SESSIONS;
use crate::{Store, StoreError, StoreResult, on_backend};

/// A user as the directory lists them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub organization_id: Option<i64>,
    pub organization_name: Option<String>,
    pub is_organization_manager: bool,
    pub is_disabled: bool,
    /// Registered and waiting for an agent to let them in.
    pub approval_pending: bool,
    /// Registered and yet to confirm their address.
    pub verification_pending: bool,
    pub has_password: bool,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
    /// The name as the list sorts it (lower case, as the database makes it).
    pub sort_key: String,
}

/// A query on users with the columns of `UserRecord`.
macro_rules! user_query {
    ($tail:literal) => {
        concat!(
            "SELECT p.id, p.name, p.email, p.organization_id, o.name AS organization_name, ",
            "p.is_organization_manager, p.is_disabled, p.approval_pending, p.verification_pending, ",
            "p.password_hash IS NOT NULL AS has_password, ",
            "p.last_login_at, p.created_at, lower(p.name) AS sort_key ",
            "FROM people p LEFT JOIN organizations o ON o.id = p.organization_id ",
            $tail
        )
    };
}

/// One address of a person; the primary one is `people.email`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonEmail {
    pub id: i64,
    pub email: String,
    pub email_normalized: String,
    pub created_at: i64,
}

/// An organization with how many people belong to it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrganizationRecord {
    pub id: i64,
    pub name: String,
    pub member_count: i64,
    pub created_at: i64,
    pub sort_key: String,
}

/// A query on organizations with the columns of `OrganizationRecord`.
macro_rules! organization_query {
    ($tail:literal) => {
        concat!(
            "SELECT o.id, o.name, ",
            "(SELECT COUNT(*) FROM people m WHERE m.organization_id = o.id) AS member_count, ",
            "o.created_at, lower(o.name) AS sort_key FROM organizations o ",
            $tail
        )
    };
}

/// A page of a list sorted by name: after the (lower-case name, id) of the
/// last row of the page before.
#[derive(Debug, Clone, Default)]
pub struct NamePage {
    /// Matches names and addresses containing it, whatever the case.
    pub search: Option<String>,
    pub after: Option<(String, i64)>,
    pub limit: i64,
    /// Rows to skip when there is no cursor (numbered pages of the API).
    pub offset: i64,
}

/// What an agent sets on a user's page.
#[derive(Debug, Clone)]
pub struct UserChange<'a> {
    pub name: &'a str,
    pub organization_id: Option<i64>,
    pub is_organization_manager: bool,
    pub is_disabled: bool,
}

/// Appends the search and keyset conditions of a name-sorted list.
fn push_name_page<DB: sqlx::Database>(
    builder: &mut sqlx::QueryBuilder<DB>,
    page: &NamePage,
    (name_column, id_column): (&str, &str),
    also_search: &str,
) where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    if let Some(search) = page.search.as_deref().filter(|search| !search.is_empty()) {
        let pattern = crate::audit::like_pattern(search);
        builder.push(" AND (lower(");
        builder.push(name_column);
        builder.push(") LIKE ");
        builder.push_bind(pattern.clone());
        builder.push(" ESCAPE '\\'");
        if !also_search.is_empty() {
            builder.push(" OR ");
            builder.push(also_search);
            builder.push_bind(pattern);
            builder.push(" ESCAPE '\\')");
        }
        builder.push(")");
    }
    if let Some((name, id)) = &page.after {
        builder.push(" AND (lower(");
        builder.push(name_column);
        builder.push("), ");
        builder.push(id_column);
        builder.push(") > (");
        builder.push_bind(name.clone());
        builder.push(", ");
        builder.push_bind(*id);
        builder.push(")");
    }
}

/// Users are also found by any of their addresses.
const ADDRESS_SEARCH: &str = "EXISTS (SELECT 1 FROM person_emails se WHERE se.person_id = p.id AND se.email_normalized LIKE ";

impl Directory<'_> {
    /// Help-center users by name, a page at a time.
    pub async fn list_users(&self, page: &NamePage) -> StoreResult<Vec<UserRecord>> {
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(user_query!("WHERE NOT p.is_agent"));
            push_name_page(&mut builder, page, ("p.name", "p.id"), ADDRESS_SEARCH);
            builder.push(" ORDER BY lower(p.name), p.id LIMIT +");
            builder.push_bind(page.limit);
            if page.after.is_none() && page.offset > 0 {
                builder.push(" OFFSET +");
                builder.push_bind(page.offset);
            }
            builder.build_query_as::<UserRecord>().fetch_all(pool).await?
        }))
    }

    /// How many users the search matches.
    pub async fn count_users(&self, search: Option<&str>) -> StoreResult<i64> {
        let page = NamePage {
            search: search.map(str::to_owned),
            ..NamePage::default()
        };
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM people p WHERE NOT p.is_agent");
            push_name_page(&mut builder, &page, ("p.name", "p.id"), ADDRESS_SEARCH);
            builder.build_query_scalar::<i64>().fetch_one(pool).await?
        }))
    }

    /// A help-center user (never an agent).
    pub async fn get_user(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, UserRecord>(user_query!("WHERE p.id = $1 AND NOT p.is_agent"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The members of an organization, managers first.
    pub async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<UserRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, UserRecord>(user_query!(
                "WHERE p.organization_id = $1 ORDER BY p.is_organization_manager DESC, lower(p.name), p.id LIMIT 500"
            ))
            .bind(organization_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// A person's addresses, the oldest first.
    pub async fn person_emails(&self, person_id: i64) -> StoreResult<Vec<PersonEmail>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonEmail>(
                "SELECT id, email, email_normalized, created_at FROM person_emails WHERE person_id = $1 ORDER BY id",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Whoever has this address, primary or not.
    pub async fn find_person_by_any_email(
        &self,
        email_normalized: &str,
    ) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT person_id FROM person_emails WHERE email_normalized = $1")
                .bind(email_normalized)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Creates a help-center user with its audit entry.
    pub async fn create_user(
        &self,
        name: &str,
        email: &str,
        email_normalized: &str,
        organization: Option<(i64, bool)>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO people (email, email_normalized, name, organization_id, is_organization_manager, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(email)
            .bind(email_normalized)
            .bind(name)
            .bind(organization.map(|(id, _)| id))
            .bind(organization.is_some_and(|(_, manager)| manager))
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "a person with this email"))?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Changes a user's name, organization and whether they may sign in;
    /// disabling ends their sessions. False when there is no such user.
    pub async fn change_user(
        &self,
        id: i64,
        change: &UserChange<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE people SET name = $1, organization_id = $2, is_organization_manager = $3, \
                 is_disabled = $4, updated_at = $5, \
                 approval_pending = approval_pending AND $4, verification_pending = verification_pending AND $4 \
                 WHERE id = $6 AND NOT is_agent",
            )
            .bind(change.name)
            .bind(change.organization_id)
            .bind(change.organization_id.is_some() && change.is_organization_manager)
            .bind(change.is_disabled)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if changed == 0 {
                return Ok(false);
            }
            if change.is_disabled {
                sqlx::query(END_SESSIONS).bind(id).execute(&mut *transaction).await?;
            }
            // Their name is in their tickets' search documents.
            crate::tickets::reindex(&mut transaction, crate::tickets::Reindex::RequestedBy(id)).await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            Ok(true)
        })
    }

    /// Adds an address to a person; one that anybody has already is a
    /// `Conflict`.
    pub async fn add_person_email(
        &self,
        person_id: i64,
        email: &str,
        email_normalized: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO person_emails (person_id, email, email_normalized, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(person_id)
            .bind(email)
            .bind(email_normalized)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "a person with this email"))?;
            crate::tickets::reindex(&mut transaction, crate::tickets::Reindex::RequestedBy(person_id)).await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Removes one of a person's addresses, never the primary one. False
    /// when the person has no such other address.
    pub async fn remove_person_email(
        &self,
        person_id: i64,
        email_id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            crate::audit::audited_statement!(
                pool,
                sqlx::query(
                    "DELETE FROM person_emails WHERE id = $1 AND person_id = $2 \
                     AND email_normalized <> (SELECT email_normalized FROM people WHERE id = $2)",
                )
                .bind(email_id)
                .bind(person_id),
                audit,
                now
            )
        }))
    }

    /// Makes one of a person's other addresses the primary one (where mail
    /// goes); the old primary stays as another address.
    pub async fn make_email_primary(
        &self,
        person_id: i64,
        email_id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            crate::audit::audited_statement!(
                pool,
                sqlx::query(
                    "UPDATE people SET email = (SELECT email FROM person_emails WHERE id = $1), \
                         email_normalized = (SELECT email_normalized FROM person_emails WHERE id = $1), \
                         updated_at = $3 \
                     WHERE id = $2 AND EXISTS (SELECT 1 FROM person_emails WHERE id = $1 AND person_id = $2)",
                )
                .bind(email_id)
                .bind(person_id)
                .bind(now.millis()),
                audit,
                now
            )
        }))
    }

    /// Merges user `source` into user `target` in one transaction: tickets,
    /// messages, CCs and addresses move over, the target keeps its name
    /// and gets the source's organization if it had none, and the source
    /// is deleted with its sessions. False when either is not a user.
    pub async fn merge_users(
        &self,
        source: i64,
        target: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let users: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM people WHERE id IN ($1, $2) AND NOT is_agent",
            )
            .bind(source)
            .bind(target)
            .fetch_one(&mut *transaction)
            .await?;
            if users != 2 || source == target {
                return Ok(false);
            }
            for statement in [
                "UPDATE tickets SET requester_id = $2 WHERE requester_id = $1",
                "UPDATE ticket_messages SET author_id = $2 WHERE author_id = $1",
                "INSERT INTO ticket_ccs (ticket_id, person_id) SELECT ticket_id, $2 FROM ticket_ccs \
                 WHERE person_id = $1 ON CONFLICT DO NOTHING",
                "DELETE FROM ticket_ccs WHERE person_id = $1",
                // The requester needs no copy of their own ticket.
                "DELETE FROM ticket_ccs WHERE person_id = $2 \
                 AND ticket_id IN (SELECT id FROM tickets WHERE requester_id = $2)",
                "UPDATE person_emails SET person_id = $2 WHERE person_id = $1",
                "UPDATE people SET organization_id = (SELECT organization_id FROM people WHERE id = $1), \
                     is_organization_manager = (SELECT is_organization_manager FROM people WHERE id = $1) \
                 WHERE id = $2 AND organization_id IS NULL",
                "DELETE FROM people WHERE id = $1",
            ] {
                sqlx::query(statement)
                    .bind(source)
                    .bind(target)
                    .execute(&mut *transaction)
                    .await?;
            }
            sqlx::query("UPDATE people SET updated_at = $2 WHERE id = $1")
                .bind(target)
                .bind(now.millis())
                .execute(&mut *transaction)
                .await?;
            crate::tickets::reindex(&mut transaction, crate::tickets::Reindex::RequestedBy(target)).await?;
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.note_ticket_write();
            Ok(true)
        })
    }

    /// Organizations by name, a page at a time.
    pub async fn list_organizations(
        &self,
        page: &NamePage,
    ) -> StoreResult<Vec<OrganizationRecord>> {
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(organization_query!("WHERE 1 = 1"));
            push_name_page(&mut builder, page, ("o.name", "o.id"), "");
            builder.push(" ORDER BY lower(o.name), o.id LIMIT +");
            builder.push_bind(page.limit);
            if page.after.is_none() && page.offset > 0 {
                builder.push(" OFFSET +");
                builder.push_bind(page.offset);
            }
            builder.build_query_as::<OrganizationRecord>().fetch_all(pool).await?
        }))
    }

    pub async fn count_organizations(&self, search: Option<&str>) -> StoreResult<i64> {
        let page = NamePage {
            search: search.map(str::to_owned),
            ..NamePage::default()
        };
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM organizations o WHERE 1 = 1");
            push_name_page(&mut builder, &page, ("o.name", "o.id"), "");
            builder.build_query_scalar::<i64>().fetch_one(pool).await?
        }))
    }

    pub async fn get_organization(&self, id: i64) -> StoreResult<Option<OrganizationRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, OrganizationRecord>(organization_query!("WHERE o.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The organization with this name, whatever the case.
    pub async fn find_organization(&self, name: &str) -> StoreResult<Option<OrganizationRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, OrganizationRecord>(organization_query!("WHERE o.name_normalized = $1"))
            .bind(name.to_lowercase())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Creates an organization with its audit entry.
    pub async fn create_audited_organization(
        &self,
        name: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO organizations (name, name_normalized, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(name)
            .bind(name.to_lowercase())
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "an organization with this name"))?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    pub async fn rename_organization(
        &self,
        id: i64,
        name: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query("UPDATE organizations SET name = $1, name_normalized = $2 WHERE id = $3")
                .bind(name)
                .bind(name.to_lowercase())
                .bind(id)
                .execute(&mut *transaction)
                .await
                .map_err(|error| StoreError::from_insert(error, "an organization with this name"))?
                .rows_affected() > 0;
            if changed {
                crate::audit::insert_audit(&mut transaction, audit, now).await?;
                transaction.commit().await?;
            }
            changed
        }))
    }

    /// Deletes an organization: its members stay as users without one, and
    /// its tickets keep their requesters.
    pub async fn delete_organization(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query("UPDATE people SET is_organization_manager = FALSE WHERE organization_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            let deleted = sqlx::query("DELETE FROM organizations WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected() > 0;
            if deleted {
                crate::audit::insert_audit(&mut transaction, audit, now).await?;
                transaction.commit().await?;
            }
            deleted
        }))
    }
}

/// The store's operations on the people and organization directory: `store.directory()`.
#[derive(Clone, Copy)]
pub struct Directory<'a> {
    store: &'a Store,
}

impl Store {
    pub fn directory(&self) -> Directory<'_> {
        Directory { store: self }
    }
}

impl std::ops::Deref for Directory<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
