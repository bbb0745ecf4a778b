//! Ferrodesk's use cases: every read and write a person, an API key or the
//! command line can make. Each takes the acting party into account and checks
//! what it may do, so the pages and the API cannot differ in what they allow.

mod accounts;
mod agents;
mod api_keys;
mod api_limits;
mod attachments;
mod audit;
mod business_hours;
pub mod chat;
pub mod csv;
mod departments;
mod directory_cache;
mod error;
mod error_log;
mod event_cursor;
mod front_page;
mod hostnames;
mod inbound;
mod jobs;
mod knowledge_base;
mod live;
mod login_locks;
mod macros;
mod mail;
pub mod markdown;
mod news;
mod notifications;
mod passwords;
mod people;
mod permissions;
mod portal;
mod presence;
mod registration;
pub mod reports;
pub mod rules;
mod saved_views;
mod search;
mod secrets;
mod seed;
mod sessions;
mod settings;
mod setup;
mod signatures;
mod snippets;
mod surveys;
mod ticket_fields;
mod ticket_search;
mod tickets;
mod time_zones;
mod totp;
mod trusted_ips;
mod two_factor;
pub mod webhooks;

pub use accounts::{
    AccountKind, AgentSummary, INVITATION_LIFETIME, NewAccount, PasswordLinkTarget,
    RESET_LINK_LIFETIME, ResetLink,
};
pub use agents::{AgentAction, AgentDetail, LOGIN_LOG_PAGE_SIZE};
pub use api_keys::{API_SCOPES, ApiCaller, ApiKeyInput, CreatedApiKey, ScopePatterns};
pub use api_limits::ApiVerdict;
pub use attachments::{AttachmentDownload, Upload, UploadedFile, is_inline_image_type};
pub use audit::{AUDIT_PAGE_SIZE, AuditPage, Caller};
pub use business_hours::{CalendarInput, CalendarView, DAY_FIELDS};
pub use departments::{DepartmentNode, department_tree, with_descendants};
pub use error::{AppError, AppResult, FieldErrors};
pub use error_log::ServerError;
pub use ferrodesk_mail::inbound::MAX_INBOUND_BYTES as MAX_INBOUND_MAIL_BYTES;
pub use ferrodesk_mail::{Security, SmtpConfig, TemplateError, TemplateKind};
pub use ferrodesk_store::{
    ApiKeyRecord, AuditFilter, AuditRecord, ErrorLogEntry, IpVerification, LoginFilter,
    LoginRecord, MemberRecord, OwnSession, PermissionGroupRecord, TeamRecord, TrustedIp,
};
pub use ferrodesk_store::{
    ArticleCategoryRecord, ArticleCommentRecord, ArticleRecord, ArticleSummary,
};
pub use ferrodesk_store::{
    AttachmentRecord, MessageRecord, TicketFieldRecord, TicketLogRecord, TicketPriorityRecord,
    TicketRecord,
};
pub use ferrodesk_store::{DeliveryRecord, TicketOrder, TicketSortKey, WebhookRecord};
pub use ferrodesk_store::{
    EmailAccountRecord, EmailAccountWrite, JobRecord, LinkPurpose, MailRecord,
};
pub use ferrodesk_store::{
    ImapFetchState, InboundMailRecord, NotificationPreferences, TicketEventRecord,
};
pub use ferrodesk_store::{NewsCategoryRecord, NewsPostRecord};
pub use ferrodesk_store::{OrganizationRecord, PersonEmail, UserRecord};
pub use front_page::{CategoryTile, FrontPage};
pub use hostnames::confirmed_hostname;
pub use inbound::{
    EmailAccountInput, EmailAccountView, FetchReport, InboundOutcome, REJECTIONS_PAGE_SIZE,
    RejectionPage,
};
pub use jobs::{WorkerConfig, Workers};
pub use knowledge_base::{
    ARTICLE_STATUSES, ArticleEditor, ArticleInput, ArticlePage, CategoryNode, CategoryPage,
    KnowledgeBaseHome, VIEW_FLUSH_INTERVAL, category_tree, slug_from, voter_key,
};
pub use live::EventAudience;
pub use login_locks::{ProxyWarning, UnlockLink, login_source};
pub use macros::{MacroActions, MacroAssignee, MacroChoices, MacroInput, MacroPreview, MacroView};
pub use mail::{
    PRODUCT_NAME, SmtpSettingsInput, SmtpSettingsView, SmtpSource, TemplateEditor,
    TemplateOverview, TemplatePreview, TemplateText, hide_tokens,
};
pub use news::{NEWS_PAGE_SIZE, NewsPage};
pub use people::{
    DIRECTORY_PAGE_SIZE, DirectoryList, DirectoryQuery, OrganizationDetail, UserDetail, UserInput,
};
pub use permissions::{AgentAccess, GroupInput, PermissionGroupDetail};
pub use portal::{
    PORTAL_PAGE_SIZE, PortalListQuery, PortalReplyInput, PortalStateFilter, PortalTicketInput,
    PortalTicketList, PortalTicketOutcome, PortalTicketView,
};
pub use presence::{PresentAgent, RENEW_EVERY, TicketWatch};
pub use registration::{
    ConfirmationOutcome, EMAIL_VERIFICATION_LIFETIME, RegistrationInput, RegistrationOutcome,
};
pub use saved_views::{DEFAULT_COLUMNS, SavedView, VIEW_COLUMNS, ViewInput, is_list_filters};
pub use search::{SearchOutcome, SearchResult, search_terms};
pub use secrets::{InstanceKey, InstanceKeyError};
pub use seed::{SEED_PASSWORD, SeedPlan, SeedSummary};
pub use sessions::{Actor, LoginAttempt, LoginOutcome, OpenedSession, SignedIn};
pub use settings::{
    ApiSettings, AttachmentLimits, Audience, Branding, HelpCenterSettings, IpAllowList,
    LoginLimits, LoginMonitoring, MAX_ATTACHMENT_MIB, MAX_FILES_PER_MESSAGE, MAX_TRUST_DAYS,
    MAX_TWO_FACTOR_GRACE_DAYS, MailInInput, MailInSettings, RegistrationMode, SessionLimits,
    Settings, SurveySettings, TwoFactorPolicy, parse_range,
};
pub use signatures::{MAX_SIGNATURE_CHARS, SIGNATURE_PLACEHOLDERS, SignatureView};
pub use snippets::{
    MAX_SNIPPET_CHARS, SNIPPET_PLACEHOLDERS, SnippetInput, SnippetLibrary, SnippetView,
};
pub use surveys::{Rating, SurveyView};
pub use ticket_fields::{FieldInput, FieldView, fields_as_sent};
pub use ticket_search::{
    SEARCH_PAGE_SIZE, TicketSearchHit, TicketSearchInput, TicketSearchPage, parse_query,
};
pub use tickets::{
    AgentContext, AgentListPage, BULK_LIMIT, BulkAction, BulkChoices, BulkOutcome, BulkTicket,
    Channel, FieldValues, LIST_COUNT_CAP, ListView, LogNames, NewTicket, Parsed, PostedMessage,
    ReplyInput, Requester, RequesterCard, SORT_WITHOUT_INDEX_LIMIT, StatusFilter,
    TICKET_EXPORT_COLUMNS, TICKET_LOCK_DURATION, TICKET_PAGE_SIZE, TicketChange, TicketExport,
    TicketKey, TicketList, TicketListQuery, TicketNeighbours, TicketState, TicketThread,
    TicketView, describe_log_entry, parsed,
};
pub use trusted_ips::{IP_VERIFICATION_LIFETIME, canonical_ip};
pub use two_factor::{
    ChallengeAnswer, LOGIN_CHALLENGE_LIFETIME, TwoFactorOverview, TwoFactorSetup,
};

