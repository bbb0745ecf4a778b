//! HTML from mail, made safe to show in a page: only plain structural and
//! text tags survive (no scripts, styles, forms, frames or event handlers;
//! comments, Outlook's conditional ones too, are dropped), links keep only
//! http, https and mailto targets and open without a referrer, and no image
//! is kept, so nothing loads from elsewhere when an agent reads the mail.
//! Remote images are listed as links instead; inline images are stored as
//! attachments. The quoted history is cut off by the markers mail clients
//! put around it, and each half is sanitized on its own.

use std::collections::HashSet;

use super::quotes::split_quoted_text;

/// Tags a sanitized mail keeps.
const KEPT_TAGS: [&str; 34] = [
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "u",
    "ul",
];
const KEPT_TABLE_TAGS: [&str; 5] = ["tbody", "td", "th", "thead", "tr"];
/// Remote images listed at most.
const MAX_REMOTE_IMAGES: usize = 20;
const MAX_URL_CHARS: usize = 2_000;

/// Where mail clients start the quoted history, as they write it (compared
/// without case). A marker inside a tag's attributes counts from the `<`
/// that opens the tag.
const QUOTE_MARKERS: [&str; 9] = [
    "class=\"gmail_quote",
    "class=gmail_quote",
    "<blockquote type=\"cite\"",
    "class=\"moz-cite-prefix\"",
    "id=\"divrplyfwdmsg\"",
    "id=\"appendonsend\"",
    "id=\"stopspelling\"",
    "class=\"yahoo_quoted\"",
    "border-top:solid #e1e1e1",
];

/// A mail's HTML, sanitized: the new part, the quoted history, and the
/// remote images that were not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeHtml {
    pub reply_html: String,
    pub quoted_html: String,
    /// `http(s)` addresses of the images the mail wanted to load.
    pub remote_images: Vec<String>,
}

impl SafeHtml {
    /// The new part's visible text.
    pub fn reply_text(&self) -> String {
        let text = visible_text(&self.reply_html);
        // Apple Mail leaves "On …, Ada wrote:" above its quote block.
        split_quoted_text(&text).0
    }

    /// The quoted history's visible text.
    pub fn quoted_text(&self) -> String {
        visible_text(&self.quoted_html)
    }
}

/// Sanitizes a mail's HTML and cuts its quoted history.
pub fn sanitize_html(source: &str) -> SafeHtml {
    let remote_images = remote_images(source);
    let (reply, quoted) = match quote_start(source) {
        Some(at) => (&source[..at], &source[at..]),
        None => (source, ""),
    };
    let reply_html = clean(reply);
    // Nothing above the quote (a bare forward of a quote): keep it all.
    if visible_text(&reply_html).trim().is_empty() && !quoted.is_empty() {
        return SafeHtml {
            reply_html: clean(source),
            quoted_html: String::new(),
            remote_images,
        };
    }
    SafeHtml {
        reply_html,
        quoted_html: if quoted.is_empty() {
            String::new()
        } else {
            clean(quoted)
        },
        remote_images,
    }
}

fn clean(html: &str) -> String {
    let mut builder = ammonia::Builder::empty();
    builder
        .add_tags(KEPT_TAGS)
        .add_tags(KEPT_TABLE_TAGS)
        .generic_attributes(HashSet::new())
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("td", ["colspan", "rowspan"])
        .add_tag_attributes("th", ["colspan", "rowspan"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean_content_tags(HashSet::from([
            "script", "style", "title", "head", "template",
        ]))
        .strip_comments(true);
    builder.clean(html).to_string()
}

/// Where the quoted history starts, by the earliest marker; a Gmail quote
/// block that holds a forwarded message is not history.
fn quote_start(source: &str) -> Option<usize> {
    let lower = source.to_ascii_lowercase();
    QUOTE_MARKERS
        .iter()
        .filter_map(|marker| {
            let found = lower.find(marker)?;
            let start = if marker.starts_with('<') {
                found
            } else {
                lower[..found].rfind('<')?
            };
            let after = &lower[found..lower.len().min(found + 600)];
            (!after.contains("forwarded message")).then_some(start)
        })
        .min()
}

/// The `http(s)` sources of the `<img>` tags of a mail, in order, each once.
fn remote_images(source: &str) -> Vec<String> {
    let lower = source.to_ascii_lowercase();
    let mut found: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<img") {
        let tag_start = from + at;
        let tag_end = lower[tag_start..]
            .find('>')
            .map_or(lower.len(), |end| tag_start + end);
        from = tag_end;
        let tag = &source[tag_start..tag_end];
        let Some(url) = attribute_value(tag, "src") else {
            continue;
        };
        let is_remote = url.starts_with("https://") || url.starts_with("http://");
        let is_plain = url.len() <= MAX_URL_CHARS
            && !url.chars().any(|character| {
                character.is_whitespace() || character.is_control() || "\"'<>".contains(character)
            });
        if is_remote && is_plain && !found.iter().any(|known| known == url) {
            found.push(url.to_owned());
            if found.len() >= MAX_REMOTE_IMAGES {
                break;
            }
        }
    }
    found
}

/// An attribute's value in one tag's source, quoted or not.
fn attribute_value<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut search = 0;
    while let Some(at) = lower[search..].find(name) {
        let start = search + at;
        search = start + name.len();
        let before = lower[..start].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = tag[search..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        return Some(match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let inner = &rest[1..];
                &inner[..inner.find(quote).unwrap_or(inner.len())]
            }
            _ => {
                &rest[..rest
                    .find(|character: char| character.is_whitespace() || character == '>')
                    .unwrap_or(rest.len())]
            }
        });
    }
    None
}

