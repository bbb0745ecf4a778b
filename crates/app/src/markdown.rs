//! Markdown to HTML for ticket messages, articles and news. Raw HTML in
//! the source is shown as text, links keep only safe schemes, and images
//! become links, so what an author writes can never run in a reader's
//! browser or load from elsewhere.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// Schemes a link may use; anything else (javascript:, data:, vbscript:…)
/// loses its target.
const SAFE_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

fn is_safe_target(url: &str) -> bool {
    let trimmed = url.trim();
    match trimmed.split_once(':') {
        // A colon before any slash, '?' or '#' is a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => SAFE_SCHEMES
            .iter()
            .any(|safe| scheme.eq_ignore_ascii_case(safe)),
        _ => !trimmed.starts_with("//"),
    }
}

fn checked_target(url: CowStr<'_>) -> CowStr<'_> {
    if is_safe_target(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// Renders markdown to HTML that is safe to put in a page as is.
pub fn render(markdown: &str) -> String {
    render_with(markdown, Breaks::AsMarkdown)
}

/// Renders a ticket message: like `render`, but every line break the
/// author typed is kept ("Best,⏎Ines" is two lines), since people write
/// messages as mail, not as markdown documents.
pub fn render_message(markdown: &str) -> String {
    render_with(markdown, Breaks::AsTyped)
}

/// The words of a markdown text without its markup, as search indexes
/// and shows them in snippets: `**bold**` reads "bold", a link its text.
pub fn plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    ) {
        match event {
            Event::Text(words) | Event::Code(words) => text.push_str(&words),
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::TableCell
                | TagEnd::TableRow
                | TagEnd::TableHead,
            ) if !text.ends_with(' ') => text.push(' '),
            _ => {}
        }
    }
    text.trim_end().to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaks {
    /// A single line break is a space, as markdown has it.
    AsMarkdown,
    /// A single line break is a line break.
    AsTyped,
}

fn render_with(markdown: &str, breaks: Breaks) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::SoftBreak if breaks == Breaks::AsTyped => Event::HardBreak,
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: checked_target(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: checked_target(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut output = String::with_capacity(markdown.len() * 3 / 2);
    match breaks {
        Breaks::AsTyped => html::push_html(
            &mut output,
            collapse_long_quotes(events.collect()).into_iter(),
        ),
        Breaks::AsMarkdown => html::push_html(&mut output, events),
    }
    output
}

/// Quoted lines beyond which a quote starts folded away.
const FOLDED_QUOTE_LINES: usize = 4;

/// Wraps each outermost quote longer than `FOLDED_QUOTE_LINES` lines in a
/// `<details>` element, so an earlier mail quoted under a reply shows as
/// one "quoted text" line until the reader opens it. The markup added is
/// fixed; the author's own HTML was turned into text before.
fn collapse_long_quotes(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut folded = Vec::with_capacity(events.len() + 2);
    let mut depth = 0usize;
    let mut quote_start = 0usize;
    let mut lines = 0usize;
    for event in events {
        match &event {
            Event::Start(Tag::BlockQuote(_)) => {
                if depth == 0 {
                    quote_start = folded.len();
                    lines = 0;
                }
                depth += 1;
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    folded.push(event);
                    if lines > FOLDED_QUOTE_LINES {
                        folded.insert(
                            quote_start,
                            Event::Html(CowStr::Borrowed(
                                "<details class=\"quoted\"><summary>Quoted text</summary>",
                            )),
                        );
                        folded.push(Event::Html(CowStr::Borrowed("</details>\n")));
                    }
                    continue;
                }
            }
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock)
                if depth > 0 =>
            {
                lines += 1;
            }
            _ => {}
        }
        folded.push(event);
    }
    folded
}

/// Text made safe to place in HTML, in an element or a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_keeps_its_line_breaks_and_code_blocks() {
        let html = render_message("Thanks for waiting.\n\nBest,\nInes");
        assert!(html.contains("Best,<br />\nInes"), "{html}");
        let html = render_message("Run this:\n\n```\nsudo reboot\nnow\n```\n");
        assert!(
            html.contains("<pre><code>sudo reboot\nnow\n</code></pre>"),
            "{html}"
        );
        // Articles are markdown documents: a single break joins the lines.
        assert!(!render("one\ntwo").contains("<br"));
    }

    #[test]
    fn long_quotes_start_folded_and_short_ones_do_not() {
        let long = render_message(
            "Sure, done.\n\n> On Monday you wrote:\n> line two\n> line three\n> line four\n> line five\n> line six",
        );
        assert!(
            long.starts_with("<p>Sure, done.</p>\n<details class=\"quoted\"><summary>Quoted text</summary>\n<blockquote>"),
            "{long}"
        );
        assert!(
            long.trim_end().ends_with("</blockquote>\n</details>"),
            "{long}"
        );
        let short = render_message("Yes.\n\n> Is it on?");
        assert!(!short.contains("<details"), "{short}");
        // Articles keep their quotes open; typed HTML never becomes markup.
        assert!(!render("> a\n> b\n> c\n> d\n> e\n> f").contains("<details"));
        assert!(render_message("<details open>x</details>").contains("&lt;details"));
    }

    #[test]
    fn plain_text_keeps_the_words_and_drops_the_markup() {
        assert_eq!(
            plain_text(
                "# Reset\n\nOpen **Settings** and [click here](https://x.example).\n\n- one\n- `two`"
            ),
            "Reset Open Settings and click here. one two"
        );
    }

    #[test]
    fn formatting_survives() {
        let html =
            render("Hello **there**\n\n- one\n- two\n\n[docs](https://example.org/a?b=1&c=2)");
        assert!(html.contains("<strong>there</strong>"));
        assert!(html.contains("<li>one</li>"));
        assert!(
            html.contains(r#"<a href="https://example.org/a?b=1&amp;c=2">docs</a>"#),
            "{html}"
        );
    }

    #[test]
    fn raw_html_scripts_and_handlers_are_text() {
        for source in [
            "<script>alert(1)</script>",
            "hello <img src=x onerror=alert(1)> there",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<svg onload=alert(1)>",
        ] {
            let html = render(source);
            for tag in ["<script", "<img", "<iframe", "<svg", "<a "] {
                assert!(!html.to_lowercase().contains(tag), "{source} gave {html}");
            }
            assert!(html.contains("&lt;"), "{source} gave {html}");
        }
    }

    #[test]
    fn only_safe_link_targets_are_kept() {
        for (source, target) in [
            ("[x](javascript:alert(1))", "#"),
            ("[x](JavaScript:alert(1))", "#"),
            ("[x]( data:text/html,hi)", "#"),
            ("[x](vbscript:msgbox)", "#"),
            ("[x](//evil.example/path)", "#"),
            ("[x](/agent/tickets)", "/agent/tickets"),
            ("[x](mailto:help@example.org)", "mailto:help@example.org"),
            ("[x](#top)", "#top"),
            ("[x](page?a=b:c)", "page?a=b:c"),
        ] {
            let html = render(source);
            assert!(
                html.contains(&format!("href=\"{target}\"")),
                "{source} gave {html}"
            );
        }
    }

    #[test]
    fn images_become_links() {
        let html = render("![tracking pixel](https://evil.example/p.gif)");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://evil.example/p.gif">tracking pixel</a>"#),
            "{html}"
        );
    }
}
