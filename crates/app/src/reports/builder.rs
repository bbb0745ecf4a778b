//! The report builder: a dataset (tickets, replies and notes, ticket
//! changes, sign-ins, satisfaction ratings) in a period, narrowed by the
//! workspace's search language, grouped by up to two dimensions and
//! measured (a count, or the median, 90th percentile, average, sum,
//! minimum or maximum of a duration or number), shown as a table or a
//! chart. Its form is its definition: a saved report keeps the query
//! string. Every row is read through the reader's own ticket visibility
//! (sign-ins, which involve no ticket, are for admins only).

use std::collections::HashMap;

use ferrodesk_core::{Permission, TicketStatus};
use ferrodesk_store::{
    ReportCount, ReportDataset, ReportDimension, ReportMeasured, ReportQuery, ReportScope,
    ReportValue,
};
use serde::{Deserialize, Serialize};

use super::dashboard::{channel_words, elapsed};
use super::figures::{duration_words, percentile, quoted};
use super::period::{Bucket, Period, TimeUnit};
use super::scope::ScopeChoices;
use crate::{Actor, App, AppResult, FieldErrors};

/// The builder's form, and a saved report's definition, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportInput {
    pub dataset: String,
    /// The search language's filters and words (`label:vip -status:pending`).
    pub q: String,
    pub period: String,
    pub from: String,
    pub to: String,
    pub department: String,
    pub team: String,
    pub calendar: String,
    /// The first dimension (`DIMENSIONS`, or `field:<id>`); empty: none.
    pub group: String,
    /// The second dimension.
    pub then: String,
    /// `MEASURES`.
    pub measure: String,
    /// What a measure other than a count is of (`MEASURED`, or
    /// `field:<id>` of a number field).
    pub of: String,
    /// `CHARTS`.
    pub chart: String,
}

impl ReportInput {
    /// The form's query string (a saved report's definition).
    pub fn query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    /// A query string read back; what does not parse is left empty.
    pub fn from_query_string(text: &str) -> ReportInput {
        serde_urlencoded::from_str(text).unwrap_or_default()
    }
}

/// What a report can count: (key, words).
pub const DATASETS: [(&str, &str); 5] = [
    ("tickets", "Tickets"),
    ("messages", "Replies and notes"),
    ("changes", "Ticket changes"),
    ("logins", "Agents' sign-ins"),
    ("ratings", "Satisfaction ratings"),
];

/// What rows can be grouped by, beyond custom fields.
pub const DIMENSIONS: [(&str, &str); 14] = [
    ("day", "Day"),
    ("week", "Week"),
    ("month", "Month"),
    ("department", "Department"),
    ("agent", "Agent"),
    ("team", "Team"),
    ("status", "Status"),
    ("label", "Label"),
    ("channel", "Channel"),
    ("organization", "Organization"),
    ("hostname", "Host name"),
    ("rating", "Rating"),
    ("change", "Changed property"),
    ("outcome", "Sign-in outcome"),
];

pub const MEASURES: [(&str, &str); 7] = [
    ("count", "Count"),
    ("median", "Median"),
    ("p90", "90th percentile"),
    ("average", "Average"),
    ("sum", "Sum"),
    ("min", "Minimum"),
    ("max", "Maximum"),
];

/// What the measures other than a count are of, beyond number fields.
pub const MEASURED: [(&str, &str); 3] = [
    ("first_response", "first response time"),
    ("resolution", "resolution time"),
    ("urgency", "urgency"),
];

pub const CHARTS: [(&str, &str); 5] = [
    ("table", "Table only"),
    ("bar", "Bars"),
    ("line", "Line"),
    ("stacked", "Stacked bars"),
    ("pie", "Pie"),
];

/// Ticket rows a measure other than a count reads at most.
const MEASURED_ROWS: i64 = 2_000_000;
/// Values of the first dimension a chart draws (time draws every one).
const CHART_GROUPS: usize = 20;
/// Series (values of the second dimension) a chart draws.
const CHART_SERIES: usize = 6;

/// What kind of figure a report's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Count,
    /// Milliseconds.
    Duration,
    Number,
}

/// One group's figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub first_key: String,
    pub first: String,
    pub second_key: String,
    pub second: String,
    /// `None`: nothing to measure in the group.
    pub value: Option<i64>,
    /// The value as the page shows it.
    pub shown: String,
    /// The tickets behind it, as a search (tickets only).
    pub link: Option<String>,
}

