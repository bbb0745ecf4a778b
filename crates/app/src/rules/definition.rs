//! What a trigger is, as stored: the events it watches, who and which
//! channel it answers to, its criteria (all of one group and any of the
//! other) and its actions, in order. Ids, not names, so renaming a
//! department leaves the rule pointing at it.

use serde::{Deserialize, Serialize};

/// The ticket events a trigger can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEvent {
    NewTicket,
    /// A message the requester sees, from the user or an agent.
    NewReply,
    /// Properties changed, a note was added, or a rule changed the ticket.
    TicketUpdated,
}

impl TriggerEvent {
    pub const ALL: [TriggerEvent; 3] = [
        TriggerEvent::NewTicket,
        TriggerEvent::NewReply,
        TriggerEvent::TicketUpdated,
    ];

    pub fn key(self) -> &'static str {
        match self {
            TriggerEvent::NewTicket => "new_ticket",
            TriggerEvent::NewReply => "new_reply",
            TriggerEvent::TicketUpdated => "ticket_updated",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TriggerEvent::NewTicket => "New ticket",
            TriggerEvent::NewReply => "New reply",
            TriggerEvent::TicketUpdated => "Ticket updated",
        }
    }

    pub fn from_key(key: &str) -> Option<TriggerEvent> {
        TriggerEvent::ALL
            .into_iter()
            .find(|event| event.key() == key)
    }
}

/// Who made the change a trigger looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A help-center user or a customer writing by mail.
    User,
    /// An agent in the agent interface (or answering by mail).
    Agent,
    /// Another trigger.
    Rule,
    /// A program, through the REST API.
    Api,
}

impl ActorKind {
    pub const ALL: [ActorKind; 4] = [
        ActorKind::User,
        ActorKind::Agent,
        ActorKind::Rule,
        ActorKind::Api,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Agent => "agent",
            ActorKind::Rule => "rule",
            ActorKind::Api => "api",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ActorKind::User => "A user",
            ActorKind::Agent => "An agent",
            ActorKind::Rule => "A rule",
            ActorKind::Api => "The API",
        }
    }

    pub fn from_key(key: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|kind| kind.key() == key)
    }
}

/// The channels a change can come through, as messages record them.
pub const CHANNELS: [(&str, &str); 5] = [
    ("web", "Help center"),
    ("email", "Email"),
    ("api", "API"),
    ("agent", "Agent interface"),
    ("chat", "Chat"),
];

/// What a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum ConditionField {
    Status,
    Urgency,
    Priority,
    Department,
    Team,
    Agent,
    Labels,
    Subject,
    /// The text of the event's message (empty without one).
    Message,
    RequesterEmail,
    RequesterName,
    Organization,
    /// A custom field, by id.
    Field(i64),
    /// Whether the event happens within a business-hours calendar's
    /// working time (the value is the calendar's id).
    BusinessHours,
    /// The requester's answer to the satisfaction survey (`good` or
    /// `bad`), as the event that records it changes it.
    Satisfaction,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Is,
    IsNot,
    Contains,
    NotContains,
    /// A regular expression (linear-time engine, size-limited).
    Matches,
    Greater,
    Less,
    /// Changed by this event, to anything.
    Changed,
    ChangedFrom,
    ChangedTo,
    Within,
    Outside,
}

impl Operator {
    pub const ALL: [Operator; 12] = [
        Operator::Is,
        Operator::IsNot,
        Operator::Contains,
        Operator::NotContains,
        Operator::Matches,
        Operator::Greater,
        Operator::Less,
        Operator::Changed,
        Operator::ChangedFrom,
        Operator::ChangedTo,
        Operator::Within,
        Operator::Outside,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Operator::Is => "is",
            Operator::IsNot => "is_not",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::Matches => "matches",
            Operator::Greater => "greater",
            Operator::Less => "less",
            Operator::Changed => "changed",
            Operator::ChangedFrom => "changed_from",
            Operator::ChangedTo => "changed_to",
            Operator::Within => "within",
            Operator::Outside => "outside",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Operator::Is => "is",
            Operator::IsNot => "is not",
            Operator::Contains => "contains",
            Operator::NotContains => "does not contain",
            Operator::Matches => "matches the pattern",
            Operator::Greater => "is more than",
            Operator::Less => "is less than",
            Operator::Changed => "changed",
            Operator::ChangedFrom => "changed from",
            Operator::ChangedTo => "changed to",
            Operator::Within => "is within the hours of",
            Operator::Outside => "is outside the hours of",
        }
    }

    pub fn from_key(key: &str) -> Option<Operator> {
        Operator::ALL
            .into_iter()
            .find(|operator| operator.key() == key)
    }

    /// Whether the operator needs a value.
    pub fn takes_value(self) -> bool {
        self != Operator::Changed
    }
}

