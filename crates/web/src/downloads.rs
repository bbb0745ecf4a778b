//! Serving stored files. Only images whose bytes were recognised on upload
//! are shown inline; everything else goes out as an opaque download, so an
//! uploaded HTML, SVG or XML file can never run in our origin. Every file
//! also carries `nosniff` and a CSP that sandboxes it and allows nothing.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferrodesk_app::{AppError, AttachmentDownload};
use tokio::io::AsyncReadExt;

use crate::error::WebResult;

const ATTACHMENT_CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";
const CHUNK: usize = 64 * 1024;

/// `filename` (plain ASCII, quotes and controls replaced) and `filename*`
/// (RFC 8187, UTF-8 percent-encoded) for a Content-Disposition header.
pub(crate) fn content_disposition(inline: bool, file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String =
        percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC)
            .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub(crate) async fn serve(download: AttachmentDownload) -> WebResult<Response> {
    let file = match tokio::fs::File::open(&download.path).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(sha256 = %download.sha256, "an attachment's file is missing");
            return Err(AppError::NotFound.into());
        }
        Err(error) => return Err(AppError::Internal(format!("attachment: {error}")).into()),
    };
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0; CHUNK];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok::<_, std::io::Error>(buffer), file))
            }
            Err(error) => Some((Err(error), file)),
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    let header_value = |text: &str| {
        HeaderValue::from_str(text)
            .map_err(|_| AppError::Internal("unrepresentable header".to_owned()))
    };
    headers.insert(header::CONTENT_TYPE, header_value(&download.content_type)?);
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(download.inline, &download.file_name))?,
    );
    headers.insert(
        header::CONTENT_LENGTH,
        header_value(&download.size.to_string())?,
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ATTACHMENT_CSP),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_break_the_header() {
        let value = content_disposition(false, "a\"b\r\nc.html");
        assert!(value.starts_with("attachment; filename=\"a_b__c.html\"; filename*=UTF-8''"));
        assert!(!value.contains('\r') && !value.contains('\n'));
        let value = content_disposition(true, "résumé.png");
        assert!(value.starts_with("inline; filename=\"r_sum_.png\""));
        assert!(value.ends_with("r%C3%A9sum%C3%A9%2Epng"));
    }
}
