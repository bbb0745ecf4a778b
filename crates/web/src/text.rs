//! The text of the help center's pages, kept in one Fluent catalogue
//! (`locales/en/help_center.ftl`) so that it can be translated. Templates and
//! handlers ask for a message by its id: `t("kb-popular")`, or
//! `t_with("kb-article-views", &[("count", &views)])` when it has placeholders.

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The English catalogue, the only language for now. It is built into the
/// binary; the tests below check that it parses and that no id is missing.
const ENGLISH: &str = include_str!("../locales/en/help_center.ftl");

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let catalogue = Catalogue::load("en", ENGLISH);
    for problem in &catalogue.problems {
        tracing::error!(%problem, "the text catalogue has a mistake");
    }
    catalogue
});

/// The message with this id.
pub(crate) fn t(id: &str) -> String {
    CATALOGUE.text(id, None)
}

/// The message with this id, its placeholders filled with `arguments`
/// (`{ $count }` takes the argument named `count`).
pub(crate) fn t_with(id: &str, arguments: &[(&str, &dyn Placeholder)]) -> String {
    let mut fluent_arguments = FluentArgs::with_capacity(arguments.len());
    for (name, value) in arguments {
        fluent_arguments.set(*name, value.fluent_value());
    }
    CATALOGUE.text(id, Some(&fluent_arguments))
}

/// A value for a message's placeholder: a number (which also chooses between
/// plural forms) or a piece of text.
pub(crate) trait Placeholder {
    fn fluent_value(&self) -> FluentValue<'_>;
}

macro_rules! number_placeholder {
    ($($number:ty),+) => {$(
        impl Placeholder for $number {
            fn fluent_value(&self) -> FluentValue<'_> {
                FluentValue::from(*self)
            }
        }
    )+};
}

number_placeholder!(i64, u16, u64, usize);

impl Placeholder for str {
    fn fluent_value(&self) -> FluentValue<'_> {
        FluentValue::from(self)
    }
}

impl Placeholder for String {
    fn fluent_value(&self) -> FluentValue<'_> {
        FluentValue::from(self.as_str())
    }
}

impl<T: Placeholder + ?Sized> Placeholder for &T {
    fn fluent_value(&self) -> FluentValue<'_> {
        (**self).fluent_value()
    }
}

struct Catalogue {
    bundle: FluentBundle<FluentResource>,
    /// Syntax errors and ids given twice, found while loading.
    problems: Vec<String>,
}

impl Catalogue {
    /// Reads a catalogue, keeping what can be read of a faulty one.
    fn load(language: &str, source: &str) -> Catalogue {
        let mut problems = Vec::new();
        let resource =
            FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errors)| {
                problems.extend(errors.iter().map(ToString::to_string));
                resource
            });
        let mut bundle = FluentBundle::new_concurrent(vec![language.parse().unwrap_or_default()]);
        // Askama escapes what the pages show; isolation marks would only be
        // invisible noise around every placeholder.
        bundle.set_use_isolating(false);
        if let Err(errors) = bundle.add_resource(resource) {
            problems.extend(errors.iter().map(ToString::to_string));
        }
        Catalogue { bundle, problems }
    }

    /// A message, or its id when the catalogue cannot give it: a page with
    /// a raw id in it is better than no page.
    fn text(&self, id: &str, arguments: Option<&FluentArgs>) -> String {
        let Some(pattern) = self
            .bundle
            .get_message(id)
            .and_then(|message| message.value())
        else {
            report_once(id, "no such message");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, arguments, &mut errors);
        if let Some(error) = errors.first() {
            report_once(id, &error.to_string());
        }
        text.into_owned()
    }
}

