//! The email accounts admins set up (Admin → Email → Accounts): the
//! address, the department its new tickets go to, and how its mail comes
//! in, IMAP with a password sealed under the instance key, or a pipe from
//! the mail server. Every change is audited, passwords never.

use ferrodesk_core::Email;
use ferrodesk_mail::imap::ImapSecurity;
use ferrodesk_store::{EmailAccountRecord, EmailAccountWrite, ImapFetchState};
use serde::Serialize;

use super::fetch::IMAP_PASSWORD_PURPOSE;
use crate::audit::{Audit, Caller};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// Poll intervals an admin may choose, in seconds.
const MIN_POLL_SECONDS: i64 = 30;
const MAX_POLL_SECONDS: i64 = 24 * 60 * 60;

/// An account as the form sends it.
#[derive(Debug, Clone, Default)]
pub struct EmailAccountInput {
    pub address: String,
    /// A department id; empty for the default department.
    pub department: String,
    /// `imap` or `pipe`.
    pub transport: String,
    pub imap_host: String,
    pub imap_port: String,
    pub imap_security: String,
    pub imap_user: String,
    /// Empty keeps the stored password.
    pub imap_password: String,
    pub imap_folder: String,
    pub poll_seconds: String,
    /// `seen`, `move` or `delete`.
    pub after_fetch: String,
    pub move_to_folder: String,
    pub is_enabled: bool,
}

/// An account with how its fetching stands.
#[derive(Debug, Clone)]
pub struct EmailAccountView {
    pub account: EmailAccountRecord,
    pub fetch: Option<ImapFetchState>,
}

/// What the audit log keeps of an account (never its password).
#[derive(Debug, Serialize)]
struct AuditedAccount<'a> {
    address: &'a str,
    department_id: Option<i64>,
    transport: &'a str,
    imap_host: &'a str,
    imap_port: i64,
    imap_security: &'a str,
    imap_user: &'a str,
    imap_folder: &'a str,
    poll_seconds: i64,
    after_fetch: &'a str,
    move_to_folder: &'a str,
    is_enabled: bool,
}

fn audited(account: &EmailAccountRecord) -> AuditedAccount<'_> {
    AuditedAccount {
        address: &account.address,
        department_id: account.department_id,
        transport: &account.transport,
        imap_host: &account.imap_host,
        imap_port: account.imap_port,
        imap_security: &account.imap_security,
        imap_user: &account.imap_user,
        imap_folder: &account.imap_folder,
        poll_seconds: account.poll_seconds,
        after_fetch: &account.after_fetch,
        move_to_folder: &account.move_to_folder,
        is_enabled: account.is_enabled,
    }
}

/// A folder name an IMAP server takes: printable, one line, not too long.
fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name
            .chars()
            .any(|character| character.is_control() || character == '"')
}

/// A host name or IP address.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | ':' | '[' | ']')
        })
}

impl App {
    /// Every account with how its fetching stands (admins).
    pub async fn email_accounts(&self, actor: &Actor) -> AppResult<Vec<EmailAccountView>> {
        actor.require_admin()?;
        let states = self.store().inbound_mail().imap_fetch_states().await?;
        Ok(self
            .store()
            .email_accounts()
            .list_email_accounts()
            .await?
            .into_iter()
            .map(|account| EmailAccountView {
                fetch: states
                    .iter()
                    .find(|state| state.account_id == account.id)
                    .cloned(),
                account,
            })
            .collect())
    }

