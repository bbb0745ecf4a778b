//! Lock-outs that an attacker cannot turn against the people they attack.
//! Failures are counted per account **and source** (the address, or its
//! /64 for IPv6) and per source: an attacker's wrong passwords lock only
//! their own attempts on that account (and, past the per-source limit,
//! their address), never the owner signing in from elsewhere. The
//! account's failures from everywhere are counted too, never to lock, but
//! to answer every attempt on an account under attack a little later the
//! more it is attacked. Addresses on the IP allow-list, and those trusted
//! for the person, are never locked. A source that fails across many
//! accounts is also what a proxy missing from `FERRODESK_TRUSTED_PROXIES`
//! looks like, so the admin is told on the security page, as when a
//! request carries X-Forwarded-For from an address that is not trusted
//! (`ProxyWarning`).

use std::net::IpAddr;
use std::time::Duration;

use ferrodesk_core::{Surface, Timestamp};
use ferrodesk_store::{PersonRecord, lockout_key, source_key, source_lockout_key};

use crate::settings::LoginLimits;
use crate::{App, AppError, AppResult, Settings};

/// The longest an answer is held back for an account under attack.
const MAX_SLOWDOWN: Duration = Duration::from_secs(2);
/// How much longer each failure past the limit makes it.
const SLOWDOWN_STEP: Duration = Duration::from_millis(200);

