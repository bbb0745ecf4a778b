use std::fmt;

pub const MAX_NAME_LENGTH: usize = 200;

/// A person's display name: trimmed, not empty, no control characters (so it
/// is safe in a mail header), at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Enter a name.")]
    Empty,
    #[error("That name is too long (at most 200 characters).")]
    TooLong,
    #[error("The name contains characters that are not allowed.")]
    ControlCharacters,
}

impl PersonName {
    pub fn parse(input: &str) -> Result<PersonName, NameError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.chars().count() > MAX_NAME_LENGTH {
            return Err(NameError::TooLong);
        }
        if hides_something(text) {
            return Err(NameError::ControlCharacters);
        }
        Ok(PersonName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule of [`PersonName`] and [`hides_something`] as an ECMA-262
/// pattern, for the documents that state it (the OpenAPI document): at
/// least one character that is not a space, and none that is a control
/// character or invisible formatting (the ranges of
/// [`is_invisible_formatting`]). Lengths are stated apart.
pub const NAME_PATTERN: &str = concat!(
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*",
    "[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]",
    "[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
);

/// Text with no control character or invisible formatting, possibly
/// empty: a label or a filter, by the rule of [`hides_something`].
pub const VISIBLE_TEXT_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$";

/// Whether a name holds a control character (a line break in a mail
/// header) or invisible formatting: the one rule for every name people
/// read, a person's or a thing's.
pub fn hides_something(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || is_invisible_formatting(c))
}

/// The name of a thing agents and admins pick from lists (a department,
/// team, organization, custom field, view, report, rule, macro, calendar,
/// webhook): trimmed, not empty, at most a given number of characters,
/// and held to the same rule as a person's name (no control characters,
/// bidirectional overrides or zero-width characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ItemNameError {
    #[error("Give it a name.")]
    Empty,
    #[error("A name has at most {0} characters.")]
    TooLong(usize),
    #[error("A name cannot contain line breaks, control or invisible characters.")]
    Hidden,
}

impl ItemName {
    pub fn parse(input: &str, max_chars: usize) -> Result<ItemName, ItemNameError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ItemNameError::Empty);
        }
        if text.chars().count() > max_chars {
            return Err(ItemNameError::TooLong(max_chars));
        }
        if hides_something(text) {
            return Err(ItemNameError::Hidden);
        }
        Ok(ItemName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Bidirectional overrides and zero-width characters let a name display as
/// something else ("Admin" spelled backwards, an invisible suffix).
pub fn is_invisible_formatting(character: char) -> bool {
    matches!(
        character,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{00AD}'
    )
}

impl fmt::Display for PersonName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn things_are_named_by_the_same_rule() {
        assert_eq!(
            ItemName::parse(" Support ", 100).unwrap().as_str(),
            "Support"
        );
        assert_eq!(ItemName::parse("  ", 100), Err(ItemNameError::Empty));
        assert_eq!(ItemName::parse("abcd", 3), Err(ItemNameError::TooLong(3)));
        for hidden in ["N abc\u{202e}gpj.exe", "Sales\u{200b}", "a\nb", "\u{feff}x"] {
            assert_eq!(
                ItemName::parse(hidden, 100),
                Err(ItemNameError::Hidden),
                "{hidden:?}"
            );
            assert!(PersonName::parse(hidden).is_err(), "{hidden:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            PersonName::parse("  Grace Hopper ").unwrap().as_str(),
            "Grace Hopper"
        );
        assert_eq!(PersonName::parse(" "), Err(NameError::Empty));
        assert_eq!(
            PersonName::parse("Eve\r\nBcc: x"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(PersonName::parse(&"x".repeat(201)), Err(NameError::TooLong));
        assert_eq!(
            PersonName::parse("nimdA\u{202E}"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(
            PersonName::parse("Ada\u{200B}"),
            Err(NameError::ControlCharacters)
        );
        assert!(PersonName::parse("José Núñez 李").is_ok());
    }
}
