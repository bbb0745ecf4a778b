//! Where the helpdesk may send requests of its own (webhooks): the guard
//! against server-side request forgery. An address is read as a browser
//! reads it (WHATWG URL parsing, so `http://2130706433/`, `http://0x7f.1/`
//! and `http://0177.0.0.1/` are all 127.0.0.1), only `http` and `https`
//! without credentials are taken, and every address a name resolves to is
//! checked against the ranges no outside service lives in: loopback,
//! private, link-local (the cloud metadata address among them), shared
//! (CGNAT), multicast, reserved and the IPv6 forms that carry an IPv4
//! address inside (mapped, compatible, NAT64, 6to4, Teredo). The caller
//! connects to the one address checked here (`Destination::address`),
//! never resolving the name again, so a name cannot change its answer
//! between the check and the connection. Ranges the operator lists in the
//! allow-list (configuration only) are let through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// Why an address is not one the helpdesk sends to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("Enter an address starting with http:// or https://.")]
    NotHttp,
    #[error("The address cannot carry a user name or password.")]
    Credentials,
    #[error("This is not an address: {0}.")]
    Malformed(String),
    #[error("The address is too long.")]
    TooLong,
    #[error(
        "{0} is an internal address; the helpdesk only calls services outside its own network."
    )]
    Internal(IpAddr),
    #[error("The name {0} could not be found.")]
    Unresolved(String),
}

/// The longest address taken.
const MAX_URL_BYTES: usize = 2000;

/// An address as checked before any name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundUrl {
    url: url::Url,
}

impl OutboundUrl {
    /// Reads an address the way browsers do; refuses anything but plain
    /// `http(s)://host[:port]/…`, and a literal internal address at once.
    pub fn parse(text: &str, policy: &OutboundPolicy) -> Result<OutboundUrl, OutboundError> {
        let text = text.trim();
        if text.len() > MAX_URL_BYTES {
            return Err(OutboundError::TooLong);
        }
        let url =
            url::Url::parse(text).map_err(|error| OutboundError::Malformed(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::Credentials);
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(address)) => Some(IpAddr::V4(address)),
            Some(url::Host::Ipv6(address)) => Some(IpAddr::V6(address)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(OutboundError::Malformed("no host".to_owned())),
        };
        if let Some(address) = literal
            && !policy.permits(address)
        {
            return Err(OutboundError::Internal(address));
        }
        Ok(OutboundUrl { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }
}

/// Where a request goes: the address and the one socket address checked
/// for it, which the connection must use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub url: OutboundUrl,
    pub address: SocketAddr,
}

/// Which internal ranges the operator lets requests reach anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allowed: Vec<IpNet>,
}

impl OutboundPolicy {
    pub fn new(allowed: Vec<IpNet>) -> OutboundPolicy {
        OutboundPolicy { allowed }
    }

    /// Whether a request may go to `address`.
    pub fn permits(&self, address: IpAddr) -> bool {
        !is_internal(address) || self.allowed.iter().any(|range| range.contains(&address))
    }

    /// Resolves the address's host and picks the first answer the policy
    /// permits; refuses when it permits none.
    pub async fn destination(&self, url: OutboundUrl) -> Result<Destination, OutboundError> {
        let port = url.port();
        let answers: Vec<SocketAddr> = match url.url.host() {
            Some(url::Host::Ipv4(address)) => vec![SocketAddr::new(IpAddr::V4(address), port)],
            Some(url::Host::Ipv6(address)) => vec![SocketAddr::new(IpAddr::V6(address), port)],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| OutboundError::Unresolved(name.to_owned()))?
                .collect(),
            None => Vec::new(),
        };
        let Some(first) = answers.first() else {
            return Err(OutboundError::Unresolved(
                url.url.host_str().unwrap_or("").to_owned(),
            ));
        };
        match answers.iter().find(|answer| self.permits(answer.ip())) {
            Some(address) => Ok(Destination {
                address: *address,
                url,
            }),
            None => Err(OutboundError::Internal(first.ip())),
        }
    }
}

/// Whether an address is in a range no outside service lives in.
pub fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(address) => is_internal_v4(address),
        IpAddr::V6(address) => is_internal_v6(address),
    }
}

fn is_internal_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_multicast()
        || address.is_broadcast()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24, and the documentation
        // and benchmarking ranges.
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        // Reserved, 240.0.0.0/4.
        || a >= 240
}

