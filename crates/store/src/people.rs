use ferrodesk_core::Timestamp;

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::{Store, StoreError, StoreResult, on_backend, on_backend_write};

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
    /// Set by an admin: the next login must choose a new password first.
    pub must_change_password: bool,
    pub notify_login_success: bool,
    pub notify_login_failure: bool,
    /// When TOTP was turned on; `None` while two-factor login is off.
    pub totp_enabled_at: Option<i64>,
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
    "organization_id, password_changed_at, last_login_at, created_at, ",
    "must_change_password, notify_login_success, notify_login_failure, totp_enabled_at"
);

/// Sets a password hash ($1) at time $2 for person $3, which also satisfies
/// an admin's demand for a new password.
pub(crate) const SET_PASSWORD: &str = "UPDATE people SET password_hash = $1, password_changed_at = $2, \
     updated_at = $2, must_change_password = FALSE WHERE id = $3";
/// Keeps the replaced hash ($2) of person $1 at time $3.
pub(crate) const REMEMBER_PASSWORD: &str =
    "INSERT INTO password_history (person_id, password_hash, created_at) VALUES ($1, $2, $3)";
/// Forgets all but the newest $2 remembered hashes of person $1.
pub(crate) const TRIM_PASSWORD_HISTORY: &str = "DELETE FROM password_history WHERE person_id = $1 \
     AND id NOT IN (SELECT id FROM password_history WHERE person_id = $1 ORDER BY id DESC LIMIT +$2)";

/// The most passwords a policy may forbid reusing; older hashes are dropped.
pub const MAX_PASSWORD_HISTORY: u32 = 24;
/// Ends every session of person $1.
pub(crate) const END_SESSIONS: &str = "DELETE FROM sessions WHERE person_id = $1";

/// A new password for a person, with what goes with it.
pub struct PasswordChange<'a> {
    pub person_id: i64,
    pub new_hash: &'a str,
    /// How many earlier hashes to keep for the no-reuse rule.
    pub history: u32,
    /// The session to keep (the one that made the change), as its token hash.
    pub keep_session: Option<&'a str>,
    pub audit: &'a NewAuditEntry<'a>,
}

/// Writes a password change inside a transaction the caller holds.
pub(crate) async fn change_password_in(
    connected: &mut impl crate::backend::Connected,
    change: &PasswordChange<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(&mut *connected, connection => {
        let old_hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM people WHERE id = $1")
                .bind(change.person_id)
                .fetch_optional(&mut *connection)
                .await?;
        if let Some(old_hash) = old_hash.flatten() {
            sqlx::query(REMEMBER_PASSWORD)
                .bind(change.person_id)
                .bind(old_hash)
                .bind(now.millis())
                .execute(&mut *connection)
                .await?;
        }
        sqlx::query(TRIM_PASSWORD_HISTORY)
            .bind(change.person_id)
            .bind(i64::from(change.history.min(MAX_PASSWORD_HISTORY)))
            .execute(&mut *connection)
            .await?;
        sqlx::query(SET_PASSWORD)
            .bind(change.new_hash)
            .bind(now.millis())
            .bind(change.person_id)
            .execute(&mut *connection)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE person_id = $1 AND token_hash <> $2")
            .bind(change.person_id)
            .bind(change.keep_session.unwrap_or(""))
            .execute(&mut *connection)
            .await?;
    });
    crate::audit::insert_audit(connected, change.audit, now).await
}

/// A change to an account, each with its own audit action.
#[derive(Debug, Clone)]
pub enum PersonChange<'a> {
    Disabled(bool),
    Admin(bool),
    MustChangePassword(bool),
    Profile {
        name: &'a str,
        email: &'a str,
        email_normalized: &'a str,
    },
    LoginNotifications {
        on_success: bool,
        on_failure: bool,
    },
    EndSessions,
}

impl PersonChange<'_> {
    fn removes_an_admin(&self) -> bool {
        matches!(
            self,
            PersonChange::Disabled(true) | PersonChange::Admin(false)
        )
    }

    fn ends_sessions(&self) -> bool {
        matches!(self, PersonChange::Disabled(true) | PersonChange::Admin(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    Done,
    NotFound,
    /// Refused: it would leave no active admin.
    LastAdmin,
}

macro_rules! person_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, email, name, password_hash, is_agent, is_admin, is_disabled, ",
            "organization_id, password_changed_at, last_login_at, created_at, ",
            "must_change_password, notify_login_success, notify_login_failure, totp_enabled_at FROM people ",
            $tail
        )
    };
}

