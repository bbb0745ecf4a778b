//! Ferrodesk's persistence. One `Store` serves both SQLite and PostgreSQL: the
//! SQL is written once in the dialect both understand (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`, integers for times) and `on_backend!` compiles
//! each query against both drivers. Where the dialects truly differ, a query
//! says so in its own `match`.
//!
//! A bound row limit is written `LIMIT +$n` (and `OFFSET +$n`): SQLite
//! folds a bare bound `LIMIT $n` into the statement's plan, so each new
//! binding throws the prepared statement away and parses it again (about a
//! tenth of the agent list's CPU at a million tickets); behind a unary plus
//! the value stays a run-time one. PostgreSQL reads both the same.

mod api_keys;
mod audit;
mod backend;
mod business_hours;
mod chats;
mod departments;
mod dialect;
mod directory;
mod email_accounts;
mod error_log;
mod escalations;
mod inbound_mail;
mod jobs;
mod knowledge_base;
mod logins;
mod macros;
mod news;
mod notification_preferences;
mod outbox;
mod people;
mod permission_groups;
mod rate_limits;
mod registrations;
mod resets;
mod saved_reports;
mod search;
mod seed;
mod sessions;
mod settings;
mod slas;
mod snippets;
mod ticket_fields;
mod ticket_views;
mod tickets;
mod triggers;
mod trusted_ips;
mod two_factor;
mod webhooks;

