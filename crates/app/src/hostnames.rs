//! Hostnames for IP addresses (C6): a reverse lookup whose answer is kept
//! only when the name leads back to the same address (forward-confirmed),
//! done by a background job with a timeout and cached in the database, so a
//! slow or hostile DNS server never holds up a request. Anything that
//! records an IP address (the login log, agents' ticket messages) calls
//! `look_up_hostname_later` and shows names from the cache.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::jobs::{JobFailure, JobResult};
use crate::{App, AppResult};

pub(crate) const REVERSE_DNS_JOB: &str = "dns.reverse";
/// A cached answer is used this long before it is looked up again.
const CACHE_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// The whole lookup (reverse and forward) gives up after this.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_HOSTNAME_LENGTH: usize = 253;

#[derive(Debug, Deserialize)]
struct ReverseLookup {
    ip: String,
}

impl App {
    /// Queues a lookup of `ip` unless a fresh answer is cached. Addresses
    /// that are not IPs (a missing client address) are ignored.
    pub(crate) async fn look_up_hostname_later(&self, ip: &str) -> AppResult<()> {
        if ip.parse::<IpAddr>().is_err() {
            return Ok(());
        }
        let now = self.now();
        if let Some(resolved_at) = self.store().logins().hostname_resolved_at(ip).await?
            && now < resolved_at.plus(CACHE_FOR)
        {
            return Ok(());
        }
        self.enqueue_job(REVERSE_DNS_JOB, &serde_json::json!({ "ip": ip }), 2)
            .await?;
        Ok(())
    }

    /// The job: looks the address up, confirms it, caches the answer. Two
    /// jobs for one address (two logins at once) both write the same row.
    pub(crate) async fn resolve_hostname_job(&self, payload: &str) -> JobResult {
        let request: ReverseLookup = serde_json::from_str(payload)
            .map_err(|error| JobFailure::Permanent(error.to_string()))?;
        let ip: IpAddr = request
            .ip
            .parse()
            .map_err(|_| JobFailure::Permanent(format!("not an IP address: {}", request.ip)))?;
        let now = self.now();
        if let Some(resolved_at) = self
            .store()
            .logins()
            .hostname_resolved_at(&request.ip)
            .await?
            && now < resolved_at.plus(CACHE_FOR)
        {
            return Ok(());
        }
        let hostname = confirmed_hostname(ip, LOOKUP_TIMEOUT).await;
        self.store()
            .logins()
            .put_hostname(&request.ip, hostname.as_deref(), now)
            .await?;
        Ok(())
    }
}

/// The name `ip` resolves to, if that name resolves back to `ip`; `None` on
/// no name, a mismatch, an implausible name or a timeout.
pub async fn confirmed_hostname(ip: IpAddr, timeout: Duration) -> Option<String> {
    let lookup = tokio::task::spawn_blocking(move || {
        let name = dns_lookup::lookup_addr(&ip).ok()?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty()
            || name.len() > MAX_HOSTNAME_LENGTH
            || name.parse::<IpAddr>().is_ok()
            || !name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
        {
            return None;
        }
        let confirmed = dns_lookup::lookup_host(&name)
            .ok()?
            .any(|address| same_address(address, ip));
        confirmed.then_some(name)
    });
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(answer)) => answer,
        _ => None,
    }
}

/// IPv4 addresses may come back IPv4-mapped in IPv6 form.
fn same_address(left: IpAddr, right: IpAddr) -> bool {
    left.to_canonical() == right.to_canonical()
}
