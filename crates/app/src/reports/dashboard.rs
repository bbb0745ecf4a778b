//! The dashboard (`/agent/reports`): one period against the one before,
//! for a department (and its sub-departments) and a team or all the
//! reader may see. Every figure is made from rows the store reads through
//! the reader's own visibility, so nobody counts a ticket they could not
//! open; times are in working time when a business-hours calendar is
//! chosen.

use std::collections::HashMap;

use ferrodesk_core::{BusinessCalendar, Permission, Timestamp};
use ferrodesk_store::{DashboardRows, DashboardWindow, ReportScope};

use super::figures::{Change, Spread, change, duration_words, quoted};
use super::period::{Bucket, PERIODS};
use super::scope::ScopeChoices;
use crate::{Actor, App, AppResult};

/// What the dashboard's form asks for, as typed.
#[derive(Debug, Clone, Default)]
pub struct DashboardInput {
    /// A key of `PERIODS`.
    pub period: String,
    /// `custom` only: `2026-11-01`.
    pub from: String,
    pub to: String,
    /// A department's id, or empty for all.
    pub department: String,
    /// A team's id, or empty for all.
    pub team: String,
    /// A business-hours calendar's id, or empty for wall-clock time.
    pub calendar: String,
}

/// One headline figure with the period before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    pub previous: String,
    pub change: Change,
    /// The tickets behind it, as a search.
    pub link: Option<String>,
}

/// One bar of a "tickets by …" chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub link: Option<String>,
}

/// First responses of one team's tickets opened in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamResponse {
    pub team: String,
    /// Tickets answered at all.
    pub answered: usize,
    pub median: String,
    pub p90: String,
    pub link: Option<String>,
}

/// An SLA target's outcomes in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaOutcome {
    pub label: &'static str,
    pub met: i64,
    pub missed: i64,
}

/// The dashboard as the page shows it.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub period_key: String,
    pub period_words: String,
    pub from: String,
    pub to: String,
    pub department_id: Option<i64>,
    pub team_id: Option<i64>,
    pub calendar_id: Option<i64>,
    /// What the form offers.
    pub periods: Vec<(&'static str, &'static str)>,
    pub departments: Vec<(i64, String)>,
    pub teams: Vec<(i64, String)>,
    pub calendars: Vec<(i64, String)>,
    /// "working time (Tokyo office)" or "wall-clock time".
    pub time_basis: String,
    pub tiles: Vec<Tile>,
    /// Chart buckets (days or weeks) and the series drawn over them.
    pub buckets: Vec<String>,
    pub created: Vec<i64>,
    pub resolved: Vec<i64>,
    /// Open tickets at the end of each bucket.
    pub backlog: Vec<i64>,
    pub by_channel: Vec<Bar>,
    pub by_department: Vec<Bar>,
    pub by_agent: Vec<Bar>,
    pub by_team: Vec<Bar>,
    pub by_label: Vec<Bar>,
    /// First response per team (in the period's time basis), most
    /// answered first.
    pub first_response_by_team: Vec<TeamResponse>,
    /// Tickets opened by weekday (Monday first) and hour.
    pub heat: Vec<Vec<i64>>,
    /// `None` when no SLA target fell due in the period.
    pub sla: Option<Vec<SlaOutcome>>,
}

/// Where the tiles lead: the search for the period's openings (with
/// more words), and those for its resolutions and reopenings.
struct TileLinks<'a> {
    opened: &'a dyn Fn(&str) -> String,
    resolved: &'a str,
    reopened: &'a str,
}

/// Bars shown per "tickets by …" chart.
const TOP_BARS: usize = 12;

/// How long from `from` to `to`, in the calendar's working time or plain.
pub(super) fn elapsed(calendar: Option<&BusinessCalendar>, from: i64, to: i64) -> i64 {
    match calendar {
        Some(calendar) => calendar.working_time_between(Timestamp(from), Timestamp(to)),
        None => to - from,
    }
}

/// Counts of times per bucket.
fn per_bucket(buckets: &[Bucket], times: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut counts = vec![0; buckets.len()];
    for at in times {
        // Buckets follow one another: the first that ends after `at`.
        let index = buckets.partition_point(|bucket| bucket.end <= at);
        if let Some(bucket) = buckets.get(index)
            && at >= bucket.start
        {
            counts[index] += 1;
        }
    }
    counts
}

