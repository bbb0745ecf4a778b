//! Attachments on both databases: uploads with replies and notes, how each
//! kind of file is served, the admin's limits, who may download, and the
//! CSRF check on multipart forms.

use ferrodesk_app::Caller;
use ferrodesk_testkit::on_both_backends;
use reqwest::multipart::{Form, Part};

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{desk, open_ticket, signed_in};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
const HTML: &[u8] = b"<html><script>alert(document.cookie)</script></html>";
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script></svg>";

fn file(name: &str, bytes: &[u8], declared_type: &str) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str(declared_type)
        .unwrap()
}

/// A reply form as the ticket page sends it: the token first, then the
/// fields, then the files.
async fn send_with_files(
    app: &TestApp,
    browser: &Browser,
    reference: &str,
    kind: &str,
    body: &str,
    files: Vec<Part>,
) -> reqwest::Response {
    let path = format!("/agent/tickets/{reference}");
    let token = browser.csrf(app, &path).await;
    let mut form = Form::new()
        .text("csrf_token", token)
        .text("kind", kind.to_owned())
        .text("body", body.to_owned());
    for part in files {
        form = form.part("attachments", part);
    }
    browser
        .client
        .post(app.url(&format!("{path}/reply")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn attachment_ids(app: &TestApp, reference: &str) -> Vec<(i64, String)> {
    let ticket = app
        .app
        .store()
        .tickets()
        .find_ticket(&crate::helpers::ticket_ref(reference))
        .await
        .unwrap()
        .unwrap();
    app.app
        .store()
        .tickets()
        .ticket_attachments(ticket.id, true)
        .await
        .unwrap()
        .into_iter()
        .map(|attachment| (attachment.id, attachment.file_name))
        .collect()
}

on_both_backends! { spawn_app;

    async fn files_go_with_a_reply_and_only_real_images_show_inline(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Screenshots").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let sent = send_with_files(&app, &alice, &reference, "reply", "Here is what I see.", vec![
            file("screen.png", PNG, "image/png"),
            file("page.html", HTML, "text/html"),
            file("logo.svg", SVG, "image/svg+xml"),
            // An HTML file that claims to be an image is still HTML.
            file("fake.png", HTML, "image/png"),
        ]).await;
        assert_eq!(sent.status(), 303, "{}", sent.text().await.unwrap());
        let files = attachment_ids(&app, &reference).await;
        assert_eq!(files.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>(), ["screen.png", "page.html", "logo.svg", "fake.png"]);

        let base = format!("/agent/tickets/{reference}/attachments");
        let png = alice.get(&app, &format!("{base}/{}", files[0].0)).await;
        assert_eq!(png.status(), 200);
        assert_eq!(png.headers()["content-type"], "image/png");
        assert!(png.headers()["content-disposition"].to_str().unwrap().starts_with("inline;"));
        assert_eq!(png.headers()["x-content-type-options"], "nosniff");
        assert_eq!(png.bytes().await.unwrap().as_ref(), PNG);
        for (id, name) in &files[1..] {
            let response = alice.get(&app, &format!("{base}/{id}")).await;
            assert_eq!(response.status(), 200, "{name}");
            let headers = response.headers().clone();
            assert_eq!(headers["content-type"], "application/octet-stream", "{name} never gets an active type");
            assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment;"), "{name} downloads");
            assert_eq!(headers["x-content-type-options"], "nosniff");
            let policy = headers["content-security-policy"].to_str().unwrap();
            assert!(policy.contains("sandbox") && policy.contains("default-src 'none'"), "{policy}");
            assert!(!response.bytes().await.unwrap().is_empty());
        }
        let page = alice.get(&app, &format!("/agent/tickets/{reference}")).await.text().await.unwrap();
        assert!(page.contains(&format!("<img src=\"{base}/{}\"", files[0].0)), "the image is previewed");
        for (id, name) in &files[1..] {
            assert!(!page.contains(&format!("<img src=\"{base}/{id}\"", )), "{name} has no thumbnail: it downloads");
        }
        assert!(page.contains("page.html") && page.contains("enctype=\"multipart/form-data\""));
    }

    async fn the_same_file_is_stored_once_by_its_content(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Twice").await;
        let alice = signed_in(&app, "alice@example.org").await;
        for name in ["one.png", "two.png"] {
            let sent = send_with_files(&app, &alice, &reference, "note", "", vec![file(name, PNG, "image/png")]).await;
            assert_eq!(sent.status(), 303, "a note may be only a file");
        }
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        let messages = app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap();
        assert_eq!(messages.len(), 3);
        let blobs: i64 = count(&app, "SELECT COUNT(*) FROM blobs").await;
        assert_eq!(blobs, 1, "one body for two attachments");
        assert_eq!(attachment_ids(&app, &reference).await.len(), 2);
    }

    async fn limits_refuse_files_and_keep_what_was_typed(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Limits").await;
        app.app.set_attachment_limits(&Caller::system(), "1", "2", "exe, .BAT").await.unwrap();
        let alice = signed_in(&app, "alice@example.org").await;

        let blocked = send_with_files(&app, &alice, &reference, "reply", "My <b>long</b> answer", vec![file("setup.EXE", b"MZ...", "application/octet-stream")]).await;
        assert_eq!(blocked.status(), 422);
        let page = blocked.text().await.unwrap();
        assert!(page.contains("cannot be attached") && page.contains("setup.EXE"), "the refusal names the file");
        assert!(page.contains("My &#60;b&#62;long&#60;/b&#62; answer") || page.contains("My &lt;b&gt;long&lt;/b&gt; answer"), "the text typed is kept");

        let large = vec![7u8; 1024 * 1024 + 1];
        let too_large = send_with_files(&app, &alice, &reference, "reply", "Big", vec![file("big.bin", &large, "application/octet-stream")]).await;
        assert_eq!(too_large.status(), 422);
        assert!(too_large.text().await.unwrap().contains("larger than 1 MiB"));

        let three = send_with_files(&app, &alice, &reference, "reply", "Three", vec![
            file("a.png", PNG, "image/png"), file("b.txt", b"b", "text/plain"), file("c.txt", b"c", "text/plain"),
        ]).await;
        assert_eq!(three.status(), 422);
        assert!(three.text().await.unwrap().contains("at most 2 files"));

        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().len(), 1, "nothing was sent");
        assert!(attachment_ids(&app, &reference).await.is_empty());
        assert_eq!(count(&app, "SELECT COUNT(*) FROM blobs WHERE size > 1048576").await, 0, "the large file was not kept");

        // Over the whole request limit the server refuses on the declared
        // length, before reading; the client may see the 413 or, still
        // sending, a closed connection.
        let huge = vec![0u8; 6 * 1024 * 1024];
        let token = alice.csrf(&app, &format!("/agent/tickets/{reference}")).await;
        let form = Form::new().text("csrf_token", token).part("attachments", file("huge.bin", &huge, "application/octet-stream"));
        match alice.client.post(app.url(&format!("/agent/tickets/{reference}/reply"))).multipart(form).send().await {
            Ok(response) => assert_eq!(response.status(), 413),
            Err(error) => assert!(error.is_request() || error.is_body(), "{error}"),
        }
        assert_eq!(app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().len(), 1);
    }

    async fn downloads_follow_the_ticket_permission(app: TestApp) {
        let desk = desk(&app).await;
        let support_ticket = open_ticket(&app, &desk.admin, desk.support, "Support files").await;
        let sales_ticket = open_ticket(&app, &desk.admin, desk.sales, "Sales files").await;
        let admin = signed_in(&app, "admin@example.org").await;
        for reference in [&support_ticket, &sales_ticket] {
            let sent = send_with_files(&app, &admin, reference, "note", "Internal file", vec![file("secret.txt", b"top secret", "text/plain")]).await;
            assert_eq!(sent.status(), 303);
        }
        let support_file = attachment_ids(&app, &support_ticket).await[0].0;
        let sales_file = attachment_ids(&app, &sales_ticket).await[0].0;

        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, &format!("/agent/tickets/{support_ticket}/attachments/{support_file}")).await.status(), 200);
        // Bob only sees Sales tickets assigned to him; Carol sees nothing.
        for (who, browser) in [("alice", &alice), ("bob", &signed_in(&app, "bob@example.org").await), ("carol", &signed_in(&app, "carol@example.org").await)] {
            assert_eq!(browser.get(&app, &format!("/agent/tickets/{sales_ticket}/attachments/{sales_file}")).await.status(), 404, "{who}");
            // Another ticket's attachment id through a ticket one may see.
            let status = browser.get(&app, &format!("/agent/tickets/{support_ticket}/attachments/{sales_file}")).await.status();
            assert_eq!(status, 404, "{who}: ids are checked against the ticket");
        }
        assert_eq!(alice.get(&app, &format!("/agent/tickets/{support_ticket}/attachments/not-a-number")).await.status(), 404);
        let visitor = Browser::new();
        let response = visitor.get(&app, &format!("/agent/tickets/{support_ticket}/attachments/{support_file}")).await;
        assert_eq!(response.status(), 303);
        assert!(location(&response).starts_with("/agent/login"));
    }

    async fn multipart_forms_need_the_token_first_and_a_session(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Forged").await;
        let alice = signed_in(&app, "alice@example.org").await;
        let path = format!("/agent/tickets/{reference}");
        let token = alice.csrf(&app, &path).await;
        let forms = [
            Form::new().text("kind", "reply").text("body", "no token"),
            Form::new().text("csrf_token", "0".repeat(64)).text("body", "wrong token"),
            Form::new().text("body", "token last").text("csrf_token", token.clone()),
            Form::new().part("attachments", file("x.png", PNG, "image/png")).text("csrf_token", token.clone()),
        ];
        for form in forms {
            let response = alice.client.post(app.url(&format!("{path}/reply"))).multipart(form).send().await.unwrap();
            assert_eq!(response.status(), 403);
        }
        let visitor = Browser::new();
        let visitor_token = visitor.csrf(&app, "/agent/login").await;
        let response = visitor.client.post(app.url(&format!("{path}/reply")))
            .multipart(Form::new().text("csrf_token", visitor_token).part("attachments", file("x.png", PNG, "image/png")))
            .send().await.unwrap();
        assert_eq!(response.status(), 403, "visitors cannot upload at all");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM blobs").await, 0);
        let ticket = app.app.store().tickets().find_ticket(&crate::helpers::ticket_ref(&reference)).await.unwrap().unwrap();
        assert_eq!(app.app.store().tickets().ticket_messages(ticket.id, true).await.unwrap().len(), 1);
    }

    async fn bodies_no_message_uses_are_swept_after_a_day(app: TestApp) {
        let desk = desk(&app).await;
        let reference = open_ticket(&app, &desk.admin, desk.support, "Sweep").await;
        let alice = signed_in(&app, "alice@example.org").await;
        // The image is stored before the blocked file refuses the message.
        let refused = send_with_files(&app, &alice, &reference, "reply", "Two files", vec![
            file("kept.png", PNG, "image/png"), file("run.exe", b"MZ", "application/octet-stream"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let sent = send_with_files(&app, &alice, &reference, "note", "Used", vec![file("used.txt", b"in use", "text/plain")]).await;
        assert_eq!(sent.status(), 303);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM blobs").await, 2);

        app.app.purge_stale_sessions().await.unwrap();
        assert_eq!(count(&app, "SELECT COUNT(*) FROM blobs").await, 2, "a fresh body is kept");
        app.advance_clock(std::time::Duration::from_secs(25 * 60 * 60));
        app.app.purge_stale_sessions().await.unwrap();
        assert_eq!(count(&app, "SELECT COUNT(*) FROM blobs").await, 1, "the unused body is gone");
        let used = attachment_ids(&app, &reference).await[0].0;
        let alice = signed_in(&app, "alice@example.org").await;
        let download = alice.get(&app, &format!("/agent/tickets/{reference}/attachments/{used}")).await;
        assert_eq!(download.bytes().await.unwrap().as_ref(), b"in use", "the used body and its file stay");
    }

    async fn admins_set_the_attachment_limits(app: TestApp) {
        let _ = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let page = admin.get(&app, "/admin/tickets").await.text().await.unwrap();
        assert!(page.contains("exe") && page.contains("value=\"10\""), "defaults shown");
        let token = admin.csrf(&app, "/admin/tickets").await;
        let bad = admin.post(&app, "/admin/tickets/attachments", &[("csrf_token", &token), ("max_file_mib", "500"), ("max_files_per_message", "5"), ("blocked_extensions", "exe, <script>")]).await;
        assert_eq!(bad.status(), 422);
        let text = bad.text().await.unwrap();
        assert!(text.contains("1 to 100 MiB") && !text.contains("<script>"), "errors named, input escaped");
        let saved = admin.post(&app, "/admin/tickets/attachments", &[("csrf_token", &token), ("max_file_mib", "25"), ("max_files_per_message", "5"), ("blocked_extensions", ".EXE  msi,exe")]).await;
        assert_eq!(location(&saved), "/admin/tickets?notice=saved");
        let limits = app.app.settings().await.unwrap().attachments.clone();
        assert_eq!((limits.max_file_mib, limits.max_files_per_message), (25, 5));
        assert_eq!(limits.blocked_extensions, ["exe", "msi"]);
        assert!(crate::security::audit_actions(&app).await.contains(&"settings.changed".to_owned()));
    }
}

async fn count(app: &TestApp, query: &str) -> i64 {
    app.database.scalar(query).await
}
