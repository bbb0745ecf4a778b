//! A ticket's log in words people use: names of agents, teams and
//! departments, statuses as the pages name them, never ids or codes.

use ferrodesk_core::TicketStatus;
use ferrodesk_store::{MemberRecord, TeamRecord, TicketLogRecord};

use crate::departments::DepartmentNode;

/// What the log's ids can be named with: what the agent's page has.
#[derive(Debug, Clone, Copy)]
pub struct LogNames<'a> {
    pub departments: &'a [DepartmentNode],
    pub agents: &'a [MemberRecord],
    pub teams: &'a [TeamRecord],
}

impl LogNames<'_> {
    fn department(&self, id: &str) -> String {
        self.departments
            .iter()
            .find(|node| node.id.to_string() == id)
            .map_or_else(|| "another department".to_owned(), |node| node.path.clone())
    }

    fn agent(&self, id: &str) -> String {
        self.agents
            .iter()
            .find(|agent| agent.id.to_string() == id)
            .map_or_else(
                || "an agent no longer active".to_owned(),
                |agent| agent.name.clone(),
            )
    }

    fn team(&self, id: &str) -> String {
        self.teams
            .iter()
            .find(|team| team.id.to_string() == id)
            .map_or_else(
                || "a team since deleted".to_owned(),
                |team| team.name.clone(),
            )
    }
}

fn status(key: &str) -> String {
    TicketStatus::from_key(key).map_or_else(|| key.to_owned(), |status| status.label().to_owned())
}

/// What a log entry says happened, after the actor's name.
pub fn describe(entry: &TicketLogRecord, names: &LogNames<'_>) -> String {
    let before = entry.before_value.as_deref();
    let after = entry.after_value.as_deref();
    let or_none = |value: Option<String>| value.unwrap_or_else(|| "none".to_owned());
    let change = |what: &str, name: &dyn Fn(&str) -> String, nobody: &str| {
        let named = |value: Option<&str>| value.map_or_else(|| nobody.to_owned(), name);
        format!(
            "changed the {what} from {} to {}",
            named(before),
            named(after)
        )
    };
    match entry.field.as_str() {
        "status" => change("status", &status, "none"),
        "urgency" => change("urgency", &str::to_owned, "none"),
        "department" => change("department", &|id| names.department(id), "none"),
        "agent" => match (before, after) {
            (_, Some(agent)) => format!("assigned the ticket to {}", names.agent(agent)),
            (Some(agent), None) => format!("unassigned {}", names.agent(agent)),
            (None, None) => "left the ticket unassigned".to_owned(),
        },
        "team" => change("team", &|id| names.team(id), "no team"),
        "priority" => change("priority", &str::to_owned, "none"),
        "labels" => {
            let labels = |value: Option<&str>| {
                or_none(value.filter(|text| !text.is_empty()).map(str::to_owned))
            };
            format!(
                "changed the labels from {} to {}",
                labels(before),
                labels(after)
            )
        }
        "field" => format!(
            "changed {} to {}",
            or_none(before.map(str::to_owned)),
            or_none(after.map(str::to_owned))
        ),
        "merged" => format!(
            "merged {} into this ticket",
            or_none(before.map(str::to_owned))
        ),
        "cc" => match (before, after) {
            (_, Some(person)) => format!("copied {person} on replies"),
            (Some(person), None) => format!("stopped copying {person}"),
            (None, None) => "changed who is copied".to_owned(),
        },
        "access_links" => "revoked the links mailed so far".to_owned(),
        "satisfaction" => format!(
            "rated the ticket {} in the satisfaction survey",
            or_none(after.map(str::to_owned))
        ),
        "sla" => match after {
            Some(sla) => format!("chose the SLA {sla}"),
            None => "left the SLA to the SLAs' conditions".to_owned(),
        },
        other => format!(
            "changed {other} from {} to {}",
            or_none(before.map(str::to_owned)),
            or_none(after.map(str::to_owned))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(field: &str, before: Option<&str>, after: Option<&str>) -> TicketLogRecord {
        TicketLogRecord {
            id: 1,
            actor: "Ada Admin <admin@example.org>".to_owned(),
            field: field.to_owned(),
            before_value: before.map(str::to_owned),
            after_value: after.map(str::to_owned),
            occurred_at: 0,
        }
    }

    #[test]
    fn the_log_names_things_as_the_pages_do() {
        let departments = [DepartmentNode {
            id: 3,
            parent_id: None,
            name: "Support".to_owned(),
            depth: 0,
            path: "Support".to_owned(),
            has_children: false,
            is_default: true,
        }];
        let agents = [MemberRecord {
            id: 7,
            name: "Bob Agent".to_owned(),
            email: "bob@example.org".to_owned(),
        }];
        let teams = [TeamRecord {
            id: 2,
            name: "First line".to_owned(),
            created_at: 0,
            member_count: 1,
        }];
        let names = LogNames {
            departments: &departments,
            agents: &agents,
            teams: &teams,
        };
        let said = |field, before, after| describe(&entry(field, before, after), &names);
        assert_eq!(
            said("status", Some("awaiting_agent"), Some("awaiting_user")),
            "changed the status from Awaiting agent to Awaiting user"
        );
        assert_eq!(
            said("agent", None, Some("7")),
            "assigned the ticket to Bob Agent"
        );
        assert_eq!(
            said("agent", Some("99"), None),
            "unassigned an agent no longer active"
        );
        assert_eq!(
            said("department", Some("3"), Some("12")),
            "changed the department from Support to another department"
        );
        assert_eq!(
            said("team", None, Some("2")),
            "changed the team from no team to First line"
        );
        assert_eq!(
            said("labels", Some(""), Some("printer")),
            "changed the labels from none to printer"
        );
        assert_eq!(
            said("access_links", Some("mailed links"), Some("revoked")),
            "revoked the links mailed so far"
        );
        for line in [
            said("status", Some("pending"), Some("resolved")),
            said("agent", None, Some("7")),
        ] {
            assert!(
                !line.chars().any(|character| character.is_ascii_digit()),
                "no ids: {line}"
            );
            assert!(!line.contains('_'), "no codes: {line}");
        }
    }
}