/// The channel's name as people know it.
pub(super) fn channel_words(key: &str) -> String {
    match key {
        "web" => "Help center",
        "email" => "Email",
        "api" => "API",
        "agent" => "Agent interface",
        "chat" => "Chat",
        "" => "Unknown",
        other => other,
    }
    .to_owned()
}

impl App {
    /// The dashboard for agents with the reports permission.
    pub async fn dashboard(&self, actor: &Actor, input: &DashboardInput) -> AppResult<Dashboard> {
        let context = self.agent_context(actor).await?;
        context.require(Permission::ReportsView)?;
        let period = self
            .report_period(actor, (&input.period, &input.from, &input.to))
            .await?;
        let previous = period.previous()?;
        let (from, until) = period.bounds()?;
        let (previous_from, _) = previous.bounds()?;
        let directory = self.shared_directory().await?;
        let ScopeChoices {
            departments,
            teams,
            calendars,
            department_id,
            team_id,
            calendar_id,
            department_ids,
            calendar,
            time_basis,
        } = self
            .report_choices(&context, (&input.department, &input.team, &input.calendar))
            .await?;
        let scope = ReportScope {
            visibility: context.visibility(),
            department_ids,
            team_id,
            search: None,
        };
        let window = DashboardWindow {
            previous_from,
            from,
            until,
        };
        let started = std::time::Instant::now();
        let rows = self
            .store()
            .tickets()
            .dashboard_rows(&scope, window, self.now().millis())
            .await?;
        tracing::debug!(
            millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            days = period.days(),
            "dashboard read"
        );

        // The search that finds the period's tickets in this scope.
        let mut scope_words = Vec::new();
        if let Some(id) = department_id
            && let Some(department) = directory.departments.iter().find(|d| d.id == id)
        {
            scope_words.push(format!("department:{}", quoted(&department.name)));
        }
        if let Some((_, name)) = team_id.and_then(|id| teams.iter().find(|(t, _)| *t == id)) {
            scope_words.push(format!("team:{}", quoted(name)));
        }
        let search_on = |key: &str, extra: &str| {
            let mut words = vec![
                format!("{key}:>={}", period.first),
                format!("{key}:<={}", period.last),
            ];
            words.extend(scope_words.iter().cloned());
            if !extra.is_empty() {
                words.push(extra.to_owned());
            }
            format!(
                "/agent/search?q={}",
                url::form_urlencoded::byte_serialize(words.join(" ").as_bytes())
                    .collect::<String>()
            )
        };
        let search = |extra: &str| search_on("created", extra);
        let resolved_search = search_on("resolved", "");
        let reopened_search = search_on("reopened", "");

        let buckets = period.buckets()?;
        let tiles = self.dashboard_tiles(
            &rows,
            window,
            calendar.as_ref(),
            TileLinks {
                opened: &search,
                resolved: &resolved_search,
                reopened: &reopened_search,
            },
        );
        let current: Vec<&ferrodesk_store::OpenedTicket> = rows
            .opened
            .iter()
            .filter(|ticket| ticket.created_at >= from)
            .collect();
        let created = per_bucket(&buckets, current.iter().map(|ticket| ticket.created_at));
        let resolved = per_bucket(
            &buckets,
            rows.resolved
                .iter()
                .map(|(_, resolved)| *resolved)
                .filter(|at| *at >= from),
        );
        let mut backlog_changes = rows.backlog_changes.clone();
        backlog_changes.extend(current.iter().map(|ticket| (ticket.created_at, 1)));
        let backlog = backlog_at(
            &buckets,
            rows.open_now,
            &backlog_changes,
            self.now().millis(),
        );
        let tally = |key: &dyn Fn(&ferrodesk_store::OpenedTicket) -> String| {
            let mut counts: HashMap<String, i64> = HashMap::new();
            for ticket in &current {
                *counts.entry(key(ticket)).or_default() += 1;
            }
            counts
        };
        let id_tally = |key: &dyn Fn(&ferrodesk_store::OpenedTicket) -> Option<i64>| {
            let mut counts: HashMap<Option<i64>, i64> = HashMap::new();
            for ticket in &current {
                *counts.entry(key(ticket)).or_default() += 1;
            }
            counts
        };

        let agent_names: HashMap<i64, &str> = directory
            .agents
            .iter()
            .map(|agent| (agent.id, agent.name.as_str()))
            .collect();
        let department_names: HashMap<i64, &str> = departments
            .iter()
            .map(|(id, path)| (*id, path.as_str()))
            .collect();
        let mut by_channel: Vec<Bar> = tally(&|ticket| ticket.channel.clone())
            .iter()
            .map(|(channel, count)| Bar {
                label: channel_words(channel),
                value: *count,
                link: (!channel.is_empty()).then(|| search(&format!("channel:{channel}"))),
            })
            .collect();
        let mut by_department: Vec<Bar> = id_tally(&|ticket| Some(ticket.department_id))
            .iter()
            .filter_map(|(id, count)| Some((id.as_ref()?, count)))
            .map(|(id, count)| {
                let name = department_names
                    .get(id)
                    .copied()
                    .unwrap_or("Another department");
                let leaf = directory
                    .departments
                    .iter()
                    .find(|department| department.id == *id)
                    .map_or(name, |department| department.name.as_str());
                Bar {
                    label: name.to_owned(),
                    value: *count,
                    link: Some(search(&format!("department:{}", quoted(leaf)))),
                }
            })
            .collect();
        let mut by_agent: Vec<Bar> = id_tally(&|ticket| ticket.agent_id)
            .iter()
            .map(|(id, count)| match id {
                Some(id) => {
                    let name = agent_names.get(id).copied().unwrap_or("A former agent");
                    Bar {
                        label: name.to_owned(),
                        value: *count,
                        link: agent_names
                            .get(id)
                            .map(|name| search(&format!("agent:{}", quoted(name)))),
                    }
                }
                None => Bar {
                    label: "Unassigned".to_owned(),
                    value: *count,
                    link: Some(search("agent:none")),
                },
            })
            .collect();
        let mut by_team: Vec<Bar> = id_tally(&|ticket| ticket.team_id)
            .iter()
            .filter_map(|(id, count)| {
                let (_, name) = teams.iter().find(|(team, _)| Some(*team) == *id)?;
                Some(Bar {
                    label: name.clone(),
                    value: *count,
                    link: Some(search(&format!("team:{}", quoted(name)))),
                })
            })
            .collect();
        let by_label: Vec<Bar> = rows
            .by_label
            .iter()
            .map(|(label, count)| Bar {
                label: label.clone(),
                value: *count,
                link: Some(search(&format!("label:{label}"))),
            })
            .collect();
        for bars in [
            &mut by_channel,
            &mut by_department,
            &mut by_agent,
            &mut by_team,
        ] {
            bars.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
            bars.truncate(TOP_BARS);
        }

        let mut replies_by_team: HashMap<Option<i64>, Vec<i64>> = HashMap::new();
        for ticket in &current {
            if let Some(replied) = ticket.first_agent_reply_at {
                replies_by_team
                    .entry(ticket.team_id)
                    .or_default()
                    .push(elapsed(calendar.as_ref(), ticket.created_at, replied));
            }
        }
        let mut first_response_by_team: Vec<TeamResponse> = replies_by_team
            .into_iter()
            .map(|(team_id, durations)| {
                let spread = Spread::of(durations);
                let name = team_id.and_then(|id| teams.iter().find(|(team, _)| *team == id));
                TeamResponse {
                    team: name.map_or_else(|| "No team".to_owned(), |(_, name)| name.clone()),
                    answered: spread.count,
                    median: spread.median.map_or_else(String::new, duration_words),
                    p90: spread.p90.map_or_else(String::new, duration_words),
                    link: name.map(|(_, name)| search(&format!("team:{}", quoted(name)))),
                }
            })
            .collect();
        first_response_by_team.sort_by(|a, b| {
            b.answered
                .cmp(&a.answered)
                .then_with(|| a.team.cmp(&b.team))
        });

        let mut heat = vec![vec![0_i64; 24]; 7];
        for ticket in &current {
            if let Some((weekday, hour)) = period.weekday_and_hour(ticket.created_at) {
                heat[weekday][hour] += 1;
            }
        }

        Ok(Dashboard {
            period_key: period.key.clone(),
            period_words: period.words(),
            from: period.first.to_string(),
            to: period.last.to_string(),
            department_id,
            team_id,
            calendar_id,
            periods: PERIODS.to_vec(),
            departments,
            teams,
            calendars,
            time_basis,
            tiles,
            buckets: buckets.into_iter().map(|bucket| bucket.label).collect(),
            created,
            resolved,
            backlog,
            by_channel,
            by_department,
            by_agent,
            by_team,
            by_label,
            first_response_by_team,
            heat,
            sla: sla_outcomes(&rows, self.now().millis()),
        })
    }

