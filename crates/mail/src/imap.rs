//! Fetching mail over IMAP (RFC 3501) with `async-imap`: connect with TLS,
//! STARTTLS or (on a trusted network) none, log in, select the folder, and
//! fetch by UID so that a message is never fetched twice or skipped: the
//! caller keeps the last UID it stored, within the folder's UIDVALIDITY.
//! Bodies are fetched with `BODY.PEEK[]`, so fetching marks nothing; what
//! happens to a message afterwards (marked seen, moved, deleted) is a
//! separate step, taken only once it is stored.

use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::StreamExt;

use crate::net::{Transport, connect, tls_over};

/// How an IMAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSecurity {
    /// TLS from the start (port 993).
    Tls,
    /// Plain first, then STARTTLS before logging in (port 143).
    StartTls,
    /// No encryption: only for a server on the same machine or network.
    None,
}

impl ImapSecurity {
    pub fn parse(text: &str) -> Option<ImapSecurity> {
        match text {
            "tls" => Some(ImapSecurity::Tls),
            "starttls" => Some(ImapSecurity::StartTls),
            "none" => Some(ImapSecurity::None),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            ImapSecurity::Tls => "tls",
            ImapSecurity::StartTls => "starttls",
            ImapSecurity::None => "none",
        }
    }
}

/// Where and how to fetch.
#[derive(Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: ImapSecurity,
    pub user: String,
    pub password: String,
    pub folder: String,
}

impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

/// What to do with a message once it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFetch {
    MarkSeen,
    MoveTo(String),
    Delete,
}

/// Why talking to the server failed, in words for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImapError(pub String);

fn failed(what: &str) -> impl Fn(async_imap::error::Error) -> ImapError + '_ {
    move |error| ImapError(format!("{what}: {error}"))
}

/// Longest any single exchange with the server may take.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(60);

async fn within<T>(
    what: &str,
    work: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(EXCHANGE_LIMIT, work)
        .await
        .unwrap_or_else(|_| {
            Err(ImapError(format!(
                "{what}: the server did not answer in time"
            )))
        })
}

/// A logged-in session with the folder selected.
pub struct ImapSession {
    session: Session<Transport>,
    uid_validity: u32,
    /// The server's greeting and what SELECT said, for "Test connection".
    pub summary: String,
}

/// One message fetched: its UID and its source (or, when it is larger
/// than the caller takes, its start and its size).
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    pub uid: u32,
    pub raw: Vec<u8>,
    pub size: usize,
}

impl ImapSession {
    /// Connects, logs in and selects the folder.
    pub async fn open(config: &ImapConfig) -> Result<ImapSession, ImapError> {
        within("connecting", async {
            let tcp = connect(&config.host, config.port)
                .await
                .map_err(ImapError)?;
            let transport = match config.security {
                ImapSecurity::Tls => tls_over(tcp, &config.host).await.map_err(ImapError)?,
                ImapSecurity::None | ImapSecurity::StartTls => Transport::Plain(tcp),
            };
            let mut client = Client::new(transport);
            let greeting = client
                .read_response()
                .await
                .map_err(|error| ImapError(format!("no greeting: {error}")))?
                .ok_or_else(|| ImapError("the server closed the connection at once".to_owned()))?;
            let greeting = String::from_utf8_lossy(greeting.borrow_owner())
                .trim()
                .to_owned();
            if config.security == ImapSecurity::StartTls {
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(failed("STARTTLS"))?;
                let Transport::Plain(tcp) = client.into_inner() else {
                    return Err(ImapError("STARTTLS on a TLS connection".to_owned()));
                };
                client = Client::new(tls_over(tcp, &config.host).await.map_err(ImapError)?);
            }
            let mut session = client
                .login(&config.user, &config.password)
                .await
                .map_err(|(error, _)| ImapError(format!("login refused: {error}")))?;
            let mailbox = session
                .select(&config.folder)
                .await
                .map_err(failed(&format!("cannot open the folder {}", config.folder)))?;
            let uid_validity = mailbox
                .uid_validity
                .ok_or_else(|| ImapError("the server gives no UIDVALIDITY".to_owned()))?;
            Ok(ImapSession {
                session,
                uid_validity,
                summary: format!(
                    "{greeting} | {}: {} messages, UIDVALIDITY {uid_validity}",
                    config.folder, mailbox.exists
                ),
            })
        })
        .await
    }

    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// The UIDs above `last_uid`, oldest first, with their sizes; at most
    /// `limit` of them.
    pub async fn new_uids(
        &mut self,
        last_uid: u32,
        limit: usize,
    ) -> Result<Vec<(u32, usize)>, ImapError> {
        within("listing new messages", async {
            let mut found = Vec::new();
            let mut fetches = self
                .session
                .uid_fetch(
                    format!("{}:*", last_uid.saturating_add(1)),
                    "(UID RFC822.SIZE)",
                )
                .await
                .map_err(failed("listing new messages"))?;
            while let Some(fetch) = fetches.next().await {
                let fetch = fetch.map_err(failed("listing new messages"))?;
                // "n:*" also answers the newest message when nothing is newer.
                if let Some(uid) = fetch.uid.filter(|uid| *uid > last_uid) {
                    found.push((uid, fetch.size.unwrap_or(0) as usize));
                }
            }
            found.sort_unstable();
            found.truncate(limit);
            Ok(found)
        })
        .await
    }