pub use api_keys::{ApiKeyCredentials, ApiKeyRecord, NewApiKey};
pub use audit::{AuditFilter, AuditRecord, NewAuditEntry};
pub use backend::{Backend, ConnectError, Connections};
pub use business_hours::{CalendarRecord, CalendarWrite};
pub use chats::{
    CHAT_EVENTS_CHANNEL, CHAT_TYPING_CHANNEL, ChatAuthor, ChatEventRecord, ChatFile,
    ChatFileColumns, ChatMessageRecord, ChatRecord, Chats, NewChat,
};
pub use departments::{DeleteOutcome, DepartmentRecord, MemberRecord, TeamRecord};
pub use directory::{NamePage, OrganizationRecord, PersonEmail, UserChange, UserRecord};
pub use email_accounts::{EmailAccountRecord, EmailAccountWrite};
pub use error_log::{ErrorLogEntry, NewErrorLogEntry};
pub use escalations::{
    ESCALATION_BACKFILL_JOB_KIND, ESCALATION_JOB_KIND, EscalationRecord, EscalationWrite,
    TicketClock, TimerChange, TimerRecord,
};
pub use inbound_mail::{
    INBOUND_MAIL_JOB_KIND, INBOUND_MAIL_MAX_ATTEMPTS, ImapFetchState, InboundMailRecord,
    MailSource, NewInboundMail, Refusal, StoredSource, inbound_job_payload,
};
pub use jobs::{ClaimedJob, JobPriority, JobRecord, NewJob};
pub use knowledge_base::{
    ArticleCategoryRecord, ArticleCommentRecord, ArticleRecord, ArticleRevisionRecord,
    ArticleSummary, ArticleWrite, CategoryWrite,
};
pub use logins::{
    FailedLogin, FailureCount, LockedLogin, LockoutRule, LoginFilter, LoginRecord, NewLoginRecord,
    SecondFactorProof, SuccessfulLogin, lockout_key, source_key, source_lockout_key,
};
pub use macros::{MacroRecord, MacroWrite};
pub use news::{NewsCategoryRecord, NewsPostRecord, NewsWrite};
pub use notification_preferences::NotificationPreferences;
pub use outbox::{MAIL_JOB_KIND, MAIL_MAX_ATTEMPTS, MailRecord, NewMail, mail_job_payload};
pub use people::{
    ChangeOutcome, MAX_PASSWORD_HISTORY, NewPerson, Organization, PasswordChange, PersonChange,
    PersonRecord,
};
pub use permission_groups::{AgentGrants, GroupDefinition, GroupGrants, PermissionGroupRecord};
pub use registrations::{ConfirmedAddress, NewRegistration};
pub use resets::{LinkPurpose, NewPasswordLink};
pub use saved_reports::{
    REPORT_MAIL_JOB_KIND, ReportScheduleWrite, SavedReportRecord, SavedReportWrite,
};
pub use search::{MATCH_END, MATCH_START, SearchHit};
pub use seed::{SeedAttachment, SeedBatch, SeedIds, SeedMessage, SeedTicket, SeedUser};
pub use sessions::{NewSession, OwnSession, SESSION_ID_LENGTH, SessionRecord};
pub use slas::{
    NO_SLA_DUE, SLA_BACKFILL_JOB_KIND, SLA_BREACH_JOB_KIND, SlaRecord, SlaWrite, TargetRecord,
    TargetsWrite,
};
pub use snippets::{SnippetRecord, SnippetWrite};
pub use ticket_fields::{
    FieldValueRecord, TicketFieldDefinition, TicketFieldRecord, TicketPriorityRecord,
};
pub use ticket_views::{TicketViewRecord, TicketViewWrite};
pub use tickets::RatingRecord;
pub use tickets::{
    AGENT_NOTICE_JOB_KIND, AgentNotice, AttachmentRecord, Comparison, FromMail, MessageRecord,
    NewAttachment, NewLogEntry, NewMessage, NewTicketRow, RANKED_MATCHES, SearchCondition,
    SearchCounting, SearchFilter, SearchOrder, SearchPosition, SearchResults, StoredAttachment,
    TextQuery, TextTerm, TicketActor, TicketChangeMark, TicketFilter, TicketLogRecord, TicketPage,
    TicketProperties, TicketRecord, TicketSearch, TicketUpdate, Visibility,
};
pub use tickets::{
    AddressUse, AgentMessageLink, DashboardRows, DashboardWindow, OPEN_STATUSES, OpenedTicket,
    REPORT_GROUPS, ReportCount, ReportDataset, ReportDimension, ReportMeasured, ReportQuery,
    ReportScope, ReportValue,
};
pub use tickets::{
    Heard, PRESENCE_CHANNEL, RulesCue, TICKET_EVENTS_CHANNEL, TICKET_RULES_JOB_KIND,
    TicketEventKind, TicketEventListener, TicketEventRecord,
};
pub use tickets::{
    ListPosition, ListedTicket, SearchConstraint, SortValue, TicketOrder, TicketSortKey,
};
pub use tickets::{
    NewDelivery, RuleOutcome, RuleStep, RuleWrite, WEBHOOK_DELIVERY_ATTEMPTS,
    WEBHOOK_DELIVERY_JOB_KIND,
};
pub use triggers::{TriggerRecord, TriggerWrite};
pub use trusted_ips::{IpVerification, NewIpVerification, TrustSource, TrustedIp};
pub use two_factor::{LoginChallenge, NewLoginChallenge, TwoFactorState};
pub use webhooks::{DeliveryAttempt, DeliveryRecord, WebhookRecord, WebhookWrite};

/// The handles the store's operations are reached through, one per
/// aggregate: `store.tickets().get_ticket(id)`, `store.people()…`.
pub mod handles {
    pub use crate::api_keys::ApiKeys;
    pub use crate::audit::AuditLog;
    pub use crate::departments::Departments;
    pub use crate::directory::Directory;
    pub use crate::email_accounts::EmailAccounts;
    pub use crate::error_log::ErrorLog;
    pub use crate::escalations::Escalations;
    pub use crate::inbound_mail::InboundMail;
    pub use crate::jobs::Jobs;
    pub use crate::knowledge_base::KnowledgeBase;
    pub use crate::logins::Logins;
    pub use crate::macros::Macros;
    pub use crate::news::News;
    pub use crate::notification_preferences::NotificationPrefs;
    pub use crate::outbox::Outbox;
    pub use crate::people::People;
    pub use crate::permission_groups::PermissionGroups;
    pub use crate::rate_limits::RateLimits;
    pub use crate::registrations::Registrations;
    pub use crate::resets::PasswordLinks;
    pub use crate::saved_reports::SavedReports;
    pub use crate::search::Search;
    pub use crate::seed::Seed;
    pub use crate::sessions::Sessions;
    pub use crate::settings::SettingRows;
    pub use crate::slas::Slas;
    pub use crate::snippets::Snippets;
    pub use crate::ticket_fields::TicketFields;
    pub use crate::ticket_views::TicketViews;
    pub use crate::tickets::Tickets;
    pub use crate::triggers::Triggers;
    pub use crate::trusted_ips::TrustedIps;
    pub use crate::two_factor::TwoFactor;
}