    /// The headline figures, each against the period before.
    fn dashboard_tiles(
        &self,
        rows: &DashboardRows,
        window: DashboardWindow,
        calendar: Option<&BusinessCalendar>,
        links: TileLinks<'_>,
    ) -> Vec<Tile> {
        let TileLinks {
            opened: search,
            resolved: resolved_search,
            reopened: reopened_search,
        } = links;
        let in_period = |at: i64| at >= window.from && at < window.until;
        let before = |at: i64| at >= window.previous_from && at < window.from;
        let count = |now: usize, then: usize| {
            let (now, then) = (
                i64::try_from(now).unwrap_or(i64::MAX),
                i64::try_from(then).unwrap_or(i64::MAX),
            );
            (
                now.to_string(),
                then.to_string(),
                change(Some(now), Some(then), false),
            )
        };
        let opened_now = rows
            .opened
            .iter()
            .filter(|ticket| in_period(ticket.created_at))
            .count();
        let opened_before = rows
            .opened
            .iter()
            .filter(|ticket| before(ticket.created_at))
            .count();
        let resolved_now = rows
            .resolved
            .iter()
            .filter(|(_, at)| in_period(*at))
            .count();
        let resolved_before = rows.resolved.iter().filter(|(_, at)| before(*at)).count();
        let reopened_now = rows.reopened.iter().filter(|at| in_period(**at)).count();
        let reopened_before = rows.reopened.iter().filter(|at| before(**at)).count();
        let first_response = |keep: &dyn Fn(i64) -> bool| {
            Spread::of(
                rows.opened
                    .iter()
                    .filter(|ticket| keep(ticket.created_at))
                    .filter_map(|ticket| {
                        ticket
                            .first_agent_reply_at
                            .map(|at| elapsed(calendar, ticket.created_at, at))
                    })
                    .collect(),
            )
        };
        let resolution = |keep: &dyn Fn(i64) -> bool| {
            Spread::of(
                rows.resolved
                    .iter()
                    .filter(|(_, resolved)| keep(*resolved))
                    .map(|(opened, resolved)| elapsed(calendar, *opened, *resolved))
                    .collect(),
            )
        };
        let (response_now, response_before) = (first_response(&in_period), first_response(&before));
        let (resolution_now, resolution_before) = (resolution(&in_period), resolution(&before));
        let time = |value: Option<i64>| value.map_or_else(|| "—".to_owned(), duration_words);
        let mut tiles = Vec::new();
        let mut push = |key, label, (value, previous, change): (String, String, Change), link| {
            tiles.push(Tile {
                key,
                label,
                value,
                previous,
                change,
                link,
            });
        };
        push(
            "created",
            "Tickets opened",
            count(opened_now, opened_before),
            Some(search("")),
        );
        push(
            "resolved",
            "Tickets resolved",
            count(resolved_now, resolved_before),
            Some(resolved_search.to_owned()),
        );
        push(
            "reopened",
            "Tickets reopened",
            count(reopened_now, reopened_before),
            Some(reopened_search.to_owned()),
        );
        let open = rows.open_now.to_string();
        push(
            "backlog",
            "Open now",
            (open, String::new(), change(None, None, true)),
            None,
        );
        let satisfaction = |keep: &dyn Fn(i64) -> bool| {
            let given: Vec<&(i64, String)> =
                rows.ratings.iter().filter(|(at, _)| keep(*at)).collect();
            let good = given.iter().filter(|(_, rating)| rating == "good").count();
            match given.len() {
                0 => None,
                total => i64::try_from(good * 100 / total).ok(),
            }
        };
        let (liked_now, liked_before) = (satisfaction(&in_period), satisfaction(&before));
        let percent = |value: Option<i64>| {
            value.map_or_else(|| "—".to_owned(), |value| format!("{value}% good"))
        };
        push(
            "satisfaction",
            "Satisfaction",
            (
                percent(liked_now),
                percent(liked_before),
                points(liked_now, liked_before),
            ),
            None,
        );
        for (key, label, now, then) in [
            (
                "first_response_median",
                "First response, median",
                response_now.median,
                response_before.median,
            ),
            (
                "first_response_p90",
                "First response, 90th percentile",
                response_now.p90,
                response_before.p90,
            ),
            (
                "resolution_median",
                "Resolution, median",
                resolution_now.median,
                resolution_before.median,
            ),
            (
                "resolution_p90",
                "Resolution, 90th percentile",
                resolution_now.p90,
                resolution_before.p90,
            ),
        ] {
            push(
                key,
                label,
                (time(now), time(then), change(now, then, true)),
                Some(search("")),
            );
        }
        tiles
    }
}