/// One line (or set of bars) of a chart: the second dimension's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSeries {
    pub name: String,
    pub values: Vec<i64>,
}

/// The form's choices, for the builder page.
#[derive(Debug, Clone, Default)]
pub struct BuilderChoices {
    pub datasets: Vec<(&'static str, &'static str)>,
    pub dimensions: Vec<(String, String)>,
    pub measures: Vec<(&'static str, &'static str)>,
    pub measured: Vec<(String, String)>,
    pub charts: Vec<(&'static str, &'static str)>,
    pub periods: Vec<(&'static str, &'static str)>,
    pub departments: Vec<(i64, String)>,
    pub teams: Vec<(i64, String)>,
    pub calendars: Vec<(i64, String)>,
}

/// A report as read for one agent.
#[derive(Debug, Clone)]
pub struct BuiltReport {
    /// The definition as understood (defaults filled in).
    pub input: ReportInput,
    pub period_words: String,
    /// `[from, until)`, Unix milliseconds.
    pub from: i64,
    pub until: i64,
    pub time_basis: String,
    pub dataset_words: String,
    /// "Count of tickets", "Median first response time".
    pub measure_words: String,
    pub value_kind: ValueKind,
    pub first_heading: Option<String>,
    pub second_heading: Option<String>,
    pub rows: Vec<ReportRow>,
    /// The chart's groups (the first dimension) and series.
    pub chart_labels: Vec<String>,
    pub chart_series: Vec<ChartSeries>,
    /// The unit chart values are in ("minutes" for durations).
    pub chart_unit: &'static str,
    /// What the reader should know (a filter that matched nothing, rows
    /// left out of the chart).
    pub notices: Vec<String>,
    pub choices: BuilderChoices,
}

/// A dimension as the builder understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Time(TimeUnit),
    Other(ReportDimension),
}

/// A measure other than a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduction {
    Median,
    P90,
    Average,
    Sum,
    Min,
    Max,
}

impl Reduction {
    fn of(key: &str) -> Option<Reduction> {
        Some(match key {
            "median" => Reduction::Median,
            "p90" => Reduction::P90,
            "average" => Reduction::Average,
            "sum" => Reduction::Sum,
            "min" => Reduction::Min,
            "max" => Reduction::Max,
            _ => return None,
        })
    }

    fn reduce(self, mut values: Vec<i64>) -> Option<i64> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let count = i64::try_from(values.len()).unwrap_or(i64::MAX);
        let sum: i64 = values
            .iter()
            .fold(0_i64, |sum, value| sum.saturating_add(*value));
        match self {
            Reduction::Median => percentile(&values, 50),
            Reduction::P90 => percentile(&values, 90),
            Reduction::Average => Some((sum + count / 2) / count),
            Reduction::Sum => Some(sum),
            Reduction::Min => values.first().copied(),
            Reduction::Max => values.last().copied(),
        }
    }
}

fn dataset_of(key: &str) -> Option<ReportDataset> {
    Some(match key {
        "" | "tickets" => ReportDataset::Tickets,
        "messages" => ReportDataset::Messages,
        "changes" => ReportDataset::Changes,
        "logins" => ReportDataset::Logins,
        "ratings" => ReportDataset::Ratings,
        _ => return None,
    })
}

fn words_of<'a>(list: &[(&'a str, &'a str)], key: &str) -> &'a str {
    list.iter()
        .find(|(known, _)| *known == key)
        .map_or("", |(_, words)| *words)
}

/// A custom field's id from `field:<id>`.
fn field_id(key: &str) -> Option<i64> {
    key.strip_prefix("field:")?.parse().ok()
}

/// A dimension from its key.
fn grouping_of(key: &str) -> Option<Grouping> {
    use ReportDimension as D;
    Some(match key {
        "day" => Grouping::Time(TimeUnit::Day),
        "week" => Grouping::Time(TimeUnit::Week),
        "month" => Grouping::Time(TimeUnit::Month),
        "department" => Grouping::Other(D::Department),
        "agent" => Grouping::Other(D::Agent),
        "team" => Grouping::Other(D::Team),
        "status" => Grouping::Other(D::Status),
        "label" => Grouping::Other(D::Label),
        "channel" => Grouping::Other(D::Channel),
        "organization" => Grouping::Other(D::Organization),
        "hostname" => Grouping::Other(D::Hostname),
        "rating" => Grouping::Other(D::Rating),
        "change" => Grouping::Other(D::Change),
        "outcome" => Grouping::Other(D::Outcome),
        other => Grouping::Other(D::Field(field_id(other)?)),
    })
}

