//! The `ferrodesk` command: serves the helpdesk and manages it from a shell.

mod config;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ferrodesk_app::{
    AccountKind, Actor, ApiKeyInput, App, AppError, AppOptions, Caller, NewAccount, WorkerConfig,
};
use ferrodesk_core::{Secret, Timestamp};
use ferrodesk_store::Store;
use ferrodesk_web::{AllowList, ConnectionLimits, TrustedProxies, WebConfig};

use crate::config::{Config, ConfigError};

/// How long a reset link printed by `admin reset-password` stays valid.
const CLI_RESET_LINK_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How often expired sessions are swept from the database.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);

#[derive(Parser)]
#[command(
    name = "ferrodesk",
    version,
    about = "Ferrodesk: a fast, self-hosted helpdesk"
)]
struct Cli {
    /// Settings file to read (default: ./ferrodesk.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the helpdesk (what runs when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage REST API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Fill the database with realistic made-up data (benchmarks, demos).
    Seed(Seed),
    /// Take mail from a mail server.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Subcommand)]
enum MailCommand {
    /// Read one message (RFC 5322) on standard input, for a mail server's
    /// pipe or .forward, and store it as a ticket, a reply or in the
    /// rejection log. Exits 0 once it is stored, and 75 (EX_TEMPFAIL) when
    /// it cannot be stored now, so that the mail server tries again.
    Receive {
        /// The email account it arrived at, by its address; without it new
        /// tickets go to the default department.
        #[arg(long, value_name = "ADDRESS")]
        account: Option<String>,
    },
}

/// The exit code that asks a mail server to try delivering again later.
const EX_TEMPFAIL: u8 = 75;

#[derive(Args)]
struct Seed {
    /// Tickets to make, each with 1 to 30 messages.
    #[arg(long, default_value_t = 1000)]
    tickets: u64,
    /// Help-center users (one in 25 is an organization's first member).
    #[arg(long, default_value_t = 200)]
    users: u64,
    /// Agents, spread over permission groups and teams.
    #[arg(long, default_value_t = 10)]
    agents: u64,
    /// Knowledge-base articles.
    #[arg(long, default_value_t = 50)]
    articles: u64,
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create a key for an agent and print it once as `<id>:<secret>`.
    Create(CreateApikey),
}

#[derive(Args)]
struct CreateApikey {
    /// The email address of the agent the key acts as.
    #[arg(long)]
    agent: String,
    /// Scope patterns, comma-separated, e.g. `tickets.*` or `*,-*.delete`
    /// (default: everything the agent may do).
    #[arg(long, default_value = "")]
    scopes: String,
    /// Days until the key stops working (default: never).
    #[arg(long)]
    expires: Option<u32>,
    /// A name for the key in the admin list.
    #[arg(long, default_value = "Command line")]
    name: String,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin; the password is read from standard input.
    Create(CreateAdmin),
    /// Print a one-time link to set a new password for an account.
    ResetPassword(ResetPassword),
    /// List agents and admins.
    List,
    /// Trust an IP address for an agent (the way back in when IP
    /// allow-listing locks someone out).
    TrustIp(TrustIp),
}

#[derive(Args)]
struct CreateAdmin {
    /// The admin's email address.
    #[arg(long)]
    email: String,
    /// The admin's name as shown to others.
    #[arg(long)]
    name: String,
}

#[derive(Args)]
struct ResetPassword {
    /// The account's email address.
    #[arg(long)]
    email: String,
}

#[derive(Args)]
struct TrustIp {
    /// The agent's email address.
    #[arg(long)]
    email: String,
    /// The address to trust, IPv4 or IPv6.
    #[arg(long)]
    ip: String,
    /// How many days to trust it (1 to 730); the admin setting when left out.
    #[arg(long)]
    days: Option<u32>,
}

/// Why the command failed, and with which exit code.
enum Failure {
    /// Bad arguments or configuration: exit code 2.
    Usage(String),
    /// Anything else: exit code 1.
    Runtime(String),
    /// A message could not be stored now: exit code 75, so the mail
    /// server keeps it and tries again.
    TryAgain(String),
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Failure {
        Failure::Usage(error.to_string())
    }
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Failure {
        match error {
            AppError::Invalid(errors) => {
                let problems: Vec<String> = errors
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect();
                Failure::Usage(problems.join(" "))
            }
            AppError::NotFound => Failure::Runtime("no account has that email address".to_owned()),
            other => Failure::Runtime(other.to_string()),
        }
    }
}

/// mimalloc rather than the C library's allocator: each password hash takes
/// 19 MiB, and glibc kept those blocks in per-thread arenas, so a login
/// flood left the process at 230 MiB; mimalloc gives freed memory back.
/// With the crate's `override` feature it also serves `malloc` itself, so
/// SQLite's page caches and statements (allocated from one thread per
/// connection, each of which glibc gave an arena of its own) live in the
/// same heap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work, beyond the async workers.
const MAX_BLOCKING_THREADS: usize = 32;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return report_usage_error(&error),
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Blocking work (file I/O, name lookups) gets a bounded pool: each
        // extra thread keeps a stack and an allocator arena, and a flood of
        // lookups would otherwise grow the process by hundreds of MiB.
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ferrodesk: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("ferrodesk: {}", message.replace('\n', " "));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("ferrodesk: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
        Err(Failure::TryAgain(message)) => {
            eprintln!("ferrodesk: {}", message.replace('\n', " "));
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

/// Help and version go to standard output as clap formats them; anything
/// else is a usage error, reported on one line with exit code 2.
fn report_usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    // clap explains over several lines, then shows usage; keep the
    // explanation and fold it onto one line.
    let rendered = error.to_string();
    let explanation: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let message = explanation.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("ferrodesk: {message} (see `ferrodesk --help`)");
    ExitCode::from(2)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A closed log pipe must not take requests down with it: reporting
        // the failed write would itself write to stderr and panic.
        .log_internal_errors(false)
        .init();
}

async fn run(cli: Cli) -> Result<(), Failure> {
    // A mail server hands over a message and waits for the answer: whatever
    // stops it being stored (configuration, database) must say "try
    // again", never "done" and never a bounce.
    if let Some(Command::Mail(MailCommand::Receive { account })) = &cli.command {
        return receive_mail(cli.config.as_deref(), account.as_deref())
            .await
            .map_err(|failure| match failure {
                Failure::Usage(message)
                | Failure::Runtime(message)
                | Failure::TryAgain(message) => {
                    Failure::TryAgain(format!("the message was not stored: {message}"))
                }
            });
    }
    let environment = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut config = Config::load(cli.config.as_deref(), &environment)?;
    config.prepare_data_dir()?;
    let key = config.instance_key()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, key).await,
        Command::Migrate => {
            let store = open_store(&config).await?;
            println!("The {} database is up to date.", store.backend_name());
            Ok(())
        }
        Command::Admin(command) => {
            let store = open_store(&config).await?;
            let app = App::new(store, key, &config.public_url).await?;
            admin(&app, command).await
        }
        Command::Mail(MailCommand::Receive { .. }) => Ok(()),
        Command::Seed(arguments) => {
            let store = open_store(&config).await?;
            let app = App::new(store, key, &config.public_url).await?;
            seed(&app, &arguments).await
        }
        Command::Apikey(ApikeyCommand::Create(arguments)) => {
            let store = open_store(&config).await?;
            let app = App::new(store, key, &config.public_url).await?;
            let created = app
                .create_api_key(
                    &Caller::system(),
                    &ApiKeyInput {
                        agent_email: arguments.agent,
                        name: arguments.name,
                        scopes: arguments.scopes,
                        expires_in_days: arguments.expires,
                    },
                )
                .await?;
            println!("{}", created.token);
            eprintln!(
                "Key {} created. Send the line above as `Authorization: key <line>`; it is shown only now. Revoke it in Admin → API keys.",
                created.id
            );
            Ok(())
        }
    }
}

