//! The `ferrodesk` command as an administrator uses it, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use ferrodesk_testkit::{Backend, TestDatabase, on_both_backends};

const STRONG_PASSWORD: &str = "correct horse battery staple";

struct Installation {
    data_dir: PathBuf,
    database: TestDatabase,
}

impl Drop for Installation {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The address in the server's "Ferrodesk is listening" log line: the port
/// it was given by the system, so no two tests race for one.
fn listening_address(line: &str) -> Option<String> {
    if !line.contains("Ferrodesk is listening") {
        return None;
    }
    let address = line.split("address=").nth(1)?.split_whitespace().next()?;
    Some(address.to_owned())
}

async fn install(backend: Backend) -> Option<Installation> {
    let database = TestDatabase::fresh(backend).await?;
    let data_dir = ferrodesk_testkit::unique_temp_path("ferrodesk-cli");
    Some(Installation { data_dir, database })
}

impl Installation {
    fn command(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodesk"));
        command.args(arguments);
        for (name, _) in std::env::vars() {
            if name.starts_with("FERRODESK_") {
                command.env_remove(name);
            }
        }
        command
            .env("FERRODESK_DATA_DIR", &self.data_dir)
            .env("FERRODESK_DATABASE_URL", &self.database.url)
            .env("FERRODESK_PUBLIC_URL", "https://help.example.com")
            .env("RUST_LOG", "warn");
        command
    }