use std::sync::Arc;

use ferrodesk_core::{Clock, SystemClock, Timestamp};
use ferrodesk_store::Store;

/// The application: the store plus everything the use cases share. Cheap to
/// clone; every clone is the same application.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    key: InstanceKey,
    passwords: passwords::PasswordHasher,
    settings: settings::SettingsCache,
    clock: Arc<dyn Clock>,
    public_url: String,
    setup: setup::SetupToken,
    /// `FERRODESK_SMTP_URL`, which overrides the admin's SMTP settings.
    smtp_override: Option<SmtpConfig>,
    mailer: mail::MailerCache,
    /// Wakes this node's idle workers when a job is queued here.
    job_queued: tokio::sync::Notify,
    /// Wakes this node's mail fetching when an admin saves an account.
    mail_account_saved: tokio::sync::Notify,
    /// Where attachments are kept; without it nothing can be attached.
    blobs: Option<attachments::BlobStore>,
    /// Article views counted since the last flush, by article id: reading
    /// an article writes nothing, so readers never queue behind writers.
    article_views: knowledge_base::ViewCounter,
    article_cache: knowledge_base::ArticleCache,
    search_vocabulary: search::VocabularyCache,
    ticket_counts: tickets::TicketCountCache,
    directory: directory_cache::DirectoryCache,
    live: live::LiveHub,
    presence: presence::PresenceBoard,
    chat: chat::ChatHub,
    sort_without_index_limit: i64,
    outbound_policy: webhooks::OutboundPolicy,
    triggers: rules::RuleCache<rules::TriggerSet>,
    escalations: rules::RuleCache<rules::EscalationSet>,
    slas: rules::RuleCache<rules::SlaSet>,
    forwarding_notes: login_locks::ForwardingNotes,
    api_allowances: api_limits::ApiAllowances,
}

