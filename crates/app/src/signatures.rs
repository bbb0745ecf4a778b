//! Reply signatures: each agent's own (markdown, on their account page)
//! or, without one, the admin's default, added below every reply an agent
//! writes in the agent interface (never to notes; replies through the API
//! or by mail carry what their writer wrote). Placeholders name the agent
//! and the helpdesk and are filled in by plain substitution, so a
//! signature can reach nothing else.

use crate::audit::Caller;
use crate::settings::{REPLIES, ReplySettings};
use crate::{Actor, App, AppError, AppResult};

/// The longest signature, in characters.
pub const MAX_SIGNATURE_CHARS: usize = 2_000;
/// What a signature may say about its agent and the helpdesk.
pub const SIGNATURE_PLACEHOLDERS: [&str; 4] = [
    "{{ agent.name }}",
    "{{ agent.first_name }}",
    "{{ agent.email }}",
    "{{ helpdesk.name }}",
];

/// An agent's signature as their account page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureView {
    /// Their own, as typed; empty when they use the default.
    pub own: String,
    /// The admin's default, as typed.
    pub default: String,
}

/// A signature as typed, checked: at most `MAX_SIGNATURE_CHARS`, no
/// control characters but line breaks and tabs.
fn checked_signature(text: &str, field: &'static str) -> AppResult<String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.chars().count() > MAX_SIGNATURE_CHARS {
        return Err(AppError::invalid(
            field,
            format!("A signature has at most {MAX_SIGNATURE_CHARS} characters."),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AppError::invalid(
            field,
            "A signature cannot hold control characters.",
        ));
    }
    Ok(text.to_owned())
}

/// `signature` with its placeholders filled in.
fn filled(signature: &str, agent_name: &str, agent_email: &str, helpdesk: &str) -> String {
    let first_name = agent_name.split_whitespace().next().unwrap_or(agent_name);
    let mut text = signature.to_owned();
    for (placeholder, value) in
        SIGNATURE_PLACEHOLDERS
            .iter()
            .zip([agent_name, first_name, agent_email, helpdesk])
    {
        text = text.replace(placeholder, value);
        // Also without the spaces: {{agent.name}}.
        text = text.replace(&placeholder.replace(' ', ""), value);
    }
    text
}

impl App {
    /// The agent's own signature and the default.
    pub async fn signature_view(&self, actor: &Actor) -> AppResult<SignatureView> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        Ok(SignatureView {
            own: self.store().people().signature(agent.person_id).await?,
            default: self.settings().await?.replies.default_signature.clone(),
        })
    }

    /// Sets the agent's own signature; empty uses the default.
    pub async fn set_own_signature(&self, actor: &Actor, text: &str) -> AppResult<()> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        let signature = checked_signature(text, "signature")?;
        self.store()
            .people()
            .set_signature(agent.person_id, &signature, self.now())
            .await?;
        Ok(())
    }

    /// Sets the default signature (admins; audited).
    pub async fn set_default_signature(&self, caller: &Caller<'_>, text: &str) -> AppResult<()> {
        caller.actor.require_admin()?;
        let after = ReplySettings {
            default_signature: checked_signature(text, "default_signature")?,
        };
        let before = self.settings().await?.replies.clone();
        self.put_audited_setting(caller, REPLIES, &before, &after)
            .await
    }

    /// The signature an agent's reply ends with, filled in; `None` when
    /// they have none and there is no default.
    pub(crate) async fn signature_for(&self, actor: &Actor) -> AppResult<Option<String>> {
        let Actor::Agent(agent) = actor else {
            return Ok(None);
        };
        let own = self.store().people().signature(agent.person_id).await?;
        let settings = self.settings().await?;
        let signature = if own.is_empty() {
            settings.replies.default_signature.clone()
        } else {
            own
        };
        if signature.is_empty() {
            return Ok(None);
        }
        Ok(Some(filled(
            &signature,
            &agent.name,
            &agent.email,
            &settings.branding.product_name,
        )))
    }
}

/// A reply's text with the signature below it, within the longest message.
pub(crate) fn signed(body: &str, signature: &str) -> String {
    let signed = format!("{body}\n\n{signature}");
    if signed.len() > ferrodesk_core::message::MAX_MESSAGE_BYTES {
        body.to_owned()
    } else {
        signed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_nothing_else_is_read() {
        let text = filled(
            "Best,\n{{ agent.first_name }} ({{agent.name}}, {{ agent.email }})\n{{ helpdesk.name }} {{ ticket.requester.password }}",
            "Alice Agent",
            "alice@example.org",
            "Acme Help",
        );
        assert_eq!(
            text,
            "Best,\nAlice (Alice Agent, alice@example.org)\nAcme Help {{ ticket.requester.password }}"
        );
        assert!(checked_signature(&"x".repeat(2_001), "signature").is_err());
        assert!(checked_signature("a\u{0}b", "signature").is_err());
        assert_eq!(
            checked_signature(" Best,\r\nAlice ", "signature").unwrap(),
            "Best,\nAlice"
        );
        assert_eq!(signed("Hello", "Alice"), "Hello\n\nAlice");
    }
}