use std::time::Duration;

/// What can go wrong in the store. Database failures stay database failures:
/// nothing here turns one into "not found".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Turns a unique-constraint violation into a `Conflict` naming `what`.
    fn from_insert(error: sqlx::Error, what: &'static str) -> StoreError {
        match &error {
            sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
                StoreError::Conflict(what)
            }
            _ => StoreError::Database(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The handle every use case goes through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// Ticket writes through this store, for `ticket_change_mark`.
    ticket_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Writes through this store to agents, teams, departments, macros and
    /// saved views, for `directory_generation`.
    directory_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Woken when this process commits a ticket event (other nodes hear of
    /// theirs through `listen_for_ticket_events`).
    ticket_events: std::sync::Arc<tokio::sync::Notify>,
    /// Recent counts of search index matches (see `tickets::MatchCounts`).
    match_counts: std::sync::Arc<tickets::MatchCounts>,
    /// Woken when this process commits a chat event.
    chat_events: std::sync::Arc<tokio::sync::Notify>,
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds. The body
/// is type-checked once per driver, so a query that only one database can
/// decode fails to compile rather than at run time.
macro_rules! on_backend {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// As `on_backend!`, for a statement that writes outside a transaction:
/// on SQLite it waits for this process's write turn first (see
/// `backend::sqlite_write_turn`), so it queues behind other writers
/// instead of polling SQLite's lock and sleeping.
macro_rules! on_backend_write {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => {
                let _turn = $crate::backend::sqlite_write_turn($pool).await;
                $body
            }
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend_write;

impl Store {
    /// Opens the database named by `url` (`sqlite:…` or `postgres://…`),
    /// applying pending migrations.
    pub async fn open(url: &str) -> Result<Store, ConnectError> {
        let backend = Backend::connect(url).await?;
        backend.migrate().await?;
        Ok(Store {
            backend,
            ticket_writes: Default::default(),
            directory_writes: Default::default(),
            ticket_events: Default::default(),
            match_counts: Default::default(),
            chat_events: Default::default(),
        })
    }

    /// Opens the database with one connection and migrates it only when a
    /// migration is missing: for short-lived commands (the mail pipe) that
    /// should not pay for more connections or the migrator's lock on every
    /// run.
    pub async fn open_checked(url: &str) -> Result<Store, ConnectError> {
        let backend = Backend::connect_with(url, Connections::One).await?;
        if !backend.is_migrated().await {
            backend.migrate().await?;
        }
        Ok(Store {
            backend,
            ticket_writes: Default::default(),
            directory_writes: Default::default(),
            ticket_events: Default::default(),
            match_counts: Default::default(),
            chat_events: Default::default(),
        })
    }

    /// Opens the database without migrating it (for `ferrodesk migrate --check`
    /// and tools that must not change the schema).
    pub async fn open_without_migrating(url: &str) -> Result<Store, ConnectError> {
        Ok(Store {
            backend: Backend::connect(url).await?,
            ticket_writes: Default::default(),
            directory_writes: Default::default(),
            ticket_events: Default::default(),
            match_counts: Default::default(),
            chat_events: Default::default(),
        })
    }

    /// Moves whenever this process has changed agents, teams, departments,
    /// macros or saved views: what caches of them compare (another node's
    /// changes are not counted; such caches also expire).
    pub fn directory_generation(&self) -> u64 {
        self.directory_writes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Called after a write to what `directory_generation` covers.
    pub(crate) fn directory_changed(&self) {
        self.directory_writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        self.backend.migrate().await
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Answers whether the database responds within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> bool {
        let probe = async {
            on_backend!(self, pool => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool).await)
        };
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(1)))
    }

    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await);
    }
}
