//! Custom ticket field kinds and how a value of each is checked and stored.
//! Stored values are canonical text: a number as the parser reads it, a date
//! as YYYY-MM-DD, a ticked checkbox as "1", several choices one per line in
//! the order the field lists them.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Text,
    Multiline,
    Number,
    Date,
    Checkbox,
    Choice,
    MultipleChoice,
}

pub const MAX_FIELD_TEXT_CHARS: usize = 5_000;

impl FieldKind {
    pub const ALL: [FieldKind; 7] = [
        FieldKind::Text,
        FieldKind::Multiline,
        FieldKind::Number,
        FieldKind::Date,
        FieldKind::Checkbox,
        FieldKind::Choice,
        FieldKind::MultipleChoice,
    ];

    pub fn key(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Multiline => "multiline",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Checkbox => "checkbox",
            FieldKind::Choice => "choice",
            FieldKind::MultipleChoice => "multiple_choice",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FieldKind::Text => "Text",
            FieldKind::Multiline => "Multi-line text",
            FieldKind::Number => "Number",
            FieldKind::Date => "Date",
            FieldKind::Checkbox => "Checkbox",
            FieldKind::Choice => "Single choice",
            FieldKind::MultipleChoice => "Multiple choice",
        }
    }

    pub fn from_key(key: &str) -> Option<FieldKind> {
        FieldKind::ALL.into_iter().find(|kind| kind.key() == key)
    }

    pub fn has_choices(self) -> bool {
        matches!(self, FieldKind::Choice | FieldKind::MultipleChoice)
    }

    /// Checks what a form sent for a field of this kind (every value of the
    /// field's name; several only for multiple choice) and returns the
    /// canonical stored text, `None` for "no value", or the reason it is
    /// refused.
    pub fn parse(self, choices: &[&str], sent: &[&str]) -> Result<Option<String>, String> {
        let first = sent.first().map_or("", |value| value.trim());
        match self {
            FieldKind::Text | FieldKind::Multiline => {
                let text = if self == FieldKind::Text {
                    first.to_owned()
                } else {
                    sent.first()
                        .map_or("", |value| value.trim_end())
                        .replace("\r\n", "\n")
                };
                if text.trim().is_empty() {
                    return Ok(None);
                }
                if text.chars().count() > MAX_FIELD_TEXT_CHARS {
                    return Err(format!("At most {MAX_FIELD_TEXT_CHARS} characters."));
                }
                let bad_control =
                    |c: char| c.is_control() && !(self == FieldKind::Multiline && c == '\n');
                if text.chars().any(bad_control) {
                    return Err("Only one line of text.".to_owned());
                }
                Ok(Some(text))
            }
            FieldKind::Number => {
                if first.is_empty() {
                    return Ok(None);
                }
                match first.parse::<f64>() {
                    Ok(number) if number.is_finite() && first.len() <= 30 => {
                        Ok(Some(number.to_string()))
                    }
                    _ => Err("A number, such as 42 or 3.5.".to_owned()),
                }
            }
            FieldKind::Date => {
                if first.is_empty() {
                    return Ok(None);
                }
                parse_date(first)
                    .map(Some)
                    .ok_or_else(|| "A date as YYYY-MM-DD.".to_owned())
            }
            FieldKind::Checkbox => Ok(match first {
                "" | "0" => None,
                _ => Some("1".to_owned()),
            }),
            FieldKind::Choice => {
                if first.is_empty() {
                    return Ok(None);
                }
                choices
                    .iter()
                    .find(|choice| **choice == first)
                    .map(|choice| Some((*choice).to_owned()))
                    .ok_or_else(|| "Choose from the list.".to_owned())
            }
            FieldKind::MultipleChoice => {
                let picked: Vec<&str> = sent
                    .iter()
                    .map(|value| value.trim())
                    .filter(|value| !value.is_empty())
                    .collect();
                if picked.iter().any(|value| !choices.contains(value)) {
                    return Err("Choose from the list.".to_owned());
                }
                let ordered: Vec<&str> = choices
                    .iter()
                    .filter(|choice| picked.contains(choice))
                    .copied()
                    .collect();
                Ok((!ordered.is_empty()).then(|| ordered.join("\n")))
            }
        }
    }
}

/// A calendar date in YYYY-MM-DD, checked for the month's length.
fn parse_date(text: &str) -> Option<String> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year: u32 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    let day: u32 = day.parse().ok()?;
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year >= 1 && (1..=days).contains(&day)).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_kind() {
        assert_eq!(
            FieldKind::Number.parse(&[], &[" 42 "]),
            Ok(Some("42".into()))
        );
        assert_eq!(
            FieldKind::Number.parse(&[], &["3.50"]),
            Ok(Some("3.5".into()))
        );
        assert!(FieldKind::Number.parse(&[], &["NaN"]).is_err());
        assert!(FieldKind::Number.parse(&[], &["12abc"]).is_err());
        assert_eq!(FieldKind::Number.parse(&[], &[""]), Ok(None));
        assert_eq!(
            FieldKind::Date.parse(&[], &["2024-02-29"]),
            Ok(Some("2024-02-29".into()))
        );
        assert!(FieldKind::Date.parse(&[], &["2023-02-29"]).is_err());
        assert!(FieldKind::Date.parse(&[], &["29/02/2024"]).is_err());
        assert_eq!(
            FieldKind::Checkbox.parse(&[], &["on"]),
            Ok(Some("1".into()))
        );
        assert_eq!(FieldKind::Checkbox.parse(&[], &[]), Ok(None));
        let choices = ["Red", "Green", "Blue"];
        assert_eq!(
            FieldKind::Choice.parse(&choices, &["Green"]),
            Ok(Some("Green".into()))
        );
        assert!(FieldKind::Choice.parse(&choices, &["Purple"]).is_err());
        assert_eq!(
            FieldKind::MultipleChoice.parse(&choices, &["Blue", "Red"]),
            Ok(Some("Red\nBlue".into()))
        );
        assert!(
            FieldKind::MultipleChoice
                .parse(&choices, &["Red", "<b>"])
                .is_err()
        );
        assert!(FieldKind::Text.parse(&[], &["two\nlines"]).is_err());
        assert_eq!(
            FieldKind::Multiline.parse(&[], &["two\r\nlines\n"]),
            Ok(Some("two\nlines".into()))
        );
        assert_eq!(FieldKind::Text.parse(&[], &["   "]), Ok(None));
    }
}
