//! API keys (C13). A key is bound to one agent and acts as that agent, so
//! the API can do only what the agent could do in the browser; its scope
//! patterns narrow that further. The secret is shown once and stored as a
//! hash; a key can expire and be revoked.

use std::time::Duration;

use ferrodesk_core::{Email, Timestamp};
use ferrodesk_store::{ApiKeyRecord, NewApiKey};

use crate::audit::{Audit, Caller};
use crate::secrets::{random_bytes, random_token, same_secret, token_hash};
use crate::{Actor, App, AppError, AppResult, FieldErrors, SignedIn};

/// Every scope an API route can ask for: `<resource>.<action>`.
pub const API_SCOPES: &[&str] = &[
    "me.view",
    "tickets.list",
    "tickets.view",
    "tickets.create",
    "tickets.update",
    "tickets.delete",
    "tickets.reply",
    "people.list",
    "people.view",
    "people.create",
    "people.update",
    "agents.list",
    "agents.view",
    "organizations.list",
    "organizations.view",
    "departments.list",
    "ticket_fields.list",
    "articles.list",
    "articles.view",
    "articles.create",
    "articles.update",
    "article_categories.list",
    "news.list",
    "news.view",
    "reports.view",
];

/// A key's last-used time is written at most this often.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);
const MAX_KEY_NAME_CHARS: usize = 100;
const MAX_EXPIRY_DAYS: u32 = 3650;

/// Scope patterns such as `tickets.*, -*.delete`: a scope is allowed when a
/// pattern without `-` matches it and no pattern with `-` does. Each part
/// of a pattern is a word or `*`; `*` on its own matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePatterns {
    allow: Vec<Vec<String>>,
    deny: Vec<Vec<String>>,
}

fn pattern_matches(pattern: &[String], scope: &str) -> bool {
    if pattern.len() == 1 && pattern[0] == "*" {
        return true;
    }
    let parts: Vec<&str> = scope.split('.').collect();
    parts.len() == pattern.len()
        && pattern
            .iter()
            .zip(parts)
            .all(|(wanted, part)| wanted == "*" || wanted == part)
}

impl ScopePatterns {
    /// Parses a comma-separated list; empty means every scope. Each pattern
    /// must match at least one known scope, so a typo is an error rather
    /// than a key that silently can do nothing.
    pub fn parse(text: &str) -> Result<ScopePatterns, String> {
        let mut patterns = ScopePatterns {
            allow: Vec::new(),
            deny: Vec::new(),
        };
        for raw in text
            .split([',', ' '])
            .map(str::trim)
            .filter(|raw| !raw.is_empty())
        {
            let (negated, body) = match raw.strip_prefix('-') {
                Some(body) => (true, body),
                None => (false, raw),
            };
            let parts: Vec<String> = body.split('.').map(str::to_owned).collect();
            let well_formed = parts.len() <= 2
                && parts.iter().all(|part| {
                    part == "*"
                        || (!part.is_empty()
                            && part
                                .bytes()
                                .all(|byte| byte.is_ascii_lowercase() || byte == b'_'))
                });
            if !well_formed
                || !API_SCOPES
                    .iter()
                    .any(|scope| pattern_matches(&parts, scope))
            {
                return Err(format!(
                    "\"{raw}\" matches no scope; scopes look like tickets.list, tickets.* or -*.delete"
                ));
            }
            if negated {
                patterns.deny.push(parts);
            } else {
                patterns.allow.push(parts);
            }
        }
        // No positive pattern means every scope, so "-*.delete" alone reads
        // as "everything but deleting".
        if patterns.allow.is_empty() {
            patterns.allow.push(vec!["*".to_owned()]);
        }
        Ok(patterns)
    }

    pub fn allows(&self, scope: &str) -> bool {
        self.allow
            .iter()
            .any(|pattern| pattern_matches(pattern, scope))
            && !self
                .deny
                .iter()
                .any(|pattern| pattern_matches(pattern, scope))
    }

    /// The patterns written back in their canonical form.
    pub fn canonical(&self) -> String {
        let allow = self.allow.iter().map(|pattern| pattern.join("."));
        let deny = self
            .deny
            .iter()
            .map(|pattern| format!("-{}", pattern.join(".")));
        allow.chain(deny).collect::<Vec<_>>().join(", ")
    }
}

