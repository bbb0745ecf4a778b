//! Notification templates. Admins may replace any built-in template; a
//! replacement runs in a sandboxed minijinja environment (no loader, so no file
//! access or includes from disk; a fuel limit bounds its work) and, if it
//! fails, the built-in version is used and the failure reported with its line.
//! HTML bodies escape every value; every mail also has a text part.

use minijinja::{Environment, Value};

use crate::address::HeaderText;

/// How much work one template may do before it is stopped.
const FUEL: u64 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    AgentPasswordReset,
    UserPasswordReset,
    UserEmailVerification,
    AgentInvitation,
    LoginNotification,
    FailedLoginNotification,
    IpVerification,
    TicketReply,
    TicketReceived,
    AccountExists,
    TicketResolved,
    AgentNotification,
    MailRefused,
    ChatTranscript,
}

/// The three parts of a mail template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: HeaderText,
    pub text: String,
    pub html: String,
}

/// Why an admin's template could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}{}: {message}", line.map(|line| format!(", line {line}")).unwrap_or_default())]
pub struct TemplateError {
    pub part: &'static str,
    pub line: Option<usize>,
    pub message: String,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 14] = [
        TemplateKind::AgentPasswordReset,
        TemplateKind::UserPasswordReset,
        TemplateKind::UserEmailVerification,
        TemplateKind::AgentInvitation,
        TemplateKind::LoginNotification,
        TemplateKind::FailedLoginNotification,
        TemplateKind::IpVerification,
        TemplateKind::TicketReply,
        TemplateKind::TicketReceived,
        TemplateKind::AccountExists,
        TemplateKind::TicketResolved,
        TemplateKind::AgentNotification,
        TemplateKind::MailRefused,
        TemplateKind::ChatTranscript,
    ];

    /// The stable name used in settings and the outbox.
    pub fn key(self) -> &'static str {
        match self {
            TemplateKind::AgentPasswordReset => "agent_password_reset",
            TemplateKind::UserPasswordReset => "user_password_reset",
            TemplateKind::UserEmailVerification => "user_email_verification",
            TemplateKind::AgentInvitation => "agent_invitation",
            TemplateKind::LoginNotification => "login_notification",
            TemplateKind::FailedLoginNotification => "failed_login_notification",
            TemplateKind::IpVerification => "ip_verification",
            TemplateKind::TicketReply => "ticket_reply",
            TemplateKind::TicketReceived => "ticket_received",
            TemplateKind::AccountExists => "account_exists",
            TemplateKind::TicketResolved => "ticket_resolved",
            TemplateKind::AgentNotification => "agent_notification",
            TemplateKind::MailRefused => "mail_refused",
            TemplateKind::ChatTranscript => "chat_transcript",
        }
    }

    pub fn from_key(key: &str) -> Option<TemplateKind> {
        TemplateKind::ALL.into_iter().find(|kind| kind.key() == key)
    }

    /// What the admin pages call it.
    pub fn title(self) -> &'static str {
        match self {
            TemplateKind::AgentPasswordReset => "Agent password reset",
            TemplateKind::UserPasswordReset => "User password reset",
            TemplateKind::UserEmailVerification => "User email verification",
            TemplateKind::AgentInvitation => "Agent invitation",
            TemplateKind::LoginNotification => "Login notification",
            TemplateKind::FailedLoginNotification => "Failed-login notification",
            TemplateKind::IpVerification => "IP address verification",
            TemplateKind::TicketReply => "Reply to a ticket",
            TemplateKind::TicketReceived => "Ticket received",
            TemplateKind::AccountExists => "Registration with a known address",
            TemplateKind::TicketResolved => "Ticket resolved",
            TemplateKind::AgentNotification => "Agent notification",
            TemplateKind::MailRefused => "Received mail refused",
            TemplateKind::ChatTranscript => "Chat transcript",
        }
    }

    /// The values a template of this kind can use.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            TemplateKind::AgentPasswordReset
            | TemplateKind::UserPasswordReset
            | TemplateKind::UserEmailVerification => {
                &["product_name", "name", "link", "expires_minutes"]
            }
            TemplateKind::AgentInvitation => {
                &["product_name", "name", "link", "expires_minutes", "inviter"]
            }
            TemplateKind::LoginNotification => &[
                "product_name",
                "name",
                "time",
                "ip",
                "hostname",
                "user_agent",
            ],
            TemplateKind::FailedLoginNotification => {
                &["product_name", "name", "time", "ip", "hostname"]
            }
            TemplateKind::IpVerification => &["product_name", "name", "ip", "link"],
            TemplateKind::TicketReply => &[
                "product_name",
                "name",
                "reference",
                "subject",
                "agent",
                "message_text",
                "message_html",
                "link",
            ],
            TemplateKind::TicketReceived => {
                &["product_name", "name", "reference", "subject", "link"]
            }
            TemplateKind::AccountExists => &["product_name", "name", "link"],
            TemplateKind::TicketResolved => &[
                "product_name",
                "name",
                "reference",
                "subject",
                "link",
                "survey",
            ],
            TemplateKind::AgentNotification => &[
                "product_name",
                "name",
                "event",
                "reference",
                "subject",
                "department",
                "actor",
                "message_text",
                "message_html",
                "link",
                "reply_by_mail",
            ],
            TemplateKind::MailRefused => &["product_name", "name", "subject", "reason"],
            TemplateKind::ChatTranscript => &[
                "product_name",
                "name",
                "department",
                "time",
                "lines",
                "link",
            ],
        }
    }

    /// Made-up values for previews and for checking an admin's template
    /// before it is saved.
    pub fn sample_context(self, product_name: &str, public_url: &str) -> serde_json::Value {
        let path = match self {
            TemplateKind::AgentPasswordReset | TemplateKind::AgentInvitation => {
                "/agent/reset-password/"
            }
            TemplateKind::IpVerification => "/agent/verify-ip/",
            TemplateKind::UserEmailVerification => "/verify-email/",
            TemplateKind::TicketReply
            | TemplateKind::TicketReceived
            | TemplateKind::TicketResolved => "/tickets/KX7R-4M2Q?code=",
            TemplateKind::AgentNotification => "/agent/tickets/KX7R-4M2Q?",
            TemplateKind::AccountExists => "/forgot-password?",
            _ => "/reset-password/",
        };
        serde_json::json!({
            "product_name": product_name,
            "name": "Ada Lovelace",
            "link": format!("{public_url}{path}0123456789abcdef"),
            "expires_minutes": 30,
            "inviter": "Grace Hopper",
            "ip": "203.0.113.7",
            "hostname": "host-7.example.net",
            "user_agent": "Firefox on Linux",
            "time": "2026-11-22 09:30 UTC",
            "reference": "KX7R-4M2Q",
            "subject": "The printer jams",
            "agent": "Grace Hopper",
            "message_text": "Please switch it off and on again.",
            "survey": {
                "question": "How did we do?",
                "good_words": "Good, I'm satisfied",
                "bad_words": "Bad, I'm not satisfied",
                "good_link": format!("{public_url}/survey/KX7R-4M2Q/0123456789abcdef?rating=good"),
                "bad_link": format!("{public_url}/survey/KX7R-4M2Q/0123456789abcdef?rating=bad"),
            },
            "message_html": "<p>Please switch it off and on again.</p>",
            "event": "New ticket",
            "department": "Support",
            "actor": "Ines Inbox",
            "reply_by_mail": true,
            "reason": "The message is 31 MiB; at most 25 MiB are taken.",
            "lines": [
                {"author": "Ada Lovelace", "time": "09:30", "text": "The printer jams."},
                {"author": "Grace Hopper", "time": "09:31", "text": "Please switch it off and on again."},
            ],
        })
    }

    pub fn builtin(self) -> TemplateSource<'static> {
        match self {
            TemplateKind::AgentPasswordReset | TemplateKind::UserPasswordReset => TemplateSource {
                subject: include_str!("../templates/password_reset/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/password_reset/body.txt"),
                html: include_str!("../templates/password_reset/body.html"),
            },
            TemplateKind::UserEmailVerification => TemplateSource {
                subject: include_str!("../templates/email_verification/subject.txt")
                    .trim_ascii_end(),
                text: include_str!("../templates/email_verification/body.txt"),
                html: include_str!("../templates/email_verification/body.html"),
            },
            TemplateKind::AgentInvitation => TemplateSource {
                subject: include_str!("../templates/agent_invitation/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/agent_invitation/body.txt"),
                html: include_str!("../templates/agent_invitation/body.html"),
            },
            TemplateKind::LoginNotification => TemplateSource {
                subject: include_str!("../templates/login_notification/subject.txt")
                    .trim_ascii_end(),
                text: include_str!("../templates/login_notification/body.txt"),
                html: include_str!("../templates/login_notification/body.html"),
            },
            TemplateKind::FailedLoginNotification => TemplateSource {
                subject: include_str!("../templates/failed_login_notification/subject.txt")
                    .trim_ascii_end(),
                text: include_str!("../templates/failed_login_notification/body.txt"),
                html: include_str!("../templates/failed_login_notification/body.html"),
            },
            TemplateKind::IpVerification => TemplateSource {
                subject: include_str!("../templates/ip_verification/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/ip_verification/body.txt"),
                html: include_str!("../templates/ip_verification/body.html"),
            },
            TemplateKind::TicketReply => TemplateSource {
                subject: include_str!("../templates/ticket_reply/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/ticket_reply/body.txt"),
                html: include_str!("../templates/ticket_reply/body.html"),
            },
            TemplateKind::TicketReceived => TemplateSource {
                subject: include_str!("../templates/ticket_received/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/ticket_received/body.txt"),
                html: include_str!("../templates/ticket_received/body.html"),
            },
            TemplateKind::AccountExists => TemplateSource {
                subject: include_str!("../templates/account_exists/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/account_exists/body.txt"),
                html: include_str!("../templates/account_exists/body.html"),
            },
            TemplateKind::TicketResolved => TemplateSource {
                subject: include_str!("../templates/ticket_resolved/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/ticket_resolved/body.txt"),
                html: include_str!("../templates/ticket_resolved/body.html"),
            },
            TemplateKind::AgentNotification => TemplateSource {
                subject: include_str!("../templates/agent_notification/subject.txt")
                    .trim_ascii_end(),
                text: include_str!("../templates/agent_notification/body.txt"),
                html: include_str!("../templates/agent_notification/body.html"),
            },
            TemplateKind::MailRefused => TemplateSource {
                subject: include_str!("../templates/mail_refused/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/mail_refused/body.txt"),
                html: include_str!("../templates/mail_refused/body.html"),
            },
            TemplateKind::ChatTranscript => TemplateSource {
                subject: include_str!("../templates/chat_transcript/subject.txt").trim_ascii_end(),
                text: include_str!("../templates/chat_transcript/body.txt"),
                html: include_str!("../templates/chat_transcript/body.html"),
            },
        }
    }
}

