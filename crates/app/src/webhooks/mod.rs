//! Webhooks (admins): an address outside the helpdesk's network that gets
//! a signed POST of JSON for the events it takes. Each delivery is a row in
//! the delivery log and a job, tried again with the job queue's backoff
//! until the receiver answers 2xx or the attempts run out; the log keeps the
//! status, latency and the start of each answer, and "send again" makes a
//! new delivery of the same payload.
//!
//! The signature: `X-Ferrodesk-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>" with the secret>`, so a receiver can check
//! both who sent it and that it is fresh. The address is checked against
//! internal ranges when saved and again, resolved and pinned, when sent
//! (`address`).

pub mod address;
mod client;

use hmac::{KeyInit, Mac};
use serde::Serialize;
use serde_json::json;

pub use address::{OutboundError, OutboundPolicy, OutboundUrl};
use ferrodesk_store::{DeliveryAttempt, DeliveryRecord, WebhookRecord, WebhookWrite};

use crate::audit::Audit;
use crate::jobs::{JobFailure, JobResult};
use crate::{Actor, App, AppError, AppResult, Caller, FieldErrors};

/// The job that makes one delivery.
pub const WEBHOOK_DELIVERY_JOB: &str = ferrodesk_store::WEBHOOK_DELIVERY_JOB_KIND;
/// Attempts of one delivery before it is marked failed.
const DELIVERY_ATTEMPTS: i64 = 8;
/// The purpose the signing secrets are sealed for.
const SECRET_PURPOSE: &str = "webhook-secret";
/// How long a finished delivery stays in the log.
pub const DELIVERIES_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 60 * 60);
/// Deliveries a webhook's page lists.
const SHOWN_DELIVERIES: i64 = 50;

/// The events a webhook may take, with their words. Ticket events are
/// queued by the rules job of the ticket's write (after the triggers ran,
/// with the ticket as they left it); a trigger's "call the webhook"
/// action sends the event it ran on whatever the webhook takes.
pub const WEBHOOK_EVENTS: [(&str, &str); 5] = [
    ("ticket.created", "A ticket is opened"),
    ("ticket.replied", "A reply the requester sees is added"),
    ("ticket.noted", "An internal note is added"),
    ("ticket.updated", "A ticket's properties change"),
    ("webhook.test", "A test sent from this page"),
];

/// The `X-Ferrodesk-Signature` value of `body` sent at `unix_seconds`.
pub fn signature(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// A webhook as a form sends it.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    /// A new secret; empty keeps the stored one (or none).
    pub secret: String,
    /// Removes the stored secret.
    pub clear_secret: bool,
    pub is_enabled: bool,
}

/// A webhook with its newest deliveries.
#[derive(Debug, Clone)]
pub struct WebhookView {
    pub webhook: WebhookRecord,
    pub events: Vec<String>,
    pub has_secret: bool,
    pub deliveries: Vec<DeliveryRecord>,
}

/// A webhook's fields as checked, ready to store.
struct CheckedWebhook {
    name: String,
    url: String,
    events: String,
    is_enabled: bool,
}

impl CheckedWebhook {
    /// The row to write; `secret_sealed: None` keeps the stored secret.
    fn write<'a>(&'a self, secret_sealed: Option<&'a str>) -> WebhookWrite<'a> {
        WebhookWrite {
            name: &self.name,
            url: &self.url,
            events: &self.events,
            secret_sealed,
            is_enabled: self.is_enabled,
        }
    }
}

#[derive(Debug, Serialize)]
struct AuditedWebhook<'a> {
    name: &'a str,
    url: &'a str,
    events: &'a str,
    has_secret: bool,
    is_enabled: bool,
}

fn audited(hook: &WebhookRecord) -> AuditedWebhook<'_> {
    AuditedWebhook {
        name: &hook.name,
        url: &hook.url,
        events: &hook.events,
        has_secret: !hook.secret_sealed.is_empty(),
        is_enabled: hook.is_enabled,
    }
}

impl App {
    fn outbound_policy(&self) -> &OutboundPolicy {
        &self.inner.outbound_policy
    }

    /// The webhook's fields checked: name, address and events.
    fn checked_webhook(&self, input: &WebhookInput) -> AppResult<CheckedWebhook> {
        let mut errors = FieldErrors::new();
        let name = input.name.trim();
        if let Err(error) = ferrodesk_core::ItemName::parse(name, 100) {
            errors.add("name", error.to_string());
        }
        let url = errors.check(
            "url",
            OutboundUrl::parse(&input.url, self.outbound_policy()),
        );
        let events: Vec<&str> = WEBHOOK_EVENTS
            .iter()
            .map(|(key, _)| *key)
            .filter(|key| input.events.iter().any(|chosen| chosen == key))
            .collect();
        if events.is_empty() {
            errors.add("events", "Choose at least one event.");
        }
        if input.secret.chars().count() > 200 || input.secret.chars().any(char::is_control) {
            errors.add(
                "secret",
                "A secret has at most 200 characters and no control characters.",
            );
        }
        errors.into_result()?;
        Ok(CheckedWebhook {
            name: name.to_owned(),
            url: url.map(|url| url.as_str().to_owned()).unwrap_or_default(),
            events: events.join(","),
            is_enabled: input.is_enabled,
        })
    }

