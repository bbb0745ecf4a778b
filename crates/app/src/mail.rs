//! Outbound email: composing notification mails from (possibly customised)
//! templates into the outbox, the job that sends an outbox row over SMTP, and
//! the admin's SMTP settings, outbox and template editor.

use std::sync::Mutex;

use ferrodesk_core::Secret;
use ferrodesk_mail::{
    HeaderText, Mailbox, OutgoingMail, Security, SmtpConfig, SmtpSender, TemplateError,
    TemplateKind, TemplateSource, Threading, mailbox, new_message_id, parse_mailbox, render,
    render_custom,
};
use ferrodesk_store::{JobRecord, MAIL_JOB_KIND, MailRecord, NewMail};
use serde::{Deserialize, Serialize};

use crate::audit::{Audit, Caller};
use crate::jobs::{JobFailure, JobResult};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The name mails and pages use until branding settings arrive.
pub const PRODUCT_NAME: &str = "Ferrodesk";
/// Where the admin's SMTP settings are kept.
const SMTP_SETTING: &str = "mail.smtp";
/// What the SMTP password is sealed for (also its associated data).
const SMTP_PASSWORD_PURPOSE: &str = "smtp password";
/// The fingerprint of SMTP settings that come from `FERRODESK_SMTP_URL`.
const ENVIRONMENT_FINGERPRINT: &str = "environment";
/// Outbox rows an admin page lists at most.
const OUTBOX_PAGE: i64 = 200;
/// The longest template part an admin may save.
const MAX_TEMPLATE_PART_BYTES: usize = 20_000;

fn template_setting(kind: TemplateKind) -> String {
    format!("mail.template.{}", kind.key())
}

fn template_failure_setting(kind: TemplateKind) -> String {
    format!("mail.template_failure.{}", kind.key())
}

/// A mail rendered and addressed, ready to go into the outbox.
#[derive(Debug, Clone)]
pub(crate) struct ComposedMail {
    message_id: String,
    recipients: String,
    subject: String,
    text_body: String,
    html_body: String,
    template: &'static str,
    /// The threading headers as the outbox keeps them (JSON).
    headers: String,
}

impl ComposedMail {
    /// "to <recipients>: <subject>", for a preview.
    pub(crate) fn describe(&self) -> String {
        let recipients: Vec<String> = serde_json::from_str(&self.recipients).unwrap_or_default();
        format!("to {}: {}", recipients.join(", "), self.subject)
    }

    pub(crate) fn as_new(&self) -> NewMail<'_> {
        NewMail {
            message_id: &self.message_id,
            recipients: &self.recipients,
            subject: &self.subject,
            text_body: &self.text_body,
            html_body: Some(&self.html_body),
            headers: &self.headers,
            template: self.template,
        }
    }

    /// Places the mail in a ticket's conversation: its Message-ID is the
    /// signed one naming the ticket and the recipient, and it refers to
    /// the conversation's root (and, when given, the message it answers).
    pub(crate) fn in_thread(
        mut self,
        message_id: String,
        root: &str,
        answering: Option<&str>,
    ) -> ComposedMail {
        let in_reply_to = answering.unwrap_or(root);
        let references = match answering {
            Some(answered) if answered != root => format!("{root} {answered}"),
            _ => root.to_owned(),
        };
        self.message_id = message_id;
        self.headers = serde_json::json!({
            "In-Reply-To": in_reply_to,
            "References": references,
        })
        .to_string();
        self
    }
}

/// The SMTP settings as stored in the database; the password only sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSmtp {
    host: String,
    port: u16,
    security: Security,
    username: Option<String>,
    password_sealed: Option<String>,
    from_address: String,
    from_name: Option<String>,
}

impl StoredSmtp {
    /// What the audit log keeps of the settings: everything but the
    /// password, of which only whether there is one.
    fn audit_view(&self) -> serde_json::Value {
        serde_json::json!({
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "password_set": self.password_sealed.is_some(),
            "from_address": self.from_address,
            "from_name": self.from_name,
        })
    }
}

