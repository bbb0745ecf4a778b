//! IP allow-listing (C7). With it on, an agent whose password is right but
//! whose address is neither in the admin's ranges nor confirmed before is
//! refused and mailed a single-use link; opening the link trusts that address
//! for the configured time. `ferrodesk admin trust-ip` is the way back in for
//! someone who cannot receive the mail.

use std::time::Duration;

use ferrodesk_core::{Email, Timestamp};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{
    IpVerification, NewIpVerification, NewLoginRecord, PersonRecord, TrustSource, TrustedIp,
};

use crate::audit::{Audit, Caller};
use crate::secrets::{random_token, token_hash};
use crate::sessions::person_label;
use crate::{App, AppError, AppResult, Settings};

/// How long an emailed link works.
pub const IP_VERIFICATION_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// Verification mails to one agent at most this often, however many
/// attempts are made with their password.
const VERIFICATION_MAILS_PER_HOUR: i64 = 5;

/// An address in the one form every table stores: IPv4-mapped IPv6
/// addresses as plain IPv4.
pub fn canonical_ip(text: &str) -> Option<String> {
    text.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|address| address.to_canonical().to_string())
}

impl App {
    /// Whether a login of `person` from `ip` must first confirm the address.
    pub(crate) async fn ip_needs_verification(
        &self,
        settings: &Settings,
        person: &PersonRecord,
        ip: &str,
    ) -> AppResult<bool> {
        let list = &settings.ip_allow_list;
        if !list.applies_to(person.is_agent, person.is_admin) || list.range_admits(ip) {
            return Ok(false);
        }
        Ok(!self
            .store()
            .trusted_ips()
            .is_ip_trusted(person.id, ip, self.now())
            .await?)
    }

