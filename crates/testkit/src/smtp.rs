//! A real SMTP server on loopback for mail tests: Debian's `aiosmtpd`
//! (package `python3-aiosmtpd`) delivering into a Maildir that the test reads.
//! It can be stopped and started again on the same port, to show that mail
//! waits while the server is down.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{skip, unique_temp_path};

/// Debian's Python, which has the `aiosmtpd` package (a Python from
/// elsewhere on the PATH may not).
const PYTHON: &str = "/usr/bin/python3";

/// A running SMTP server that keeps every mail it receives.
#[derive(Debug)]
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Option<Child>,
}

/// One received mail, parsed.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub raw: String,
    pub subject: String,
    pub message_id: String,
    /// Envelope recipients, as the server saw them.
    pub envelope_to: String,
    pub to: String,
    pub text: String,
    pub html: String,
}

impl ReceivedMail {
    fn parse(raw: String) -> ReceivedMail {
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes());
        let (subject, message_id, envelope_to, to, text, html) = match &parsed {
            Some(message) => (
                message.subject().unwrap_or_default().to_owned(),
                message.message_id().unwrap_or_default().to_owned(),
                message
                    .header_raw("X-RcptTo")
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                message
                    .header_raw("To")
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                message
                    .body_text(0)
                    .map(|text| text.into_owned())
                    .unwrap_or_default(),
                message
                    .body_html(0)
                    .map(|html| html.into_owned())
                    .unwrap_or_default(),
            ),
            None => Default::default(),
        };
        ReceivedMail {
            raw,
            subject,
            message_id,
            envelope_to,
            to,
            text,
            html,
        }
    }

    /// The first link in the text part that starts with `prefix`.
    pub fn link_starting_with(&self, prefix: &str) -> Option<String> {
        let start = self.text.find(prefix)?;
        let link = self.text[start..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        Some(link.to_owned())
    }
}

impl SmtpServer {
    /// Starts a server on a free loopback port, or `None` (after printing
    /// why) when aiosmtpd is not installed outside CI.
    pub async fn start() -> Option<SmtpServer> {
        let available = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            skip("aiosmtpd is not installed (apt-get install python3-aiosmtpd)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let maildir = unique_temp_path("ferrodesk-maildir");
        let mut server = SmtpServer {
            port,
            maildir,
            child: None,
        };
        server.start_again().await;
        Some(server)
    }

    /// `FERRODESK_SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!(
            "smtp://127.0.0.1:{}?security=none&from=help@example.org&from_name=Ferrodesk%20Help",
            self.port
        )
    }

    /// Starts the server (again) on its port.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the SMTP server is already running");
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server; connections to its port are refused until
    /// [`SmtpServer::start_again`].
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_ok()
        {
            assert!(Instant::now() < deadline, "aiosmtpd did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every mail received so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let mut files = Vec::new();
        for folder in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(folder)) {
                for entry in entries.flatten() {
                    let modified = entry
                        .metadata()
                        .and_then(|metadata| metadata.modified())
                        .ok();
                    files.push((modified, entry.path()));
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .map(|bytes| ReceivedMail::parse(String::from_utf8_lossy(&bytes).into_owned()))
            .collect()
    }

    /// Waits until at least `count` mails have arrived (failing the test
    /// after `timeout`) and returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} mail(s), {} arrived within {timeout:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}