/// Where the SMTP settings in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSource {
    /// `FERRODESK_SMTP_URL`: the admin page shows it read-only.
    Environment,
    /// The admin's settings.
    Database,
    /// Nothing yet: mail waits in the outbox.
    NotConfigured,
}

/// The SMTP settings as the admin page shows them: never the password, only
/// whether one is set.
#[derive(Debug, Clone)]
pub struct SmtpSettingsView {
    pub source: SmtpSource,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password_set: bool,
    pub from_address: String,
    pub from_name: String,
}

/// What the admin typed into the SMTP form.
#[derive(Debug)]
pub struct SmtpSettingsInput<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub security: &'a str,
    pub username: &'a str,
    /// Empty keeps the stored password.
    pub password: &'a Secret,
    /// Removes the stored password.
    pub forget_password: bool,
    pub from_address: &'a str,
    pub from_name: &'a str,
}

/// A template as the editor shows and saves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateText {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl TemplateText {
    fn source(&self) -> TemplateSource<'_> {
        TemplateSource {
            subject: &self.subject,
            text: &self.text,
            html: &self.html,
        }
    }

    fn builtin(kind: TemplateKind) -> TemplateText {
        let builtin = kind.builtin();
        TemplateText {
            subject: builtin.subject.to_owned(),
            text: builtin.text.to_owned(),
            html: builtin.html.to_owned(),
        }
    }
}

/// A line of the template list.
#[derive(Debug, Clone)]
pub struct TemplateOverview {
    pub kind: TemplateKind,
    pub customized: bool,
    /// Why the admin's version could not be used the last time it was.
    pub last_failure: Option<String>,
}

/// One template opened in the editor.
#[derive(Debug, Clone)]
pub struct TemplateEditor {
    pub kind: TemplateKind,
    pub template: TemplateText,
    pub customized: bool,
    pub last_failure: Option<String>,
}

/// A template rendered with sample values.
#[derive(Debug, Clone)]
pub struct TemplatePreview {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Set when the admin's version failed and the preview shows the
    /// built-in one instead.
    pub problem: Option<TemplateError>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFailure {
    at: i64,
    problem: String,
}

/// The SMTP connection pool in use, rebuilt when the settings change.
#[derive(Debug, Default)]
pub(crate) struct MailerCache(Mutex<Option<(String, SmtpSender, Mailbox)>>);

/// The outbox id a mail-sending job carries.
pub(crate) fn outbox_id_of(job: &JobRecord) -> Option<i64> {
    (job.kind == MAIL_JOB_KIND)
        .then(|| parse_outbox_payload(&job.payload))
        .flatten()
}

fn parse_outbox_payload(payload: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Payload {
        outbox_id: i64,
    }
    serde_json::from_str::<Payload>(payload)
        .ok()
        .map(|payload| payload.outbox_id)
}

/// One-time tokens in links are 64 hex digits; the admin's outbox view shows
/// mails without them, so reading the outbox does not hand out logins.
pub fn hide_tokens(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, shown: &mut String| {
        if run.len() >= 32 {
            shown.push_str("[one-time token hidden]");
        } else {
            shown.push_str(run);
        }
        run.clear();
    };
    for character in text.chars() {
        if character.is_ascii_hexdigit() {
            run.push(character);
        } else {
            flush(&mut run, &mut shown);
            shown.push(character);
        }
    }
    flush(&mut run, &mut shown);
    shown
}

impl App {
    /// The domain for Message-IDs: the public URL's host name.
    pub(crate) fn message_id_domain(&self) -> String {
        let host = self
            .public_url()
            .split_once("://")
            .map_or("", |(_, rest)| rest)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        if !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            host.to_owned()
        } else {
            "ferrodesk.invalid".to_owned()
        }
    }

