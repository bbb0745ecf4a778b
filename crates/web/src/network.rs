//! Surface network restriction (C8): the admin and staff interfaces can be
//! limited to address ranges from the configuration. Outside them those
//! paths answer 404, as if they did not exist.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::AppState;
use crate::client_ip::ClientIp;
use crate::error::WebError;

/// Ranges allowed to reach one interface; empty means everyone.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    pub fn new(ranges: Vec<IpNet>) -> AllowList {
        AllowList(ranges)
    }

    fn admits(&self, address: std::net::IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.is_empty() || self.0.iter().any(|range| range.contains(&address))
    }
}

fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

pub(crate) async fn restrict(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_admin = is_under(path, "/admin");
    // The admin interface is part of the staff one: its login is there.
    let is_staff = is_admin || is_under(path, "/agent");
    if is_staff {
        let Some(ClientIp(address)) = request.extensions().get::<ClientIp>().copied() else {
            return WebError::App(ferrodesk_app::AppError::NotFound).into_response();
        };
        let admitted = state.config.agent_allow.admits(address)
            && (!is_admin || state.config.admin_allow.admits(address));
        if !admitted {
            return WebError::App(ferrodesk_app::AppError::NotFound).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_admits_everyone_and_a_list_only_its_ranges() {
        let anyone = AllowList::default();
        assert!(anyone.admits("203.0.113.9".parse().unwrap()));
        let office = AllowList::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ]);
        assert!(office.admits("10.1.2.3".parse().unwrap()));
        assert!(
            office.admits("::ffff:10.1.2.3".parse().unwrap()),
            "IPv4-mapped addresses count as IPv4"
        );
        assert!(office.admits("2001:db8::1".parse().unwrap()));
        assert!(!office.admits("192.0.2.1".parse().unwrap()));
        assert!(is_under("/admin", "/admin") && is_under("/admin/x", "/admin"));
        assert!(!is_under("/administrator", "/admin"));
    }
}
