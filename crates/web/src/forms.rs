//! Reading `application/x-www-form-urlencoded` bodies strictly: text that is
//! not valid UTF-8 is refused with a 400 rather than silently mangled into
//! replacement characters and stored.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::error::WebError;

/// Whether a request says it carries an urlencoded form.
pub(crate) fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
}

/// Decodes a form body into name/value pairs, refusing invalid UTF-8.
pub(crate) fn parse_pairs(body: &[u8]) -> Result<Vec<(String, String)>, WebError> {
    let mut pairs = Vec::new();
    for piece in body
        .split(|byte| *byte == b'&')
        .filter(|piece| !piece.is_empty())
    {
        let (name, value) = match piece.iter().position(|byte| *byte == b'=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, &[][..]),
        };
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

fn decode(component: &[u8]) -> Result<String, WebError> {
    let spaced: Vec<u8> = component
        .iter()
        .map(|byte| if *byte == b'+' { b' ' } else { *byte })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded)
        .map_err(|_| WebError::BadRequest("The form contains text that is not valid UTF-8.".into()))
}

/// Like axum's `Form`, but strict about encoding and answering with our
/// error pages. Its CSRF token was already checked by the surface middleware.
pub(crate) struct HtmlForm<T>(pub T);

impl<T, S> FromRequest<S> for HtmlForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<HtmlForm<T>, WebError> {
        if !is_urlencoded(request.headers()) {
            return Err(WebError::BadRequest(
                "Send this form as application/x-www-form-urlencoded.".into(),
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            WebError::BadRequest("The form could not be read (it may be too large).".into())
        })?;
        // Validated first, so the decoder below never has to paper over
        // invalid UTF-8 with replacement characters.
        parse_pairs(&body)?;
        let value = serde_urlencoded::from_bytes::<T>(&body).map_err(|_| {
            WebError::BadRequest("The form is missing a field or has a malformed one.".into())
        })?;
        Ok(HtmlForm(value))
    }
}

/// A form read as its (name, value) pairs, for forms with repeated fields
/// (a checkbox per permission, a select per department).
pub(crate) struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`, or "" when the form has none.
    pub fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Every value of `name`, in form order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Every value of `name` as an id; anything else is a bad request.
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, WebError> {
        self.all(name)
            .into_iter()
            .map(|value| {
                value.parse::<i64>().map_err(|_| {
                    WebError::BadRequest(
                        format!("\u{201c}{name}\u{201d} must be a list of ids.").into(),
                    )
                })
            })
            .collect()
    }

    /// (suffix, value) of every field named `prefix` + suffix.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter_map(move |(field, value)| {
            field
                .strip_prefix(prefix)
                .map(|suffix| (suffix, value.as_str()))
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<FormFields, WebError> {
        if !is_urlencoded(request.headers()) {
            return Err(WebError::BadRequest(
                "Send this form as application/x-www-form-urlencoded.".into(),
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            WebError::BadRequest("The form could not be read (it may be too large).".into())
        })?;
        Ok(FormFields(parse_pairs(&body)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded() {
        let pairs = parse_pairs(b"email=ada%40example.org&password=a+b%2Bc&empty=&flag").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("email".into(), "ada@example.org".into()),
                ("password".into(), "a b+c".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into()),
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(parse_pairs(b"name=%FF%FE").is_err());
        assert!(parse_pairs(b"name=\xff").is_err());
    }
}
