//! Ferrodesk's domain types and rules. Nothing here performs I/O: every type can
//! only be built by parsing, so code that holds one never checks it again.

pub mod business_hours;
pub mod colour;
pub mod email;
pub mod labels;
pub mod message;
pub mod name;
pub mod password_policy;
pub mod permissions;
pub mod return_path;
pub mod secret;
pub mod ticket_fields;
pub mod ticket_ref;
pub mod tickets;
pub mod time;
pub mod urgency;
pub mod zone;

pub use business_hours::{BusinessCalendar, CalendarError, DayHours, Holiday};
pub use email::Email;
pub use labels::{Label, LabelError, Labels};
pub use message::{MessageText, Subject};
pub use name::{
    ItemName, ItemNameError, NAME_PATTERN, PersonName, VISIBLE_TEXT_PATTERN, hides_something,
    is_invisible_formatting,
};
pub use password_policy::{PasswordPolicy, PasswordProblem};
pub use permissions::{BuiltInGroup, DepartmentAccess, EffectivePermissions, Permission};
pub use return_path::ReturnPath;
pub use secret::Secret;
pub use ticket_fields::FieldKind;
pub use ticket_ref::TicketRef;
pub use tickets::TicketStatus;
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use urgency::Urgency;
pub use zone::{Zone, ZoneError};

/// The two browser surfaces that keep separate sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// The public help center, for end users.
    Portal,
    /// The agent and admin interfaces.
    Staff,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Portal => "portal",
            Surface::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<Surface> {
        match text {
            "portal" => Some(Surface::Portal),
            "staff" => Some(Surface::Staff),
            _ => None,
        }
    }
}
