//! The audit log as the use cases write and admins read it. Every change an
//! admin makes and every security event goes in with who, from where, what
//! and the values before and after; the store writes it in the same
//! transaction as the change.

use ferrodesk_core::Timestamp;
use ferrodesk_store::{AuditFilter, AuditRecord, NewAuditEntry};
use serde::Serialize;

use crate::{Actor, App, AppError, AppResult};

/// Who acts and from which address: what every audited use case needs.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub actor: &'a Actor,
    pub ip: &'a str,
}

impl<'a> Caller<'a> {
    pub fn new(actor: &'a Actor, ip: &'a str) -> Caller<'a> {
        Caller { actor, ip }
    }

    /// The command line: acts as the system, from the server itself.
    pub fn system() -> Caller<'static> {
        Caller {
            actor: &Actor::System,
            ip: "",
        }
    }

    pub(crate) fn actor_id(&self) -> Option<i64> {
        match self.actor {
            Actor::User(person) | Actor::Agent(person) => Some(person.person_id),
            Actor::Visitor | Actor::System => None,
        }
    }

    pub(crate) fn actor_label(&self) -> String {
        match self.actor {
            Actor::User(person) | Actor::Agent(person) => {
                format!("{} <{}>", person.name, person.email)
            }
            Actor::Visitor => "visitor".to_owned(),
            Actor::System => "system (command line)".to_owned(),
        }
    }
}

/// An audit entry being put together; `entry()` borrows it for the store.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    actor_id: Option<i64>,
    actor: String,
    ip: String,
    action: &'static str,
    target_kind: &'static str,
    target_id: Option<i64>,
    target: String,
    before: Option<String>,
    after: Option<String>,
}

impl Audit {
    pub(crate) fn new(caller: &Caller<'_>, action: &'static str) -> Audit {
        Audit::by_person(caller.actor_id(), caller.actor_label(), caller.ip, action)
    }

    /// An entry whose actor is the person the event is about (a login).
    pub(crate) fn by_person(
        person_id: Option<i64>,
        label: String,
        ip: &str,
        action: &'static str,
    ) -> Audit {
        Audit {
            actor_id: person_id,
            actor: label,
            ip: ip.to_owned(),
            action,
            target_kind: "",
            target_id: None,
            target: String::new(),
            before: None,
            after: None,
        }
    }

    pub(crate) fn on_person(mut self, id: i64, name: &str, email: &str) -> Audit {
        self.target_kind = "person";
        self.target_id = Some(id);
        self.target = format!("{name} <{email}>");
        self
    }

    pub(crate) fn on_setting(mut self, key: &str) -> Audit {
        self.target_kind = "setting";
        self.target = key.to_owned();
        self
    }

    pub(crate) fn on(mut self, kind: &'static str, id: Option<i64>, label: &str) -> Audit {
        self.target_kind = kind;
        self.target_id = id;
        self.target = label.to_owned();
        self
    }

    pub(crate) fn change<T: Serialize>(mut self, before: &T, after: &T) -> Audit {
        self.before = serde_json::to_string(before).ok();
        self.after = serde_json::to_string(after).ok();
        self
    }

    pub(crate) fn after<T: Serialize>(mut self, after: &T) -> Audit {
        self.after = serde_json::to_string(after).ok();
        self
    }

    pub(crate) fn entry(&self) -> NewAuditEntry<'_> {
        NewAuditEntry {
            actor_id: self.actor_id,
            actor: &self.actor,
            ip: &self.ip,
            action: self.action,
            target_kind: self.target_kind,
            target_id: self.target_id,
            target: &self.target,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
        }
    }
}

/// One page of the audit log.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditRecord>,
    /// Pass as `before_id` for the next (older) page.
    pub next_before_id: Option<i64>,
}

pub const AUDIT_PAGE_SIZE: i64 = 50;
/// The most rows one CSV export holds; narrow the filter for more.
pub const AUDIT_EXPORT_LIMIT: i64 = 100_000;

impl App {
    /// Appends an entry that goes with no other change.
    pub(crate) async fn audit(&self, audit: &Audit) -> AppResult<()> {
        self.store()
            .audit_log()
            .append_audit(&audit.entry(), self.now())
            .await?;
        Ok(())
    }

    /// A page of the audit log, newest first; admins only.
    pub async fn search_audit(&self, actor: &Actor, filter: &AuditFilter) -> AppResult<AuditPage> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        let mut entries = self
            .store()
            .audit_log()
            .search_audit(filter, AUDIT_PAGE_SIZE + 1)
            .await?;
        let next_before_id = if entries.len() as i64 > AUDIT_PAGE_SIZE {
            entries.truncate(AUDIT_PAGE_SIZE as usize);
            entries.last().map(|entry| entry.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before_id,
        })
    }

    /// The audit log as CSV, newest first. Cells that a spreadsheet would
    /// take for a formula are neutralized. The export itself is audited.
    pub async fn export_audit_csv(
        &self,
        caller: &Caller<'_>,
        filter: &AuditFilter,
    ) -> AppResult<String> {
        if !caller.actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        let entries = self
            .store()
            .audit_log()
            .search_audit(filter, AUDIT_EXPORT_LIMIT)
            .await?;
        let mut csv = format!(
            "{}id,time,actor,actor_id,ip,action,target_kind,target_id,target,before,after\r\n",
            crate::csv::BYTE_ORDER_MARK
        );
        for entry in &entries {
            let cells = [
                entry.id.to_string(),
                Timestamp(entry.occurred_at).date_time(),
                entry.actor.clone(),
                entry.actor_id.map(|id| id.to_string()).unwrap_or_default(),
                entry.ip.clone(),
                entry.action.clone(),
                entry.target_kind.clone(),
                entry.target_id.map(|id| id.to_string()).unwrap_or_default(),
                entry.target.clone(),
                entry.before_value.clone().unwrap_or_default(),
                entry.after_value.clone().unwrap_or_default(),
            ];
            csv.push_str(&crate::csv::line(&cells));
        }
        self.audit(&Audit::new(caller, "audit.exported").on("audit_log", None, "audit log"))
            .await?;
        Ok(csv)
    }
}
