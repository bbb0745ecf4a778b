//! Ferrodesk's use cases: every read and write a person, an API key or the
//! command line can make. Each takes the acting party into account and checks
//! what it may do, so the pages and the API cannot differ in what they allow.

mod accounts;
mod error;
mod error_log;
mod passwords;
mod secrets;
mod sessions;
mod settings;
mod setup;

pub use accounts::{AccountKind, AgentSummary, NewAccount, ResetLink};
pub use error::{AppError, AppResult, FieldErrors};
pub use error_log::ServerError;
pub use secrets::{InstanceKey, InstanceKeyError};
pub use sessions::{Actor, LoginAttempt, OpenedSession, SignedIn};
pub use settings::{SessionLimits, Settings};

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
        let settings = settings::SettingsCache::load(&store, clock.now()).await?;
        let passwords = passwords::PasswordHasher::new().await?;
        Ok(App {
            inner: Arc::new(Inner {
                store,
                key,
                passwords,
                settings,
                clock,
                public_url: public_url.trim_end_matches('/').to_owned(),
                setup: setup::SetupToken::default(),
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
