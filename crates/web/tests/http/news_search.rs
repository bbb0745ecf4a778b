//! News and search on both databases: posts with categories, the list, a
//! post and the Atom feed (published only); full-text search over articles
//! and news that never errors whatever is typed; suggestions for the
//! new-request form.

use ferrodesk_app::{ArticleInput, Caller};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{TestApp, location, spawn_app};
use crate::security::Browser;
use crate::tickets::{actor_of, desk, post_on, signed_in};

async fn publish_article(
    app: &TestApp,
    caller: &Caller<'_>,
    category: i64,
    title: &str,
    content: &str,
    status: &str,
) -> i64 {
    app.app
        .save_article(
            caller,
            None,
            &ArticleInput {
                title: title.into(),
                category_id: category.to_string(),
                content: content.into(),
                status: status.into(),
                ..ArticleInput::default()
            },
        )
        .await
        .unwrap()
}

async fn publish_news(
    app: &TestApp,
    caller: &Caller<'_>,
    title: &str,
    content: &str,
    status: &str,
) -> i64 {
    app.app
        .save_news_post(
            caller,
            None,
            &ArticleInput {
                title: title.into(),
                content: content.into(),
                status: status.into(),
                ..ArticleInput::default()
            },
        )
        .await
        .unwrap()
}

