//! `spawn_app`: a real server on port 0 with its own fresh database, and a
//! cookie-keeping client that does not follow redirects.

use std::sync::Arc;
use std::time::Duration;

use ferrodesk_app::{
    AccountKind, App, AppOptions, InstanceKey, NewAccount, SmtpConfig, WorkerConfig, Workers,
};
use ferrodesk_core::{ManualClock, Secret};
use ferrodesk_store::{PersonRecord, Store};
use ferrodesk_testkit::{Backend, TestDatabase};
use ferrodesk_web::{AllowList, TrustedProxies, WebConfig};
use reqwest::header::HeaderMap;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub database: TestDatabase,
    workers: Option<Workers>,
    stop_server: Option<tokio::sync::oneshot::Sender<()>>,
    options: Options,
}

#[derive(Default, Clone)]
pub struct Options {
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<&'static str>,
    /// `FERRODESK_SMTP_URL` for the app.
    pub smtp_url: Option<String>,
    pub admin_allow: Vec<&'static str>,
    pub agent_allow: Vec<&'static str>,
    /// `FERRODESK_BENCH_BASELINE_BYTES`.
    pub baseline_bytes: Option<usize>,
}

/// Workers that notice new jobs quickly, for tests that wait for mail.
pub fn test_workers() -> WorkerConfig {
    WorkerConfig {
        workers: 2,
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
        mail_fetch_tick: Duration::from_millis(200),
        scheduler_tick: Duration::from_millis(100),
        ..WorkerConfig::default()
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> Option<TestApp> {
    let database = TestDatabase::fresh(backend).await?;
    let clock = Arc::new(ManualClock::starting_now());
    Some(start_on(database, clock, options).await)
}

/// Starts the app, its workers and its server on an existing database.
async fn start_on(database: TestDatabase, clock: Arc<ManualClock>, options: Options) -> TestApp {
    let store = Store::open(&database.url)
        .await
        .expect("open the test database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| address.clone());
    let key = InstanceKey::from_text("test-instance-key-0123456789abcdef").expect("key");
    let mut app_options = AppOptions::new(&public_url);
    app_options.clock = clock.clone();
    app_options.smtp_override = options
        .smtp_url
        .as_deref()
        .map(|url| SmtpConfig::from_url(url).expect("test SMTP URL"));
    app_options.blob_dir = Some(ferrodesk_testkit::unique_temp_path("ferrodesk-blobs"));
    // Webhook receivers in tests listen on IPv4 loopback, which the
    // operator's allow-list (`FERRODESK_WEBHOOK_ALLOW`) lets through here;
    // every other internal address stays refused.
    app_options.outbound_policy =
        ferrodesk_app::webhooks::OutboundPolicy::new(vec!["127.0.0.1/32".parse().expect("range")]);
    let app = App::with_options(store, key, app_options)
        .await
        .expect("app");
    let config = WebConfig {
        baseline_bytes: options.baseline_bytes,
        public_url,
        trusted_proxies: TrustedProxies::new(
            options
                .trusted_proxies
                .iter()
                .map(|r| r.parse().unwrap())
                .collect(),
        ),
        admin_allow: AllowList::new(
            options
                .admin_allow
                .iter()
                .map(|r| r.parse().unwrap())
                .collect(),
        ),
        agent_allow: AllowList::new(
            options
                .agent_allow
                .iter()
                .map(|r| r.parse().unwrap())
                .collect(),
        ),
    };
    let router = ferrodesk_web::router(app.clone(), config);
    let limits = ferrodesk_web::ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 64,
    };
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ferrodesk_web::serve(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    let workers = Some(app.start_workers(test_workers()));
    TestApp {
        address,
        client: new_client(),
        app,
        clock,
        database,
        workers,
        stop_server: Some(stop_server),
        options,
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_token_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a csrf_token field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

impl TestApp {
    /// Stops the server and the workers as a shutdown would, then starts a
    /// new process's worth of app on the same database (a restart).
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let options = self.options.clone();
        start_on(self.database, self.clock, options).await
    }

    /// A restart after the helpdesk was down for `down`: the clock moves
    /// on while nothing runs.
    pub async fn restart_after(mut self, down: Duration) -> TestApp {
        self.stop().await;
        self.clock.advance(down);
        let options = self.options.clone();
        start_on(self.database, self.clock, options).await
    }

    /// Shuts the workers down and stops serving.
    pub async fn stop(&mut self) {
        if let Some(workers) = self.workers.take() {
            workers.shut_down().await;
        }
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        self.app.store().close().await;
    }

    /// Moves the clock on and wakes the workers, so retries that became due
    /// run now.
    pub fn advance_clock(&self, duration: Duration) {
        self.clock.advance(duration);
        self.app.wake_workers();
    }

    /// Another node on the same database: an app with its own workers,
    /// sending mail to `smtp_url` (so a test can tell the nodes' mail apart).
    pub async fn another_node(&self, smtp_url: &str) -> (App, Workers) {
        let store = Store::open(&self.database.url)
            .await
            .expect("open the database");
        let key = InstanceKey::from_text("test-instance-key-0123456789abcdef").expect("key");
        let mut options = AppOptions::new(self.app.public_url());
        options.clock = self.clock.clone();
        options.smtp_override = Some(SmtpConfig::from_url(smtp_url).expect("test SMTP URL"));
        let app = App::with_options(store, key, options).await.expect("app");
        let workers = app.start_workers(test_workers());
        (app, workers)
    }

    /// Another node on the same database serving HTTP on a port of its
    /// own, with the same public URL (as behind one load balancer):
    /// answers its address; it runs until the test ends.
    pub async fn another_node_serving(&self) -> (String, Workers) {
        let (app, workers) = self
            .another_node("smtp://127.0.0.1:9?from=help@example.org")
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = format!("http://{}", listener.local_addr().expect("local address"));
        let config = WebConfig {
            baseline_bytes: None,
            public_url: self.app.public_url().to_owned(),
            trusted_proxies: TrustedProxies::new(Vec::new()),
            admin_allow: AllowList::new(Vec::new()),
            agent_allow: AllowList::new(Vec::new()),
        };
        let router = ferrodesk_web::router(app, config);
        let limits = ferrodesk_web::ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            max_connections: 64,
        };
        tokio::spawn(ferrodesk_web::serve(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        (address, workers)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Loads `page` and returns the CSRF token of its form.
    pub async fn csrf_token(&self, page: &str) -> String {
        csrf_token_in(&self.get(page).await.text().await.unwrap())
    }

    pub async fn create_account(&self, email: &str, name: &str, kind: AccountKind) -> PersonRecord {
        let password = Secret::new(PASSWORD);
        let account = NewAccount {
            email,
            name,
            password: &password,
            password_confirmation: None,
        };
        self.app
            .create_account(&account, kind)
            .await
            .expect("create account")
    }

    pub async fn create_admin(&self) -> PersonRecord {
        self.create_account("admin@example.org", "Ada Admin", AccountKind::Admin)
            .await
    }

    pub async fn create_agent(&self) -> PersonRecord {
        self.create_account("agent@example.org", "Alan Agent", AccountKind::Agent)
            .await
    }

    /// Logs in through the staff login form, as a browser would.
    pub async fn log_in_staff(&self, email: &str, password: &str) -> reqwest::Response {
        let token = self.csrf_token("/agent/login").await;
        self.post_form(
            "/agent/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
        .await
    }

    pub async fn log_in_portal(&self, email: &str, password: &str) -> reqwest::Response {
        let token = self.csrf_token("/login").await;
        self.post_form(
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
        .await
    }

    pub async fn sessions_of(&self, person: &PersonRecord) -> i64 {
        self.app
            .store()
            .sessions()
            .count_sessions_of(person.id)
            .await
            .unwrap()
    }

    /// Runs one SQL statement directly on the test database.
    pub async fn execute_sql(&self, statement: &'static str) {
        self.database.execute(statement).await;
    }
}

/// Polls `check` until it holds, failing the test after 20 seconds.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reference the test knows to be well formed.
pub(crate) fn ticket_ref(text: &str) -> ferrodesk_core::TicketRef {
    ferrodesk_core::TicketRef::parse(text).unwrap()
}

/// A ticket by its reference, as the use cases take it.
pub(crate) fn ticket_key(reference: &str) -> ferrodesk_app::TicketKey {
    ferrodesk_app::TicketKey::parse(reference).unwrap()
}

/// A ticket for a user by address, as an agent's form would give it.
pub(crate) fn new_ticket(
    email: &str,
    name: &str,
    subject: &str,
    department: i64,
    urgency: i64,
) -> ferrodesk_app::NewTicket {
    use ferrodesk_app::{Channel, FieldValues, NewTicket, Requester};
    use ferrodesk_core::{Email, Labels, MessageText, PersonName, Subject, Urgency};
    NewTicket {
        requester: Ok(Requester::Address {
            email: Email::parse(email).unwrap(),
            name: PersonName::parse(name).ok(),
        }),
        subject: Ok(Subject::parse(subject).unwrap()),
        message: Ok(MessageText::parse("It does not work.").unwrap()),
        department_id: Ok(Some(department)),
        urgency: Ok(Urgency::new(urgency).unwrap()),
        labels: Ok(Labels::default()),
        fields: FieldValues::Complete(Vec::new()),
        channel: Channel::Agent,
        send_receipt: false,
    }
}

/// A change that assigns a ticket to an agent in a department.
pub(crate) fn assignment(department: i64, agent: i64) -> ferrodesk_app::TicketChange {
    ferrodesk_app::TicketChange {
        department_id: Some(Ok(department)),
        agent_id: Some(Ok(Some(agent))),
        ..ferrodesk_app::TicketChange::default()
    }
}

/// An agent's reply with this text.
pub(crate) fn reply_with(text: &str) -> ferrodesk_app::ReplyInput {
    ferrodesk_app::ReplyInput {
        body: Ok(ferrodesk_core::MessageText::parse(text).unwrap()),
        is_note: false,
        status: None,
        seen_message_id: None,
        attachments: Vec::new(),
        channel: ferrodesk_app::Channel::Agent,
        inbound_mail: None,
    }
}

/// Waits until no rules job is left: receipts and agents' notices come
/// from the default triggers, in the rules job of the ticket's event.
pub(crate) async fn rules_settled(app: &TestApp) {
    wait_until("the rules jobs ran", || async {
        let rules = app
            .app
            .store()
            .jobs()
            .count_jobs_of_kind(ferrodesk_store::TICKET_RULES_JOB_KIND)
            .await
            .unwrap();
        rules == 0
    })
    .await;
    // A rules job that failed for good leaves the ticket as it was; say
    // why rather than leave a test to find a field unchanged.
    let dead: Vec<(String, Option<String>)> = app
        .app
        .store()
        .jobs()
        .jobs_with_status("dead", 20)
        .await
        .unwrap()
        .into_iter()
        .filter(|job| job.kind == ferrodesk_store::TICKET_RULES_JOB_KIND)
        .map(|job| (job.payload, job.last_error))
        .collect();
    assert!(dead.is_empty(), "rules jobs failed for good: {dead:?}");
}

/// The newest `limit` queued mails to customers, once the rules have run:
/// everything but the agents' own notifications, which tickets now also
/// cause.
pub(crate) async fn customer_mail(app: &TestApp, limit: i64) -> Vec<ferrodesk_app::MailRecord> {
    rules_settled(app).await;
    app.app
        .store()
        .outbox()
        .list_mail(None, limit + 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|mail| mail.template != "agent_notification")
        .take(usize::try_from(limit).unwrap())
        .collect()
}