    /// Renders `kind` for one recipient. An admin's template that fails is
    /// reported (on the template page and in the log) and the built-in
    /// version used, so a broken template never stops a mail.
    pub(crate) async fn compose_mail(
        &self,
        kind: TemplateKind,
        to_name: &str,
        to_address: &str,
        mut context: serde_json::Value,
    ) -> AppResult<ComposedMail> {
        let recipient = mailbox(Some(to_name), to_address)
            .or_else(|_| mailbox(None, to_address))
            .map_err(|error| AppError::invalid("email", error.to_string()))?;
        if let Some(values) = context.as_object_mut() {
            values.insert(
                "product_name".into(),
                self.settings().await?.branding.product_name.clone().into(),
            );
        }
        let custom = self.custom_template(kind).await?;
        let (rendered, problem) = render(
            kind,
            custom.as_ref().map(TemplateText::source).as_ref(),
            &context,
        );
        if let Some(problem) = problem {
            tracing::warn!(template = kind.key(), %problem, "mail template failed; the built-in version was used");
            let failure = serde_json::to_string(&StoredFailure {
                at: self.now().millis(),
                problem: problem.to_string(),
            })
            .map_err(|error| AppError::Internal(error.to_string()))?;
            self.store()
                .settings()
                .put_setting(&template_failure_setting(kind), &failure, self.now())
                .await?;
        }
        let recipients = serde_json::to_string(&[recipient.to_string()])
            .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok(ComposedMail {
            message_id: new_message_id(&self.message_id_domain()),
            recipients,
            subject: rendered.subject.as_str().to_owned(),
            text_body: rendered.text,
            html_body: rendered.html,
            template: kind.key(),
            headers: "{}".to_owned(),
        })
    }