/// `ferrodesk mail receive`: one message from standard input, stored and
/// processed.
async fn receive_mail(
    config_path: Option<&std::path::Path>,
    account: Option<&str>,
) -> Result<(), Failure> {
    let environment = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut config = Config::load(config_path, &environment)?;
    config.prepare_data_dir()?;
    let key = config.instance_key()?;
    let raw = read_message_from_stdin(config.data_dir.clone())
        .await
        .map_err(|error| Failure::TryAgain(format!("cannot read standard input: {error}")))?;
    let store = Store::open_checked(&config.database_url)
        .await
        .map_err(|error| Failure::Runtime(error.to_string()))?;
    let mut options = AppOptions::new(&config.public_url);
    options.smtp_override = config.smtp.clone();
    options.blob_dir = Some(config.data_dir.join("attachments"));
    let app = App::with_options(store, key, options).await?;
    let (id, outcome) = app.receive_mail(&raw, account).await?;
    println!("Stored as received mail {id}: {}.", outcome.describe());
    Ok(())
}

/// The message on standard input, up to one byte past the largest one
/// taken (so that an oversized one is recognised); the rest is read and
/// dropped, so the mail server's pipe closes cleanly. A small message is
/// read into memory; a larger one goes to a file in `spill_dir` first
/// (unlinked as soon as it is made) and is read back at its exact size,
/// so the process never holds it more than once.
async fn read_message_from_stdin(spill_dir: std::path::PathBuf) -> std::io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;
        const IN_MEMORY: u64 = 1024 * 1024;
        let limit = u64::try_from(ferrodesk_app::MAX_INBOUND_MAIL_BYTES + 1).unwrap_or(u64::MAX);
        let mut input = std::io::stdin().lock().take(limit);
        let mut start = Vec::with_capacity(usize::try_from(IN_MEMORY).unwrap_or(0));
        let read = (&mut input).take(IN_MEMORY).read_to_end(&mut start)?;
        if u64::try_from(read).unwrap_or(u64::MAX) < IN_MEMORY {
            return Ok(start);
        }
        let random = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.subsec_nanos())
            .unwrap_or_default();
        let path = spill_dir.join(format!(".incoming-{}-{random}.eml", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        file.write_all(&start)?;
        drop(start);
        std::io::copy(&mut input, &mut file)?;
        std::io::copy(&mut input.into_inner(), &mut std::io::sink())?;
        let size = file.stream_position()?;
        file.rewind()?;
        let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut raw)?;
        Ok(raw)
    })
    .await
    .map_err(std::io::Error::other)?
}