    /// One account (admins).
    pub async fn email_account(&self, actor: &Actor, id: i64) -> AppResult<EmailAccountRecord> {
        actor.require_admin()?;
        self.store()
            .email_accounts()
            .get_email_account(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Creates (`id` None) or saves an account; answers its id.
    pub async fn save_email_account(
        &self,
        caller: &Caller<'_>,
        id: Option<i64>,
        input: &EmailAccountInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let before = match id {
            Some(id) => Some(self.email_account(caller.actor, id).await?),
            None => None,
        };
        let mut errors = FieldErrors::new();
        let address = errors.check("address", Email::parse(input.address.trim()));
        let department_id = match input.department.trim() {
            "" => None,
            text => {
                let known = self.store().departments().list_departments().await?;
                match text
                    .parse::<i64>()
                    .ok()
                    .filter(|id| known.iter().any(|department| department.id == *id))
                {
                    Some(id) => Some(id),
                    None => {
                        errors.add("department", "Choose a department from the list.");
                        None
                    }
                }
            }
        };
        let transport = input.transport.trim();
        if !matches!(transport, "imap" | "pipe") {
            errors.add(
                "transport",
                "Choose how mail arrives: IMAP or a pipe from the mail server.",
            );
        }
        let is_imap = transport == "imap";
        let host = input.imap_host.trim();
        let port = input
            .imap_port
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0);
        let security = ImapSecurity::parse(input.imap_security.trim());
        let user = input.imap_user.trim();
        let folder = match input.imap_folder.trim() {
            "" => "INBOX",
            folder => folder,
        };
        let poll = input.poll_seconds.trim().parse::<i64>().ok();
        let after_fetch = input.after_fetch.trim();
        let move_to = input.move_to_folder.trim();
        if is_imap {
            if !is_host(host) {
                errors.add(
                    "imap_host",
                    "Enter the IMAP server's host name or IP address.",
                );
            }
            if port.is_none() {
                errors.add("imap_port", "The port is a number from 1 to 65535.");
            }
            if security.is_none() {
                errors.add("imap_security", "Choose TLS, STARTTLS or none.");
            }
            if user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
                errors.add(
                    "imap_user",
                    "Enter the user name the server knows the mailbox by.",
                );
            }
            let has_password = !input.imap_password.is_empty()
                || before
                    .as_ref()
                    .is_some_and(|account| !account.imap_password_sealed.is_empty());
            if !has_password {
                errors.add("imap_password", "Enter the mailbox's password.");
            }
            if !is_folder_name(folder) {
                errors.add("imap_folder", "Enter the folder to fetch, such as INBOX.");
            }
            if !poll.is_some_and(|seconds| (MIN_POLL_SECONDS..=MAX_POLL_SECONDS).contains(&seconds))
            {
                errors.add(
                    "poll_seconds",
                    format!("Fetch every {MIN_POLL_SECONDS} seconds to once a day."),
                );
            }
            if !matches!(after_fetch, "seen" | "move" | "delete") {
                errors.add("after_fetch", "Choose what happens to fetched mail.");
            }
            if after_fetch == "move" && !is_folder_name(move_to) {
                errors.add(
                    "move_to_folder",
                    "Enter the folder to move fetched mail to.",
                );
            }
        }
        if input.imap_password.len() > 1024 || input.imap_password.chars().any(char::is_control) {
            errors.add(
                "imap_password",
                "The password is too long or has control characters.",
            );
        }
        errors.into_result()?;
        let Some(address) = address else {
            return Err(AppError::invalid("address", "Enter the account's address."));
        };
        let sealed = match input.imap_password.as_str() {
            "" => None,
            password => Some(
                self.inner
                    .key
                    .seal(IMAP_PASSWORD_PURPOSE, password.as_bytes())?,
            ),
        };
        let write = EmailAccountWrite {
            address: address.as_str(),
            address_normalized: &address.normalized(),
            department_id,
            transport,
            imap_host: host,
            imap_port: i64::from(port.unwrap_or(993)),
            imap_security: security.unwrap_or(ImapSecurity::Tls).key(),
            imap_user: user,
            imap_password_sealed: sealed.as_deref(),
            imap_folder: folder,
            poll_seconds: poll.unwrap_or(60).clamp(MIN_POLL_SECONDS, MAX_POLL_SECONDS),
            after_fetch: if matches!(after_fetch, "seen" | "move" | "delete") {
                after_fetch
            } else {
                "seen"
            },
            move_to_folder: move_to,
            is_enabled: input.is_enabled,
        };
        let accounts = self.store().email_accounts();
        let conflict = |error| match error {
            ferrodesk_store::StoreError::Conflict(_) => {
                AppError::invalid("address", "Another account has this address.")
            }
            other => other.into(),
        };
        let id = match id {
            Some(id) => {
                if !accounts
                    .update_email_account(id, &write, self.now())
                    .await
                    .map_err(conflict)?
                {
                    return Err(AppError::NotFound);
                }
                id
            }
            None => accounts
                .create_email_account(&write, self.now())
                .await
                .map_err(conflict)?,
        };
        let after = self.email_account(caller.actor, id).await?;
        let action = if before.is_some() {
            "email_account.changed"
        } else {
            "email_account.created"
        };
        let audit = Audit::new(caller, action)
            .on("email_account", Some(id), &after.address)
            .change(&before.as_ref().map(audited), &Some(audited(&after)));
        self.audit(&audit).await?;
        // A new account is fetched at once, not at the loop's next tick.
        self.inner.mail_account_saved.notify_one();
        Ok(id)
    }

    /// Deletes an account (its received mail stays, without it).
    pub async fn delete_email_account(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let account = self.email_account(caller.actor, id).await?;
        self.store()
            .email_accounts()
            .delete_email_account(id)
            .await?;
        let audit = Audit::new(caller, "email_account.deleted")
            .on("email_account", Some(id), &account.address)
            .change(&Some(audited(&account)), &None);
        self.audit(&audit).await
    }

    /// Tries an account's IMAP settings now (admins): the server's answer.
    pub async fn test_email_account(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<Result<String, String>> {
        let account = self.email_account(actor, id).await?;
        if account.transport != "imap" {
            return Ok(Err(
                "This account takes mail through a pipe; there is nothing to connect to."
                    .to_owned(),
            ));
        }
        self.test_imap_account(&account).await
    }
}