    /// A rule's mail: subject and text already rendered from the rule's
    /// templates, the HTML made from the text's markdown.
    pub(crate) fn rule_mail(
        &self,
        to_name: &str,
        to_address: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> AppResult<ComposedMail> {
        let recipient = mailbox(Some(to_name).filter(|name| !name.is_empty()), to_address)
            .or_else(|_| mailbox(None, to_address))
            .map_err(|error| AppError::invalid("email", error.to_string()))?;
        let recipients = serde_json::to_string(&[recipient.to_string()])
            .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok(ComposedMail {
            message_id: new_message_id(&self.message_id_domain()),
            recipients,
            subject: HeaderText::flatten(subject).as_str().to_owned(),
            text_body: text.to_owned(),
            html_body: html.to_owned(),
            template: "rule",
            headers: "{}".to_owned(),
        })
    }

    async fn custom_template(&self, kind: TemplateKind) -> AppResult<Option<TemplateText>> {
        let stored = self
            .store()
            .settings()
            .get_setting(&template_setting(kind))
            .await?;
        Ok(stored.and_then(|json| parse_template(kind, &json)))
    }

    /// The SMTP settings in force in a form that changes whenever they do:
    /// the stored JSON, or "environment". `None` while mail is not configured.
    async fn smtp_fingerprint(&self) -> AppResult<Option<String>> {
        if self.inner.smtp_override.is_some() {
            return Ok(Some(ENVIRONMENT_FINGERPRINT.to_owned()));
        }
        Ok(self.store().settings().get_setting(SMTP_SETTING).await?)
    }

    /// The full SMTP configuration for a fingerprint, the password unsealed.
    fn smtp_config(&self, fingerprint: &str) -> AppResult<SmtpConfig> {
        if let Some(config) = &self.inner.smtp_override {
            return Ok(config.clone());
        }
        let stored: StoredSmtp = serde_json::from_str(fingerprint)
            .map_err(|_| AppError::Internal("the stored SMTP settings do not parse".into()))?;
        let password = match &stored.password_sealed {
            Some(sealed) => {
                let bytes = self.inner.key.open(SMTP_PASSWORD_PURPOSE, sealed)?;
                Some(Secret::new(String::from_utf8(bytes).map_err(|_| {
                    AppError::Internal("the stored SMTP password is not text".into())
                })?))
            }
            None => None,
        };
        let from = mailbox(stored.from_name.as_deref(), &stored.from_address)
            .map_err(|error| AppError::Internal(format!("stored sender: {error}")))?;
        Ok(SmtpConfig {
            host: stored.host,
            port: stored.port,
            security: stored.security,
            username: stored.username,
            password,
            from,
        })
    }

    /// The connection pool for the SMTP settings in force, or `None` while
    /// mail is not configured. The settings are read on every send (so every
    /// node follows an admin's change at once), but the password is only
    /// unsealed and the pool only rebuilt when they changed.
    async fn mailer(&self) -> AppResult<Option<(SmtpSender, Mailbox)>> {
        let Some(fingerprint) = self.smtp_fingerprint().await? else {
            return Ok(None);
        };
        {
            let cache = match self.inner.mailer.0.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some((cached, sender, from)) = cache.as_ref()
                && *cached == fingerprint
            {
                return Ok(Some((sender.clone(), from.clone())));
            }
        }
        let config = self.smtp_config(&fingerprint)?;
        let sender = SmtpSender::new(&config).map_err(AppError::Internal)?;
        let mut cache = match self.inner.mailer.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *cache = Some((fingerprint, sender.clone(), config.from.clone()));
        Ok(Some((sender, config.from)))
    }

    /// The job that sends one outbox row. A mail already sent is not sent
    /// again, so a job that runs twice (a lease that ran out mid-send) does
    /// no harm beyond that window.
    pub(crate) async fn send_queued_mail(&self, payload: &str, last_attempt: bool) -> JobResult {
        let outbox_id = parse_outbox_payload(payload)
            .ok_or_else(|| JobFailure::Permanent(format!("bad mail job payload {payload:?}")))?;
        let Some(mail) = self.store().outbox().get_mail(outbox_id).await? else {
            return Ok(());
        };
        if mail.status == "sent" {
            return Ok(());
        }
        let failed = |error: String, gave_up: bool| async move {
            self.store()
                .outbox()
                .mark_mail_attempt_failed(outbox_id, &error, gave_up)
                .await?;
            Err::<(), JobFailure>(if gave_up {
                JobFailure::Permanent(error)
            } else {
                JobFailure::Retry(error)
            })
        };
        let mailer = match self.mailer().await {
            Ok(Some(mailer)) => mailer,
            Ok(None) => {
                return failed("SMTP is not configured yet".into(), last_attempt).await;
            }
            Err(error) => return failed(error.to_string(), last_attempt).await,
        };
        let (sender, from) = mailer;
        let mut outgoing = match outgoing_mail(&mail, from) {
            Ok(outgoing) => outgoing,
            Err(error) => return failed(error, true).await,
        };
        outgoing.reply_to = self.reply_address(&outgoing).await?;
        match sender.send(&outgoing).await {
            Ok(()) => {
                self.store()
                    .outbox()
                    .mark_mail_sent(outbox_id, self.now())
                    .await?;
                tracing::info!(outbox_id, template = %mail.template, "mail sent");
                Ok(())
            }
            Err(error) => failed(error, last_attempt).await,
        }
    }

    /// The sender's plus-address with the mail's reply token, when the
    /// admin wants one and the mail is about a ticket.
    async fn reply_address(&self, outgoing: &OutgoingMail) -> AppResult<Option<Mailbox>> {
        if !self.settings().await?.mail_in.reply_to_plus_address {
            return Ok(None);
        }
        let id = outgoing
            .message_id
            .trim_start_matches('<')
            .trim_end_matches('>');
        if self.verify_thread_id(id).is_none() {
            return Ok(None);
        }
        let token = id.split_once('@').map_or(id, |(local, _)| local);
        Ok(ferrodesk_mail::plus_address(&outgoing.from, token))
    }

    /// The SMTP settings for the admin page.
    pub async fn smtp_settings(&self, actor: &Actor) -> AppResult<SmtpSettingsView> {
        actor.require_admin()?;
        if let Some(config) = &self.inner.smtp_override {
            return Ok(SmtpSettingsView {
                source: SmtpSource::Environment,
                host: config.host.clone(),
                port: config.port,
                security: config.security,
                username: config.username.clone().unwrap_or_default(),
                password_set: config.password.is_some(),
                from_address: config.from.email.to_string(),
                from_name: config.from.name.clone().unwrap_or_default(),
            });
        }
        let stored = self.stored_smtp().await?;
        Ok(match stored {
            Some(stored) => SmtpSettingsView {
                source: SmtpSource::Database,
                host: stored.host,
                port: stored.port,
                security: stored.security,
                username: stored.username.unwrap_or_default(),
                password_set: stored.password_sealed.is_some(),
                from_address: stored.from_address,
                from_name: stored.from_name.unwrap_or_default(),
            },
            None => SmtpSettingsView {
                source: SmtpSource::NotConfigured,
                host: String::new(),
                port: 587,
                security: Security::Starttls,
                username: String::new(),
                password_set: false,
                from_address: String::new(),
                from_name: PRODUCT_NAME.to_owned(),
            },
        })
    }

    async fn stored_smtp(&self) -> AppResult<Option<StoredSmtp>> {
        Ok(self
            .store()
            .settings()
            .get_setting(SMTP_SETTING)
            .await?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Saves the admin's SMTP settings. The password is sealed with the
    /// instance key; an empty password field keeps the stored one.
    pub async fn save_smtp_settings(
        &self,
        caller: &Caller<'_>,
        input: &SmtpSettingsInput<'_>,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        if self.inner.smtp_override.is_some() {
            return Err(AppError::Conflict(
                "FERRODESK_SMTP_URL sets the mail server; change it there.".into(),
            ));
        }
        let mut errors = FieldErrors::new();
        let host = input.host.trim();
        if host.is_empty()
            || host.len() > 253
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            errors.add("host", "Enter the mail server's host name or IP address.");
        }
        let port = input
            .port
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0);
        if port.is_none() {
            errors.add("port", "The port is a number from 1 to 65535.");
        }
        let security = Security::parse(input.security.trim());
        if security.is_none() {
            errors.add("security", "Choose none, STARTTLS or TLS.");
        }
        let username = input.username.trim();
        if username.len() > 256 || username.chars().any(char::is_control) {
            errors.add(
                "username",
                "The user name is too long or has control characters.",
            );
        }
        if input.password.expose().len() > 1024 || input.password.expose().contains(['\r', '\n']) {
            errors.add("password", "The password is too long or has line breaks.");
        }
        let from_name = input.from_name.trim();
        if let Err(error) = mailbox(None, input.from_address) {
            errors.add("from_address", error.to_string());
        }
        if from_name.len() > 200 || HeaderText::parse(from_name).is_err() {
            errors.add("from_name", "The sender name may not contain line breaks.");
        }
        errors.into_result()?;
        let previous = self.stored_smtp().await?;
        let before = previous.as_ref().map(StoredSmtp::audit_view);
        let password_sealed = if input.forget_password || username.is_empty() {
            None
        } else if input.password.expose().is_empty() {
            previous.and_then(|previous| previous.password_sealed)
        } else {
            Some(
                self.inner
                    .key
                    .seal(SMTP_PASSWORD_PURPOSE, input.password.expose().as_bytes())?,
            )
        };
        let stored = StoredSmtp {
            host: host.to_owned(),
            port: port.unwrap_or(587),
            security: security.unwrap_or(Security::Starttls),
            username: (!username.is_empty()).then(|| username.to_owned()),
            password_sealed,
            from_address: input.from_address.trim().to_owned(),
            from_name: (!from_name.is_empty()).then(|| from_name.to_owned()),
        };
        let json = serde_json::to_string(&stored)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let mut after = stored.audit_view();
        if let Some(object) = after.as_object_mut() {
            let password_change = if input.password.expose().is_empty() {
                "kept"
            } else {
                "replaced"
            };
            object.insert("password_change".into(), password_change.into());
        }
        let audit = Audit::new(caller, "settings.changed")
            .on_setting(SMTP_SETTING)
            .change(&before, &Some(after));
        self.store()
            .settings()
            .put_setting_audited(SMTP_SETTING, &json, &audit.entry(), self.now())
            .await?;
        tracing::info!(host = %stored.host, port = stored.port, "SMTP settings changed");
        // Mail that waited for a server goes out now rather than at its
        // next retry.
        self.wake_workers();
        Ok(())
    }

