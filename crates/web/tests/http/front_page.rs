//! The help center's front page and what a visitor finds from it, on both
//! databases: category tiles with their article counts, popular and recent
//! articles, the latest news and a way to contact the team; the admin's
//! own welcome (markdown, escaped, refused with the text kept when too
//! long); a misspelt search that still finds the article; and "my
//! requests" filtered to open or closed ones and searched.

use ferrodesk_app::{AccountKind, ArticleInput, Caller};
use ferrodesk_testkit::on_both_backends;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::security::Browser;
use crate::tickets::{actor_of, desk, open_ticket, post_on, signed_in};

async fn publish(app: &TestApp, caller: &Caller<'_>, category: i64, title: &str, content: &str) {
    app.app
        .save_article(
            caller,
            None,
            &ArticleInput {
                title: title.into(),
                category_id: category.to_string(),
                content: content.into(),
                status: "published".into(),
                ..ArticleInput::default()
            },
        )
        .await
        .unwrap();
}

on_both_backends! { spawn_app;

    async fn the_front_page_shows_the_knowledge_base_news_and_the_admins_welcome(app: TestApp) {
        let desk = desk(&app).await;
        let admin = actor_of(&desk.admin);
        let caller = Caller::new(&admin, "");
        let accounts = app.app.create_article_category(&caller, "Accounts", "Signing in and passwords", None, "0").await.unwrap();
        let recovery = app.app.create_article_category(&caller, "Recovery", "", Some(accounts), "0").await.unwrap();
        publish(&app, &caller, accounts, "Resetting your password", "Use the **reset** link.").await;
        publish(&app, &caller, recovery, "Locked out of your account", "Wait a few minutes.").await;
        app.app.save_news_post(&caller, None, &ArticleInput {
            title: "New opening hours".into(),
            content: "From Monday.".into(),
            status: "published".into(),
            ..ArticleInput::default()
        }).await.unwrap();

        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains(&format!("href=\"/kb/categories/{accounts}\">Accounts</a>")), "a tile per top-level category");
        assert!(!home.contains(&format!("href=\"/kb/categories/{recovery}\"")), "subcategories are counted, not tiled");
        assert!(home.contains("2 articles"), "the tile counts its whole subtree");
        assert!(home.contains("id=\"front-popular\"") && home.contains("id=\"front-recent\""));
        assert!(home.contains("href=\"/kb/articles/resetting-your-password\""));
        assert!(home.contains("href=\"/news/new-opening-hours\""), "the latest news");
        assert!(home.contains("id=\"contact-us\""), "a way to contact the team");
        assert!(home.contains("How can we help?"), "the built-in welcome");

        // The admin's own welcome: markdown rendered, HTML shown as text.
        let browser = signed_in(&app, "admin@example.org").await;
        let saved = post_on(&app, &browser, "/admin/help-center", "/admin/help-center/welcome", &[
            ("welcome_title", "Welcome to <b>Acme</b> support"),
            ("welcome_text", "We answer **within a day**.\n<script>alert(1)</script>"),
        ]).await;
        assert_eq!(saved.status(), 303);
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("Welcome to &#60;b&#62;Acme&#60;/b&#62; support") || home.contains("Welcome to &lt;b&gt;Acme&lt;/b&gt; support"), "{home}");
        assert!(home.contains("<strong>within a day</strong>"));
        assert!(!home.contains("<script>alert"), "typed HTML stays text");

        // Too long: refused next to the field, with what was typed kept.
        let long_title = "A".repeat(101);
        let refused = post_on(&app, &browser, "/admin/help-center", "/admin/help-center/welcome", &[
            ("welcome_title", &long_title), ("welcome_text", "Kept as typed"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains("id=\"welcome_title-error\"") && page.contains("aria-invalid=\"true\""), "{page}");
        assert!(page.contains(&long_title) && page.contains("Kept as typed"), "nothing typed is lost");
        assert!(app.get("/").await.text().await.unwrap().contains("<strong>within a day</strong>"), "the saved welcome stays");
    }

    async fn a_misspelt_search_finds_the_article_it_meant(app: TestApp) {
        let desk = desk(&app).await;
        let admin = actor_of(&desk.admin);
        let caller = Caller::new(&admin, "");
        let category = app.app.create_article_category(&caller, "Accounts", "", None, "0").await.unwrap();
        publish(&app, &caller, category, "Resetting your password", "Open the sign-in page and follow the reset link.").await;

        let page = app.get("/search?q=passwrd").await.text().await.unwrap();
        assert!(page.contains("id=\"search-corrected\""), "{page}");
        assert!(page.contains("password") && page.contains("href=\"/kb/articles/resetting-your-password\""), "{page}");
        let page = app.get("/search?q=resett%20pasword").await.text().await.unwrap();
        assert!(page.contains("href=\"/kb/articles/resetting-your-password\""), "every word is corrected");
        let page = app.get("/search?q=xylophone").await.text().await.unwrap();
        assert!(page.contains("id=\"no-results\"") && !page.contains("search-corrected"), "nothing near: nothing found");
        let page = app.get("/search?q=password").await.text().await.unwrap();
        assert!(!page.contains("search-corrected"), "a query that matches is not corrected");
    }

    async fn my_requests_filter_open_or_closed_and_search_the_subject(app: TestApp) {
        let desk = desk(&app).await;
        app.create_account("uma@example.org", "Uma User", AccountKind::User).await;
        let printer = open_ticket(&app, &desk.admin, desk.support, "Printer jams on page two").await;
        let laptop = open_ticket(&app, &desk.admin, desk.support, "Laptop will not start").await;
        let old = open_ticket(&app, &desk.admin, desk.support, "Printer toner 100% empty").await;
        let admin = actor_of(&desk.admin);
        app.app.change_ticket(&Caller::new(&admin, ""), &crate::helpers::ticket_key(&old), &ferrodesk_app::TicketChange {
            status: Some(Ok(ferrodesk_core::TicketStatus::Resolved)),
            ..ferrodesk_app::TicketChange::default()
        }).await.unwrap();

        let uma = Browser::new();
        let token = uma.csrf(&app, "/login").await;
        let signed = uma.post(&app, "/login", &[("email", "uma@example.org"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        assert_eq!(signed.status(), 303);

        let open = uma.get(&app, "/tickets").await.text().await.unwrap();
        assert!(open.contains(&printer) && open.contains(&laptop), "open requests by default");
        assert!(!open.contains(&old), "closed ones are under Closed");
        let closed = uma.get(&app, "/tickets?state=closed").await.text().await.unwrap();
        assert!(closed.contains(&old) && !closed.contains(&printer));
        let all = uma.get(&app, "/tickets?state=all&q=printer").await.text().await.unwrap();
        assert!(all.contains(&printer) && all.contains(&old) && !all.contains(&laptop), "the search matches the subject, any case");
        // LIKE's wildcards are the user's text, not patterns.
        let literal = uma.get(&app, "/tickets?state=all&q=100%25").await.text().await.unwrap();
        assert!(literal.contains(&old) && !literal.contains(&printer), "{literal}");
        let nothing = uma.get(&app, "/tickets?state=all&q=_").await.text().await.unwrap();
        assert!(nothing.contains("No request matches."));
        // The filter links keep the search.
        assert!(all.contains("href=\"/tickets?scope=mine&#38;state=open&#38;q=printer\""), "{all}");
    }
}
