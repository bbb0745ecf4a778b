//! CSV for spreadsheet programs: UTF-8 with a byte-order mark, fields
//! quoted when they hold a separator, a quote or a line break, and cells
//! that a spreadsheet would read as a formula (beginning with `=`, `+`,
//! `-`, `@`, a tab or a carriage return) neutralised with a leading `'`.

/// What a file starts with, so spreadsheet programs read it as UTF-8.
pub const BYTE_ORDER_MARK: &str = "\u{feff}";

/// One cell, safe to open in a spreadsheet.
pub fn cell(text: &str) -> String {
    let neutral = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// One line of cells, ended with CRLF (RFC 4180).
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = cells
        .iter()
        .map(|text| cell(text.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_separators_quoted() {
        assert_eq!(
            cell("=HYPERLINK(\"http://evil\")"),
            "\"'=HYPERLINK(\"\"http://evil\"\")\""
        );
        for dangerous in ["+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                cell(dangerous).trim_start_matches('"').starts_with('\''),
                "{dangerous}"
            );
        }
        assert_eq!(cell("plain text"), "plain text");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(line(&["a", "b=c"]), "a,b=c\r\n");
    }
}