/// Where and why a template failed.
fn template_error(part: &'static str, error: minijinja::Error) -> TemplateError {
    TemplateError {
        part,
        line: error.line(),
        message: error
            .detail()
            .map_or_else(|| error.kind().to_string(), str::to_owned),
    }
}

fn render_source(
    source: &TemplateSource<'_>,
    context: &Value,
) -> Result<RenderedMail, TemplateError> {
    let mut environment = Environment::new();
    environment.set_fuel(Some(FUEL));
    // Names decide escaping: `.html` escapes every value, `.txt` does not.
    let parts = [
        ("subject", "subject.txt", source.subject),
        ("text", "body.txt", source.text),
        ("html", "body.html", source.html),
    ];
    let mut rendered = Vec::with_capacity(3);
    for (part, name, text) in parts {
        let failure = |error| template_error(part, error);
        environment.add_template(name, text).map_err(failure)?;
        let template = environment.get_template(name).map_err(failure)?;
        rendered.push(template.render(context).map_err(failure)?);
    }
    let mut parts = rendered.into_iter();
    let subject = parts.next().unwrap_or_default();
    Ok(RenderedMail {
        subject: HeaderText::flatten(&subject),
        text: parts.next().unwrap_or_default(),
        html: parts.next().unwrap_or_default(),
    })
}

