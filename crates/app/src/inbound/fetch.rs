//! Fetching the IMAP accounts. Every node runs the same loop; a lease in
//! the database makes one node at a time fetch an account (another takes
//! over when the lease runs out, say because the node died). Messages are
//! fetched by UID above the last one stored, each stored with its job in
//! the transaction that moves the position, so after a crash nothing is
//! fetched twice or skipped; only then is a message marked seen, moved or
//! deleted on the server.

use std::time::Duration;

use ferrodesk_mail::imap::{AfterFetch, ImapConfig, ImapSecurity, ImapSession};
use ferrodesk_mail::inbound::{MAX_INBOUND_BYTES, header_summary};
use ferrodesk_store::{EmailAccountRecord, NewInboundMail};

use crate::{App, AppError, AppResult};

/// Messages fetched and stored together (in one exchange with the server
/// and one transaction), and batches per visit (the rest wait for the
/// next visit, so one account cannot hold a node forever).
const FETCH_BATCH: usize = 50;
const BATCHES_PER_VISIT: usize = 10;
/// The most bytes (by the server's sizes) fetched together: a larger
/// message is fetched alone.
const FETCH_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// How long a node holds an account while fetching it (renewed per batch).
const FETCH_LEASE: Duration = Duration::from_secs(120);
/// The purpose IMAP passwords are sealed for.
pub(crate) const IMAP_PASSWORD_PURPOSE: &str = "imap password";

/// What one visit to an account did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    pub stored: usize,
    /// Another node holds the account now.
    pub skipped: bool,
    /// The visit ended at its limit with messages still waiting.
    pub more_waiting: bool,
    pub error: Option<String>,
}

impl App {
    /// The IMAP settings of an account, its password opened.
    pub(crate) fn imap_config(&self, account: &EmailAccountRecord) -> AppResult<ImapConfig> {
        let password = if account.imap_password_sealed.is_empty() {
            String::new()
        } else {
            let bytes = self
                .inner
                .key
                .open(IMAP_PASSWORD_PURPOSE, &account.imap_password_sealed)?;
            String::from_utf8(bytes)
                .map_err(|_| AppError::Internal("a stored IMAP password is not text".into()))?
        };
        Ok(ImapConfig {
            host: account.imap_host.clone(),
            port: u16::try_from(account.imap_port).unwrap_or(993),
            security: ImapSecurity::parse(&account.imap_security).unwrap_or(ImapSecurity::Tls),
            user: account.imap_user.clone(),
            password,
            folder: account.imap_folder.clone(),
        })
    }

    /// Visits every enabled IMAP account whose poll interval has passed;
    /// an account whose visit ended at its limit with more waiting is
    /// visited again after the others, until none has more.
    pub async fn fetch_due_mail(&self, owner: &str) -> AppResult<usize> {
        let now = self.now().millis();
        let states = self.store().inbound_mail().imap_fetch_states().await?;
        let mut due: Vec<EmailAccountRecord> = self
            .store()
            .email_accounts()
            .list_email_accounts()
            .await?
            .into_iter()
            .filter(|account| account.transport == "imap" && account.is_enabled)
            .filter(|account| {
                let last = states
                    .iter()
                    .find(|state| state.account_id == account.id)
                    .and_then(|state| state.last_fetch_at);
                last.is_none_or(|last| now - last >= account.poll_seconds.max(1) * 1000)
            })
            .collect();
        let mut stored = 0;
        while !due.is_empty() {
            let mut again = Vec::new();
            for account in due {
                let report = self.fetch_account_mail(&account, owner).await?;
                stored += report.stored;
                if report.more_waiting && report.error.is_none() {
                    again.push(account);
                }
            }
            due = again;
        }
        Ok(stored)
    }

    /// Fetches one account now, if no other node is.
    pub async fn fetch_account_mail(
        &self,
        account: &EmailAccountRecord,
        owner: &str,
    ) -> AppResult<FetchReport> {
        let received = self.store().inbound_mail();
        let now = self.now();
        let Some(state) = received
            .take_imap_lease(account.id, owner, now.plus(FETCH_LEASE), now)
            .await?
        else {
            return Ok(FetchReport {
                skipped: true,
                ..FetchReport::default()
            });
        };
        let mut report = FetchReport::default();
        let outcome = self
            .fetch_with_lease(
                account,
                owner,
                (state.uid_validity, state.last_uid, state.acted_uid),
                &mut report,
            )
            .await;
        let error = match outcome {
            Ok(()) => String::new(),
            Err(FetchError::Server(problem)) => problem,
            Err(FetchError::App(error)) => {
                received
                    .finish_imap_fetch(account.id, owner, &error.to_string(), self.now())
                    .await?;
                return Err(error);
            }
        };
        if !error.is_empty() {
            tracing::warn!(account = %account.address, %error, "fetching mail failed");
            report.error = Some(error.clone());
        }
        received
            .finish_imap_fetch(account.id, owner, &error, self.now())
            .await?;
        // The workers were woken as each batch was stored.
        Ok(report)
    }