    fn run(&self, arguments: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

/// A `ferrodesk` server process, stopped when dropped.
struct Node {
    process: std::process::Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Installation {
    /// Starts a server process on a port the system picks and waits until it
    /// listens.
    fn start_node(&self) -> Node {
        self.start_node_with(&[])
    }

    /// The same with more settings in its environment.
    fn start_node_with(&self, settings: &[(&str, &str)]) -> Node {
        let mut command = self.command(&[]);
        command
            .env("FERRODESK_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped());
        for (name, value) in settings {
            command.env(name, value);
        }
        let mut process = command.spawn().unwrap();
        let stderr = process.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let address = lines
            .by_ref()
            .find_map(|line| listening_address(&line.unwrap()))
            .expect("the node logs the address it listens on");
        // Keep draining the log so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node {
            process,
            base: format!("http://{address}"),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }
}

impl Node {
    /// One staff login through the form; answers the status.
    async fn log_in(&self, email: &str, password: &str) -> u16 {
        let page = self
            .client
            .get(format!("{}/agent/login", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrf_token\" value=\"";
        let start = page.find(marker).expect("a CSRF field") + marker.len();
        let token = &page[start..start + page[start..].find('"').unwrap()];
        self.client
            .post(format!("{}/agent/login", self.base))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", token),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

on_both_backends! { install;

    async fn a_node_killed_while_taking_mail_loses_none_and_adds_none_twice(install: Installation) {
        let Some(imap) = ferrodesk_testkit::imap::ImapServer::start() else {
            return;
        };
        let key = ferrodesk_app::InstanceKey::generate_text().unwrap();
        let migrated = install.command(&["migrate"]).env("FERRODESK_SECRET_KEY", &key).output().unwrap();
        assert!(migrated.status.success(), "{}", text(&migrated.stderr));
        // The account, made as the admin pages make it (its password sealed with the nodes' key).
        let store = ferrodesk_store::Store::open(&install.database.url).await.unwrap();
        let app = ferrodesk_app::App::new(store, ferrodesk_app::InstanceKey::from_text(&key).unwrap(), "https://help.example.com").await.unwrap();
        let account = ferrodesk_app::EmailAccountInput {
            address: "help@example.org".into(),
            transport: "imap".into(),
            imap_host: "127.0.0.1".into(),
            imap_port: imap.port.to_string(),
            imap_security: "none".into(),
            imap_user: ferrodesk_testkit::imap::IMAP_USER.into(),
            imap_password: ferrodesk_testkit::imap::IMAP_PASSWORD.into(),
            imap_folder: "INBOX".into(),
            poll_seconds: "30".into(),
            after_fetch: "seen".into(),
            is_enabled: true,
            ..ferrodesk_app::EmailAccountInput::default()
        };
        app.save_email_account(&ferrodesk_app::Caller::system(), None, &account).await.unwrap();
        const MAILS: i64 = 150;
        for number in 0..MAILS {
            imap.deliver(
                format!(
                    "From: customer{number}@example.net\r\nTo: help@example.org\r\nSubject: Crash test {number}\r\n\
                     Message-ID: <crash-{number}@mail.example.net>\r\n\r\nMessage {number}.\r\n"
                )
                .as_bytes(),
            );
        }
        let database = &install.database;
        let count = |query: &'static str| async move { database.scalar(query).await };

        // The first node fetches with one worker and is killed (SIGKILL)
        // as soon as the first messages are stored, most of them not yet
        // processed.
        let settings = [("FERRODESK_SECRET_KEY", key.as_str()), ("FERRODESK_WORKERS", "1")];
        let mut first = install.start_node_with(&settings);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while count("SELECT COUNT(*) FROM inbound_mails").await == 0 {
            assert!(std::time::Instant::now() < deadline, "nothing was fetched");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        first.process.kill().unwrap();
        first.process.wait().unwrap();
        let stored = count("SELECT COUNT(*) FROM inbound_mails").await;
        let pending = count("SELECT COUNT(*) FROM inbound_mails WHERE state = 'pending'").await;
        assert!(pending > 0, "killed with stored mail still to process ({stored} stored)");
        // What the dead node held comes free when its leases run out; end
        // them now rather than wait, and let the account be fetched again.
        database.execute("UPDATE jobs SET lease_expires_at = 0 WHERE status = 'running'").await;
        database.execute("UPDATE inbound_mails SET processing_until = NULL").await;
        database.execute("UPDATE imap_fetch_state SET lease_until = 0, last_fetch_at = NULL").await;

        // A second node takes over: every message becomes one ticket.
        let _second = install.start_node_with(&settings);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while count("SELECT COUNT(*) FROM inbound_mails WHERE state = 'done'").await < MAILS {
            assert!(std::time::Instant::now() < deadline, "not every message was processed");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(count("SELECT COUNT(*) FROM inbound_mails").await, MAILS, "each message stored once");
        assert_eq!(count("SELECT COUNT(*) FROM tickets").await, MAILS, "each message one ticket");
        assert_eq!(count("SELECT COUNT(DISTINCT subject) FROM tickets").await, MAILS);
        assert_eq!(count("SELECT COUNT(*) FROM ticket_messages").await, MAILS, "no message added twice");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while imap.count("") != (MAILS as usize, MAILS as usize) {
            assert!(std::time::Instant::now() < deadline, "every message marked seen on the server: {:?}", imap.count(""));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn an_admin_is_created_listed_and_given_a_reset_link(install: Installation) {
        let created = install.run(&["admin", "create", "--email", "Root@Example.org", "--name", "Rita Root"], &format!("{STRONG_PASSWORD}\n"));
        assert!(created.status.success(), "{}", text(&created.stderr));
        assert!(text(&created.stdout).contains("Created admin Rita Root <Root@Example.org>"));

        let duplicate = install.run(&["admin", "create", "--email", "root@example.org", "--name", "Other"], &format!("{STRONG_PASSWORD}\n"));
        assert_eq!(duplicate.status.code(), Some(2));
        assert!(text(&duplicate.stderr).contains("already exists"));

        let listed = install.run(&["admin", "list"], "");
        assert!(listed.status.success());
        let listing = text(&listed.stdout);
        assert!(listing.contains("Root@Example.org") && listing.contains("admin") && listing.contains("never"), "{listing}");

        let reset = install.run(&["admin", "reset-password", "--email", "root@example.org"], "");
        assert!(reset.status.success(), "{}", text(&reset.stderr));
        let link = text(&reset.stdout);
        assert!(link.trim().starts_with("https://help.example.com/agent/reset-password/"), "{link}");
        assert_eq!(link.trim().rsplit('/').next().unwrap().len(), 64);

        let unknown = install.run(&["admin", "reset-password", "--email", "nobody@example.org"], "");
        assert_eq!(unknown.status.code(), Some(1));
        assert_eq!(text(&unknown.stderr).lines().count(), 1);
    }

    async fn a_lockout_reached_through_one_process_holds_on_the_other(install: Installation) {
        let created = install.run(&["admin", "create", "--email", "root@example.org", "--name", "Rita Root"], &format!("{STRONG_PASSWORD}\n"));
        assert!(created.status.success(), "{}", text(&created.stderr));
        let first = install.start_node();
        let second = install.start_node();
        for attempt in 1..=9 {
            assert_eq!(first.log_in("root@example.org", "wrong password").await, 401, "attempt {attempt}");
        }
        assert_eq!(first.log_in("root@example.org", "wrong password").await, 429, "the tenth failure locks");
        assert_eq!(second.log_in("root@example.org", STRONG_PASSWORD).await, 429, "the other process refuses the right password too");
        assert_eq!(second.log_in("root@example.org", "wrong password").await, 429, "and the same way for a wrong one");
    }

    async fn trust_ip_lets_an_agent_in_when_ip_allow_listing_refuses_them(install: Installation) {
        let created = install.run(&["admin", "create", "--email", "root@example.org", "--name", "Rita Root"], &format!("{STRONG_PASSWORD}\n"));
        assert!(created.status.success(), "{}", text(&created.stderr));
        install.database.execute(
            "UPDATE settings SET value = '{\"enabled\":true,\"admins_only\":false,\"trust_days\":90,\"trusted_ranges\":[]}' \
             WHERE key = 'ip_allow_list'",
        ).await;
        let node = install.start_node();
        assert_eq!(node.log_in("root@example.org", STRONG_PASSWORD).await, 403, "a new address is refused");

        let bad = install.run(&["admin", "trust-ip", "--email", "root@example.org", "--ip", "127.0.0.300"], "");
        assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
        let unknown = install.run(&["admin", "trust-ip", "--email", "nobody@example.org", "--ip", "127.0.0.1"], "");
        assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
        let trusted = install.run(&["admin", "trust-ip", "--email", "root@example.org", "--ip", "127.0.0.1", "--days", "2"], "");
        assert!(trusted.status.success(), "{}", text(&trusted.stderr));
        assert!(text(&trusted.stdout).contains("may log in from 127.0.0.1 until"), "{}", text(&trusted.stdout));
        assert_eq!(node.log_in("root@example.org", STRONG_PASSWORD).await, 303, "the trusted address gets in");
    }

    async fn apikey_create_prints_a_key_that_lists_tickets_as_its_agent(install: Installation) {
        let created = install.run(&["admin", "create", "--email", "root@example.org", "--name", "Rita Root"], &format!("{STRONG_PASSWORD}\n"));
        assert!(created.status.success(), "{}", text(&created.stderr));
        let unknown = install.run(&["apikey", "create", "--agent", "nobody@example.org"], "");
        assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
        let bad_scope = install.run(&["apikey", "create", "--agent", "root@example.org", "--scopes", "tickets.lst"], "");
        assert_eq!(bad_scope.status.code(), Some(2), "{}", text(&bad_scope.stderr));
        assert!(text(&bad_scope.stderr).contains("tickets.lst"));

        let made = install.run(&["apikey", "create", "--agent", "root@example.org", "--scopes", "tickets.*", "--expires", "30"], "");
        assert!(made.status.success(), "{}", text(&made.stderr));
        let key = text(&made.stdout).trim().to_owned();
        let (id, secret) = key.split_once(':').expect("<id>:<secret>");
        assert_eq!((id.len(), secret.len()), (16, 64), "{key}");
        assert!(!text(&made.stderr).contains(secret), "the secret goes to standard output only");

        let node = install.start_node();
        let listed = node.client.get(format!("{}/api/v2/tickets", node.base))
            .header("authorization", format!("key {key}")).send().await.unwrap();
        assert_eq!(listed.status(), 200);
        let body: serde_json::Value = listed.json().await.unwrap();
        assert_eq!(body["meta"]["total"], 0);
        assert!(body["data"].as_array().unwrap().is_empty());
        let people = node.client.get(format!("{}/api/v2/people", node.base))
            .header("authorization", format!("key {key}")).send().await.unwrap();
        assert_eq!(people.status(), 403, "the key is scoped to tickets");
    }

    async fn a_fresh_install_takes_a_ticket_through_the_api_with_no_set_up(install: Installation) {
        let created = install.run(&["admin", "create", "--email", "root@example.org", "--name", "Rita Root"], &format!("{STRONG_PASSWORD}\n"));
        assert!(created.status.success(), "{}", text(&created.stderr));
        let made = install.run(&["apikey", "create", "--agent", "root@example.org"], "");
        assert!(made.status.success(), "{}", text(&made.stderr));
        let key = text(&made.stdout).trim().to_owned();

        let node = install.start_node();
        let opened = node.client.post(format!("{}/api/v2/tickets", node.base))
            .header("authorization", format!("key {key}"))
            .json(&serde_json::json!({"subject": "First", "message": "Hello", "person": {"email": "pat@example.org", "name": "Pat"}}))
            .send().await.unwrap();
        assert_eq!(opened.status(), 201, "subject, message and person are enough");
        let body: serde_json::Value = opened.json().await.unwrap();
        assert_eq!(body["data"]["department"]["name"], "Support", "the default department takes it: {body}");
    }

    async fn mail_receive_stores_a_piped_message_and_exits_0_only_when_stored(install: Installation) {
        let migrated = install.run(&["migrate"], "");
        assert!(migrated.status.success(), "{}", text(&migrated.stderr));
        let mail = "From: Ines <ines@example.net>\r\nTo: help@example.com\r\nSubject: Piped in\r\n\
                    Message-ID: <pipe-1@mail.example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from the pipe.\r\n";
        let output = install.run(&["mail", "receive"], mail);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(text(&output.stdout).contains("new ticket"), "{}", text(&output.stdout));
        let again = install.run(&["mail", "receive", "--account", "help@example.com"], mail);
        assert_eq!(again.status.code(), Some(0), "the same message again is stored (as a copy)");
        // A large one is spilled to a file on its way in, and the file is
        // gone once it is stored.
        let large = format!(
            "From: Ines <ines@example.net>\r\nTo: help@example.com\r\nSubject: Logs\r\n\
             Message-ID: <pipe-2@mail.example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
            "A log line, again and again.\r\n".repeat(80_000)
        );
        let output = install.run(&["mail", "receive"], &large);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(text(&output.stdout).contains("new ticket"), "{}", text(&output.stdout));
        let left: Vec<_> = std::fs::read_dir(&install.data_dir)
            .unwrap()
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(".incoming"))
            .collect();
        assert!(left.is_empty(), "no spilled file is left: {left:?}");
        // Garbage is stored too, in the rejection log: still exit 0.
        let garbage = install.run(&["mail", "receive"], "\u{0}\u{0} not a mail");
        assert_eq!(garbage.status.code(), Some(0), "{}", text(&garbage.stderr));
        assert!(text(&garbage.stdout).contains("rejected"), "{}", text(&garbage.stdout));
        // An unreachable database: 75, so the mail server tries again.
        let mut offline = install.command(&["mail", "receive"]);
        offline.env("FERRODESK_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none");
        let output = offline
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child.stdin.take().unwrap().write_all(mail.as_bytes()).unwrap();
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(output.status.code(), Some(75), "{}", text(&output.stderr));
    }

    async fn seed_fills_the_database_and_a_second_run_adds_to_it(install: Installation) {
        let bad = install.run(&["seed", "--tickets", "5", "--users", "0"], "");
        assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
        let seeded = install.run(&["seed", "--tickets", "60", "--users", "12", "--agents", "2", "--articles", "3"], "");
        assert!(seeded.status.success(), "{}", text(&seeded.stderr));
        let report = text(&seeded.stdout);
        assert!(report.starts_with("Seeded 60 tickets with "), "{report}");
        assert!(text(&seeded.stderr).contains("tickets: 60/60"), "progress is shown");
        let admin = report.split(" as ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
        let again = install.run(&["seed", "--tickets", "40", "--users", "5", "--agents", "1", "--articles", "1"], "");
        assert!(again.status.success(), "{}", text(&again.stderr));

        let key = text(&install.run(&["apikey", "create", "--agent", &admin], "").stdout).trim().to_owned();
        let node = install.start_node();
        let get = |path: &'static str| {
            let request = node.client.get(format!("{}{path}", node.base)).header("authorization", format!("key {key}"));
            async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
        };
        let every_status = ["awaiting_agent", "awaiting_user", "pending", "resolved", "archived", "spam", "deleted"];
        let mut tickets = 0;
        for status in every_status {
            let body = node.client.get(format!("{}/api/v2/tickets?status={status}", node.base))
                .header("authorization", format!("key {key}")).send().await.unwrap()
                .json::<serde_json::Value>().await.unwrap();
            tickets += body["meta"]["total"].as_i64().unwrap();
        }
        assert_eq!(tickets, 100, "both runs' tickets are there");
        assert_eq!(get("/api/v2/people?count=1").await["meta"]["total"], 17);
        assert_eq!(get("/api/v2/articles").await["meta"]["total"], 4);
        let first = get("/api/v2/tickets?status=any&count=1").await;
        let reference = first["data"][0]["reference"].as_str().unwrap().to_owned();
        let messages = node.client.get(format!("{}/api/v2/tickets/{reference}/messages", node.base))
            .header("authorization", format!("key {key}")).send().await.unwrap()
            .json::<serde_json::Value>().await.unwrap();
        assert!((1..=30).contains(&messages["meta"]["total"].as_i64().unwrap()));
    }

    async fn a_weak_or_missing_password_is_refused(install: Installation) {
        let weak = install.run(&["admin", "create", "--email", "a@example.org", "--name", "A"], "password123\n");
        assert_eq!(weak.status.code(), Some(2));
        let message = text(&weak.stderr);
        assert!(message.contains("password"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
        let missing = install.run(&["admin", "create", "--email", "a@example.org", "--name", "A"], "");
        assert_eq!(missing.status.code(), Some(2));
        let listed = install.run(&["admin", "list"], "");
        assert!(text(&listed.stdout).contains("No agents yet"));
    }

    async fn migrate_applies_the_schema_and_the_data_directory_is_private(install: Installation) {
        let migrated = install.run(&["migrate"], "");
        assert!(migrated.status.success(), "{}", text(&migrated.stderr));
        assert!(text(&migrated.stdout).contains("up to date"));
        let mode = std::fs::metadata(&install.data_dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let key_mode = std::fs::metadata(install.data_dir.join("secret.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(key_mode, 0o600);
        let key = std::fs::read_to_string(install.data_dir.join("secret.key")).unwrap();
        let again = install.run(&["migrate"], "");
        assert!(again.status.success());
        assert_eq!(std::fs::read_to_string(install.data_dir.join("secret.key")).unwrap(), key, "the key is generated once");
    }

    async fn serve_logs_a_setup_link_and_answers_until_stopped(install: Installation) {
        let mut server = install
            .command(&[])
            .env("FERRODESK_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut setup_line = None;
        let mut address = None;
        for line in BufReader::new(server.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            if line.contains("/setup?token=") {
                setup_line = Some(line.clone());
            }
            address = listening_address(&line);
            if address.is_some() {
                break;
            }
        }
        let address = address.expect("the server logs the address it listens on");
        let setup_line = setup_line.expect("a setup link in the log");
        let token = setup_line.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        let client = reqwest::Client::new();
        let base = format!("http://{address}");
        assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
        assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
        assert_eq!(client.get(format!("{base}/setup?token={token}")).send().await.unwrap().status(), 200);
        assert_eq!(client.get(format!("{base}/setup?token=wrong")).send().await.unwrap().status(), 404);
        // SIGTERM asks for a graceful stop.
        Command::new("kill").arg("-TERM").arg(server.id().to_string()).status().unwrap();
        let status = server.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
}

fn bare_command(arguments: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodesk"));
    for (name, _) in std::env::vars() {
        if name.starts_with("FERRODESK_") {
            command.env_remove(name);
        }
    }
    command.args(arguments).output().unwrap()
}

#[test]
fn every_command_has_help() {
    for arguments in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create", "--help"],
        vec!["admin", "reset-password", "--help"],
        vec!["admin", "list", "--help"],
        vec!["mail", "receive", "--help"],
    ] {
        let output = bare_command(&arguments);
        assert!(output.status.success(), "{arguments:?}");
        assert!(text(&output.stdout).contains("Usage"), "{arguments:?}");
    }
}

#[test]
fn bad_arguments_exit_with_code_2() {
    for arguments in [
        vec!["frobnicate"],
        vec!["admin", "create", "--email", "a@b.c"],
        vec!["--no-such-flag"],
    ] {
        let output = bare_command(&arguments);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        let message = text(&output.stderr);
        assert_eq!(message.trim().lines().count(), 1, "{message}");
    }
}

#[test]
fn bad_configuration_exits_with_code_2_and_names_the_setting() {
    let directory = ferrodesk_testkit::unique_temp_path("ferrodesk-badconfig");
    for (variable, value) in [
        ("FERRODESK_LISTEN", "not-an-address"),
        ("FERRODESK_DATABASE_URL", "mysql://localhost/x"),
        ("FERRODESK_TRUSTED_PROXIES", "10.0.0.0/8,banana"),
        ("FERRODESK_PUBLIC_URL", "help.example.com"),
        ("FERRODESK_SECRET_KEY", "short"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ferrodesk"))
            .arg("migrate")
            .env("FERRODESK_DATA_DIR", &directory)
            .env(variable, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{variable}");
        let message = text(&output.stderr);
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert!(message.contains(variable), "{message}");
    }
    let _ = std::fs::remove_dir_all(&directory);
}
