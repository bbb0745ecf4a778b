//! Business-hours calendars (admins): named working hours in a time zone,
//! with holidays, which SLAs, escalations and rules measure time on. The
//! arithmetic is `ferrodesk_core::business_hours`; this keeps calendars,
//! checks what admins type, and audits every change.

use ferrodesk_core::business_hours::{holidays_text, parse_holidays};
use ferrodesk_core::{BusinessCalendar, DayHours, Timestamp, Zone};
use ferrodesk_store::{CalendarRecord, CalendarWrite};
use serde::Serialize;

use crate::audit::Audit;
use crate::{Actor, App, AppError, AppResult, Caller, FieldErrors};

/// The form fields of the seven days, Monday first.
pub const DAY_FIELDS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The most calendars an instance keeps.
const MAX_CALENDARS: usize = 200;

/// A calendar as a form sends it.
#[derive(Debug, Clone, Default)]
pub struct CalendarInput {
    pub name: String,
    pub time_zone: String,
    /// Each day's hours, Monday first: `09:00-12:00, 13:00-17:00`.
    pub days: [String; 7],
    /// One holiday a line: `2026-12-25` or `2026-12-25 yearly`.
    pub holidays: String,
}

impl CalendarInput {
    /// Monday to Friday, 09:00 to 17:00, in the zone: what a new calendar
    /// starts from.
    pub fn office_hours(time_zone: &str) -> CalendarInput {
        let working = "09:00-17:00".to_owned();
        CalendarInput {
            name: String::new(),
            time_zone: time_zone.to_owned(),
            days: [
                working.clone(),
                working.clone(),
                working.clone(),
                working.clone(),
                working,
                String::new(),
                String::new(),
            ],
            holidays: String::new(),
        }
    }
}

/// A stored calendar with what its page shows.
#[derive(Debug, Clone)]
pub struct CalendarView {
    pub record: CalendarRecord,
    pub calendar: BusinessCalendar,
    /// The form's fields, filled from the calendar.
    pub input: CalendarInput,
    /// Whether it is working time now.
    pub working_now: bool,
    /// When working time next begins (now, during working time).
    pub next_opening: Option<Timestamp>,
    /// Hours of working time in a week without holidays.
    pub weekly_minutes: u32,
}

impl CalendarView {
    /// When `hours` of working time after `from` end: `from` as a
    /// `datetime-local` field sends it (`2026-12-04T16:00`, in the
    /// calendar's zone), `hours` a number such as `4` or `1.5`. `None` when
    /// the calendar has no working time within three years.
    pub fn due_after(&self, from: &str, hours: &str) -> AppResult<Option<Timestamp>> {
        let mut errors = FieldErrors::new();
        let start = from
            .trim()
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|local| local.to_zoned(self.calendar.zone.time_zone()).ok())
            .map(|zoned| Timestamp(zoned.timestamp().as_millisecond()));
        if start.is_none() {
            errors.add("from", "Give a start as 2026-12-04T16:00.");
        }
        let millis = hours
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|hours| hours.is_finite() && *hours > 0.0 && *hours <= 10_000.0)
            .map(|hours| (hours * 3_600_000.0).round() as i64);
        if millis.is_none() {
            errors.add("hours", "Give a number of hours from 0.1 to 10,000.");
        }
        errors.into_result()?;
        match (start, millis) {
            (Some(start), Some(millis)) => Ok(self.calendar.add_working_time(start, millis)),
            _ => Ok(None),
        }
    }
}

/// What the audit log keeps of a calendar.
#[derive(Debug, Serialize)]
struct AuditedCalendar<'a> {
    name: &'a str,
    time_zone: &'a str,
    weekly_hours: &'a str,
    holidays: &'a str,
}

fn audited(record: &CalendarRecord) -> AuditedCalendar<'_> {
    AuditedCalendar {
        name: &record.name,
        time_zone: &record.time_zone,
        weekly_hours: &record.weekly_hours,
        holidays: &record.holidays,
    }
}

/// A stored calendar read back; a row that no longer parses (it was
/// checked when written) is an internal error rather than a guess.
fn parsed(record: &CalendarRecord) -> AppResult<(BusinessCalendar, CalendarInput)> {
    let broken = |what: &str| AppError::Internal(format!("calendar {}: {what}", record.id));
    let zone = Zone::parse(&record.time_zone).map_err(|_| broken("time zone"))?;
    let days: Vec<String> =
        serde_json::from_str(&record.weekly_hours).map_err(|_| broken("weekly hours"))?;
    let days: [String; 7] = days.try_into().map_err(|_| broken("seven days"))?;
    let mut week: [DayHours; 7] = Default::default();
    for (hours, text) in week.iter_mut().zip(&days) {
        *hours = DayHours::parse(text).map_err(|_| broken("hours"))?;
    }
    let holidays = parse_holidays(&record.holidays).map_err(|_| broken("holidays"))?;
    let input = CalendarInput {
        name: record.name.clone(),
        time_zone: record.time_zone.clone(),
        days: std::array::from_fn(|index| week[index].to_string()),
        holidays: holidays_text(&holidays),
    };
    Ok((
        BusinessCalendar {
            zone,
            week,
            holidays,
        },
        input,
    ))
}

/// A calendar's fields checked, in their stored forms.
struct CheckedCalendar {
    name: String,
    zone: String,
    /// The seven days' hours as a JSON array.
    week: String,
    holidays: String,
}

impl CheckedCalendar {
    fn write(&self) -> CalendarWrite<'_> {
        CalendarWrite {
            name: &self.name,
            time_zone: &self.zone,
            weekly_hours: &self.week,
            holidays: &self.holidays,
        }
    }
}