impl People<'_> {
    pub async fn create_person(
        &self,
        person: &NewPerson<'_>,
        now: Timestamp,
    ) -> StoreResult<PersonRecord> {
        let created = on_backend_write!(self, pool => {
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
        });
        if person.is_agent {
            self.store.directory_changed();
        }
        created
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
            crate::dialect::serialize_admin_changes(&mut transaction).await?;
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM people WHERE is_agent = TRUE AND is_admin = TRUE")
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
            self.store.directory_changed();
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

    /// The managers of an organization who are not disabled.
    pub async fn organization_managers(
        &self,
        organization_id: i64,
    ) -> StoreResult<Vec<crate::MemberRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, crate::MemberRecord>(
                "SELECT id, name, email FROM people WHERE organization_id = $1 \
                 AND is_organization_manager AND NOT is_disabled ORDER BY id LIMIT 200",
            )
            .bind(organization_id)
            .fetch_all(pool)
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

    /// The person one of whose addresses this is (any of them, not only
    /// the primary one).
    pub async fn person_by_any_email(
        &self,
        email_normalized: &str,
    ) -> StoreResult<Option<PersonRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(person_query!(
                "WHERE id = (SELECT person_id FROM person_emails WHERE email_normalized = $1)"
            ))
            .bind(email_normalized)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// An agent's own signature (markdown); empty when they have none.
    pub async fn signature(&self, person_id: i64) -> StoreResult<String> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT signature_markdown FROM people WHERE id = $1")
                .bind(person_id)
                .fetch_optional(pool)
                .await?
                .unwrap_or_default()
        }))
    }

    /// Sets an agent's own signature.
    pub async fn set_signature(
        &self,
        person_id: i64,
        signature: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE people SET signature_markdown = $1, updated_at = $2 WHERE id = $3 AND is_agent")
                .bind(signature)
                .bind(now.millis())
                .bind(person_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A person's time zone as they chose it; empty for the default.
    pub async fn time_zone(&self, person_id: i64) -> StoreResult<String> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT time_zone FROM people WHERE id = $1")
                .bind(person_id)
                .fetch_optional(pool)
                .await?
                .unwrap_or_default()
        }))
    }

    /// Sets a person's time zone (an IANA name, checked by the caller).
    pub async fn set_time_zone(
        &self,
        person_id: i64,
        zone: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE people SET time_zone = $1, updated_at = $2 WHERE id = $3")
                .bind(zone)
                .bind(now.millis())
                .bind(person_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Agents, admins first, then by name.
    pub async fn list_agents(&self) -> StoreResult<Vec<PersonRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, PersonRecord>(person_query!("WHERE is_agent = TRUE ORDER BY is_admin DESC, name, id"))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Admins, disabled ones included: setup stays closed once any admin
    /// has existed, even if all of them are later disabled.
    pub async fn count_admins(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM people WHERE is_agent = TRUE AND is_admin = TRUE")
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn count_active_admins(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM people WHERE is_agent = TRUE AND is_admin = TRUE AND NOT is_disabled")
                .fetch_one(pool)
                .await?
        }))
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
            self.store.directory_changed();
        });
        Ok(())
    }

    /// The newest `limit` earlier password hashes of a person, plus the
    /// current one first, for the no-reuse rule.
    pub async fn recent_password_hashes(
        &self,
        person_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT password_hash FROM (\
                     SELECT password_hash, 1 AS age, 0 AS id FROM people WHERE id = $1 AND password_hash IS NOT NULL \
                     UNION ALL \
                     SELECT password_hash, 2 AS age, id FROM password_history WHERE person_id = $1\
                 ) hashes ORDER BY age, id DESC LIMIT +$2",
            )
            .bind(person_id)
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Replaces a person's password: the old hash joins the history (kept to
    /// `history` entries), every session but `keep_session` ends, and the
    /// audit entry is written, in one transaction.
    pub async fn change_password(
        &self,
        change: &PasswordChange<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            change_password_in(&mut transaction, change, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Applies an admin's or a person's change to an account, with its audit
    /// entry, in one transaction. Taking away the last active admin (by
    /// demoting or disabling them) is refused, even when two admins try to
    /// demote each other at the same moment.
    pub async fn change_person(
        &self,
        person_id: i64,
        change: &PersonChange<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<ChangeOutcome> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            if change.removes_an_admin() {
                crate::dialect::serialize_admin_changes(&mut transaction).await?;
                let other_admins: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM people WHERE is_agent = TRUE AND is_admin = TRUE AND NOT is_disabled AND id <> $1",
                )
                .bind(person_id)
                .fetch_one(&mut *transaction)
                .await?;
                let target_is_active_admin: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM people WHERE is_admin AND NOT is_disabled AND id = $1",
                )
                .bind(person_id)
                .fetch_one(&mut *transaction)
                .await?;
                if other_admins == 0 && target_is_active_admin == 1 {
                    return Ok(ChangeOutcome::LastAdmin);
                }
            }
            let updated = match change {
                PersonChange::Disabled(disabled) => {
                    sqlx::query("UPDATE people SET is_disabled = $1, updated_at = $2 WHERE id = $3")
                        .bind(*disabled)
                        .bind(now.millis())
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected()
                }
                PersonChange::Admin(admin) => {
                    sqlx::query("UPDATE people SET is_admin = $1, updated_at = $2 WHERE id = $3 AND is_agent")
                        .bind(*admin)
                        .bind(now.millis())
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected()
                }
                PersonChange::MustChangePassword(must) => {
                    sqlx::query("UPDATE people SET must_change_password = $1, updated_at = $2 WHERE id = $3")
                        .bind(*must)
                        .bind(now.millis())
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected()
                }
                PersonChange::Profile { name, email, email_normalized } => {
                    // The primary address changes in the list of addresses
                    // too; the same person having it as another address is
                    // no clash.
                    sqlx::query("DELETE FROM person_emails WHERE person_id = $1 AND email_normalized = $2 \
                                 AND email_normalized <> (SELECT email_normalized FROM people WHERE id = $1)")
                        .bind(person_id)
                        .bind(*email_normalized)
                        .execute(&mut *transaction)
                        .await?;
                    sqlx::query("UPDATE person_emails SET email = $1, email_normalized = $2 \
                                 WHERE person_id = $3 AND email_normalized = (SELECT email_normalized FROM people WHERE id = $3)")
                        .bind(*email)
                        .bind(*email_normalized)
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await
                        .map_err(|error| StoreError::from_insert(error, "a person with this email"))?;
                    sqlx::query("UPDATE people SET name = $1, email = $2, email_normalized = $3, updated_at = $4 WHERE id = $5")
                        .bind(*name)
                        .bind(*email)
                        .bind(*email_normalized)
                        .bind(now.millis())
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await
                        .map_err(|error| StoreError::from_insert(error, "a person with this email"))?
                        .rows_affected()
                }
                PersonChange::LoginNotifications { on_success, on_failure } => {
                    sqlx::query("UPDATE people SET notify_login_success = $1, notify_login_failure = $2, updated_at = $3 WHERE id = $4")
                        .bind(*on_success)
                        .bind(*on_failure)
                        .bind(now.millis())
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected()
                }
                PersonChange::EndSessions => {
                    sqlx::query(END_SESSIONS)
                        .bind(person_id)
                        .execute(&mut *transaction)
                        .await?;
                    1
                }
            };
            if updated == 0 {
                return Ok(ChangeOutcome::NotFound);
            }
            // Losing power or access ends the sessions that had it; a new
            // session is needed to act with the new rights.
            if change.ends_sessions() {
                sqlx::query(END_SESSIONS)
                    .bind(person_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(ChangeOutcome::Done)
        })
    }

    pub async fn create_organization(
        &self,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<Organization> {
        on_backend_write!(self, pool => {
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

/// The store's operations on people and their accounts: `store.people()`.
#[derive(Clone, Copy)]
pub struct People<'a> {
    store: &'a Store,
}

impl Store {
    pub fn people(&self) -> People<'_> {
        People { store: self }
    }
}

impl std::ops::Deref for People<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