fn is_internal_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    // An IPv4 address inside: mapped (::ffff:a.b.c.d), compatible
    // (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d).
    if let Some(inner) = address.to_ipv4_mapped() {
        return is_internal_v4(inner);
    }
    let embedded = || {
        let [.., high, low] = segments;
        Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
    };
    if segments[..6] == [0; 6] && !address.is_loopback() && !address.is_unspecified() {
        return is_internal_v4(embedded());
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_internal_v4(embedded());
    }
    // 6to4 (2002::/16) carries the IPv4 address in its next 32 bits.
    if segments[0] == 0x2002 {
        return is_internal_v4(Ipv4Addr::from(
            (u32::from(segments[1]) << 16) | u32::from(segments[2]),
        ));
    }
    address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        // Unique local (fc00::/7), link-local (fe80::/10), the old
        // site-local (fec0::/10).
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // Teredo (2001::/32) hides an IPv4 address; documentation
        // (2001:db8::/32); discard (100::/64); local NAT64 (64:ff9b:1::/48).
        || (segments[0] == 0x2001 && (segments[1] == 0 || segments[1] == 0xdb8))
        || segments[..4] == [0x100, 0, 0, 0]
        || segments[..3] == [0x64, 0xff9b, 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notation_of_an_internal_address_is_refused() {
        let policy = OutboundPolicy::default();
        for address in [
            "http://127.0.0.1/hook",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0x0.0x0.0x1/",
            "http://017700000001/",
            "http://0177.0.0.1/",
            "http://127.000.000.001/",
            "http://①②⑦.0.0.1/",
            "https://[::1]:8443/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:169.254.169.254]/latest/meta-data/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::10.0.0.1]/",
            "http://[2002:c0a8:0101::1]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.0.1/",
            "http://100.64.0.1/",
            "http://100.127.255.254/",
            "http://0.0.0.0/",
            "http://0/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
            "http://255.255.255.255/",
            "http://240.0.0.1/",
        ] {
            let refused = OutboundUrl::parse(address, &policy);
            assert!(
                matches!(refused, Err(OutboundError::Internal(_))),
                "{address}: {refused:?}"
            );
        }
    }

    #[test]
    fn only_plain_http_addresses_are_taken() {
        let policy = OutboundPolicy::default();
        for (address, expected) in [
            ("ftp://example.com/", OutboundError::NotHttp),
            ("file:///etc/passwd", OutboundError::NotHttp),
            ("gopher://example.com:70/", OutboundError::NotHttp),
            ("javascript:alert(1)", OutboundError::NotHttp),
            (
                "http://user:secret@example.com/",
                OutboundError::Credentials,
            ),
            ("http://user@example.com/", OutboundError::Credentials),
        ] {
            assert_eq!(
                OutboundUrl::parse(address, &policy),
                Err(expected),
                "{address}"
            );
        }
        for address in [
            "",
            "not a url",
            "http://",
            "http://exa mple.com/",
            "http://[::1/",
        ] {
            assert!(
                matches!(
                    OutboundUrl::parse(address, &policy),
                    Err(OutboundError::Malformed(_))
                ),
                "{address}"
            );
        }
        assert_eq!(
            OutboundUrl::parse(
                &format!("https://example.com/{}", "a".repeat(2000)),
                &policy
            ),
            Err(OutboundError::TooLong)
        );
        for address in [
            "https://hooks.example.com/ferrodesk?team=4",
            "http://93.184.215.14:8080/",
            "https://[2606:4700::6810:84e5]/",
            "https://8.8.8.8/",
        ] {
            assert!(OutboundUrl::parse(address, &policy).is_ok(), "{address}");
        }
    }

    #[test]
    fn the_allow_list_lets_chosen_ranges_through() {
        let policy = OutboundPolicy::new(vec![
            "10.20.0.0/16".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(OutboundUrl::parse("http://10.20.3.4/", &policy).is_ok());
        assert!(OutboundUrl::parse("http://[::1]/", &policy).is_ok());
        assert!(OutboundUrl::parse("http://10.21.0.1/", &policy).is_err());
        assert!(OutboundUrl::parse("http://127.0.0.1/", &policy).is_err());
    }

    #[tokio::test]
    async fn a_name_is_checked_by_what_it_resolves_to_and_pinned() {
        let policy = OutboundPolicy::default();
        let url = OutboundUrl::parse("http://localhost:9/hook", &policy).unwrap();
        assert!(matches!(
            policy.destination(url).await,
            Err(OutboundError::Internal(_))
        ));
        let allowed = OutboundPolicy::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        let url = OutboundUrl::parse("http://localhost:9/hook", &allowed).unwrap();
        let destination = allowed.destination(url).await.unwrap();
        assert!(destination.address.ip().is_loopback() && destination.address.port() == 9);
        let url = OutboundUrl::parse("http://no-such-host.invalid/", &policy).unwrap();
        assert!(matches!(
            policy.destination(url).await,
            Err(OutboundError::Unresolved(_))
        ));
    }
}