/// The calendar's fields checked.
fn checked(input: &CalendarInput) -> AppResult<CheckedCalendar> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    if let Err(error) = ferrodesk_core::ItemName::parse(name, 100) {
        errors.add("name", error.to_string());
    }
    let zone = errors.check("time_zone", Zone::parse(&input.time_zone));
    let mut days = Vec::with_capacity(7);
    for (field, text) in DAY_FIELDS.iter().zip(&input.days) {
        if let Some(hours) = errors.check(field, DayHours::parse(text)) {
            days.push(hours);
        }
    }
    if days.len() == 7 && days.iter().all(DayHours::is_closed) {
        errors.add("monday", "Give at least one day some hours.");
    }
    let holidays = errors.check("holidays", parse_holidays(&input.holidays));
    errors.into_result()?;
    let (Some(zone), Some(holidays)) = (zone, holidays) else {
        return Err(AppError::Internal("a checked calendar lost a field".into()));
    };
    let week: Vec<String> = days.iter().map(DayHours::to_string).collect();
    let week =
        serde_json::to_string(&week).map_err(|error| AppError::Internal(error.to_string()))?;
    Ok(CheckedCalendar {
        name: name.to_owned(),
        zone: zone.name().to_owned(),
        week,
        holidays: holidays_text(&holidays),
    })
}

impl App {
    fn calendar_view(&self, record: CalendarRecord) -> AppResult<CalendarView> {
        let (calendar, input) = parsed(&record)?;
        let now = self.now();
        Ok(CalendarView {
            working_now: calendar.is_working(now),
            next_opening: calendar.next_opening(now),
            weekly_minutes: calendar.week.iter().map(DayHours::minutes).sum(),
            calendar,
            input,
            record,
        })
    }

    /// Every calendar (admins), by name.
    pub async fn business_calendars(&self, actor: &Actor) -> AppResult<Vec<CalendarView>> {
        actor.require_admin()?;
        self.store()
            .business_calendars()
            .list_calendars()
            .await?
            .into_iter()
            .map(|record| self.calendar_view(record))
            .collect()
    }

    /// One calendar (admins).
    pub async fn business_calendar(&self, actor: &Actor, id: i64) -> AppResult<CalendarView> {
        let record = self.stored_calendar(actor, id).await?;
        self.calendar_view(record)
    }

    /// A calendar's row, for admins.
    async fn stored_calendar(&self, actor: &Actor, id: i64) -> AppResult<CalendarRecord> {
        actor.require_admin()?;
        self.store()
            .business_calendars()
            .get_calendar(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// A calendar by id for the rules that measure time on it; `None` when
    /// it was deleted.
    pub async fn working_calendar(&self, id: i64) -> AppResult<Option<BusinessCalendar>> {
        match self.store().business_calendars().get_calendar(id).await? {
            Some(record) => Ok(Some(parsed(&record)?.0)),
            None => Ok(None),
        }
    }

    /// Adds a calendar (admins).
    pub async fn create_business_calendar(
        &self,
        caller: &Caller<'_>,
        input: &CalendarInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let checked = checked(input)?;
        let calendars = self.store().business_calendars();
        if calendars.name_taken(&checked.name, None).await? {
            return Err(AppError::invalid("name", "Another calendar has this name."));
        }
        if calendars.list_calendars().await?.len() >= MAX_CALENDARS {
            return Err(AppError::invalid(
                "name",
                format!("There are {MAX_CALENDARS} calendars already."),
            ));
        }
        let id = calendars
            .create_calendar(&checked.write(), self.now())
            .await
            .map_err(name_conflict)?;
        let after = self.stored_calendar(caller.actor, id).await?;
        let audit = Audit::new(caller, "business_calendar.created")
            .on("business_calendar", Some(id), &after.name)
            .change(&None, &Some(audited(&after)));
        self.audit(&audit).await?;
        Ok(id)
    }

    /// Changes a calendar (admins).
    pub async fn update_business_calendar(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &CalendarInput,
    ) -> AppResult<()> {
        let before = self.stored_calendar(caller.actor, id).await?;
        let checked = checked(input)?;
        let calendars = self.store().business_calendars();
        if calendars.name_taken(&checked.name, Some(id)).await? {
            return Err(AppError::invalid("name", "Another calendar has this name."));
        }
        if !calendars
            .update_calendar(id, &checked.write(), self.now())
            .await
            .map_err(name_conflict)?
        {
            return Err(AppError::NotFound);
        }
        let after = self.stored_calendar(caller.actor, id).await?;
        let audit = Audit::new(caller, "business_calendar.changed")
            .on("business_calendar", Some(id), &after.name)
            .change(&Some(audited(&before)), &Some(audited(&after)));
        self.audit(&audit).await
    }

    /// Deletes a calendar (admins).
    pub async fn delete_business_calendar(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let before = self.stored_calendar(caller.actor, id).await?;
        self.store()
            .business_calendars()
            .delete_calendar(id)
            .await?;
        let audit = Audit::new(caller, "business_calendar.deleted")
            .on("business_calendar", Some(id), &before.name)
            .change(&Some(audited(&before)), &None);
        self.audit(&audit).await
    }
}

/// Two admins naming calendars alike at once: the database's unique name.
fn name_conflict(error: ferrodesk_store::StoreError) -> AppError {
    match error {
        ferrodesk_store::StoreError::Conflict(_) => {
            AppError::invalid("name", "Another calendar has this name.")
        }
        other => other.into(),
    }
}
