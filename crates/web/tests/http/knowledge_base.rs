//! The knowledge base on both databases: authoring with preview and
//! history, what readers see (published only, rendered harmless), votes,
//! and comments through the moderation queue.

use ferrodesk_app::{AccountKind, Caller};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{desk, group, post_on, signed_in};

/// A desk where Carol writes content (and nothing else).
async fn writers(app: &TestApp) -> crate::tickets::Desk {
    let desk = desk(app).await;
    let system = Caller::system();
    let content = app
        .app
        .create_permission_group(
            &system,
            &group("Writers", &["content.manage"], desk.support, "assign"),
        )
        .await
        .unwrap();
    app.app
        .set_agent_access(&system, desk.carol.id, &[content], &[])
        .await
        .unwrap();
    desk
}

async fn new_category(app: &TestApp, browser: &Browser, name: &str, parent: &str) -> i64 {
    let made = post_on(
        app,
        browser,
        "/agent/kb",
        "/agent/kb/categories",
        &[
            ("name", name),
            ("description", "All about it"),
            ("parent", parent),
            ("position", "0"),
        ],
    )
    .await;
    assert_eq!(location(&made), "/agent/kb?notice=category_saved");
    app.app
        .store()
        .knowledge_base()
        .list_article_categories()
        .await
        .unwrap()
        .into_iter()
        .find(|category| category.name == name)
        .unwrap()
        .id
}