/// The words a reader sees in sanitized HTML, one line per block.
fn visible_text(html: &str) -> String {
    let mut marked = String::with_capacity(html.len() + 64);
    let lower = html.to_ascii_lowercase();
    let mut last = 0;
    for (at, _) in lower.match_indices("</") {
        let closes_block = [
            "</div",
            "</li",
            "</tr",
            "</h1",
            "</h2",
            "</h3",
            "</h4",
            "</h5",
            "</h6",
            "</blockquote",
            "</table",
            "</pre",
        ]
        .iter()
        .any(|tag| lower[at..].starts_with(tag));
        if closes_block {
            marked.push_str(&html[last..at]);
            marked.push_str("<br>");
            last = at;
        }
    }
    marked.push_str(&html[last..]);
    let text = mail_parser::decoders::html::html_to_text(&marked);
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        // At most one blank line in a row.
        if line.trim().is_empty() && lines.last().is_none_or(|last| last.trim().is_empty()) {
            continue;
        }
        lines.push(line);
    }
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_handlers_and_images_are_gone() {
        let safe = sanitize_html(
            "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>\
             <p onclick=\"steal()\" style=\"position:fixed\">Hello <b>there</b></p>\
             <img src=\"https://tracker.example.com/p.gif\"><img src=\"cid:logo\">\
             <a href=\"javascript:alert(2)\">x</a><a href=\"https://example.org/a\">docs</a>\
             <form><input name=q></form><iframe src=\"https://evil.example\"></iframe></body></html>",
        );
        let html = &safe.reply_html;
        for gone in [
            "<script",
            "alert(1)",
            "color:red",
            "onclick",
            "style=",
            "<img",
            "javascript:",
            "<form",
            "<input",
            "<iframe",
        ] {
            assert!(!html.contains(gone), "{gone} in {html}");
        }
        assert!(html.contains("<b>there</b>"));
        assert!(
            html.contains(
                "<a href=\"https://example.org/a\" rel=\"noopener noreferrer nofollow\">docs</a>"
            ),
            "{html}"
        );
        assert_eq!(safe.remote_images, ["https://tracker.example.com/p.gif"]);
        assert_eq!(safe.reply_text(), "Hello there\nxdocs");
    }

    #[test]
    fn quote_blocks_are_cut_but_forwards_are_kept() {
        let gmail = sanitize_html(
            "<div dir=\"ltr\">Fixed, thanks!</div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Ada wrote:<br></div>\
             <blockquote class=\"gmail_quote\">Could you restart it?</blockquote></div>",
        );
        assert_eq!(gmail.reply_text(), "Fixed, thanks!");
        assert!(gmail.quoted_text().contains("Could you restart it?"));
        let forward = sanitize_html(
            "<div>FYI</div><div class=\"gmail_quote\"><div>---------- Forwarded message ---------<br>From: Bo</div><div>It is broken.</div></div>",
        );
        assert!(
            forward.reply_text().contains("It is broken."),
            "{forward:?}"
        );
        let apple = sanitize_html(
            "<div>Yes, the P-100.</div><div><br><blockquote type=\"cite\"><div>On 3 Nov 2026, at 10:02, Ada wrote:</div><div>Which model?</div></blockquote></div>",
        );
        assert_eq!(apple.reply_text(), "Yes, the P-100.");
    }

    #[test]
    fn attribute_values_are_read_quoted_or_bare() {
        assert_eq!(
            attribute_value("<img alt=x src=\"a b\">", "src"),
            Some("a b")
        );
        assert_eq!(attribute_value("<img src='q'>", "src"), Some("q"));
        assert_eq!(
            attribute_value("<img src=bare width=1>", "src"),
            Some("bare")
        );
        assert_eq!(attribute_value("<img data-src=no>", "src"), None);
    }
}