    async fn fetch_with_lease(
        &self,
        account: &EmailAccountRecord,
        owner: &str,
        (stored_validity, mut last_uid, mut acted_uid): (i64, i64, i64),
        report: &mut FetchReport,
    ) -> Result<(), FetchError> {
        let received = self.store().inbound_mail();
        let config = self.imap_config(account)?;
        let action = after_fetch(account);
        let mut session = ImapSession::open(&config).await?;
        let validity = i64::from(session.uid_validity());
        if validity != stored_validity {
            if stored_validity != 0 {
                tracing::warn!(account = %account.address, "the folder's UIDVALIDITY changed; fetching it again from the start");
            }
            if !received
                .restart_imap_folder(account.id, owner, validity)
                .await?
            {
                return Ok(());
            }
            (last_uid, acted_uid) = (0, 0);
        }
        // Messages stored before a crash but not yet marked, moved or
        // deleted.
        if acted_uid < last_uid {
            session
                .after_fetch_range(as_uid(acted_uid + 1), as_uid(last_uid), &action)
                .await?;
            received
                .mark_imap_acted(account.id, owner, last_uid)
                .await?;
        }
        let visit_limit = FETCH_BATCH * BATCHES_PER_VISIT;
        let waiting = session.new_uids(as_uid(last_uid), visit_limit).await?;
        report.more_waiting = waiting.len() == visit_limit;
        for group in fetch_groups(&waiting) {
            let messages = match group {
                [(uid, size)] => vec![session.fetch(*uid, *size, MAX_INBOUND_BYTES).await?],
                _ => session.fetch_many(group).await?,
            };
            let mut summaries = Vec::with_capacity(messages.len());
            for message in &messages {
                let summary = header_summary(&message.raw);
                let refusal = self.refusal_if_oversized(&summary, message.size).await?;
                let file = self.keep_source_file(&message.raw).await?;
                summaries.push((summary, refusal, file));
            }
            let mails: Vec<NewInboundMail<'_>> = messages
                .iter()
                .zip(&summaries)
                .map(|(message, (summary, refusal, file))| NewInboundMail {
                    account_id: Some(account.id),
                    imap: Some((validity, i64::from(message.uid))),
                    source: super::mail_source(&message.raw, file.as_ref()),
                    message_id: &summary.message_id,
                    sender: &summary.sender,
                    subject: &summary.subject,
                    refused: refusal.as_ref().map(super::OversizedRefusal::as_refusal),
                })
                .collect();
            let Some(stored) = received
                .store_fetched_mails(owner, &mails, self.now())
                .await?
            else {
                // The lease went to another node: stop here.
                return Ok(());
            };
            // Processing starts while the next group is fetched.
            self.wake_workers();
            let first = last_uid + 1;
            last_uid = messages.last().map_or(last_uid, |last| i64::from(last.uid));
            report.stored += stored.len();
            session
                .after_fetch_range(as_uid(first), as_uid(last_uid), &action)
                .await?;
            received
                .mark_imap_acted(account.id, owner, last_uid)
                .await?;
            let now = self.now();
            if received
                .take_imap_lease(account.id, owner, now.plus(FETCH_LEASE), now)
                .await?
                .is_none()
            {
                report.more_waiting = false;
                break;
            }
        }
        session.logout().await;
        Ok(())
    }

    /// Tries an account's IMAP settings: the server's greeting and what it
    /// says of the folder, or why it failed.
    pub async fn test_imap_account(
        &self,
        account: &EmailAccountRecord,
    ) -> AppResult<Result<String, String>> {
        let config = self.imap_config(account)?;
        Ok(match ImapSession::open(&config).await {
            Ok(session) => {
                let summary = session.summary.clone();
                session.logout().await;
                Ok(summary)
            }
            Err(error) => Err(error.0),
        })
    }
}

fn after_fetch(account: &EmailAccountRecord) -> AfterFetch {
    match account.after_fetch.as_str() {
        "move" if !account.move_to_folder.is_empty() => {
            AfterFetch::MoveTo(account.move_to_folder.clone())
        }
        "delete" => AfterFetch::Delete,
        _ => AfterFetch::MarkSeen,
    }
}

/// The new messages cut into batches of at most [`FETCH_BATCH`] messages
/// and [`FETCH_BATCH_BYTES`] bytes; a message larger than that is a batch
/// of its own.
fn fetch_groups(waiting: &[(u32, usize)]) -> Vec<&[(u32, usize)]> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, &(_, size)) in waiting.iter().enumerate() {
        let full = index - start == FETCH_BATCH || bytes + size > FETCH_BATCH_BYTES;
        if index > start && full {
            groups.extend(waiting.get(start..index));
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    groups.extend(waiting.get(start..).filter(|rest| !rest.is_empty()));
    groups
}

fn as_uid(uid: i64) -> u32 {
    u32::try_from(uid.max(0)).unwrap_or(u32::MAX)
}

/// Why a visit stopped: the server (noted for the admin) or the helpdesk.
enum FetchError {
    Server(String),
    App(AppError),
}

impl From<ferrodesk_mail::imap::ImapError> for FetchError {
    fn from(error: ferrodesk_mail::imap::ImapError) -> FetchError {
        FetchError::Server(error.0)
    }
}

impl From<AppError> for FetchError {
    fn from(error: AppError) -> FetchError {
        FetchError::App(error)
    }
}

impl From<ferrodesk_store::StoreError> for FetchError {
    fn from(error: ferrodesk_store::StoreError) -> FetchError {
        FetchError::App(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_messages_are_fetched_in_batches_bounded_by_count_and_bytes() {
        let small: Vec<(u32, usize)> = (1..=120).map(|uid| (uid, 2_000)).collect();
        let sizes: Vec<usize> = fetch_groups(&small)
            .iter()
            .map(|group| group.len())
            .collect();
        assert_eq!(sizes, [50, 50, 20]);

        let big = FETCH_BATCH_BYTES + 1;
        let mixed = [
            (1, 10),
            (2, big),
            (3, 10),
            (4, 5 * 1024 * 1024),
            (5, 4 * 1024 * 1024),
        ];
        let groups: Vec<Vec<u32>> = fetch_groups(&mixed)
            .iter()
            .map(|group| group.iter().map(|(uid, _)| *uid).collect())
            .collect();
        assert_eq!(groups, [vec![1], vec![2], vec![3, 4], vec![5]]);
        assert!(fetch_groups(&[]).is_empty());
    }
}
