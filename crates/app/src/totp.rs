//! Time-based one-time passwords (RFC 6238 on RFC 4226): HMAC-SHA-1 over a
//! 30-second step counter, six digits. That is what every authenticator app
//! reads from an `otpauth://` QR code; the algorithm is a dozen lines, so it
//! is written here rather than pulled in.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::AppResult;
use crate::secrets::random_bytes;

pub(crate) const STEP_MILLIS: i64 = 30_000;
const DIGITS: u32 = 6;
/// 160 bits, the size RFC 4226 recommends.
pub(crate) const SECRET_BYTES: usize = 20;
/// Steps either side of now that still count, for clocks a little off.
const ALLOWED_DRIFT_STEPS: i64 = 1;

pub(crate) fn generate_secret() -> AppResult<[u8; SECRET_BYTES]> {
    random_bytes::<SECRET_BYTES>()
}

pub(crate) fn step_at(unix_millis: i64) -> i64 {
    unix_millis.div_euclid(STEP_MILLIS)
}

/// The code for one step (RFC 4226 section 5.3, dynamic truncation).
fn code_for_step(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        // HMAC accepts keys of any length; this branch cannot be taken.
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

/// The step a typed code belongs to, if it matches one near `now` that is
/// newer than `last_used_step`. Spaces are ignored; anything but six digits
/// matches nothing.
pub(crate) fn matching_step(
    secret: &[u8],
    typed: &str,
    now_millis: i64,
    last_used_step: i64,
) -> Option<i64> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let typed_code: u32 = digits.parse().ok()?;
    let now = step_at(now_millis);
    let mut found = None;
    // Every candidate is computed, so timing does not tell which matched.
    for step in (now - ALLOWED_DRIFT_STEPS)..=(now + ALLOWED_DRIFT_STEPS) {
        let matches = subtle::ConstantTimeEq::ct_eq(
            &code_for_step(secret, step).to_be_bytes()[..],
            &typed_code.to_be_bytes()[..],
        );
        if bool::from(matches) && step > last_used_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding: how apps take a secret typed by hand.
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        text.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    text
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub(crate) fn provisioning_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={period}",
        account = percent_encode(account),
        secret = base32(secret),
        period = STEP_MILLIS / 1000,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 secret of RFC 6238's appendix B.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // Appendix B gives eight digits; six are their last six.
        for (seconds, expected) in [
            (59_i64, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            assert_eq!(
                code_for_step(RFC_SECRET, step_at(seconds * 1000)),
                expected,
                "at {seconds}"
            );
        }
    }

    #[test]
    fn a_code_matches_its_step_and_neighbours_but_never_twice() {
        let now = 1_234_567_890_000;
        let step = step_at(now);
        let code = format!("{:06}", code_for_step(RFC_SECRET, step));
        assert_eq!(matching_step(RFC_SECRET, &code, now, 0), Some(step));
        assert_eq!(
            matching_step(RFC_SECRET, &code, now + STEP_MILLIS, 0),
            Some(step)
        );
        assert_eq!(
            matching_step(RFC_SECRET, &code, now + 3 * STEP_MILLIS, 0),
            None
        );
        assert_eq!(matching_step(RFC_SECRET, &code, now, step), None, "replay");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(RFC_SECRET, &spaced, now, 0), Some(step));
        for junk in ["", "12345", "1234567", "abcdef", "00000\u{0660}", "-12345"] {
            assert_eq!(matching_step(RFC_SECRET, junk, now, 0), None, "{junk:?}");
        }
    }

    #[test]
    fn base32_follows_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn the_provisioning_uri_encodes_its_labels() {
        let uri = provisioning_uri("Ferro Desk", "a&b@example.org", RFC_SECRET);
        assert_eq!(
            uri,
            "otpauth://totp/Ferro%20Desk:a%26b%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Ferro%20Desk&algorithm=SHA1&digits=6&period=30"
        );
    }
}