/// The move of a share from one period to the next, in points.
fn points(now: Option<i64>, before: Option<i64>) -> Change {
    match (now, before) {
        (Some(now), Some(before)) if now != before => Change {
            words: format!("{:+} points", now - before),
            good: Some(now > before),
        },
        (Some(_), Some(_)) => Change {
            words: "no change".to_owned(),
            good: None,
        },
        _ => change(None, None, false),
    }
}

/// Open tickets at the end of each bucket: the number open now, less what
/// happened after that moment.
fn backlog_at(buckets: &[Bucket], open_now: i64, changes: &[(i64, i64)], now: i64) -> Vec<i64> {
    let mut changes = changes.to_vec();
    changes.sort_unstable();
    // `since[i]`: the sum of the changes from the i-th on.
    let mut since = vec![0_i64; changes.len() + 1];
    for (index, (_, delta)) in changes.iter().enumerate().rev() {
        since[index] = since[index + 1] + delta;
    }
    buckets
        .iter()
        .map(|bucket| {
            // What came after the bucket's end, or after now for the
            // bucket still running (what happened now has happened).
            let first_later = match bucket.end <= now {
                true => changes.partition_point(|(when, _)| *when < bucket.end),
                false => changes.partition_point(|(when, _)| *when <= now),
            };
            open_now - since[first_later]
        })
        .collect()
}

