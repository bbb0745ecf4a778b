//! Business-hours calendars as stored: their texts, which the app parses
//! into `ferrodesk_core::BusinessCalendar`.

use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend, on_backend_write};

const COLUMNS: &str = "id, name, time_zone, weekly_hours, holidays, created_at, updated_at";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarRecord {
    pub id: i64,
    pub name: String,
    /// An IANA zone name.
    pub time_zone: String,
    /// A JSON array of seven day texts, Monday first.
    pub weekly_hours: String,
    /// One holiday a line.
    pub holidays: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A calendar as written (already checked).
#[derive(Debug, Clone, Copy)]
pub struct CalendarWrite<'a> {
    pub name: &'a str,
    pub time_zone: &'a str,
    pub weekly_hours: &'a str,
    pub holidays: &'a str,
}

/// Names compare without case or surrounding space.
fn normalized(name: &str) -> String {
    name.trim().to_lowercase()
}

impl BusinessCalendars<'_> {
    /// Every calendar, by name.
    pub async fn list_calendars(&self) -> StoreResult<Vec<CalendarRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, CalendarRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM business_calendars ORDER BY name_normalized, id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_calendar(&self, id: i64) -> StoreResult<Option<CalendarRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, CalendarRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM business_calendars WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Whether another calendar (not `except`) has this name.
    pub async fn name_taken(&self, name: &str, except: Option<i64>) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM business_calendars WHERE name_normalized = $1 AND id <> $2",
            )
            .bind(normalized(name))
            .bind(except.unwrap_or(0))
            .fetch_one(pool)
            .await?
                > 0
        }))
    }

    pub async fn create_calendar(
        &self,
        calendar: &CalendarWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO business_calendars \
                 (name, name_normalized, time_zone, weekly_hours, holidays, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(calendar.name)
            .bind(normalized(calendar.name))
            .bind(calendar.time_zone)
            .bind(calendar.weekly_hours)
            .bind(calendar.holidays)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn update_calendar(
        &self,
        id: i64,
        calendar: &CalendarWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE business_calendars SET name = $1, name_normalized = $2, time_zone = $3, \
                 weekly_hours = $4, holidays = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(calendar.name)
            .bind(normalized(calendar.name))
            .bind(calendar.time_zone)
            .bind(calendar.weekly_hours)
            .bind(calendar.holidays)
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        }))
    }

    pub async fn delete_calendar(&self, id: i64) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM business_calendars WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }
}

/// The store's operations on business-hours calendars:
/// `store.business_calendars()`.
#[derive(Clone, Copy)]
pub struct BusinessCalendars<'a> {
    store: &'a Store,
}

impl Store {
    pub fn business_calendars(&self) -> BusinessCalendars<'_> {
        BusinessCalendars { store: self }
    }
}

impl std::ops::Deref for BusinessCalendars<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
