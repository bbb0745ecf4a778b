//! Sending through an SMTP server with lettre's SMTP client, over
//! connections made and kept here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrodesk_core::Secret;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use serde::{Deserialize, Serialize};

use crate::address::mailbox;
use crate::compose::OutgoingMail;
use crate::net;

const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain text: only for a server on the same machine or network.
    None,
    /// Upgrade with STARTTLS (usually port 587); refuse if not offered.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl Security {
    pub fn parse(text: &str) -> Option<Security> {
        match text.to_ascii_lowercase().as_str() {
            "none" | "plain" => Some(Security::None),
            "starttls" => Some(Security::Starttls),
            "tls" | "ssl" | "smtps" => Some(Security::Tls),
            _ => None,
        }
    }
}

/// Where and how to send mail.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Mailbox,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SmtpConfigError(String);

fn decode(text: &str) -> Result<String, SmtpConfigError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| SmtpConfigError("contains text that is not valid UTF-8".into()))
}

impl SmtpConfig {
    /// Parses `smtp://user:pass@host:587?security=starttls&from=help@example.com&from_name=Help`
    /// (`smtps://` means TLS; `security` defaults to STARTTLS for `smtp://`).
    pub fn from_url(url: &str) -> Result<SmtpConfig, SmtpConfigError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            SmtpConfigError("must look like smtp://user:pass@host:587?from=…".into())
        })?;
        let default_security = match scheme {
            "smtp" => Security::Starttls,
            "smtps" => Security::Tls,
            _ => {
                return Err(SmtpConfigError(
                    "the scheme must be smtp:// or smtps://".into(),
                ));
            }
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let location = location.trim_end_matches('/');
        let (credentials, host_port) = match location.rsplit_once('@') {
            Some((credentials, host_port)) => (Some(credentials), host_port),
            None => (None, location),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| SmtpConfigError(format!("{port:?} is not a port number")))?;
                (host.to_owned(), Some(port))
            }
            None => (host_port.to_owned(), None),
        };
        if host.is_empty() {
            return Err(SmtpConfigError("the host is missing".into()));
        }
        let (username, password) = match credentials {
            Some(credentials) => {
                let (user, pass) = credentials.split_once(':').unwrap_or((credentials, ""));
                (
                    Some(decode(user)?),
                    (!pass.is_empty())
                        .then(|| decode(pass))
                        .transpose()?
                        .map(Secret::new),
                )
            }
            None => (None, None),
        };
        let mut security = default_security;
        let mut from = None;
        let mut from_name = None;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value)?;
            match key {
                "security" => {
                    security = Security::parse(&value).ok_or_else(|| {
                        SmtpConfigError(format!("security={value} (use none, starttls or tls)"))
                    })?;
                }
                "from" => from = Some(value),
                "from_name" => from_name = Some(value),
                other => return Err(SmtpConfigError(format!("unknown parameter {other:?}"))),
            }
        }
        let from =
            from.ok_or_else(|| SmtpConfigError("add ?from=address for the sender".into()))?;
        let from = mailbox(from_name.as_deref(), &from)
            .map_err(|error| SmtpConfigError(error.to_string()))?;
        let port = port.unwrap_or(match security {
            Security::None => 25,
            Security::Starttls => 587,
            Security::Tls => 465,
        });
        Ok(SmtpConfig {
            host,
            port,
            security,
            username,
            password,
            from,
        })
    }
}

/// Connections kept open between mails, at most.
const IDLE_CONNECTIONS: usize = 4;
/// How long an unused connection is kept; servers close idle ones after
/// a few minutes (Postfix: 300 s), and a kept one is checked with NOOP
/// before it carries a mail.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Mechanisms tried, in order, when the server asks for credentials.
const AUTH_MECHANISMS: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

/// Sends mail through one SMTP server, keeping a few connections open
/// between mails. The connections are made here (not by lettre's
/// transport) so that Nagle's algorithm is off: see `net`.
#[derive(Clone)]
pub struct SmtpSender {
    server: Arc<SmtpServer>,
}

struct SmtpServer {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SmtpSender")
    }
}

