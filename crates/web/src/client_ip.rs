//! The address of the person making a request. Behind a reverse proxy the
//! connection comes from the proxy, and X-Forwarded-For says who the proxy
//! talked to; but anyone can send that header, so it is believed only when
//! the connection comes from a configured proxy, and read from the right: the
//! first address that is not one of our proxies is the client.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::AppState;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(ranges)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|range| range.contains(&address))
    }

    /// The client address for a connection from `peer` carrying these
    /// X-Forwarded-For values (in header order).
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(address) = hop.parse::<IpAddr>() else {
                // A hop we cannot read: the last proxy we trust is as far as
                // the chain can be followed.
                break;
            };
            client = canonical(address);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4 addresses arriving as IPv4-mapped IPv6 are the same client.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The resolved client address, in request extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub IpAddr);

pub(crate) async fn resolve(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let client = state.config.trusted_proxies.client_address(peer, forwarded);
    // A proxy nobody listed makes every client one address: tell the admin.
    if client == canonical(peer)
        && request.headers().contains_key("x-forwarded-for")
        && state.app.forwarding_note_due()
    {
        let app = state.app.clone();
        let peer = client.to_string();
        tokio::spawn(async move {
            if let Err(error) = app.note_ignored_forwarding(&peer).await {
                tracing::warn!(%error, "cannot note an ignored X-Forwarded-For");
            }
        });
    }
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|range| range.parse().unwrap()).collect())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = proxies(&[]);
        assert_eq!(
            none.client_address(ip("203.0.113.9"), ["1.2.3.4"].into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client forged the leftmost entry; our proxy appended the real one.
        let header = ["6.6.6.6, 198.51.100.7, 10.0.0.2"];
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), header.into_iter()),
            ip("198.51.100.7")
        );
        // Several header lines count as one list.
        let lines = ["6.6.6.6", "198.51.100.7"];
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), lines.into_iter()),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_connection_from_an_untrusted_peer_keeps_its_own_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_address(ip("198.51.100.7"), ["10.1.1.1"].into_iter()),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_in_the_chain_stops_the_walk() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let header = ["1.1.1.1, not-an-ip, 10.0.0.3"];
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), header.into_iter()),
            ip("10.0.0.3")
        );
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), std::iter::empty()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_ipv4_addresses_are_treated_as_ipv4() {
        let trusted = proxies(&["127.0.0.0/8"]);
        assert_eq!(
            trusted.client_address(ip("::ffff:127.0.0.1"), ["192.0.2.1"].into_iter()),
            ip("192.0.2.1")
        );
    }
}
