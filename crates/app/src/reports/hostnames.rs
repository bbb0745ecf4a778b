//! The hostname report (`/agent/reports/hostnames`): which agents wrote
//! on tickets, or signed in, from an address outside the given networks
//! (CIDR ranges) and host names (suffixes such as `corp.example.com`),
//! grouped by agent, with links to the messages. It uses the reverse-DNS
//! names already recorded for logins and messages. Messages are those on
//! tickets the reader may see; sign-ins are shown to admins only (the
//! login log is theirs).

use std::collections::{BTreeMap, HashSet};

use ferrodesk_core::{Permission, Timestamp};
use ferrodesk_store::{AddressUse, AgentMessageLink, ReportScope};
use ipnet::IpNet;

use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The report's form, as typed.
#[derive(Debug, Clone, Default)]
pub struct HostnameReportInput {
    pub period: String,
    pub from: String,
    pub to: String,
    /// CIDR ranges (or single addresses), by lines, commas or spaces;
    /// empty: the IP allow-list's ranges.
    pub networks: String,
    /// Host-name suffixes the same way.
    pub domains: String,
}

/// One address an agent used from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideAddress {
    pub ip: String,
    pub hostname: Option<String>,
    pub messages: i64,
    pub logins: i64,
    pub last_at: i64,
    /// The newest messages written from it.
    pub links: Vec<AgentMessageLink>,
}

/// One agent's use of outside addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideAgent {
    pub agent_id: i64,
    pub name: String,
    pub messages: i64,
    pub logins: i64,
    pub addresses: Vec<OutsideAddress>,
}

/// The report as the page shows it.
#[derive(Debug, Clone)]
pub struct HostnameReport {
    pub period_key: String,
    pub period_words: String,
    pub from: String,
    pub to: String,
    pub networks: String,
    pub domains: String,
    /// Whether sign-ins were read (admins).
    pub with_logins: bool,
    /// Whether anything counts as inside (no network and no name given:
    /// the report asks for them).
    pub has_rules: bool,
    pub agents: Vec<OutsideAgent>,
}

/// How often one agent used one outside address.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    messages: i64,
    logins: i64,
    last_at: i64,
}

/// Tickets linked per address (each by its newest message from there),
/// found among the newest messages read per address.
const LINKS_PER_ADDRESS: usize = 5;
const MESSAGES_READ_PER_ADDRESS: i64 = 25;
/// Addresses whose messages are linked, at most (the newest first).
const LINKED_ADDRESSES: usize = 100;

/// The networks and host-name suffixes that count as inside.
#[derive(Debug, Clone, Default)]
struct Inside {
    networks: Vec<IpNet>,
    domains: Vec<String>,
}

impl Inside {
    fn parse(networks: &str, domains: &str) -> Result<Inside, FieldErrors> {
        let mut errors = FieldErrors::new();
        let items = |text: &str| -> Vec<String> {
            text.split(|c: char| c == ',' || c.is_whitespace())
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut inside = Inside::default();
        for item in items(networks) {
            match crate::settings::parse_range(&item) {
                Ok(network) => inside.networks.push(network),
                Err(_) => errors.add(
                    "networks",
                    format!(
                        "“{item}” is not a network: write a range such as 10.0.0.0/8 or an address."
                    ),
                ),
            }
        }
        for item in items(domains) {
            let suffix = item.trim_start_matches('.').to_lowercase();
            if suffix.is_empty()
                || !suffix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                errors.add(
                    "domains",
                    format!("“{item}” is not a host name: write one such as corp.example.com."),
                );
            } else {
                inside.domains.push(suffix);
            }
        }
        if errors.is_empty() {
            Ok(inside)
        } else {
            Err(errors)
        }
    }

    fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.domains.is_empty()
    }

    /// Whether an address (or its confirmed name) is inside.
    fn holds(&self, ip: &str, hostname: Option<&str>) -> bool {
        let in_network = ip
            .parse::<std::net::IpAddr>()
            .map(|address| address.to_canonical())
            .is_ok_and(|address| {
                self.networks
                    .iter()
                    .any(|network| network.contains(&address))
            });
        let in_domain = hostname.is_some_and(|name| {
            let name = name.trim_end_matches('.').to_lowercase();
            self.domains
                .iter()
                .any(|suffix| name == *suffix || name.ends_with(&format!(".{suffix}")))
        });
        in_network || in_domain
    }
}