impl SmtpSender {
    pub fn new(config: &SmtpConfig) -> Result<SmtpSender, String> {
        let credentials = config.username.as_ref().map(|username| {
            let password = config
                .password
                .as_ref()
                .map(|password| password.expose().to_owned())
                .unwrap_or_default();
            Credentials::new(username.clone(), password)
        });
        Ok(SmtpSender {
            server: Arc::new(SmtpServer {
                host: config.host.clone(),
                port: config.port,
                security: config.security,
                credentials,
                hello: ClientId::default(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Sends one mail; the error is the server's answer or the connection failure.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), String> {
        let message = mail
            .to_message()
            .map_err(|error| format!("cannot build the message: {error}"))?;
        let envelope = message.envelope().clone();
        let source = message.formatted();
        let within =
            |what: &'static str| move |_| format!("{what}: the SMTP server did not answer in time");
        let mut connection = tokio::time::timeout(SMTP_TIMEOUT, self.connection())
            .await
            .map_err(within("connecting"))??;
        let sent = tokio::time::timeout(SMTP_TIMEOUT, connection.send(&envelope, &source))
            .await
            .map_err(within("sending"))?;
        match sent {
            Ok(_) => {
                self.keep(connection);
                Ok(())
            }
            Err(error) => {
                // A refused mail leaves the connection usable, but after an
                // error nothing says in which state: start afresh.
                connection.abort().await;
                Err(error.to_string())
            }
        }
    }

    /// A kept connection that still answers, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, String> {
        while let Some(mut kept) = self.take_idle() {
            if kept.test_connected().await {
                return Ok(kept);
            }
            kept.abort().await;
        }
        self.open().await
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self
            .server
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        idle.retain(|(_, since)| since.elapsed() < IDLE_LIMIT);
        idle.pop().map(|(connection, _)| connection)
    }

    fn keep(&self, connection: AsyncSmtpConnection) {
        let mut idle = self
            .server
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push((connection, Instant::now()));
        }
    }

    /// Connects, greets, protects the connection as configured and logs in.
    async fn open(&self) -> Result<AsyncSmtpConnection, String> {
        let server = &self.server;
        let tcp = net::connect(&server.host, server.port).await?;
        let transport = match server.security {
            Security::Tls => net::tls_over(tcp, &server.host).await?,
            Security::None | Security::Starttls => net::Transport::Plain(tcp),
        };
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(Box::new(transport), &server.hello)
                .await
                .map_err(|error| error.to_string())?;
        if server.security == Security::Starttls {
            let tls = TlsParameters::new(server.host.clone()).map_err(|error| error.to_string())?;
            connection
                .starttls(tls, &server.hello)
                .await
                .map_err(|error| format!("STARTTLS: {error}"))?;
        }
        if let Some(credentials) = &server.credentials {
            connection
                .auth(&AUTH_MECHANISMS, credentials)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_smtp_url_carries_the_whole_configuration() {
        let config =
            SmtpConfig::from_url("smtp://mailer:p%40ss@mail.example.org:2525?security=starttls&from=help@example.org&from_name=Help%20Desk")
                .unwrap();
        assert_eq!(config.host, "mail.example.org");
        assert_eq!(config.port, 2525);
        assert_eq!(config.security, Security::Starttls);
        assert_eq!(config.username.as_deref(), Some("mailer"));
        assert_eq!(config.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(config.from.to_string(), "Help Desk <help@example.org>");
        let tls = SmtpConfig::from_url("smtps://mail.example.org?from=help@example.org").unwrap();
        assert_eq!((tls.security, tls.port), (Security::Tls, 465));
    }

    #[test]
    fn bad_smtp_urls_say_what_is_wrong() {
        for (url, words) in [
            ("mail.example.org", "smtp://"),
            ("http://mail.example.org?from=a@b.c", "scheme"),
            ("smtp://mail.example.org", "from="),
            ("smtp://mail.example.org:x?from=a@b.c", "port"),
            (
                "smtp://mail.example.org?from=a@b.c&security=maybe",
                "security",
            ),
            ("smtp://mail.example.org?from=not-an-address", "address"),
        ] {
            let error = SmtpConfig::from_url(url).unwrap_err().to_string();
            assert!(error.contains(words), "{url}: {error}");
        }
    }

    fn mail_to(address: &str, subject: &str) -> OutgoingMail {
        OutgoingMail {
            from: mailbox(Some("Help"), "help@example.org").unwrap(),
            to: vec![mailbox(None, address).unwrap()],
            subject: crate::HeaderText::parse(subject).unwrap(),
            text_body: "Words enough for a body that is more than one line.\n".repeat(40),
            html_body: None,
            message_id: crate::new_message_id("example.org"),
            threading: crate::Threading::default(),
            reply_to: None,
        }
    }

    #[tokio::test]
    async fn mails_in_a_row_share_a_connection_and_do_not_wait_on_acknowledgements() {
        let Some(server) = ferrodesk_testkit::smtp::SmtpServer::start().await else {
            return;
        };
        let sender = SmtpSender::new(&SmtpConfig::from_url(&server.url()).unwrap()).unwrap();
        sender
            .send(&mail_to("first@example.net", "First"))
            .await
            .unwrap();
        let started = Instant::now();
        for number in 0..20 {
            sender
                .send(&mail_to("ada@example.net", &format!("Mail {number}")))
                .await
                .unwrap();
        }
        // With Nagle's algorithm on, each mail's final line waited about
        // 40 ms for the server's delayed acknowledgement.
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(20 * 30),
            "20 mails took {elapsed:?}"
        );
        assert_eq!(server.wait_for(21, Duration::from_secs(10)).await.len(), 21);
        assert_eq!(
            sender.server.idle.lock().unwrap().len(),
            1,
            "one connection carried them all"
        );
    }

    #[tokio::test]
    async fn starttls_is_required_when_configured() {
        let Some(server) = ferrodesk_testkit::smtp::SmtpServer::start().await else {
            return;
        };
        let url = server.url().replace("security=none", "security=starttls");
        let sender = SmtpSender::new(&SmtpConfig::from_url(&url).unwrap()).unwrap();
        let refused = sender
            .send(&mail_to("ada@example.net", "Secret"))
            .await
            .unwrap_err();
        assert!(refused.contains("STARTTLS"), "{refused}");
        assert!(
            server.received().is_empty(),
            "nothing went out in the clear"
        );
    }
}