impl Grouping {
    fn dimension(self, shift: i64) -> ReportDimension {
        match self {
            Grouping::Time(_) => ReportDimension::Hour { shift },
            Grouping::Other(dimension) => dimension,
        }
    }
}

/// What an empty key means for a dimension.
fn none_words(dimension: ReportDimension, dataset: ReportDataset) -> &'static str {
    use ReportDimension as D;
    match dimension {
        D::Agent if dataset == ReportDataset::Tickets || dataset == ReportDataset::Ratings => {
            "Unassigned"
        }
        D::Agent => "Not an agent",
        D::Team => "No team",
        D::Label => "No label",
        D::Organization => "No organization",
        D::Field(_) => "Empty",
        D::Hostname => "Unknown",
        _ => "None",
    }
}

/// A group's words as the reader sees them.
fn group_words(
    dimension: ReportDimension,
    dataset: ReportDataset,
    key: &str,
    label: &str,
) -> String {
    use ReportDimension as D;
    if key.is_empty() {
        return none_words(dimension, dataset).to_owned();
    }
    match dimension {
        D::Status => TicketStatus::from_key(key)
            .map_or_else(|| key.to_owned(), |status| status.label().to_owned()),
        D::Channel => channel_words(key),
        D::Rating => match key {
            "good" => "Good".to_owned(),
            "bad" => "Bad".to_owned(),
            other => other.to_owned(),
        },
        D::Outcome => match key {
            "succeeded" => "Signed in".to_owned(),
            _ => "Failed".to_owned(),
        },
        _ if label.is_empty() => key.to_owned(),
        _ => label.to_owned(),
    }
}

/// The search words that pick a group's tickets, where the search
/// language has them.
fn search_words(dimension: ReportDimension, key: &str, label: &str) -> Option<String> {
    use ReportDimension as D;
    Some(match (dimension, key.is_empty()) {
        (D::Department, false) => format!("department:{}", quoted(label)),
        (D::Agent, false) => format!("agent:{}", quoted(label)),
        (D::Agent, true) => "agent:none".to_owned(),
        (D::Team, false) => format!("team:{}", quoted(label)),
        (D::Status, false) => format!("status:{key}"),
        (D::Label, false) => format!("label:{}", quoted(label)),
        (D::Channel, false) => format!("channel:{key}"),
        (D::Organization, false) => format!("org:{}", quoted(label)),
        _ => return None,
    })
}

/// One group's accumulated rows.
#[derive(Debug, Default)]
struct Group {
    first: (String, String),
    second: (String, String),
    count: i64,
    values: Vec<i64>,
}

impl App {
    /// What the builder's form offers this agent.
    async fn builder_choices(
        &self,
        actor: &Actor,
        scope: &ScopeChoices,
    ) -> AppResult<BuilderChoices> {
        let fields = self.store().ticket_fields().list_ticket_fields().await?;
        let mut dimensions: Vec<(String, String)> = DIMENSIONS
            .iter()
            .map(|(key, words)| ((*key).to_owned(), (*words).to_owned()))
            .collect();
        dimensions.extend(
            fields
                .iter()
                .filter(|field| field.kind != "multiline")
                .map(|field| (format!("field:{}", field.id), field.name.clone())),
        );
        let mut measured: Vec<(String, String)> = MEASURED
            .iter()
            .map(|(key, words)| ((*key).to_owned(), (*words).to_owned()))
            .collect();
        measured.extend(
            fields
                .iter()
                .filter(|field| field.kind == "number")
                .map(|field| (format!("field:{}", field.id), field.name.clone())),
        );
        let datasets = DATASETS
            .iter()
            .copied()
            .filter(|(key, _)| *key != "logins" || actor.may_administer())
            .collect();
        Ok(BuilderChoices {
            datasets,
            dimensions,
            measures: MEASURES.to_vec(),
            measured,
            charts: CHARTS.to_vec(),
            periods: super::PERIODS.to_vec(),
            departments: scope.departments.clone(),
            teams: scope.teams.clone(),
            calendars: scope.calendars.clone(),
        })
    }