/// What creating a key asks for.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyInput {
    pub agent_email: String,
    pub name: String,
    pub scopes: String,
    /// Days until the key stops working; `None` for never.
    pub expires_in_days: Option<u32>,
}

/// A new key with its secret, which is never available again.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub id: String,
    /// `<id>:<secret>`, what `Authorization: key …` carries.
    pub token: String,
}

/// The party behind an API request: the key's agent and the key's scopes.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub actor: Actor,
    pub key_id: String,
    pub scopes: ScopePatterns,
}

impl ApiCaller {
    /// `Forbidden` unless the key's scopes allow `scope`.
    pub fn require_scope(&self, scope: &str) -> AppResult<()> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The audit entry of a request through this key that changed
    /// something: which key, what request, how it ended.
    pub(crate) fn request_audit(&self, ip: &str, request: &str, status: u16) -> Audit {
        Audit::new(&Caller::new(&self.actor, ip), "api.request")
            .on("api_key", None, &self.key_id)
            .after(&serde_json::json!({ "request": request, "status": status }))
    }
}

impl App {
    /// Creates a key for an agent (admins and the command line only).
    pub async fn create_api_key(
        &self,
        caller: &Caller<'_>,
        input: &ApiKeyInput,
    ) -> AppResult<CreatedApiKey> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let agent = match Email::parse(input.agent_email.trim()) {
            Ok(email) => self
                .store()
                .people()
                .find_person_by_email(&email.normalized())
                .await?
                .filter(|person| person.is_agent && !person.is_disabled),
            Err(_) => None,
        };
        if agent.is_none() {
            errors.add("agent", "Choose an active agent.");
        }
        let name = input.name.trim();
        if name.chars().count() > MAX_KEY_NAME_CHARS || name.chars().any(char::is_control) {
            errors.add("name", "A name is one line of at most 100 characters.");
        }
        let scopes = match ScopePatterns::parse(&input.scopes) {
            Ok(scopes) => scopes.canonical(),
            Err(message) => {
                errors.add("scopes", message);
                String::new()
            }
        };
        if input
            .expires_in_days
            .is_some_and(|days| days == 0 || days > MAX_EXPIRY_DAYS)
        {
            errors.add("expires", "A key expires after 1 to 3650 days, or never.");
        }
        errors.into_result()?;
        let Some(agent) = agent else {
            return Err(AppError::invalid("agent", "Choose an active agent."));
        };
        let id = hex::encode(random_bytes::<8>()?);
        let secret = random_token()?;
        let now = self.now();
        let expires_at = input
            .expires_in_days
            .map(|days| now.plus(Duration::from_secs(u64::from(days) * 24 * 60 * 60)));
        let name = if name.is_empty() { "API key" } else { name };
        let audit = Audit::new(caller, "api_key.created")
            .on_person(agent.id, &agent.name, &agent.email)
            .after(&serde_json::json!({
                "key": id,
                "name": name,
                "scopes": scopes,
                "expires_at": expires_at.map(Timestamp::rfc3339),
            }));
        self.store()
            .api_keys()
            .create_api_key(
                &NewApiKey {
                    id: &id,
                    agent_id: agent.id,
                    name,
                    secret_hash: &token_hash(&secret),
                    scopes: &scopes,
                    created_by_id: caller.actor.signed_in().map(|person| person.person_id),
                    expires_at,
                },
                &audit.entry(),
                now,
            )
            .await?;
        Ok(CreatedApiKey {
            token: format!("{id}:{secret}"),
            id,
        })
    }

    /// Every key, for the admin list.
    pub async fn api_keys(&self, actor: &Actor) -> AppResult<Vec<ApiKeyRecord>> {
        actor.require_admin()?;
        Ok(self.store().api_keys().list_api_keys().await?)
    }

    /// Revokes a key at once; requests with it are refused from then on.
    pub async fn revoke_api_key(&self, caller: &Caller<'_>, id: &str) -> AppResult<()> {
        caller.actor.require_admin()?;
        let key = self
            .store()
            .api_keys()
            .get_api_key(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let audit = Audit::new(caller, "api_key.revoked")
            .on_person(key.agent_id, &key.agent_name, &key.agent_email)
            .after(&serde_json::json!({ "key": key.id, "name": key.name }));
        self.store()
            .api_keys()
            .revoke_api_key(&key.id, &audit.entry(), self.now())
            .await?;
        Ok(())
    }

    /// Recognises the key in an `Authorization` header value. Anything wrong
    /// (shape, unknown id, wrong secret, revoked, expired, agent disabled or
    /// no longer an agent) is `Unauthenticated`, without saying which.
    pub async fn authenticate_api_key(&self, authorization: &str) -> AppResult<ApiCaller> {
        let (scheme, credentials) = authorization
            .trim()
            .split_once(' ')
            .ok_or(AppError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("key") {
            return Err(AppError::Unauthenticated);
        }
        let (id, secret) = credentials
            .trim()
            .split_once(':')
            .ok_or(AppError::Unauthenticated)?;
        if id.len() != 16 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(AppError::Unauthenticated);
        }
        let key = self
            .store()
            .api_keys()
            .api_key_credentials(id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let now = self.now();
        if !same_secret(&token_hash(secret), &key.secret_hash)
            || key.revoked_at.is_some()
            || key
                .expires_at
                .is_some_and(|expires| expires <= now.millis())
        {
            return Err(AppError::Unauthenticated);
        }
        if !key.agent_active {
            return Err(AppError::Unauthenticated);
        }
        let scopes = ScopePatterns::parse(&key.scopes).map_err(|_| AppError::Unauthenticated)?;
        let stale = key
            .last_used_at
            .is_none_or(|used| now.millis() - used >= TOUCH_INTERVAL.as_millis() as i64);
        if stale {
            self.store().api_keys().touch_api_key(&key.id, now).await?;
        }
        Ok(ApiCaller {
            actor: Actor::Agent(SignedIn {
                person_id: key.agent_id,
                name: key.agent_name,
                email: key.agent_email,
                is_admin: key.agent_is_admin,
                remembered: false,
                must_change_password: false,
                must_set_up_two_factor: false,
                time_zone: String::new(),
            }),
            key_id: key.id,
            scopes,
        })
    }

    /// Writes an audit entry for a request that changed something through
    /// a key: which key, what request, how it ended.
    pub async fn audit_api_request(
        &self,
        caller: &ApiCaller,
        ip: &str,
        request: &str,
        status: u16,
    ) -> AppResult<()> {
        let audit = caller.request_audit(ip, request, status);
        self.store()
            .audit_log()
            .append_audit(&audit.entry(), self.now())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_allow_and_deny_by_part() {
        let all_but_delete = ScopePatterns::parse("*, -*.delete").unwrap();
        assert!(all_but_delete.allows("tickets.list"));
        assert!(all_but_delete.allows("people.create"));
        assert!(!all_but_delete.allows("tickets.delete"));

        let tickets = ScopePatterns::parse("tickets.*").unwrap();
        assert!(tickets.allows("tickets.update"));
        assert!(!tickets.allows("people.list"));
        assert!(!tickets.allows("me.view"));

        let one = ScopePatterns::parse("people.list").unwrap();
        assert!(one.allows("people.list"));
        assert!(!one.allows("people.view"));

        assert!(ScopePatterns::parse("").unwrap().allows("tickets.delete"));
        let only_denials = ScopePatterns::parse("-*.delete").unwrap();
        assert!(only_denials.allows("tickets.list"));
        assert!(!only_denials.allows("tickets.delete"));
    }

    #[test]
    fn unknown_or_malformed_patterns_are_refused() {
        for bad in [
            "ticket.*",
            "tickets.lst",
            "tickets.*.*",
            "TICKETS.*",
            "tickets.",
            "a b.c",
        ] {
            assert!(ScopePatterns::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_form_round_trips() {
        let patterns = ScopePatterns::parse(" tickets.* ,-*.delete").unwrap();
        assert_eq!(patterns.canonical(), "tickets.*, -*.delete");
        assert_eq!(
            ScopePatterns::parse(&patterns.canonical()).unwrap(),
            patterns
        );
    }
}