on_both_backends! { spawn_app;

    async fn news_is_listed_posted_and_fed_when_published(app: TestApp) {
        let desk = desk(&app).await;
        let admin = signed_in(&app, "admin@example.org").await;
        let made = post_on(&app, &admin, "/agent/news", "/agent/news/categories", &[("name", "Releases")]).await;
        assert_eq!(location(&made), "/agent/news?notice=category_saved");
        let category = app.app.store().news().list_news_categories().await.unwrap()[0].id.to_string();
        let sent = post_on(&app, &admin, "/agent/news/new", "/agent/news/new", &[
            ("title", "Version 2 <is> out & about"), ("slug", ""), ("category", &category),
            ("content", "Faster **search**.\n\n<script>alert(1)</script>"), ("status", "published"), ("intent", "save"),
        ]).await;
        assert_eq!(sent.status(), 303, "{}", sent.text().await.unwrap());
        let actor = actor_of(&desk.admin);
        let caller = Caller::new(&actor, "");
        publish_news(&app, &caller, "Maintenance next week", "Sunday morning.", "draft").await;
        let alice = signed_in(&app, "alice@example.org").await;
        assert_eq!(alice.get(&app, "/agent/news").await.status(), 403);

        let visitor = Browser::new();
        let list = visitor.get(&app, "/news").await.text().await.unwrap();
        assert!(list.contains("Version 2 &#60;is&#62; out &#38; about") && !list.contains("Maintenance"));
        let by_category = visitor.get(&app, &format!("/news?category={category}")).await.text().await.unwrap();
        assert!(by_category.contains("Version 2"));
        let post = visitor.get(&app, "/news/version-2-is-out-about").await.text().await.unwrap();
        assert!(post.contains("<strong>search</strong>") && !post.contains("<script>alert"));
        assert_eq!(visitor.get(&app, "/news/maintenance-next-week").await.status(), 404, "drafts are hidden");
        assert_eq!(visitor.get(&app, "/news?category=x").await.status(), 400);

        let feed = visitor.get(&app, "/news.atom").await;
        assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
        let feed = feed.text().await.unwrap();
        assert!(feed.starts_with("<?xml") && feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert_eq!(feed.matches("<entry>").count(), 1);
        assert!(feed.contains("<title>Version 2 &lt;is&gt; out &amp; about</title>"));
        assert!(feed.contains("&lt;strong&gt;search&lt;/strong&gt;") && !feed.contains("<script>"), "content is escaped HTML");
        assert!(!feed.contains("Maintenance"));

        // Paging: newest first, no post twice.
        for index in 0..25 {
            publish_news(&app, &caller, &format!("Tip number {index:02}"), "Short tip.", "published").await;
            app.advance_clock(std::time::Duration::from_secs(1));
        }
        let first = visitor.get(&app, "/news").await.text().await.unwrap();
        assert!(first.contains("Tip number 24") && !first.contains("Tip number 04"));
        let next = first.split("href=\"").find(|part| part.starts_with("/news?after=")).unwrap().split('"').next().unwrap().replace("&#38;", "&");
        let second = visitor.get(&app, &next).await.text().await.unwrap();
        assert!(second.contains("Tip number 04") && second.contains("Version 2") && !second.contains("Tip number 24"));
    }

    async fn search_finds_what_is_published_and_never_errors(app: TestApp) {
        let desk = desk(&app).await;
        let actor = actor_of(&desk.admin);
        let caller = Caller::new(&actor, "");
        let category = app.app.create_article_category(&caller, "Accounts", "", None, "0").await.unwrap();
        let reset = publish_article(&app, &caller, category, "Resetting your password", "Use the <b>forgot password</b> link on the login page. Passwords need 10 characters.", "published").await;
        publish_article(&app, &caller, category, "Secret roadmap", "Password vault coming.", "draft").await;
        publish_news(&app, &caller, "New password rules", "From today passwords are checked against common lists.", "published").await;

        let visitor = Browser::new();
        let page = visitor.get(&app, "/search?q=password").await.text().await.unwrap();
        assert!(page.contains("/kb/articles/resetting-your-password") && page.contains("/news/new-password-rules"));
        assert!(!page.contains("Secret roadmap"), "drafts are not searchable");
        assert!(page.contains("<mark>"), "matches are marked: {page}");
        assert!(!page.contains("<b>forgot"), "snippets are escaped");
        publish_article(&app, &caller, category, "Two-step login", "Open **Settings**, then [Security](https://example.org/security) to turn it on.", "published").await;
        let marked_up = visitor.get(&app, "/search?q=settings").await.text().await.unwrap();
        assert!(marked_up.contains("two-step-login"), "{marked_up}");
        assert!(!marked_up.contains("**") && !marked_up.contains("](https"), "snippets are plain text, not markdown: {marked_up}");
        let prefix = visitor.get(&app, "/search?q=PASSW").await.text().await.unwrap();
        assert!(prefix.contains("resetting-your-password"), "terms match as prefixes, whatever the case");
        let both = visitor.get(&app, "/search?q=forgot+login").await.text().await.unwrap();
        assert!(both.contains("resetting-your-password") && !both.contains("new-password-rules"), "every term must match");
        let news_only = visitor.get(&app, "/search?q=password&kind=news").await.text().await.unwrap();
        assert!(news_only.contains("new-password-rules") && !news_only.contains("resetting-your-password"));

        // Unpublishing takes an article out of the index.
        app.app.save_article(&caller, Some(reset), &ArticleInput {
            title: "Resetting your password".into(),
            category_id: category.to_string(),
            content: "Archived.".into(),
            status: "archived".into(),
            ..ArticleInput::default()
        }).await.unwrap();
        let gone = visitor.get(&app, "/search?q=forgot").await.text().await.unwrap();
        assert!(gone.contains("no-results"));

        let long = "password ".repeat(600);
        let hostile = [
            "\"", "\"\"", "'", "*", "password*", "NEAR(password, rules)", "password AND OR NOT", "-password", "^password",
            "title:password", "{title}: password", "'; DROP TABLE articles; --", "%00", "\u{202e}drowssap", "😀 password 😀",
            "パスワード", "(((", ")", "\\", "password:*", "a & | ! b", "<script>alert(1)</script>", &long,
        ];
        for query in hostile {
            let encoded: String = percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC).collect();
            for kind in ["", "article", "news", "bogus"] {
                let response = visitor.get(&app, &format!("/search?q={encoded}&kind={kind}")).await;
                assert_eq!(response.status(), 200, "{query:?} in {kind:?}");
                let body = response.text().await.unwrap();
                assert!(!body.contains("<script>alert"), "{query:?} is escaped");
            }
            let suggested = visitor.get(&app, &format!("/search/suggestions?subject={encoded}")).await;
            assert_eq!(suggested.status(), 200, "suggestions for {query:?}");
        }
        let raw_nul = visitor.get(&app, "/search?q=pass%00word").await;
        assert_eq!(raw_nul.status(), 200);
    }

    async fn the_new_request_form_suggests_articles(app: TestApp) {
        let desk = desk(&app).await;
        let actor = actor_of(&desk.admin);
        let caller = Caller::new(&actor, "");
        let category = app.app.create_article_category(&caller, "Printing", "", None, "0").await.unwrap();
        publish_article(&app, &caller, category, "Printer shows paper jam", "Open the back flap.", "published").await;
        publish_news(&app, &caller, "Printer fleet renewed", "New printers everywhere.", "published").await;
        let visitor = Browser::new();
        let response = visitor.get(&app, "/search/suggestions?subject=my+printer+jams").await;
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = response.json().await.unwrap();
        let suggestions = body["suggestions"].as_array().unwrap();
        assert_eq!(suggestions.len(), 1, "articles only: {body}");
        assert_eq!(suggestions[0]["path"], "/kb/articles/printer-shows-paper-jam");
        let empty: serde_json::Value = visitor.get(&app, "/search/suggestions?subject=").await.json().await.unwrap();
        assert_eq!(empty["suggestions"].as_array().unwrap().len(), 0);
        let script = visitor.get(&app, "/static/suggest.js").await;
        assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
        assert!(script.text().await.unwrap().contains("/search/suggestions"));
    }
}
