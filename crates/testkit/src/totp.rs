//! A second, independent TOTP calculator (RFC 6238, HMAC-SHA-1, 30-second
//! steps, six digits), so tests check the server's codes against the
//! standard rather than against the server's own code.

use hmac::{Hmac, KeyInit, Mac};

/// Decodes RFC 4648 base32 as a person would type it: any case, spaces
/// and padding ignored.
pub fn decode_base32(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for character in text.chars().filter(|c| c.is_ascii_alphanumeric()) {
        let value = match character.to_ascii_uppercase() {
            letter @ 'A'..='Z' => letter as u64 - 'A' as u64,
            digit @ '2'..='7' => digit as u64 - '2' as u64 + 26,
            other => panic!("{other:?} is not base32"),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    bytes
}

/// The six-digit code of `secret` (base32) at `unix_millis`.
pub fn code_at(secret_base32: &str, unix_millis: i64) -> String {
    let secret = decode_base32(secret_base32);
    let counter = (unix_millis / 30_000) as u64;
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let number = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", number % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_6238_vector() {
        // "12345678901234567890" in base32; RFC 6238 gives 94287082 at 59 s.
        assert_eq!(
            code_at("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59_000),
            "287082"
        );
    }
}
