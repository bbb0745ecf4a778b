//! The agents' search language, read into words, phrases and filters.
//! Anything typed is a valid query: an unknown `key:` is read as words,
//! unbalanced quotes close at the end, and words are cut to runs of
//! letters and digits before they go anywhere near the database. What a
//! filter's value means (a department's name, an agent) is resolved by the
//! use case; here it is only split off and, where it can be, checked.

use ferrodesk_store::{Comparison, TextTerm};

/// Words and phrases a query may have; more are ignored.
const MAX_TERMS: usize = 16;
/// Letters kept of one word.
const MAX_WORD_CHARS: usize = 60;
/// Filters a query may have; more are ignored.
const MAX_FILTERS: usize = 16;

/// Which property a filter is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKey {
    Status,
    Department,
    Agent,
    Team,
    Label,
    From,
    Organization,
    Urgency,
    Created,
    Updated,
    Resolved,
    Reopened,
    Channel,
    Has,
    Is,
    Sla,
}

impl FilterKey {
    fn parse(key: &str) -> Option<FilterKey> {
        Some(match key.to_lowercase().as_str() {
            "status" => FilterKey::Status,
            "department" | "dept" => FilterKey::Department,
            "agent" | "assignee" => FilterKey::Agent,
            "team" => FilterKey::Team,
            "label" | "tag" => FilterKey::Label,
            "from" | "requester" => FilterKey::From,
            "org" | "organization" => FilterKey::Organization,
            "urgency" => FilterKey::Urgency,
            "created" => FilterKey::Created,
            "updated" => FilterKey::Updated,
            "resolved" => FilterKey::Resolved,
            "reopened" => FilterKey::Reopened,
            "channel" | "via" => FilterKey::Channel,
            "has" => FilterKey::Has,
            "is" => FilterKey::Is,
            "sla" => FilterKey::Sla,
            _ => return None,
        })
    }
}

/// One `key:value` of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFilter {
    pub key: FilterKey,
    pub value: String,
    pub negated: bool,
}

/// A query as typed, split up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub words: Vec<TextTerm>,
    pub excluded_words: Vec<TextTerm>,
    pub filters: Vec<RawFilter>,
}

/// Lower-case runs of letters and digits.
pub fn words_of(text: &str) -> Vec<String> {
    text.split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.to_lowercase().chars().take(MAX_WORD_CHARS).collect())
        .collect()
}

/// One token of the query: its text, whether it was quoted, whether it
/// began with `-`.
struct Token {
    text: String,
    quoted: bool,
    negated: bool,
}

/// Splits on white space, keeping quoted stretches (also a quoted filter
/// value: `org:"Acme Inc"`) together.
fn tokens(query: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut characters = query.chars().peekable();
    loop {
        while characters.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = characters.peek() else {
            break;
        };
        let mut negated = false;
        if first == '-' {
            characters.next();
            negated = true;
        }
        let mut text = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        while let Some(&character) = characters.peek() {
            if character == '"' {
                characters.next();
                quoted = true;
                in_quotes = !in_quotes;
                continue;
            }
            if character.is_whitespace() && !in_quotes {
                break;
            }
            text.push(character);
            characters.next();
        }
        if !text.is_empty() {
            tokens.push(Token {
                text,
                quoted,
                negated,
            });
        }
    }
    tokens
}