/// Logs a message that could not be given, once per id rather than on every
/// page that asks for it.
fn report_once(id: &str, problem: &str) {
    static REPORTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let first_time = REPORTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.to_owned());
    if first_time {
        tracing::error!(
            id,
            problem,
            "a page asked for text the catalogue cannot give"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    /// The templates of the help center, which must take all their text from
    /// the catalogue. Agent and admin pages do not, yet.
    const HELP_CENTER_TEMPLATES: [&str; 28] = [
        "layout/base.html",
        "account/confirm_first.html",
        "layout/chrome_nav.html",
        "layout/error.html",
        "account/login.html",
        "account/login_two_factor.html",
        "account/forgot_password.html",
        "account/new_password.html",
        "help_center/register.html",
        "help_center/verify_email.html",
        "account/overview.html",
        "account/password.html",
        "account/two_factor.html",
        "help_center/kb_home.html",
        "help_center/kb_category.html",
        "help_center/kb_article.html",
        "help_center/news_list.html",
        "help_center/news_post.html",
        "help_center/home.html",
        "help_center/new_ticket.html",
        "help_center/ticket.html",
        "help_center/ticket_sent.html",
        "help_center/tickets.html",
        "help_center/search.html",
        "help_center/chat.html",
        "help_center/chat_panel.html",
        "help_center/chat_embedded.html",
        "layout/ticket_field_input.html",
    ];

    fn crate_path(relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }

    /// Every file under `directory` whose name ends in `extension`.
    fn files_under(directory: &Path, extension: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path, extension));
            } else if path.extension().is_some_and(|found| found == extension) {
                found.push(path);
            }
        }
        found
    }

    /// The ids that calls of `t` and `t_with` in some source ask for: the
    /// string literal right after the opening parenthesis.
    fn ids_asked_for(source: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for call in ["t(\"", "t_with(\""] {
            for (at, _) in source.match_indices(call) {
                let before = source[..at].chars().next_back();
                if before.is_some_and(|character| character.is_alphanumeric() || character == '_') {
                    continue; // Some other function whose name ends the same.
                }
                let rest = &source[at + call.len()..];
                if let Some(end) = rest.find('"') {
                    ids.push(rest[..end].to_owned());
                }
            }
        }
        ids
    }

    /// Every id asked for by a template or a Rust source of this crate, with
    /// the file that asks.
    fn ids_asked_for_anywhere() -> Vec<(String, PathBuf)> {
        let mut files = files_under(&crate_path("templates"), "html");
        files.extend(files_under(&crate_path("src"), "rs"));
        files
            .into_iter()
            .flat_map(|file| {
                let source = std::fs::read_to_string(&file).unwrap();
                ids_asked_for(&source)
                    .into_iter()
                    .map(move |id| (id, file.clone()))
            })
            .collect()
    }

    /// The ids of the messages a catalogue defines: lines that start with an
    /// identifier followed by `=` (comments start with `#`, terms with `-`,
    /// and the lines of a message that go on are indented).
    fn ids_defined(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter(|line| line.starts_with(|first: char| first.is_ascii_alphabetic()))
            .filter_map(|line| line.split_once('=').map(|(id, _)| id.trim()))
            .collect()
    }

    /// `text` with every span from `open` to the next `close` taken out.
    fn without(text: &str, open: &str, close: &str) -> String {
        let mut kept = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(open) {
            kept.push_str(&rest[..start]);
            rest = match rest[start + open.len()..].find(close) {
                Some(end) => &rest[start + open.len() + end + close.len()..],
                None => "",
            };
        }
        kept.push_str(rest);
        kept
    }

    fn without_code(template: &str) -> String {
        let template = without(template, "{#", "#}");
        let template = without(&template, "{%", "%}");
        without(&template, "{{", "}}")
    }

    /// What is left of a template once its code, comments, tags and
    /// character references are taken out: the text it shows as it is.
    fn shown_as_is(template: &str) -> String {
        let text = without(&without_code(template), "<", ">");
        without(&text, "&", ";")
    }

    fn has_letters(text: &str) -> bool {
        text.chars().any(char::is_alphabetic)
    }

    /// The attributes people read (placeholders, labels, titles, alternative
    /// text) whose values have letters outside `{{ … }}`.
    fn attributes_with_text(template: &str) -> Vec<String> {
        let code_free = without_code(template);
        let mut found = Vec::new();
        for attribute in ["placeholder", "aria-label", "title", "alt"] {
            let opening = format!(" {attribute}=\"");
            for (at, _) in code_free.match_indices(&opening) {
                let value = &code_free[at + opening.len()..];
                let value = &value[..value.find('"').unwrap_or(value.len())];
                if has_letters(value) {
                    found.push(format!("{attribute}=\"{value}\""));
                }
            }
        }
        found
    }

    #[test]
    fn the_catalogue_parses_and_gives_each_id_once() {
        let catalogue = Catalogue::load("en", ENGLISH);
        assert!(catalogue.problems.is_empty(), "{:#?}", catalogue.problems);
        let ids = ids_defined(ENGLISH);
        let distinct: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), distinct.len(), "an id is defined twice");
        assert!(ids.len() > 100, "the catalogue was read: {} ids", ids.len());
    }

    #[test]
    fn a_catalogue_with_a_mistake_is_caught() {
        let broken = Catalogue::load("en", "greeting = Hello { $name\n");
        assert!(!broken.problems.is_empty(), "a syntax error is found");
        let twice = Catalogue::load("en", "greeting = Hello\ngreeting = Hi\n");
        assert!(!twice.problems.is_empty(), "an id given twice is found");
    }

    #[test]
    fn every_id_the_pages_ask_for_is_in_the_catalogue() {
        let asked = ids_asked_for_anywhere();
        assert!(
            asked.len() > 100,
            "the sources were read: {} calls",
            asked.len()
        );
        let missing: Vec<String> = asked
            .iter()
            .filter(|(id, _)| !CATALOGUE.bundle.has_message(id))
            .map(|(id, file)| format!("{id} (asked for in {})", file.display()))
            .collect();
        assert!(missing.is_empty(), "not in the catalogue: {missing:#?}");
    }

    #[test]
    fn every_message_in_the_catalogue_is_used() {
        let asked: BTreeSet<String> = ids_asked_for_anywhere()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let unused: Vec<&str> = ids_defined(ENGLISH)
            .into_iter()
            .filter(|id| !asked.contains(*id))
            .collect();
        assert!(unused.is_empty(), "never asked for: {unused:#?}");
    }

    #[test]
    fn the_help_center_templates_take_all_their_text_from_the_catalogue() {
        let mut own_text = Vec::new();
        for name in HELP_CENTER_TEMPLATES {
            let template = std::fs::read_to_string(crate_path("templates").join(name)).unwrap();
            let shown = shown_as_is(&template);
            if has_letters(&shown) {
                let words = shown.split_whitespace().collect::<Vec<_>>().join(" ");
                own_text.push(format!("{name}: {words:?}"));
            }
            for attribute in attributes_with_text(&template) {
                own_text.push(format!("{name}: {attribute}"));
            }
        }
        assert!(own_text.is_empty(), "text of their own: {own_text:#?}");
    }

    #[test]
    fn the_template_check_finds_text_left_in_a_template() {
        assert!(has_letters(&shown_as_is(
            "<p>{{ crate::text::t(\"kb-popular\") }} more</p>"
        )));
        assert!(!has_letters(&shown_as_is(
            "{% if a %}<p class=\"x\">{{ crate::text::t(\"kb-popular\") }} &middot; </p>{% endif %}"
        )));
        assert_eq!(
            attributes_with_text(
                "<nav aria-label=\"Main\"><img alt=\"{{ crate::text::t(\"nav-main\") }}\"></nav>"
            ),
            ["aria-label=\"Main\""]
        );
    }

    #[test]
    fn a_message_fills_its_placeholders_and_chooses_its_plural() {
        assert_eq!(
            t_with("account-recovery-codes-left", &[("count", &9_usize)]),
            "9 unused recovery codes left."
        );
        assert_eq!(
            t_with("account-recovery-codes-left", &[("count", &1_usize)]),
            "1 unused recovery code left."
        );
        assert_eq!(
            t_with(
                "ticket-opened-handled",
                &[
                    ("time", &"2026-05-01 10:00"),
                    ("requester", &"Uma"),
                    ("agent", &String::from("Alan")),
                ]
            ),
            "opened 2026-05-01 10:00 by Uma, handled by Alan"
        );
    }

    #[test]
    fn an_unknown_id_is_shown_as_it_is_rather_than_failing_the_page() {
        let unknown = "kb-no-such-message";
        assert_eq!(t(unknown), unknown);
        assert_eq!(t_with(unknown, &[("count", &3_i64)]), unknown);
    }
}