    /// Logs the refused login and mails a link that trusts the address.
    pub(crate) async fn refuse_untrusted_ip(
        &self,
        person: &PersonRecord,
        record: &NewLoginRecord<'_>,
    ) -> AppResult<()> {
        let now = self.now();
        self.store()
            .logins()
            .record_login_attempt(record, now)
            .await?;
        let audit = Audit::by_person(
            Some(person.id),
            person_label(person),
            record.ip,
            "login.untrusted_ip",
        )
        .on_person(person.id, &person.name, &person.email)
        .after(&serde_json::json!({ "surface": record.surface.as_str() }));
        self.audit(&audit).await?;
        let within_limit = self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("mail.ip_verification:{}", person.id),
                Duration::from_secs(3600),
                VERIFICATION_MAILS_PER_HOUR,
                now,
            )
            .await?;
        if !within_limit {
            tracing::warn!(
                person_id = person.id,
                "IP verification mails held back: too many this hour"
            );
            return Ok(());
        }
        let token = random_token()?;
        let mail = self
            .compose_mail(
                TemplateKind::IpVerification,
                &person.name,
                &person.email,
                serde_json::json!({
                    "name": person.name,
                    "ip": record.ip,
                    "link": format!("{}/agent/verify-ip/{token}", self.public_url()),
                }),
            )
            .await?;
        self.store()
            .trusted_ips()
            .create_ip_verification(
                &NewIpVerification {
                    token_hash: &token_hash(&token),
                    person_id: person.id,
                    ip: record.ip,
                    expires_at: now.plus(IP_VERIFICATION_LIFETIME),
                },
                &mail.as_new(),
                now,
            )
            .await?;
        self.wake_workers();
        Ok(())
    }

    /// The pending verification a link names, for its confirmation page.
    pub async fn ip_verification(&self, token: &str) -> AppResult<IpVerification> {
        self.store()
            .trusted_ips()
            .find_ip_verification(&token_hash(token), self.now())
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Spends a verification link and trusts its address for the
    /// configured time. `ip` is the address the link was opened from, for
    /// the audit log; the trusted address is the one the login came from.
    pub async fn confirm_ip_verification(
        &self,
        token: &str,
        ip: &str,
    ) -> AppResult<IpVerification> {
        let verification = self.ip_verification(token).await?;
        let settings = self.settings().await?;
        let now = self.now();
        let until = now.plus(settings.ip_allow_list.trust_period());
        let audit = Audit::by_person(
            Some(verification.person_id),
            format!("{} <{}>", verification.name, verification.email),
            ip,
            "ip.trusted",
        )
        .on_person(
            verification.person_id,
            &verification.name,
            &verification.email,
        )
        .after(&serde_json::json!({
            "ip": verification.ip,
            "until": until.to_string(),
            "source": TrustSource::Email.as_str(),
        }));
        let confirmed = self
            .store()
            .trusted_ips()
            .confirm_ip_verification(&token_hash(token), until, &audit.entry(), now)
            .await?;
        if !confirmed {
            return Err(AppError::NotFound);
        }
        Ok(verification)
    }

    /// Trusts `ip` for the agent with `email` for `days` (the configured
    /// time when `None`): the command-line way back in after a lock-out.
    pub async fn trust_ip_from_command_line(
        &self,
        email: &str,
        ip: &str,
        days: Option<u32>,
    ) -> AppResult<Timestamp> {
        let address = canonical_ip(ip)
            .ok_or_else(|| AppError::invalid("ip", format!("{ip:?} is not an IP address.")))?;
        let email =
            Email::parse(email).map_err(|error| AppError::invalid("email", error.to_string()))?;
        let person = self
            .store()
            .people()
            .find_person_by_email(&email.normalized())
            .await?
            .filter(|person| person.is_agent)
            .ok_or_else(|| AppError::invalid("email", "No agent has this email address."))?;
        let settings = self.settings().await?;
        let days = days.unwrap_or(settings.ip_allow_list.trust_days);
        if !(1..=crate::MAX_TRUST_DAYS).contains(&days) {
            return Err(AppError::invalid(
                "days",
                "Trust an address for 1 to 730 days.",
            ));
        }
        self.trust_address(
            &Caller::system(),
            (person.id, &person.name, &person.email),
            &address,
            Duration::from_secs(u64::from(days) * 86_400),
            TrustSource::CommandLine,
        )
        .await
    }

    /// Trusts `address` for a person (id, name, email) for `period`, with
    /// the audit entry; answers until when.
    async fn trust_address(
        &self,
        caller: &Caller<'_>,
        (person_id, name, email): (i64, &str, &str),
        address: &str,
        period: Duration,
        source: TrustSource,
    ) -> AppResult<Timestamp> {
        let now = self.now();
        let until = now.plus(period);
        let audit = Audit::new(caller, "ip.trusted")
            .on_person(person_id, name, email)
            .after(&serde_json::json!({
                "ip": address,
                "until": until.to_string(),
                "source": source.as_str(),
            }));
        self.store()
            .trusted_ips()
            .trust_ip(person_id, address, until, source, &audit.entry(), now)
            .await?;
        Ok(until)
    }

    /// Trusts the address a signed-in agent is using now (when they turn the
    /// allow-list on).
    pub(crate) async fn trust_callers_address(
        &self,
        caller: &Caller<'_>,
        period: Duration,
    ) -> AppResult<()> {
        let (Some(person), Some(address)) = (caller.actor.signed_in(), canonical_ip(caller.ip))
        else {
            return Ok(());
        };
        self.trust_address(
            caller,
            (person.person_id, &person.name, &person.email),
            &address,
            period,
            TrustSource::Settings,
        )
        .await?;
        Ok(())
    }

    /// The addresses an agent may sign in from, for the agent themself or
    /// an admin.
    pub async fn trusted_ips_of(
        &self,
        actor: &crate::Actor,
        person_id: i64,
    ) -> AppResult<Vec<TrustedIp>> {
        let own = actor
            .signed_in()
            .is_some_and(|person| person.person_id == person_id);
        if !own && !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store()
            .trusted_ips()
            .trusted_ips_of(person_id, self.now())
            .await?)
    }

    /// Stops trusting an address of an agent (the agent themself or an admin).
    pub async fn revoke_trusted_ip(
        &self,
        caller: &Caller<'_>,
        person_id: i64,
        ip: &str,
    ) -> AppResult<()> {
        let own = caller
            .actor
            .signed_in()
            .is_some_and(|person| person.person_id == person_id);
        if !own && !caller.actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        let person = self
            .store()
            .people()
            .get_person(person_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let audit = Audit::new(caller, "ip.trust_revoked")
            .on_person(person.id, &person.name, &person.email)
            .after(&serde_json::json!({ "ip": ip }));
        if !self
            .store()
            .trusted_ips()
            .revoke_trusted_ip(person_id, ip, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }
}