    /// Sends a test mail straight away (not through the outbox) and answers
    /// with the server's error when it fails.
    pub async fn send_test_mail(&self, actor: &Actor, to: &str) -> AppResult<Result<(), String>> {
        actor.require_admin()?;
        let to = mailbox(None, to).map_err(|error| AppError::invalid("to", error.to_string()))?;
        let Some((sender, from)) = self.mailer().await? else {
            return Ok(Err("SMTP is not configured yet.".into()));
        };
        let mail = OutgoingMail {
            from,
            to: vec![to],
            subject: HeaderText::flatten(&format!("{PRODUCT_NAME} test email")),
            text_body: format!(
                "This is a test email from {PRODUCT_NAME} at {}.\nIf you can read it, outgoing mail works.\n",
                self.public_url()
            ),
            html_body: None,
            message_id: new_message_id(&self.message_id_domain()),
            threading: Threading::default(),
            reply_to: None,
        };
        Ok(sender.send(&mail).await)
    }

    /// The outbox, newest first, optionally one status only, with the count
    /// of mails in each status.
    pub async fn outbox(
        &self,
        actor: &Actor,
        status: Option<&str>,
    ) -> AppResult<(Vec<MailRecord>, Vec<(String, i64)>)> {
        actor.require_admin()?;
        if let Some(status) = status
            && !matches!(status, "queued" | "sent" | "failed")
        {
            return Err(AppError::invalid(
                "status",
                "Choose queued, sent or failed.",
            ));
        }
        let mails = self.store().outbox().list_mail(status, OUTBOX_PAGE).await?;
        let counts = self.store().outbox().count_mail_by_status().await?;
        Ok((mails.into_iter().map(without_tokens).collect(), counts))
    }