    /// One message's source; a message larger than `max_bytes` gives only
    /// its header.
    pub async fn fetch(
        &mut self,
        uid: u32,
        size: usize,
        max_bytes: usize,
    ) -> Result<FetchedMessage, ImapError> {
        let header_only = size > max_bytes;
        let part = if header_only {
            "BODY.PEEK[HEADER]"
        } else {
            "BODY.PEEK[]"
        };
        within("fetching a message", async {
            let mut fetches = self
                .session
                .uid_fetch(uid.to_string(), format!("(UID {part})"))
                .await
                .map_err(failed("fetching a message"))?;
            let mut raw = None;
            while let Some(fetch) = fetches.next().await {
                let fetch = fetch.map_err(failed("fetching a message"))?;
                if fetch.uid == Some(uid) {
                    let part = if header_only {
                        fetch.header()
                    } else {
                        fetch.body()
                    };
                    raw = part.map(<[u8]>::to_vec);
                }
            }
            let raw = raw.ok_or_else(|| ImapError(format!("message {uid} is gone")))?;
            Ok(FetchedMessage {
                uid,
                size: size.max(raw.len()),
                raw,
            })
        })
        .await
    }

    /// The sources of several messages in one exchange, in UID order. The
    /// caller keeps their sizes bounded: all are read into memory.
    pub async fn fetch_many(
        &mut self,
        wanted: &[(u32, usize)],
    ) -> Result<Vec<FetchedMessage>, ImapError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let set = wanted
            .iter()
            .map(|(uid, _)| uid.to_string())
            .collect::<Vec<_>>()
            .join(",");
        within("fetching messages", async {
            let mut fetches = self
                .session
                .uid_fetch(set, "(UID BODY.PEEK[])")
                .await
                .map_err(failed("fetching messages"))?;
            let mut sources: Vec<Option<Vec<u8>>> = vec![None; wanted.len()];
            while let Some(fetch) = fetches.next().await {
                let fetch = fetch.map_err(failed("fetching messages"))?;
                let place = fetch
                    .uid
                    .and_then(|uid| wanted.iter().position(|(wanted, _)| *wanted == uid));
                if let (Some(place), Some(body)) = (place, fetch.body()) {
                    sources[place] = Some(body.to_vec());
                }
            }
            wanted
                .iter()
                .zip(sources)
                .map(|(&(uid, size), raw)| {
                    let raw = raw.ok_or_else(|| ImapError(format!("message {uid} is gone")))?;
                    Ok(FetchedMessage {
                        uid,
                        size: size.max(raw.len()),
                        raw,
                    })
                })
                .collect()
        })
        .await
    }

    /// Marks, moves or deletes the messages with these UIDs.
    pub async fn after_fetch(
        &mut self,
        uids: &[u32],
        action: &AfterFetch,
    ) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.act_on(set, action).await
    }

    /// Marks, moves or deletes the messages with UIDs from `first` to
    /// `last` (those that are still there).
    pub async fn after_fetch_range(
        &mut self,
        first: u32,
        last: u32,
        action: &AfterFetch,
    ) -> Result<(), ImapError> {
        if first > last {
            return Ok(());
        }
        self.act_on(format!("{first}:{last}"), action).await
    }

    async fn act_on(&mut self, set: String, action: &AfterFetch) -> Result<(), ImapError> {
        within("handling fetched messages", async {
            match action {
                AfterFetch::MarkSeen => {
                    let updates = self
                        .session
                        .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                        .await
                        .map_err(failed("marking messages seen"))?;
                    let _: Vec<_> = updates.collect().await;
                }
                AfterFetch::MoveTo(folder) => {
                    self.session
                        .uid_mv(&set, folder)
                        .await
                        .map_err(failed(&format!("moving messages to {folder}")))?;
                }
                AfterFetch::Delete => {
                    let updates = self
                        .session
                        .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                        .await
                        .map_err(failed("deleting messages"))?;
                    let _: Vec<_> = updates.collect().await;
                    let expunged = self
                        .session
                        .uid_expunge(&set)
                        .await
                        .map_err(failed("deleting messages"))?;
                    let _: Vec<_> = expunged.collect().await;
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}
