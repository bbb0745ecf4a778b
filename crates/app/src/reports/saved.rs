//! Saved reports: a builder definition under a name, kept by the agent
//! who saved it, shared with teams (sharing takes "shared.manage", as for
//! views), marked as favourites per agent, exported as CSV (audited) and
//! mailed on a schedule. A saved report only names what to count: what it
//! counts is always what the agent reading it may see; a scheduled mail
//! is read as the agent who scheduled it.

use ferrodesk_core::Permission;
use ferrodesk_store::{ReportScheduleWrite, SavedReportRecord, SavedReportWrite};
use jiff::ToSpan;
use serde::{Deserialize, Serialize};

use super::builder::{BuiltReport, ReportInput};
use crate::audit::{Audit, Caller};
use crate::jobs::{JobFailure, JobResult};
use crate::markdown::escape_html;
use crate::tickets::AgentContext;
use crate::{Actor, App, AppError, AppResult};

/// The most reports one agent keeps.
const MAX_REPORTS: i64 = 200;
/// Scheduled reports queued per scheduler pass.
const SCHEDULE_BATCH: i64 = 50;
/// The local hour scheduled reports are mailed at.
const MAIL_HOUR: i8 = 7;
/// Agents one schedule mails at most.
const MAX_RECIPIENTS: usize = 50;

/// How often a report is mailed: (key, words).
pub const SCHEDULES: [(&str, &str); 3] = [
    ("", "Not mailed"),
    ("weekly", "Every Monday"),
    ("monthly", "On the 1st of each month"),
];

/// A saved report as an agent sees it in lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedReport {
    pub id: i64,
    pub name: String,
    pub definition: ReportInput,
    pub team_ids: Vec<i64>,
    pub favourite: bool,
    /// Whether this agent may change, share, schedule or delete it.
    pub may_edit: bool,
    pub schedule: String,
    pub recipient_ids: Vec<i64>,
    /// When it is next mailed.
    pub next_run_at: Option<i64>,
}

impl SavedReport {
    pub fn schedule_words(&self) -> &'static str {
        SCHEDULES
            .iter()
            .find(|(key, _)| *key == self.schedule)
            .map_or("", |(_, words)| *words)
    }
}

/// A report's name and sharing as a form sends them.
#[derive(Debug, Clone, Default)]
pub struct SavedReportInput {
    pub name: String,
    pub definition: ReportInput,
    pub team_ids: Vec<i64>,
}

/// A schedule as a form sends it.
#[derive(Debug, Clone, Default)]
pub struct ReportScheduleInput {
    /// A key of `SCHEDULES`.
    pub schedule: String,
    pub recipient_ids: Vec<i64>,
}

/// The mailing job's payload.
#[derive(Debug, Serialize, Deserialize)]
struct ReportMailJob {
    report_id: i64,
}

fn ids_of(json: &str) -> Vec<i64> {
    serde_json::from_str(json).unwrap_or_default()
}

fn ids_json(ids: &[i64]) -> AppResult<String> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    serde_json::to_string(&ids).map_err(|error| AppError::Internal(error.to_string()))
}

fn report_of(context: &AgentContext, record: &SavedReportRecord) -> Option<SavedReport> {
    let team_ids = ids_of(&record.team_ids);
    let own = record.owner_id == context.agent_id;
    if !own && !team_ids.iter().any(|team| context.team_ids.contains(team)) {
        return None;
    }
    Some(SavedReport {
        id: record.id,
        name: record.name.clone(),
        definition: ReportInput::from_query_string(&record.definition),
        team_ids,
        favourite: record.favourite,
        may_edit: own || context.effective.has(Permission::SharedManage),
        schedule: record.schedule.clone(),
        recipient_ids: ids_of(&record.recipient_ids),
        next_run_at: record.next_run_at,
    })
}