/// Renders one text template (a snippet) in the same sandbox as the mail
/// templates: no loader, bounded by fuel, values not escaped (the text is
/// markdown, rendered safe where it is shown).
pub fn render_text(source: &str, context: &serde_json::Value) -> Result<String, TemplateError> {
    let mut environment = Environment::new();
    environment.set_fuel(Some(FUEL));
    // A name the ticket lacks (a field since renamed) is empty, not an error.
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    let failure = |error| template_error("text", error);
    environment
        .add_template("snippet.txt", source)
        .map_err(failure)?;
    environment
        .get_template("snippet.txt")
        .map_err(failure)?
        .render(Value::from(minijinja::value::Serde(context)))
        .map_err(failure)
}

/// Renders an admin's template on its own, without falling back: what the
/// editor uses to report a problem before saving.
pub fn render_custom(
    custom: &TemplateSource<'_>,
    context: &serde_json::Value,
) -> Result<RenderedMail, TemplateError> {
    render_source(custom, &Value::from(minijinja::value::Serde(context)))
}

/// Renders `kind` with `context`, using `custom` when given and sound. The
/// second value reports why a custom template was not used.
pub fn render(
    kind: TemplateKind,
    custom: Option<&TemplateSource<'_>>,
    context: &serde_json::Value,
) -> (RenderedMail, Option<TemplateError>) {
    let context = Value::from(minijinja::value::Serde(context));
    let mut problem = None;
    if let Some(custom) = custom {
        match render_source(custom, &context) {
            Ok(mail) => return (mail, None),
            Err(error) => problem = Some(error),
        }
    }
    match render_source(&kind.builtin(), &context) {
        Ok(mail) => (mail, problem),
        // A built-in template that fails is a bug of ours; the mail still
        // goes out with the essentials rather than not at all.
        Err(error) => {
            let link = context
                .get_attr("link")
                .ok()
                .filter(|value| !value.is_undefined())
                .map(|value| value.to_string());
            let text = format!("{}\n", link.unwrap_or_default());
            (
                RenderedMail {
                    subject: HeaderText::flatten(kind.key()),
                    text,
                    html: String::new(),
                },
                Some(problem.unwrap_or(error)),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> serde_json::Value {
        serde_json::json!({
            "product_name": "Ferrodesk",
            "name": "Eve <script>alert(1)</script>",
            "link": "https://help.example.com/reset-password/abc",
            "expires_minutes": 30,
        })
    }

    #[test]
    fn every_builtin_template_renders_with_a_text_part() {
        for kind in TemplateKind::ALL {
            let (mail, problem) = render(kind, None, &context());
            assert!(problem.is_none(), "{kind:?}: {problem:?}");
            assert!(!mail.text.trim().is_empty(), "{kind:?}");
            assert!(!mail.subject.as_str().is_empty(), "{kind:?}");
        }
    }

    #[test]
    fn values_are_escaped_in_html_but_not_in_text() {
        let (mail, _) = render(TemplateKind::UserPasswordReset, None, &context());
        assert!(mail.html.contains("Eve &lt;script&gt;"));
        assert!(!mail.html.contains("<script>"));
        assert!(mail.text.contains("Eve <script>"));
        assert!(
            mail.text
                .contains("https://help.example.com/reset-password/abc")
        );
        assert_eq!(mail.subject.as_str(), "Reset your Ferrodesk password");
    }

    #[test]
    fn a_broken_custom_template_falls_back_and_reports_its_line() {
        let custom = TemplateSource {
            subject: "Hi",
            text: "line one\n{{ name }\n",
            html: "<p>{{ name }}</p>",
        };
        let (mail, problem) = render(TemplateKind::UserPasswordReset, Some(&custom), &context());
        let problem = problem.expect("the error is reported");
        assert_eq!(problem.part, "text");
        assert_eq!(problem.line, Some(2));
        assert_eq!(
            mail.subject.as_str(),
            "Reset your Ferrodesk password",
            "the built-in version is used"
        );
    }

    #[test]
    fn every_kind_has_a_key_a_title_and_sample_values_it_renders_with() {
        for kind in TemplateKind::ALL {
            assert_eq!(TemplateKind::from_key(kind.key()), Some(kind));
            assert!(!kind.title().is_empty());
            let sample = kind.sample_context("Ferrodesk", "https://help.example.com");
            for variable in kind.variables() {
                assert!(sample.get(variable).is_some(), "{kind:?} {variable}");
            }
            let builtin = kind.builtin();
            assert!(render_custom(&builtin, &sample).is_ok());
        }
        assert_eq!(TemplateKind::from_key("../etc/passwd"), None);
    }

    #[test]
    fn a_runaway_template_is_stopped() {
        let custom = TemplateSource {
            subject: "x",
            text: "{% for a in range(1000) %}{% for b in range(1000) %}{{ a }}{% endfor %}{% endfor %}",
            html: "",
        };
        let (_, problem) = render(TemplateKind::UserPasswordReset, Some(&custom), &context());
        assert!(problem.is_some());
    }

    #[test]
    fn templates_cannot_reach_the_file_system() {
        let custom = TemplateSource {
            subject: "x",
            text: "{% include '/etc/passwd' %}",
            html: "",
        };
        let (mail, problem) = render(TemplateKind::UserPasswordReset, Some(&custom), &context());
        assert!(problem.is_some());
        assert!(!mail.text.contains("root:"));
    }

    #[test]
    fn a_subject_cannot_break_into_headers() {
        let custom = TemplateSource {
            subject: "Hi\r\nBcc: victim@example.org",
            text: "t",
            html: "h",
        };
        let (mail, problem) = render(TemplateKind::UserPasswordReset, Some(&custom), &context());
        assert!(problem.is_none());
        assert!(!mail.subject.as_str().contains('\n'));
    }
}