    /// A report as `actor` may see it: the builder's preview, a saved
    /// report, its export and its scheduled mail all come here.
    pub async fn build_report(&self, actor: &Actor, input: &ReportInput) -> AppResult<BuiltReport> {
        let context = self.agent_context(actor).await?;
        context.require(Permission::ReportsView)?;
        let scope = self
            .report_choices(&context, (&input.department, &input.team, &input.calendar))
            .await?;
        let choices = self.builder_choices(actor, &scope).await?;
        let period = self
            .report_period(actor, (&input.period, &input.from, &input.to))
            .await?;
        let (from, until) = period.bounds()?;
        let shift = period.hour_shift();
        let plan = plan(input, &choices, actor.may_administer(), shift)?;
        let (search, mut notices) = if plan.dataset == ReportDataset::Logins {
            (None, Vec::new())
        } else {
            self.list_search(&context, &input.q).await?
        };
        let query = ReportQuery {
            dataset: plan.dataset,
            scope: ReportScope {
                visibility: context.visibility(),
                department_ids: scope.department_ids.clone(),
                team_id: scope.team_id,
                search,
            },
            from,
            until,
            dimensions: plan
                .groupings
                .iter()
                .map(|grouping| grouping.dimension(shift))
                .collect(),
        };
        let started = std::time::Instant::now();
        let groups = self
            .report_groups(
                &query,
                &plan,
                &period,
                scope.calendar.as_ref(),
                &mut notices,
            )
            .await?;
        tracing::debug!(
            millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "report read"
        );
        let time_basis = if plan.kind == ValueKind::Duration {
            scope.time_basis.clone()
        } else {
            String::new()
        };
        let links = LinkBase::new(&plan, input, &period);
        let rows = report_rows(&plan, groups, &links);
        let (chart_labels, chart_series) = chart_of(&plan, &rows, &mut notices);
        let normalised = ReportInput {
            dataset: plan.dataset_key.to_owned(),
            period: period.key.clone(),
            from: period.first.to_string(),
            to: period.last.to_string(),
            department: scope
                .department_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            team: scope.team_id.map(|id| id.to_string()).unwrap_or_default(),
            calendar: scope
                .calendar_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            measure: plan.measure_key.to_owned(),
            chart: plan.chart.to_owned(),
            ..input.clone()
        };
        Ok(BuiltReport {
            input: normalised,
            period_words: period.words(),
            from,
            until,
            time_basis,
            dataset_words: words_of(&DATASETS, plan.dataset_key).to_owned(),
            measure_words: plan.measure_words.clone(),
            value_kind: plan.kind,
            first_heading: plan.headings.first().cloned(),
            second_heading: plan.headings.get(1).cloned(),
            rows,
            chart_labels,
            chart_series,
            chart_unit: if plan.kind == ValueKind::Duration {
                "minutes"
            } else {
                ""
            },
            notices,
            choices,
        })
    }

    /// The builder's empty form: what it offers, nothing read.
    pub async fn report_builder_choices(&self, actor: &Actor) -> AppResult<BuilderChoices> {
        let context = self.agent_context(actor).await?;
        context.require(Permission::ReportsView)?;
        let scope = self.report_choices(&context, ("", "", "")).await?;
        self.builder_choices(actor, &scope).await
    }