fn checked_name(name: &str) -> AppResult<String> {
    ferrodesk_core::ItemName::parse(name, 100)
        .map(ferrodesk_core::ItemName::into_string)
        .map_err(|error| AppError::invalid("name", error.to_string()))
}

/// When a schedule next falls due after `now`, at `MAIL_HOUR` on the
/// reader's calendar: the next Monday, or the next 1st of a month.
pub(crate) fn next_run(
    schedule: &str,
    now: i64,
    zone: &jiff::tz::TimeZone,
) -> AppResult<Option<i64>> {
    let internal = |error: jiff::Error| AppError::Internal(error.to_string());
    let today = jiff::Timestamp::from_millisecond(now)
        .map_err(internal)?
        .to_zoned(zone.clone())
        .date();
    let mut day = match schedule {
        "weekly" => {
            let into_week = i64::from(today.weekday().to_monday_zero_offset());
            today
                .checked_add((7 - into_week).days())
                .map_err(internal)?
        }
        "monthly" => today
            .first_of_month()
            .checked_add(1.month())
            .map_err(internal)?,
        _ => return Ok(None),
    };
    // Today's run, when it is still ahead.
    if (schedule == "weekly" && today.weekday() == jiff::civil::Weekday::Monday)
        || (schedule == "monthly" && today.day() == 1)
    {
        day = today;
    }
    loop {
        let at = day
            .at(MAIL_HOUR, 0, 0, 0)
            .to_zoned(zone.clone())
            .map_err(internal)?
            .timestamp()
            .as_millisecond();
        if at > now {
            return Ok(Some(at));
        }
        day = match schedule {
            "weekly" => day.checked_add(7.days()).map_err(internal)?,
            _ => day.checked_add(1.month()).map_err(internal)?,
        };
    }
}

impl App {
    /// The reports the agent may open: their own and those shared with
    /// one of their teams, favourites first.
    pub async fn saved_reports(&self, actor: &Actor) -> AppResult<Vec<SavedReport>> {
        let context = self.agent_context(actor).await?;
        context.require(Permission::ReportsView)?;
        Ok(self
            .store()
            .saved_reports()
            .reports_for(context.agent_id)
            .await?
            .iter()
            .filter_map(|record| report_of(&context, record))
            .collect())
    }

    /// One report the agent may open.
    pub async fn saved_report(&self, actor: &Actor, id: i64) -> AppResult<SavedReport> {
        let context = self.agent_context(actor).await?;
        context.require(Permission::ReportsView)?;
        self.store()
            .saved_reports()
            .get_report(context.agent_id, id)
            .await?
            .and_then(|record| report_of(&context, &record))
            .ok_or(AppError::NotFound)
    }

