//! Sending through an SMTP server with lettre.

use std::time::Duration;

use ferrodesk_core::Secret;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::address::mailbox;
use crate::compose::OutgoingMail;

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

/// A connection pool to one SMTP server.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SmtpSender")
    }
}

impl SmtpSender {
    pub fn new(config: &SmtpConfig) -> Result<SmtpSender, String> {
        let builder = match config.security {
            Security::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            }
            Security::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|error| error.to_string())?
            }
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|error| error.to_string())?,
        };
        let mut builder = builder.port(config.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(username) = &config.username {
            let password = config
                .password
                .as_ref()
                .map(|password| password.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(SmtpSender {
            transport: builder.build(),
        })
    }

    /// Sends one mail; the error is the server's answer or the connection failure.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), String> {
        let message = mail
            .to_message()
            .map_err(|error| format!("cannot build the message: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
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
}
