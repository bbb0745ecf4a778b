//! Ticket labels: short, one line, compared without regard to case.

use std::fmt;

pub const MAX_LABEL_CHARS: usize = 50;
pub const MAX_LABELS: usize = 20;

/// One label, trimmed; the same rule whether it is stored or looked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("A label has at most 50 characters and no line breaks.")]
    Malformed,
    #[error("A ticket has at most 20 labels.")]
    TooMany,
}

impl Label {
    /// A label; `None` for text that is empty once trimmed.
    pub fn parse(text: &str) -> Result<Option<Label>, LabelError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > MAX_LABEL_CHARS || crate::hides_something(text) {
            return Err(LabelError::Malformed);
        }
        Ok(Some(Label(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The order labels are shown in, the same on every database.
    fn sort_key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// How labels come out of the database.
impl TryFrom<String> for Label {
    type Error = LabelError;
    fn try_from(text: String) -> Result<Label, LabelError> {
        Label::parse(&text)?.ok_or(LabelError::Malformed)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A ticket's labels: at most 20, unique whatever their case, in one order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Labels from several texts; empty ones and repeats are dropped.
    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Labels, LabelError> {
        let mut labels: Vec<Label> = Vec::new();
        for text in texts {
            let Some(label) = Label::parse(text)? else {
                continue;
            };
            if !labels
                .iter()
                .any(|known| known.0.eq_ignore_ascii_case(&label.0))
            {
                labels.push(label);
            }
        }
        if labels.len() > MAX_LABELS {
            return Err(LabelError::TooMany);
        }
        Ok(Labels::sorted(labels))
    }

    /// Labels from a comma-separated field.
    pub fn parse_list(text: &str) -> Result<Labels, LabelError> {
        Labels::parse(text.split(','))
    }

    /// Labels read back from the store, put in the one order.
    pub fn sorted(mut labels: Vec<Label>) -> Labels {
        labels.sort_by_key(Label::sort_key);
        Labels(labels)
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The labels as text, for the API and the log.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|label| label.0.clone()).collect()
    }

    /// As the ticket page's field shows them.
    pub fn joined(&self) -> String {
        self.0
            .iter()
            .map(Label::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_unique_whatever_the_case_and_sorted() {
        let labels = Labels::parse_list(" billing, Refund ,billing ,BILLING,").unwrap();
        assert_eq!(labels.to_strings(), ["billing", "Refund"]);
        assert_eq!(
            Labels::parse_list(&"x".repeat(51)),
            Err(LabelError::Malformed)
        );
        assert_eq!(Labels::parse(["a\nb"]), Err(LabelError::Malformed));
        let many: Vec<String> = (0..21).map(|n| format!("l{n}")).collect();
        assert_eq!(
            Labels::parse(many.iter().map(String::as_str)),
            Err(LabelError::TooMany)
        );
        assert_eq!(Label::parse("  ").unwrap(), None);
    }
}