    /// One saved report, read for the agent.
    pub async fn run_saved_report(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<(SavedReport, BuiltReport)> {
        let saved = self.saved_report(actor, id).await?;
        let built = self.build_report(actor, &saved.definition).await?;
        Ok((saved, built))
    }

    /// A saved report for a CSV download (audited).
    pub async fn export_saved_report(
        &self,
        caller: &Caller<'_>,
        id: i64,
    ) -> AppResult<(SavedReport, BuiltReport)> {
        let (saved, built) = self.run_saved_report(caller.actor, id).await?;
        self.audit(
            &Audit::new(caller, "report.exported")
                .on("report", Some(saved.id), &saved.name)
                .after(&serde_json::json!({
                    "period": [built.input.from, built.input.to],
                    "rows": built.rows.len(),
                })),
        )
        .await?;
        Ok((saved, built))
    }

    /// The builder's report for a CSV download (audited).
    pub async fn export_built_report(
        &self,
        caller: &Caller<'_>,
        input: &ReportInput,
    ) -> AppResult<BuiltReport> {
        let built = self.build_report(caller.actor, input).await?;
        self.audit(
            &Audit::new(caller, "report.exported")
                .on("report", None, &built.measure_words)
                .after(&serde_json::json!({
                    "definition": built.input.query_string(),
                    "rows": built.rows.len(),
                })),
        )
        .await?;
        Ok(built)
    }

    pub async fn create_saved_report(
        &self,
        caller: &Caller<'_>,
        input: &SavedReportInput,
    ) -> AppResult<i64> {
        let context = self.agent_context(caller.actor).await?;
        context.require(Permission::ReportsView)?;
        let name = checked_name(&input.name)?;
        // A definition that cannot be read is not saved.
        self.build_report(caller.actor, &input.definition).await?;
        self.check_share_teams(&context, &input.team_ids).await?;
        if self
            .store()
            .saved_reports()
            .count_own(context.agent_id)
            .await?
            >= MAX_REPORTS
        {
            return Err(AppError::invalid(
                "name",
                format!("You have {MAX_REPORTS} reports already; delete some first."),
            ));
        }
        let definition = input.definition.query_string();
        let teams = ids_json(&input.team_ids)?;
        let id = self
            .store()
            .saved_reports()
            .create_report(
                context.agent_id,
                &SavedReportWrite {
                    name: &name,
                    definition: &definition,
                    team_ids: &teams,
                },
                self.now(),
            )
            .await?;
        self.audit(
            &Audit::new(caller, "report.saved")
                .on("report", Some(id), &name)
                .after(&serde_json::json!({ "definition": definition, "teams": input.team_ids })),
        )
        .await?;
        Ok(id)
    }

    pub async fn update_saved_report(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &SavedReportInput,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_report(&context, id).await?;
        let name = checked_name(&input.name)?;
        self.build_report(caller.actor, &input.definition).await?;
        if current.team_ids != input.team_ids {
            self.check_share_teams(&context, &input.team_ids).await?;
        }
        let definition = input.definition.query_string();
        let teams = ids_json(&input.team_ids)?;
        self.store()
            .saved_reports()
            .update_report(
                id,
                &SavedReportWrite {
                    name: &name,
                    definition: &definition,
                    team_ids: &teams,
                },
                self.now(),
            )
            .await?;
        self.audit(
            &Audit::new(caller, "report.saved")
                .on("report", Some(id), &name)
                .after(&serde_json::json!({ "definition": definition, "teams": input.team_ids })),
        )
        .await?;
        Ok(())
    }

    pub async fn delete_saved_report(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_report(&context, id).await?;
        self.store().saved_reports().delete_report(id).await?;
        self.audit(&Audit::new(caller, "report.deleted").on("report", Some(id), &current.name))
            .await?;
        Ok(())
    }

    /// Marks a report the agent may open as a favourite, or not.
    pub async fn favourite_report(&self, actor: &Actor, id: i64, favourite: bool) -> AppResult<()> {
        let saved = self.saved_report(actor, id).await?;
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        self.store()
            .saved_reports()
            .set_favourite(agent.person_id, saved.id, favourite)
            .await?;
        Ok(())
    }

    /// Mails a report weekly or monthly to chosen agents, read as the
    /// agent scheduling it; an empty schedule stops it.
    pub async fn schedule_report(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &ReportScheduleInput,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_report(&context, id).await?;
        let schedule = SCHEDULES
            .iter()
            .map(|(key, _)| *key)
            .find(|key| *key == input.schedule.trim())
            .ok_or_else(|| AppError::invalid("schedule", "Choose how often to mail it."))?;
        let mut recipients = input.recipient_ids.clone();
        recipients.sort_unstable();
        recipients.dedup();
        if !schedule.is_empty() {
            if recipients.is_empty() {
                return Err(AppError::invalid(
                    "recipients",
                    "Choose at least one agent to mail it to.",
                ));
            }
            if recipients.len() > MAX_RECIPIENTS {
                return Err(AppError::invalid(
                    "recipients",
                    format!("Mail it to {MAX_RECIPIENTS} agents at most."),
                ));
            }
            let agents = self.store().people().list_agents().await?;
            if recipients.iter().any(|id| {
                !agents
                    .iter()
                    .any(|agent| agent.id == *id && !agent.is_disabled)
            }) {
                return Err(AppError::invalid(
                    "recipients",
                    "Reports are mailed to active agents only.",
                ));
            }
        } else {
            recipients.clear();
        }
        let (zone, _) = self.zone_of(caller.actor).await?;
        let next_run_at = next_run(schedule, self.now().millis(), &zone.time_zone())?;
        let recipient_ids = ids_json(&recipients)?;
        self.store()
            .saved_reports()
            .set_schedule(
                id,
                &ReportScheduleWrite {
                    schedule,
                    recipient_ids: &recipient_ids,
                    scheduled_by: (!schedule.is_empty()).then_some(context.agent_id),
                    next_run_at,
                },
                self.now(),
            )
            .await?;
        self.audit(
            &Audit::new(caller, "report.scheduled")
                .on("report", Some(id), &current.name)
                .after(&serde_json::json!({ "schedule": schedule, "recipients": recipients })),
        )
        .await?;
        Ok(())
    }

    async fn editable_report(&self, context: &AgentContext, id: i64) -> AppResult<SavedReport> {
        context.require(Permission::ReportsView)?;
        let report = self
            .store()
            .saved_reports()
            .get_report(context.agent_id, id)
            .await?
            .and_then(|record| report_of(context, &record))
            .ok_or(AppError::NotFound)?;
        if !report.may_edit {
            return Err(AppError::Forbidden);
        }
        Ok(report)
    }

    /// Queues the mail of every scheduled report that is due, each run
    /// once however many nodes look; answers how many.
    pub async fn queue_due_reports(&self) -> AppResult<usize> {
        let now = self.now();
        let due = self
            .store()
            .saved_reports()
            .due_reports(now, SCHEDULE_BATCH)
            .await?;
        let mut queued = 0;
        for record in due {
            let Some(due_at) = record.next_run_at else {
                continue;
            };
            let zone = match record.scheduled_by {
                Some(person_id) => self.zone_of_person(person_id).await?,
                None => self.default_zone().await?,
            };
            let next_at = next_run(
                &record.schedule,
                now.millis().max(due_at),
                &zone.time_zone(),
            )?
            .unwrap_or(i64::MAX);
            let payload = serde_json::to_string(&ReportMailJob {
                report_id: record.id,
            })
            .map_err(|error| AppError::Internal(error.to_string()))?;
            if self
                .store()
                .saved_reports()
                .claim_run(record.id, (due_at, next_at), &payload, now)
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// The job that mails one scheduled report: read as the agent who
    /// scheduled it (nothing is mailed once they may no longer read
    /// reports), to each recipient still an active agent.
    pub(crate) async fn report_mail_job(&self, payload: &str) -> JobResult {
        let job: ReportMailJob = serde_json::from_str(payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {payload}")))?;
        let Some(record) = self
            .store()
            .saved_reports()
            .get_report(0, job.report_id)
            .await?
        else {
            return Ok(());
        };
        let Some(scheduler) = match record.scheduled_by {
            Some(id) => self.store().people().get_person(id).await?,
            None => None,
        }
        .filter(|person| person.is_agent && !person.is_disabled) else {
            return Ok(());
        };
        let mut actor = crate::sessions::actor_of_agent(&scheduler);
        if let Actor::Agent(signed_in) = &mut actor {
            signed_in.time_zone = self.store().people().time_zone(scheduler.id).await?;
        }
        let context = self.agent_context(&actor).await?;
        let Some(saved) = report_of(&context, &record) else {
            return Ok(());
        };
        let built = match self.build_report(&actor, &saved.definition).await {
            Ok(built) => built,
            Err(AppError::Forbidden) => return Ok(()),
            Err(AppError::Invalid(errors)) => {
                tracing::warn!(
                    report = record.id,
                    ?errors,
                    "a scheduled report no longer reads"
                );
                return Ok(());
            }
            Err(other) => return Err(other.into()),
        };
        let link = format!("{}/agent/reports/{}", self.public_url(), record.id);
        let (text, html) = report_mail_body(&saved, &built, &scheduler.name, &link);
        let subject = format!("Report: {} ({})", saved.name, built.period_words);
        let mut mails = Vec::new();
        for recipient_id in &saved.recipient_ids {
            let Some(recipient) = self.store().people().get_person(*recipient_id).await? else {
                continue;
            };
            if !recipient.is_agent || recipient.is_disabled {
                continue;
            }
            mails.push(self.rule_mail(
                &recipient.name,
                &recipient.email,
                &subject,
                &text,
                &html,
            )?);
        }
        let new: Vec<_> = mails.iter().map(|mail| mail.as_new()).collect();
        self.store().outbox().queue_mails(&new, self.now()).await?;
        self.wake_workers();
        Ok(())
    }
}

/// A scheduled report's mail: its figures as a table, in text and HTML.
fn report_mail_body(
    saved: &SavedReport,
    built: &BuiltReport,
    scheduled_by: &str,
    link: &str,
) -> (String, String) {
    let mut headings: Vec<String> = Vec::new();
    headings.extend(built.first_heading.clone());
    headings.extend(built.second_heading.clone());
    headings.push(built.measure_words.clone());
    let rows: Vec<Vec<String>> = built
        .rows
        .iter()
        .map(|row| {
            let mut cells = Vec::new();
            if built.first_heading.is_some() {
                cells.push(row.first.clone());
            }
            if built.second_heading.is_some() {
                cells.push(row.second.clone());
            }
            cells.push(row.shown.clone());
            cells
        })
        .collect();
    let intro = format!(
        "{}: {}, {}. Counted as {scheduled_by} sees it.",
        saved.name, built.dataset_words, built.period_words
    );
    let mut text = format!("{intro}\n\n{}\n", headings.join(" | "));
    for cells in &rows {
        text.push_str(&cells.join(" | "));
        text.push('\n');
    }
    text.push_str(&format!("\nOpen the report: {link}\n"));
    let mut html = format!(
        "<p>{}</p><table cellpadding=\"4\" style=\"border-collapse:collapse\"><thead><tr>",
        escape_html(&intro)
    );
    for heading in &headings {
        html.push_str(&format!(
            "<th style=\"text-align:left;border-bottom:1px solid #999\">{}</th>",
            escape_html(heading)
        ));
    }
    html.push_str("</tr></thead><tbody>");
    for cells in &rows {
        html.push_str("<tr>");
        for cell in cells {
            html.push_str(&format!("<td>{}</td>", escape_html(cell)));
        }
        html.push_str("</tr>");
    }
    html.push_str(&format!(
        "</tbody></table><p><a href=\"{}\">Open the report</a></p>",
        escape_html(link)
    ));
    (text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn schedules_fall_on_mondays_and_first_days_at_seven() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // Friday Dec 4, 2026, noon in Berlin.
        let now = at("2026-12-04T11:00:00Z");
        assert_eq!(
            next_run("weekly", now, &berlin).unwrap(),
            Some(at("2026-12-07T06:00:00Z"))
        );
        assert_eq!(
            next_run("monthly", now, &berlin).unwrap(),
            Some(at("2027-01-01T06:00:00Z"))
        );
        // Monday before seven: today; after: next week.
        assert_eq!(
            next_run("weekly", at("2026-12-07T05:00:00Z"), &berlin).unwrap(),
            Some(at("2026-12-07T06:00:00Z"))
        );
        assert_eq!(
            next_run("weekly", at("2026-12-07T06:00:00Z"), &berlin).unwrap(),
            Some(at("2026-12-14T06:00:00Z"))
        );
        assert_eq!(next_run("", now, &berlin).unwrap(), None);
    }
}