    /// A webhook as stored, for admins (without its deliveries).
    async fn stored_webhook(&self, actor: &Actor, id: i64) -> AppResult<WebhookRecord> {
        actor.require_admin()?;
        self.store()
            .webhooks()
            .get_webhook(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Every webhook (admins).
    pub async fn webhooks(&self, actor: &Actor) -> AppResult<Vec<WebhookRecord>> {
        actor.require_admin()?;
        Ok(self.store().webhooks().list_webhooks().await?)
    }

    /// One webhook with its newest deliveries (admins).
    pub async fn webhook(&self, actor: &Actor, id: i64) -> AppResult<WebhookView> {
        let webhook = self.stored_webhook(actor, id).await?;
        let deliveries = self
            .store()
            .webhooks()
            .recent_deliveries(id, SHOWN_DELIVERIES)
            .await?;
        Ok(WebhookView {
            events: webhook.events.split(',').map(str::to_owned).collect(),
            has_secret: !webhook.secret_sealed.is_empty(),
            webhook,
            deliveries,
        })
    }

    /// Adds a webhook (admins); its secret is sealed and never shown again.
    pub async fn create_webhook(
        &self,
        caller: &Caller<'_>,
        input: &WebhookInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let checked = self.checked_webhook(input)?;
        let sealed = self.sealed_secret(&input.secret)?;
        let id = self
            .store()
            .webhooks()
            .create_webhook(&checked.write(sealed.as_deref()), self.now())
            .await?;
        let after = self.stored_webhook(caller.actor, id).await?;
        let audit = Audit::new(caller, "webhook.created")
            .on("webhook", Some(id), &after.name)
            .change(&None, &Some(audited(&after)));
        self.audit(&audit).await?;
        Ok(id)
    }

    /// Changes a webhook (admins).
    pub async fn update_webhook(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &WebhookInput,
    ) -> AppResult<()> {
        let before = self.stored_webhook(caller.actor, id).await?;
        let checked = self.checked_webhook(input)?;
        let sealed = if input.clear_secret {
            Some(String::new())
        } else {
            self.sealed_secret(&input.secret)?
        };
        let written = self
            .store()
            .webhooks()
            .update_webhook(id, &checked.write(sealed.as_deref()), self.now())
            .await?;
        if !written {
            return Err(AppError::NotFound);
        }
        let after = self.stored_webhook(caller.actor, id).await?;
        let audit = Audit::new(caller, "webhook.changed")
            .on("webhook", Some(id), &after.name)
            .change(&Some(audited(&before)), &Some(audited(&after)));
        self.audit(&audit).await
    }

    /// Deletes a webhook and its delivery log (admins).
    pub async fn delete_webhook(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let before = self.stored_webhook(caller.actor, id).await?;
        self.store().webhooks().delete_webhook(id).await?;
        let audit = Audit::new(caller, "webhook.deleted")
            .on("webhook", Some(id), &before.name)
            .change(&Some(audited(&before)), &None);
        self.audit(&audit).await
    }

    fn sealed_secret(&self, secret: &str) -> AppResult<Option<String>> {
        match secret.trim() {
            "" => Ok(None),
            secret => Ok(Some(
                self.inner.key.seal(SECRET_PURPOSE, secret.as_bytes())?,
            )),
        }
    }

    /// Queues a test delivery (admins): the event `webhook.test`.
    pub async fn send_test_delivery(&self, caller: &Caller<'_>, id: i64) -> AppResult<i64> {
        let hook = self.stored_webhook(caller.actor, id).await?;
        let payload = json!({
            "event": "webhook.test",
            "webhook": {"id": hook.id, "name": hook.name},
            "actor": {"type": "agent", "id": caller.actor.signed_in().map(|signed_in| signed_in.person_id)},
            "sent_at": self.now().rfc3339(),
        });
        self.queue_delivery(&hook, "webhook.test", &payload).await
    }

    /// Queues a delivery of a logged one's payload again (admins).
    pub async fn send_delivery_again(
        &self,
        caller: &Caller<'_>,
        webhook_id: i64,
        delivery_id: i64,
    ) -> AppResult<i64> {
        let hook = self.stored_webhook(caller.actor, webhook_id).await?;
        let delivery = self
            .store()
            .webhooks()
            .get_delivery(delivery_id)
            .await?
            .filter(|delivery| delivery.webhook_id == webhook_id)
            .ok_or(AppError::NotFound)?;
        let payload: serde_json::Value = serde_json::from_str(&delivery.payload)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        self.queue_delivery(&hook, &delivery.event, &payload).await
    }

    /// Records a delivery and queues the job that makes it.
    pub(crate) async fn queue_delivery(
        &self,
        hook: &WebhookRecord,
        event: &str,
        payload: &serde_json::Value,
    ) -> AppResult<i64> {
        let key = crate::secrets::random_token()?;
        let delivery_id = self
            .store()
            .webhooks()
            .create_delivery(hook.id, &key, event, &payload.to_string(), self.now())
            .await?;
        self.enqueue_job(
            WEBHOOK_DELIVERY_JOB,
            &json!({"delivery_id": delivery_id}),
            DELIVERY_ATTEMPTS,
        )
        .await?;
        Ok(delivery_id)
    }

    /// The delivery job: one attempt, recorded in the log. A 2xx answer
    /// delivers; anything else is tried again until the last attempt.
    pub(crate) async fn deliver_webhook_job(&self, payload: &str, last_attempt: bool) -> JobResult {
        let delivery_id = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|value| value["delivery_id"].as_i64())
            .ok_or_else(|| JobFailure::Permanent("a delivery job without its delivery".into()))?;
        let webhooks = self.store().webhooks();
        let retry = |error: ferrodesk_store::StoreError| JobFailure::Retry(error.to_string());
        let Some(delivery) = webhooks.get_delivery(delivery_id).await.map_err(retry)? else {
            // The webhook was deleted, and its log with it.
            return Ok(());
        };
        let Some(hook) = webhooks
            .get_webhook(delivery.webhook_id)
            .await
            .map_err(retry)?
        else {
            return Ok(());
        };
        let outcome = self.attempt_delivery(&hook, &delivery).await;
        let (state, answer, error) = match &outcome {
            Ok(answer) if (200..300).contains(&answer.status) => {
                ("delivered", Some(answer), String::new())
            }
            Ok(answer) => (
                if last_attempt { "failed" } else { "pending" },
                Some(answer),
                format!("answered {}", answer.status),
            ),
            // Trying again cannot help: the webhook is off, or its address
            // is (now) internal.
            Err(Undelivered::ForGood(error)) => ("failed", None, error.clone()),
            Err(Undelivered::ForNow(error)) => (
                if last_attempt { "failed" } else { "pending" },
                None,
                error.clone(),
            ),
        };
        webhooks
            .record_attempt(
                delivery_id,
                &DeliveryAttempt {
                    state,
                    response_status: answer.map(|answer| i64::from(answer.status)),
                    latency_ms: answer.map(|answer| answer.latency_ms),
                    response_excerpt: answer.map_or("", |answer| answer.excerpt.as_str()),
                    error: &error,
                },
                self.now(),
            )
            .await
            .map_err(retry)?;
        match state {
            "pending" => Err(JobFailure::Retry(error)),
            _ => Ok(()),
        }
    }

    async fn attempt_delivery(
        &self,
        hook: &WebhookRecord,
        delivery: &DeliveryRecord,
    ) -> Result<client::Answer, Undelivered> {
        if !hook.is_enabled {
            return Err(Undelivered::ForGood(
                "the webhook is switched off".to_owned(),
            ));
        }
        let policy = self.outbound_policy();
        let url = OutboundUrl::parse(&hook.url, policy)
            .map_err(|error| Undelivered::ForGood(error.to_string()))?;
        let destination = policy.destination(url).await.map_err(|error| match error {
            OutboundError::Unresolved(_) => Undelivered::ForNow(error.to_string()),
            other => Undelivered::ForGood(other.to_string()),
        })?;
        let body = delivery.payload.as_bytes();
        let mut headers = vec![
            ("X-Ferrodesk-Event", delivery.event.clone()),
            ("X-Ferrodesk-Delivery", delivery.delivery_key.clone()),
        ];
        if !hook.secret_sealed.is_empty() {
            let secret = self
                .inner
                .key
                .open(SECRET_PURPOSE, &hook.secret_sealed)
                .map_err(|error| Undelivered::ForGood(error.to_string()))?;
            let now = self.now().millis() / 1000;
            headers.push(("X-Ferrodesk-Signature", signature(&secret, now, body)));
        }
        client::post_json(&destination, &headers, body)
            .await
            .map_err(Undelivered::ForNow)
    }
}

/// Why an attempt reached no receiver.
#[derive(Debug)]
enum Undelivered {
    /// Trying again may help (no name, no connection, no answer).
    ForNow(String),
    /// It cannot: the webhook is off or its address is refused.
    ForGood(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let signed = signature(b"s3cret", 1_796_550_000, b"{\"a\":1}");
        assert!(signed.starts_with("t=1796550000,v1="), "{signed}");
        assert_eq!(signed.len(), "t=1796550000,v1=".len() + 64);
        assert_ne!(signed, signature(b"s3cret", 1_796_550_001, b"{\"a\":1}"));
        assert_ne!(signed, signature(b"s3cret", 1_796_550_000, b"{\"a\":2}"));
        assert_ne!(signed, signature(b"other", 1_796_550_000, b"{\"a\":1}"));
    }
}
