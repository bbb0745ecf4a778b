//! The rules a new password must meet. Agents and help-center users have
//! separate policies; the defaults follow SECURITY.md (C2, C3).

use serde::{Deserialize, Serialize};

/// Input longer than this is refused before any hashing, so a megabyte-long
/// "password" costs nothing. It is far above any policy's maximum length.
pub const MAX_PASSWORD_INPUT_BYTES: usize = 1024;

/// The longest maximum length a policy may set; at least 128 characters must
/// always be allowed (C2).
pub const LONGEST_ALLOWED_PASSWORD: usize = 256;

/// The lowest minimum length a policy may set.
pub const MIN_POLICY_LENGTH: usize = 8;
/// The lowest maximum length a policy may set (C2: at least 128).
pub const SHORTEST_MAXIMUM: usize = 128;
pub const MAX_AGE_DAYS: u32 = 3650;
/// The most earlier passwords a policy may forbid; matches the store's history.
pub const MAX_REUSE_HISTORY: u32 = 24;

/// zxcvbn's cost grows quickly with length; beyond this prefix a password is
/// already long enough that the estimate cannot change the verdict.
const STRENGTH_ESTIMATE_PREFIX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    /// zxcvbn score from 0 (anything) to 4 (very strong). Scores below 3 are
    /// the passwords found in common-password lists and simple patterns.
    pub min_strength: u8,
    /// Days after which a password must be changed; 0 means never.
    pub max_age_days: u32,
    /// How many earlier passwords may not be used again.
    pub reuse_history: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    #[error("Include a lowercase letter.")]
    NeedsLowercase,
    #[error("Include an uppercase letter.")]
    NeedsUppercase,
    #[error("Include a digit.")]
    NeedsDigit,
    #[error("Include a symbol.")]
    NeedsSymbol,
    #[error("This password is too easy to guess: avoid common words, names and patterns.")]
    TooWeak,
    #[error("You have used this password before; choose a new one.")]
    Reused,
}

