//! Login notifications (C5) through a real SMTP server: a mail on every
//! successful login for agents who ask for it, on failed logins (on by
//! default, at most five an hour), and to the admin's list of addresses on
//! failed admin logins.

use std::time::Duration;

use ferrodesk_testkit::on_both_backends;
use ferrodesk_testkit::smtp::ReceivedMail;

use crate::helpers::PASSWORD;
use crate::mail::{MailTest, spawn_with_mail};
use crate::security::Browser;

const MAIL_WAIT: Duration = Duration::from_secs(20);

fn to(mails: &[ReceivedMail], address: &str, subject_part: &str) -> usize {
    mails
        .iter()
        .filter(|mail| mail.envelope_to.contains(address) && mail.subject.contains(subject_part))
        .count()
}

on_both_backends! { spawn_with_mail;

    async fn agents_hear_of_their_logins_and_admins_list_hears_of_failed_admin_logins(test: MailTest) {
        let app = &test.app;
        app.create_admin().await;
        app.create_agent().await;

        let admin = Browser::new();
        admin.log_in(app, "admin@example.org", PASSWORD).await;
        let token = admin.csrf(app, "/admin/security").await;
        let saved = admin.post(app, "/admin/security/monitoring", &[("csrf_token", &token), ("recipients", "security@example.org"), ("resolve_hostnames", "1")]).await;
        assert_eq!(saved.status(), 303);

        let agent = Browser::new();
        agent.log_in(app, "agent@example.org", PASSWORD).await;
        let token = agent.csrf(app, "/agent/account").await;
        let chosen = agent.post(app, "/agent/account/notifications", &[("csrf_token", &token), ("on_success", "1"), ("on_failure", "1")]).await;
        assert_eq!(chosen.status(), 303);

        assert_eq!(Browser::new().log_in(app, "agent@example.org", PASSWORD).await.status(), 303);
        assert_eq!(Browser::new().log_in(app, "agent@example.org", "wrong password").await.status(), 401);
        assert_eq!(Browser::new().log_in(app, "admin@example.org", "wrong password").await.status(), 401);

        let mails = test.smtp.wait_for(4, MAIL_WAIT).await;
        assert_eq!(to(&mails, "agent@example.org", "New sign-in"), 1, "{mails:#?}");
        assert_eq!(to(&mails, "agent@example.org", "Failed sign-in"), 1);
        assert_eq!(to(&mails, "admin@example.org", "Failed sign-in"), 1, "failure mails are on by default");
        assert_eq!(to(&mails, "security@example.org", "Failed sign-in"), 1);
        let success = mails.iter().find(|mail| mail.subject.contains("New sign-in")).unwrap();
        assert!(success.text.contains("127.0.0.1"), "{}", success.text);

        // However many failures, at most five failure mails an hour.
        for _ in 0..7 {
            Browser::new().log_in(app, "agent@example.org", "wrong again").await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mails = test.smtp.wait_for(8, MAIL_WAIT).await;
        assert_eq!(to(&mails, "agent@example.org", "Failed sign-in"), 5, "{mails:#?}");

        // An agent who turns them off gets none.
        let token = agent.csrf(app, "/agent/account").await;
        agent.post(app, "/agent/account/notifications", &[("csrf_token", &token)]).await;
        app.advance_clock(Duration::from_secs(3600));
        Browser::new().log_in(app, "agent@example.org", PASSWORD).await;
        Browser::new().log_in(app, "agent@example.org", "wrong").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(test.smtp.received().len(), 8);
    }
}