impl ConditionField {
    /// The operators that make sense for the field.
    pub fn operators(self) -> &'static [Operator] {
        use Operator::*;
        match self {
            ConditionField::Status
            | ConditionField::Priority
            | ConditionField::Department
            | ConditionField::Team
            | ConditionField::Agent => &[Is, IsNot, Changed, ChangedFrom, ChangedTo],
            ConditionField::Urgency => &[Is, IsNot, Greater, Less, Changed, ChangedFrom, ChangedTo],
            ConditionField::Labels => &[Contains, NotContains, Changed],
            ConditionField::Subject
            | ConditionField::Message
            | ConditionField::RequesterEmail
            | ConditionField::RequesterName => &[Is, IsNot, Contains, NotContains, Matches],
            ConditionField::Organization => &[Is, IsNot],
            ConditionField::Field(_) => &[Is, IsNot, Contains, NotContains, Matches, Changed],
            ConditionField::BusinessHours => &[Within, Outside],
            ConditionField::Satisfaction => &[Changed, ChangedTo],
        }
    }
}

/// One criterion: a field, how it compares, and the value (an id, a
/// status key, a number or text, as the field takes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub field: ConditionField,
    pub operator: Operator,
    #[serde(default)]
    pub value: String,
}

/// Who a rule's mail goes to. Addresses come from the ticket's own
/// people or from the rule itself, never from what someone wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipients {
    Requester,
    Ccs,
    /// The agent the ticket is assigned to.
    Agent,
    /// The members of the ticket's team.
    Team,
    /// The agents with full access to the ticket's department.
    DepartmentAgents,
    /// The managers of the requester's organization.
    OrganizationManagers,
    /// The fixed address the rule names.
    Address,
}

/// How a rule picks an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "how", content = "id")]
pub enum Assignment {
    Agent(i64),
    Nobody,
    /// The team's members in turn, after the one the trigger picked last.
    RoundRobin(i64),
    /// The team's member with the fewest tickets awaiting an agent.
    LeastOpen(i64),
}

/// Which of the agents' notification mails an action sends. Each agent's
/// own notification settings and access to the ticket still decide, when
/// the mail is composed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentNoticeKind {
    /// To the agents with full access to the ticket's department.
    NewTicket,
    /// To the assigned agent and the ticket's followers.
    UserReply,
    /// To the agent and the team the ticket is assigned to.
    Assigned,
}

impl AgentNoticeKind {
    /// The notification job's event name.
    pub fn event(self) -> &'static str {
        match self {
            AgentNoticeKind::NewTicket => crate::notifications::NEW_TICKET,
            AgentNoticeKind::UserReply => crate::notifications::USER_REPLY,
            AgentNoticeKind::Assigned => crate::notifications::ASSIGNED,
        }
    }

    /// Who hears, in words.
    pub fn recipients(self) -> &'static str {
        match self {
            AgentNoticeKind::NewTicket => "the department's agents of the new ticket",
            AgentNoticeKind::UserReply => "the assigned agent and the followers of the reply",
            AgentNoticeKind::Assigned => "the assigned agent and team",
        }
    }
}

/// One thing a trigger does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum RuleAction {
    SetStatus {
        status: String,
    },
    SetUrgency {
        urgency: i64,
    },
    AddUrgency {
        amount: i64,
    },
    SubtractUrgency {
        amount: i64,
    },
    /// `None` clears it.
    SetPriority {
        priority_id: Option<i64>,
    },
    SetDepartment {
        department_id: i64,
    },
    SetTeam {
        team_id: Option<i64>,
    },
    Assign {
        assignment: Assignment,
    },
    AddLabels {
        labels: Vec<String>,
    },
    RemoveLabels {
        labels: Vec<String>,
    },
    /// A custom field's canonical value (empty clears it).
    SetField {
        field_id: i64,
        value: String,
    },
    AddCc {
        email: String,
    },
    Follow {
        agent_id: i64,
    },
    /// A mail from a template (rendered in the sandbox).
    Email {
        to: Recipients,
        #[serde(default)]
        address: String,
        subject: String,
        body: String,
    },
    /// An internal note (a template, rendered in the sandbox).
    AddNote {
        body: String,
    },
    CallWebhook {
        webhook_id: i64,
    },
    /// The receipt of a new ticket to its requester: the "Ticket received"
    /// mail template, with the requester's own link to the ticket,
    /// threaded under their mail when it came by mail.
    SendReceipt,
    /// The agents' notification mail of one kind.
    NotifyAgents {
        notice: AgentNoticeKind,
    },
    /// No trigger after this one runs for the event.
    Stop,
}

/// A trigger's definition: stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerDefinition {
    pub events: Vec<TriggerEvent>,
    /// Empty: whoever acted.
    pub actors: Vec<ActorKind>,
    /// Empty: any channel.
    pub channels: Vec<String>,
    /// Every one must hold.
    pub all: Vec<Condition>,
    /// At least one must hold (when there are any).
    pub any: Vec<Condition>,
    pub actions: Vec<RuleAction>,
}