impl PasswordPolicy {
    pub fn agent_default() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 12,
            max_length: LONGEST_ALLOWED_PASSWORD,
            require_lowercase: false,
            require_uppercase: false,
            require_digit: false,
            require_symbol: false,
            min_strength: 3,
            max_age_days: 0,
            reuse_history: 5,
        }
    }

    pub fn user_default() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 10,
            min_strength: 2,
            reuse_history: 0,
            ..PasswordPolicy::agent_default()
        }
    }

    /// What is wrong with the policy itself, as (field, message), for the
    /// admin form: lengths in range and in order, a strength score 0-4, an
    /// age and a history within reason.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(MIN_POLICY_LENGTH..=LONGEST_ALLOWED_PASSWORD).contains(&self.min_length) {
            problems.push((
                "min_length",
                format!("The minimum length is between {MIN_POLICY_LENGTH} and {LONGEST_ALLOWED_PASSWORD}."),
            ));
        }
        if !(SHORTEST_MAXIMUM..=LONGEST_ALLOWED_PASSWORD).contains(&self.max_length) {
            problems.push((
                "max_length",
                format!("The maximum length is between {SHORTEST_MAXIMUM} and {LONGEST_ALLOWED_PASSWORD}."),
            ));
        } else if self.min_length > self.max_length {
            problems.push((
                "min_length",
                "The minimum length cannot be above the maximum.".to_owned(),
            ));
        }
        if self.min_strength > 4 {
            problems.push((
                "min_strength",
                "The strength score is from 0 to 4.".to_owned(),
            ));
        }
        if self.max_age_days > MAX_AGE_DAYS {
            problems.push((
                "max_age_days",
                format!("The maximum age is at most {MAX_AGE_DAYS} days (0: never expires)."),
            ));
        }
        if self.reuse_history > MAX_REUSE_HISTORY {
            problems.push((
                "reuse_history",
                format!("Remember at most {MAX_REUSE_HISTORY} earlier passwords."),
            ));
        }
        problems
    }

    /// Whether a password set at `changed_at` (unix ms) is too old at `now`.
    pub fn is_expired(&self, changed_at: Option<i64>, now: i64) -> bool {
        if self.max_age_days == 0 {
            return false;
        }
        let max_age_millis = i64::from(self.max_age_days) * 24 * 60 * 60 * 1000;
        changed_at.is_some_and(|changed_at| now - changed_at >= max_age_millis)
    }

    /// Checks a candidate password. `personal_words` (the person's name and
    /// email) count against its strength, so "ada.lovelace2024" is weak for Ada.
    pub fn check(
        &self,
        password: &str,
        personal_words: &[&str],
    ) -> Result<(), Vec<PasswordProblem>> {
        let mut problems = Vec::new();
        let length = password.chars().count();
        if length < self.min_length {
            problems.push(PasswordProblem::TooShort(self.min_length));
        }
        if length > self.max_length || password.len() > MAX_PASSWORD_INPUT_BYTES {
            problems.push(PasswordProblem::TooLong(self.max_length));
        }
        if self.require_lowercase && !password.chars().any(char::is_lowercase) {
            problems.push(PasswordProblem::NeedsLowercase);
        }
        if self.require_uppercase && !password.chars().any(char::is_uppercase) {
            problems.push(PasswordProblem::NeedsUppercase);
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            problems.push(PasswordProblem::NeedsDigit);
        }
        if self.require_symbol
            && !password
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        {
            problems.push(PasswordProblem::NeedsSymbol);
        }
        if problems.is_empty()
            && self.min_strength > 0
            && strength(password, personal_words) < self.min_strength
        {
            problems.push(PasswordProblem::TooWeak);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn strength(password: &str, personal_words: &[&str]) -> u8 {
    let prefix: String = password.chars().take(STRENGTH_ESTIMATE_PREFIX).collect();
    let mut words: Vec<&str> = Vec::new();
    for word in personal_words {
        words.push(word);
        words.extend(
            word.split(|c: char| !c.is_alphanumeric())
                .filter(|part| part.len() > 2),
        );
    }
    u8::from(zxcvbn::zxcvbn(&prefix, &words).score())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_with_lengths_out_of_order_or_range_is_refused() {
        assert!(PasswordPolicy::agent_default().problems().is_empty());
        let backwards = PasswordPolicy {
            min_length: 200,
            max_length: 150,
            ..PasswordPolicy::agent_default()
        };
        assert_eq!(backwards.problems()[0].0, "min_length");
        let short_maximum = PasswordPolicy {
            max_length: 64,
            ..PasswordPolicy::agent_default()
        };
        assert_eq!(short_maximum.problems()[0].0, "max_length");
        let odd = PasswordPolicy {
            min_strength: 5,
            reuse_history: 100,
            ..PasswordPolicy::agent_default()
        };
        let fields: Vec<_> = odd.problems().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["min_strength", "reuse_history"]);
    }

    #[test]
    fn a_password_expires_after_the_maximum_age() {
        let day = 24 * 60 * 60 * 1000;
        let policy = PasswordPolicy {
            max_age_days: 90,
            ..PasswordPolicy::agent_default()
        };
        assert!(!policy.is_expired(Some(0), 89 * day));
        assert!(policy.is_expired(Some(0), 90 * day));
        assert!(!PasswordPolicy::agent_default().is_expired(Some(0), 9000 * day));
    }

    #[test]
    fn the_agent_default_refuses_short_and_common_passwords() {
        let policy = PasswordPolicy::agent_default();
        assert_eq!(
            policy.check("short", &[]),
            Err(vec![PasswordProblem::TooShort(12)])
        );
        assert_eq!(
            policy.check("password1234", &[]),
            Err(vec![PasswordProblem::TooWeak])
        );
        assert_eq!(
            policy.check("qwertyuiop123", &[]),
            Err(vec![PasswordProblem::TooWeak])
        );
        assert!(policy.check("correct horse battery staple", &[]).is_ok());
    }

    #[test]
    fn personal_words_weaken_a_password() {
        let policy = PasswordPolicy::agent_default();
        assert!(policy.check("ada.lovelace@example.org1", &[]).is_ok());
        assert_eq!(
            policy.check(
                "ada.lovelace@example.org1",
                &["Ada Lovelace", "ada.lovelace@example.org"]
            ),
            Err(vec![PasswordProblem::TooWeak])
        );
    }

    #[test]
    fn character_classes_are_enforced_when_required() {
        let policy = PasswordPolicy {
            require_lowercase: true,
            require_uppercase: true,
            require_digit: true,
            require_symbol: true,
            min_strength: 0,
            ..PasswordPolicy::agent_default()
        };
        assert_eq!(
            policy.check("ALLUPPERCASEONLY", &[]),
            Err(vec![
                PasswordProblem::NeedsLowercase,
                PasswordProblem::NeedsDigit,
                PasswordProblem::NeedsSymbol
            ])
        );
        assert!(policy.check("Upper-lower-123", &[]).is_ok());
    }

    #[test]
    fn passwords_up_to_the_maximum_are_allowed_and_longer_ones_refused() {
        let policy = PasswordPolicy::agent_default();
        let long_but_allowed: String = "zq8!Vw3#".repeat(32);
        assert_eq!(long_but_allowed.chars().count(), 256);
        assert!(policy.check(&long_but_allowed, &[]).is_ok());
        let too_long = format!("{long_but_allowed}x");
        assert_eq!(
            policy.check(&too_long, &[]),
            Err(vec![PasswordProblem::TooLong(256)])
        );
    }
}