/// Where an attempt comes from, as lock-outs count it: an IPv4 address,
/// or the /64 an IPv6 address belongs to (one host holds a whole /64).
pub fn login_source(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|address| address.to_canonical()) {
        Ok(IpAddr::V6(address)) => {
            let segments = address.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
        Ok(IpAddr::V4(address)) => address.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// The keys one attempt is counted and checked under.
#[derive(Debug, Clone)]
pub(crate) struct LoginLocks {
    /// The account's failures from everywhere (never locked).
    pub account_key: String,
    /// The account from this source, and this source on any account;
    /// `None` when the source is never locked.
    pub source_keys: Option<(String, String)>,
    /// Failures from one source, on any account, before it is locked.
    pub source_limit: i64,
    pub limits: LoginLimits,
}

impl LoginLocks {
    /// The key a successful login clears: the account's from this source.
    pub fn cleared_on_success(&self) -> &str {
        self.source_keys
            .as_ref()
            .map_or(self.account_key.as_str(), |(pair, _)| pair.as_str())
    }

    /// What a failure is counted under, for the store.
    pub fn counted(&self) -> Option<(&str, &str, i64)> {
        self.source_keys
            .as_ref()
            .map(|(pair, source)| (pair.as_str(), source.as_str(), self.source_limit))
    }
}

/// Seconds until `until`, at least one.
fn seconds_until(until: Timestamp, now: Timestamp) -> u64 {
    u64::try_from((until.millis() - now.millis() + 999) / 1000)
        .unwrap_or(1)
        .max(1)
}

impl App {
    /// The keys an attempt on `email_key` from `ip` is counted under;
    /// `person` (when the address belongs to someone) decides whether the
    /// source is one trusted for them.
    pub(crate) async fn login_locks(
        &self,
        settings: &Settings,
        (surface, email_key): (Surface, &str),
        person: Option<&PersonRecord>,
        ip: &str,
    ) -> AppResult<LoginLocks> {
        let limits = match surface {
            Surface::Staff => settings.agent_login_limits,
            Surface::Portal => settings.user_login_limits,
        };
        let account_key = lockout_key(surface, email_key);
        let exempt = settings.ip_allow_list.range_admits(ip)
            || match person {
                Some(person) => {
                    self.store()
                        .trusted_ips()
                        .is_ip_trusted(person.id, ip, self.now())
                        .await?
                }
                None => false,
            };
        let source = login_source(ip);
        let source_keys = (!exempt).then(|| {
            (
                source_lockout_key(&account_key, &source),
                source_key(surface, &source),
            )
        });
        Ok(LoginLocks {
            account_key,
            source_keys,
            source_limit: i64::from(limits.per_ip_attempts),
            limits,
        })
    }

    /// Refuses an attempt from a locked source (on any account, or on this
    /// one) with the seconds until the lock ends; holds an answer back a
    /// little when the account is under attack from many places.
    pub(crate) async fn check_login_locks(&self, locks: &LoginLocks) -> AppResult<Option<u64>> {
        let now = self.now();
        let logins = self.store().logins();
        if let Some((pair, source)) = &locks.source_keys {
            for key in [source, pair] {
                if let Some(until) = logins.locked_until(key, now).await? {
                    return Ok(Some(seconds_until(until, now)));
                }
            }
        }
        let max = i64::from(locks.limits.max_failures);
        let failures = logins
            .recent_failures(&locks.account_key, now.minus(locks.limits.window()))
            .await?;
        if failures >= max {
            let past = u32::try_from(failures - max + 1).unwrap_or(u32::MAX);
            let hold = SLOWDOWN_STEP.saturating_mul(past).min(MAX_SLOWDOWN);
            tokio::time::sleep(hold).await;
        }
        Ok(None)
    }

    /// `LoginLocked` with the seconds until the lock ends.
    pub(crate) fn locked(seconds: u64) -> AppError {
        AppError::LoginLocked {
            retry_after_seconds: seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_addresses_or_their_64() {
        assert_eq!(login_source("192.0.2.7"), "192.0.2.7");
        assert_eq!(login_source("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(
            login_source("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            login_source("2001:db8:1:2::1"),
            login_source("2001:db8:1:2:ffff::9")
        );
        assert_eq!(login_source("not an address"), "not an address");
        assert_eq!(
            seconds_until(Timestamp(10_001), Timestamp(0)),
            11,
            "rounded up"
        );
    }
}

/// Where the warning about a proxy that is not trusted is kept (every
/// node writes and reads the same one).
const PROXY_WARNING_SETTING: &str = "security.proxy_warning";
/// A node writes "X-Forwarded-For was ignored" at most this often.
const FORWARDING_NOTE_EVERY_MILLIS: i64 = 60 * 60 * 1000;
/// The security page shows a warning this long after it was last seen.
const PROXY_WARNING_SHOWN_MILLIS: i64 = 7 * 24 * 60 * 60 * 1000;

/// What suggests that requests come through a proxy the instance does
/// not trust, so that every client looks like one address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProxyWarning {
    /// The address requests came from.
    pub address: String,
    /// Unix milliseconds it was last seen.
    pub at: i64,
    /// `forwarded_for_ignored` or `failures_across_accounts`.
    pub why: String,
}

impl ProxyWarning {
    pub fn words(&self) -> &'static str {
        match self.why.as_str() {
            "forwarded_for_ignored" => {
                "sent X-Forwarded-For, which was ignored because the address is not a trusted proxy"
            }
            _ => "failed to sign in to many accounts in a short time, and is now locked out",
        }
    }
}

/// When this node last wrote that X-Forwarded-For was ignored.
#[derive(Debug, Default)]
pub(crate) struct ForwardingNotes(std::sync::Mutex<i64>);

impl App {
    /// Whether a request from `peer` carrying X-Forwarded-For, which was
    /// ignored, should be written down now (at most hourly per node);
    /// cheap enough for every request.
    pub fn forwarding_note_due(&self) -> bool {
        let now = self.now().millis();
        let mut last = match self.inner.forwarding_notes.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now - *last < FORWARDING_NOTE_EVERY_MILLIS {
            return false;
        }
        *last = now;
        true
    }

    /// Writes down that `peer` sent X-Forwarded-For that was ignored.
    pub async fn note_ignored_forwarding(&self, peer: &str) -> AppResult<()> {
        self.write_proxy_warning(peer, "forwarded_for_ignored")
            .await
    }

    /// Writes down a source locked out after failures across accounts.
    pub(crate) async fn note_failing_source(
        &self,
        record: &ferrodesk_store::NewLoginRecord<'_>,
    ) -> AppResult<()> {
        self.write_proxy_warning(record.ip, "failures_across_accounts")
            .await
    }

    async fn write_proxy_warning(&self, address: &str, why: &str) -> AppResult<()> {
        let warning = ProxyWarning {
            address: address.chars().take(64).collect(),
            at: self.now().millis(),
            why: why.to_owned(),
        };
        let json = serde_json::to_string(&warning)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        self.store()
            .settings()
            .put_setting(PROXY_WARNING_SETTING, &json, self.now())
            .await?;
        Ok(())
    }

    /// The latest sign that a proxy is not trusted, seen in the last week
    /// (admins only).
    pub async fn proxy_warning(&self, actor: &crate::Actor) -> AppResult<Option<ProxyWarning>> {
        actor.require_admin()?;
        let stored = self
            .store()
            .settings()
            .get_setting(PROXY_WARNING_SETTING)
            .await?;
        Ok(stored
            .and_then(|json| serde_json::from_str::<ProxyWarning>(&json).ok())
            .filter(|warning| self.now().millis() - warning.at < PROXY_WARNING_SHOWN_MILLIS))
    }
}

/// What an unlock link is sealed for.
const UNLOCK_PURPOSE: &str = "login-unlock";
/// How long an unlock link works.
const UNLOCK_LINK_MILLIS: i64 = 60 * 60 * 1000;
/// An account is mailed an unlock link at most this often.
const UNLOCK_MAILS_EVERY: Duration = Duration::from_secs(15 * 60);

/// What an unlock link names, sealed under the instance key so that the
/// address and the account do not show in the link. It lifts the lock
/// that was mailed about and no other: the lock's window start must still
/// match, so once used (the lock is gone) or after a later lock, the link
/// does nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct UnlockClaim {
    key: String,
    window_start: i64,
    expires_at: i64,
    person_id: i64,
    surface: String,
    source: String,
}

impl UnlockClaim {
    fn surface(&self) -> Surface {
        if self.surface == Surface::Staff.as_str() {
            Surface::Staff
        } else {
            Surface::Portal
        }
    }
}

/// An unlock link as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockLink {
    pub name: String,
    pub source: String,
    pub surface: Surface,
}

impl App {
    /// Mails the owner of an account a link that lifts the lock a source
    /// just got (at most every 15 minutes per account), so that a person
    /// who locked themselves out, or shares an address with whoever did,
    /// need not wait.
    pub(crate) async fn mail_unlock_link(
        &self,
        person: &PersonRecord,
        locks: &LoginLocks,
        ip: &str,
    ) -> AppResult<()> {
        let Some((pair, _)) = &locks.source_keys else {
            return Ok(());
        };
        let now = self.now();
        let Some(window_start) = self.store().logins().lockout_window_start(pair).await? else {
            return Ok(());
        };
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("unlock-mail:{}", locks.account_key),
                UNLOCK_MAILS_EVERY,
                1,
                now,
            )
            .await?
        {
            return Ok(());
        }
        let surface = if locks.account_key.starts_with("staff:") {
            Surface::Staff
        } else {
            Surface::Portal
        };
        let claim = UnlockClaim {
            key: pair.clone(),
            window_start,
            expires_at: now.millis() + UNLOCK_LINK_MILLIS,
            person_id: person.id,
            surface: surface.as_str().to_owned(),
            source: login_source(ip),
        };
        let json =
            serde_json::to_vec(&claim).map_err(|error| AppError::Internal(error.to_string()))?;
        let token = self.inner.key.seal(UNLOCK_PURPOSE, &json)?;
        let path = match surface {
            Surface::Staff => "/agent/unlock",
            Surface::Portal => "/unlock",
        };
        let link = format!("{}{path}/{token}", self.public_url());
        let subject = "Signing in from one address is paused";
        let text = format!(
            "Hello {},\n\nthere were too many failed sign-ins to your account from {} just now, so signing in from that address is paused for a while. Signing in from anywhere else still works.\n\nIf it was you, this link lifts the pause for that address (once, within an hour):\n\n{link}\n\nIf it was not you, you need do nothing; if it keeps happening, tell your administrator.\n",
            person.name, claim.source
        );
        let html = format!(
            "<p>Hello {},</p><p>there were too many failed sign-ins to your account from <strong>{}</strong> just now, so signing in from that address is paused for a while. Signing in from anywhere else still works.</p><p>If it was you, <a href=\"{}\">lift the pause for that address</a> (once, within an hour).</p><p>If it was not you, you need do nothing; if it keeps happening, tell your administrator.</p>",
            crate::markdown::escape_html(&person.name),
            crate::markdown::escape_html(&claim.source),
            crate::markdown::escape_html(&link)
        );
        let mail = self.rule_mail(&person.name, &person.email, subject, &text, &html)?;
        self.store()
            .outbox()
            .queue_mail(&mail.as_new(), now)
            .await?;
        self.wake_workers();
        Ok(())
    }

    fn unlock_claim(&self, token: &str) -> AppResult<UnlockClaim> {
        let opened = self
            .inner
            .key
            .open(UNLOCK_PURPOSE, token)
            .map_err(|_| AppError::NotFound)?;
        let claim: UnlockClaim = serde_json::from_slice(&opened).map_err(|_| AppError::NotFound)?;
        if claim.expires_at <= self.now().millis() {
            return Err(AppError::NotFound);
        }
        Ok(claim)
    }

    /// The lock an unlock link names and its owner, while the link can
    /// still lift it; `NotFound` once it has expired, was used, or the lock
    /// ended.
    async fn live_unlock_claim(&self, token: &str) -> AppResult<(UnlockClaim, PersonRecord)> {
        let claim = self.unlock_claim(token)?;
        if self
            .store()
            .logins()
            .lockout_window_start(&claim.key)
            .await?
            != Some(claim.window_start)
        {
            return Err(AppError::NotFound);
        }
        let person = self
            .store()
            .people()
            .get_person(claim.person_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok((claim, person))
    }

    /// What an unlock link would lift, for its page.
    pub async fn unlock_link(&self, token: &str) -> AppResult<UnlockLink> {
        let (claim, person) = self.live_unlock_claim(token).await?;
        Ok(UnlockLink {
            name: person.name,
            surface: claim.surface(),
            source: claim.source,
        })
    }

    /// Lifts the lock an unlock link names, once; `ip` opened the link.
    pub async fn unlock_by_link(&self, token: &str, ip: &str) -> AppResult<Surface> {
        let (claim, person) = self.live_unlock_claim(token).await?;
        let audit = crate::audit::Audit::by_person(
            Some(person.id),
            crate::sessions::person_label(&person),
            ip,
            "login.unlocked_by_link",
        )
        .on_person(person.id, &person.name, &person.email)
        .after(&serde_json::json!({ "source": claim.source }));
        if !self
            .store()
            .logins()
            .clear_lockout_if(&claim.key, claim.window_start, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(claim.surface())
    }
}