    /// One mail of the outbox, its one-time tokens hidden.
    pub async fn outbox_mail(&self, actor: &Actor, id: i64) -> AppResult<MailRecord> {
        actor.require_admin()?;
        self.store()
            .outbox()
            .get_mail(id)
            .await?
            .map(without_tokens)
            .ok_or(AppError::NotFound)
    }

    /// Queues a failed mail again.
    pub async fn retry_mail(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let audit =
            Audit::new(caller, "mail.retried").on("mail", Some(id), &format!("outbox mail {id}"));
        if !self
            .store()
            .outbox()
            .retry_mail(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::Conflict(
                "Only a failed mail can be retried.".into(),
            ));
        }
        tracing::info!(outbox_id = id, "failed mail retried by an admin");
        self.wake_workers();
        Ok(())
    }

    /// Every template with whether the admin changed it.
    pub async fn mail_templates(&self, actor: &Actor) -> AppResult<Vec<TemplateOverview>> {
        actor.require_admin()?;
        // One read of the (small) settings table rather than two per template.
        let stored: std::collections::HashMap<String, String> = self
            .store()
            .settings()
            .load_settings()
            .await?
            .into_iter()
            .collect();
        Ok(TemplateKind::ALL
            .into_iter()
            .map(|kind| TemplateOverview {
                kind,
                customized: stored
                    .get(&template_setting(kind))
                    .and_then(|json| parse_template(kind, json))
                    .is_some(),
                last_failure: stored
                    .get(&template_failure_setting(kind))
                    .and_then(|json| parse_failure(json)),
            })
            .collect())
    }

    async fn template_failure(&self, kind: TemplateKind) -> AppResult<Option<String>> {
        let stored = self
            .store()
            .settings()
            .get_setting(&template_failure_setting(kind))
            .await?;
        Ok(stored.and_then(|json| parse_failure(&json)))
    }

    /// One template for the editor: the admin's version or the built-in one.
    pub async fn mail_template(
        &self,
        actor: &Actor,
        kind: TemplateKind,
    ) -> AppResult<TemplateEditor> {
        actor.require_admin()?;
        let custom = self.custom_template(kind).await?;
        Ok(TemplateEditor {
            kind,
            customized: custom.is_some(),
            template: custom.unwrap_or_else(|| TemplateText::builtin(kind)),
            last_failure: self.template_failure(kind).await?,
        })
    }

    /// Saves an admin's template after rendering it with sample values; a
    /// template that does not render is refused with the part and line.
    pub async fn save_mail_template(
        &self,
        caller: &Caller<'_>,
        kind: TemplateKind,
        template: &TemplateText,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        for (field, text) in [
            ("subject", &template.subject),
            ("text", &template.text),
            ("html", &template.html),
        ] {
            if text.len() > MAX_TEMPLATE_PART_BYTES {
                errors.add(field, format!("At most {MAX_TEMPLATE_PART_BYTES} bytes."));
            }
        }
        if template.text.trim().is_empty() {
            errors.add("text", "Every mail needs a text part.");
        }
        errors.into_result()?;
        let sample = kind.sample_context(PRODUCT_NAME, self.public_url());
        if let Err(problem) = render_custom(&template.source(), &sample) {
            let field = match problem.part {
                "subject" => "subject",
                "html" => "html",
                _ => "text",
            };
            return Err(AppError::invalid(field, problem.to_string()));
        }
        let json = serde_json::to_string(template)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let before = self
            .custom_template(kind)
            .await?
            .unwrap_or_else(|| TemplateText::builtin(kind));
        let audit = Audit::new(caller, "mail_template.changed")
            .on_setting(&template_setting(kind))
            .change(&before, template);
        self.store()
            .settings()
            .put_setting_audited(&template_setting(kind), &json, &audit.entry(), self.now())
            .await?;
        self.store()
            .settings()
            .delete_setting(&template_failure_setting(kind))
            .await?;
        tracing::info!(template = kind.key(), "mail template changed");
        Ok(())
    }

    /// Goes back to the built-in template.
    pub async fn reset_mail_template(
        &self,
        caller: &Caller<'_>,
        kind: TemplateKind,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let Some(before) = self.custom_template(kind).await? else {
            return Ok(());
        };
        let setting = template_setting(kind);
        let audit = Audit::new(caller, "mail_template.reset")
            .on_setting(&setting)
            .change(&before, &TemplateText::builtin(kind));
        self.store()
            .settings()
            .delete_settings_audited(
                &[&setting, &template_failure_setting(kind)],
                &audit.entry(),
                self.now(),
            )
            .await?;
        tracing::info!(
            template = kind.key(),
            "mail template back to the built-in one"
        );
        Ok(())
    }

    /// Renders a template (saved or not) with sample values.
    pub async fn preview_mail_template(
        &self,
        actor: &Actor,
        kind: TemplateKind,
        template: &TemplateText,
    ) -> AppResult<TemplatePreview> {
        actor.require_admin()?;
        let sample = kind.sample_context(PRODUCT_NAME, self.public_url());
        let (rendered, problem) = render(kind, Some(&template.source()), &sample);
        Ok(TemplatePreview {
            subject: rendered.subject.as_str().to_owned(),
            text: rendered.text,
            html: rendered.html,
            problem,
        })
    }
}

