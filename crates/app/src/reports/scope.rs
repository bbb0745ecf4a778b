//! What every ticket report is read for: the reader's period on their own
//! calendar, and the department (with those below it), team and
//! business-hours calendar chosen from those the reader may pick. A
//! choice the reader may not make (a department they cannot see, a team
//! or calendar that does not exist) is dropped, never widened.

use ferrodesk_core::BusinessCalendar;

use super::period::Period;
use crate::tickets::AgentContext;
use crate::{Actor, App, AppError, AppResult};

/// The choices a report form offers and those made.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScopeChoices {
    /// The departments the reader may see, with their paths.
    pub departments: Vec<(i64, String)>,
    pub teams: Vec<(i64, String)>,
    pub calendars: Vec<(i64, String)>,
    pub department_id: Option<i64>,
    pub team_id: Option<i64>,
    pub calendar_id: Option<i64>,
    /// The chosen department and every one below it; empty: all.
    pub department_ids: Vec<i64>,
    pub calendar: Option<BusinessCalendar>,
    /// "working time (Tokyo office)" or "wall-clock time".
    pub time_basis: String,
}

fn id_of(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

impl App {
    /// The reader's period: `key` one of `PERIODS`, `from` and `to` for a
    /// custom one, on the reader's calendar.
    pub(crate) async fn report_period(
        &self,
        actor: &Actor,
        (key, from, to): (&str, &str, &str),
    ) -> AppResult<Period> {
        let (zone, _) = self.zone_of(actor).await?;
        let today = jiff::Timestamp::from_millisecond(self.now().millis())
            .map_err(|error| AppError::Internal(error.to_string()))?
            .to_zoned(zone.time_zone());
        Period::parse(key, from, to, &today)
    }

    /// The form's department, team and calendar, as typed, checked
    /// against what the reader may choose.
    pub(crate) async fn report_choices(
        &self,
        context: &AgentContext,
        (department, team, calendar): (&str, &str, &str),
    ) -> AppResult<ScopeChoices> {
        let directory = self.shared_directory().await?;
        let tree = crate::departments::department_tree(&directory.departments);
        let departments: Vec<(i64, String)> = tree
            .iter()
            .filter(|node| context.effective.department_access(node.id).is_some())
            .map(|node| (node.id, node.path.clone()))
            .collect();
        let department_id =
            id_of(department).filter(|id| departments.iter().any(|(known, _)| known == id));
        let teams: Vec<(i64, String)> = directory
            .teams
            .iter()
            .map(|team| (team.id, team.name.clone()))
            .collect();
        let team_id = id_of(team).filter(|id| teams.iter().any(|(known, _)| known == id));
        let calendars: Vec<(i64, String)> = self
            .store()
            .business_calendars()
            .list_calendars()
            .await?
            .into_iter()
            .map(|record| (record.id, record.name))
            .collect();
        let calendar_id =
            id_of(calendar).filter(|id| calendars.iter().any(|(known, _)| known == id));
        let calendar = match calendar_id {
            Some(id) => self.working_calendar(id).await?,
            None => None,
        };
        let time_basis = match calendar_id.and_then(|id| calendars.iter().find(|(c, _)| *c == id)) {
            Some((_, name)) if calendar.is_some() => format!("working time ({name})"),
            _ => "wall-clock time".to_owned(),
        };
        let department_ids: Vec<i64> = match department_id {
            Some(chosen) => {
                let mut ids = vec![chosen];
                let mut index = 0;
                while index < ids.len() {
                    let parent = ids[index];
                    ids.extend(
                        directory
                            .departments
                            .iter()
                            .filter(|department| department.parent_id == Some(parent))
                            .map(|department| department.id),
                    );
                    index += 1;
                }
                ids
            }
            None => Vec::new(),
        };
        Ok(ScopeChoices {
            departments,
            teams,
            calendars,
            department_id,
            team_id,
            calendar_id,
            department_ids,
            calendar,
            time_basis,
        })
    }
}
