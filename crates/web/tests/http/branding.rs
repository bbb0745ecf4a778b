//! Branding on both databases: the admin's product name in pages and mails,
//! the help center's colour, and a logo that can only be an image.

use ferrodesk_testkit::on_both_backends;
use reqwest::multipart::{Form, Part};

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{post_on, signed_in};

/// The smallest PNG: one transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

async fn upload(app: &TestApp, admin: &Browser, name: &str, bytes: &[u8]) -> reqwest::Response {
    let token = admin.csrf(app, "/admin/branding").await;
    let form = Form::new().text("csrf_token", token).part(
        "attachments",
        Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    admin
        .client
        .post(app.url("/admin/branding/logo"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

on_both_backends! { spawn_app;

    async fn the_admins_name_colour_and_logo_brand_the_help_center(app: TestApp) {
        app.create_admin().await;
        let admin = signed_in(&app, "admin@example.org").await;
        let saved = post_on(&app, &admin, "/admin/branding", "/admin/branding", &[("product_name", "Acme <Help>"), ("accent", "#AA3300")]).await;
        assert_eq!(location(&saved), "/admin/branding?notice=saved");
        for (name, accent) in [("", "#aa3300"), ("Acme", "red"), ("Acme", "#12345g"), (&"x".repeat(61) as &str, "#aa3300")] {
            let refused = post_on(&app, &admin, "/admin/branding", "/admin/branding", &[("product_name", name), ("accent", accent)]).await;
            assert_eq!(refused.status(), 422, "{name:?} {accent:?}");
        }

        let visitor = Browser::new();
        let home = visitor.get(&app, "/").await.text().await.unwrap();
        assert!(home.contains("<title>Help center · Acme &#60;Help&#62;</title>"), "{home}");
        assert!(home.contains("class=\"brand\" href=\"/\">Acme &#60;Help&#62;</a>"));
        let css = visitor.get(&app, "/static/brand.css").await.text().await.unwrap();
        assert!(css.contains("--brand: #aa3300") && css.contains("--brand-dark: #7f2600"), "{css}");

        // Mails carry the name too.
        let registered = post_on(&app, &visitor, "/register", "/register", &[
            ("name", "Nina"), ("email", "nina@example.org"), ("password", "a long and new passphrase 42"),
            ("password_confirmation", "a long and new passphrase 42"), ("website", ""),
        ]).await;
        assert_eq!(registered.status(), 200);
        let mails = app.app.store().outbox().list_mail(None, 5).await.unwrap();
        assert!(mails[0].subject.contains("Acme <Help>"), "{}", mails[0].subject);

        // A logo is an image; anything else is refused.
        assert_eq!(visitor.get(&app, "/brand/logo").await.status(), 404);
        let svg = upload(&app, &admin, "logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>").await;
        assert_eq!(svg.status(), 422);
        let html = upload(&app, &admin, "logo.png", b"<html><script>alert(1)</script></html>").await;
        assert_eq!(html.status(), 422, "the content decides, not the name");
        let png = upload(&app, &admin, "logo.png", PNG).await;
        assert_eq!(location(&png), "/admin/branding?notice=logo");
        let logo = visitor.get(&app, "/brand/logo").await;
        assert_eq!(logo.status(), 200);
        assert_eq!(logo.headers()["content-type"], "image/png");
        assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
        assert_eq!(logo.bytes().await.unwrap().as_ref(), PNG);
        assert!(visitor.get(&app, "/").await.text().await.unwrap().contains("<img src=\"/brand/logo\" alt=\"Acme &#60;Help&#62;\""));
        // The sweep of unused file bodies leaves the logo alone.
        app.advance_clock(std::time::Duration::from_secs(3 * 86_400));
        app.app.sweep_unreferenced_blobs().await.unwrap();
        assert_eq!(visitor.get(&app, "/brand/logo").await.status(), 200);
        let admin = signed_in(&app, "admin@example.org").await;
        let removed = post_on(&app, &admin, "/admin/branding", "/admin/branding/logo/delete", &[]).await;
        assert_eq!(location(&removed), "/admin/branding?notice=logo_removed");
        assert_eq!(visitor.get(&app, "/brand/logo").await.status(), 404);
        let audit = app.app.store().audit_log().search_audit(&ferrodesk_store::AuditFilter {
            target_contains: Some("branding".to_owned()),
            ..ferrodesk_store::AuditFilter::default()
        }, 20).await.unwrap();
        assert_eq!(audit.len(), 3, "the name and colour, the logo, its removal");
    }

    async fn a_setting_is_refused_before_anything_is_written_for_someone_not_an_admin(app: TestApp) {
        let agent = app.create_agent().await;
        let actor = crate::tickets::actor_of(&agent);
        let caller = ferrodesk_app::Caller::new(&actor, "192.0.2.7");
        let logo = ferrodesk_app::UploadedFile {
            sha256: "ab".repeat(32),
            file_name: "logo.png".into(),
            content_type: "image/png".into(),
            size: 10,
        };
        let refused = app.app.set_brand_logo(&caller, Some(&logo)).await;
        assert!(matches!(refused, Err(ferrodesk_app::AppError::Forbidden)), "{refused:?}");
        // Had the blob been recorded, the sweep would find it unreferenced.
        let far_future = ferrodesk_core::Timestamp(i64::MAX);
        assert!(app.app.store().tickets().unreferenced_blobs(far_future, 10).await.unwrap().is_empty(), "no blob recorded");
        let refused = app.app.set_branding(&caller, "", "not a colour").await;
        assert!(matches!(refused, Err(ferrodesk_app::AppError::Forbidden)), "the permission is checked before the input: {refused:?}");
    }

    async fn a_brand_colour_never_makes_text_unreadable(app: TestApp) {
        app.create_admin().await;
        let admin = signed_in(&app, "admin@example.org").await;
        let grey = post_on(&app, &admin, "/admin/branding", "/admin/branding", &[("product_name", "Acme"), ("accent", "#787878")]).await;
        assert_eq!(grey.status(), 422, "neither white nor dark text reads on a mid grey");
        assert!(grey.text().await.unwrap().contains("4.5:1"));
        let yellow = post_on(&app, &admin, "/admin/branding", "/admin/branding", &[("product_name", "Acme"), ("accent", "#ffd400")]).await;
        assert_eq!(yellow.status(), 303);
        let css = Browser::new().get(&app, "/static/brand.css").await.text().await.unwrap();
        assert!(css.contains("--brand: #ffd400") && css.contains("--brand-text: #111827"), "dark text on yellow: {css}");
        let link = css.split("--brand-link: ").nth(1).unwrap().split(';').next().unwrap();
        let link = ferrodesk_core::colour::Rgb::parse(link).unwrap();
        assert!(link.contrast(ferrodesk_core::colour::WHITE) >= 4.5, "links on the white page read: {link}");
    }
}