/// An admin's stored template; one that no longer parses counts as absent,
/// so the built-in version is used.
fn parse_template(kind: TemplateKind, json: &str) -> Option<TemplateText> {
    let parsed = serde_json::from_str(json).ok();
    if parsed.is_none() {
        tracing::warn!(
            template = kind.key(),
            "stored mail template does not parse; using the built-in one"
        );
    }
    parsed
}

fn parse_failure(json: &str) -> Option<String> {
    serde_json::from_str::<StoredFailure>(json)
        .ok()
        .map(|failure| failure.problem)
}

fn without_tokens(mut mail: MailRecord) -> MailRecord {
    mail.text_body = hide_tokens(&mail.text_body);
    mail.html_body = mail.html_body.as_deref().map(hide_tokens);
    mail
}

/// Turns an outbox row into a message, checking every stored header again.
fn outgoing_mail(mail: &MailRecord, from: Mailbox) -> Result<OutgoingMail, String> {
    let recipients: Vec<String> = serde_json::from_str(&mail.recipients)
        .map_err(|_| format!("recipients {:?} do not parse", mail.recipients))?;
    let mut to = recipients
        .iter()
        .map(|recipient| parse_mailbox(recipient).map_err(|error| error.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err("the mail has no recipients".into());
    }
    // Placeholder addresses (a chat visitor who gave none) are never
    // mailed: `.invalid` is reserved never to exist.
    to.retain(|mailbox| {
        let domain = mailbox.email.domain().to_ascii_lowercase();
        domain != "invalid" && !domain.ends_with(".invalid")
    });
    if to.is_empty() {
        return Err("nobody to send to: the address is a placeholder (.invalid)".into());
    }
    Ok(OutgoingMail {
        from,
        to,
        subject: HeaderText::flatten(&mail.subject),
        text_body: mail.text_body.clone(),
        html_body: mail.html_body.clone().filter(|html| !html.is_empty()),
        message_id: mail.message_id.clone(),
        threading: Threading::from_json(&mail.headers).map_err(|error| error.to_string())?,
        reply_to: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_tokens_are_hidden_from_the_outbox_view() {
        let token = "ab".repeat(32);
        let text =
            format!("Open https://help.example.com/reset-password/{token} now. Ticket 1234.");
        let shown = hide_tokens(&text);
        assert!(!shown.contains(&token));
        assert!(shown.contains("reset-password/[one-time token hidden] now. Ticket 1234."));
        assert_eq!(hide_tokens("café 12 ü"), "café 12 ü");
    }

    #[test]
    fn mail_job_payloads_name_their_outbox_row() {
        assert_eq!(parse_outbox_payload(r#"{"outbox_id":42}"#), Some(42));
        assert_eq!(parse_outbox_payload("{}"), None);
        assert_eq!(parse_outbox_payload("nonsense"), None);
    }

    #[test]
    fn stored_rows_become_checked_messages() {
        let row = |recipients: &str, headers: &str| MailRecord {
            id: 1,
            message_id: "<x@example.org>".into(),
            recipients: recipients.into(),
            subject: "Hello".into(),
            text_body: "text".into(),
            html_body: Some(String::new()),
            headers: headers.into(),
            template: "user_password_reset".into(),
            status: "queued".into(),
            attempts: 0,
            last_error: None,
            created_at: 0,
            sent_at: None,
        };
        let from = mailbox(Some("Help"), "help@example.org").unwrap();
        let mail = outgoing_mail(&row(r#"["Ada <ada@example.org>"]"#, "{}"), from.clone()).unwrap();
        assert_eq!(mail.to.len(), 1);
        assert!(mail.html_body.is_none(), "an empty HTML part is left out");
        assert!(outgoing_mail(&row("[]", "{}"), from.clone()).is_err());
        // A placeholder address is never mailed; real ones beside it are.
        let mixed = outgoing_mail(
            &row(r#"["chat-7@visitors.invalid", "ada@example.org"]"#, "{}"),
            from.clone(),
        )
        .unwrap();
        assert_eq!(mixed.to.len(), 1);
        let placeholder = outgoing_mail(&row(r#"["chat-7@visitors.INVALID"]"#, "{}"), from.clone());
        assert!(placeholder.is_err_and(|problem| problem.contains("placeholder")));
        assert!(
            outgoing_mail(
                &row(r#"["a@example.org\r\nBcc: b@example.org"]"#, "{}"),
                from.clone()
            )
            .is_err()
        );
        assert!(
            outgoing_mail(
                &row(r#"["a@example.org"]"#, r#"{"Bcc":"<b@example.org>"}"#),
                from
            )
            .is_err()
        );
    }
}
