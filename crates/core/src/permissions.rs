//! What an agent may do: permissions granted by permission groups, and
//! access to ticket departments. Groups only add; what no group grants is
//! refused.

use std::collections::{BTreeMap, BTreeSet};

/// One thing an agent may be allowed to do beyond seeing tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Send replies the requester sees.
    TicketReply,
    /// Add internal notes.
    TicketNote,
    /// Change status, urgency, department, labels, fields and assignment.
    TicketEdit,
    /// Merge one ticket into another.
    TicketMerge,
    /// Mark tickets as spam.
    TicketSpam,
    /// Delete tickets.
    TicketDelete,
    /// See users and organizations.
    PeopleView,
    /// Create and change users and organizations.
    PeopleEdit,
    /// Merge two users into one.
    PeopleMerge,
    /// Write knowledge-base articles and news.
    ContentManage,
    /// See reports.
    ReportsView,
    /// Write, change and delete the snippets and macros shared with every
    /// agent (everyone keeps their own).
    SharedManage,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::TicketReply,
        Permission::TicketNote,
        Permission::TicketEdit,
        Permission::TicketMerge,
        Permission::TicketSpam,
        Permission::TicketDelete,
        Permission::PeopleView,
        Permission::PeopleEdit,
        Permission::PeopleMerge,
        Permission::ContentManage,
        Permission::ReportsView,
        Permission::SharedManage,
    ];

    /// The stored and submitted name.
    pub fn key(self) -> &'static str {
        match self {
            Permission::TicketReply => "tickets.reply",
            Permission::TicketNote => "tickets.note",
            Permission::TicketEdit => "tickets.edit",
            Permission::TicketMerge => "tickets.merge",
            Permission::TicketSpam => "tickets.spam",
            Permission::TicketDelete => "tickets.delete",
            Permission::PeopleView => "people.view",
            Permission::PeopleEdit => "people.edit",
            Permission::PeopleMerge => "people.merge",
            Permission::ContentManage => "content.manage",
            Permission::ReportsView => "reports.view",
            Permission::SharedManage => "shared.manage",
        }
    }

    pub fn from_key(key: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.key() == key)
    }

    /// What the admin pages call it.
    pub fn label(self) -> &'static str {
        match self {
            Permission::TicketReply => "Reply to tickets",
            Permission::TicketNote => "Add internal notes",
            Permission::TicketEdit => "Change ticket properties and assignment",
            Permission::TicketMerge => "Merge tickets",
            Permission::TicketSpam => "Mark tickets as spam",
            Permission::TicketDelete => "Delete tickets",
            Permission::PeopleView => "See users and organizations",
            Permission::PeopleEdit => "Create and edit users and organizations",
            Permission::PeopleMerge => "Merge users",
            Permission::ContentManage => "Write knowledge-base articles and news",
            Permission::ReportsView => "See reports",
            Permission::SharedManage => {
                "Manage shared snippets and macros, and share views with teams"
            }
        }
    }

    /// Permissions whose use cannot simply be undone: left out of the
    /// built-in "All non-destructive permissions" group.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Permission::TicketMerge
                | Permission::TicketSpam
                | Permission::TicketDelete
                | Permission::PeopleMerge
        )
    }
}

/// How far an agent reaches into one department's tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepartmentAccess {
    /// Tickets can be assigned to the agent there, and the agent sees only
    /// those assigned to them (or their teams) and those they follow.
    AssignOnly,
    /// Every ticket of the department.
    Full,
}

impl DepartmentAccess {
    pub fn key(self) -> &'static str {
        match self {
            DepartmentAccess::AssignOnly => "assign",
            DepartmentAccess::Full => "full",
        }
    }

    pub fn from_key(key: &str) -> Option<DepartmentAccess> {
        match key {
            "assign" => Some(DepartmentAccess::AssignOnly),
            "full" => Some(DepartmentAccess::Full),
            _ => None,
        }
    }
}