impl App {
    /// The hostname report for agents with the reports permission.
    pub async fn hostname_report(
        &self,
        actor: &Actor,
        input: &HostnameReportInput,
    ) -> AppResult<HostnameReport> {
        let context = self.agent_context(actor).await?;
        context.require(Permission::ReportsView)?;
        let period = self
            .report_period(actor, (&input.period, &input.from, &input.to))
            .await?;
        let (from, until) = period.bounds()?;
        let networks = match input.networks.trim() {
            "" if input.domains.trim().is_empty() => self
                .settings()
                .await?
                .ip_allow_list
                .trusted_ranges
                .join("\n"),
            typed => typed.to_owned(),
        };
        let inside = Inside::parse(&networks, &input.domains).map_err(AppError::Invalid)?;
        let with_logins = actor.may_administer();
        let mut report = HostnameReport {
            period_key: period.key.clone(),
            period_words: period.words(),
            from: period.first.to_string(),
            to: period.last.to_string(),
            networks,
            domains: input.domains.trim().to_owned(),
            with_logins,
            has_rules: !inside.is_empty(),
            agents: Vec::new(),
        };
        if inside.is_empty() {
            return Ok(report);
        }
        let scope = ReportScope {
            visibility: context.visibility(),
            department_ids: Vec::new(),
            team_id: None,
            search: None,
        };
        let tickets = self.store().tickets();
        let messages = tickets.agent_message_addresses(&scope, from, until).await?;
        let logins = match with_logins {
            true => {
                self.store()
                    .logins()
                    .staff_login_addresses(Timestamp(from), Timestamp(until))
                    .await?
            }
            false => Vec::new(),
        };
        let ips: Vec<String> = messages
            .iter()
            .chain(&logins)
            .map(|used| used.ip.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let hostnames = self.store().logins().hostnames_of(&ips).await?;
        let outside = |used: &AddressUse| {
            !inside.holds(&used.ip, hostnames.get(&used.ip).map(String::as_str))
        };

        let mut by_address: BTreeMap<(i64, String), Usage> = BTreeMap::new();
        for (used, is_login) in messages
            .iter()
            .map(|used| (used, false))
            .chain(logins.iter().map(|used| (used, true)))
            .filter(|(used, _)| outside(used))
        {
            let usage = by_address
                .entry((used.person_id, used.ip.clone()))
                .or_default();
            match is_login {
                true => usage.logins += used.count,
                false => usage.messages += used.count,
            }
            usage.last_at = usage.last_at.max(used.last_at);
        }
        // Links for the addresses written from most recently.
        let mut newest: Vec<(&(i64, String), &Usage)> = by_address
            .iter()
            .filter(|(_, usage)| usage.messages > 0)
            .collect();
        newest.sort_by_key(|(_, usage)| std::cmp::Reverse(usage.last_at));
        let linked: HashSet<(i64, String)> = newest
            .into_iter()
            .take(LINKED_ADDRESSES)
            .map(|(key, _)| key.clone())
            .collect();

        let mut agents: BTreeMap<i64, OutsideAgent> = BTreeMap::new();
        for ((agent_id, ip), usage) in by_address {
            let links = match linked.contains(&(agent_id, ip.clone())) {
                true => {
                    tickets
                        .agent_messages_from(
                            &scope,
                            (agent_id, &ip),
                            (from, until),
                            MESSAGES_READ_PER_ADDRESS,
                        )
                        .await?
                        .into_iter()
                        .fold(Vec::<AgentMessageLink>::new(), |mut kept, link| {
                            // The newest message of each ticket.
                            if kept.len() < LINKS_PER_ADDRESS
                                && !kept.iter().any(|seen| seen.reference == link.reference)
                            {
                                kept.push(link);
                            }
                            kept
                        })
                }
                false => Vec::new(),
            };
            let agent = match agents.entry(agent_id) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => {
                    let name = self
                        .store()
                        .people()
                        .get_person(agent_id)
                        .await?
                        .map_or_else(|| "A former agent".to_owned(), |person| person.name);
                    entry.insert(OutsideAgent {
                        agent_id,
                        name,
                        messages: 0,
                        logins: 0,
                        addresses: Vec::new(),
                    })
                }
            };
            agent.messages += usage.messages;
            agent.logins += usage.logins;
            agent.addresses.push(OutsideAddress {
                hostname: hostnames.get(&ip).cloned(),
                ip,
                messages: usage.messages,
                logins: usage.logins,
                last_at: usage.last_at,
                links,
            });
        }
        let mut agents: Vec<OutsideAgent> = agents.into_values().collect();
        for agent in &mut agents {
            agent
                .addresses
                .sort_by_key(|address| std::cmp::Reverse(address.last_at));
        }
        agents.sort_by(|a, b| {
            (b.messages + b.logins)
                .cmp(&(a.messages + a.logins))
                .then_with(|| a.name.cmp(&b.name))
        });
        report.agents = agents;
        Ok(report)
    }
}

impl App {
    /// The hostname report for a CSV download (audited).
    pub async fn export_hostname_report(
        &self,
        caller: &crate::audit::Caller<'_>,
        input: &HostnameReportInput,
    ) -> AppResult<HostnameReport> {
        let report = self.hostname_report(caller.actor, input).await?;
        self.audit(
            &crate::audit::Audit::new(caller, "report.exported")
                .on("report", None, "agents' outside addresses")
                .after(&serde_json::json!({
                    "period": [report.from, report.to],
                    "networks": report.networks,
                    "domains": report.domains,
                })),
        )
        .await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_names_decide_what_is_inside() {
        let inside =
            Inside::parse("10.0.0.0/8, 192.0.2.7\n2001:db8::/32", ".corp.example.com").unwrap();
        assert!(inside.holds("10.1.2.3", None));
        assert!(inside.holds("192.0.2.7", None));
        assert!(!inside.holds("192.0.2.8", None));
        assert!(
            inside.holds("::ffff:10.0.0.1", None),
            "an IPv4-mapped address counts as IPv4"
        );
        assert!(inside.holds("2001:db8::1", None));
        assert!(inside.holds("203.0.113.5", Some("vpn1.corp.example.com.")));
        assert!(inside.holds("203.0.113.5", Some("corp.example.com")));
        assert!(
            !inside.holds("203.0.113.5", Some("evilcorp.example.com")),
            "a suffix is a whole label"
        );
        assert!(!inside.holds("203.0.113.5", None));
        assert!(Inside::parse("10.0.0.0/33", "").is_err());
        assert!(Inside::parse("", "bad name!").is_err());
    }
}