/// Reads a query.
pub fn parse_query(query: &str) -> ParsedQuery {
    let mut parsed = ParsedQuery::default();
    for token in tokens(query) {
        if let Some((key, value)) = token.text.split_once(':')
            && let Some(key) = FilterKey::parse(key)
            && !value.trim().is_empty()
        {
            if parsed.filters.len() < MAX_FILTERS {
                parsed.filters.push(RawFilter {
                    key,
                    value: value.trim().to_owned(),
                    negated: token.negated,
                });
            }
            continue;
        }
        let words = words_of(&token.text);
        if words.is_empty() {
            continue;
        }
        let terms: Vec<TextTerm> = if token.quoted && words.len() > 1 {
            vec![TextTerm {
                words,
                prefix: false,
            }]
        } else {
            // An unquoted token like "e-mail" or "v2.1" is several words,
            // each of which must match; `print*` is a prefix.
            let starred = !token.quoted && token.text.ends_with('*');
            let count = words.len();
            words
                .into_iter()
                .enumerate()
                .map(|(index, word)| TextTerm {
                    words: vec![word],
                    prefix: starred && index + 1 == count,
                })
                .collect()
        };
        let list = if token.negated {
            &mut parsed.excluded_words
        } else {
            &mut parsed.words
        };
        for term in terms {
            if list.len() < MAX_TERMS {
                list.push(term);
            }
        }
    }
    // Words match whole; a word typed with a `*` after it (`print*`)
    // matches every word it begins. A prefix has to gather the lists of
    // every such word before the first result, which at a million tickets
    // costs a common one over a second, so it is asked for, not assumed.
    for term in parsed.words.iter_mut().chain(&mut parsed.excluded_words) {
        term.prefix &= term.words.len() == 1;
    }
    parsed
}

/// `>5`, `>=5`, `<5`, `<=5` or `5`, with what follows the operator.
pub fn comparison(value: &str) -> (Comparison, &str) {
    let value = value.trim();
    for (prefix, comparison) in [
        (">=", Comparison::AtLeast),
        ("<=", Comparison::AtMost),
        (">", Comparison::Above),
        ("<", Comparison::Below),
        ("=", Comparison::Equal),
    ] {
        if let Some(rest) = value.strip_prefix(prefix) {
            return (comparison, rest.trim());
        }
    }
    (Comparison::Equal, value)
}

/// A moment a date filter names, in unix milliseconds, and how tickets
/// compare to it: `>2026-01-01` (after that day ended), `<2026-01-01`,
/// `2026-01-01` (that day, as two bounds), `<7d` (less than seven days
/// ago: newer than then), `>7d` (longer ago). Days are the reader's:
/// from midnight to midnight in `zone` (so a day with a clock change has
/// 23 or 25 hours). `None` when it names no time.
pub fn date_bounds(
    value: &str,
    now_millis: i64,
    zone: &jiff::tz::TimeZone,
) -> Option<Vec<(Comparison, i64)>> {
    const DAY: i64 = 24 * 60 * 60 * 1000;
    let (comparison, rest) = comparison(value);
    let ago = |amount: &str, unit: i64| -> Option<i64> {
        let amount: i64 = amount.parse().ok().filter(|amount| *amount <= 100_000)?;
        Some(now_millis - amount * unit)
    };
    let relative = match rest.char_indices().last() {
        Some((index, 'h')) => ago(&rest[..index], DAY / 24),
        Some((index, 'd')) => ago(&rest[..index], DAY),
        Some((index, 'w')) => ago(&rest[..index], 7 * DAY),
        _ => None,
    };
    if let Some(moment) = relative {
        // "<7d": less than seven days ago, so after that moment.
        return Some(vec![match comparison {
            Comparison::Below | Comparison::AtMost => (Comparison::AtLeast, moment),
            Comparison::Above | Comparison::AtLeast => (Comparison::Below, moment),
            Comparison::Equal => (Comparison::AtLeast, moment),
        }]);
    }
    let (day, next) = day_bounds(rest, zone)?;
    Some(match comparison {
        Comparison::Equal => vec![(Comparison::AtLeast, day), (Comparison::Below, next)],
        Comparison::Above => vec![(Comparison::AtLeast, next)],
        Comparison::AtLeast => vec![(Comparison::AtLeast, day)],
        Comparison::Below => vec![(Comparison::Below, day)],
        Comparison::AtMost => vec![(Comparison::Below, next)],
    })
}

