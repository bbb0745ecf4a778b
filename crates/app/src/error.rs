use ferrodesk_store::StoreError;

/// Messages for the fields of a form that did not pass validation, in the
/// order the fields appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(&'static str, String, Problem)>);

/// What is wrong with a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    /// Not a value the field takes (blank, too long, not an address):
    /// what a schema can state.
    Malformed,
    /// Well formed, but it names nothing there is (an id, a page, an
    /// upload) or nothing this can be combined with: what no schema can.
    Unresolved,
}

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into(), Problem::Malformed));
    }

    /// Adds a message for a well-formed value that names nothing there is
    /// (or nothing that goes with the rest): the API answers 422 when
    /// every problem is of this kind, 400 otherwise.
    pub fn add_unresolved(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into(), Problem::Unresolved));
    }

    /// Whether every problem is a value that names nothing there is.
    pub fn only_unresolved(&self) -> bool {
        !self.0.is_empty()
            && self
                .0
                .iter()
                .all(|(_, _, problem)| *problem == Problem::Unresolved)
    }

    /// The value of a field that parsed, or `None` with its message added.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &'static str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed
            .map_err(|error| self.add(field, error.to_string()))
            .ok()
    }

    /// The value that parsed, or `None` with the errors of why not.
    pub fn take<T: Clone>(&mut self, parsed: &Result<T, FieldErrors>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value.clone()),
            Err(errors) => {
                self.merge(errors.clone());
                None
            }
        }
    }

    /// Adds every error of `other`.
    pub fn merge(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(field, message, _)| (*field, message.as_str()))
    }

    pub fn for_field(&self, field: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(name, _, _)| *name == field)
            .map(|(_, message, _)| message.as_str())
            .collect()
    }

    /// `Ok(())` when nothing was added, otherwise the errors.
    pub fn into_result(self) -> AppResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self))
        }
    }
}

/// Everything a use case can answer besides success. The web layer maps each
/// variant to one status code; only `Internal` carries detail, and that
/// detail goes to the error log, never to the person.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the input is not valid")]
    Invalid(FieldErrors),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("sign-in required")]
    Unauthenticated,
    #[error("not permitted")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; try again later")]
    TooManyRequests,
    /// Too many failed logins from this source (for this account, or for
    /// any): refused whatever the password, until the lock ends (in
    /// `retry_after_seconds`) or an admin lifts it.
    #[error("signing in from here is locked for a while after too many failed logins")]
    LoginLocked { retry_after_seconds: u64 },
    /// The password was right but IP allow-listing is on and this address is
    /// not trusted yet: a confirmation link has been mailed.
    #[error("this address is not trusted for this account yet")]
    IpNotTrusted,
    /// The password was right but the account's address is not confirmed
    /// yet: the person may ask for the link again.
    #[error("the account's address is not confirmed yet")]
    AddressUnconfirmed,
    /// The second step of a login is gone (expired, too many wrong codes,
    /// or never started): the password must be given again.
    #[error("the login has expired; start again")]
    LoginChallengeExpired,
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> AppError {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        AppError::Invalid(errors)
    }

    /// A well-formed value that names nothing there is (see
    /// [`FieldErrors::add_unresolved`]).
    pub fn unresolved(field: &'static str, message: impl Into<String>) -> AppError {
        let mut errors = FieldErrors::new();
        errors.add_unresolved(field, message);
        AppError::Invalid(errors)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        match error {
            StoreError::Conflict(what) => AppError::Conflict(format!("{what} already exists.")),
            StoreError::Database(database_error) => AppError::Internal(database_error.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Turns a store `Conflict` (a unique name or address already taken) into
/// a form error on `field`; other store errors stay what they are.
pub(crate) fn taken(
    field: &'static str,
    message: &'static str,
) -> impl FnOnce(StoreError) -> AppError {
    move |error| match error {
        StoreError::Conflict(_) => AppError::unresolved(field, message),
        other => other.into(),
    }
}

/// The cursor of a keyset page, "<sort value>.<id>", as sent back by a
/// "next page" link; empty for the first page.
pub(crate) fn parse_keyset_cursor(cursor: Option<&str>) -> AppResult<Option<(i64, i64)>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(cursor) => cursor
            .split_once('.')
            .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
            .map(Some)
            .ok_or_else(|| AppError::unresolved("after", "That page does not exist.")),
    }
}
