//! The IMAP client against a real Dovecot on loopback: new messages are
//! listed by UID above the last one stored, fetched without marking them,
//! and then marked seen, moved or deleted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrodesk_mail::imap::{AfterFetch, ImapConfig, ImapSecurity, ImapSession};
use ferrodesk_testkit::imap::{IMAP_PASSWORD, IMAP_USER, ImapServer};

fn config(server: &ImapServer) -> ImapConfig {
    ImapConfig {
        host: "127.0.0.1".into(),
        port: server.port,
        security: ImapSecurity::None,
        user: IMAP_USER.into(),
        password: IMAP_PASSWORD.into(),
        folder: "INBOX".into(),
    }
}

fn mail(number: usize) -> Vec<u8> {
    format!("From: ines@example.net\r\nSubject: Number {number}\r\nMessage-ID: <n{number}@example.net>\r\n\r\nBody {number}\r\n").into_bytes()
}

#[tokio::test]
async fn messages_are_fetched_by_uid_and_then_marked_moved_or_deleted() {
    let Some(server) = ImapServer::start() else {
        return;
    };
    for number in 1..=5 {
        server.deliver(&mail(number));
    }
    let mut session = ImapSession::open(&config(&server)).await.unwrap();
    assert!(
        session.summary.contains("5 messages"),
        "{}",
        session.summary
    );
    let validity = session.uid_validity();
    let uids = session.new_uids(0, 3).await.unwrap();
    assert_eq!(uids.len(), 3, "at most the batch");
    let first = session
        .fetch(uids[0].0, uids[0].1, 1_000_000)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&first.raw).contains("Subject: Number 1"));
    assert_eq!(server.count(""), (5, 0), "fetching marks nothing");
    let header_only = session.fetch(uids[1].0, uids[1].1, 10).await.unwrap();
    assert!(
        !String::from_utf8_lossy(&header_only.raw).contains("Body 2"),
        "an oversized message gives its header"
    );

    session
        .after_fetch(&[uids[0].0], &AfterFetch::MarkSeen)
        .await
        .unwrap();
    session
        .after_fetch(&[uids[1].0], &AfterFetch::MoveTo("Processed".into()))
        .await
        .unwrap();
    session
        .after_fetch(&[uids[2].0], &AfterFetch::Delete)
        .await
        .unwrap();
    let rest = session.new_uids(uids[2].0, 10).await.unwrap();
    assert_eq!(
        rest.len(),
        2,
        "the two newer ones, and never the last one again"
    );
    assert!(
        session.new_uids(rest[1].0, 10).await.unwrap().is_empty(),
        "nothing above the newest"
    );
    let both = session.fetch_many(&rest).await.unwrap();
    let subjects: Vec<bool> = both
        .iter()
        .zip(["Subject: Number 4", "Subject: Number 5"])
        .map(|(message, subject)| String::from_utf8_lossy(&message.raw).contains(subject))
        .collect();
    assert_eq!(subjects, [true, true], "both sources, in UID order");
    assert_eq!((both[0].uid, both[1].uid), (rest[0].0, rest[1].0));
    session.logout().await;

    assert_eq!(server.count(""), (3, 1), "one seen, one moved, one deleted");
    assert_eq!(server.count(".Processed").0, 1);
    let again = ImapSession::open(&config(&server)).await.unwrap();
    assert_eq!(
        again.uid_validity(),
        validity,
        "the same folder keeps its UIDVALIDITY"
    );
    again.logout().await;

    let mut wrong = config(&server);
    wrong.password = "wrong".into();
    let refused = ImapSession::open(&wrong).await.err().unwrap();
    assert!(refused.0.contains("login refused"), "{refused}");
    let mut nowhere = config(&server);
    nowhere.port = 1;
    assert!(
        ImapSession::open(&nowhere)
            .await
            .err()
            .unwrap()
            .0
            .contains("cannot reach")
    );
}