async fn open_store(config: &Config) -> Result<Store, Failure> {
    Store::open(&config.database_url).await.map_err(|error| {
        let message = error.to_string();
        match error {
            ferrodesk_store::ConnectError::UnsupportedScheme
            | ferrodesk_store::ConnectError::InvalidUrl(_) => {
                Failure::Usage(format!("FERRODESK_DATABASE_URL: {message}"))
            }
            _ => Failure::Runtime(message),
        }
    })
}

async fn serve(config: Config, key: ferrodesk_app::InstanceKey) -> Result<(), Failure> {
    if running_as_root() {
        tracing::warn!(
            "running as root: run Ferrodesk as an unprivileged user that owns the data directory"
        );
    }
    if config.uses_postgres() && config.key_is_generated() {
        tracing::warn!(
            "using a key generated into this node's data directory: nodes sharing PostgreSQL must share \
             FERRODESK_SECRET_KEY, or sessions will not carry across them"
        );
    }
    let store = open_store(&config).await?;
    let mut options = AppOptions::new(&config.public_url);
    options.smtp_override = config.smtp.clone();
    options.blob_dir = Some(config.data_dir.join("attachments"));
    options.outbound_policy =
        ferrodesk_app::webhooks::OutboundPolicy::new(config.webhook_allow.clone());
    let app = App::with_options(store, key, options).await?;
    if let Some(setup_url) = app.prepare_setup().await? {
        tracing::warn!(
            "no admin account exists yet: open {} to create one (or run `ferrodesk admin create`)",
            setup_url.expose()
        );
    }
    spawn_session_purge(app.clone());
    spawn_view_flush(app.clone());
    let workers = app.start_workers(WorkerConfig {
        workers: config.workers,
        ..WorkerConfig::default()
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| {
            Failure::Usage(format!(
                "FERRODESK_LISTEN: cannot listen on {}: {error}",
                config.listen
            ))
        })?;
    // The bound address, so `FERRODESK_LISTEN=…:0` reports the port it got.
    let address = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(%address, public_url = %config.public_url, database = app.store().backend_name(), "Ferrodesk is listening");
    let router = ferrodesk_web::router(
        app.clone(),
        WebConfig {
            public_url: config.public_url.clone(),
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            admin_allow: AllowList::new(config.admin_allow.clone()),
            agent_allow: AllowList::new(config.agent_allow.clone()),
            baseline_bytes: config.bench_baseline_bytes,
        },
    );
    ferrodesk_web::serve(
        listener,
        router,
        ConnectionLimits::default(),
        shutdown_signal(),
    )
    .await
    .map_err(|error| Failure::Runtime(format!("server stopped: {error}")))?;
    workers.shut_down().await;
    if let Err(error) = app.flush_article_views().await {
        tracing::warn!(%error, "cannot write the last article views");
    }
    app.store().close().await;
    tracing::info!("Ferrodesk stopped");
    Ok(())
}

fn spawn_session_purge(app: App) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SESSION_PURGE_INTERVAL);
        loop {
            ticks.tick().await;
            match app.purge_stale_sessions().await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "stale sessions removed"),
                Err(error) => tracing::warn!(%error, "cannot remove stale sessions"),
            }
            match app.forget_old_rejected_mail().await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "rejected mail past its retention removed"),
                Err(error) => tracing::warn!(%error, "cannot remove old rejected mail"),
            }
        }
    });
}

fn spawn_view_flush(app: App) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(ferrodesk_app::VIEW_FLUSH_INTERVAL);
        loop {
            ticks.tick().await;
            if let Err(error) = app.flush_article_views().await {
                tracing::warn!(%error, "cannot write article views");
            }
        }
    });
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