    /// The groups with their counts or values, in the store's order (time
    /// groups made from hours here).
    async fn report_groups(
        &self,
        query: &ReportQuery,
        plan: &Plan,
        period: &Period,
        calendar: Option<&ferrodesk_core::BusinessCalendar>,
        notices: &mut Vec<String>,
    ) -> AppResult<Vec<Group>> {
        let buckets: Vec<Option<Vec<Bucket>>> = plan
            .groupings
            .iter()
            .map(|grouping| match grouping {
                Grouping::Time(unit) => period.buckets_by(*unit).map(Some),
                Grouping::Other(_) => Ok(None),
            })
            .collect::<AppResult<_>>()?;
        let key_of = |index: usize, key: String, label: String| -> Option<(String, String)> {
            match buckets.get(index) {
                Some(Some(buckets)) => {
                    let hour: i64 = key.parse().ok()?;
                    let at = hour * 3_600_000 - query_shift(query, index);
                    let found = buckets.partition_point(|bucket| bucket.end <= at);
                    let bucket = buckets.get(found).filter(|bucket| at >= bucket.start)?;
                    Some((format!("{found:06}"), bucket.label.clone()))
                }
                _ => Some((key, label)),
            }
        };
        let mut groups: Vec<Group> = Vec::new();
        let mut index_of: HashMap<(String, String), usize> = HashMap::new();
        let mut place = |first: (String, String), second: (String, String)| -> usize {
            let key = (first.0.clone(), second.0.clone());
            *index_of.entry(key).or_insert_with(|| {
                groups.push(Group {
                    first,
                    second,
                    ..Group::default()
                });
                groups.len() - 1
            })
        };
        let mut placed: Vec<(usize, i64, Vec<i64>)> = Vec::new();
        match plan.reading {
            None => {
                let counts: Vec<ReportCount> = self.store().tickets().report_counts(query).await?;
                if i64::try_from(counts.len()).unwrap_or(i64::MAX) >= ferrodesk_store::REPORT_GROUPS
                {
                    notices.push(format!(
                        "Only the {} largest groups are shown.",
                        ferrodesk_store::REPORT_GROUPS
                    ));
                }
                for row in counts {
                    let (Some(first), Some(second)) = (
                        key_of(0, row.key1, row.label1),
                        key_of(1, row.key2, row.label2),
                    ) else {
                        continue;
                    };
                    placed.push((place(first, second), row.count, Vec::new()));
                }
            }
            Some(value) => {
                let measured: Vec<ReportMeasured> = self
                    .store()
                    .tickets()
                    .report_measured(query, value, MEASURED_ROWS)
                    .await?;
                if i64::try_from(measured.len()).unwrap_or(i64::MAX) >= MEASURED_ROWS {
                    notices.push(format!(
                        "Only the first {MEASURED_ROWS} tickets are measured; choose a shorter period."
                    ));
                }
                for row in measured {
                    let figure = match plan.kind {
                        ValueKind::Duration => match (row.start, row.end) {
                            (Some(start), Some(end)) => Some(elapsed(calendar, start, end)),
                            _ => None,
                        },
                        ValueKind::Number | ValueKind::Count => row.end.or_else(|| {
                            row.text
                                .as_deref()
                                .and_then(|text| text.trim().parse::<f64>().ok())
                                .filter(|number| number.is_finite())
                                .map(|number| number.round() as i64)
                        }),
                    };
                    let Some(figure) = figure else { continue };
                    let (Some(first), Some(second)) = (
                        key_of(0, row.key1, row.label1),
                        key_of(1, row.key2, row.label2),
                    ) else {
                        continue;
                    };
                    placed.push((place(first, second), 1, vec![figure]));
                }
            }
        }
        for (index, count, values) in placed {
            if let Some(group) = groups.get_mut(index) {
                group.count += count;
                group.values.extend(values);
            }
        }
        // Every bucket of a time dimension appears, empty or not.
        if plan.groupings.len() == 1
            && let Some(Some(buckets)) = buckets.first()
        {
            for (index, bucket) in buckets.iter().enumerate() {
                let key = (format!("{index:06}"), String::new());
                if let std::collections::hash_map::Entry::Vacant(entry) = index_of.entry(key) {
                    entry.insert(groups.len());
                    groups.push(Group {
                        first: (format!("{index:06}"), bucket.label.clone()),
                        ..Group::default()
                    });
                }
            }
        }
        Ok(groups)
    }
}

/// The hour shift the store was asked for (the same for both dimensions).
fn query_shift(query: &ReportQuery, index: usize) -> i64 {
    match query.dimensions.get(index) {
        Some(ReportDimension::Hour { shift }) => *shift,
        _ => 0,
    }
}

/// A definition checked and understood.
#[derive(Debug, Clone)]
struct Plan {
    dataset: ReportDataset,
    dataset_key: &'static str,
    groupings: Vec<Grouping>,
    headings: Vec<String>,
    /// What each ticket is measured by; `None` for a count.
    reading: Option<ReportValue>,
    reduction: Option<Reduction>,
    kind: ValueKind,
    measure_key: &'static str,
    measure_words: String,
    chart: &'static str,
}

