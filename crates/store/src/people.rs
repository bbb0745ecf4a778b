use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::{Store, StoreError, StoreResult, on_backend};

/// A person as stored: an agent (possibly an admin) or a help-center user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonRecord {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub is_agent: bool,
    pub is_admin: bool,
    pub is_disabled: bool,
    pub organization_id: Option<i64>,
    pub password_changed_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewPerson<'a> {
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub is_agent: bool,
    pub is_admin: bool,
    pub organization_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

pub(crate) const INSERT_PERSON: &str = concat!(
    "INSERT INTO people (email, email_normalized, name, password_hash, is_agent, is_admin, ",
    "organization_id, password_changed_at, created_at, updated_at) ",
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING ",
    "id, email, name, password_hash, is_agent, is_admin, is_disabled, ",
    "organization_id, password_changed_at, last_login_at, created_at"
);

/// Sets a password hash ($1) at time $2 for person $3.
pub(crate) const SET_PASSWORD: &str =
    "UPDATE people SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3";
/// Ends every session of person $1.
pub(crate) const END_SESSIONS: &str = "DELETE FROM sessions WHERE person_id = $1";

macro_rules! person_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, email, name, password_hash, is_agent, is_admin, is_disabled, ",
            "organization_id, password_changed_at, last_login_at, created_at FROM people ",
            $tail
        )
    };
}

impl Store {
    pub async fn create_person(
        &self,
        person: &NewPerson<'_>,
        now: Timestamp,
    ) -> StoreResult<PersonRecord> {
        on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(INSERT_PERSON)
            .bind(person.email)
            .bind(person.email_normalized)
            .bind(person.name)
            .bind(person.password_hash)
            .bind(person.is_agent)
            .bind(person.is_admin)
            .bind(person.organization_id)
            .bind(person.password_hash.map(|_| now.millis()))
            .bind(now.millis())
            .fetch_one(pool)
            .await
            .map_err(|error| StoreError::from_insert(error, "a person with this email"))
        })
    }

    /// Creates the first admin, but only while no admin (even a disabled one) exists; two requests
    /// racing to do so cannot both succeed. Returns `None` when an admin exists.
    pub async fn create_first_admin(
        &self,
        person: &NewPerson<'_>,
        now: Timestamp,
    ) -> StoreResult<Option<PersonRecord>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            if matches!(self.backend, crate::Backend::Postgres(_)) {
                // SQLite's BEGIN IMMEDIATE already serializes writers.
                sqlx::query("SELECT pg_advisory_xact_lock(7301001)").execute(&mut *transaction).await?;
            }
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM people WHERE is_admin")
                .fetch_one(&mut *transaction)
                .await?;
            if admins > 0 {
                return Ok(None);
            }
            let created = sqlx::query_as::<_, PersonRecord>(INSERT_PERSON)
                .bind(person.email)
                .bind(person.email_normalized)
                .bind(person.name)
                .bind(person.password_hash)
                .bind(true)
                .bind(true)
                .bind(None::<i64>)
                .bind(person.password_hash.map(|_| now.millis()))
                .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "a person with this email"))?;
            transaction.commit().await?;
            Ok(Some(created))
        })
    }

    pub async fn find_person_by_email(
        &self,
        email_normalized: &str,
    ) -> StoreResult<Option<PersonRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(person_query!("WHERE email_normalized = $1"))
                .bind(email_normalized)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn get_person(&self, id: i64) -> StoreResult<Option<PersonRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(person_query!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Agents, admins first, then by name.
    pub async fn list_agents(&self) -> StoreResult<Vec<PersonRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(person_query!("WHERE is_agent ORDER BY is_admin DESC, name, id"))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Admins, disabled ones included: setup stays closed once any admin
    /// has existed, even if all of them are later disabled.
    pub async fn count_admins(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM people WHERE is_admin")
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn count_active_admins(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM people WHERE is_admin AND NOT is_disabled")
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn record_login(&self, person_id: i64, now: Timestamp) -> StoreResult<()> {
        on_backend!(self, pool => {
            sqlx::query("UPDATE people SET last_login_at = $1 WHERE id = $2")
                .bind(now.millis())
                .bind(person_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Sets a new password hash and ends every session of the person, in one
    /// transaction: whoever knew the old password is logged out with it.
    pub async fn set_password(
        &self,
        person_id: i64,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(SET_PASSWORD)
            .bind(password_hash)
            .bind(now.millis())
            .bind(person_id)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            sqlx::query(END_SESSIONS)
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            Ok(changed == 1)
        })
    }

    pub async fn set_disabled(
        &self,
        person_id: i64,
        disabled: bool,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query("UPDATE people SET is_disabled = $1, updated_at = $2 WHERE id = $3")
                .bind(disabled)
                .bind(now.millis())
                .bind(person_id)
                .execute(&mut *transaction)
                .await?;
            if disabled {
                sqlx::query(END_SESSIONS)
                    .bind(person_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    pub async fn create_organization(
        &self,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<Organization> {
        on_backend!(self, pool => {
            sqlx::query_as::<_, Organization>(
                "INSERT INTO organizations (name, name_normalized, created_at) VALUES ($1, $2, $3) \
                 RETURNING id, name, created_at",
            )
            .bind(name)
            .bind(name.to_lowercase())
            .bind(now.millis())
            .fetch_one(pool)
            .await
            .map_err(|error| StoreError::from_insert(error, "an organization with this name"))
        })
    }

    pub async fn members_of_organization(
        &self,
        organization_id: i64,
    ) -> StoreResult<Vec<PersonRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(person_query!("WHERE organization_id = $1 ORDER BY name, id"))
                .bind(organization_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
