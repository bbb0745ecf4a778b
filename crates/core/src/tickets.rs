//! Ticket statuses and the small rules about them.

/// Where a ticket stands. Spam and deleted are hidden from the usual lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketStatus {
    AwaitingAgent,
    AwaitingUser,
    Pending,
    Resolved,
    Archived,
    Spam,
    Deleted,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 7] = [
        TicketStatus::AwaitingAgent,
        TicketStatus::AwaitingUser,
        TicketStatus::Pending,
        TicketStatus::Resolved,
        TicketStatus::Archived,
        TicketStatus::Spam,
        TicketStatus::Deleted,
    ];

    /// The statuses the usual lists show.
    pub const VISIBLE: [TicketStatus; 5] = [
        TicketStatus::AwaitingAgent,
        TicketStatus::AwaitingUser,
        TicketStatus::Pending,
        TicketStatus::Resolved,
        TicketStatus::Archived,
    ];

    pub fn key(self) -> &'static str {
        match self {
            TicketStatus::AwaitingAgent => "awaiting_agent",
            TicketStatus::AwaitingUser => "awaiting_user",
            TicketStatus::Pending => "pending",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Archived => "archived",
            TicketStatus::Spam => "spam",
            TicketStatus::Deleted => "deleted",
        }
    }

    pub fn from_key(key: &str) -> Option<TicketStatus> {
        TicketStatus::ALL
            .into_iter()
            .find(|status| status.key() == key)
    }

    /// The statuses the lists show unless asked for more: everything
    /// still open.
    pub fn open() -> impl Iterator<Item = TicketStatus> {
        TicketStatus::VISIBLE
            .into_iter()
            .filter(|status| !matches!(status, TicketStatus::Resolved | TicketStatus::Archived))
    }

    pub fn label(self) -> &'static str {
        match self {
            TicketStatus::AwaitingAgent => "Awaiting agent",
            TicketStatus::AwaitingUser => "Awaiting user",
            TicketStatus::Pending => "Pending",
            TicketStatus::Resolved => "Resolved",
            TicketStatus::Archived => "Archived",
            TicketStatus::Spam => "Spam",
            TicketStatus::Deleted => "Deleted",
        }
    }

    /// Spam and deleted tickets leave the lists; only agents with the
    /// matching permission put tickets there or take them out.
    pub fn is_hidden(self) -> bool {
        matches!(self, TicketStatus::Spam | TicketStatus::Deleted)
    }

    /// What a ticket becomes when an agent sends a reply and picks nothing
    /// else: the ball is in the user's court.
    pub fn after_agent_reply() -> TicketStatus {
        TicketStatus::AwaitingUser
    }

    /// What a ticket becomes when its user writes.
    pub fn after_user_message() -> TicketStatus {
        TicketStatus::AwaitingAgent
    }
}

/// A status key the database or a request held that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ticket status {0:?}")]
pub struct UnknownStatus(pub String);

/// How statuses come out of the database: a stored key that names no
/// status is a decoding error, not a status to guess.
impl TryFrom<String> for TicketStatus {
    type Error = UnknownStatus;
    fn try_from(key: String) -> Result<TicketStatus, UnknownStatus> {
        TicketStatus::from_key(&key).ok_or(UnknownStatus(key))
    }
}

impl std::fmt::Display for TicketStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_two_are_hidden() {
        for status in TicketStatus::ALL {
            assert_eq!(TicketStatus::from_key(status.key()), Some(status));
        }
        assert_eq!(TicketStatus::from_key("open"), None);
        let hidden: Vec<_> = TicketStatus::ALL
            .into_iter()
            .filter(|s| s.is_hidden())
            .collect();
        assert_eq!(hidden, [TicketStatus::Spam, TicketStatus::Deleted]);
        assert!(
            TicketStatus::VISIBLE
                .iter()
                .all(|status| !status.is_hidden())
        );
    }
}
