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
    // No text anywhere has a use for NUL, and PostgreSQL refuses it.
    if decoded.contains(&0) {
        return Err(WebError::BadRequest(
            "The form contains a NUL character.".into(),
        ));
    }
    String::from_utf8(decoded)
        .map_err(|_| WebError::BadRequest("The form contains text that is not valid UTF-8.".into()))
}

/// A form's fields as `T`; what does not fit is a bad request.
pub(crate) fn typed<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, WebError> {
    crate::form_values::from_pairs(pairs).map_err(|error| {
        tracing::debug!(%error, "a form did not fit its type");
        WebError::BadRequest("The form is missing a field or has a malformed one.".into())
    })
}

/// The one way a form is read: like axum's `Form`, but strict about
/// encoding (invalid UTF-8 and NUL are refused, never mangled), with
/// repeated fields as lists, and answering with our error pages. Its CSRF
/// token was already checked by the surface middleware.
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
        let pairs = parse_pairs(&body)?;
        Ok(HtmlForm(typed(&pairs)?))
    }
}

/// A value sent once, or several times (the choices of a multiple-choice
/// custom field).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The custom-field inputs of a form (`field_<id>`), as (id, value) pairs,
/// a multiple-choice field once per choice. A struct collects them with
/// `#[serde(flatten)] others: BTreeMap<String, OneOrMany>` (whose other
/// fields then read as text: serde buffers a flattened struct).
pub(crate) fn custom_field_values(
    others: &std::collections::BTreeMap<String, OneOrMany>,
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (field, value) in others {
        let Some(id) = field.strip_prefix("field_") else {
            continue;
        };
        match value {
            OneOrMany::One(value) => pairs.push((id.to_owned(), value.clone())),
            OneOrMany::Many(values) => {
                pairs.extend(values.iter().map(|value| (id.to_owned(), value.clone())));
            }
        }
    }
    pairs
}

/// The text fields of a multipart form may take this much in all.
const MULTIPART_TEXT_LIMIT: usize = 512 * 1024;

/// A message form: its text fields and the files that came with it, stored
/// as they arrived. A file refused (too large, a blocked type, one too many)
/// leaves an error here and the rest of the form intact, so nothing typed
/// is lost.
pub(crate) struct MessageForm {
    /// The text fields as sent; `fields` reads them as a typed form.
    pairs: Vec<(String, String)>,
    pub files: Vec<ferrodesk_app::UploadedFile>,
    pub file_errors: ferrodesk_app::FieldErrors,
}

fn unreadable() -> WebError {
    WebError::BadRequest("The form could not be read (it may be too large).".into())
}

impl MessageForm {
    /// The text fields as `T`, read like every other form.
    pub fn fields<T: DeserializeOwned>(&self) -> Result<T, WebError> {
        typed(&self.pairs)
    }

    /// Reads an urlencoded form (no files) or a multipart one, storing its
    /// files for `actor`.
    pub async fn read(
        app: &ferrodesk_app::App,
        actor: &ferrodesk_app::Actor,
        request: Request,
    ) -> Result<MessageForm, WebError> {
        use ferrodesk_app::{AppError, FieldErrors};

        if !crate::body_limit::is_multipart(request.headers()) {
            if !is_urlencoded(request.headers()) {
                return Err(WebError::BadRequest(
                    "Send this form as application/x-www-form-urlencoded.".into(),
                ));
            }
            let body = Bytes::from_request(request, &())
                .await
                .map_err(|_| unreadable())?;
            return Ok(MessageForm {
                pairs: parse_pairs(&body)?,
                files: Vec::new(),
                file_errors: FieldErrors::new(),
            });
        }
        let mut multipart = axum::extract::Multipart::from_request(request, &())
            .await
            .map_err(|_| unreadable())?;
        let most_files = app.settings().await?.attachments.max_files_per_message as usize;
        let mut pairs = Vec::new();
        let mut files = Vec::new();
        let mut file_errors = FieldErrors::new();
        let mut text_bytes = 0;
        let mut told_too_many = false;
        while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
            let name = field.name().unwrap_or_default().to_owned();
            let Some(file_name) = field.file_name().map(str::to_owned) else {
                let value = field.bytes().await.map_err(|_| unreadable())?;
                text_bytes += value.len();
                if text_bytes > MULTIPART_TEXT_LIMIT {
                    return Err(unreadable());
                }
                let value = String::from_utf8(value.to_vec()).map_err(|_| {
                    WebError::BadRequest("The form contains text that is not valid UTF-8.".into())
                })?;
                if value.contains('\0') {
                    return Err(WebError::BadRequest(
                        "The form contains a NUL character.".into(),
                    ));
                }
                pairs.push((name, value));
                continue;
            };
            // A file input left empty still sends a part, without a name.
            if file_name.is_empty() || name != "attachments" {
                continue;
            }
            if files.len() >= most_files {
                if !told_too_many {
                    told_too_many = true;
                    file_errors.add(
                        "attachments",
                        format!("Attach at most {most_files} files to one message."),
                    );
                }
                continue;
            }
            let mut upload = match app.begin_upload(actor, &file_name).await {
                Ok(upload) => upload,
                Err(AppError::Invalid(errors)) => {
                    file_errors.merge(errors);
                    continue;
                }
                Err(other) => return Err(other.into()),
            };
            let mut refused = None;
            while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                if let Err(error) = upload.write(&chunk).await {
                    refused = Some(error);
                    break;
                }
            }
            match refused {
                None => files.push(app.finish_upload(upload).await?),
                Some(AppError::Invalid(errors)) => file_errors.merge(errors),
                Some(other) => return Err(other.into()),
            }
        }
        Ok(MessageForm {
            pairs,
            files,
            file_errors,
        })
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