/// How an application is set up besides its store and key.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The address people reach this instance at, without a trailing slash;
    /// links in mail and on the command line start with it.
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
    /// Mail server from the environment, instead of the admin's settings.
    pub smtp_override: Option<SmtpConfig>,
    /// The directory attachments are stored in (in the data directory).
    pub blob_dir: Option<std::path::PathBuf>,
    /// See `SORT_WITHOUT_INDEX_LIMIT` (tests lower it).
    pub sort_without_index_limit: i64,
    /// Internal ranges webhooks may reach anyway (`FERRODESK_WEBHOOK_ALLOW`).
    pub outbound_policy: webhooks::OutboundPolicy,
}

impl AppOptions {
    pub fn new(public_url: &str) -> AppOptions {
        AppOptions {
            public_url: public_url.to_owned(),
            clock: Arc::new(SystemClock),
            smtp_override: None,
            blob_dir: None,
            sort_without_index_limit: SORT_WITHOUT_INDEX_LIMIT,
            outbound_policy: webhooks::OutboundPolicy::default(),
        }
    }
}

impl App {
    /// `public_url` is the address people reach this instance at, without a
    /// trailing slash; links in mail and on the command line start with it.
    pub async fn new(store: Store, key: InstanceKey, public_url: &str) -> AppResult<App> {
        App::with_clock(store, key, public_url, Arc::new(SystemClock)).await
    }

    pub async fn with_clock(
        store: Store,
        key: InstanceKey,
        public_url: &str,
        clock: Arc<dyn Clock>,
    ) -> AppResult<App> {
        let mut options = AppOptions::new(public_url);
        options.clock = clock;
        App::with_options(store, key, options).await
    }

    pub async fn with_options(
        store: Store,
        key: InstanceKey,
        options: AppOptions,
    ) -> AppResult<App> {
        let settings = settings::SettingsCache::load(&store, options.clock.now()).await?;
        let passwords = passwords::PasswordHasher::new().await?;
        // Every event committed from here on reaches this node's streams.
        let live = live::LiveHub::after(store.tickets().newest_ticket_event_id().await?);
        let chat = chat::ChatHub::after(store.chats().newest_chat_event_id().await?);
        Ok(App {
            inner: Arc::new(Inner {
                store,
                key,
                passwords,
                settings,
                clock: options.clock,
                public_url: options.public_url.trim_end_matches('/').to_owned(),
                setup: setup::SetupToken::default(),
                smtp_override: options.smtp_override,
                mailer: mail::MailerCache::default(),
                job_queued: tokio::sync::Notify::new(),
                mail_account_saved: tokio::sync::Notify::new(),
                blobs: options.blob_dir.map(attachments::BlobStore::new),
                article_views: knowledge_base::ViewCounter::default(),
                article_cache: knowledge_base::ArticleCache::default(),
                search_vocabulary: search::VocabularyCache::default(),
                ticket_counts: tickets::TicketCountCache::default(),
                directory: directory_cache::DirectoryCache::default(),
                live,
                presence: presence::PresenceBoard::new(),
                chat,
                sort_without_index_limit: options.sort_without_index_limit,
                outbound_policy: options.outbound_policy,
                triggers: rules::RuleCache::default(),
                escalations: rules::RuleCache::default(),
                slas: rules::RuleCache::default(),
                forwarding_notes: login_locks::ForwardingNotes::default(),
                api_allowances: api_limits::ApiAllowances::default(),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// Whether the database answers within a second.
    pub async fn database_ready(&self) -> bool {
        self.inner
            .store
            .ping(std::time::Duration::from_secs(1))
            .await
    }
}

#[cfg(test)]
impl App {
    /// An instance on an in-memory SQLite database with a fresh key, for
    /// unit tests of what needs the key or the settings.
    pub(crate) async fn for_tests() -> App {
        let store = Store::open("sqlite::memory:")
            .await
            .expect("an in-memory database");
        let key = InstanceKey::from_text(&InstanceKey::generate_text().expect("randomness"))
            .expect("a key");
        App::new(store, key, "https://help.example.org")
            .await
            .expect("an app")
    }
}