async fn new_article(
    app: &TestApp,
    browser: &Browser,
    title: &str,
    category: i64,
    content: &str,
    status: &str,
) -> i64 {
    let category = category.to_string();
    let made = post_on(
        app,
        browser,
        "/agent/kb/articles/new",
        "/agent/kb/articles/new",
        &[
            ("title", title),
            ("slug", ""),
            ("category", &category),
            ("content", content),
            ("status", status),
            ("intent", "save"),
        ],
    )
    .await;
    assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
    location(&made)
        .trim_start_matches("/agent/kb/articles/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn votes(app: &TestApp, id: i64) -> (i64, i64) {
    let article = app
        .app
        .store()
        .knowledge_base()
        .get_article(id)
        .await
        .unwrap()
        .unwrap();
    (article.helpful_yes, article.helpful_no)
}

const HOSTILE: &str = "Hello <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) and [ok](https://example.org)\n\n**bold**";

on_both_backends! { spawn_app;

    async fn writers_author_articles_with_preview_and_history(app: TestApp) {
        let _desk = writers(&app).await;
        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, "/agent/kb").await.status(), 403, "Alice may not manage content");
        let refused = post_on(&app, &alice, "/agent", "/agent/kb/categories", &[("name", "Sneaky")]).await;
        assert_eq!(refused.status(), 403);

        let carol = signed_in(&app, "carol@example.org").await;
        let billing = new_category(&app, &carol, "Billing", "").await;
        let invoices = new_category(&app, &carol, "Invoices", &billing.to_string()).await;
        let loop_refused = post_on(&app, &carol, "/agent/kb", &format!("/agent/kb/categories/{billing}"), &[
            ("name", "Billing"), ("description", ""), ("parent", &invoices.to_string()), ("position", "0"),
        ]).await;
        assert_eq!(loop_refused.status(), 422, "a category cannot go inside its own child");

        // Preview renders without saving.
        let invoices_text = invoices.to_string();
        let preview = post_on(&app, &carol, "/agent/kb/articles/new", "/agent/kb/articles/new", &[
            ("title", "Reading your invoice"), ("slug", ""), ("category", &invoices_text), ("content", HOSTILE), ("status", "published"), ("intent", "preview"),
        ]).await;
        assert_eq!(preview.status(), 200);
        let page = preview.text().await.unwrap();
        assert!(page.contains("article-preview") && page.contains("<strong>bold</strong>"));
        assert!(!page.contains("<script>alert") && !page.contains("<img") && !page.contains("href=\"javascript:"), "the preview is harmless too");
        assert!(app.app.store().knowledge_base().list_all_articles(10).await.unwrap().is_empty(), "a preview saves nothing");

        let id = new_article(&app, &carol, "Reading your invoice", invoices, HOSTILE, "draft").await;
        let twin = new_article(&app, &carol, "Reading your invoice", invoices, "Same title", "draft").await;
        let article = app.app.store().knowledge_base().get_article(id).await.unwrap().unwrap();
        assert_eq!(article.slug, "reading-your-invoice");
        assert_eq!(app.app.store().knowledge_base().get_article(twin).await.unwrap().unwrap().slug, "reading-your-invoice-2");
        let path = format!("/agent/kb/articles/{id}");
        let bad_slug = post_on(&app, &carol, &path, &path, &[
            ("title", "Reading your invoice"), ("slug", "../../etc"), ("category", &invoices_text), ("content", "x"), ("status", "draft"), ("intent", "save"),
        ]).await;
        assert_eq!(bad_slug.status(), 422);
        let taken = post_on(&app, &carol, &path, &path, &[
            ("title", "Reading your invoice"), ("slug", "reading-your-invoice-2"), ("category", &invoices_text), ("content", "x"), ("status", "draft"), ("intent", "save"),
        ]).await;
        assert_eq!(taken.status(), 422, "another article has that address");

        // The public does not see a draft; publishing shows it.
        let visitor = Browser::new();
        assert_eq!(visitor.get(&app, "/kb/articles/reading-your-invoice").await.status(), 404);
        let published = post_on(&app, &carol, &path, &path, &[
            ("title", "Reading your invoice"), ("slug", ""), ("category", &invoices_text), ("content", HOSTILE), ("status", "published"), ("intent", "save"),
        ]).await;
        assert_eq!(location(&published), format!("{path}?notice=saved"));
        let editor = carol.get(&app, &path).await.text().await.unwrap();
        assert!(editor.contains("article-history") && editor.matches("Carol Agent &#60;carol@example.org&#62;").count() >= 2, "both versions by Carol");
        assert_eq!(app.app.store().knowledge_base().article_revisions(id).await.unwrap().len(), 2);
        assert!(app.app.store().knowledge_base().get_article(id).await.unwrap().unwrap().published_at.is_some());
        let archived = post_on(&app, &carol, &format!("/agent/kb/articles/{twin}"), &format!("/agent/kb/articles/{twin}"), &[
            ("title", "Old"), ("slug", ""), ("category", &invoices_text), ("content", "Gone"), ("status", "archived"), ("intent", "save"),
        ]).await;
        assert_eq!(archived.status(), 303);
        assert_eq!(visitor.get(&app, "/kb/articles/reading-your-invoice-2").await.status(), 404, "archived is hidden");

        // A category with articles cannot be deleted; an empty one can.
        let in_use = post_on(&app, &carol, "/agent/kb", &format!("/agent/kb/categories/{invoices}/delete"), &[]).await;
        assert_eq!(in_use.status(), 409);
        let spare = new_category(&app, &carol, "Spare", "").await;
        let deleted = post_on(&app, &carol, "/agent/kb", &format!("/agent/kb/categories/{spare}/delete"), &[]).await;
        assert_eq!(location(&deleted), "/agent/kb?notice=category_deleted");
        let audit = crate::security::audit_actions(&app).await;
        assert!(audit.iter().filter(|action| action.starts_with("article_category.")).count() >= 4);
    }

    async fn readers_see_published_articles_rendered_harmless(app: TestApp) {
        let _desk = writers(&app).await;
        let carol = signed_in(&app, "carol@example.org").await;
        let billing = new_category(&app, &carol, "Billing <b>money</b>", "").await;
        let main = new_article(&app, &carol, "Paying by card", billing, HOSTILE, "published").await;
        new_article(&app, &carol, "Paying by transfer", billing, "Use the IBAN.", "published").await;
        new_article(&app, &carol, "Secret draft", billing, "Not yet", "draft").await;

        let visitor = Browser::new();
        let home = visitor.get(&app, "/kb").await.text().await.unwrap();
        assert!(home.contains("Billing &#60;b&#62;money&#60;/b&#62;"), "names escaped");
        assert!(home.contains("Paying by card") && !home.contains("Secret draft"));
        let category = visitor.get(&app, &format!("/kb/categories/{billing}")).await.text().await.unwrap();
        assert!(category.contains("Paying by transfer") && !category.contains("Secret draft"));
        assert_eq!(visitor.get(&app, "/kb/categories/999999").await.status(), 404);
        assert_eq!(visitor.get(&app, "/kb/categories/x").await.status(), 404);

        let page = visitor.get(&app, "/kb/articles/paying-by-card").await.text().await.unwrap();
        assert!(page.contains("<strong>bold</strong>") && page.contains("href=\"https://example.org\""));
        let body_start = page.find("id=\"article-body\"").unwrap();
        let body = &page[body_start..page[body_start..].find("</article>").unwrap() + body_start];
        for forbidden in ["<script", "<img", "href=\"javascript:"] {
            assert!(!body.contains(forbidden), "{forbidden} in {body}");
        }
        assert!(body.contains("&#60;script&#62;") || body.contains("&lt;script&gt;"), "raw HTML is shown as text: {body}");
        assert!(page.contains("Paying by transfer"), "related articles");
        assert!(page.contains("By Carol Agent"));
        let again = visitor.get(&app, "/kb/articles/paying-by-card").await.text().await.unwrap();
        assert!(again.contains("read 2 times"), "the page counts views not yet written");
        assert_eq!(app.app.flush_article_views().await.unwrap(), 1);
        assert_eq!(app.app.store().knowledge_base().get_article(main).await.unwrap().unwrap().view_count, 2);
        for junk in ["/kb/articles/secret-draft", "/kb/articles/NOPE", "/kb/articles/a%2Fb", "/kb/articles/%3Cscript%3E"] {
            assert_eq!(visitor.get(&app, junk).await.status(), 404, "{junk}");
        }
    }

    async fn one_vote_per_reader_and_comments_after_moderation(app: TestApp) {
        let _desk = writers(&app).await;
        let carol = signed_in(&app, "carol@example.org").await;
        let billing = new_category(&app, &carol, "Billing", "").await;
        let id = new_article(&app, &carol, "Refunds", billing, "Ask us.", "published").await;
        let path = "/kb/articles/refunds";
        let first = Browser::new();
        let voted = post_on(&app, &first, path, &format!("{path}/vote"), &[("helpful", "1")]).await;
        assert!(location(&voted).starts_with("/kb/articles/refunds?notice=voted"));
        assert_eq!(votes(&app, id).await, (1, 0));
        post_on(&app, &first, path, &format!("{path}/vote"), &[("helpful", "1")]).await;
        assert_eq!(votes(&app, id).await, (1, 0), "voting twice counts once");
        post_on(&app, &first, path, &format!("{path}/vote"), &[("helpful", "0")]).await;
        assert_eq!(votes(&app, id).await, (0, 1), "a change of mind moves the vote");
        let second = Browser::new();
        post_on(&app, &second, path, &format!("{path}/vote"), &[("helpful", "1")]).await;
        assert_eq!(votes(&app, id).await, (1, 1));
        let page = second.get(&app, path).await.text().await.unwrap();
        assert!(page.contains("id=\"vote-yes\" aria-pressed=\"true\""));
        let forged = second.post(&app, &format!("{path}/vote"), &[("helpful", "1")]).await;
        assert_eq!(forged.status(), 403, "CSRF");

        // Comments: users only, shown once approved.
        let refused = post_on(&app, &second, path, &format!("{path}/comments"), &[("comment", "Anonymous words")]).await;
        assert_eq!(refused.status(), 401);
        app.create_account("uma@example.org", "Uma User", AccountKind::User).await;
        let uma = Browser::new();
        let token = uma.csrf(&app, "/login").await;
        uma.post(&app, "/login", &[("email", "uma@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        for comment in ["Thanks <script>alert(1)</script>", "Buy cheap watches"] {
            let sent = post_on(&app, &uma, path, &format!("{path}/comments"), &[("comment", comment)]).await;
            assert_eq!(sent.status(), 303);
        }
        let empty = post_on(&app, &uma, path, &format!("{path}/comments"), &[("comment", "  ")]).await;
        assert_eq!(empty.status(), 422);
        assert!(!Browser::new().get(&app, path).await.text().await.unwrap().contains("Thanks"), "pending comments are not shown");

        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, "/agent/kb/comments").await.status(), 403);
        let queue = app.app.store().knowledge_base().pending_comments(10).await.unwrap();
        assert_eq!(queue.len(), 2);
        let refused = post_on(&app, &alice, "/agent", &format!("/agent/kb/comments/{}/approve", queue[0].id), &[]).await;
        assert_eq!(refused.status(), 403);
        let listed = carol.get(&app, "/agent/kb/comments").await.text().await.unwrap();
        assert!(listed.contains("Thanks &#60;script&#62;"));
        post_on(&app, &carol, "/agent/kb/comments", &format!("/agent/kb/comments/{}/approve", queue[0].id), &[]).await;
        post_on(&app, &carol, "/agent/kb/comments", &format!("/agent/kb/comments/{}/reject", queue[1].id), &[]).await;
        let again = post_on(&app, &carol, "/agent/kb/comments", &format!("/agent/kb/comments/{}/approve", queue[1].id), &[]).await;
        assert_eq!(again.status(), 404, "a decided comment is no longer in the queue");
        let page = Browser::new().get(&app, path).await.text().await.unwrap();
        assert!(page.contains("Thanks &#60;script&#62;alert(1)&#60;/script&#62;") && !page.contains("cheap watches"));
        let _ = id;
    }
}