/// The built-in groups, which cannot be edited or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltInGroup {
    /// Every permission, full access to every department.
    All,
    /// Every permission that is not destructive, full access to every
    /// department.
    NonDestructive,
}

impl BuiltInGroup {
    pub fn key(self) -> &'static str {
        match self {
            BuiltInGroup::All => "all",
            BuiltInGroup::NonDestructive => "non_destructive",
        }
    }

    pub fn from_key(key: &str) -> Option<BuiltInGroup> {
        match key {
            "all" => Some(BuiltInGroup::All),
            "non_destructive" => Some(BuiltInGroup::NonDestructive),
            _ => None,
        }
    }

    pub fn permissions(self) -> BTreeSet<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|permission| self == BuiltInGroup::All || !permission.is_destructive())
            .collect()
    }
}

/// Everything one agent may do, from all their groups together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectivePermissions {
    pub permissions: BTreeSet<Permission>,
    /// Full access to every department, present and future (built-in groups
    /// and admins).
    pub all_departments: bool,
    /// Access per department id; the strongest grant wins.
    pub departments: BTreeMap<i64, DepartmentAccess>,
}

impl EffectivePermissions {
    /// Everything: what admins have.
    pub fn everything() -> EffectivePermissions {
        EffectivePermissions {
            permissions: Permission::ALL.into_iter().collect(),
            all_departments: true,
            departments: BTreeMap::new(),
        }
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn department_access(&self, department_id: i64) -> Option<DepartmentAccess> {
        if self.all_departments {
            return Some(DepartmentAccess::Full);
        }
        self.departments.get(&department_id).copied()
    }

    /// Adds one group's grants.
    pub fn add_built_in(&mut self, group: BuiltInGroup) {
        self.permissions.extend(group.permissions());
        self.all_departments = true;
    }

    pub fn add_permission(&mut self, permission: Permission) {
        self.permissions.insert(permission);
    }

    /// Grants `access` to a department, keeping a stronger earlier grant.
    pub fn add_department(&mut self, department_id: i64, access: DepartmentAccess) {
        let entry = self.departments.entry(department_id).or_insert(access);
        if access > *entry {
            *entry = access;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_unique() {
        let keys: BTreeSet<_> = Permission::ALL.iter().map(|p| p.key()).collect();
        assert_eq!(keys.len(), Permission::ALL.len());
        for permission in Permission::ALL {
            assert_eq!(Permission::from_key(permission.key()), Some(permission));
        }
        assert_eq!(Permission::from_key("tickets.everything"), None);
        for access in [DepartmentAccess::AssignOnly, DepartmentAccess::Full] {
            assert_eq!(DepartmentAccess::from_key(access.key()), Some(access));
        }
    }

    #[test]
    fn nothing_is_granted_by_default_and_grants_only_add() {
        let mut effective = EffectivePermissions::default();
        assert!(!effective.has(Permission::TicketReply));
        assert_eq!(effective.department_access(1), None);
        effective.add_department(1, DepartmentAccess::Full);
        effective.add_department(1, DepartmentAccess::AssignOnly);
        effective.add_department(2, DepartmentAccess::AssignOnly);
        assert_eq!(effective.department_access(1), Some(DepartmentAccess::Full));
        assert_eq!(
            effective.department_access(2),
            Some(DepartmentAccess::AssignOnly)
        );
        assert_eq!(effective.department_access(3), None);
    }

    #[test]
    fn the_non_destructive_group_leaves_out_deleting_spam_and_merging() {
        let group = BuiltInGroup::NonDestructive.permissions();
        assert!(group.contains(&Permission::TicketReply));
        for destructive in [
            Permission::TicketDelete,
            Permission::TicketSpam,
            Permission::TicketMerge,
            Permission::PeopleMerge,
        ] {
            assert!(!group.contains(&destructive));
        }
        assert_eq!(BuiltInGroup::All.permissions().len(), Permission::ALL.len());
    }
}