async fn seed(app: &App, arguments: &Seed) -> Result<(), Failure> {
    const MOST: u64 = 100_000_000;
    if [
        arguments.tickets,
        arguments.users,
        arguments.agents,
        arguments.articles,
    ]
    .iter()
    .any(|count| *count > MOST)
        || arguments.agents > 10_000
        || arguments.articles > 100_000
    {
        return Err(Failure::Usage(
            "seed counts are limited (tickets and users 100,000,000; agents 10,000; articles 100,000)".to_owned(),
        ));
    }
    if arguments.tickets > 0 && arguments.users == 0 {
        return Err(Failure::Usage(
            "tickets need at least one user (--users)".to_owned(),
        ));
    }
    let started = std::time::Instant::now();
    let mut last_report = std::time::Instant::now();
    let mut last_stage = String::new();
    let mut progress = move |stage: &str, done: u64, total: u64| {
        let stage_changed = stage != last_stage;
        if stage_changed || done == total || last_report.elapsed().as_secs() >= 2 {
            eprintln!(
                "[{:>6.1}s] {stage}: {done}/{total}",
                started.elapsed().as_secs_f64()
            );
            last_report = std::time::Instant::now();
            last_stage = stage.to_owned();
        }
    };
    let summary = app
        .seed(
            &ferrodesk_app::SeedPlan {
                tickets: arguments.tickets,
                users: arguments.users,
                agents: arguments.agents,
                articles: arguments.articles,
            },
            &mut progress,
        )
        .await?;
    println!(
        "Seeded {} tickets with {} messages in {:.1} s.",
        summary.tickets,
        summary.messages,
        started.elapsed().as_secs_f64()
    );
    println!(
        "Sign in at {}/agent/login as {} (or agent1…, e.g. {}) with the password \"{}\".",
        app.public_url(),
        summary.admin_email,
        summary.agent_emails.first().map_or("-", String::as_str),
        ferrodesk_app::SEED_PASSWORD
    );
    Ok(())
}

async fn admin(app: &App, command: AdminCommand) -> Result<(), Failure> {
    match command {
        AdminCommand::Create(arguments) => {
            let password = read_new_password()?;
            let account = NewAccount {
                email: &arguments.email,
                name: &arguments.name,
                password: &password,
                password_confirmation: None,
            };
            let admin = app.create_account(&account, AccountKind::Admin).await?;
            println!(
                "Created admin {} <{}> (id {}).",
                admin.name, admin.email, admin.id
            );
            println!("Log in at {}/agent/login", app.public_url());
            Ok(())
        }
        AdminCommand::ResetPassword(arguments) => {
            let link = app
                .issue_password_reset(&arguments.email, CLI_RESET_LINK_LIFETIME)
                .await?;
            println!("{}", link.url.expose());
            eprintln!(
                "This link works once, until {} (UTC); earlier links for this account no longer work.",
                link.expires_at.date_time()
            );
            Ok(())
        }
        AdminCommand::TrustIp(arguments) => {
            let until = app
                .trust_ip_from_command_line(&arguments.email, &arguments.ip, arguments.days)
                .await?;
            println!(
                "{} may log in from {} until {} (UTC).",
                arguments.email,
                arguments.ip.trim(),
                until.date_time()
            );
            Ok(())
        }
        AdminCommand::List => {
            let agents = app.list_agents(&Actor::System).await?;
            if agents.is_empty() {
                println!(
                    "No agents yet. Create the first admin with `ferrodesk admin create --email E --name N`."
                );
                return Ok(());
            }
            println!(
                "{:<6} {:<8} {:<9} {:<20} {:<32} NAME",
                "ID", "ROLE", "STATUS", "LAST LOGIN (UTC)", "EMAIL"
            );
            for agent in agents {
                println!(
                    "{:<6} {:<8} {:<9} {:<20} {:<32} {}",
                    agent.id,
                    if agent.is_admin { "admin" } else { "agent" },
                    if agent.is_disabled {
                        "disabled"
                    } else {
                        "active"
                    },
                    agent
                        .last_login_at
                        .map_or_else(|| "never".to_owned(), Timestamp::date_time),
                    agent.email,
                    agent.name
                );
            }
            Ok(())
        }
    }
}

/// Reads the new password: prompted twice without echo on a terminal, or
/// the first line of standard input when it is piped.
fn read_new_password() -> Result<Secret, Failure> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|error| Failure::Runtime(error.to_string()))?;
        let second = rpassword::prompt_password("Repeat it: ")
            .map_err(|error| Failure::Runtime(error.to_string()))?;
        if first != second {
            return Err(Failure::Usage("the two passwords do not match".to_owned()));
        }
        return Ok(Secret::new(first));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| {
            Failure::Usage(format!(
                "cannot read the password from standard input: {error}"
            ))
        })?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Failure::Usage(
            "no password on standard input (pipe it in, e.g. `echo … | ferrodesk admin create …`)"
                .to_owned(),
        ));
    }
    Ok(Secret::new(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