/// When `YYYY-MM-DD` begins and the day after it begins, in `zone`.
fn day_bounds(text: &str, zone: &jiff::tz::TimeZone) -> Option<(i64, i64)> {
    let date: jiff::civil::Date = text.parse().ok()?;
    if date.year() < 1970 {
        return None;
    }
    let start = |date: jiff::civil::Date| -> Option<i64> {
        Some(
            date.to_zoned(zone.clone())
                .ok()?
                .timestamp()
                .as_millisecond(),
        )
    };
    Some((start(date)?, start(date.tomorrow().ok()?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> TextTerm {
        TextTerm {
            words: vec![text.to_owned()],
            prefix: false,
        }
    }

    fn prefix(text: &str) -> TextTerm {
        TextTerm {
            words: vec![text.to_owned()],
            prefix: true,
        }
    }

    #[test]
    fn words_phrases_filters_and_negation_are_told_apart() {
        let parsed = parse_query(
            r#"Printer "paper jam" -toner status:open -label:vip org:"Acme Inc" urgency:>5 nonsense:x print*"#,
        );
        assert_eq!(
            parsed.words,
            vec![
                word("printer"),
                TextTerm {
                    words: vec!["paper".into(), "jam".into()],
                    prefix: false
                },
                word("nonsense"),
                word("x"),
                prefix("print"),
            ]
        );
        assert_eq!(parsed.excluded_words, vec![word("toner")]);
        let filters: Vec<(FilterKey, &str, bool)> = parsed
            .filters
            .iter()
            .map(|filter| (filter.key, filter.value.as_str(), filter.negated))
            .collect();
        assert_eq!(
            filters,
            vec![
                (FilterKey::Status, "open", false),
                (FilterKey::Label, "vip", true),
                (FilterKey::Organization, "Acme Inc", false),
                (FilterKey::Urgency, ">5", false),
            ]
        );
    }

    #[test]
    fn any_input_is_a_query() {
        for input in [
            "\"",
            "-",
            "--",
            ":",
            "status:",
            "\"unclosed phrase",
            "a\u{0}b",
            "💥 \u{202e}x",
            "NEAR(a b)",
            "*",
            "a OR b",
            "{notes}:x",
            "'; DROP TABLE tickets; --",
        ] {
            let parsed = parse_query(input);
            for term in parsed.words.iter().chain(&parsed.excluded_words) {
                assert!(
                    term.words
                        .iter()
                        .all(|word| word.chars().all(char::is_alphanumeric)),
                    "{input:?}"
                );
            }
        }
        assert_eq!(parse_query(&"word ".repeat(100)).words.len(), MAX_TERMS);
    }

    #[test]
    fn dates_and_comparisons_are_read() {
        const DAY: i64 = 86_400_000;
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(day_bounds("1970-01-02", &utc), Some((DAY, 2 * DAY)));
        assert_eq!(
            day_bounds("2026-01-01", &utc).map(|(day, _)| day),
            Some(1_767_225_600_000)
        );
        assert_eq!(day_bounds("2026-13-01", &utc), None);
        // A day in Vienna begins an hour before UTC's; the day the clocks
        // go forward has 23 hours.
        let vienna = jiff::tz::TimeZone::get("Europe/Vienna").unwrap();
        assert_eq!(
            day_bounds("2026-01-01", &vienna),
            Some((
                1_767_225_600_000 - 3_600_000,
                1_767_225_600_000 - 3_600_000 + DAY
            ))
        );
        let (start, end) = day_bounds("2026-03-29", &vienna).unwrap();
        assert_eq!(end - start, 23 * 3_600_000);
        let now = 100 * DAY;
        assert_eq!(
            date_bounds("<7d", now, &utc),
            Some(vec![(Comparison::AtLeast, 93 * DAY)])
        );
        assert_eq!(
            date_bounds(">2w", now, &utc),
            Some(vec![(Comparison::Below, 86 * DAY)])
        );
        assert_eq!(
            date_bounds("1970-01-02", now, &utc),
            Some(vec![
                (Comparison::AtLeast, DAY),
                (Comparison::Below, 2 * DAY)
            ])
        );
        assert_eq!(date_bounds("soon", now, &utc), None);
        assert_eq!(comparison(">=5"), (Comparison::AtLeast, "5"));
        assert_eq!(comparison("5"), (Comparison::Equal, "5"));
    }
}