/// Met and missed SLA targets that fell due in the period (running ones
/// not yet due are left out).
fn sla_outcomes(rows: &DashboardRows, now: i64) -> Option<Vec<SlaOutcome>> {
    if rows.sla_targets.is_empty() {
        return None;
    }
    let outcomes = crate::rules::TARGETS
        .iter()
        .map(|(key, label)| {
            let of_kind = rows.sla_targets.iter().filter(|(target, ..)| target == key);
            let met = of_kind
                .clone()
                .filter(|(_, state, met_at, due_at)| {
                    state == "met" && met_at.is_some_and(|at| at <= *due_at)
                })
                .count();
            let missed = of_kind
                .filter(|(_, state, _, due_at)| {
                    matches!(state.as_str(), "failed" | "breaching")
                        || (state == "running" && *due_at <= now)
                })
                .count();
            SlaOutcome {
                label,
                met: i64::try_from(met).unwrap_or(i64::MAX),
                missed: i64::try_from(missed).unwrap_or(i64::MAX),
            }
        })
        .filter(|outcome| outcome.met + outcome.missed > 0)
        .collect();
    Some(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_walks_back_from_now() {
        let bucket = |start, end| Bucket {
            start,
            end,
            label: String::new(),
        };
        let buckets = [bucket(0, 10), bucket(10, 20), bucket(20, 30)];
        // Opened at 5 and 12, one closed at 25, one opened at 40 (after the
        // period): 3 open now.
        let changes = [(5, 1), (12, 1), (25, -1), (40, 1)];
        assert_eq!(backlog_at(&buckets, 3, &changes, 50), [2, 3, 2]);
        // A bucket still running ends now, a change made now included.
        assert_eq!(backlog_at(&buckets, 3, &changes, 25), [2, 3, 2]);
    }
}
