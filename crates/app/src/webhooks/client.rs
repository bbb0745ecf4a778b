//! The one request a webhook delivery makes: an HTTP/1.1 POST of JSON to
//! the socket address the guard checked (`address::Destination`), over TLS
//! for `https` (the host's name for SNI and the certificate, checked
//! against the web's public roots). Written here rather than taken from a
//! general client so that nothing it does is implicit: no proxy from the
//! environment, no second name lookup, no redirect followed, a connect
//! timeout, a total timeout, and at most `MAX_RESPONSE_BYTES` of the answer
//! read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::address::Destination;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the whole request may take, answer included.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// The most of an answer read (status line, headers and body).
const MAX_RESPONSE_BYTES: usize = 16 * 1024;
/// The most of an answer's body kept in the delivery log.
pub const EXCERPT_CHARS: usize = 1000;

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The start of the body, as text.
    pub excerpt: String,
    pub latency_ms: i64,
}

/// Sends `body` with `headers` (name, value); an answer of any status is
/// `Ok`, a connection that failed or timed out is `Err` with why.
pub async fn post_json(
    destination: &Destination,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Answer, String> {
    let started = Instant::now();
    let answer = tokio::time::timeout(TOTAL_TIMEOUT, exchange(destination, headers, body))
        .await
        .map_err(|_| format!("no answer within {} s", TOTAL_TIMEOUT.as_secs()))??;
    let (status, excerpt) = read_answer(&answer)?;
    Ok(Answer {
        status,
        excerpt,
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    })
}

async fn exchange(
    destination: &Destination,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(destination.address))
        .await
        .map_err(|_| format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|error| format!("cannot connect: {error}"))?;
    let url = destination.url.url();
    let host = url.host_str().unwrap_or_default();
    let request = request_bytes(url, headers, body);
    if url.scheme() == "https" {
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|_| format!("{host} is not a name TLS can check"))?;
        let stream = tls_connector()
            .connect(name, stream)
            .await
            .map_err(|error| format!("TLS: {error}"))?;
        send_and_read(stream, &request).await
    } else {
        send_and_read(stream, &request).await
    }
}

fn tls_connector() -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(config) => TlsConnector::from(Arc::new(config)),
        // The ring provider supports the default versions; were it not so,
        // every TLS connection would fail with this empty configuration.
        Err(_) => TlsConnector::from(Arc::new(
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        )),
    }
}

/// The request: the path and query of the address, `Host` as the address
/// has it, the caller's headers, and the body with its length.
fn request_bytes(url: &url::Url, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Ferrodesk-Webhook\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        // Names are the caller's constants; values are made here and never
        // hold a line break, which `is_header_value` checks again.
        if is_header_value(value) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
}

async fn send_and_read(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    stream
        .write_all(request)
        .await
        .map_err(|error| format!("cannot send: {error}"))?;
    stream
        .flush()
        .await
        .map_err(|error| format!("cannot send: {error}"))?;
    let mut answer = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 4096];
    while answer.len() < MAX_RESPONSE_BYTES {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
            // A server that closes without TLS's goodbye has still answered.
            Err(_) if !answer.is_empty() => break,
            Err(error) => return Err(format!("cannot read the answer: {error}")),
        }
    }
    answer.truncate(MAX_RESPONSE_BYTES);
    Ok(answer)
}

/// The status and the start of the body of an HTTP/1.x answer.
fn read_answer(answer: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(answer);
    let status_line = text.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") => code.parse::<u16>().ok(),
        _ => None,
    }
    .filter(|code| (100..600).contains(code))
    .ok_or_else(|| "the answer is not HTTP".to_owned())?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.chars().take(EXCERPT_CHARS).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_anything_else_refused() {
        assert_eq!(
            read_answer(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"),
            Ok((202, "ok".to_owned()))
        );
        assert_eq!(
            read_answer(b"HTTP/1.0 500 Oops\r\n\r\n"),
            Ok((500, String::new()))
        );
        for bad in [
            &b"SSH-2.0-OpenSSH_9.2\r\n"[..],
            b"",
            b"HTTP/1.1 abc\r\n",
            b"HTTP/1.1 99 x\r\n",
        ] {
            assert!(read_answer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_request_has_its_target_host_and_length_and_no_smuggled_headers() {
        let url = url::Url::parse("http://hooks.example.com:8080/in?team=4").unwrap();
        let request = request_bytes(
            &url,
            &[
                ("X-Ferrodesk-Event", "ticket.created".into()),
                ("X-Evil", "a\r\nInjected: 1".into()),
            ],
            b"{}",
        );
        let text = String::from_utf8(request).unwrap();
        assert!(
            text.starts_with("POST /in?team=4 HTTP/1.1\r\nHost: hooks.example.com:8080\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Length: 2\r\n")
                && text.contains("X-Ferrodesk-Event: ticket.created\r\n")
        );
        assert!(!text.contains("Injected") && text.ends_with("\r\n\r\n{}"));
    }
}
