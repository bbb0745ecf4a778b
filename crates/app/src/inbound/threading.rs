//! Which ticket, and whose reply, a mail is. Every mail the helpdesk sends
//! about a ticket has a Message-ID that names the ticket and the recipient
//! and is signed with the instance key:
//! `<fd.REFERENCE.PERSON.NONCE.MAC@host>`, the MAC being the first 64 bits
//! of HMAC-SHA-256 over "REFERENCE:PERSON:NONCE". (The reference, not the
//! id, so that a ticket's receipt can be signed before the ticket is
//! written.) A reply quotes it in
//! In-Reply-To or References, which proves (short of forging the MAC) that
//! its sender received that mail. Nothing is stored to check it.

use ferrodesk_core::TicketRef;

use crate::App;

/// The purpose the thread tokens are signed for.
const THREAD_PURPOSE: &str = "mail-thread";
/// Hex characters of the MAC kept in a Message-ID.
const MAC_HEX_CHARS: usize = 16;

/// What a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThreadToken {
    pub reference: TicketRef,
    /// The recipient of the mail the token was in; 0 for the ticket's own
    /// thread root, which names no one.
    pub person_id: i64,
}

impl App {
    fn thread_mac(&self, reference: &TicketRef, person_id: i64, nonce: &str) -> String {
        let message = format!("{reference}:{person_id}:{nonce}");
        let mac = hex::encode(self.inner.key.sign(THREAD_PURPOSE, message.as_bytes()));
        mac[..MAC_HEX_CHARS].to_owned()
    }

    /// A fresh Message-ID (with brackets) for a mail about a ticket to
    /// `person_id`.
    pub fn thread_message_id(&self, reference: &TicketRef, person_id: i64) -> String {
        let nonce = crate::secrets::random_bytes::<4>()
            .map(hex::encode)
            .unwrap_or_else(|_| format!("{:x}", self.now().millis()));
        let mac = self.thread_mac(reference, person_id, &nonce);
        format!(
            "<fd.{reference}.{person_id}.{nonce}.{mac}@{}>",
            self.message_id_domain()
        )
    }

    /// The Message-ID every mail about a ticket refers to, so that mail
    /// programs show them as one conversation.
    pub(crate) fn thread_root_id(&self, reference: &TicketRef) -> String {
        let nonce = "root";
        let mac = self.thread_mac(reference, 0, nonce);
        format!(
            "<fd.{reference}.0.{nonce}.{mac}@{}>",
            self.message_id_domain()
        )
    }

    /// The root a ticket's mails refer to: the Message-ID of the mail it
    /// started from (so the customer's mail program threads our answers
    /// under their own message), or the ticket's own root.
    pub(crate) async fn thread_root(
        &self,
        ticket_id: i64,
        reference: &TicketRef,
    ) -> crate::AppResult<String> {
        let first = self
            .store()
            .inbound_mail()
            .first_message_id_of_ticket(ticket_id)
            .await?;
        Ok(match first {
            Some(id) if is_plain_message_id(&id) => format!("<{id}>"),
            _ => self.thread_root_id(reference),
        })
    }

    /// What a Message-ID (without brackets) names, when it is one of ours
    /// and its MAC is right.
    pub(crate) fn verify_thread_id(&self, message_id: &str) -> Option<ThreadToken> {
        let (local, _host) = message_id.split_once('@')?;
        let mut parts = local.split('.');
        if parts.next()? != "fd" {
            return None;
        }
        let reference = TicketRef::parse(parts.next()?).ok()?;
        let person_id: i64 = parts.next()?.parse().ok()?;
        let nonce = parts.next()?;
        let mac = parts.next()?;
        if parts.next().is_some() || nonce.is_empty() || nonce.len() > 16 {
            return None;
        }
        let expected = self.thread_mac(&reference, person_id, nonce);
        crate::secrets::same_secret(&expected, mac).then_some(ThreadToken {
            reference,
            person_id,
        })
    }
}

/// The token a recipient's plus-address carries (`help+fd.…@host` gives
/// `fd.…@host`, shaped like the Message-ID it was copied from), when it
/// carries one.
pub(crate) fn token_of_plus_address(address: &str) -> Option<String> {
    let (local, host) = address.rsplit_once('@')?;
    let (_, tag) = local.split_once('+')?;
    tag.starts_with("fd.").then(|| format!("{tag}@{host}"))
}

/// Whether a Message-ID from a mail can go back into a header as it is:
/// printable ASCII without spaces or brackets, with one `@`.
pub(crate) fn is_plain_message_id(id: &str) -> bool {
    id.len() <= 250
        && id.matches('@').count() == 1
        && id
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !b"<>\"\\()[],;:".contains(&byte))
}

#[cfg(test)]
mod tests {
    use crate::App;

    #[tokio::test]
    async fn tokens_name_the_ticket_and_recipient_and_cannot_be_altered() {
        let app = App::for_tests().await;
        let reference = ferrodesk_core::TicketRef::parse("ABCD-EFGH").unwrap();
        let id = app.thread_message_id(&reference, 42);
        let bare = id.trim_start_matches('<').trim_end_matches('>');
        let token = app.verify_thread_id(bare).unwrap();
        assert_eq!(
            (token.reference.as_str(), token.person_id),
            ("ABCD-EFGH", 42)
        );
        assert_ne!(
            id,
            app.thread_message_id(&reference, 42),
            "each mail its own id"
        );
        // Another recipient, ticket or MAC: not ours.
        for altered in [
            bare.replacen(".42.", ".43.", 1),
            bare.replacen("ABCD-EFGH", "ABCD-EFGK", 1),
        ] {
            assert_eq!(app.verify_thread_id(&altered), None, "{altered}");
        }
        let mut flipped = bare.to_owned();
        let at = flipped.find('@').unwrap() - 1;
        let last = if flipped.as_bytes()[at] == b'0' {
            "1"
        } else {
            "0"
        };
        flipped.replace_range(at..=at, last);
        assert_eq!(app.verify_thread_id(&flipped), None);
        for junk in [
            "",
            "fd",
            "fd.1.2.3.4@x",
            "x.ABCD-EFGH.1.a.b@h",
            "fd.ABCD-EFGH.1.a.b.c@h",
        ] {
            assert_eq!(app.verify_thread_id(junk), None, "{junk}");
        }
        let root = app.thread_root_id(&reference);
        let root_token = app
            .verify_thread_id(root.trim_start_matches('<').trim_end_matches('>'))
            .unwrap();
        assert_eq!(root_token.person_id, 0);
    }
}