/// Checks a definition against what the reader may choose.
fn plan(
    input: &ReportInput,
    choices: &BuilderChoices,
    may_administer: bool,
    shift: i64,
) -> AppResult<Plan> {
    let mut errors = FieldErrors::new();
    let dataset = dataset_of(input.dataset.trim());
    let dataset_key = DATASETS
        .iter()
        .find(|(key, _)| *key == input.dataset.trim())
        .map_or("tickets", |(key, _)| *key);
    match dataset {
        None => errors.add("dataset", "Choose what to count."),
        Some(ReportDataset::Logins) if !may_administer => {
            errors.add("dataset", "Sign-ins are for admins only.");
        }
        Some(_) => {}
    }
    let dataset = dataset.unwrap_or(ReportDataset::Tickets);
    let dataset_words = words_of(&DATASETS, dataset_key).to_lowercase();
    let mut groupings = Vec::new();
    let mut headings = Vec::new();
    let fields: [(&'static str, &str); 2] =
        [("group", input.group.trim()), ("then", input.then.trim())];
    for (field, key) in fields {
        if key.is_empty() {
            continue;
        }
        let words = choices
            .dimensions
            .iter()
            .find(|(known, _)| known == key)
            .map(|(_, words)| words.clone());
        match (grouping_of(key), words) {
            (Some(grouping), Some(words)) => {
                if !dataset.offers(grouping.dimension(shift)) {
                    errors.add(
                        field,
                        format!(
                            "{} cannot be grouped by {}.",
                            capitalised(&dataset_words),
                            words.to_lowercase()
                        ),
                    );
                } else if groupings.iter().any(|chosen: &Grouping| {
                    *chosen == grouping
                        || matches!((chosen, grouping), (Grouping::Time(_), Grouping::Time(_)))
                }) {
                    errors.add(field, "Group by something else the second time.");
                } else {
                    groupings.push(grouping);
                    headings.push(words);
                }
            }
            _ => errors.add(field, "Choose one of the groupings."),
        }
    }
    let measure_key = MEASURES
        .iter()
        .find(|(key, _)| *key == input.measure.trim())
        .map_or("count", |(key, _)| *key);
    if !input.measure.trim().is_empty() && measure_key != input.measure.trim() {
        errors.add("measure", "Choose one of the measures.");
    }
    let reduction = Reduction::of(measure_key);
    let (reading, measure_words, kind) = match reduction {
        None => (None, format!("Number of {dataset_words}"), ValueKind::Count),
        Some(_) => {
            let of = input.of.trim();
            let reading = match of {
                "first_response" => Some(ReportValue::FirstResponse),
                "resolution" => Some(ReportValue::Resolution),
                "urgency" => Some(ReportValue::Urgency),
                other => field_id(other)
                    .filter(|_| choices.measured.iter().any(|(known, _)| known == other))
                    .map(ReportValue::Field),
            };
            if reading.is_none() {
                errors.add("of", "Choose what to measure.");
            } else if dataset != ReportDataset::Tickets {
                errors.add(
                    "of",
                    "Only tickets have times and numbers to measure; count the others.",
                );
            }
            let of_words = choices
                .measured
                .iter()
                .find(|(known, _)| known == of)
                .map_or(String::new(), |(_, words)| words.clone());
            let kind = match reading {
                Some(ReportValue::FirstResponse | ReportValue::Resolution) => ValueKind::Duration,
                _ => ValueKind::Number,
            };
            (
                reading,
                format!("{} {of_words}", words_of(&MEASURES, measure_key)),
                kind,
            )
        }
    };
    let chart = CHARTS
        .iter()
        .find(|(key, _)| *key == input.chart.trim())
        .map_or("bar", |(key, _)| *key);
    if !input.chart.trim().is_empty() && chart != input.chart.trim() {
        errors.add("chart", "Choose one of the charts.");
    }
    errors.into_result()?;
    Ok(Plan {
        dataset,
        dataset_key,
        groupings,
        headings,
        reading,
        reduction,
        kind,
        measure_key,
        measure_words,
        chart,
    })
}

fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// What links to a group's tickets start from: the report's own search
/// and its period (tickets only).
struct LinkBase {
    words: Option<Vec<String>>,
}

impl LinkBase {
    fn new(plan: &Plan, input: &ReportInput, period: &Period) -> LinkBase {
        if plan.dataset != ReportDataset::Tickets {
            return LinkBase { words: None };
        }
        let mut words = vec![
            format!("created:>={}", period.first),
            format!("created:<={}", period.last),
        ];
        if !input.q.trim().is_empty() {
            words.push(input.q.trim().to_owned());
        }
        LinkBase { words: Some(words) }
    }

    fn link(&self, plan: &Plan, row: &Group) -> Option<String> {
        let mut words = self.words.clone()?;
        for (grouping, (key, label)) in plan.groupings.iter().zip([&row.first, &row.second]) {
            match grouping {
                Grouping::Other(dimension) => words.push(search_words(*dimension, key, label)?),
                Grouping::Time(_) => return None,
            }
        }
        Some(format!(
            "/agent/search?q={}",
            url::form_urlencoded::byte_serialize(words.join(" ").as_bytes()).collect::<String>()
        ))
    }
}

/// The groups as rows: figures reduced and shown, labels in words, time
/// in order and everything else largest first.
fn report_rows(plan: &Plan, groups: Vec<Group>, links: &LinkBase) -> Vec<ReportRow> {
    let dimension_at = |index: usize| -> Option<ReportDimension> {
        match plan.groupings.get(index)? {
            Grouping::Other(dimension) => Some(*dimension),
            Grouping::Time(_) => None,
        }
    };
    let mut rows: Vec<ReportRow> = groups
        .into_iter()
        .map(|group| {
            let value = match plan.reduction {
                None => Some(group.count),
                Some(reduction) => reduction.reduce(group.values.clone()),
            };
            let shown = match (value, plan.kind) {
                (None, _) => "—".to_owned(),
                (Some(value), ValueKind::Duration) => duration_words(value),
                (Some(value), _) => value.to_string(),
            };
            let words = |index: usize, (key, label): &(String, String)| match dimension_at(index) {
                Some(dimension) => group_words(dimension, plan.dataset, key, label),
                None => label.clone(),
            };
            ReportRow {
                first_key: group.first.0.clone(),
                first: words(0, &group.first),
                second_key: group.second.0.clone(),
                second: words(1, &group.second),
                value,
                shown,
                link: links.link(plan, &group),
            }
        })
        .collect();
    let first_is_time = matches!(plan.groupings.first(), Some(Grouping::Time(_)));
    let second_is_time = matches!(plan.groupings.get(1), Some(Grouping::Time(_)));
    // Each first group's total (for ordering largest first).
    let mut totals: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        *totals.entry(row.first_key.clone()).or_default() += row.value.unwrap_or(0);
    }
    rows.sort_by(|a, b| {
        let first = if first_is_time {
            a.first_key.cmp(&b.first_key)
        } else {
            totals[&b.first_key]
                .cmp(&totals[&a.first_key])
                .then_with(|| a.first.cmp(&b.first))
        };
        first.then_with(|| {
            if second_is_time {
                a.second_key.cmp(&b.second_key)
            } else {
                b.value
                    .unwrap_or(0)
                    .cmp(&a.value.unwrap_or(0))
                    .then_with(|| a.second.cmp(&b.second))
            }
        })
    });
    rows
}

/// The figure a chart draws for a value (durations in minutes).
fn chart_value(plan: &Plan, value: Option<i64>) -> i64 {
    match (plan.kind, value) {
        (_, None) => 0,
        (ValueKind::Duration, Some(millis)) => millis / 60_000,
        (_, Some(value)) => value,
    }
}

/// The chart's groups (first dimension, at most `CHART_GROUPS` unless
/// time) and series (second dimension, at most `CHART_SERIES`).
fn chart_of(
    plan: &Plan,
    rows: &[ReportRow],
    notices: &mut Vec<String>,
) -> (Vec<String>, Vec<ChartSeries>) {
    let first_is_time = matches!(plan.groupings.first(), Some(Grouping::Time(_)));
    let mut labels: Vec<(String, String)> = Vec::new();
    for row in rows {
        if !labels.iter().any(|(key, _)| *key == row.first_key) {
            labels.push((row.first_key.clone(), row.first.clone()));
        }
    }
    if !first_is_time && labels.len() > CHART_GROUPS {
        notices.push(format!(
            "The chart shows the {CHART_GROUPS} largest of {} groups; the table has them all.",
            labels.len()
        ));
        labels.truncate(CHART_GROUPS);
    }
    if plan.groupings.len() < 2 {
        let values = labels
            .iter()
            .map(|(key, _)| {
                rows.iter()
                    .find(|row| row.first_key == *key)
                    .map_or(0, |row| chart_value(plan, row.value))
            })
            .collect();
        return (
            labels.into_iter().map(|(_, words)| words).collect(),
            vec![ChartSeries {
                name: plan.measure_words.clone(),
                values,
            }],
        );
    }
    let mut series_totals: Vec<(String, String, i64)> = Vec::new();
    for row in rows {
        match series_totals
            .iter_mut()
            .find(|(key, _, _)| *key == row.second_key)
        {
            Some(entry) => entry.2 += row.value.unwrap_or(0),
            None => series_totals.push((
                row.second_key.clone(),
                row.second.clone(),
                row.value.unwrap_or(0),
            )),
        }
    }
    if !matches!(plan.groupings.get(1), Some(Grouping::Time(_))) {
        series_totals.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    }
    if series_totals.len() > CHART_SERIES {
        notices.push(format!(
            "The chart draws the {CHART_SERIES} largest of {} series; the table has them all.",
            series_totals.len()
        ));
        series_totals.truncate(CHART_SERIES);
    }
    let series = series_totals
        .iter()
        .map(|(second_key, name, _)| ChartSeries {
            name: name.clone(),
            values: labels
                .iter()
                .map(|(first_key, _)| {
                    rows.iter()
                        .find(|row| row.first_key == *first_key && row.second_key == *second_key)
                        .map_or(0, |row| chart_value(plan, row.value))
                })
                .collect(),
        })
        .collect();
    (labels.into_iter().map(|(_, words)| words).collect(), series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_by_nearest_rank_and_rounded_averages() {
        let values = vec![40, 10, 30, 20];
        assert_eq!(Reduction::Median.reduce(values.clone()), Some(20));
        assert_eq!(Reduction::P90.reduce(values.clone()), Some(40));
        assert_eq!(Reduction::Average.reduce(values.clone()), Some(25));
        assert_eq!(Reduction::Sum.reduce(values.clone()), Some(100));
        assert_eq!(Reduction::Min.reduce(values.clone()), Some(10));
        assert_eq!(Reduction::Max.reduce(values), Some(40));
        assert_eq!(Reduction::Median.reduce(Vec::new()), None);
    }

    #[test]
    fn a_definition_reads_back_from_its_query_string() {
        let input = ReportInput {
            dataset: "tickets".into(),
            q: "label:\"vip & co\" -status:pending".into(),
            group: "team".into(),
            measure: "median".into(),
            of: "first_response".into(),
            ..ReportInput::default()
        };
        assert_eq!(ReportInput::from_query_string(&input.query_string()), input);
        assert_eq!(
            ReportInput::from_query_string("group=agent&unknown=1").group,
            "agent"
        );
    }

    #[test]
    fn plans_refuse_what_the_dataset_cannot_do() {
        let choices = BuilderChoices {
            dimensions: DIMENSIONS
                .iter()
                .map(|(k, w)| ((*k).to_owned(), (*w).to_owned()))
                .collect(),
            measured: MEASURED
                .iter()
                .map(|(k, w)| ((*k).to_owned(), (*w).to_owned()))
                .collect(),
            ..BuilderChoices::default()
        };
        let input = |dataset: &str, group: &str, measure: &str| ReportInput {
            dataset: dataset.into(),
            group: group.into(),
            measure: measure.into(),
            of: "resolution".into(),
            ..ReportInput::default()
        };
        assert!(plan(&input("logins", "agent", "count"), &choices, false, 0).is_err());
        assert!(plan(&input("logins", "department", "count"), &choices, true, 0).is_err());
        assert!(plan(&input("logins", "hostname", "count"), &choices, true, 0).is_ok());
        assert!(plan(&input("messages", "agent", "median"), &choices, false, 0).is_err());
        let planned = plan(&input("tickets", "week", "p90"), &choices, false, 0).unwrap();
        assert_eq!(planned.kind, ValueKind::Duration);
        assert_eq!(planned.measure_words, "90th percentile resolution time");
        let twice = ReportInput {
            then: "month".into(),
            ..input("tickets", "week", "count")
        };
        assert!(plan(&twice, &choices, false, 0).is_err());
    }
}
